//! Message: {{ message }}
//! Revises:{% if !revises.is_empty() %} {{ revises }}{% endif %}
//! Created: {{ created }}

use dbmigrate_runtime::data::Context;

/// Runs when the database is upgraded to this revision.
pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), dbmigrate_runtime::BoxError> {
    // Write the data step here, for example:
    // cx.execute("UPDATE users SET email = lower(email)", &[]).await?;
    let _ = cx;
    Ok(())
}

/// Runs when the database is downgraded below this revision: undoes `upgrade`.
pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), dbmigrate_runtime::BoxError> {
    let _ = cx;
    Ok(())
}
