//! The builder's loop: one worker per slot leases a task, builds it in the
//! sandbox while streaming its log (which also renews the lease and brings
//! back cancel requests), uploads the results and reports the outcome.

use crate::upstream::UpstreamWatch;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use koper_api::builder::{FinishRequest, Outcome, Task};
use koper_sandbox::{
    BuildOutcome, BuildRequest, CancelToken, Linter, LogSink, SandboxConfig, ServerCa, SourceInput,
    SourceRequest,
};
use tokio::sync::{mpsc, watch};

use crate::BuilderConfig;
use crate::client::{Client, ProtocolError};

/// How many builds of one slot rpmlint may still be checking (at idle
/// priority, after their report) when the slot starts another; each holds
/// its buildroot until then.
const TRAILING_LINTS: usize = 4;
/// How long a lease request may wait on the server for work.
const LEASE_WAIT: Duration = Duration::from_secs(25);
/// How often buffered log output is sent (and the lease renewed).
const LOG_INTERVAL: Duration = Duration::from_millis(500);
/// The most log bytes sent in one request.
const LOG_CHUNK: usize = 256 * 1024;
/// Seconds between tries of a call the server did not answer: about two
/// minutes in all, enough to ride out a server restart while the lease
/// (renewed again once the server is back) keeps the task ours.
const RETRY_DELAYS: [u64; 7] = [1, 2, 4, 8, 15, 30, 60];

/// Whether a failed call may succeed when tried again: the server was
/// unreachable, answered with a server error, or asked to slow down.
fn worth_retrying(error: &ProtocolError) -> Option<Duration> {
    match error {
        ProtocolError::Transport(_) => Some(Duration::ZERO),
        ProtocolError::Refused { status, .. } if status.is_server_error() => Some(Duration::ZERO),
        ProtocolError::SlowDown(wait) => Some(*wait),
        _ => None,
    }
}

/// Runs `call` until it succeeds, fails for good, or [`RETRY_DELAYS`]
/// run out.
async fn with_retries<T, F, Fut>(task: &Task, what: &str, mut call: F) -> Result<T, ProtocolError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProtocolError>>,
{
    for delay in RETRY_DELAYS {
        let error = match call().await {
            Err(error) => error,
            done => return done,
        };
        let Some(asked) = worth_retrying(&error) else {
            return Err(error);
        };
        tracing::warn!(task.id = task.task_id, error = %error, "{what} failed; retrying");
        tokio::time::sleep(asked.max(Duration::from_secs(delay))).await;
    }
    call().await
}

/// Runs the builder until `stop` turns true; then finishes the builds in
/// progress and returns (a drain, as on SIGTERM).
pub async fn run(config: BuilderConfig, stop: watch::Receiver<bool>) -> Result<(), ProtocolError> {
    let client = Client::new(&config.server_url, &config.token, config.ca_cert.as_deref())?;
    // Builds fetch the project repos from the server too: dnf in the
    // sandbox must trust what this builder trusts.
    let server_ca = match &config.ca_cert {
        Some(path) => Some(ServerCa {
            url: config.server_url.clone(),
            pem: tokio::fs::read_to_string(path).await?,
        }),
        None => None,
    };
    let upstream = UpstreamWatch::new(reqwest::Client::new(), config.upstream_check_interval);
    let mut workers = Vec::new();
    for slot in 0..config.slots.max(1) {
        let worker = Worker {
            client: client.clone(),
            config: config.clone(),
            slot,
            server_ca: server_ca.clone(),
            upstream: upstream.clone(),
            linter: Arc::new(Linter::new()),
        };
        workers.push(tokio::spawn(worker.run(stop.clone())));
    }
    for worker in workers {
        let _ = worker.await;
    }
    Ok(())
}

struct Worker {
    client: Client,
    config: BuilderConfig,
    slot: u32,
    server_ca: Option<ServerCa>,
    upstream: UpstreamWatch,
    /// The slot's warm rpmlint, shared by the builds it is checking.
    linter: Arc<Linter>,
}

