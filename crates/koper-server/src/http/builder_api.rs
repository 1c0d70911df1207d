//! The builder protocol under `/builder-api/v1/` (see
//! `docs/builder-api.md`). Every call carries the builder's token; calls
//! about a task also carry the lease in the `Koper-Lease` header.

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use koper_api::builder::{FinishRequest, LeaseRequest, LeaseStatus};
use tokio_util::io::ReaderStream;

use crate::app::App;
use crate::auth::BuilderCaller;
use crate::error::{Error, Result};
use crate::{late_logs, scheduler};

/// The header carrying the lease id on calls about a task.
pub const LEASE_HEADER: &str = "koper-lease";
/// The header carrying a result file's SHA-256.
pub const SHA256_HEADER: &str = "koper-sha256";

pub fn routes() -> Router<App> {
    Router::new()
        .route("/lease", post(lease))
        .route("/tasks/{task}/srpm", get(srpm))
        .route("/tasks/{task}/heartbeat", post(heartbeat))
        .route("/tasks/{task}/log", post(log))
        .route("/tasks/{task}/files/{name}", put(upload_file))
        .route("/tasks/{task}/finish", post(finish))
        .route("/tasks/{task}/late/{name}", put(upload_late_log))
}

fn lease_id(headers: &HeaderMap) -> Result<String> {
    headers
        .get(LEASE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::bad_request(format!("missing {LEASE_HEADER} header")))
}

fn sha256(headers: &HeaderMap) -> Result<String> {
    headers
        .get(SHA256_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Error::bad_request(format!("missing {SHA256_HEADER} header")))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

async fn lease(
    State(app): State<App>,
    BuilderCaller(builder): BuilderCaller,
    Json(request): Json<LeaseRequest>,
) -> Result<Response> {
    Ok(match scheduler::lease(&app, &builder, &request).await? {
        Some(task) => Json(task).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

async fn srpm(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path(task): Path<i64>,
    headers: HeaderMap,
) -> Result<Response> {
    let path = scheduler::srpm_path(&app, task, &lease_id(&headers)?).await?;
    let file = tokio::fs::File::open(&path).await?;
    let len = file.metadata().await?.len();
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-rpm".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response())
}

async fn heartbeat(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path(task): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<LeaseStatus>> {
    Ok(Json(
        scheduler::heartbeat(&app, task, &lease_id(&headers)?).await?,
    ))
}

async fn log(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path(task): Path<i64>,
    headers: HeaderMap,
    chunk: Bytes,
) -> Result<Json<LeaseStatus>> {
    Ok(Json(
        scheduler::append_log(&app, task, &lease_id(&headers)?, chunk).await?,
    ))
}

async fn upload_file(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path((task, name)): Path<(i64, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    scheduler::receive_file(
        &app,
        task,
        &lease_id(&headers)?,
        &name,
        &sha256(&headers)?,
        body.into_data_stream(),
        content_length(&headers),
    )
    .await?;
    Ok(StatusCode::CREATED)
}

async fn upload_late_log(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path((task, name)): Path<(i64, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode> {
    late_logs::receive(
        &app,
        task,
        &lease_id(&headers)?,
        &name,
        &sha256(&headers)?,
        body.into_data_stream(),
        content_length(&headers),
    )
    .await?;
    Ok(StatusCode::CREATED)
}

async fn finish(
    State(app): State<App>,
    BuilderCaller(_): BuilderCaller,
    Path(task): Path<i64>,
    Json(request): Json<FinishRequest>,
) -> Result<StatusCode> {
    scheduler::finish(&app, task, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}
