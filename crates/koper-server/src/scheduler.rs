//! The scheduler side of the builder protocol: leasing tasks to builders,
//! renewing leases, receiving logs and result files, and taking back tasks
//! whose builder went silent. See `docs/builder-api.md`.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Bytes;
use futures::Stream;
use koper_api::builder::{FinishRequest, LeaseRequest, LeaseStatus, Outcome, Task};
use koper_db::{Builder, LeaseFilter, TaskRow};
use koper_types::{BuildState, ChrootName, now_epoch};
use tokio::io::AsyncWriteExt;

use crate::app::App;
use crate::builds::get_build;
use crate::error::{Error, Result};
use crate::publisher::{self, LIVE_LOG};
use crate::{buildroot, provenance, source_tasks, spool};

/// How often lapsed leases are looked for.
const EXPIRY_SWEEP: Duration = Duration::from_secs(5);

fn new_lease_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    Ok(hex::encode(bytes))
}

fn lease_seconds(app: &App) -> u64 {
    app.config().lease_duration.as_secs()
}

/// Leases the next task for one of `arches`, waiting up to `wait` for one
/// to appear (a long poll, so builds start the moment they are submitted).
pub async fn lease(app: &App, builder: &Builder, request: &LeaseRequest) -> Result<Option<Task>> {
    let wait = Duration::from_secs(request.wait_seconds);
    let arches = &request.arches;
    let slots = i64::from(request.slots.max(1));
    // Builders ask again and again with the same capabilities; a write
    // each time would queue every lease behind the others on SQLite.
    if builder.arches != *arches || builder.tags != request.tags || builder.slots != slots {
        app.db()
            .record_builder_capabilities(builder.id, arches, &request.tags, slots)
            .await?;
    }
    let deadline = tokio::time::Instant::now() + wait.min(Duration::from_secs(60));
    loop {
        // Register interest before looking, so a build submitted between
        // the look and the wait still wakes this request.
        let notified = app.work_available().notified();
        if let Some(task) = try_lease(app, builder, request).await? {
            return Ok(Some(task));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(None);
        }
    }
}

async fn try_lease(app: &App, builder: &Builder, request: &LeaseRequest) -> Result<Option<Task>> {
    let lease_id = new_lease_id()?;
    let now = now_epoch();
    let expires = now + lease_seconds(app) as i64;
    // Chroots needing a capability this builder lacks are not offered, nor
    // source tasks to builders older than protocol 3, nor those of spec
    // URLs to builders older than protocol 4.
    let mut excluded: Vec<String> = app
        .chroots()
        .iter()
        .filter(|def| !def.served_by(&request.tags))
        .map(|def| def.name.to_string())
        .collect();
    if !request.source_builds {
        excluded.push(ChrootName::SOURCE_BUILDS.to_owned());
    }
    let filter = LeaseFilter {
        arches: &request.arches,
        excluded_chroots: &excluded,
        spec_builds: request.spec_builds,
        now,
    };
    let Some(task) = app
        .db()
        .lease_next_task(
            builder.id,
            &filter,
            &lease_id,
            expires,
            app.config().max_running_per_owner,
        )
        .await?
    else {
        return Ok(None);
    };
    match prepare_task(app, &task, &lease_id).await {
        Ok(task) => {
            app.build_changed().notify_waiters();
            tracing::info!(build.id = %task.build_id, task.id = task.task_id,
                builder = %builder.name, chroot = %task.chroot.name, "task leased");
            Ok(Some(task))
        }
        Err(e) => {
            // A task that cannot even be described would be leased again
            // and again; end it with the reason instead.
            tracing::error!(task.id = task.id, error = %e, "cannot prepare leased task");
            app.db()
                .end_task(
                    task.id,
                    BuildState::Failed,
                    Some(&e.to_string()),
                    now_epoch(),
                )
                .await?;
            crate::noarch::publish_copies(app, task.id).await?;
            Ok(None)
        }
    }
}

