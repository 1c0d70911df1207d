//! Builds from git: the builder clones the repository served on loopback
//! (git's dumb HTTP from a static server) and makes the source RPM in its
//! sandbox, then the chroots build it; hostile repositories end with a
//! clear reason and the builder keeps working.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::common::*;

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.org",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert_success(&out);
}

fn spec(version: &str) -> String {
    format!(
        "Name: hello\nVersion: {version}\nRelease: 1\nSummary: From git\nLicense: MIT\n\
         BuildArch: noarch\nAutoReqProv: no\nSource0: greeting.txt\n\n\
         %description\nMade from a git checkout.\n\n%prep\n\n%build\n\n%install\n\
         install -D -m 0644 %{{SOURCE0}} %{{buildroot}}%{{_datadir}}/hello/greeting.txt\n\n\
         %files\n%{{_datadir}}/hello/greeting.txt\n"
    )
}

/// `.copr/Makefile` running `recipe` before making the source RPM of
/// `pkg/hello.spec` as Copr's make_srpm method expects.
fn makefile(recipe: &str) -> String {
    format!(
        "srpm:\n{recipe}\trpmbuild -bs --define \"_topdir /tmp/top\" \
         --define \"_sourcedir $(CURDIR)/pkg\" --define \"_srcrpmdir $(outdir)\" pkg/hello.spec\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Publishes the work tree `work` as the bare repository `served/name`.
fn publish(work: &Path, served: &Path, name: &str) {
    let bare = served.join(name);
    let _ = std::fs::remove_dir_all(&bare);
    git(
        work,
        &["clone", "--quiet", "--bare", ".", bare.to_str().unwrap()],
    );
    git(&bare, &["update-server-info"]);
}

#[test]
fn git_sources_are_made_into_source_rpms_in_the_sandbox() {
    let world = World::configured(&[], "max_checkout_bytes = 2097152\n");
    let served = world.server.scratch("served").unwrap();
    let work = world.server.scratch("work").unwrap();
    // Nothing may connect here: a Makefile tries, without the network.
    let watched = TcpListener::bind("127.0.0.1:0").unwrap();
    watched.set_nonblocking(true).unwrap();
    let watched_port = watched.local_addr().unwrap().port();

    git(&work, &["init", "--quiet"]);
    write(&work.join("pkg/hello.spec"), &spec("1.0"));
    write(&work.join("pkg/greeting.txt"), "hello from git\n");
    write(&work.join(".copr/Makefile"), &makefile(""));
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "hello 1.0"]);
    git(&work, &["checkout", "--quiet", "-b", "two"]);
    write(&work.join("pkg/hello.spec"), &spec("2.0"));
    git(&work, &["commit", "--quiet", "-am", "hello 2.0"]);
    git(&work, &["tag", "v2"]);
    git(&work, &["checkout", "--quiet", "-b", "net", "main"]);
    write(
        &work.join(".copr/Makefile"),
        &makefile(&format!(
            "\tcurl -sSf --max-time 10 -o pkg/greeting.txt http://127.0.0.1:{watched_port}/greeting.txt\n"
        )),
    );
    git(&work, &["commit", "--quiet", "-am", "fetches a source"]);
    git(&work, &["checkout", "--quiet", "-b", "escape", "main"]);
    write(
        &work.join(".copr/Makefile"),
        &makefile("\techo escaped > /etc/koper-escaped\n\techo escaped > /usr/koper-escaped\n"),
    );
    git(&work, &["commit", "--quiet", "-am", "writes outside"]);
    git(&work, &["checkout", "--quiet", "-b", "link", "main"]);
    std::fs::remove_file(work.join("pkg/hello.spec")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", work.join("pkg/hello.spec")).unwrap();
    git(&work, &["add", "-A"]);
    git(
        &work,
        &["commit", "--quiet", "-m", "a spec pointing outside"],
    );
    git(&work, &["checkout", "--quiet", "main"]);
    publish(&work, &served, "hello.git");

    let big = world.server.scratch("big").unwrap();
    git(&big, &["init", "--quiet"]);
    let noise: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(big.join("noise.bin"), noise).unwrap();
    write(&big.join("hello.spec"), &spec("1.0"));
    git(&big, &["add", "."]);
    git(&big, &["commit", "--quiet", "-m", "big"]);
    publish(&big, &served, "big.git");

    let base = koper_testkit::serve_dir(&served).unwrap();
    let url = format!("{base}/hello.git");
    let build_scm = |extra: &[&str]| {
        let mut args = vec!["build-scm", "alice/hello"];
        args.extend_from_slice(extra);
        world.alice.run(&args).unwrap()
    };
    let chroot = host_chroot();
    let result = |id: &str| world.results().join("alice/hello").join(&chroot).join(id);

    // rpmbuild -bs on a spec in a subdirectory, its source file next to it.
    let out = build_scm(&[
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--spec",
        "hello.spec",
    ]);
    assert_success(&out);
    assert_eq!(stdout(&out).lines().next(), Some("1"));
    assert!(
        result("00000001-hello")
            .join("hello-1.0-1.noarch.rpm")
            .is_file()
    );
    assert!(
        result("00000001-hello")
            .join("hello-1.0-1.src.rpm")
            .is_file()
    );
    let source_dir = world.results().join("alice/hello/srpm-builds/00000001");
    for log in ["builder-live.log.gz", "root.log.gz", "build.log.gz"] {
        assert!(source_dir.join(log).is_file(), "{log}");
    }
    assert!(gunzip(&source_dir.join("root.log.gz")).contains("koper: checked out "));
    let build = world.build_json(1);
    assert_eq!(build["state"], "succeeded");
    assert_eq!(build["source_build"]["name"], "srpm-builds");
    assert_eq!(build["source_build"]["state"], "succeeded");
    assert_eq!(build["source_package"]["version"], "1.0-1");

    // A tag, built by .copr/Makefile at the top (no spec named).
    let out = build_scm(&[
        "--clone-url",
        &url,
        "--commit",
        "v2",
        "--method",
        "make_srpm",
    ]);
    assert_success(&out);
    assert!(
        result("00000002-hello")
            .join("hello-2.0-1.noarch.rpm")
            .is_file()
    );

    // Hostile or broken repositories: the build fails saying why.
    let missing = format!("{base}/missing.git");
    let big_url = format!("{base}/big.git");
    let cases: [(&[&str], &str); 6] = [
        (&["--clone-url", &missing], "git clone failed"),
        (
            &["--clone-url", &url, "--commit", "no-such-branch"],
            "git clone failed",
        ),
        (
            &["--clone-url", &big_url],
            "larger than 2 MiB (the limit of a checkout)",
        ),
        (
            &[
                "--clone-url",
                &url,
                "--commit",
                "net",
                "--method",
                "make_srpm",
            ],
            "make srpm failed",
        ),
        (
            &[
                "--clone-url",
                &url,
                "--commit",
                "escape",
                "--method",
                "make_srpm",
            ],
            "Read-only file system",
        ),
        (
            &[
                "--clone-url",
                &url,
                "--commit",
                "link",
                "--subdir",
                "pkg",
                "--spec",
                "hello.spec",
            ],
            "symlinks are not followed",
        ),
    ];
    for (args, expected) in cases {
        let out = build_scm(args);
        assert_exit(&out, 4);
        let text = stderr(&out);
        assert!(text.contains("the source build failed"), "{args:?}: {text}");
        assert!(text.contains(expected), "{args:?}: {text}");
    }
    assert!(
        watched.accept().is_err(),
        "the Makefile reached the network"
    );
    assert!(!Path::new("/etc/koper-escaped").exists());
    assert!(!Path::new("/usr/koper-escaped").exists());

    // Refused before anything is queued.
    for (args, expected) in [
        (
            vec!["--clone-url", &url, "--subdir", "../x"],
            "relative path inside the repository",
        ),
        (
            vec!["--clone-url", &url, "--spec", "../../x.spec"],
            "relative path inside the repository",
        ),
        (
            vec!["--clone-url", "file:///etc"],
            "only http, https and git URLs",
        ),
        (
            vec!["--clone-url", &url, "--commit=--upload-pack=touch"],
            "not a branch, tag or commit name",
        ),
    ] {
        let out = build_scm(&args);
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }

    // Nothing accepted was lost (build 1 made way for build 2, as
    // retention does), and the builder is healthy.
    assert!(
        result("00000002-hello")
            .join("hello-2.0-1.noarch.rpm")
            .is_file()
    );
    let out = build_scm(&["--clone-url", &url, "--subdir", "pkg"]);
    assert_success(&out);
    assert_eq!(stdout(&out).lines().next(), Some("9"));
    assert!(
        result("00000009-hello")
            .join("hello-1.0-1.noarch.rpm")
            .is_file()
    );
}

/// `hello.git` on loopback: hello 1.0 on main, 2.0 at tag v2, both in
/// `pkg/`. Returns its clone URL.
pub fn hello_repo(world: &World) -> String {
    let served = world.server.scratch("served").unwrap();
    let work = world.server.scratch("work").unwrap();
    git(&work, &["init", "--quiet"]);
    write(&work.join("pkg/hello.spec"), &spec("1.0"));
    write(&work.join("pkg/greeting.txt"), "hello from git\n");
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "hello 1.0"]);
    git(&work, &["checkout", "--quiet", "-b", "two"]);
    write(&work.join("pkg/hello.spec"), &spec("2.0"));
    git(&work, &["commit", "--quiet", "-am", "hello 2.0"]);
    git(&work, &["tag", "v2"]);
    git(&work, &["checkout", "--quiet", "main"]);
    publish(&work, &served, "hello.git");
    format!("{}/hello.git", koper_testkit::serve_dir(&served).unwrap())
}

