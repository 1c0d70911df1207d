//! The real `copr-cli` (from PyPI, pinned) against a real koper server:
//! the commands packagers and CI scripts run against Copr, with their exit
//! codes and the output scripts parse.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{World, assert_exit, assert_success, host_chroot, stderr, stdout};

/// The copr-cli release these tests pin.
const COPR_CLI_VERSION: &str = "2.6";

/// copr-cli in a virtual environment of its own, installed once per test
/// run from PyPI.
fn copr_cli_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let venv =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("copr-cli-{COPR_CLI_VERSION}"));
        let bin = venv.join("bin/copr-cli");
        if !bin.exists() {
            let run = |command: &mut Command| {
                let out = command.output().expect("run python3");
                assert!(
                    out.status.success(),
                    "installing copr-cli failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            run(Command::new(venv.join("bin/pip")).args([
                "install",
                "--quiet",
                &format!("copr-cli=={COPR_CLI_VERSION}"),
            ]));
        }
        bin
    })
}

/// Adds a certificate to the bundle python-copr verifies with. copr-cli
/// honours `REQUESTS_CA_BUNDLE` on ordinary calls, but its pager sends
/// follow-up pages with a prepared request that skips the environment and
/// checks against certifi's bundle alone, so a private CA has to be there
/// too (as it would be for anyone running copr-cli against such a server).
fn trust_in_venv(cert: &Path) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().unwrap();
    let venv = copr_cli_bin().parent().unwrap();
    let out = Command::new(venv.join("python"))
        .args(["-c", "import certifi; print(certifi.where())"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut text = std::fs::read_to_string(&bundle).unwrap();
    text.push('\n');
    text.push_str(&std::fs::read_to_string(cert).unwrap());
    std::fs::write(&bundle, text).unwrap();
}

/// A copr-cli user: its config file, a private HOME, and the server's
/// certificate to trust (copr-cli refuses plain HTTP by default).
struct CoprCli {
    config: PathBuf,
    home: PathBuf,
    ca_bundle: PathBuf,
}

impl CoprCli {
    fn new(world: &World, name: &str, login: &str, token: &str) -> Self {
        let home = world
            .server
            .scratch(&format!("copr-{name}-{login}-{}", &token[..4]))
            .unwrap();
        let config = home.join("copr.conf");
        std::fs::write(
            &config,
            format!(
                "[copr-cli]\nlogin = {login}\nusername = {name}\ntoken = {token}\n\
                 copr_url = {}\n",
                world.server.url
            ),
        )
        .unwrap();
        let ca_bundle = world.server.ca_cert.clone().expect("an HTTPS server");
        trust_in_venv(&ca_bundle);
        // download-build runs wget, which reads its trust from ~/.wgetrc.
        std::fs::write(
            home.join(".wgetrc"),
            format!("ca_certificate = {}\n", ca_bundle.display()),
        )
        .unwrap();
        Self {
            config,
            home,
            ca_bundle,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        // Through the venv's own python, not the script's shebang: a venv
        // copied elsewhere (a reused target directory) keeps working.
        let bin = copr_cli_bin();
        Command::new(bin.parent().unwrap().join("python"))
            .arg(bin)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("HOME", &self.home)
            .env("REQUESTS_CA_BUNDLE", &self.ca_bundle)
            .output()
            .unwrap()
    }
}

/// The build ids copr-cli printed (`Created builds: 1 2`).
fn created_builds(out: &Output) -> Vec<String> {
    stdout(out)
        .lines()
        .find_map(|l| l.strip_prefix("Created builds: "))
        .unwrap_or_else(|| panic!("no build id in:\n{}\n{}", stdout(out), stderr(out)))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn wait_for_state(cli: &CoprCli, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = cli.run(&["status", id]);
        if stdout(&out).trim() == state {
            return;
        }
        assert!(Instant::now() < deadline, "build {id} never became {state}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn copr_cli_drives_a_project_from_create_to_delete() {
    let world = World::with_tls();
    assert!(
        world.server.url.starts_with("https://"),
        "{}",
        world.server.url
    );
    let alice = CoprCli::new(&world, "alice", "alice", &world.alice.token);
    let host = host_chroot();
    let srpm = world.srpm("hello");

    // A project with two chroots; builds go to the one this host builds.
    let out = alice.run(&[
        "create",
        "tools",
        "--chroot",
        &host,
        "--chroot",
        "fedora-42-x86_64",
        "--description",
        "handy tools",
    ]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{}/coprs/alice/tools/", world.server.url)),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["list", "alice"]);
    assert_success(&out);
    assert!(stdout(&out).contains("Name: tools"), "{}", stdout(&out));
    assert!(stdout(&out).contains("handy tools"), "{}", stdout(&out));

    // Upload a source RPM and wait for it (copr-cli polls every 30 s).
    let out = alice.run(&["build", "tools", srpm.to_str().unwrap(), "-r", &host]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("Build was added to tools"),
        "{}",
        stdout(&out)
    );
    let id = created_builds(&out).remove(0);
    assert!(
        stdout(&out).contains(&format!("Build {id}: succeeded")),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["status", &id]);
    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "succeeded");

    // A build from a URL (one build per URL, answered as a list).
    let served = koper_testkit::serve_dir(srpm.parent().unwrap()).unwrap();
    let url = format!("{served}/{}", srpm.file_name().unwrap().to_str().unwrap());
    let out = alice.run(&["build", "tools", &url, "-r", &host]);
    assert_success(&out);
    let from_url = created_builds(&out).remove(0);
    assert!(
        stdout(&out).contains(&format!("Build {from_url}: succeeded")),
        "{}",
        stdout(&out)
    );

    // Listings.
    let out = alice.run(&["list-builds", "tools"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{id}\thello\tsucceeded")),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["list-packages", "tools"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("\"name\": \"hello\""),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&[
        "get-package",
        "tools",
        "--name",
        "hello",
        "--with-latest-build",
    ]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("\"id\": {id}")),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["list-chroots"]);
    assert_success(&out);
    assert!(stdout(&out).lines().any(|l| l == host), "{}", stdout(&out));
    // Extra buildroot packages per chroot.
    let out = alice.run(&[
        "edit-chroot",
        &format!("tools/{host}"),
        "--packages",
        "make",
    ]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("Edit chroot operation was successful."),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["get-chroot", &format!("tools/{host}")]);
    assert_success(&out);
    assert!(stdout(&out).contains("\"mock_chroot\""), "{}", stdout(&out));
    assert!(stdout(&out).contains("\"make\""), "{}", stdout(&out));
    let out = alice.run(&["mock-config", "alice/tools", &host]);
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("{}/results/alice/tools/{host}/", world.server.url)),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["monitor", "tools"]);
    assert_success(&out);
    assert!(stdout(&out).contains("succeeded"), "{}", stdout(&out));

    // download-build fetches the results over the listings (of the newer
    // build: the project keeps one build per package, so the first one
    // was pruned when the second succeeded).
    let dest = world.server.scratch("downloaded").unwrap();
    let out = alice.run(&[
        "download-build",
        &from_url,
        "--dest",
        dest.to_str().unwrap(),
    ]);
    assert_success(&out);
    let published = world
        .results()
        .join(format!("alice/tools/{host}/{:0>8}-hello", from_url));
    let mut expected: Vec<String> = std::fs::read_dir(&published)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".rpm"))
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    for name in &expected {
        let got = std::fs::read(dest.join(&host).join(name))
            .unwrap_or_else(|e| panic!("{name} was not downloaded: {e}"));
        assert_eq!(got, std::fs::read(published.join(name)).unwrap(), "{name}");
    }

    // A failing build exits 4.
    let out = alice.run(&[
        "build",
        "tools",
        world.srpm("fails").to_str().unwrap(),
        "-r",
        &host,
    ]);
    assert_exit(&out, 4);
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));

    // Cancel a running build.
    let out = alice.run(&[
        "build",
        "--nowait",
        "tools",
        world.srpm("sleeper").to_str().unwrap(),
    ]);
    assert_success(&out);
    let sleeper = created_builds(&out).remove(0);
    wait_for_state(&alice, &sleeper, "running");
    let out = alice.run(&["cancel", &sleeper]);
    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "canceled");
    wait_for_state(&alice, &sleeper, "canceled");
    let out = alice.run(&["watch-build", &sleeper]);
    assert_exit(&out, 4);

    // Delete a build.
    // A canceled build may take a moment to stop; copr-cli says so.
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let out = alice.run(&["delete-build", &sleeper]);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        assert!(
            stderr(&out).contains("has not stopped yet"),
            "{}",
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("Build(s) {sleeper} were deleted.")),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["status", &sleeper]);
    assert_exit(&out, 1);

    // Change the project, regenerate its repos.
    let out = alice.run(&["modify", "tools", "--description", "sharper tools"]);
    assert_success(&out);
    let out = alice.run(&["get", "alice/tools"]);
    assert_success(&out);
    assert!(stdout(&out).contains("sharper tools"), "{}", stdout(&out));
    let out = alice.run(&["regenerate-repos", "alice/tools"]);
    assert_success(&out);

    // Refusals: a wrong token is a 403 (exit 7), someone else's project
    // too; an unknown project is exit 1.
    let mallory = CoprCli::new(&world, "alice", "alice", "not-the-token");
    let out = mallory.run(&["build", "tools", srpm.to_str().unwrap()]);
    assert_exit(&out, 7);
    let bob = world.server.add_user("bob").unwrap();
    let bob_cli = CoprCli::new(&world, "bob", "bob", &bob.token);
    let out = bob_cli.run(&["build", "alice/tools", srpm.to_str().unwrap()]);
    assert_exit(&out, 7);
    let out = bob_cli.run(&["delete", "alice/tools"]);
    assert_exit(&out, 7);
    let out = alice.run(&["get", "alice/nothing"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    // Fork: the copy has the newest builds, re-signed.
    let out = alice.run(&["fork", "alice/tools", "tools-fork"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("Forking project alice/tools for you into alice/tools-fork"),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["list-builds", "alice/tools-fork"]);
    assert_success(&out);
    assert!(stdout(&out).contains("succeeded"), "{}", stdout(&out));
    let out = alice.run(&["fork", "alice/tools", "tools-fork"]);
    assert_exit(&out, 1);

    // Permissions: bob asks to build, alice sees the request and grants it.
    let out = bob_cli.run(&["request-permissions", "alice/tools", "--builder"]);
    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "success");
    let out = bob_cli.run(&["list-permissions", "alice/tools"]);
    assert_exit(&out, 7);
    let out = alice.run(&["list-permissions", "alice/tools"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("bob:\n  admin: nothing\n  builder: request"),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&["edit-permissions", "alice/tools", "--builder", "nobody"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("user nobody does not exist"),
        "{}",
        stderr(&out)
    );
    let out = alice.run(&["edit-permissions", "alice/tools", "--builder", "bob"]);
    assert_success(&out);
    assert_eq!(stdout(&out).trim(), "success");
    let out = bob_cli.run(&["build", "alice/tools", srpm.to_str().unwrap(), "--nowait"]);
    assert_success(&out);
    let out = bob_cli.run(&["request-permissions", "alice/tools", "--builder", "nothing"]);
    assert_success(&out);
    let out = bob_cli.run(&["build", "alice/tools", srpm.to_str().unwrap(), "--nowait"]);
    assert_exit(&out, 7);

    // Delete the project: its repos go with it.
    let out = alice.run(&["delete", "tools"]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("has been deleted"),
        "{}",
        stdout(&out)
    );
    assert!(!world.results().join("alice/tools").exists());
    let out = alice.run(&["list-builds", "tools"]);
    assert_exit(&out, 1);
}

#[test]
fn a_refused_copr_upload_leaves_no_file_behind() {
    let world = World::new();
    let srpm = world.srpm("hello");
    let spool = world.server.data_dir().join("spool");
    let upload = |json: &str| {
        let form = reqwest::blocking::multipart::Form::new()
            .file("pkgs", &srpm)
            .unwrap()
            .part(
                "json",
                reqwest::blocking::multipart::Part::text(json.to_owned())
                    .file_name("json")
                    .mime_str("application/json")
                    .unwrap(),
            );
        reqwest::blocking::Client::new()
            .post(format!("{}/api_3/build/create/upload", world.server.url))
            .basic_auth("alice", Some(&world.alice.token))
            .multipart(form)
            .send()
            .unwrap()
    };
    // Refused after the file was received: a bad batch option, an unknown
    // project, a chroot the project lacks.
    for json in [
        r#"{"ownername": "alice", "projectname": "hello", "after_build_id": "abc"}"#,
        r#"{"ownername": "alice", "projectname": "nothing"}"#,
        r#"{"ownername": "alice", "projectname": "hello", "chroots": ["fedora-42-x86_64"]}"#,
    ] {
        let response = upload(json);
        assert!(
            response.status().is_client_error(),
            "{json}: {}",
            response.status()
        );
        let body: serde_json::Value = response.json().unwrap();
        assert!(body["error"].is_string(), "{body}");
        let left: Vec<_> = std::fs::read_dir(&spool).unwrap().collect();
        assert!(left.is_empty(), "{json}: {left:?}");
    }
}

#[test]
fn copr_cli_builds_from_git_and_packages_with_a_default_source() {
    let world = World::with_tls();
    let alice = CoprCli::new(&world, "alice", "alice", &world.alice.token);
    let host = host_chroot();
    let url = crate::scm::hello_repo(&world);
    let out = alice.run(&["create", "gitty", "--chroot", &host]);
    assert_success(&out);

    let out = alice.run(&[
        "buildscm",
        "gitty",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--spec",
        "hello.spec",
        "--nowait",
    ]);
    assert_success(&out);
    let id = created_builds(&out).remove(0);
    wait_for_state(&alice, &id, "succeeded");
    let out = alice.run(&[
        "buildscm",
        "gitty",
        "--clone-url",
        &url,
        "--method",
        "tito",
        "--nowait",
    ]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("not supported"), "{}", stderr(&out));

    let out = alice.run(&[
        "add-package-scm",
        "gitty",
        "--name",
        "hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
        "--commit",
        "v2",
        "--webhook-rebuild",
        "on",
    ]);
    assert_success(&out);
    assert!(
        stdout(&out).contains("Create or edit operation was successful."),
        "{}",
        stdout(&out)
    );
    let out = alice.run(&[
        "add-package-scm",
        "gitty",
        "--name",
        "hello",
        "--clone-url",
        &url,
    ]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    let out = alice.run(&["build-package", "gitty", "--name", "hello", "--nowait"]);
    assert_success(&out);
    let id = created_builds(&out).remove(0);
    wait_for_state(&alice, &id, "succeeded");
    let out = alice.run(&[
        "get-package",
        "gitty",
        "--name",
        "hello",
        "--with-latest-build",
    ]);
    assert_success(&out);
    let package: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(package["source_type"], "scm");
    assert_eq!(package["source_dict"]["committish"], "v2");
    assert_eq!(package["auto_rebuild"], true);
    assert_eq!(
        package["latest_build"]["source_package"]["version"],
        "2.0-1"
    );

    // Reset: no source, so nothing to build from until it is edited.
    let out = alice.run(&["reset-package", "gitty", "--name", "hello"]);
    assert_success(&out);
    let out = alice.run(&["get-package", "gitty", "--name", "hello"]);
    assert_success(&out);
    let package: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(package["source_type"], "unset", "{package}");
    assert_eq!(package["source_dict"], serde_json::json!({}), "{package}");
    let out = alice.run(&["build-package", "gitty", "--name", "hello", "--nowait"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has no default source"),
        "{}",
        stderr(&out)
    );

    // copr-cli sends empty strings for what is not given: back to main.
    let out = alice.run(&[
        "edit-package-scm",
        "gitty",
        "--name",
        "hello",
        "--clone-url",
        &url,
        "--subdir",
        "pkg",
    ]);
    assert_success(&out);
    let out = alice.run(&["list-packages", "gitty"]);
    assert_success(&out);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed[0]["source_dict"]["committish"], "", "{listed}");
    assert_eq!(listed[0]["source_dict"]["subdirectory"], "pkg");

    let out = alice.run(&["delete-package", "gitty", "--name", "hello"]);
    assert_success(&out);
    let out = alice.run(&["build-package", "gitty", "--name", "hello", "--nowait"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has no package hello"),
        "{}",
        stderr(&out)
    );
}
