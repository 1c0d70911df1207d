//! Build chroots as the unit of work: leased by builders, renewed by
//! heartbeats, returned to the queue when a lease expires.

use koper_types::{BuildId, BuildState, ChrootName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// One chroot of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// Task id.
    pub id: i64,
    /// The build.
    pub build_id: BuildId,
    /// The chroot.
    pub chroot: ChrootName,
    /// The architecture it builds for.
    pub arch: String,
    /// Its state.
    pub state: BuildState,
    /// The builder holding it.
    pub builder_id: Option<i64>,
    /// The current lease, if leased.
    pub lease_id: Option<String>,
    /// When the lease lapses, Unix seconds.
    pub lease_expires_on: Option<i64>,
    /// How many times it was leased.
    pub attempts: i64,
    /// What the builder reported, before publishing finished.
    pub outcome: Option<String>,
    /// The lease the outcome was reported under; kept after the task
    /// ended, for the logs a builder sends after the outcome.
    pub reported_lease_id: Option<String>,
    /// Why it failed.
    pub fail_reason: Option<String>,
    /// Its result directory name in the chroot repo (`00000001-hello`).
    pub result_dir: Option<String>,
    /// Unix seconds.
    pub started_on: Option<i64>,
    /// Unix seconds.
    pub ended_on: Option<i64>,
    /// The task that builds this chroot's packages, when it is not built
    /// itself (a noarch build, built once for the release).
    pub built_in: Option<i64>,
}

pub(crate) const TASK_COLUMNS: &str = "id, build_id, chroot, arch, state, builder_id, lease_id,
    lease_expires_on, attempts, outcome, reported_lease_id, fail_reason, result_dir, started_on, ended_on, built_in";

pub(crate) fn task_from_row(row: &AnyRow) -> Result<TaskRow, DbError> {
    Ok(TaskRow {
        id: row.try_get("id")?,
        build_id: BuildId(row.try_get("build_id")?),
        chroot: parse_column(&row.try_get::<String, _>("chroot")?, "chroot")?,
        arch: row.try_get("arch")?,
        state: parse_column(&row.try_get::<String, _>("state")?, "state")?,
        builder_id: row.try_get("builder_id")?,
        lease_id: row.try_get("lease_id")?,
        lease_expires_on: row.try_get("lease_expires_on")?,
        attempts: row.try_get("attempts")?,
        outcome: row.try_get("outcome")?,
        reported_lease_id: row.try_get("reported_lease_id")?,
        fail_reason: row.try_get("fail_reason")?,
        result_dir: row.try_get("result_dir")?,
        started_on: row.try_get("started_on")?,
        ended_on: row.try_get("ended_on")?,
        built_in: row.try_get("built_in")?,
    })
}

/// A lease that lapsed without its task's outcome being reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLease {
    /// The task.
    pub task_id: i64,
    /// The lapsed lease.
    pub lease_id: String,
    /// How many times the task was leased, this lease included.
    pub attempts: i64,
}

/// A successful build chroot whose results are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedBuild {
    /// The task.
    pub task_id: i64,
    /// Its build.
    pub build_id: BuildId,
    /// The build's package.
    pub package_name: String,
    /// Its result directory in the chroot repo.
    pub result_dir: String,
}

