//! Projects: creating, finding and describing them.

use koper_api::v1;
use koper_db::{BuildrootSettings, DbError, NewProject, ProjectRow, User};
use koper_types::{ChrootName, OwnerName, ProjectName, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{buildroot, permissions, publisher, release};

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

/// Longest instructions a project may have, in characters.
pub const MAX_INSTRUCTIONS_CHARS: usize = 20_000;

/// Longest description a project may have, in characters. It goes into
/// every page listing the project and into its release package's header.
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;

/// A project's instructions as stored; see [`clean_text`].
pub fn clean_instructions(text: &str) -> Result<String> {
    clean_text(("instructions", "are"), text, MAX_INSTRUCTIONS_CHARS)
}

/// A project's description as stored; see [`clean_text`].
pub fn clean_description(text: &str) -> Result<String> {
    clean_text(("a description", "is"), text, MAX_DESCRIPTION_CHARS)
}

/// A project's text as stored: line ends made `\n` (browsers send
/// `\r\n`), surrounding blank space trimmed; refused when longer than
/// `max` characters or holding control characters other than line ends
/// and tabs. `what` names the text, with its verb for the messages.
fn clean_text((name, is): (&str, &str), text: &str, max: usize) -> Result<String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.chars().count() > max {
        return Err(Error::bad_request(format!(
            "{name} {is} at most {max} characters long"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::bad_request(format!(
            "{name} may not contain control characters other than line breaks and tabs"
        )));
    }
    Ok(text.to_owned())
}

/// Creates a project, with empty repositories for its chroots.
pub async fn create_project(app: &App, caller: &User, new: &v1::NewProject) -> Result<ProjectRow> {
    if !permissions::can_create_for(app, caller, &new.owner).await? {
        return Err(Error::Forbidden(format!(
            "{} may not create projects owned by {}",
            caller.name, new.owner
        )));
    }
    check_chroots(app, &new.chroots)?;
    let instructions = clean_instructions(&new.instructions)?;
    let description = clean_description(&new.description)?;
    buildroot::check_additional_repos(app, &new.additional_repos).await?;
    let settings = BuildrootSettings {
        additional_repos: new.additional_repos.clone(),
        enable_net: new.enable_net,
        repo_priority: new.repo_priority.filter(|p| *p > 0).map(i64::from),
    };
    let timeout = i64::try_from(app.config().default_build_timeout.as_secs()).unwrap_or(i64::MAX);
    let project = match app
        .db()
        .create_project(
            &NewProject {
                owner: &new.owner,
                name: &new.name,
                description: &description,
                instructions: &instructions,
                chroots: &new.chroots,
                build_timeout: timeout,
                retain_older: i64::from(new.retain_older),
                listed: new.listed,
                buildroot: &settings,
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
        instructions: project.instructions.clone(),
        chroots: project.chroots.clone(),
        repo_url: repo_url(app, project),
        build_timeout: project.build_timeout,
        created_on: project.created_on,
        retain_older: project.retain_older,
        listed: project.listed,
        key_fingerprint: None,
        additional_repos: project.buildroot.additional_repos.clone(),
        enable_net: project.buildroot.enable_net,
        repo_priority: project
            .buildroot
            .repo_priority
            .and_then(|p| u32::try_from(p).ok()),
    }
}

/// Changes a project's settings (retention, description, instructions,
/// listing, buildroot, chroots).
pub async fn modify_project(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    changes: &v1::ProjectChanges,
) -> Result<ProjectRow> {
    let before = project;
    if !permissions::can_admin(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not change {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    let instructions = changes
        .instructions
        .as_deref()
        .map(clean_instructions)
        .transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(clean_description)
        .transpose()?;
    if let Some(chroots) = &changes.chroots {
        check_chroots(app, chroots)?;
        let mut chroots = chroots.clone();
        chroots.sort();
        chroots.dedup();
        app.db().set_project_chroots(project.id, &chroots).await?;
    }
    let buildroot_changed = changes.additional_repos.is_some()
        || changes.enable_net.is_some()
        || changes.repo_priority.is_some();
    if buildroot_changed {
        let mut settings = project.buildroot.clone();
        if let Some(repos) = &changes.additional_repos {
            buildroot::check_additional_repos(app, repos).await?;
            settings.additional_repos = repos.clone();
        }
        if let Some(enable_net) = changes.enable_net {
            settings.enable_net = enable_net;
        }
        if let Some(priority) = changes.repo_priority {
            settings.repo_priority = Some(i64::from(priority)).filter(|p| *p > 0);
        }
        app.db()
            .set_buildroot_settings(project.id, &settings)
            .await?;
    }
    if let Some(retain) = changes.retain_older {
        app.db()
            .set_retention(project.id, i64::from(retain))
            .await?;
    }
    if description.is_some() || instructions.is_some() || changes.listed.is_some() {
        app.db()
            .update_project_text(
                project.id,
                description.as_deref(),
                instructions.as_deref(),
                changes.listed,
            )
            .await?;
    }
    let project = app
        .db()
        .project_by_id(project.id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))?;
    if let Some(chroots) = &changes.chroots {
        for chroot in chroots.iter().filter(|c| !before.chroots.contains(c)) {
            publisher::regenerate_repo(app, &project, chroot).await?;
        }
    }
    // The release packages carry the dependencies' .repo files, one per
    // chroot.
    if changes.additional_repos.is_some() || changes.chroots.is_some() {
        release::refresh_all(app, &project).await?;
    }
    // Fewer builds to keep: prune now rather than after the next build.
    if changes.retain_older.is_some() {
        for chroot in &project.chroots {
            crate::retention::prune(app, &project, chroot).await?;
        }
    }
    Ok(project)
}

/// A project chroot's settings.
pub async fn chroot_settings(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> Result<v1::ChrootSettings> {
    let packages = app
        .db()
        .chroot_buildroot_packages(project.id, chroot)
        .await?
        .ok_or_else(|| no_chroot(project, chroot))?;
    Ok(v1::ChrootSettings {
        additional_packages: packages,
    })
}

/// Replaces a project chroot's settings.
pub async fn set_chroot_settings(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    chroot: &ChrootName,
    settings: &v1::ChrootSettings,
) -> Result<v1::ChrootSettings> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not change {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    buildroot::check_packages(&settings.additional_packages)?;
    if !app
        .db()
        .set_chroot_buildroot_packages(project.id, chroot, &settings.additional_packages)
        .await?
    {
        return Err(no_chroot(project, chroot));
    }
    chroot_settings(app, project, chroot).await
}

fn no_chroot(project: &ProjectRow, chroot: &ChrootName) -> Error {
    Error::NotFound(format!(
        "project {}/{} has no chroot {chroot}",
        project.owner, project.name
    ))
}

/// Deletes a project: its unfinished builds are canceled, its records, its
/// repositories, uploads and signing key removed. Returns it as it was.
pub async fn delete_project(app: &App, caller: &User, project: &ProjectRow) -> Result<ProjectRow> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not delete {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    // Records go first: a builder still holding a task then finds it gone
    // and its results are refused instead of published into a dead repo.
    let uploads: Vec<String> = app
        .db()
        .list_builds(project.id, i64::MAX, 0)
        .await?
        .into_iter()
        .filter_map(|build| build.srpm_path)
        .collect();
    app.db().delete_project(project.id).await?;
    let dir = app
        .data()
        .results()
        .project_dir(&project.owner, &project.name);
    publisher::remove_tree(&dir).await?;
    for chroot in &project.chroots {
        let cache = app
            .data()
            .repodata_cache_dir(&project.owner, &project.name, chroot);
        publisher::remove_tree(&cache).await?;
    }
    for srpm in uploads {
        if let Some(upload_dir) = app
            .data()
            .root()
            .join(srpm)
            .parent()
            .filter(|d| d.starts_with(app.data().uploads_dir()))
        {
            publisher::remove_tree(upload_dir).await?;
        }
    }
    crate::keys::forget_project_key(app, project).await?;
    tracing::info!(project = %format!("{}/{}", project.owner, project.name), "project deleted");
    Ok(project.clone())
}
