//! Base root refreshes: how often an administrator asked for a chroot's
//! base root to be made again.

use koper_types::ChrootName;
use sqlx::Row;

use crate::{Database, DbError};

impl Database {
    /// How often the chroot's base root was refreshed (0: never).
    pub async fn chroot_refresh(&self, chroot: &ChrootName) -> Result<u64, DbError> {
        let row = sqlx::query("SELECT refresh FROM chroot_refreshes WHERE chroot = $1")
            .bind(chroot.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => u64::try_from(row.try_get::<i64, _>("refresh")?).unwrap_or(0),
            None => 0,
        })
    }

    /// Counts one more refresh of the chroot's base root and returns the
    /// new count.
    pub async fn refresh_chroot(&self, chroot: &ChrootName) -> Result<u64, DbError> {
        sqlx::query(
            "INSERT INTO chroot_refreshes (chroot, refresh) VALUES ($1, 1)
             ON CONFLICT (chroot) DO UPDATE SET refresh = chroot_refreshes.refresh + 1",
        )
        .bind(chroot.as_str())
        .execute(&self.pool)
        .await?;
        self.chroot_refresh(chroot).await
    }
}
