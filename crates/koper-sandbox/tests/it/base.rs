//! Base roots: the host's, described by a virtual package; a small tree
//! whose description follows its changes; and a Fedora one whose mirrors
//! cannot be reached from here.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use koper_chroots::{BaseRoot, ChrootCatalog, ChrootDefinition};
use koper_sandbox::{ResourceLimits, SandboxConfig, SandboxError, prepare_base_root};

use crate::{env, query};

fn config_with_cache(cache: &Path) -> SandboxConfig {
    SandboxConfig {
        cache_dir: cache.to_owned(),
        work_dir: env().work.clone(),
        sandbox_uid: 3_000_097,
        limits: ResourceLimits::default(),
    }
}

#[test]
fn the_host_base_root_is_described_once_and_reused() -> anyhow::Result<()> {
    let cache = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))?;
    let config = config_with_cache(cache.path());
    let started = Instant::now();
    let base = prepare_base_root(&config, &env().host_chroot)?;
    let generated = started.elapsed();
    let package = base.cache_dir().join("koper-base-root.rpm");
    eprintln!(
        "described / with {} Provides in {:.1} s ({} bytes)",
        base.provides_count().unwrap_or(0),
        generated.as_secs_f64(),
        fs::metadata(&package)?.len()
    );
    assert_eq!(base.root(), Path::new("/"));
    let count = base.provides_count().unwrap_or(0);
    assert!(count > 1000, "{count} Provides");

    let started = Instant::now();
    let again = prepare_base_root(&config, &env().host_chroot)?;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(again.cache_dir(), base.cache_dir());

    let provides = query(
        &package,
        "[%{PROVIDES} %{PROVIDEFLAGS:depflags} %{PROVIDEVERSION}\n]",
    )?;
    for expected in [
        "rtld(GNU_HASH)",
        "/bin/sh ",
        "/usr/bin/gcc ",
        "gcc ",
        "make ",
        "glibc ",
    ] {
        assert!(provides.contains(expected), "{expected} missing");
    }
    assert!(provides.contains("libc.so.6()(64bit)"));
    assert!(
        provides.lines().any(|l| l.starts_with("pkgconfig(")),
        "pkg-config modules"
    );

    let layer = base.rpmdb_layer().expect("a directory root has a layer");
    assert!(layer.join("var/lib/rpm/rpmdb.sqlite").is_file());
    let ld = fs::read_to_string(layer.join("etc/ld.so.conf.d/zz-koper-lib64.conf"))?;
    assert_eq!(ld, "/usr/lib64\n");
    Ok(())
}

#[test]
fn a_changed_tree_is_described_again_and_the_old_version_goes() -> anyhow::Result<()> {
    let tree = tempfile::tempdir()?;
    for dir in ["usr/bin", "usr/lib", "etc"] {
        fs::create_dir_all(tree.path().join(dir))?;
    }
    fs::write(tree.path().join("usr/bin/first-tool"), "")?;
    let chroot = ChrootDefinition {
        name: "tiny-1-x86_64".parse()?,
        arch: "x86_64".into(),
        description: String::new(),
        base_root: BaseRoot::Directory {
            path: tree.path().to_owned(),
        },
        repos: Vec::new(),
        macros: Default::default(),
        tags: Vec::new(),
        refresh: 0,
        upstream: None,
    };
    let cache = tempfile::tempdir()?;
    let config = config_with_cache(cache.path());
    let first = prepare_base_root(&config, &chroot)?;
    let first_dir = first.cache_dir().to_owned();
    let provides = query(&first_dir.join("koper-base-root.rpm"), "[%{PROVIDES}\n]")?;
    assert!(provides.contains("/usr/bin/first-tool\n"), "{provides}");

    std::thread::sleep(Duration::from_millis(20));
    fs::write(tree.path().join("usr/bin/second-tool"), "")?;
    let second = prepare_base_root(&config, &chroot)?;
    assert_ne!(second.cache_dir(), first_dir);
    let provides = query(
        &second.cache_dir().join("koper-base-root.rpm"),
        "[%{PROVIDES}\n]",
    )?;
    assert!(provides.contains("/bin/second-tool\n"), "{provides}");
    assert!(first_dir.exists(), "still in use by `first`");

    drop(first);
    let third = prepare_base_root(&config, &chroot)?;
    assert_eq!(third.cache_dir(), second.cache_dir());
    assert!(!first_dir.exists(), "an unused old version is removed");
    Ok(())
}

#[test]
fn unreachable_fedora_mirrors_fail_clearly_and_quickly() -> anyhow::Result<()> {
    let catalog = ChrootCatalog::load(None)?;
    let fedora = catalog
        .get(&"fedora-42-x86_64".parse()?)
        .expect("fedora-42-x86_64 is shipped")
        .clone();
    let cache = tempfile::tempdir()?;
    let config = config_with_cache(cache.path());
    let started = Instant::now();
    let err = prepare_base_root(&config, &fedora).expect_err("no Fedora mirror is reachable here");
    let took = started.elapsed();
    eprintln!(
        "fedora-42-x86_64: {err} (after {:.1} s)",
        took.as_secs_f64()
    );
    assert!(
        matches!(err, SandboxError::ReposUnreachable { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot reach the repos of fedora-42-x86_64: "),
        "{err}"
    );
    assert!(took < Duration::from_secs(300));
    // Nothing half-made is left to be mistaken for a base root.
    let bases = cache.path().join("bases/dnf-fedora-42-x86_64");
    let left: Vec<_> = fs::read_dir(&bases)?
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}
