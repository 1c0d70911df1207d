//! One build, from SRPM to RPMs in the result directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use koper_chroots::RepoDefinition;
use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};

use crate::base::{self, Prepared, PreparedBase};
use crate::bwrap::{self, BUILDDIR, BuildView, DnfView, Rpmdb};
use crate::cgroup::{BuildCgroup, Hierarchies, JOIN_SCRIPT};
use crate::collect::collect_rpms;
use crate::layout::{Layout, MountedRoot};
use crate::lint::{Checked, Linter};
use crate::logs::{self, Channel, Logs};
use crate::process::{self, Ended, Finished, Limits};
use crate::{
    BuildOutcome, BuildRequest, CancelToken, LogSink, SandboxConfig, SandboxError, dnf, fsutil,
};

/// The loader cache of a directory base root, kept in its cache
/// directory once a build with nothing installed made it.
const LOADER_CACHE: &str = "ld.so.cache";

/// The most of rpmlint's output kept.
const RPMLINT_LOG_BYTES: usize = 1 << 20;

/// How old a scratch directory without a lock file must be before it
/// counts as left behind (one being created has no lock for a moment).
const STALE_UNLOCKED: Duration = Duration::from_secs(600);

/// Builds `request.srpm` in `request.chroot` and leaves the RPMs,
/// `root.log` and `build.log` in `request.result_dir`.
///
/// The steps: prepare the base root (cached; does not count against the
/// timeout), mount a fresh overlay buildroot on it in a mount namespace
/// private to this build, install the BuildRequires with `dnf builddep`
/// (into `root.log`), run `rpmbuild --rebuild` in the build sandbox (into
/// `build.log`), copy the RPMs out, then unmount and delete everything of
/// the build, whatever happened. The live log gets all of it as it comes.
///
/// Blocking; call it from a thread of its own (`spawn_blocking`). Needs
/// root, bubblewrap, dnf with dnf-plugins-core, and rpm on the host.
pub fn run_build(
    config: &SandboxConfig,
    request: &BuildRequest,
    log: &mut dyn LogSink,
    cancel: &CancelToken,
) -> Result<BuildOutcome, SandboxError> {
    build(config, request, log, cancel, Lint::Inline)
}

/// [`run_build`], but rpmlint runs after the build's outcome is known
/// rather than before: once the packages are in the result directory,
/// `built` gets the successful outcome and the logs are complete (the
/// live log is closed through [`LogSink::close`]); rpmlint then checks the
/// packages, through `linter`'s warm server where it can (in the build
/// sandbox otherwise), and its findings go to `lint_log` (outside the
/// result directory, which the caller may be reading meanwhile). The
/// caller can publish the build while rpmlint runs. A slot's builds share
/// one [`Linter`].
///
/// `built` is not called when the build did not succeed; the returned
/// outcome says why. Returns once rpmlint is done.
pub fn run_build_linting_later(
    config: &SandboxConfig,
    request: &BuildRequest,
    log: &mut dyn LogSink,
    cancel: &CancelToken,
    built: &mut (dyn FnMut(&BuildOutcome) + Send),
    lint_log: &Path,
    linter: &Linter,
) -> Result<BuildOutcome, SandboxError> {
    build(
        config,
        request,
        log,
        cancel,
        Lint::Later {
            built: std::sync::Mutex::new(built),
            log: lint_log,
            linter,
        },
    )
}

/// When rpmlint runs, and where its findings go.
enum Lint<'a> {
    /// Before the build counts as done; `rpmlint.log` in the result
    /// directory, its summary in `build.log`.
    Inline,
    /// After `built` was told the outcome, through `linter`; findings to
    /// `log`.
    Later {
        built: std::sync::Mutex<&'a mut (dyn FnMut(&BuildOutcome) + Send)>,
        log: &'a Path,
        linter: &'a Linter,
    },
}

