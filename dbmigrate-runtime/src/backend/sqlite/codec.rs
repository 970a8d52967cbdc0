//! How SQLite reads and binds dbmigrate's portable values: each kind's SQLite type, and how a
//! column is read by the type the server reports for it (the table in `data`'s documentation).

use std::sync::Arc;

use crate::data::codec::{
    BindValues, Declared, DecodeRow, column_names, date_text, date_time_text, integer, text_forms,
    time_text, timestamp_text, undecodable, unsupported,
};
use crate::data::{DataError, Row, Value};

/// Text in a SQLite `DATE`, `TIME` or `DATETIME`/`TIMESTAMP` column, read as a date or time only
/// when it is exactly the text dbmigrate writes for one; any other text stays text, so reading a
/// value and binding it back always finds the row it came from.
fn sqlite_date_or_time(text: &str, declared: Declared) -> Option<Value> {
    let value = match declared {
        Declared::Date => Value::Date(time::Date::parse(text, text_forms::DATE).ok()?),
        Declared::Time => Value::Time(time::Time::parse(text, text_forms::TIME).ok()?),
        Declared::DateTime => time::OffsetDateTime::parse(text, text_forms::TIMESTAMP)
            .map(Value::Timestamp)
            .or_else(|_| {
                time::PrimitiveDateTime::parse(text, text_forms::DATE_TIME).map(Value::DateTime)
            })
            .ok()?,
        Declared::Bool | Declared::Other => return None,
    };
    let canonical = match &value {
        Value::Date(v) => date_text(*v),
        Value::Time(v) => time_text(*v),
        Value::DateTime(v) => date_time_text(*v),
        Value::Timestamp(v) => timestamp_text(*v),
        _ => return None,
    };
    (canonical == text).then_some(value)
}

// ---------------------------------------------------------------------------------------------
// Binding.

impl<'q> BindValues for sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(None::<String>),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            // Above i64::MAX it was refused before binding; text keeps the digits regardless.
            Value::UInt(v) => match i64::try_from(v) {
                Ok(v) => self.bind(v),
                Err(_) => self.bind(v.to_string()),
            },
            Value::Float(v) => self.bind(v),
            Value::Decimal(v) | Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            Value::Json(v) => self.bind(v.to_string()),
            Value::Uuid(v) => self.bind(v.hyphenated().to_string()),
            Value::Date(v) => self.bind(date_text(v)),
            Value::Time(v) => self.bind(time_text(v)),
            Value::DateTime(v) => self.bind(date_time_text(v)),
            Value::Timestamp(v) => self.bind(timestamp_text(v)),
        }
    }
}

fn sqlite_declared(ty: &sqlx::sqlite::SqliteTypeInfo) -> Declared {
    use sqlx::TypeInfo as _;
    match ty.name() {
        "BOOLEAN" => Declared::Bool,
        "DATE" => Declared::Date,
        "TIME" => Declared::Time,
        "DATETIME" => Declared::DateTime,
        _ => Declared::Other,
    }
}

impl DecodeRow for sqlx::sqlite::SqliteRow {
    type Plan = Vec<Declared>;

    fn plan(&self) -> Vec<Declared> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| sqlite_declared(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Declared>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::sqlite::Sqlite;
        use sqlx::{Decode, Row as _, TypeInfo as _, ValueRef as _};
        let mut values = Vec::with_capacity(plan.len());
        for (index, &declared) in plan.iter().enumerate() {
            let raw = self
                .try_get_raw(index)
                .map_err(|e| DataError::Usage(e.to_string()))?;
            let column = &columns[index];
            // A NULL's type info is the column's declared type, so ask first.
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            // SQLite types values, not columns: read each by its storage class.
            let storage: &'static str = match raw.type_info().name() {
                "INTEGER" => "INTEGER",
                "REAL" => "REAL",
                "TEXT" => "TEXT",
                "BLOB" => "BLOB",
                _ => "unknown",
            };
            let failed = |reason| undecodable(column, storage, super::DIALECT.backend, reason);
            let value = match storage {
                "INTEGER" => <i64 as Decode<Sqlite>>::decode(raw)
                    .map(|v| integer(v, declared == Declared::Bool)),
                "REAL" => <f64 as Decode<Sqlite>>::decode(raw).map(Value::Float),
                "TEXT" => <String as Decode<Sqlite>>::decode(raw)
                    .map(|text| sqlite_date_or_time(&text, declared).unwrap_or(Value::Text(text))),
                "BLOB" => <Vec<u8> as Decode<Sqlite>>::decode(raw).map(Value::Bytes),
                other => return Err(unsupported(column, other, super::DIALECT.backend)),
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_and_time_text_is_read_back_only_when_canonical() {
        for (text, declared) in [
            ("2024-02-29", Declared::Date),
            ("-0044-03-15", Declared::Date),
            ("13:05:09.25", Declared::Time),
            ("2024-02-29 13:05:09", Declared::DateTime),
            ("2024-02-29 13:05:09.123456789+01:00", Declared::DateTime),
        ] {
            let value = sqlite_date_or_time(text, declared).expect(text);
            assert_eq!(value.to_string(), text);
        }
        for (text, declared) in [
            ("2024-2-29", Declared::Date),
            ("2024-02-29T13:05:09", Declared::DateTime),
            ("13:05:09.250", Declared::Time),
            ("yesterday", Declared::Date),
            ("2024-02-29", Declared::Other),
        ] {
            assert_eq!(sqlite_date_or_time(text, declared), None, "{text}");
        }
    }
}
