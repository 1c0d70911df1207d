#![doc = include_str!("../README.md")]

mod base;
mod build;
mod bwrap;
mod cgroup;
mod collect;
mod dnf;
mod fsutil;
mod layout;
mod lint;
mod logs;
mod process;
mod provides;
mod source;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use koper_chroots::{ChrootDefinition, RepoDefinition};

pub use base::{PreparedBase, prepare_base_root};
pub use build::{run_build, run_build_linting_later};
pub use lint::Linter;
pub use source::{SourceInput, SourceRequest, make_srpm};

/// Where koper-sandbox keeps its files, and which host uid builds run as.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Cached base roots and rpmdb layers, one subdirectory per base root.
    /// Only root needs access; it may be private (0700).
    pub cache_dir: PathBuf,
    /// Per-build scratch directories (overlay upper dirs, the build tree).
    /// The sandbox uid must be able to traverse this directory and all its
    /// ancestors (mode `o+x`), because the unprivileged sandbox opens its
    /// mounts by path; [`run_build`] checks this and refuses otherwise.
    pub work_dir: PathBuf,
    /// The unprivileged host uid (and gid) a build runs as, for example
    /// `3_000_000 + slot`. It should own no files on the host and not be
    /// shared with any other service. Inside the sandbox it appears as 1000.
    pub sandbox_uid: u32,
    /// Memory, process and file-size limits of every build.
    pub limits: ResourceLimits,
}

/// Resource limits of a build (dnf builddep and rpmbuild), all off by
/// default. Memory and processes are limited with a cgroup per build:
/// cgroup v2 where the controller is in the v2 tree, v1 where it is only
/// there (hybrid hosts). On a pure v2 host the builder must be allowed to
/// manage its own cgroup (systemd: `Delegate=yes`); when it is in that
/// cgroup itself, it moves itself into a leaf `koper-builder` first, as
/// cgroup v2 requires. A limit that cannot be set fails the build with
/// [`SandboxError::Config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// The most memory (bytes; tmpfs contents included) the build's
    /// processes may use together. Beyond it the kernel kills one and the
    /// build fails with a reason saying so.
    pub memory_bytes: Option<u64>,
    /// The most processes and threads the build may have at once.
    pub max_processes: Option<u64>,
    /// The largest file rpmbuild's processes may write (`RLIMIT_FSIZE`);
    /// a process writing past it is killed by `SIGXFSZ`.
    pub max_file_bytes: Option<u64>,
    /// The most disk a build may fill: what it installs and writes into
    /// its buildroot, its build tree and its packages together. Measured
    /// every 250 ms (less often when measuring is slow) and as each step
    /// ends; a build over it is killed and fails saying so.
    pub max_disk_bytes: Option<u64>,
}

/// One build: which chroot, which source package, from which repos.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The chroot to build in.
    pub chroot: ChrootDefinition,
    /// The source RPM to rebuild.
    pub srpm: PathBuf,
    /// Repos BuildRequires may come from besides the chroot's own: the
    /// project's repo, its dependency projects (`file://` or `http://`).
    /// Ids must be unique among these and the chroot's repos.
    pub extra_repos: Vec<RepoDefinition>,
    /// Packages installed into the buildroot before the BuildRequires (a
    /// project chroot's extra buildroot packages), from the same repos.
    pub extra_packages: Vec<String>,
    /// rpm macros defined for this build (`vendor`, `packager`, `bugurl`);
    /// they override the chroot's macros of the same name.
    pub macros: BTreeMap<String, String>,
    /// How long installing the BuildRequires and `rpmbuild` may take
    /// together. Preparing the base root does not count.
    pub timeout: Duration,
    /// The most bytes `root.log` or `build.log` may grow to; a build that
    /// prints more is killed and ends [`BuildOutcome::LogLimitExceeded`].
    pub max_log_bytes: u64,
    /// Whether `rpmbuild` may use the network. Without it the sandbox has
    /// its own empty network namespace (only a loopback of its own).
    pub enable_net: bool,
    /// An existing, empty directory the caller created. The built RPMs,
    /// `root.log` and `build.log` are written here, owned by the builder.
    pub result_dir: PathBuf,
    /// Certificates dnf trusts for the repos of a server with a CA of its
    /// own (a self-signed `koper serve --tls-cert`).
    pub server_ca: Option<ServerCa>,
}

