//! A writer killed at random points never damages the published revision,
//! and the next publication repairs whatever it left behind.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use koper_repodata::{RepoChanges, RepoPackage, RepodataOptions, publish};

use crate::rpmmd;
use crate::support::{dnf_ok, place, rpmbuild, spec};

const BUILDS: usize = 12;

fn build_dir(k: usize) -> String {
    format!("{:08}-pkgs", k + 1)
}

/// The packages of build `k`: the same RPMs under a directory per build.
fn build_packages(repo: &Path, k: usize) -> anyhow::Result<Vec<RepoPackage>> {
    let dir = repo.join(build_dir(k));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(RepoPackage {
            location: format!("{}/{name}", build_dir(k)),
            path,
        });
    }
    out.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(out)
}

/// The writer run in a child process: publishes and unpublishes builds in
/// a loop until it is killed.
#[test]
#[ignore = "run by killed_writer_leaves_previous_revision_intact in a child process"]
fn writer_child() -> anyhow::Result<()> {
    let (Ok(repo), Ok(cache)) = (
        std::env::var("KOPER_CRASH_REPO"),
        std::env::var("KOPER_CRASH_CACHE"),
    ) else {
        return Ok(());
    };
    let repo = PathBuf::from(repo);
    let options = RepodataOptions::new(cache);
    let mut k = 0usize;
    loop {
        let add = build_packages(&repo, k % BUILDS)?;
        publish(
            &repo,
            &RepoChanges {
                add,
                remove: vec![],
            },
            &options,
        )?;
        let remove = vec![format!("{}/", build_dir((k + 5) % BUILDS))];
        publish(
            &repo,
            &RepoChanges {
                add: vec![],
                remove,
            },
            &options,
        )?;
        k += 1;
    }
}

/// A small deterministic generator for kill delays.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn killed_writer_leaves_previous_revision_intact() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let repo = tmp.path().join("repo");
    let cache = tmp.path().join("cache");
    let mut rpms = Vec::new();
    for name in ["features", "quirks", "hello", "sh-provider"] {
        rpms.extend(rpmbuild(
            &spec(name),
            &tmp.path().join("built").join(name),
            true,
        )?);
    }
    for k in 0..BUILDS {
        place(&repo, &build_dir(k), &rpms)?;
    }
    let options = RepodataOptions::new(&cache);
    let all: Vec<RepoPackage> = (0..BUILDS)
        .map(|k| build_packages(&repo, k))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    publish(
        &repo,
        &RepoChanges {
            add: all,
            remove: vec![],
        },
        &options,
    )?;

    let seed = std::env::var("KOPER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            nanos ^ u64::from(std::process::id())
        });
    eprintln!("crash test seed: {seed} (set KOPER_CRASH_SEED to replay)");
    let mut rng = SplitMix(seed);
    let exe = std::env::current_exe()?;
    let mut last_revision = rpmmd::repomd(&repo)?.0;
    let iterations = 20;
    let mut advanced = 0;
    for i in 0..iterations {
        let mut child = Command::new(&exe)
            .args([
                "crash::writer_child",
                "--exact",
                "--ignored",
                "--test-threads=1",
                "-q",
            ])
            .env("KOPER_CRASH_REPO", &repo)
            .env("KOPER_CRASH_CACHE", &cache)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_micros(20_000 + rng.next() % 400_000));
        child.kill()?;
        child.wait()?;
        // Whatever revision is published now is complete and consistent.
        let files = rpmmd::verify(&repo)
            .map_err(|e| anyhow::anyhow!("iteration {i}: published revision broken: {e}"))?;
        let (revision, _) = rpmmd::repomd(&repo)?;
        assert!(revision >= last_revision, "revisions only move forward");
        if revision > last_revision {
            advanced += 1;
        }
        last_revision = revision;
        for kind in ["primary", "filelists", "other"] {
            let count = rpmmd::package_count(&files[kind])?;
            assert_eq!(
                count,
                rpmmd::elements(&files[kind], 1)?.len(),
                "{kind}: packages=\"N\" is right"
            );
        }
        dnf_ok(&repo, &["-q", "makecache"])
            .map_err(|e| anyhow::anyhow!("iteration {i}: dnf cannot read the revision: {e}"))?;
    }
    assert!(
        advanced > iterations / 3,
        "the writer got to publish: {advanced}/{iterations}"
    );
    // The next publication repairs: afterwards every build is listed.
    let all: Vec<RepoPackage> = (0..BUILDS)
        .map(|k| build_packages(&repo, k))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let expected = all.len();
    let report = publish(
        &repo,
        &RepoChanges {
            add: all,
            remove: vec![],
        },
        &options,
    )?;
    assert_eq!(report.packages, expected);
    let files = rpmmd::verify(&repo)?;
    assert_eq!(rpmmd::package_count(&files["primary"])?, expected);
    dnf_ok(&repo, &["-q", "makecache"])?;
    Ok(())
}
