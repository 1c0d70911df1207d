//! Leases through the real server and builders: a builder that vanishes
//! loses its task (retried after a backoff, up to a maximum of attempts)
//! and can publish nothing afterwards; a builder told to stop (SIGTERM)
//! finishes its build and takes no new one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::common::*;

/// A builder speaking the protocol by hand, so that it can vanish.
struct RawBuilder {
    http: Client,
    url: String,
    token: String,
}

impl RawBuilder {
    fn lease(&self, wait: u64) -> Option<Value> {
        let response = self
            .http
            .post(format!("{}/builder-api/v1/lease", self.url))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(wait + 30))
            .json(&json!({"arches": [std::env::consts::ARCH], "wait_seconds": wait}))
            .send()
            .unwrap();
        match response.status() {
            StatusCode::OK => Some(response.json().unwrap()),
            StatusCode::NO_CONTENT => None,
            other => panic!("lease answered {other}"),
        }
    }

    fn task_call(&self, task: &Value, lease: &str, call: &str) -> StatusCode {
        let id = &task["task_id"];
        let base = format!("{}/builder-api/v1/tasks/{id}", self.url);
        let sha256 = "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e";
        let request = match call {
            "heartbeat" => self.http.post(format!("{base}/heartbeat")),
            "upload" => self
                .http
                .put(format!("{base}/files/build.log"))
                .header("koper-sha256", sha256)
                .body("Hello World"),
            "upload-damaged" => self
                .http
                .put(format!("{base}/files/build.log"))
                .header("koper-sha256", sha256)
                .body("Hello World, changed on the way"),
            "upload-path" => self
                .http
                .put(format!("{base}/files/..%2Fescape.rpm"))
                .header("koper-sha256", sha256)
                .body("Hello World"),
            "finish" => self.http.post(format!("{base}/finish")).json(&json!({
                "lease_id": lease, "outcome": "succeeded"
            })),
            "finish-failed" => self.http.post(format!("{base}/finish")).json(&json!({
                "lease_id": lease, "outcome": "failed", "reason": "it broke"
            })),
            other => panic!("unknown call {other}"),
        };
        request
            .bearer_auth(&self.token)
            .header("koper-lease", lease)
            .send()
            .unwrap()
            .status()
    }
}

impl RawBuilder {
    /// Uploads `bytes` as a result file under its true SHA-256.
    fn upload(&self, task: &Value, lease: &str, name: &str, bytes: Vec<u8>) -> StatusCode {
        self.put(task, lease, &format!("files/{name}"), bytes)
    }

    /// Sends a log after the outcome (`PUT .../late/{name}`).
    fn late(&self, task: &Value, lease: &str, name: &str, bytes: Vec<u8>) -> StatusCode {
        self.put(task, lease, &format!("late/{name}"), bytes)
    }

    fn put(&self, task: &Value, lease: &str, path: &str, bytes: Vec<u8>) -> StatusCode {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let out = Command::new("sha256sum").arg(file.path()).output().unwrap();
        assert_success(&out);
        let sha256 = stdout(&out).split_whitespace().next().unwrap().to_owned();
        self.http
            .put(format!(
                "{}/builder-api/v1/tasks/{}/{path}",
                self.url, task["task_id"]
            ))
            .bearer_auth(&self.token)
            .header("koper-lease", lease)
            .header("koper-sha256", sha256)
            .body(bytes)
            .send()
            .unwrap()
            .status()
    }
}

