//! The release package: installing it is all a user needs.

use std::process::Command;

use koper_testkit::DnfRoot;

use crate::common::*;

fn rpm_query(args: &[&str], rpm: &std::path::Path) -> String {
    let out = Command::new("rpm")
        .args(["--define", "_dbpath /var/lib/rpm"])
        .args(args)
        .arg(rpm)
        .output()
        .unwrap();
    assert_success(&out);
    stdout(&out)
}

#[test]
fn installing_the_release_package_enables_the_signed_repo() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);

    // A stable address redirects to the current release package.
    let response = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/release/host-1/",
        world.server.url
    ))
    .unwrap();
    assert_eq!(response.status(), 200);
    let final_url = response.url().to_string();
    assert!(
        final_url.ends_with(&format!(
            "/results/alice/hello/{}/release/koper-alice-hello-1-1.noarch.rpm",
            host_chroot()
        )),
        "{final_url}"
    );
    let scratch = world.server.scratch("release").unwrap();
    let rpm = scratch.join("koper-alice-hello-1-1.noarch.rpm");
    std::fs::write(&rpm, response.bytes().unwrap()).unwrap();

    // What it is and what it holds.
    assert_eq!(
        rpm_query(&["-qp", "--qf", "%{NAME} %{ARCH}\n"], &rpm),
        "koper-alice-hello noarch\n"
    );
    let files = rpm_query(&["-qlp"], &rpm);
    assert!(
        files.contains("/etc/yum.repos.d/koper-alice-hello.repo\n"),
        "{files}"
    );
    assert!(
        files.contains("/etc/pki/rpm-gpg/RPM-GPG-KEY-koper-127.0.0.1-alice-hello\n"),
        "{files}"
    );

    // Signed by the project key.
    let db = scratch.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let pubkey = world.results().join("alice/hello/pubkey.gpg");
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&pubkey)
        .output()
        .unwrap();
    assert_success(&out);
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("-K")
        .arg(&rpm)
        .output()
        .unwrap();
    assert!(stdout(&out).contains("signatures OK"), "{}", stdout(&out));

    // The repo lists it, so upgrades reach users.
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    let repo_file = reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file).unwrap();
    let out = root
        .dnf(&["list", "--available", "koper-alice-hello"])
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains("koper-alice-hello.noarch"),
        "{}",
        stdout(&out)
    );

    // A system with nothing configured: install the release package, then
    // the project's packages with both signature checks on.
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    let url = format!(
        "{}/coprs/alice/hello/release/host-1/koper-alice-hello.noarch.rpm",
        world.server.url
    );
    let out = root.dnf(&["install", &url]).unwrap();
    assert_success(&out);
    let installed = root.root().join("etc/yum.repos.d");
    let text = std::fs::read_to_string(installed.join("koper-alice-hello.repo")).unwrap();
    assert!(
        text.contains("gpgcheck=1") && text.contains("repo_gpgcheck=1"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(
            root.root()
                .join("etc/pki/rpm-gpg/RPM-GPG-KEY-koper-127.0.0.1-alice-hello")
        )
        .unwrap(),
        std::fs::read_to_string(&pubkey).unwrap()
    );
    let out = root
        .dnf_with_reposdir(&installed, &["install", "hello"])
        .unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());
}
