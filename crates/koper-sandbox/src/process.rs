//! Running one child process with its output logged, under a deadline, a
//! cancel token and a log cap, and killing it (with everything it started)
//! when one of them trips.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::logs::Output;
use crate::{CancelToken, SandboxError, fsutil};

/// How often cancel and the deadline are looked at when nothing is printed.
const POLL: Duration = Duration::from_millis(100);

/// How soon a process whose output ended is first looked at again: it
/// usually exits at the same moment, and a build runs several processes
/// in a row, so a full [`POLL`] each time would add up.
const FIRST_EXIT_POLL: Duration = Duration::from_millis(1);

/// How long output is still read after the process itself exited (a
/// daemon it left behind may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How often the disk a build uses is measured at most; a tree that takes
/// long to measure is measured less often (see [`disk_poll_after`]).
const DISK_POLL: Duration = Duration::from_millis(250);

/// The wait before the next measurement of the disk a build uses, after
/// one that took `took`: measuring may cost a tenth of a core at most.
fn disk_poll_after(took: Duration) -> Duration {
    (took * 10).max(DISK_POLL)
}

/// How much of the end of the output is kept for error messages.
const TAIL_BYTES: usize = 4096;

/// When to stop a process early.
pub(crate) struct Limits<'a> {
    /// Killed after this instant.
    pub(crate) deadline: Option<Instant>,
    /// Killed once canceled.
    pub(crate) cancel: &'a CancelToken,
    /// Killed once the files below this directory occupy more than this
    /// many bytes (measured every [`DISK_POLL`] or less often, see
    /// [`disk_poll_after`], and once more as the process ends).
    pub(crate) disk: Option<(&'a Path, u64)>,
}

/// How a process ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It exited (or was killed by someone else).
    Exited(ExitStatus),
    /// The deadline passed; it was killed.
    TimedOut,
    /// The token was canceled; it was killed.
    Canceled,
    /// Its output went past the log limit; it was killed.
    LogLimitExceeded,
    /// Its files went past the disk limit (bytes); it was killed.
    DiskLimitExceeded(u64),
}

/// A finished process.
#[derive(Debug)]
pub(crate) struct Finished {
    /// How it ended.
    pub(crate) ended: Ended,
    /// The end of its output, for error messages.
    pub(crate) tail: String,
}

impl Finished {
    /// Whether it exited with status 0.
    pub(crate) fn success(&self) -> bool {
        matches!(&self.ended, Ended::Exited(status) if status.success())
    }

    /// The last non-empty lines of the output, at most `n`.
    pub(crate) fn last_lines(&self, n: usize) -> String {
        let lines: Vec<&str> = self
            .tail
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        lines[lines.len().saturating_sub(n)..].join("; ")
    }
}

/// Kills the child's process group and reaps the child when dropped, so an
/// early return or a panic never leaves a process behind. Sandboxed
/// children run bwrap with `--die-with-parent` in their own pid namespace:
/// killing bwrap takes the whole tree with it.
struct ChildGuard {
    child: Child,
    reaped: bool,
}

