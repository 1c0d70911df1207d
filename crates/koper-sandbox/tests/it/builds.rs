//! Builds that should work, and one that should fail.

use std::fs;

use koper_sandbox::{
    BuildOutcome, CancelToken, DiscardLog, Linter, run_build, run_build_linting_later,
};

use crate::{Build, env, make_repo, query, serve_dir};

#[test]
fn hello_noarch_builds_and_rpm_reads_it() -> anyhow::Result<()> {
    let build = Build::testkit("hello")?.define("vendor", "Koper Tests");
    let done = build.run()?;
    let packages = done.packages()?;
    assert_eq!(packages.len(), 1, "{packages:?}");
    let package = &packages[0];
    assert_eq!(
        package.file_name().unwrap_or_default(),
        "hello-1.0-1.noarch.rpm",
        "flat output names"
    );
    assert_eq!(package.parent(), Some(done.result_dir.as_path()));
    assert_eq!(
        query(package, "%{NAME} %{VERSION} %{ARCH} %{VENDOR}")?,
        "hello 1.0 noarch Koper Tests"
    );
    let files = query(package, "[%{FILENAMES}\n]")?;
    assert!(files.contains("/usr/bin/hello"), "{files}");
    // Owned by the builder, not by the sandbox uid.
    let meta = fs::metadata(package)?;
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), 0);
    assert!(
        check_ran(&done.build_log, " ./hello"),
        "the %check ran\n{}",
        done.logs()
    );
    // No BuildRequires: dnf is not even started.
    assert!(
        done.root_log
            .contains("the source package has no BuildRequires: nothing to install"),
        "{}",
        done.logs()
    );
    assert!(!done.root_log.contains("dnf builddep"), "{}", done.logs());
    assert!(done.live.contains("koper: running rpmbuild"));
    Ok(())
}

#[test]
fn hello_c_compiles_and_runs_its_check() -> anyhow::Result<()> {
    let build = Build::testkit("hello-c")?;
    let done = build.run()?;
    let packages = done.packages()?;
    assert_eq!(packages.len(), 1, "{packages:?}");
    let name = packages[0]
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    assert_eq!(
        name,
        format!("hello-c-2.1-3.{}.rpm", std::env::consts::ARCH)
    );
    assert_eq!(
        query(&packages[0], "%{NAME}-%{VERSION}-%{RELEASE}")?,
        "hello-c-2.1-3"
    );
    // gcc and make are in the host's base root as they are.
    assert!(
        done.root_log
            .contains("the base root has all 2 BuildRequires: nothing to install"),
        "{}",
        done.logs()
    );
    assert!(
        check_ran(&done.build_log, "./hello-c"),
        "the %check ran the program\n{}",
        done.logs()
    );
    Ok(())
}

/// Whether the shell's trace of `%check` shows `word`. The build shell is
/// dash, which traces a command one word per write, and both sides of a
/// pipeline trace at once: "+ sh ./hello" may reach the log as
/// "+ sh+ grep ./hello", so only a single word is looked for.
fn check_ran(build_log: &str, word: &str) -> bool {
    build_log
        .find("Executing(%check)")
        .is_some_and(|check| build_log[check..].contains(word))
}

#[test]
fn a_failing_build_fails_with_its_log_kept() -> anyhow::Result<()> {
    let build = Build::testkit("fails")?;
    let done = build.run()?;
    let BuildOutcome::Failed { reason } = &done.outcome else {
        panic!("expected a failure: {:?}\n{}", done.outcome, done.logs());
    };
    assert!(reason.contains("rpmbuild"), "{reason}");
    assert!(
        done.build_log.contains("this build is meant to fail"),
        "{}",
        done.logs()
    );
    assert!(done.live.contains("this build is meant to fail"));
    let rpms: Vec<_> = fs::read_dir(&done.result_dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".rpm"))
        .collect();
    assert!(rpms.is_empty());
    Ok(())
}

#[test]
fn missing_build_requires_fail_in_root_log() -> anyhow::Result<()> {
    let done = Build::fixture("missing-dep")?.run()?;
    let BuildOutcome::Failed { reason } = &done.outcome else {
        panic!("expected a failure: {:?}\n{}", done.outcome, done.logs());
    };
    assert!(reason.contains("root.log"), "{reason}");
    assert!(
        done.root_log.contains("koper-no-such-package"),
        "{}",
        done.logs()
    );
    Ok(())
}

#[test]
fn build_requires_come_from_extra_repos_and_link_from_usr_lib64() -> anyhow::Result<()> {
    // Served over HTTP on 127.0.0.1, as the builder gets project repos.
    let repo_dir = tempfile::tempdir()?;
    let mut repo = make_repo("koper-test-deps", &["koper-dep"], repo_dir.path())?;
    repo.baseurl = Some(format!("http://127.0.0.1:{}/", serve_dir(repo_dir.path())?));
    let mut build = Build::fixture("uses-dep")?;
    build.request.extra_repos.push(repo);
    let done = build.run()?;
    let packages = done.packages()?;
    assert_eq!(packages.len(), 1);
    assert!(done.root_log.contains("koper-dep"), "{}", done.logs());
    assert!(
        done.build_log.contains("hello from koperdep"),
        "{}",
        done.logs()
    );
    Ok(())
}

