//! Source tasks: a builder makes a build's source RPM from its git
//! repository or from the spec file the server fetched, in its sandbox, as a task of the pseudo chroot
//! `srpm-builds` (Copr's name and results layout). The server describes
//! the task; when the builder reports, it checks the source RPM it made
//! exactly like an upload and lets the build's chroots start, or ends them
//! with the reason. The server never runs anything of the repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use koper_api::builder::{SourceTask, Task};
use koper_db::{BuildRow, MadeSource, ProjectRow, TaskRow};
use koper_types::{BuildState, ChrootName, ScmSource, SpecSource, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::publisher::{self, LIVE_LOG};
use crate::{builds, keys, noarch, quota, spool};

/// The result directory of a build's source task: the build number, as
/// Copr names `srpm-builds/<NNNNNNNN>/`.
fn result_dir_name(build: &BuildRow) -> String {
    format!("{:08}", build.id.0)
}

fn result_dir(app: &App, build: &BuildRow, task: &TaskRow) -> PathBuf {
    app.data()
        .results()
        .repo_dir(&build.owner, &build.project, &task.chroot)
        .join(result_dir_name(build))
}

/// Creates the source task's result directory with an empty live log and
/// describes the task for the builder.
pub async fn prepare(
    app: &App,
    build: &BuildRow,
    task: &TaskRow,
    lease_id: &str,
    lease_seconds: u64,
) -> Result<Task> {
    let json = build
        .source_json
        .as_deref()
        .ok_or_else(|| Error::internal("a source task of a build without a source"))?;
    // Builds from git are `scm`; builds from a spec at a URL are `link`.
    let (scm, spec) = if build.source_type == "link" {
        let spec: SpecSource = serde_json::from_str(json).map_err(Error::internal)?;
        (None, Some(spec))
    } else {
        let scm: ScmSource = serde_json::from_str(json).map_err(Error::internal)?;
        (Some(scm), None)
    };
    // The builder checks its arch against a chroot's; the root is not used.
    let chroot = build
        .chroots
        .iter()
        .filter(|c| c.arch == task.arch)
        .find_map(|c| app.chroots().get(&c.chroot).cloned())
        .ok_or_else(|| Error::internal("the build has no defined chroot left"))?;
    let dir = result_dir(app, build, task);
    tokio::fs::create_dir_all(&dir).await?;
    tokio::fs::write(dir.join(LIVE_LOG), b"").await?;
    app.db()
        .set_result_dir(task.id, &result_dir_name(build))
        .await?;
    let project = crate::projects::find_project(app, &build.owner, &build.project).await?;
    Ok(Task {
        task_id: task.id,
        lease_id: lease_id.to_owned(),
        lease_seconds,
        build_id: build.id,
        srpm_path: String::new(),
        srpm_sha256: String::new(),
        chroot,
        repos: Vec::new(),
        extra_packages: Vec::new(),
        macros: BTreeMap::new(),
        timeout_seconds: u64::try_from(build.timeout).unwrap_or(0),
        max_log_bytes: app.config().max_log_bytes,
        enable_net: project.buildroot.enable_net,
        source: Some(SourceTask {
            scm,
            spec,
            max_checkout_bytes: app.config().max_checkout_bytes,
        }),
        late_logs: false,
    })
}

/// Publishes a source task whose outcome the builder reported: keeps its
/// logs, accepts the source RPM it made and lets the chroots start; or
/// ends the waiting chroots saying why the source failed. Idempotent (a
/// publish interrupted by a crash is run again at start).
pub async fn publish(
    app: &App,
    project: &ProjectRow,
    build: &BuildRow,
    task: &TaskRow,
    outcome: &str,
    lease_id: &str,
) -> Result<()> {
    let staging = publisher::staging_dir(app, task.id, lease_id);
    let dir = result_dir(app, build, task);
    tokio::fs::create_dir_all(&dir).await?;
    {
        let (staging, dir) = (staging.clone(), dir.clone());
        tokio::task::spawn_blocking(move || keep_logs(&staging, &dir)).await??;
    }
    let (state, reason) = match outcome {
        "succeeded" => match accept(app, project, build, &staging).await? {
            Ok(()) => (BuildState::Succeeded, None),
            Err(reason) => (BuildState::Failed, Some(reason)),
        },
        "canceled" => (BuildState::Canceled, None),
        _ => (BuildState::Failed, None),
    };
    publisher::finish_live_log(&dir).await?;
    let bytes = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || quota::result_dir_bytes(&dir)).await??
    };
    let db = app.db();
    db.set_result_bytes(task.id, bytes).await?;
    let now = now_epoch();
    db.end_task(task.id, state, reason.as_deref(), now).await?;
    if state == BuildState::Succeeded {
        app.work_available().notify_waiters();
    } else {
        let why = reason
            .clone()
            .or_else(|| task.fail_reason.clone())
            .unwrap_or_else(|| state.to_string());
        let chroot_state = if state == BuildState::Canceled {
            BuildState::Canceled
        } else {
            BuildState::Failed
        };
        let note = format!("the source build failed: {why}");
        db.end_waiting_tasks(
            build.id,
            chroot_state,
            (chroot_state == BuildState::Failed).then_some(note.as_str()),
            now,
        )
        .await?;
    }
    let _ = tokio::fs::remove_dir_all(app.data().staging_dir().join(task.id.to_string())).await;
    tracing::info!(build.id = %build.id, %state, reason = reason.as_deref().unwrap_or(""),
        project = %format!("{}/{}", build.owner, build.project), "source build ended");
    Ok(())
}

