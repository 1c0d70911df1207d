//! The publisher: turns what a builder reported into published results.
//! It moves the checked packages and logs of a finished task from staging
//! into the results tree, adds them to the chroot repo's metadata and ends
//! the task.
//!
//! Every step is idempotent and the task's reported outcome is stored
//! before the first one, so a publish interrupted by a crash is simply done
//! again at the next start ([`repair`]). A repo is marked dirty in the
//! database while its metadata may lag behind its builds; dirty repos are
//! regenerated at start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use koper_api::builder::Outcome;
use koper_db::{BuildRow, ProjectRow, TaskRow};
use koper_repodata::{RepoChanges, RepoPackage, RepodataOptions, RepomdSigner};
use koper_sign::SigningKey;
use koper_types::{BuildState, ChrootName, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{keys, noarch, quota, release, retention, source_tasks};

/// One writer per repository directory, so that two tasks of one repo
/// never publish at the same time in this process (the repodata crate
/// also locks across processes).
#[derive(Default)]
pub struct RepoLocks {
    locks: Mutex<HashMap<PathBuf, Arc<RepoWriter>>>,
}

impl RepoLocks {
    fn for_repo(&self, repo_dir: &Path) -> Arc<RepoWriter> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(repo_dir.to_owned()).or_default().clone()
    }
}

/// A repo's lock, and the additions waiting for it. Whoever takes the lock
/// publishes every addition waiting by then in one go (one metadata
/// write, one signature), so builds ending together are published
/// together; a build ending alone is published at once.
#[derive(Default)]
struct RepoWriter {
    lock: tokio::sync::Mutex<()>,
    waiting: Mutex<Vec<WaitingAddition>>,
}

/// Packages to add to a repo, and whom to tell once they are published.
struct WaitingAddition {
    add: Vec<RepoPackage>,
    published: tokio::sync::oneshot::Sender<std::result::Result<(), String>>,
}

