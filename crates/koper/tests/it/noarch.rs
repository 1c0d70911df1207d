//! Noarch builds run once per release: a source RPM whose packages are
//! all noarch is built in one chroot of the release, and the release's
//! chroots of other arches publish the same packages; dnf installs them
//! from the other arch's repo. Arch-specific builds still build per arch.

use std::time::{Duration, Instant};

use koper_testkit::DnfRoot;

use crate::common::*;

/// The host arch's partner in the test (a chroot no builder here serves).
fn other_arch() -> &'static str {
    if std::env::consts::ARCH == "aarch64" {
        "x86_64"
    } else {
        "aarch64"
    }
}

fn chroot_of<'a>(build: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    build["chroots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no chroot {name} in {build:#}"))
}

#[test]
fn a_noarch_build_runs_once_and_is_published_for_every_arch_of_its_release() {
    let world = World::new();
    let host = host_chroot();
    let other = format!("host-1-{}", other_arch());
    let out = world
        .alice
        .run(&[
            "modify",
            "alice/hello",
            "--chroot",
            &host,
            "--chroot",
            &other,
        ])
        .unwrap();
    assert_success(&out);

    let submit = |spec: &str| -> u32 {
        let out = world
            .alice
            .run(&[
                "build",
                "--nowait",
                "alice/hello",
                world.srpm(spec).to_str().unwrap(),
            ])
            .unwrap();
        assert_success(&out);
        stdout(&out).trim().parse().unwrap()
    };
    let noarch = submit("hello");
    let compiled = submit("hello-c");

    let deadline = Instant::now() + Duration::from_secs(300);
    let build = loop {
        let build = world.build_json(noarch);
        if build["ended_on"].is_i64() {
            break build;
        }
        let copy = chroot_of(&build, &other);
        if copy["state"] == "waiting" {
            assert_eq!(copy["built_in"], host, "{build:#}");
        }
        assert!(
            Instant::now() < deadline,
            "{build:#}\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(build["state"], "succeeded", "{build:#}");
    let built = chroot_of(&build, &host);
    let copy = chroot_of(&build, &other);
    assert_eq!(built["attempts"], 1);
    assert_eq!(copy["state"], "succeeded", "{build:#}");
    assert_eq!(copy["attempts"], 0, "built once, not again: {build:#}");
    assert_eq!(copy["built_in"], host);
    assert!(built.get("built_in").is_none());

    // Both repos list the one package that was built.
    let results = world.results().join("alice/hello");
    let here = crate::storage::listed(&results.join(&host));
    let there = crate::storage::listed(&results.join(&other));
    assert!(
        here.iter().any(|l| l.ends_with("hello-1.0-1.noarch.rpm")),
        "{here:?}"
    );
    let noarch_there: Vec<&String> = there
        .iter()
        .filter(|l| l.ends_with(".noarch.rpm"))
        .collect();
    assert_eq!(noarch_there.len(), 1, "{there:?}");
    assert!(noarch_there[0].ends_with("hello-1.0-1.noarch.rpm"));

    // Real dnf installs it from the other arch's repo.
    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap()
    .replace("$basearch", other_arch());
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file).unwrap();
    assert_success(&root.dnf(&["install", "hello"]).unwrap());
    assert!(root.root().join("usr/bin/hello").is_file());

    // Compiled code is built per arch: the other arch's chroot waits for a
    // builder of its own.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let build = world.build_json(compiled);
        if chroot_of(&build, &host)["ended_on"].is_i64() {
            assert_eq!(chroot_of(&build, &host)["state"], "succeeded", "{build:#}");
            let waiting = chroot_of(&build, &other);
            assert_eq!(waiting["state"], "pending", "{build:#}");
            assert_eq!(waiting["queue"]["reason"], "no_builder", "{build:#}");
            assert!(waiting.get("built_in").is_none());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{build:#}\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
