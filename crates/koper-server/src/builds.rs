//! Builds: accepting a source, describing, listing and canceling builds,
//! and reading their live logs.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures::Stream;
use koper_api::v1;
use koper_db::{BatchPlacement, BuildQuery, BuildRow, NewBuild, ProjectRow, User};
use koper_types::{BuildId, BuildState, ChrootName, aggregate_state, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::projects::check_chroots;
use crate::publisher::LIVE_LOG;
use crate::queue::QueueView;
use crate::{keys, noarch, permissions, publisher, quota, spool};
use koper_sign::SigningKey;

/// Where the caller wants a build to go.
#[derive(Clone)]
pub struct BuildTarget<'a> {
    /// The project.
    pub project: &'a ProjectRow,
    /// Chroots to build for; empty means all of the project's.
    pub chroots: Vec<ChrootName>,
    /// Where it goes in the queue.
    pub options: v1::BuildOptions,
}

/// What background builds add to their priority: every background build
/// sorts below every normal one, and `priority < 0` marks them in the
/// queue.
const BACKGROUND_OFFSET: i64 = 1000;
/// The priorities users may give.
const PRIORITIES: std::ops::RangeInclusive<i64> = 0..=100;

/// Checks the queueing options of a new build: the stored priority and the
/// batch it joins.
async fn queueing(
    app: &App,
    caller: &User,
    options: &v1::BuildOptions,
) -> Result<(i64, BatchPlacement)> {
    if !PRIORITIES.contains(&options.priority) {
        return Err(Error::bad_request(format!(
            "priority {} is out of range: use {}..={} (higher builds first among your builds)",
            options.priority,
            PRIORITIES.start(),
            PRIORITIES.end()
        )));
    }
    let priority = if options.background {
        options.priority - BACKGROUND_OFFSET
    } else {
        options.priority
    };
    let (other, placement) = match (options.after_build_id, options.with_build_id) {
        (Some(_), Some(_)) => {
            return Err(Error::bad_request(
                "--after-build-id and --with-build-id cannot be used together",
            ));
        }
        (Some(id), None) => (id, BatchPlacement::After(id)),
        (None, Some(id)) => (id, BatchPlacement::With(id)),
        (None, None) => return Ok((priority, BatchPlacement::Alone)),
    };
    let build = app.db().build_by_id(other).await?.ok_or_else(|| {
        Error::bad_request(format!(
            "build {other} does not exist, so nothing can wait for it"
        ))
    })?;
    let project = app
        .db()
        .project_by_id(build.project_id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    if !permissions::can_build(app, caller, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not build in {}/{}, where build {other} is",
            caller.name, project.owner, project.name
        )));
    }
    let state = state_of(&build);
    if state.is_ended() {
        return Err(Error::bad_request_hint(
            format!("build {other} has already ended ({state}); a batch needs an unfinished build"),
            "submit the build without --after-build-id or --with-build-id",
        ));
    }
    Ok((priority, placement))
}

