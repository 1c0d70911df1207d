//! Builds: one submitted source, built for one or more chroots.

use koper_types::{BuildId, BuildState, ChrootName, OwnerName, PackageName, ProjectName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::tasks::{TASK_COLUMNS, task_from_row};
use crate::{Database, DbError, TaskRow, parse_column};

/// What submitting a build stores.
#[derive(Debug, Clone)]
pub struct NewBuild<'a> {
    /// The project built into.
    pub project_id: i64,
    /// Who submitted it.
    pub submitter_id: Option<i64>,
    /// `upload`, `link`, `scm`, ...
    pub source_type: &'a str,
    /// The accepted source RPM, relative to the data directory (none for
    /// uploaded binary packages).
    pub srpm_path: Option<&'a str>,
    /// Its SHA-256.
    pub srpm_sha256: Option<&'a str>,
    /// Its size in bytes (0 when there is none).
    pub srpm_bytes: i64,
    /// The package it builds; unknown until a source task made the
    /// source RPM.
    pub package_name: Option<&'a PackageName>,
    /// `[epoch:]version-release`.
    pub package_version: Option<&'a str>,
    /// Timeout per chroot, seconds.
    pub timeout: i64,
    /// Chroots to build for, with their arch.
    pub chroots: &'a [(ChrootName, String)],
    /// Chroots (first) that take the packages another chroot of the build
    /// (second) builds instead of building them: noarch builds, once per
    /// release. They wait in state `waiting`.
    pub built_in: &'a [(ChrootName, ChrootName)],
    /// The state new tasks start in: pending for builds, starting for
    /// uploaded packages that the server publishes itself.
    pub task_state: BuildState,
    /// Order within the owner's queue, higher first; below 0 is a
    /// background build.
    pub priority: i64,
    /// Which builds it waits for or runs with.
    pub batch: BatchPlacement,
    /// Set when a source task makes the source RPM first: the chroots'
    /// tasks wait (`waiting`) until it has.
    pub source: Option<NewSource<'a>>,
}

/// The source task of a new build.
#[derive(Debug, Clone, Copy)]
pub struct NewSource<'a> {
    /// What to make the source RPM from (JSON, `koper_types::ScmSource`).
    pub source_json: &'a str,
    /// The architecture of the builder that makes it.
    pub arch: &'a str,
}

/// Where a new build goes among batches (Copr's batches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchPlacement {
    /// No batch: it may start at once.
    #[default]
    Alone,
    /// In the batch of this build (created if it has none): they run side
    /// by side.
    With(BuildId),
    /// In a new batch that starts once every build of this build's batch
    /// has ended.
    After(BuildId),
}

/// Which of a project's builds a list shows; an empty field matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFilter {
    /// Builds of this package.
    pub package: String,
    /// Builds for this chroot.
    pub chroot: String,
    /// Builds in this state (Copr's aggregate state of the build), or,
    /// when `chroot` is given, whose chroot `chroot` is in this state.
    pub chroot_state: String,
}

/// A stored build with its chroots.
#[derive(Debug, Clone)]
pub struct BuildRow {
    /// Build number.
    pub id: BuildId,
    /// The project.
    pub project_id: i64,
    /// The project's owner.
    pub owner: OwnerName,
    /// The project's name.
    pub project: ProjectName,
    /// Who submitted it.
    pub submitter: Option<String>,
    /// `upload`, ...
    pub source_type: String,
    /// State of the source phase: its source task's state, or succeeded
    /// for a build whose source RPM was given.
    pub source_state: BuildState,
    /// What the source RPM is made from (JSON, `koper_types::ScmSource`),
    /// for builds with a source task.
    pub source_json: Option<String>,
    /// The source task (chroot `srpm-builds`), if the build has one.
    pub source_task: Option<TaskRow>,
    /// The accepted source RPM, relative to the data directory.
    pub srpm_path: Option<String>,
    /// Its SHA-256.
    pub srpm_sha256: Option<String>,
    /// The package, once known.
    pub package_name: Option<PackageName>,
    /// Its `[epoch:]version-release`.
    pub package_version: Option<String>,
    /// A user canceled it.
    pub canceled: bool,
    /// Timeout per chroot, seconds.
    pub timeout: i64,
    /// Unix seconds.
    pub submitted_on: i64,
    /// Order within the owner's queue; below 0 is a background build.
    pub priority: i64,
    /// Its batch, if it has one.
    pub batch_id: Option<i64>,
    /// Its chroots, by name (the source task is not among them).
    pub chroots: Vec<TaskRow>,
}