fn build(
    config: &SandboxConfig,
    request: &BuildRequest,
    log: &mut dyn LogSink,
    cancel: &CancelToken,
    lint: Lint<'_>,
) -> Result<BuildOutcome, SandboxError> {
    let mut steps = Steps::start();
    check_host(config, &request.chroot.arch)?;
    let input = check_request(request)?;
    let mut logs = Logs::create(&request.result_dir, request.max_log_bytes, log)?;
    logs.note(
        Channel::Root,
        &format!("building {} for {}", input.srpm_name, request.chroot.name),
    );
    let base = match base::prepare(config, &request.chroot, Some(&mut logs), cancel)? {
        Prepared::Ready(base) => base,
        Prepared::Interrupted(ended) => return Ok(interrupted(&mut logs, Channel::Root, &ended)),
    };
    steps.lap("base root");
    let deadline = Instant::now().checked_add(request.timeout);
    let job = Job {
        config,
        request,
        input: &input,
        base: &base,
        cancel,
        deadline,
        lint: &lint,
    };
    let result = thread::scope(|scope| {
        let worker = thread::Builder::new()
            .name("koper-sandbox-build".into())
            .spawn_scoped(scope, || {
                private_mount_namespace()?;
                job.run(&mut logs, &mut steps)
            })
            .map_err(SandboxError::io("starting the build thread"))?;
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    steps.lap("cleanup");
    tracing::info!(chroot = %request.chroot.name, srpm = %input.srpm_name,
        "build steps: {steps}");
    result
}

/// How long each step of a build took, for the builder's log.
struct Steps {
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl Steps {
    fn start() -> Self {
        Self {
            last: Instant::now(),
            laps: Vec::new(),
        }
    }

    /// Ends the step called `name`.
    fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.laps.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, (name, took)) in self.laps.iter().enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {} ms", took.as_millis())?;
        }
        Ok(())
    }
}

/// Gives the calling thread a mount namespace of its own in which nothing
/// propagates to the host: the overlays of a build are visible only to the
/// build, and vanish with the thread even if the builder is killed.
fn private_mount_namespace() -> Result<(), SandboxError> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(SandboxError::sys(
        "creating a mount namespace for the build",
    ))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(SandboxError::sys("making the build's mounts private"))
}

fn check_host(config: &SandboxConfig, arch: &str) -> Result<(), SandboxError> {
    // rpm's name for the host's architecture.
    let host_arch = match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" => "ppc64le",
        other => other,
    };
    if arch != host_arch {
        return Err(SandboxError::InvalidRequest(format!(
            "this builder runs on {host_arch} and cannot build for {arch}"
        )));
    }
    check_runner(
        config,
        &["bwrap", "dnf", "rpm", "rpmbuild", "setpriv", "sh"],
    )
}

/// Checks what every sandboxed job needs: root, a sandbox uid, the tools
/// and a work dir the sandbox uid can reach.
pub(crate) fn check_runner(config: &SandboxConfig, tools: &[&str]) -> Result<(), SandboxError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(SandboxError::Config(
            "builds need root (for overlay mounts and to switch to the sandbox uid)".into(),
        ));
    }
    if config.sandbox_uid == 0 {
        return Err(SandboxError::Config("the sandbox uid must not be 0".into()));
    }
    let mut tools = tools.to_vec();
    if config.limits.max_file_bytes.is_some() {
        tools.push("prlimit");
    }
    for tool in tools {
        if !in_path(tool) {
            return Err(SandboxError::Config(format!(
                "{tool} is not installed (bubblewrap, dnf, dnf-plugins-core, rpm and util-linux are needed)"
            )));
        }
    }
    if !config.work_dir.is_dir() {
        fsutil::make_dir(&config.work_dir, 0o711)?;
    }
    let blocked = fsutil::untraversable_ancestor(&config.work_dir, config.sandbox_uid).map_err(
        SandboxError::io(format!("inspecting {}", config.work_dir.display())),
    )?;
    if let Some(dir) = blocked {
        return Err(SandboxError::Config(format!(
            "the sandbox uid {} cannot traverse {} (on the way to the work dir {}); \
             give it mode o+x (0711 is enough)",
            config.sandbox_uid,
            dir.display(),
            config.work_dir.display()
        )));
    }
    Ok(())
}

fn in_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/bin:/bin".into())
        .to_string_lossy()
        .split(':')
        .any(|dir| Path::new(dir).join(tool).is_file())
}

/// A request that passed the checks.
struct Input {
    /// The SRPM's file name inside the sandboxes.
    srpm_name: String,
    /// The chroot's macros overridden by the request's.
    macros: BTreeMap<String, String>,
}

