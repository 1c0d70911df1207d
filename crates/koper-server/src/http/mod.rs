//! The HTTP surface: routes and thin handlers that extract, authorise,
//! call one operation of the server and map its result.

mod access;
mod account;
mod admin;
mod api;
mod builder_api;
mod copr;
mod drain;
mod forms;
mod moderated;
mod oidc_login;
mod package_api;
mod pages;
mod permissions_page;
mod quota_form;
mod repo;
mod results;
mod web;
mod webhooks;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;

/// Every route the server answers.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/static/koper.css", get(stylesheet))
        .route("/static/koper.js", get(script))
        .nest("/api/v1", api::routes())
        .nest("/builder-api/v1", builder_api::routes())
        .merge(copr::routes())
        .merge(results::routes())
        .merge(webhooks::routes())
        .merge(repo::routes())
        .merge(pages::routes())
        .merge(account::routes())
        .merge(oidc_login::routes())
        .merge(admin::routes())
        .merge(forms::routes())
        .merge(permissions_page::routes())
        .merge(quota_form::routes())
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            moderated::serve_only_to_managers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            drain::drain_unread_body,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            web::panicked,
        ))
        .with_state(app)
}

/// The pages' stylesheet, compiled in.
async fn stylesheet() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/koper.css"),
    )
}

/// The pages' script, compiled in.
async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/koper.js"),
    )
}

fn static_file(kind: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        text,
    )
        .into_response()
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
