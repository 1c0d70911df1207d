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
    /// The certificate clients must trust, when it serves HTTPS.
    pub ca_cert: Option<PathBuf>,
    dir: tempfile::TempDir,
    child: Child,
    /// Declared after `child`: the server is stopped before its database
    /// is dropped.
    postgres: Option<PgDatabase>,
    /// The certificate and key of an HTTPS server: its builder reads them
    /// after start-up, so they live as long as the server.
    tls_dir: Option<tempfile::TempDir>,
    /// What it was started with, to start it again.
    extra_args: Vec<String>,
}

/// Another `koper serve` process of a [`TestServer`]'s instance, killed
/// when dropped.
pub struct OtherServer {
    /// The URL it answers on.
    pub url: String,
    child: Child,
}

impl Drop for OtherServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway PostgreSQL database, dropped when the test ends. The
/// server is `KOPER_TEST_POSTGRES_URL` (default: the local one CI starts).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// Its URL.
    pub url: String,
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .context("running psql (the PostgreSQL client)")?;
    if !out.status.success() {
        bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

impl PgDatabase {
    /// Creates a database with a fresh name.
    pub fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var("KOPER_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!(
            "koper_e2e_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        psql(&admin_url, &format!("CREATE DATABASE {name}"))?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .context("KOPER_TEST_POSTGRES_URL has no database part")?;
        Ok(Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }
}

static NEXT_DATABASE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Spawns `koper serve` on `dir/var` and waits until it says it is ready;
/// its stderr goes to `dir/log_name`.
fn spawn_serve(
    koper: &Path,
    dir: &Path,
    log_name: &str,
    listen: &str,
    extra_args: &[&str],
) -> anyhow::Result<(Child, String)> {
    let mut command = Command::new(koper);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("var"))
        .args(["--listen", listen]);
    if !extra_args.contains(&"--builder-dir") {
        command.arg("--builder-dir").arg(dir.join("builder"));
    }
    let mut child = command
        .args(extra_args)
        .env("KOPER_LOG", "info,tower_http=warn")
        .stdout(Stdio::piped())
        // Appended to, so that a restarted server's log follows the first's.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(log_name))?,
        )
        .spawn()
        .context("starting koper serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            let log = std::fs::read_to_string(dir.join(log_name)).unwrap_or_default();
            let _ = child.wait();
            bail!("koper serve exited before it was ready:\n{log}");
        };
        if let Some(rest) = line?.strip_prefix("koper is ready at ") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, url))
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
    ca_cert: Option<PathBuf>,
}

impl TestServer {
    /// Starts `koper serve` on an ephemeral port with one local builder.
    pub fn start(koper: &Path) -> anyhow::Result<Self> {
        Self::start_with(koper, &[])
    }

    /// Starts `koper serve` over HTTPS with a self-signed certificate for
    /// 127.0.0.1 made by `openssl` for this server.
    pub fn start_tls(koper: &Path) -> anyhow::Result<Self> {
        let certs = tempfile::Builder::new().prefix("koper-tls-").tempdir()?;
        let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                // rustls refuses a CA certificate as a server's own.
                "-addext",
                "basicConstraints=critical,CA:FALSE",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .context("running openssl")?;
        if !status.success() {
            bail!("openssl could not make a certificate");
        }
        let mut server = Self::start_with(
            koper,
            &[
                "--tls-cert",
                cert.to_str().context("path")?,
                "--tls-key",
                key.to_str().context("path")?,
            ],
        )?;
        server.ca_cert = Some(cert);
        server.tls_dir = Some(certs);
        Ok(server)
    }

    /// Starts `koper serve` with extra arguments.
    pub fn start_with(koper: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        Self::start_configured(koper, extra_args, "")
    }

    /// Starts `koper serve` with extra arguments and a `koper.toml`. With
    /// `KOPER_TEST_E2E_DATABASE=postgres` in the environment, the server
    /// gets a fresh PostgreSQL database instead of its SQLite file.
    pub fn start_configured(
        koper: &Path,
        extra_args: &[&str],
        settings: &str,
    ) -> anyhow::Result<Self> {
        let postgres = match std::env::var("KOPER_TEST_E2E_DATABASE").as_deref() {
            Ok("postgres") => Some(PgDatabase::create()?),
            _ => None,
        };
        Self::start_with_database(koper, extra_args, settings, postgres)
    }

    /// Starts `koper serve` on a fresh PostgreSQL database, whatever the
    /// environment says.
    pub fn start_on_postgres(
        koper: &Path,
        extra_args: &[&str],
        settings: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with_database(koper, extra_args, settings, Some(PgDatabase::create()?))
    }