fn check_request(request: &BuildRequest) -> Result<Input, SandboxError> {
    let invalid = |m: String| SandboxError::InvalidRequest(m);
    let srpm = &request.srpm;
    if !fs::metadata(srpm).is_ok_and(|m| m.is_file()) {
        return Err(invalid(format!("{} is not a file", srpm.display())));
    }
    let srpm_name = srpm
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.ends_with(".src.rpm") && !n.starts_with(['.', '-']))
        .filter(|n| {
            n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._+-~^".contains(&b))
        })
        .unwrap_or("package.src.rpm")
        .to_owned();
    if !request.result_dir.is_dir() {
        return Err(invalid(format!(
            "the result directory {} does not exist",
            request.result_dir.display()
        )));
    }
    let mut macros = request.chroot.macros.clone();
    macros.extend(request.macros.clone());
    for (name, value) in &macros {
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            return Err(invalid(format!("{name:?} is not a macro name")));
        }
        if value.chars().any(char::is_control) {
            return Err(invalid(format!(
                "the value of macro {name} has control characters"
            )));
        }
    }
    // Checked here, before anything is mounted; written again later.
    dnf::files(&all_repos(request), request.server_ca.as_ref())?;
    dnf::install_extra_args("1", &request.extra_packages, false)?;
    Ok(Input { srpm_name, macros })
}

fn all_repos(request: &BuildRequest) -> Vec<&RepoDefinition> {
    request
        .chroot
        .repos
        .iter()
        .chain(&request.extra_repos)
        .collect()
}

/// rpmbuild's command line inside the build sandbox. The request's macros
/// come first so that they cannot move the build tree, the output or the
/// rpmdb.
pub(crate) fn rpmbuild_args(macros: &BTreeMap<String, String>, srpm_name: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["rpmbuild".into(), "--rebuild".into()];
    let mut define = |text: String| {
        args.push("--define".into());
        args.push(text.into());
    };
    for (name, value) in macros {
        define(format!("{name} {value}"));
    }
    define(format!("_topdir {BUILDDIR}/build"));
    define(format!("_rpmdir {BUILDDIR}/rpms"));
    define("_dbpath /var/lib/rpm".into());
    // Flat names: the RPMs land directly in the output directory.
    define("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm".into());
    args.push(format!("{BUILDDIR}/{srpm_name}").into());
    args
}

/// A bwrap command (with `args`) whose process first joins the build's
/// cgroups, then (for the build sandbox) takes the file-size limit and
/// becomes the sandbox uid, then executes bwrap.
pub(crate) fn sandbox_command(
    config: &SandboxConfig,
    cgroup: &BuildCgroup,
    args: Vec<OsString>,
    as_sandbox: bool,
) -> Command {
    let mut argv: Vec<OsString> = Vec::new();
    let procs = cgroup.procs_files();
    if !procs.is_empty() {
        argv.extend(["sh", "-c", JOIN_SCRIPT, "koper-cgroup-join"].map(OsString::from));
        argv.extend(procs.into_iter().map(OsString::from));
        argv.push("--".into());
    }
    if as_sandbox {
        let uid = config.sandbox_uid;
        if let Some(bytes) = config.limits.max_file_bytes {
            argv.push("prlimit".into());
            argv.push(format!("--fsize={bytes}:{bytes}").into());
            argv.push("--".into());
        }
        argv.extend(
            [
                "setpriv".to_owned(),
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_owned(),
                "--no-new-privs".to_owned(),
                "--".to_owned(),
            ]
            .map(OsString::from),
        );
    }
    argv.push("bwrap".into());
    argv.extend(args);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// `command` run under the idle scheduling policy (`chrt --idle`), which
/// its children inherit: it gets only CPU time nothing else wants.
pub(crate) fn at_idle_priority(command: &Command) -> Command {
    let mut idle = Command::new("chrt");
    idle.args(["--idle", "0"])
        .arg(command.get_program())
        .args(command.get_args());
    idle
}

/// Says why a step was cut short and turns it into the outcome.
pub(crate) fn interrupted(logs: &mut Logs<'_>, channel: Channel, ended: &Ended) -> BuildOutcome {
    let (note, outcome) = match ended {
        Ended::TimedOut => (
            "the build ran out of time and was killed",
            BuildOutcome::TimedOut,
        ),
        Ended::Canceled => ("the build was canceled and killed", BuildOutcome::Canceled),
        Ended::LogLimitExceeded => (
            "the log grew past its limit; the build was killed",
            BuildOutcome::LogLimitExceeded,
        ),
        Ended::DiskLimitExceeded(cap) => {
            let reason = format!(
                "the build filled more than {} MiB of disk (the limit of a build) and was killed",
                cap >> 20
            );
            logs.note(channel, &reason);
            return BuildOutcome::Failed { reason };
        }
        Ended::Exited(_) => (
            "the build ended",
            BuildOutcome::Failed {
                reason: "the build ended early".into(),
            },
        ),
    };
    logs.note(channel, note);
    outcome
}

/// Why a check through the rpmlint server was stopped, for its findings.
fn stopped_because(ended: &Ended) -> String {
    match ended {
        Ended::TimedOut => "the build's time ran out".into(),
        Ended::DiskLimitExceeded(cap) => {
            format!("it filled more than {} MiB of disk", cap >> 20)
        }
        _ => "it was interrupted".into(),
    }
}

/// A build's scratch directory under the work dir. Dropping it deletes it
/// (after the caller unmounted what was mounted in it).
pub(crate) struct Scratch {
    pub(crate) path: PathBuf,
    _lock: Flock<File>,
}

impl Scratch {
    pub(crate) fn create(work_dir: &Path) -> Result<Self, SandboxError> {
        remove_stale(work_dir);
        let path = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(work_dir)
            .map_err(SandboxError::io(format!(
                "creating a scratch directory in {}",
                work_dir.display()
            )))?
            .keep();
        // Locked under a temporary name and then renamed: whoever finds a
        // `lock` finds it locked (see remove_stale).
        let lock = File::create(path.join("lock.new"))
            .map_err(SandboxError::io("creating the scratch lock"))?;
        let lock = Flock::lock(lock, FlockArg::LockExclusive)
            .map_err(|(_, e)| SandboxError::sys("locking the scratch directory")(e))?;
        fs::rename(path.join("lock.new"), path.join("lock"))
            .map_err(SandboxError::io("creating the scratch lock"))?;
        let scratch = Self { path, _lock: lock };
        // Traversable, not listable: the sandbox uid reaches its mounts by
        // path, other users learn nothing.
        fsutil::set_mode(&scratch.path, 0o711)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = fsutil::remove_tree(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a build's scratch directory");
        }
    }
}

/// Deletes scratch directories of builds that are gone (the builder was
/// killed): their lock is free. Their mounts went with their namespace.
fn remove_stale(work_dir: &Path) {
    let Ok(listing) = fs::read_dir(work_dir) else {
        return;
    };
    for entry in listing.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("build-") || !path.is_dir() {
            continue;
        }
        let stale = match File::open(path.join("lock")) {
            Ok(file) => Flock::lock(file, FlockArg::LockExclusiveNonblock).is_ok(),
            Err(_) => fs::symlink_metadata(&path)
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_UNLOCKED),
        };
        if stale {
            tracing::info!(path = %path.display(), "removing a left-behind build directory");
            if let Err(e) = fsutil::remove_tree(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a left-behind build directory");
            }
        }
    }
}

