//! What the online commands print while they run, on a non-terminal (a pipe, as in CI): each
//! revision as it starts and ends and plain progress lines of long data steps, on standard error;
//! `-q` prints none of it. Results stay on standard output.

use dbmigrate_test_support::Server;
use snapbox::str;

use crate::online::{in_package, rust_package};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_and_data_step_progress_are_printed_as_plain_lines() {
    let sandbox = rust_package("progress-lines");
    sandbox.write(
        "migrations/V2__label_items.rs",
        "//! Message: label items\n//! Revises: 1\n\n\
         use dbmigrate_runtime::BoxError;\nuse dbmigrate_runtime::data::{Context, Value};\n\n\
         pub async fn upgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             let rows = (1..=500_i64).map(|id| [Value::from(id), Value::from(format!(\"item {id}\"))]);\n    \
             cx.bulk_insert(\"items\", &[\"id\", \"label\"], rows).await?;\n    \
             cx.backfill(\"items\", \"id\", \"label_upper = UPPER(label)\").batch_size(100).run().await?;\n    \
             Ok(())\n}\n\n\
         pub async fn downgrade(cx: &mut Context<'_>) -> Result<(), BoxError> {\n    \
             cx.execute(\"DELETE FROM items\", &[]).await?;\n    Ok(())\n}\n",
    );
    for server in Server::ALL {
        let db = crate::support::TestDb::new(server).await;
        let run = |args: &[&str]| in_package(&sandbox, &db.url, args);
        // SQLite commits consecutive revisions together: each is applied only once the group is.
        let expected = if server == Server::Sqlite {
            str![[r#"
...
applying 1 create_items (sql)
applying 2 label_items (rust)
  2 bulk insert into items: 500 of 500 rows in [..]
  2 backfill items: 100 rows in [..]
  2 backfill items: 500 rows in [..]
applied 1 create_items in [..]
applied 2 label_items in [..]

"#]]
        } else {
            str![[r#"
...
applying 1 create_items (sql)
applied 1 create_items in [..]
applying 2 label_items (rust)
  2 bulk insert into items: 500 of 500 rows in [..]
  2 backfill items: 100 rows in [..]
  2 backfill items: 500 rows in [..]
applied 2 label_items in [..]

"#]]
        };
        run(&["upgrade"])
            .assert()
            .success()
            .stderr_eq(expected)
            .stdout_eq(str![[r#"
applied 2 revisions in [..]:
  1 create_items (sql, [..])
  2 label_items (rust, [..])
database is now at 2

"#]]);
        run(&["downgrade", "base", "-q"])
            .assert()
            .success()
            .stderr_eq("");
        run(&["upgrade", "--quiet"])
            .assert()
            .success()
            .stderr_eq("");
    }
}
