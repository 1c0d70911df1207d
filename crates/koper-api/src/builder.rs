//! The builder protocol (`/builder-api/v1/`): builders pull work from the
//! server over HTTP, so no connection into a builder is ever needed. The
//! protocol is written down in `docs/builder-api.md`; change both together.

use std::collections::BTreeMap;

use koper_chroots::{ChrootDefinition, RepoDefinition};
use koper_types::{BuildId, ScmSource, SpecSource};
use serde::{Deserialize, Serialize};

/// The protocol version, sent by builders in `Koper-Builder-Protocol`.
pub const PROTOCOL_VERSION: u32 = 4;

/// What a builder asks for when it wants work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRequest {
    /// Architectures the builder can build for (`x86_64`).
    pub arches: Vec<String>,
    /// How long the server may hold the request open waiting for a task,
    /// in seconds (long poll); 0 answers at once.
    #[serde(default)]
    pub wait_seconds: u64,
    /// How many builds the builder runs at once (for queue estimates);
    /// since version 2.
    #[serde(default = "one_slot")]
    pub slots: u32,
    /// Capabilities the builder offers, matched against the `tags` chroots
    /// need; since version 2.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Whether the builder makes source RPMs from git repositories (source
    /// tasks, [`Task::source`]); since version 3. Older builders are never
    /// given one.
    #[serde(default)]
    pub source_builds: bool,
    /// Whether the builder also makes source RPMs from spec files fetched
    /// from a URL ([`SourceTask::spec`]); since version 4. Older builders
    /// are never given such a source task.
    #[serde(default)]
    pub spec_builds: bool,
}

fn one_slot() -> u32 {
    1
}

/// A task leased to a builder: one chroot of one build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// The task's id; every later call names it.
    pub task_id: i64,
    /// Proves this builder holds the current lease; a builder that lost its
    /// lease (expired, reassigned) is refused with 409.
    pub lease_id: String,
    /// Seconds until the lease expires unless renewed by a heartbeat.
    pub lease_seconds: u64,
    /// The build this task belongs to.
    pub build_id: BuildId,
    /// Where to download the source RPM (relative to the server URL).
    pub srpm_path: String,
    /// SHA-256 of the source RPM, to check the download.
    pub srpm_sha256: String,
    /// What to build on.
    pub chroot: ChrootDefinition,
    /// Repos for BuildRequires besides the chroot's own: the project's repo
    /// and the repos it builds against (dependency projects, transitively,
    /// and external repos), with priorities and, for koper projects, the
    /// URL of the key their packages are signed with.
    pub repos: Vec<RepoDefinition>,
    /// Packages installed into the buildroot before the BuildRequires (the
    /// project chroot's extra buildroot packages).
    #[serde(default)]
    pub extra_packages: Vec<String>,
    /// rpm macros for the build (vendor, packager, ...).
    pub macros: BTreeMap<String, String>,
    /// Build timeout in seconds.
    pub timeout_seconds: u64,
    /// Largest live log the build may write, in bytes.
    pub max_log_bytes: u64,
    /// Whether the build may use the network.
    pub enable_net: bool,
    /// Set for a source task (chroot `srpm-builds`): make the source RPM
    /// from this repository or spec instead of building one, and upload it as the
    /// task's only package. `srpm_path`, `repos`, `extra_packages` and
    /// `macros` are empty then; `chroot` only names the architecture.
    /// Since version 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceTask>,
    /// The server takes findings that come after the outcome
    /// ([`LATE_LOGS`] through `PUT .../late/{name}` once `finish` said
    /// `succeeded`), so the builder may report a successful build before
    /// rpmlint has checked it. Absent (false) from older servers: the
    /// builder then uploads `rpmlint.log` before `finish`. Since version 4.
    #[serde(default)]
    pub late_logs: bool,
}

/// The logs a builder may send after reporting success (see
/// [`Task::late_logs`]).
pub const LATE_LOGS: &[&str] = &["rpmlint.log"];

/// What a source task makes its source RPM from: `scm` or (since
/// version 4) `spec`, exactly one of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceTask {
    /// The git repository, committish, subdirectory, spec and method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scm: Option<ScmSource>,
    /// A spec file the server fetched from a URL; its `SourceN`/`PatchN`
    /// URLs are fetched by the builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecSource>,
    /// The most disk the checkout (or the spec and its fetched sources)
    /// may fill, in bytes.
    pub max_checkout_bytes: u64,
}

/// What a heartbeat or log upload learns from the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseStatus {
    /// The user canceled the build: stop it and finish as canceled.
    pub cancel: bool,
    /// Seconds until the lease expires unless renewed again.
    pub lease_seconds: u64,
}

/// How a task ended on the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// rpmbuild succeeded; the packages were uploaded.
    Succeeded,
    /// The package failed to build (or timed out, or logged too much).
    Failed,
    /// Stopped because the user canceled.
    Canceled,
}

/// The last call of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinishRequest {
    /// The lease the builder holds.
    pub lease_id: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, for the user (timeout, log limit, exit status).
    #[serde(default)]
    pub reason: Option<String>,
}
