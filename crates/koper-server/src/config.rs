//! Server settings. Layered: built-in defaults < `<data-dir>/koper.toml` <
//! `KOPER_*` environment variables < command-line flags. The CLI resolves
//! the flag and environment layers and hands over a [`SettingsFile`]-shaped
//! override; every setting is documented in `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use koper_sign::KeyAlgorithm;
use serde::Deserialize;

const DAY: u64 = 24 * 3600;

/// Settings as they may appear in `koper.toml` (every key optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The URL users and builders reach the server at.
    pub public_url: Option<String>,
    /// Database URL; default: the SQLite file in the data directory.
    pub database_url: Option<String>,
    /// Largest accepted upload, bytes.
    pub max_upload_bytes: Option<u64>,
    /// Default build timeout of new projects, seconds.
    pub default_build_timeout: Option<u64>,
    /// Largest live log a build may write, bytes.
    pub max_log_bytes: Option<u64>,
    /// Most disk a git checkout of a source build may fill, bytes.
    pub max_checkout_bytes: Option<u64>,
    /// How long fetching a source RPM or spec from a URL may take, seconds.
    pub fetch_timeout_seconds: Option<u64>,
    /// How long a builder's lease lasts without a heartbeat, seconds.
    pub lease_seconds: Option<u64>,
    /// How many times a task is leased before it fails for good when its
    /// builders keep vanishing.
    pub max_attempts: Option<u32>,
    /// How long a task whose lease lapsed waits before it is leased again,
    /// seconds; doubled after each further lapse.
    pub retry_backoff_seconds: Option<u64>,
    /// Builders run by `koper serve` itself.
    pub local_builders: Option<u32>,
    /// Algorithm of new project keys: `rsa4096` or `ed25519`.
    pub signing_key_algorithm: Option<String>,
    /// How long a project key is valid, days; extended automatically.
    pub signing_key_days: Option<u64>,
    /// A key expiring within this many days is extended.
    pub signing_key_renew_days: Option<u64>,
    /// Storage quota of an owner without one of its own, bytes.
    pub default_quota_bytes: Option<u64>,
    /// Most builds an owner without a limit of its own runs at once; 0 for
    /// no limit.
    pub max_running_per_owner: Option<u64>,
    /// Licences (terms of the License tag, any case) whose source RPMs
    /// are refused.
    pub license_deny_list: Option<Vec<String>>,
    /// PEM certificate chain to serve HTTPS with (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Whether anyone may create an account on the sign-up page.
    pub allow_signup: Option<bool>,
    /// Signing in with an OpenID Connect provider (the `[oidc]` table).
    pub oidc: Option<OidcSettings>,
}

/// The `[oidc]` table of `koper.toml`: an OpenID Connect provider people
/// may sign in with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// What the sign-in button calls the provider ("Sign in with NAME").
    pub name: String,
    /// The issuer URL; its discovery document is
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The client id koper is registered with at the provider.
    pub client_id: String,
    /// The client secret (or `client_secret_file`).
    pub client_secret: Option<String>,
    /// A file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for besides `openid`; default `["profile"]`.
    pub scopes: Option<Vec<String>>,
    /// The claim whose value names a new account; default
    /// `preferred_username`.
    pub username_claim: Option<String>,
}

impl SettingsFile {
    /// Reads `path` if it exists.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// `self` with every setting that `higher` sets replaced by its value.
    pub fn overridden_by(self, higher: SettingsFile) -> Self {
        Self {
            listen: higher.listen.or(self.listen),
            public_url: higher.public_url.or(self.public_url),
            database_url: higher.database_url.or(self.database_url),
            max_upload_bytes: higher.max_upload_bytes.or(self.max_upload_bytes),
            default_build_timeout: higher.default_build_timeout.or(self.default_build_timeout),
            max_log_bytes: higher.max_log_bytes.or(self.max_log_bytes),
            max_checkout_bytes: higher.max_checkout_bytes.or(self.max_checkout_bytes),
            fetch_timeout_seconds: higher.fetch_timeout_seconds.or(self.fetch_timeout_seconds),
            lease_seconds: higher.lease_seconds.or(self.lease_seconds),
            max_attempts: higher.max_attempts.or(self.max_attempts),
            retry_backoff_seconds: higher.retry_backoff_seconds.or(self.retry_backoff_seconds),
            local_builders: higher.local_builders.or(self.local_builders),
            signing_key_algorithm: higher.signing_key_algorithm.or(self.signing_key_algorithm),
            signing_key_days: higher.signing_key_days.or(self.signing_key_days),
            signing_key_renew_days: higher
                .signing_key_renew_days
                .or(self.signing_key_renew_days),
            default_quota_bytes: higher.default_quota_bytes.or(self.default_quota_bytes),
            max_running_per_owner: higher.max_running_per_owner.or(self.max_running_per_owner),
            license_deny_list: higher.license_deny_list.or(self.license_deny_list),
            tls_cert: higher.tls_cert.or(self.tls_cert),
            tls_key: higher.tls_key.or(self.tls_key),
            allow_signup: higher.allow_signup.or(self.allow_signup),
            oidc: higher.oidc.or(self.oidc),
        }
    }
}