impl RepoWriter {
    fn take_waiting(&self) -> Vec<WaitingAddition> {
        std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The live log a builder streams while it runs, in the build's result
/// directory (compressed to `builder-live.log.gz` when the task ends).
pub const LIVE_LOG: &str = "builder-live.log";

/// How a chroot repo's metadata is written: in its cache, with every
/// `repomd.xml` signed by the project's key.
pub async fn repodata_options(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<RepodataOptions> {
    let key = keys::project_key(app, project).await?;
    let mut options = RepodataOptions::new(app.data().repodata_cache_dir(
        &project.owner,
        &project.name,
        chroot,
    ));
    options.signer = Some(RepomdSigner::new(move |repomd| {
        key.sign_detached(repomd)
            .map(String::into_bytes)
            .map_err(|e| e.to_string())
    }));
    Ok(options)
}

/// Where a task's builder uploads go until the task is published.
pub fn staging_dir(app: &App, task_id: i64, lease_id: &str) -> PathBuf {
    app.data()
        .staging_dir()
        .join(task_id.to_string())
        .join(lease_id)
}

/// Creates a new project's repos with empty metadata, so that dnf and
/// dependent projects can use them before the first build.
pub async fn init_repos(app: &App, project: &ProjectRow) -> Result<()> {
    for chroot in &project.chroots {
        regenerate_repo(app, project, chroot).await?;
    }
    release::refresh_all(app, project).await
}

/// Lists `package` as the chroot repo's only release package.
pub async fn replace_release_package(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    package: RepoPackage,
) -> Result<()> {
    apply_changes(
        app,
        project,
        chroot,
        RepoChanges {
            add: vec![package],
            remove: vec![format!("{}/", release::RELEASE_DIR)],
        },
    )
    .await
}

/// Applies `changes` to a chroot repo's metadata under the repo's lock,
/// with the repo marked dirty until they are published. Additions that
/// wait for the lock together are published together.
pub async fn apply_changes(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    changes: RepoChanges,
) -> Result<()> {
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot);
    let writer = app.repo_locks().for_repo(&repo_dir);
    if !changes.remove.is_empty() {
        // Removals go alone, in the order they come: additions commute,
        // a removal and an addition may not.
        let _guard = writer.lock.lock().await;
        return write_changes(app, project, chroot, &repo_dir, changes).await;
    }
    let (published, outcome) = tokio::sync::oneshot::channel();
    writer
        .waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(WaitingAddition {
            add: changes.add,
            published,
        });
    {
        let _guard = writer.lock.lock().await;
        // Empty when an earlier holder of the lock published ours too.
        let batch = writer.take_waiting();
        if !batch.is_empty() {
            if batch.len() > 1 {
                tracing::info!(repo = %repo_dir.display(), builds = batch.len(),
                    "publishing builds that ended together in one metadata update");
            }
            let mut add = Vec::new();
            let mut tell = Vec::new();
            for waiting in batch {
                add.extend(waiting.add);
                tell.push(waiting.published);
            }
            let changes = RepoChanges {
                add,
                remove: Vec::new(),
            };
            let written = write_changes(app, project, chroot, &repo_dir, changes)
                .await
                .map_err(|e| e.to_string());
            for published in tell {
                let _ = published.send(written.clone());
            }
        }
    }
    match outcome.await {
        Ok(written) => written.map_err(Error::internal),
        Err(_) => Err(Error::internal(
            "the publish of these packages was interrupted",
        )),
    }
}

/// Writes `changes` into a repo's metadata; the caller holds the repo's
/// lock in this process.
async fn write_changes(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    repo_dir: &Path,
    changes: RepoChanges,
) -> Result<()> {
    let repo_dir = repo_dir.to_owned();
    // Other server processes of the instance publish too.
    let shared = app.db().lock_repo(project.id, chroot.as_str()).await?;
    app.db().set_repo_dirty(project.id, chroot, true).await?;
    let options = repodata_options(app, project, chroot).await?;
    tokio::task::spawn_blocking(move || -> Result<()> {
        koper_repodata::publish(&repo_dir, &changes, &options).map_err(Error::internal)?;
        Ok(())
    })
    .await??;
    app.db().set_repo_dirty(project.id, chroot, false).await?;
    shared.release().await?;
    Ok(())
}

/// Rebuilds a chroot repo's metadata from its published builds (Copr's
/// "regenerate repos"; also the repair after an interrupted publish).
pub async fn regenerate_repo(app: &App, project: &ProjectRow, chroot: &ChrootName) -> Result<()> {
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot);
    let writer = app.repo_locks().for_repo(&repo_dir);
    let _guard = writer.lock.lock().await;
    let shared = app.db().lock_repo(project.id, chroot.as_str()).await?;
    app.db().set_repo_dirty(project.id, chroot, true).await?;
    let result_dirs = app.db().published_result_dirs(project.id, chroot).await?;
    let options = repodata_options(app, project, chroot).await?;
    let dir = repo_dir.clone();
    tokio::task::spawn_blocking(move || -> Result<()> {
        std::fs::create_dir_all(&dir)?;
        let mut packages = packages_in(&dir, release::RELEASE_DIR)?;
        for result_dir in &result_dirs {
            packages.extend(packages_in(&dir, result_dir)?);
        }
        koper_repodata::regenerate(&dir, &packages, &options).map_err(Error::internal)?;
        Ok(())
    })
    .await??;
    app.db().set_repo_dirty(project.id, chroot, false).await?;
    shared.release().await?;
    Ok(())
}

/// The RPMs (binary and source) in one build's result directory.
fn packages_in(repo_dir: &Path, result_dir: &str) -> std::io::Result<Vec<RepoPackage>> {
    let dir = repo_dir.join(result_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut packages = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".rpm") && !name.starts_with('.') && entry.file_type()?.is_file() {
            packages.push(RepoPackage {
                path: entry.path(),
                location: format!("{result_dir}/{name}"),
            });
        }
    }
    packages.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(packages)
}

/// Publishes every task whose outcome is stored but not yet published, and
/// regenerates repos left dirty; run at start.
pub async fn repair(app: &App) -> Result<()> {
    crate::uploads::repair(app).await?;
    for task in app.db().tasks_to_publish().await? {
        tracing::info!(task.id = task.id, "finishing a publish interrupted earlier");
        publish_task(app, task.id).await?;
    }
    for copy in app.db().copies_to_publish().await? {
        if let Some(source) = copy.built_in {
            noarch::publish_copies(app, source).await?;
        }
    }
    for (project_id, chroot) in app.db().dirty_repos().await? {
        if let Some(project) = app.db().project_by_id(project_id).await? {
            tracing::info!(project = %format!("{}/{}", project.owner, project.name), %chroot,
                "regenerating repo metadata");
            regenerate_repo(app, &project, &chroot).await?;
        }
    }
    // Projects made before keys and release packages existed get theirs.
    for project in app.db().list_projects(None).await? {
        release::refresh_all(app, &project).await?;
    }
    Ok(())
}

