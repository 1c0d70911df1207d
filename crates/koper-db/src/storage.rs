//! Storage accounting: owners' quotas and what each project uses.

use koper_types::OwnerName;
use sqlx::Row;

use crate::{Database, DbError};

/// What one project stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUsage {
    /// The project.
    pub project_id: i64,
    /// Bytes of accepted source RPMs and published results.
    pub used_bytes: i64,
}

impl Database {
    /// Sets an owner's quota, or (`None`) returns it to the default.
    pub async fn set_owner_quota(
        &self,
        owner: &OwnerName,
        quota_bytes: Option<i64>,
    ) -> Result<(), DbError> {
        match quota_bytes {
            Some(bytes) => {
                sqlx::query(
                    "INSERT INTO owner_quotas (owner_name, quota_bytes) VALUES ($1, $2)
                     ON CONFLICT (owner_name) DO UPDATE SET quota_bytes = excluded.quota_bytes",
                )
                .bind(owner.as_str())
                .bind(bytes)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM owner_quotas WHERE owner_name = $1")
                    .bind(owner.as_str())
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// The quota an administrator set for an owner, if any.
    pub async fn owner_quota(&self, owner: &OwnerName) -> Result<Option<i64>, DbError> {
        let row = sqlx::query("SELECT quota_bytes FROM owner_quotas WHERE owner_name = $1")
            .bind(owner.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("quota_bytes")).transpose()?)
    }

    /// What each of an owner's projects stores, by project id (the
    /// database keeps each project's total as its builds change).
    pub async fn usage_of_owner(&self, owner: &OwnerName) -> Result<Vec<ProjectUsage>, DbError> {
        let rows = sqlx::query(
            "SELECT id AS project_id, used_bytes FROM projects
             WHERE owner_name = $1 ORDER BY id",
        )
        .bind(owner.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ProjectUsage {
                    project_id: row.try_get("project_id")?,
                    used_bytes: row.try_get("used_bytes")?,
                })
            })
            .collect()
    }
}