impl BuildRow {
    /// Takes the build's tasks: the source task apart, the chroots in
    /// order; the source phase's state is its task's.
    fn set_tasks(&mut self, tasks: Vec<TaskRow>) {
        for task in tasks {
            if task.chroot.is_source_builds() {
                self.source_state = task.state;
                self.source_task = Some(task);
            } else {
                self.chroots.push(task);
            }
        }
    }
}

/// The state of build `b` as SQL: [`koper_types::aggregate_state`] over
/// its source phase (its `srpm-builds` task, else `source_state`) and its
/// chroots. The two must agree; a test compares them for every state.
fn build_state_sql() -> String {
    use BuildState::*;
    let source_builds = ChrootName::SOURCE_BUILDS;
    let source = format!(
        "COALESCE((SELECT s.state FROM build_chroots s
                   WHERE s.build_id = b.id AND s.chroot = '{source_builds}'), b.source_state)"
    );
    let has = |state: BuildState| {
        format!(
            "EXISTS (SELECT 1 FROM build_chroots c WHERE c.build_id = b.id
                     AND c.chroot <> '{source_builds}' AND c.state = '{}')",
            state.as_str()
        )
    };
    let source_decides = [Starting, Pending, Running, Importing, Failed]
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "(CASE WHEN b.canceled = 1 THEN '{}'
          WHEN {source} IN ({source_decides}) THEN {source}",
        Canceled.as_str()
    );
    for state in [Running, Starting, Pending] {
        sql.push_str(&format!(" WHEN {} THEN '{}'", has(state), state.as_str()));
    }
    sql.push_str(&format!(
        " WHEN {} THEN '{}'",
        has(Waiting),
        Pending.as_str()
    ));
    for state in [Failed, Succeeded, Skipped, Forked] {
        sql.push_str(&format!(" WHEN {} THEN '{}'", has(state), state.as_str()));
    }
    sql.push_str(&format!(
        " WHEN {source} = '{}' AND NOT EXISTS (SELECT 1 FROM build_chroots c
               WHERE c.build_id = b.id AND c.chroot <> '{source_builds}') THEN '{}'
          ELSE '{}' END)",
        Succeeded.as_str(),
        Waiting.as_str(),
        Unknown.as_str()
    ));
    sql
}

/// `$1, $2, ...` for an `IN (...)` list of `count` values.
fn placeholders(count: usize) -> String {
    (1..=count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which of a project's builds to list, and in what order.
#[derive(Debug, Clone, Copy)]
pub struct BuildQuery<'a> {
    /// Only builds of this package.
    pub package: Option<&'a str>,
    /// Only builds in this state (the whole build's, by Copr's rule).
    pub state: Option<BuildState>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    /// Start after this build, in the list's order (keyset paging: as
    /// cheap however deep the page is).
    pub after: Option<BuildId>,
    /// The most builds to return.
    pub limit: i64,
    /// Builds to skip first (after `after`).
    pub offset: i64,
}

/// The builds that summarise one package of a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSummary {
    /// The package.
    pub name: String,
    /// Its first build.
    pub first_build: BuildId,
    /// Its newest build.
    pub latest: BuildId,
    /// Its newest build that succeeded, if one did.
    pub latest_succeeded: Option<BuildId>,
}

