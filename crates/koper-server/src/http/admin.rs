//! The instance page for site administrators: the queue, recent build
//! times, the builders and the accounts (what `koper admin status` shows).

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::routing::{get, post};

use super::pages::short_time;
use super::web::{CheckedForm, Chrome, PageResult, Visitor, render};
use crate::app::App;
use crate::error::Error;
use crate::{metrics, users};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/", get(admin_page))
        .route("/admin/users/{name}/lock", post(lock_account))
}

struct BuilderLine {
    name: String,
    state: String,
    state_class: &'static str,
    arches: String,
    slots: i64,
    running: i64,
    last_seen: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    queue: Vec<metrics::QueueCount>,
    /// Arch, tasks, mean build seconds.
    recent: Vec<(String, usize, i64)>,
    builders: Vec<BuilderLine>,
    /// Name, administrator, whether the visitor may lock it.
    users: Vec<(String, bool, bool)>,
    message: Option<String>,
}

async fn admin_page(State(app): State<App>, visitor: Visitor) -> PageResult {
    admin_view(&app, &visitor, None).await
}

async fn admin_view(app: &App, visitor: &Visitor, message: Option<String>) -> PageResult {
    let user = visitor.require_user()?;
    if !user.is_admin {
        return Err(Error::Forbidden(format!(
            "{} is not an administrator of this instance",
            user.name
        ))
        .into());
    }
    let status = metrics::status(app).await?;
    render(&AdminPage {
        chrome: visitor.chrome(app, "Instance"),
        message,
        queue: status.queue,
        recent: status
            .recent
            .into_iter()
            .map(|r| (r.arch, r.tasks, r.mean_build_seconds))
            .collect(),
        builders: status
            .builders
            .into_iter()
            .map(|b| BuilderLine {
                state_class: match b.state.as_str() {
                    "busy" => "running",
                    "idle" => "succeeded",
                    "offline" => "failed",
                    _ => "canceled",
                },
                name: b.name,
                state: b.state,
                arches: b.arches.join(" "),
                slots: b.slots,
                running: b.running,
                last_seen: b.last_seen_on.map(short_time).unwrap_or_default(),
            })
            .collect(),
        users: app
            .db()
            .list_users()
            .await?
            .into_iter()
            .map(|u| (u.name.to_string(), u.is_admin, u.id != user.id))
            .collect(),
    })
}

/// Moderation: locks an account out (see [`users::lock_account`]).
async fn lock_account(
    State(app): State<App>,
    Path(name): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let caller = form.visitor.require_user()?;
    let locked = users::lock_account(app.db(), caller, &name).await?;
    admin_view(
        &app,
        &form.visitor,
        Some(format!(
            "{} is locked out: no password, no valid token, no session.",
            locked.name
        )),
    )
    .await
}
