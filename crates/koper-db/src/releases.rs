//! The current release package of each project chroot.

use koper_types::ChrootName;
use sqlx::Row;

use crate::{Database, DbError};

/// A published release package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    /// Its RPM release number; grows with every change of content.
    pub release: i64,
    /// SHA-256 of what it holds (file names and contents), to tell
    /// whether a new one is needed.
    pub content_sha256: String,
    /// Its file name in the repo's `release/` directory.
    pub file_name: String,
}

impl Database {
    /// The release package of a project chroot, if one was made.
    pub async fn release_package(
        &self,
        project_id: i64,
        chroot: &ChrootName,
    ) -> Result<Option<ReleaseRow>, DbError> {
        let row = sqlx::query(
            "SELECT release, content_sha256, file_name FROM release_packages
             WHERE project_id = $1 AND chroot = $2",
        )
        .bind(project_id)
        .bind(chroot.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ReleaseRow {
                release: row.try_get("release")?,
                content_sha256: row.try_get("content_sha256")?,
                file_name: row.try_get("file_name")?,
            })
        })
        .transpose()
    }

    /// Records a new release package of a project chroot.
    pub async fn set_release_package(
        &self,
        project_id: i64,
        chroot: &ChrootName,
        release: &ReleaseRow,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO release_packages (project_id, chroot, release, content_sha256, file_name)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project_id, chroot) DO UPDATE SET release = excluded.release,
                 content_sha256 = excluded.content_sha256, file_name = excluded.file_name",
        )
        .bind(project_id)
        .bind(chroot.as_str())
        .bind(release.release)
        .bind(&release.content_sha256)
        .bind(&release.file_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