#[test]
fn packages_are_built_from_their_default_source() {
    let world = World::new();
    let url = hello_repo(&world);
    let run = |args: &[&str]| world.alice.run(args).unwrap();

    let out = run(&[
        "add-package-scm",
        "alice/hello",
        "hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
    ]);
    assert_success(&out);
    let out = run(&[
        "add-package-scm",
        "alice/hello",
        "hello",
        "--clone-url",
        &url,
    ]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = run(&[
        "add-package-scm",
        "alice/hello",
        "evil",
        "--clone-url",
        &url,
        "--subdir",
        "../etc",
    ]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("relative path inside the repository"));
    let out = run(&["list-packages", "alice/hello"]);
    assert_success(&out);
    assert_eq!(stdout(&out), format!("hello  {url} in pkg (rpkg)\n"));

    let out = run(&["build-package", "alice/hello", "hello"]);
    assert_success(&out);
    let result = world.results().join("alice/hello").join(host_chroot());
    assert!(
        result
            .join("00000001-hello/hello-1.0-1.noarch.rpm")
            .is_file()
    );

    // Edited to build a tag; someone else may not change it.
    let bob = world.server.add_user("bob").unwrap();
    let out = bob
        .run(&[
            "edit-package-scm",
            "alice/hello",
            "hello",
            "--clone-url",
            &url,
        ])
        .unwrap();
    assert_exit(&out, 7);
    let out = run(&[
        "edit-package-scm",
        "alice/hello",
        "hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--commit",
        "v2",
        "--webhook-rebuild",
    ]);
    assert_success(&out);
    let out = run(&["build-package", "alice/hello", "hello", "--nowait"]);
    assert_success(&out);
    let out = run(&["watch-build", stdout(&out).trim()]);
    assert_success(&out);
    assert!(
        result
            .join("00000002-hello/hello-2.0-1.noarch.rpm")
            .is_file()
    );
    let package: serde_json::Value = reqwest::blocking::get(format!(
        "{}/api/v1/projects/alice/hello/packages/hello",
        world.server.url
    ))
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(package["source_type"], "scm");
    assert_eq!(package["committish"], "v2");
    assert_eq!(package["webhook_rebuild"], true);

    // Reset: the package stays, without a source, and cannot be built.
    let out = bob.run(&["reset-package", "alice/hello", "hello"]).unwrap();
    assert_exit(&out, 7);
    let out = run(&["reset-package", "alice/hello", "hello"]);
    assert_success(&out);
    assert_eq!(
        stdout(&run(&["list-packages", "alice/hello"])),
        "hello  (no default source)  [webhook]\n"
    );
    let out = run(&["build-package", "alice/hello", "hello"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has no default source"),
        "{}",
        stderr(&out)
    );

    let out = run(&["delete-package", "alice/hello", "hello"]);
    assert_success(&out);
    assert_eq!(stdout(&run(&["list-packages", "alice/hello"])), "");
    let out = run(&["build-package", "alice/hello", "hello"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has no package hello"),
        "{}",
        stderr(&out)
    );
    // Its builds stay.
    assert!(
        result
            .join("00000002-hello/hello-2.0-1.noarch.rpm")
            .is_file()
    );
}

#[test]
fn a_push_webhook_rebuilds_the_packages_of_its_repository_and_names_the_builds() {
    use hmac::{Hmac, Mac};

    let world = World::new();
    let url = hello_repo(&world);
    let run = |args: &[&str]| world.alice.run(args).unwrap();
    assert_success(&run(&[
        "add-package-scm",
        "alice/hello",
        "hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--webhook-rebuild",
    ]));
    // Same repository, but not rebuilt by pushes.
    assert_success(&run(&[
        "add-package-scm",
        "alice/hello",
        "manual",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
    ]));
    let out = run(&["new-webhook-secret", "alice/hello"]);
    assert_success(&out);
    let hook = stdout(&out).trim().to_owned();
    let secret = hook.rsplit('/').next().unwrap().to_owned();
    assert!(hook.starts_with(&format!("{}/webhooks/alice/hello/", world.server.url)));

    let http = reqwest::blocking::Client::new();
    let post = |to: &str, body: &serde_json::Value, signature: Option<String>| {
        let mut request = http.post(to).body(body.to_string());
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.text().unwrap())
    };
    let sign = |key: &str, body: &serde_json::Value| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body.to_string().as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    };

    // GitHub's push, signed: one build, of the package that asked for it.
    let github = serde_json::json!({
        "ref": "refs/heads/main",
        "repository": { "clone_url": format!("{url}/"), "html_url": "https://example.org/x" },
    });
    let (status, text) = post(&hook, &github, Some(sign(&secret, &github)));
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["builds"], serde_json::json!([1]), "{text}");
    assert_success(&run(&["watch-build", "1"]));
    let result = world.results().join("alice/hello").join(host_chroot());
    assert!(
        result
            .join("00000001-hello/hello-1.0-1.noarch.rpm")
            .is_file()
    );

    // GitLab's push with the secret in the URL only.
    let gitlab = serde_json::json!({ "object_kind": "push", "project": { "git_http_url": url } });
    let (status, text) = post(&hook, &gitlab, None);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["builds"],
        serde_json::json!([2])
    );
    // Another repository: nothing to build, said so.
    let other = serde_json::json!({ "clone_url": "https://example.org/other.git" });
    let (status, text) = post(&hook, &other, None);
    assert_eq!((status, text.as_str()), (200, r#"{"builds":[]}"#));

    // Refused: a wrong secret, a wrong signature, a body naming nothing.
    let wrong = format!(
        "{}/webhooks/alice/hello/{}",
        world.server.url,
        "0".repeat(48)
    );
    assert_eq!(post(&wrong, &github, None).0, 403);
    assert_eq!(post(&hook, &github, Some(sign("guess", &github))).0, 403);
    let (status, text) = post(&hook, &serde_json::json!({ "zen": "hi" }), None);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("names no repository"), "{text}");
    // A new secret retires the old URL.
    assert_success(&run(&["new-webhook-secret", "alice/hello"]));
    assert_eq!(post(&hook, &gitlab, None).0, 403);
    assert_success(&run(&["watch-build", "2"]));
}

