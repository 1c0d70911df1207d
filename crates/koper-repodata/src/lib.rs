#![doc = include_str!("../README.md")]

mod fsutil;
mod package;
mod remote;
mod repomd;
mod state;
mod update;
mod xml;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use remote::{
    ListedPackage, RemoteMetadata, RepomdEntry, decompress, merge, parse_repomd, primary_packages,
    sha256_hex, unescape,
};
pub use update::{createrepo_dir, publish, regenerate};

/// An RPM file to list in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPackage {
    /// The RPM file on disk.
    pub path: PathBuf,
    /// Its `href` relative to the repository directory, with `/` separators,
    /// e.g. `00000001-hello/hello-1.0-1.noarch.rpm`.
    pub location: String,
}

/// What one publication changes in a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoChanges {
    /// Packages to add; one at a location already listed replaces it.
    pub add: Vec<RepoPackage>,
    /// Location prefixes to drop, e.g. a build's directory
    /// `00000001-hello/`. Every package whose location starts with one of
    /// them is removed.
    pub remove: Vec<String>,
}

/// How the metadata files are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `.xml.gz`, what every client reads (createrepo_c's default).
    #[default]
    Gzip,
    /// `.xml.zst`, smaller and faster; needs a client with zstd support
    /// (dnf 4.x on Fedora, RHEL 9).
    Zstd,
}

impl Compression {
    /// The file name suffix after `.xml`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Gzip => "gz",
            Self::Zstd => "zst",
        }
    }
}

/// How metadata is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepodataOptions {
    /// Compression of primary, filelists and other.
    pub compression: Compression,
    /// How many of its newest changelog entries each package keeps in
    /// other.xml (createrepo_c's `--changelog-limit`, default 10).
    pub changelog_limit: usize,
    /// How long the files of a replaced revision stay, for clients that
    /// fetched the previous `repomd.xml` just before.
    pub grace_period: Duration,
    /// Per-repository cache (metadata fragments, the lock file). Must be
    /// outside the public repository directory and belong to this one
    /// repository.
    pub cache_dir: PathBuf,
    /// Signs every `repomd.xml` written; the signature goes to
    /// `repodata/repomd.xml.asc`. `None`: the metadata is not signed.
    pub signer: Option<RepomdSigner>,
}

/// Makes the detached signature of a `repomd.xml` (its bytes in, the
/// signature file's bytes out), for repositories that clients check with
/// `repo_gpgcheck`.
#[derive(Clone)]
pub struct RepomdSigner(Arc<SignFn>);

type SignFn = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync;

impl RepomdSigner {
    /// A signer calling `sign`.
    pub fn new(sign: impl Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(sign))
    }

    pub(crate) fn sign(&self, repomd: &[u8]) -> Result<Vec<u8>, String> {
        (self.0)(repomd)
    }
}

impl std::fmt::Debug for RepomdSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RepomdSigner")
    }
}

impl PartialEq for RepomdSigner {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RepomdSigner {}

impl RepodataOptions {
    /// createrepo_c's defaults (gzip, 10 changelog entries), with a one-hour
    /// grace period and the given cache directory.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            compression: Compression::Gzip,
            changelog_limit: 10,
            grace_period: Duration::from_secs(3600),
            cache_dir: cache_dir.into(),
            signer: None,
        }
    }
}

/// A per-repository cache directory for `repo_dir` under the user's cache
/// (`$XDG_CACHE_HOME` or `~/.cache`, then `koper/repodata/<digest of the
/// repository's absolute path>`), for callers such as `koper createrepo DIR`
/// that have no data directory of their own.
pub fn default_cache_dir(repo_dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let absolute = std::fs::canonicalize(repo_dir).unwrap_or_else(|_| repo_dir.to_path_buf());
    let digest = hex::encode(Sha256::digest(absolute.as_os_str().as_encoded_bytes()));
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("koper/repodata").join(&digest[..24])
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// The revision written to `repomd.xml` (Unix seconds), or the current
    /// one when nothing changed.
    pub revision: u64,
    /// Packages listed in the repository now.
    pub packages: usize,
    /// Packages whose RPM file was read.
    pub read: usize,
    /// Packages listed before and no longer.
    pub removed: usize,
    /// Metadata pieces (groups of packages) compressed anew.
    pub pieces_written: usize,
    /// Whether a new revision was written; `false` when the repository was
    /// already up to date.
    pub changed: bool,
    /// Files that `createrepo_dir` skipped because they are not valid RPMs,
    /// with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Why metadata could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RepodataError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A package file is not a valid RPM.
    #[error("{}: {source}", path.display())]
    Package {
        /// The RPM file.
        path: PathBuf,
        /// What is wrong with it.
        source: koper_rpm::RpmError,
    },
    /// A location is not a clean relative path inside the repository.
    #[error("invalid package location {0:?}: it must be a relative path inside the repository")]
    InvalidLocation(String),
    /// The cache directory is inside the repository directory.
    #[error("the cache directory must not be inside the repository directory")]
    CacheInsideRepo,
    /// The signer refused to sign `repomd.xml`.
    #[error("signing repomd.xml failed: {0}")]
    Sign(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RepodataError + '_ {
    move |source| RepodataError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cache_dirs_differ_per_repository() {
        let a = default_cache_dir(Path::new("/srv/repo-a"));
        let b = default_cache_dir(Path::new("/srv/repo-b"));
        assert_ne!(a, b);
        assert_eq!(a, default_cache_dir(Path::new("/srv/repo-a")));
        assert!(a.ends_with(a.file_name().unwrap_or_default()));
        assert!(a.to_string_lossy().contains("koper/repodata/"));
    }
}
