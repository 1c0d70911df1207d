//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use koper_testkit::{TestServer, TestUser};

/// The binary under test.
pub fn koper_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_koper"))
}

/// A started server and a user `alice` with a project `alice/hello` on the
/// host chroot.
pub struct World {
    pub server: TestServer,
    pub alice: TestUser,
}

/// The host chroot of this machine.
pub fn host_chroot() -> String {
    format!("host-1-{}", std::env::consts::ARCH)
}

impl World {
    pub fn new() -> Self {
        Self::with_args(&[])
    }

    pub fn with_args(args: &[&str]) -> Self {
        Self::configured(args, "")
    }

    /// A world whose server has these `koper.toml` settings.
    pub fn configured(args: &[&str], settings: &str) -> Self {
        Self::around(
            TestServer::start_configured(koper_bin(), args, settings).expect("server starts"),
        )
    }

    /// A world whose server speaks HTTPS (a certificate made for it).
    pub fn with_tls() -> Self {
        Self::around(TestServer::start_tls(koper_bin()).expect("server starts with TLS"))
    }

    fn around(server: TestServer) -> Self {
        let alice = server.add_user("alice").expect("add alice");
        let out = alice
            .run(&["create", "alice/hello", "--chroot", &host_chroot()])
            .unwrap();
        assert_success(&out);
        Self { server, alice }
    }

    /// Builds a fixture SRPM into this test's scratch space.
    pub fn srpm(&self, spec: &str) -> PathBuf {
        let dir = self.server.scratch("srpms").unwrap();
        koper_testkit::build_srpm(spec, &dir).expect("rpmbuild -bs")
    }

    /// Registers a builder with `koper admin add-builder`; its token.
    pub fn add_builder(&self, name: &str) -> String {
        let out = std::process::Command::new(koper_bin())
            .args(["admin", "add-builder", name, "--data-dir"])
            .arg(self.server.data_dir())
            .output()
            .unwrap();
        assert_success(&out);
        stdout(&out).trim().to_owned()
    }

    /// The API's view of a build.
    pub fn build_json(&self, id: u32) -> serde_json::Value {
        reqwest::blocking::get(format!("{}/api/v1/builds/{id}", self.server.url))
            .unwrap()
            .json()
            .unwrap()
    }

    /// The results tree on disk.
    pub fn results(&self) -> PathBuf {
        self.server.data_dir().join("results")
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "command failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
}

#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// Everything below `dir`, relative, sorted (for "nothing was written"
/// checks).
pub fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A gzip file's text.
pub fn gunzip(path: &Path) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}
