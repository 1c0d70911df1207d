//! Permissions: can_build_in, get, set (copr-cli `edit-permissions`) and
//! request (copr-cli `request-permissions`).

use std::collections::BTreeMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use koper_api::v1;
use koper_types::RoleState;
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::error::Error;
use crate::{permissions, roles};

use super::{CoprResult, Fields, caller, find_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(
        router,
        "/api_3/project/permissions/can_build_in/{who}/{owner}/{project}",
        get(can_build_in),
    );
    let router = route(
        router,
        "/api_3/project/permissions/get/{owner}/{project}",
        get(get_permissions),
    );
    let router = route(
        router,
        "/api_3/project/permissions/set/{owner}/{project}",
        put(set_permissions).post(set_permissions),
    );
    route(
        router,
        "/api_3/project/permissions/request/{owner}/{project}",
        put(request_permissions).post(request_permissions),
    )
}

async fn can_build_in(
    State(app): State<App>,
    Path((who, owner, name)): Path<(String, String, String)>,
) -> CoprResult<Json<Value>> {
    let found = find_project(&app, &owner, &name).await?;
    let can = match app.db().find_user(&who).await? {
        Some(user) => permissions::can_build(&app, &user, &found).await?,
        None => false,
    };
    Ok(Json(json!({
        "who": who,
        "ownername": owner,
        "projectname": name,
        "can_build_in": can,
    })))
}

async fn get_permissions(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    let found = find_project(&app, &owner, &name).await?;
    let listed = roles::list_roles(&app, &user, &found).await?;
    if listed.is_empty() {
        return Err(Error::NotFound(format!(
            "No permissions set in {}/{} project",
            found.owner, found.name
        ))
        .into());
    }
    let permissions: Map<String, Value> = listed
        .into_iter()
        .map(|row| {
            (
                row.user,
                json!({ "builder": row.builder.as_str(), "admin": row.admin.as_str() }),
            )
        })
        .collect();
    Ok(Json(json!({ "permissions": permissions })))
}

async fn set_permissions(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let found = find_project(&app, &owner, &name).await?;
    let mut updates = BTreeMap::new();
    for who in fields.keys() {
        let roles = fields.object(&who)?;
        let state = |role: &str| -> CoprResult<Option<RoleState>> {
            roles
                .str(role)
                .map(|s| {
                    s.parse::<RoleState>()
                        .map_err(|e| Error::bad_request(e.to_string()).into())
                })
                .transpose()
        };
        updates.insert(
            who.clone(),
            v1::RoleUpdate {
                builder: state("builder")?,
                admin: state("admin")?,
            },
        );
    }
    let updated = roles::change_roles(&app, &user, &found, &updates).await?;
    Ok(Json(json!({ "updated": updated })))
}

async fn request_permissions(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let found = find_project(&app, &owner, &name).await?;
    let request = v1::RoleRequest {
        builder: fields.bool("builder"),
        admin: fields.bool("admin"),
    };
    let updated = roles::request_roles(&app, &user, &found, &request).await?;
    Ok(Json(json!({ "updated": updated })))
}
