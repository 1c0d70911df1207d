//! The queue: which pending task a builder gets next, and what the queue
//! looks like for explaining why a task waits.
//!
//! Owners share the builders fairly: a builder gets the head task of the
//! owner with the fewest running tasks (then the fewest started in the last
//! hour, then the oldest waiting task), so one owner's mass rebuild delays
//! another owner's build by at most one build slot. Owners whose best task
//! is a background build (priority below 0) come after every other owner.
//! Within an owner, higher priority first, then submission order. Owners at
//! their concurrency limit, builds whose batch waits for another batch, and
//! tasks backing off after a lost lease are skipped.
//!
//! A lease costs index lookups per owner with waiting tasks, not a read of
//! every waiting task: tasks carry their owner and priority (migration
//! 0022), `build_chroots_queue` orders each owner's pending tasks by
//! priority and age, `build_chroots_started` finds recent starts, and
//! running tasks are few.

use std::collections::HashMap;

use koper_types::{BuildId, BuildState, ChrootName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tasks::{TASK_COLUMNS, task_from_row};
use crate::{Database, DbError, DbKind, TaskRow};

/// How far back tasks started count towards an owner's recent use.
pub const RECENT_WINDOW_SECONDS: i64 = 3600;

/// What a builder can take.
#[derive(Debug, Clone, Copy)]
pub struct LeaseFilter<'a> {
    /// Architectures it builds for.
    pub arches: &'a [String],
    /// Chroots it may not take (it lacks a tag they need).
    pub excluded_chroots: &'a [String],
    /// Whether it makes source RPMs from specs fetched from a URL (the
    /// source tasks of `link` builds); builder protocol 4.
    pub spec_builds: bool,
    /// Unix seconds.
    pub now: i64,
}

/// One owner's standing in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerShare {
    /// The owner.
    pub owner: String,
    /// Its tasks leased right now.
    pub running: i64,
    /// Its tasks started in the last [`RECENT_WINDOW_SECONDS`].
    pub started_recently: i64,
    /// The highest priority among its tasks that could start.
    pub top_priority: i64,
    /// Its oldest task that could start.
    pub oldest_task: i64,
    /// Its most running tasks, when limited.
    pub limit: Option<i64>,
}

impl OwnerShare {
    /// Whether the owner may start another task.
    pub fn under_limit(&self) -> bool {
        self.limit.is_none_or(|limit| self.running < limit)
    }

    /// The fair-share order: smaller goes first.
    fn order_key(&self) -> (bool, i64, i64, i64) {
        (
            self.top_priority < 0,
            self.running,
            self.started_recently,
            self.oldest_task,
        )
    }
}

/// The owners in the order they get the next builder slot; owners at their
/// limit are left out.
pub fn fair_order(shares: &[OwnerShare]) -> Vec<&OwnerShare> {
    let mut order: Vec<&OwnerShare> = shares.iter().filter(|s| s.under_limit()).collect();
    order.sort_by_key(|s| s.order_key());
    order
}

/// A pending task as the queue explanation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// Task id.
    pub task_id: i64,
    /// Its build.
    pub build_id: BuildId,
    /// The project's owner.
    pub owner: String,
    /// The build's package.
    pub package: Option<String>,
    /// The chroot.
    pub chroot: String,
    /// Its architecture.
    pub arch: String,
    /// The build's priority.
    pub priority: i64,
    /// Its batch waits for builds of another batch to end.
    pub batch_blocked: bool,
    /// Backing off after a lost lease until then.
    pub not_before: Option<i64>,
    /// How many times it was leased.
    pub attempts: i64,
}

/// A task that ran, for estimates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedTask {
    /// The build's package.
    pub package: Option<String>,
    /// Its architecture.
    pub arch: String,
    /// How it ended.
    pub state: BuildState,
    /// Seconds from lease to end.
    pub seconds: i64,
    /// Seconds from the builder's report to the end (publishing).
    pub publish_seconds: Option<i64>,
}

/// How many tasks are in one state for one architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCount {
    /// The state.
    pub state: BuildState,
    /// The architecture.
    pub arch: String,
    /// Tasks.
    pub count: i64,
}

