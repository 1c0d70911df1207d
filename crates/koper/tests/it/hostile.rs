//! A hostile spec run through the whole service: it cannot reach the
//! network unless its project enables it, cannot see or write the
//! server's and builder's files, and the builder stays healthy for the
//! next build.

use std::io::ErrorKind;
use std::net::TcpListener;

use crate::common::*;

fn hostile_spec(port: u16, data: &str, builder: &str) -> String {
    format!(
        r#"Name:           hostile
Version:        1.0
Release:        1
Summary:        Tries what a build must not do
License:        MIT
BuildArch:      noarch

%description
Written by koper's hostile-spec tests.

%build
if bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}' 2>/dev/null; then
    echo "NETWORK-REACHED"
else
    echo "NETWORK-BLOCKED"
fi
for f in {data}/koper.db {data}/keys {data}/server.url {builder}; do
    if ls "$f" >/dev/null 2>&1; then echo "SEEN $f"; else echo "HIDDEN $f"; fi
done
if (echo pwned > {data}/results/pwned) 2>/dev/null; then echo "WROTE-RESULTS"; else echo "RESULTS-DENIED"; fi

%install
mkdir -p %{{buildroot}}/usr/share/hostile
echo ok > %{{buildroot}}/usr/share/hostile/ok

%files
/usr/share/hostile
"#
    )
}

fn connected(listener: &TcpListener) -> bool {
    match listener.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn a_hostile_build_is_contained_and_the_network_follows_enable_net() {
    let world = World::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = world.server.data_dir().display().to_string();
    let builder = world.server.builder_dir().display().to_string();
    let srpm = koper_testkit::build_srpm_from_text(
        "hostile",
        &hostile_spec(port, &data, &builder),
        &world.server.scratch("hostile").unwrap(),
    )
    .unwrap();
    let srpm = srpm.to_str().unwrap();

    let out = world.alice.run(&["build", "alice/hello", srpm]).unwrap();
    assert_success(&out);
    let log = stdout(&out);
    assert!(log.contains("NETWORK-BLOCKED"), "{log}");
    assert!(
        !connected(&listener),
        "a build without enable_net connected"
    );
    for path in [
        format!("{data}/koper.db"),
        format!("{data}/keys"),
        format!("{data}/server.url"),
        builder.clone(),
    ] {
        assert!(log.contains(&format!("HIDDEN {path}")), "{path}: {log}");
    }
    assert!(log.contains("RESULTS-DENIED"), "{log}");
    assert!(!world.results().join("pwned").exists());

    // The same spec in a project with the network enabled connects: the
    // check above tests the sandbox, not a broken probe.
    let out = world
        .alice
        .run(&[
            "create",
            "alice/net",
            "--chroot",
            &host_chroot(),
            "--enable-net",
            "on",
        ])
        .unwrap();
    assert_success(&out);
    let out = world.alice.run(&["build", "alice/net", srpm]).unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("NETWORK-REACHED"), "{}", stdout(&out));
    assert!(connected(&listener));
    let out = world.alice.run(&["list", "alice"]).unwrap();
    assert!(stdout(&out).contains("network:     enabled in builds"));

    // Switched off again, the network is gone.
    let out = world
        .alice
        .run(&["modify", "alice/net", "--enable-net", "off"])
        .unwrap();
    assert_success(&out);
    let out = world.alice.run(&["build", "alice/net", srpm]).unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("NETWORK-BLOCKED"), "{}", stdout(&out));
    assert!(!connected(&listener));

    // The builder is healthy: an ordinary build right after succeeds.
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
}

/// Tries to leave something behind for the next build: a changed base
/// root and dependency, a process, and a symlinked "package" pointing at a
/// file of the builder's host.
const TAMPER_SPEC: &str = r#"Name:           tamper
Version:        1.0
Release:        1
Summary:        Tries to leave something behind
License:        MIT
BuildArch:      noarch

%description
Written by koper's hostile-spec tests.

%build
if (echo evil > /usr/bin/koper-tamper) 2>/dev/null; then echo "WROTE-BASE"; else echo "BASE-DENIED"; fi
if (echo evil >> /usr/bin/bash) 2>/dev/null; then echo "WROTE-DEPENDENCY"; else echo "DEPENDENCY-DENIED"; fi
setsid bash -c 'exec -a koper-leftover-marker sleep 600' </dev/null >/dev/null 2>&1 &
echo "LEFT-A-PROCESS"

%install
mkdir -p %{buildroot}/usr/share/tamper
echo ok > %{buildroot}/usr/share/tamper/ok
mkdir -p %{_rpmdir}/noarch
ln -s /etc/passwd %{_rpmdir}/noarch/stolen-1.0-1.noarch.rpm
ln -s /etc/passwd %{_rpmdir}/stolen-2.0-1.noarch.rpm

%files
/usr/share/tamper
"#;

/// Reports what the previous build may have left.
const CHECK_SPEC: &str = r#"Name:           aftermath
Version:        1.0
Release:        1
Summary:        Looks for what an earlier build left
License:        MIT
BuildArch:      noarch

%description
Written by koper's hostile-spec tests.

%build
if [ -e /usr/bin/koper-tamper ]; then echo "BASE-CHANGED"; else echo "BASE-CLEAN"; fi
if grep -q evil /usr/bin/bash; then echo "DEPENDENCY-CHANGED"; else echo "DEPENDENCY-CLEAN"; fi

%install
mkdir -p %{buildroot}/usr/share/aftermath

%files
/usr/share/aftermath
"#;

fn leftover_alive() -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", "koper-leftover-marker"])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[test]
fn nothing_a_build_leaves_behind_reaches_the_next_one() {
    let world = World::new();
    let scratch = world.server.scratch("tamper").unwrap();
    let tamper = koper_testkit::build_srpm_from_text("tamper", TAMPER_SPEC, &scratch).unwrap();
    let check = koper_testkit::build_srpm_from_text("aftermath", CHECK_SPEC, &scratch).unwrap();

    let out = world
        .alice
        .run(&["build", "alice/hello", tamper.to_str().unwrap()])
        .unwrap();
    let log = stdout(&out) + &stderr(&out);
    assert!(log.contains("LEFT-A-PROCESS"), "{log}");
    assert!(
        log.contains("not taken from the output: stolen-2.0-1.noarch.rpm: a symlink"),
        "{log}"
    );
    assert!(
        log.contains("BASE-DENIED") || log.contains("WROTE-BASE"),
        "{log}"
    );
    // The symlinked "packages" were not taken: whatever the outcome, no
    // result holds the host's /etc/passwd.
    let repo = world.results().join("alice/hello").join(host_chroot());
    let passwd = std::fs::read("/etc/passwd").unwrap();
    for entry in walk(&repo) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.starts_with("stolen"),
            "{} was published",
            entry.display()
        );
        if entry.is_file() {
            assert_ne!(
                std::fs::read(&entry).unwrap(),
                passwd,
                "{}",
                entry.display()
            );
        }
    }
    // The process it left was killed with its build.
    assert!(
        !leftover_alive(),
        "a build's background process outlived it"
    );

    // The next build sees a clean base root and clean dependencies.
    let out = world
        .alice
        .run(&["build", "alice/hello", check.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    let log = stdout(&out);
    assert!(log.contains("BASE-CLEAN"), "{log}");
    assert!(log.contains("DEPENDENCY-CLEAN"), "{log}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        found.push(path.clone());
        if path.is_dir() && !path.is_symlink() {
            found.extend(walk(&path));
        }
    }
    found
}
