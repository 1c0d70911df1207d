//! Projects: creating, finding and describing them.

use koper_api::v1;
use koper_db::{DbError, NewProject, ProjectRow, User};
use koper_types::{ChrootName, OwnerName, ProjectName, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{permissions, publisher};

/// Checks that every requested chroot exists on this instance.
pub fn check_chroots(app: &App, chroots: &[ChrootName]) -> Result<()> {
    if chroots.is_empty() {
        return Err(Error::bad_request_hint(
            "at least one chroot must be selected",
            "see `koper list-chroots` for the chroots this server offers",
        ));
    }
    for chroot in chroots {
        if app.chroots().get(chroot).is_none() {
            let known: Vec<&str> = app.chroots().names().map(ChrootName::as_str).collect();
            return Err(Error::bad_request_hint(
                format!("unknown chroot {chroot}"),
                format!("this server offers: {}", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Creates a project, with empty repositories for its chroots.
pub async fn create_project(app: &App, caller: &User, new: &v1::NewProject) -> Result<ProjectRow> {
    if !permissions::can_create_for(caller, &new.owner) {
        return Err(Error::Forbidden(format!(
            "{} may not create projects owned by {}",
            caller.name, new.owner
        )));
    }
    check_chroots(app, &new.chroots)?;
    let timeout = i64::try_from(app.config().default_build_timeout.as_secs()).unwrap_or(i64::MAX);
    let project = match app
        .db()
        .create_project(
            &NewProject {
                owner: &new.owner,
                name: &new.name,
                description: &new.description,
                chroots: &new.chroots,
                build_timeout: timeout,
                retain_older: i64::from(new.retain_older),
                listed: new.listed,
            },
            now_epoch(),
        )
        .await
    {
        Ok(project) => project,
        Err(DbError::Conflict) => {
            return Err(Error::Conflict(format!(
                "project {}/{} already exists",
                new.owner, new.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    publisher::init_repos(app, &project).await?;
    tracing::info!(project = %format!("{}/{}", project.owner, project.name), "project created");
    Ok(project)
}

/// The project `owner/name`, or a 404.
pub async fn find_project(app: &App, owner: &OwnerName, name: &ProjectName) -> Result<ProjectRow> {
    app.db()
        .find_project(owner, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("project {owner}/{name} does not exist")))
}

/// The URL of a project's repositories (no trailing slash).
pub fn repo_url(app: &App, project: &ProjectRow) -> String {
    format!("{}/{}/{}", app.results_url(), project.owner, project.name)
}

/// A project as the API shows it, with the fingerprint of its key.
pub async fn describe(app: &App, project: &ProjectRow) -> Result<v1::Project> {
    let mut api = to_api(app, project);
    api.key_fingerprint = Some(crate::keys::project_key(app, project).await?.fingerprint());
    Ok(api)
}

/// A project as the API shows it (without its key's fingerprint, which
/// `describe` adds).
pub fn to_api(app: &App, project: &ProjectRow) -> v1::Project {
    v1::Project {
        id: project.id,
        owner: project.owner.clone(),
        name: project.name.clone(),
        full_name: format!("{}/{}", project.owner, project.name),
        description: project.description.clone(),
        chroots: project.chroots.clone(),
        repo_url: repo_url(app, project),
        build_timeout: project.build_timeout,
        created_on: project.created_on,
        retain_older: project.retain_older,
        listed: project.listed,
        key_fingerprint: None,
    }
}

/// Changes a project's settings (retention, description, listing).
pub async fn modify_project(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    changes: &v1::ProjectChanges,
) -> Result<ProjectRow> {
    if !permissions::can_admin(caller, project) {
        return Err(Error::Forbidden(format!(
            "{} may not change {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    if let Some(retain) = changes.retain_older {
        app.db()
            .set_retention(project.id, i64::from(retain))
            .await?;
    }
    if changes.description.is_some() || changes.listed.is_some() {
        app.db()
            .update_project_text(project.id, changes.description.as_deref(), changes.listed)
            .await?;
    }
    let project = app
        .db()
        .project_by_id(project.id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    // Fewer builds to keep: prune now rather than after the next build.
    if changes.retain_older.is_some() {
        for chroot in &project.chroots {
            crate::retention::prune(app, &project, chroot).await?;
        }
    }
    Ok(project)
}
