//! The fair queue through the real server, CLI and builders: pending
//! builds say why they wait, batches hold builds back, one owner's queue
//! does not starve another's.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Waits until every build in `ids` has ended; their JSON.
fn wait_ended(world: &World, ids: &[u32], timeout: Duration) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let builds: Vec<serde_json::Value> = ids.iter().map(|id| world.build_json(*id)).collect();
        if builds.iter().all(|b| b["chroots"][0]["ended_on"].is_i64()) {
            return builds;
        }
        assert!(
            Instant::now() < deadline,
            "builds did not end: {builds:#?}\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn submit(world: &World, user: &koper_testkit::TestUser, project: &str, extra: &[&str]) -> u32 {
    let srpm = world.srpm("hello");
    let mut args = vec!["build", "--nowait", project, srpm.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = user.run(&args).unwrap();
    assert_success(&out);
    stdout(&out).trim().parse().unwrap()
}

#[test]
fn pending_builds_say_why_they_wait_and_batches_hold_builds_back() {
    let world = World::with_args(&["--builders", "0"]);
    let alice = &world.alice;
    let arch = std::env::consts::ARCH;

    let first = submit(&world, alice, "alice/hello", &[]);
    let out = alice.run(&["status", &first.to_string()]).unwrap();
    assert_success(&out);
    let text = stdout(&out);
    assert!(text.starts_with("pending\n"), "{text}");
    assert!(
        text.contains(&format!("waiting: no builder for {arch} is connected")),
        "{text}"
    );

    let after = submit(
        &world,
        alice,
        "alice/hello",
        &["--after-build-id", &first.to_string(), "--background"],
    );
    let out = alice.run(&["status", &after.to_string()]).unwrap();
    assert!(
        stdout(&out).contains(&format!("waiting: it waits for build(s) {first} to end")),
        "{}",
        stdout(&out)
    );
    let shown = world.build_json(after);
    assert_eq!(shown["is_background"], true);
    assert_eq!(shown["chroots"][0]["queue"]["reason"], "batch");
    assert_eq!(shown["chroots"][0]["queue"]["blocked_by"][0], first);
    let page = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/build/{after}/",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    assert!(
        page.contains(&format!("Waiting: it waits for build(s) {first} to end")),
        "{page}"
    );

    // Refused: an unknown build to wait for, a priority out of range, both
    // batch options at once.
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();
    let out = alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            srpm,
            "--after-build-id",
            "99",
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("build 99 does not exist"),
        "{}",
        stderr(&out)
    );
    let out = alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            srpm,
            "--priority",
            "101",
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
    let out = alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            srpm,
            "--after-build-id",
            "1",
            "--with-build-id",
            "1",
        ])
        .unwrap();
    assert_exit(&out, 2);

    // Operators see the queue in the metrics and the admin status.
    let metrics = reqwest::blocking::get(format!("{}/metrics", world.server.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "koper_queue_tasks{{state=\"pending\",arch=\"{arch}\"}} 2"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("koper_builders{state=\"busy\"} 0"),
        "{metrics}"
    );
    let out = Command::new(koper_bin())
        .args(["admin", "status", "--data-dir"])
        .arg(world.server.data_dir())
        .output()
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("pending   {arch:<8} 2")),
        "{}",
        stdout(&out)
    );

    // Owner limits are an administrator's setting.
    let data = world.server.data_dir();
    let data = data.to_str().unwrap();
    let out = Command::new(koper_bin())
        .args(["admin", "set-limit", "alice", "0", "--data-dir", data])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = Command::new(koper_bin())
        .args(["admin", "set-limit", "alice", "2", "--data-dir", data])
        .output()
        .unwrap();
    assert_success(&out);

    // A builder on another "host" connects: the first build runs, then
    // the one that waited for it.
    let out = Command::new(koper_bin())
        .args(["admin", "add-builder", "remote-1", "--data-dir", data])
        .output()
        .unwrap();
    assert_success(&out);
    let token = stdout(&out).trim().to_owned();
    let work = world.server.scratch("remote-builder").unwrap();
    let mut builder = Command::new(koper_bin())
        .args(["builder", "--server", &world.server.url, "--token", &token])
        .arg("--work-dir")
        .arg(&work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let builds = wait_ended(&world, &[first, after], Duration::from_secs(300));
    let _ = builder.kill();
    let _ = builder.wait();
    for build in &builds {
        assert_eq!(build["state"], "succeeded", "{build:#?}");
    }
    let first_ended = builds[0]["chroots"][0]["ended_on"].as_i64().unwrap();
    let after_started = builds[1]["chroots"][0]["started_on"].as_i64().unwrap();
    assert!(after_started >= first_ended, "{builds:#?}");
}

#[test]
fn another_owners_build_is_not_starved_by_a_queue_of_builds() {
    let world = World::new();
    let bob = world.server.add_user("bob").unwrap();
    assert_success(
        &bob.run(&["create", "bob/tools", "--chroot", &host_chroot()])
            .unwrap(),
    );
    let alice_builds: Vec<u32> = (0..3)
        .map(|_| submit(&world, &world.alice, "alice/hello", &[]))
        .collect();
    let bobs = submit(&world, &bob, "bob/tools", &[]);
    let mut all = alice_builds.clone();
    all.push(bobs);
    let builds = wait_ended(&world, &all, Duration::from_secs(600));
    for build in &builds {
        assert_eq!(build["state"], "succeeded", "{build:#?}");
    }
    let started = |b: &serde_json::Value| b["chroots"][0]["started_on"].as_i64().unwrap();
    let arch = std::env::consts::ARCH;
    let metrics = reqwest::blocking::get(format!("{}/metrics", world.server.url))
        .unwrap()
        .text()
        .unwrap();
    for line in [
        format!("koper_build_duration_seconds_count{{arch=\"{arch}\",outcome=\"succeeded\"}} 4"),
        format!("koper_publish_duration_seconds_count{{arch=\"{arch}\",outcome=\"succeeded\"}} 4"),
        format!("koper_queue_tasks{{state=\"pending\",arch=\"{arch}\"}} 0"),
        "koper_builders{state=\"idle\"} 1".to_owned(),
    ] {
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    let out = Command::new(koper_bin())
        .args(["admin", "status", "--output", "json", "--data-dir"])
        .arg(world.server.data_dir())
        .output()
        .unwrap();
    assert_success(&out);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["recent"][0]["arch"], arch);
    assert_eq!(status["recent"][0]["tasks"], 4);
    assert_eq!(status["builders"][0]["state"], "idle");
    // One local builder: bob's build takes the first slot that frees after
    // it was submitted, before alice's last build.
    assert!(
        started(&builds[3]) <= started(&builds[2]),
        "bob's build waited for all of alice's: {builds:#?}"
    );
}
