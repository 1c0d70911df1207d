//! The two log files of a build and the live log, with their size cap.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::{LogSink, SandboxError};

/// Where a child process's output goes. `output` returns false once the
/// output went past its limit: the caller then kills the process.
pub(crate) trait Output {
    /// Takes the next chunk; false when the limit was exceeded.
    fn output(&mut self, chunk: &[u8]) -> bool;
}

/// Keeps output in memory up to a cap (the rest is dropped, the process
/// is not stopped).
pub(crate) struct Capped {
    kept: Vec<u8>,
    cap: usize,
}

impl Capped {
    /// Keeps at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            kept: Vec::new(),
            cap,
        }
    }

    /// What was kept, as text.
    pub(crate) fn into_text(self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

impl Output for Capped {
    fn output(&mut self, chunk: &[u8]) -> bool {
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
        true
    }
}

/// Keeps nothing; used where only the tail the runner keeps matters.
pub(crate) struct Quiet;

impl Output for Quiet {
    fn output(&mut self, _chunk: &[u8]) -> bool {
        true
    }
}

/// Which of a build's logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// `root.log`: preparing the buildroot (dnf).
    Root,
    /// `build.log`: rpmbuild.
    Build,
}

struct LogFile {
    file: File,
    written: u64,
}

/// `root.log`, `build.log` and the live log of one build.
pub(crate) struct Logs<'a> {
    root: LogFile,
    build: LogFile,
    limit: u64,
    sink: &'a mut dyn LogSink,
    /// Set by [`Logs::close`]: nothing is written any more.
    closed: bool,
}

impl<'a> Logs<'a> {
    /// Creates both log files in `dir`.
    pub(crate) fn create(
        dir: &Path,
        limit: u64,
        sink: &'a mut dyn LogSink,
    ) -> Result<Self, SandboxError> {
        let open = |name: &str| -> Result<LogFile, SandboxError> {
            let path = dir.join(name);
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(SandboxError::io(format!("creating {}", path.display())))?;
            Ok(LogFile { file, written: 0 })
        };
        Ok(Self {
            root: open("root.log")?,
            build: open("build.log")?,
            limit,
            sink,
            closed: false,
        })
    }

    /// Ends the logs early: later notes and output are dropped, and the
    /// live log's sink is told that nothing more will come.
    pub(crate) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.sink.close();
        }
    }

    fn file(&mut self, channel: Channel) -> &mut LogFile {
        match channel {
            Channel::Root => &mut self.root,
            Channel::Build => &mut self.build,
        }
    }

    /// A line of koper's own, to the log and the live log. These lines do
    /// not count against the limit: koper must always be able to say why a
    /// build ended.
    pub(crate) fn note(&mut self, channel: Channel, message: &str) {
        if self.closed {
            return;
        }
        let line = format!("koper: {message}\n");
        // A failed write of the builder's own log file must not turn into
        // a failed build; the live log still has the line.
        let _ = self.file(channel).file.write_all(line.as_bytes());
        self.sink.write(line.as_bytes());
    }

    /// A chunk of a child's output; false once the channel's log is full.
    /// What fits is kept, the rest dropped.
    pub(crate) fn output(&mut self, channel: Channel, chunk: &[u8]) -> bool {
        if self.closed {
            return true;
        }
        let limit = self.limit;
        let log = self.file(channel);
        let room = limit.saturating_sub(log.written);
        let fits = usize::try_from(room).map_or(chunk.len(), |room| room.min(chunk.len()));
        let kept = &chunk[..fits];
        let _ = log.file.write_all(kept);
        log.written += kept.len() as u64;
        self.sink.write(kept);
        fits == chunk.len()
    }

    /// An [`Output`] writing to one channel.
    pub(crate) fn channel(&mut self, channel: Channel) -> ChannelOutput<'_, 'a> {
        ChannelOutput {
            logs: self,
            channel,
        }
    }
}

/// One channel of [`Logs`] as an [`Output`].
pub(crate) struct ChannelOutput<'l, 'a> {
    logs: &'l mut Logs<'a>,
    channel: Channel,
}

impl Output for ChannelOutput<'_, '_> {
    fn output(&mut self, chunk: &[u8]) -> bool {
        self.logs.output(self.channel, chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_at_the_limit_but_notes_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = Vec::new();
        let mut logs = Logs::create(dir.path(), 10, &mut live).unwrap();
        assert!(logs.output(Channel::Build, b"12345"));
        assert!(!logs.output(Channel::Build, b"6789abcdef"));
        assert!(logs.output(Channel::Root, b"root"));
        logs.note(Channel::Build, "killed");
        drop(logs);
        let build = std::fs::read_to_string(dir.path().join("build.log")).unwrap();
        assert_eq!(build, "123456789akoper: killed\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("root.log")).unwrap(),
            "root"
        );
        assert_eq!(live, b"123456789arootkoper: killed\n");
    }
}
