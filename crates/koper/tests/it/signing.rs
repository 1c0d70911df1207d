//! Signed packages and signed metadata, checked by real dnf with
//! `gpgcheck=1` and `repo_gpgcheck=1` (a fresh root and cache per check).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use koper_testkit::DnfRoot;

use crate::common::*;

fn repo_file(world: &World) -> String {
    reqwest::blocking::get(format!(
        "{}/coprs/alice/hello/repo/host-1/dnf.repo",
        world.server.url
    ))
    .unwrap()
    .text()
    .unwrap()
}

fn rpm_checks_with(key: &Path, rpm: &Path, scratch: &Path) -> String {
    let db = scratch.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(key)
        .output()
        .unwrap();
    assert_success(&out);
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("-K")
        .arg(rpm)
        .output()
        .unwrap();
    stdout(&out) + &stderr(&out)
}

/// Builds hello, checks every published file is signed, installs it with
/// both checks on, and returns the repo directory.
fn build_and_install_signed(world: &World) -> std::path::PathBuf {
    let out = world
        .alice
        .run(&[
            "build",
            "alice/hello",
            world.srpm("hello").to_str().unwrap(),
        ])
        .unwrap();
    assert_success(&out);
    let project = world.results().join("alice/hello");
    let repo = project.join(host_chroot());
    let pubkey = project.join("pubkey.gpg");
    let key_text = std::fs::read_to_string(&pubkey).unwrap();
    assert!(key_text.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    let project: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/projects/alice/hello", world.server.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        project["key_fingerprint"].as_str(),
        Some(
            koper_sign::PublicKey::from_armored(&key_text)
                .unwrap()
                .fingerprint()
                .as_str()
        )
    );

    // Every RPM (binary and source) carries the project's signature.
    let scratch = world.server.scratch("rpmcheck").unwrap();
    for rpm in ["hello-1.0-1.noarch.rpm", "hello-1.0-1.src.rpm"] {
        let report = rpm_checks_with(&pubkey, &repo.join("00000001-hello").join(rpm), &scratch);
        assert!(report.contains("signatures OK"), "{rpm}: {report}");
    }

    // The metadata is signed: gpg verifies repomd.xml.asc with pubkey.gpg.
    let home = world.server.scratch("gnupg").unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--no-tty"])
            .args(args)
            .output()
            .unwrap()
    };
    assert_success(&gpg(&["--import", pubkey.to_str().unwrap()]));
    let repodata = repo.join("repodata");
    let out = gpg(&[
        "--verify",
        repodata.join("repomd.xml.asc").to_str().unwrap(),
        repodata.join("repomd.xml").to_str().unwrap(),
    ]);
    assert_success(&out);

    // The .repo file turns both checks on, and dnf installs.
    let text = repo_file(world);
    assert!(text.contains("\ngpgcheck=1\n"), "{text}");
    assert!(text.contains("\nrepo_gpgcheck=1\n"), "{text}");
    assert!(
        text.contains(&format!(
            "gpgkey={}/results/alice/hello/pubkey.gpg\n",
            world.server.url
        )),
        "{text}"
    );
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &text).unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());
    repo
}

