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
