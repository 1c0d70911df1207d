//! Builders: hosts that lease tasks with their own revocable token.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError};

/// A registered builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    /// Database id.
    pub id: i64,
    /// Its unique name.
    pub name: String,
    /// Unix seconds of its last call, if any.
    pub last_seen_on: Option<i64>,
}

fn builder_from_row(row: &AnyRow) -> Result<Builder, DbError> {
    Ok(Builder {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        last_seen_on: row.try_get("last_seen_on")?,
    })
}

impl Database {
    /// Registers a builder, or gives an existing one of that name a new
    /// token (the old token stops working).
    pub async fn upsert_builder(
        &self,
        name: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<Builder, DbError> {
        let row = sqlx::query(
            "INSERT INTO builders (name, token_hash, created_on) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, revoked_on = NULL
             RETURNING id, name, last_seen_on",
        )
        .bind(name)
        .bind(token_hash)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        builder_from_row(&row)
    }

    /// The unrevoked builder holding this token, marking it seen.
    pub async fn builder_by_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Builder>, DbError> {
        let row = sqlx::query(
            "UPDATE builders SET last_seen_on = $1
             WHERE token_hash = $2 AND revoked_on IS NULL
             RETURNING id, name, last_seen_on",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(builder_from_row).transpose()
    }
}
