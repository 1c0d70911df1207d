//! Faults survived: a builder killed with SIGKILL in the middle of builds,
//! again and again, and restarted on the same work directory. Every build
//! still ends succeeded, each published once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const BUILDS: usize = 5;
const KILLS: usize = 20;

fn slow_spec(n: usize) -> String {
    format!(
        "Name: slow{n}\nVersion: 1\nRelease: 1\nSummary: Slow build {n}\nLicense: MIT\n\
         BuildArch: noarch\nAutoReqProv: no\n\n%description\nKilled mid-build.\n\n\
         %build\necho \"slow build started\"\nsleep 6\n\n\
         %install\nmkdir -p %{{buildroot}}/usr/share/slow{n}\n\
         echo {n} > %{{buildroot}}/usr/share/slow{n}/n\n\n%files\n/usr/share/slow{n}\n"
    )
}

/// A builder process, killed when dropped (also when the test fails).
struct Builder(Child);

impl Drop for Builder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_builder(world: &World, token: &str) -> Builder {
    let work = world.server.builder_dir().with_file_name("killed-builder");
    std::fs::create_dir_all(&work).unwrap();
    Builder(
        Command::new(koper_bin())
            .args(["builder", "--server", &world.server.url, "--token", token])
            .arg("--work-dir")
            .arg(&work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Every build's attempts so far.
fn attempts(world: &World) -> Vec<i64> {
    (1..=BUILDS)
        .map(|id| {
            world.build_json(id as u32)["chroots"][0]["attempts"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// Whether a build chroot leased since `before` (attempts per build) is
/// in the middle of rpmbuild.
fn mid_build(world: &World, before: &[i64]) -> bool {
    (1..=BUILDS).any(|id| {
        let build = world.build_json(id as u32);
        build["chroots"][0]["state"] == "running"
            && build["chroots"][0]["attempts"].as_i64().unwrap() > before[id - 1]
            && reqwest::blocking::get(format!(
                "{}/api/v1/builds/{id}/log/{}",
                world.server.url,
                host_chroot()
            ))
            .unwrap()
            .text()
            .unwrap()
            .contains("slow build started")
    })
}

#[test]
fn a_builder_killed_mid_build_twenty_times_loses_no_build() {
    let world = World::configured(
        &["--builders", "0"],
        "lease_seconds = 5\nretry_backoff_seconds = 1\nmax_attempts = 30\n",
    );
    let token = world.add_builder("killed");
    let srpms = world.server.scratch("slow-srpms").unwrap();
    for n in 0..BUILDS {
        let srpm = koper_testkit::build_srpm_from_text(&format!("slow{n}"), &slow_spec(n), &srpms)
            .unwrap();
        let out = world
            .alice
            .run(&["build", "--nowait", "alice/hello", srpm.to_str().unwrap()])
            .unwrap();
        assert_success(&out);
    }

    for kill in 0..KILLS {
        let before = attempts(&world);
        let builder = start_builder(&world, &token);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !mid_build(&world, &before) {
            assert!(
                Instant::now() < deadline,
                "kill {kill}: no build got going\n{}",
                world.server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // SIGKILL, as a crash or an OOM kill would.
        drop(builder);
    }

    // The last builder is left alone to finish everything.
    let builder = start_builder(&world, &token);
    let deadline = Instant::now() + Duration::from_secs(600);
    let builds: Vec<serde_json::Value> = loop {
        let builds: Vec<serde_json::Value> =
            (1..=BUILDS).map(|id| world.build_json(id as u32)).collect();
        if builds.iter().all(|b| b["chroots"][0]["ended_on"].is_i64()) {
            break builds;
        }
        assert!(
            Instant::now() < deadline,
            "builds did not end: {builds:#?}\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    drop(builder);

    let attempts: i64 = builds
        .iter()
        .map(|b| b["chroots"][0]["attempts"].as_i64().unwrap())
        .sum();
    assert!(
        attempts >= (BUILDS + KILLS) as i64,
        "every kill cost an attempt: {attempts}"
    );
    let repo = world.results().join("alice/hello").join(host_chroot());
    for build in &builds {
        assert_eq!(build["state"], "succeeded", "{build:#}");
    }
    let listed: Vec<String> = crate::storage::listed(&repo)
        .into_iter()
        .filter(|location| location.ends_with(".noarch.rpm"))
        .collect();
    assert_eq!(listed.len(), BUILDS, "each package once: {listed:?}");
}
