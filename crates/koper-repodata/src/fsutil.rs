//! Atomic file replacement and the writer lock.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::{RepodataError, io_err};

/// Replaces `path` with `bytes` through a temporary file and a rename, so
/// that readers see the old or the new content, never a mix; not durable
/// across a power loss.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<(), RepodataError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".koper-tmp-{}-{name}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// The exclusive writer lock of one repository: a lock on `cache_dir/lock`,
/// released when dropped (or when the process dies).
pub(crate) struct WriterLock {
    _file: File,
}

impl WriterLock {
    pub(crate) fn acquire(cache_dir: &Path) -> Result<Self, RepodataError> {
        std::fs::create_dir_all(cache_dir).map_err(io_err(cache_dir))?;
        let path = cache_dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        file.lock().map_err(io_err(&path))?;
        Ok(Self { _file: file })
    }
}