/// One package in one chroot, as Copr's monitor shows it: that chroot of
/// the package's newest build in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEntry {
    /// The package.
    pub package: String,
    /// The chroot.
    pub chroot: ChrootName,
    /// The newest build of the package in this chroot.
    pub build_id: BuildId,
    /// Its `[epoch:]version-release`.
    pub package_version: Option<String>,
    /// The state of its chroot.
    pub state: BuildState,
    /// Its result directory name in the chroot repo, once it has one.
    pub result_dir: Option<String>,
}

/// A package as a listing orders it, before its summary is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageKey {
    /// The package.
    pub name: String,
    /// Copr's id for it: its record's, else its first build's.
    pub id: i64,
}

/// Per package name in `names`: its first, newest and newest successful
/// build, each one lookup in `builds_by_package` (`$1` the project, `$2`
/// the succeeded state).
const PACKAGE_SUMMARY: &str = "SELECT names.name,
        (SELECT MIN(f.id) FROM builds f
         WHERE f.project_id = $1 AND f.package_name = names.name) AS first_build,
        (SELECT MAX(l.id) FROM builds l
         WHERE l.project_id = $1 AND l.package_name = names.name) AS latest,
        (SELECT s.id FROM builds s
         WHERE s.project_id = $1 AND s.package_name = names.name AND s.state = $2
         ORDER BY s.id DESC LIMIT 1) AS latest_succeeded
    FROM names WHERE names.name IS NOT NULL";

fn summary_from_row(row: &AnyRow) -> Result<Option<PackageSummary>, DbError> {
    let (Some(first_build), Some(latest)) = (
        row.try_get::<Option<i64>, _>("first_build")?,
        row.try_get::<Option<i64>, _>("latest")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(PackageSummary {
        name: row.try_get("name")?,
        first_build: BuildId(first_build),
        latest: BuildId(latest),
        latest_succeeded: row
            .try_get::<Option<i64>, _>("latest_succeeded")?
            .map(BuildId),
    }))
}

const BUILD_COLUMNS: &str = "b.id, b.project_id, p.owner_name, p.name AS project_name,
    u.name AS submitter, b.source_type, b.source_state, b.srpm_path, b.srpm_sha256,
    b.package_name, b.package_version, b.canceled, b.timeout, b.submitted_on,
    b.priority, b.batch_id, b.source_json";
const BUILD_FROM: &str = "builds b JOIN projects p ON p.id = b.project_id
    LEFT JOIN users u ON u.id = b.submitter_id";

fn build_from_row(row: &AnyRow) -> Result<BuildRow, DbError> {
    let package_name: Option<String> = row.try_get("package_name")?;
    Ok(BuildRow {
        id: BuildId(row.try_get("id")?),
        project_id: row.try_get("project_id")?,
        owner: parse_column(&row.try_get::<String, _>("owner_name")?, "owner_name")?,
        project: parse_column(&row.try_get::<String, _>("project_name")?, "projects.name")?,
        submitter: row.try_get("submitter")?,
        source_type: row.try_get("source_type")?,
        source_state: parse_column(&row.try_get::<String, _>("source_state")?, "source_state")?,
        srpm_path: row.try_get("srpm_path")?,
        srpm_sha256: row.try_get("srpm_sha256")?,
        package_name: package_name
            .map(|name| parse_column(&name, "package_name"))
            .transpose()?,
        package_version: row.try_get("package_version")?,
        canceled: row.try_get::<i64, _>("canceled")? != 0,
        timeout: row.try_get("timeout")?,
        submitted_on: row.try_get("submitted_on")?,
        priority: row.try_get("priority")?,
        batch_id: row.try_get("batch_id")?,
        source_json: row.try_get("source_json")?,
        source_task: None,
        chroots: Vec::new(),
    })
}

