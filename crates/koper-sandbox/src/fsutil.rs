//! File-system helpers that are careful about mounts, symlinks and modes.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::SandboxError;

/// The bytes of disk the files below `dir` occupy, counted without
/// following symlinks or entering other file systems (the buildroot's
/// merged overlay is a mount inside a build's scratch directory; its upper
/// layer, which holds what the build wrote, is not). Files that vanish
/// while counting are skipped.
pub(crate) fn disk_usage(dir: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return 0;
    };
    let dev = meta.dev();
    let mut total = meta.blocks() * 512;
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != dev {
                continue;
            }
            total += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

/// Removes `path` and everything below it without following symlinks and
/// without descending into another file system: a directory on another
/// device is a mount that is still there, and removing through it could
/// reach files that are not ours. Such a tree is left in place and reported.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    remove_contents(path, meta.dev())?;
    fs::remove_dir(path)
}

fn remove_contents(dir: &Path, dev: u64) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            if meta.dev() != dev {
                return Err(io::Error::other(format!(
                    "{} is on another file system (still mounted?)",
                    path.display()
                )));
            }
            remove_contents(&path, dev)?;
            fs::remove_dir(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Creates `path` (and missing parents) and sets its mode.
pub(crate) fn make_dir(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::create_dir_all(path).map_err(SandboxError::io(format!("creating {}", path.display())))?;
    set_mode(path, mode)
}

/// Sets the permission bits of `path`.
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), SandboxError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(SandboxError::io(format!(
        "setting the mode of {}",
        path.display()
    )))
}

/// Hands `path` to `uid` (and the group of the same number).
pub(crate) fn chown(path: &Path, uid: u32) -> Result<(), SandboxError> {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).map_err(SandboxError::io(format!(
        "handing {} to uid {uid}",
        path.display()
    )))
}

/// Writes a small file with the given mode.
pub(crate) fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), SandboxError> {
    fs::write(path, text).map_err(SandboxError::io(format!("writing {}", path.display())))?;
    set_mode(path, mode)
}

/// The first directory on the way to `path` (itself included) that `uid`
/// cannot traverse, when there is one. Only the uid's own group (same
/// number) counts: sandbox uids have no supplementary groups.
pub(crate) fn untraversable_ancestor(path: &Path, uid: u32) -> io::Result<Option<PathBuf>> {
    let path = fs::canonicalize(path)?;
    for dir in path.ancestors() {
        let meta = fs::metadata(dir)?;
        let mode = meta.mode();
        let allowed = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == uid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !allowed {
            return Ok(Some(dir.to_owned()));
        }
    }
    Ok(None)
}

/// Copies the tree `from` into `to` (merging with what is there), keeping
/// modes and symlinks as they are. Used for small trees koper made itself.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from)?;
        return std::os::unix::fs::symlink(target, to);
    }
    if meta.is_dir() {
        if !to.is_dir() {
            fs::create_dir(to)?;
            fs::set_permissions(to, meta.permissions())?;
        }
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    fs::copy(from, to)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_leaves_symlink_targets_alone() {
        let dir = tempfile::tempdir().unwrap();
        let keep = dir.path().join("keep");
        fs::create_dir(&keep).unwrap();
        fs::write(keep.join("precious"), "x").unwrap();
        let doomed = dir.path().join("doomed");
        fs::create_dir_all(doomed.join("a/b")).unwrap();
        fs::write(doomed.join("a/b/file"), "x").unwrap();
        std::os::unix::fs::symlink(&keep, doomed.join("a/link")).unwrap();
        fs::set_permissions(doomed.join("a/b"), fs::Permissions::from_mode(0o000)).unwrap();
        remove_tree(&doomed).unwrap();
        assert!(!doomed.exists());
        assert!(keep.join("precious").exists());
        remove_tree(&doomed).unwrap();
    }

    #[test]
    fn traversal_is_checked_for_every_ancestor() {
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let inner = dir.path().join("a/b");
        fs::create_dir_all(&inner).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711)).unwrap();
        fs::set_permissions(dir.path().join("a"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(untraversable_ancestor(&inner, 3_000_123).unwrap(), None);
        fs::set_permissions(dir.path().join("a"), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            untraversable_ancestor(&inner, 3_000_123).unwrap(),
            Some(dir.path().join("a"))
        );
    }
}
