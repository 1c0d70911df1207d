//! Prebuilt packages: binary RPMs (and optionally their source RPM) added
//! to a project's chroot repo without a build. They are checked, signed
//! with the project's key on the way in, and published as a build of
//! source type `rpm_upload` (Copr's name), so they appear, are retained,
//! pruned and deleted like any build. `koper upload-rpm` reaches this
//! through the native API; Copr's `/api_3/build/create/rpm-upload`
//! (`copr-cli uploadrpm`) spools its multipart file the same way and calls
//! [`add_prebuilt`].

use std::path::PathBuf;

use koper_db::{BuildRow, NewBuild, ProjectRow, User};
use koper_repodata::{RepoChanges, RepoPackage};
use koper_rpm::PackageIdentity;
use koper_types::{BuildState, ChrootName, now_epoch};

use crate::app::App;
use crate::builds::get_build;
use crate::error::{Error, Result};
use crate::spool::Spooled;
use crate::{keys, permissions, publisher, quota, retention};

/// The source type of builds made from uploaded packages.
pub const SOURCE_TYPE: &str = "rpm_upload";

/// Adds spooled RPM files to `project`'s `chroot` repo as one new build.
/// The spooled files are consumed (moved or removed) whatever happens.
pub async fn add_prebuilt(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    chroot: &ChrootName,
    files: Vec<Spooled>,
) -> Result<BuildRow> {
    add_packages(app, caller, project, chroot, files, SOURCE_TYPE).await
}

/// Adds spooled RPM files as one new build of `source_type` (uploads, and
/// the copies a fork makes). The spooled files are consumed whatever
/// happens.
pub async fn add_packages(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    chroot: &ChrootName,
    files: Vec<Spooled>,
    source_type: &str,
) -> Result<BuildRow> {
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let result = add(app, caller, project, chroot, files, source_type).await;
    for path in paths {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

async fn add(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    chroot: &ChrootName,
    files: Vec<Spooled>,
    source_type: &str,
) -> Result<BuildRow> {
    if !permissions::can_build(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not add packages to {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    crate::moderation::refuse_builds(project)?;
    if !project.chroots.contains(chroot) {
        return Err(Error::bad_request_hint(
            format!(
                "project {}/{} has no chroot {chroot}",
                project.owner, project.name
            ),
            "pick one of the project's chroots with --chroot",
        ));
    }
    let arch = app
        .chroots()
        .get(chroot)
        .map(|def| def.arch.clone())
        .ok_or_else(|| Error::bad_request(format!("unknown chroot {chroot}")))?;
    if files.is_empty() {
        return Err(Error::bad_request("no packages were uploaded"));
    }
    let mut total = 0u64;
    for file in &files {
        total += tokio::fs::metadata(&file.path).await?.len();
    }
    quota::check_room(app, project, total).await?;

    let key = keys::project_key(app, project).await?;
    let checked = {
        let paths: Vec<(PathBuf, String)> = files
            .iter()
            .map(|f| (f.path.clone(), f.name.clone()))
            .collect();
        let arch = arch.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<(PathBuf, PackageIdentity)>> {
            let mut checked = Vec::new();
            for (path, name) in paths {
                let identity = check_package(&path, &name, &arch)?;
                key.sign_rpm(&path).map_err(Error::internal)?;
                checked.push((path, identity));
            }
            Ok(checked)
        })
        .await??
    };
    let mut names: Vec<String> = checked
        .iter()
        .map(|(_, id)| format!("{}.rpm", id.nvra()))
        .collect();
    names.sort();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::bad_request("the same package was uploaded twice"));
    }
    if checked.iter().filter(|(_, id)| id.is_source).count() > 1 {
        return Err(Error::bad_request(
            "at most one source RPM may come with the packages",
        ));
    }
    // The build is named after the source package when it came along, else
    // after the package with the shortest name (`foo` before `foo-devel`).
    let main = checked
        .iter()
        .find(|(_, id)| id.is_source)
        .or_else(|| checked.iter().min_by_key(|(_, id)| id.name.as_str().len()))
        .map(|(_, id)| id.clone())
        .ok_or_else(|| Error::bad_request("no packages were uploaded"))?;

    let build_id = app
        .db()
        .create_build(
            &NewBuild {
                project_id: project.id,
                submitter_id: Some(caller.id),
                source_type,
                srpm_path: None,
                srpm_sha256: None,
                built_in: &[],
                srpm_bytes: 0,
                package_name: Some(&main.name),
                package_version: Some(&main.evr()),
                timeout: project.build_timeout,
                chroots: &[(chroot.clone(), arch)],
                // Never pending: no builder is involved.
                task_state: BuildState::Starting,
                priority: 0,
                batch: koper_db::BatchPlacement::Alone,
                source: None,
            },
            now_epoch(),
        )
        .await?;
    let build = get_build(app, build_id).await?;
    let task = build
        .chroots
        .first()
        .cloned()
        .ok_or_else(|| Error::internal("uploaded build without a chroot"))?;
    let result_dir = build_id.result_dir_name(&main.name);
    app.db().set_result_dir(task.id, &result_dir).await?;
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot);
    let build_dir = repo_dir.join(&result_dir);
    let published = publish(app, project, chroot, &build_dir, &result_dir, checked).await;
    match published {
        Ok(bytes) => {
            app.db().set_result_bytes(task.id, bytes).await?;
            app.db()
                .end_task(task.id, BuildState::Succeeded, None, now_epoch())
                .await?;
            tracing::info!(build.id = %build_id, %chroot, package = %main.nvra(),
                project = %format!("{}/{}", project.owner, project.name), "packages uploaded");
            if let Err(e) = retention::prune(app, project, chroot).await {
                tracing::error!(error = %e, "pruning old builds failed");
            }
        }
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&build_dir).await;
            app.db()
                .end_task(
                    task.id,
                    BuildState::Failed,
                    Some(&e.to_string()),
                    now_epoch(),
                )
                .await?;
            return Err(e);
        }
    }
    get_build(app, build_id).await
}

