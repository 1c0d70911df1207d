//! SRPM fixtures, made from the specs kept next to this crate.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The directory holding the fixture specs and their sources.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Builds the binary RPMs of `fixtures/<spec_name>.spec` into `out_dir`
/// with `rpmbuild -bb` on the host (flat file names) and returns them.
pub fn build_rpms(spec_name: &str, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let fixtures = fixtures_dir();
    let spec = fixtures.join(format!("{spec_name}.spec"));
    let topdir = tempfile::tempdir()?;
    std::fs::create_dir_all(out_dir)?;
    let output = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", topdir.path().display()))
        .arg("--define")
        .arg(format!("_sourcedir {}", fixtures.display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out_dir.display()))
        .arg("--define")
        .arg("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")
        .arg("--define")
        .arg("_dbpath /var/lib/rpm")
        .arg(&spec)
        .output()
        .context("running rpmbuild -bb (is rpm-build installed?)")?;
    if !output.status.success() {
        bail!(
            "rpmbuild -bb {} failed:\n{}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("Wrote: "))
        .map(|path| PathBuf::from(path.trim()))
        .collect())
}

/// Builds the source RPM of `fixtures/<spec_name>.spec` into `out_dir` with
/// `rpmbuild -bs` and returns its path.
pub fn build_srpm(spec_name: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let fixtures = fixtures_dir();
    build_srpm_of(
        &fixtures.join(format!("{spec_name}.spec")),
        &fixtures,
        out_dir,
    )
}

/// Builds the source RPM of the spec written by a test (`text`, named
/// `name.spec`, no sources) into `out_dir` and returns its path: for
/// hostile specs that need the test's own paths and ports.
pub fn build_srpm_from_text(name: &str, text: &str, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = tempfile::tempdir()?;
    let spec = dir.path().join(format!("{name}.spec"));
    std::fs::write(&spec, text)?;
    build_srpm_of(&spec, dir.path(), out_dir)
}

fn build_srpm_of(spec: &Path, fixtures: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let topdir = tempfile::tempdir()?;
    std::fs::create_dir_all(out_dir)?;
    let output = Command::new("rpmbuild")
        .arg("-bs")
        .arg("--define")
        .arg(format!("_topdir {}", topdir.path().display()))
        .arg("--define")
        .arg(format!("_sourcedir {}", fixtures.display()))
        .arg("--define")
        .arg(format!("_srcrpmdir {}", out_dir.display()))
        // Debian's rpm keeps its database under ~/.rpmdb unless told.
        .arg("--define")
        .arg("_dbpath /var/lib/rpm")
        .arg(spec)
        .output()
        .context("running rpmbuild -bs (is rpm-build installed?)")?;
    if !output.status.success() {
        bail!(
            "rpmbuild -bs {} failed:\n{}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let written = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Wrote: "))
        .context("rpmbuild did not say which file it wrote")?;
    Ok(PathBuf::from(written.trim()))
}
