//! Resource limits: memory and processes through the build's cgroups
//! (v1 or v2, whichever has the controller), file size through
//! RLIMIT_FSIZE.

use koper_sandbox::{BuildOutcome, CancelToken, ResourceLimits, run_build};

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
fn limits_leave_ordinary_builds_alone() -> anyhow::Result<()> {
    let build = Build::testkit("hello-c")?;
    let mut config = env().config(build.uid);
    config.limits = ResourceLimits {
        memory_bytes: Some(1 << 30),
        max_processes: Some(256),
        max_file_bytes: Some(256 << 20),
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
