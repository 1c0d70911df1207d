//! Base roots: made once, cached, shared read-only by every build.
//!
//! The cache keeps one directory per base root (`<cache>/bases/<slug>`) and
//! in it one directory per version (a fingerprint of what the base root is
//! made from). A version is built under `generate.lock` in a `.partial`
//! directory and renamed into place when complete, so readers never see
//! half a version. Every [`PreparedBase`] holds a shared lock on its
//! version's `lock` file; an old version is deleted only when nobody holds
//! it.
//!
//! - A [`BaseRoot::Directory`] is used in place; its version holds the
//!   rpmdb layer: an rpmdb with one virtual package whose Provides describe
//!   the tree, and an ld.so configuration that adds `/usr/lib64`. The
//!   fingerprint covers the modification times of the directories and
//!   files that change when software is installed, so it is cheap to
//!   compute and follows updates of the tree.
//! - A [`BaseRoot::Dnf`] is installed by dnf into the version as mock does;
//!   the fingerprint covers the definition (release, packages, repos).

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use koper_chroots::{BaseRoot, ChrootDefinition, RepoDefinition};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use crate::bwrap::{self, DnfView};
use crate::layout::Layout;
use crate::logs::{Channel, Logs, Output, Quiet};
use crate::process::{self, Ended, Limits};
use crate::{CancelToken, SandboxConfig, SandboxError, dnf, fsutil, provides};

/// Bumped whenever what a version contains changes, so caches made by an
/// older koper are not reused.
const GENERATION: &str = "koper-sandbox base v1";

/// How long fetching a base root's repo metadata may take before the repos
/// count as unreachable.
const MAKECACHE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long installing a base root may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

/// What kind of base root this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A tree used in place, described by a virtual package.
    Directory,
    /// A root dnf installed, with a real rpmdb.
    Installed,
}

/// A base root ready to build on. While it exists its cached files stay:
/// dropping it lets a newer version replace them.
#[derive(Debug)]
pub struct PreparedBase {
    chroot: String,
    kind: Kind,
    root: PathBuf,
    layer: Option<PathBuf>,
    version_dir: PathBuf,
    provides: Option<usize>,
    _lock: Flock<File>,
}

impl PreparedBase {
    /// The tree buildroots are overlaid on (read-only): the directory
    /// itself, or the root dnf installed in the cache.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The rpmdb layer of a directory base root: a small tree
    /// (`var/lib/rpm`, `etc/ld.so.conf.d`) copied into each buildroot.
    pub fn rpmdb_layer(&self) -> Option<&Path> {
        self.layer.as_deref()
    }

    /// The cache directory of this version of the base root.
    pub fn cache_dir(&self) -> &Path {
        &self.version_dir
    }

    /// The virtual package describing a directory base root (the RPM
    /// installed into its rpmdb layer).
    pub(crate) fn virtual_package(&self) -> Option<PathBuf> {
        let path = self.version_dir.join(format!("{}.rpm", provides::PACKAGE));
        (self.kind == Kind::Directory && path.is_file()).then_some(path)
    }

    /// How many Provides the virtual package of a directory base root has.
    pub fn provides_count(&self) -> Option<usize> {
        self.provides
    }

    /// The chroot this base root was prepared for.
    pub fn chroot(&self) -> &str {
        &self.chroot
    }

    /// Another hold on this version of the base root, for what outlives
    /// the build that prepared it (the rpmlint server).
    pub(crate) fn share(&self) -> Result<Self, SandboxError> {
        let lock = open_lock(&self.version_dir.join("lock"))?;
        let lock = Flock::lock(lock, FlockArg::LockShared).map_err(|(_, e)| {
            SandboxError::sys(format!("locking {}", self.version_dir.display()))(e)
        })?;
        Ok(Self {
            chroot: self.chroot.clone(),
            kind: self.kind,
            root: self.root.clone(),
            layer: self.layer.clone(),
            version_dir: self.version_dir.clone(),
            provides: self.provides,
            _lock: lock,
        })
    }

