//! Native API for who may do what: project roles and requests for them
//! (`/api/v1/projects/{owner}/{project}/permissions`) and groups
//! (`/api/v1/groups`).

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use koper_api::v1;
use serde::Serialize;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{Error, Result};
use crate::{groups, projects, roles};

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/projects/{owner}/{project}/permissions",
            get(list_roles).put(change_roles),
        )
        .route(
            "/projects/{owner}/{project}/permissions/request",
            post(request_roles),
        )
        .route("/groups", get(list_groups).post(create_group))
        .route("/groups/{group}", get(show_group))
        .route(
            "/groups/{group}/members/{user}",
            put(set_member).delete(remove_member),
        )
}

fn body<T>(body: std::result::Result<Json<T>, JsonRejection>) -> Result<T> {
    body.map(|Json(value)| value)
        .map_err(|e| Error::bad_request(e.body_text()))
}

async fn list_roles(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<Vec<v1::UserRoles>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(roles::list_roles(&app, &user, &project).await?))
}

#[derive(Serialize)]
struct Updated<T> {
    updated: T,
}

async fn change_roles(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    updates: std::result::Result<Json<BTreeMap<String, v1::RoleUpdate>>, JsonRejection>,
) -> Result<Json<Updated<Vec<String>>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let updated = roles::change_roles(&app, &user, &project, &body(updates)?).await?;
    Ok(Json(Updated { updated }))
}

async fn request_roles(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    request: std::result::Result<Json<v1::RoleRequest>, JsonRejection>,
) -> Result<Json<Updated<bool>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let updated = roles::request_roles(&app, &user, &project, &body(request)?).await?;
    Ok(Json(Updated { updated }))
}

async fn list_groups(State(app): State<App>) -> Result<Json<Vec<String>>> {
    Ok(Json(groups::list_groups(&app).await?))
}

async fn create_group(
    State(app): State<App>,
    Caller(user): Caller,
    new: std::result::Result<Json<v1::NewGroup>, JsonRejection>,
) -> Result<(StatusCode, Json<v1::Group>)> {
    let group = groups::create_group(&app, &user, &body(new)?.name).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

async fn show_group(State(app): State<App>, Path(group): Path<String>) -> Result<Json<v1::Group>> {
    Ok(Json(groups::show_group(&app, &group).await?))
}

async fn set_member(
    State(app): State<App>,
    Caller(user): Caller,
    Path((group, member)): Path<(String, String)>,
    membership: std::result::Result<Json<v1::Membership>, JsonRejection>,
) -> Result<Json<v1::Group>> {
    let admin = body(membership)?.admin;
    Ok(Json(
        groups::set_member(&app, &user, &group, &member, admin).await?,
    ))
}

async fn remove_member(
    State(app): State<App>,
    Caller(user): Caller,
    Path((group, member)): Path<(String, String)>,
) -> Result<Json<v1::Group>> {
    Ok(Json(
        groups::remove_member(&app, &user, &group, &member).await?,
    ))
}
