//! rpmlint through a warm server: one sandboxed process per slot that has
//! imported rpmlint once and checks each build's packages in a child it
//! forks (`lint_server.py` says why and how).
//!
//! rpmlint costs about as much CPU as building a small package, nearly
//! all of it in starting up; the server makes a check four times cheaper.
//! It serves only checks of builds already reported (rpmlint trailing the
//! build, see [`crate::run_build_linting_later`]), runs at idle priority,
//! in a cgroup with the build limits, and over the base root itself
//! (read-only): the buildroot is not needed. A check that cannot go
//! through the server (a base root whose rpmlint is not rpmlint 2, a
//! server that died) runs rpmlint in the build sandbox as before.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::base::PreparedBase;
use crate::build::{Scratch, at_idle_priority, sandbox_command};
use crate::bwrap::{self, LINT_REQUESTS, LINT_SCRIPT, LintView};
use crate::cgroup::{BuildCgroup, Hierarchies};
use crate::process::{Ended, Limits};
use crate::{SandboxConfig, SandboxError, fsutil};

/// The server's program, run by the base root's Python.
const SCRIPT: &str = include_str!("lint_server.py");

/// How long the server may take to start (import rpmlint, load its
/// dictionary) before it counts as broken.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a check's limits are looked at while it runs.
const POLL: Duration = Duration::from_millis(250);

/// rpmlint servers of one builder slot: at most one running, for the base
/// root its last check was on. Checks through it take turns.
#[derive(Default)]
pub struct Linter {
    state: Mutex<State>,
}

impl std::fmt::Debug for Linter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linter")
            .field("servers_started", &self.servers_started())
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    server: Option<Server>,
    /// A base root version (its cache directory) whose rpmlint cannot
    /// run as a server.
    unsupported: Option<PathBuf>,
    /// Servers started so far (for tests and logs).
    started: u64,
}

/// How a check through the server went.
pub(crate) enum Checked {
    /// rpmlint ran; its output, cut at `max_bytes`.
    Findings(String),
    /// The check was stopped (cancel, deadline, disk limit).
    Stopped(Ended),
    /// The server cannot do it; run rpmlint the ordinary way.
    Unavailable,
}

impl Linter {
    /// A linter with no server yet; the first check starts one.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many servers this linter has started.
    pub fn servers_started(&self) -> u64 {
        self.lock().started
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks `packages` with the rpmlint of `base`.
    pub(crate) fn check(
        &self,
        config: &SandboxConfig,
        base: &PreparedBase,
        packages: &[PathBuf],
        limits: &Limits<'_>,
        max_bytes: usize,
    ) -> Checked {
        let mut state = self.lock();
        let version = base.cache_dir().to_owned();
        if state.unsupported.as_ref() == Some(&version) {
            return Checked::Unavailable;
        }
        if state
            .server
            .as_ref()
            .is_some_and(|server| server.base.cache_dir() != version)
        {
            state.server = None;
        }
        if state.server.is_none() {
            match Server::start(config, base) {
                Ok(Some(server)) => {
                    state.started += 1;
                    state.server = Some(server);
                }
                Ok(None) => {
                    state.unsupported = Some(version);
                    return Checked::Unavailable;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the rpmlint server");
                    return Checked::Unavailable;
                }
            }
        }
        let Some(server) = state.server.as_mut() else {
            return Checked::Unavailable;
        };
        match server.check(config, packages, limits, max_bytes) {
            Ok(Some(checked)) => {
                if !matches!(checked, Checked::Findings(_)) {
                    // Stopped mid-check: its processes must not linger.
                    state.server = None;
                }
                checked
            }
            Ok(None) => {
                state.server = None;
                Checked::Unavailable
            }
            Err(e) => {
                tracing::warn!(error = %e, "the rpmlint server failed");
                state.server = None;
                Checked::Unavailable
            }
        }
    }
}

/// A running server. Dropping it kills it and removes its files.
struct Server {
    child: Child,
    input: ChildStdin,
    replies: Receiver<String>,
    served: u64,
    // Dropped in this order: the processes, then the hold on the version
    // of the base root it runs on, then the directory.
    cgroup: BuildCgroup,
    base: PreparedBase,
    scratch: Scratch,
}

impl Server {
    /// Starts a server on `base`; `None` when its rpmlint cannot serve.
    fn start(config: &SandboxConfig, base: &PreparedBase) -> Result<Option<Self>, SandboxError> {
        let Some(interpreter) = interpreter(base.root())? else {
            return Ok(None);
        };
        let held = base.share()?;
        let layout = base.layout()?;
        let scratch = Scratch::create(&config.work_dir)?;
        let s = &scratch.path;
        let script = s.join("lint-server.py");
        fsutil::write_file(&script, SCRIPT, 0o644)?;
        let requests = s.join("requests");
        fsutil::make_dir(&requests, 0o711)?;
        let cgroup = BuildCgroup::for_scratch(config, s, &Hierarchies::of_this_process())?;
        let view = LintView {
            layout: &layout,
            script: &script,
            requests: &requests,
        };
        let mut command: Vec<OsString> = interpreter;
        command.push(LINT_SCRIPT.into());
        let args = bwrap::lint_sandbox(&view, &command);
        let errors = File::create(s.join("server.err"))
            .map_err(SandboxError::io("creating the rpmlint server's error log"))?;
        let mut child = at_idle_priority(&sandbox_command(config, &cgroup, args, true))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(errors)
            .spawn()
            .map_err(SandboxError::io("starting the rpmlint server"))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(SandboxError::Config(
                "the rpmlint server has no pipes".into(),
            ));
        };
        let (sender, replies) = mpsc::channel();
        std::thread::Builder::new()
            .name("rpmlint-server".into())
            .spawn(move || {
                for line in BufReader::new(output).lines() {
                    let Ok(line) = line else { break };
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(SandboxError::io("starting the rpmlint server's reader"))?;
        let server = Self {
            child,
            input,
            replies,
            served: 0,
            cgroup,
            base: held,
            scratch,
        };
        let greeting = match server.replies.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                return Err(SandboxError::Config(format!(
                    "the rpmlint server did not start: {}",
                    server.errors()
                )));
            }
        };
        let greeting: serde_json::Value = serde_json::from_str(&greeting).unwrap_or_default();
        if greeting["ready"] == true {
            return Ok(Some(server));
        }
        tracing::info!(
            chroot = base.chroot(),
            why = %greeting["unsupported"],
            "rpmlint cannot run as a server here; it runs once per build"
        );
        Ok(None)
    }

