//! What the browsable pages show: a repo's packages (from its published
//! metadata, like repoview), a package's versions with changelog and files
//! (from the RPM headers), a project's recent builds as an Atom feed.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use koper_db::{BuildRow, ProjectRow};
use koper_repodata::ListedPackage;
use koper_types::ChrootName;

use crate::app::App;
use crate::builds;
use crate::error::{Error, Result};

/// The packages a chroot repo lists now, sorted by name and version
/// (newest last).
pub async fn repo_packages(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<Vec<ListedPackage>> {
    let repo = repo_dir(app, project, chroot)?;
    let mut packages = tokio::task::spawn_blocking(move || read_primary(&repo)).await??;
    packages.sort_by(|a, b| {
        (a.name.as_str(), a.build_time, a.arch.as_str()).cmp(&(
            b.name.as_str(),
            b.build_time,
            b.arch.as_str(),
        ))
    });
    Ok(packages)
}

fn repo_dir(app: &App, project: &ProjectRow, chroot: &ChrootName) -> Result<PathBuf> {
    if !project.chroots.contains(chroot) {
        return Err(Error::NotFound(format!(
            "project {}/{} has no chroot {chroot}",
            project.owner, project.name
        )));
    }
    Ok(app
        .data()
        .results()
        .repo_dir(&project.owner, &project.name, chroot))
}

fn read_primary(repo: &Path) -> Result<Vec<ListedPackage>> {
    let repomd = match std::fs::read_to_string(repo.join("repodata/repomd.xml")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let Some(primary) = koper_repodata::parse_repomd(&repomd)
        .into_iter()
        .find(|e| e.kind == "primary")
    else {
        return Ok(Vec::new());
    };
    let bytes = std::fs::read(repo.join(&primary.href))?;
    let xml = koper_repodata::decompress(&primary.href, &bytes)?;
    Ok(koper_repodata::primary_packages(&String::from_utf8_lossy(
        &xml,
    )))
}

/// One changelog entry.
#[derive(Debug, Clone)]
pub struct ChangelogEntry {
    /// Unix seconds.
    pub time: i64,
    /// Who and which version.
    pub author: String,
    /// What changed.
    pub text: String,
}

/// One published version of a package.
#[derive(Debug, Clone)]
pub struct PackageDetails {
    /// What the metadata says.
    pub listed: ListedPackage,
    /// The long description.
    pub description: String,
    /// Its licence.
    pub license: String,
    /// Its upstream URL.
    pub url: String,
    /// Newest first.
    pub changelog: Vec<ChangelogEntry>,
    /// Every file it installs.
    pub files: Vec<String>,
}

/// Every published version of the package `name` in a chroot repo, newest
/// first.
pub async fn package_details(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    name: &str,
) -> Result<Vec<PackageDetails>> {
    let mut listed: Vec<ListedPackage> = repo_packages(app, project, chroot)
        .await?
        .into_iter()
        .filter(|p| p.name == name)
        .collect();
    if listed.is_empty() {
        return Err(Error::NotFound(format!(
            "the {chroot} repo of {}/{} has no package {name}",
            project.owner, project.name
        )));
    }
    listed.reverse();
    let repo = repo_dir(app, project, chroot)?;
    Ok(tokio::task::spawn_blocking(move || {
        listed
            .into_iter()
            .map(|listed| details(&repo, listed))
            .collect::<Vec<_>>()
    })
    .await?)
}

fn details(repo: &Path, listed: ListedPackage) -> PackageDetails {
    let mut details = PackageDetails {
        listed,
        description: String::new(),
        license: String::new(),
        url: String::new(),
        changelog: Vec::new(),
        files: Vec::new(),
    };
    let location = &details.listed.location;
    if location.contains("..") || location.starts_with('/') {
        return details;
    }
    let Ok(meta) = koper_rpm::rpm::PackageMetadata::open(repo.join(location)) else {
        return details;
    };
    details.description = meta.get_description().unwrap_or_default().to_owned();
    details.license = meta.get_license().unwrap_or_default().to_owned();
    details.url = meta.get_url().unwrap_or_default().to_owned();
    details.changelog = meta
        .get_changelog_entries()
        .unwrap_or_default()
        .into_iter()
        .map(|e| ChangelogEntry {
            time: i64::try_from(e.timestamp).unwrap_or(0),
            author: e.name,
            text: e.description,
        })
        .collect();
    details.files = meta
        .get_file_paths()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    details
}

/// RFC 3339 time of Unix seconds.
pub fn rfc3339(secs: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    humantime::format_rfc3339_seconds(time).to_string()
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Atom feed of a project's builds that ended, newest first.
pub async fn feed(app: &App, project: &ProjectRow) -> Result<String> {
    let builds: Vec<BuildRow> = app
        .db()
        .list_builds(project.id, 50, 0)
        .await?
        .into_iter()
        .filter(|b| builds::state_of(b).is_final())
        .collect();
    let page = format!(
        "{}/coprs/{}/{}/",
        app.public_url(),
        project.owner,
        project.name
    );
    let host = crate::keys::instance_host(app);
    let ended = |b: &BuildRow| {
        b.chroots
            .iter()
            .filter_map(|c| c.ended_on)
            .max()
            .unwrap_or(b.submitted_on)
    };
    let updated = builds.iter().map(ended).max().unwrap_or(project.created_on);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    out.push_str(&format!(
        "  <title>{}</title>\n  <id>tag:{host},2026:koper:{}/{}</id>\n  \
         <link rel=\"self\" href=\"{}feed.atom\"/>\n  <link href=\"{}\"/>\n  \
         <updated>{}</updated>\n  <author><name>{}</name></author>\n",
        xml_escape(&format!("New builds in {}/{}", project.owner, project.name)),
        xml_escape(project.owner.as_str()),
        xml_escape(project.name.as_str()),
        xml_escape(&page),
        xml_escape(&page),
        rfc3339(updated),
        xml_escape(project.owner.as_str()),
    ));
    for build in &builds {
        let state = builds::state_of(build);
        let package = match (&build.package_name, &build.package_version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            _ => "a build".to_owned(),
        };
        let chroots: Vec<String> = build
            .chroots
            .iter()
            .map(|c| format!("{}: {}", c.chroot, c.state))
            .collect();
        let link = build
            .chroots
            .iter()
            .find_map(|c| {
                c.result_dir.as_ref().map(|dir| {
                    format!(
                        "{}/{}/{}/{}/{dir}/",
                        app.results_url(),
                        project.owner,
                        project.name,
                        c.chroot
                    )
                })
            })
            .unwrap_or_else(|| page.clone());
        out.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <id>tag:{host},2026:koper:build:{}</id>\n    \
             <link href=\"{}\"/>\n    <updated>{}</updated>\n    <summary>{}</summary>\n  </entry>\n",
            xml_escape(&format!("Build {}: {package} {state}", build.id)),
            build.id,
            xml_escape(&link),
            rfc3339(ended(build)),
            xml_escape(&chroots.join(", ")),
        ));
    }
    out.push_str("</feed>\n");
    Ok(out)
}
