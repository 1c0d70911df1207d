//! A project's packages: a name and the default source that `koper
//! build-package`, Copr's package/build and webhooks build it from.

use koper_api::v1;
use koper_db::{BuildRow, DbError, PackageRow, PackageSourceRow, ProjectRow, User};
use koper_types::{PackageName, now_epoch};

use crate::app::App;
use crate::builds::BuildTarget;
use crate::error::{Error, Result};
use crate::{permissions, sources};

/// Checks a package's source and turns it into its stored form.
fn stored(source: &v1::PackageSource) -> Result<(&'static str, String)> {
    let json = match source {
        v1::PackageSource::Scm(scm) => {
            scm.check().map_err(|e| {
                Error::bad_request_hint(
                    e.to_string(),
                    "give the repository's http(s) or git:// clone URL and paths inside it",
                )
            })?;
            ("scm", serde_json::to_string(scm))
        }
        v1::PackageSource::Link { url } => {
            sources::check_url(url)?;
            (
                "link",
                serde_json::to_string(&serde_json::json!({ "url": url })),
            )
        }
        v1::PackageSource::Unset => ("unset", Ok("{}".to_owned())),
    };
    Ok((json.0, json.1.map_err(Error::internal)?))
}

/// A stored package's source.
pub fn source_of(row: &PackageRow) -> Result<v1::PackageSource> {
    let unreadable = |e: serde_json::Error| {
        Error::internal(format!(
            "package {} has an unreadable source: {e}",
            row.name
        ))
    };
    let mut fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&row.source_json).map_err(unreadable)?;
    fields.insert("source_type".into(), row.source_type.clone().into());
    serde_json::from_value(fields.into()).map_err(unreadable)
}

/// A package as the API shows it.
pub fn to_api(project: &ProjectRow, row: &PackageRow) -> Result<v1::Package> {
    Ok(v1::Package {
        owner: project.owner.clone(),
        project: project.name.clone(),
        name: row.name.clone(),
        settings: v1::PackageSettings {
            source: source_of(row)?,
            webhook_rebuild: row.webhook_rebuild,
        },
    })
}

async fn check_may_build(app: &App, caller: &User, project: &ProjectRow) -> Result<()> {
    if !permissions::can_build(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not change the packages of {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    Ok(())
}

/// Adds a package; 409 when the project has one of this name.
pub async fn add(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    name: &PackageName,
    settings: &v1::PackageSettings,
) -> Result<PackageRow> {
    check_may_build(app, caller, project).await?;
    let (source_type, source_json) = stored(&settings.source)?;
    let source = PackageSourceRow {
        source_type,
        source_json: &source_json,
        webhook_rebuild: settings.webhook_rebuild,
    };
    match app
        .db()
        .add_package(project.id, name, &source, now_epoch())
        .await
    {
        Ok(row) => Ok(row),
        Err(DbError::Conflict) => Err(Error::Conflict(format!(
            "package {name} already exists in {}/{}; change it with edit-package-scm",
            project.owner, project.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Replaces a package's source; 404 when there is no such package.
pub async fn edit(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    name: &PackageName,
    settings: &v1::PackageSettings,
) -> Result<PackageRow> {
    check_may_build(app, caller, project).await?;
    let (source_type, source_json) = stored(&settings.source)?;
    let source = PackageSourceRow {
        source_type,
        source_json: &source_json,
        webhook_rebuild: settings.webhook_rebuild,
    };
    match app.db().edit_package(project.id, name, &source).await {
        Ok(row) => Ok(row),
        Err(DbError::NotFound) => Err(missing(project, name)),
        Err(e) => Err(e.into()),
    }
}

fn missing(project: &ProjectRow, name: &PackageName) -> Error {
    Error::NotFound(format!(
        "{}/{} has no package {name}",
        project.owner, project.name
    ))
}

/// The package of this name; 404 when there is none.
pub async fn get(app: &App, project: &ProjectRow, name: &PackageName) -> Result<PackageRow> {
    app.db()
        .package(project.id, name)
        .await?
        .ok_or_else(|| missing(project, name))
}

/// Resets a package (Copr's `package/reset`): it keeps its name, builds
/// and webhook setting but loses its default source, so it cannot be
/// built until one is set again.
pub async fn reset(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    name: &PackageName,
) -> Result<PackageRow> {
    check_may_build(app, caller, project).await?;
    let row = get(app, project, name).await?;
    let settings = v1::PackageSettings {
        source: v1::PackageSource::Unset,
        webhook_rebuild: row.webhook_rebuild,
    };
    let row = edit(app, caller, project, name, &settings).await?;
    tracing::info!(package = %name, project = %format!("{}/{}", project.owner, project.name),
        "package reset");
    Ok(row)
}

/// Deletes a package; its builds and their packages stay.
pub async fn delete(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    name: &PackageName,
) -> Result<PackageRow> {
    check_may_build(app, caller, project).await?;
    let row = get(app, project, name).await?;
    app.db().delete_package(project.id, name).await?;
    tracing::info!(package = %name, project = %format!("{}/{}", project.owner, project.name),
        "package deleted");
    Ok(row)
}

/// Builds a package from its default source.
pub async fn build(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    name: &PackageName,
) -> Result<BuildRow> {
    let row = get(app, target.project, name).await?;
    match source_of(&row)? {
        v1::PackageSource::Scm(scm) => sources::submit_scm(app, caller, target, &scm).await,
        v1::PackageSource::Link { url } => sources::submit_url(app, caller, target, &url).await,
        v1::PackageSource::Unset => Err(Error::bad_request_hint(
            format!(
                "package {name} of {}/{} has no default source (it was reset)",
                target.project.owner, target.project.name
            ),
            "give it one with `koper edit-package-scm`, or build it with `koper build`",
        )),
    }
}