/// A task leased right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningTask {
    /// The project's owner.
    pub owner: String,
    /// Its architecture.
    pub arch: String,
    /// Unix seconds it was leased.
    pub started_on: Option<i64>,
    /// The builder holding it.
    pub builder_id: Option<i64>,
}

/// States whose tasks still have work ahead (a batch after them waits).
const UNENDED: [BuildState; 4] = [
    BuildState::Pending,
    BuildState::Waiting,
    BuildState::Starting,
    BuildState::Running,
];

/// `$first, $first+1, ...` for an `IN (...)` list of `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The SQL condition (on `bc` and `b`) that a pending task may start now as
/// far as its build goes: not canceled, not backing off, batch not blocked.
/// Binds `$1` = pending, `$2` = now, `$3..$6` = unended states.
const STARTABLE: &str = "bc.state = $1 AND b.canceled = 0
    AND (bc.not_before IS NULL OR bc.not_before <= $2)
    AND NOT EXISTS (
        SELECT 1 FROM batches bt
        JOIN builds ob ON ob.batch_id = bt.after_batch_id
        JOIN build_chroots obc ON obc.build_id = ob.id
        WHERE bt.id = b.batch_id AND obc.state IN ($3, $4, $5, $6))";

/// Binds the parameters [`STARTABLE`] uses.
fn bind_startable<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut query = query.bind(BuildState::Pending.as_str()).bind(now);
    for state in UNENDED {
        query = query.bind(state.as_str());
    }
    query
}

/// The `bc.arch IN (...) AND bc.chroot NOT IN (...)` condition for a
/// filter, with placeholders from `first`.
fn filter_condition(filter: &LeaseFilter<'_>, first: usize) -> String {
    let mut sql = format!(
        " AND bc.arch IN ({})",
        placeholders(first, filter.arches.len())
    );
    if !filter.excluded_chroots.is_empty() {
        sql.push_str(&format!(
            " AND bc.chroot NOT IN ({})",
            placeholders(first + filter.arches.len(), filter.excluded_chroots.len())
        ));
    }
    if !filter.spec_builds {
        // Constants, so no placeholders: the numbering stays.
        sql.push_str(&format!(
            " AND NOT (bc.chroot = '{}' AND b.source_type = 'link')",
            ChrootName::SOURCE_BUILDS
        ));
    }
    sql
}

fn bind_filter<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    filter: &LeaseFilter<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arch in filter.arches {
        query = query.bind(arch.as_str());
    }
    for chroot in filter.excluded_chroots {
        query = query.bind(chroot.as_str());
    }
    query
}

fn queued_from_row(row: &AnyRow) -> Result<QueuedTask, DbError> {
    Ok(QueuedTask {
        task_id: row.try_get("id")?,
        build_id: BuildId(row.try_get("build_id")?),
        owner: row.try_get("owner_name")?,
        package: row.try_get("package_name")?,
        chroot: row.try_get("chroot")?,
        arch: row.try_get("arch")?,
        priority: row.try_get("priority")?,
        batch_blocked: row.try_get::<i64, _>("batch_blocked")? != 0,
        not_before: row.try_get("not_before")?,
        attempts: row.try_get("attempts")?,
    })
}

impl Database {
    /// Leases the next task for a builder by the fair-share order (see the
    /// module documentation). Safe with several servers on one PostgreSQL:
    /// rows being leased elsewhere are skipped, not waited for.
    pub async fn lease_next_task(
        &self,
        builder_id: i64,
        filter: &LeaseFilter<'_>,
        lease_id: &str,
        lease_expires_on: i64,
        default_limit: Option<i64>,
    ) -> Result<Option<TaskRow>, DbError> {
        if filter.arches.is_empty() {
            return Ok(None);
        }
        let shares = self.owner_shares(filter, default_limit).await?;
        for share in fair_order(&shares) {
            if let Some(task) = self
                .lease_task_of_owner(share, builder_id, filter, lease_id, lease_expires_on)
                .await?
            {
                return Ok(Some(task));
            }
        }
        Ok(None)
    }

