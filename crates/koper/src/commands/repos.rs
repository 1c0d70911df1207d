//! `koper mirror` and `koper sync-to-repo`: repositories as files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use koper_client::Client;
use koper_repodata::{RemoteMetadata, RepoPackage, RepodataOptions};
use koper_sign::PublicKey;
use koper_types::{ChrootName, ProjectRef};

use super::{client, project_ref};
use crate::cli::{MirrorArgs, SyncToRepoArgs};
use crate::exit::{CommandResult, Failure};

fn local(e: impl std::fmt::Display) -> Failure {
    Failure::local(e)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(local)?;
    }
    koper_storage::write_atomically(path, bytes).map_err(local)
}

fn temp_next_to(path: &Path) -> PathBuf {
    path.with_file_name(format!(
        ".{}.part-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        koper_storage::random_suffix()
    ))
}

/// What mirroring one chroot repo did.
#[derive(Default)]
struct MirrorCount {
    fetched: usize,
    kept: usize,
    removed: usize,
}

pub async fn mirror(args: MirrorArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let info = client.project(&project.owner, &project.name).await?;
    let dest = args.dest;
    std::fs::create_dir_all(&dest).map_err(local)?;

    // The key: trusted on first use, and never silently replaced by
    // another (a renewed key keeps its fingerprint).
    let key_text = client
        .fetch(&format!("{}/pubkey.gpg", info.repo_url))
        .await?
        .ok_or_else(|| Failure::new(1, format!("{} has no pubkey.gpg", info.repo_url)))?;
    let key = PublicKey::from_armored(&String::from_utf8_lossy(&key_text))
        .map_err(|e| Failure::new(1, format!("the project's pubkey.gpg is unusable: {e}")))?;
    let local_key = dest.join("pubkey.gpg");
    if let Ok(text) = std::fs::read_to_string(&local_key) {
        let known = PublicKey::from_armored(&text).map_err(local)?;
        if known.fingerprint() != key.fingerprint() {
            return Err(Failure::new(
                1,
                format!(
                    "the project's key changed from {} to {}; refusing to mirror",
                    known.fingerprint(),
                    key.fingerprint()
                ),
            )
            .hint(format!(
                "if the change is expected, remove {} and mirror again",
                local_key.display()
            )));
        }
    }
    write_file(&local_key, &key_text)?;

    for chroot in &info.chroots {
        let count = mirror_chroot(
            &client,
            &info.repo_url,
            chroot,
            &dest.join(chroot.as_str()),
            &key,
        )
        .await?;
        println!(
            "{chroot}: {} new file(s), {} unchanged, {} removed",
            count.fetched, count.kept, count.removed
        );
    }
    eprintln!(
        "{} is mirrored in {}; signatures verified with key {}",
        ProjectRef {
            owner: project.owner,
            name: project.name,
        },
        dest.display(),
        key.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

/// Mirrors one chroot repo: new files first (each checked against the
/// metadata's checksum, packages also against the key), `repomd.xml` and
/// its signature last, then what the new metadata no longer names goes.
async fn mirror_chroot(
    client: &Client,
    repo_url: &str,
    chroot: &ChrootName,
    dir: &Path,
    key: &PublicKey,
) -> Result<MirrorCount, Failure> {
    let base = format!("{repo_url}/{chroot}");
    let repomd = client
        .fetch(&format!("{base}/repodata/repomd.xml"))
        .await?
        .ok_or_else(|| Failure::new(1, format!("{base} has no repodata")))?;
    let asc = client
        .fetch(&format!("{base}/repodata/repomd.xml.asc"))
        .await?
        .ok_or_else(|| Failure::new(1, format!("{base}/repodata/repomd.xml is not signed")))?;
    key.verify_detached(&repomd, &String::from_utf8_lossy(&asc))
        .map_err(|e| {
            Failure::new(1, format!("{base}/repodata/repomd.xml: {e}"))
                .hint("the repository or what serves it was tampered with; the mirror is unchanged")
        })?;
    let mut count = MirrorCount::default();
    let entries = koper_repodata::parse_repomd(&String::from_utf8_lossy(&repomd));
    let mut wanted: Vec<PathBuf> = vec![
        dir.join("repodata/repomd.xml"),
        dir.join("repodata/repomd.xml.asc"),
    ];
    let mut primary = None;
    for entry in &entries {
        let path = dir.join(&entry.href);
        wanted.push(path.clone());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) if koper_repodata::sha256_hex(&bytes) == entry.checksum => {
                count.kept += 1;
                bytes
            }
            _ => {
                let bytes = client
                    .fetch(&format!("{base}/{}", entry.href))
                    .await?
                    .ok_or_else(|| Failure::new(1, format!("{base}/{} is missing", entry.href)))?;
                if entry.checksum_type == "sha256"
                    && koper_repodata::sha256_hex(&bytes) != entry.checksum
                {
                    return Err(Failure::new(
                        1,
                        format!("{base}/{} does not match repomd.xml's checksum", entry.href),
                    ));
                }
                write_file(&path, &bytes)?;
                count.fetched += 1;
                bytes
            }
        };
        if entry.kind == "primary" {
            primary = Some(koper_repodata::decompress(&entry.href, &bytes).map_err(local)?);
        }
    }
    let primary = primary.ok_or_else(|| Failure::new(1, format!("{base}: no primary metadata")))?;
    for package in koper_repodata::primary_packages(&String::from_utf8_lossy(&primary)) {
        if package.base.is_some()
            || package.location.contains("..")
            || package.location.starts_with('/')
        {
            continue;
        }
        let path = dir.join(&package.location);
        wanted.push(path.clone());
        // Published files never change: same name and size is the same
        // file.
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == package.size) {
            count.kept += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(local)?;
        }
        let temp = temp_next_to(&path);
        client
            .download(&format!("{base}/{}", package.location), &temp)
            .await?;
        let checked = check_package(&temp, &package, key);
        if let Err(e) = checked {
            let _ = std::fs::remove_file(&temp);
            return Err(Failure::new(1, format!("{base}/{}: {e}", package.location))
                .hint("the repository or what serves it was tampered with; the mirror's metadata is unchanged"));
        }
        std::fs::rename(&temp, &path).map_err(local)?;
        count.fetched += 1;
    }
    // The metadata last: signature, then repomd.xml.
    write_file(&dir.join("repodata/repomd.xml.asc"), &asc)?;
    write_file(&dir.join("repodata/repomd.xml"), &repomd)?;
    count.removed = remove_unwanted(dir, &wanted).map_err(local)?;
    Ok(count)
}

