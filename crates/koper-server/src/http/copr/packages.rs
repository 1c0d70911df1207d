//! Packages: the project's package records with their default sources
//! (add, edit, delete, build), and, for names built without a record
//! (uploads), the builds of that name; each with its newest builds.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use koper_api::{copr, v1};
use koper_db::{BuildRow, PackageRow, ProjectRow};
use koper_types::{BuildState, PackageName};

use crate::app::App;
use crate::builds::state_of;
use crate::error::Error;
use crate::packages as operations;

use super::builds::{build_target, scm_source};
use super::objects::{Paging, build, scm_source_dict};
use super::{CoprResult, Fields, caller, find_project, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(router, "/api_3/package", get(get_package));
    let router = route(router, "/api_3/package/list", get(list));
    let router = route(
        router,
        "/api_3/package/add/{owner}/{project}/{package}/{source_type}",
        post(add),
    );
    let router = route(
        router,
        "/api_3/package/edit/{owner}/{project}/{package}/{source_type}",
        post(edit),
    );
    let router = route(
        router,
        "/api_3/package/edit/{owner}/{project}/{package}",
        post(edit_keeping_type),
    );
    let router = route(
        router,
        "/api_3/package/delete",
        delete(delete_package).post(delete_package),
    );
    let router = route(
        router,
        "/api_3/webhook/generate/{owner}/{project}",
        post(new_webhook_secret),
    );
    route(router, "/api_3/package/build", post(build_package))
}

/// A new webhook secret (copr-cli `new-webhook-secret`).
async fn new_webhook_secret(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, project)): Path<(String, String)>,
) -> CoprResult<Json<serde_json::Value>> {
    let user = caller(&app, &headers).await?;
    let project = find_project(&app, &owner, &project).await?;
    let secret = crate::webhooks::new_secret(&app, &user, &project).await?;
    Ok(Json(serde_json::json!({
        "id": project.id,
        "name": project.name,
        "ownername": project.owner,
        "full_name": format!("{}/{}", project.owner, project.name),
        "webhook_secret": secret,
    })))
}

/// The builds of each package name in a project, oldest first.
async fn builds_by_name(
    app: &App,
    project: &ProjectRow,
) -> CoprResult<BTreeMap<String, Vec<BuildRow>>> {
    let mut by_name: BTreeMap<String, Vec<BuildRow>> = BTreeMap::new();
    for b in app.db().list_builds(project.id, i64::MAX, 0).await? {
        if let Some(name) = &b.package_name {
            by_name.entry(name.to_string()).or_default().push(b);
        }
    }
    for builds in by_name.values_mut() {
        builds.sort_by_key(|b| b.id);
    }
    Ok(by_name)
}

/// A package in Copr's shape: from its record when it has one, else from
/// its builds alone (source type of the newest build).
fn package(
    app: &App,
    project: &ProjectRow,
    name: &str,
    record: Option<&PackageRow>,
    builds: &[BuildRow],
) -> CoprResult<copr::Package> {
    let latest = builds.last();
    let latest_succeeded = builds
        .iter()
        .rev()
        .find(|b| state_of(b) == BuildState::Succeeded);
    let (id, source_type, source_dict, auto_rebuild) = match record {
        Some(row) => {
            let dict = match operations::source_of(row)? {
                v1::PackageSource::Scm(scm) => scm_source_dict(&scm),
                v1::PackageSource::Link { url } => BTreeMap::from([("url".to_owned(), url)]),
            };
            (row.id, row.source_type.clone(), dict, row.webhook_rebuild)
        }
        None => (
            builds.first().map_or(0, |b| b.id.0),
            latest.map_or("unset".into(), |b| b.source_type.clone()),
            BTreeMap::new(),
            false,
        ),
    };
    Ok(copr::Package {
        id,
        name: name.to_owned(),
        ownername: project.owner.to_string(),
        projectname: project.name.to_string(),
        source_type,
        source_dict,
        auto_rebuild,
        builds: copr::PackageBuilds {
            latest: latest.map(|b| build(app, b)),
            latest_succeeded: latest_succeeded.map(|b| build(app, b)),
        },
    })
}

