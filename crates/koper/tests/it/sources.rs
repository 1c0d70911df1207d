//! Sources besides an upload: a source RPM the server fetches by URL.

use crate::common::*;

#[test]
fn a_source_rpm_at_a_url_is_fetched_and_built() {
    let world = World::with_args(&["--max-upload-bytes", "1048576"]);
    let served = world.server.scratch("served").unwrap();
    let srpm = world.srpm("hello");
    std::fs::copy(&srpm, served.join("hello.src.rpm")).unwrap();
    std::fs::write(served.join("notes.src.rpm"), "not an rpm at all\n").unwrap();
    std::fs::write(served.join("big.src.rpm"), vec![0u8; 2 << 20]).unwrap();
    let base = koper_testkit::serve_dir(&served).unwrap();

    let url = format!("{base}/hello.src.rpm");
    let out = world.alice.run(&["build", "alice/hello", &url]).unwrap();
    assert_success(&out);
    let dir = world
        .results()
        .join("alice/hello")
        .join(host_chroot())
        .join("00000001-hello");
    assert!(dir.join("hello-1.0-1.noarch.rpm").is_file());
    assert!(dir.join("hello-1.0-1.src.rpm").is_file());

    for (path, expected) in [
        ("missing.src.rpm", "the server answered 404"),
        ("notes.src.rpm", "not a usable source RPM"),
        ("big.src.rpm", "larger than this server accepts"),
    ] {
        let url = format!("{base}/{path}");
        let out = world.alice.run(&["build", "alice/hello", &url]).unwrap();
        assert_exit(&out, 1);
        assert!(stderr(&out).contains(expected), "{path}: {}", stderr(&out));
    }
    let out = world
        .alice
        .run(&["build", "alice/hello", "http://127.0.0.1:1/x.src.rpm"])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("cannot fetch"), "{}", stderr(&out));

    // Only http(s): the API refuses other schemes outright.
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!(
            "{}/api/v1/projects/alice/hello/builds/url",
            world.server.url
        ))
        .bearer_auth(&world.alice.token)
        .json(&serde_json::json!({"url": "file:///etc/shadow"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().unwrap().contains("only http and https"));
    // Nothing of the refused ones was kept.
    let spool = world.server.data_dir().join("spool");
    assert_eq!(tree(&spool), Vec::<String>::new());
}
