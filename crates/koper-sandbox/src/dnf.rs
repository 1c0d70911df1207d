//! dnf's configuration and command lines. dnf always runs inside the
//! privileged dnf sandbox (see `bwrap`), where the buildroot is
//! [`INSTALLROOT`] and koper's files for dnf are under [`KOPER_DIR`]; the
//! paths here are the ones dnf sees there.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use koper_chroots::RepoDefinition;

use crate::provides::PACKAGE;
use crate::{SandboxError, ServerCa};

/// Where the buildroot is inside the dnf sandbox.
pub(crate) const INSTALLROOT: &str = "/installroot";
/// Where dnf's configuration, cache, logs and HOME are inside the dnf
/// sandbox (a per-build or per-base directory on the host).
pub(crate) const KOPER_DIR: &str = "/koper";
/// Where the build's input (the SRPM) is inside the dnf sandbox.
pub(crate) const INPUT_DIR: &str = "/koper-in";

/// The files of [`KOPER_DIR`] koper writes before running dnf.
pub(crate) struct DnfFiles {
    /// `dnf.conf`: `[main]` and one section per repo.
    pub(crate) config: String,
    /// `home/.rpmmacros`: pins the rpmdb path, which Debian's rpm would
    /// otherwise put under HOME.
    pub(crate) rpmmacros: String,
    /// `server-ca.pem`: certificates for the builder's server's repos.
    pub(crate) server_ca: Option<String>,
}

/// Where the server's CA certificates are, in koper's dnf directory.
pub(crate) const SERVER_CA_FILE: &str = "server-ca.pem";

/// Writes the dnf configuration for `repos`. Metadata timeouts are short
/// and retries few, so an unreachable mirror fails in seconds, not hours.
/// The virtual package of a directory base root is protected: a package
/// that obsoletes one of its names must not remove it.
pub(crate) fn files(
    repos: &[&RepoDefinition],
    server_ca: Option<&ServerCa>,
) -> Result<DnfFiles, SandboxError> {
    let mut config = String::new();
    let _ = write!(
        config,
        "[main]\n\
         cachedir={KOPER_DIR}/cache\n\
         logdir={KOPER_DIR}/log\n\
         reposdir={KOPER_DIR}/repos.d\n\
         keepcache=0\n\
         install_weak_deps=0\n\
         gpgcheck=0\n\
         repo_gpgcheck=0\n\
         skip_if_unavailable=0\n\
         protected_packages={PACKAGE}\n\
         timeout=20\n\
         retries=2\n\
         metadata_expire=0\n"
    );
    let mut seen = std::collections::BTreeSet::new();
    for repo in repos {
        check_repo(repo)?;
        if !seen.insert(repo.id.as_str()) {
            return Err(SandboxError::InvalidRequest(format!(
                "repo id {} is used twice",
                repo.id
            )));
        }
        let _ = write!(config, "\n[{id}]\nname={id}\nenabled=1\n", id = repo.id);
        if let Some(url) = &repo.baseurl {
            let _ = writeln!(config, "baseurl={url}");
        }
        if let Some(url) = &repo.metalink {
            let _ = writeln!(config, "metalink={url}");
        }
        if let Some(priority) = repo.priority {
            let _ = writeln!(config, "priority={priority}");
        }
        // Only the server's own repos trust its CA; mirrors keep the
        // system's roots.
        let from_server = |url: &Option<String>| {
            server_ca.is_some_and(|ca| url.as_ref().is_some_and(|u| u.starts_with(&ca.url)))
        };
        if from_server(&repo.baseurl) || from_server(&repo.gpgkey) {
            let _ = writeln!(config, "sslcacert={KOPER_DIR}/{SERVER_CA_FILE}");
        }
        // A signed repo (a koper project's): dnf imports its key into the
        // build's own rpmdb and refuses unsigned or tampered packages and
        // metadata, so a build cannot be fed what the project never made.
        if let Some(key) = &repo.gpgkey {
            let _ = writeln!(config, "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey={key}");
        }
    }
    Ok(DnfFiles {
        config,
        rpmmacros: "%_dbpath /var/lib/rpm\n".into(),
        server_ca: server_ca.map(|ca| ca.pem.clone()),
    })
}

fn check_repo(repo: &RepoDefinition) -> Result<(), SandboxError> {
    let id_ok = !repo.id.is_empty()
        && repo.id != "main"
        && !repo.id.starts_with(['-', '.'])
        && repo
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if !id_ok {
        return Err(SandboxError::InvalidRequest(format!(
            "{:?} is not a valid repo id",
            repo.id
        )));
    }
    if repo.baseurl.is_none() == repo.metalink.is_none() {
        return Err(SandboxError::InvalidRequest(format!(
            "repo {} needs exactly one of baseurl and metalink",
            repo.id
        )));
    }
    for url in repo
        .baseurl
        .iter()
        .chain(&repo.metalink)
        .chain(&repo.gpgkey)
    {
        if url.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(SandboxError::InvalidRequest(format!(
                "repo {} has an invalid URL {url:?}",
                repo.id
            )));
        }
    }
    Ok(())
}

