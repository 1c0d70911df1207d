//! Projects and the chroots they build for.

use std::collections::BTreeMap;

use koper_types::{ChrootName, OwnerName, ProjectName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// What creating a project needs.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    /// The owner (user or `@group`).
    pub owner: &'a OwnerName,
    /// The name, unique per owner.
    pub name: &'a ProjectName,
    /// Free text.
    pub description: &'a str,
    /// How to use the packages (plain text).
    pub instructions: &'a str,
    /// Chroots to build for.
    pub chroots: &'a [ChrootName],
    /// Build timeout, seconds.
    pub build_timeout: i64,
    /// Older successful builds kept per package and chroot.
    pub retain_older: i64,
    /// Shown in the project directory.
    pub listed: bool,
    /// What builds take BuildRequires from besides the project's repo.
    pub buildroot: &'a BuildrootSettings,
}

/// A project's buildroot settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildrootSettings {
    /// `copr://owner/project` references and http(s) repo URLs, in order.
    pub additional_repos: Vec<String>,
    /// Whether builds may use the network.
    pub enable_net: bool,
    /// dnf priority of the project's repos in buildroots; `None`: dnf's
    /// default.
    pub repo_priority: Option<i64>,
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// Database id.
    pub id: i64,
    /// Owner name.
    pub owner: OwnerName,
    /// Project name.
    pub name: ProjectName,
    /// Free text.
    pub description: String,
    /// How to use the packages (plain text).
    pub instructions: String,
    /// Build timeout, seconds.
    pub build_timeout: i64,
    /// Unix seconds.
    pub created_on: i64,
    /// Older successful builds kept per package and chroot, besides the
    /// newest.
    pub retain_older: i64,
    /// A storage quota of the project's own; `None`: it counts against its
    /// owner's quota.
    pub quota_bytes: Option<i64>,
    /// Shown in the project directory.
    pub listed: bool,
    /// What builds take BuildRequires from besides the project's repo.
    pub buildroot: BuildrootSettings,
    /// Selected chroots, sorted.
    pub chroots: Vec<ChrootName>,
    /// What the instance's administrators decided about it.
    pub moderation: Moderation,
}

/// A project's moderation: each field holds the reason an administrator
/// gave, `None` when it does not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moderation {
    /// Left out of every listing (directory, search, user page, home).
    pub hidden: Option<String>,
    /// Accepts no builds; served only to those who manage it.
    pub disabled: Option<String>,
    /// Its owner's account is disabled, which disables the project too.
    pub owner_disabled: Option<String>,
}

impl ProjectRow {
    /// Why the project accepts no builds and is not served: disabled
    /// itself, or its owner's account is.
    pub fn disabled_reason(&self) -> Option<&str> {
        self.moderation
            .disabled
            .as_deref()
            .or(self.moderation.owner_disabled.as_deref())
    }

    /// Whether the project shows up in public listings: listed by its
    /// owner, neither hidden nor disabled.
    pub fn publicly_listed(&self) -> bool {
        self.listed && self.moderation.hidden.is_none() && self.disabled_reason().is_none()
    }
}

/// SQL condition (on `projects` aliased `alias`) of
/// [`ProjectRow::publicly_listed`].
pub(crate) fn publicly_listed_sql(alias: &str) -> String {
    format!(
        "{alias}.listed = 1 AND {alias}.hidden_reason IS NULL AND {alias}.disabled_reason IS NULL
         AND NOT EXISTS (SELECT 1 FROM users mu WHERE mu.name = {alias}.owner_name
                         AND mu.disabled_reason IS NOT NULL)"
    )
}

/// Columns of a project row, selected `FROM projects` (the owner's
/// moderation comes from `users`).
const PROJECT_COLUMNS: &str = "id, owner_name, name, description, instructions, build_timeout,
    created_on,
    retain_older, quota_bytes, listed, additional_repos, enable_net, repo_priority,
    hidden_reason, disabled_reason,
    (SELECT u.disabled_reason FROM users u WHERE u.name = projects.owner_name)
        AS owner_disabled_reason";

fn project_from_row(row: &AnyRow) -> Result<ProjectRow, DbError> {
    Ok(ProjectRow {
        id: row.try_get("id")?,
        owner: parse_column(&row.try_get::<String, _>("owner_name")?, "owner_name")?,
        name: parse_column(&row.try_get::<String, _>("name")?, "projects.name")?,
        description: row.try_get("description")?,
        instructions: row.try_get("instructions")?,
        build_timeout: row.try_get("build_timeout")?,
        created_on: row.try_get("created_on")?,
        retain_older: row.try_get("retain_older")?,
        quota_bytes: row.try_get("quota_bytes")?,
        listed: row.try_get::<i64, _>("listed")? != 0,
        buildroot: BuildrootSettings {
            additional_repos: lines(&row.try_get::<String, _>("additional_repos")?),
            enable_net: row.try_get::<i64, _>("enable_net")? != 0,
            repo_priority: row.try_get("repo_priority")?,
        },
        chroots: Vec::new(),
        moderation: Moderation {
            hidden: row.try_get("hidden_reason")?,
            disabled: row.try_get("disabled_reason")?,
            owner_disabled: row.try_get("owner_disabled_reason")?,
        },
    })
}