/// The logs the builder uploaded, gzipped into the result directory.
fn keep_logs(staging: &Path, dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(staging) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".log") && path.is_file() {
            koper_storage::gzip_atomically(&path, &dir.join(format!("{name}.gz")))?;
        }
    }
    Ok(())
}

/// Checks, signs and stores the source RPM the builder made, and records
/// it with the build; the inner `Err` says why it was refused.
async fn accept(
    app: &App,
    project: &ProjectRow,
    build: &BuildRow,
    staging: &Path,
) -> Result<std::result::Result<(), String>> {
    if build.srpm_path.is_some() {
        // Accepted by an earlier, interrupted publish.
        return Ok(Ok(()));
    }
    let made = {
        let staging = staging.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<PathBuf>> {
            let mut found = Vec::new();
            if let Ok(entries) = std::fs::read_dir(&staging) {
                for entry in entries {
                    let path = entry?.path();
                    if path.to_string_lossy().ends_with(".src.rpm") && path.is_file() {
                        found.push(path);
                    }
                }
            }
            Ok(found)
        })
        .await??
    };
    let [made] = made.as_slice() else {
        return Ok(Err(format!(
            "the builder uploaded {} source RPMs; one was expected",
            made.len()
        )));
    };
    let size = tokio::fs::metadata(made).await?.len();
    match quota::check_room(app, project, size).await {
        Ok(()) => {}
        Err(Error::QuotaExceeded { message, hint }) => {
            return Ok(Err(format!("{message}\nhint: {hint}")));
        }
        Err(e) => return Err(e),
    }
    let path = spool::new_path(app);
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::rename(made, &path).await?;
    let sha256 = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || spool::sha256_file(&path)).await??
    };
    let spooled = spool::Spooled {
        path: path.clone(),
        sha256,
        name: made
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let key = keys::project_key(app, project).await?;
    let (relative, srpm, sha256) = match builds::accept_srpm(app, &spooled, &key).await {
        Ok(accepted) => accepted,
        Err(Error::BadRequest { message, .. }) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(Err(message));
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e);
        }
    };
    let bytes = tokio::fs::metadata(app.data().root().join(&relative))
        .await?
        .len();
    // Noarch packages build once per release, as for uploads; until now
    // every chroot waited, not knowing.
    let built_in = if srpm.noarch_only {
        let waiting: Vec<(ChrootName, String)> = build
            .chroots
            .iter()
            .filter(|c| c.state == BuildState::Waiting)
            .map(|c| (c.chroot.clone(), c.arch.clone()))
            .collect();
        noarch::plan(app, &waiting).await?
    } else {
        Vec::new()
    };
    app.db()
        .source_made(
            build.id,
            &MadeSource {
                path: &relative,
                sha256: &sha256,
                bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                package_name: &srpm.name,
                package_version: &srpm.evr(),
                built_in: &built_in,
            },
        )
        .await?;
    tracing::info!(build.id = %build.id, package = %srpm.nvr(), "source RPM made");
    Ok(Ok(()))
}
