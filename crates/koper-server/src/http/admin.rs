//! The instance page for site administrators: the queue, recent build
//! times, the builders and the accounts (what `koper admin status` shows),
//! quota requests to answer, and moderation: hiding or disabling projects,
//! disabling and locking out accounts.

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::routing::{get, post};

use super::pages::short_time;
use super::web::{CheckedForm, Chrome, PageResult, Visitor, render};
use crate::app::App;
use crate::error::Error;
use crate::moderation::{self, ProjectAction};
use crate::quota_requests::{self, Answer};
use crate::{metrics, users};
use koper_types::format_bytes;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/", get(admin_page))
        .route("/admin/users/{name}/lock", post(lock_account))
        .route("/admin/users/{name}/moderate", post(moderate_user))
        .route("/admin/projects/moderate", post(moderate_project))
        .route("/admin/quota-requests/{id}", post(answer_quota_request))
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
    users: Vec<UserLine>,
    quota_requests: Vec<QuotaRequestLine>,
    moderated: Vec<ModeratedLine>,
    message: Option<String>,
}

struct UserLine {
    name: String,
    admin: bool,
    /// Whether the visitor may lock or disable it (not their own).
    may_moderate: bool,
    disabled: Option<String>,
}

struct QuotaRequestLine {
    id: i64,
    project: String,
    project_url: String,
    requester: String,
    requested: String,
    current: String,
    reason: String,
    filed: String,
}

struct ModeratedLine {
    project: String,
    project_url: String,
    hidden: Option<String>,
    disabled: Option<String>,
    owner_disabled: bool,
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
    let mut quota_lines = Vec::new();
    for r in app.db().list_quota_requests(true).await? {
        let current = match app.db().project_by_id(r.project_id).await? {
            Some(project) => format_bytes(crate::quota::budget_for(app, &project).await?.quota),
            None => String::new(),
        };
        let path = match r.owner.as_str().strip_prefix('@') {
            Some(group) => format!("/coprs/g/{group}/{}/", r.project),
            None => format!("/coprs/{}/{}/", r.owner, r.project),
        };
        quota_lines.push(QuotaRequestLine {
            id: r.id,
            project: format!("{}/{}", r.owner, r.project),
            project_url: path,
            requester: r.requester.unwrap_or_default(),
            requested: format_bytes(r.requested_bytes),
            current,
            reason: r.reason,
            filed: short_time(r.created_on),
        });
    }
    let moderated = app
        .db()
        .moderated_projects()
        .await?
        .into_iter()
        .map(|p| ModeratedLine {
            project: format!("{}/{}", p.owner, p.name),
            project_url: format!("{}/", super::pages::project_path(&p)),
            owner_disabled: p.moderation.owner_disabled.is_some(),
            hidden: p.moderation.hidden,
            disabled: p.moderation.disabled,
        })
        .collect();
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
            .map(|u| UserLine {
                name: u.name.to_string(),
                admin: u.is_admin,
                may_moderate: u.id != user.id,
                disabled: u.disabled,
            })
            .collect(),
        quota_requests: quota_lines,
        moderated,
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

/// Moderation: disables (`action=disable`, with a reason) or enables an
/// account.
async fn moderate_user(
    State(app): State<App>,
    Path(name): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let caller = form.visitor.require_user()?;
    moderation::require_site_admin(caller)?;
    let reason = match form.text("action") {
        "disable" => {
            if name == caller.name.as_str() {
                return Err(Error::bad_request("you cannot disable your own account").into());
            }
            Some(form.text("reason"))
        }
        "enable" => None,
        other => {
            return Err(Error::bad_request(format!(
                "unknown action {other:?}: use disable or enable"
            ))
            .into());
        }
    };
    let user = moderation::set_user_disabled(app.db(), &name, reason, caller.name.as_str()).await?;
    let message = match &user.disabled {
        Some(_) => format!(
            "{} is disabled: no sign-in, no API token, and their projects are disabled.",
            user.name
        ),
        None => format!("{} is enabled again.", user.name),
    };
    admin_view(&app, &form.visitor, Some(message)).await
}

/// Moderation: hides, unhides, disables or enables a project named
/// `owner/name` in the form.
async fn moderate_project(State(app): State<App>, form: CheckedForm) -> PageResult {
    let caller = form.visitor.require_user()?;
    moderation::require_site_admin(caller)?;
    let action = ProjectAction::parse(form.text("action"))?;
    let named = form.text("project").trim();
    let (owner, name) = named.split_once('/').ok_or_else(|| {
        Error::bad_request(format!("{named:?} is not a project: write OWNER/PROJECT"))
    })?;
    let project = moderation::moderate_project(
        app.db(),
        &owner.parse()?,
        &name.parse()?,
        action,
        form.text("reason"),
        caller.name.as_str(),
    )
    .await?;
    let full_name = format!("{}/{}", project.owner, project.name);
    let message = match action {
        ProjectAction::Hide => format!("{full_name} is hidden from every listing."),
        ProjectAction::Unhide => format!("{full_name} is listed again."),
        ProjectAction::Disable => {
            format!("{full_name} is disabled: no new builds, and only those who manage it see it.")
        }
        ProjectAction::Enable => format!("{full_name} is enabled again."),
    };
    admin_view(&app, &form.visitor, Some(message)).await
}

/// Grants (the size in the form, or the one asked) or denies a quota
/// request.
async fn answer_quota_request(
    State(app): State<App>,
    Path(id): Path<String>,
    form: CheckedForm,
) -> PageResult {
    let caller = form.visitor.require_user()?;
    moderation::require_site_admin(caller)?;
    let id: i64 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("there is no quota request {id}")))?;
    let answer = match form.text("decision") {
        "grant" => {
            let size = form.text("size").trim();
            Answer::Grant(if size.is_empty() {
                None
            } else {
                Some(koper_types::parse_bytes(size).map_err(Error::bad_request)?)
            })
        }
        "deny" => Answer::Deny,
        other => {
            return Err(Error::bad_request(format!(
                "unknown decision {other:?}: use grant or deny"
            ))
            .into());
        }
    };
    let answered = quota_requests::answer(
        app.db(),
        id,
        answer,
        form.text("message"),
        caller.name.as_str(),
    )
    .await?;
    let message = match answered.granted_bytes {
        Some(bytes) => format!(
            "{}/{} now has a quota of its own: {}.",
            answered.owner,
            answered.project,
            format_bytes(bytes)
        ),
        None => format!(
            "The request of {}/{} is denied.",
            answered.owner, answered.project
        ),
    };
    admin_view(&app, &form.visitor, Some(message)).await
}