/// Publishes a task whose builder reported its outcome: checks and moves
/// its files into the results tree, updates the repo and ends the task.
pub async fn publish_task(app: &App, task_id: i64) -> Result<()> {
    let publish_started = std::time::Instant::now();
    let db = app.db();
    let _permit = app
        .publishes()
        .acquire()
        .await
        .map_err(|e| Error::internal(format!("no publish permit: {e}")))?;
    // Another server process may be publishing it: one that is running
    // while this one starts and finishes interrupted publishes. Its claim
    // ends with it, so a task whose publisher died is taken at the next
    // start. The task is read after the claim: whoever had it may have
    // ended it.
    let Some(claim) = db.try_claim_publish(task_id).await? else {
        tracing::info!(
            task.id = task_id,
            "another server process is publishing this task"
        );
        return Ok(());
    };
    let task = db
        .task_by_id(task_id)
        .await?
        .ok_or_else(|| Error::internal(format!("task {task_id} vanished")))?;
    let (Some(outcome), Some(lease_id)) = (task.outcome.clone(), task.lease_id.clone()) else {
        return Ok(());
    };
    let build = db
        .build_by_id(task.build_id)
        .await?
        .ok_or_else(|| Error::internal(format!("build {} vanished", task.build_id)))?;
    let project = db
        .project_by_id(build.project_id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    if task.chroot.is_source_builds() {
        return source_tasks::publish(app, &project, &build, &task, &outcome, &lease_id).await;
    }
    let mut outcome = match outcome.as_str() {
        "succeeded" => Outcome::Succeeded,
        "canceled" => Outcome::Canceled,
        _ => Outcome::Failed,
    };
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, &task.chroot);
    let Some(result_dir) = task.result_dir.clone() else {
        return Err(Error::internal(format!("task {task_id} has no result dir")));
    };
    let staging = staging_dir(app, task_id, &lease_id);
    let srpm = build.srpm_path.as_ref().map(|p| app.data().root().join(p));
    let expected = ExpectedPackages {
        arch: task.arch.clone(),
        source_name: build.package_name.as_ref().map(ToString::to_string),
    };
    let build_dir = repo_dir.join(&result_dir);

    // Packages that would take the owner over quota are not published; the
    // build fails saying why (its logs are kept).
    let mut quota_reason = None;
    if outcome == Outcome::Succeeded {
        let dir = staging.clone();
        let staged = tokio::task::spawn_blocking(move || staged_package_bytes(&dir)).await??;
        match quota::check_room(app, &project, staged).await {
            Ok(()) => {}
            Err(Error::QuotaExceeded { message, hint }) => {
                outcome = Outcome::Failed;
                quota_reason = Some(format!("{message}\nhint: {hint}"));
            }
            Err(e) => return Err(e),
        }
    }
    let key = keys::project_key(app, &project).await?;
    let files = {
        let build_dir = build_dir.clone();
        let staging = staging.clone();
        tokio::task::spawn_blocking(move || {
            place_results(
                &staging,
                &build_dir,
                srpm.as_deref(),
                &expected,
                outcome,
                &key,
            )
        })
        .await??
    };

    if let (Err(reason), Outcome::Succeeded) = (&files, outcome) {
        // A builder reporting success with packages that are not this
        // build's is broken or hostile: the operator should hear of it.
        tracing::warn!(task.id = task.id, build.id = %build.id, reason = %reason,
            "refused the packages a builder uploaded; the build chroot fails");
    }
    let (state, reason) = match (&files, outcome) {
        (Ok(_), Outcome::Succeeded) => (BuildState::Succeeded, None),
        (Err(reason), Outcome::Succeeded) => (BuildState::Failed, Some(reason.clone())),
        (_, Outcome::Canceled) => (BuildState::Canceled, None),
        (_, Outcome::Failed) => (BuildState::Failed, quota_reason),
    };
    if state == BuildState::Succeeded {
        add_to_repo(app, &project, &task, &repo_dir, &result_dir).await?;
    }
    finish_live_log(&build_dir).await?;
    let dir = build_dir.clone();
    let bytes = tokio::task::spawn_blocking(move || quota::result_dir_bytes(&dir)).await??;
    db.set_result_bytes(task.id, bytes).await?;
    let ended_on = now_epoch();
    db.end_task(task.id, state, reason.as_deref(), ended_on)
        .await?;
    claim.release().await?;
    app.metrics().task_published(
        &task.arch,
        state,
        task.started_on
            .map(|started| std::time::Duration::from_secs((ended_on - started).max(0) as u64)),
        publish_started.elapsed(),
    );
    let _ = tokio::fs::remove_dir_all(app.data().staging_dir().join(task_id.to_string())).await;
    log_end(&build, &task, state, publish_started.elapsed());
    noarch::publish_copies(app, task.id).await?;
    if state == BuildState::Succeeded
        && let Err(e) = retention::prune(app, &project, &task.chroot).await
    {
        // The build is published; pruning is tried again after the next.
        tracing::error!(error = %e, "pruning old builds failed");
    }
    // Only now, with its noarch copies published and older builds
    // pruned, is the task's work done: clients following the build
    // (koper build waits on this) must not see it end before that, and
    // tasks waiting on it (batches, per-owner limits) may start.
    app.work_available().notify_waiters();
    app.build_changed().notify_waiters();
    Ok(())
}

