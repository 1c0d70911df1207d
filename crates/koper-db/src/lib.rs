//! koper's database: one schema and one set of queries that run on SQLite
//! (the embedded default) and on PostgreSQL (several server processes).
//!
//! All SQL lives in this crate, one module per table, each function named
//! for what it does. Queries are portable (`$N` placeholders, `RETURNING`);
//! times are Unix seconds, flags 0/1 integers. The only dialect switch is
//! row locking when leasing tasks ([`Database::kind`]). The queue's order
//! (fair share between owners) is in [`fair_order`].
//!
//! Some values are kept by the database itself, in triggers the migrations
//! define, so that every statement that writes builds keeps them true:
//! each task's copies of its project, owner, package and priority (what
//! the queue's and listings' indexes order by, migration 0022), each
//! build's state and each project's stored bytes (migration 0023).

mod builders;
mod builds;
mod chroots;
mod groups;
mod locks;
mod oidc;
mod packages;
mod projects;
mod queue;
mod quota_requests;
mod releases;
mod roles;
mod sessions;
mod storage;
mod tasks;
mod users;

use std::str::FromStr;

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use builders::Builder;
pub use builds::{
    BatchPlacement, BuildFilter, BuildQuery, BuildRow, MadeSource, MonitorEntry, NewBuild,
    NewSource, PackageKey, PackageSummary,
};
pub use groups::{GroupMember, GroupRow};
pub use locks::HeldLock;
pub use oidc::PendingOidcLogin;
pub use packages::{PackageRow, PackageSourceRow, WebhookSecret};
pub use projects::{BuildrootSettings, Moderation, NewProject, ProjectRow};
pub use queue::{
    FinishedTask, LeaseFilter, OwnerShare, QueuedTask, RECENT_WINDOW_SECONDS, RunningTask,
    fair_order,
};
pub use quota_requests::{QuotaRequestRow, QuotaRequestState};
pub use releases::ReleaseRow;
pub use roles::{RoleChange, RoleRow};
pub use storage::ProjectUsage;
pub use tasks::{ExpiredLease, PublishedBuild, TaskRow};
pub use users::{ApiTokenInfo, TokenMatch, User};

/// Which database server is behind a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A database failure. Callers turn these into a generic "internal error"
/// for users; SQL text never leaves the server.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported database.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// A query or connection failed.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value koper would never write.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A row that must be unique already exists.
    #[error("already exists")]
    Conflict,
    /// A row the operation refers to does not exist.
    #[error("not found")]
    NotFound,
}

impl DbError {
    /// Maps unique-constraint violations to [`DbError::Conflict`].
    fn from_insert(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ => Self::Sqlx(err),
        }
    }
}

/// A connection pool to koper's database.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    kind: DbKind,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Database {
    /// Connects to `url` (`sqlite:///abs/path.db`, `postgres://...`),
    /// creating a SQLite file if needed, and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DbKind::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            DbKind::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        let url = match kind {
            DbKind::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_owned(),
        };
        let options = AnyPoolOptions::new().max_connections(match kind {
            // SQLite serialises writers anyway; a few readers are enough.
            DbKind::Sqlite => 4,
            DbKind::Postgres => 16,
        });
        let pool = match kind {
            DbKind::Sqlite => {
                options
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL lets readers run while one writer writes;
                            // foreign keys make ON DELETE CASCADE work.
                            sqlx::query("PRAGMA journal_mode = WAL")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA busy_timeout = 10000")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            DbKind::Postgres => options.connect(&url).await?,
        };
        let migrator = match kind {
            DbKind::Sqlite => &SQLITE_MIGRATIONS,
            DbKind::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        Ok(Self { pool, kind })
    }

    /// Which database this is.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn parse_column<T: FromStr>(value: &str, column: &str) -> Result<T, DbError> {
    value
        .parse()
        .map_err(|_| DbError::Corrupt(format!("{column} = {value:?}")))
}
