//! Retention: per chroot, a project keeps the newest successful build of
//! each package plus its `retain_older` newest predecessors, and prunes the
//! rest after each publish. A build that a kept build still needs (it
//! provides something a kept package requires that no kept package
//! provides) is kept too, with whatever it needs in turn.

use std::collections::HashMap;

use koper_db::{ProjectRow, PublishedBuild};
use koper_repodata::RepoChanges;
use koper_types::{ChrootName, now_epoch};

use crate::app::App;
use crate::error::Result;
use crate::publisher;

/// Prunes the chroot repo of `project`; returns the pruned result
/// directories.
pub async fn prune(app: &App, project: &ProjectRow, chroot: &ChrootName) -> Result<Vec<String>> {
    let published = app.db().published_builds(project.id, chroot).await?;
    let keep_per_package = usize::try_from(project.retain_older.max(0))
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let (mut kept, mut candidates) = (Vec::new(), Vec::new());
    // Newest first: the first `keep_per_package` of each package stay.
    for build in &published {
        let count = seen.entry(build.package_name.as_str()).or_default();
        *count += 1;
        if *count <= keep_per_package {
            kept.push(build.clone());
        } else {
            candidates.push(build.clone());
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot);
    let to_prune = {
        let repo_dir = repo_dir.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<PublishedBuild>> {
            let deps_of = |build: &PublishedBuild| -> Vec<koper_rpm::PackageDeps> {
                binary_rpms(&repo_dir.join(&build.result_dir))
                    .iter()
                    .filter_map(|path| koper_rpm::read_deps(path).ok())
                    .collect()
            };
            let kept_deps: Vec<_> = kept.iter().flat_map(deps_of).collect();
            let candidate_deps: Vec<(i64, Vec<_>)> =
                candidates.iter().map(|b| (b.task_id, deps_of(b))).collect();
            let needed = koper_rpm::still_needed(&kept_deps, &candidate_deps);
            Ok(candidates
                .into_iter()
                .filter(|b| !needed.contains(&b.task_id))
                .collect())
        })
        .await??
    };
    if to_prune.is_empty() {
        return Ok(Vec::new());
    }
    // The metadata stops listing them first; only then do the files go.
    publisher::apply_changes(
        app,
        project,
        chroot,
        RepoChanges {
            add: Vec::new(),
            remove: to_prune
                .iter()
                .map(|b| format!("{}/", b.result_dir))
                .collect(),
        },
    )
    .await?;
    let mut pruned = Vec::new();
    for build in to_prune {
        let dir = repo_dir.join(&build.result_dir);
        publisher::remove_tree(&dir).await?;
        app.db().mark_pruned(build.task_id, now_epoch()).await?;
        tracing::info!(project = %format!("{}/{}", project.owner, project.name), %chroot,
            build.id = %build.build_id, "old build pruned");
        pruned.push(build.result_dir);
    }
    Ok(pruned)
}

fn binary_rpms(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".rpm") && !name.ends_with(".src.rpm") && !name.starts_with('.')
        })
        .collect()
}