#[test]
fn packages_and_metadata_are_signed_and_dnf_checks_both() {
    let world = World::new();
    let repo = build_and_install_signed(&world);

    // The secret key lives outside results/, readable by the server only,
    // and is not reachable over HTTP.
    let keys = world.server.data_dir().join("keys");
    let key_file = keys.join("alice/hello.asc");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join("alice")), 0o700);
    assert_eq!(mode(&key_file), 0o600);
    assert!(
        std::fs::read_to_string(&key_file)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert!(
        !tree(&world.results())
            .iter()
            .any(|f| f.ends_with(".asc") && !f.ends_with("repomd.xml.asc")),
        "no key below results/"
    );
    for path in ["results/../keys/alice/hello.asc", "keys/alice/hello.asc"] {
        let status = reqwest::blocking::get(format!("{}/{path}", world.server.url))
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }

    // A repomd.xml changed after signing is refused.
    let repomd = repo.join("repodata/repomd.xml");
    let original = std::fs::read_to_string(&repomd).unwrap();
    std::fs::write(&repomd, original.replace("<revision>", "<revision>1")).unwrap();
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file("alice-hello.repo", &repo_file(&world))
        .unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert!(!out.status.success(), "tampered repomd.xml accepted");
    let message = stderr(&out) + &stdout(&out);
    assert!(
        message.contains("GPG") || message.contains("signature"),
        "{message}"
    );
    assert!(!root.root().join("usr/bin/hello").exists());
    std::fs::write(&repomd, &original).unwrap();

    // A package whose signature is not the project's is refused, even from
    // metadata that lists it correctly (a mirror serving other packages).
    let mirror = world.server.scratch("mirror").unwrap();
    let copy = Command::new("cp")
        .arg("-a")
        .arg(&repo)
        .arg(mirror.join("repo"))
        .status()
        .unwrap();
    assert!(copy.success());
    let rpm = mirror.join("repo/00000001-hello/hello-1.0-1.noarch.rpm");
    let foreign = koper_sign::SigningKey::generate(
        &koper_sign::KeyIdentity::for_project("mallory", "hello", "evil.example"),
        koper_sign::KeyAlgorithm::Ed25519,
        1_700_000_000,
        std::time::Duration::from_secs(3600 * 24 * 365),
    )
    .unwrap();
    foreign.sign_rpm(&rpm).unwrap();
    let out = Command::new("createrepo_c")
        .arg("--quiet")
        .arg(mirror.join("repo"))
        .output()
        .unwrap();
    assert_success(&out);
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file(
        "mirror.repo",
        &format!(
            "[mirror]\nname=mirror\nbaseurl=file://{}\ngpgcheck=1\nrepo_gpgcheck=0\n\
             gpgkey={}/results/alice/hello/pubkey.gpg\nenabled=1\n",
            mirror.join("repo").display(),
            world.server.url
        ),
    )
    .unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert!(!out.status.success(), "a foreign signature was accepted");
    let message = stderr(&out) + &stdout(&out);
    assert!(
        message.contains("GPG") || message.contains("key") || message.contains("signature"),
        "{message}"
    );
    assert!(!root.root().join("usr/bin/hello").exists());

    // A package changed after signing (its payload) is refused too.
    let copy = Command::new("cp")
        .arg("-a")
        .arg(repo.join("00000001-hello/hello-1.0-1.noarch.rpm"))
        .arg(&rpm)
        .status()
        .unwrap();
    assert!(copy.success());
    let mut bytes = std::fs::read(&rpm).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0xff;
    std::fs::write(&rpm, &bytes).unwrap();
    let out = Command::new("createrepo_c")
        .arg("--quiet")
        .arg(mirror.join("repo"))
        .output()
        .unwrap();
    assert_success(&out);
    let root = DnfRoot::new(&world.server.builder_dir()).unwrap();
    root.add_repo_file(
        "mirror.repo",
        &format!(
            "[mirror]\nname=mirror\nbaseurl=file://{}\ngpgcheck=1\nrepo_gpgcheck=0\n\
             gpgkey={}/results/alice/hello/pubkey.gpg\nenabled=1\n",
            mirror.join("repo").display(),
            world.server.url
        ),
    )
    .unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert!(!out.status.success(), "a damaged package was accepted");
    assert!(!root.root().join("usr/bin/hello").exists());
}

#[test]
fn an_instance_can_make_ed25519_keys() {
    let world = World::with_args(&["--signing-key-algorithm", "ed25519"]);
    build_and_install_signed(&world);
    let key = std::fs::read_to_string(world.results().join("alice/hello/pubkey.gpg")).unwrap();
    let public = koper_sign::PublicKey::from_armored(&key).unwrap();
    // Ed25519 keys are small: an RSA 4096 key alone is over 500 bytes.
    assert!(key.len() < 900, "{}", key.len());
    assert!(
        public.expires_on().is_some(),
        "keys expire (and are renewed)"
    );
}
