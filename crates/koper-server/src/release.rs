//! Release packages: per project and chroot, a signed noarch RPM
//! `koper-<owner>-<project>` holding the `.repo` file of the project and of
//! every repo it depends on, and their keys. Installing it is all a user
//! needs; it lives in the chroot repo's `release/` directory and is listed
//! in the repo's metadata, so `dnf upgrade` brings its new versions (a new
//! release number whenever its content changes: a renewed key, a new
//! dependency).
//!
//! Project dependencies plug in through [`dependency_repos`]: each
//! dependency becomes one [`ReleaseRepo`] (its `.repo` section and its
//! key), and [`refresh`] makes a new release package whenever the list
//! changes.

use std::path::{Path, PathBuf};

use koper_db::{ProjectRow, ReleaseRow};
use koper_repodata::RepoPackage;
use koper_sign::SigningKey;
use koper_types::ChrootName;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{buildroot, keys, publisher, repo_file};

/// The directory of a chroot repo holding its release package.
pub const RELEASE_DIR: &str = "release";

/// One repo the release package configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRepo {
    /// Its `.repo` file section(s), complete.
    pub section: String,
    /// The key its packages are signed with, if it has one.
    pub key: Option<ReleaseKey>,
}

/// A public key shipped in the release package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseKey {
    /// Its file name under `/etc/pki/rpm-gpg/`.
    pub file_name: String,
    /// The key, ASCII-armored.
    pub armored: String,
}

/// `owner` as it may appear in package and file names (`@grp` →
/// `group_grp`, as in Copr's repo ids).
fn owner_id(project: &ProjectRow) -> String {
    project.owner.as_str().replace('@', "group_")
}

/// The release package's name: `koper-<owner>-<project>`.
pub fn package_name(project: &ProjectRow) -> String {
    format!("koper-{}-{}", owner_id(project), project.name)
}

/// Where a project's key is installed.
pub fn key_file_name(app: &App, project: &ProjectRow) -> String {
    format!(
        "RPM-GPG-KEY-koper-{}-{}-{}",
        keys::instance_host(app),
        owner_id(project),
        project.name
    )
}

/// The repos of the projects and external repos `project` depends on, for
/// `chroot` (followed transitively, as builds see them): each
/// `copr://owner/project` dependency contributes its own `.repo` section
/// with a `coprdep:` id and its key, each external URL a section without
/// a key.
pub async fn dependency_repos(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<Vec<ReleaseRepo>> {
    let Some(definition) = app.chroots().get(chroot).cloned() else {
        return Ok(Vec::new());
    };
    let found = buildroot::dependencies(app, project, &definition).await?;
    let mut repos = Vec::new();
    for dependency in &found.projects {
        let section = repo_file::render(app, dependency, chroot)?;
        let section = match section.strip_prefix("[copr:") {
            Some(rest) => format!("[coprdep:{rest}"),
            None => section,
        };
        let key = keys::project_key(app, dependency).await?;
        repos.push(ReleaseRepo {
            section,
            key: Some(ReleaseKey {
                file_name: key_file_name(app, dependency),
                armored: key
                    .public_key()
                    .map_err(Error::internal)?
                    .armored()
                    .to_owned(),
            }),
        });
    }
    for (index, url) in found.urls.iter().enumerate() {
        repos.push(ReleaseRepo {
            section: format!(
                "[{id}-extra-{n}]\nname=Repo {n} that {owner}/{name} builds against\n\
                 baseurl={url}\ntype=rpm-md\nskip_if_unavailable=True\nenabled=1\n",
                id = package_name(project),
                n = index + 1,
                owner = project.owner,
                name = project.name,
            ),
            key: None,
        });
    }
    Ok(repos)
}

/// The files of a release package (path → content), from the project's
/// own repo and its dependencies' repos.
pub fn contents(
    own: &ReleaseRepo,
    dependencies: &[ReleaseRepo],
    repo_file_name: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut repo_text = own.section.clone();
    for dependency in dependencies {
        repo_text.push('\n');
        repo_text.push_str(&dependency.section);
    }
    let mut files = vec![(
        format!("/etc/yum.repos.d/{repo_file_name}"),
        repo_text.into_bytes(),
    )];
    for key in std::iter::once(own)
        .chain(dependencies)
        .filter_map(|repo| repo.key.as_ref())
    {
        let path = format!("/etc/pki/rpm-gpg/{}", key.file_name);
        if !files.iter().any(|(p, _)| *p == path) {
            files.push((path, key.armored.clone().into_bytes()));
        }
    }
    files
}

fn digest(files: &[(String, Vec<u8>)]) -> String {
    let mut hasher = Sha256::new();
    for (path, content) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(content);
    }
    hex::encode(hasher.finalize())
}

