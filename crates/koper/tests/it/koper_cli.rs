//! The copr-cli scenario (`copr_cli.rs`) replayed step by step through
//! koper's own CLI over HTTPS: the same operations give the same results.

use std::time::{Duration, Instant};

use koper_testkit::TestUser;

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr, stdout};

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

fn wait_for_state(user: &TestUser, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = user.run(&["status", id]).unwrap();
        if first_line(&stdout(&out)) == state {
            return;
        }
        assert!(Instant::now() < deadline, "build {id} never became {state}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn koper_cli_drives_a_project_from_create_to_delete() {
    let world = World::with_tls();
    assert!(world.server.url.starts_with("https://"));
    let alice = &world.alice;
    let host = host_chroot();
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();

    let out = alice
        .run(&[
            "create",
            "alice/tools",
            "--chroot",
            &host,
            "--chroot",
            "fedora-42-x86_64",
            "--description",
            "handy tools",
        ])
        .unwrap();
    assert_success(&out);
    let out = alice.run(&["list", "alice"]).unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("tools"), "{}", stdout(&out));

    // Upload and wait; then a build from a URL.
    let out = alice
        .run(&["build", "alice/tools", srpm, "--chroot", &host])
        .unwrap();
    assert_success(&out);
    let id = first_line(&stdout(&out));
    let out = alice.run(&["status", &id]).unwrap();
    assert_eq!(first_line(&stdout(&out)), "succeeded");
    let served = koper_testkit::serve_dir(std::path::Path::new(srpm).parent().unwrap()).unwrap();
    let url = format!("{served}/hello-1.0-1.src.rpm");
    let out = alice
        .run(&["build", "alice/tools", &url, "--chroot", &host])
        .unwrap();
    assert_success(&out);
    let from_url = first_line(&stdout(&out));

    // Listings and chroot settings.
    let out = alice.run(&["list-builds", "alice/tools"]).unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{from_url}\thello\t")),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["list-chroots"]).unwrap();
    assert!(stdout(&out).contains(&host), "{}", stdout(&out));
    let chroot_ref = format!("alice/tools/{host}");
    let out = alice
        .run(&["edit-chroot", &chroot_ref, "--packages", "make"])
        .unwrap();
    assert_success(&out);
    let out = alice.run(&["get-chroot", &chroot_ref]).unwrap();
    assert!(stdout(&out).contains("make"), "{}", stdout(&out));

    // The mock profile names the project's repo and the extra package, and
    // is valid Python as mock reads it.
    let out = alice.run(&["mock-config", "alice/tools", &host]).unwrap();
    assert_success(&out);
    let profile = stdout(&out);
    assert!(
        profile.contains(&format!(
            "baseurl={}/results/alice/tools/{host}/",
            world.server.url
        )),
        "{profile}"
    );
    let checked = std::process::Command::new("python3")
        .args([
            "-c",
            "import collections,sys\n\
             config_opts = collections.defaultdict(dict)\n\
             exec(sys.stdin.read())\n\
             assert config_opts['chroot_additional_packages'] == 'make'\n\
             print(config_opts['root'])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(profile.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    assert_eq!(
        first_line(&String::from_utf8_lossy(&checked.stdout)),
        format!("alice-tools_{host}")
    );

    // download-build: the published files, byte for byte.
    let dest = world.server.scratch("downloaded").unwrap();
    let out = alice
        .run(&[
            "download-build",
            &from_url,
            "--dest",
            dest.to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let published = world
        .results()
        .join(format!("alice/tools/{host}/{from_url:0>8}-hello"));
    let mut compared = 0;
    for entry in std::fs::read_dir(&published).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".rpm") {
            assert_eq!(
                std::fs::read(dest.join(&host).join(&name)).unwrap(),
                std::fs::read(published.join(&name)).unwrap(),
                "{name}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 2, "binary and source RPM");
    assert!(
        dest.join(&host).join("build.log.gz").exists()
            || dest.join(&host).join("build.log").exists()
    );

    // A failing build exits 4.
    let fails = world.srpm("fails");
    let out = alice
        .run(&[
            "build",
            "alice/tools",
            fails.to_str().unwrap(),
            "--chroot",
            &host,
        ])
        .unwrap();
    assert_exit(&out, 4);

    // Cancel a running build, then delete it.
    let sleeper = world.srpm("sleeper");
    let out = alice
        .run(&[
            "build",
            "alice/tools",
            sleeper.to_str().unwrap(),
            "--chroot",
            &host,
            "--nowait",
        ])
        .unwrap();
    assert_success(&out);
    let sleeper = first_line(&stdout(&out));
    wait_for_state(alice, &sleeper, "running");
    let out = alice.run(&["cancel", &sleeper]).unwrap();
    assert_success(&out);
    assert_eq!(first_line(&stdout(&out)), "canceled");
    let out = alice.run(&["watch-build", &sleeper]).unwrap();
    assert_exit(&out, 4);
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = alice.run(&["delete-build", &sleeper]).unwrap();
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_success(&out);
    let out = alice.run(&["status", &sleeper]).unwrap();
    assert_exit(&out, 1);

    // Change the project; fork it.
    let out = alice
        .run(&["modify", "alice/tools", "--description", "sharper tools"])
        .unwrap();
    assert_success(&out);
    let out = alice.run(&["fork", "alice/tools", "tools-fork"]).unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("into alice/tools-fork"),
        "{}",
        stdout(&out)
    );

    // Permissions: bob asks, alice grants, bob builds.
    let bob = world.server.add_user("bob").unwrap();
    let out = bob
        .run(&["build", "alice/tools", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);
    let out = bob
        .run(&["request-permissions", "alice/tools", "--builder"])
        .unwrap();
    assert_success(&out);
    let out = alice
        .run(&["edit-permissions", "alice/tools", "--builder", "bob"])
        .unwrap();
    assert_success(&out);
    let out = bob
        .run(&["build", "alice/tools", srpm, "--nowait"])
        .unwrap();
    assert_success(&out);

    // Refusals: a wrong token (exit 7), someone else's project (7), an
    // unknown project (1).
    let out = alice
        .koper()
        .env("KOPER_TOKEN", "not-the-token")
        .args(["build", "alice/tools", srpm])
        .output()
        .unwrap();
    assert_exit(&out, 7);
    let out = bob.run(&["delete", "alice/tools"]).unwrap();
    assert_exit(&out, 7);
    let out = alice.run(&["list-builds", "alice/nothing"]).unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    // Delete the project: its repos go with it.
    let out = alice.run(&["delete", "alice/tools"]).unwrap();
    assert_success(&out);
    assert!(!world.results().join("alice/tools").exists());
}

#[test]
fn list_builds_walks_a_long_listing_page_by_page() {
    let world = World::with_args(&["--builders", "0"]);
    // More builds than three pages hold, made in the database directly
    // (through the API this would take minutes).
    let count = 1_234;
    world
        .server
        .sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
             INSERT INTO builds (project_id, source_type, source_state, srpm_path, srpm_sha256,
                 package_name, package_version, timeout, submitted_on)
             SELECT p.id, 'upload', 'succeeded', 'uploads/x/pkg-1-1.src.rpm', '00',
                 'pkg' || (n.i % 7), '1-' || n.i, 3600, 1000
             FROM n, projects p WHERE p.owner_name = 'alice' AND p.name = 'hello'"
        ))
        .unwrap();
    let out = world.alice.run(&["list-builds", "alice/hello"]).unwrap();
    assert_success(&out);
    let ids: Vec<i64> = stdout(&out)
        .lines()
        .map(|line| line.split('\t').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), count, "every build once");
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
}