/// Resolved server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// All state lives here.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The URL users and builders reach the server at; default
    /// `http://<listen address>`.
    pub public_url: Option<String>,
    /// Database URL; `None` means the SQLite file in the data directory.
    pub database_url: Option<String>,
    /// Largest accepted upload (source RPM, builder result file).
    pub max_upload_bytes: u64,
    /// Default build timeout of new projects.
    pub default_build_timeout: Duration,
    /// Largest live log a build may write.
    pub max_log_bytes: u64,
    /// Most disk a git checkout of a source build may fill.
    pub max_checkout_bytes: u64,
    /// How long fetching a source RPM or spec from a URL may take,
    /// connection to last byte.
    pub fetch_timeout: Duration,
    /// How long a lease lasts without a heartbeat.
    pub lease_duration: Duration,
    /// Leases of one task before it fails for good.
    pub max_attempts: u32,
    /// Wait before a task whose lease lapsed is leased again (doubled per
    /// further lapse, at most 16 times this).
    pub retry_backoff: Duration,
    /// Builders run in-process by `koper serve`.
    pub local_builders: u32,
    /// Algorithm of new project keys.
    pub key_algorithm: KeyAlgorithm,
    /// How long a project key is valid from its creation or last renewal.
    pub key_lifetime: Duration,
    /// Keys expiring within this margin are extended.
    pub key_renew_before: Duration,
    /// Storage quota of an owner that has none of its own.
    pub default_quota_bytes: u64,
    /// Most builds an owner without a limit of its own runs at once.
    pub max_running_per_owner: Option<i64>,
    /// Licences whose source RPMs are refused.
    pub license_deny_list: Vec<String>,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Whether anyone may create an account on the sign-up page.
    pub allow_signup: bool,
    /// The OpenID Connect provider people may sign in with.
    pub oidc: Option<OidcConfig>,
}

