//! Quota requests and moderation end to end: users ask for storage with
//! `koper request-quota`, administrators answer with `koper admin
//! grant-quota`/`deny-quota`; administrators hide and disable projects and
//! disable users with `koper admin`, and every way in (CLI, native API,
//! Copr's APIv3, webhooks, pages, `.repo` files, the results tree) obeys,
//! across a restart. Run on PostgreSQL too with
//! `KOPER_TEST_E2E_DATABASE=postgres`.

use std::process::Output;

use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::common::*;

/// A server without builders: builds stay pending, which is all these
/// tests need of them.
fn world() -> World {
    World::configured(
        &["--builders", "0"],
        "signing_key_algorithm = \"ed25519\"\n",
    )
}

/// `koper admin ARGS --data-dir DATA`.
fn admin(world: &World, args: &[&str]) -> Output {
    std::process::Command::new(koper_bin())
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(world.server.data_dir())
        .output()
        .unwrap()
}

/// GET `path` without credentials: status and body.
fn get(world: &World, path: &str) -> (u16, String) {
    let response = reqwest::blocking::get(format!("{}{path}", world.server.url)).unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

#[test]
fn quota_requests_are_filed_with_the_cli_and_answered_by_administrators() {
    let world = world();
    let alice = &world.alice;
    let bob = world.server.add_user("bob").unwrap();

    let out = alice
        .run(&[
            "request-quota",
            "hello",
            "--size",
            "5GiB",
            "--reason",
            "ISO images",
        ])
        .unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("Asked for 5"), "{}", stdout(&out));
    // One open request at a time.
    let out = alice
        .run(&[
            "request-quota",
            "hello",
            "--size",
            "6GiB",
            "--reason",
            "more",
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("already has a quota request waiting"),
        "{}",
        stderr(&out)
    );
    // Only those who manage the project ask, and see the answers.
    let out = bob
        .run(&[
            "request-quota",
            "alice/hello",
            "--size",
            "5GiB",
            "--reason",
            "x",
        ])
        .unwrap();
    assert_exit(&out, 7);
    let out = bob
        .run(&["request-quota", "alice/hello", "--list"])
        .unwrap();
    assert_exit(&out, 7);
    // Hostile or useless requests are refused with the reason.
    for (size, reason, code, says) in [
        ("lots", "x", 2, "is not a size"),
        ("1KiB", "x", 1, "more than the current quota"),
        ("2PiB", "x", 2, "unknown unit"),
        ("2048TiB", "x", 1, "at most"),
        ("5GiB", "   ", 1, "give a reason"),
        ("5GiB", "two\nlines", 1, "one line"),
    ] {
        let out = alice
            .run(&[
                "request-quota",
                "alice/hello",
                "--size",
                size,
                "--reason",
                reason,
            ])
            .unwrap();
        assert_exit(&out, code);
        assert!(
            stderr(&out).contains(says),
            "{size} {reason:?}: {}",
            stderr(&out)
        );
    }

    // The administrator lists and grants another size than asked.
    let out = admin(&world, &["quota-requests", "--output", "json"]);
    assert_success(&out);
    let pending: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending[0]["project"], "alice/hello");
    assert_eq!(pending[0]["requester"], "alice");
    assert_eq!(pending[0]["requested_bytes"], 5u64 << 30);
    assert_eq!(pending[0]["reason"], "ISO images");
    let id = pending[0]["id"].as_i64().unwrap().to_string();
    let out = admin(
        &world,
        &[
            "grant-quota",
            &id,
            "--size",
            "3GiB",
            "--message",
            "start with 3",
        ],
    );
    assert_success(&out);
    let out = admin(&world, &["grant-quota", &id]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("already answered"),
        "{}",
        stderr(&out)
    );
    let out = admin(&world, &["grant-quota", "999999"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("no quota request 999999"),
        "{}",
        stderr(&out)
    );

    // The project's quota is what was granted; the requester sees it.
    let storage: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/storage/alice", world.server.url))
        .bearer_auth(&alice.token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        storage["projects"][0]["own_quota_bytes"],
        3u64 << 30,
        "{storage}"
    );
    let out = alice.run(&["request-quota", "hello", "--list"]).unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains("granted 3"), "{}", stdout(&out));
    assert!(stdout(&out).contains("start with 3"), "{}", stdout(&out));

    // A denial needs a message, which the requester reads.
    assert_success(
        &alice
            .run(&[
                "request-quota",
                "hello",
                "--size",
                "10GiB",
                "--reason",
                "more ISOs",
            ])
            .unwrap(),
    );
    let out = admin(&world, &["quota-requests"]);
    assert_success(&out);
    let line = stdout(&out);
    assert!(
        line.contains("alice/hello") && line.contains("more ISOs"),
        "{line}"
    );
    let id = line
        .trim_start_matches('#')
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = admin(&world, &["deny-quota", &id, "--message", " "]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("say why"), "{}", stderr(&out));
    assert_success(&admin(
        &world,
        &["deny-quota", &id, "--message", "use --retain 0"],
    ));
    let out = alice
        .run(&["request-quota", "hello", "--list", "--output", "json"])
        .unwrap();
    let listed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed[0]["state"], "denied");
    assert_eq!(listed[0]["answer"], "use --retain 0");
    assert_eq!(listed[1]["state"], "granted");
    let out = admin(&world, &["quota-requests", "--all", "--output", "json"]);
    let all: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[test]
