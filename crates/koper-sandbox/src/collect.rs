//! Taking the RPMs out of a finished build's output directory.
//!
//! The directory was writable by the build, so everything in it is hostile
//! until checked: only regular files named `*.rpm`, directly in it, owned
//! by the sandbox uid and with a single link are taken; they are opened
//! without following symlinks and copied into a file the builder creates.
//! No sandbox process is alive at this point, so nothing can swap a file
//! between the check and the copy.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::SandboxError;

/// What was taken, and what was refused (for the log).
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// The copies in the result directory, sorted.
    pub(crate) packages: Vec<PathBuf>,
    /// Entries that were not taken, with why.
    pub(crate) refused: Vec<String>,
}

/// Copies the RPMs in `from` into `to`.
pub(crate) fn collect_rpms(from: &Path, to: &Path, owner: u32) -> Result<Collected, SandboxError> {
    let mut collected = Collected::default();
    let listing =
        fs::read_dir(from).map_err(SandboxError::io(format!("listing {}", from.display())))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(SandboxError::io(format!("listing {}", from.display())))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let shown = name.to_string_lossy().into_owned();
        let plain = name
            .to_str()
            .filter(|n| n.ends_with(".rpm") && !n.starts_with('.') && n.len() > 4)
            .filter(|n| n.bytes().all(|b| b.is_ascii_graphic() && b != b'/'));
        let Some(plain) = plain else {
            collected
                .refused
                .push(format!("{shown}: not a plain *.rpm name"));
            continue;
        };
        match copy_one(&from.join(plain), &to.join(plain), owner) {
            Ok(Ok(dest)) => collected.packages.push(dest),
            Ok(Err(why)) => collected.refused.push(format!("{shown}: {why}")),
            Err(e) => {
                return Err(SandboxError::io(format!(
                    "copying {shown} into the result directory"
                ))(e));
            }
        }
    }
    Ok(collected)
}

/// Copies one file; the inner error is a refusal, the outer an I/O error.
fn copy_one(src: &Path, dest: &Path, owner: u32) -> io::Result<Result<PathBuf, String>> {
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(src)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Err("a symlink".into()));
        }
        Err(e) => return Ok(Err(format!("cannot open: {e}"))),
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Ok(Err("not a regular file".into()));
    }
    if meta.uid() != owner {
        return Ok(Err(format!("owned by uid {}, not the sandbox", meta.uid())));
    }
    if meta.nlink() != 1 {
        return Ok(Err("has other hard links".into()));
    }
    let mut out: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(dest)?;
    io::copy(&mut file, &mut out)?;
    out.sync_all()?;
    Ok(Ok(dest.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn only_plain_rpm_files_of_the_owner_are_taken() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let secret = tempfile::NamedTempFile::new().unwrap();
        fs::write(secret.path(), "secret").unwrap();
        let me = nix::unistd::getuid().as_raw();
        fs::write(from.path().join("good-1-1.noarch.rpm"), "rpm").unwrap();
        fs::write(from.path().join("notes.txt"), "x").unwrap();
        symlink(secret.path(), from.path().join("evil-1-1.noarch.rpm")).unwrap();
        fs::create_dir(from.path().join("dir.rpm")).unwrap();
        fs::write(from.path().join("linked.rpm"), "x").unwrap();
        fs::hard_link(
            from.path().join("linked.rpm"),
            from.path().join("linked2.txt"),
        )
        .unwrap();

        let got = collect_rpms(from.path(), to.path(), me).unwrap();
        assert_eq!(got.packages, [to.path().join("good-1-1.noarch.rpm")]);
        assert_eq!(got.refused.len(), 5, "{:?}", got.refused);
        assert!(!to.path().join("evil-1-1.noarch.rpm").exists());
        assert_eq!(
            fs::read_to_string(to.path().join("good-1-1.noarch.rpm")).unwrap(),
            "rpm"
        );

        let other = collect_rpms(from.path(), tempfile::tempdir().unwrap().path(), me + 1).unwrap();
        assert!(other.packages.is_empty());
    }
}