impl ChildGuard {
    fn kill(&mut self) {
        if self.reaped {
            return;
        }
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(pid, Signal::SIGKILL);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = self.child.wait();
        self.reaped = true;
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>, SandboxError> {
        let status = self
            .child
            .try_wait()
            .map_err(SandboxError::io("waiting for a child process"))?;
        if status.is_some() {
            self.reaped = true;
        }
        Ok(status)
    }

    /// Kills what is left of the process group after the leader exited.
    fn kill_leftovers(&self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(pid, Signal::SIGKILL);
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cmd` to its end with stdout and stderr (merged, in order) going to
/// `out`, stdin empty, in a process group of its own.
pub(crate) fn run(
    mut cmd: Command,
    out: &mut dyn Output,
    limits: &Limits<'_>,
) -> Result<Finished, SandboxError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let (reader, writer) = std::io::pipe().map_err(SandboxError::io("creating a pipe"))?;
    let writer2 = writer
        .try_clone()
        .map_err(SandboxError::io("creating a pipe"))?;
    cmd.stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let child = cmd
        .spawn()
        .map_err(SandboxError::io(format!("starting {program}")))?;
    // The command holds our copies of the pipe's write end: without
    // dropping it the reader would never see the end of the output.
    drop(cmd);
    let mut guard = ChildGuard {
        child,
        reaped: false,
    };
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(64);
    thread::Builder::new()
        .name("koper-sandbox-output".into())
        .spawn(move || pump(reader, &tx))
        .map_err(SandboxError::io("starting an output reader"))?;

    let mut tail = Vec::new();
    let mut eof = false;
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut disk_checked = Instant::now();
    let mut disk_poll = DISK_POLL;
    let mut exit_poll = FIRST_EXIT_POLL;
    let finish = |ended, tail: &[u8]| Finished {
        ended,
        tail: String::from_utf8_lossy(tail).into_owned(),
    };
    loop {
        if limits.cancel.is_canceled() {
            guard.kill();
            return Ok(finish(Ended::Canceled, &tail));
        }
        if limits.deadline.is_some_and(|d| Instant::now() >= d) {
            guard.kill();
            return Ok(finish(Ended::TimedOut, &tail));
        }
        if let Some((dir, cap)) = limits.disk
            && disk_checked.elapsed() >= disk_poll
        {
            let measuring = Instant::now();
            if fsutil::disk_usage(dir) > cap {
                guard.kill();
                return Ok(finish(Ended::DiskLimitExceeded(cap), &tail));
            }
            disk_checked = Instant::now();
            disk_poll = disk_poll_after(measuring.elapsed());
        }
        if eof {
            thread::sleep(exit_poll);
            exit_poll = (exit_poll * 2).min(POLL);
        } else {
            match rx.recv_timeout(POLL) {
                Ok(chunk) => {
                    tail.extend_from_slice(&chunk);
                    if tail.len() > TAIL_BYTES {
                        tail.drain(..tail.len() - TAIL_BYTES);
                    }
                    if !out.output(&chunk) {
                        guard.kill();
                        return Ok(finish(Ended::LogLimitExceeded, &tail));
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => eof = true,
            }
        }
        if exited.is_none() {
            exited = guard.try_wait()?.map(|status| (status, Instant::now()));
        }
        if let Some((status, at)) = exited
            && (eof || at.elapsed() > DRAIN_GRACE)
        {
            guard.kill_leftovers();
            // A fast writer can fill gigabytes between two measurements
            // and end before the next: what it left counts too.
            if let Some((dir, cap)) = limits.disk
                && fsutil::disk_usage(dir) > cap
            {
                return Ok(finish(Ended::DiskLimitExceeded(cap), &tail));
            }
            return Ok(finish(Ended::Exited(status), &tail));
        }
    }
}

fn pump(mut reader: std::io::PipeReader, tx: &mpsc::SyncSender<Vec<u8>>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Runs a short helper command to its end and returns its stdout; a
/// failure carries its stderr. For trusted tools on trusted input only
/// (no sandbox, no deadline).
pub(crate) fn output_of(mut cmd: Command, what: &str) -> Result<Vec<u8>, SandboxError> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(SandboxError::io(format!("running {what}")))?;
    if !output.status.success() {
        return Err(SandboxError::Config(format!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_slow_to_measure_is_measured_less_often() {
        assert_eq!(disk_poll_after(Duration::from_millis(1)), DISK_POLL);
        assert_eq!(
            disk_poll_after(Duration::from_millis(100)),
            Duration::from_secs(1)
        );
    }

    struct Collect(Vec<u8>, usize);

    impl Output for Collect {
        fn output(&mut self, chunk: &[u8]) -> bool {
            self.0.extend_from_slice(chunk);
            self.0.len() <= self.1
        }
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[test]
    fn output_and_status_are_reported() {
        let cancel = CancelToken::new();
        let limits = Limits {
            deadline: None,
            cancel: &cancel,
            disk: None,
        };
        let mut out = Collect(Vec::new(), usize::MAX);
        let done = run(sh("echo out; echo err >&2; exit 3"), &mut out, &limits).unwrap();
        assert!(matches!(done.ended, Ended::Exited(s) if s.code() == Some(3)));
        assert_eq!(out.0, b"out\nerr\n");
        assert_eq!(done.last_lines(1), "err");
    }

    #[test]
    fn the_deadline_kills_the_process_group() {
        let cancel = CancelToken::new();
        let limits = Limits {
            deadline: Some(Instant::now() + Duration::from_millis(300)),
            cancel: &cancel,
            disk: None,
        };
        let start = Instant::now();
        let done = run(
            sh("sleep 60 & sleep 60"),
            &mut Collect(Vec::new(), 0),
            &limits,
        )
        .unwrap();
        assert!(matches!(done.ended, Ended::TimedOut));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_flood_trips_the_log_limit() {
        let cancel = CancelToken::new();
        let limits = Limits {
            deadline: None,
            cancel: &cancel,
            disk: None,
        };
        let done = run(sh("yes flood"), &mut Collect(Vec::new(), 100_000), &limits).unwrap();
        assert!(matches!(done.ended, Ended::LogLimitExceeded));
    }

    #[test]
    fn cancel_is_seen_quickly() {
        let cancel = CancelToken::new();
        let limits = Limits {
            deadline: None,
            cancel: &cancel,
            disk: None,
        };
        let remote = cancel.clone();
        let canceler = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            remote.cancel();
        });
        let start = Instant::now();
        let done = run(sh("sleep 60"), &mut Collect(Vec::new(), 0), &limits).unwrap();
        canceler.join().unwrap();
        assert!(matches!(done.ended, Ended::Canceled));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
