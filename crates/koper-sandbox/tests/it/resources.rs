//! Resource limits: memory and processes through the build's cgroups
//! (v1 or v2, whichever has the controller), file size through
//! RLIMIT_FSIZE.

use koper_sandbox::{BuildOutcome, CancelToken, ResourceLimits, run_build};

use std::time::{Duration, Instant};

use crate::{Build, SharedLog, env};

fn hog(what: &str, limits: ResourceLimits) -> anyhow::Result<(BuildOutcome, String)> {
    let build = Build::fixture("hog")?.define("hog", what);
    let mut config = env().config(build.uid);
    config.limits = limits;
    let mut live = SharedLog::default();
    let outcome = run_build(&config, &build.request, &mut live, &CancelToken::new())?;
    eprintln!("hog {what}: {outcome:?}");
    Ok((outcome, live.text()))
}

fn failure_reason(outcome: &BuildOutcome, log: &str) -> String {
    match outcome {
        BuildOutcome::Failed { reason } => reason.clone(),
        other => panic!("expected a failure, got {other:?}\n{log}"),
    }
}

#[test]
fn a_build_over_its_memory_limit_is_killed_and_told_so() -> anyhow::Result<()> {
    let limits = ResourceLimits {
        memory_bytes: Some(256 << 20),
        ..ResourceLimits::default()
    };
    let (outcome, log) = hog("memory", limits)?;
    let reason = failure_reason(&outcome, &log);
    assert!(
        reason.contains("ran out of memory (limit 256 MiB)"),
        "{reason}\n{log}"
    );
    assert!(!log.contains("HOG-SURVIVED"));
    Ok(())
}

#[test]
fn a_build_over_its_process_limit_fails_and_told_so() -> anyhow::Result<()> {
    let limits = ResourceLimits {
        max_processes: Some(64),
        ..ResourceLimits::default()
    };
    let (outcome, log) = hog("processes", limits)?;
    let reason = failure_reason(&outcome, &log);
    assert!(reason.contains("limit of 64 processes"), "{reason}\n{log}");
    assert!(!log.contains("HOG-SURVIVED"));
    Ok(())
}

#[test]
fn a_build_writing_a_file_over_the_size_limit_fails() -> anyhow::Result<()> {
    let limits = ResourceLimits {
        max_file_bytes: Some(1 << 20),
        ..ResourceLimits::default()
    };
    let (outcome, log) = hog("file", limits)?;
    failure_reason(&outcome, &log);
    assert!(log.contains("File size limit exceeded"), "{log}");
    assert!(!log.contains("HOG-SURVIVED"));
    Ok(())
}

#[test]
fn a_build_filling_the_disk_is_killed_and_its_files_go() -> anyhow::Result<()> {
    let limits = ResourceLimits {
        max_file_bytes: Some(8 << 20),
        max_disk_bytes: Some(64 << 20),
        ..ResourceLimits::default()
    };
    let (outcome, log) = hog("disk", limits)?;
    let reason = failure_reason(&outcome, &log);
    assert!(
        reason.contains("filled more than 64 MiB of disk"),
        "{reason}\n{log}"
    );
    assert!(!log.contains("HOG-SURVIVED"));
    // The builder is fine: the next build on it succeeds.
    let next = Build::testkit("hello")?.run()?;
    next.packages()?;
    Ok(())
}

#[test]
fn a_fork_bomb_is_contained_and_the_next_build_is_unaffected() -> anyhow::Result<()> {
    let mut build = Build::fixture("hog")?.define("hog", "forkbomb");
    build.request.timeout = Duration::from_secs(15);
    let mut config = env().config(build.uid);
    config.limits = ResourceLimits {
        max_processes: Some(64),
        ..ResourceLimits::default()
    };
    let mut live = SharedLog::default();
    let started = Instant::now();
    let outcome = run_build(&config, &build.request, &mut live, &CancelToken::new())?;
    let log = live.text();
    assert!(
        matches!(
            outcome,
            BuildOutcome::TimedOut | BuildOutcome::Failed { .. }
        ),
        "{outcome:?}\n{log}"
    );
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(!log.contains("HOG-SURVIVED"));
    // Every bomb died with the build: no process of that uid is left
    // (the kernel gets a moment to reap the namespace's last ones).
    let deadline = Instant::now() + Duration::from_secs(3);
    while !processes_of_uid(build.uid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<String> = processes_of_uid(build.uid)
        .into_iter()
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!(
                "{pid} {:?} {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " "),
                status.lines().take(3).collect::<Vec<_>>().join(" ")
            )
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let next = Build::testkit("hello")?.run()?;
    next.packages()?;
    Ok(())
}

/// Host processes running as `uid`.
fn processes_of_uid(uid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let owner = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_owned));
        if owner.as_deref() == Some(uid.to_string().as_str()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn limits_leave_ordinary_builds_alone() -> anyhow::Result<()> {
    let build = Build::testkit("hello-c")?;
    let mut config = env().config(build.uid);
    config.limits = ResourceLimits {
        memory_bytes: Some(1 << 30),
        max_processes: Some(256),
        max_file_bytes: Some(256 << 20),
        max_disk_bytes: Some(1 << 30),
    };
    let outcome = run_build(
        &config,
        &build.request,
        &mut SharedLog::default(),
        &CancelToken::new(),
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    Ok(())
}
