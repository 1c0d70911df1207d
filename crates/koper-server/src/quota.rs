//! Storage quotas. Every owner has one (the instance default unless an
//! administrator set another) shared by its projects; a project an
//! administrator gave a quota of its own counts against that instead.
//! What counts: accepted source RPMs and everything in result directories.

use std::path::Path;

use koper_api::v1;
use koper_db::{Database, ProjectRow};
use koper_types::{OwnerName, format_bytes};

use crate::app::App;
use crate::error::{Error, Result};

/// What one quota allows and what counts against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// `alice`, or `alice/big` for a project with its own quota.
    pub scope: String,
    /// Bytes stored.
    pub used: i64,
    /// Bytes allowed.
    pub quota: i64,
}

/// The quota `project` counts against.
pub async fn budget_for(app: &App, project: &ProjectRow) -> Result<Budget> {
    let usage = app.db().usage_of_owner(&project.owner).await?;
    if let Some(quota) = project.quota_bytes {
        let used = usage
            .iter()
            .find(|u| u.project_id == project.id)
            .map_or(0, |u| u.used_bytes);
        return Ok(Budget {
            scope: format!("{}/{}", project.owner, project.name),
            used,
            quota,
        });
    }
    let owner = owner_storage(app, &project.owner).await?;
    Ok(Budget {
        scope: project.owner.to_string(),
        used: owner.shared.used_bytes,
        quota: owner.shared.quota_bytes,
    })
}

/// Refuses to store `extra` more bytes for `project` beyond its quota,
/// saying how much is used and what to do.
pub async fn check_room(app: &App, project: &ProjectRow, extra: u64) -> Result<()> {
    let budget = budget_for(app, project).await?;
    let extra = i64::try_from(extra).unwrap_or(i64::MAX);
    if budget.used.saturating_add(extra) <= budget.quota {
        return Ok(());
    }
    Err(exceeded(&budget, extra, &project.owner, &project.name))
}

/// The refusal: usage, quota, and how to free space or get more.
pub fn exceeded(
    budget: &Budget,
    extra: i64,
    owner: &OwnerName,
    project: &koper_types::ProjectName,
) -> Error {
    Error::QuotaExceeded {
        message: format!(
            "the storage quota of {} would be exceeded: {} of {} used, and this needs {} more",
            budget.scope,
            format_bytes(budget.used),
            format_bytes(budget.quota),
            format_bytes(extra)
        ),
        hint: format!(
            "free space with `koper delete-build ID` (see `koper list-builds {owner}/{project}`), \
             keep fewer old builds with `koper modify {owner}/{project} --retain 0`, or ask an \
             administrator for more (`koper admin set-quota {} SIZE`)",
            budget.scope
        ),
    }
}

/// An owner's quota and what its projects store.
pub async fn owner_storage(app: &App, owner: &OwnerName) -> Result<v1::OwnerStorage> {
    let db = app.db();
    let quota = owner_quota(db, owner, app.config().default_quota_bytes).await?;
    let usage = db.usage_of_owner(owner).await?;
    let projects = db.list_projects(Some(owner)).await?;
    let mut shared = 0i64;
    let mut list = Vec::new();
    for project in &projects {
        let used = usage
            .iter()
            .find(|u| u.project_id == project.id)
            .map_or(0, |u| u.used_bytes);
        if project.quota_bytes.is_none() {
            shared = shared.saturating_add(used);
        }
        list.push(v1::ProjectStorage {
            name: project.name.clone(),
            used_bytes: used,
            own_quota_bytes: project.quota_bytes,
        });
    }
    Ok(v1::OwnerStorage {
        owner: owner.clone(),
        shared: v1::Usage {
            used_bytes: shared,
            quota_bytes: quota,
        },
        projects: list,
    })
}

async fn owner_quota(db: &Database, owner: &OwnerName, default: u64) -> Result<i64> {
    Ok(db
        .owner_quota(owner)
        .await?
        .unwrap_or_else(|| i64::try_from(default).unwrap_or(i64::MAX)))
}

/// Bytes a result directory takes, without its source RPM (a hard link of
/// the accepted upload, counted with the build).
pub fn result_dir_bytes(dir: &Path) -> std::io::Result<i64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut total = 0i64;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if meta.is_file() && !name.ends_with(".src.rpm") {
            total = total.saturating_add(i64::try_from(meta.len()).unwrap_or(i64::MAX));
        }
    }
    Ok(total)
}

/// What `koper admin set-quota` sets.
pub enum QuotaTarget {
    /// An owner's shared quota.
    Owner(OwnerName),
    /// A project's own quota.
    Project(OwnerName, koper_types::ProjectName),
}

/// Sets a quota (`None`: back to the default, or for a project, back to
/// counting against its owner's).
pub async fn set_quota(db: &Database, target: &QuotaTarget, bytes: Option<i64>) -> Result<()> {
    match target {
        QuotaTarget::Owner(owner) => db.set_owner_quota(owner, bytes).await?,
        QuotaTarget::Project(owner, name) => {
            let project = db
                .find_project(owner, name)
                .await?
                .ok_or_else(|| Error::NotFound(format!("project {owner}/{name} does not exist")))?;
            db.set_project_quota(project.id, bytes).await?;
        }
    }
    Ok(())
}