    fn start_with_database(
        koper: &Path,
        extra_args: &[&str],
        settings: &str,
        postgres: Option<PgDatabase>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("koper-test-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("var"))?;
        let mut settings = settings.to_owned();
        if let Some(db) = &postgres {
            // In koper.toml, so that `koper admin` finds it too; first,
            // where a top-level key stays out of the settings' tables.
            settings = format!("database_url = \"{}\"\n{settings}", db.url);
        }
        std::fs::write(dir.path().join("var/koper.toml"), settings)?;
        // The sandbox's unprivileged build users must traverse the builder
        // directory's ancestors.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let (child, url) = spawn_serve(koper, dir.path(), "serve.log", "127.0.0.1:0", extra_args)?;
        Ok(Self {
            extra_args: extra_args.iter().map(|a| (*a).to_owned()).collect(),
            url,
            koper: koper.to_owned(),
            ca_cert: None,
            dir,
            child,
            postgres,
            tls_dir: None,
        })
    }

    /// Starts another `koper serve` process on this server's data
    /// directory and database (several servers of one instance); its log
    /// goes to `serve-NAME.log` beside the first's.
    pub fn another_process(&self, name: &str, extra_args: &[&str]) -> anyhow::Result<OtherServer> {
        let builder_dir = self.dir.path().join(format!("builder-{name}"));
        let mut args = vec!["--builder-dir", builder_dir.to_str().context("path")?];
        args.extend_from_slice(extra_args);
        let (child, url) = spawn_serve(
            &self.koper,
            self.dir.path(),
            &format!("serve-{name}.log"),
            "127.0.0.1:0",
            &args,
        )?;
        Ok(OtherServer { url, child })
    }

    /// Whether this server runs on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.postgres.is_some()
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

    /// Kills the server with SIGKILL, as a crash or the OOM killer would,
    /// and starts it again on the same address, data directory and
    /// database; returns once it is ready again.
    pub fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        let listen = self
            .url
            .rsplit_once("://")
            .map(|(_, address)| address.to_owned())
            .context("the server URL has no scheme")?;
        let args: Vec<&str> = self.extra_args.iter().map(String::as_str).collect();
        let (child, url) = spawn_serve(&self.koper, self.dir.path(), "serve.log", &listen, &args)?;
        self.child = child;
        anyhow::ensure!(url == self.url, "restarted on {url}, not {}", self.url);
        Ok(())
    }

    /// The server's process id (for signals other than SIGKILL).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The PostgreSQL URL of its database, when it runs on PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|db| db.url.as_str())
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Creates a user with `koper admin add-user` and writes its config.
    pub fn add_user(&self, name: &str) -> anyhow::Result<TestUser> {
        self.add_user_with(name, &[])
    }

    /// Creates an administrator of the instance.
    pub fn add_site_admin(&self, name: &str) -> anyhow::Result<TestUser> {
        self.add_user_with(name, &["--admin"])
    }

    fn add_user_with(&self, name: &str, extra_args: &[&str]) -> anyhow::Result<TestUser> {
        let output = Command::new(&self.koper)
            .args(["admin", "add-user", name])
            .args(extra_args)
            .arg("--data-dir")
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
            ca_cert: self.ca_cert.clone(),
        })
    }

    /// Runs one SQL statement on the server's database, with `psql` or
    /// `sqlite3` (to put the instance in a state no command makes, such as
    /// an expired token).
    pub fn sql(&self, statement: &str) -> anyhow::Result<()> {
        if let Some(db) = &self.postgres {
            return psql(&db.url, statement);
        }
        let out = Command::new("sqlite3")
            .arg(self.data_dir().join("koper.db"))
            .arg(statement)
            .output()
            .context("running sqlite3")?;
        if !out.status.success() {
            bail!(
                "sqlite3 {statement:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Gives a user a password for the web pages with `koper admin
    /// set-password` (the password on its standard input).
    pub fn set_password(&self, name: &str, password: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut child = Command::new(&self.koper)
            .args(["admin", "set-password", name, "--data-dir"])
            .arg(self.data_dir())
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        writeln!(child.stdin.take().context("stdin")?, "{password}")?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "koper admin set-password failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
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
        if let Some(cert) = &self.ca_cert {
            command.env("KOPER_CA_CERT", cert);
        }
        command
    }

    /// Runs `koper ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Ok(self.koper().args(args).output()?)
    }
}
