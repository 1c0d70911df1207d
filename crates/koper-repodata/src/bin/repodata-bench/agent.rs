//! createrepo-agent (PyPI `createrepo-agent`) as a benchmark peer: a daemon
//! that keeps every package's rendered XML in memory and rewrites the
//! metadata files on `COMMIT`.
//!
//! The daemon is started in the foreground (`createrepo-agent --server
//! CLUSTER`) and driven over its Unix socket (`CLUSTER/.S.createrepo-agent`)
//! with the Assuan line protocol its own client speaks: `ADD PATH ARCH`,
//! `REMOVE_NAME NAME ARCH`, `COMMIT`, `SHUTDOWN`, each answered by `OK` or
//! `ERR ...`. Talking to the socket directly times the daemon's work alone,
//! without a client process starting. Its CPU time and peak RSS come from
//! `/proc/PID/stat` and `/proc/PID/status` (`VmHWM`): what the daemon has
//! used since it started, all its threads included.
//!
//! A cluster holds one sub-repository per architecture
//! (`CLUSTER/x86_64/repodata`); the agent hard-links each added RPM to
//! `CLUSTER/x86_64/Packages/<first letter>/` and deletes it on removal.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The version the figures in docs/performance.md were measured with.
pub const PYPI_VERSION: &str = "0.6.0";

/// The sub-repository every package goes to.
pub const ARCH: &str = "x86_64";

/// Finds the agent's executable: `spec` is a path to it, or `venv`, which
/// creates (once) a virtual environment under `work` with `python3 -m venv`
/// and installs the PyPI package there. koper itself never needs it.
pub fn locate(spec: &str, work: &Path) -> anyhow::Result<PathBuf> {
    if spec != "venv" {
        let path = PathBuf::from(spec);
        if !path.is_file() {
            bail!("--createrepo-agent {spec}: no such file");
        }
        return Ok(path);
    }
    let venv = work.join("createrepo-agent-venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        eprintln!("creating {} (python3 -m venv, pip install)", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let installed = Command::new(&python)
        .args([
            "-c",
            "import createrepo_agent; print(createrepo_agent.__version__)",
        ])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == PYPI_VERSION
        });
    if !installed {
        run(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            &format!("createrepo-agent=={PYPI_VERSION}"),
        ]))?;
    }
    // The `bin/createrepo-agent` script is a Python wrapper that execs the
    // real binary; starting the binary directly spares a Python start-up.
    let platlib = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('platlib'))",
        ])
        .output()
        .context("asking the venv's python for its site-packages")?;
    let binary = PathBuf::from(String::from_utf8_lossy(&platlib.stdout).trim())
        .join("createrepo_agent.scripts/createrepo-agent");
    if binary.is_file() {
        Ok(binary)
    } else {
        Ok(venv.join("bin/createrepo-agent"))
    }
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// The name of the package in `rpm`, which `REMOVE_NAME` takes.
pub fn package_name(rpm: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(rpm).with_context(|| rpm.display().to_string())?;
    let len = file.metadata()?.len();
    let headers = koper_rpm::read_headers(&mut file, len)?;
    Ok(headers.metadata.get_name()?.to_owned())
}

/// Clock ticks per second, the unit of CPU times in `/proc/PID/stat`.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A running daemon and a connection to it.
pub struct Daemon {
    child: Child,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    ticks: f64,
    /// When the process was started.
    pub started: Instant,
}

impl Daemon {
    /// Starts the agent on `cluster` (created if missing) and connects.
    pub fn start(exe: &Path, cluster: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(cluster)?;
        let socket = cluster.join(".S.createrepo-agent");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::File::create(cluster.with_extension("log"))?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .arg("--server")
            .arg(cluster)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stream = loop {
            match UnixStream::connect(&socket) {
                Ok(s) => break s,
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    if let Some(status) = child.try_wait()? {
                        bail!("createrepo-agent exited at start: {status}");
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("cannot connect to {}: {e}", socket.display());
                }
            }
        };
        let mut daemon = Self {
            child,
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            ticks: clock_ticks(),
            started,
        };
        // The greeting.
        daemon.answer().context("createrepo-agent greeting")?;
        Ok(daemon)
    }

    /// Sends one command and waits for its `OK`.
    pub fn command(&mut self, line: &str) -> anyhow::Result<()> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")?;
        self.answer()
            .with_context(|| format!("createrepo-agent: {line}"))
    }

    fn answer(&mut self) -> anyhow::Result<()> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the connection closed");
            }
            if line == "OK\n" || line.starts_with("OK ") {
                return Ok(());
            }
            if line.starts_with("ERR") {
                bail!("{}", line.trim_end());
            }
            // Status and comment lines ("S ...", "# ...") carry nothing we need.
        }
    }

    /// User + system CPU seconds the daemon has used so far.
    pub fn cpu_secs(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces: state is the first, utime the 12th, stime the 13th.
        let rest = stat.rsplit_once(')').context("/proc stat format")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| -> anyhow::Result<f64> {
            Ok(fields.get(i).context("/proc stat format")?.parse::<f64>()?)
        };
        Ok((field(11)? + field(12)?) / self.ticks)
    }

    /// The daemon's peak resident memory so far, in KiB.
    pub fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .context("no VmHWM in /proc status")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("VmHWM format")?
            .parse()?)
    }

    /// Asks the daemon to stop and waits for it.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.command("SHUTDOWN");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // After a failure: never leave a daemon behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