#[test]
fn pushes_to_a_group_projects_webhook_build_as_the_user_who_made_its_secret() {
    let world = World::new();
    let url = hello_repo(&world);
    let carol = world.server.add_user("carol").unwrap();
    let bob = world.server.add_user("bob").unwrap();
    let chroot = host_chroot();
    assert_success(&carol.run(&["group", "create", "@kde"]).unwrap());
    assert_success(&carol.run(&["group", "add-member", "@kde", "bob"]).unwrap());
    assert_success(
        &bob.run(&["create", "@kde/plasma", "--chroot", &chroot])
            .unwrap(),
    );
    assert_success(
        &bob.run(&[
            "add-package-scm",
            "@kde/plasma",
            "hello",
            "--clone-url",
            &url,
            "--subdir",
            "pkg",
            "--webhook-rebuild",
        ])
        .unwrap(),
    );
    let out = bob.run(&["new-webhook-secret", "@kde/plasma"]).unwrap();
    assert_success(&out);
    let hook = stdout(&out).trim().to_owned();
    let push = |hook: &str| {
        let response = reqwest::blocking::Client::new()
            .post(hook)
            .body(serde_json::json!({ "clone_url": url }).to_string())
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().unwrap())
    };

    // The group has no user to build as: bob, who made the secret, is.
    let (status, text) = push(&hook);
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = answer["builds"][0].as_u64().unwrap() as u32;
    assert_success(&bob.run(&["watch-build", &id.to_string()]).unwrap());
    let build = world.build_json(id);
    assert_eq!(build["state"], "succeeded", "{build:#}");
    assert_eq!(build["submitter"], "bob", "{build:#}");

    // Once bob may no longer build there, his secret builds nothing.
    assert_success(
        &carol
            .run(&["group", "remove-member", "kde", "bob"])
            .unwrap(),
    );
    let (status, text) = push(&hook);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("made by bob, who may no longer build there"),
        "{text}"
    );
    // A secret carol makes builds as carol.
    let out = carol.run(&["new-webhook-secret", "@kde/plasma"]).unwrap();
    assert_success(&out);
    let (status, text) = push(stdout(&out).trim());
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = answer["builds"][0].as_u64().unwrap() as u32;
    assert_eq!(world.build_json(id)["submitter"], "carol");
    assert_success(&carol.run(&["watch-build", &id.to_string()]).unwrap());
}

