//! The real server, started as a child process for one test.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// A `koper serve` child process with its own data directory, killed when
/// dropped.
pub struct TestServer {
    /// The URL it answers on.
    pub url: String,
    /// The `koper` binary under test.
    pub koper: PathBuf,
    dir: tempfile::TempDir,
    child: Child,
}

/// A user of a [`TestServer`] with its client configuration file.
pub struct TestUser {
    /// The user's name.
    pub name: String,
    /// Its `koper.toml`.
    pub config: PathBuf,
    /// Its API token.
    pub token: String,
    koper: PathBuf,
    home: PathBuf,
}

impl TestServer {
    /// Starts `koper serve` on an ephemeral port with one local builder.
    pub fn start(koper: &Path) -> anyhow::Result<Self> {
        Self::start_with(koper, &[])
    }

    /// Starts `koper serve` with extra arguments.
    pub fn start_with(koper: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        Self::start_configured(koper, extra_args, "")
    }

    /// Starts `koper serve` with extra arguments and a `koper.toml`.
    pub fn start_configured(
        koper: &Path,
        extra_args: &[&str],
        settings: &str,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("koper-test-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("var"))?;
        std::fs::write(dir.path().join("var/koper.toml"), settings)?;
        // The sandbox's unprivileged build users must traverse the builder
        // directory's ancestors.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let mut child = Command::new(koper)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("var"))
            .arg("--builder-dir")
            .arg(dir.path().join("builder"))
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("KOPER_LOG", "info,tower_http=warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("serve.log"))?)
            .spawn()
            .context("starting koper serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next() else {
                let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
                bail!("koper serve exited before it was ready:\n{log}");
            };
            if let Some(rest) = line?.strip_prefix("koper is ready at ") {
                break rest.trim_end_matches('/').to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            url,
            koper: koper.to_owned(),
            dir,
            child,
        })
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("var")
    }

    /// The local builder's directory.
    pub fn builder_dir(&self) -> PathBuf {
        self.dir.path().join("builder")
    }

    /// A scratch directory of this test.
    pub fn scratch(&self, name: &str) -> anyhow::Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(&path)?;
        Ok(path)
    }

    /// The server's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Creates a user with `koper admin add-user` and writes its config.
    pub fn add_user(&self, name: &str) -> anyhow::Result<TestUser> {
        let output = Command::new(&self.koper)
            .args(["admin", "add-user", name, "--data-dir"])
            .arg(self.data_dir())
            .output()?;
        if !output.status.success() {
            bail!(
                "koper admin add-user failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let config_text = String::from_utf8(output.stdout)?;
        let token = config_text
            .lines()
            .find_map(|l| l.strip_prefix("token = \""))
            .and_then(|l| l.strip_suffix('"'))
            .context("no token in add-user output")?
            .to_owned();
        let home = self.scratch(&format!("home-{name}"))?;
        let config = home.join("koper.toml");
        std::fs::write(&config, config_text)?;
        Ok(TestUser {
            name: name.to_owned(),
            config,
            token,
            koper: self.koper.clone(),
            home,
        })
    }

    /// Waits until `path` (relative to the data directory) exists.
    pub fn wait_for_file(&self, path: &str, timeout: Duration) -> bool {
        let full = self.data_dir().join(path);
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if full.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestUser {
    /// A `koper` command run as this user (its config, a private HOME,
    /// no colours).
    pub fn koper(&self) -> Command {
        let mut command = Command::new(&self.koper);
        command
            .env("KOPER_CONFIG", &self.config)
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .env_remove("KOPER_URL")
            .env_remove("KOPER_TOKEN")
            .env_remove("KOPER_USER");
        command
    }

    /// Runs `koper ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.koper().args(args).output()?)
    }
}