/// An OpenID Connect provider, resolved from [`OidcSettings`].
#[derive(Clone)]
pub struct OidcConfig {
    /// Shown on the sign-in button.
    pub name: String,
    /// The issuer URL, as the provider's tokens name it.
    pub issuer: String,
    /// koper's client id.
    pub client_id: String,
    /// koper's client secret.
    pub client_secret: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim naming new accounts.
    pub username_claim: String,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret, should the configuration be logged.
        f.debug_struct("OidcConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("username_claim", &self.username_claim)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Checks and resolves the `[oidc]` table (reading the secret file).
    pub fn from_settings(settings: OidcSettings) -> Result<Self, String> {
        let problem = |what: &str| format!("[oidc]: {what}");
        if settings.name.trim().is_empty() {
            return Err(problem("name (shown as \"Sign in with NAME\") is empty"));
        }
        let issuer = reqwest::Url::parse(&settings.issuer)
            .map_err(|e| problem(&format!("issuer {:?} is not a URL: {e}", settings.issuer)))?;
        if !matches!(issuer.scheme(), "https" | "http") {
            return Err(problem("issuer must be an https:// (or http://) URL"));
        }
        if settings.client_id.is_empty() {
            return Err(problem("client_id is empty"));
        }
        let client_secret = match (settings.client_secret, settings.client_secret_file) {
            (Some(secret), None) => secret,
            (None, Some(file)) => std::fs::read_to_string(&file)
                .map_err(|e| problem(&format!("client_secret_file {}: {e}", file.display())))?
                .trim()
                .to_owned(),
            _ => return Err(problem("set one of client_secret and client_secret_file")),
        };
        let scopes = settings
            .scopes
            .unwrap_or_else(|| vec!["profile".to_owned()])
            .into_iter()
            .filter(|scope| scope != "openid")
            .collect();
        Ok(Self {
            name: settings.name.trim().to_owned(),
            // Kept as written: the tokens' `iss` must equal it exactly.
            issuer: settings.issuer,
            client_id: settings.client_id,
            client_secret,
            scopes,
            username_claim: settings
                .username_claim
                .unwrap_or_else(|| "preferred_username".to_owned()),
        })
    }
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl ServerConfig {
    /// Defaults for a data directory: 127.0.0.1:5050, 1 GiB uploads, 5 h
    /// builds, 100 MiB logs, 2-minute leases, 3 attempts 30 s apart at first, one local builder, RSA 4096
    /// keys valid 5 years and extended a year before they lapse, 1 GiB of
    /// storage per owner, no limit on builds running at once per owner.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 5050)),
            public_url: None,
            database_url: None,
            max_upload_bytes: 1 << 30,
            default_build_timeout: Duration::from_secs(5 * 3600),
            max_log_bytes: 100 << 20,
            max_checkout_bytes: 1 << 30,
            fetch_timeout: Duration::from_secs(300),
            lease_duration: Duration::from_secs(120),
            max_attempts: 3,
            retry_backoff: Duration::from_secs(30),
            local_builders: 1,
            key_algorithm: KeyAlgorithm::Rsa4096,
            key_lifetime: Duration::from_secs(5 * 365 * DAY),
            key_renew_before: Duration::from_secs(365 * DAY),
            default_quota_bytes: 1 << 30,
            max_running_per_owner: None,
            license_deny_list: crate::import_checks::DEFAULT_LICENSE_DENY_LIST
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            tls: None,
            allow_signup: false,
            oidc: None,
        }
    }

    /// Applies settings (from the file, then the environment and flags).
    pub fn apply(mut self, settings: SettingsFile) -> Result<Self, String> {
        if let Some(listen) = settings.listen {
            self.listen = listen;
        }
        if let Some(url) = settings.public_url {
            self.public_url = Some(url.trim_end_matches('/').to_owned());
        }
        self.database_url = settings.database_url.or(self.database_url);
        if let Some(bytes) = settings.max_upload_bytes {
            self.max_upload_bytes = bytes;
        }
        if let Some(secs) = settings.default_build_timeout {
            self.default_build_timeout = Duration::from_secs(secs);
        }
        if let Some(list) = settings.license_deny_list {
            self.license_deny_list = list;
        }
        if let Some(bytes) = settings.max_log_bytes {
            self.max_log_bytes = bytes;
        }
        if let Some(bytes) = settings.max_checkout_bytes {
            self.max_checkout_bytes = bytes;
        }
        if let Some(secs) = settings.fetch_timeout_seconds {
            self.fetch_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(secs) = settings.lease_seconds {
            self.lease_duration = Duration::from_secs(secs.max(5));
        }
        if let Some(attempts) = settings.max_attempts {
            self.max_attempts = attempts.max(1);
        }
        if let Some(secs) = settings.retry_backoff_seconds {
            self.retry_backoff = Duration::from_secs(secs);
        }
        if let Some(count) = settings.local_builders {
            self.local_builders = count;
        }
        if let Some(algorithm) = settings.signing_key_algorithm {
            self.key_algorithm = algorithm.parse()?;
        }
        if let Some(days) = settings.signing_key_days {
            self.key_lifetime = Duration::from_secs(days.max(1) * DAY);
        }
        if let Some(days) = settings.signing_key_renew_days {
            self.key_renew_before = Duration::from_secs(days * DAY);
        }
        if let Some(bytes) = settings.default_quota_bytes {
            self.default_quota_bytes = bytes;
        }
        if let Some(max) = settings.max_running_per_owner {
            self.max_running_per_owner = (max > 0).then(|| i64::try_from(max).unwrap_or(i64::MAX));
        }
        if let Some(allow) = settings.allow_signup {
            self.allow_signup = allow;
        }
        if let Some(oidc) = settings.oidc {
            self.oidc = Some(OidcConfig::from_settings(oidc)?);
        }
        self.tls = match (settings.tls_cert, settings.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => self.tls,
            _ => return Err("HTTPS needs both tls_cert and tls_key".into()),
        };
        Ok(self)
    }
}
