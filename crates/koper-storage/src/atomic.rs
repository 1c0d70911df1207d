//! Atomic file writes: readers see the old file or the new one, never half
//! of one, even if the process dies mid-write.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A random hex string for temporary file names.
pub fn random_suffix() -> String {
    let mut bytes = [0u8; 8];
    // The OS RNG failing leaves zeros; names still differ by pid below.
    let _ = getrandom::fill(&mut bytes);
    format!("{}-{}", std::process::id(), hex::encode(bytes))
}

fn temp_path_for(path: &Path) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    // A dot-prefixed temp name in the same directory: same file system for
    // the rename, and hidden from directory listings.
    Ok(path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        random_suffix()
    )))
}

/// Flushes a directory's entries to disk, so a rename in it survives a
/// crash.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes a file through a temporary file in the same directory, fsyncs it
/// and renames it into place.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomically_with(path, |file| file.write_all(contents))
}

fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let temp = temp_path_for(path)?;
    let result = (|| {
        let mut file = File::create(&temp)?;
        fill(&mut file)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        if let Some(dir) = path.parent() {
            fsync_dir(dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Compresses `src` into `dst` (gzip) atomically; `src` is left in place.
pub fn gzip_atomically(src: &Path, dst: &Path) -> io::Result<()> {
    write_atomically_with(dst, |file| {
        let mut input = File::open(src)?;
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        io::copy(&mut input, &mut encoder)?;
        encoder.finish()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repomd.xml");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn gzip_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("builder-live.log");
        fs::write(&src, "line 1\nline 2\n").unwrap();
        let dst = dir.path().join("builder-live.log.gz");
        gzip_atomically(&src, &dst).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(File::open(&dst).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "line 1\nline 2\n");
    }
}
