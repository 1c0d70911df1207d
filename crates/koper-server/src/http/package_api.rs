//! The native API's package routes (`/api/v1/projects/{owner}/{project}/packages`):
//! list, add, edit, show, reset, delete and build a project's packages, and make
//! the secret of the webhook that rebuilds them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use koper_api::v1;
use koper_types::PackageName;

use super::api::{SubmitQuery, find_project};
use crate::app::App;
use crate::auth::Caller;
use crate::builds;
use crate::error::{Error, Result};
use crate::{packages, webhooks};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/projects/{owner}/{project}/packages", get(list))
        .route(
            "/projects/{owner}/{project}/packages/{name}",
            get(show).post(add).put(edit).delete(delete),
        )
        .route(
            "/projects/{owner}/{project}/packages/{name}/build",
            post(build),
        )
        .route(
            "/projects/{owner}/{project}/packages/{name}/reset",
            post(reset),
        )
        .route(
            "/projects/{owner}/{project}/webhook-secret",
            post(new_webhook_secret),
        )
}

/// A new webhook secret; the old one stops working.
async fn new_webhook_secret(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<v1::WebhookSecret>> {
    let project = find_project(&app, &owner, &project).await?;
    let secret = webhooks::new_secret(&app, &user, &project).await?;
    Ok(Json(v1::WebhookSecret {
        url: format!(
            "{}/webhooks/{}/{}/{secret}",
            app.public_url(),
            project.owner,
            project.name
        ),
        secret,
    }))
}

type Settings =
    std::result::Result<Json<v1::PackageSettings>, axum::extract::rejection::JsonRejection>;

fn settings(body: Settings) -> Result<v1::PackageSettings> {
    body.map(|Json(settings)| settings)
        .map_err(|e| Error::bad_request(e.body_text()))
}

async fn list(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<Vec<v1::Package>>> {
    let project = find_project(&app, &owner, &project).await?;
    let rows = app.db().list_packages(project.id).await?;
    let shown = rows
        .iter()
        .map(|row| packages::to_api(&project, row))
        .collect::<Result<_>>()?;
    Ok(Json(shown))
}

async fn show(
    State(app): State<App>,
    Path((owner, project, name)): Path<(String, String, String)>,
) -> Result<Json<v1::Package>> {
    let project = find_project(&app, &owner, &project).await?;
    let row = packages::get(&app, &project, &name.parse::<PackageName>()?).await?;
    Ok(Json(packages::to_api(&project, &row)?))
}

async fn add(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, name)): Path<(String, String, String)>,
    body: Settings,
) -> Result<(StatusCode, Json<v1::Package>)> {
    let project = find_project(&app, &owner, &project).await?;
    let name: PackageName = name.parse()?;
    let row = packages::add(&app, &user, &project, &name, &settings(body)?).await?;
    Ok((StatusCode::CREATED, Json(packages::to_api(&project, &row)?)))
}

async fn edit(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, name)): Path<(String, String, String)>,
    body: Settings,
) -> Result<Json<v1::Package>> {
    let project = find_project(&app, &owner, &project).await?;
    let name: PackageName = name.parse()?;
    let row = packages::edit(&app, &user, &project, &name, &settings(body)?).await?;
    Ok(Json(packages::to_api(&project, &row)?))
}

async fn delete(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, name)): Path<(String, String, String)>,
) -> Result<Json<v1::Package>> {
    let project = find_project(&app, &owner, &project).await?;
    let row = packages::delete(&app, &user, &project, &name.parse::<PackageName>()?).await?;
    Ok(Json(packages::to_api(&project, &row)?))
}

async fn reset(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, name)): Path<(String, String, String)>,
) -> Result<Json<v1::Package>> {
    let project = find_project(&app, &owner, &project).await?;
    let row = packages::reset(&app, &user, &project, &name.parse::<PackageName>()?).await?;
    Ok(Json(packages::to_api(&project, &row)?))
}

async fn build(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, name)): Path<(String, String, String)>,
    Query(query): Query<SubmitQuery>,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let project = find_project(&app, &owner, &project).await?;
    let name: PackageName = name.parse()?;
    let build = packages::build(&app, &user, query.target(&project)?, &name).await?;
    Ok((
        StatusCode::CREATED,
        Json(builds::to_api_explained(&app, &build).await?),
    ))
}
