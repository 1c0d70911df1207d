//! Integration tests of koper-sandbox: real rpmbuild, real bubblewrap,
//! real dnf, on the host as base root (`host-1-x86_64`). They need root,
//! as the builder does.

mod base;
mod builds;
mod isolation;
mod limits;
mod resources;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use koper_chroots::{ChrootCatalog, ChrootDefinition, RepoDefinition};
use koper_sandbox::{
    BuildOutcome, BuildRequest, CancelToken, LogSink, ResourceLimits, SandboxConfig,
    prepare_base_root, run_build,
};

/// What every test shares: one cache (kept between runs in the target
/// dir: the base root is described again only when the host changed) and
/// one work dir (its leftovers are cleaned by the next build).
struct Env {
    cache: PathBuf,
    work: PathBuf,
    host_chroot: ChrootDefinition,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// Every build gets a sandbox uid of its own, as builder slots do.
static NEXT_UID: AtomicU32 = AtomicU32::new(3_000_100);

fn env() -> &'static Env {
    ENV.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("koper-sandbox-cache");
        // The sandbox uid must be able to traverse the work dir: not under
        // /root, which is 0700.
        let work = PathBuf::from("/tmp/koper-sandbox-it-work");
        fs::create_dir_all(&work).expect("a work dir");
        fs::set_permissions(&work, fs::Permissions::from_mode(0o711)).expect("chmod");
        let catalog = ChrootCatalog::load(None).expect("the shipped chroots");
        let host_chroot = catalog
            .get(&"host-1-x86_64".parse().expect("a chroot name"))
            .expect("host-1-x86_64")
            .clone();
        let env = Env {
            cache,
            work,
            host_chroot,
        };
        let started = Instant::now();
        let base = prepare_base_root(&env.config(3_000_099), &env.host_chroot)
            .expect("preparing the host base root");
        eprintln!(
            "prepared the host base root ({} Provides) in {:.1} s",
            base.provides_count().unwrap_or(0),
            started.elapsed().as_secs_f64()
        );
        env
    })
}

impl Env {
    fn config(&self, sandbox_uid: u32) -> SandboxConfig {
        SandboxConfig {
            cache_dir: self.cache.clone(),
            work_dir: self.work.clone(),
            sandbox_uid,
            limits: ResourceLimits::default(),
        }
    }
}

/// A live log the test can read while the build runs.
#[derive(Clone, Default)]
struct SharedLog(Arc<Mutex<Vec<u8>>>);

impl SharedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

impl LogSink for SharedLog {
    fn write(&mut self, chunk: &[u8]) {
        self.0.lock().expect("log lock").extend_from_slice(chunk);
    }
}

/// One build of a test.
struct Build {
    request: BuildRequest,
    uid: u32,
    _result: tempfile::TempDir,
    _srpm_dir: tempfile::TempDir,
}

/// A finished build.
struct Done {
    outcome: BuildOutcome,
    live: String,
    build_log: String,
    root_log: String,
    result_dir: PathBuf,
    took: Duration,
}

impl Build {
    /// A build of `srpm` (made by `make_srpm` into a temp dir) on the host
    /// chroot, with generous limits.
    fn new(make_srpm: impl FnOnce(&Path) -> anyhow::Result<PathBuf>) -> anyhow::Result<Self> {
        let env = env();
        let srpm_dir = tempfile::tempdir()?;
        let srpm = make_srpm(srpm_dir.path())?;
        let result = tempfile::tempdir()?;
        Ok(Self {
            request: BuildRequest {
                chroot: env.host_chroot.clone(),
                srpm,
                extra_repos: Vec::new(),
                extra_packages: Vec::new(),
                macros: BTreeMap::new(),
                timeout: Duration::from_secs(300),
                max_log_bytes: 10 << 20,
                enable_net: false,
                result_dir: result.path().to_owned(),
                server_ca: None,
            },
            uid: NEXT_UID.fetch_add(1, Ordering::SeqCst),
            _result: result,
            _srpm_dir: srpm_dir,
        })
    }

    /// A build of one of koper-testkit's fixtures.
    fn testkit(name: &str) -> anyhow::Result<Self> {
        Self::new(|dir| koper_testkit::build_srpm(name, dir))
    }

    /// A build of one of this crate's fixtures.
    fn fixture(name: &str) -> anyhow::Result<Self> {
        Self::new(|dir| build_srpm(name, dir))
    }

    fn define(mut self, name: &str, value: impl ToString) -> Self {
        self.request.macros.insert(name.into(), value.to_string());
        self
    }

    fn run(&self) -> anyhow::Result<Done> {
        self.run_with(&mut SharedLog::default(), &CancelToken::new())
    }

