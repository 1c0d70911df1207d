//! The bare chain a packager would run by hand for one build: `dnf
//! builddep` into an install root, `rpmbuild --rebuild` in bubblewrap
//! (no network, the host read-only), and `createrepo_c --update` of the
//! repository the packages go to.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A repository built by hand, one build after another.
pub struct BareRepo {
    dir: tempfile::TempDir,
    built: usize,
    /// Also check the packages with rpmlint, as koper does after a build
    /// when the buildroot has it.
    rpmlint: bool,
}

fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl BareRepo {
    pub fn new(rpmlint: bool) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("koper-bench-bare-")
            .tempdir()?;
        for sub in ["repo", "root", "reposdir", "cache"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let repo = dir.path().join("repo");
        run(
            Command::new("createrepo_c").arg("--quiet").arg(&repo),
            "createrepo_c",
        )?;
        // dnf reads the repository being built, as a build reads its
        // project's repo.
        std::fs::write(
            dir.path().join("reposdir/bench.repo"),
            format!(
                "[bench]\nname=bench\nbaseurl=file://{}\ngpgcheck=0\n",
                repo.display()
            ),
        )?;
        Ok(Self {
            dir,
            built: 0,
            rpmlint,
        })
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Builds `srpm` and publishes its packages; how long it took.
    pub fn build(&mut self, srpm: &Path) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.built += 1;
        let work = self.path(&format!("work-{}", self.built));
        let srpm_dir = srpm.parent().context("source RPM without a directory")?;
        std::fs::create_dir_all(&work)?;
        run(
            Command::new("dnf")
                .args(["builddep", "-y", "-q"])
                .arg(format!("--installroot={}", self.path("root").display()))
                .arg(format!(
                    "--setopt=reposdir={}",
                    self.path("reposdir").display()
                ))
                .arg(format!(
                    "--setopt=cachedir={}",
                    self.path("cache").display()
                ))
                // Debian's dnf enables plugins that break an install root.
                .args([
                    "--releasever=1",
                    "--disableplugin=*",
                    "--enableplugin=builddep",
                ])
                .arg(srpm),
            "dnf builddep",
        )?;
        run(
            Command::new("bwrap")
                .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
                .args(["--tmpfs", "/tmp", "--tmpfs", "/var/tmp"])
                .arg("--bind")
                .arg(&work)
                .arg(&work)
                .arg("--ro-bind")
                .arg(srpm_dir)
                .arg(srpm_dir)
                .args(["--unshare-all", "--die-with-parent", "--new-session"])
                .arg("rpmbuild")
                .arg("--rebuild")
                .arg("--define")
                .arg(format!("_topdir {}", work.display()))
                .arg(srpm),
            "rpmbuild in bwrap",
        )?;
        let built = walk(&work.join("RPMS"))?;
        if self.rpmlint {
            // Findings do not matter, as in koper: only that it ran.
            Command::new("rpmlint")
                .args(&built)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context("running rpmlint")?;
        }
        let repo = self.path("repo");
        for entry in built {
            let name = entry.file_name().context("no file name")?;
            std::fs::rename(&entry, repo.join(name))?;
        }
        run(
            Command::new("createrepo_c")
                .args(["--quiet", "--update"])
                .arg(&repo),
            "createrepo_c --update",
        )?;
        std::fs::remove_dir_all(&work)?;
        Ok(started.elapsed())
    }
}

/// The files below `dir`.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}
