//! Batched backfills: updating a large table in key-ordered chunks, so no single statement (and, with
//! `Transaction: none`, no single transaction) touches more than a batch of rows.
//!
//! The walk visits every row the filter selects exactly once: keys are read back exactly and bound
//! again as the database compares them, the walk ends at the last key present when it started (rows
//! moved or added past it are not visited again), a batch that would not advance stops the backfill
//! with an error instead of looping, and rows whose key is NULL, which no key range reaches, are
//! updated by one last statement.

use std::time::{Duration, Instant};

use super::identifier::Name;
use super::value::Value;
use super::{Context, DataError};
use crate::backend::Backend;
use crate::sql::Token;
use crate::sql::placeholders::tokens;

/// A batched `UPDATE`, built by [`Context::backfill`] and started with [`Backfill::run`].
#[must_use = "a backfill does nothing until `.run().await`"]
pub struct Backfill<'a, 'c> {
    cx: &'a mut Context<'c>,
    table: String,
    key: String,
    set: String,
    filter: Option<String>,
    batch_size: u64,
}

/// What a backfill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackfillReport {
    /// Rows updated: the sum of what the database reports for each batch (rows matched, on every
    /// backend), which is every row the filter selected when the backfill ran.
    pub rows: u64,
    /// Batches run (the statement for rows with a NULL key counts when it updated any).
    pub batches: u64,
    /// Time for the whole backfill.
    pub elapsed: Duration,
    /// The longest single batch: with `Transaction: none`, the longest any transaction was open.
    pub longest_batch: Duration,
}

impl BackfillReport {
    /// Rows per second over the whole backfill.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl<'a, 'c> Backfill<'a, 'c> {
    pub(super) fn new(cx: &'a mut Context<'c>, table: &str, key: &str, set: &str) -> Self {
        Self {
            cx,
            table: table.to_string(),
            key: key.to_string(),
            set: set.to_string(),
            filter: None,
            batch_size: 10_000,
        }
    }

    /// Only rows matching this SQL condition are updated (and counted into batches), e.g.
    /// `email_lower IS NULL`, which also makes a rerun after an interruption skip finished rows.
    pub fn filter(mut self, condition: &str) -> Self {
        self.filter = Some(condition.to_string());
        self
    }

    /// Rows per batch (default 10,000).
    pub fn batch_size(mut self, rows: u64) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Runs the batches in key order until the table is done.
    pub async fn run(self) -> Result<BackfillReport, DataError> {
        let backend = self.cx.backend();
        let table = Name::table(&self.table, backend)?.sql();
        let key_name = Name::column(&self.key, backend)?;
        let key = key_name.sql();
        if self.set.trim().is_empty() {
            return Err(DataError::Usage(
                "backfill needs a SET clause, e.g. \"email_lower = lower(email)\"".into(),
            ));
        }
        if let Some(target) = assigned_key(&self.set, &key_name, backend) {
            return Err(DataError::Usage(format!(
                "the backfill of {} would change its key column `{}` (`{target} = ...` in the SET clause): \
                 rows would move ahead of the key-ordered walk and be updated again; walk by a column the \
                 SET leaves alone (`cx.backfill(table, other_key, set)`), or change the key with one \
                 `cx.execute(\"UPDATE ...\")`",
                self.table, self.key
            )));
        }
        let task = format!("backfill {}", self.table);
        let filter = self.filter.as_deref().map(|f| format!("({f})"));
        let cx = self.cx;
        let started = Instant::now();
        let mut report = BackfillReport::default();
        let where_clause = |conditions: &[String]| {
            let all: Vec<&str> = conditions
                .iter()
                .map(String::as_str)
                .chain(filter.as_deref())
                .collect();
            format!(" WHERE {}", all.join(" AND "))
        };
        let placeholder = |value: &Value| bound_placeholder(value, backend);

        // The last key when the backfill starts: the walk ends there, so rows the SET (or a trigger,
        // or another client) moves or adds past it cannot keep it going.
        let last_key_sql = format!(
            "SELECT {key} FROM {table}{} ORDER BY {key} DESC LIMIT 1",
            where_clause(&[format!("{key} IS NOT NULL")])
        );
        let last = first_value(cx.fetch_all(&last_key_sql, &[]).await?);
        if let Some(last) = last {
            let mut lower: Option<Value> = None;
            loop {
                let mut conditions = Vec::with_capacity(3);
                let mut params = Vec::with_capacity(3);
                match &lower {
                    Some(lower) => {
                        conditions.push(format!("{key} > {}", placeholder(lower)));
                        params.push(lower.clone());
                    }
                    None => conditions.push(format!("{key} IS NOT NULL")),
                }
                let (end, end_param) = (conditions.len(), params.len());
                conditions.push(format!("{key} <= {}", placeholder(&last)));
                params.push(last.clone());
                // The key that closes this batch: the batch_size-th selected key after the last one done.
                let bound = format!(
                    "SELECT {key} FROM {table}{} ORDER BY {key} LIMIT 1 OFFSET {}",
                    where_clause(&conditions),
                    self.batch_size - 1
                );
                let upper = first_value(cx.fetch_all(&bound, &params).await?);
                if let Some(upper) = &upper {
                    if lower.as_ref() == Some(upper) {
                        return Err(DataError::Usage(format!(
                            "the backfill of {} stopped: the batch after key {upper} ended at the same key, so \
                             it would loop forever; the key column `{}` does not read back as the value the \
                             database compares (please report this with the column's type)",
                            self.table, self.key
                        )));
                    }
                    // The batch ends at its own bound, never past the last key; one upper bound
                    // only, as SQLite would range-scan to the last key and filter on the other.
                    conditions[end] = format!("{key} <= {}", placeholder(upper));
                    params[end_param] = upper.clone();
                }
                let update = format!(
                    "UPDATE {table} SET {}{}",
                    self.set,
                    where_clause(&conditions)
                );
                let batch_started = Instant::now();
                report.rows += cx.execute_owned(&update, params).await?;
                report.batches += 1;
                report.longest_batch = report.longest_batch.max(batch_started.elapsed());
                cx.report(&task, report.rows, None, started.elapsed());
                match upper {
                    Some(upper) if upper != last => lower = Some(upper),
                    _ => break,
                }
            }
        }

        // NULL keys sort before or after every other key depending on the database, and no range
        // holds them: they are updated together, after the walk.
        let nulls = format!(
            "UPDATE {table} SET {}{}",
            self.set,
            where_clause(&[format!("{key} IS NULL")])
        );
        let batch_started = Instant::now();
        let updated = cx.execute_owned(&nulls, Vec::new()).await?;
        if updated > 0 {
            report.rows += updated;
            report.batches += 1;
            report.longest_batch = report.longest_batch.max(batch_started.elapsed());
            cx.report(&task, report.rows, None, started.elapsed());
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }
}

fn first_value(rows: Vec<super::Row>) -> Option<Value> {
    rows.into_iter()
        .next()
        .map(|row| row.get(0).clone())
        .filter(|value| !value.is_null())
}

/// The placeholder for a key bound: MySQL compares a string parameter with a `DECIMAL` column as
/// floating point, so a decimal key is cast back to `DECIMAL` to compare exactly.
fn bound_placeholder(value: &Value, backend: Backend) -> &'static str {
    match value {
        Value::Decimal(_) => backend.dialect().decimal_parameter,
        _ => "?",
    }
}

