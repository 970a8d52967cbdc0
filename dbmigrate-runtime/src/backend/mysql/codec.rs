//! How MySQL/MariaDB reads and binds dbmigrate's portable values: each kind's MySQL/MariaDB type, and how a
//! column is read by the type the server reports for it (the table in `data`'s documentation).

use std::sync::Arc;

use crate::data::codec::{
    BindValues, DecodeRow, Kind, column_names, integer, undecodable, unsupported,
};
use crate::data::{DataError, Row, Value};

impl<'q> BindValues for sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(None::<String>),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            Value::UInt(v) => self.bind(v),
            Value::Float(v) => self.bind(v),
            // MySQL reads a string into a DECIMAL column exactly.
            Value::Decimal(v) | Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            // As text: MariaDB's JSON is a text column, and MySQL parses text into JSON.
            Value::Json(v) => self.bind(v.to_string()),
            Value::Uuid(v) => self.bind(v.hyphenated().to_string()),
            Value::Date(v) => self.bind(v),
            Value::Time(v) => self.bind(v),
            Value::DateTime(v) => self.bind(v),
            Value::Timestamp(v) => self.bind(v),
        }
    }
}

fn mysql_kind(ty: &sqlx::mysql::MySqlTypeInfo) -> Kind {
    use sqlx::{MySql, Type, TypeInfo as _};
    match ty.name() {
        "BIT" | "YEAR" => Kind::Unsigned,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "BOOLEAN"
        | "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => {
            if <u64 as Type<MySql>>::compatible(ty) {
                Kind::Unsigned
            } else if ty.name() == "BOOLEAN" {
                Kind::MaybeBool
            } else {
                Kind::Int64
            }
        }
        "FLOAT" => Kind::Float32,
        "DOUBLE" => Kind::Float64,
        "DECIMAL" => Kind::Decimal,
        "JSON" => Kind::Json,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "DATETIME" => Kind::DateTime,
        "TIMESTAMP" => Kind::Timestamp,
        "NULL" => Kind::Void,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            // A string column is text unless its collation is `binary` (sqlx's own rule for
            // `String`); a `_bin` collation is still text.
            if <str as Type<MySql>>::compatible(ty) {
                Kind::Text
            } else {
                Kind::Bytes
            }
        }
        _ => Kind::Unsupported,
    }
}

impl DecodeRow for sqlx::mysql::MySqlRow {
    type Plan = Vec<Kind>;

    fn plan(&self) -> Vec<Kind> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| mysql_kind(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Kind>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::mysql::MySql;
        use sqlx::{Column as _, Decode, Row as _, TypeInfo as _, ValueRef as _};
        let mut values = Vec::with_capacity(plan.len());
        for (index, &kind) in plan.iter().enumerate() {
            let raw = self
                .try_get_raw(index)
                .map_err(|e| DataError::Usage(e.to_string()))?;
            if raw.is_null() {
                values.push(Value::Null);
                continue;
            }
            let column = &columns[index];
            let type_name = || self.columns()[index].type_info().name().to_string();
            if kind == Kind::Unsupported {
                return Err(unsupported(column, &type_name(), super::DIALECT.backend));
            }
            let failed = |reason| undecodable(column, &type_name(), super::DIALECT.backend, reason);
            let value = match kind {
                Kind::Int64 => <i64 as Decode<MySql>>::decode(raw).map(Value::Int),
                Kind::MaybeBool => <i64 as Decode<MySql>>::decode(raw).map(|v| integer(v, true)),
                Kind::Unsigned => <u64 as Decode<MySql>>::decode(raw).map(Value::from),
                Kind::Float32 => {
                    <f32 as Decode<MySql>>::decode(raw).map(|v| Value::Float(v.into()))
                }
                Kind::Float64 => <f64 as Decode<MySql>>::decode(raw).map(Value::Float),
                Kind::Decimal => <String as Decode<MySql>>::decode(raw).map(Value::Decimal),
                Kind::Text => <String as Decode<MySql>>::decode(raw).map(Value::Text),
                Kind::Bytes => <Vec<u8> as Decode<MySql>>::decode(raw).map(Value::Bytes),
                Kind::Json => <sqlx::types::Json<serde_json::Value> as Decode<MySql>>::decode(raw)
                    .map(|v| Value::Json(v.0)),
                Kind::Date => <time::Date as Decode<MySql>>::decode(raw).map(Value::Date),
                Kind::Time => <time::Time as Decode<MySql>>::decode(raw).map(Value::Time),
                Kind::DateTime => {
                    <time::PrimitiveDateTime as Decode<MySql>>::decode(raw).map(Value::DateTime)
                }
                Kind::Timestamp => {
                    <time::OffsetDateTime as Decode<MySql>>::decode(raw).map(Value::Timestamp)
                }
                Kind::Void => Ok(Value::Null),
                Kind::Bool
                | Kind::Int16
                | Kind::Int32
                | Kind::Oid
                | Kind::Uuid
                | Kind::Unsupported => unreachable!("not a MySQL kind"),
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}
