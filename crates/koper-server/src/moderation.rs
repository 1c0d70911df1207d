//! Moderation, as the instance's content rules require: administrators
//! hide a project (left out of every listing), disable it (no new builds;
//! its pages and repos served only to those who manage it) or disable a
//! user (no sign-in, tokens refused, their projects disabled), each with
//! a reason shown to the owner, and undo each. Stored with the project or
//! the user, so it holds across restarts and server processes.

use koper_db::{Database, ProjectRow, User};
use koper_types::{OwnerName, ProjectName};

use crate::error::{Error, Result};

/// What an administrator does to a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectAction {
    /// Leave it out of every listing.
    Hide,
    /// List it again.
    Unhide,
    /// Refuse its builds and stop serving it.
    Disable,
    /// Undo [`ProjectAction::Disable`].
    Enable,
}

impl ProjectAction {
    /// The action a form or command names: `hide`, `unhide`, `disable`,
    /// `enable`.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "hide" => Self::Hide,
            "unhide" => Self::Unhide,
            "disable" => Self::Disable,
            "enable" => Self::Enable,
            other => {
                return Err(Error::bad_request(format!(
                    "unknown moderation action {other:?}: use hide, unhide, disable or enable"
                )));
            }
        })
    }

    fn needs_reason(self) -> bool {
        matches!(self, Self::Hide | Self::Disable)
    }
}

/// The longest reason, in characters.
const MAX_REASON_CHARS: usize = 500;

/// A reason as stored: trimmed, not empty, not too long, one line.
pub fn check_reason(reason: &str) -> Result<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::bad_request(
            "give a reason: the owner is shown it, so they know what to fix",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(Error::bad_request(format!(
            "a reason is one line of at most {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(reason.to_owned())
}

/// Refuses callers who do not administer the instance.
pub fn require_site_admin(caller: &User) -> Result<()> {
    if caller.is_admin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{} is not an administrator of this instance",
            caller.name
        )))
    }
}

/// Hides, unhides, disables or enables `owner/name`; `by` names who did
/// (for the log). Returns the project as it is now.
pub async fn moderate_project(
    db: &Database,
    owner: &OwnerName,
    name: &ProjectName,
    action: ProjectAction,
    reason: &str,
    by: &str,
) -> Result<ProjectRow> {
    let reason = if action.needs_reason() {
        Some(check_reason(reason)?)
    } else {
        None
    };
    let project = db
        .find_project(owner, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("project {owner}/{name} does not exist")))?;
    match action {
        ProjectAction::Hide | ProjectAction::Unhide => {
            db.set_project_hidden(project.id, reason.as_deref()).await?;
        }
        ProjectAction::Disable | ProjectAction::Enable => {
            db.set_project_disabled(project.id, reason.as_deref())
                .await?;
        }
    }
    tracing::info!(project = %format!("{owner}/{name}"), ?action, by, "project moderated");
    db.project_by_id(project.id)
        .await?
        .ok_or_else(|| Error::internal("project vanished"))
}

/// Disables the user `name` with `reason` (their browser sessions end at
/// once; their tokens are refused while disabled and work again once
/// enabled), or with `None` enables them again.
pub async fn set_user_disabled(
    db: &Database,
    name: &str,
    reason: Option<&str>,
    by: &str,
) -> Result<User> {
    let reason = reason.map(check_reason).transpose()?;
    let user = db
        .find_user(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name} does not exist")))?;
    db.set_user_disabled(user.id, reason.as_deref()).await?;
    if reason.is_some() {
        db.delete_user_sessions(user.id).await?;
    }
    tracing::info!(user = %user.name, disabled = reason.is_some(), by, "user moderated");
    db.find_user(name)
        .await?
        .ok_or_else(|| Error::internal("user vanished"))
}

/// Refuses new builds in a disabled project (or one of a disabled user),
/// saying why.
pub fn refuse_builds(project: &ProjectRow) -> Result<()> {
    match project.disabled_reason() {
        None => Ok(()),
        Some(reason) => Err(Error::Forbidden(format!(
            "{}/{} is disabled by the administrators of this instance ({reason}); it accepts \
             no new builds",
            project.owner, project.name
        ))),
    }
}

/// Why a disabled project is not shown to someone who does not manage it
/// (the reason is for its owner, not for everyone).
pub fn not_served(project: &ProjectRow) -> Option<Error> {
    project.disabled_reason().map(|_| {
        Error::Forbidden(format!(
            "{}/{} is disabled by the administrators of this instance; its pages and \
             repositories are not served",
            project.owner, project.name
        ))
    })
}

/// The refusal of a disabled account's sign-in or token.
pub fn account_disabled(user: &User) -> Option<Error> {
    user.disabled.as_ref().map(|reason| Error::Unauthenticated {
        message: format!(
            "the account {} is disabled by the administrators of this instance: {reason}",
            user.name
        ),
        hint: Some("ask the administrators of this instance to enable it again".into()),
    })
}
