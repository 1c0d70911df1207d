//! Sources besides an upload: a source RPM or a spec file the server
//! fetches by URL (a spec's source RPM is made by a builder in its sandbox).

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
        (
            "notes.src.rpm",
            "neither a source RPM (it has no RPM lead) nor a spec file",
        ),
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

/// A spec file whose Source0 is `source0` (a URL, or nothing).
fn spec_text(name: &str, source0: Option<&str>, extra: &str) -> String {
    let (source, install) = match source0 {
        Some(url) => (
            format!("Source0: {url}\n"),
            format!(
                "install -D -m 0644 %{{SOURCE0}} %{{buildroot}}%{{_datadir}}/{name}/greeting.txt"
            ),
        ),
        None => (
            String::new(),
            format!(
                "mkdir -p %{{buildroot}}%{{_datadir}}/{name}\n\
                 echo inline > %{{buildroot}}%{{_datadir}}/{name}/greeting.txt"
            ),
        ),
    };
    format!(
        "Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: From a spec URL\nLicense: MIT\n\
         BuildArch: noarch\n{source}{extra}\n%description\nMade from a spec fetched by URL.\n\n\
         %prep\n\n%build\n\n%install\n{install}\n\n%files\n%{{_datadir}}/{name}/greeting.txt\n"
    )
}

/// Answers every request with headers and a first line of a spec, then
/// nothing more for a minute.
fn slow_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = &stream;
                let _ =
                    out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nName: slow\n");
                std::thread::sleep(std::time::Duration::from_secs(60));
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

#[test]
fn a_spec_at_a_url_is_made_into_a_source_rpm_in_the_sandbox_and_built() {
    let world = World::configured(
        &["--max-upload-bytes", "1048576"],
        "fetch_timeout_seconds = 3\n",
    );
    let served = world.server.scratch("served").unwrap();
    let base = koper_testkit::serve_dir(&served).unwrap();
    // Nothing may connect here: specs try, without the network.
    let watched = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    watched.set_nonblocking(true).unwrap();
    let watched_url = format!("http://127.0.0.1:{}", watched.local_addr().unwrap().port());

    std::fs::write(served.join("greeting.txt"), "hello from a URL\n").unwrap();
    // Served under a name that says nothing: the content decides.
    std::fs::write(
        served.join("fetched"),
        spec_text("fetched", Some(&format!("{base}/greeting.txt")), ""),
    )
    .unwrap();
    std::fs::write(served.join("inline.spec"), spec_text("inline", None, "")).unwrap();

    for (url, package) in [
        (format!("{base}/inline.spec"), "inline"),
        (format!("{base}/fetched"), "fetched"),
    ] {
        let out = world.alice.run(&["build", "alice/hello", &url]).unwrap();
        assert_success(&out);
        let id: u32 = stdout(&out).lines().next().unwrap().parse().unwrap();
        let build = world.build_json(id);
        assert_eq!(build["state"], "succeeded", "{build:#}");
        assert_eq!(build["source_build"]["state"], "succeeded", "{build:#}");
        assert_eq!(build["source_package"]["name"], package);
        let dir = world
            .results()
            .join("alice/hello")
            .join(host_chroot())
            .join(format!("{id:08}-{package}"));
        assert!(dir.join(format!("{package}-1.0-1.noarch.rpm")).is_file());
        assert!(dir.join(format!("{package}-1.0-1.src.rpm")).is_file());
    }
    let fetch_log = gunzip(
        &world
            .results()
            .join("alice/hello/srpm-builds/00000002/root.log.gz"),
    );
    assert!(fetch_log.contains("greeting.txt"), "{fetch_log}");

    // Real dnf installs both from the project's repo.
    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    let root = koper_testkit::DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file).unwrap();
    assert_success(&root.dnf(&["install", "inline", "fetched"]).unwrap());
    assert_eq!(
        std::fs::read_to_string(root.root().join("usr/share/fetched/greeting.txt")).unwrap(),
        "hello from a URL\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.root().join("usr/share/inline/greeting.txt")).unwrap(),
        "inline\n"
    );

    // Refused when fetched: nothing is queued.
    std::fs::write(served.join("huge.spec"), "Name: huge\n".repeat(200_000)).unwrap();
    std::fs::write(
        served.join("page.spec"),
        "<html><body>Sign in</body></html>\n",
    )
    .unwrap();
    std::fs::write(served.join("binary.spec"), [0x1fu8, 0x8b, 8, 0, 0xff, 0xfe]).unwrap();
    let slow = slow_server();
    for (url, expected) in [
        (
            format!("{base}/huge.spec"),
            "larger than this server accepts",
        ),
        (format!("{base}/page.spec"), "neither a source RPM"),
        (format!("{base}/binary.spec"), "neither a source RPM"),
        (format!("{slow}/slow.spec"), "took longer than 3 s"),
    ] {
        let started = std::time::Instant::now();
        let out = world.alice.run(&["build", "alice/hello", &url]).unwrap();
        assert_exit(&out, 1);
        assert!(stderr(&out).contains(expected), "{url}: {}", stderr(&out));
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    // Hostile or broken specs: the build fails saying why.
    let cases = [
        (
            "net-version",
            spec_text("netv", None, "").replace(
                "Version: 1.0",
                &format!("Version: %(curl -sf --max-time 5 {watched_url}/v)"),
            ),
            "rpmspec -P failed",
        ),
        (
            "escape",
            spec_text("escape", Some(&format!("{base}/x/..%2F..%2Fescape")), ""),
            "names no file koper can write",
        ),
        (
            "dotdot",
            spec_text("dotdot", Some(&format!("{base}/x/..")), ""),
            "names no file koper can write",
        ),
        (
            "local-source",
            spec_text("local", Some("greeting.txt"), ""),
            "is not a URL, and a spec built from a URL has no files next to it",
        ),
        (
            "file-source",
            spec_text("filesrc", Some("file:///etc/passwd"), ""),
            "only http and https sources are fetched",
        ),
        (
            "missing-source",
            spec_text("missing", Some(&format!("{base}/no-such.tar.gz")), ""),
            "fetching the spec's sources failed",
        ),
    ];
    for (name, text, expected) in cases {
        std::fs::write(served.join(format!("{name}.spec")), text).unwrap();
        let url = format!("{base}/{name}.spec");
        let out = world.alice.run(&["build", "alice/hello", &url]).unwrap();
        assert_exit(&out, 4);
        let text = stderr(&out);
        assert!(text.contains("the source build failed"), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
    }
    // Network in %prep: the source RPM is made (rpmbuild -bs runs no
    // %prep), and the build, without the network, fails.
    std::fs::write(
        served.join("net-prep.spec"),
        spec_text("netprep", None, "").replace(
            "%prep\n",
            &format!("%prep\ncurl -sf --max-time 5 -o x {watched_url}/x\n"),
        ),
    )
    .unwrap();
    let out = world
        .alice
        .run(&["build", "alice/hello", &format!("{base}/net-prep.spec")])
        .unwrap();
    assert_exit(&out, 4);
    let id: u32 = stdout(&out).lines().next().unwrap().parse().unwrap();
    let build = world.build_json(id);
    assert_eq!(build["source_build"]["state"], "succeeded", "{build:#}");
    assert_eq!(build["state"], "failed", "{build:#}");
    assert!(watched.accept().is_err(), "a spec reached the network");
}