#[test]
fn invalid_requests_are_refused_before_anything_runs() -> anyhow::Result<()> {
    let mut build = Build::testkit("hello")?;
    build.request.macros.insert("bad name".into(), "x".into());
    let err = run_build(
        &env().config(build.uid),
        &build.request,
        &mut DiscardLog,
        &CancelToken::new(),
    )
    .expect_err("a bad macro name");
    assert!(err.to_string().contains("not a macro name"), "{err}");
    Ok(())
}

#[test]
fn rpmlint_can_run_after_the_build_is_reported() -> anyhow::Result<()> {
    let build = Build::testkit("hello-c")?;
    let findings = tempfile::tempdir()?;
    let lint_log = findings.path().join("rpmlint.log");
    let mut live = crate::SharedLog::default();
    let mut reported = Vec::new();
    let mut built = |outcome: &BuildOutcome| {
        // The packages and logs are complete; rpmlint has not run yet.
        reported.push((outcome.clone(), lint_log.exists()));
    };
    let outcome = run_build_linting_later(
        &env().config(build.uid),
        &build.request,
        &mut live,
        &CancelToken::new(),
        &mut built,
        &lint_log,
        &Linter::new(),
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    assert_eq!(reported.len(), 1, "told once");
    let (told, linted_before) = &reported[0];
    assert!(matches!(told, BuildOutcome::Succeeded { packages } if packages.len() == 1));
    assert!(!linted_before, "told before rpmlint ran");
    let lint = fs::read_to_string(&lint_log)?;
    assert!(
        lint.contains("hello-c") && lint.contains("checked"),
        "{lint}"
    );
    // Nothing of rpmlint in the result directory or the logs sent with it.
    let dir = &build.request.result_dir;
    assert!(!dir.join("rpmlint.log").exists());
    let build_log = fs::read_to_string(dir.join("build.log"))?;
    assert!(build_log.contains("rpmbuild succeeded"), "{build_log}");
    assert!(!build_log.contains("rpmlint"), "{build_log}");
    assert!(!live.text().contains("rpmlint"), "{}", live.text());
    Ok(())
}

#[test]
fn a_failed_build_is_not_reported_early() -> anyhow::Result<()> {
    let build = Build::testkit("fails")?;
    let findings = tempfile::tempdir()?;
    let mut told = 0;
    let outcome = run_build_linting_later(
        &env().config(build.uid),
        &build.request,
        &mut DiscardLog,
        &CancelToken::new(),
        &mut |_| told += 1,
        &findings.path().join("rpmlint.log"),
        &Linter::new(),
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Failed { .. }),
        "{outcome:?}"
    );
    assert_eq!(told, 0);
    assert!(!findings.path().join("rpmlint.log").exists());
    Ok(())
}

#[test]
fn rpmlint_findings_are_kept_and_never_fail_the_build() -> anyhow::Result<()> {
    // rpmlint finds errors in hello-c (on this host: 3 errors, 4
    // warnings); whatever it finds, the build succeeds.
    let build = Build::testkit("hello-c")?;
    let done = build.run()?;
    done.packages()?;
    let lint = std::fs::read_to_string(done.result_dir.join("rpmlint.log"))?;
    assert!(lint.contains("hello-c"), "{lint}");
    assert!(lint.contains("checked"), "{lint}");
    assert!(
        done.build_log
            .contains("rpmlint (findings never fail a build"),
        "{}",
        done.logs()
    );
    Ok(())
}

/// rpmlint's findings without the time its summary says it took.
fn findings_of(log: &str) -> Vec<String> {
    log.lines()
        .filter(|line| line.contains(": W: ") || line.contains(": E: ") || line.contains("checked"))
        .map(|line| line.split("has taken").next().unwrap_or(line).to_owned())
        .collect()
}

/// Builds hello-c with rpmlint trailing it through `linter`; its findings.
fn linted_through(linter: &Linter) -> anyhow::Result<Vec<String>> {
    let build = Build::testkit("hello-c")?;
    let findings = tempfile::tempdir()?;
    let lint_log = findings.path().join("rpmlint.log");
    let outcome = run_build_linting_later(
        &env().config(build.uid),
        &build.request,
        &mut DiscardLog,
        &CancelToken::new(),
        &mut |_| {},
        &lint_log,
        linter,
    )?;
    assert!(
        matches!(outcome, BuildOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    Ok(findings_of(&fs::read_to_string(&lint_log)?))
}

#[test]
fn rpmlint_through_the_warm_server_finds_what_rpmlint_finds() -> anyhow::Result<()> {
    let build = Build::testkit("hello-c")?;
    let inline = build.run()?;
    let expected = findings_of(&fs::read_to_string(inline.result_dir.join("rpmlint.log"))?);
    assert!(
        expected.iter().any(|line| line.contains("hello-c")),
        "{expected:?}"
    );
    let linter = Linter::new();
    for _ in 0..2 {
        assert_eq!(linted_through(&linter)?, expected);
    }
    assert_eq!(linter.servers_started(), 1, "the second check reused it");
    Ok(())
}

#[test]
fn a_killed_rpmlint_server_loses_no_findings_and_is_replaced() -> anyhow::Result<()> {
    let linter = Linter::new();
    let expected = linted_through(&linter)?;
    let servers = crate::processes_with_arg("/builddir/lint-server.py");
    assert!(!servers.is_empty(), "no server running");
    for pid in servers {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    // The check finds the server gone and runs rpmlint the ordinary way.
    assert_eq!(linted_through(&linter)?, expected);
    assert_eq!(linted_through(&linter)?, expected);
    assert_eq!(linter.servers_started(), 2, "a new server took over");
    Ok(())
}
