//! Buildroots made from kopers: BuildRequires come from the projects a
//! project depends on (transitively), extra buildroot packages are
//! installed, and every package names where it came from.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

/// The result directory of the only build of `package` in `project`.
fn result_dir(world: &World, project: &str, package: &str) -> PathBuf {
    let repo = world.results().join(project).join(host_chroot());
    let suffix = format!("-{package}");
    let found: Vec<PathBuf> = std::fs::read_dir(&repo)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(&suffix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?} in {}", repo.display());
    found.into_iter().next().unwrap()
}

fn build(world: &World, project: &str, spec: &str) -> std::process::Output {
    world
        .alice
        .run(&["build", project, world.srpm(spec).to_str().unwrap()])
        .unwrap()
}

fn create(world: &World, project: &str, extra: &[&str]) {
    let chroot = host_chroot();
    let mut args = vec!["create", project, "--chroot", &chroot];
    args.extend_from_slice(extra);
    assert_success(&world.alice.run(&args).unwrap());
}

fn rpm_tags(rpm: &std::path::Path) -> String {
    let out = Command::new("rpm")
        .args(["--dbpath", "/nonexistent", "-qp", "--nosignature"])
        .args(["--qf", "%{VENDOR}|%{PACKAGER}|%{BUGURL}"])
        .arg(rpm)
        .output()
        .unwrap();
    assert_success(&out);
    stdout(&out)
}