    /// The end of the server's own error output.
    fn errors(&self) -> String {
        let text = fs::read_to_string(self.scratch.path.join("server.err")).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or_default().trim().to_owned()
    }

    /// One check; `None` when the server is gone.
    fn check(
        &mut self,
        config: &SandboxConfig,
        packages: &[PathBuf],
        limits: &Limits<'_>,
        max_bytes: usize,
    ) -> Result<Option<Checked>, SandboxError> {
        self.served += 1;
        let name = self.served.to_string();
        let dir = self.scratch.path.join("requests").join(&name);
        fsutil::make_dir(&dir, 0o700)?;
        let request = Request { dir: &dir };
        let mut inside = Vec::new();
        for package in packages {
            let Some(file) = package.file_name() else {
                continue;
            };
            let copy = dir.join(file);
            if fs::hard_link(package, &copy).is_err() {
                fs::copy(package, &copy).map_err(SandboxError::io(format!(
                    "copying {} for rpmlint",
                    package.display()
                )))?;
            }
            inside.push(
                Path::new(LINT_REQUESTS)
                    .join(&name)
                    .join(file)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        fsutil::chown(&dir, config.sandbox_uid)?;
        let line = serde_json::json!({
            "dir": Path::new(LINT_REQUESTS).join(&name),
            "packages": inside,
        });
        if writeln!(self.input, "{line}")
            .and_then(|()| self.input.flush())
            .is_err()
        {
            return Ok(None);
        }
        let mut measured = Instant::now();
        loop {
            match self.replies.recv_timeout(POLL) {
                Ok(_status) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    tracing::warn!(errors = %self.errors(), "the rpmlint server ended");
                    return Ok(None);
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if limits.cancel.is_canceled() {
                return Ok(Some(Checked::Stopped(Ended::Canceled)));
            }
            if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(Checked::Stopped(Ended::TimedOut)));
            }
            if let Some((_, bytes)) = limits.disk
                && measured.elapsed() >= Duration::from_secs(1)
            {
                measured = Instant::now();
                let used = fsutil::disk_usage(&dir);
                if used > bytes {
                    return Ok(Some(Checked::Stopped(Ended::DiskLimitExceeded(bytes))));
                }
            }
        }
        Ok(Some(Checked::Findings(request.findings(max_bytes)?)))
    }
}

/// A check's directory, removed when done with.
struct Request<'a> {
    dir: &'a Path,
}

impl Request<'_> {
    /// rpmlint's output, at most `max_bytes` of it.
    fn findings(&self, max_bytes: usize) -> Result<String, SandboxError> {
        let path = self.dir.join("findings");
        let file = File::open(&path).map_err(SandboxError::io("opening rpmlint's findings"))?;
        let mut bytes = Vec::new();
        file.take(max_bytes as u64)
            .read_to_end(&mut bytes)
            .map_err(SandboxError::io("reading rpmlint's findings"))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        if let Err(e) = fsutil::remove_tree(self.dir) {
            tracing::warn!(path = %self.dir.display(), error = %e, "cannot remove an rpmlint check's files");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        self.cgroup.kill_all();
        let _ = self.child.wait();
    }
}

/// The command that runs a Python program with the Python
/// `usr/bin/rpmlint` names on its `#!` line: `None` unless it is Python.
fn interpreter(root: &Path) -> Result<Option<Vec<OsString>>, SandboxError> {
    let script = root.join("usr/bin/rpmlint");
    let Ok(file) = File::open(&script) else {
        return Ok(None);
    };
    let mut first = String::new();
    BufReader::new(file.take(256))
        .read_line(&mut first)
        .map_err(SandboxError::io(format!("reading {}", script.display())))?;
    Ok(parse_shebang(&first))
}

/// `#!/usr/bin/python3 -s` → `["/usr/bin/python3", "-s"]`; `#!/usr/bin/env
/// python3` too. Anything but a Python is refused.
fn parse_shebang(line: &str) -> Option<Vec<OsString>> {
    let words: Vec<&str> = line.strip_prefix("#!")?.split_whitespace().collect();
    let (program, args) = words.split_first()?;
    if !program.starts_with('/') || args.len() > 1 {
        return None;
    }
    let python = match (program.rsplit('/').next(), args.first()) {
        (Some("env"), Some(name)) => name,
        (Some(name), _) => name,
        (None, _) => return None,
    };
    if !python.starts_with("python") {
        return None;
    }
    Some(words.into_iter().map(OsString::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_python_rpmlint_can_serve() {
        let words = |line: &str| {
            parse_shebang(line).map(|w| {
                w.into_iter()
                    .map(|w| w.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            words("#!/usr/bin/python3\n"),
            Some(vec!["/usr/bin/python3".into()])
        );
        assert_eq!(
            words("#!/usr/bin/python3 -s\n"),
            Some(vec!["/usr/bin/python3".into(), "-s".into()])
        );
        assert_eq!(
            words("#!/usr/bin/env python3\n"),
            Some(vec!["/usr/bin/env".into(), "python3".into()])
        );
        assert_eq!(words("#!/bin/sh\n"), None);
        assert_eq!(words("#!/usr/bin/env bash\n"), None);
        assert_eq!(words("#!python3\n"), None);
        assert_eq!(words("#!/usr/bin/python3 -s -E\n"), None);
        assert_eq!(words("\x7fELF"), None);
    }

    /// A stand-in for rpmlint whose check leaves a process running and
    /// files in `/tmp` and `/dev/shm`, and reports whether it found those
    /// of an earlier check.
    const LEAVING_RPMLINT: &str = r#"
import os, subprocess, sys
def process_lint_args(args):
    return {}
def lint():
    earlier = [p for p in ("/tmp/left", "/dev/shm/left") if os.path.exists(p)]
    alive = subprocess.run(["pgrep", "-f", "sleep 607"], capture_output=True).stdout
    print("earlier files:", earlier, "earlier processes:", alive.split())
    subprocess.Popen(["sleep", "607"], start_new_session=True)
    for path in ("/tmp/left", "/dev/shm/left"):
        open(path, "w").close()
    print("checked", sys.argv[2:])
    sys.exit(64)
"#;

    #[test]
    fn nothing_a_check_leaves_behind_reaches_the_next() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("skipped: needs root for its pid namespace");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("site/rpmlint");
        fs::create_dir_all(&fake).unwrap();
        fs::write(fake.join("__init__.py"), "").unwrap();
        fs::write(fake.join("cli.py"), LEAVING_RPMLINT).unwrap();
        fs::write(dir.path().join("server.py"), SCRIPT).unwrap();
        for n in ["1", "2"] {
            fs::create_dir(dir.path().join(n)).unwrap();
        }
        // Its own pid namespace and scratch directories: the server kills
        // every other process it sees and empties /tmp. The test's files
        // are at /mnt/test, where it does not look.
        let inside = Path::new("/mnt/test");
        let mut child = std::process::Command::new("bwrap")
            .args(["--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/var/tmp", "--tmpfs", "/run"])
            .args(["--tmpfs", "/dev/shm", "--tmpfs", "/mnt", "--bind"])
            .arg(dir.path())
            .arg(inside)
            .args([
                "--die-with-parent",
                "--setenv",
                "PYTHONPATH",
                "/mnt/test/site",
            ])
            .arg("python3")
            .arg(inside.join("server.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Its warm-up finds no checks in the stand-in and says so.
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reply = || replies.next().unwrap().unwrap();
        assert_eq!(reply(), r#"{"ready": true}"#);
        let mut findings = Vec::new();
        for n in ["1", "2"] {
            let request = serde_json::json!({
                "dir": inside.join(n),
                "packages": ["a.rpm"],
            });
            writeln!(input, "{request}").unwrap();
            assert_eq!(reply(), r#"{"status": 64}"#);
            findings.push(fs::read_to_string(dir.path().join(n).join("findings")).unwrap());
        }
        drop(input);
        child.wait().unwrap();
        assert!(findings[0].contains("checked ['a.rpm']"), "{}", findings[0]);
        assert!(
            findings[1].contains("earlier files: [] earlier processes: []"),
            "{}",
            findings[1]
        );
    }
}
