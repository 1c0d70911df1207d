//! A project's packages: a name with the default source it is built from
//! (Copr's packages).

use koper_types::PackageName;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// A stored package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRow {
    /// Package id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// Its name, unique in the project.
    pub name: PackageName,
    /// `scm` or `link`.
    pub source_type: String,
    /// The source, JSON (its shape depends on `source_type`).
    pub source_json: String,
    /// Whether pushes to its repository rebuild it.
    pub webhook_rebuild: bool,
    /// Unix seconds.
    pub created_on: i64,
}

/// A package's source as stored.
#[derive(Debug, Clone, Copy)]
pub struct PackageSourceRow<'a> {
    /// `scm` or `link`.
    pub source_type: &'a str,
    /// The source, JSON.
    pub source_json: &'a str,
    /// Whether pushes to its repository rebuild it.
    pub webhook_rebuild: bool,
}

const PACKAGE_COLUMNS: &str =
    "id, project_id, name, source_type, source_json, webhook_rebuild, created_on";

fn package_from_row(row: &AnyRow) -> Result<PackageRow, DbError> {
    Ok(PackageRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: parse_column(&row.try_get::<String, _>("name")?, "packages.name")?,
        source_type: row.try_get("source_type")?,
        source_json: row.try_get("source_json")?,
        webhook_rebuild: row.try_get::<i64, _>("webhook_rebuild")? != 0,
        created_on: row.try_get("created_on")?,
    })
}

impl Database {
    /// Adds a package; [`DbError::Conflict`] when the project has one of
    /// this name.
    pub async fn add_package(
        &self,
        project_id: i64,
        name: &PackageName,
        source: &PackageSourceRow<'_>,
        now: i64,
    ) -> Result<PackageRow, DbError> {
        let row = sqlx::query(&format!(
            "INSERT INTO packages (project_id, name, source_type, source_json, webhook_rebuild,
                 created_on)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {PACKAGE_COLUMNS}"
        ))
        .bind(project_id)
        .bind(name.as_str())
        .bind(source.source_type)
        .bind(source.source_json)
        .bind(i64::from(source.webhook_rebuild))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        package_from_row(&row)
    }

    /// Replaces a package's source; [`DbError::NotFound`] when there is no
    /// such package.
    pub async fn edit_package(
        &self,
        project_id: i64,
        name: &PackageName,
        source: &PackageSourceRow<'_>,
    ) -> Result<PackageRow, DbError> {
        sqlx::query(&format!(
            "UPDATE packages SET source_type = $1, source_json = $2, webhook_rebuild = $3
             WHERE project_id = $4 AND name = $5 RETURNING {PACKAGE_COLUMNS}"
        ))
        .bind(source.source_type)
        .bind(source.source_json)
        .bind(i64::from(source.webhook_rebuild))
        .bind(project_id)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(package_from_row)
        .transpose()?
        .ok_or(DbError::NotFound)
    }

    /// The package of this name in a project.
    pub async fn package(
        &self,
        project_id: i64,
        name: &PackageName,
    ) -> Result<Option<PackageRow>, DbError> {
        sqlx::query(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE project_id = $1 AND name = $2"
        ))
        .bind(project_id)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(package_from_row)
        .transpose()
    }

    /// A project's packages by name.
    pub async fn list_packages(&self, project_id: i64) -> Result<Vec<PackageRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM packages WHERE project_id = $1 ORDER BY name"
        ))
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(package_from_row).collect()
    }

    /// The named packages of a project that have records, by name (names
    /// without one are left out).
    pub async fn packages_named(
        &self,
        project_id: i64,
        names: &[&str],
    ) -> Result<Vec<PackageRow>, DbError> {
        let mut packages = Vec::with_capacity(names.len());
        // Bounded IN lists: every database takes a few hundred parameters.
        for chunk in names.chunks(500) {
            let list = (2..2 + chunk.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT {PACKAGE_COLUMNS} FROM packages WHERE project_id = $1 AND name IN ({list})"
            );
            let mut query = sqlx::query(&sql).bind(project_id);
            for name in chunk {
                query = query.bind(*name);
            }
            for row in query.fetch_all(&self.pool).await? {
                packages.push(package_from_row(&row)?);
            }
        }
        packages.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Ok(packages)
    }

    /// Deletes a package (its builds stay); false when there was none.
    pub async fn delete_package(
        &self,
        project_id: i64,
        name: &PackageName,
    ) -> Result<bool, DbError> {
        let deleted = sqlx::query("DELETE FROM packages WHERE project_id = $1 AND name = $2")
            .bind(project_id)
            .bind(name.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }
}

impl Database {
    /// Replaces a project's webhook secret, made by the user `made_by`.
    pub async fn set_webhook_secret(
        &self,
        project_id: i64,
        secret: &str,
        made_by: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE projects SET webhook_secret = $1, webhook_secret_by = $2 WHERE id = $3",
        )
        .bind(secret)
        .bind(made_by)
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A project's webhook secret, if one was made.
    pub async fn webhook_secret(&self, project_id: i64) -> Result<Option<WebhookSecret>, DbError> {
        let row = sqlx::query(
            "SELECT webhook_secret, webhook_secret_by FROM projects
             WHERE id = $1 AND webhook_secret IS NOT NULL",
        )
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(WebhookSecret {
                secret: r.try_get("webhook_secret")?,
                made_by: r.try_get("webhook_secret_by")?,
            })
        })
        .transpose()
    }
}

/// A project's webhook secret and who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    /// The secret in the webhook URL (and the key of HMAC signatures).
    pub secret: String,
    /// The user who made it, whom pushes build as; `None` for secrets
    /// made before koper recorded it.
    pub made_by: Option<i64>,
}
