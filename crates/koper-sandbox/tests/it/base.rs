//! Base roots: the host's, described by a virtual package, and a Fedora
//! one whose mirrors cannot be reached from here.

use std::time::{Duration, Instant};

use koper_chroots::ChrootCatalog;
use koper_sandbox::{SandboxConfig, SandboxError, prepare_base_root};

use crate::{env, query};

#[test]
fn the_host_base_root_is_described_once_and_reused() -> anyhow::Result<()> {
    let env = env();
    let started = Instant::now();
    let base = prepare_base_root(&env.config(3_000_099), &env.host_chroot)?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cached: {:?}",
        started.elapsed()
    );
    assert_eq!(base.root(), std::path::Path::new("/"));
    let count = base.provides_count().unwrap_or(0);
    assert!(count > 1000, "{count} Provides");

    let package = base.cache_dir().join("koper-base-root.rpm");
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
    let libc = if cfg!(target_pointer_width = "64") {
        "libc.so.6()(64bit)"
    } else {
        "libc.so.6"
    };
    assert!(provides.contains(libc));
    assert!(
        provides.lines().any(|l| l.starts_with("pkgconfig(")),
        "pkg-config modules"
    );

    let layer = base.rpmdb_layer().expect("a directory root has a layer");
    assert!(layer.join("var/lib/rpm/rpmdb.sqlite").is_file());
    let ld = std::fs::read_to_string(layer.join("etc/ld.so.conf.d/zz-koper-lib64.conf"))?;
    assert_eq!(ld, "/usr/lib64\n");
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
    let config = SandboxConfig {
        cache_dir: cache.path().to_owned(),
        work_dir: env().work.path().to_owned(),
        sandbox_uid: 3_000_098,
    };
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
    let left: Vec<_> = std::fs::read_dir(&bases)?
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}
