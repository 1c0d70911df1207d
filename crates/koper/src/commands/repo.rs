//! `koper createrepo`: the repodata engine on any directory of RPMs.

use std::path::PathBuf;
use std::process::ExitCode;

use koper_repodata::{Compression, RepodataOptions};
use sha2::Digest;

use crate::cli::CreaterepoArgs;
use crate::exit::{CommandResult, Failure};

/// A cache directory per repository directory, outside it.
fn default_cache_dir(dir: &std::path::Path) -> Result<PathBuf, Failure> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or_else(|| Failure::local("no HOME to keep the cache in").hint("pass --cache-dir"))?;
    let digest = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    Ok(base
        .join("koper/createrepo")
        .join(&hex::encode(digest)[..16]))
}

pub async fn createrepo(args: CreaterepoArgs) -> CommandResult {
    let dir = std::path::absolute(&args.dir).map_err(Failure::local)?;
    if !dir.is_dir() {
        return Err(Failure::local(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let cache_dir = match args.cache_dir {
        Some(dir) => dir,
        None => default_cache_dir(&dir)?,
    };
    let mut options = RepodataOptions::new(cache_dir);
    options.changelog_limit = args.changelog_limit;
    if args.zstd {
        options.compression = Compression::Zstd;
    }
    let update = args.update;
    let report =
        tokio::task::spawn_blocking(move || koper_repodata::createrepo_dir(&dir, update, &options))
            .await
            .map_err(Failure::local)?
            .map_err(Failure::local)?;
    for (path, reason) in &report.skipped {
        eprintln!("skipped {}: {reason}", path.display());
    }
    eprintln!(
        "{} packages ({} read, {} removed); revision {}{}",
        report.packages,
        report.read,
        report.removed,
        report.revision,
        if report.changed { "" } else { " (unchanged)" }
    );
    Ok(ExitCode::SUCCESS)
}