/// Where the build sandbox gets the rpmdb from. The buildroot was written
/// by dnf, and the packages it installed may be hostile: the decision is
/// made from the base root, and a bind source must be a real directory
/// all the way down (a symlink there would be resolved on the host).
fn rpmdb_view(base: &Path, root: &Path) -> Option<Rpmdb> {
    if let Ok(target) = fs::read_link(base.join("var/lib/rpm")) {
        return Some(Rpmdb::Symlink(target));
    }
    let mut dir = root.to_owned();
    for part in ["var", "lib", "rpm"] {
        dir.push(part);
        if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return None;
        }
    }
    Some(Rpmdb::Directory(dir))
}

/// Everything a build thread needs.
struct Job<'j, 'l> {
    config: &'j SandboxConfig,
    request: &'j BuildRequest,
    input: &'j Input,
    base: &'j PreparedBase,
    cancel: &'j CancelToken,
    deadline: Option<Instant>,
    lint: &'j Lint<'l>,
}

impl Job<'_, '_> {
    /// The limits of a step of the build whose scratch directory is
    /// `scratch` (what the disk limit measures).
    fn limits<'a>(&'a self, scratch: &'a Path) -> Limits<'a> {
        Limits {
            deadline: self.deadline,
            cancel: self.cancel,
            disk: self
                .config
                .limits
                .max_disk_bytes
                .map(|bytes| (scratch, bytes)),
        }
    }