fn check_package(
    path: &Path,
    listed: &koper_repodata::ListedPackage,
    key: &PublicKey,
) -> Result<(), String> {
    if listed.checksum_type == "sha256" {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        if koper_repodata::sha256_hex(&bytes) != listed.pkgid {
            return Err("it does not match the metadata's checksum".into());
        }
    }
    koper_rpm::inspect_package(path).map_err(|e| e.to_string())?;
    key.verify_rpm(path).map_err(|e| e.to_string())
}

/// Removes files below `dir` that are not `wanted` (and then empty
/// directories); returns how many files went.
fn remove_unwanted(dir: &Path, wanted: &[PathBuf]) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_owned()];
    let mut dirs = Vec::new();
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path.clone());
                dirs.push(path);
            } else if !wanted.contains(&path) {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
    Ok(removed)
}

/// Where `sync-to-repo` writes.
enum Destination {
    Dir(PathBuf),
    Project(ProjectRef, ChrootName),
}

fn destination(client: &Client, text: &str) -> Result<Destination, Failure> {
    let Some(rest) = text.strip_prefix("koper://") else {
        return Ok(Destination::Dir(PathBuf::from(text)));
    };
    let (project, chroot) = rest
        .rsplit_once('/')
        .ok_or_else(|| Failure::new(2, format!("{text}: write koper://OWNER/PROJECT/CHROOT")))?;
    let chroot = chroot
        .parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    Ok(Destination::Project(project_ref(client, project)?, chroot))
}

