//! koper's metadata compared field by field with createrepo_c's for the
//! same directory of RPMs.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use koper_repodata::{Compression, RepodataOptions, createrepo_dir};

use crate::rpmmd;
use crate::support::{rpmbuild, spec};

/// Builds the feature corpus: every fixture spec, binary and source RPMs.
pub fn build_corpus(dir: &Path) -> anyhow::Result<()> {
    for (name, source) in [
        ("features", true),
        ("quirks", true),
        ("hello", true),
        ("hello-c", true),
        ("sh-provider", false),
    ] {
        rpmbuild(&spec(name), &dir.join(name), source)?;
    }
    Ok(())
}

fn createrepo_c(dir: &Path, out: &Path, extra: &[&str]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let status = Command::new("createrepo_c")
        .args(["--quiet", "--no-database", "-o"])
        .arg(out)
        .args(extra)
        .arg(dir)
        .status()
        .context("running createrepo_c (install createrepo-c)")?;
    if !status.success() {
        bail!("createrepo_c failed");
    }
    Ok(())
}

fn compare(ours: &Path, theirs: &Path) -> anyhow::Result<usize> {
    let a = rpmmd::verify(ours)?;
    let b = rpmmd::verify(theirs)?;
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        ["filelists", "other", "primary"],
        "koper writes the three files"
    );
    let mut compared = 0;
    for kind in ["primary", "filelists", "other"] {
        let (ours_xml, theirs_xml) = (&a[kind], &b[kind]);
        assert_eq!(
            rpmmd::package_count(ours_xml)?,
            rpmmd::package_count(theirs_xml)?,
            "{kind}: packages count"
        );
        let ours_pkgs = rpmmd::packages(ours_xml)?;
        let theirs_pkgs = rpmmd::packages(theirs_xml)?;
        assert_eq!(
            ours_pkgs.keys().collect::<Vec<_>>(),
            theirs_pkgs.keys().collect::<Vec<_>>(),
            "{kind}: the same packages"
        );
        for (key, theirs_lines) in &theirs_pkgs {
            let ours_lines = &ours_pkgs[key];
            if ours_lines != theirs_lines {
                let only_ours: Vec<_> = ours_lines
                    .iter()
                    .filter(|l| !theirs_lines.contains(l))
                    .collect();
                let only_theirs: Vec<_> = theirs_lines
                    .iter()
                    .filter(|l| !ours_lines.contains(l))
                    .collect();
                panic!(
                    "{kind}: package {key} differs\nonly koper: {only_ours:#?}\nonly createrepo_c: {only_theirs:#?}"
                );
            }
            compared += 1;
        }
    }
    Ok(compared)
}

fn equivalent(compression: Compression, limit: Option<usize>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("rpms");
    build_corpus(&dir)?;
    let theirs = tmp.path().join("createrepo_c");
    let mut extra = vec![];
    let limit_arg;
    if let Some(l) = limit {
        limit_arg = l.to_string();
        extra.extend(["--changelog-limit", limit_arg.as_str()]);
    }
    // createrepo_c 0.17 (Debian 12) has no zstd: its gzip output is compared
    // after decompression, which is all that matters.
    createrepo_c(&dir, &theirs, &extra)?;
    let mut options = RepodataOptions::new(tmp.path().join("cache"));
    options.compression = compression;
    if let Some(l) = limit {
        options.changelog_limit = l;
    }
    let report = createrepo_dir(&dir, false, &options)?;
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(report.packages >= 10, "{report:?}");
    let compared = compare(&dir, &theirs)?;
    assert_eq!(compared, report.packages * 3);
    assert_covers_features(&dir, limit.unwrap_or(10))?;
    Ok(())
}

#[test]
fn same_fields_as_createrepo_c() -> anyhow::Result<()> {
    equivalent(Compression::Gzip, None)
}

#[test]
fn same_fields_as_createrepo_c_with_zstd_and_a_changelog_limit() -> anyhow::Result<()> {
    equivalent(Compression::Zstd, Some(3))
}

/// Guards the comparison itself: the canonical lines must carry the
/// features the corpus was built for.
fn assert_covers_features(repo: &Path, limit: usize) -> anyhow::Result<()> {
    let files = rpmmd::verify(repo)?;
    let all = |kind: &str| -> anyhow::Result<Vec<String>> {
        Ok(rpmmd::packages(&files[kind])?
            .into_values()
            .flatten()
            .collect())
    };
    let primary = all("primary")?;
    for expected in [
        "package/version@epoch=3",
        "package/format/rpm:requires/rpm:entry@pre=1",
        "package/format/rpm:supplements/rpm:entry@name=(features-api and bash)",
        "package/format/rpm:enhances/rpm:entry@rel=1.fc40",
        "package/format/rpm:recommends/rpm:entry@name=bash-completion",
        "package/format/rpm:suggests/rpm:entry@flags=GE",
        "package/format/rpm:conflicts/rpm:entry@epoch=2",
        "package/format/rpm:obsoletes/rpm:entry@flags=LE",
        "package/format/rpm:vendor=Koper Test Vendor",
        "package/packager=Zoë Packager <zoe@example.org>",
        "package/url=https://example.org/features?a=1&b=<2>",
        "package/arch=src",
        "package/format/file=/etc/features/features.conf",
    ] {
        assert!(
            primary.iter().any(|l| l == expected),
            "primary lacks {expected}"
        );
    }
    let filelists = all("filelists")?;
    for expected in [
        "package/file=/usr/share/features/with space/file name.txt",
        "package/file@type=ghost",
        "package/file@type=dir",
        "package/file=/usr/share/features/ünïcödé.txt",
    ] {
        assert!(
            filelists.iter().any(|l| l == expected),
            "filelists lacks {expected}"
        );
    }
    let other = rpmmd::packages(&files["other"])?;
    let max_changelogs = other
        .values()
        .map(|lines| {
            lines
                .iter()
                .filter(|l| l.starts_with("package/changelog@date="))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(max_changelogs, limit, "changelog limit");
    Ok(())
}
