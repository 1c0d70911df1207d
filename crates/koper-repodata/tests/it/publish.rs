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

#[test]
fn metadata_files_are_concatenated_pieces() -> anyhow::Result<()> {
    use std::io::Read;
    let r = repo(Compression::Gzip)?;
    let hello = place(&r.dir, "00000001-hello", &build(&r, "hello", true)?)?;
    publish(
        &r.dir,
        &RepoChanges {
            add: hello,
            remove: vec![],
        },
        &r.options,
    )?;
    let (_, records) = crate::rpmmd::repomd(&r.dir)?;
    let primary = records
        .iter()
        .find(|d| d.kind == "primary")
        .expect("primary");
    let packed = std::fs::read(r.dir.join(&primary.href))?;
    // A reader of one gzip member sees only the header member; the whole
    // stream (what dnf read above) has the packages and the footer.
    let mut first = String::new();
    flate2::read::GzDecoder::new(&packed[..]).read_to_string(&mut first)?;
    assert!(first.ends_with("packages=\"2\">\n"), "{first}");
    let whole = crate::rpmmd::decompress(&primary.href, &packed)?;
    assert!(whole.ends_with("</metadata>\n"));
    assert_eq!(crate::rpmmd::elements(&whole, 1)?.len(), 2);
    Ok(())
}

#[test]
fn createrepo_dir_update_reads_only_changed_files() -> anyhow::Result<()> {
    use koper_repodata::createrepo_dir;
    let r = repo(Compression::Gzip)?;
    for name in ["hello", "sh-provider"] {
        for f in build(&r, name, true)? {
            std::fs::copy(&f, r.dir.join(f.file_name().expect("name")))?;
        }
    }
    std::fs::write(r.dir.join("broken.rpm"), "not an rpm")?;
    // A real package cut short (a copy that did not finish): skipped, not
    // an error that stops the run.
    let some_rpm = build(&r, "hello", true)?
        .into_iter()
        .next()
        .expect("hello was built");
    let whole = std::fs::read(some_rpm)?;
    std::fs::write(r.dir.join("cut.rpm"), &whole[..whole.len() - 100])?;
    let full = createrepo_dir(&r.dir, false, &r.options)?;
    assert_eq!((full.packages, full.read), (4, 4));
    assert_eq!(full.skipped.len(), 2, "{:?}", full.skipped);
    std::fs::remove_file(r.dir.join("cut.rpm"))?;

    let same = createrepo_dir(&r.dir, true, &r.options)?;
    assert!(!same.changed, "{same:?}");
    assert_eq!(same.read, 0);

    for f in build(&r, "quirks", false)? {
        std::fs::copy(&f, r.dir.join(f.file_name().expect("name")))?;
    }
    std::fs::remove_file(r.dir.join("sh-provider-1-1.src.rpm"))?;
    let update = createrepo_dir(&r.dir, true, &r.options)?;
    assert_eq!((update.packages, update.read, update.removed), (4, 1, 1));
    let listed = repoquery(&r.dir, &[])?;
    assert!(
        listed.iter().any(|p| p.starts_with("quirks-")),
        "{listed:?}"
    );
    Ok(())
}

#[test]
fn replaced_files_stay_for_the_grace_period() -> anyhow::Result<()> {
    let mut r = repo(Compression::Gzip)?;
    let hello = place(&r.dir, "00000001-hello", &build(&r, "hello", true)?)?;
    let sh = place(
        &r.dir,
        "00000002-sh-provider",
        &build(&r, "sh-provider", false)?,
    )?;
    publish(
        &r.dir,
        &RepoChanges {
            add: hello,
            remove: vec![],
        },
        &r.options,
    )?;
    let first = crate::rpmmd::repomd(&r.dir)?.1;
    publish(
        &r.dir,
        &RepoChanges {
            add: sh,
            remove: vec![],
        },
        &r.options,
    )?;
    for d in &first {
        assert!(
            r.dir.join(&d.href).exists(),
            "{} kept during the grace period",
            d.href
        );
    }
    r.options.grace_period = std::time::Duration::ZERO;
    publish(
        &r.dir,
        &RepoChanges {
            add: vec![],
            remove: vec!["00000001-hello/".into()],
        },
        &r.options,
    )?;
    for d in &first {
        assert!(
            !r.dir.join(&d.href).exists(),
            "{} deleted after the grace period",
            d.href
        );
    }
    crate::rpmmd::verify(&r.dir)?;
    let names: Vec<_> = std::fs::read_dir(r.dir.join("repodata"))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        names.len(),
        4,
        "repomd.xml and the current files only: {names:?}"
    );
    Ok(())
}

