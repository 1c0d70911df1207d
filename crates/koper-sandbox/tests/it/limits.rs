//! Timeouts, cancel and the log limit: the build is killed, all of it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use koper_sandbox::{BuildOutcome, CancelToken, SandboxConfig};

use crate::{Build, SharedLog, env, processes_with_arg};

/// A config whose work dir is the test's own, to check it ends up empty.
fn own_work_dir(uid: u32) -> anyhow::Result<(SandboxConfig, tempfile::TempDir)> {
    let work = tempfile::Builder::new()
        .prefix("koper-sandbox-own-work-")
        .tempdir_in("/tmp")?;
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o711))?;
    let mut config = env().config(uid);
    config.work_dir = work.path().to_owned();
    Ok((config, work))
}

fn assert_nothing_left(marker: &str, work: &Path) -> anyhow::Result<()> {
    // The kill is synchronous, but give the kernel a moment to reap a
    // namespace's last processes.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_with_arg(marker).is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        processes_with_arg(marker),
        Vec::<u32>::new(),
        "processes left behind"
    );
    let left: Vec<_> = fs::read_dir(work)?.flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
    Ok(())
}

#[test]
fn a_build_that_never_ends_times_out_and_leaves_no_process() -> anyhow::Result<()> {
    let marker = "86311";
    let mut build = Build::fixture("sleeper")?.define("sleep_seconds", marker);
    build.request.timeout = Duration::from_secs(6);
    let (config, work) = own_work_dir(build.uid)?;
    let mut live = SharedLog::default();
    let started = Instant::now();
    let outcome =
        koper_sandbox::run_build(&config, &build.request, &mut live, &CancelToken::new())?;
    let took = started.elapsed();
    assert_eq!(outcome, BuildOutcome::TimedOut, "{}", live.text());
    assert!(
        live.text().contains("koper-sleeper-started"),
        "it got to run"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let build_log = fs::read_to_string(build.request.result_dir.join("build.log"))?;
    assert!(build_log.contains("ran out of time"), "{build_log}");
    assert_nothing_left(marker, work.path())
}

#[test]
fn a_daemon_left_by_a_successful_build_is_killed() -> anyhow::Result<()> {
    let marker = "86313";
    let build = Build::fixture("daemon")?.define("sleep_seconds", marker);
    let (config, work) = own_work_dir(build.uid)?;
    let outcome = koper_sandbox::run_build(
        &config,
        &build.request,
        &mut koper_sandbox::DiscardLog,
        &CancelToken::new(),
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    assert_nothing_left(marker, work.path())
}

#[test]
fn cancel_stops_a_running_build_within_seconds() -> anyhow::Result<()> {
    let marker = "86312";
    let build = Build::fixture("sleeper")?.define("sleep_seconds", marker);
    let (config, work) = own_work_dir(build.uid)?;
    let cancel = CancelToken::new();
    let live = SharedLog::default();
    let (outcome, canceled_at) = thread::scope(|s| {
        let mut sink = live.clone();
        let token = cancel.clone();
        let (config, request) = (&config, &build.request);
        let running = s.spawn(move || koper_sandbox::run_build(config, request, &mut sink, &token));
        let waited = Instant::now();
        while !live.text().contains("koper-sleeper-started")
            && waited.elapsed() < Duration::from_secs(120)
        {
            thread::sleep(Duration::from_millis(50));
        }
        let canceled_at = Instant::now();
        cancel.cancel();
        (running.join(), canceled_at)
    });
    let outcome = outcome.map_err(|_| anyhow::anyhow!("the build thread panicked"))??;
    let stop = canceled_at.elapsed();
    assert_eq!(outcome, BuildOutcome::Canceled, "{}", live.text());
    assert!(stop < Duration::from_secs(3), "took {stop:?} to stop");
    eprintln!("cancel took {:.2} s", stop.as_secs_f64());
    assert_nothing_left(marker, work.path())
}

#[test]
fn a_build_printing_megabytes_hits_the_log_limit() -> anyhow::Result<()> {
    let mut build = Build::fixture("flood")?;
    let limit = 1 << 20;
    build.request.max_log_bytes = limit;
    let done = build.run()?;
    assert_eq!(done.outcome, BuildOutcome::LogLimitExceeded);
    let size = fs::metadata(done.result_dir.join("build.log"))?.len();
    assert!(size <= limit + 4096, "build.log is {size} bytes");
    assert!(size >= limit, "the log was kept up to the limit");
    assert!(
        done.build_log
            .ends_with("koper: the log grew past its limit; the build was killed\n")
    );
    assert!(done.took < Duration::from_secs(60));
    Ok(())
}