/// The local RPMs to add, with their file names as locations.
fn local_packages(dir: &Path) -> Result<Vec<RepoPackage>, Failure> {
    let mut packages = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Failure::local(format!("cannot read {}: {e}", dir.display())))?
    {
        let path = entry.map_err(local)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".rpm") && !name.starts_with('.') && path.is_file() {
            koper_rpm::inspect_package(&path)
                .map_err(|e| Failure::new(1, format!("{}: {e}", path.display())))?;
            packages.push(RepoPackage {
                path,
                location: name,
            });
        }
    }
    packages.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(packages)
}

/// Reads a repository's primary, filelists and other over HTTP (never its
/// packages).
async fn remote_metadata(client: &Client, url: &str) -> Result<RemoteMetadata, Failure> {
    let repomd = client
        .fetch(&format!("{url}/repodata/repomd.xml"))
        .await?
        .ok_or_else(|| Failure::new(1, format!("{url} has no repodata/repomd.xml")))?;
    let mut remote = RemoteMetadata::default();
    for entry in koper_repodata::parse_repomd(&String::from_utf8_lossy(&repomd)) {
        let slot = match entry.kind.as_str() {
            "primary" => &mut remote.primary,
            "filelists" => &mut remote.filelists,
            "other" => &mut remote.other,
            _ => continue,
        };
        let bytes = client
            .fetch(&format!("{url}/{}", entry.href))
            .await?
            .ok_or_else(|| Failure::new(1, format!("{url}/{} is missing", entry.href)))?;
        if entry.checksum_type == "sha256" && koper_repodata::sha256_hex(&bytes) != entry.checksum {
            return Err(Failure::new(
                1,
                format!("{url}/{} does not match repomd.xml", entry.href),
            ));
        }
        let text = koper_repodata::decompress(&entry.href, &bytes).map_err(local)?;
        *slot = String::from_utf8_lossy(&text).into_owned();
    }
    Ok(remote)
}

pub async fn sync_to_repo(args: SyncToRepoArgs) -> CommandResult {
    let client = client(&args.client)?;
    let url = args.read.trim_end_matches('/').to_owned();
    let packages = local_packages(&args.local_dir)?;
    let remote = remote_metadata(&client, &url).await?;
    let listed = koper_repodata::primary_packages(&remote.primary);
    match destination(&client, &args.write)? {
        Destination::Dir(dest) => {
            // The local packages go next to the new metadata; the remote
            // ones stay where they are, named through xml:base.
            std::fs::create_dir_all(&dest).map_err(local)?;
            let mut placed = Vec::new();
            for package in &packages {
                let target = dest.join(&package.location);
                if target != package.path {
                    let temp = temp_next_to(&target);
                    std::fs::copy(&package.path, &temp).map_err(local)?;
                    std::fs::rename(&temp, &target).map_err(local)?;
                }
                placed.push(RepoPackage {
                    path: target,
                    location: package.location.clone(),
                });
            }
            let scratch = tempfile::tempdir().map_err(local)?;
            let options = RepodataOptions::new(scratch.path());
            let base = format!("{url}/");
            let report = koper_repodata::merge(&dest, &remote, Some(&base), &placed, &options)
                .map_err(|e| Failure::new(1, e.to_string()))?;
            println!("{}", dest.display());
            eprintln!(
                "{} lists {} package(s): {} from {url} (not downloaded), {} local",
                dest.join("repodata/repomd.xml").display(),
                report.packages,
                report.packages - report.read,
                report.read
            );
        }
        Destination::Project(project, chroot) => {
            // The project's own write path: upload-rpm, which signs and
            // publishes; packages the remote repo already has are skipped.
            let mut new = Vec::new();
            for package in packages {
                let bytes = std::fs::read(&package.path).map_err(local)?;
                let sum = koper_repodata::sha256_hex(&bytes);
                let name_listed = listed
                    .iter()
                    .any(|l| l.location.rsplit('/').next() == Some(package.location.as_str()));
                if !listed.iter().any(|l| l.pkgid == sum) && !name_listed {
                    new.push(package.path);
                }
            }
            if new.is_empty() {
                eprintln!("{url} already has every local package; nothing to push");
                return Ok(ExitCode::SUCCESS);
            }
            let build = client
                .upload_rpms(&project.owner, &project.name, &chroot, &new)
                .await?;
            println!("{}", build.id);
            eprintln!(
                "{} new package(s) pushed to {project} ({chroot}) as build {}",
                new.len(),
                build.id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