/// Makes the release packages of every chroot of `project` that need one.
pub async fn refresh_all(app: &App, project: &ProjectRow) -> Result<()> {
    for chroot in &project.chroots {
        refresh(app, project, chroot).await?;
    }
    Ok(())
}

/// Makes a new release package for `project`'s `chroot` when there is
/// none or its content changed, and publishes it in the chroot repo.
pub async fn refresh(app: &App, project: &ProjectRow, chroot: &ChrootName) -> Result<()> {
    let key = keys::project_key(app, project).await?;
    let own = ReleaseRepo {
        section: repo_file::render(app, project, chroot)?,
        key: Some(ReleaseKey {
            file_name: key_file_name(app, project),
            armored: key
                .public_key()
                .map_err(Error::internal)?
                .armored()
                .to_owned(),
        }),
    };
    let dependencies = dependency_repos(app, project, chroot).await?;
    let name = package_name(project);
    let files = contents(&own, &dependencies, &format!("{name}.repo"));
    let content_sha256 = digest(&files);
    let repo_dir = app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot);
    let current = app.db().release_package(project.id, chroot).await?;
    if let Some(current) = &current
        && current.content_sha256 == content_sha256
        && repo_dir
            .join(RELEASE_DIR)
            .join(&current.file_name)
            .is_file()
    {
        return Ok(());
    }
    let release = current.as_ref().map_or(1, |c| c.release + 1);
    let file_name = format!("{name}-1-{release}.noarch.rpm");
    let summary = format!(
        "Repository configuration and signing key of {}/{}",
        project.owner, project.name
    );
    let description = format!(
        "Installs the dnf repository of the koper project {}/{} for {chroot}, the repos \
         it depends on, and the keys their packages and metadata are signed with.",
        project.owner, project.name
    );
    let url = format!(
        "{}/coprs/{}/{}/",
        app.public_url(),
        project.owner,
        project.name
    );
    let dir = repo_dir.join(RELEASE_DIR);
    let target = dir.join(&file_name);
    {
        let key = key.clone();
        let target = target.clone();
        let name = name.clone();
        let release = release.to_string();
        tokio::task::spawn_blocking(move || {
            build_package(
                &key,
                &name,
                &release,
                &summary,
                &description,
                &url,
                &files,
                &target,
            )
        })
        .await??;
    }
    publisher::replace_release_package(
        app,
        project,
        chroot,
        RepoPackage {
            path: target,
            location: format!("{RELEASE_DIR}/{file_name}"),
        },
    )
    .await?;
    app.db()
        .set_release_package(
            project.id,
            chroot,
            &ReleaseRow {
                release,
                content_sha256,
                file_name: file_name.clone(),
            },
        )
        .await?;
    remove_others(&dir, &file_name).await;
    tracing::info!(project = %format!("{}/{}", project.owner, project.name), %chroot,
        release, "release package made");
    Ok(())
}

/// Removes earlier release packages (the metadata no longer lists them).
async fn remove_others(dir: &Path, keep: &str) {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.file_name().to_string_lossy() != keep {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the package's fields, each from a different place"
)]
fn build_package(
    key: &SigningKey,
    name: &str,
    release: &str,
    summary: &str,
    description: &str,
    url: &str,
    files: &[(String, Vec<u8>)],
    target: &PathBuf,
) -> Result<()> {
    let mut builder = koper_rpm::rpm::PackageBuilder::new(name, "1", "MIT", "noarch", summary);
    builder
        .release(release)
        .description(description)
        .url(url)
        .vendor("koper");
    for (path, content) in files {
        let mut options = koper_rpm::rpm::FileOptions::new(path.clone()).permissions(0o644);
        if path.ends_with(".repo") {
            // The user's edits survive upgrades.
            options = options.config().noreplace();
        }
        builder
            .with_file_contents(content.clone(), options)
            .map_err(Error::internal)?;
    }
    let package = builder
        .build_and_sign(key.rpm_signer().clone())
        .map_err(Error::internal)?;
    let dir = target
        .parent()
        .ok_or_else(|| Error::internal("release package without a directory"))?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{}.tmp", koper_storage::random_suffix()));
    let result = (|| -> Result<()> {
        let mut bytes = Vec::new();
        package.write(&mut bytes).map_err(Error::internal)?;
        koper_storage::write_atomically(&temp, &bytes)?;
        std::fs::rename(&temp, target)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// The URL of a project chroot's current release package, if it has one.
pub async fn release_url(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<Option<String>> {
    Ok(app
        .db()
        .release_package(project.id, chroot)
        .await?
        .map(|row| {
            format!(
                "{}/{}/{}/{chroot}/{RELEASE_DIR}/{}",
                app.results_url(),
                project.owner,
                project.name,
                row.file_name
            )
        }))
}
