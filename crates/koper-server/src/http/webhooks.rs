//! The webhook receiver: `POST /webhooks/{owner}/{project}/{secret}`,
//! answered with the builds the push made (`webhooks.rs`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use koper_api::v1;

use super::api::find_project;
use crate::app::App;
use crate::error::Result;
use crate::webhooks;

pub fn routes() -> Router<App> {
    Router::new().route("/webhooks/{owner}/{project}/{secret}", post(receive))
}

async fn receive(
    State(app): State<App>,
    Path((owner, project, secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<v1::WebhookBuilds>> {
    let project = find_project(&app, &owner, &project).await?;
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    let builds = webhooks::receive_push(&app, &project, &secret, signature, &body).await?;
    Ok(Json(builds))
}