/// Bytes of the packages a builder uploaded for a task.
fn staged_package_bytes(staging: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(staging) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0;
    for entry in entries {
        let entry = entry?;
        if has_suffix(&entry.path(), ".rpm") {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

fn log_end(build: &BuildRow, task: &TaskRow, state: BuildState, publish: std::time::Duration) {
    tracing::info!(build.id = %build.id, chroot = %task.chroot, %state,
        project = %format!("{}/{}", build.owner, build.project),
        publish_ms = publish.as_millis() as u64, "build chroot ended");
}

/// Adds the packages of one build's result directory to a chroot repo.
pub(crate) async fn add_to_repo(
    app: &App,
    project: &ProjectRow,
    task: &TaskRow,
    repo_dir: &Path,
    result_dir: &str,
) -> Result<()> {
    let repo = repo_dir.to_owned();
    let dir = result_dir.to_owned();
    let add = tokio::task::spawn_blocking(move || packages_in(&repo, &dir)).await??;
    apply_changes(
        app,
        project,
        &task.chroot,
        RepoChanges {
            add,
            remove: Vec::new(),
        },
    )
    .await
}

/// Compresses the live log once the task has ended; the plain name then
/// redirects to the `.gz` file.
pub(crate) async fn finish_live_log(build_dir: &Path) -> Result<()> {
    let live = build_dir.join(LIVE_LOG);
    if !tokio::fs::try_exists(&live).await? {
        return Ok(());
    }
    let gz = build_dir.join(format!("{LIVE_LOG}.gz"));
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        koper_storage::gzip_atomically(&live, &gz)?;
        std::fs::remove_file(&live)
    })
    .await??;
    Ok(())
}

/// Checks the staged uploads of a task and moves them into the build's
/// result directory. Logs are kept whatever the outcome; packages only when
/// the builder reported success. The inner `Err` is why a build that the
/// builder called successful fails after all (bad or missing packages).
fn place_results(
    staging: &Path,
    build_dir: &Path,
    srpm: Option<&Path>,
    expected: &ExpectedPackages,
    outcome: Outcome,
    key: &SigningKey,
) -> std::io::Result<Result<Vec<PathBuf>, String>> {
    std::fs::create_dir_all(build_dir)?;
    let mut staged: Vec<PathBuf> = match std::fs::read_dir(staging) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    staged.sort();

    for log in staged.iter().filter(|p| has_suffix(p, ".log")) {
        let name = file_name(log);
        koper_storage::gzip_atomically(log, &build_dir.join(format!("{name}.gz")))?;
    }
    if outcome != Outcome::Succeeded {
        return Ok(Ok(Vec::new()));
    }

    let rpms: Vec<&PathBuf> = staged.iter().filter(|p| has_suffix(p, ".rpm")).collect();
    for rpm in &rpms {
        if let Err(reason) = check_built_package(rpm, expected) {
            return Ok(Err(reason));
        }
    }
    let already_placed = rpms.is_empty()
        && std::fs::read_dir(build_dir)?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().ends_with(".rpm"));
    if rpms.is_empty() && !already_placed {
        return Ok(Err("the build produced no packages".into()));
    }
    // Signed while still in staging: nothing unsigned is ever public, and
    // a package is signed in place there without copying its payload.
    for rpm in &rpms {
        key.sign_rpm(rpm).map_err(std::io::Error::other)?;
    }
    let mut placed = Vec::new();
    for rpm in rpms {
        let target = build_dir.join(file_name(rpm));
        std::fs::rename(rpm, &target)?;
        placed.push(target);
    }
    if let Some(srpm) = srpm {
        let target = build_dir.join(file_name(srpm));
        if !target.exists() {
            // A hard link costs no space; fall back to a copy across file
            // systems.
            if std::fs::hard_link(srpm, &target).is_err() {
                let temp = build_dir.join(format!(".{}.tmp", file_name(srpm)));
                std::fs::copy(srpm, &temp)?;
                std::fs::rename(&temp, &target)?;
            }
        }
        placed.push(target);
    }
    koper_storage::fsync_dir(build_dir)?;
    Ok(Ok(placed))
}

