//! Logs a builder sends after it reported a build successful: rpmlint's
//! findings, which no longer hold up the build's publish
//! (`docs/builder-api.md`, "Late logs"). They join the published build's
//! result directory, and the directories of the chroots that copied it
//! (noarch), once its publish is done.

use std::path::Path;
use std::time::Duration;

use axum::body::Bytes;
use futures::Stream;
use koper_api::builder::LATE_LOGS;

use crate::app::App;
use crate::builds::get_build;
use crate::error::{Error, Result};
use crate::{quota, spool};

/// How long a late log waits for its build's publish to end.
const PUBLISH_WAIT: Duration = Duration::from_secs(120);
/// How often the publish is looked at meanwhile.
const PUBLISH_POLL: Duration = Duration::from_millis(50);

/// Receives late log `name` of a task under the lease that reported it
/// successful, checks it against its SHA-256 and places it, gzipped, with
/// the published build; once only.
pub async fn receive<S, E>(
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
    if !LATE_LOGS.contains(&name) {
        tracing::warn!(task.id = task_id, file = name, "refused a late log name");
        return Err(Error::bad_request(format!(
            "{name:?} cannot be sent after the outcome; only {} can",
            LATE_LOGS.join(", ")
        )));
    }
    let task = app
        .db()
        .task_by_id(task_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("task {task_id} does not exist")))?;
    // The lease ends with the publish, which may be done before rpmlint
    // is: the lease that reported the outcome is what is checked.
    if task.reported_lease_id.as_deref() != Some(lease_id)
        || task.outcome.as_deref() != Some("succeeded")
    {
        tracing::warn!(
            task.id = task_id,
            "refused a late log not under the lease that reported success"
        );
        return Err(Error::Conflict(format!(
            "task {task_id} was not reported successful under this lease"
        )));
    }
    let part = app
        .data()
        .spool_dir()
        .join(format!("late-{task_id}-{lease_id}-{name}.part"));
    let spooled = spool::receive(body, &part, app.config().max_log_bytes, announced_len).await?;
    let placed = place(app, task_id, name, sha256, &spooled).await;
    let _ = tokio::fs::remove_file(&part).await;
    placed
}

async fn place(
    app: &App,
    task_id: i64,
    name: &str,
    sha256: &str,
    spooled: &spool::Spooled,
) -> Result<()> {
    if !spooled.sha256.eq_ignore_ascii_case(sha256) {
        tracing::warn!(
            task.id = task_id,
            file = name,
            "late log with a wrong checksum"
        );
        return Err(Error::bad_request(format!(
            "checksum mismatch for {name}: the upload was damaged"
        )));
    }
    // The build's result directory is complete once its publish ended;
    // the log joins it then, so that the publish's accounting and the
    // noarch copies see one state or the other.
    let deadline = tokio::time::Instant::now() + PUBLISH_WAIT;
    let task = loop {
        let task = app
            .db()
            .task_by_id(task_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("task {task_id} does not exist")))?;
        if task.ended_on.is_some() {
            break task;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::internal(format!(
                "task {task_id} is still being published; send {name} again later"
            )));
        }
        tokio::time::sleep(PUBLISH_POLL).await;
    };
    let build = get_build(app, task.build_id).await?;
    let results = app.data().results();
    let dir_of = |chroot: &koper_types::ChrootName, result_dir: &str| {
        results
            .repo_dir(&build.owner, &build.project, chroot)
            .join(result_dir)
    };
    let Some(result_dir) = task.result_dir.clone() else {
        return Err(Error::Conflict(format!("task {task_id} has no results")));
    };
    let build_dir = dir_of(&task.chroot, &result_dir);
    let gz_name = format!("{name}.gz");
    let target = build_dir.join(&gz_name);
    if !build_dir.is_dir() {
        return Err(Error::Conflict(format!(
            "the results of task {task_id} were deleted"
        )));
    }
    if tokio::fs::try_exists(&target).await? {
        return Err(Error::Conflict(format!(
            "{name} of task {task_id} was sent already"
        )));
    }
    let from = spooled.path.clone();
    let into = target.clone();
    let written =
        tokio::task::spawn_blocking(move || koper_storage::gzip_atomically(&from, &into)).await?;
    if let Err(e) = written {
        // Pruned or deleted while the log was being written.
        if !build_dir.is_dir() {
            return Err(Error::Conflict(format!(
                "the results of task {task_id} were deleted"
            )));
        }
        return Err(e.into());
    }
    record_bytes(app, task_id, &build_dir).await?;

    for copy in app.db().tasks_of_build(build.id).await? {
        let (Some(source), Some(copy_dir)) = (copy.built_in, &copy.result_dir) else {
            continue;
        };
        if source != task_id {
            continue;
        }
        let copy_dir = dir_of(&copy.chroot, copy_dir);
        let copied = target.clone();
        let linked = {
            let copy_dir = copy_dir.clone();
            let gz_name = gz_name.clone();
            tokio::task::spawn_blocking(move || link_into(&copied, &copy_dir, &gz_name)).await?
        };
        match linked {
            Ok(true) => record_bytes(app, copy.id, &copy_dir).await?,
            Ok(false) => {}
            Err(e) => tracing::warn!(task.id = copy.id, error = %e,
                "cannot add a late log to a noarch copy"),
        }
    }
    tracing::info!(
        task.id = task_id,
        file = name,
        "late log placed with the build"
    );
    Ok(())
}

/// Hard-links (or copies) `file` into `dir` as `name` unless the
/// directory is gone or has it already; whether it was added.
fn link_into(file: &Path, dir: &Path, name: &str) -> std::io::Result<bool> {
    let target = dir.join(name);
    if !dir.is_dir() || target.exists() {
        return Ok(false);
    }
    if std::fs::hard_link(file, &target).is_err() {
        let temp = dir.join(format!(".{name}.tmp"));
        std::fs::copy(file, &temp)?;
        std::fs::rename(&temp, &target)?;
    }
    Ok(true)
}

async fn record_bytes(app: &App, task_id: i64, dir: &Path) -> Result<()> {
    let dir = dir.to_owned();
    let bytes = tokio::task::spawn_blocking(move || quota::result_dir_bytes(&dir)).await??;
    app.db().set_result_bytes(task_id, bytes).await?;
    Ok(())
}
