//! RPMs built once per test run: the testkit's source RPMs and a small
//! binary RPM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, bail};

pub struct Fixtures {
    _dir: tempfile::TempDir,
    pub hello_srpm: PathBuf,
    pub hello_c_srpm: PathBuf,
    pub fails_srpm: PathBuf,
    pub binary_rpm: PathBuf,
    pub scratch: PathBuf,
}

pub fn get() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| build().expect("building the test RPMs"))
}

fn build() -> anyhow::Result<Fixtures> {
    let dir = tempfile::tempdir()?;
    let srpms = dir.path().join("srpms");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch)?;
    Ok(Fixtures {
        hello_srpm: koper_testkit::build_srpm("hello", &srpms)?,
        hello_c_srpm: koper_testkit::build_srpm("hello-c", &srpms)?,
        fails_srpm: koper_testkit::build_srpm("fails", &srpms)?,
        binary_rpm: build_binary(&dir.path().join("binary"))?,
        scratch,
        _dir: dir,
    })
}

const SPEC: &str = r#"
Name: tool
Epoch: 2
Version: 3.4
Release: 5
Summary: A small binary package
License: MIT
%description
Built by koper-rpm's tests.
%install
mkdir -p %{buildroot}/usr/share/tool
head -c 200000 /dev/urandom > %{buildroot}/usr/share/tool/data.bin
%files
/usr/share/tool/data.bin
"#;

/// Builds a small arch-specific binary RPM with `rpmbuild -bb`.
fn build_binary(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let spec = dir.join("tool.spec");
    std::fs::write(&spec, SPEC)?;
    let out = dir.join("rpms");
    let status = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .args([
            "--define",
            &format!("_topdir {}", dir.join("top").display()),
        ])
        .args(["--define", &format!("_rpmdir {}", out.display())])
        .args(["--define", "_dbpath /var/lib/rpm"])
        .args(["--define", "debug_package %{nil}"])
        .arg(&spec)
        .status()
        .context("running rpmbuild -bb")?;
    if !status.success() {
        bail!("rpmbuild -bb failed");
    }
    let arch_dir = std::fs::read_dir(&out)?
        .next()
        .context("rpmbuild wrote nothing")??
        .path();
    let rpm = std::fs::read_dir(arch_dir)?
        .next()
        .context("rpmbuild wrote no rpm")??
        .path();
    Ok(rpm)
}

/// A copy of `src` in the scratch dir, changed by `edit`.
pub fn damaged(name: &str, src: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(src).expect("reading a fixture");
    edit(&mut bytes);
    let path = get().scratch.join(name);
    std::fs::write(&path, bytes).expect("writing a damaged copy");
    path
}