impl Worker {
    fn sandbox_config(&self) -> SandboxConfig {
        SandboxConfig {
            cache_dir: self.config.work_dir.join("cache"),
            work_dir: self
                .config
                .work_dir
                .join("scratch")
                .join(self.slot.to_string()),
            sandbox_uid: self.config.sandbox_uid_base + self.slot,
            limits: self.config.limits.clone(),
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        // rpmlint still checking this slot's builds, already reported.
        let mut trailing: std::collections::VecDeque<tokio::task::JoinHandle<()>> =
            std::collections::VecDeque::new();
        while !*stop.borrow() {
            let lease = tokio::select! {
                lease = self.client.lease(
                    &self.config.arches,
                    &self.config.tags,
                    self.config.slots,
                    LEASE_WAIT,
                ) => lease,
                _ = stop.changed() => break,
            };
            match lease {
                Ok(Some(task)) => {
                    backoff = Duration::from_secs(1);
                    trailing.retain(|linting| !linting.is_finished());
                    if trailing.len() >= TRAILING_LINTS
                        && let Some(oldest) = trailing.pop_front()
                    {
                        let _ = oldest.await;
                    }
                    trailing.extend(self.handle(task).await);
                }
                Ok(None) => backoff = Duration::from_secs(1),
                Err(ProtocolError::SlowDown(wait)) => tokio::time::sleep(wait).await,
                Err(e) => {
                    tracing::warn!(slot = self.slot, error = %e, "cannot lease; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
        // A drain ends once rpmlint's findings are sent too.
        for linting in trailing {
            let _ = linting.await;
        }
    }

    /// Builds a task and reports it; what is left running is rpmlint
    /// checking a build already reported successful, sending its
    /// findings when done (the slot may lease its next task meanwhile).
    async fn handle(&self, task: Task) -> Option<tokio::task::JoinHandle<()>> {
        tracing::info!(task.id = task.task_id, build.id = %task.build_id,
            chroot = %task.chroot.name, slot = self.slot, "building");
        let task_dir = self
            .config
            .work_dir
            .join("tasks")
            .join(task.task_id.to_string());
        // A builder killed mid-build leaves the task's directory behind;
        // the task comes back when its lease lapses and starts afresh.
        match tokio::fs::remove_dir_all(&task_dir).await {
            Ok(()) => tracing::warn!(task.id = task.task_id, "removed what an earlier run left"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(task.id = task.task_id, error = %e, "cannot clear the task directory")
            }
        }
        let started = std::time::Instant::now();
        let outcome = self.build(&task, &task_dir).await;
        let built_in = started.elapsed();
        let (outcome, reason, lint) = match outcome {
            Ok(result) => result,
            Err(ProtocolError::LeaseLost) => {
                tracing::warn!(task.id = task.task_id, "lease lost; dropping the task");
                let _ = tokio::fs::remove_dir_all(&task_dir).await;
                return None;
            }
            Err(e) => (
                Outcome::Failed,
                Some(format!("the builder failed: {e}")),
                None,
            ),
        };
        let reported = self.report(&task, outcome, reason).await;
        let reported_in = started.elapsed() - built_in;
        tracing::info!(
            task.id = task.task_id,
            "task done: built and uploaded in {} ms, reported in {} ms",
            built_in.as_millis(),
            reported_in.as_millis(),
        );
        let client = self.client.clone();
        let trailing = async move {
            if let Some(lint) = lint {
                let findings = task_dir.join(LINT_LOG);
                // Unsent findings are dropped, never the build: it is
                // reported already.
                let linted = lint.await;
                if reported {
                    send_lint(&client, &task, linted, &findings).await;
                    tracing::info!(
                        task.id = task.task_id,
                        "rpmlint's findings sent {} ms after the report",
                        (started.elapsed() - built_in - reported_in).as_millis()
                    );
                }
            }
            let _ = tokio::fs::remove_dir_all(&task_dir).await;
        };
        Some(tokio::spawn(trailing))
    }

    /// Reports the outcome (trying again while the server cannot be
    /// reached); whether the server has it.
    async fn report(&self, task: &Task, outcome: Outcome, reason: Option<String>) -> bool {
        let finish = FinishRequest {
            lease_id: task.lease_id.clone(),
            outcome,
            reason,
        };
        // The outcome must reach the server; the lease keeps the task ours
        // for a while, so retry transport errors.
        let interrupted = std::sync::atomic::AtomicBool::new(false);
        let reported = with_retries(task, "reporting the outcome", || {
            let call = self.client.finish(task, &finish);
            let interrupted = &interrupted;
            async move {
                let answer = call.await;
                if answer.as_ref().is_err_and(|e| worth_retrying(e).is_some()) {
                    interrupted.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                answer
            }
        })
        .await;
        match reported {
            Ok(()) => true,
            // An earlier try reached the server, which ended the task
            // before its answer got back.
            Err(ProtocolError::LeaseLost)
                if interrupted.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                tracing::info!(task.id = task.task_id, "the server had the outcome already");
                true
            }
            Err(e) => {
                tracing::error!(task.id = task.task_id, error = %e, "cannot report the outcome");
                false
            }
        }
    }

    /// Builds the task and uploads its results; the outcome, why it failed,
    /// and rpmlint still checking a successful build when the server takes
    /// its findings late.
    async fn build(
        &self,
        task: &Task,
        task_dir: &Path,
    ) -> Result<(Outcome, Option<String>, Option<LintRun>), ProtocolError> {
        let result_dir = task_dir.join("results");
        tokio::fs::create_dir_all(&result_dir).await?;
        let job = match &task.source {
            Some(source) => Job::Source(SourceRequest {
                input: match (&source.scm, &source.spec) {
                    (Some(scm), None) => SourceInput::Git(scm.clone()),
                    (None, Some(spec)) => SourceInput::Spec(spec.clone()),
                    _ => {
                        return Ok((
                            Outcome::Failed,
                            Some("the source task names neither a repository nor a spec".into()),
                            None,
                        ));
                    }
                },
                timeout: Duration::from_secs(task.timeout_seconds),
                max_log_bytes: task.max_log_bytes,
                max_checkout_bytes: source.max_checkout_bytes,
                enable_net: task.enable_net,
                result_dir: result_dir.clone(),
            }),
            None => {
                let srpm = task_dir.join("source.src.rpm");
                with_retries(task, "downloading the source RPM", || {
                    self.client.download_srpm(task, &srpm)
                })
                .await?;
                let mut chroot = task.chroot.clone();
                chroot.upstream = self.upstream.revision(&chroot).await;
                Job::Build(Box::new(BuildRequest {
                    chroot,
                    srpm,
                    extra_repos: task.repos.clone(),
                    extra_packages: task.extra_packages.clone(),
                    macros: task.macros.clone(),
                    timeout: Duration::from_secs(task.timeout_seconds),
                    max_log_bytes: task.max_log_bytes,
                    enable_net: task.enable_net,
                    result_dir: result_dir.clone(),
                    server_ca: self.server_ca.clone(),
                }))
            }
        };

        let cancel = CancelToken::new();
        let (log_tx, log_rx) = mpsc::unbounded_channel();
        let streamer = tokio::spawn(stream_log(
            self.client.clone(),
            task.clone(),
            log_rx,
            cancel.clone(),
        ));
        let sandbox = self.sandbox_config();
        let build_cancel = cancel.clone();
        // rpmlint only delays the build's report where the server cannot
        // take its findings afterwards.
        let lint_later = task.late_logs.then(|| task_dir.join(LINT_LOG));
        let linter = Arc::clone(&self.linter);
        let (built_tx, built_rx) = tokio::sync::oneshot::channel::<()>();
        let mut sandbox_run: LintRun = tokio::task::spawn_blocking(move || {
            let mut sink = ChannelSink(Some(log_tx));
            match (job, lint_later) {
                (Job::Build(request), Some(lint_log)) => {
                    let mut built_tx = Some(built_tx);
                    let mut built = |_: &BuildOutcome| {
                        if let Some(tx) = built_tx.take() {
                            let _ = tx.send(());
                        }
                    };
                    koper_sandbox::run_build_linting_later(
                        &sandbox,
                        &request,
                        &mut sink,
                        &build_cancel,
                        &mut built,
                        &lint_log,
                        &linter,
                    )
                }
                (Job::Build(request), None) => {
                    koper_sandbox::run_build(&sandbox, &request, &mut sink, &build_cancel)
                }
                (Job::Source(request), _) => {
                    koper_sandbox::make_srpm(&sandbox, &request, &mut sink, &build_cancel)
                }
            }
        });
        // The build either says it succeeded before rpmlint runs, or ends
        // (the sender is dropped with the closure).
        let (built, lint) = if built_rx.await.is_ok() {
            let succeeded = Ok(BuildOutcome::Succeeded {
                packages: Vec::new(),
            });
            (succeeded, Some(sandbox_run))
        } else {
            let ended = (&mut sandbox_run).await.map_err(std::io::Error::other)?;
            (ended, None)
        };
        // The sink was closed or dropped: the streamer flushes what is
        // left and ends.
        let lease_lost = streamer.await.map_err(std::io::Error::other)?;
        if lease_lost {
            return Err(ProtocolError::LeaseLost);
        }

        let (outcome, reason) = match built {
            Ok(BuildOutcome::Succeeded { .. }) => (Outcome::Succeeded, None),
            Ok(BuildOutcome::Failed { reason }) => (Outcome::Failed, Some(reason)),
            Ok(BuildOutcome::TimedOut) => (
                Outcome::Failed,
                Some(format!(
                    "the build ran longer than its timeout ({} s) and was stopped",
                    task.timeout_seconds
                )),
            ),
            Ok(BuildOutcome::LogLimitExceeded) => (
                Outcome::Failed,
                Some(format!(
                    "the build log grew past {} bytes and the build was stopped",
                    task.max_log_bytes
                )),
            ),
            Ok(BuildOutcome::Canceled) => (Outcome::Canceled, None),
            Err(e) => {
                tracing::error!(task.id = task.task_id, error = %e, "sandbox failure");
                (Outcome::Failed, Some(format!("the builder failed: {e}")))
            }
        };
        self.upload_results(task, &result_dir, outcome).await?;
        Ok((outcome, reason, lint))
    }

    /// Uploads the logs always and the packages on success.
    async fn upload_results(
        &self,
        task: &Task,
        result_dir: &Path,
        outcome: Outcome,
    ) -> Result<(), ProtocolError> {
        let mut files: Vec<PathBuf> = Vec::new();
        let mut entries = tokio::fs::read_dir(result_dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            // Only regular files the sandbox put here; never follow links.
            if !entry.file_type().await?.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let wanted =
                name.ends_with(".log") || (outcome == Outcome::Succeeded && name.ends_with(".rpm"));
            if wanted {
                files.push(entry.path());
            }
        }
        files.sort();
        for file in files {
            with_retries(task, "uploading a result", || {
                self.client.upload_file(task, &file)
            })
            .await?;
        }
        Ok(())
    }
}

/// What a task asks of the sandbox: build a source RPM, or make one from
/// a repository (a source task).
enum Job {
    Build(Box<BuildRequest>),
    Source(SourceRequest),
}

/// Forwards the sandbox's log output (from a blocking thread) to the
/// async streamer; closing it ends the stream.
struct ChannelSink(Option<mpsc::UnboundedSender<Vec<u8>>>);

impl LogSink for ChannelSink {
    fn write(&mut self, chunk: &[u8]) {
        if let Some(sender) = &self.0 {
            let _ = sender.send(chunk.to_vec());
        }
    }

    fn close(&mut self) {
        self.0 = None;
    }
}

/// The sandbox's thread of a build, which may still be running rpmlint
/// after the build was reported.
/// Sends the findings of rpmlint, which went on checking the packages of
/// a build already reported.
async fn send_lint(
    client: &Client,
    task: &Task,
    linted: Result<Result<BuildOutcome, koper_sandbox::SandboxError>, tokio::task::JoinError>,
    findings: &Path,
) {
    match linted {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(task.id = task.task_id, error = %e, "rpmlint could not run"),
        Err(e) => tracing::warn!(task.id = task.task_id, error = %e, "rpmlint could not run"),
    }
    if !tokio::fs::try_exists(findings).await.unwrap_or(false) {
        // The buildroot has no rpmlint.
        return;
    }
    let sent = with_retries(task, "sending rpmlint's findings", || {
        client.upload_late_log(task, findings)
    })
    .await;
    if let Err(e) = sent {
        tracing::warn!(task.id = task.task_id, error = %e, "cannot send rpmlint's findings");
    }
}

type LintRun = tokio::task::JoinHandle<Result<BuildOutcome, koper_sandbox::SandboxError>>;

/// Where rpmlint's findings go when they are sent after the outcome: in
/// the task's directory, beside (not in) the result directory being
/// uploaded meanwhile.
const LINT_LOG: &str = "rpmlint.log";

/// Sends buffered log output every [`LOG_INTERVAL`] (an empty interval
/// still sends a heartbeat), cancels the build when the server says so,
/// and returns whether the lease was lost.
async fn stream_log(
    client: Client,
    task: Task,
    mut chunks: mpsc::UnboundedReceiver<Vec<u8>>,
    cancel: CancelToken,
) -> bool {
    let mut buffer: Vec<u8> = Vec::new();
    let mut open = true;
    let mut tick = tokio::time::interval(LOG_INTERVAL);
    let mut since_contact = Duration::ZERO;
    // Frequent enough that a cancel reaches the sandbox within seconds, and
    // well inside the lease.
    let heartbeat_every = Duration::from_secs((task.lease_seconds / 4).clamp(1, 3));
    loop {
        tokio::select! {
            chunk = chunks.recv(), if open => match chunk {
                Some(chunk) => {
                    buffer.extend_from_slice(&chunk);
                    if buffer.len() < LOG_CHUNK {
                        continue;
                    }
                }
                None => open = false,
            },
            _ = tick.tick() => since_contact += LOG_INTERVAL,
        }
        while !buffer.is_empty() {
            let take = buffer.len().min(LOG_CHUNK);
            let chunk: Vec<u8> = buffer.drain(..take).collect();
            match client.append_log(&task, chunk).await {
                Ok(status) => {
                    since_contact = Duration::ZERO;
                    if status.cancel {
                        cancel.cancel();
                    }
                }
                Err(ProtocolError::LeaseLost) => {
                    cancel.cancel();
                    return true;
                }
                // A lost log chunk is a pity, not a reason to stop a build.
                Err(e) => tracing::warn!(task.id = task.task_id, error = %e, "log chunk lost"),
            }
        }
        if !open {
            return false;
        }
        if since_contact >= heartbeat_every {
            since_contact = Duration::ZERO;
            match client.heartbeat(&task).await {
                Ok(status) if status.cancel => cancel.cancel(),
                Ok(_) => {}
                Err(ProtocolError::LeaseLost) => {
                    cancel.cancel();
                    return true;
                }
                Err(e) => tracing::warn!(task.id = task.task_id, error = %e, "heartbeat failed"),
            }
        }
    }
}
