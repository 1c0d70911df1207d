//! What a build cannot do: reach the network, write outside its build
//! tree, see the builder's files, or leave anything for the next build.

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use koper_sandbox::BuildOutcome;

use crate::{Build, make_repo};

fn network_build(enable_net: bool) -> anyhow::Result<(String, bool)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let mut build = Build::fixture("network")?.define("port", port);
    build.request.enable_net = enable_net;
    let done = build.run()?;
    done.packages()?;
    let connected = match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => return Err(e.into()),
    };
    Ok((done.build_log, connected))
}

#[test]
fn the_network_is_unreachable_unless_enabled() -> anyhow::Result<()> {
    let (log, connected) = network_build(false)?;
    assert!(log.contains("NETWORK-BLOCKED"), "{log}");
    assert!(!connected, "the build reached a port on the host");

    // The same build with the network enabled does connect: the check
    // above tests the sandbox, not a broken fixture.
    let (log, connected) = network_build(true)?;
    assert!(log.contains("NETWORK-REACHED"), "{log}");
    assert!(connected);
    Ok(())
}

#[test]
fn a_build_cannot_write_outside_or_read_the_builders_files() -> anyhow::Result<()> {
    let nonce = format!("{}-{}", std::process::id(), line!());
    // A file the sandbox uid could read if it could see it: stands for the
    // builder's token in its data directory.
    let data_dir = tempfile::Builder::new()
        .prefix("koper-builder-data-")
        .tempdir_in("/tmp")?;
    fs::set_permissions(data_dir.path(), fs::Permissions::from_mode(0o755))?;
    let secret = data_dir.path().join("token");
    fs::write(&secret, "koper-secret-token\n")?;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o644))?;

    let build = Build::fixture("escape")?
        .define("nonce", &nonce)
        .define("secret", secret.display());
    let done = build.run()?;
    let packages = done.packages()?;
    let log = &done.build_log;

    for denied in ["/usr/bin", "/etc", "/var/lib/rpm", ""] {
        let line = format!("DENIED {denied}/koper-escape-{nonce}");
        assert!(log.contains(&line), "{line} missing:\n{log}");
    }
    // /tmp and /var/tmp are the sandbox's own tmpfs: writable inside,
    // nothing reaches the host.
    for host in ["/usr/bin", "/etc", "/tmp", "/var/tmp", ""] {
        let path = format!("{host}/koper-escape-{nonce}");
        assert!(!Path::new(&path).exists(), "{path} was written on the host");
    }
    assert!(log.contains("NO-SECRET"), "{log}");
    assert!(!log.contains("koper-secret-token"));
    assert!(log.contains("SHADOW-UNREADABLE"));
    assert!(log.contains("USERNS-REFUSED"));
    assert!(log.contains("ID: 1000:1000"));
    assert!(log.contains("CapEff:\t0000000000000000"), "{log}");
    assert!(!log.contains("ROOT: ") || !log.contains(" root "), "{log}");

    // The symlinks it left in the output were not followed.
    let names: Vec<String> = packages
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["escape-1.0-1.noarch.rpm"]);
    assert!(
        done.build_log
            .contains("not taken from the output: secret-1-1.noarch.rpm")
    );
    for entry in fs::read_dir(&done.result_dir)? {
        let entry = entry?;
        assert!(entry.file_type()?.is_file(), "{:?}", entry.path());
        let text = fs::read(entry.path())?;
        assert!(!String::from_utf8_lossy(&text).contains("koper-secret-token"));
    }
    Ok(())
}

#[test]
fn nothing_of_one_build_is_left_for_the_next() -> anyhow::Result<()> {
    // Build 1 installs koper-dep (a library in /usr/lib64, a file in
    // /usr/share) into its buildroot with dnf builddep.
    let repo_dir = tempfile::tempdir()?;
    let repo = make_repo("koper-test-taint", &["koper-dep"], repo_dir.path())?;
    let mut first = Build::fixture("uses-dep")?;
    first.request.extra_repos.push(repo);
    first.run()?.packages()?;

    // Build 2 on the same base root does not see it.
    let second = Build::fixture("clean-root")?.run()?;
    second.packages()?;
    assert!(second.build_log.contains("CLEAN"), "{}", second.logs());
    for path in [
        "/usr/share/koper-dep",
        "/usr/lib64/libkoperdep.so.1",
        "/usr/include/koperdep.h",
    ] {
        assert!(!Path::new(path).exists(), "{path} reached the host");
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo")?;
    assert!(
        !mounts.contains("koper-sandbox-work"),
        "a build's mount is visible to the host"
    );
    Ok(())
}

#[test]
fn a_failed_build_leaves_no_scratch_behind() -> anyhow::Result<()> {
    let work = tempfile::Builder::new()
        .prefix("koper-sandbox-own-work-")
        .tempdir_in("/tmp")?;
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o711))?;
    let build = Build::testkit("fails")?;
    let mut config = crate::env().config(build.uid);
    config.work_dir = work.path().to_owned();
    let outcome = koper_sandbox::run_build(
        &config,
        &build.request,
        &mut koper_sandbox::DiscardLog,
        &koper_sandbox::CancelToken::new(),
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Failed { .. }),
        "{outcome:?}"
    );
    let left: Vec<_> = fs::read_dir(work.path())?
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}

#[test]
fn a_setuid_program_from_a_dependency_gives_no_privileges() -> anyhow::Result<()> {
    let repo_dir = tempfile::tempdir()?;
    let repo = make_repo("koper-test-suid", &["suid-dep"], repo_dir.path())?;
    let mut build = Build::fixture("uses-suid")?;
    build.request.extra_repos.push(repo);
    let done = build.run()?;
    done.packages()?;
    let log = &done.build_log;
    assert!(log.contains("EUID 1000"), "{log}");
    assert!(log.contains("SETUID-REFUSED"), "{log}");
    assert!(!log.contains("SETUID-ROOT-GAINED"), "{log}");
    assert!(log.contains("DEP-READONLY"), "{log}");
    Ok(())
}