/// The column the SET clause assigns that is the key (`id = id + 100`, `t.id = ...`, `"id" = ...`,
/// `(a, id) = (...)`), as written, if it assigns it.
fn assigned_key(set: &str, key: &Name, backend: Backend) -> Option<String> {
    let mut depth = 0_u32;
    let mut in_target = true;
    let mut pending: Option<&str> = None;
    let name_of = |token: &str| -> String {
        match token.chars().next() {
            Some(quote @ ('"' | '`' | '[')) => {
                let close = if quote == '[' { ']' } else { quote };
                let inner = &token[1..token.len().saturating_sub(1)];
                inner.replace(&format!("{close}{close}"), &close.to_string())
            }
            _ if backend.dialect().folds_identifiers_to_lowercase => token.to_ascii_lowercase(),
            _ => token.to_string(),
        }
    };
    for token in tokens(set, backend) {
        match token {
            Token::Whitespace(_) | Token::Comment(_) => continue,
            Token::Other("(") => depth += 1,
            Token::Other(")") => depth = depth.saturating_sub(1),
            Token::Other(",") if depth == 0 => {
                in_target = true;
                pending = None;
                continue;
            }
            _ => {}
        }
        if !in_target {
            continue;
        }
        match token {
            // A qualifier (`t.` in `t.id`): the name after the dot is the column.
            Token::Other(".") => pending = None,
            Token::Word(word) | Token::Quoted(word) => {
                if let Some(previous) = pending.replace(word)
                    && key.same_column(&name_of(previous))
                {
                    return Some(previous.to_string());
                }
            }
            Token::Other("=") if depth == 0 => {
                in_target = false;
                if let Some(previous) = pending.take()
                    && key.same_column(&name_of(previous))
                {
                    return Some(previous.to_string());
                }
            }
            Token::Other("," | ")") => {
                if let Some(previous) = pending.take()
                    && key.same_column(&name_of(previous))
                {
                    return Some(previous.to_string());
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigns(set: &str, key: &str, backend: Backend) -> Option<String> {
        assigned_key(set, &Name::column(key, backend).unwrap(), backend)
    }

    #[test]
    fn finds_a_set_clause_that_assigns_the_key() {
        let pg = Backend::Postgres;
        assert_eq!(assigns("id = id + 100", "id", pg), Some("id".into()));
        assert_eq!(assigns("a = 1, ID = 2", "id", pg), Some("ID".into()));
        assert_eq!(
            assigns("a = 1, t.id = 2", "id", Backend::MySql),
            Some("id".into())
        );
        assert_eq!(assigns("\"id\" = 2", "id", pg), Some("\"id\"".into()));
        assert_eq!(assigns("(a, id) = (1, 2)", "id", pg), Some("id".into()));
        assert_eq!(
            assigns("`Id` = 2", "id", Backend::MySql),
            Some("`Id`".into())
        );
        // The key on the right-hand side, in a subquery, or as a quoted name PostgreSQL keeps apart.
        assert_eq!(assigns("a = id + 1", "id", pg), None);
        assert_eq!(
            assigns("a = (SELECT b FROM t WHERE t.id = x.id), c = 2", "id", pg),
            None
        );
        assert_eq!(assigns("\"ID\" = 2", "id", pg), None);
        assert_eq!(assigns("id_lower = lower(id)", "id", pg), None);
    }
}
