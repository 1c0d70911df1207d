//! The native API under `/api/v1/`, used by the `koper` CLI.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use koper_api::v1;
use koper_types::{BuildId, ChrootName, OwnerName, ProjectName};
use serde::Deserialize;

use crate::app::App;
use crate::auth::Caller;
use crate::builds::{self, BuildTarget};
use crate::error::{Error, Result};
use crate::projects;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(version))
        .route("/me", get(me))
        .route("/chroots", get(list_chroots))
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{owner}/{project}", get(get_project))
        .route(
            "/projects/{owner}/{project}/builds",
            get(list_builds).post(submit_build),
        )
        .route("/builds/{id}", get(get_build))
        .route("/builds/{id}/cancel", post(cancel_build))
        .route("/builds/{id}/log/{chroot}", get(build_log))
        .fallback(unknown_endpoint)
}

async fn unknown_endpoint() -> Error {
    Error::NotFound("no such API endpoint".into())
}

/// What clients may need to know before they send anything: the API
/// version and the upload limit (so a client can refuse a too-large file
/// before uploading it).
async fn version(State(app): State<App>) -> Json<v1::ServerInfo> {
    Json(v1::ServerInfo {
        api: 1,
        server: env!("CARGO_PKG_VERSION").to_owned(),
        max_upload_bytes: app.config().max_upload_bytes,
    })
}

async fn me(Caller(user): Caller) -> Json<v1::Me> {
    Json(v1::Me {
        name: user.name.to_string(),
        is_admin: user.is_admin,
    })
}

async fn list_chroots(State(app): State<App>) -> Json<Vec<v1::Chroot>> {
    Json(
        app.chroots()
            .iter()
            .map(|def| v1::Chroot {
                name: def.name.clone(),
                arch: def.arch.clone(),
                description: def.description.clone(),
            })
            .collect(),
    )
}

#[derive(Deserialize)]
struct OwnerFilter {
    owner: Option<OwnerName>,
}

async fn list_projects(
    State(app): State<App>,
    Query(filter): Query<OwnerFilter>,
) -> Result<Json<Vec<v1::Project>>> {
    let projects = app.db().list_projects(filter.owner.as_ref()).await?;
    Ok(Json(
        projects.iter().map(|p| projects::to_api(&app, p)).collect(),
    ))
}

async fn create_project(
    State(app): State<App>,
    Caller(user): Caller,
    body: std::result::Result<Json<v1::NewProject>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::Project>)> {
    let Json(new) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = projects::create_project(&app, &user, &new).await?;
    Ok((StatusCode::CREATED, Json(projects::to_api(&app, &project))))
}

async fn get_project(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<v1::Project>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(projects::to_api(&app, &project)))
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
}

fn default_limit() -> i64 {
    100
}

async fn list_builds(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
    Query(paging): Query<Paging>,
) -> Result<Json<v1::Page<v1::Build>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(
        builds::list_builds(&app, &project, paging.limit, paging.offset).await?,
    ))
}

#[derive(Deserialize)]
struct SubmitQuery {
    /// Comma-separated chroot names; absent means all of the project's.
    #[serde(default)]
    chroots: String,
}

async fn submit_build(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let owner: OwnerName = owner.parse()?;
    let project: ProjectName = project.parse()?;
    let chroots = query
        .chroots
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::parse::<ChrootName>)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let project = projects::find_project(&app, &owner, &project).await?;
    let announced_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let build = builds::submit_srpm(
        &app,
        &user,
        BuildTarget {
            project: &project,
            chroots,
        },
        body.into_data_stream(),
        announced_len,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(builds::to_api(&app, &build))))
}

async fn get_build(State(app): State<App>, Path(id): Path<String>) -> Result<Json<v1::Build>> {
    let build = builds::get_build(&app, id.parse::<BuildId>()?).await?;
    Ok(Json(builds::to_api(&app, &build)))
}

async fn cancel_build(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<v1::Build>> {
    let build = builds::cancel_build(&app, &user, id.parse::<BuildId>()?).await?;
    Ok(Json(builds::to_api(&app, &build)))
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    offset: u64,
}

/// Header saying whether a log chunk is the end of the log.
pub const LOG_COMPLETE_HEADER: &str = "koper-log-complete";

async fn build_log(
    State(app): State<App>,
    Path((id, chroot)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response> {
    let build = builds::get_build(&app, id.parse::<BuildId>()?).await?;
    let chunk = builds::read_log(&app, &build, &chroot.parse()?, query.offset, 1 << 20).await?;
    let mut response = (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        chunk.bytes,
    )
        .into_response();
    response.headers_mut().insert(
        LOG_COMPLETE_HEADER,
        HeaderValue::from_static(if chunk.complete { "true" } else { "false" }),
    );
    Ok(response)
}
