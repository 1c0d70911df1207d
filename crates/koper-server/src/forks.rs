//! Forking a project: a copy under another owner or name with the same
//! settings and the newest successful build of every package in every
//! chroot, re-signed with the fork's own key (Copr's fork).
//!
//! The copied builds are published like uploaded packages (source type
//! `fork`) and end `succeeded`, not Copr's `forked`: copr-cli's
//! `watch-build` never treats `forked` as ended, and koper's repos,
//! retention and pages count succeeded builds.

use std::collections::BTreeSet;
use std::path::PathBuf;

use koper_api::v1;
use koper_db::{ProjectRow, User};
use koper_types::{OwnerName, ProjectName};

use crate::app::App;
use crate::error::{Error, Result};
use crate::spool::{self, Spooled};
use crate::{permissions, projects, uploads};

/// The source type of builds copied by a fork.
pub const SOURCE_TYPE: &str = "fork";

/// What a fork made.
#[derive(Debug)]
pub struct Forked {
    /// The destination project.
    pub project: ProjectRow,
    /// How many builds were copied.
    pub builds: usize,
}

/// Forks `source` into `owner/name`. Forking into an existing project
/// needs `confirm` and the right to manage it; its builds are added to.
pub async fn fork_project(
    app: &App,
    caller: &User,
    source: &ProjectRow,
    owner: &OwnerName,
    name: &ProjectName,
    confirm: bool,
) -> Result<Forked> {
    if &source.owner == owner && &source.name == name {
        return Err(Error::bad_request("a project cannot be forked into itself"));
    }
    let destination = match app.db().find_project(owner, name).await? {
        Some(existing) => {
            if !confirm {
                return Err(Error::bad_request_hint(
                    format!("You are about to fork into existing project: {owner}/{name}"),
                    "confirm that you want the builds copied into it (--confirm)",
                ));
            }
            if !permissions::can_admin(app, caller, &existing).await? {
                return Err(Error::Forbidden(format!(
                    "{} may not fork into {owner}/{name}",
                    caller.name
                )));
            }
            existing
        }
        None => create_copy(app, caller, source, owner, name).await?,
    };
    let chroots: BTreeSet<_> = destination.chroots.iter().collect();
    let mut builds = 0;
    for chroot in source.chroots.iter().filter(|c| chroots.contains(c)) {
        let mut seen = BTreeSet::new();
        for published in app.db().published_builds(source.id, chroot).await? {
            // Newest first: the first of each package is the one to copy.
            if !seen.insert(published.package_name.clone()) {
                continue;
            }
            let dir = app
                .data()
                .results()
                .repo_dir(&source.owner, &source.name, chroot)
                .join(&published.result_dir);
            let files = copy_packages(app, dir).await?;
            if files.is_empty() {
                continue;
            }
            uploads::add_packages(app, caller, &destination, chroot, files, SOURCE_TYPE).await?;
            builds += 1;
        }
    }
    tracing::info!(
        from = %format_args!("{}/{}", source.owner, source.name),
        to = %format_args!("{owner}/{name}"),
        builds, "project forked"
    );
    Ok(Forked {
        project: destination,
        builds,
    })
}

/// Creates the destination with the source's settings.
async fn create_copy(
    app: &App,
    caller: &User,
    source: &ProjectRow,
    owner: &OwnerName,
    name: &ProjectName,
) -> Result<ProjectRow> {
    let new = v1::NewProject {
        owner: owner.clone(),
        name: name.clone(),
        chroots: source.chroots.clone(),
        description: source.description.clone(),
        instructions: source.instructions.clone(),
        retain_older: u32::try_from(source.retain_older).unwrap_or(0),
        listed: source.listed,
        additional_repos: source.buildroot.additional_repos.clone(),
        enable_net: source.buildroot.enable_net,
        repo_priority: source
            .buildroot
            .repo_priority
            .and_then(|p| u32::try_from(p).ok()),
    };
    let created = projects::create_project(app, caller, &new).await?;
    for chroot in &source.chroots {
        let settings = projects::chroot_settings(app, source, chroot).await?;
        if !settings.additional_packages.is_empty() {
            projects::set_chroot_settings(app, caller, &created, chroot, &settings).await?;
        }
    }
    Ok(created)
}

/// Copies a result directory's RPMs into the spool: signing rewrites
/// them, and the source's files must stay as they are. Nothing is left in
/// the spool if a copy fails.
async fn copy_packages(app: &App, dir: PathBuf) -> Result<Vec<Spooled>> {
    let app = app.clone();
    let copied = tokio::task::spawn_blocking(move || {
        let mut copied = Vec::new();
        let result = copy_into(&app, &dir, &mut copied);
        if result.is_err() {
            for file in &copied {
                let _ = std::fs::remove_file(&file.path);
            }
        }
        result.map(|()| copied)
    })
    .await??;
    Ok(copied)
}

fn copy_into(app: &App, dir: &std::path::Path, copied: &mut Vec<Spooled>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // Only regular files: a link is never followed.
        if !file_name.ends_with(".rpm") || !entry.file_type()?.is_file() {
            continue;
        }
        let path = spool::new_path(app);
        std::fs::copy(entry.path(), &path)?;
        copied.push(Spooled {
            sha256: spool::sha256_file(&path)?,
            path,
            name: file_name,
        });
    }
    Ok(())
}
