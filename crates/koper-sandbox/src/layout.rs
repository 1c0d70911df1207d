//! The top level of a buildroot: which directories of the base root are
//! overlaid, which are symlinks, which start empty; and the per-build
//! mounts that make it.
//!
//! A build's root is not one overlay over the whole base root. Each system
//! directory (`usr`, `etc`, and `bin`, `lib*` where they are not symlinks
//! into `usr`) gets an overlay of its own and everything else starts
//! empty. For a host base root (`/`) this keeps the host's `/root`,
//! `/home`, `/var` and the builder's own data out of the buildroot even for
//! dnf, and avoids overlayfs' refusal to nest a lower dir inside another.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::SandboxError;
use crate::fsutil;

/// Top-level directories that are commonly symlinks into `/usr`.
pub(crate) const MERGED_USR: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Top-level directories of a dnf-made root that are never taken from it.
const PSEUDO: &[&str] = &["proc", "sys", "dev", "run", "tmp"];

/// One top-level entry of a build's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// An overlay of the base root's directory of this name.
    Overlay(String),
    /// A symlink, as in the base root.
    Symlink {
        /// Its name.
        name: String,
        /// Where it points.
        target: PathBuf,
    },
}

impl Entry {
    /// The entry's name (`usr`, `bin`).
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Overlay(name) | Self::Symlink { name, .. } => name,
        }
    }
}

/// The top level of a base root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The base root.
    pub(crate) base: PathBuf,
    /// Its entries, `usr` first.
    pub(crate) entries: Vec<Entry>,
}

impl Layout {
    /// The layout of a directory base root: `usr`, `etc` and the
    /// merged-usr names, whichever form they have.
    pub(crate) fn of_directory(base: &Path) -> Result<Self, SandboxError> {
        let mut names = vec!["usr", "etc"];
        names.extend(MERGED_USR);
        let mut entries = Vec::new();
        for name in names {
            if let Some(entry) = entry(base, name)? {
                entries.push(entry);
            }
        }
        for required in ["usr", "etc"] {
            if !entries.contains(&Entry::Overlay(required.into())) {
                return Err(SandboxError::Config(format!(
                    "the base root {} has no directory {required}",
                    base.display()
                )));
            }
        }
        Ok(Self {
            base: base.to_owned(),
            entries,
        })
    }

    /// The layout of a root dnf made: every top-level directory except the
    /// pseudo file systems, and every symlink.
    pub(crate) fn of_installed(base: &Path) -> Result<Self, SandboxError> {
        let read =
            fs::read_dir(base).map_err(SandboxError::io(format!("listing {}", base.display())))?;
        let mut names = Vec::new();
        for item in read {
            let item = item.map_err(SandboxError::io(format!("listing {}", base.display())))?;
            if let Some(name) = item.file_name().to_str()
                && !PSEUDO.contains(&name)
            {
                names.push(name.to_owned());
            }
        }
        names.sort_by_key(|name| (name != "usr", name.clone()));
        let mut entries = Vec::new();
        for name in &names {
            if let Some(entry) = entry(base, name)? {
                entries.push(entry);
            }
        }
        Ok(Self {
            base: base.to_owned(),
            entries,
        })
    }

    /// The entries a sandbox shows from this root: `usr`, `etc` and the
    /// merged-usr names.
    pub(crate) fn system_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.name(), "usr" | "etc") || MERGED_USR.contains(&e.name()))
    }
}

fn entry(base: &Path, name: &str) -> Result<Option<Entry>, SandboxError> {
    let path = base.join(name);
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SandboxError::io(format!("inspecting {}", path.display()))(
                e,
            ));
        }
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(&path)
            .map_err(SandboxError::io(format!("reading {}", path.display())))?;
        return Ok(Some(Entry::Symlink {
            name: name.to_owned(),
            target,
        }));
    }
    Ok(meta.is_dir().then(|| Entry::Overlay(name.to_owned())))
}

/// A build's root with its overlays mounted. Dropping it unmounts them.
/// The mounts live in the build thread's private mount namespace, so they
/// also disappear if the builder dies; the explicit unmount lets the
/// scratch directory be removed right away.
pub(crate) struct MountedRoot {
    /// The merged root.
    pub(crate) path: PathBuf,
    mounts: Vec<PathBuf>,
}

