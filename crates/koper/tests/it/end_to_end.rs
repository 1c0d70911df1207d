//! The first complete path: upload an SRPM, build it, install it with dnf.

use koper_testkit::DnfRoot;

use crate::common::*;

#[test]
fn a_packager_uploads_srpms_and_installs_the_results_with_dnf() {
    let world = World::new();
    let alice = &world.alice;
    let chroot = host_chroot();

    // A noarch package and an arch package that compiles C.
    let out = alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let log = stdout(&out);
    assert!(log.starts_with("1\n"), "the build id comes first: {log}");
    assert!(log.contains("Wrote: "), "the live log is shown: {log}");
    assert!(
        stderr(&out).contains("Build 1: succeeded"),
        "{}",
        stderr(&out)
    );

    let out = alice
        .run(&["build", "hello", world.srpm("hello-c").to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("Hello from C"),
        "%check ran the program"
    );

    // Copr's results layout.
    let repo = world.results().join("alice/hello").join(&chroot);
    let first = repo.join("00000001-hello");
    for file in [
        "hello-1.0-1.noarch.rpm",
        "hello-1.0-1.src.rpm",
        "builder-live.log.gz",
    ] {
        assert!(first.join(file).is_file(), "{file} in {:?}", tree(&first));
    }
    assert!(
        !first.join("builder-live.log").exists(),
        "the live log was compressed"
    );
    assert!(gunzip(&first.join("builder-live.log.gz")).contains("rpmbuild succeeded"));
    let second = repo.join("00000002-hello-c");
    let arch = std::env::consts::ARCH;
    assert!(second.join(format!("hello-c-2.1-3.{arch}.rpm")).is_file());
    assert!(repo.join("repodata/repomd.xml").is_file());

    // Served over HTTP, with directory listings.
    let listing = reqwest::blocking::get(format!(
        "{}/results/alice/hello/{chroot}/00000001-hello/",
        world.server.url
    ))
    .unwrap();
    assert_eq!(listing.status(), 200);
    let html = listing.text().unwrap();
    assert!(html.contains("href=\"hello-1.0-1.noarch.rpm\""), "{html}");
    // The plain log name still works after compression.
    let live = reqwest::blocking::get(format!(
        "{}/results/alice/hello/{chroot}/00000001-hello/builder-live.log",
        world.server.url
    ))
    .unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.text().unwrap().contains("rpmbuild succeeded"));

    // The .repo file, exactly as dnf's copr plugin expects it.
    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    assert!(
        repo_file.starts_with("[copr:127.0.0.1:alice:hello]\n"),
        "{repo_file}"
    );
    assert!(repo_file.contains(&format!(
        "baseurl={}/results/alice/hello/host-1-$basearch/\n",
        world.server.url
    )));

    // With only that file, real dnf installs both packages.
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file).unwrap();
    let out = root.dnf(&["install", "hello", "hello-c"]).unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());
    assert!(root.root().join("usr/bin/hello-c").is_file());
    let script = std::fs::read_to_string(root.root().join("usr/bin/hello")).unwrap();
    assert!(script.contains("Hello from koper!"));
}

#[test]
fn listing_commands_show_projects_and_builds() {
    let world = World::new();
    let alice = &world.alice;
    let out = alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "1\n", "--nowait prints only the id");

    let out = alice.run(&["watch-build", "1"]).unwrap();
    assert_success(&out);

    let out = alice.run(&["status", "1"]).unwrap();
    assert_success(&out);
    assert!(stdout(&out).starts_with("succeeded\n"), "{}", stdout(&out));

    let out = alice.run(&["list-builds", "alice/hello"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "1\thello\t1.0-1\tsucceeded\n");

    let out = alice.run(&["list"]).unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).starts_with("alice/hello\n"),
        "{}",
        stdout(&out)
    );

    let out = alice.run(&["list", "--output", "json"]).unwrap();
    let projects: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(projects[0]["full_name"], "alice/hello");

    let out = alice.run(&["list-chroots"]).unwrap();
    assert!(stdout(&out).contains(&host_chroot()));

    let out = alice.run(&["whoami"]).unwrap();
    assert_eq!(stdout(&out), "alice\n");
}

#[test]
fn copr_cli_configuration_is_enough() {
    let world = World::new();
    let home = world.server.scratch("copr-home").unwrap();
    std::fs::create_dir_all(home.join(".config")).unwrap();
    std::fs::write(
        home.join(".config/copr"),
        format!(
            "[copr-cli]\nlogin = alice\nusername = alice\ntoken = {}\ncopr_url = {}\n# expiration date: 2027-05-23\n",
            world.alice.token, world.server.url
        ),
    )
    .unwrap();
    let koper = |args: &[&str]| {
        std::process::Command::new(koper_bin())
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("KOPER_CONFIG")
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .unwrap()
    };
    let out = koper(&["whoami"]);
    assert_success(&out);
    assert_eq!(stdout(&out), "alice\n");
    // A bare project name is the configured user's.
    let out = koper(&["build", "hello", world.srpm("hello").to_str().unwrap()]);
    assert_success(&out);

    // The login must match the token's owner.
    std::fs::write(
        home.join(".config/copr"),
        format!(
            "[copr-cli]\nlogin = mallory\nusername = alice\ntoken = {}\ncopr_url = {}\n",
            world.alice.token, world.server.url
        ),
    )
    .unwrap();
    let out = koper(&["whoami"]);
    assert_exit(&out, 7);
}

#[test]
fn a_deleted_project_leaves_nothing_behind() {
    let world = World::new();
    let alice = &world.alice;
    let out = alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    assert!(world.results().join("alice/hello").is_dir());

    // Only those who may change it may delete it.
    let bob = world.server.add_user("bob").unwrap();
    let out = bob.run(&["delete", "alice/hello"]).unwrap();
    assert_exit(&out, 7);
    assert!(world.results().join("alice/hello").is_dir());

    let out = alice.run(&["delete", "hello"]).unwrap();
    assert_success(&out);
    assert!(stderr(&out).contains("Project alice/hello has been deleted."));
    assert!(!world.results().join("alice/hello").exists());
    let out = alice.run(&["list-builds", "alice/hello"]).unwrap();
    assert_exit(&out, 1);
    // The name is free again, with a key of its own.
    let out = alice
        .run(&["create", "alice/hello", "--chroot", &host_chroot()])
        .unwrap();
    assert_success(&out);
}
