//! Faults survived by the server: `koper serve` killed with SIGKILL while
//! an external builder is in the middle of builds, and again while it is
//! publishing results, each time started again on the same address, data
//! directory and database. Nothing accepted is lost, the builder carries
//! on, every build ends succeeded and real dnf installs every package.
//! Killed in the middle of an upload, it keeps the builds it had taken and
//! sweeps the part it was receiving out of its spool.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use koper_testkit::DnfRoot;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::*;

const BUILDS: usize = 6;
/// Kills while a build runs, then kills while a publish runs.
const MID_BUILD_KILLS: usize = 2;
const MID_PUBLISH_KILLS: usize = 2;

/// A build that runs long enough to be caught running, with a payload
/// large enough that publishing it takes a moment too.
fn spec(n: usize) -> String {
    format!(
        "Name: crash{n}\nVersion: 1\nRelease: 1\nSummary: Survives crashes {n}\nLicense: MIT\n\
         BuildArch: noarch\nAutoReqProv: no\n\n%description\nServer killed under it.\n\n\
         %build\necho \"slow build started\"\nsleep 4\n\n\
         %install\nmkdir -p %{{buildroot}}/usr/share/crash{n}\n\
         echo {n} > %{{buildroot}}/usr/share/crash{n}/n\n\
         head -c 8388608 /dev/urandom > %{{buildroot}}/usr/share/crash{n}/noise\n\n\
         %files\n/usr/share/crash{n}\n"
    )
}

/// The builder process, killed when the test ends, however it ends.
struct Builder(Child);

impl Drop for Builder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Build chroots whose outcome the builder reported and whose publish has
/// not ended, read from the database itself.
fn publishes_in_progress(world: &World) -> i64 {
    let sql = "SELECT COUNT(*) FROM build_chroots WHERE outcome IS NOT NULL AND ended_on IS NULL";
    let out = match world.server.postgres_url() {
        Some(url) => Command::new("psql").args([url, "-tAc", sql]).output(),
        None => Command::new("sqlite3")
            .arg(world.server.data_dir().join("koper.db"))
            .arg(sql)
            .output(),
    }
    .unwrap();
    assert_success(&out);
    stdout(&out).trim().parse().unwrap()
}

fn all_ended(world: &World) -> bool {
    (1..=BUILDS).all(|id| world.build_json(id as u32)["chroots"][0]["ended_on"].is_i64())
}

