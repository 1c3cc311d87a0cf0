//! The service's enums as SQLite keeps them: their names, as text. A name
//! this build does not know (a hand edit, a newer version's) is a read
//! error naming it, not a guess.

use crate::serve::model::{Op, Outcome, Trigger};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

fn named<T>(value: ValueRef<'_>, parse: fn(&str) -> Option<T>) -> FromSqlResult<T> {
    let text = value.as_str()?;
    parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown name {text:?}").into()))
}

impl ToSql for Op {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Op {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value, Op::parse)
    }
}

impl ToSql for Outcome {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Outcome {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value, Outcome::parse)
    }
}

impl ToSql for Trigger {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for Trigger {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        named(value, Trigger::parse)
    }
}