impl Database {
    /// The chroots of a build, by name.
    pub async fn tasks_of_build(&self, build_id: BuildId) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots WHERE build_id = $1 ORDER BY chroot"
        ))
        .bind(build_id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// One task.
    pub async fn task_by_id(&self, id: i64) -> Result<Option<TaskRow>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Extends a lease and moves a starting task to running; false when the
    /// caller no longer holds the lease.
    pub async fn renew_lease(
        &self,
        task_id: i64,
        lease_id: &str,
        lease_expires_on: i64,
    ) -> Result<bool, DbError> {
        let updated = sqlx::query(
            "UPDATE build_chroots SET lease_expires_on = $1,
                 state = CASE WHEN state = $2 THEN $3 ELSE state END
             WHERE id = $4 AND lease_id = $5 AND outcome IS NULL AND state IN ($2, $3)",
        )
        .bind(lease_expires_on)
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .bind(task_id)
        .bind(lease_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Records where a task's results go.
    pub async fn set_result_dir(&self, task_id: i64, result_dir: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE build_chroots SET result_dir = $1 WHERE id = $2")
            .bind(result_dir)
            .bind(task_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores what the builder reported; from here on the task is the
    /// publisher's. False when the caller no longer holds the lease.
    pub async fn record_outcome(
        &self,
        task_id: i64,
        lease_id: &str,
        outcome: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool, DbError> {
        let updated = sqlx::query(
            "UPDATE build_chroots SET outcome = $1, fail_reason = $2, reported_on = $7,
                 reported_lease_id = $4
             WHERE id = $3 AND lease_id = $4 AND outcome IS NULL AND state IN ($5, $6)",
        )
        .bind(outcome)
        .bind(reason)
        .bind(task_id)
        .bind(lease_id)
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Tasks whose outcome is known but whose results are not yet
    /// published (left over by a crash, or just reported).
    pub async fn tasks_to_publish(&self) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots
             WHERE outcome IS NOT NULL AND state IN ($1, $2) ORDER BY id"
        ))
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Ends a task in a final state.
    pub async fn end_task(
        &self,
        task_id: i64,
        state: BuildState,
        fail_reason: Option<&str>,
        now: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE build_chroots SET state = $1, fail_reason = COALESCE($2, fail_reason),
                 ended_on = $3, lease_id = NULL, lease_expires_on = NULL
             WHERE id = $4",
        )
        .bind(state.as_str())
        .bind(fail_reason)
        .bind(now)
        .bind(task_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Leases that lapsed (their builder died or lost contact) on tasks
    /// whose outcome was never reported.
    pub async fn expired_leases(&self, now: i64) -> Result<Vec<ExpiredLease>, DbError> {
        let rows = sqlx::query(
            "SELECT id, lease_id, attempts FROM build_chroots
             WHERE state IN ($1, $2) AND outcome IS NULL AND lease_id IS NOT NULL
                 AND lease_expires_on < $3
             ORDER BY id",
        )
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ExpiredLease {
                    task_id: row.try_get("id")?,
                    lease_id: row.try_get("lease_id")?,
                    attempts: row.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Puts a task whose lease lapsed back in the queue, to be leased again
    /// no sooner than `not_before` (its attempt count stays). False when
    /// the lease was renewed, reported on or requeued meanwhile.
    pub async fn requeue_task(
        &self,
        lapsed: &ExpiredLease,
        now: i64,
        not_before: i64,
    ) -> Result<bool, DbError> {
        let updated = sqlx::query(
            "UPDATE build_chroots
             SET state = $1, builder_id = NULL, lease_id = NULL, lease_expires_on = NULL,
                 started_on = NULL, not_before = $2
             WHERE id = $3 AND lease_id = $4 AND state IN ($5, $6) AND outcome IS NULL
                 AND lease_expires_on < $7",
        )
        .bind(BuildState::Pending.as_str())
        .bind(not_before)
        .bind(lapsed.task_id)
        .bind(&lapsed.lease_id)
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Published results of a project's chroot: the result directories of
    /// its succeeded tasks, oldest first.
    pub async fn published_result_dirs(
        &self,
        project_id: i64,
        chroot: &ChrootName,
    ) -> Result<Vec<String>, DbError> {
        let rows = sqlx::query(
            "SELECT bc.result_dir FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
             WHERE b.project_id = $1 AND bc.chroot = $2 AND bc.state = $3
                 AND bc.result_dir IS NOT NULL AND bc.pruned_on IS NULL
             ORDER BY bc.build_id",
        )
        .bind(project_id)
        .bind(chroot.as_str())
        .bind(BuildState::Succeeded.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(row.try_get("result_dir")?))
            .collect()
    }

    /// The published successful builds of a project chroot, newest first.
    pub async fn published_builds(
        &self,
        project_id: i64,
        chroot: &ChrootName,
    ) -> Result<Vec<PublishedBuild>, DbError> {
        let rows = sqlx::query(
            "SELECT bc.id, bc.build_id, b.package_name, bc.result_dir
             FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
             WHERE b.project_id = $1 AND bc.chroot = $2 AND bc.state = $3
                 AND bc.result_dir IS NOT NULL AND bc.pruned_on IS NULL
                 AND b.package_name IS NOT NULL
             ORDER BY bc.build_id DESC",
        )
        .bind(project_id)
        .bind(chroot.as_str())
        .bind(BuildState::Succeeded.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PublishedBuild {
                    task_id: row.try_get("id")?,
                    build_id: BuildId(row.try_get("build_id")?),
                    package_name: row.try_get("package_name")?,
                    result_dir: row.try_get("result_dir")?,
                })
            })
            .collect()
    }

    /// Records how many bytes a task's result directory takes.
    pub async fn set_result_bytes(&self, task_id: i64, bytes: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE build_chroots SET result_bytes = $1 WHERE id = $2")
            .bind(bytes)
            .bind(task_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a task's results as removed by retention (they take no space
    /// any more).
    pub async fn mark_pruned(&self, task_id: i64, now: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE build_chroots SET pruned_on = $1, result_bytes = 0 WHERE id = $2")
            .bind(now)
            .bind(task_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The chroots waiting for `task_id` to build their packages.
    pub async fn copies_waiting_on(&self, task_id: i64) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots WHERE built_in = $1 AND state = $2
             ORDER BY id"
        ))
        .bind(task_id)
        .bind(BuildState::Waiting.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Chroots still waiting for a task that has ended (a crash came
    /// between the end of the task and their publish).
    pub async fn copies_to_publish(&self) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots
             WHERE state = $1 AND built_in IN (
                 SELECT id FROM build_chroots WHERE ended_on IS NOT NULL)
             ORDER BY id"
        ))
        .bind(BuildState::Waiting.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Ends a chroot that waited for another's packages, unless it was
    /// canceled meanwhile; false then.
    pub async fn end_copy(
        &self,
        task_id: i64,
        state: BuildState,
        fail_reason: Option<&str>,
        started_on: Option<i64>,
        now: i64,
    ) -> Result<bool, DbError> {
        let updated = sqlx::query(
            "UPDATE build_chroots SET state = $1, fail_reason = $2, started_on = $3, ended_on = $4
             WHERE id = $5 AND state = $6",
        )
        .bind(state.as_str())
        .bind(fail_reason)
        .bind(started_on)
        .bind(now)
        .bind(task_id)
        .bind(BuildState::Waiting.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated > 0)
    }

    /// Tasks the server publishes itself (uploaded packages) that a crash
    /// left unfinished: started, never leased.
    pub async fn unleased_started_tasks(&self) -> Result<Vec<TaskRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots
             WHERE state IN ($1, $2) AND lease_id IS NULL AND outcome IS NULL ORDER BY id"
        ))
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(task_from_row).collect()
    }
}
