//! Quotas, retention and deleting builds.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn admin(world: &World, args: &[&str]) {
    let out = Command::new(&world.server.koper)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(world.server.data_dir())
        .output()
        .unwrap();
    assert_success(&out);
}

/// The locations the chroot repo's primary.xml lists.
pub fn listed(repo: &Path) -> Vec<String> {
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let primary = koper_repodata::parse_repomd(&repomd)
        .into_iter()
        .find(|e| e.kind == "primary")
        .unwrap();
    let bytes = std::fs::read(repo.join(&primary.href)).unwrap();
    let xml = koper_repodata::decompress(&primary.href, &bytes).unwrap();
    let mut found: Vec<String> = koper_repodata::primary_packages(&String::from_utf8_lossy(&xml))
        .into_iter()
        .map(|p| p.location)
        .filter(|l| !l.starts_with("release/"))
        .collect();
    found.sort();
    found
}

fn build(world: &World, spec: &str) -> std::process::Output {
    world
        .alice
        .run(&["build", "alice/hello", world.srpm(spec).to_str().unwrap()])
        .unwrap()
}

#[test]
fn quotas_refuse_uploads_and_builds_and_say_what_to_do() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    let srpm = world.srpm("hello");
    let size = std::fs::metadata(&srpm).unwrap().len();

    // Too small even for the upload: refused before anything is stored.
    admin(&world, &["set-quota", "alice", "1000"]);
    let out = build(&world, "hello");
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("storage quota of alice would be exceeded"),
        "{err}"
    );
    assert!(err.contains("0 B of 1000 B used"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("koper delete-build"),
        "{err}"
    );
    assert!(err.contains("koper admin set-quota alice"), "{err}");
    let builds: serde_json::Value = reqwest::blocking::get(format!(
        "{}/api/v1/projects/alice/hello/builds",
        world.server.url
    ))
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(builds["items"].as_array().unwrap().len(), 0);

    // Room for the upload but not for the results: the build fails and
    // says why; its logs are kept, no package is published.
    admin(&world, &["set-quota", "alice", &(size + 300).to_string()]);
    let out = build(&world, "hello");
    assert_exit(&out, 4);
    let status: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/builds/1", world.server.url))
            .unwrap()
            .json()
            .unwrap();
    let reason = status["chroots"][0]["fail_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("storage quota of alice"), "{status}");
    let repo = world.results().join("alice/hello").join(host_chroot());
    assert!(listed(&repo).is_empty());
    assert!(repo.join("00000001-hello/builder-live.log.gz").is_file());

    // Usage is shown.
    let out = world.alice.run(&["quota"]).unwrap();
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.starts_with("alice: "), "{text}");
    assert!(
        text.contains(&format!(
            "of {} used",
            koper_types::format_bytes((size + 300) as i64)
        )),
        "{text}"
    );
    assert!(text.contains("  hello"), "{text}");
    let out = world.alice.run(&["quota", "--output", "json"]).unwrap();
    let storage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let used = storage["shared"]["used_bytes"].as_i64().unwrap();
    assert!(used >= size as i64, "{storage}");

    // An administrator raises it: builds work again.
    admin(&world, &["set-quota", "alice", "1GiB"]);
    assert_success(&build(&world, "hello"));

    // A project with a quota of its own counts against that instead.
    admin(&world, &["set-quota", "alice/hello", "10"]);
    let out = build(&world, "hello");
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("storage quota of alice/hello"),
        "{}",
        stderr(&out)
    );
    admin(&world, &["set-quota", "alice/hello", "default"]);
    assert_success(&build(&world, "hello"));
}

#[test]
fn retention_keeps_newest_builds_and_what_they_need_and_deleting_frees_space() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    let repo = world.results().join("alice/hello").join(host_chroot());

    // Default: a new build of a package replaces the previous one.
    assert_success(&build(&world, "hello"));
    assert_success(&build(&world, "hello"));
    assert!(!repo.join("00000001-hello").exists(), "build 1 was pruned");
    assert_eq!(
        listed(&repo),
        [
            "00000002-hello/hello-1.0-1.noarch.rpm",
            "00000002-hello/hello-1.0-1.src.rpm"
        ]
    );

    // Keeping one older build, so users can downgrade.
    let out = world
        .alice
        .run(&["modify", "hello", "--retain", "1"])
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("keeps:       1 older build(s)"),
        "{}",
        stdout(&out)
    );
    assert_success(&build(&world, "hello"));
    assert!(repo.join("00000002-hello").is_dir());
    assert!(repo.join("00000003-hello").is_dir());
    // Back to none: pruned at once.
    assert_success(
        &world
            .alice
            .run(&["modify", "hello", "--retain", "0"])
            .unwrap(),
    );
    assert!(!repo.join("00000002-hello").exists());

    // app needs dep-api = 1, which only dep's older build provides: that
    // build stays when dep 2 arrives.
    assert_success(&build(&world, "dep1"));
    assert_success(&build(&world, "app"));
    assert_success(&build(&world, "dep2"));
    assert!(repo.join("00000004-dep").is_dir(), "{:?}", tree(&repo));
    let locations = listed(&repo);
    assert!(
        locations.contains(&"00000004-dep/dep-1-1.noarch.rpm".to_owned()),
        "{locations:?}"
    );
    assert!(
        locations.contains(&"00000006-dep/dep-2-1.noarch.rpm".to_owned()),
        "{locations:?}"
    );

    // Deleting the build that needed it lets the next publish prune it.
    let usage = |world: &World| -> i64 {
        let out = world.alice.run(&["quota", "--output", "json"]).unwrap();
        let storage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        storage["shared"]["used_bytes"].as_i64().unwrap()
    };
    let before = usage(&world);
    let out = world.alice.run(&["delete-build", "5"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "5\n");
    assert!(stderr(&out).contains("freed"), "{}", stderr(&out));
    assert!(usage(&world) < before, "space is freed at once");
    assert!(!repo.join("00000005-app").exists());
    assert!(!listed(&repo).iter().any(|l| l.starts_with("00000005-app/")));
    let out = world.alice.run(&["status", "5"]).unwrap();
    assert_exit(&out, 1);
    assert_success(&build(&world, "dep2"));
    assert!(
        !repo.join("00000004-dep").exists(),
        "nothing needs dep 1 any more"
    );

    // A build that has not ended cannot be deleted.
    let out = world
        .alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            world.srpm("sleeper").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let id = stdout(&out).trim().to_owned();
    let out = world.alice.run(&["delete-build", &id]).unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("cancel it first"), "{}", stderr(&out));
    assert_success(&world.alice.run(&["cancel", &id]).unwrap());
}