    fn run_with(&self, live: &mut SharedLog, cancel: &CancelToken) -> anyhow::Result<Done> {
        let started = Instant::now();
        let outcome = run_build(&env().config(self.uid), &self.request, live, cancel)?;
        let took = started.elapsed();
        let dir = &self.request.result_dir;
        let done = Done {
            outcome,
            live: live.text(),
            build_log: fs::read_to_string(dir.join("build.log")).unwrap_or_default(),
            root_log: fs::read_to_string(dir.join("root.log")).unwrap_or_default(),
            result_dir: dir.clone(),
            took,
        };
        for note in done.live.lines().filter(|l| l.starts_with("koper: ")) {
            eprintln!("  {note}");
        }
        eprintln!(
            "{}: {:?} in {:.1} s",
            self.request
                .srpm
                .file_name()
                .unwrap_or_default()
                .to_string_lossy(),
            done.outcome,
            took.as_secs_f64()
        );
        Ok(done)
    }
}

impl Done {
    /// The packages of a successful build, or an error with the logs.
    fn packages(&self) -> anyhow::Result<&[PathBuf]> {
        match &self.outcome {
            BuildOutcome::Succeeded { packages } => Ok(packages),
            other => bail!(
                "build ended {other:?}\n--- root.log\n{}\n--- build.log\n{}",
                self.root_log,
                self.build_log
            ),
        }
    }

    fn logs(&self) -> String {
        format!(
            "--- root.log\n{}\n--- build.log\n{}",
            self.root_log, self.build_log
        )
    }
}

/// Builds the SRPM of `tests/fixtures/<name>.spec` into `out`.
fn build_srpm(name: &str, out: &Path) -> anyhow::Result<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let topdir = tempfile::tempdir()?;
    let output = Command::new("rpmbuild")
        .arg("-bs")
        .args(defines(topdir.path(), &fixtures))
        .arg("--define")
        .arg(format!("_srcrpmdir {}", out.display()))
        .arg(fixtures.join(format!("{name}.spec")))
        .output()
        .context("running rpmbuild -bs")?;
    if !output.status.success() {
        bail!(
            "rpmbuild -bs {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    wrote(&output.stdout)
}

/// Builds the binary RPMs of `tests/fixtures/<name>.spec` on the host into
/// `out` (flat), for test repos.
fn build_rpm(name: &str, out: &Path) -> anyhow::Result<PathBuf> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let topdir = tempfile::tempdir()?;
    let output = Command::new("rpmbuild")
        .arg("-bb")
        .args(defines(topdir.path(), &fixtures))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .arg("--define")
        .arg("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")
        .arg(fixtures.join(format!("{name}.spec")))
        .output()
        .context("running rpmbuild -bb")?;
    if !output.status.success() {
        bail!(
            "rpmbuild -bb {name}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    wrote(&output.stdout)
}

fn defines(topdir: &Path, sources: &Path) -> Vec<String> {
    [
        format!("_topdir {}", topdir.display()),
        format!("_sourcedir {}", sources.display()),
        // Debian's rpm keeps its database under ~/.rpmdb unless told.
        "_dbpath /var/lib/rpm".to_owned(),
    ]
    .into_iter()
    .flat_map(|d| ["--define".to_owned(), d])
    .collect()
}

fn wrote(stdout: &[u8]) -> anyhow::Result<PathBuf> {
    let stdout = String::from_utf8_lossy(stdout);
    let path = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Wrote: "))
        .context("rpmbuild did not say which file it wrote")?;
    Ok(PathBuf::from(path.trim()))
}

/// A dnf repo (`createrepo_c`) with the binary RPMs of the given fixtures.
fn make_repo(id: &str, specs: &[&str], dir: &Path) -> anyhow::Result<RepoDefinition> {
    for spec in specs {
        build_rpm(spec, dir)?;
    }
    let output = Command::new("createrepo_c")
        .arg("--quiet")
        .arg(dir)
        .output()
        .context("running createrepo_c")?;
    if !output.status.success() {
        bail!("createrepo_c: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(RepoDefinition {
        id: id.into(),
        baseurl: Some(format!("file://{}", dir.display())),
        metalink: None,
        priority: None,
        gpgkey: None,
    })
}

/// Serves `dir` over HTTP on 127.0.0.1 (GET only, one request per
/// connection), as koper's server serves project repos. Returns the port.
fn serve_dir(dir: &Path) -> anyhow::Result<u16> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let root = dir.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // The rest of the head is not needed.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split(' ').nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let mut out = &stream;
            let _ = match fs::read(&file).ok().filter(|_| !path.contains("..")) {
                Some(body) => out
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| out.write_all(&body)),
                None => out.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    Ok(port)
}

/// `rpm -qp --qf` of a built package.
fn query(package: &Path, format: &str) -> anyhow::Result<String> {
    let output = Command::new("rpm")
        .args(["--define", "_dbpath /var/lib/rpm", "-qp", "--qf", format])
        .arg(package)
        .output()?;
    if !output.status.success() {
        bail!(
            "rpm -qp {}: {}",
            package.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Processes whose command line contains `needle` (as a whole argument).
fn processes_with_arg(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(listing) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in listing.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = fs::read(entry.path().join("cmdline"))
            && cmdline
                .split(|b| *b == 0)
                .any(|arg| arg == needle.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}
