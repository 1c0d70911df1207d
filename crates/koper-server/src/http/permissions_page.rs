//! The permissions page of a project: its owner and admins see who has or
//! asks for a role and grant or deny; anyone else signed in asks for a
//! role or gives one up. The decisions are `roles.rs`'s, as for the API.

use std::collections::BTreeMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use koper_api::v1;
use koper_db::ProjectRow;
use koper_types::RoleState;

use super::pages::{PathParams, access_of, project_path};
use super::web::{CheckedForm, Chrome, PageResult, Visitor, render};
use crate::app::App;
use crate::error::Error;
use crate::roles;

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/coprs/{owner}/{project}/permissions",
            get(permissions_page).post(change_roles),
        )
        .route(
            "/coprs/g/{group}/{project}/permissions",
            get(permissions_page).post(change_roles),
        )
        .route(
            "/coprs/{owner}/{project}/permissions/request",
            axum::routing::post(request_roles),
        )
        .route(
            "/coprs/g/{group}/{project}/permissions/request",
            axum::routing::post(request_roles),
        )
}

struct RoleLine {
    user: String,
    builder: String,
    admin: String,
}

#[derive(Template)]
#[template(path = "permissions.html")]
struct PermissionsPage {
    chrome: Chrome,
    path: String,
    full_name: String,
    can_admin: bool,
    message: Option<String>,
    roles: Vec<RoleLine>,
    /// Value and label of each state.
    states: Vec<(String, &'static str)>,
    own_builder: &'static str,
    own_admin: &'static str,
}

fn label(state: RoleState) -> &'static str {
    match state {
        RoleState::Nothing => "none",
        RoleState::Requested => "asked for",
        RoleState::Approved => "granted",
    }
}

async fn view(
    app: &App,
    visitor: &Visitor,
    project: &ProjectRow,
    message: Option<String>,
) -> PageResult {
    let user = visitor.require_user()?;
    let can_admin = access_of(app, visitor, project).await?.admin;
    let roles = if can_admin {
        roles::list_roles(app, user, project)
            .await?
            .into_iter()
            .map(|r| RoleLine {
                user: r.user,
                builder: r.builder.as_str().to_owned(),
                admin: r.admin.as_str().to_owned(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let own = app.db().roles_of(project.id, user.id).await?;
    let full_name = format!("{}/{}", project.owner, project.name);
    render(&PermissionsPage {
        chrome: visitor.chrome(app, format!("Permissions of {full_name}")),
        path: project_path(project),
        full_name,
        can_admin,
        message,
        roles,
        states: RoleState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), label(*s)))
            .collect(),
        own_builder: label(own.builder),
        own_admin: label(own.admin),
    })
}

async fn permissions_page(
    State(app): State<App>,
    visitor: Visitor,
    params: PathParams,
) -> PageResult {
    let project = params.project(&app).await?;
    view(&app, &visitor, &project, None).await
}

fn role_state(form: &CheckedForm, field: &str) -> Result<Option<RoleState>, Error> {
    form.get(field)
        .map(|value| {
            RoleState::ALL
                .into_iter()
                .find(|s| s.as_str() == value)
                .ok_or_else(|| Error::bad_request(format!("{field} cannot be {value:?}")))
        })
        .transpose()
}

/// The owner or an admin grants, denies or takes back one user's roles.
async fn change_roles(State(app): State<App>, params: PathParams, form: CheckedForm) -> PageResult {
    let caller = form.visitor.require_user()?;
    let project = params.project(&app).await?;
    let name = form.text("user").trim().to_owned();
    let update = v1::RoleUpdate {
        builder: role_state(&form, "builder")?,
        admin: role_state(&form, "admin")?,
    };
    roles::change_roles(
        &app,
        caller,
        &project,
        &BTreeMap::from([(name.clone(), update)]),
    )
    .await?;
    view(
        &app,
        &form.visitor,
        &project,
        Some(format!("The roles of {name} were saved.")),
    )
    .await
}

/// A user asks for the roles ticked and gives up the others.
async fn request_roles(
    State(app): State<App>,
    params: PathParams,
    form: CheckedForm,
) -> PageResult {
    let caller = form.visitor.require_user()?;
    let project = params.project(&app).await?;
    let request = v1::RoleRequest {
        builder: Some(form.ticked("builder")),
        admin: Some(form.ticked("admin")),
    };
    let changed = roles::request_roles(&app, caller, &project, &request).await?;
    let message = if changed {
        "Your request was saved; the owner or an admin of the project decides."
    } else {
        "Nothing changed."
    };
    view(&app, &form.visitor, &project, Some(message.to_owned())).await
}