/// Polls build `id` until `done` holds for it.
fn wait_for(world: &World, id: u32, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let build = world.build_json(id);
        if done(&build) {
            return build;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting: {build:#}\n{}",
            world.server.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_builder_that_lost_its_lease_cannot_publish_and_the_task_is_retried_then_failed() {
    let world = World::configured(
        &["--builders", "0"],
        "lease_seconds = 5\nretry_backoff_seconds = 6\nmax_attempts = 2\n",
    );
    let builder = RawBuilder {
        http: Client::new(),
        url: world.server.url.clone(),
        token: world.add_builder("flaky"),
    };
    let out = world
        .alice
        .run(&[
            "build",
            "--nowait",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);

    let first = builder.lease(5).expect("a task");
    let first_lease = first["lease_id"].as_str().unwrap().to_owned();
    assert_eq!(
        builder.task_call(&first, &first_lease, "heartbeat"),
        StatusCode::OK
    );
    let shown = world.build_json(1);
    assert_eq!(shown["chroots"][0]["state"], "running");
    assert_eq!(shown["chroots"][0]["attempts"], 1);
    // Damaged uploads, paths for names and calls under a lease the caller
    // does not hold are refused and logged.
    assert_eq!(
        builder.task_call(&first, &first_lease, "upload-damaged"),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        builder.task_call(&first, &first_lease, "upload-path"),
        StatusCode::BAD_REQUEST
    );
    let intruder = RawBuilder {
        http: Client::new(),
        url: world.server.url.clone(),
        token: world.add_builder("intruder"),
    };
    assert_eq!(
        intruder.task_call(&first, "a-guessed-lease", "upload"),
        StatusCode::CONFLICT
    );
    assert_eq!(
        builder.task_call(&first, &first_lease, "upload"),
        StatusCode::CREATED
    );
    let log = world.server.log();
    assert!(log.contains("result upload with a wrong checksum"), "{log}");
    assert!(log.contains("lease that is not its current one"), "{log}");

    // The builder goes silent: its lease lapses and the task waits out
    // the backoff, saying so.
    let shown = wait_for(&world, 1, Duration::from_secs(30), |b| {
        b["chroots"][0]["state"] == "pending"
    });
    let queue = &shown["chroots"][0]["queue"];
    assert_eq!(queue["reason"], "backoff", "{shown:#}");
    let out = world.alice.run(&["status", "1"]).unwrap();
    assert!(
        stdout(&out).contains("its builder stopped answering (attempt 1)"),
        "{}",
        stdout(&out)
    );
    // Back from the dead, it can neither renew, upload nor publish.
    for call in ["heartbeat", "upload", "finish"] {
        assert_eq!(
            builder.task_call(&first, &first_lease, call),
            StatusCode::CONFLICT,
            "{call} with a lapsed lease"
        );
    }

    // After the backoff the task is leased again, as a second attempt.
    let second = builder.lease(30).expect("the task again");
    assert_eq!(second["task_id"], first["task_id"]);
    let second_lease = second["lease_id"].as_str().unwrap().to_owned();
    assert_ne!(second_lease, first_lease);
    assert_eq!(world.build_json(1)["chroots"][0]["attempts"], 2);
    assert_eq!(
        builder.task_call(&first, &first_lease, "finish"),
        StatusCode::CONFLICT
    );

    // That lease lapses too: two attempts were all it had.
    let shown = wait_for(&world, 1, Duration::from_secs(30), |b| {
        b["state"] == "failed"
    });
    let reason = shown["chroots"][0]["fail_reason"].as_str().unwrap();
    assert!(reason.contains("given up after 2 attempt(s)"), "{reason}");
    assert_eq!(
        builder.task_call(&second, &second_lease, "finish"),
        StatusCode::CONFLICT
    );
    let build_dir = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000001-hello");
    assert!(
        tree(&build_dir).iter().all(|f| !f.ends_with(".rpm")),
        "nothing was published: {:?}",
        tree(&build_dir)
    );
    let log = world.server.log();
    assert!(log.contains("lease lapsed; task ended"), "{log}");
}

#[test]
fn sigterm_lets_a_builder_finish_its_build_and_take_no_new_one() {
    let world = World::with_args(&["--builders", "0"]);
    let token = world.add_builder("draining");
    let work = world.server.scratch("remote-builder").unwrap();
    let mut builder = Command::new(koper_bin())
        .args(["builder", "--server", &world.server.url, "--token", &token])
        .arg("--work-dir")
        .arg(&work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for spec in ["slow", "hello"] {
        let out = world
            .alice
            .run(&[
                "build",
                "--nowait",
                "alice/hello",
                world.srpm(spec).to_str().unwrap(),
            ])
            .unwrap();
        assert_success(&out);
    }
    let log_url = format!("{}/api/v1/builds/1/log/{}", world.server.url, host_chroot());
    let deadline = Instant::now() + Duration::from_secs(120);
    while !reqwest::blocking::get(&log_url)
        .unwrap()
        .text()
        .unwrap()
        .contains("slow build started")
    {
        assert!(Instant::now() < deadline, "the slow build never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-TERM", &builder.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let deadline = Instant::now() + Duration::from_secs(120);
    let exit = loop {
        if let Some(exit) = builder.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "the builder did not stop");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(exit.success(), "{exit:?}");
    let first = wait_for(&world, 1, Duration::from_secs(30), |b| {
        b["state"] == "succeeded"
    });
    assert_eq!(first["chroots"][0]["attempts"], 1);
    // The drain waited for rpmlint, which checks a build after its report.
    let findings = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000001-slow")
        .join("rpmlint.log.gz");
    assert!(findings.exists(), "{}", world.server.log());
    let second = world.build_json(2);
    assert_eq!(second["state"], "pending", "{second:#}");
    assert_eq!(second["chroots"][0]["attempts"], 0);
}

#[test]
fn packages_that_are_not_the_builds_own_are_refused_and_nothing_is_published() {
    let world = World::with_args(&["--builders", "0"]);
    let builder = RawBuilder {
        http: Client::new(),
        url: world.server.url.clone(),
        token: world.add_builder("hostile"),
    };
    let scratch = world.server.scratch("hostile-uploads").unwrap();
    let srpm = world.srpm("hello");
    let other = koper_testkit::build_rpms("dep1", &scratch)
        .unwrap()
        .remove(0);
    // What a broken or hostile builder claims to have built from hello.
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "hello-1.0-1.noarch.rpm",
            b"garbage, not an rpm at all".to_vec(),
            "invalid package hello-1.0-1.noarch.rpm",
        ),
        (
            "hello-1.0-1.src.rpm",
            std::fs::read(&srpm).unwrap(),
            "source package hello-1.0-1.src.rpm",
        ),
        (
            "dep-1-1.noarch.rpm",
            std::fs::read(&other).unwrap(),
            "not from this build's source package hello",
        ),
    ];
    for (n, (name, bytes, why)) in cases.into_iter().enumerate() {
        let id = n as u32 + 1;
        let out = world
            .alice
            .run(&["build", "--nowait", "alice/hello", srpm.to_str().unwrap()])
            .unwrap();
        assert_success(&out);
        let task = builder.lease(5).expect("a task");
        let lease = task["lease_id"].as_str().unwrap().to_owned();
        assert_eq!(
            builder.upload(&task, &lease, name, bytes),
            StatusCode::CREATED
        );
        // It reports success all the same.
        assert_eq!(
            builder.task_call(&task, &lease, "finish"),
            StatusCode::NO_CONTENT
        );
        let shown = wait_for(&world, id, Duration::from_secs(60), |b| {
            b["chroots"][0]["ended_on"].is_i64()
        });
        assert_eq!(shown["state"], "failed", "{shown:#}");
        let reason = shown["chroots"][0]["fail_reason"].as_str().unwrap();
        assert!(reason.contains(why), "{reason}");
        let build_dir = world
            .results()
            .join("alice/hello")
            .join(host_chroot())
            .join(format!("{id:08}-hello"));
        assert!(
            tree(&build_dir).iter().all(|f| !f.ends_with(".rpm")),
            "nothing was published: {:?}",
            tree(&build_dir)
        );
    }
    let log = world.server.log();
    assert_eq!(
        log.matches("refused the packages a builder uploaded")
            .count(),
        3,
        "{log}"
    );
    let repo = world.results().join("alice/hello").join(host_chroot());
    assert!(crate::storage::listed(&repo).is_empty());
}

#[test]
fn rpmlint_findings_may_follow_a_successful_outcome_once() {
    let world = World::with_args(&["--builders", "0"]);
    let builder = RawBuilder {
        http: Client::new(),
        url: world.server.url.clone(),
        token: world.add_builder("late"),
    };
    let scratch = world.server.scratch("late-logs").unwrap();
    let srpm = world.srpm("hello");
    let built = koper_testkit::build_rpms("hello", &scratch)
        .unwrap()
        .remove(0);
    let findings = b"hello.noarch: W: no-documentation\n1 packages and 0 specfiles checked\n";
    let submit = || {
        let out = world
            .alice
            .run(&["build", "--nowait", "alice/hello", srpm.to_str().unwrap()])
            .unwrap();
        assert_success(&out);
    };

    // A failed build takes none, before or after its outcome.
    submit();
    let task = builder.lease(5).expect("a task");
    let lease = task["lease_id"].as_str().unwrap().to_owned();
    assert_eq!(
        builder.late(&task, &lease, "rpmlint.log", findings.to_vec()),
        StatusCode::CONFLICT,
        "no outcome yet"
    );
    assert_eq!(
        builder.task_call(&task, &lease, "finish-failed"),
        StatusCode::NO_CONTENT
    );
    wait_for(&world, 1, Duration::from_secs(30), |b| {
        b["state"] == "failed"
    });
    assert_eq!(
        builder.late(&task, &lease, "rpmlint.log", findings.to_vec()),
        StatusCode::CONFLICT,
        "a failed build"
    );

    // A successful one takes rpmlint's findings once, from its own lease.
    submit();
    let task = builder.lease(5).expect("a task");
    let lease = task["lease_id"].as_str().unwrap().to_owned();
    assert_eq!(
        builder.upload(
            &task,
            &lease,
            "hello-1.0-1.noarch.rpm",
            std::fs::read(&built).unwrap()
        ),
        StatusCode::CREATED
    );
    assert_eq!(
        builder.task_call(&task, &lease, "finish"),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        builder.late(&task, &lease, "build.log", findings.to_vec()),
        StatusCode::BAD_REQUEST,
        "only rpmlint.log comes late"
    );
    assert_eq!(
        builder.late(&task, "0123456789abcdef", "rpmlint.log", findings.to_vec()),
        StatusCode::CONFLICT,
        "another lease"
    );
    // rpmlint ends after the publish did, and with it the lease.
    let shown = wait_for(&world, 2, Duration::from_secs(30), |b| {
        b["chroots"][0]["ended_on"].is_i64()
    });
    assert_eq!(shown["state"], "succeeded", "{shown:#}");
    assert_eq!(
        builder.late(&task, &lease, "rpmlint.log", findings.to_vec()),
        StatusCode::CREATED
    );
    let build_dir = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000002-hello");
    assert_eq!(
        gunzip(&build_dir.join("rpmlint.log.gz")).as_bytes(),
        findings.as_slice()
    );
    assert_eq!(
        builder.late(&task, &lease, "rpmlint.log", b"changed my mind".to_vec()),
        StatusCode::CONFLICT,
        "once only"
    );
    assert_eq!(
        gunzip(&build_dir.join("rpmlint.log.gz")).as_bytes(),
        findings.as_slice()
    );
    let log = world.server.log();
    assert!(log.contains("refused a late log name"), "{log}");
    assert!(
        log.contains("refused a late log not under the lease that reported success"),
        "{log}"
    );
}
