//! The state shared by every request handler and background task.

use std::sync::Arc;

use koper_chroots::ChrootCatalog;
use koper_db::Database;
use koper_storage::DataDir;
use tokio::sync::Notify;

use crate::config::ServerConfig;
use crate::keys::KeyStore;
use crate::login_limit::LoginLimiter;
use crate::metrics::Metrics;
use crate::publisher::RepoLocks;
use crate::queue::SharedQueueView;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServerConfig,
    public_url: String,
    db: Database,
    data: DataDir,
    chroots: ChrootCatalog,
    work_available: Notify,
    build_changed: Notify,
    repo_locks: RepoLocks,
    keys: KeyStore,
    metrics: Metrics,
    login_limiter: LoginLimiter,
    queue_view: SharedQueueView,
    publishes: tokio::sync::Semaphore,
}

/// Task publishes one server process runs at once. Each holds a database
/// connection for its claim (and takes others meanwhile): fewer than the
/// PostgreSQL pool's 16, so that claims cannot take every connection.
const CONCURRENT_PUBLISHES: usize = 6;

impl App {
    /// Assembles the state of a server answering at `public_url`.
    pub fn new(
        config: ServerConfig,
        public_url: String,
        db: Database,
        data: DataDir,
        chroots: ChrootCatalog,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                public_url,
                db,
                data,
                chroots,
                work_available: Notify::new(),
                build_changed: Notify::new(),
                repo_locks: RepoLocks::default(),
                keys: KeyStore::default(),
                metrics: Metrics::default(),
                login_limiter: LoginLimiter::default(),
                queue_view: SharedQueueView::default(),
                publishes: tokio::sync::Semaphore::new(CONCURRENT_PUBLISHES),
            }),
        }
    }

    /// Settings.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Permits to publish a task (see [`CONCURRENT_PUBLISHES`]).
    pub fn publishes(&self) -> &tokio::sync::Semaphore {
        &self.inner.publishes
    }

    /// The URL users and builders reach this server at, without a trailing
    /// slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The URL of the public results tree.
    pub fn results_url(&self) -> String {
        format!("{}/results", self.inner.public_url)
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The data directory.
    pub fn data(&self) -> &DataDir {
        &self.inner.data
    }

    /// Known chroots.
    pub fn chroots(&self) -> &ChrootCatalog {
        &self.inner.chroots
    }

    /// Woken whenever a task may have become available to builders.
    pub fn work_available(&self) -> &Notify {
        &self.inner.work_available
    }

    /// Woken whenever a build chroot started or ended in this process
    /// (clients following a build wait on it).
    pub fn build_changed(&self) -> &Notify {
        &self.inner.build_changed
    }

    /// Serialises publishes per repository within this process.
    pub fn repo_locks(&self) -> &RepoLocks {
        &self.inner.repo_locks
    }

    /// The queue as last replayed, shared by the requests that explain
    /// why builds wait.
    pub fn queue_view(&self) -> &SharedQueueView {
        &self.inner.queue_view
    }

    /// Loaded project signing keys.
    pub fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    /// This process's counters and histograms.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Failed sign-ins, by account and address.
    pub fn login_limiter(&self) -> &LoginLimiter {
        &self.inner.login_limiter
    }
}