/// The local directories of `file://` repos, which the dnf sandbox must
/// show at the same path.
pub(crate) fn local_repo_dirs<'r>(repos: &[&'r RepoDefinition]) -> Vec<&'r Path> {
    repos
        .iter()
        .filter_map(|repo| repo.baseurl.as_deref())
        .filter_map(|url| url.strip_prefix("file://"))
        .map(|path| Path::new(path.trim_end_matches('/')))
        .filter(|path| path.is_absolute() && path.is_dir())
        .collect()
}

/// The options every dnf command gets.
fn common(releasever: &str) -> Vec<OsString> {
    [
        "-y".to_owned(),
        format!("--installroot={INSTALLROOT}"),
        format!("--config={KOPER_DIR}/dnf.conf"),
        format!("--setopt=reposdir={KOPER_DIR}/repos.d"),
        format!("--releasever={releasever}"),
    ]
    .into_iter()
    .map(OsString::from)
    .collect()
}

/// `dnf makecache`: fetches the repos' metadata only. Run before a base
/// root install so that unreachable mirrors are told apart from failed
/// installs.
pub(crate) fn makecache_args(releasever: &str) -> Vec<OsString> {
    let mut args = vec![OsString::from("makecache")];
    args.extend(common(releasever));
    args.push("--noplugins".into());
    args
}

/// `dnf install` of a base root's packages.
pub(crate) fn install_args(
    releasever: &str,
    packages: &[String],
) -> Result<Vec<OsString>, SandboxError> {
    let mut args = vec![OsString::from("install")];
    args.extend(common(releasever));
    args.push("--noplugins".into());
    args.push("--".into());
    args.extend(package_args(packages)?);
    Ok(args)
}

/// `dnf install` of a project chroot's extra buildroot packages into a
/// build's buildroot (before its BuildRequires), with the same plugins and
/// scriptlet rule as [`builddep_args`].
pub(crate) fn install_extra_args(
    releasever: &str,
    packages: &[String],
    scripts: bool,
) -> Result<Vec<OsString>, SandboxError> {
    let mut args = vec![OsString::from("install")];
    args.extend(common(releasever));
    args.push("--disableplugin=*".into());
    if !scripts {
        args.push("--setopt=tsflags=noscripts".into());
    }
    args.push("--".into());
    args.extend(package_args(packages)?);
    Ok(args)
}

/// Package names or specs for a dnf command line; nothing that dnf could
/// read as an option or that could carry a second word.
fn package_args(packages: &[String]) -> Result<Vec<OsString>, SandboxError> {
    packages
        .iter()
        .map(|package| {
            if package.is_empty()
                || package.starts_with('-')
                || package.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                Err(SandboxError::InvalidRequest(format!(
                    "{package:?} is not a package name"
                )))
            } else {
                Ok(package.into())
            }
        })
        .collect()
}

