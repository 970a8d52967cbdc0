//! How PostgreSQL reads and binds dbmigrate's portable values: each kind's PostgreSQL type, and how a
//! column is read by the type the server reports for it (the table in `data`'s documentation).

use std::sync::Arc;

use crate::data::codec::{BindValues, DecodeRow, Kind, column_names, undecodable, unsupported};
use crate::data::{DataError, Row, Value, numeric};

/// A NULL whose type the database infers from the statement, as it does for a literal NULL.
struct UntypedNull;

impl sqlx::Type<sqlx::Postgres> for UntypedNull {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        // OID 0 leaves the parameter's type unspecified in Parse, so PostgreSQL infers it.
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

/// An exact decimal as PostgreSQL's `NUMERIC`, in its binary form.
struct PgDecimal(String);

impl sqlx::Type<sqlx::Postgres> for PgDecimal {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        sqlx::postgres::PgTypeInfo::with_oid(sqlx::postgres::types::Oid(1700))
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for PgDecimal {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        numeric::encode(&self.0, buf)?;
        Ok(sqlx::encode::IsNull::No)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for PgDecimal {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match value.format() {
            sqlx::postgres::PgValueFormat::Binary => Ok(Self(numeric::decode(value.as_bytes()?)?)),
            sqlx::postgres::PgValueFormat::Text => Ok(Self(value.as_str()?.to_string())),
        }
    }
}

impl<'q> BindValues for sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    fn bind_value(self, value: Value) -> Self {
        match value {
            Value::Null => self.bind(UntypedNull),
            Value::Bool(v) => self.bind(v),
            Value::Int(v) => self.bind(v),
            Value::UInt(v) => match i64::try_from(v) {
                Ok(v) => self.bind(v),
                Err(_) => self.bind(PgDecimal(v.to_string())),
            },
            Value::Float(v) => self.bind(v),
            Value::Decimal(v) => self.bind(PgDecimal(v)),
            Value::Text(v) => self.bind(v),
            Value::Bytes(v) => self.bind(v),
            Value::Json(v) => self.bind(sqlx::types::Json(v)),
            Value::Uuid(v) => self.bind(v),
            Value::Date(v) => self.bind(v),
            Value::Time(v) => self.bind(v),
            Value::DateTime(v) => self.bind(v),
            Value::Timestamp(v) => self.bind(v),
        }
    }
}

fn postgres_kind(ty: &sqlx::postgres::PgTypeInfo) -> Kind {
    use sqlx::TypeInfo as _;
    use sqlx::postgres::PgTypeKind;
    match ty.kind() {
        PgTypeKind::Enum(_) => return Kind::Text,
        PgTypeKind::Domain(base) => return postgres_kind(base),
        _ => {}
    }
    match ty.name() {
        "BOOL" => Kind::Bool,
        "INT2" => Kind::Int16,
        "INT4" => Kind::Int32,
        "INT8" => Kind::Int64,
        "OID" => Kind::Oid,
        "FLOAT4" => Kind::Float32,
        "FLOAT8" => Kind::Float64,
        "NUMERIC" => Kind::Decimal,
        "TEXT" | "VARCHAR" | "CHAR" | "NAME" | "UNKNOWN" => Kind::Text,
        name if name.eq_ignore_ascii_case("citext") => Kind::Text,
        "BYTEA" => Kind::Bytes,
        "JSON" | "JSONB" => Kind::Json,
        "UUID" => Kind::Uuid,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "TIMESTAMP" => Kind::DateTime,
        "TIMESTAMPTZ" => Kind::Timestamp,
        "VOID" => Kind::Void,
        _ => Kind::Unsupported,
    }
}

impl DecodeRow for sqlx::postgres::PgRow {
    type Plan = Vec<Kind>;

    fn plan(&self) -> Vec<Kind> {
        use sqlx::{Column as _, Row as _};
        self.columns()
            .iter()
            .map(|c| postgres_kind(c.type_info()))
            .collect()
    }

    fn column_names(&self) -> Arc<[String]> {
        column_names(self)
    }

    fn decode(&self, plan: &Vec<Kind>, columns: &Arc<[String]>) -> Result<Row, DataError> {
        use sqlx::postgres::Postgres;
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
                Kind::Bool => <bool as Decode<Postgres>>::decode(raw).map(Value::Bool),
                Kind::Int16 => <i16 as Decode<Postgres>>::decode(raw).map(|v| Value::Int(v.into())),
                Kind::Int32 => <i32 as Decode<Postgres>>::decode(raw).map(|v| Value::Int(v.into())),
                Kind::Int64 => <i64 as Decode<Postgres>>::decode(raw).map(Value::Int),
                Kind::Oid => <sqlx::postgres::types::Oid as Decode<Postgres>>::decode(raw)
                    .map(|v| Value::Int(v.0.into())),
                Kind::Float32 => {
                    <f32 as Decode<Postgres>>::decode(raw).map(|v| Value::Float(v.into()))
                }
                Kind::Float64 => <f64 as Decode<Postgres>>::decode(raw).map(Value::Float),
                Kind::Decimal => {
                    <PgDecimal as Decode<Postgres>>::decode(raw).map(|v| Value::Decimal(v.0))
                }
                Kind::Text => <String as Decode<Postgres>>::decode(raw).map(Value::Text),
                Kind::Bytes => <Vec<u8> as Decode<Postgres>>::decode(raw).map(Value::Bytes),
                Kind::Json => {
                    <sqlx::types::Json<serde_json::Value> as Decode<Postgres>>::decode(raw)
                        .map(|v| Value::Json(v.0))
                }
                Kind::Uuid => <uuid::Uuid as Decode<Postgres>>::decode(raw).map(Value::Uuid),
                Kind::Date => <time::Date as Decode<Postgres>>::decode(raw).map(Value::Date),
                Kind::Time => <time::Time as Decode<Postgres>>::decode(raw).map(Value::Time),
                Kind::DateTime => {
                    <time::PrimitiveDateTime as Decode<Postgres>>::decode(raw).map(Value::DateTime)
                }
                Kind::Timestamp => {
                    <time::OffsetDateTime as Decode<Postgres>>::decode(raw).map(Value::Timestamp)
                }
                Kind::Void => Ok(Value::Null),
                Kind::MaybeBool | Kind::Unsigned | Kind::Unsupported => {
                    unreachable!("not a PostgreSQL kind")
                }
            };
            values.push(value.map_err(failed)?);
        }
        Ok(Row {
            columns: columns.clone(),
            values,
        })
    }
}
