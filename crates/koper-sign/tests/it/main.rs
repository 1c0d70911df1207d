//! Keys and signatures checked by the real consumers: `rpm -K` for
//! packages, gpg (what dnf's `repo_gpgcheck` uses) for detached signatures
//! and for what a key says about itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use koper_sign::{KeyAlgorithm, KeyIdentity, PublicKey, SigningKey};

const YEAR: u64 = 365 * 24 * 3600;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn identity() -> KeyIdentity {
    KeyIdentity::for_project("alice", "hello", "koper.example.org")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A throw-away rpm database that trusts `key`.
fn rpmdb_trusting(dir: &Path, key: &PublicKey) -> PathBuf {
    let db = dir.join("rpmdb");
    std::fs::create_dir_all(&db).unwrap();
    let key_file = dir.join("key.asc");
    std::fs::write(&key_file, key.armored()).unwrap();
    let out = Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .arg("--import")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "rpm --import: {}", text(&out));
    db
}

fn rpm_check(db: &Path, rpm: &Path) -> Output {
    Command::new("rpm")
        .arg("--dbpath")
        .arg(db)
        .arg("-K")
        .arg(rpm)
        .output()
        .unwrap()
}

fn gpg(home: &Path, args: &[&str]) -> Output {
    std::fs::create_dir_all(home).unwrap();
    Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args(["--batch", "--no-tty", "--with-colons"])
        .args(args)
        .output()
        .unwrap()
}

fn srpm(dir: &Path) -> PathBuf {
    koper_testkit::build_srpm("hello", dir).expect("rpmbuild -bs")
}

