//! Packages: the project's package records with their default sources
//! (add, edit, reset, delete, build), and, for names built without a record
//! (uploads), the builds of that name; each with its newest builds.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use koper_api::{copr, v1};
use koper_db::{BuildRow, PackageKey, PackageRow, PackageSummary, ProjectRow};
use koper_types::{BuildId, PackageName};

use crate::app::App;
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
        "/api_3/package/reset",
        put(reset_package).post(reset_package),
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

/// A package as listed: its record, if it has one, and the builds that
/// summarise it, if it was built.
struct Listed {
    name: String,
    record: Option<PackageRow>,
    summary: Option<PackageSummary>,
}

impl Listed {
    /// Copr's package id: its record's, else its first build's.
    fn id(&self) -> i64 {
        match (&self.record, &self.summary) {
            (Some(row), _) => row.id,
            (None, Some(summary)) => summary.first_build.0,
            (None, None) => 0,
        }
    }
}

/// The listed packages of a page, in the page's order: their records and
/// summaries, read for these names alone.
async fn listed_packages(
    app: &App,
    project: &ProjectRow,
    page: &[PackageKey],
) -> CoprResult<Vec<Listed>> {
    let names: Vec<&str> = page.iter().map(|key| key.name.as_str()).collect();
    let mut summaries: HashMap<String, PackageSummary> = app
        .db()
        .package_summaries_named(project.id, &names)
        .await?
        .into_iter()
        .map(|summary| (summary.name.clone(), summary))
        .collect();
    let mut records: HashMap<String, PackageRow> = app
        .db()
        .packages_named(project.id, &names)
        .await?
        .into_iter()
        .map(|row| (row.name.to_string(), row))
        .collect();
    Ok(page
        .iter()
        .map(|key| Listed {
            record: records.remove(&key.name),
            summary: summaries.remove(&key.name),
            name: key.name.clone(),
        })
        .collect())
}

/// The packages in Copr's shape, reading only the builds they show.
async fn packages(
    app: &App,
    project: &ProjectRow,
    listed: &[Listed],
) -> CoprResult<Vec<copr::Package>> {
    let mut ids: Vec<i64> = listed
        .iter()
        .filter_map(|l| l.summary.as_ref())
        .flat_map(|s| [Some(s.latest), s.latest_succeeded])
        .flatten()
        .map(|id| id.0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let builds: HashMap<BuildId, BuildRow> = app
        .db()
        .builds_by_ids(&ids)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    listed
        .iter()
        .map(|l| package(app, project, l, &builds))
        .collect()
}

/// A package in Copr's shape: from its record when it has one, else from
/// its builds alone (source type of the newest build).
fn package(
    app: &App,
    project: &ProjectRow,
    listed: &Listed,
    builds: &HashMap<BuildId, BuildRow>,
) -> CoprResult<copr::Package> {
    let summary = listed.summary.as_ref();
    let latest = summary.and_then(|s| builds.get(&s.latest));
    let latest_succeeded = summary
        .and_then(|s| s.latest_succeeded)
        .and_then(|id| builds.get(&id));
    let (source_type, source_dict, auto_rebuild) = match &listed.record {
        Some(row) => {
            let dict = match operations::source_of(row)? {
                v1::PackageSource::Scm(scm) => scm_source_dict(&scm),
                v1::PackageSource::Link { url } => BTreeMap::from([("url".to_owned(), url)]),
                v1::PackageSource::Unset => BTreeMap::new(),
            };
            (row.source_type.clone(), dict, row.webhook_rebuild)
        }
        None => (
            latest.map_or("unset".into(), |b| b.source_type.clone()),
            BTreeMap::new(),
            false,
        ),
    };
    Ok(copr::Package {
        id: listed.id(),
        name: listed.name.clone(),
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

/// One package of a project: its record and its builds' summary; `None`
/// when it has neither.
async fn listed_package(app: &App, project: &ProjectRow, name: &str) -> CoprResult<Option<Listed>> {
    let record = match name.parse::<PackageName>() {
        Ok(parsed) => app.db().package(project.id, &parsed).await?,
        Err(_) => None,
    };
    let summary = app.db().package_summary(project.id, name).await?;
    if record.is_none() && summary.is_none() {
        return Ok(None);
    }
    Ok(Some(Listed {
        name: name.to_owned(),
        record,
        summary,
    }))
}

async fn get_package(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Package>> {
    let fields = Fields::from_query(query.as_deref())?;
    let project = named_project(&app, &fields).await?;
    let name = fields.required("packagename")?;
    let Some(listed) = listed_package(&app, &project, &name).await? else {
        return Err(Error::NotFound(format!(
            "Package {name} does not exist in {}/{}.",
            project.owner, project.name
        ))
        .into());
    };
    let mut shown = packages(&app, &project, std::slice::from_ref(&listed)).await?;
    Ok(Json(shown.remove(0)))
}

async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Package>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id", "name"])?;
    let project = named_project(&app, &fields).await?;
    // Paged by name and id alone: only the page's summaries and builds
    // are read.
    let mut keys = app.db().package_keys(project.id).await?;
    if paging.order == "id" {
        // Stable: equal ids stay in name order.
        keys.sort_by_key(|key| key.id);
    }
    let page = paging.page(keys);
    let listed = listed_packages(&app, &project, &page.items).await?;
    Ok(Json(copr::Page {
        items: packages(&app, &project, &listed).await?,
        meta: page.meta,
    }))
}

/// The package as Copr shows it after a change.
async fn shown(app: &App, project: &ProjectRow, row: &PackageRow) -> CoprResult<copr::Package> {
    let listed = Listed {
        name: row.name.to_string(),
        record: Some(row.clone()),
        summary: app
            .db()
            .package_summary(project.id, row.name.as_str())
            .await?,
    };
    let mut shown = packages(app, project, std::slice::from_ref(&listed)).await?;
    Ok(shown.remove(0))
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
        v1::PackageSource::Link { .. } | v1::PackageSource::Unset => None,
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

/// Clears a package's default source (copr-cli `reset-package`).
async fn reset_package(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<copr::Package>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    let name: PackageName = fields.required("package_name")?.parse()?;
    let row = operations::reset(&app, &user, &project, &name).await?;
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