/// Creates the task's result directory with an empty live log and
/// describes the task for the builder.
async fn prepare_task(app: &App, task: &TaskRow, lease_id: &str) -> Result<Task> {
    let build = get_build(app, task.build_id).await?;
    if task.chroot.is_source_builds() {
        return source_tasks::prepare(app, &build, task, lease_id, lease_seconds(app)).await;
    }
    let mut chroot =
        app.chroots().get(&task.chroot).cloned().ok_or_else(|| {
            Error::internal(format!("chroot {} is no longer defined", task.chroot))
        })?;
    chroot.refresh = app.db().chroot_refresh(&task.chroot).await?;
    let package = build
        .package_name
        .clone()
        .ok_or_else(|| Error::internal("leased a build without a package"))?;
    let result_dir = build.id.result_dir_name(&package);
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&build.owner, &build.project, &task.chroot);
    let build_dir = repo_dir.join(&result_dir);
    tokio::fs::create_dir_all(&build_dir).await?;
    // A retried task starts a fresh live log.
    tokio::fs::write(build_dir.join(LIVE_LOG), b"").await?;
    app.db().set_result_dir(task.id, &result_dir).await?;

    let project = crate::projects::find_project(app, &build.owner, &build.project).await?;
    let repos = buildroot::build_repos(app, &project, &chroot).await?;
    let extra_packages = buildroot::extra_packages(app, &project, &task.chroot).await?;
    Ok(Task {
        task_id: task.id,
        lease_id: lease_id.to_owned(),
        lease_seconds: lease_seconds(app),
        build_id: build.id,
        srpm_path: format!("/builder-api/v1/tasks/{}/srpm", task.id),
        srpm_sha256: build.srpm_sha256.clone().unwrap_or_default(),
        chroot,
        repos,
        extra_packages,
        macros: provenance::macros(app, &project),
        timeout_seconds: u64::try_from(build.timeout).unwrap_or(0),
        max_log_bytes: app.config().max_log_bytes,
        enable_net: project.buildroot.enable_net,
        source: None,
        late_logs: true,
    })
}

/// The task, if `lease_id` is its current lease; 409 otherwise, which tells
/// a builder to stop working on it.
async fn held_task(app: &App, task_id: i64, lease_id: &str) -> Result<TaskRow> {
    let task = app.db().task_by_id(task_id).await?.ok_or_else(|| {
        tracing::warn!(
            task.id = task_id,
            "refused a call about a task that does not exist"
        );
        Error::NotFound(format!("task {task_id} does not exist"))
    })?;
    if task.lease_id.as_deref() != Some(lease_id) || task.outcome.is_some() {
        // A builder that lost its lease, or one guessing at others' tasks.
        tracing::warn!(
            task.id = task_id,
            "refused a call about a task under a lease that is not its current one"
        );
        return Err(Error::Conflict(format!(
            "the lease on task {task_id} is no longer held by this builder"
        )));
    }
    Ok(task)
}

/// Renews a lease; tells the builder whether the user canceled.
pub async fn heartbeat(app: &App, task_id: i64, lease_id: &str) -> Result<LeaseStatus> {
    held_task(app, task_id, lease_id).await?;
    let expires = now_epoch() + lease_seconds(app) as i64;
    if !app.db().renew_lease(task_id, lease_id, expires).await? {
        return Err(Error::Conflict(format!(
            "the lease on task {task_id} is no longer held by this builder"
        )));
    }
    let task = held_task(app, task_id, lease_id).await?;
    let build = get_build(app, task.build_id).await?;
    Ok(LeaseStatus {
        cancel: build.canceled,
        lease_seconds: lease_seconds(app),
    })
}

/// Appends a chunk to the live log (and renews the lease). A log beyond
/// the limit is cut: the builder stops the build, but a hostile one must
/// not fill the disk either.
pub async fn append_log(
    app: &App,
    task_id: i64,
    lease_id: &str,
    chunk: Bytes,
) -> Result<LeaseStatus> {
    let task = held_task(app, task_id, lease_id).await?;
    let status = heartbeat(app, task_id, lease_id).await?;
    let path = live_log_path(app, &task).await?;
    let size = tokio::fs::metadata(&path)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let room = app.config().max_log_bytes.saturating_sub(size);
    let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
    if take > 0 {
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await?;
        file.write_all(&chunk[..take]).await?;
    }
    Ok(status)
}