/// A build in the middle of rpmbuild, other than those in `seen`.
fn building(world: &World, seen: &[usize]) -> Option<usize> {
    (1..=BUILDS).filter(|id| !seen.contains(id)).find(|&id| {
        world.build_json(id as u32)["chroots"][0]["state"] == "running"
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
fn a_server_killed_mid_build_and_mid_publish_loses_nothing() {
    let mut world = World::with_args(&["--builders", "0"]);
    let token = world.add_builder("survivor");
    let work = world.server.scratch("survivor").unwrap();
    let _builder = Builder(
        Command::new(koper_bin())
            .args(["builder", "--server", &world.server.url, "--token", &token])
            .arg("--work-dir")
            .arg(&work)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.join("builder.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let srpms = world.server.scratch("crash-srpms").unwrap();
    for n in 0..BUILDS {
        let srpm =
            koper_testkit::build_srpm_from_text(&format!("crash{n}"), &spec(n), &srpms).unwrap();
        let out = world
            .alice
            .run(&["build", "--nowait", "alice/hello", srpm.to_str().unwrap()])
            .unwrap();
        assert_success(&out);
    }

    // SIGKILL while rpmbuild runs: the builder keeps building, rides out
    // the restart and reports to the new process.
    let mut killed_under: Vec<usize> = Vec::new();
    for kill_number in 0..MID_BUILD_KILLS {
        let deadline = Instant::now() + Duration::from_secs(300);
        let id = loop {
            if let Some(id) = building(&world, &killed_under) {
                break id;
            }
            assert!(
                Instant::now() < deadline,
                "kill {kill_number}: no build got going\n{}",
                world.server.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        world.server.kill_and_restart().unwrap();
        killed_under.push(id);
    }

    // SIGKILL while a publish runs. The server is frozen (SIGSTOP) while
    // the database is looked at, so what is seen is what is killed.
    let mut publish_kills = 0;
    let deadline = Instant::now() + Duration::from_secs(900);
    while publish_kills < MID_PUBLISH_KILLS && !all_ended(&world) {
        assert!(Instant::now() < deadline, "{}", world.server.log());
        let pid = Pid::from_raw(world.server.pid() as i32);
        kill(pid, Signal::SIGSTOP).unwrap();
        if publishes_in_progress(&world) > 0 {
            world.server.kill_and_restart().unwrap();
            publish_kills += 1;
        } else {
            kill(pid, Signal::SIGCONT).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(
        publish_kills,
        MID_PUBLISH_KILLS,
        "no publish was caught in progress\n{}",
        world.server.log()
    );
    assert!(
        world
            .server
            .log()
            .contains("finishing a publish interrupted earlier"),
        "{}",
        world.server.log()
    );

    let deadline = Instant::now() + Duration::from_secs(900);
    while !all_ended(&world) {
        assert!(Instant::now() < deadline, "{}", world.server.log());
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every accepted build is there and succeeded, once in the repo.
    let listed = reqwest::blocking::get(format!(
        "{}/api/v1/projects/alice/hello/builds?limit=100",
        world.server.url
    ))
    .unwrap()
    .json::<serde_json::Value>()
    .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), BUILDS);
    for id in 1..=BUILDS {
        let build = world.build_json(id as u32);
        assert_eq!(
            build["state"],
            "succeeded",
            "{build:#}\nbuilder log:\n{}",
            std::fs::read_to_string(work.join("builder.log")).unwrap_or_default()
        );
    }
    let repo = world.results().join("alice/hello").join(host_chroot());
    let rpms: Vec<String> = crate::storage::listed(&repo)
        .into_iter()
        .filter(|location| location.ends_with(".noarch.rpm") && !location.starts_with("release/"))
        .collect();
    assert_eq!(rpms.len(), BUILDS, "each package once: {rpms:?}");
    assert!(repo.join("repodata/repomd.xml.asc").is_file());

    // The repo is valid for real dnf: it installs every package from it.
    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file).unwrap();
    let names: Vec<String> = (0..BUILDS).map(|n| format!("crash{n}")).collect();
    let mut args = vec!["install"];
    args.extend(names.iter().map(String::as_str));
    assert_success(&root.dnf(&args).unwrap());
    for n in 0..BUILDS {
        assert!(root.root().join(format!("usr/share/crash{n}/n")).is_file());
    }
}

#[test]
fn a_server_killed_mid_upload_keeps_its_builds_and_sweeps_the_part_it_was_receiving() {
    let mut world = World::with_args(&["--builders", "0"]);
    let srpm = world.srpm("hello");
    let submit = |world: &World| {
        let out = world
            .alice
            .run(&["build", "--nowait", "alice/hello", srpm.to_str().unwrap()])
            .unwrap();
        assert_success(&out);
    };
    submit(&world);

    // Half an upload: the headers promise more than is ever sent.
    let address = world.server.url.trim_start_matches("http://").to_owned();
    let mut upload = std::net::TcpStream::connect(&address).unwrap();
    let part = std::fs::read(&srpm).unwrap();
    write!(
        upload,
        "POST /api/v1/projects/alice/hello/builds?chroots={} HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/x-rpm\r\n\
         Content-Length: {}\r\n\r\n",
        host_chroot(),
        world.alice.token,
        part.len() * 4
    )
    .unwrap();
    upload.write_all(&part).unwrap();
    upload.flush().unwrap();
    let spool = world.server.data_dir().join("spool");
    let spooled = |spool: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(spool)
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let receiving = loop {
        if let [file] = spooled(&spool).as_slice() {
            break file.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the upload never reached the spool"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // As if the upload had stalled for hours; a file written a moment ago
    // may be another server's upload in progress and stays.
    let status = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&receiving)
        .status()
        .unwrap();
    assert!(status.success());
    let in_progress = spool.join("another-server.upload");
    std::fs::write(&in_progress, b"still coming").unwrap();

    world.server.kill_and_restart().unwrap();
    drop(upload);
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiving.exists() {
        assert!(
            Instant::now() < deadline,
            "the abandoned part is still in the spool\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(in_progress.exists(), "a fresh spool file was removed");
    assert!(world.server.log().contains("removed abandoned uploads"));

    // The build accepted before is there, and uploads work again.
    assert_eq!(world.build_json(1)["state"], "pending");
    submit(&world);
    assert_eq!(world.build_json(2)["state"], "pending");
    assert!(
        world.build_json(3).get("state").is_none(),
        "the cut upload made a build"
    );
}