#[test]
fn a_package_links_against_a_library_from_the_project_it_depends_on() {
    let world = World::new();
    create(&world, "alice/x", &[]);
    assert_success(&build(&world, "alice/x", "libfoo"));

    // Without the dependency, libfoo-devel is nowhere to be found.
    let out = build(&world, "alice/hello", "usefoo");
    assert_exit(&out, 4);
    let root_log = gunzip(&result_dir(&world, "alice/hello", "usefoo").join("root.log.gz"));
    assert!(root_log.contains("libfoo-devel"), "{root_log}");

    create(&world, "alice/y", &["--repo", "copr://alice/x"]);
    let out = build(&world, "alice/y", "usefoo");
    assert_success(&out);
    // %check ran the program, linked against the library from alice/x.
    assert!(
        stdout(&out).contains("libfoo answers 42"),
        "{}",
        stdout(&out)
    );
    let dir = result_dir(&world, "alice/y", "usefoo");
    let root_log = gunzip(&dir.join("root.log.gz"));
    assert!(root_log.contains("libfoo-devel"), "{root_log}");
    assert!(root_log.contains("coprdep:alice:x"), "{root_log}");
    // rpmlint's findings are kept with the build: they follow its
    // outcome, which no longer waits for them.
    let findings = dir.join("rpmlint.log.gz");
    let since = std::time::Instant::now();
    while !findings.exists() && since.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        findings.exists(),
        "no rpmlint.log.gz; server log:\n{}",
        world.server.log()
    );
    let lint = gunzip(&findings);
    assert!(lint.contains("usefoo"), "{lint}");
    // dnf checked the dependency's signatures with its key.
    assert!(
        root_log.contains("alice_x <alice#x@127.0.0.1>"),
        "{root_log}"
    );

    // The package says where it came from.
    let arch = std::env::consts::ARCH;
    let tags = rpm_tags(&dir.join(format!("usefoo-1.0-1.{arch}.rpm")));
    let host = "127.0.0.1";
    assert_eq!(
        tags,
        format!(
            "koper {host} (alice/y)|alice/y on koper {host}|{}/coprs/alice/y/",
            world.server.url
        )
    );

    // The API and the CLI show the dependency.
    let out = world.alice.run(&["list", "alice"]).unwrap();
    assert!(
        stdout(&out).contains("builds with: copr://alice/x"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn hierarchies_resolve_transitively_and_cycles_end() {
    let world = World::new();
    create(&world, "alice/kde-stable", &[]);
    assert_success(&build(&world, "alice/kde-stable", "libfoo"));
    create(
        &world,
        "alice/kde-testing",
        &["--repo", "copr://alice/kde-stable"],
    );
    create(
        &world,
        "alice/kde-unstable",
        &["--repo", "copr://alice/kde-testing", "--repo-priority", "5"],
    );
    // stable → unstable closes a cycle, which resolution must survive.
    assert_success(
        &world
            .alice
            .run(&[
                "modify",
                "alice/kde-stable",
                "--repo",
                "copr://alice/kde-unstable",
            ])
            .unwrap(),
    );

    let out = build(&world, "alice/kde-unstable", "usefoo");
    assert_success(&out);
    assert!(stdout(&out).contains("libfoo answers 42"));
    let root_log = gunzip(&result_dir(&world, "alice/kde-unstable", "usefoo").join("root.log.gz"));
    assert!(root_log.contains("coprdep:alice:kde-stable"), "{root_log}");

    // Extra buildroot packages of the project chroot are installed even
    // though the spec does not ask for them.
    let chroot = format!("alice/kde-unstable/{}", host_chroot());
    let out = world
        .alice
        .run(&["edit-chroot", &chroot, "--packages", "libfoo-devel"])
        .unwrap();
    assert_success(&out);
    let out = world.alice.run(&["get-chroot", &chroot]).unwrap();
    assert_eq!(stdout(&out), "additional_packages: libfoo-devel\n");
    let out = build(&world, "alice/kde-unstable", "foo-header");
    assert_success(&out);
    assert!(stdout(&out).contains("foo.h is in the buildroot"));
}

#[test]
fn bad_repos_and_packages_are_refused() {
    let world = World::new();
    let chroot = host_chroot();
    for (repo, expected) in [
        (
            "file:///etc",
            "only copr://OWNER/PROJECT and http(s) repo URLs",
        ),
        ("copr://alice/nope", "project alice/nope does not exist"),
        ("copr://alice", "copr://OWNER/PROJECT"),
        ("http://x/ y", "not a usable repo URL"),
    ] {
        let out = world
            .alice
            .run(&["create", "alice/bad", "--chroot", &chroot, "--repo", repo])
            .unwrap();
        assert_exit(&out, 1);
        assert!(stderr(&out).contains(expected), "{repo}: {}", stderr(&out));
        let out = world
            .alice
            .run(&["modify", "alice/hello", "--repo", repo])
            .unwrap();
        assert_exit(&out, 1);
    }
    let out = world
        .alice
        .run(&[
            "edit-chroot",
            &format!("alice/hello/{chroot}"),
            "--packages",
            "make --nogpgcheck",
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("\"--nogpgcheck\" is not a package name"),
        "{}",
        stderr(&out)
    );

    // Someone else's project cannot be changed.
    let bob = world.server.add_user("bob").unwrap();
    let out = bob
        .run(&["modify", "alice/hello", "--repo", "copr://alice/hello"])
        .unwrap();
    assert_exit(&out, 7);
    let out = bob
        .run(&[
            "edit-chroot",
            &format!("alice/hello/{chroot}"),
            "--packages",
            "make",
        ])
        .unwrap();
    assert_exit(&out, 7);
}

#[test]
fn repo_priorities_follow_the_projects_settings() {
    let world = World::new();
    create(&world, "alice/old", &[]);
    create(&world, "alice/new", &[]);
    assert_success(&build(&world, "alice/old", "libfoo"));
    let spec = std::fs::read_to_string(koper_testkit::fixtures_dir().join("libfoo.spec"))
        .unwrap()
        .replace("Version:        1.0", "Version:        2.0");
    let newer = koper_testkit::build_srpm_from_text(
        "libfoo",
        &spec,
        &world.server.scratch("libfoo-2").unwrap(),
    )
    .unwrap();
    assert_success(
        &world
            .alice
            .run(&["build", "alice/new", newer.to_str().unwrap()])
            .unwrap(),
    );
    create(
        &world,
        "alice/app",
        &["--repo", "copr://alice/old", "--repo", "copr://alice/new"],
    );

    // Same priority: dnf takes the newest version.
    let out = build(&world, "alice/app", "usefoo");
    assert_success(&out);
    let first = stdout(&out).lines().next().unwrap().trim().to_owned();
    let root_log = gunzip(&result_dir(&world, "alice/app", "usefoo").join("root.log.gz"));
    let installed = |log: &str, version: &str, repo: &str| {
        log.lines().any(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            words.first() == Some(&"libfoo-devel")
                && words.contains(&version)
                && words.contains(&repo)
        })
    };
    assert!(
        installed(&root_log, "2.0-1", "coprdep:alice:new"),
        "{root_log}"
    );

    // alice/old preferred (a lower number wins): its older version is
    // taken although a newer one exists.
    assert_success(
        &world
            .alice
            .run(&["modify", "alice/old", "--repo-priority", "1"])
            .unwrap(),
    );
    let out = world.alice.run(&["delete-build", &first]).unwrap();
    assert_success(&out);
    assert_success(&build(&world, "alice/app", "usefoo"));
    let root_log = gunzip(&result_dir(&world, "alice/app", "usefoo").join("root.log.gz"));
    assert!(
        installed(&root_log, "1.0-1", "coprdep:alice:old"),
        "{root_log}"
    );
}

#[test]
fn refresh_chroot_makes_builders_remake_the_base_root() {
    let world = World::new();
    let describing = "describing the base root";
    let root_log = |n: &str| {
        gunzip(
            &world
                .results()
                .join("alice/hello")
                .join(host_chroot())
                .join(format!("0000000{n}-hello"))
                .join("root.log.gz"),
        )
    };
    // Read right after each build: retention prunes the previous one.
    assert_success(&build(&world, "alice/hello", "hello"));
    assert!(root_log("1").contains(describing), "{}", root_log("1"));
    assert_success(&build(&world, "alice/hello", "hello"));
    assert!(
        !root_log("2").contains(describing),
        "cached: {}",
        root_log("2")
    );

    let admin = |args: &[&str]| {
        Command::new(&world.server.koper)
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(world.server.data_dir())
            .output()
            .unwrap()
    };
    let out = admin(&["refresh-chroot", &host_chroot()]);
    assert_success(&out);
    assert!(stderr(&out).contains("refresh 1"), "{}", stderr(&out));
    assert_success(&build(&world, "alice/hello", "hello"));
    assert!(root_log("3").contains(describing), "{}", root_log("3"));

    let out = admin(&["refresh-chroot", "nosuch-1-x86_64"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("there is no chroot nosuch-1-x86_64"));
}
