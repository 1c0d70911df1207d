//! A real OpenID Provider for tests: panva's certified `oidc-provider`
//! (npm, the versions pinned in `oidc-provider/package-lock.json`) run by
//! Node.js with `oidc-provider/provider.mjs` on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, bail};

/// The provider's files in this crate.
fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc-provider")
}

/// Serialises installs within one test process; installs of several
/// processes meet at an atomic rename.
static INSTALL: Mutex<()> = Mutex::new(());

/// Installs the pinned packages with `npm ci` into a directory of
/// `cache_root` named after the lock file's digest, once; returns it.
fn installed(cache_root: &Path) -> anyhow::Result<PathBuf> {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let lock = std::fs::read(fixture_dir().join("package-lock.json"))?;
    let manifest = std::fs::read(fixture_dir().join("package.json"))?;
    let digest = lock
        .iter()
        .chain(&manifest)
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    let dir = cache_root.join(format!("oidc-provider-{digest:016x}"));
    if dir.join("node_modules/oidc-provider/package.json").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache_root)?;
    let staging = tempfile::Builder::new()
        .prefix("oidc-provider-install-")
        .tempdir_in(cache_root)?;
    std::fs::write(staging.path().join("package-lock.json"), &lock)?;
    std::fs::write(staging.path().join("package.json"), &manifest)?;
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(staging.path())
        .output()
        .context("running npm (dev/setup installs nodejs and npm)")?;
    if !out.status.success() {
        bail!(
            "npm ci of the test OpenID Provider failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another process installed it first.
        let _ = std::fs::remove_dir_all(&staged);
    }
    Ok(dir)
}

static NEXT_SCRIPT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A running `oidc-provider`, stopped when dropped.
pub struct OidcProvider {
    /// Its issuer URL (`http://127.0.0.1:PORT`, no trailing slash).
    pub issuer: String,
    child: Child,
    script: PathBuf,
}

impl OidcProvider {
    /// Starts the provider on `port` with one client (`client_id`,
    /// `client_secret`, redirected to `redirect_uri`) and `accounts`:
    /// `{"login": {"sub": ..., "preferred_username": ...}}`, the claims
    /// each account has. Its packages are installed under `cache_root`.
    pub fn start(
        cache_root: &Path,
        port: u16,
        redirect_uri: &str,
        client_id: &str,
        client_secret: &str,
        accounts: &serde_json::Value,
    ) -> anyhow::Result<Self> {
        let dir = installed(cache_root)?;
        // The script runs from beside node_modules, where Node's module
        // resolution finds the packages.
        let script = dir.join(format!(
            "provider-{}-{}.mjs",
            std::process::id(),
            NEXT_SCRIPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::copy(fixture_dir().join("provider.mjs"), &script)?;
        let mut child = Command::new("node")
            .arg(&script)
            .env("KOPER_TEST_OIDC_PORT", port.to_string())
            .env("KOPER_TEST_OIDC_REDIRECT_URI", redirect_uri)
            .env("KOPER_TEST_OIDC_CLIENT_ID", client_id)
            .env("KOPER_TEST_OIDC_CLIENT_SECRET", client_secret)
            .env("KOPER_TEST_OIDC_ACCOUNTS", accounts.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting node (dev/setup installs nodejs)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("ready ") {
                    let _ = ready_tx.send(issuer.to_owned());
                    break;
                }
            }
            // Keep draining so the provider never blocks on its output.
            for _ in lines {}
        });
        let Ok(issuer) = ready_rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&script);
            bail!("the OpenID Provider did not start within a minute");
        };
        Ok(Self {
            issuer,
            child,
            script,
        })
    }

    /// Makes the token endpoint hand out altered id_tokens from now on
    /// (`audience`, `issuer`, `expired`, `nonce`, `signature`) or real
    /// ones again (`none`); see `provider.mjs`.
    pub fn tamper(&self, mode: &str) -> anyhow::Result<()> {
        let out = Command::new("curl")
            .args(["-sSf", "--data", mode])
            .arg(format!("{}/__test/tamper", self.issuer))
            .output()
            .context("running curl")?;
        if !out.status.success() {
            bail!(
                "could not switch the provider to {mode}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.script);
    }
}
