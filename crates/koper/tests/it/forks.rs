//! Forking: the fork gets the project's settings and the newest build of
//! each package, signed with the fork's own key, installable with dnf.

use koper_testkit::DnfRoot;

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr, stdout};

#[test]
fn a_fork_carries_the_newest_builds_signed_with_its_own_key() {
    let world = World::new();
    let out = world
        .alice
        .run(&["modify", "alice/hello", "--description", "greetings"])
        .unwrap();
    assert_success(&out);
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let bob = world.server.add_user("bob").unwrap();

    let out = bob.run(&["fork", "alice/hello", "hello-copy"]).unwrap();
    assert_success(&out);
    assert_eq!(
        stdout(&out).trim(),
        "Forked alice/hello into bob/hello-copy with 1 build(s)."
    );
    let fork: serde_json::Value = reqwest::blocking::get(format!(
        "{}/api/v1/projects/bob/hello-copy",
        world.server.url
    ))
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(fork["description"], "greetings");
    assert_eq!(fork["chroots"], serde_json::json!([host_chroot()]));

    // The copy is a succeeded build of the fork; the source is untouched.
    let out = bob
        .run(&["list-builds", "bob/hello-copy", "--output", "json"])
        .unwrap();
    assert_success(&out);
    let builds: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let builds = builds
        .as_array()
        .or_else(|| builds["items"].as_array())
        .unwrap();
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_eq!(builds[0]["state"], "succeeded");
    assert_eq!(builds[0]["source_package"]["name"], "hello");

    // dnf installs from the fork with the fork's key only: the packages
    // were re-signed.
    let alice_key = std::fs::read(world.results().join("alice/hello/pubkey.gpg")).unwrap();
    let bob_key = std::fs::read(world.results().join("bob/hello-copy/pubkey.gpg")).unwrap();
    assert_ne!(alice_key, bob_key);
    let repo = reqwest::blocking::get(format!(
        "{}/coprs/bob/hello-copy/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    assert!(repo.contains("\ngpgcheck=1\n"), "{repo}");
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("bob-hello-copy.repo", &repo).unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());

    // Into an existing project only when confirmed, and only by its admins.
    let out = bob.run(&["fork", "alice/hello", "hello-copy"]).unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("fork into existing project: bob/hello-copy"),
        "{}",
        stderr(&out)
    );
    let out = bob
        .run(&["fork", "alice/hello", "hello-copy", "--confirm"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["fork", "bob/hello-copy", "alice/hello", "--confirm"])
        .unwrap();
    assert_exit(&out, 7);
    let out = bob.run(&["fork", "alice/hello", "alice/stolen"]).unwrap();
    assert_exit(&out, 7);
    let out = bob.run(&["fork", "alice/nothing", "nothing"]).unwrap();
    assert_exit(&out, 1);
}