/// A server's CA certificates and the URL prefix they are trusted for.
#[derive(Debug, Clone)]
pub struct ServerCa {
    /// Repos whose URLs start with this use the certificates.
    pub url: String,
    /// The certificates, PEM.
    pub pem: String,
}

/// Where the live log of a build goes, chunk by chunk, as it is produced:
/// koper's own progress lines (prefixed `koper: `), dnf's output and
/// rpmbuild's output, in order.
pub trait LogSink: Send {
    /// Receives the next chunk of log output. Chunks are not aligned to
    /// lines or UTF-8 characters.
    fn write(&mut self, chunk: &[u8]);

    /// Nothing more will be written (the build's logs were ended early,
    /// see [`run_build_linting_later`]).
    fn close(&mut self) {}
}

impl LogSink for Vec<u8> {
    fn write(&mut self, chunk: &[u8]) {
        self.extend_from_slice(chunk);
    }
}

/// A [`LogSink`] that drops everything (the log files are still written).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardLog;

impl LogSink for DiscardLog {
    fn write(&mut self, _chunk: &[u8]) {}
}

/// Asks a running build to stop. Clones share one flag, so the builder can
/// keep one clone and hand another to [`run_build`]; after
/// [`CancelToken::cancel`] the build is killed within about a second and
/// ends [`BuildOutcome::Canceled`].
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that has not been canceled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every build holding a clone of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// How a build ended, when the builder itself worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildOutcome {
    /// rpmbuild succeeded (for [`make_srpm`]: the source RPM was made).
    Succeeded {
        /// The binary RPMs rpmbuild produced, copied into the result
        /// directory, sorted by name. The source RPM is not among them: the
        /// caller already has it.
        packages: Vec<PathBuf>,
    },
    /// The package did not build: its BuildRequires could not be installed,
    /// or rpmbuild failed. `root.log` and `build.log` say why.
    Failed {
        /// One line for people.
        reason: String,
    },
    /// The build ran longer than [`BuildRequest::timeout`] and was killed.
    TimedOut,
    /// [`CancelToken::cancel`] was called; the build was killed.
    Canceled,
    /// A log grew past [`BuildRequest::max_log_bytes`]; the build was
    /// killed and the log cut at the limit.
    LogLimitExceeded,
}

/// The builder itself is broken or misconfigured: no verdict about the
/// package can be given. Retrying on another builder may help.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The configuration or the host cannot work (not root, a directory
    /// the sandbox uid cannot reach, a missing tool).
    #[error("koper-sandbox cannot work here: {0}")]
    Config(String),
    /// The request is malformed (a repo id used twice, a macro name that
    /// is not a name, a missing SRPM).
    #[error("invalid build request: {0}")]
    InvalidRequest(String),
    /// dnf could not download the metadata of a chroot's base repos.
    #[error("cannot reach the repos of {chroot}: {detail}")]
    ReposUnreachable {
        /// The chroot.
        chroot: String,
        /// What dnf said.
        detail: String,
    },
    /// The base root could not be made.
    #[error("cannot prepare the base root of {chroot}: {message}")]
    BaseRoot {
        /// The chroot.
        chroot: String,
        /// What went wrong.
        message: String,
    },
    /// A file operation of the builder's own failed.
    #[error("{context}: {source}")]
    Io {
        /// What koper was doing.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A system call the sandbox needs failed (unshare, mount).
    #[error("{context}: {source}")]
    Sys {
        /// What koper was doing.
        context: String,
        /// The error.
        #[source]
        source: nix::Error,
    },
}

impl SandboxError {
    /// Wraps an I/O error with what koper was doing.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    /// Wraps an errno with what koper was doing.
    pub(crate) fn sys(context: impl Into<String>) -> impl FnOnce(nix::Error) -> Self {
        let context = context.into();
        move |source| Self::Sys { context, source }
    }
}
