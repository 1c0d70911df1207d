//! The signing hook: every repomd.xml gets its signature next to it, made
//! before either file is replaced; a stale or missing signature is redone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use koper_repodata::{RepoChanges, RepoPackage, RepodataOptions, RepomdSigner, publish};
use sha2::{Digest, Sha256};

use crate::support::{rpmbuild, spec};

/// A stand-in signature: the digest of what was signed, so the test can
/// tell which repomd.xml a signature belongs to.
fn signature_of(bytes: &[u8]) -> Vec<u8> {
    format!("signed {}\n", hex::encode(Sha256::digest(bytes))).into_bytes()
}

fn counting_signer(calls: Arc<AtomicUsize>) -> RepomdSigner {
    RepomdSigner::new(move |bytes| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(signature_of(bytes))
    })
}

fn assert_signed(repo: &std::path::Path) {
    let repomd = std::fs::read(repo.join("repodata/repomd.xml")).unwrap();
    let asc = std::fs::read(repo.join("repodata/repomd.xml.asc")).unwrap();
    assert_eq!(
        asc,
        signature_of(&repomd),
        "the signature is of this repomd.xml"
    );
}

#[test]
fn every_revision_is_signed_and_stale_signatures_are_redone() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let repo = tmp.path().join("repo");
    let calls = Arc::new(AtomicUsize::new(0));
    let mut options = RepodataOptions::new(tmp.path().join("cache"));
    options.signer = Some(counting_signer(calls.clone()));

    let rpms = rpmbuild(&spec("hello"), &repo.join("00000001-hello"), false)?;
    let add = |rpm: &std::path::Path, dir: &str| RepoPackage {
        path: rpm.to_owned(),
        location: format!("{dir}/{}", rpm.file_name().unwrap().to_string_lossy()),
    };
    let changes = RepoChanges {
        add: rpms.iter().map(|r| add(r, "00000001-hello")).collect(),
        remove: Vec::new(),
    };
    publish(&repo, &changes, &options)?;
    assert_signed(&repo);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Nothing changed and the signature is current: nothing is signed.
    publish(&repo, &RepoChanges::default(), &options)?;
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // A crash between the two renames leaves an older signature; the next
    // run signs the current repomd.xml again.
    let asc = repo.join("repodata/repomd.xml.asc");
    std::fs::write(&asc, b"a signature of the previous revision\n")?;
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&asc)?
        .set_modified(old)?;
    publish(&repo, &RepoChanges::default(), &options)?;
    assert_signed(&repo);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A missing signature too.
    std::fs::remove_file(&asc)?;
    publish(&repo, &RepoChanges::default(), &options)?;
    assert_signed(&repo);

    // A signer that fails stops the publish before anything is replaced.
    let before = std::fs::read(repo.join("repodata/repomd.xml"))?;
    let mut failing = options.clone();
    failing.signer = Some(RepomdSigner::new(|_| Err("the key is gone".into())));
    let rpms2 = rpmbuild(&spec("hello-c"), &repo.join("00000002-hello-c"), false)?;
    let changes = RepoChanges {
        add: rpms2.iter().map(|r| add(r, "00000002-hello-c")).collect(),
        remove: Vec::new(),
    };
    let err = publish(&repo, &changes, &failing).unwrap_err();
    assert!(err.to_string().contains("the key is gone"), "{err}");
    assert_eq!(std::fs::read(repo.join("repodata/repomd.xml"))?, before);
    assert_signed(&repo);

    // The same change with a working signer is published and signed.
    publish(&repo, &changes, &options)?;
    assert_signed(&repo);
    assert_ne!(std::fs::read(repo.join("repodata/repomd.xml"))?, before);
    Ok(())
}
