//! Builds through koper against the bare chain: submit-to-installable
//! latency of one trivial noarch build, and a batch of them through two
//! local builders against a sequential loop by hand.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use koper_testkit::{TestServer, TestUser};

use crate::bare::BareRepo;
use crate::stats::{median, secs};

/// A trivial noarch package, different per `n` (a build each).
pub fn trivial_srpm(n: usize, dir: &Path) -> anyhow::Result<PathBuf> {
    let spec = format!(
        "Name: trivial{n}\nVersion: 1\nRelease: 1\nSummary: Trivial {n}\nLicense: MIT\n\
         BuildArch: noarch\n\n%description\nTrivial.\n\n\
         %install\nmkdir -p %{{buildroot}}/usr/share/trivial{n}\n\
         echo {n} > %{{buildroot}}/usr/share/trivial{n}/n\n\n\
         %files\n/usr/share/trivial{n}\n"
    );
    koper_testkit::build_srpm_from_text(&format!("trivial{n}"), &spec, dir)
}

/// A koper instance with `builders` local builders and a project.
struct Instance {
    server: TestServer,
    user: TestUser,
    http: reqwest::blocking::Client,
}

impl Instance {
    fn start(koper: &Path, builders: u32) -> anyhow::Result<Self> {
        let server = TestServer::start_with(koper, &["--builders", &builders.to_string()])?;
        let user = server.add_user("bench")?;
        let chroot = format!("host-1-{}", std::env::consts::ARCH);
        let out = user.run(&["create", "bench/trivial", "--chroot", &chroot])?;
        if !out.status.success() {
            bail!("create: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(Self {
            server,
            user,
            http: reqwest::blocking::Client::new(),
        })
    }

    fn submit(&self, srpm: &Path) -> anyhow::Result<u64> {
        let srpm = srpm.to_str().context("path")?;
        let out = self
            .user
            .run(&["build", "--nowait", "bench/trivial", srpm])?;
        if !out.status.success() {
            bail!("build: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8(out.stdout)?.trim().parse()?)
    }

    /// Waits until build `id` has ended; fails unless it succeeded (its
    /// packages are then in the repo's published metadata).
    fn wait(&self, id: u64) -> anyhow::Result<()> {
        loop {
            let build: serde_json::Value = self
                .http
                .get(format!("{}/api/v1/builds/{id}", self.server.url))
                .send()?
                .json()?;
            if build["ended_on"].is_i64() {
                if build["state"] != "succeeded" {
                    bail!("build {id} did not succeed: {build:#}");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until rpmlint's findings for build `id` of `package` are
    /// published (at most two minutes).
    fn wait_for_findings(&self, id: u64, package: &str) -> anyhow::Result<()> {
        let url = format!(
            "{}/results/bench/trivial/host-1-{}/{id:08}-{package}/rpmlint.log.gz",
            self.server.url,
            std::env::consts::ARCH
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.http.head(&url).send()?.status().is_success() {
            if Instant::now() >= deadline {
                bail!("no rpmlint findings for build {id} at {url}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

/// Submit-to-installable latency, `runs` times each way (after one
/// warm-up build each, which makes the base root and caches).
pub fn latency(koper: &Path, runs: usize) -> anyhow::Result<()> {
    let srpms = tempfile::tempdir()?;
    let instance = Instance::start(koper, 1)?;
    let mut bare = BareRepo::new(false)?;
    let mut linted = BareRepo::new(true)?;
    let warm = trivial_srpm(0, srpms.path())?;
    instance.wait(instance.submit(&warm)?)?;
    bare.build(&warm)?;
    linted.build(&warm)?;
    let (mut through_koper, mut by_hand, mut by_hand_linted) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let srpm = trivial_srpm(run, srpms.path())?;
        let started = Instant::now();
        instance.wait(instance.submit(&srpm)?)?;
        through_koper.push(started.elapsed());
        by_hand.push(bare.build(&srpm)?);
        by_hand_linted.push(linted.build(&srpm)?);
        eprintln!(
            "  run {run}: koper {} bare {} bare+rpmlint {}",
            secs(through_koper[run - 1]),
            secs(by_hand[run - 1]),
            secs(by_hand_linted[run - 1])
        );
    }
    let (k, b, l) = (
        median(&through_koper),
        median(&by_hand),
        median(&by_hand_linted),
    );
    println!(
        "submit-to-installable, trivial noarch | koper {} | bare chain {} ({:.2}x, target <= 1.5x) | bare chain + rpmlint {} ({:.2}x) | medians of {runs}",
        secs(k),
        secs(b),
        k.as_secs_f64() / b.as_secs_f64(),
        secs(l),
        k.as_secs_f64() / l.as_secs_f64()
    );
    Ok(())
}

/// `builds` trivial builds through koper with two local builders against
/// the same builds one after another by hand.
pub fn throughput(koper: &Path, builds: usize) -> anyhow::Result<()> {
    let srpms = tempfile::tempdir()?;
    let mut all = Vec::new();
    for n in 0..=builds {
        all.push(trivial_srpm(1000 + n, srpms.path())?);
    }
    let (warm, batch) = all.split_first().context("no builds")?;

    let instance = Instance::start(koper, 2)?;
    instance.wait(instance.submit(warm)?)?;
    let started = Instant::now();
    let mut ids = Vec::new();
    for srpm in batch {
        ids.push(instance.submit(srpm)?);
    }
    for id in &ids {
        instance.wait(*id)?;
    }
    let through_koper = started.elapsed();
    // rpmlint's findings follow each build's report: when the last came.
    for (id, n) in ids.iter().zip(1001..) {
        instance.wait_for_findings(*id, &format!("trivial{n}"))?;
    }
    let with_findings = started.elapsed();

    let by_hand = bare_loop(warm, batch, false)?;
    // koper checks every successful build with rpmlint (when there), which
    // the bare chain does not: the same loop with it, for comparison.
    let by_hand_linted = bare_loop(warm, batch, true)?;
    println!(
        "{builds} trivial builds | koper, 2 local builders {} (every rpmlint finding in at {}) | sequential bare loop {} ({:.2}x, target <= 0.7x) | bare loop + rpmlint {} ({:.2}x)",
        secs(through_koper),
        secs(with_findings),
        secs(by_hand),
        through_koper.as_secs_f64() / by_hand.as_secs_f64(),
        secs(by_hand_linted),
        through_koper.as_secs_f64() / by_hand_linted.as_secs_f64()
    );
    Ok(())
}

/// The batch built by hand one after another (after the warm-up build);
/// how long the batch took.
fn bare_loop(warm: &Path, batch: &[PathBuf], rpmlint: bool) -> anyhow::Result<Duration> {
    let mut bare = BareRepo::new(rpmlint)?;
    bare.build(warm)?;
    let started = Instant::now();
    for srpm in batch {
        bare.build(srpm)?;
    }
    Ok(started.elapsed())
}
