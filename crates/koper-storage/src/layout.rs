//! The data directory's layout.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use koper_types::{BuildId, ChrootName, OwnerName, PackageName, ProjectName};

/// The one directory holding all of a server's state.
///
/// ```text
/// koper.db          SQLite database (when no PostgreSQL URL is set)
/// koper.toml        optional server settings
/// chroots/          chroot definitions overriding the shipped ones
/// results/          the public repositories (Copr's layout)
/// uploads/          accepted source RPMs, by build
/// spool/            uploads still arriving
/// staging/          builder uploads waiting to be published
/// cache/repodata/   per-repo metadata caches
/// keys/             project signing keys (secret; mode 0700, never served)
/// builder/          the local builder's buildroot cache and scratch space
/// server.url        the URL the running server answers on
/// ```
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (made absolute).
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = std::path::absolute(root)?;
        Ok(Self { root })
    }

    /// Creates the directory and its subdirectories.
    pub fn create(&self) -> io::Result<()> {
        for dir in [
            self.root.clone(),
            self.results().root().to_owned(),
            self.uploads_dir(),
            self.spool_dir(),
            self.staging_dir(),
            self.root.join("cache/repodata"),
            self.builder_dir(),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        // Secret keys: only the server's own user may even list them.
        let keys = self.keys_dir();
        std::fs::create_dir_all(&keys)?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))?;
        Ok(())
    }

    /// Project signing keys, outside the public tree and readable by the
    /// server's user only.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The secret key file of one project.
    pub fn project_key_file(&self, owner: &OwnerName, project: &ProjectName) -> PathBuf {
        self.keys_dir()
            .join(owner.as_str())
            .join(format!("{project}.asc"))
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The embedded database's URL.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.root.join("koper.db").display())
    }

    /// The optional settings file.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("koper.toml")
    }

    /// Chroot definitions that override or extend the shipped ones.
    pub fn chroots_dir(&self) -> PathBuf {
        self.root.join("chroots")
    }

    /// The public results tree.
    pub fn results(&self) -> ResultsTree {
        ResultsTree {
            root: self.root.join("results"),
        }
    }

    /// Accepted source RPMs.
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// Uploads in progress.
    pub fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    /// Builder uploads of one task, waiting to be published.
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join("staging")
    }

    /// The repodata cache of one chroot repo.
    pub fn repodata_cache_dir(
        &self,
        owner: &OwnerName,
        project: &ProjectName,
        chroot: &ChrootName,
    ) -> PathBuf {
        self.root
            .join("cache/repodata")
            .join(owner.as_str())
            .join(project.as_str())
            .join(chroot.as_str())
    }

    /// The local builder's buildroot cache and scratch space.
    pub fn builder_dir(&self) -> PathBuf {
        self.root.join("builder")
    }

    /// Where `koper serve` records its URL for `koper admin`.
    pub fn url_file(&self) -> PathBuf {
        self.root.join("server.url")
    }
}

/// The public results tree, in Copr's layout:
/// `<owner>/<project>/<chroot>/<build:08>-<package>/`.
#[derive(Debug, Clone)]
pub struct ResultsTree {
    root: PathBuf,
}

impl ResultsTree {
    /// A tree rooted at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A project's directory (holds `pubkey.gpg` and one repo per chroot).
    pub fn project_dir(&self, owner: &OwnerName, project: &ProjectName) -> PathBuf {
        self.root.join(owner.as_str()).join(project.as_str())
    }

    /// One chroot's repository.
    pub fn repo_dir(
        &self,
        owner: &OwnerName,
        project: &ProjectName,
        chroot: &ChrootName,
    ) -> PathBuf {
        self.project_dir(owner, project).join(chroot.as_str())
    }

    /// One build's results in one chroot.
    pub fn build_dir(
        &self,
        owner: &OwnerName,
        project: &ProjectName,
        chroot: &ChrootName,
        build: BuildId,
        package: &PackageName,
    ) -> PathBuf {
        self.repo_dir(owner, project, chroot)
            .join(build.result_dir_name(package))
    }

    /// Maps a URL path below `/results/` to a file in the tree. Refuses
    /// empty, `.`, `..` and hidden (dot) components, so nothing outside the
    /// tree and no temporary file is ever served.
    pub fn resolve(&self, url_path: &str) -> Option<PathBuf> {
        let mut path = self.root.clone();
        for part in url_path.split('/').filter(|part| !part.is_empty()) {
            if part.starts_with('.') || part.contains('\\') || part.contains('\0') {
                return None;
            }
            path.push(part);
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_follow_coprs_layout() {
        let tree = ResultsTree::new("/r".into());
        let dir = tree.build_dir(
            &"alice".parse().unwrap(),
            &"hello".parse().unwrap(),
            &"host-1-x86_64".parse().unwrap(),
            BuildId(1),
            &"hello".parse().unwrap(),
        );
        assert_eq!(
            dir,
            Path::new("/r/alice/hello/host-1-x86_64/00000001-hello")
        );
    }

    #[test]
    fn url_paths_cannot_leave_the_tree() {
        let tree = ResultsTree::new("/r".into());
        assert_eq!(tree.resolve("alice/hello/"), Some("/r/alice/hello".into()));
        assert_eq!(tree.resolve(""), Some("/r".into()));
        for bad in [
            "../etc/passwd",
            "alice/../../x",
            "a/./b",
            "a/.tmp-x",
            "a\\..\\b",
        ] {
            assert_eq!(tree.resolve(bad), None, "{bad}");
        }
    }
}
