//! The HTTP surface: routes and thin handlers that extract, authorise,
//! call one operation of the server and map its result.

mod access;
mod api;
mod builder_api;
mod copr;
mod package_api;
mod pages;
mod repo;
mod results;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::app::App;

/// Every route the server answers.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api::routes())
        .nest("/builder-api/v1", builder_api::routes())
        .merge(copr::routes())
        .merge(results::routes())
        .merge(repo::routes())
        .merge(pages::routes())
        .with_state(app)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}

/// Prometheus metrics (OpenMetrics text).
async fn metrics(State(app): State<App>) -> crate::error::Result<Response> {
    let text = crate::metrics::render(&app).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