    /// Runs in the build thread, inside its private mount namespace.
    fn run(&self, logs: &mut Logs<'_>, steps: &mut Steps) -> Result<BuildOutcome, SandboxError> {
        let uid = self.config.sandbox_uid;
        let scratch = Scratch::create(&self.config.work_dir)?;
        let s = &scratch.path;

        let started = Instant::now();
        let layout = self.base.layout()?;
        // Declared after `scratch`: dropped (unmounted) before it.
        let root = MountedRoot::mount(&layout, s)?;
        if let Some(layer) = self.base.rpmdb_layer() {
            fsutil::copy_tree(layer, &root.path).map_err(SandboxError::io(
                "copying the rpmdb layer into the buildroot",
            ))?;
        }
        logs.note(
            Channel::Root,
            &format!(
                "mounted the buildroot over {} in {:.2} s",
                self.base.root().display(),
                started.elapsed().as_secs_f64()
            ),
        );
        // Declared after `root`: every process of the build is killed
        // before the buildroot is unmounted.
        let hierarchies = Hierarchies::of_this_process();
        BuildCgroup::remove_stale(&hierarchies, &self.config.work_dir);
        let cgroup = BuildCgroup::for_scratch(self.config, s, &hierarchies)?;

        let input_dir = s.join("in");
        fsutil::make_dir(&input_dir, 0o755)?;
        let srpm = input_dir.join(&self.input.srpm_name);
        fs::copy(&self.request.srpm, &srpm).map_err(SandboxError::io(format!(
            "copying {}",
            self.request.srpm.display()
        )))?;
        fsutil::set_mode(&srpm, 0o644)?;

        steps.lap("mount");
        let step = self.install_build_requires(logs, s, &root, &input_dir, &cgroup)?;
        steps.lap("build deps");
        if let Some(outcome) = step {
            return Ok(outcome);
        }

        let build_dir = s.join("build");
        let rpms_dir = s.join("rpms");
        for dir in [&build_dir, &rpms_dir] {
            fsutil::make_dir(dir, 0o700)?;
            fsutil::chown(dir, uid)?;
        }
        let Some(rpmdb) = rpmdb_view(self.base.root(), &root.path) else {
            let reason = "the buildroot's /var/lib/rpm is not a directory any more".to_owned();
            logs.note(Channel::Root, &reason);
            return Ok(BuildOutcome::Failed { reason });
        };
        let hosts = s.join("hosts");
        fsutil::write_file(
            &hosts,
            &format!(
                "127.0.0.1 localhost {h}\n::1 localhost {h}\n",
                h = bwrap::HOSTNAME
            ),
            0o644,
        )?;
        let view = BuildView {
            layout: &layout,
            root: &root.path,
            rpmdb,
            build_dir: &build_dir,
            rpms_dir: &rpms_dir,
            srpm: &srpm,
            srpm_name: &self.input.srpm_name,
            hosts: &hosts,
            enable_net: self.request.enable_net,
            resolv_target: base::resolv_target(),
        };
        let args = bwrap::build_sandbox(
            &view,
            &rpmbuild_args(&self.input.macros, &self.input.srpm_name),
        );
        let cmd = self.command(&cgroup, args, true);
        logs.note(
            Channel::Build,
            &format!(
                "running rpmbuild --rebuild {} as uid {uid} in the sandbox{}",
                self.input.srpm_name,
                if self.request.enable_net {
                    " (with network)"
                } else {
                    " (no network)"
                }
            ),
        );
        let started = Instant::now();
        let done = process::run(cmd, &mut logs.channel(Channel::Build), &self.limits(s))?;
        let elapsed = started.elapsed().as_secs_f64();
        steps.lap("rpmbuild");
        if !done.success() {
            return Ok(self.failed(logs, Channel::Build, &done, "rpmbuild", &cgroup));
        }
        logs.note(
            Channel::Build,
            &format!("rpmbuild succeeded in {elapsed:.1} s"),
        );

        let collected = collect_rpms(&rpms_dir, &self.request.result_dir, uid)?;
        for refused in &collected.refused {
            logs.note(
                Channel::Build,
                &format!("not taken from the output: {refused}"),
            );
        }
        if collected.packages.is_empty() {
            logs.note(Channel::Build, "rpmbuild produced no packages");
            return Ok(BuildOutcome::Failed {
                reason: "rpmbuild produced no packages".into(),
            });
        }
        for package in &collected.packages {
            if let Some(name) = package.file_name() {
                logs.note(
                    Channel::Build,
                    &format!("result: {}", name.to_string_lossy()),
                );
            }
        }
        steps.lap("collect");
        let outcome = BuildOutcome::Succeeded {
            packages: collected.packages.clone(),
        };
        let lint_log = match &self.lint {
            Lint::Inline => self.request.result_dir.join("rpmlint.log"),
            Lint::Later { built, log, .. } => {
                // Nothing more goes to the logs: the caller sends them on.
                logs.close();
                let mut built = built
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                (*built)(&outcome);
                log.to_path_buf()
            }
        };
        let linted = self.lint(
            logs,
            &view,
            &root.path,
            &collected.packages,
            &cgroup,
            s,
            &lint_log,
        )?;
        steps.lap("rpmlint");
        if let Some(outcome) = linted {
            return Ok(outcome);
        }
        Ok(outcome)
    }

