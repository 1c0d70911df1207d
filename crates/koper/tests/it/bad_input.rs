//! Hostile or mistaken input: each gets a 4xx with a JSON error, a CLI
//! message with a hint where there is a next step, nothing under results/,
//! and a server that keeps running.

use std::path::Path;

use crate::common::*;

/// The public build directories of alice/hello (nothing else than the
/// repo's metadata must appear for refused input).
fn build_dirs(world: &World) -> Vec<String> {
    tree(&world.results().join("alice/hello").join(host_chroot()))
        .into_iter()
        .filter(|p| !p.starts_with("repodata") && !p.starts_with("release"))
        .collect()
}

fn raw_upload(
    world: &World,
    token: Option<&str>,
    project: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .post(format!(
            "{}/api/v1/projects/{project}/builds",
            world.server.url
        ))
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

#[test]
fn uploads_that_are_not_source_rpms_are_refused() {
    let mut world = World::with_args(&["--max-upload-bytes", "200000"]);
    let scratch = world.server.scratch("bad").unwrap();
    let srpm = world.srpm("hello");

    // Not an RPM at all.
    let text = scratch.join("notes.src.rpm");
    std::fs::write(&text, "just some text\n").unwrap();
    // A binary RPM where a source RPM is expected.
    let out = world
        .alice
        .run(&["build", "alice/hello", srpm.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    let binary = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000001-hello/hello-1.0-1.noarch.rpm");
    // A truncated SRPM.
    let bytes = std::fs::read(&srpm).unwrap();
    let truncated = scratch.join("truncated.src.rpm");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    // Over the size limit.
    let huge = scratch.join("huge.src.rpm");
    let mut big = bytes.clone();
    big.resize(300_000, 0);
    std::fs::write(&huge, &big).unwrap();

    let before = build_dirs(&world);
    for (file, message, code) in [
        (text.as_path(), "not an RPM", 1),
        (binary.as_path(), "source RPM", 1),
        (truncated.as_path(), "truncated", 1),
        (huge.as_path(), "larger than this server accepts", 1),
    ] {
        let out = world
            .alice
            .run(&["build", "alice/hello", file.to_str().unwrap()])
            .unwrap();
        assert_exit(&out, code);
        let err = stderr(&out);
        assert!(err.contains(message), "{file:?}: {err}");
        if message != "larger than this server accepts" {
            assert!(err.contains("hint: build one with `rpmbuild -bs"), "{err}");
        }
        assert_eq!(
            build_dirs(&world),
            before,
            "{file:?} left something in results/"
        );
    }

    // The same over raw HTTP: 4xx and a JSON error.
    let (status, body) = raw_upload(
        &world,
        Some(&world.alice.token),
        "alice/hello",
        b"junk".to_vec(),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("not an RPM"),
        "{body}"
    );
    let (status, body) = raw_upload(&world, Some(&world.alice.token), "alice/hello", big);
    assert_eq!(status, 413);
    assert!(body["error"].is_string());

    // Nothing was kept in the spool or uploads either, and the server lives.
    assert!(tree(&world.server.data_dir().join("spool")).is_empty());
    assert_eq!(
        tree(&world.server.data_dir().join("uploads")).len(),
        2,
        "only build 1's SRPM"
    );
    assert!(world.server.is_running());
    let out = world.alice.run(&["list-builds", "alice/hello"]).unwrap();
    assert_eq!(
        stdout(&out).lines().count(),
        1,
        "no build was created for bad input"
    );
}

#[test]
fn names_chroots_and_duplicates_are_checked() {
    let mut world = World::new();
    let alice = &world.alice;
    let long = "x".repeat(101);
    for name in [
        "alice/a/b",
        "alice/..",
        "alice/has space",
        &format!("alice/{long}"),
    ] {
        let out = alice
            .run(&["create", name, "--chroot", &host_chroot()])
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{name} was accepted");
        assert!(stderr(&out).contains("error:"), "{name}: {}", stderr(&out));
    }
    // Invalid names in the URL are refused by the server as well.
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/projects", world.server.url))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"owner": "alice", "name": "..", "chroots": [host_chroot()]}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("project name"),
        "{body}"
    );

    let out = alice
        .run(&["create", "alice/other", "--chroot", "fedora-1-nonsense"])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("unknown chroot fedora-1-nonsense"));
    assert!(
        stderr(&out).contains("hint: this server offers:"),
        "{}",
        stderr(&out)
    );

    let out = alice
        .run(&["create", "alice/hello", "--chroot", &host_chroot()])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    // Building for a chroot the project does not have.
    let srpm = world.srpm("hello");
    let out = alice
        .run(&[
            "build",
            "alice/hello",
            "--chroot",
            "fedora-42-x86_64",
            srpm.to_str().unwrap(),
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("does not build for fedora-42-x86_64"),
        "{}",
        stderr(&out)
    );
    assert!(build_dirs(&world).is_empty());
    assert!(world.server.is_running());
}

#[test]
fn tokens_and_permissions_are_enforced() {
    let mut world = World::new();
    let bob = world.server.add_user("bob").unwrap();
    let srpm = world.srpm("hello");
    let srpm = srpm.to_str().unwrap();

    // Bob may not build into alice's project.
    let out = bob.run(&["build", "alice/hello", srpm]).unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("bob may not build in alice/hello"),
        "{}",
        stderr(&out)
    );
    // Nor create projects in her name.
    let out = bob
        .run(&["create", "alice/mine", "--chroot", &host_chroot()])
        .unwrap();
    assert_exit(&out, 7);

    // No token, a wrong token.
    let anonymous = world
        .server
        .scratch("anonymous")
        .unwrap()
        .join("koper.toml");
    std::fs::write(&anonymous, format!("url = \"{}\"\n", world.server.url)).unwrap();
    let out = world
        .alice
        .koper()
        .env("KOPER_CONFIG", &anonymous)
        .args(["build", "alice/hello", srpm])
        .output()
        .unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("needs an API token"),
        "{}",
        stderr(&out)
    );
    // A config file that is not there is a configuration error.
    let out = world
        .alice
        .koper()
        .env("KOPER_CONFIG", Path::new("/nonexistent/koper.toml"))
        .args(["build", "alice/hello", srpm])
        .output()
        .unwrap();
    assert_exit(&out, 6);
    let out = world
        .alice
        .koper()
        .args([
            "build",
            "--url",
            &world.server.url,
            "--token",
            "wrong",
            "alice/hello",
            srpm,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 7);
    assert!(
        stderr(&out).contains("the API token is not valid"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("hint:"), "{}", stderr(&out));

    let (status, body) = raw_upload(&world, None, "alice/hello", std::fs::read(srpm).unwrap());
    assert_eq!(status, 401);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("needs an API token"),
        "{body}"
    );
    let (status, _) = raw_upload(
        &world,
        Some("wrong"),
        "alice/hello",
        std::fs::read(srpm).unwrap(),
    );
    assert_eq!(status, 401);
    let (status, body) = raw_upload(
        &world,
        Some(&bob.token),
        "alice/hello",
        std::fs::read(srpm).unwrap(),
    );
    assert_eq!(status, 403);
    assert!(body["error"].is_string());

    // Bob cannot cancel alice's builds either.
    let out = world
        .alice
        .run(&["build", "--nowait", "alice/hello", srpm])
        .unwrap();
    assert_success(&out);
    let out = bob.run(&["cancel", "1"]).unwrap();
    assert_exit(&out, 7);

    assert!(
        build_dirs(&world)
            .iter()
            .all(|p| p.starts_with("00000001-hello"))
    );
    assert!(world.server.is_running());
}

#[test]
fn licences_that_forbid_redistribution_are_refused_on_import() {
    let world = World::new();
    let spec = std::fs::read_to_string(koper_testkit::fixtures_dir().join("hello.spec"))
        .unwrap()
        .lines()
        .map(|line| {
            if line.starts_with("License:") {
                "License:        MIT AND Proprietary".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let srpm = koper_testkit::build_srpm_from_text(
        "hello",
        &spec,
        &world.server.scratch("proprietary").unwrap(),
    )
    .unwrap();
    let out = world
        .alice
        .run(&["build", "alice/hello", srpm.to_str().unwrap()])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("is licensed \"MIT AND Proprietary\"; this instance does not build or publish Proprietary software"),
        "{}",
        stderr(&out)
    );
    assert!(build_dirs(&world).is_empty(), "{:?}", build_dirs(&world));
    assert_eq!(
        tree(&world.server.data_dir().join("spool")),
        Vec::<String>::new()
    );
}

/// A refusal sent before the server read an upload still reaches the
/// client (the server drains what is being sent instead of resetting the
/// connection), and the connection stays usable.
#[test]
fn a_refused_upload_is_answered_not_reset() {
    let world = World::new();
    let url = &world.server.url;
    let http = reqwest::blocking::Client::new();
    let big = vec![b'x'; 8 << 20];
    for _ in 0..3 {
        let native = http
            .post(format!("{url}/api/v1/projects/alice/hello/builds"))
            .body(big.clone())
            .send()
            .expect("the refusal arrives");
        assert_eq!(native.status().as_u16(), 401);
        let form = reqwest::blocking::multipart::Form::new()
            .text("json", r#"{"ownername": "alice", "projectname": "hello"}"#)
            .part(
                "pkgs",
                reqwest::blocking::multipart::Part::bytes(big.clone()).file_name("x.src.rpm"),
            );
        let copr = http
            .post(format!("{url}/api_3/build/create/upload"))
            .basic_auth("alice", Some("not-the-token"))
            .multipart(form)
            .send()
            .expect("the refusal arrives");
        assert_eq!(copr.status().as_u16(), 403);
        assert!(copr.text().unwrap().contains("\"error\""));
    }
}