/// Checks that `caller` may build into the target and that its chroots
/// belong to the project; returns the chroots with their arches.
async fn check_target(
    app: &App,
    caller: &User,
    target: &BuildTarget<'_>,
) -> Result<Vec<(ChrootName, String)>> {
    let project = target.project;
    if !permissions::can_build(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not build in {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    crate::moderation::refuse_builds(project)?;
    let chroots = if target.chroots.is_empty() {
        project.chroots.clone()
    } else {
        check_chroots(app, &target.chroots)?;
        for chroot in &target.chroots {
            if !project.chroots.contains(chroot) {
                return Err(Error::bad_request_hint(
                    format!(
                        "project {}/{} does not build for {chroot}",
                        project.owner, project.name
                    ),
                    format!(
                        "its chroots are: {}",
                        project
                            .chroots
                            .iter()
                            .map(ChrootName::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        target.chroots.clone()
    };
    chroots
        .into_iter()
        .map(|chroot| {
            let arch = app
                .chroots()
                .get(&chroot)
                .map(|def| def.arch.clone())
                .ok_or_else(|| Error::bad_request(format!("unknown chroot {chroot}")))?;
            Ok((chroot, arch))
        })
        .collect()
}

/// Answers, before any byte of an upload is sent, whether `caller` could
/// submit `size` bytes in files of at most `largest` bytes to the target:
/// permission, chroots, the upload limit and the storage quota. Clients ask first so that a refusal is a
/// clear message instead of a connection cut mid-upload.
pub async fn check_submission(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    size: u64,
    largest: u64,
) -> Result<()> {
    place(app, caller, &target).await?;
    spool::check_announced(largest, app.config().max_upload_bytes)?;
    quota::check_room(app, target.project, size).await
}

/// Accepts an uploaded source RPM: streams it to disk, checks that it is a
/// complete source RPM, stores it and queues one task per chroot. Bad input
/// leaves nothing behind.
pub async fn submit_srpm<S, E>(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    body: S,
    announced_len: Option<u64>,
) -> Result<BuildRow>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    submit_srpm_from(app, caller, target, body, announced_len, "upload").await
}

/// [`submit_srpm`] for a source RPM from anywhere (`source_type` says
/// where: Copr's `upload`, `link`).
pub async fn submit_srpm_from<S, E>(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    body: S,
    announced_len: Option<u64>,
    source_type: &'static str,
) -> Result<BuildRow>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let placement = place(app, caller, &target).await?;
    quota::check_room(app, target.project, announced_len.unwrap_or(0)).await?;
    let spooled = spool::receive(
        body,
        &spool::new_path(app),
        app.config().max_upload_bytes,
        announced_len,
    )
    .await?;
    queue_spooled(app, caller, target.project, placement, spooled, source_type).await
}

/// Where a checked build goes: its chroots with their arches, its priority
/// and batch.
pub(crate) struct Placement {
    pub(crate) chroots: Vec<(ChrootName, String)>,
    pub(crate) priority: i64,
    pub(crate) batch: BatchPlacement,
}

/// Checks that `caller` may build into `target` as asked and places it in
/// the queue.
pub(crate) async fn place(app: &App, caller: &User, target: &BuildTarget<'_>) -> Result<Placement> {
    let chroots = check_target(app, caller, target).await?;
    let (priority, batch) = queueing(app, caller, &target.options).await?;
    Ok(Placement {
        chroots,
        priority,
        batch,
    })
}

/// Submits a source RPM already received into the spool (Copr's multipart
/// uploads name their project only after the file). The spooled file is
/// consumed whatever happens.
pub async fn submit_spooled(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    spooled: spool::Spooled,
    source_type: &'static str,
) -> Result<BuildRow> {
    match place(app, caller, &target).await {
        Ok(placement) => {
            queue_spooled(app, caller, target.project, placement, spooled, source_type).await
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&spooled.path).await;
            Err(e)
        }
    }
}

/// Checks, signs and stores a spooled source RPM of a placed build and
/// queues its tasks. A file refused on the way is removed.
async fn queue_spooled(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    placement: Placement,
    spooled: spool::Spooled,
    source_type: &'static str,
) -> Result<BuildRow> {
    let Placement {
        chroots,
        priority,
        batch,
    } = placement;
    let size = tokio::fs::metadata(&spooled.path).await?.len();
    if let Err(e) = quota::check_room(app, project, size).await {
        let _ = tokio::fs::remove_file(&spooled.path).await;
        return Err(e);
    }
    let key = keys::project_key(app, project).await?;
    let accepted = match accept_srpm(app, &spooled, &key).await {
        Ok(accepted) => accepted,
        Err(e) => {
            let _ = tokio::fs::remove_file(&spooled.path).await;
            return Err(e);
        }
    };
    let (relative, srpm, sha256) = accepted;
    let srpm_bytes = tokio::fs::metadata(app.data().root().join(&relative))
        .await?
        .len();
    let built_in = if srpm.noarch_only {
        noarch::plan(app, &chroots).await?
    } else {
        Vec::new()
    };
    let build_id = app
        .db()
        .create_build(
            &NewBuild {
                project_id: project.id,
                submitter_id: Some(caller.id),
                source_type,
                srpm_path: Some(&relative),
                srpm_sha256: Some(&sha256),
                package_name: Some(&srpm.name),
                package_version: Some(&srpm.evr()),
                timeout: project.build_timeout,
                chroots: &chroots,
                built_in: &built_in,
                srpm_bytes: i64::try_from(srpm_bytes).unwrap_or(i64::MAX),
                task_state: BuildState::Pending,
                priority,
                batch,
                source: None,
            },
            now_epoch(),
        )
        .await?;
    app.work_available().notify_waiters();
    tracing::info!(build.id = %build_id, package = %srpm.nvr(),
        project = %format!("{}/{}", project.owner, project.name), "build submitted");
    get_build(app, build_id).await
}

/// Checks a spooled file, signs it with the project's key and moves it to
/// `uploads/`; returns its path relative to the data directory and its
/// SHA-256 as signed (what builders check their download against).
pub(crate) async fn accept_srpm(
    app: &App,
    spooled: &spool::Spooled,
    key: &Arc<SigningKey>,
) -> Result<(String, koper_rpm::SourceRpm, String)> {
    let path = spooled.path.clone();
    let srpm = tokio::task::spawn_blocking(move || koper_rpm::inspect_source_rpm(&path))
        .await?
        .map_err(|e| match e {
            koper_rpm::RpmError::Io(e) => Error::internal(e),
            other => Error::bad_request_hint(
                format!("the upload is not a usable source RPM: {other}"),
                "build one with `rpmbuild -bs NAME.spec` and upload the .src.rpm it writes",
            ),
        })?;
    crate::import_checks::check(&srpm, &app.config().license_deny_list)?;
    let path = spooled.path.clone();
    let key = key.clone();
    let sha256 = tokio::task::spawn_blocking(move || -> Result<String> {
        key.sign_rpm(&path).map_err(Error::internal)?;
        Ok(spool::sha256_file(&path)?)
    })
    .await??;
    let dir_name = koper_storage::random_suffix();
    let relative = format!("uploads/{dir_name}/{}.src.rpm", srpm.nvr());
    let target = app.data().root().join(&relative);
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    tokio::fs::rename(&spooled.path, &target).await?;
    Ok((relative, srpm, sha256))
}

/// The build with this id, or a 404.
pub async fn get_build(app: &App, id: BuildId) -> Result<BuildRow> {
    app.db()
        .build_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("build {id} does not exist")))
}

/// Cancels a build: pending chroots at once, running ones when their
/// builder next checks in.
pub async fn cancel_build(app: &App, caller: &User, id: BuildId) -> Result<BuildRow> {
    let build = get_build(app, id).await?;
    let project = app
        .db()
        .project_by_id(build.project_id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    if !permissions::can_build(app, caller, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not cancel builds of {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    let state = state_of(&build);
    if state.is_final() {
        return Err(Error::Conflict(format!(
            "build {id} has already ended ({state}) and cannot be canceled"
        )));
    }
    app.db().cancel_build(id, now_epoch()).await?;
    tracing::info!(build.id = %id, "build canceled");
    get_build(app, id).await
}

/// Deletes a build that has ended: its results leave the repos' metadata,
/// its files are removed at once (freeing their space) and its record is
/// gone.
pub async fn delete_build(app: &App, caller: &User, id: BuildId) -> Result<v1::DeletedBuild> {
    let build = get_build(app, id).await?;
    let project = app
        .db()
        .project_by_id(build.project_id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    if !permissions::can_build(app, caller, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not delete builds of {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    // A task with a reported outcome is still being published.
    if build
        .chroots
        .iter()
        .chain(&build.source_task)
        .any(|t| !t.state.is_final() || (t.outcome.is_some() && t.lease_id.is_some()))
    {
        return Err(Error::Conflict(format!(
            "build {id} has not ended yet; cancel it first (`koper cancel {id}`)"
        )));
    }
    let before: i64 = app
        .db()
        .usage_of_owner(&project.owner)
        .await?
        .iter()
        .map(|u| u.used_bytes)
        .sum();
    for task in build.chroots.iter().chain(&build.source_task) {
        let Some(result_dir) = &task.result_dir else {
            continue;
        };
        // The source build's directory has no repo.
        if task.state == BuildState::Succeeded && !task.chroot.is_source_builds() {
            publisher::apply_changes(
                app,
                &project,
                &task.chroot,
                koper_repodata::RepoChanges {
                    add: Vec::new(),
                    remove: vec![format!("{result_dir}/")],
                },
            )
            .await?;
        }
        let dir = app
            .data()
            .results()
            .repo_dir(&project.owner, &project.name, &task.chroot)
            .join(result_dir);
        publisher::remove_tree(&dir).await?;
    }
    if let Some(srpm) = &build.srpm_path {
        let path = app.data().root().join(srpm);
        if let Some(dir) = path
            .parent()
            .filter(|d| d.starts_with(app.data().uploads_dir()))
        {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
    }
    app.db().delete_build(id).await?;
    let after: i64 = app
        .db()
        .usage_of_owner(&project.owner)
        .await?
        .iter()
        .map(|u| u.used_bytes)
        .sum();
    tracing::info!(build.id = %id, freed = before - after, "build deleted");
    Ok(v1::DeletedBuild {
        id,
        freed_bytes: before - after,
    })
}

/// How often a waiting client's build is read again even without a
/// wake-up: other server processes of the instance change builds too.
const CHANGE_RECHECK: Duration = Duration::from_millis(500);

/// Build `id` once it changed (its state, or one more of its chroots
/// ended) or `wait` passed, whichever comes first; at once when it has
/// ended. A long poll for clients following a build, who then learn of
/// its end when it happens rather than at their next poll.
pub async fn wait_for_change(app: &App, id: BuildId, wait: Duration) -> Result<BuildRow> {
    let progress = |build: &BuildRow| {
        let ended = build
            .chroots
            .iter()
            .filter(|c| c.ended_on.is_some())
            .count();
        (state_of(build), ended)
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut build = get_build(app, id).await?;
    let seen = progress(&build);
    loop {
        if seen.0.is_ended() || progress(&build) != seen {
            return Ok(build);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(build);
        }
        let changed = app.build_changed().notified();
        let _ = tokio::time::timeout((deadline - now).min(CHANGE_RECHECK), changed).await;
        build = get_build(app, id).await?;
    }
}

/// A build's state by Copr's aggregate rule.
pub fn state_of(build: &BuildRow) -> BuildState {
    aggregate_state(
        build.canceled,
        build.source_state,
        build.chroots.iter().map(|c| c.state),
    )
}

/// A build as the API shows it.
pub fn to_api(app: &App, build: &BuildRow) -> v1::Build {
    let repo_base = format!("{}/{}/{}", app.results_url(), build.owner, build.project);
    let shown = |task: &koper_db::TaskRow| v1::BuildChroot {
        name: task.chroot.clone(),
        state: task.state,
        started_on: task.started_on,
        ended_on: task.ended_on,
        result_url: task
            .result_dir
            .as_ref()
            .map(|dir| format!("{repo_base}/{}/{dir}/", task.chroot)),
        fail_reason: task.fail_reason.clone(),
        attempts: task.attempts,
        queue: None,
        built_in: task.built_in.and_then(|source| {
            build
                .chroots
                .iter()
                .find(|other| other.id == source)
                .map(|other| other.chroot.clone())
        }),
    };
    let chroots: Vec<v1::BuildChroot> = build.chroots.iter().map(shown).collect();
    let all_ended = build.chroots.iter().all(|c| c.state.is_final());
    v1::Build {
        id: build.id,
        owner: build.owner.clone(),
        project: build.project.clone(),
        state: state_of(build),
        source_package: build.package_name.as_ref().map(|name| v1::SourcePackage {
            name: name.to_string(),
            version: build.package_version.clone().unwrap_or_default(),
        }),
        submitter: build.submitter.clone(),
        submitted_on: build.submitted_on,
        started_on: build
            .chroots
            .iter()
            .chain(&build.source_task)
            .filter_map(|c| c.started_on)
            .min(),
        ended_on: if all_ended {
            build.chroots.iter().filter_map(|c| c.ended_on).max()
        } else {
            None
        },
        chroots,
        priority: if build.priority < 0 {
            build.priority + BACKGROUND_OFFSET
        } else {
            build.priority
        },
        is_background: build.priority < 0,
        source_build: build.source_task.as_ref().map(shown),
    }
}

/// A build as the API shows it, with why its pending chroots wait.
pub async fn to_api_explained(app: &App, build: &BuildRow) -> Result<v1::Build> {
    let mut shown = to_api(app, build);
    let pending = pending_tasks(std::slice::from_ref(build));
    if !pending.is_empty() {
        let view = app.queue_view().get(app, &pending).await?;
        explain(app, &view, build, &mut shown).await?;
    }
    Ok(shown)
}

/// The ids of the builds' pending chroots.
fn pending_tasks(builds: &[BuildRow]) -> Vec<i64> {
    builds
        .iter()
        .flat_map(|b| &b.chroots)
        .filter(|c| c.state == BuildState::Pending)
        .map(|c| c.id)
        .collect()
}

/// Fills in the queue information of a build's pending chroots.
async fn explain(
    app: &App,
    view: &QueueView,
    build: &BuildRow,
    shown: &mut v1::Build,
) -> Result<()> {
    let mut blocked_by = None;
    for (task, chroot) in build.chroots.iter().zip(shown.chroots.iter_mut()) {
        if task.state != BuildState::Pending {
            continue;
        }
        if blocked_by.is_none() {
            blocked_by = Some(app.db().builds_blocking(build.id).await?);
        }
        chroot.queue = view.explain(task.id, blocked_by.as_deref().unwrap_or_default());
    }
    Ok(())
}

/// A project's builds, newest first; from `offset` among those older than
/// `before`, when given.
pub async fn list_builds(
    app: &App,
    project: &ProjectRow,
    limit: i64,
    offset: i64,
    before: Option<BuildId>,
) -> Result<v1::Page<v1::Build>> {
    let limit = limit.clamp(1, 1000);
    let offset = offset.max(0);
    let rows = app
        .db()
        .query_builds(
            project.id,
            &BuildQuery {
                package: None,
                state: None,
                oldest_first: false,
                after: before,
                limit,
                offset,
            },
        )
        .await?;
    let next_offset = (rows.len() as i64 == limit).then_some(offset + limit);
    let mut items: Vec<v1::Build> = rows.iter().map(|build| to_api(app, build)).collect();
    let pending = pending_tasks(&rows);
    if !pending.is_empty() {
        let view = app.queue_view().get(app, &pending).await?;
        for (build, shown) in rows.iter().zip(items.iter_mut()) {
            explain(app, &view, build, shown).await?;
        }
    }
    Ok(v1::Page { items, next_offset })
}

/// A piece of a build chroot's live log.
pub struct LogChunk {
    /// Bytes from the requested offset.
    pub bytes: Vec<u8>,
    /// Whether the log is complete (the chroot ended and nothing follows).
    pub complete: bool,
}

/// Reads up to `max` bytes of a build chroot's log from `offset`: the live
/// log while the chroot runs, the compressed one after.
pub async fn read_log(
    app: &App,
    build: &BuildRow,
    chroot: &ChrootName,
    offset: u64,
    max: usize,
) -> Result<LogChunk> {
    let task = build
        .chroots
        .iter()
        .chain(&build.source_task)
        .find(|c| &c.chroot == chroot)
        .ok_or_else(|| Error::NotFound(format!("build {} has no chroot {chroot}", build.id)))?;
    let ended = task.state.is_final();
    let Some(result_dir) = &task.result_dir else {
        return Ok(LogChunk {
            bytes: Vec::new(),
            complete: ended,
        });
    };
    let dir = app
        .data()
        .results()
        .repo_dir(&build.owner, &build.project, chroot)
        .join(result_dir);
    let chunk = tokio::task::spawn_blocking(move || -> std::io::Result<LogChunk> {
        let live = dir.join(LIVE_LOG);
        let gz = dir.join(format!("{LIVE_LOG}.gz"));
        // A task is marked ended only after its log was compressed, so an
        // ended task with a live log means a publish still running.
        let (mut reader, complete): (Box<dyn Read>, bool) = match std::fs::File::open(&live) {
            Ok(file) => (Box::new(file), false),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::File::open(&gz) {
                Ok(file) => (Box::new(flate2::read::GzDecoder::new(file)), ended),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    (Box::new(std::io::empty()), ended)
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        std::io::copy(&mut (&mut reader).take(offset), &mut std::io::sink())?;
        let mut bytes = Vec::new();
        reader.take(max as u64).read_to_end(&mut bytes)?;
        let complete = complete && bytes.len() < max;
        Ok(LogChunk { bytes, complete })
    })
    .await??;
    Ok(chunk)
}
