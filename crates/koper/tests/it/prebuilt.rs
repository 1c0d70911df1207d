//! Prebuilt packages, mirroring and sync-to-repo.

use koper_testkit::DnfRoot;

use crate::common::*;
use crate::storage::listed;

fn signed_by_project(world: &World, rpm: &std::path::Path) -> bool {
    let key = koper_sign::PublicKey::from_armored(
        &std::fs::read_to_string(world.results().join("alice/hello/pubkey.gpg")).unwrap(),
    )
    .unwrap();
    key.verify_rpm(rpm).is_ok()
}

#[test]
fn uploaded_packages_are_signed_mirrored_and_synced() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    let chroot = host_chroot();
    let repo = world.results().join("alice/hello").join(&chroot);
    let local = world.server.scratch("local").unwrap();
    let rpms = koper_testkit::build_rpms("dep2", &local).unwrap();
    assert_eq!(rpms.len(), 1, "{rpms:?}");
    assert!(!signed_by_project(&world, &rpms[0]));

    // upload-rpm: a build without a builder, signed on the way in.
    let out = world
        .alice
        .run(&[
            "upload-rpm",
            "alice/hello",
            "--chroot",
            &chroot,
            rpms[0].to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "1\n");
    let published = repo.join("00000001-dep/dep-2-1.noarch.rpm");
    assert!(signed_by_project(&world, &published));
    assert_eq!(listed(&repo), ["00000001-dep/dep-2-1.noarch.rpm"]);
    let build: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/builds/1", world.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(build["state"], "succeeded");

    // Not an RPM: refused, nothing stored.
    let junk = local.join("junk.rpm");
    std::fs::write(&junk, "not a package").unwrap();
    let out = world
        .alice
        .run(&[
            "upload-rpm",
            "alice/hello",
            "--chroot",
            &chroot,
            junk.to_str().unwrap(),
        ])
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("not a usable RPM"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(&junk).unwrap();

    // mirror: everything, verified; then only what is new.
    let mirror = world.server.scratch("mirror").unwrap();
    let out = world
        .alice
        .run(&["mirror", "alice/hello", mirror.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{chroot}: ")),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(": 0 new"), "{}", stdout(&out));
    let mirrored = mirror.join(&chroot);
    assert_eq!(
        std::fs::read(mirrored.join("repodata/repomd.xml")).unwrap(),
        std::fs::read(repo.join("repodata/repomd.xml")).unwrap()
    );
    let out = world
        .alice
        .run(&["mirror", "alice/hello", mirror.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    assert!(stdout(&out).contains(": 0 new file(s)"), "{}", stdout(&out));

    // dnf trusts the mirror as it trusts the server.
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file(
        "mirror.repo",
        &format!(
            "[mirror]\nname=mirror\nbaseurl=file://{}\ngpgcheck=1\nrepo_gpgcheck=1\n\
             gpgkey=file://{}\nenabled=1\n",
            mirrored.display(),
            mirror.join("pubkey.gpg").display()
        ),
    )
    .unwrap();
    assert_success(&root.dnf(&["install", "dep"]).unwrap());

    // A new build: only its files (and the new metadata) are fetched.
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let out = world
        .alice
        .run(&["mirror", "alice/hello", mirror.to_str().unwrap()])
        .unwrap();
    assert_success(&out);
    let line = stdout(&out);
    assert!(!line.contains(": 0 new"), "{line}");
    assert!(
        mirrored
            .join("00000002-hello/hello-1.0-1.noarch.rpm")
            .is_file()
    );

    // Tampered metadata on the server: refused, the mirror stays as it was.
    let repomd = repo.join("repodata/repomd.xml");
    let original = std::fs::read_to_string(&repomd).unwrap();
    std::fs::write(&repomd, original.replace("<revision>", "<revision>9")).unwrap();
    let out = world
        .alice
        .run(&["mirror", "alice/hello", mirror.to_str().unwrap()])
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("repomd.xml"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(mirrored.join("repodata/repomd.xml")).unwrap(),
        original
    );
    std::fs::write(&repomd, &original).unwrap();

    // sync-to-repo into a directory: the remote metadata merged with a local
    // package, the remote packages never downloaded.
    let adds = world.server.scratch("adds").unwrap();
    koper_testkit::build_rpms("dep1", &adds).unwrap();
    let read = format!("{}/results/alice/hello/{chroot}", world.server.url);
    let dest = world.server.scratch("synced").unwrap();
    let out = world
        .alice
        .run(&[
            "sync-to-repo",
            adds.to_str().unwrap(),
            "--read",
            &read,
            "--write",
            dest.to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    assert!(dest.join("dep-1-1.noarch.rpm").is_file());
    assert!(
        !dest.join("00000002-hello").exists(),
        "remote packages are not copied"
    );
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file(
        "synced.repo",
        &format!(
            "[synced]\nname=synced\nbaseurl=file://{}\ngpgcheck=0\nrepo_gpgcheck=0\nenabled=1\n",
            dest.display()
        ),
    )
    .unwrap();
    // dep 1 from the local directory, hello from the server.
    let out = root.dnf(&["install", "dep-1", "hello"]).unwrap();
    assert_success(&out);
    assert_eq!(
        std::fs::read_to_string(root.root().join("usr/share/dep/version")).unwrap(),
        "1\n"
    );
    assert!(root.root().join("usr/bin/hello").is_file());

    // sync-to-repo into the koper project: pushed through upload-rpm,
    // signed there; a second run has nothing to push.
    let target = format!("koper://alice/hello/{chroot}");
    let out = world
        .alice
        .run(&[
            "sync-to-repo",
            adds.to_str().unwrap(),
            "--read",
            &read,
            "--write",
            &target,
        ])
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "3\n");
    assert!(signed_by_project(
        &world,
        &repo.join("00000003-dep/dep-1-1.noarch.rpm")
    ));
    let out = world
        .alice
        .run(&[
            "sync-to-repo",
            adds.to_str().unwrap(),
            "--read",
            &read,
            "--write",
            &target,
        ])
        .unwrap();
    assert_success(&out);
    assert!(stderr(&out).contains("nothing to push"), "{}", stderr(&out));
}