    /// Runs `rpmlint` (when the buildroot has it) on the built packages in
    /// the build sandbox and keeps its findings in `lint_log`; they
    /// never fail the build. `Some` only when the build was canceled.
    #[allow(clippy::too_many_arguments)]
    fn lint(
        &self,
        logs: &mut Logs<'_>,
        view: &BuildView<'_>,
        root: &Path,
        packages: &[PathBuf],
        cgroup: &BuildCgroup,
        s: &Path,
        lint_log: &Path,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        if !root.join("usr/bin/rpmlint").is_file() {
            return Ok(None);
        }
        let mut command: Vec<OsString> = vec!["rpmlint".into(), "--".into()];
        for package in packages {
            if let Some(name) = package.file_name() {
                command.push(Path::new(BUILDDIR).join("rpms").join(name).into());
            }
        }
        logs.note(Channel::Build, "checking the packages with rpmlint");
        let served = match self.lint {
            Lint::Later { linter, .. } => linter.check(
                self.config,
                self.base,
                packages,
                &self.limits(s),
                RPMLINT_LOG_BYTES,
            ),
            Lint::Inline => Checked::Unavailable,
        };
        let text = match served {
            Checked::Findings(text) => text,
            Checked::Stopped(ended) => {
                if matches!(ended, Ended::Canceled) {
                    return Ok(Some(interrupted(logs, Channel::Build, &ended)));
                }
                format!("rpmlint was stopped: {}\n", stopped_because(&ended))
            }
            Checked::Unavailable => {
                let mut found = logs::Capped::new(RPMLINT_LOG_BYTES);
                let args = bwrap::build_sandbox(view, &command);
                let mut command = self.command(cgroup, args, true);
                if matches!(self.lint, Lint::Later { .. }) {
                    // The build is reported already: builds of other tasks
                    // come first, rpmlint takes the CPU time they leave.
                    command = at_idle_priority(&command);
                }
                let done = process::run(command, &mut found, &self.limits(s))?;
                if matches!(done.ended, Ended::Canceled) {
                    return Ok(Some(interrupted(logs, Channel::Build, &done.ended)));
                }
                found.into_text()
            }
        };
        fsutil::write_file(lint_log, &text, 0o644)?;
        let summary = text
            .lines()
            .rev()
            .find(|line| line.contains("checked"))
            .unwrap_or("rpmlint gave no summary")
            .trim()
            .to_owned();
        logs.note(
            Channel::Build,
            &format!("rpmlint (findings never fail a build; see rpmlint.log): {summary}"),
        );
        Ok(None)
    }

