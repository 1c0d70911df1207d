//! Requests for more storage: those who manage a project ask for a
//! quota of its own (a size and why); an administrator of the instance
//! grants it (the asked size, or another) or denies it with a message.
//! The project page, the native API and `koper admin quota-requests`
//! show where each stands.

use koper_api::v1;
use koper_db::{Database, DbError, ProjectRow, QuotaRequestRow, User};
use koper_types::{format_bytes, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::{moderation, permissions, quota};

/// The largest quota anyone may ask for: 1 PiB.
const MAX_REQUEST_BYTES: i64 = 1 << 50;

/// Files a request for `project` to get a quota of `bytes`.
pub async fn file_request(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    bytes: i64,
    reason: &str,
) -> Result<QuotaRequestRow> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not ask for storage for {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    let reason = moderation::check_reason(reason)?;
    let budget = quota::budget_for(app, project).await?;
    if bytes <= budget.quota || bytes > MAX_REQUEST_BYTES {
        return Err(Error::bad_request(format!(
            "ask for more than the current quota ({}) and at most {}",
            format_bytes(budget.quota),
            format_bytes(MAX_REQUEST_BYTES)
        )));
    }
    let id = match app
        .db()
        .create_quota_request(project.id, caller.id, bytes, &reason, now_epoch())
        .await
    {
        Ok(id) => id,
        Err(DbError::Conflict) => {
            return Err(Error::Conflict(format!(
                "{}/{} already has a quota request waiting for an administrator",
                project.owner, project.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(project = %format!("{}/{}", project.owner, project.name), bytes,
        by = %caller.name, "quota requested");
    get(app.db(), id).await
}

/// A project's requests, newest first, for those who manage it.
pub async fn project_requests(
    app: &App,
    caller: &User,
    project: &ProjectRow,
) -> Result<Vec<QuotaRequestRow>> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not see the quota requests of {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    Ok(app.db().project_quota_requests(project.id).await?)
}

/// One request, or a 404.
pub async fn get(db: &Database, id: i64) -> Result<QuotaRequestRow> {
    db.quota_request(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no quota request {id}")))
}

/// An administrator's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The project's quota becomes this size (`None`: the size asked).
    Grant(Option<i64>),
    /// Refused.
    Deny,
}

/// Answers a pending request; a denial needs a message. `by` names who
/// answers (for the log).
pub async fn answer(
    db: &Database,
    id: i64,
    answer: Answer,
    message: &str,
    by: &str,
) -> Result<QuotaRequestRow> {
    let request = get(db, id).await?;
    let message = message.trim();
    if message.chars().count() > 500 || message.chars().any(char::is_control) {
        return Err(Error::bad_request(
            "a message is one line of at most 500 characters",
        ));
    }
    let granted = match answer {
        Answer::Grant(size) => {
            let bytes = size.unwrap_or(request.requested_bytes);
            if !(1..=MAX_REQUEST_BYTES).contains(&bytes) {
                return Err(Error::bad_request(format!(
                    "grant between 1 byte and {}",
                    format_bytes(MAX_REQUEST_BYTES)
                )));
            }
            Some(bytes)
        }
        Answer::Deny if message.is_empty() => {
            return Err(Error::bad_request(
                "say why the request is denied: the requester is shown the message",
            ));
        }
        Answer::Deny => None,
    };
    if !db
        .answer_quota_request(id, granted, message, now_epoch())
        .await?
    {
        return Err(Error::Conflict(format!(
            "quota request {id} was already answered ({})",
            request.state
        )));
    }
    tracing::info!(request = id, ?granted, by, "quota request answered");
    get(db, id).await
}

/// A request as the API shows it.
pub fn to_api(request: &QuotaRequestRow) -> v1::QuotaRequest {
    v1::QuotaRequest {
        id: request.id,
        project: format!("{}/{}", request.owner, request.project),
        requester: request.requester.clone(),
        requested_bytes: request.requested_bytes,
        reason: request.reason.clone(),
        state: request.state.to_string(),
        granted_bytes: request.granted_bytes,
        answer: request.answer.clone(),
        created_on: request.created_on,
        answered_on: request.answered_on,
    }
}