/// Moves the checked packages into the build's result directory and lists
/// them in the repo; returns the bytes the directory takes.
async fn publish(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    build_dir: &std::path::Path,
    result_dir: &str,
    checked: Vec<(PathBuf, PackageIdentity)>,
) -> Result<i64> {
    tokio::fs::create_dir_all(build_dir).await?;
    let mut add = Vec::new();
    for (path, identity) in checked {
        let name = format!("{}.rpm", identity.nvra());
        let target = build_dir.join(&name);
        tokio::fs::rename(&path, &target).await?;
        add.push(RepoPackage {
            path: target,
            location: format!("{result_dir}/{name}"),
        });
    }
    koper_storage::fsync_dir(build_dir)?;
    publisher::apply_changes(
        app,
        project,
        chroot,
        RepoChanges {
            add,
            remove: Vec::new(),
        },
    )
    .await?;
    let dir = build_dir.to_owned();
    // Uploaded source RPMs are not hard links of anything: they count.
    Ok(tokio::task::spawn_blocking(move || dir_bytes(&dir)).await??)
}

fn dir_bytes(dir: &std::path::Path) -> std::io::Result<i64> {
    let mut total = 0i64;
    for entry in std::fs::read_dir(dir)? {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            total = total.saturating_add(i64::try_from(meta.len()).unwrap_or(i64::MAX));
        }
    }
    Ok(total)
}

/// An uploaded file must be a complete RPM, binary for the chroot's arch
/// (or noarch), or a source RPM.
fn check_package(path: &std::path::Path, name: &str, arch: &str) -> Result<PackageIdentity> {
    let identity = koper_rpm::inspect_package(path).map_err(|e| match e {
        koper_rpm::RpmError::Io(e) => Error::internal(e),
        other => Error::bad_request_hint(
            format!("{name} is not a usable RPM: {other}"),
            "upload the .rpm files rpmbuild wrote",
        ),
    })?;
    if !identity.is_source && identity.arch != arch && identity.arch != "noarch" {
        return Err(Error::bad_request_hint(
            format!(
                "{name} is built for {}, but the chroot is {arch}",
                identity.arch
            ),
            "upload it to a chroot of its architecture",
        ));
    }
    Ok(identity)
}

/// Ends uploads a crash interrupted (their task started, and no builder
/// will ever finish it).
pub async fn repair(app: &App) -> Result<()> {
    for task in app.db().unleased_started_tasks().await? {
        tracing::warn!(task.id = task.id, "an interrupted upload is marked failed");
        app.db()
            .end_task(
                task.id,
                BuildState::Failed,
                Some(
                    "the server stopped while publishing the uploaded packages; upload them again",
                ),
                now_epoch(),
            )
            .await?;
    }
    Ok(())
}