    /// The top level of the base root.
    pub(crate) fn layout(&self) -> Result<Layout, SandboxError> {
        match self.kind {
            Kind::Directory => Layout::of_directory(&self.root),
            Kind::Installed => Layout::of_installed(&self.root),
        }
    }

    /// Whether scriptlets of BuildRequires run. Not over a directory base
    /// root: its /etc is a real system's (the host's), and a package from a
    /// user's repo must not run anything as root there; ldconfig, the one
    /// scriptlet that matters there, koper runs itself.
    pub(crate) fn runs_scriptlets(&self) -> bool {
        self.kind == Kind::Installed
    }
}

/// Makes (or finds in the cache) the base root of `chroot` and returns it.
/// Idempotent and safe to call from several threads or processes at once;
/// [`crate::run_build`] calls it itself. Progress goes to `tracing`.
///
/// A directory base root takes a few seconds the first time (and after the
/// tree changed). A dnf base root needs the chroot's repos: when they
/// cannot be reached this fails with [`SandboxError::ReposUnreachable`]
/// within minutes at most, not hours.
pub fn prepare_base_root(
    config: &SandboxConfig,
    chroot: &ChrootDefinition,
) -> Result<PreparedBase, SandboxError> {
    match prepare(config, chroot, None, &CancelToken::new())? {
        Prepared::Ready(base) => Ok(base),
        Prepared::Interrupted(_) => Err(SandboxError::BaseRoot {
            chroot: chroot.name.to_string(),
            message: "interrupted".into(),
        }),
    }
}

/// The result of [`prepare`].
pub(crate) enum Prepared {
    /// Ready to build on.
    Ready(PreparedBase),
    /// Canceled, or a log limit was hit, while dnf installed the root.
    Interrupted(Ended),
}

/// Where progress of a preparation goes.
struct Progress<'x, 'a> {
    logs: Option<&'x mut Logs<'a>>,
}

impl Progress<'_, '_> {
    fn note(&mut self, message: &str) {
        tracing::info!("{message}");
        if let Some(logs) = self.logs.as_deref_mut() {
            logs.note(Channel::Root, message);
        }
    }

    fn run(
        &mut self,
        cmd: Command,
        limits: &Limits<'_>,
    ) -> Result<process::Finished, SandboxError> {
        match self.logs.as_deref_mut() {
            Some(logs) => process::run(cmd, &mut logs.channel(Channel::Root), limits),
            None => process::run(cmd, &mut Quiet as &mut dyn Output, limits),
        }
    }
}

