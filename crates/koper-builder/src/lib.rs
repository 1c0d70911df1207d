//! The koper builder: pulls tasks from a server over HTTP (no connection
//! into a builder is ever needed), builds each in the sandbox, streams the
//! live log, uploads the results and reports the outcome. The protocol is
//! `docs/builder-api.md`.
//!
//! `koper builder --server URL --token T` runs it on any host;
//! `koper serve` runs the same code in-process as its local builder.

mod client;
mod upstream;
mod worker;

use std::path::PathBuf;

pub use client::ProtocolError;
pub use koper_sandbox::ResourceLimits;
pub use worker::run;

/// How a builder runs.
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    /// The server's base URL.
    pub server_url: String,
    /// This builder's token.
    pub token: String,
    /// Architectures it builds for.
    pub arches: Vec<String>,
    /// Capabilities it offers (matched against what chroots need).
    pub tags: Vec<String>,
    /// How many builds it runs at once.
    pub slots: u32,
    /// Its own files: buildroot caches and per-build scratch space.
    pub work_dir: PathBuf,
    /// Slot `n` builds as host uid `sandbox_uid_base + n`.
    pub sandbox_uid_base: u32,
    /// Memory, process and file-size limits of every build.
    pub limits: ResourceLimits,
    /// Extra trusted certificates (PEM) for a server with its own CA.
    pub ca_cert: Option<PathBuf>,
    /// How often the repos of a dnf base root are asked whether they
    /// changed (a change makes the root again).
    pub upstream_check_interval: std::time::Duration,
}

impl BuilderConfig {
    /// A one-slot builder for the host's architecture.
    pub fn new(server_url: String, token: String, work_dir: PathBuf) -> Self {
        Self {
            server_url: server_url.trim_end_matches('/').to_owned(),
            token,
            arches: vec![host_arch().to_owned()],
            tags: Vec::new(),
            slots: 1,
            work_dir,
            sandbox_uid_base: 3_000_000,
            limits: default_limits(),
            ca_cert: None,
            upstream_check_interval: std::time::Duration::from_secs(600),
        }
    }
}

/// The limits every build gets unless the builder is told otherwise:
/// enough for large packages, not enough for one hostile build to take
/// the builder's host down with it.
pub fn default_limits() -> ResourceLimits {
    ResourceLimits {
        memory_bytes: Some(8 << 30),
        max_processes: Some(4096),
        max_file_bytes: Some(16 << 30),
        max_disk_bytes: Some(64 << 30),
    }
}

/// The RPM architecture of this host.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "i686",
        "powerpc64" => "ppc64le",
        other => other,
    }
}