fn signs_and_verifies(algorithm: KeyAlgorithm) {
    let dir = tempfile::tempdir().unwrap();
    let key =
        SigningKey::generate(&identity(), algorithm, now(), Duration::from_secs(5 * YEAR)).unwrap();
    let public = key.public_key().unwrap();

    // The armored secret key reads back as the same key.
    let again = SigningKey::from_armored(&key.to_armored().unwrap()).unwrap();
    assert_eq!(again.fingerprint(), key.fingerprint());

    // rpm -K accepts a package signed with it, and only with the key known.
    let package = srpm(dir.path());
    let unsigned_check = rpm_check(&rpmdb_trusting(&dir.path().join("a"), &public), &package);
    assert!(
        !text(&unsigned_check).contains("signatures OK"),
        "{}",
        text(&unsigned_check)
    );
    key.sign_rpm(&package).unwrap();
    let db = rpmdb_trusting(&dir.path().join("b"), &public);
    let out = rpm_check(&db, &package);
    assert!(out.status.success(), "rpm -K: {}", text(&out));
    assert!(text(&out).contains("signatures OK"), "{}", text(&out));
    public.verify_rpm(&package).unwrap();

    // Another key's rpm database does not trust it.
    let other =
        SigningKey::generate(&identity(), algorithm, now(), Duration::from_secs(YEAR)).unwrap();
    let other_db = rpmdb_trusting(&dir.path().join("c"), &other.public_key().unwrap());
    let out = rpm_check(&other_db, &package);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(other.public_key().unwrap().verify_rpm(&package).is_err());

    // Signing again (e.g. with a new key) replaces the signature.
    other.sign_rpm(&package).unwrap();
    assert!(rpm_check(&other_db, &package).status.success());
    assert!(!rpm_check(&db, &package).status.success());

    // Detached signatures: gpg verifies them with the published key.
    let data = b"<repomd>revision 1</repomd>\n";
    let signature = key.sign_detached(data).unwrap();
    assert!(signature.starts_with("-----BEGIN PGP SIGNATURE-----"));
    public.verify_detached(data, &signature).unwrap();
    assert!(
        public
            .verify_detached(b"<repomd>revision 2</repomd>\n", &signature)
            .is_err()
    );
    let home = dir.path().join("gnupg");
    std::fs::write(dir.path().join("pubkey.gpg"), public.armored()).unwrap();
    std::fs::write(dir.path().join("repomd.xml"), data).unwrap();
    std::fs::write(dir.path().join("repomd.xml.asc"), &signature).unwrap();
    let out = gpg(
        &home,
        &["--import", dir.path().join("pubkey.gpg").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let verify = |data: &str| {
        gpg(
            &home,
            &[
                "--verify",
                dir.path().join("repomd.xml.asc").to_str().unwrap(),
                dir.path().join(data).to_str().unwrap(),
            ],
        )
    };
    let out = verify("repomd.xml");
    assert!(out.status.success(), "gpg --verify: {}", text(&out));
    std::fs::write(
        dir.path().join("tampered.xml"),
        b"<repomd>revision 9</repomd>\n",
    )
    .unwrap();
    assert!(!verify("tampered.xml").status.success());

    // The user id is Copr's.
    let out = gpg(&home, &["--list-keys"]);
    assert!(
        text(&out).contains("alice_hello <alice#hello@koper.example.org>"),
        "{}",
        text(&out)
    );
}

#[test]
fn rsa_keys_sign_packages_and_metadata() {
    signs_and_verifies(KeyAlgorithm::Rsa4096);
}

#[test]
fn ed25519_keys_sign_packages_and_metadata() {
    signs_and_verifies(KeyAlgorithm::Ed25519);
}

#[test]
fn renewing_extends_the_expiry_and_keeps_old_signatures_valid() {
    let dir = tempfile::tempdir().unwrap();
    // A key made almost five years ago, ten days before it lapses.
    let created = now() - (5 * YEAR as i64) + 10 * 24 * 3600;
    let mut key = SigningKey::generate(
        &identity(),
        KeyAlgorithm::Ed25519,
        created,
        Duration::from_secs(5 * YEAR),
    )
    .unwrap();
    assert_eq!(key.created_on(), created);
    let expiry = key.expires_on().unwrap();
    assert_eq!(expiry, created + 5 * YEAR as i64);
    assert!(key.needs_renewal(now(), Duration::from_secs(YEAR)));
    assert!(!key.needs_renewal(now(), Duration::from_secs(24 * 3600)));

    let package = srpm(dir.path());
    key.sign_rpm(&package).unwrap();
    let data = b"metadata";
    let old_signature = key.sign_detached(data).unwrap();
    let fingerprint = key.fingerprint();

    key.renew(now(), Duration::from_secs(5 * YEAR)).unwrap();
    assert_eq!(key.fingerprint(), fingerprint, "same key material");
    let renewed = key.expires_on().unwrap();
    assert!(renewed >= now() + 5 * YEAR as i64 - 60, "{renewed}");
    assert!(!key.needs_renewal(now(), Duration::from_secs(YEAR)));

    // What is published after renewal still verifies what was signed before.
    let public = key.public_key().unwrap();
    assert_eq!(public.expires_on(), Some(renewed));
    public.verify_detached(data, &old_signature).unwrap();
    let db = rpmdb_trusting(dir.path(), &public);
    let out = rpm_check(&db, &package);
    assert!(out.status.success(), "{}", text(&out));

    // gpg sees the new expiry (field 7 of the pub line).
    let home = dir.path().join("gnupg");
    std::fs::write(dir.path().join("pubkey.gpg"), public.armored()).unwrap();
    let out = gpg(
        &home,
        &["--import", dir.path().join("pubkey.gpg").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = gpg(&home, &["--list-keys"]);
    let listing = text(&out);
    let pub_line = listing
        .lines()
        .find(|l| l.starts_with("pub:"))
        .unwrap_or_else(|| panic!("{listing}"));
    let expires: i64 = pub_line.split(':').nth(6).unwrap().parse().unwrap();
    assert_eq!(expires, renewed, "{pub_line}");
    assert!(
        pub_line.starts_with("pub:u:") || pub_line.starts_with("pub:-:"),
        "valid, not expired: {pub_line}"
    );
}
