//! What a build's buildroot is made from besides its chroot: the project's
//! own repo, the repos of the projects it depends on (`copr://owner/project`,
//! followed transitively, each project once, so cycles end), external repo
//! URLs with `$releasever`/`$basearch` expanded for the chroot, and the
//! project chroot's extra packages. Repo priorities are each project's
//! `repo_priority`.

use std::collections::{BTreeSet, VecDeque};

use koper_chroots::{BaseRoot, ChrootDefinition, RepoDefinition};
use koper_db::ProjectRow;
use koper_types::{ChrootName, OwnerName, ProjectName};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::{Error, Result};

/// The most additional repos one project may list.
pub const MAX_ADDITIONAL_REPOS: usize = 32;
/// The most repos a buildroot takes packages from, dependencies of
/// dependencies included; a longer chain is cut (and logged).
const MAX_RESOLVED_REPOS: usize = 64;
/// The longest repo URL accepted.
const MAX_URL_LEN: usize = 1024;
/// The most extra buildroot packages per project chroot.
pub const MAX_PACKAGES: usize = 128;

/// One entry of a project's additional repos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoRef {
    /// `copr://owner/project`: that project's repo for the same chroot.
    Project {
        /// The owner (`@group` for groups).
        owner: OwnerName,
        /// The project.
        name: ProjectName,
    },
    /// An http(s) repo URL, possibly with `$releasever`/`$basearch`.
    Url(String),
}

impl RepoRef {
    /// Reads one entry; the error says what is accepted.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = text.strip_prefix("copr://") {
            let (owner, name) = rest
                .trim_end_matches('/')
                .split_once('/')
                .ok_or_else(|| format!("{text:?}: a project reference is copr://OWNER/PROJECT"))?;
            let owner = owner.parse().map_err(|e| format!("{text:?}: {e}"))?;
            let name = name.parse().map_err(|e| format!("{text:?}: {e}"))?;
            return Ok(Self::Project { owner, name });
        }
        let scheme_ok = text.starts_with("http://") || text.starts_with("https://");
        if !scheme_ok {
            return Err(format!(
                "{text:?}: only copr://OWNER/PROJECT and http(s) repo URLs are accepted"
            ));
        }
        if text.len() > MAX_URL_LEN
            || text.len() <= "https://".len()
            || text.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("{text:?} is not a usable repo URL"));
        }
        Ok(Self::Url(text.to_owned()))
    }
}

/// Checks a project's additional repos: the syntax, the count, and that
/// referenced projects exist.
pub async fn check_additional_repos(app: &App, repos: &[String]) -> Result<()> {
    if repos.len() > MAX_ADDITIONAL_REPOS {
        return Err(Error::bad_request(format!(
            "{} additional repos given; at most {MAX_ADDITIONAL_REPOS} are allowed",
            repos.len()
        )));
    }
    for text in repos {
        match RepoRef::parse(text).map_err(Error::bad_request)? {
            RepoRef::Project { owner, name } => {
                if app.db().find_project(&owner, &name).await?.is_none() {
                    return Err(Error::bad_request(format!(
                        "{text}: project {owner}/{name} does not exist"
                    )));
                }
            }
            RepoRef::Url(_) => {}
        }
    }
    Ok(())
}