#[test]
fn a_noarch_package_from_git_builds_once_per_release() {
    let world = World::new();
    let url = hello_repo(&world);
    let host = host_chroot();
    let other = if std::env::consts::ARCH == "aarch64" {
        "host-1-x86_64"
    } else {
        "host-1-aarch64"
    };
    let run = |args: &[&str]| world.alice.run(args).unwrap();
    assert_success(&run(&[
        "modify",
        "alice/hello",
        "--chroot",
        &host,
        "--chroot",
        other,
    ]));
    let out = run(&[
        "build-scm",
        "alice/hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--nowait",
    ]);
    assert_success(&out);
    let id: u32 = stdout(&out).trim().parse().unwrap();
    let chroot = |build: &serde_json::Value, name: &str| -> serde_json::Value {
        build["chroots"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {build:#}"))
    };
    // Before the source RPM exists, nothing is known: both chroots wait
    // for it. Once it does, the other arch takes the host's packages
    // instead of waiting for a builder of its arch (there is none here).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let build = loop {
        let build = world.build_json(id);
        if build["ended_on"].is_i64() {
            break build;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{build:#}\n{}",
            world.server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert_eq!(build["state"], "succeeded", "{build:#}");
    assert_eq!(build["source_build"]["state"], "succeeded");
    let built = chroot(&build, &host);
    let copy = chroot(&build, other);
    assert_eq!(built["attempts"], 1, "{build:#}");
    assert_eq!(copy["state"], "succeeded", "{build:#}");
    assert_eq!(copy["attempts"], 0, "built once, not again: {build:#}");
    assert_eq!(copy["built_in"], host.as_str());
    assert!(
        world
            .results()
            .join("alice/hello")
            .join(other)
            .join(format!("{id:08}-hello/hello-1.0-1.noarch.rpm"))
            .is_file()
    );
}