    /// `dnf builddep` into the buildroot, then ldconfig for a directory
    /// base root. `Some` when the build ends here.
    fn install_build_requires(
        &self,
        logs: &mut Logs<'_>,
        s: &Path,
        root: &MountedRoot,
        input_dir: &Path,
        cgroup: &BuildCgroup,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        let repos = all_repos(self.request);
        let koper_dir = s.join("dnf");
        base::write_dnf_dir(
            &koper_dir,
            &dnf::files(&repos, self.request.server_ca.as_ref())?,
        )?;
        let host = Layout::of_directory(Path::new("/"))?;
        let local_repos = dnf::local_repo_dirs(&repos);
        let view = DnfView {
            host: &host,
            installroot: &root.path,
            koper_dir: &koper_dir,
            input_dir: Some(input_dir),
            local_repos: &local_repos,
            resolv_target: base::resolv_target(),
        };
        let releasever = match &self.request.chroot.base_root {
            koper_chroots::BaseRoot::Dnf { releasever, .. } => releasever.clone(),
            koper_chroots::BaseRoot::Directory { .. } => {
                self.request.chroot.name.release().to_owned()
            }
        };
        if !self.request.extra_packages.is_empty() {
            let mut command = vec![OsString::from("dnf")];
            command.extend(dnf::install_extra_args(
                &releasever,
                &self.request.extra_packages,
                self.base.runs_scriptlets(),
            )?);
            logs.note(
                Channel::Root,
                &format!(
                    "installing the project's extra buildroot packages: {}",
                    self.request.extra_packages.join(" ")
                ),
            );
            let done = process::run(
                self.command(cgroup, bwrap::dnf_sandbox(&view, &command), false),
                &mut logs.channel(Channel::Root),
                &self.limits(s),
            )?;
            if !done.success() {
                return Ok(Some(self.failed(
                    logs,
                    Channel::Root,
                    &done,
                    "installing the extra buildroot packages",
                    cgroup,
                )));
            }
        }
        if self.request.extra_packages.is_empty()
            && let Some(met) = self.build_requires_met()
        {
            // dnf builddep would install nothing: spare its start-up and
            // its reading of every repo's metadata.
            logs.note(
                Channel::Root,
                &if met == 0 {
                    "the source package has no BuildRequires: nothing to install".to_owned()
                } else {
                    format!("the base root has all {met} BuildRequires: nothing to install")
                },
            );
            return self.loader_cache(logs, s, root, &view, cgroup);
        }
        let mut command = vec![OsString::from("dnf")];
        command.extend(dnf::builddep_args(
            &releasever,
            &self.input.srpm_name,
            self.base.runs_scriptlets(),
        ));
        logs.note(
            Channel::Root,
            &format!(
                "installing the build dependencies with dnf builddep from {} repo(s)",
                repos.len()
            ),
        );
        let started = Instant::now();
        let mut attempt = 1;
        let done = loop {
            let done = process::run(
                self.command(cgroup, bwrap::dnf_sandbox(&view, &command), false),
                &mut logs.channel(Channel::Root),
                &self.limits(s),
            )?;
            // A repo published to while dnf read it (repomd.xml from one
            // revision, its signature from the next) reads fine a moment
            // later.
            if done.success() || attempt == METADATA_ATTEMPTS || !metadata_changed(&done.tail) {
                break done;
            }
            logs.note(
                Channel::Root,
                "a repository's metadata changed while dnf read it; trying again",
            );
            std::thread::sleep(Duration::from_secs(1));
            attempt += 1;
        };
        if !done.success() {
            return Ok(Some(self.failed(
                logs,
                Channel::Root,
                &done,
                "installing the build dependencies",
                cgroup,
            )));
        }
        logs.note(
            Channel::Root,
            &format!(
                "installed the build dependencies in {:.1} s",
                started.elapsed().as_secs_f64()
            ),
        );
        if !self.base.runs_scriptlets() {
            return self.ldconfig(logs, s, &view, cgroup);
        }
        Ok(None)
    }