/// Checks a project chroot's extra buildroot packages.
pub fn check_packages(packages: &[String]) -> Result<()> {
    if packages.len() > MAX_PACKAGES {
        return Err(Error::bad_request(format!(
            "{} packages given; at most {MAX_PACKAGES} are allowed",
            packages.len()
        )));
    }
    for package in packages {
        let ok = !package.is_empty()
            && package.len() <= 256
            && !package.starts_with('-')
            && package
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-:()<>=@/*".contains(&b));
        if !ok {
            return Err(Error::bad_request(format!(
                "{package:?} is not a package name or capability"
            )));
        }
    }
    Ok(())
}

/// `owner` as it may appear in repo ids (`@grp` → `group_grp`).
fn owner_id(owner: &OwnerName) -> String {
    owner.as_str().replace('@', "group_")
}

/// The repo of `project` for `chroot` as a buildroot sees it: signed with
/// the project's key, at the project's priority.
pub fn project_repo(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
    id: String,
) -> RepoDefinition {
    let root = format!("{}/{}/{}", app.results_url(), project.owner, project.name);
    RepoDefinition {
        id,
        baseurl: Some(format!("{root}/{chroot}/")),
        metalink: None,
        priority: project
            .buildroot
            .repo_priority
            .and_then(|p| u32::try_from(p).ok())
            .filter(|p| *p > 0),
        gpgkey: Some(format!("{root}/pubkey.gpg")),
    }
}

/// The repo id of a project's own repo in its builds.
pub fn own_repo_id(project: &ProjectRow) -> String {
    format!("koper-{}-{}", owner_id(&project.owner), project.name)
}

/// The repo id of a dependency project's repo (Copr's `coprdep:` form).
pub fn dependency_repo_id(project: &ProjectRow) -> String {
    format!("coprdep:{}:{}", owner_id(&project.owner), project.name)
}

/// `$releasever` and `$basearch` as dnf would expand them in this chroot.
pub fn expand_url(url: &str, chroot: &ChrootDefinition) -> String {
    let releasever = match &chroot.base_root {
        BaseRoot::Dnf { releasever, .. } => releasever.as_str(),
        BaseRoot::Directory { .. } => chroot.name.release(),
    };
    url.replace("${releasever}", releasever)
        .replace("$releasever", releasever)
        .replace("${basearch}", &chroot.arch)
        .replace("$basearch", &chroot.arch)
}

/// What a project depends on for one chroot, in order: the projects it
/// references (breadth first, each once) and the external URLs (each
/// once), as found by following `copr://` references transitively.
#[derive(Debug, Default)]
pub struct Dependencies {
    /// Projects that have the chroot, nearest first.
    pub projects: Vec<ProjectRow>,
    /// External URLs, expanded for the chroot.
    pub urls: Vec<String>,
}

/// Follows `project`'s additional repos transitively for `chroot`.
/// Projects are visited once, so a cycle (stable → unstable → stable)
/// ends; deleted projects and projects without the chroot contribute no
/// repo (their own dependencies still count).
pub async fn dependencies(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootDefinition,
) -> Result<Dependencies> {
    let mut found = Dependencies::default();
    let mut seen_projects = BTreeSet::from([project.id]);
    let mut seen_urls = BTreeSet::new();
    let mut queue: VecDeque<String> = project.buildroot.additional_repos.iter().cloned().collect();
    while let Some(text) = queue.pop_front() {
        if found.projects.len() + found.urls.len() >= MAX_RESOLVED_REPOS {
            tracing::warn!(
                project = %format!("{}/{}", project.owner, project.name),
                "more than {MAX_RESOLVED_REPOS} dependency repos; the rest are left out"
            );
            break;
        }
        // Entries were checked when stored; one that no longer parses is
        // skipped rather than failing every build.
        let Ok(reference) = RepoRef::parse(&text) else {
            continue;
        };
        match reference {
            RepoRef::Project { owner, name } => {
                let Some(dependency) = app.db().find_project(&owner, &name).await? else {
                    continue;
                };
                if !seen_projects.insert(dependency.id) {
                    continue;
                }
                queue.extend(dependency.buildroot.additional_repos.iter().cloned());
                if dependency.chroots.contains(&chroot.name) {
                    found.projects.push(dependency);
                }
            }
            RepoRef::Url(url) => {
                let url = expand_url(&url, chroot);
                if seen_urls.insert(url.clone()) {
                    found.urls.push(url);
                }
            }
        }
    }
    Ok(found)
}

/// The repo id of an external repo: stable per URL.
fn url_repo_id(url: &str) -> String {
    let digest = hex::encode(Sha256::digest(url.as_bytes()));
    format!("koper-extra-{}", &digest[..12])
}

/// The repos a build of `project` in `chroot` takes BuildRequires from
/// besides the chroot's own: the project's repo, then its dependencies'.
pub async fn build_repos(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootDefinition,
) -> Result<Vec<RepoDefinition>> {
    let found = dependencies(app, project, chroot).await?;
    let mut repos = vec![project_repo(
        app,
        project,
        &chroot.name,
        own_repo_id(project),
    )];
    for dependency in &found.projects {
        repos.push(project_repo(
            app,
            dependency,
            &chroot.name,
            dependency_repo_id(dependency),
        ));
    }
    for url in &found.urls {
        repos.push(RepoDefinition {
            id: url_repo_id(url),
            baseurl: Some(url.clone()),
            metalink: None,
            priority: None,
            gpgkey: None,
        });
    }
    Ok(repos)
}

/// The packages installed into every buildroot of `project`'s `chroot`.
pub async fn extra_packages(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<Vec<String>> {
    Ok(app
        .db()
        .chroot_buildroot_packages(project.id, chroot)
        .await?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_urls_parse() {
        assert_eq!(
            RepoRef::parse("copr://alice/kde-stable").unwrap(),
            RepoRef::Project {
                owner: "alice".parse().unwrap(),
                name: "kde-stable".parse().unwrap()
            }
        );
        assert!(matches!(
            RepoRef::parse("copr://@kde/stable/"),
            Ok(RepoRef::Project { .. })
        ));
        assert!(matches!(
            RepoRef::parse("https://example.org/$releasever/$basearch/"),
            Ok(RepoRef::Url(_))
        ));
        for bad in [
            "copr://alice",
            "copr://alice/../x",
            "file:///etc",
            "ftp://example.org/",
            "http://a b/",
            "http://x/\ngpgcheck=0",
            "https://",
            "alice/x",
        ] {
            assert!(RepoRef::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn packages_are_names_or_capabilities() {
        let ok = |p: &[&str]| check_packages(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["make", "pkgconfig(glib-2.0)", "/usr/bin/ls", "gcc-c++"]).is_ok());
        assert!(ok(&["--nogpgcheck"]).is_err());
        assert!(ok(&["a b"]).is_err());
        assert!(ok(&["x\ny"]).is_err());
        assert!(ok(&[""]).is_err());
    }

    #[test]
    fn variables_expand_for_the_chroot() {
        let chroot = ChrootDefinition {
            name: "fedora-42-x86_64".parse().unwrap(),
            arch: "x86_64".into(),
            description: String::new(),
            base_root: BaseRoot::Dnf {
                releasever: "42".into(),
                packages: vec![],
            },
            repos: vec![],
            macros: Default::default(),
            tags: Default::default(),
            refresh: 0,
            upstream: None,
        };
        assert_eq!(
            expand_url("http://x/$releasever/${basearch}/os/$basearch", &chroot),
            "http://x/42/x86_64/os/x86_64"
        );
        assert_ne!(url_repo_id("http://a/"), url_repo_id("http://b/"));
    }
}
