//! Locks that hold across server processes sharing one PostgreSQL
//! database: publishes to one repository, the publish of one task, and
//! leases of one owner's tasks while the owner has a concurrency limit,
//! are serialised by transaction-scoped advisory locks (a server process
//! that dies releases its locks with its connections). SQLite serves one server process,
//! whose in-process lock (and single writer) is enough.

use sqlx::{Any, Transaction};

use crate::{Database, DbError, DbKind};

/// Held while a repository is written or a task published; released by
/// [`HeldLock::release`], or when dropped (the transaction rolls back,
/// which also releases it).
pub struct HeldLock {
    tx: Option<Transaction<'static, Any>>,
}

impl HeldLock {
    /// Lets the next writer of the repository in.
    pub async fn release(self) -> Result<(), DbError> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A stable 64-bit advisory lock key for a name (FNV-1a).
fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// The key of a repository (`project/chroot`).
fn repo_key(project_id: i64, chroot: &str) -> i64 {
    advisory_key(&format!("koper-repo:{project_id}/{chroot}"))
}

/// The key of a task's publish.
fn publish_key(task_id: i64) -> i64 {
    advisory_key(&format!("koper-publish:{task_id}"))
}

/// The key of an owner's leases.
fn owner_key(owner: &str) -> i64 {
    advisory_key(&format!("koper-owner:{owner}"))
}

/// Takes the advisory lock `key` until `tx` ends (PostgreSQL only).
async fn advisory_lock(tx: &mut Transaction<'_, Any>, key: i64) -> Result<(), DbError> {
    // pg_advisory_xact_lock returns void, which is not a type the portable
    // driver reads: select a constant instead.
    sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    Ok(())
}

/// Keeps other server processes from leasing `owner`'s tasks until `tx`
/// ends, so that counting the owner's running tasks and leasing one more
/// is one step across the instance. A no-op on SQLite, whose one writer
/// runs the count and the lease in one statement.
pub(crate) async fn lock_owner_leases(
    kind: DbKind,
    tx: &mut Transaction<'_, Any>,
    owner: &str,
) -> Result<(), DbError> {
    match kind {
        DbKind::Sqlite => Ok(()),
        DbKind::Postgres => advisory_lock(tx, owner_key(owner)).await,
    }
}

impl Database {
    /// Waits until no other server process writes this project chroot's
    /// repository, and keeps others out until the lock is released.
    pub async fn lock_repo(&self, project_id: i64, chroot: &str) -> Result<HeldLock, DbError> {
        match self.kind {
            DbKind::Sqlite => Ok(HeldLock { tx: None }),
            DbKind::Postgres => {
                let mut tx = self.pool.begin().await?;
                advisory_lock(&mut tx, repo_key(project_id, chroot)).await?;
                Ok(HeldLock { tx: Some(tx) })
            }
        }
    }

    /// Claims the publish of a task for this server process; `None` when
    /// another process is publishing it (a server starting up finds the
    /// tasks another one is publishing among those to finish). SQLite
    /// serves one process, which publishes a task once.
    pub async fn try_claim_publish(&self, task_id: i64) -> Result<Option<HeldLock>, DbError> {
        match self.kind {
            DbKind::Sqlite => Ok(Some(HeldLock { tx: None })),
            DbKind::Postgres => {
                let mut tx = self.pool.begin().await?;
                let claimed: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1) AS claimed")
                        .bind(publish_key(task_id))
                        .fetch_one(&mut *tx)
                        .await?;
                Ok(claimed.then_some(HeldLock { tx: Some(tx) }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{owner_key, publish_key, repo_key};

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
        assert_ne!(owner_key("alice"), owner_key("bob"));
        assert_ne!(publish_key(1), publish_key(2));
        assert_ne!(
            owner_key("1/fedora-42-x86_64"),
            repo_key(1, "fedora-42-x86_64")
        );
    }
}