impl MountedRoot {
    /// Mounts `layout` at `scratch/root`, with upper and work dirs in
    /// `scratch/upper` and `scratch/ovlwork` (root-only, so the files dnf
    /// writes are never reachable from the host except through the
    /// overlay, which is `nosuid,nodev`).
    pub(crate) fn mount(layout: &Layout, scratch: &Path) -> Result<Self, SandboxError> {
        let root = scratch.join("root");
        let upper = scratch.join("upper");
        let work = scratch.join("ovlwork");
        fsutil::make_dir(&root, 0o755)?;
        fsutil::make_dir(&upper, 0o700)?;
        fsutil::make_dir(&work, 0o700)?;
        let mut mounted = Self {
            path: root.clone(),
            mounts: Vec::new(),
        };
        for entry in &layout.entries {
            match entry {
                Entry::Symlink { name, target } => {
                    std::os::unix::fs::symlink(target, root.join(name))
                        .map_err(SandboxError::io(format!("creating {name} in the root")))?;
                }
                Entry::Overlay(name) => {
                    let lower = layout.base.join(name);
                    let target = root.join(name);
                    fsutil::make_dir(&target, 0o755)?;
                    fsutil::make_dir(&upper.join(name), 0o755)?;
                    fsutil::make_dir(&work.join(name), 0o700)?;
                    let options = overlay_options(&lower, &upper.join(name), &work.join(name))?;
                    mount(
                        Some("overlay"),
                        &target,
                        Some("overlay"),
                        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                        Some(options.as_str()),
                    )
                    .map_err(SandboxError::sys(format!(
                        "mounting an overlay of {} at {}",
                        lower.display(),
                        target.display()
                    )))?;
                    mounted.mounts.push(target);
                }
            }
        }
        // Directories every root needs and no base root provides here.
        for (name, mode) in [
            ("var", 0o755),
            ("var/lib", 0o755),
            ("var/tmp", 0o1777),
            ("tmp", 0o1777),
            ("dev", 0o755),
            ("proc", 0o755),
            ("run", 0o755),
        ] {
            let path = root.join(name);
            if fs::symlink_metadata(&path).is_err() {
                fsutil::make_dir(&path, mode)?;
            }
        }
        Ok(mounted)
    }

    /// Unmounts everything, last mounted first. Errors are reported, not
    /// returned: the caller is cleaning up.
    pub(crate) fn unmount(&mut self) {
        while let Some(target) = self.mounts.pop() {
            if let Err(e) = umount2(&target, MntFlags::MNT_DETACH) {
                tracing::warn!(path = %target.display(), error = %e, "cannot unmount an overlay");
            }
        }
    }
}

impl Drop for MountedRoot {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The option string of an overlay mount. Paths with the separators
/// overlayfs uses in it cannot be expressed and are refused.
fn overlay_options(lower: &Path, upper: &Path, work: &Path) -> Result<String, SandboxError> {
    let mut parts = Vec::new();
    for (key, path) in [("lowerdir", lower), ("upperdir", upper), ("workdir", work)] {
        let text = path.to_str().filter(|t| !t.contains([',', ':', '\\']));
        let Some(text) = text else {
            return Err(SandboxError::Config(format!(
                "{} cannot be used in an overlay mount (it has a ',', ':' or '\\', or is not UTF-8)",
                path.display()
            )));
        };
        parts.push(format!("{key}={text}"));
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_layout_has_usr_etc_and_its_links() {
        let layout = Layout::of_directory(Path::new("/")).unwrap();
        assert_eq!(layout.entries[0], Entry::Overlay("usr".into()));
        assert_eq!(layout.entries[1], Entry::Overlay("etc".into()));
        assert!(layout.entries.iter().any(|e| e.name() == "bin"));
        assert!(layout.entries.iter().all(|e| e.name() != "root"));
    }

    #[test]
    fn an_installed_root_keeps_all_but_pseudo_directories() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["usr", "var", "etc", "proc", "tmp", "opt"] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::os::unix::fs::symlink("usr/bin", dir.path().join("bin")).unwrap();
        let layout = Layout::of_installed(dir.path()).unwrap();
        let names: Vec<&str> = layout.entries.iter().map(Entry::name).collect();
        assert_eq!(names, ["usr", "bin", "etc", "opt", "var"]);
        let system: Vec<&str> = layout.system_entries().map(Entry::name).collect();
        assert_eq!(system, ["usr", "bin", "etc"]);
    }

    #[test]
    fn overlay_options_refuse_separators() {
        let ok = overlay_options(Path::new("/a"), Path::new("/b"), Path::new("/c")).unwrap();
        assert_eq!(ok, "lowerdir=/a,upperdir=/b,workdir=/c");
        assert!(overlay_options(Path::new("/a,b"), Path::new("/b"), Path::new("/c")).is_err());
        assert!(overlay_options(Path::new("/a:b"), Path::new("/b"), Path::new("/c")).is_err());
    }
}
