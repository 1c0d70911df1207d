//! Receiving uploads: streamed to a file chunk by chunk (never held in
//! memory whole), hashed on the way, cut off at the size limit.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// A file received in full.
#[derive(Debug)]
pub struct Spooled {
    /// Where it is.
    pub path: PathBuf,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// The name the client gave it (for messages).
    pub name: String,
}

/// A spooled file not written to for this long belongs to an upload that
/// will never end: its server was killed (or its client went silent and
/// was cut off). Uploads in progress, on this server or another one
/// sharing the data directory, write far more often.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);
/// How often abandoned spool files are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

fn too_large(limit: u64) -> Error {
    Error::TooLarge(format!(
        "the upload is larger than this server accepts ({limit} bytes)"
    ))
}

/// A fresh file name in the spool.
pub fn new_path(app: &crate::app::App) -> PathBuf {
    app.data()
        .spool_dir()
        .join(format!("{}.upload", koper_storage::random_suffix()))
}

/// Refuses a declared size above the limit.
pub fn check_announced(len: u64, limit: u64) -> Result<()> {
    if len > limit {
        return Err(too_large(limit));
    }
    Ok(())
}

/// Writes `body` to a new file at `path`, refusing more than `limit` bytes.
/// On any error the partial file is removed.
pub async fn receive<S, E>(
    body: S,
    path: &Path,
    limit: u64,
    announced_len: Option<u64>,
) -> Result<Spooled>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    if let Some(len) = announced_len {
        check_announced(len, limit)?;
    }
    let result = write_body(body, path, limit).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

async fn write_body<S, E>(body: S, path: &Path, limit: u64) -> Result<Spooled>
where
    S: Stream<Item = std::result::Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create_new(path).await?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| Error::bad_request(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.sync_all().await?;
    Ok(Spooled {
        path: path.to_owned(),
        sha256: hex::encode(hasher.finalize()),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}

/// The SHA-256 of a file, hex (read in chunks).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Removes the spool's abandoned files (see [`ABANDONED_AFTER`]); how many.
pub fn remove_abandoned(spool: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(spool) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        let idle = meta
            .modified()
            .ok()
            .and_then(|written| now.duration_since(written).ok());
        if meta.is_file() && idle.is_some_and(|idle| idle >= ABANDONED_AFTER) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Another server sharing the directory took it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Sweeps the spool of `app` now and every [`SWEEP_EVERY`].
pub async fn run_sweep_loop(app: crate::app::App) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let spool = app.data().spool_dir();
        match tokio::task::spawn_blocking(move || remove_abandoned(&spool)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => {
                tracing::warn!(removed, "removed abandoned uploads from the spool")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot sweep the spool"),
            Err(e) => tracing::error!(error = %e, "cannot sweep the spool"),
        }
    }
}