/// The non-empty lines of a list column.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Database {
    /// Creates a project with its chroots; [`DbError::Conflict`] when the
    /// owner already has a project of that name.
    pub async fn create_project(
        &self,
        new: &NewProject<'_>,
        now: i64,
    ) -> Result<ProjectRow, DbError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO projects (owner_name, name, description, instructions, build_timeout,
                 created_on, retain_older, listed, additional_repos, enable_net, repo_priority)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(new.owner.as_str())
        .bind(new.name.as_str())
        .bind(new.description)
        .bind(new.instructions)
        .bind(new.build_timeout)
        .bind(now)
        .bind(new.retain_older)
        .bind(i64::from(new.listed))
        .bind(new.buildroot.additional_repos.join("\n"))
        .bind(i64::from(new.buildroot.enable_net))
        .bind(new.buildroot.repo_priority)
        .fetch_one(&mut *tx)
        .await
        .map_err(DbError::from_insert)?;
        let id: i64 = row.try_get("id")?;
        // Read back apart: the owner's moderation is another table's.
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let mut project = project_from_row(&row)?;
        let mut chroots = new.chroots.to_vec();
        chroots.sort();
        chroots.dedup();
        for chroot in &chroots {
            sqlx::query("INSERT INTO project_chroots (project_id, chroot) VALUES ($1, $2)")
                .bind(project.id)
                .bind(chroot.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        project.chroots = chroots;
        Ok(project)
    }

    /// The project `owner/name`.
    pub async fn find_project(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
    ) -> Result<Option<ProjectRow>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE owner_name = $1 AND name = $2"
        ))
        .bind(owner.as_str())
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?;
        self.with_chroots(row.as_ref().map(project_from_row).transpose()?)
            .await
    }

    /// The project with this id.
    pub async fn project_by_id(&self, id: i64) -> Result<Option<ProjectRow>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        self.with_chroots(row.as_ref().map(project_from_row).transpose()?)
            .await
    }

    async fn with_chroots(
        &self,
        project: Option<ProjectRow>,
    ) -> Result<Option<ProjectRow>, DbError> {
        let Some(mut project) = project else {
            return Ok(None);
        };
        let rows =
            sqlx::query("SELECT chroot FROM project_chroots WHERE project_id = $1 ORDER BY chroot")
                .bind(project.id)
                .fetch_all(&self.pool)
                .await?;
        project.chroots = rows
            .iter()
            .map(|row| parse_column(&row.try_get::<String, _>("chroot")?, "chroot"))
            .collect::<Result<_, DbError>>()?;
        Ok(Some(project))
    }

    /// Projects, all or one owner's, sorted by owner and name.
    pub async fn list_projects(
        &self,
        owner: Option<&OwnerName>,
    ) -> Result<Vec<ProjectRow>, DbError> {
        let rows = match owner {
            Some(owner) => {
                sqlx::query(&format!(
                    "SELECT {PROJECT_COLUMNS} FROM projects WHERE owner_name = $1
                     ORDER BY owner_name, name"
                ))
                .bind(owner.as_str())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {PROJECT_COLUMNS} FROM projects ORDER BY owner_name, name"
                ))
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut projects: BTreeMap<i64, ProjectRow> = BTreeMap::new();
        let mut order = Vec::with_capacity(rows.len());
        for row in &rows {
            let project = project_from_row(row)?;
            order.push(project.id);
            projects.insert(project.id, project);
        }
        let chroot_rows =
            sqlx::query("SELECT project_id, chroot FROM project_chroots ORDER BY chroot")
                .fetch_all(&self.pool)
                .await?;
        for row in &chroot_rows {
            let id: i64 = row.try_get("project_id")?;
            if let Some(project) = projects.get_mut(&id) {
                project.chroots.push(parse_column(
                    &row.try_get::<String, _>("chroot")?,
                    "chroot",
                )?);
            }
        }
        Ok(order
            .into_iter()
            .filter_map(|id| projects.remove(&id))
            .collect())
    }

    /// Listed projects whose owner, name or description, or the name of a
    /// package built in them, contains `query` (any case), sorted by owner
    /// and name; all listed ones without a query.
    pub async fn search_projects(&self, query: &str) -> Result<Vec<ProjectRow>, DbError> {
        let pattern = format!(
            "%{}%",
            query
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = sqlx::query(&format!(
            "SELECT id FROM projects p WHERE {} AND (
                 LOWER(owner_name) LIKE $1 ESCAPE '\\' OR LOWER(name) LIKE $1 ESCAPE '\\'
                 OR LOWER(description) LIKE $1 ESCAPE '\\'
                 OR LOWER(owner_name || '/' || name) LIKE $1 ESCAPE '\\'
                 OR id IN (SELECT project_id FROM builds
                           WHERE LOWER(package_name) LIKE $1 ESCAPE '\\'))",
            publicly_listed_sql("p")
        ))
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        Ok(self
            .list_projects(None)
            .await?
            .into_iter()
            .filter(|p| ids.contains(&p.id))
            .collect())
    }

    /// Changes a project's description, instructions and whether it is
    /// listed (`None` leaves a field as it is).
    pub async fn update_project_text(
        &self,
        project_id: i64,
        description: Option<&str>,
        instructions: Option<&str>,
        listed: Option<bool>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE projects SET description = COALESCE($1, description),
                 instructions = COALESCE($2, instructions),
                 listed = COALESCE($3, listed) WHERE id = $4",
        )
        .bind(description)
        .bind(instructions)
        .bind(listed.map(i64::from))
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Hides a project with the reason shown to its owner, or (`None`)
    /// lists it again.
    pub async fn set_project_hidden(
        &self,
        project_id: i64,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE projects SET hidden_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables a project with the reason shown to its owner, or (`None`)
    /// enables it again.
    pub async fn set_project_disabled(
        &self,
        project_id: i64,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE projects SET disabled_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Projects an administrator hid or disabled, or whose owner is
    /// disabled, sorted by owner and name.
    pub async fn moderated_projects(&self) -> Result<Vec<ProjectRow>, DbError> {
        Ok(self
            .list_projects(None)
            .await?
            .into_iter()
            .filter(|p| p.moderation != Moderation::default())
            .collect())
    }

    /// Replaces a project's buildroot settings.
    pub async fn set_buildroot_settings(
        &self,
        project_id: i64,
        settings: &BuildrootSettings,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE projects SET additional_repos = $1, enable_net = $2, repo_priority = $3
             WHERE id = $4",
        )
        .bind(settings.additional_repos.join("\n"))
        .bind(i64::from(settings.enable_net))
        .bind(settings.repo_priority)
        .bind(project_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The packages installed into every buildroot of a project chroot;
    /// `None` when the project has no such chroot.
    pub async fn chroot_buildroot_packages(
        &self,
        project_id: i64,
        chroot: &ChrootName,
    ) -> Result<Option<Vec<String>>, DbError> {
        let row = sqlx::query(
            "SELECT buildroot_pkgs FROM project_chroots WHERE project_id = $1 AND chroot = $2",
        )
        .bind(project_id)
        .bind(chroot.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok(lines(&row.try_get::<String, _>("buildroot_pkgs")?)))
            .transpose()
    }

    /// Sets the packages installed into every buildroot of a project
    /// chroot; false when the project has no such chroot.
    pub async fn set_chroot_buildroot_packages(
        &self,
        project_id: i64,
        chroot: &ChrootName,
        packages: &[String],
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE project_chroots SET buildroot_pkgs = $1 WHERE project_id = $2 AND chroot = $3",
        )
        .bind(packages.join("\n"))
        .bind(project_id)
        .bind(chroot.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets how many older successful builds a project keeps.
    pub async fn set_retention(&self, project_id: i64, retain_older: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE projects SET retain_older = $1 WHERE id = $2")
            .bind(retain_older)
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives a project a quota of its own, or (`None`) makes it count
    /// against its owner's again.
    pub async fn set_project_quota(
        &self,
        project_id: i64,
        quota_bytes: Option<i64>,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE projects SET quota_bytes = $1 WHERE id = $2")
            .bind(quota_bytes)
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records whether a chroot repo's metadata may be out of step with its
    /// published builds (set before publishing, cleared after).
    pub async fn set_repo_dirty(
        &self,
        project_id: i64,
        chroot: &ChrootName,
        dirty: bool,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE project_chroots SET repo_dirty = $1 WHERE project_id = $2 AND chroot = $3",
        )
        .bind(i64::from(dirty))
        .bind(project_id)
        .bind(chroot.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Repos left dirty, as (project id, chroot).
    pub async fn dirty_repos(&self) -> Result<Vec<(i64, ChrootName)>, DbError> {
        let rows = sqlx::query(
            "SELECT project_id, chroot FROM project_chroots WHERE repo_dirty = 1
             ORDER BY project_id, chroot",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("project_id")?,
                    parse_column(&row.try_get::<String, _>("chroot")?, "chroot")?,
                ))
            })
            .collect()
    }

    /// Replaces a project's chroot set: new chroots get an empty (dirty)
    /// repo entry, dropped ones lose theirs; builds keep their records.
    pub async fn set_project_chroots(
        &self,
        project_id: i64,
        chroots: &[ChrootName],
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let current: Vec<String> =
            sqlx::query_scalar("SELECT chroot FROM project_chroots WHERE project_id = $1")
                .bind(project_id)
                .fetch_all(&mut *tx)
                .await?;
        for old in &current {
            if !chroots.iter().any(|c| c.as_str() == old) {
                sqlx::query("DELETE FROM project_chroots WHERE project_id = $1 AND chroot = $2")
                    .bind(project_id)
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for chroot in chroots {
            if !current.iter().any(|c| c == chroot.as_str()) {
                sqlx::query("INSERT INTO project_chroots (project_id, chroot) VALUES ($1, $2)")
                    .bind(project_id)
                    .bind(chroot.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a project with its builds, chroots and release records.
    pub async fn delete_project(&self, project_id: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(project_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