#[test]
fn concurrent_publishers_are_serialised() -> anyhow::Result<()> {
    let r = repo(Compression::Gzip)?;
    let built = build(&r, "hello", true)?;
    let builds: Vec<_> = (1..=6)
        .map(|k| place(&r.dir, &format!("{k:08}-hello"), &built))
        .collect::<Result<_, _>>()?;
    std::thread::scope(|s| {
        for add in &builds {
            let (dir, options) = (&r.dir, &r.options);
            s.spawn(move || {
                publish(
                    dir,
                    &RepoChanges {
                        add: add.clone(),
                        remove: vec![],
                    },
                    options,
                )
                .expect("publish")
            });
        }
    });
    let files = crate::rpmmd::verify(&r.dir)?;
    assert_eq!(crate::rpmmd::package_count(&files["primary"])?, 12);
    Ok(())
}

#[test]
fn refuses_bad_locations_and_a_cache_inside_the_repo() -> anyhow::Result<()> {
    let r = repo(Compression::Gzip)?;
    for location in [
        "../x.rpm",
        "/abs.rpm",
        "repodata/x.rpm",
        "a//b.rpm",
        "a/./b.rpm",
        "",
    ] {
        let add = vec![koper_repodata::RepoPackage {
            path: r.dir.join("x.rpm"),
            location: location.into(),
        }];
        let err = publish(
            &r.dir,
            &RepoChanges {
                add,
                remove: vec![],
            },
            &r.options,
        );
        assert!(
            matches!(err, Err(koper_repodata::RepodataError::InvalidLocation(_))),
            "{location}: {err:?}"
        );
    }
    let err = publish(
        &r.dir,
        &RepoChanges {
            add: vec![],
            remove: vec!["".into()],
        },
        &r.options,
    );
    assert!(matches!(
        err,
        Err(koper_repodata::RepodataError::InvalidLocation(_))
    ));
    let inside = RepodataOptions::new(r.dir.join(".cache"));
    let err = regenerate(&r.dir, &[], &inside);
    assert!(
        matches!(err, Err(koper_repodata::RepodataError::CacheInsideRepo)),
        "{err:?}"
    );
    Ok(())
}

/// A cache older than the published revision (as a power loss can leave
/// it) is not trusted: the repository is rebuilt from its RPMs instead of
/// losing what the newer revision lists.
#[test]
fn a_stale_cache_is_detected() -> anyhow::Result<()> {
    let r = repo(Compression::Gzip)?;
    let hello = place(&r.dir, "00000001-hello", &build(&r, "hello", true)?)?;
    let sh = place(
        &r.dir,
        "00000002-sh-provider",
        &build(&r, "sh-provider", false)?,
    )?;
    publish(
        &r.dir,
        &RepoChanges {
            add: hello,
            remove: vec![],
        },
        &r.options,
    )?;
    let state = r.options.cache_dir.join("state");
    let stale = std::fs::read(&state)?;
    publish(
        &r.dir,
        &RepoChanges {
            add: sh,
            remove: vec![],
        },
        &r.options,
    )?;
    std::fs::write(&state, stale)?;
    let report = publish(&r.dir, &RepoChanges::default(), &r.options)?;
    assert_eq!((report.packages, report.read), (3, 3), "{report:?}");
    assert_eq!(
        repoquery(&r.dir, &[])?,
        [
            "hello-1.0-1.noarch",
            "hello-1.0-1.src",
            "sh-provider-1-1.noarch"
        ]
    );
    Ok(())
}