    /// How many BuildRequires the source package has, when the base root
    /// satisfies every one of them as it is (`None`: dnf must look). A
    /// directory base root is judged by its virtual package's Provides,
    /// which is what dnf would judge it by; a dnf base root only when
    /// there is nothing to satisfy.
    fn build_requires_met(&self) -> Option<usize> {
        let wanted = match koper_rpm::read_deps(&self.request.srpm) {
            Ok(deps) => deps.requires,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the source package's BuildRequires");
                return None;
            }
        };
        if wanted.is_empty() {
            return Some(0);
        }
        let virtual_package = self.base.virtual_package()?;
        let base = koper_rpm::read_deps(&virtual_package).ok()?;
        wanted
            .iter()
            .all(|required| base.provides(required))
            .then_some(wanted.len())
    }

    /// When nothing was installed into a buildroot over a directory base
    /// root, its loader cache is the base root's: copied from the base
    /// root's cache once one build made it, otherwise made with ldconfig
    /// and kept there for the next builds.
    fn loader_cache(
        &self,
        logs: &mut Logs<'_>,
        s: &Path,
        root: &MountedRoot,
        view: &DnfView<'_>,
        cgroup: &BuildCgroup,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        if self.base.runs_scriptlets() {
            return Ok(None);
        }
        let cached = self.base.cache_dir().join(LOADER_CACHE);
        let in_root = root.path.join("etc/ld.so.cache");
        if cached.is_file() {
            let temp = root.path.join("etc/.ld.so.cache.koper");
            fs::copy(&cached, &temp)
                .and_then(|_| fs::rename(&temp, &in_root))
                .map_err(SandboxError::io("copying the base root's loader cache"))?;
            return Ok(None);
        }
        if let Some(outcome) = self.ldconfig(logs, s, view, cgroup)? {
            return Ok(Some(outcome));
        }
        // Made from the base root and its rpmdb layer alone: nothing of
        // this build was installed yet.
        let kept = tempfile::NamedTempFile::new_in(self.base.cache_dir()).and_then(|temp| {
            fs::copy(&in_root, temp.path())?;
            temp.persist(&cached).map_err(|e| e.error)?;
            Ok(())
        });
        if let Err(e) = kept {
            tracing::warn!(error = %e, "cannot keep the base root's loader cache");
        }
        Ok(None)
    }

    /// `ldconfig` in the buildroot: packages leave running it to glibc's
    /// file trigger, which the virtual package does not have.
    fn ldconfig(
        &self,
        logs: &mut Logs<'_>,
        s: &Path,
        view: &DnfView<'_>,
        cgroup: &BuildCgroup,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        let ldconfig = vec!["ldconfig".into(), "-r".into(), dnf::INSTALLROOT.into()];
        let done = process::run(
            self.command(cgroup, bwrap::dnf_sandbox(view, &ldconfig), false),
            &mut logs.channel(Channel::Root),
            &self.limits(s),
        )?;
        if !done.success() {
            return Ok(Some(self.failed(
                logs,
                Channel::Root,
                &done,
                "ldconfig",
                cgroup,
            )));
        }
        Ok(None)
    }

    fn command(&self, cgroup: &BuildCgroup, args: Vec<OsString>, as_sandbox: bool) -> Command {
        sandbox_command(self.config, cgroup, args, as_sandbox)
    }

    fn failed(
        &self,
        logs: &mut Logs<'_>,
        channel: Channel,
        done: &Finished,
        what: &str,
        cgroup: &BuildCgroup,
    ) -> BuildOutcome {
        let log_name = match channel {
            Channel::Root => "root.log",
            Channel::Build => "build.log",
        };
        match &done.ended {
            Ended::Exited(status) => {
                let reason = match cgroup.limit_hit() {
                    Some(limit) => format!("{limit}; see {log_name}"),
                    None => format!("{what} failed ({status}); see {log_name}"),
                };
                logs.note(channel, &reason);
                BuildOutcome::Failed { reason }
            }
            ended => interrupted(logs, channel, ended),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rpmdb_is_bound_only_from_real_directories() {
        let base = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("var/lib/rpm")).unwrap();
        assert!(matches!(
            rpmdb_view(base.path(), root.path()),
            Some(Rpmdb::Directory(dir)) if dir == root.path().join("var/lib/rpm")
        ));

        fs::remove_dir_all(root.path().join("var/lib")).unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("var/lib")).unwrap();
        assert!(rpmdb_view(base.path(), root.path()).is_none());

        fs::create_dir_all(base.path().join("var/lib")).unwrap();
        std::os::unix::fs::symlink(
            "../../usr/lib/sysimage/rpm",
            base.path().join("var/lib/rpm"),
        )
        .unwrap();
        assert!(matches!(
            rpmdb_view(base.path(), root.path()),
            Some(Rpmdb::Symlink(target)) if target == Path::new("../../usr/lib/sysimage/rpm")
        ));
    }

    #[test]
    fn rpmbuild_args_protect_the_build_layout() {
        let mut macros = BTreeMap::new();
        macros.insert("vendor".to_owned(), "Koper <x@example.org>".to_owned());
        macros.insert("_topdir".to_owned(), "/tmp/evil".to_owned());
        let args = rpmbuild_args(&macros, "hello-1.0-1.src.rpm");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[..2], ["rpmbuild", "--rebuild"]);
        let evil = args.iter().position(|a| a == "_topdir /tmp/evil").unwrap();
        let ours = args
            .iter()
            .position(|a| a == "_topdir /builddir/build")
            .unwrap();
        assert!(evil < ours, "ours is defined last and wins");
        assert!(args.contains(&"vendor Koper <x@example.org>".to_owned()));
        assert!(
            args.contains(
                &"_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm".to_owned()
            )
        );
        assert_eq!(args.last().unwrap(), "/builddir/hello-1.0-1.src.rpm");
    }
}

/// How many times `dnf builddep` runs when repo metadata keeps changing
/// under it.
const METADATA_ATTEMPTS: u32 = 3;

/// Whether dnf failed because a repo's metadata did not match itself (read
/// while it was being replaced), rather than for a lasting reason.
fn metadata_changed(output: &str) -> bool {
    output.contains("Failed to download metadata")
        && (output.contains("GPG signature verification error")
            || output.contains("checksum")
            || output.contains("Downloading successful, but checksum doesn't match"))
}

#[cfg(test)]
mod metadata_retry_tests {
    use super::metadata_changed;

    #[test]
    fn a_repo_replaced_mid_read_is_retried_other_failures_are_not() {
        assert!(metadata_changed(
            "Error: Failed to download metadata for repo 'koper-alice-many': \
             repomd.xml GPG signature verification error: Bad GPG signature"
        ));
        assert!(!metadata_changed(
            "Error: Unable to find a match: libfoo-devel"
        ));
        assert!(!metadata_changed(
            "Error: Failed to download metadata for repo 'x': Cannot download repomd.xml: \
             Curl error (7): Couldn't connect to server"
        ));
    }
}
