//! The API's front door: its version, who the caller is, and the chroots
//! projects can select.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::{Value, json};

use crate::app::App;

use super::{CoprResult, caller, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(router, "/api_3", get(home));
    let router = route(router, "/api_3/auth-check", get(auth_check));
    route(router, "/api_3/mock-chroots/list", get(mock_chroots))
}

async fn home() -> Json<Value> {
    Json(json!({ "version": 3 }))
}

async fn auth_check(State(app): State<App>, headers: HeaderMap) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    Ok(Json(json!({ "id": user.id, "name": user.name })))
}

/// Every chroot with its description, in name order.
async fn mock_chroots(State(app): State<App>) -> Json<serde_json::Map<String, Value>> {
    Json(
        app.chroots()
            .iter()
            .map(|def| (def.name.to_string(), Value::String(def.description.clone())))
            .collect(),
    )
}
