//! Fresh databases for each test, on both backends.

use koper_db::Database;
use sqlx::Connection;

/// Where to create throwaway PostgreSQL databases. Override with
/// `KOPER_TEST_POSTGRES_URL`; the default is the local server CI starts.
fn postgres_admin_url() -> String {
    std::env::var("KOPER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A test's database, with its name for assertion messages.
pub struct TestDb {
    pub db: Database,
    pub name: &'static str,
    /// Where to open more connections to the same database.
    pub url: String,
}

/// Runs `test` on a fresh SQLite database and on a fresh PostgreSQL one,
/// removing both afterwards.
pub async fn on_both<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("koper.db").display());
    let db = Database::connect(&url).await.unwrap();
    test(TestDb {
        db: db.clone(),
        name: "sqlite",
        url: url.clone(),
    })
    .await;
    db.close().await;

    sqlx::any::install_default_drivers();
    let admin_url = postgres_admin_url();
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is needed for these tests: {e}"));
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).unwrap();
    let name = format!("koper_test_{}", hex::encode(suffix));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    let db = Database::connect(&url).await.unwrap();
    test(TestDb {
        db: db.clone(),
        name: "postgres",
        url,
    })
    .await;
    db.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
