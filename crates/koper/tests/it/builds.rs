//! Builds that do not succeed: failures keep their logs, cancel stops them.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn a_spec_that_fails_ends_failed_with_its_log_kept() {
    let world = World::new();
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("fails").to_str().unwrap(),
        ])
        .unwrap();
    assert_exit(&out, 4);
    assert!(
        stdout(&out).contains("this build is meant to fail"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("failed"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("hint: the logs are in"),
        "{}",
        stderr(&out)
    );

    let out = world.alice.run(&["status", "1"]).unwrap();
    assert!(stdout(&out).starts_with("failed\n"), "{}", stdout(&out));

    let dir = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000001-fails");
    assert!(gunzip(&dir.join("build.log.gz")).contains("this build is meant to fail"));
    assert!(gunzip(&dir.join("builder-live.log.gz")).contains("this build is meant to fail"));
    let rpms: Vec<String> = tree(&dir)
        .into_iter()
        .filter(|f| f.ends_with(".rpm"))
        .collect();
    assert!(
        rpms.is_empty(),
        "a failed build publishes no packages: {rpms:?}"
    );

    // Readable over HTTP too.
    let log = reqwest::blocking::get(format!(
        "{}/results/alice/hello/{}/00000001-fails/build.log.gz",
        world.server.url,
        host_chroot()
    ))
    .unwrap();
    assert_eq!(log.status(), 200);
    assert!(log.text().unwrap().contains("this build is meant to fail"));
}

#[test]
fn canceling_a_running_build_stops_it() {
    let world = World::new();
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

    // Follow it in the background, as a packager would in another terminal.
    let watcher = world
        .alice
        .koper()
        .args(["watch-build", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let log_url = format!("{}/api/v1/builds/1/log/{}", world.server.url, host_chroot());
    loop {
        let log = reqwest::blocking::get(&log_url).unwrap().text().unwrap();
        if log.contains("sleeping now") {
            break;
        }
        assert!(Instant::now() < deadline, "the build never ran: {log}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = world.alice.run(&["status", "1"]).unwrap();
    assert!(stdout(&out).starts_with("running"), "{}", stdout(&out));
    let out = world.alice.run(&["cancel", "1"]).unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "canceled\n");

    let started = Instant::now();
    let out = watcher.wait_with_output().unwrap();
    assert_exit(&out, 4);
    assert!(
        stdout(&out).contains("sleeping now"),
        "the watcher showed the live log"
    );
    // The builder renews its lease at least every 3 s and the answer
    // carries the cancel; the sandbox then kills the build's process tree.
    // 10 s leaves room for a loaded machine, not for a missed cancel (the
    // build would sleep for 600 s).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancel took {:?}",
        started.elapsed()
    );
    let build: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/builds/1", world.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(build["state"], "canceled");
    assert_eq!(build["chroots"][0]["state"], "canceled");

    // Canceling an ended build is refused.
    let out = world.alice.run(&["cancel", "1"]).unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already ended"), "{}", stderr(&out));
}