/// [`prepare_base_root`] with the progress going to a build's `root.log`.
pub(crate) fn prepare(
    config: &SandboxConfig,
    chroot: &ChrootDefinition,
    logs: Option<&mut Logs<'_>>,
    cancel: &CancelToken,
) -> Result<Prepared, SandboxError> {
    let mut progress = Progress { logs };
    let (kind, slug, fingerprint) = identity(chroot);
    let base_dir = config.cache_dir.join("bases").join(&slug);
    fsutil::make_dir(&base_dir, 0o700)?;
    let version_dir = base_dir.join(&fingerprint);

    let generate_lock = open_lock(&base_dir.join("generate.lock"))?;
    let generate_lock = Flock::lock(generate_lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| SandboxError::sys(format!("locking {}", base_dir.display()))(e))?;
    if !version_dir.join("complete").exists() {
        let partial = base_dir.join(format!("{fingerprint}.partial"));
        fsutil::remove_tree(&partial)
            .map_err(SandboxError::io(format!("removing {}", partial.display())))?;
        fsutil::make_dir(&partial, 0o755)?;
        let started = Instant::now();
        let made = match &chroot.base_root {
            BaseRoot::Directory { path } => {
                progress.note(&format!(
                    "describing the base root {} to rpm (once per change of the tree)",
                    path.display()
                ));
                make_directory_version(path, &partial, &fingerprint).map(|count| {
                    progress.note(&format!(
                        "generated {} with {count} Provides in {:.1} s",
                        provides::PACKAGE,
                        started.elapsed().as_secs_f64()
                    ));
                    None
                })
            }
            BaseRoot::Dnf {
                releasever,
                packages,
            } => {
                progress.note(&format!(
                    "installing the base root of {} with dnf (once)",
                    chroot.name
                ));
                make_dnf_version(
                    chroot,
                    releasever,
                    packages,
                    &partial,
                    &mut progress,
                    cancel,
                )
            }
        };
        match made {
            Ok(None) => {}
            Ok(Some(ended)) => {
                let _ = fsutil::remove_tree(&partial);
                return Ok(Prepared::Interrupted(ended));
            }
            Err(e) => {
                let _ = fsutil::remove_tree(&partial);
                return Err(e);
            }
        }
        fsutil::write_file(&partial.join("complete"), GENERATION, 0o644)?;
        fs::rename(&partial, &version_dir)
            .map_err(SandboxError::io(format!("renaming {}", partial.display())))?;
    }
    let lock = open_lock(&version_dir.join("lock"))?;
    let lock = Flock::lock(lock, FlockArg::LockShared)
        .map_err(|(_, e)| SandboxError::sys(format!("locking {}", version_dir.display()))(e))?;
    remove_old_versions(&base_dir, &fingerprint);
    drop(generate_lock);

    let (root, layer, provides) = match &chroot.base_root {
        BaseRoot::Directory { path } => {
            let count = fs::read_to_string(version_dir.join("provides-count"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            (path.clone(), Some(version_dir.join("layer")), count)
        }
        BaseRoot::Dnf { .. } => (version_dir.join("root"), None, None),
    };
    Ok(Prepared::Ready(PreparedBase {
        chroot: chroot.name.to_string(),
        kind,
        root,
        layer,
        version_dir,
        provides,
        _lock: lock,
    }))
}

/// A base root's kind, its cache directory's name and the fingerprint of
/// its current version: what it is made from, administrators' refreshes
/// and, for dnf roots, what the base repos hold.
fn identity(chroot: &ChrootDefinition) -> (Kind, String, String) {
    let (kind, slug, mut fingerprint) = match &chroot.base_root {
        BaseRoot::Directory { path } => (
            Kind::Directory,
            format!(
                "dir-{}",
                &hex_sha256(path.as_os_str().as_encoded_bytes())[..16]
            ),
            directory_fingerprint(path),
        ),
        BaseRoot::Dnf {
            releasever,
            packages,
        } => (
            Kind::Installed,
            format!("dnf-{}", chroot.name),
            dnf_fingerprint(chroot, releasever, packages),
        ),
    };
    // A refresh asked for by an administrator makes a new version; cached
    // roots of chroots never refreshed keep their names.
    if chroot.refresh > 0 {
        fingerprint = hex_sha256(format!("{fingerprint} refresh {}", chroot.refresh).as_bytes())
            [..16]
            .to_owned();
    }
    // Updates published by the distribution make a new version too (the
    // builder says what the base repos hold; directory roots have their
    // own fingerprint of the tree).
    if let (Kind::Installed, Some(upstream)) = (&kind, &chroot.upstream) {
        fingerprint =
            hex_sha256(format!("{fingerprint} upstream {upstream}").as_bytes())[..16].to_owned();
    }
    (kind, slug, fingerprint)
}

fn open_lock(path: &Path) -> Result<File, SandboxError> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(SandboxError::io(format!("opening {}", path.display())))
}

/// Deletes the versions nobody uses any more (and leftover partial ones;
/// the caller holds `generate.lock`, so none is being made).
fn remove_old_versions(base_dir: &Path, current: &str) {
    let Ok(listing) = fs::read_dir(base_dir) else {
        return;
    };
    for entry in listing.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if !path.is_dir() || name == current {
            continue;
        }
        let lock = match fs::File::open(path.join("lock")) {
            Ok(file) => Flock::lock(file, FlockArg::LockExclusiveNonblock).ok(),
            // A partial version, or one that never got used.
            Err(_) => None,
        };
        let unused = lock.is_some() || !path.join("lock").exists();
        if unused && let Err(e) = fsutil::remove_tree(&path) {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove an old base root");
        }
        drop(lock);
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A cheap fingerprint of a directory tree: the identity and modification
/// time of what changes when software is installed into it.
fn directory_fingerprint(root: &Path) -> String {
    let mut probes: Vec<PathBuf> = [
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/lib32",
        "usr/lib64",
        "usr/libx32",
        "usr/include",
        "usr/share/pkgconfig",
        "usr/lib/pkgconfig",
        "usr/lib64/pkgconfig",
        "bin",
        "sbin",
        "lib",
        "lib64",
        "etc/ld.so.cache",
        "etc/passwd",
        "etc/group",
        "var/lib/dpkg/status",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    if let Ok(listing) = fs::read_dir(root.join("usr/lib")) {
        let mut multiarch: Vec<PathBuf> = listing
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("-linux-"))
            .map(|e| e.path())
            .collect();
        multiarch.sort();
        for dir in multiarch {
            probes.push(dir.join("pkgconfig"));
            probes.push(dir);
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(GENERATION.as_bytes());
    hasher.update(root.as_os_str().as_encoded_bytes());
    for probe in probes {
        hasher.update(probe.as_os_str().as_encoded_bytes());
        let state = match fs::symlink_metadata(&probe) {
            Ok(m) => format!(
                "={}:{}:{}.{}:{}",
                m.dev(),
                m.ino(),
                m.mtime(),
                m.mtime_nsec(),
                m.size()
            ),
            Err(_) => "-".into(),
        };
        hasher.update(state.as_bytes());
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// A fingerprint of what a dnf base root is made from.
fn dnf_fingerprint(chroot: &ChrootDefinition, releasever: &str, packages: &[String]) -> String {
    let mut text = format!(
        "{GENERATION}\n{}\n{}\n{releasever}\n{packages:?}\n",
        chroot.name, chroot.arch
    );
    for RepoDefinition {
        id,
        baseurl,
        metalink,
        priority,
        gpgkey,
    } in &chroot.repos
    {
        text.push_str(&format!("{id} {baseurl:?} {metalink:?} {priority:?}"));
        // Only when set, so that cached roots of unsigned repos stay valid.
        if let Some(key) = gpgkey {
            text.push_str(&format!(" {key:?}"));
        }
        text.push('\n');
    }
    hex_sha256(text.as_bytes())[..16].to_owned()
}

/// Generates the virtual package of the tree at `root`, builds it, and
/// installs it into a fresh rpmdb in `dir/layer`. Returns the number of
/// Provides.
fn make_directory_version(
    root: &Path,
    dir: &Path,
    fingerprint: &str,
) -> Result<usize, SandboxError> {
    let provides = provides::collect(root)?;
    let topdir = dir.join("rpmbuild");
    fsutil::make_dir(&topdir, 0o700)?;
    let spec_path = topdir.join(format!("{}.spec", provides::PACKAGE));
    fsutil::write_file(&spec_path, &provides::spec(&provides, fingerprint), 0o644)?;
    let rpm_path = dir.join(format!("{}.rpm", provides::PACKAGE));

    let mut build = trusted_rpm_command("rpmbuild", &topdir);
    build
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", topdir.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", dir.display()))
        .arg("--define")
        .arg(format!("_build_name_fmt {}.rpm", provides::PACKAGE))
        .arg(&spec_path);
    process::output_of(build, "rpmbuild of the virtual package")?;

    let layer = dir.join("layer");
    fsutil::make_dir(&layer.join("var/lib/rpm"), 0o755)?;
    let mut initdb = trusted_rpm_command("rpm", &topdir);
    initdb.arg("--root").arg(&layer).arg("--initdb");
    process::output_of(initdb, "rpm --initdb")?;
    let mut install = trusted_rpm_command("rpm", &topdir);
    install
        .arg("--root")
        .arg(&layer)
        .args(["-i", "--justdb", "--nodeps", "--noscripts", "--notriggers"])
        .arg(&rpm_path);
    process::output_of(install, "rpm --justdb of the virtual package")?;

    // Debian's loader does not search /usr/lib64, which is where rpm's
    // %_libdir puts the libraries that BuildRequires install.
    let ld_conf = layer.join("etc/ld.so.conf.d");
    fsutil::make_dir(&layer.join("etc"), 0o755)?;
    fsutil::make_dir(&ld_conf, 0o755)?;
    fsutil::write_file(&ld_conf.join("zz-koper-lib64.conf"), "/usr/lib64\n", 0o644)?;
    fsutil::remove_tree(&topdir).map_err(SandboxError::io("removing the rpmbuild tree"))?;
    fsutil::write_file(
        &dir.join("provides-count"),
        &provides.len().to_string(),
        0o644,
    )?;
    Ok(provides.len())
}

/// rpm or rpmbuild run by the builder on trusted input, with the rpmdb
/// path pinned (Debian's rpm would use ~/.rpmdb) and nothing of root's
/// environment.
fn trusted_rpm_command(tool: &str, home: &Path) -> Command {
    let mut cmd = Command::new(tool);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/usr/sbin:/bin:/sbin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8")
        .arg("--define")
        .arg("_dbpath /var/lib/rpm");
    cmd
}

/// Installs a dnf base root into `dir/root`.
fn make_dnf_version(
    chroot: &ChrootDefinition,
    releasever: &str,
    packages: &[String],
    dir: &Path,
    progress: &mut Progress<'_, '_>,
    cancel: &CancelToken,
) -> Result<Option<Ended>, SandboxError> {
    let name = chroot.name.to_string();
    let repos: Vec<&RepoDefinition> = chroot.repos.iter().collect();
    if repos.is_empty() {
        return Err(SandboxError::BaseRoot {
            chroot: name,
            message: "the chroot has no repos to install from".into(),
        });
    }
    let files = dnf::files(&repos, None)?;
    let install_args = dnf::install_args(releasever, packages)?;

    let root = dir.join("root");
    // Fedora keeps the rpmdb in /usr/lib/sysimage/rpm with /var/lib/rpm a
    // symlink to it; made up front so that the rpmdb dnf writes through
    // /var/lib/rpm (the path pinned in .rpmmacros) ends up where the root's
    // own rpm looks, and the rpm package's symlink matches what is there.
    fsutil::make_dir(&root.join("usr/lib/sysimage/rpm"), 0o755)?;
    fsutil::make_dir(&root.join("var/lib"), 0o755)?;
    for pseudo in ["dev", "proc"] {
        fsutil::make_dir(&root.join(pseudo), 0o755)?;
    }
    std::os::unix::fs::symlink("../../usr/lib/sysimage/rpm", root.join("var/lib/rpm"))
        .map_err(SandboxError::io("creating var/lib/rpm"))?;
    let koper_dir = dir.join("dnf");
    write_dnf_dir(&koper_dir, &files)?;

    let host = Layout::of_directory(Path::new("/"))?;
    let local_repos = dnf::local_repo_dirs(&repos);
    let view = DnfView {
        host: &host,
        installroot: &root,
        koper_dir: &koper_dir,
        input_dir: None,
        local_repos: &local_repos,
        resolv_target: resolv_target(),
    };

    let limits = Limits {
        deadline: Some(Instant::now() + MAKECACHE_TIMEOUT),
        cancel,
        disk: None,
    };
    let mut makecache = vec!["dnf".into()];
    makecache.extend(dnf::makecache_args(releasever));
    let done = progress.run(
        bwrap_command(bwrap::dnf_sandbox(&view, &makecache)),
        &limits,
    )?;
    match done.ended {
        Ended::Exited(_) if done.success() => {}
        Ended::Exited(status) => {
            return Err(SandboxError::ReposUnreachable {
                chroot: name,
                detail: format!("dnf makecache failed ({status}): {}", done.last_lines(3)),
            });
        }
        Ended::TimedOut => {
            return Err(SandboxError::ReposUnreachable {
                chroot: name,
                detail: format!(
                    "dnf makecache did not finish within {} s",
                    MAKECACHE_TIMEOUT.as_secs()
                ),
            });
        }
        ended @ (Ended::Canceled | Ended::LogLimitExceeded | Ended::DiskLimitExceeded(_)) => {
            return Ok(Some(ended));
        }
    }

    let limits = Limits {
        deadline: Some(Instant::now() + INSTALL_TIMEOUT),
        cancel,
        disk: None,
    };
    let mut install = vec!["dnf".into()];
    install.extend(install_args);
    let done = progress.run(bwrap_command(bwrap::dnf_sandbox(&view, &install)), &limits)?;
    match done.ended {
        Ended::Exited(_) if done.success() => {}
        Ended::Exited(status) => {
            return Err(SandboxError::BaseRoot {
                chroot: name,
                message: format!("dnf install failed ({status}): {}", done.last_lines(3)),
            });
        }
        Ended::TimedOut => {
            return Err(SandboxError::BaseRoot {
                chroot: name,
                message: format!(
                    "dnf install did not finish within {} s",
                    INSTALL_TIMEOUT.as_secs()
                ),
            });
        }
        ended @ (Ended::Canceled | Ended::LogLimitExceeded | Ended::DiskLimitExceeded(_)) => {
            return Ok(Some(ended));
        }
    }
    fsutil::remove_tree(&koper_dir).map_err(SandboxError::io("removing dnf's cache"))?;
    Ok(None)
}

/// Creates koper's directory for dnf: configuration, an empty reposdir,
/// cache, logs and a HOME with `.rpmmacros`.
pub(crate) fn write_dnf_dir(dir: &Path, files: &dnf::DnfFiles) -> Result<(), SandboxError> {
    fsutil::make_dir(dir, 0o700)?;
    for sub in ["repos.d", "cache", "log", "home"] {
        fsutil::make_dir(&dir.join(sub), 0o700)?;
    }
    fsutil::write_file(&dir.join("dnf.conf"), &files.config, 0o600)?;
    if let Some(pem) = &files.server_ca {
        fsutil::write_file(&dir.join(dnf::SERVER_CA_FILE), pem, 0o600)?;
    }
    fsutil::write_file(&dir.join("home/.rpmmacros"), &files.rpmmacros, 0o600)
}

/// A `bwrap` command with the given arguments.
pub(crate) fn bwrap_command(args: Vec<std::ffi::OsString>) -> Command {
    let mut cmd = Command::new("bwrap");
    cmd.args(args);
    cmd
}

/// Where `/etc/resolv.conf` points when that is outside `/etc` and `/usr`
/// (systemd-resolved's file in `/run`), so the dnf sandbox can show it.
pub(crate) fn resolv_target() -> Option<PathBuf> {
    let link = Path::new("/etc/resolv.conf");
    if !fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
        return None;
    }
    let target = fs::canonicalize(link).ok()?;
    (!target.starts_with("/etc") && !target.starts_with("/usr")).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dnf_roots_identity_follows_its_repos_contents_and_refreshes() {
        let mut chroot = ChrootDefinition {
            name: "fedora-42-x86_64".parse().unwrap(),
            arch: "x86_64".into(),
            description: String::new(),
            base_root: BaseRoot::Dnf {
                releasever: "42".into(),
                packages: vec!["bash".into()],
            },
            repos: Vec::new(),
            macros: Default::default(),
            tags: Vec::new(),
            refresh: 0,
            upstream: None,
        };
        let (kind, slug, unknown) = identity(&chroot);
        assert_eq!(
            (kind, slug.as_str()),
            (Kind::Installed, "dnf-fedora-42-x86_64")
        );
        chroot.upstream = Some("aaaa".into());
        let (_, _, first) = identity(&chroot);
        chroot.upstream = Some("bbbb".into());
        let (_, _, second) = identity(&chroot);
        chroot.refresh = 1;
        let (_, _, refreshed) = identity(&chroot);
        let all = [&unknown, &first, &second, &refreshed];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        chroot.upstream = Some("bbbb".into());
        assert_eq!(identity(&chroot).2, refreshed, "stable for the same input");
    }

    #[test]
    fn directory_fingerprints_follow_the_tree() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("usr/bin")).unwrap();
        let before = directory_fingerprint(root.path());
        assert_eq!(before, directory_fingerprint(root.path()));
        std::thread::sleep(Duration::from_millis(20));
        fs::write(root.path().join("usr/bin/new-tool"), "").unwrap();
        assert_ne!(before, directory_fingerprint(root.path()));
    }
}
