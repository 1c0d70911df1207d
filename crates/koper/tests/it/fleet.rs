//! One instance, several hosts' worth of processes: two `koper serve` on
//! one PostgreSQL database and one data directory, three builders, a
//! hundred builds submitted to both servers. Every build runs exactly once
//! and the repository ends valid, listing every package once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use koper_testkit::TestServer;

use crate::common::*;

const BUILDS: usize = 100;

fn spec(n: usize) -> String {
    format!(
        "Name: num{n}\nVersion: 1\nRelease: 1\nSummary: Build {n} of many\nLicense: MIT\n\
         BuildArch: noarch\nAutoReqProv: no\n\n%description\nOne of a hundred builds.\n\n\
         %install\nmkdir -p %{{buildroot}}/usr/share/num{n}\n\
         echo {n} > %{{buildroot}}/usr/share/num{n}/n\n\n%files\n/usr/share/num{n}\n"
    )
}

/// Kills the builders when the test ends, however it ends.
struct Builders(Vec<Child>);

impl Drop for Builders {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn two_servers_and_three_builders_run_a_hundred_builds_each_exactly_once() {
    let first = TestServer::start_on_postgres(koper_bin(), &["--builders", "0"], "").unwrap();
    let second = first.another_process("b", &["--builders", "0"]).unwrap();
    let alice = first.add_user("alice").unwrap();
    assert_success(
        &alice
            .run(&["create", "alice/many", "--chroot", &host_chroot()])
            .unwrap(),
    );

    // Two builders ask the first server for work, one the second.
    let mut builders = Builders(Vec::new());
    for (n, url) in [&first.url, &first.url, &second.url]
        .into_iter()
        .enumerate()
    {
        let out = Command::new(koper_bin())
            .args(["admin", "add-builder", &format!("host-{n}"), "--data-dir"])
            .arg(first.data_dir())
            .output()
            .unwrap();
        assert_success(&out);
        let token = stdout(&out).trim().to_owned();
        let work = first.scratch(&format!("builder-host-{n}")).unwrap();
        builders.0.push(
            Command::new(koper_bin())
                .args(["builder", "--server", url, "--token", &token])
                .arg("--work-dir")
                .arg(&work)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(work.join("builder.log")).unwrap())
                .spawn()
                .unwrap(),
        );
    }

    // A hundred different packages, submitted to either server.
    let srpms = first.scratch("srpms").unwrap();
    for n in 0..BUILDS {
        let srpm =
            koper_testkit::build_srpm_from_text(&format!("num{n}"), &spec(n), &srpms).unwrap();
        let url = if n % 2 == 0 { &first.url } else { &second.url };
        let out = alice
            .run(&[
                "build",
                "--nowait",
                "--url",
                url,
                "alice/many",
                srpm.to_str().unwrap(),
            ])
            .unwrap();
        assert_success(&out);
    }

    let list = format!(
        "{}/api/v1/projects/alice/many/builds?limit=1000",
        second.url
    );
    let deadline = Instant::now() + Duration::from_secs(1200);
    let builds = loop {
        let page: serde_json::Value = reqwest::blocking::get(&list).unwrap().json().unwrap();
        let items = page["items"].as_array().unwrap().clone();
        let ended = items
            .iter()
            .filter(|b| b["chroots"][0]["ended_on"].is_i64())
            .count();
        if items.len() == BUILDS && ended == BUILDS {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {} builds ended in time\n{}",
            items.len(),
            first.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    drop(builders);

    let repo = first
        .data_dir()
        .join("results/alice/many")
        .join(host_chroot());
    for build in &builds {
        if build["state"] != "succeeded" {
            let id = build["id"].as_u64().unwrap();
            let name = build["source_package"]["name"].as_str().unwrap();
            let log = repo.join(format!("{id:08}-{name}/root.log.gz"));
            panic!("{build:#}\n{}", gunzip(&log));
        }
        assert_eq!(
            build["chroots"][0]["attempts"], 1,
            "leased exactly once: {build:#}"
        );
        let id = build["id"].as_u64().unwrap();
        let name = build["source_package"]["name"].as_str().unwrap();
        let dir = repo.join(format!("{id:08}-{name}"));
        let rpms: Vec<String> = tree(&dir)
            .into_iter()
            .filter(|f| f.ends_with(".noarch.rpm"))
            .collect();
        assert_eq!(rpms, [format!("{name}-1-1.noarch.rpm")], "in {dir:?}");
    }
    // The repository lists each package (and its source) once, and its
    // metadata is signed.
    let listed: Vec<String> = crate::storage::listed(&repo)
        .into_iter()
        .filter(|location| location.ends_with(".noarch.rpm"))
        .collect();
    assert_eq!(listed.len(), BUILDS, "{listed:?}");
    let mut names: Vec<&str> = listed
        .iter()
        .map(|location| location.rsplit('/').next().unwrap())
        .collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), BUILDS);
    assert!(repo.join("repodata/repomd.xml.asc").is_file());

    // Both servers handed out work and published.
    let second_log =
        std::fs::read_to_string(first.data_dir().parent().unwrap().join("serve-b.log")).unwrap();
    assert!(second_log.contains("task leased"), "{second_log}");
    assert!(first.log().contains("task leased"));
}