async fn live_log_path(app: &App, task: &TaskRow) -> Result<PathBuf> {
    let build = get_build(app, task.build_id).await?;
    let result_dir = task
        .result_dir
        .as_ref()
        .ok_or_else(|| Error::internal("task without a result dir"))?;
    Ok(app
        .data()
        .results()
        .repo_dir(&build.owner, &build.project, &task.chroot)
        .join(result_dir)
        .join(LIVE_LOG))
}

/// Whether a builder may upload a file of this name: a plain name ending in
/// `.rpm` or `.log`, nothing that could be a path.
fn valid_result_name(name: &str) -> bool {
    name.len() <= 255
        && (name.ends_with(".rpm") || name.ends_with(".log"))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~' | '^'))
}

/// Receives one result file into the task's staging directory and checks
/// it against the SHA-256 the builder announced.
pub async fn receive_file<S, E>(
    app: &App,
    task_id: i64,
    lease_id: &str,
    name: &str,
    sha256: &str,
    body: S,
    announced_len: Option<u64>,
) -> Result<()>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    held_task(app, task_id, lease_id).await?;
    if !valid_result_name(name) {
        tracing::warn!(task.id = task_id, file = name, "refused a result file name");
        return Err(Error::bad_request(format!(
            "refusing result file {name:?}: only plain *.rpm and *.log names are accepted"
        )));
    }
    let dir = publisher::staging_dir(app, task_id, lease_id);
    tokio::fs::create_dir_all(&dir).await?;
    let part = dir.join(format!(".{name}.part"));
    let _ = tokio::fs::remove_file(&part).await;
    let spooled = spool::receive(body, &part, app.config().max_upload_bytes, announced_len).await?;
    if !spooled.sha256.eq_ignore_ascii_case(sha256) {
        let _ = tokio::fs::remove_file(&part).await;
        tracing::warn!(
            task.id = task_id,
            file = name,
            "result upload with a wrong checksum"
        );
        return Err(Error::bad_request(format!(
            "checksum mismatch for {name}: the upload was damaged"
        )));
    }
    tokio::fs::rename(&part, dir.join(name)).await?;
    Ok(())
}

/// The builder's last word on a task: stores the outcome, then publishes.
pub async fn finish(app: &App, task_id: i64, request: &FinishRequest) -> Result<()> {
    let outcome = match request.outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::Canceled => "canceled",
    };
    if let Some(task) = app.db().task_by_id(task_id).await?
        && task.lease_id.as_deref() == Some(request.lease_id.as_str())
        && task.outcome.as_deref() == Some(outcome)
    {
        // The same report again: the builder lost the answer to the first
        // (the server may have been restarted meanwhile). Its publish is
        // under way or is repaired at start.
        return Ok(());
    }
    held_task(app, task_id, &request.lease_id).await?;
    let reason = request.reason.as_deref().map(|r| truncate(r, 2000));
    if !app
        .db()
        .record_outcome(
            task_id,
            &request.lease_id,
            outcome,
            reason.as_deref(),
            now_epoch(),
        )
        .await?
    {
        return Err(Error::Conflict(format!(
            "the lease on task {task_id} is no longer held by this builder"
        )));
    }
    // Published in a task of its own, while the builder goes on to its
    // next build: a builder that hangs up cannot cut a publish short, and
    // one that is interrupted is finished at the next start
    // (`publisher::repair`), as the outcome is stored.
    let publishing = app.clone();
    tokio::spawn(async move {
        if let Err(e) = publisher::publish_task(&publishing, task_id).await {
            tracing::error!(task.id = task_id, error = %e,
                "cannot publish a reported task; it is published at the next start");
        }
    });
    Ok(())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Takes back tasks whose builder stopped renewing its lease, forever.
