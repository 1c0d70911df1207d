//! publish/regenerate checked with real dnf.

use koper_repodata::{Compression, RepoChanges, RepodataOptions, publish, regenerate};

use crate::support::{dnf_ok, place, repoquery, rpmbuild, spec};

struct Repo {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    built: std::path::PathBuf,
    options: RepodataOptions,
}

fn repo(compression: Compression) -> anyhow::Result<Repo> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("repo");
    std::fs::create_dir_all(&dir)?;
    let mut options = RepodataOptions::new(tmp.path().join("cache"));
    options.compression = compression;
    Ok(Repo {
        built: tmp.path().join("built"),
        dir,
        options,
        _tmp: tmp,
    })
}

fn build(r: &Repo, name: &str, source: bool) -> anyhow::Result<Vec<std::path::PathBuf>> {
    rpmbuild(&spec(name), &r.built.join(name), source)
}

fn installs_and_removes(compression: Compression) -> anyhow::Result<()> {
    let r = repo(compression)?;
    let report = regenerate(&r.dir, &[], &r.options)?;
    assert_eq!(report.packages, 0);
    dnf_ok(&r.dir, &["-q", "makecache"])?;
    assert!(repoquery(&r.dir, &[])?.is_empty());

    let hello = place(&r.dir, "00000001-hello", &build(&r, "hello", true)?)?;
    let sh = place(
        &r.dir,
        "00000002-sh-provider",
        &build(&r, "sh-provider", false)?,
    )?;
    let report = publish(
        &r.dir,
        &RepoChanges {
            add: hello,
            remove: vec![],
        },
        &r.options,
    )?;
    assert_eq!((report.packages, report.read), (2, 2));
    let report = publish(
        &r.dir,
        &RepoChanges {
            add: sh,
            remove: vec![],
        },
        &r.options,
    )?;
    // Only the new build's package was read.
    assert_eq!((report.packages, report.read), (3, 1));

    assert_eq!(
        repoquery(&r.dir, &[])?,
        [
            "hello-1.0-1.noarch",
            "hello-1.0-1.src",
            "sh-provider-1-1.noarch"
        ]
    );
    dnf_ok(&r.dir, &["-y", "install", "hello"])?;

    let report = publish(
        &r.dir,
        &RepoChanges {
            add: vec![],
            remove: vec!["00000001-hello/".into()],
        },
        &r.options,
    )?;
    assert_eq!((report.packages, report.read, report.removed), (1, 0, 2));
    assert_eq!(repoquery(&r.dir, &[])?, ["sh-provider-1-1.noarch"]);

    // Nothing to do: no new revision.
    let again = publish(
        &r.dir,
        &RepoChanges {
            add: vec![],
            remove: vec!["00000001-hello/".into()],
        },
        &r.options,
    )?;
    assert!(!again.changed);
    assert_eq!(again.revision, report.revision);
    Ok(())
}

#[test]
fn dnf_installs_from_gzip_repodata() -> anyhow::Result<()> {
    installs_and_removes(Compression::Gzip)
}

#[test]
fn dnf_installs_from_zstd_repodata() -> anyhow::Result<()> {
    installs_and_removes(Compression::Zstd)
}