/// What the packages of one build chroot must be.
struct ExpectedPackages {
    /// The chroot's architecture (`noarch` is accepted too).
    arch: String,
    /// The source package every package must name as its origin, when
    /// the build's package is known.
    source_name: Option<String>,
}

/// The package name in a source RPM file name
/// (`name-version-release.src.rpm`). Only the name is compared: the
/// release is evaluated again in the chroot (`%{?dist}`), so it may differ
/// from the uploaded source RPM's.
fn source_package_name(source_rpm: &str) -> Option<&str> {
    let nvr = source_rpm.strip_suffix(".src.rpm")?;
    let (name_version, _release) = nvr.rsplit_once('-')?;
    let (name, _version) = name_version.rsplit_once('-')?;
    Some(name)
}

/// A package a builder uploaded must be a complete binary RPM for the
/// chroot's arch (or noarch), built from this build's source package, named as
/// rpm names it.
fn check_built_package(path: &Path, expected: &ExpectedPackages) -> Result<(), String> {
    let name = file_name(path);
    let identity = koper_rpm::inspect_package(path)
        .map_err(|e| format!("the builder uploaded an invalid package {name}: {e}"))?;
    if identity.is_source {
        return Err(format!("the builder uploaded a source package {name}"));
    }
    if identity.arch != expected.arch && identity.arch != "noarch" {
        return Err(format!(
            "the builder uploaded {name} for {}, but the chroot builds {}",
            identity.arch, expected.arch
        ));
    }
    if let Some(source_name) = &expected.source_name {
        let built_from = identity.source_rpm.as_deref().unwrap_or_default();
        if source_package_name(built_from) != Some(source_name.as_str()) {
            return Err(format!(
                "the builder uploaded {name}, built from {built_from:?}, \
                 not from this build's source package {source_name}"
            ));
        }
    }
    let expected_name = format!("{}.rpm", identity.nvra());
    if name != expected_name {
        return Err(format!(
            "the builder uploaded {name}, which holds {expected_name}"
        ));
    }
    Ok(())
}

fn has_suffix(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(suffix))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes a directory of the data directory (a build's results, a
/// project's tree) off the async runtime. A late log arriving meanwhile
/// does not stop it: see [`koper_storage::remove_tree`].
pub async fn remove_tree(dir: &Path) -> Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || koper_storage::remove_tree(&dir)).await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::source_package_name;

    #[test]
    fn the_source_package_name_is_what_precedes_version_and_release() {
        assert_eq!(
            source_package_name("hello-1.0-1.fc41.src.rpm"),
            Some("hello")
        );
        assert_eq!(
            source_package_name("python-foo-bar-2.3~rc1-0.1.src.rpm"),
            Some("python-foo-bar")
        );
        for bad in [
            "",
            "hello.src.rpm",
            "hello-1.0.src.rpm",
            "hello-1.0-1.x86_64.rpm",
        ] {
            assert_eq!(source_package_name(bad), None, "{bad:?}");
        }
    }
}
