//! Repository maintenance: regenerating metadata from published builds.

use std::process::Command;

use koper_testkit::DnfRoot;

use crate::common::*;

#[test]
fn regenerate_repos_rebuilds_lost_metadata() {
    let world = World::new();
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let repo = world.results().join("alice/hello").join(host_chroot());
    std::fs::remove_dir_all(repo.join("repodata")).unwrap();

    let out = Command::new(koper_bin())
        .args(["admin", "regenerate-repos", "alice/hello", "--data-dir"])
        .arg(world.server.data_dir())
        .output()
        .unwrap();
    assert_success(&out);
    assert!(stderr(&out).contains(&format!("regenerated alice/hello {}", host_chroot())));

    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("hello.repo", &repo_file).unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert_success(&out);

    let out = Command::new(koper_bin())
        .args(["admin", "regenerate-repos", "alice/nothing", "--data-dir"])
        .arg(world.server.data_dir())
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not exist"));
}
