//! `koper createrepo`: the repodata engine on any directory of RPMs, read
//! by real dnf.

use std::process::Command;

use koper_testkit::DnfRoot;

use crate::common::*;

#[test]
fn createrepo_indexes_a_directory_that_dnf_installs_from() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let packages = koper_testkit::build_rpms("hello", &repo.join("noarch")).unwrap();
    assert_eq!(packages.len(), 1);
    std::fs::write(repo.join("not-an-rpm.rpm"), "junk").unwrap();

    let cache = dir.path().join("cache");
    let run = |extra: &[&str]| {
        Command::new(koper_bin())
            .arg("createrepo")
            .arg(&repo)
            .arg("--cache-dir")
            .arg(&cache)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("1 packages (1 read, 0 removed)"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("skipped"),
        "the bad file is reported: {}",
        stderr(&out)
    );
    assert!(repo.join("repodata/repomd.xml").is_file());

    // --update reads nothing that did not change.
    let out = run(&["--update"]);
    assert_success(&out);
    assert!(
        stderr(&out).contains("(0 read, 0 removed)"),
        "{}",
        stderr(&out)
    );

    let builder_dir = tempfile::tempdir().unwrap();
    let root = DnfRoot::new(builder_dir.path()).unwrap();
    root.add_repo_file(
        "local.repo",
        &format!(
            "[local]\nname=local\nbaseurl=file://{}\ngpgcheck=0\nenabled=1\n",
            repo.display()
        ),
    )
    .unwrap();
    let out = root.dnf(&["install", "hello"]).unwrap();
    assert_success(&out);
    assert!(root.root().join("usr/bin/hello").is_file());
}
