//! Packages: in koper a package is the builds of one name in a project,
//! so listing them needs no separate records.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use koper_api::copr;
use koper_db::{BuildRow, ProjectRow};
use koper_types::BuildState;

use crate::app::App;
use crate::builds::state_of;
use crate::error::Error;

use super::objects::{Paging, build};
use super::{CoprResult, Fields, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(router, "/api_3/package", get(get_package));
    route(router, "/api_3/package/list", get(list))
}

/// Every package of a project with its builds, oldest build first.
async fn packages(app: &App, project: &ProjectRow) -> CoprResult<BTreeMap<String, Vec<BuildRow>>> {
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

fn package(app: &App, project: &ProjectRow, name: &str, builds: &[BuildRow]) -> copr::Package {
    let latest = builds.last();
    let latest_succeeded = builds
        .iter()
        .rev()
        .find(|b| state_of(b) == BuildState::Succeeded);
    copr::Package {
        id: builds.first().map_or(0, |b| b.id.0),
        name: name.to_owned(),
        ownername: project.owner.to_string(),
        projectname: project.name.to_string(),
        source_type: latest.map_or("unset".into(), |b| b.source_type.clone()),
        source_dict: BTreeMap::new(),
        auto_rebuild: false,
        builds: copr::PackageBuilds {
            latest: latest.map(|b| build(app, b)),
            latest_succeeded: latest_succeeded.map(|b| build(app, b)),
        },
    }
}

async fn get_package(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Package>> {
    let fields = Fields::from_query(query.as_deref())?;
    let project = named_project(&app, &fields).await?;
    let name = fields.required("packagename")?;
    let all = packages(&app, &project).await?;
    let builds = all.get(&name).ok_or_else(|| {
        Error::NotFound(format!(
            "Package {name} does not exist in {}/{}.",
            project.owner, project.name
        ))
    })?;
    Ok(Json(package(&app, &project, &name, builds)))
}

async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Package>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id", "name"])?;
    let project = named_project(&app, &fields).await?;
    let mut items: Vec<copr::Package> = packages(&app, &project)
        .await?
        .iter()
        .map(|(name, builds)| package(&app, &project, name, builds))
        .collect();
    if paging.order == "id" {
        items.sort_by_key(|p| p.id);
    }
    Ok(Json(paging.page(items)))
}