/// The batch of a build, made for it if it has none.
async fn batch_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    build: BuildId,
) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT batch_id FROM builds WHERE id = $1")
        .bind(build.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(DbError::NotFound)?;
    if let Some(batch) = row.try_get::<Option<i64>, _>("batch_id")? {
        return Ok(batch);
    }
    let batch: i64 = sqlx::query("INSERT INTO batches (after_batch_id) VALUES (NULL) RETURNING id")
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
    sqlx::query("UPDATE builds SET batch_id = $1 WHERE id = $2")
        .bind(batch)
        .bind(build.0)
        .execute(&mut **tx)
        .await?;
    Ok(batch)
}

impl Database {
    /// Stores a build whose source is already accepted, with one pending
    /// task per chroot.
    pub async fn create_build(&self, new: &NewBuild<'_>, now: i64) -> Result<BuildId, DbError> {
        let mut tx = self.pool.begin().await?;
        let batch_id = match new.batch {
            BatchPlacement::Alone => None,
            BatchPlacement::With(other) => Some(batch_of(&mut tx, other).await?),
            BatchPlacement::After(other) => {
                let blocking = batch_of(&mut tx, other).await?;
                let row =
                    sqlx::query("INSERT INTO batches (after_batch_id) VALUES ($1) RETURNING id")
                        .bind(blocking)
                        .fetch_one(&mut *tx)
                        .await?;
                Some(row.try_get::<i64, _>("id")?)
            }
        };
        let row = sqlx::query(
            "INSERT INTO builds (project_id, submitter_id, source_type, source_state, srpm_path,
                 srpm_sha256, package_name, package_version, timeout, submitted_on, srpm_bytes,
                 priority, batch_id, source_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        )
        .bind(new.project_id)
        .bind(new.submitter_id)
        .bind(new.source_type)
        .bind(match new.source {
            Some(_) => BuildState::Pending.as_str(),
            None => BuildState::Succeeded.as_str(),
        })
        .bind(new.srpm_path)
        .bind(new.srpm_sha256)
        .bind(new.package_name.map(PackageName::as_str))
        .bind(new.package_version)
        .bind(new.timeout)
        .bind(now)
        .bind(new.srpm_bytes)
        .bind(new.priority)
        .bind(batch_id)
        .bind(new.source.map(|s| s.source_json))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let task_state = match new.source {
            Some(source) => {
                sqlx::query(
                    "INSERT INTO build_chroots (build_id, chroot, arch, state)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(ChrootName::SOURCE_BUILDS)
                .bind(source.arch)
                .bind(BuildState::Pending.as_str())
                .execute(&mut *tx)
                .await?;
                BuildState::Waiting
            }
            None => new.task_state,
        };
        let copy_of = |chroot: &ChrootName| {
            new.built_in
                .iter()
                .find(|(copy, _)| copy == chroot)
                .map(|(_, source)| source)
        };
        let mut task_ids = std::collections::HashMap::new();
        // Chroots that build first, so that the others can name them.
        for (chroot, arch) in new.chroots.iter().filter(|(c, _)| copy_of(c).is_none()) {
            let row = sqlx::query(
                "INSERT INTO build_chroots (build_id, chroot, arch, state) VALUES ($1, $2, $3, $4)
                 RETURNING id",
            )
            .bind(id)
            .bind(chroot.as_str())
            .bind(arch.as_str())
            .bind(task_state.as_str())
            .fetch_one(&mut *tx)
            .await?;
            task_ids.insert(chroot, row.try_get::<i64, _>("id")?);
        }
        for (chroot, arch) in new.chroots {
            let Some(source) = copy_of(chroot) else {
                continue;
            };
            // A chroot can only take packages from one that builds them.
            let source_id = task_ids.get(source).ok_or(DbError::NotFound)?;
            sqlx::query(
                "INSERT INTO build_chroots (build_id, chroot, arch, state, built_in)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(chroot.as_str())
            .bind(arch.as_str())
            .bind(BuildState::Waiting.as_str())
            .bind(*source_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(BuildId(id))
    }

    /// The build with this id, with its chroots.
    pub async fn build_by_id(&self, id: BuildId) -> Result<Option<BuildRow>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {BUILD_COLUMNS} FROM {BUILD_FROM} WHERE b.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut build = build_from_row(&row)?;
        let tasks = self.tasks_of_build(id).await?;
        build.set_tasks(tasks);
        Ok(Some(build))
    }

    /// A project's builds, newest first.
    pub async fn list_builds(
        &self,
        project_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<BuildRow>, DbError> {
        self.query_builds(
            project_id,
            &BuildQuery {
                package: None,
                state: None,
                oldest_first: false,
                after: None,
                limit,
                offset,
            },
        )
        .await
    }

    /// One page of a project's builds, filtered and ordered by the
    /// database (a project may have hundreds of thousands). The page's ids
    /// come from an index alone (by project, by package or by state), so a
    /// deep offset skips index entries, not rows.
    pub async fn query_builds(
        &self,
        project_id: i64,
        query: &BuildQuery<'_>,
    ) -> Result<Vec<BuildRow>, DbError> {
        let (order, beyond) = if query.oldest_first {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        let mut conditions = String::new();
        let mut next = 3;
        let mut condition = |sql: &str| {
            next += 1;
            conditions.push_str(&format!(" AND {sql} ${next}"));
        };
        if query.package.is_some() {
            condition("package_name =");
        }
        if query.state.is_some() {
            condition("state =");
        }
        if query.after.is_some() {
            condition(&format!("id {beyond}"));
        }
        let sql = format!(
            "SELECT {BUILD_COLUMNS} FROM {BUILD_FROM} WHERE b.id IN (
                 SELECT id FROM builds WHERE project_id = $1{conditions}
                 ORDER BY id {order} LIMIT $2 OFFSET $3)
             ORDER BY b.id {order}"
        );
        let mut rows = sqlx::query(&sql)
            .bind(project_id)
            .bind(query.limit)
            .bind(query.offset);
        if let Some(package) = query.package {
            rows = rows.bind(package);
        }
        if let Some(state) = query.state {
            rows = rows.bind(state.as_str());
        }
        if let Some(after) = query.after {
            rows = rows.bind(after.0);
        }
        let rows = rows.fetch_all(&self.pool).await?;
        self.with_tasks(rows.iter().map(build_from_row).collect::<Result<_, _>>()?)
            .await
    }

    /// Every package of a project with Copr's id for it (its record's,
    /// else its first build's), in byte order of name: the names built
    /// (one step through `builds_by_package` per name, whose first entry
    /// is also the first build) and the records never built. Reads no
    /// summaries: a listing pages these first.
    pub async fn package_keys(&self, project_id: i64) -> Result<Vec<PackageKey>, DbError> {
        let rows = sqlx::query(
            "WITH RECURSIVE firsts (name, id) AS (
                 SELECT package_name, id FROM (
                     SELECT package_name, id FROM builds
                     WHERE project_id = $1 AND package_name IS NOT NULL
                     ORDER BY package_name, id LIMIT 1) first_build
                 UNION ALL
                 SELECT n.package_name, n.id FROM firsts
                 JOIN builds n ON n.id = (
                     SELECT x.id FROM builds x
                     WHERE x.project_id = $1 AND x.package_name > firsts.name
                     ORDER BY x.package_name, x.id LIMIT 1))
             SELECT firsts.name, COALESCE(r.id, firsts.id) AS id FROM firsts
                 LEFT JOIN packages r ON r.project_id = $1 AND r.name = firsts.name
             UNION ALL
             SELECT r.name, r.id FROM packages r
             WHERE r.project_id = $1 AND NOT EXISTS (
                 SELECT 1 FROM builds b WHERE b.project_id = $1 AND b.package_name = r.name)",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        let mut keys: Vec<PackageKey> = rows
            .iter()
            .map(|row| {
                Ok(PackageKey {
                    name: row.try_get("name")?,
                    id: row.try_get("id")?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        // Byte order, whatever the database's collation.
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    /// The summaries of the named packages of a project that have builds,
    /// in byte order of name (names without builds are left out).
    pub async fn package_summaries_named(
        &self,
        project_id: i64,
        names: &[&str],
    ) -> Result<Vec<PackageSummary>, DbError> {
        let mut summaries = Vec::with_capacity(names.len());
        // Bounded lists: every database takes a few hundred parameters.
        for chunk in names.chunks(500) {
            let values = (3..3 + chunk.len())
                .map(|n| format!("(CAST(${n} AS TEXT))"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("WITH names (name) AS (VALUES {values}) {PACKAGE_SUMMARY}");
            let mut query = sqlx::query(&sql)
                .bind(project_id)
                .bind(BuildState::Succeeded.as_str());
            for name in chunk {
                query = query.bind(*name);
            }
            for row in query.fetch_all(&self.pool).await? {
                summaries.extend(summary_from_row(&row)?);
            }
        }
        summaries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(summaries)
    }

    /// The builds that summarise one package of a project, if it has any.
    pub async fn package_summary(
        &self,
        project_id: i64,
        name: &str,
    ) -> Result<Option<PackageSummary>, DbError> {
        let row = sqlx::query(&format!(
            "WITH names (name) AS (SELECT CAST($3 AS TEXT)) {PACKAGE_SUMMARY}"
        ))
        .bind(project_id)
        .bind(BuildState::Succeeded.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(summary_from_row).transpose()?.flatten())
    }

    /// A project's builds matching `filter`, newest first. Without a
    /// chroot the state is the build's own (Copr's aggregate rule,
    /// [`koper_types::aggregate_state`], computed by the database so that
    /// pages stay exact); with one, that chroot's state.
    pub async fn list_builds_filtered(
        &self,
        project_id: i64,
        filter: &BuildFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<BuildRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {BUILD_COLUMNS} FROM {BUILD_FROM} WHERE b.project_id = $1
               AND ($2 = '' OR b.package_name = $2)
               AND ($3 = '' OR EXISTS (SELECT 1 FROM build_chroots c
                    WHERE c.build_id = b.id AND c.chroot = $3
                      AND ($4 = '' OR c.state = $4)))
               AND ($4 = '' OR $3 <> '' OR {} = $4)
             ORDER BY b.id DESC LIMIT $5 OFFSET $6",
            build_state_sql()
        ))
        .bind(project_id)
        .bind(filter.package.as_str())
        .bind(filter.chroot.as_str())
        .bind(filter.chroot_state.as_str())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        self.with_tasks(rows.iter().map(build_from_row).collect::<Result<_, _>>()?)
            .await
    }

    /// The newest builds of listed projects, for the home page.
    pub async fn recent_listed_builds(&self, limit: i64) -> Result<Vec<BuildRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {BUILD_COLUMNS} FROM {BUILD_FROM} WHERE {}
             ORDER BY b.id DESC LIMIT $1",
            crate::projects::publicly_listed_sql("p")
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.with_tasks(rows.iter().map(build_from_row).collect::<Result<_, _>>()?)
            .await
    }

    /// Fills in the chroots of builds.
    async fn with_tasks(&self, mut builds: Vec<BuildRow>) -> Result<Vec<BuildRow>, DbError> {
        if builds.is_empty() {
            return Ok(builds);
        }
        // Ids are integers from the database: safe to inline.
        let ids: Vec<String> = builds.iter().map(|b| b.id.0.to_string()).collect();
        let task_rows = sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM build_chroots
             WHERE build_id IN ({}) ORDER BY chroot",
            ids.join(",")
        ))
        .fetch_all(&self.pool)
        .await?;
        let index: std::collections::HashMap<i64, usize> = builds
            .iter()
            .enumerate()
            .map(|(at, b)| (b.id.0, at))
            .collect();
        for row in &task_rows {
            let task = task_from_row(row)?;
            if let Some(&at) = index.get(&task.build_id.0) {
                builds[at].set_tasks(vec![task]);
            }
        }
        Ok(builds)
    }

    /// Builds by id, in no particular order (unknown ids are left out).
    pub async fn builds_by_ids(&self, ids: &[i64]) -> Result<Vec<BuildRow>, DbError> {
        let mut builds = Vec::with_capacity(ids.len());
        // Bounded IN lists: every database takes a few hundred parameters.
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {BUILD_COLUMNS} FROM {BUILD_FROM} WHERE b.id IN ({})",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(&self.pool).await?;
            let found = rows.iter().map(build_from_row).collect::<Result<_, _>>()?;
            builds.extend(self.with_tasks(found).await?);
        }
        Ok(builds)
    }

    /// Per package and chroot of a project: that chroot of the package's
    /// newest build in it (Copr's monitor). Skips from one (package,
    /// chroot) pair to the next in `build_chroots_by_package` and takes
    /// each pair's newest chroot row from the same index, so the cost
    /// follows the pairs, not the builds; only the columns shown are read.
    /// The next pair is the next chroot of the package, else the next
    /// package's first: two seeks, where SQLite walks every build of the
    /// pair for one row-value comparison `(package, chroot) > (...)`.
    /// Ordered by package, then chroot (byte order).
    pub async fn monitor_entries(&self, project_id: i64) -> Result<Vec<MonitorEntry>, DbError> {
        let rows = sqlx::query(
            "WITH RECURSIVE pairs (package_name, chroot) AS (
                 SELECT package_name, chroot FROM (
                     SELECT package_name, chroot FROM build_chroots
                     WHERE project_id = $1 AND package_name IS NOT NULL
                     ORDER BY package_name, chroot LIMIT 1) first_pair
                 UNION ALL
                 SELECT n.package_name, n.chroot FROM pairs
                 JOIN build_chroots n ON n.id = COALESCE(
                     (SELECT x.id FROM build_chroots x
                      WHERE x.project_id = $1 AND x.package_name = pairs.package_name
                          AND x.chroot > pairs.chroot
                      ORDER BY x.chroot LIMIT 1),
                     (SELECT x.id FROM build_chroots x
                      WHERE x.project_id = $1 AND x.package_name > pairs.package_name
                      ORDER BY x.package_name, x.chroot LIMIT 1)))
             SELECT pairs.package_name, pairs.chroot, c.build_id, c.state, c.result_dir,
                 b.package_version
             FROM pairs
             JOIN build_chroots c ON c.id = (
                 SELECT m.id FROM build_chroots m
                 WHERE m.project_id = $1 AND m.package_name = pairs.package_name
                     AND m.chroot = pairs.chroot
                 ORDER BY m.build_id DESC LIMIT 1)
             JOIN builds b ON b.id = c.build_id
             WHERE pairs.chroot <> $2",
        )
        .bind(project_id)
        .bind(ChrootName::SOURCE_BUILDS)
        .fetch_all(&self.pool)
        .await?;
        let mut entries: Vec<MonitorEntry> = rows
            .iter()
            .map(|row| {
                Ok(MonitorEntry {
                    package: row.try_get("package_name")?,
                    chroot: parse_column(&row.try_get::<String, _>("chroot")?, "chroot")?,
                    build_id: BuildId(row.try_get("build_id")?),
                    package_version: row.try_get("package_version")?,
                    state: parse_column(&row.try_get::<String, _>("state")?, "state")?,
                    result_dir: row.try_get("result_dir")?,
                })
            })
            .collect::<Result<_, DbError>>()?;
        // Byte order, whatever the database's collation.
        entries.sort_by(|a, b| {
            (a.package.as_str(), a.chroot.as_str()).cmp(&(b.package.as_str(), b.chroot.as_str()))
        });
        Ok(entries)
    }

    /// Deletes a build and its chroots.
    pub async fn delete_build(&self, id: BuildId) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        if self.kind == crate::DbKind::Postgres {
            // A chroot that changes state takes its row, then (by trigger)
            // its build's; deleting takes the build's, then (by cascade)
            // its chroots'. Taking the chroots first keeps one order, so
            // the two never wait on each other in a circle.
            sqlx::query("SELECT id FROM build_chroots WHERE build_id = $1 ORDER BY id FOR UPDATE")
                .bind(id.0)
                .fetch_all(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM builds WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a build's cancel flag and cancels its chroots that no builder
    /// holds yet; returns false when the build had already ended.
    pub async fn cancel_build(&self, id: BuildId, now: i64) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE builds SET canceled = 1 WHERE id = $1 AND canceled = 0")
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE build_chroots SET state = $1, ended_on = $2
             WHERE build_id = $3 AND state IN ($4, $5)",
        )
        .bind(BuildState::Canceled.as_str())
        .bind(now)
        .bind(id.0)
        .bind(BuildState::Pending.as_str())
        .bind(BuildState::Waiting.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated > 0)
    }
}

impl Database {
    /// Records the source RPM a build's source task made and lets its
    /// chroots' tasks start; false when the build already had one (a
    /// repeated publish).
    pub async fn source_made(&self, id: BuildId, srpm: &MadeSource<'_>) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE builds SET srpm_path = $1, srpm_sha256 = $2, srpm_bytes = $3,
                 package_name = $4, package_version = $5
             WHERE id = $6 AND srpm_path IS NULL",
        )
        .bind(srpm.path)
        .bind(srpm.sha256)
        .bind(srpm.bytes)
        .bind(srpm.package_name.as_str())
        .bind(srpm.package_version)
        .bind(id.0)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated > 0 {
            // Noarch packages build once per release: the other chroots
            // of the release take what the one named builds.
            for (copy, source) in srpm.built_in {
                sqlx::query(
                    "UPDATE build_chroots SET built_in = (
                         SELECT s.id FROM build_chroots s
                         WHERE s.build_id = $1 AND s.chroot = $2 AND s.built_in IS NULL)
                     WHERE build_id = $1 AND chroot = $3 AND state = $4 AND built_in IS NULL",
                )
                .bind(id.0)
                .bind(source.as_str())
                .bind(copy.as_str())
                .bind(BuildState::Waiting.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        // Copies of another chroot's packages (built_in) keep waiting for it.
        sqlx::query(
            "UPDATE build_chroots SET state = $1
             WHERE build_id = $2 AND state = $3 AND built_in IS NULL",
        )
        .bind(BuildState::Pending.as_str())
        .bind(id.0)
        .bind(BuildState::Waiting.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated > 0)
    }

    /// Ends the tasks of a build still waiting for its source (the source
    /// task failed or was canceled).
    pub async fn end_waiting_tasks(
        &self,
        id: BuildId,
        state: BuildState,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE build_chroots SET state = $1, fail_reason = $2, ended_on = $3
             WHERE build_id = $4 AND state = $5",
        )
        .bind(state.as_str())
        .bind(reason)
        .bind(now)
        .bind(id.0)
        .bind(BuildState::Waiting.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// The source RPM a source task made, as accepted.
#[derive(Debug, Clone, Copy)]
pub struct MadeSource<'a> {
    /// Relative to the data directory.
    pub path: &'a str,
    /// Its SHA-256 as signed.
    pub sha256: &'a str,
    /// Its size.
    pub bytes: i64,
    /// The package it builds.
    pub package_name: &'a PackageName,
    /// `[epoch:]version-release`.
    pub package_version: &'a str,
    /// Chroots that take the packages another chroot of the build builds
    /// (a noarch package: `(copy, source)`, see `NewBuild::built_in`).
    pub built_in: &'a [(ChrootName, ChrootName)],
}
