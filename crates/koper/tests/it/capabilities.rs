//! Builder capabilities through the real server and builders: a chroot
//! whose definition needs a tag goes only to a builder offering it, and
//! waits, saying why, while none is connected.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use koper_testkit::TestServer;

use crate::common::*;

/// The tagged builder, killed when the test ends, however it ends.
struct Builder(Child);

impl Drop for Builder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Log text without its colour escapes.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn chroot_of<'a>(build: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    build["chroots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
fn a_chroot_needing_a_tag_goes_only_to_a_builder_offering_it() {
    // The server's own builder offers no tags.
    let mut server = TestServer::start_configured(koper_bin(), &[], "").unwrap();
    let arch = std::env::consts::ARCH;
    let host = host_chroot();
    let kvm = format!("kvm-1-{arch}");
    let chroots = server.data_dir().join("chroots");
    std::fs::create_dir_all(&chroots).unwrap();
    std::fs::write(
        chroots.join(format!("{kvm}.toml")),
        format!(
            "name = \"{kvm}\"\narch = \"{arch}\"\n\
             description = \"The host, on builders offering KVM\"\ntags = [\"kvm\"]\n\n\
             [base_root]\nkind = \"directory\"\npath = \"/\"\n"
        ),
    )
    .unwrap();
    // Chroot definitions are read at start.
    server.kill_and_restart().unwrap();
    let alice = server.add_user("alice").unwrap();
    assert_success(
        &alice
            .run(&["create", "alice/vm", "--chroot", &host, "--chroot", &kvm])
            .unwrap(),
    );
    let srpm = koper_testkit::build_srpm("hello", &server.scratch("srpms").unwrap()).unwrap();
    let out = alice
        .run(&["build", "--nowait", "alice/vm", srpm.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    let id = stdout(&out).trim().to_owned();
    let build_url = format!("{}/api/v1/builds/{id}", server.url);
    let build =
        || -> serde_json::Value { reqwest::blocking::get(&build_url).unwrap().json().unwrap() };

    // The untagged builder builds the host chroot and leaves the other.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !chroot_of(&build(), &host)["ended_on"].is_i64() {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    let shown = build();
    assert_eq!(chroot_of(&shown, &host)["state"], "succeeded", "{shown:#}");
    let waiting = chroot_of(&shown, &kvm);
    assert_eq!(waiting["state"], "pending", "{shown:#}");
    assert_eq!(waiting["queue"]["reason"], "no_builder", "{shown:#}");
    let message = waiting["queue"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("no builder for {arch} offering kvm is connected")),
        "{message}"
    );
    let status = alice.run(&["status", &id]).unwrap();
    assert!(
        stdout(&status).contains("offering kvm"),
        "{}",
        stdout(&status)
    );

    // A builder offering the tag takes it.
    let token = {
        let out = Command::new(koper_bin())
            .args(["admin", "add-builder", "with-kvm", "--data-dir"])
            .arg(server.data_dir())
            .output()
            .unwrap();
        assert_success(&out);
        stdout(&out).trim().to_owned()
    };
    let work = server.scratch("with-kvm").unwrap();
    let _builder = Builder(
        Command::new(koper_bin())
            .args(["builder", "--server", &server.url, "--token", &token])
            .args(["--tag", "kvm"])
            .arg("--work-dir")
            .arg(&work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    while !chroot_of(&build(), &kvm)["ended_on"].is_i64() {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(300));
    }
    let shown = build();
    assert_eq!(chroot_of(&shown, &kvm)["state"], "succeeded", "{shown:#}");
    let log = plain(&server.log());
    let leases: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("task leased"))
        .collect();
    assert_eq!(leases.len(), 2, "{log}");
    for line in leases {
        assert_eq!(
            line.contains("builder=with-kvm"),
            line.contains(&format!("chroot={kvm}")),
            "only the tagged builder took the tagged chroot: {line}"
        );
    }
}
