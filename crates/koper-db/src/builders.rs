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
    /// Architectures it last asked work for.
    pub arches: Vec<String>,
    /// Capabilities it last announced.
    pub tags: Vec<String>,
    /// Builds it runs at once.
    pub slots: i64,
    /// Its token was revoked.
    pub revoked: bool,
}

const BUILDER_COLUMNS: &str = "id, name, last_seen_on, arches, tags, slots, revoked_on";

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn builder_from_row(row: &AnyRow) -> Result<Builder, DbError> {
    Ok(Builder {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        last_seen_on: row.try_get("last_seen_on")?,
        arches: split_list(&row.try_get::<String, _>("arches")?),
        tags: split_list(&row.try_get::<String, _>("tags")?),
        slots: row.try_get("slots")?,
        revoked: row.try_get::<Option<i64>, _>("revoked_on")?.is_some(),
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
        let row = sqlx::query(&format!(
            "INSERT INTO builders (name, token_hash, created_on) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash, revoked_on = NULL
             RETURNING {BUILDER_COLUMNS}"
        ))
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
        let row = sqlx::query(&format!(
            "UPDATE builders SET last_seen_on = $1
             WHERE token_hash = $2 AND revoked_on IS NULL
             RETURNING {BUILDER_COLUMNS}"
        ))
        .bind(now)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(builder_from_row).transpose()
    }

    /// Records what a builder can do, as it said when asking for work.
    pub async fn record_builder_capabilities(
        &self,
        builder_id: i64,
        arches: &[String],
        tags: &[String],
        slots: i64,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE builders SET arches = $1, tags = $2, slots = $3 WHERE id = $4")
            .bind(arches.join(","))
            .bind(tags.join(","))
            .bind(slots)
            .bind(builder_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every registered builder, by name.
    pub async fn list_builders(&self) -> Result<Vec<Builder>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {BUILDER_COLUMNS} FROM builders ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(builder_from_row).collect()
    }
}