/// Every package of a project: its records and the names built without
/// one, by name.
async fn all_packages(app: &App, project: &ProjectRow) -> CoprResult<Vec<copr::Package>> {
    let mut builds = builds_by_name(app, project).await?;
    let mut records: BTreeMap<String, PackageRow> = app
        .db()
        .list_packages(project.id)
        .await?
        .into_iter()
        .map(|row| (row.name.to_string(), row))
        .collect();
    let mut names: Vec<String> = records.keys().chain(builds.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names
        .iter()
        .map(|name| {
            let record = records.remove(name);
            let of_name = builds.remove(name).unwrap_or_default();
            package(app, project, name, record.as_ref(), &of_name)
        })
        .collect()
}

async fn get_package(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Package>> {
    let fields = Fields::from_query(query.as_deref())?;
    let project = named_project(&app, &fields).await?;
    let name = fields.required("packagename")?;
    all_packages(&app, &project)
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .map(Json)
        .ok_or_else(|| {
            Error::NotFound(format!(
                "Package {name} does not exist in {}/{}.",
                project.owner, project.name
            ))
            .into()
        })
}

async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Package>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id", "name"])?;
    let project = named_project(&app, &fields).await?;
    let mut items = all_packages(&app, &project).await?;
    if paging.order == "id" {
        items.sort_by_key(|p| p.id);
    }
    Ok(Json(paging.page(items)))
}

/// The package as Copr shows it after a change.
async fn shown(app: &App, project: &ProjectRow, row: &PackageRow) -> CoprResult<copr::Package> {
    let builds = builds_by_name(app, project)
        .await?
        .remove(row.name.as_str())
        .unwrap_or_default();
    package(app, project, row.name.as_str(), Some(row), &builds)
}

fn scm_only(source_type: &str) -> CoprResult<()> {
    if source_type != "scm" {
        return Err(Error::bad_request(format!(
            "Unsupported package source type {source_type}: koper packages build from scm"
        ))
        .into());
    }
    Ok(())
}

async fn add(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, project, name, source_type)): Path<(String, String, String, String)>,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    let user = caller(&app, &headers).await?;
    let project = find_project(&app, &owner, &project).await?;
    scm_only(&source_type)?;
    let fields = Fields::from_json(&body)?;
    let name: PackageName = fields.str("package_name").unwrap_or(name).parse()?;
    let settings = v1::PackageSettings {
        source: v1::PackageSource::Scm(scm_source(&fields, None)?),
        webhook_rebuild: fields.bool("webhook_rebuild").unwrap_or(false),
    };
    let row = operations::add(&app, &user, &project, &name, &settings).await?;
    Ok(Json(shown(&app, &project, &row).await?))
}

async fn edit(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, project, name, source_type)): Path<(String, String, String, String)>,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    scm_only(&source_type)?;
    edit_package(app, headers, owner, project, name, body).await
}

async fn edit_keeping_type(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, project, name)): Path<(String, String, String)>,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    edit_package(app, headers, owner, project, name, body).await
}

/// Changes a package's SCM source; fields not sent keep their values.
async fn edit_package(
    app: App,
    headers: HeaderMap,
    owner: String,
    project: String,
    name: String,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    let user = caller(&app, &headers).await?;
    let project = find_project(&app, &owner, &project).await?;
    let fields = Fields::from_json(&body)?;
    let name: PackageName = name.parse()?;
    let row = operations::get(&app, &project, &name).await?;
    let stored = match operations::source_of(&row)? {
        v1::PackageSource::Scm(scm) => Some(scm),
        v1::PackageSource::Link { .. } => None,
    };
    let settings = v1::PackageSettings {
        source: v1::PackageSource::Scm(scm_source(&fields, stored.as_ref())?),
        webhook_rebuild: fields
            .bool("webhook_rebuild")
            .unwrap_or(row.webhook_rebuild),
    };
    let row = operations::edit(&app, &user, &project, &name, &settings).await?;
    Ok(Json(shown(&app, &project, &row).await?))
}

async fn delete_package(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    let name: PackageName = fields.required("package_name")?.parse()?;
    let row = operations::delete(&app, &user, &project, &name).await?;
    Ok(Json(shown(&app, &project, &row).await?))
}

/// Builds a package from its default source (copr-cli `build-package`).
async fn build_package(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<copr::Build>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    let name: PackageName = fields.required("package_name")?.parse()?;
    let submitted = operations::build(&app, &user, build_target(&project, &fields)?, &name).await?;
    Ok(Json(build(&app, &submitted)))
}
