//! Building RPMs with rpmbuild and querying repositories with dnf.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

/// `tests/fixtures` of this crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Builds the binary (and with `source`, the source) RPMs of `spec` into
/// `out` (flat) and returns their paths, sorted.
pub fn rpmbuild(spec: &Path, out: &Path, source: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let top = tempfile::tempdir()?;
    let output = Command::new("rpmbuild")
        .arg(if source { "-ba" } else { "-bb" })
        .arg("--quiet")
        // BuildRequires name Fedora packages that Debian's rpmdb lacks.
        .arg("--nodeps")
        .args(["--define", &format!("_topdir {}", top.path().display())])
        .args(["--define", &format!("_rpmdir {}", out.display())])
        .args(["--define", &format!("_srcrpmdir {}", out.display())])
        .args([
            "--define",
            &format!("_sourcedir {}", koper_testkit::fixtures_dir().display()),
        ])
        .args([
            "--define",
            "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
        ])
        .args(["--define", "_dbpath /var/lib/rpm"])
        .args(["--define", "debug_package %{nil}"])
        .arg(spec)
        .output()
        .context("running rpmbuild")?;
    if !output.status.success() {
        bail!(
            "rpmbuild {} failed:\n{}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut written: Vec<PathBuf> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Wrote: "))
        .map(|p| PathBuf::from(p.trim()))
        .collect();
    if written.is_empty() {
        // --quiet hides "Wrote:" on some rpm versions: list the output dir.
        for entry in std::fs::read_dir(out)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "rpm") {
                written.push(path);
            }
        }
    }
    written.sort();
    Ok(written)
}

/// A spec of the testkit or of this crate's fixtures.
pub fn spec(name: &str) -> PathBuf {
    let own = fixtures().join(format!("{name}.spec"));
    if own.exists() {
        own
    } else {
        koper_testkit::fixtures_dir().join(format!("{name}.spec"))
    }
}

/// Runs dnf against the single repository at `repo` with a fresh cache, an
/// empty install root and no system repositories.
pub fn dnf(repo: &Path, args: &[&str]) -> anyhow::Result<Output> {
    let scratch = tempfile::tempdir()?;
    let home = scratch.path().join("home");
    let reposdir = scratch.path().join("repos.d");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(&reposdir)?;
    // Debian's rpm keeps its database under ~/.rpmdb unless told.
    std::fs::write(home.join(".rpmmacros"), "%_dbpath /var/lib/rpm\n")?;
    let output = Command::new("dnf")
        .env("HOME", &home)
        .arg(format!(
            "--installroot={}",
            scratch.path().join("root").display()
        ))
        .arg(format!("--setopt=reposdir={}", reposdir.display()))
        .arg(format!(
            "--setopt=cachedir={}",
            scratch.path().join("cache").display()
        ))
        .arg(format!("--repofrompath=t,file://{}", repo.display()))
        .arg("--disableplugin=local,show_leaves")
        .arg("--nogpgcheck")
        .arg("--releasever=1")
        .arg("--setopt=t.skip_if_unavailable=False")
        .args(args)
        .output()
        .context("running dnf")?;
    Ok(output)
}

/// Runs dnf and fails with its output unless it succeeds; returns stdout.
pub fn dnf_ok(repo: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = dnf(repo, args)?;
    if !out.status.success() {
        bail!(
            "dnf {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `dnf repoquery` of the repository, one NEVRA per line, sorted.
pub fn repoquery(repo: &Path, extra: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut args = vec!["-q", "repoquery", "--qf", "%{name}-%{evr}.%{arch}"];
    args.extend_from_slice(extra);
    let out = dnf_ok(repo, &args)?;
    let mut lines: Vec<String> = out
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    Ok(lines)
}

/// Copies `files` into `repo/<dir>/` and returns them as packages to add.
pub fn place(
    repo: &Path,
    dir: &str,
    files: &[PathBuf],
) -> anyhow::Result<Vec<koper_repodata::RepoPackage>> {
    let target = repo.join(dir);
    std::fs::create_dir_all(&target)?;
    let mut out = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .context("file name")?
            .to_string_lossy()
            .into_owned();
        let dest = target.join(&name);
        std::fs::copy(f, &dest)?;
        out.push(koper_repodata::RepoPackage {
            path: dest,
            location: format!("{dir}/{name}"),
        });
    }
    Ok(out)
}