pub async fn run_expiry_loop(app: App) {
    let mut tick = tokio::time::interval(EXPIRY_SWEEP);
    loop {
        tick.tick().await;
        if let Err(e) = take_back_lapsed_leases(&app).await {
            tracing::error!(error = %e, "cannot sweep expired leases");
        }
    }
}

/// How long a task waits before its next lease after `attempts` lapsed
/// ones: the configured backoff, doubled per further lapse, at most 16
/// times it.
pub fn retry_backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from((attempts - 1).clamp(0, 4)).unwrap_or(4);
    base * 2u32.pow(doublings)
}

/// One sweep: a lapsed task goes back to the queue after a backoff, fails
/// once it has used up its attempts, and ends canceled if its build was
/// canceled meanwhile. The lapsed lease is dead either way, so its
/// builder can no longer upload or report anything.
async fn take_back_lapsed_leases(app: &App) -> Result<()> {
    let now = now_epoch();
    let mut requeued = Vec::new();
    for lapsed in app.db().expired_leases(now).await? {
        app.metrics().lease_lapsed();
        let task = app.db().task_by_id(lapsed.task_id).await?;
        let canceled = match &task {
            Some(task) => get_build(app, task.build_id).await?.canceled,
            None => continue,
        };
        let max = i64::from(app.config().max_attempts);
        let ending = if canceled {
            Some(("canceled", None))
        } else if lapsed.attempts >= max {
            Some((
                "failed",
                Some(format!(
                    "its builder stopped answering {} time(s) (the lease lapsed);                      given up after {max} attempt(s)",
                    lapsed.attempts
                )),
            ))
        } else {
            None
        };
        if let Some((outcome, reason)) = ending {
            if app
                .db()
                .record_outcome(
                    lapsed.task_id,
                    &lapsed.lease_id,
                    outcome,
                    reason.as_deref(),
                    now,
                )
                .await?
            {
                tracing::warn!(
                    task.id = lapsed.task_id,
                    outcome,
                    "lease lapsed; task ended"
                );
                publisher::publish_task(app, lapsed.task_id).await?;
            }
            continue;
        }
        let wait = retry_backoff(app.config().retry_backoff, lapsed.attempts);
        if app
            .db()
            .requeue_task(&lapsed, now, now + wait.as_secs() as i64)
            .await?
        {
            requeued.push(lapsed.task_id);
            let app = app.clone();
            // Wake waiting builders when the backoff is over.
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                app.work_available().notify_waiters();
            });
        }
    }
    if !requeued.is_empty() {
        tracing::warn!(tasks = ?requeued, "leases expired; tasks queued again after a backoff");
    }
    Ok(())
}

/// The source RPM of a leased task, for the builder to download.
pub async fn srpm_path(app: &App, task_id: i64, lease_id: &str) -> Result<PathBuf> {
    let task = held_task(app, task_id, lease_id).await?;
    let build = get_build(app, task.build_id).await?;
    let relative = build
        .srpm_path
        .ok_or_else(|| Error::NotFound("the build has no source RPM".into()))?;
    Ok(app.data().root().join(relative))
}

#[cfg(test)]
mod tests {
    use super::{retry_backoff, valid_result_name};
    use std::time::Duration;

    #[test]
    fn backoff_doubles_per_lapse_up_to_sixteen_times() {
        let base = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=7)
            .map(|attempts| retry_backoff(base, attempts).as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 480, 480]);
    }

    #[test]
    fn result_names_cannot_be_paths() {
        assert!(valid_result_name("hello-1.0-1.noarch.rpm"));
        assert!(valid_result_name("build.log"));
        assert!(valid_result_name("c++-1.0~rc1^git-1.x86_64.rpm"));
        for bad in [
            "../x.rpm",
            "a/b.rpm",
            ".hidden.rpm",
            "x.sh",
            "",
            "x\0.rpm",
            "a b.rpm",
        ] {
            assert!(!valid_result_name(bad), "{bad:?}");
        }
    }
}
