//! Noarch builds run once per release, as Copr's do: the packages of a
//! source RPM whose every package is noarch are the same whatever the
//! architecture, so one chroot of each release (`fedora-42-*`) builds them
//! and the release's other chroots publish those same packages. The other
//! chroots wait in state `waiting`, naming the task that builds for them
//! (`built_in`), and are published when it ends, with its outcome.

use std::collections::BTreeMap;
use std::path::Path;

use koper_db::TaskRow;
use koper_types::{BuildState, ChrootName, now_epoch};

use crate::app::App;
use crate::builds::get_build;
use crate::error::{Error, Result};
use crate::queue::CONNECTED_SECONDS;
use crate::{publisher, quota, retention};

/// For a noarch-only build into `chroots`: the chroots that take another's
/// packages, each with the chroot that builds them. Per release, the
/// chroot whose arch has the most connected builder slots able to take it
/// builds (the first by name when none is connected).
pub async fn plan(
    app: &App,
    chroots: &[(ChrootName, String)],
) -> Result<Vec<(ChrootName, ChrootName)>> {
    let slots = ConnectedSlots::load(app).await?;
    let slots_for = |chroot: &ChrootName, arch: &str| slots.for_chroot(app, chroot, arch);
    let mut releases: BTreeMap<&str, Vec<&(ChrootName, String)>> = BTreeMap::new();
    for chroot in chroots {
        releases
            .entry(chroot.0.name_release())
            .or_default()
            .push(chroot);
    }
    let mut built_in = Vec::new();
    for mut group in releases.into_values() {
        group.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        // max_by_key keeps the last of equals: look from the end so the
        // first by name wins a tie.
        let Some(builder) = group
            .iter()
            .rev()
            .max_by_key(|(chroot, arch)| slots_for(chroot, arch))
            .map(|(chroot, _)| chroot.clone())
        else {
            continue;
        };
        built_in.extend(
            group
                .iter()
                .filter(|(chroot, _)| *chroot != builder)
                .map(|(chroot, _)| (chroot.clone(), builder.clone())),
        );
    }
    Ok(built_in)
}

/// The builders connected now, to count the slots able to take a chroot.
pub(crate) struct ConnectedSlots(Vec<koper_db::Builder>);

impl ConnectedSlots {
    pub(crate) async fn load(app: &App) -> Result<Self> {
        let now = now_epoch();
        Ok(Self(
            app.db()
                .list_builders()
                .await?
                .into_iter()
                .filter(|b| {
                    !b.revoked && b.last_seen_on.is_some_and(|s| s >= now - CONNECTED_SECONDS)
                })
                .collect(),
        ))
    }

    /// The slots of connected builders of `arch` that serve `chroot`.
    pub(crate) fn for_chroot(&self, app: &App, chroot: &ChrootName, arch: &str) -> i64 {
        let def = app.chroots().get(chroot);
        self.0
            .iter()
            .filter(|b| b.arches.iter().any(|a| a == arch))
            .filter(|b| def.is_none_or(|def| def.served_by(&b.tags)))
            .map(|b| b.slots.max(1))
            .sum()
    }
}

/// Publishes the chroots waiting for the ended task `source_id` with its
/// packages and outcome. Idempotent: run again after a crash, it finishes
/// what is left.
pub async fn publish_copies(app: &App, source_id: i64) -> Result<()> {
    let copies = app.db().copies_waiting_on(source_id).await?;
    if copies.is_empty() {
        return Ok(());
    }
    let source = app
        .db()
        .task_by_id(source_id)
        .await?
        .ok_or_else(|| Error::internal(format!("task {source_id} vanished")))?;
    if source.ended_on.is_none() {
        return Ok(());
    }
    for copy in copies {
        publish_copy(app, &source, &copy).await?;
    }
    Ok(())
}

async fn publish_copy(app: &App, source: &TaskRow, copy: &TaskRow) -> Result<()> {
    let build = get_build(app, source.build_id).await?;
    let project = crate::projects::find_project(app, &build.owner, &build.project).await?;
    let results = app.data().results();
    let mut state = source.state;
    let mut reason = source
        .fail_reason
        .as_ref()
        .map(|why| format!("built once for every arch in {}: {why}", source.chroot));
    if let Some(result_dir) = &source.result_dir {
        let from = results
            .repo_dir(&build.owner, &build.project, &source.chroot)
            .join(result_dir);
        let repo_dir = results.repo_dir(&build.owner, &build.project, &copy.chroot);
        let to = repo_dir.join(result_dir);
        let placed = {
            let to = to.clone();
            tokio::task::spawn_blocking(move || link_files(&from, &to)).await?
        };
        if let Err(e) = placed {
            state = BuildState::Failed;
            reason = Some(format!(
                "the packages built in {} could not be placed here: {e}",
                source.chroot
            ));
        }
        app.db().set_result_dir(copy.id, result_dir).await?;
        if state == BuildState::Succeeded {
            publisher::add_to_repo(app, &project, copy, &repo_dir, result_dir).await?;
        }
        let bytes = tokio::task::spawn_blocking(move || quota::result_dir_bytes(&to)).await??;
        app.db().set_result_bytes(copy.id, bytes).await?;
    }
    if !app
        .db()
        .end_copy(
            copy.id,
            state,
            reason.as_deref(),
            source.started_on,
            now_epoch(),
        )
        .await?
    {
        return Ok(());
    }
    tracing::info!(build.id = %build.id, chroot = %copy.chroot, built_in = %source.chroot,
        %state, "noarch build chroot published from another chroot's build");
    if state == BuildState::Succeeded
        && let Err(e) = retention::prune(app, &project, &copy.chroot).await
    {
        tracing::error!(error = %e, "pruning old builds failed");
    }
    Ok(())
}

/// Hard-links (or, across file systems, copies) every file of one build's
/// result directory into another's, keeping files already there.
fn link_files(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if !entry.file_type()?.is_file() || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(&name);
        if target.exists() {
            continue;
        }
        if std::fs::hard_link(entry.path(), &target).is_err() {
            let temp = to.join(format!(".{}.tmp", name.to_string_lossy()));
            std::fs::copy(entry.path(), &temp)?;
            std::fs::rename(&temp, &target)?;
        }
    }
    koper_storage::fsync_dir(to)
}
