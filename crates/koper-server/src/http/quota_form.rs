//! The project page's form asking an administrator for more storage
//! (see [`crate::quota_requests`]); the page then shows where it stands.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::routing::post;

use super::pages::{PathParams, project_path};
use super::web::{CheckedForm, PageResult};
use crate::app::App;
use crate::error::Error;
use crate::quota_requests;

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/coprs/{owner}/{project}/quota-request",
            post(request_quota),
        )
        .route(
            "/coprs/g/{group}/{project}/quota-request",
            post(request_quota),
        )
}

async fn request_quota(
    State(app): State<App>,
    params: PathParams,
    form: CheckedForm,
) -> PageResult {
    let user = form.visitor.require_user()?;
    let project = params.project(&app).await?;
    let bytes = koper_types::parse_bytes(form.text("size")).map_err(Error::bad_request)?;
    quota_requests::file_request(&app, user, &project, bytes, form.text("reason")).await?;
    Ok(Redirect::to(&format!("{}/", project_path(&project))).into_response())
}