    /// Every owner with a task this builder could start, with its share.
    /// Costs a few index lookups per owner, however many tasks wait: the
    /// owners with pending tasks are found by skipping from one owner to
    /// the next in the queue index, and each owner's head and oldest task
    /// are the first startable entries of its part of the index.
    pub async fn owner_shares(
        &self,
        filter: &LeaseFilter<'_>,
        default_limit: Option<i64>,
    ) -> Result<Vec<OwnerShare>, DbError> {
        let filter_sql = filter_condition(filter, 7);
        let sql = format!(
            "WITH RECURSIVE owners (name) AS (
                 SELECT (SELECT owner_name FROM build_chroots WHERE state = $1
                         ORDER BY owner_name LIMIT 1)
                 UNION ALL
                 SELECT (SELECT n.owner_name FROM build_chroots n
                         WHERE n.state = $1 AND n.owner_name > owners.name
                         ORDER BY n.owner_name LIMIT 1)
                 FROM owners WHERE owners.name IS NOT NULL),
             heads AS (
                 SELECT owners.name AS owner_name,
                     (SELECT bc.priority FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
                      WHERE bc.owner_name = owners.name AND {STARTABLE}{filter_sql}
                      ORDER BY bc.priority DESC, bc.id LIMIT 1) AS top_priority,
                     (SELECT bc.id FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
                      WHERE bc.owner_name = owners.name AND {STARTABLE}{filter_sql}
                      ORDER BY bc.id LIMIT 1) AS oldest_task
                 FROM owners WHERE owners.name IS NOT NULL)
             SELECT owner_name, top_priority, oldest_task FROM heads
             WHERE top_priority IS NOT NULL"
        );
        let query = bind_filter(bind_startable(sqlx::query(&sql), filter.now), filter);
        let rows = query.fetch_all(&self.pool).await?;
        let loads = self.owner_loads(filter.now).await?;
        let limits = self.owner_limits().await?;
        rows.iter()
            .map(|row| {
                let owner: String = row.try_get("owner_name")?;
                let (running, started_recently) = loads.get(&owner).copied().unwrap_or((0, 0));
                let limit = limits.get(&owner).copied().or(default_limit);
                Ok(OwnerShare {
                    running,
                    started_recently,
                    top_priority: row.try_get("top_priority")?,
                    oldest_task: row.try_get("oldest_task")?,
                    limit: limit.filter(|l| *l > 0),
                    owner,
                })
            })
            .collect()
    }

    /// Per owner: tasks leased now, and tasks started in the last
    /// [`RECENT_WINDOW_SECONDS`] (running or not). Reads only those tasks
    /// (through the state and start-time indexes), not the waiting ones.
    pub async fn owner_loads(&self, now: i64) -> Result<HashMap<String, (i64, i64)>, DbError> {
        // A running task counts as recent use however long ago it started;
        // the second part counts the recent ones, so the first counts only
        // the older ones towards recent use.
        let rows = sqlx::query(
            "SELECT owner_name, SUM(running) AS running, SUM(recent) AS started_recently
             FROM (
                 SELECT owner_name, 1 AS running,
                     CASE WHEN started_on >= $3 THEN 0 ELSE 1 END AS recent
                 FROM build_chroots
                 WHERE state IN ($1, $2) AND lease_id IS NOT NULL
                 UNION ALL
                 SELECT owner_name, 0 AS running, 1 AS recent
                 FROM build_chroots WHERE started_on >= $3
             ) loads
             GROUP BY owner_name",
        )
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .bind(now - RECENT_WINDOW_SECONDS)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("owner_name")?,
                    (row.try_get("running")?, row.try_get("started_recently")?),
                ))
            })
            .collect()
    }

    /// Leases the head task of one owner's queue, if it may still start one.
    /// The owner's limit is checked again in the leasing statement itself
    /// (the shares were read before, and other leases may have happened
    /// since), under a per-owner lock on PostgreSQL, where concurrent
    /// statements would each count without the other's lease.
    async fn lease_task_of_owner(
        &self,
        share: &OwnerShare,
        builder_id: i64,
        filter: &LeaseFilter<'_>,
        lease_id: &str,
        lease_expires_on: i64,
    ) -> Result<Option<TaskRow>, DbError> {
        let lock = match self.kind {
            // The build's row too: leasing changes the build's state (a
            // trigger writes builds.state), and taking the build's lock
            // first, as cancel and source_made do, cannot deadlock with them.
            DbKind::Postgres => "FOR UPDATE OF bc, b SKIP LOCKED",
            // SQLite has one writer at a time; the UPDATE re-checks state.
            DbKind::Sqlite => "",
        };
        let filter_sql = filter_condition(filter, 12);
        // After the filter's parameters: the running state and the limit.
        let running = 12 + filter.arches.len() + filter.excluded_chroots.len();
        let limit_sql = match share.limit {
            Some(_) => format!(
                " AND (SELECT COUNT(*) FROM build_chroots rc
                       WHERE rc.owner_name = $11 AND rc.state IN ($7, ${running})
                           AND rc.lease_id IS NOT NULL) < ${}",
                running + 1
            ),
            None => String::new(),
        };
        let sql = format!(
            "UPDATE build_chroots
             SET state = $7, builder_id = $8, lease_id = $9, lease_expires_on = $10,
                 started_on = $2, attempts = attempts + 1, not_before = NULL
             WHERE state = $1{limit_sql} AND id = (
                 SELECT bc.id FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
                 WHERE {STARTABLE} AND bc.owner_name = $11{filter_sql}
                 ORDER BY bc.priority DESC, bc.id LIMIT 1 {lock})
             RETURNING {TASK_COLUMNS}"
        );
        let mut tx = self.pool.begin().await?;
        if share.limit.is_some() {
            crate::locks::lock_owner_leases(self.kind, &mut tx, &share.owner).await?;
        }
        let query = bind_startable(sqlx::query(&sql), filter.now)
            .bind(BuildState::Starting.as_str())
            .bind(builder_id)
            .bind(lease_id)
            .bind(lease_expires_on)
            .bind(share.owner.as_str());
        let mut query = bind_filter(query, filter);
        if let Some(limit) = share.limit {
            query = query.bind(BuildState::Running.as_str()).bind(limit);
        }
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(task_from_row).transpose()
    }

    /// Every pending task of an uncanceled build, in submission order.
    pub async fn queued_tasks(&self) -> Result<Vec<QueuedTask>, DbError> {
        let rows = sqlx::query(
            "SELECT bc.id, bc.build_id, p.owner_name, b.package_name, bc.chroot, bc.arch,
                 b.priority, bc.not_before, bc.attempts,
                 CASE WHEN EXISTS (
                     SELECT 1 FROM batches bt
                     JOIN builds ob ON ob.batch_id = bt.after_batch_id
                     JOIN build_chroots obc ON obc.build_id = ob.id
                     WHERE bt.id = b.batch_id AND obc.state IN ($2, $3, $4, $5))
                 THEN 1 ELSE 0 END AS batch_blocked
             FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
                 JOIN projects p ON p.id = b.project_id
             WHERE bc.state = $1 AND b.canceled = 0
             ORDER BY bc.id",
        )
        .bind(BuildState::Pending.as_str())
        .bind(UNENDED[0].as_str())
        .bind(UNENDED[1].as_str())
        .bind(UNENDED[2].as_str())
        .bind(UNENDED[3].as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queued_from_row).collect()
    }

    /// Every leased task.
    pub async fn running_tasks(&self) -> Result<Vec<RunningTask>, DbError> {
        let rows = sqlx::query(
            "SELECT p.owner_name, bc.arch, bc.started_on, bc.builder_id
             FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
                 JOIN projects p ON p.id = b.project_id
             WHERE bc.state IN ($1, $2) AND bc.lease_id IS NOT NULL",
        )
        .bind(BuildState::Starting.as_str())
        .bind(BuildState::Running.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RunningTask {
                    owner: row.try_get("owner_name")?,
                    arch: row.try_get("arch")?,
                    started_on: row.try_get("started_on")?,
                    builder_id: row.try_get("builder_id")?,
                })
            })
            .collect()
    }

    /// The most recently ended tasks that ran on a builder, newest first.
    pub async fn recent_finished_tasks(&self, limit: i64) -> Result<Vec<FinishedTask>, DbError> {
        let rows = sqlx::query(
            "SELECT b.package_name, bc.arch, bc.state, bc.ended_on - bc.started_on AS seconds,
                 bc.ended_on - bc.reported_on AS publish_seconds
             FROM build_chroots bc JOIN builds b ON b.id = bc.build_id
             WHERE bc.state IN ($1, $2) AND bc.started_on IS NOT NULL
                 AND bc.ended_on IS NOT NULL AND bc.attempts > 0
             ORDER BY bc.ended_on DESC LIMIT $3",
        )
        .bind(BuildState::Succeeded.as_str())
        .bind(BuildState::Failed.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(FinishedTask {
                    package: row.try_get("package_name")?,
                    arch: row.try_get("arch")?,
                    state: crate::parse_column(&row.try_get::<String, _>("state")?, "state")?,
                    seconds: row.try_get("seconds")?,
                    publish_seconds: row.try_get("publish_seconds")?,
                })
            })
            .collect()
    }

    /// Tasks not ended yet, by state and architecture.
    pub async fn unended_task_counts(&self) -> Result<Vec<TaskCount>, DbError> {
        let rows = sqlx::query(
            "SELECT state, arch, COUNT(*) AS n FROM build_chroots
             WHERE state IN ($1, $2, $3, $4) GROUP BY state, arch ORDER BY state, arch",
        )
        .bind(UNENDED[0].as_str())
        .bind(UNENDED[1].as_str())
        .bind(UNENDED[2].as_str())
        .bind(UNENDED[3].as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TaskCount {
                    state: crate::parse_column(&row.try_get::<String, _>("state")?, "state")?,
                    arch: row.try_get("arch")?,
                    count: row.try_get("n")?,
                })
            })
            .collect()
    }

    /// Unended builds of the batch a build's batch waits for.
    pub async fn builds_blocking(&self, build_id: BuildId) -> Result<Vec<BuildId>, DbError> {
        let rows = sqlx::query(
            "SELECT DISTINCT ob.id FROM builds b
             JOIN batches bt ON bt.id = b.batch_id
             JOIN builds ob ON ob.batch_id = bt.after_batch_id
             JOIN build_chroots obc ON obc.build_id = ob.id
             WHERE b.id = $1 AND obc.state IN ($2, $3, $4, $5)
             ORDER BY ob.id",
        )
        .bind(build_id.0)
        .bind(UNENDED[0].as_str())
        .bind(UNENDED[1].as_str())
        .bind(UNENDED[2].as_str())
        .bind(UNENDED[3].as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok(BuildId(row.try_get("id")?)))
            .collect()
    }

    /// Concurrency limits an administrator set, by owner.
    pub async fn owner_limits(&self) -> Result<HashMap<String, i64>, DbError> {
        let rows = sqlx::query("SELECT owner_name, max_running FROM owner_limits")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("owner_name")?, row.try_get("max_running")?)))
            .collect()
    }

    /// Sets an owner's concurrency limit; `None` returns it to the default.
    pub async fn set_owner_limit(
        &self,
        owner: &str,
        max_running: Option<i64>,
    ) -> Result<(), DbError> {
        match max_running {
            Some(max) => {
                sqlx::query(
                    "INSERT INTO owner_limits (owner_name, max_running) VALUES ($1, $2)
                     ON CONFLICT (owner_name) DO UPDATE SET max_running = excluded.max_running",
                )
                .bind(owner)
                .bind(max)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM owner_limits WHERE owner_name = $1")
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(owner: &str, running: i64, recent: i64, priority: i64, oldest: i64) -> OwnerShare {
        OwnerShare {
            owner: owner.to_owned(),
            running,
            started_recently: recent,
            top_priority: priority,
            oldest_task: oldest,
            limit: None,
        }
    }

    fn names(order: Vec<&OwnerShare>) -> Vec<&str> {
        order.into_iter().map(|s| s.owner.as_str()).collect()
    }

    #[test]
    fn fewer_running_goes_first_then_less_recent_use_then_oldest() {
        let shares = [
            share("mass", 4, 100, 0, 1),
            share("single", 0, 0, 0, 5000),
            share("other", 0, 3, 0, 10),
            share("tie", 0, 3, 0, 9),
        ];
        assert_eq!(
            names(fair_order(&shares)),
            ["single", "tie", "other", "mass"]
        );
    }

    #[test]
    fn background_owners_come_last_and_limited_owners_not_at_all() {
        let mut limited = share("limited", 2, 2, 0, 1);
        limited.limit = Some(2);
        let shares = [
            share("background", 0, 0, -1, 1),
            limited,
            share("busy", 9, 50, 0, 3),
        ];
        assert_eq!(names(fair_order(&shares)), ["busy", "background"]);
    }
}
