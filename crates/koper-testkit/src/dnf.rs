//! Real dnf, installing into a throw-away root from `.repo` files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::Context;
use koper_chroots::ChrootCatalog;
use koper_sandbox::{ResourceLimits, SandboxConfig};

/// A directory dnf installs into, seeded with the rpm database that
/// describes the host (the builder's virtual base package), so that
/// packages requiring `/bin/sh` or `libc.so.6` install as they would on a
/// real system.
pub struct DnfRoot {
    dir: tempfile::TempDir,
}

impl DnfRoot {
    /// A fresh root seeded from the base-root cache in `builder_dir` (the
    /// description is generated there if it is not yet).
    pub fn new(builder_dir: &Path) -> anyhow::Result<Self> {
        let catalog = ChrootCatalog::load(None)?;
        let host = catalog
            .iter()
            .find(|c| c.name.as_str() == format!("host-1-{}", std::env::consts::ARCH))
            .context("no host chroot for this arch")?;
        let config = SandboxConfig {
            cache_dir: builder_dir.join("cache"),
            work_dir: builder_dir.join("scratch").join("dnfroot"),
            sandbox_uid: 3_999_999,
            limits: ResourceLimits::default(),
        };
        let base = koper_sandbox::prepare_base_root(&config, host)?;
        let dir = tempfile::Builder::new()
            .prefix("koper-dnfroot-")
            .tempdir()?;
        for sub in ["root", "repos", "cache", "home"] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        if let Some(layer) = base.rpmdb_layer() {
            let status = Command::new("cp")
                .arg("-a")
                .arg(layer.join("var"))
                .arg(dir.path().join("root"))
                .status()?;
            anyhow::ensure!(status.success(), "copying the rpmdb layer failed");
        }
        std::fs::write(
            dir.path().join("home/.rpmmacros"),
            "%_dbpath /var/lib/rpm\n",
        )?;
        Ok(Self { dir })
    }

    /// The installroot.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Adds a `.repo` file.
    pub fn add_repo_file(&self, name: &str, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.dir.path().join("repos").join(name), text)?;
        Ok(())
    }

    /// Runs `dnf ARGS` against this root with only the added repos, a
    /// fresh cache, and Debian's problem plugins off.
    pub fn dnf(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.dnf_with_reposdir(&self.dir.path().join("repos"), args)
    }

    /// Runs `dnf ARGS` with the `.repo` files of `reposdir` (e.g. the ones
    /// a release package installed into the root).
    pub fn dnf_with_reposdir(&self, reposdir: &Path, args: &[&str]) -> anyhow::Result<Output> {
        let dir = self.dir.path();
        Ok(Command::new("dnf")
            .env("HOME", dir.join("home"))
            .arg("-y")
            .arg(format!("--installroot={}", dir.join("root").display()))
            .arg(format!("--setopt=reposdir={}", reposdir.display()))
            .arg(format!("--setopt=cachedir={}", dir.join("cache").display()))
            .args([
                "--disableplugin=local,show_leaves",
                "--releasever=1",
                "--setopt=install_weak_deps=False",
                "--setopt=metadata_expire=0",
            ])
            .args(args)
            .output()?)
    }
}