/// `dnf builddep` of an SRPM (a file name in [`INPUT_DIR`]). Only the
/// builddep plugin is loaded: Debian's dnf enables `local` and
/// `show_leaves`, which break installroot use. Scriptlets of the installed
/// packages are skipped when `scripts` is false (directory base roots,
/// whose /etc is the host's: nothing a repo ships may run as root there).
pub(crate) fn builddep_args(releasever: &str, srpm_name: &str, scripts: bool) -> Vec<OsString> {
    let mut args = vec![OsString::from("builddep")];
    args.extend(common(releasever));
    args.push("--disableplugin=*".into());
    args.push("--enableplugin=builddep".into());
    if !scripts {
        args.push("--setopt=tsflags=noscripts".into());
    }
    args.push(format!("{INPUT_DIR}/{srpm_name}").into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(id: &str, baseurl: Option<&str>, metalink: Option<&str>) -> RepoDefinition {
        RepoDefinition {
            id: id.into(),
            baseurl: baseurl.map(Into::into),
            metalink: metalink.map(Into::into),
            priority: None,
            gpgkey: None,
        }
    }

    fn strings(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn the_config_has_main_and_one_section_per_repo() {
        let fedora = repo(
            "fedora",
            None,
            Some("https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=$basearch"),
        );
        let mut project = repo("copr-alice-tools", Some("http://127.0.0.1:8080/r/"), None);
        project.priority = Some(10);
        let files = files(&[&fedora, &project], None).unwrap();
        assert!(files.config.starts_with("[main]\ncachedir=/koper/cache\n"));
        assert!(files.config.contains("timeout=20\n"));
        assert!(files.config.contains(
            "\n[fedora]\nname=fedora\nenabled=1\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-42&arch=$basearch\n"
        ));
        assert!(files.config.contains(
            "\n[copr-alice-tools]\nname=copr-alice-tools\nenabled=1\nbaseurl=http://127.0.0.1:8080/r/\npriority=10\n"
        ));
        assert_eq!(files.rpmmacros, "%_dbpath /var/lib/rpm\n");
        assert!(!files.config.contains("gpgcheck=1"));
    }

    #[test]
    fn signed_repos_are_checked_against_their_key() {
        let mut project = repo("koper-alice-x", Some("http://127.0.0.1:1/r/"), None);
        project.gpgkey = Some("http://127.0.0.1:1/alice/x/pubkey.gpg".into());
        let written = files(&[&project], None).unwrap();
        assert!(written.config.contains(
            "baseurl=http://127.0.0.1:1/r/\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=http://127.0.0.1:1/alice/x/pubkey.gpg\n"
        ));
        project.gpgkey = Some("http://a/key\ngpgcheck=0".into());
        assert!(files(&[&project], None).is_err());
    }

    #[test]
    fn only_the_servers_repos_trust_its_ca() {
        let ca = ServerCa {
            url: "https://127.0.0.1:5050".into(),
            pem: "-----BEGIN CERTIFICATE-----\n".into(),
        };
        let own = repo(
            "koper-alice-x",
            Some("https://127.0.0.1:5050/results/a/x/"),
            None,
        );
        let mirror = repo("fedora", Some("https://mirror.example.org/f/"), None);
        let written = files(&[&own, &mirror], Some(&ca)).unwrap();
        assert!(written.config.contains(
            "baseurl=https://127.0.0.1:5050/results/a/x/\nsslcacert=/koper/server-ca.pem\n"
        ));
        assert_eq!(written.config.matches("sslcacert").count(), 1);
        assert_eq!(written.server_ca.as_deref(), Some(ca.pem.as_str()));
    }

    #[test]
    fn extra_packages_install_without_options_smuggled_in() {
        let args = install_extra_args("1", &["libfoo-devel".into(), "make".into()], false).unwrap();
        let args = strings(&args);
        assert_eq!(args[0], "install");
        assert!(args.contains(&"--setopt=tsflags=noscripts"));
        assert!(args.ends_with(&["--", "libfoo-devel", "make"]));
        assert!(install_extra_args("1", &["--nogpgcheck".into()], true).is_err());
        assert!(install_extra_args("1", &["a b".into()], true).is_err());
    }

    #[test]
    fn bad_repos_are_refused() {
        let ok = repo("a", Some("file:///srv/a"), None);
        assert!(files(&[&ok, &ok], None).is_err(), "duplicate id");
        assert!(files(&[&repo("main", Some("file:///a"), None)], None).is_err());
        assert!(files(&[&repo("a]\n[b", Some("file:///a"), None)], None).is_err());
        assert!(files(&[&repo("a", Some("file:///a\ngpgcheck=0"), None)], None).is_err());
        assert!(files(&[&repo("a", None, None)], None).is_err());
        assert!(files(&[&repo("a", Some("x"), Some("y"))], None).is_err());
    }

    #[test]
    fn base_root_commands() {
        let args = makecache_args("42");
        assert_eq!(
            strings(&args),
            [
                "makecache",
                "-y",
                "--installroot=/installroot",
                "--config=/koper/dnf.conf",
                "--setopt=reposdir=/koper/repos.d",
                "--releasever=42",
                "--noplugins"
            ]
        );
        let args = install_args("42", &["@buildsys-build".into(), "gcc".into()]).unwrap();
        assert_eq!(strings(&args)[0], "install");
        assert_eq!(strings(&args)[5], "--releasever=42");
        assert_eq!(
            strings(&args)[6..],
            ["--noplugins", "--", "@buildsys-build", "gcc"]
        );
        assert!(install_args("42", &["--nogpgcheck".into()]).is_err());
    }

    #[test]
    fn builddep_loads_only_its_plugin() {
        let args = builddep_args("1", "hello-1.0-1.src.rpm", false);
        let args = strings(&args);
        assert_eq!(args[0], "builddep");
        assert!(args.contains(&"--disableplugin=*"));
        assert!(args.contains(&"--enableplugin=builddep"));
        assert!(args.contains(&"--setopt=tsflags=noscripts"));
        assert_eq!(args.last(), Some(&"/koper-in/hello-1.0-1.src.rpm"));
        let with_scripts = builddep_args("42", "x.src.rpm", true);
        assert!(!strings(&with_scripts).contains(&"--setopt=tsflags=noscripts"));
    }

    #[test]
    fn file_repos_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/", dir.path().display());
        let local = repo("local", Some(&url), None);
        let remote = repo("remote", Some("http://127.0.0.1:1/"), None);
        assert_eq!(local_repo_dirs(&[&local, &remote]), [dir.path()]);
    }
}
