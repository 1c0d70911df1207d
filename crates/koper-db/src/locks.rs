//! Locks that hold across server processes sharing one PostgreSQL
//! database: publishes to one repository are serialised by a
//! transaction-scoped advisory lock. SQLite serves one server process,
//! whose in-process lock is enough.

use sqlx::{Any, Transaction};

use crate::{Database, DbError, DbKind};

/// Held while a repository is written; released by [`RepoLock::release`],
/// or when dropped (the transaction rolls back, which also releases it).
pub struct RepoLock {
    tx: Option<Transaction<'static, Any>>,
}

impl RepoLock {
    /// Lets the next writer of the repository in.
    pub async fn release(self) -> Result<(), DbError> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A stable 64-bit key for a repository (FNV-1a of `project/chroot`).
fn repo_key(project_id: i64, chroot: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("koper-repo:{project_id}/{chroot}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

impl Database {
    /// Waits until no other server process writes this project chroot's
    /// repository, and keeps others out until the lock is released.
    pub async fn lock_repo(&self, project_id: i64, chroot: &str) -> Result<RepoLock, DbError> {
        match self.kind {
            DbKind::Sqlite => Ok(RepoLock { tx: None }),
            DbKind::Postgres => {
                let mut tx = self.pool.begin().await?;
                // pg_advisory_xact_lock returns void, which is not a type
                // the portable driver reads: select a constant instead.
                sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                    .bind(repo_key(project_id, chroot))
                    .fetch_one(&mut *tx)
                    .await?;
                Ok(RepoLock { tx: Some(tx) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::repo_key;

    #[test]
    fn repositories_get_distinct_stable_keys() {
        assert_eq!(
            repo_key(1, "fedora-42-x86_64"),
            repo_key(1, "fedora-42-x86_64")
        );
        assert_ne!(
            repo_key(1, "fedora-42-x86_64"),
            repo_key(2, "fedora-42-x86_64")
        );
        assert_ne!(
            repo_key(1, "fedora-42-x86_64"),
            repo_key(1, "fedora-42-aarch64")
        );
    }
}