fn hidden_and_disabled_projects_and_disabled_users_hold_everywhere_and_across_a_restart() {
    let mut world = world();
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();
    let chroot = host_chroot();
    let name_release = chroot.rsplit_once('-').unwrap().0;
    let repo_file = format!("/coprs/alice/hello/repo/{name_release}/x.repo");
    let listed = |world: &World| -> (bool, bool, bool) {
        let (_, directory) = get(world, "/coprs/");
        let (_, user_page) = get(world, "/coprs/alice/");
        let searched: Value =
            reqwest::blocking::get(format!("{}/api/v1/projects?search=hello", world.server.url))
                .unwrap()
                .json()
                .unwrap();
        (
            directory.contains("alice/hello"),
            user_page.contains("alice/hello"),
            !searched.as_array().unwrap().is_empty(),
        )
    };
    assert_eq!(listed(&world), (true, true, true));

    // Hidden: out of every listing, reachable by its address.
    let out = admin(&world, &["hide-project", "alice/hello"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("give a reason"), "{}", stderr(&out));
    assert_success(&admin(
        &world,
        &["hide-project", "alice/hello", "--reason", "spam"],
    ));
    assert_eq!(listed(&world), (false, false, false));
    assert_eq!(get(&world, "/coprs/alice/hello/").0, 200);
    assert_eq!(get(&world, "/results/alice/hello/").0, 200);
    assert_success(
        &world
            .alice
            .run(&["build", "alice/hello", srpm, "--nowait"])
            .unwrap(),
    );
    assert_success(&admin(&world, &["unhide-project", "alice/hello"]));
    assert_eq!(listed(&world), (true, true, true));

    // Disabled: every way of submitting is refused, saying why.
    assert_success(&admin(
        &world,
        &["disable-project", "alice/hello", "--reason", "malware"],
    ));
    let out = world
        .alice
        .run(&["build", "alice/hello", srpm, "--nowait"])
        .unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("alice/hello is disabled by the administrators")
            && stderr(&out).contains("malware"),
        "{}",
        stderr(&out)
    );
    let http = Client::new();
    let base = &world.server.url;
    let token = &world.alice.token;
    let refused = |response: reqwest::blocking::Response| {
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("disabled by the administrators"), "{text}");
    };
    refused(
        http.post(format!("{base}/api/v1/projects/alice/hello/builds/url"))
            .bearer_auth(token)
            .json(&json!({ "url": "http://127.0.0.1:9/x.src.rpm" }))
            .send()
            .unwrap(),
    );
    refused(
        http.post(format!("{base}/api/v1/projects/alice/hello/builds/scm"))
            .bearer_auth(token)
            .json(&json!({ "clone_url": "http://127.0.0.1:9/x.git" }))
            .send()
            .unwrap(),
    );
    refused(
        http.get(format!(
            "{base}/api/v1/projects/alice/hello/builds/check?size=10"
        ))
        .bearer_auth(token)
        .send()
        .unwrap(),
    );
    refused(
        http.post(format!("{base}/api_3/build/create/url"))
            .basic_auth("alice", Some(token))
            .json(&json!({
                "ownername": "alice", "projectname": "hello",
                "pkgs": "http://127.0.0.1:9/x.src.rpm", "chroots": [chroot],
            }))
            .send()
            .unwrap(),
    );
    let out = world
        .alice
        .run(&["new-webhook-secret", "alice/hello"])
        .unwrap();
    assert_success(&out);
    let hook = stdout(&out).trim().to_owned();
    refused(
        http.post(&hook)
            .body(json!({ "clone_url": "http://127.0.0.1:9/x.git" }).to_string())
            .send()
            .unwrap(),
    );
    // Its pages, .repo files and repos are not served to others.
    for path in [
        "/coprs/alice/hello/",
        "/coprs/alice/hello/builds/",
        repo_file.as_str(),
        "/results/alice/hello/",
    ] {
        let (status, text) = get(&world, path);
        assert_eq!(status, 403, "{path}: {text}");
        assert!(
            text.contains("is disabled by the administrators"),
            "{path}: {text}"
        );
        assert!(
            !text.contains("malware"),
            "the reason is the owner's: {text}"
        );
    }
    assert_eq!(listed(&world), (false, false, false));

    // It holds across a restart (it is in the database).
    world.server.kill_and_restart().unwrap();
    assert_eq!(get(&world, "/coprs/alice/hello/").0, 403);
    assert_exit(
        &world
            .alice
            .run(&["build", "alice/hello", srpm, "--nowait"])
            .unwrap(),
        7,
    );
    assert_success(&admin(&world, &["enable-project", "alice/hello"]));
    assert_eq!(get(&world, "/coprs/alice/hello/").0, 200);
    assert_eq!(get(&world, &repo_file).0, 200);
    assert_success(
        &world
            .alice
            .run(&["build", "alice/hello", srpm, "--nowait"])
            .unwrap(),
    );

    // A disabled user: no token works, and their projects are disabled.
    let out = admin(
        &world,
        &["disable-user", "alice", "--reason", "abuse of the builders"],
    );
    assert_success(&out);
    let out = world.alice.run(&["whoami"]).unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("the account alice is disabled by the administrators")
            && stderr(&out).contains("abuse of the builders"),
        "{}",
        stderr(&out)
    );
    assert_eq!(get(&world, "/coprs/alice/hello/").0, 403);
    assert_eq!(listed(&world), (false, false, false));
    assert_exit(
        &admin(&world, &["disable-user", "nobody", "--reason", "x"]),
        1,
    );
    assert_success(&admin(&world, &["enable-user", "alice"]));
    assert_success(&world.alice.run(&["whoami"]).unwrap());
    assert_eq!(listed(&world), (true, true, true));
}
