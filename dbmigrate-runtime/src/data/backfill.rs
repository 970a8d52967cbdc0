//! Batched backfills: updating a large table in key-ordered chunks, so no single statement (and, with
//! `Transaction: none`, no single transaction) touches more than a batch of rows.

use std::time::{Duration, Instant};

use super::value::Value;
use super::{Context, DataError, identifier};

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
    /// Rows the database reports as updated.
    pub rows: u64,
    /// Batches run.
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
        let table = identifier(&self.table)?.to_string();
        let key = identifier(&self.key)?.to_string();
        if self.set.trim().is_empty() {
            return Err(DataError::Usage(
                "backfill needs a SET clause, e.g. \"email_lower = lower(email)\"".into(),
            ));
        }
        let task = format!("backfill {table}");
        let filter = self.filter.as_deref().map(|f| format!("({f})"));
        let cx = self.cx;
        let started = Instant::now();
        let mut report = BackfillReport::default();
        let mut lower: Option<Value> = None;
        loop {
            let mut conditions: Vec<String> = Vec::new();
            let mut params = Vec::new();
            if let Some(lower) = &lower {
                conditions.push(format!("{key} > ?"));
                params.push(lower.clone());
            }
            conditions.extend(filter.clone());
            let where_clause = |extra: Option<&str>| {
                let all: Vec<&str> = conditions.iter().map(String::as_str).chain(extra).collect();
                if all.is_empty() {
                    String::new()
                } else {
                    format!(" WHERE {}", all.join(" AND "))
                }
            };
            // The key that closes this batch: the batch_size-th matching key after the last one done.
            let bound = format!(
                "SELECT {key} FROM {table}{} ORDER BY {key} LIMIT 1 OFFSET {}",
                where_clause(None),
                self.batch_size - 1
            );
            let upper = cx
                .fetch_all(&bound, &params)
                .await?
                .into_iter()
                .next()
                .map(|row| row.get(0).clone());
            let mut update_params = params.clone();
            let update = match &upper {
                Some(upper) => {
                    update_params.push(upper.clone());
                    format!(
                        "UPDATE {table} SET {}{}",
                        self.set,
                        where_clause(Some(&format!("{key} <= ?")))
                    )
                }
                None => format!("UPDATE {table} SET {}{}", self.set, where_clause(None)),
            };
            let batch_started = Instant::now();
            report.rows += cx.execute_owned(&update, update_params).await?;
            report.batches += 1;
            report.longest_batch = report.longest_batch.max(batch_started.elapsed());
            cx.report(&task, report.rows, started.elapsed());
            match upper {
                Some(upper) => lower = Some(upper),
                None => break,
            }
        }
        report.elapsed = started.elapsed();
        Ok(report)
    }
}
