//! The koper server: the HTTP APIs (native, builder protocol, results tree,
//! `.repo` files), the importer that accepts sources, the scheduler that
//! leases tasks to builders and the publisher that turns results into
//! repositories.
//!
//! Handlers live in [`http`] and stay thin; the operations they call live
//! in one module per concern (`projects`, `builds`, `sources` for sources
//! fetched by URL, `buildroot` for what buildroots are made of, `provenance` for the macros naming a build's
//! origin, `scheduler`,
//! `publisher`, `users`, `keys` for signing keys, `release` for release
//! packages, `quota`, `quota_requests` and `retention` for storage, `moderation` for what administrators hide or disable, `queue` for why builds wait, `metrics` for `/metrics` and the admin status, `uploads` for prebuilt
//! packages, `views` for the browsable pages).

mod app;
mod auth;
mod buildroot;
mod builds;

pub mod config;
mod downloads;
mod error;
mod forks;
mod groups;
mod http;
mod import_checks;
mod keys;
mod late_logs;
mod login_limit;
pub mod metrics;
mod mock_config;
pub mod moderation;
mod noarch;
mod oidc;
mod packages;
pub mod passwords;
mod permissions;
mod projects;
mod provenance;
mod publisher;
mod queue;
pub mod quota;
pub mod quota_requests;
mod release;
mod repo_file;
mod retention;
mod roles;
mod scheduler;
mod sessions;
mod source_tasks;
mod sources;
mod spool;
mod uploads;
pub mod users;
mod views;
mod webhooks;

use std::net::SocketAddr;

use koper_chroots::ChrootCatalog;
use koper_storage::DataDir;
use koper_types::now_epoch;
use tokio::task::JoinHandle;

use axum_server::tls_rustls::RustlsConfig;

pub use app::App;
pub use config::{ServerConfig, SettingsFile};
pub use error::Error;
pub use koper_db::Database;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is not usable.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Database(#[from] koper_db::DbError),
    /// A chroot definition is broken.
    #[error(transparent)]
    Chroots(#[from] koper_chroots::ChrootError),
    /// The listen address is taken or not allowed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// Finishing interrupted work failed.
    #[error("repairing interrupted publishes failed: {0}")]
    Repair(Error),
    /// The TLS certificate or key could not be loaded.
    #[error("cannot use the TLS certificate {cert} and key {key}: {source}")]
    Tls {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// A server that is up and answering.
pub struct RunningServer {
    /// The address it listens on.
    pub local_addr: SocketAddr,
    app: App,
    shutdown: tokio::sync::oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
    expiry: JoinHandle<()>,
    renewal: JoinHandle<()>,
    spool_sweep: JoinHandle<()>,
}

/// Opens the database of a data directory (for `koper admin`, which works
/// on the data directory directly).
pub async fn open_database(
    data: &DataDir,
    database_url: Option<&str>,
) -> Result<Database, StartError> {
    data.create().map_err(|source| StartError::DataDir {
        path: data.root().display().to_string(),
        source,
    })?;
    let url = database_url.map_or_else(|| data.sqlite_url(), str::to_owned);
    Ok(Database::connect(&url).await?)
}

/// The server's state without serving it, for `koper admin` commands that
/// run next to (or instead of) a running server. The public URL is the one
/// the last `koper serve` recorded.
pub async fn open_app(config: ServerConfig) -> Result<App, StartError> {
    let (data, db, chroots) = open_state(&config).await?;
    let public_url = config.public_url.clone().unwrap_or_else(|| {
        std::fs::read_to_string(data.url_file())
            .map(|url| url.trim().to_owned())
            .unwrap_or_else(|_| format!("http://{}", config.listen))
    });
    Ok(App::new(config, public_url, db, data, chroots))
}

async fn open_state(
    config: &ServerConfig,
) -> Result<(DataDir, Database, ChrootCatalog), StartError> {
    let data = DataDir::new(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = open_database(&data, config.database_url.as_deref()).await?;
    let chroots = ChrootCatalog::load(Some(&data.chroots_dir()))?;
    Ok((data, db, chroots))
}

/// Rebuilds the metadata of every chroot repo of a project from its
/// published builds (Copr's "regenerate repos"); returns the chroots.
pub async fn regenerate_repos(
    app: &App,
    owner: &koper_types::OwnerName,
    name: &koper_types::ProjectName,
) -> Result<Vec<koper_types::ChrootName>, Error> {
    let project = projects::find_project(app, owner, name).await?;
    for chroot in &project.chroots {
        publisher::regenerate_repo(app, &project, chroot).await?;
    }
    Ok(project.chroots)
}

/// Starts the server: opens the data directory and database, finishes work
/// a crash interrupted, and listens.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let (data, db, chroots) = open_state(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let tls = match &config.tls {
        Some(files) => Some(
            RustlsConfig::from_pem_file(&files.cert, &files.key)
                .await
                .map_err(|source| StartError::Tls {
                    cert: files.cert.display().to_string(),
                    key: files.key.display().to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local_addr}"));
    let _ = std::fs::write(data.url_file(), format!("{public_url}\n"));
    let app = App::new(config, public_url, db, data, chroots);
    publisher::repair(&app).await.map_err(StartError::Repair)?;

    let expiry = tokio::spawn(scheduler::run_expiry_loop(app.clone()));
    let renewal = tokio::spawn(keys::run_renewal_loop(app.clone()));
    let spool_sweep = tokio::spawn(spool::run_sweep_loop(app.clone()));
    let (shutdown, shutdown_signal) = tokio::sync::oneshot::channel::<()>();
    let router = http::router(app.clone()).layer(tower_http::trace::TraceLayer::new_for_http());
    let serving = tokio::spawn(serve_http(listener, router, tls, shutdown_signal));
    tracing::info!(url = %app.public_url(), "koper server listening");
    Ok(RunningServer {
        local_addr,
        app,
        shutdown,
        serving,
        expiry,
        renewal,
        spool_sweep,
    })
}

/// Answers HTTP, or HTTPS with `tls`, until `stop` fires; open requests
/// finish first.
async fn serve_http(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    tls: Option<RustlsConfig>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await;
    };
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        let _ = stop.await;
        stopper.graceful_shutdown(None);
    });
    axum_server::from_tcp_rustls(listener.into_std()?, tls)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

impl RunningServer {
    /// The URL the server answers on.
    pub fn public_url(&self) -> &str {
        self.app.public_url()
    }

    /// Registers (or re-registers) a builder and returns its new token.
    pub async fn register_builder(&self, name: &str) -> Result<String, Error> {
        register_builder(self.app.db(), name).await
    }

    /// Serves until the serving task ends (it never does on its own).
    pub async fn wait(self) -> std::io::Result<()> {
        let result = self.serving.await.map_err(std::io::Error::other)?;
        self.expiry.abort();
        self.renewal.abort();
        self.spool_sweep.abort();
        result
    }

    /// Stops accepting requests and waits for open ones to finish.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let Self {
            shutdown,
            serving,
            expiry,
            renewal,
            spool_sweep,
            ..
        } = self;
        let _ = shutdown.send(());
        let result = serving.await.map_err(std::io::Error::other)?;
        expiry.abort();
        renewal.abort();
        spool_sweep.abort();
        result
    }
}

/// Registers a builder in `db` and returns its new token (shown once).
pub async fn register_builder(db: &Database, name: &str) -> Result<String, Error> {
    let token = auth::new_token()?;
    db.upsert_builder(name, &auth::hash_token(&token), now_epoch())
        .await?;
    Ok(token)
}
