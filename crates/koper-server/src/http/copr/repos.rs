//! What dnf5's copr plugin reads to enable a project (`rpmrepo`), and the
//! per-package state overview `copr-cli monitor` prints.

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::Error;
use crate::keys::PUBKEY_FILE;
use crate::projects::repo_url;

use super::objects::result_url;
use super::{CoprResult, Fields, find_project, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(
        router,
        "/api_3/rpmrepo/{owner}/{dirname}/{name_release}",
        get(rpmrepo),
    );
    route(router, "/api_3/monitor", get(monitor))
}

/// The project's chroots grouped by distribution release, for dnf5 to pick
/// from; the requested release only has to exist among them for dnf5's
/// own fallbacks to work, so all are listed.
async fn rpmrepo(
    State(app): State<App>,
    Path((owner, dirname, _name_release)): Path<(String, String, String)>,
) -> CoprResult<Json<Value>> {
    let project = find_project(&app, &owner, &dirname).await?;
    let mut repos: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for chroot in &project.chroots {
        repos
            .entry(chroot.name_release().to_owned())
            .or_default()
            .insert(chroot.arch().to_owned(), json!({ "opts": {} }));
    }
    let repos: Map<String, Value> = repos
        .into_iter()
        .map(|(name, arches)| (name, json!({ "arch": arches })))
        .collect();
    Ok(Json(json!({
        "results_url": app.results_url(),
        "repos": repos,
        "directories": { project.name.as_str(): {} },
        "dependencies": [],
        "pubkey_url": format!("{}/{PUBKEY_FILE}", repo_url(&app, &project)),
    })))
}

/// The newest build of every package in every chroot.
async fn monitor(State(app): State<App>, RawQuery(query): RawQuery) -> CoprResult<Json<Value>> {
    let fields = Fields::from_query(query.as_deref())?;
    let project = named_project(&app, &fields).await?;
    let extra = fields.list("additional_fields[]").unwrap_or_default();
    for field in &extra {
        if !["url_build_log", "url_backend_log", "url_build"].contains(&field.as_str()) {
            return Err(Error::bad_request(format!("Wrong additional field: {field}")).into());
        }
    }
    // One row per package and chroot, with the columns shown: the newest
    // build's chroot, found and read by the database.
    let entries = app.db().monitor_entries(project.id).await?;
    let mut packages: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for entry in entries {
        let mut shown = json!({
            "state": entry.state.to_string(),
            "status": entry.state.code(),
            "build_id": entry.build_id.0,
            "pkg_version": entry.package_version,
        });
        for field in &extra {
            let value = match field.as_str() {
                "url_build" => Some(format!(
                    "{}/coprs/build/{}/",
                    app.public_url(),
                    entry.build_id
                )),
                "url_build_log" => entry.result_dir.as_ref().map(|dir| {
                    let dir = result_url(&app, &project.owner, &project.name, &entry.chroot, dir);
                    let suffix = if entry.state.is_final() { ".gz" } else { "" };
                    format!("{dir}builder-live.log{suffix}")
                }),
                _ => None,
            };
            shown[field.as_str()] = value.map_or(Value::Null, Value::String);
        }
        packages
            .entry(entry.package)
            .or_default()
            .insert(entry.chroot.to_string(), shown);
    }
    let packages: Vec<Value> = packages
        .into_iter()
        .map(|(name, chroots)| json!({ "name": name, "chroots": chroots }))
        .collect();
    Ok(Json(json!({
        "output": "ok",
        "message": "Project monitor request successful",
        "packages": packages,
    })))
}
