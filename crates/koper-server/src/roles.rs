//! Per-project roles: listing them, granting and denying them, and users
//! asking for them (Copr's permission requests).

use std::collections::BTreeMap;

use koper_api::v1;
use koper_db::{ProjectRow, RoleChange, User};
use koper_types::{RoleState, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::permissions;

fn refuse(caller: &User, project: &ProjectRow) -> Error {
    Error::Forbidden(format!(
        "{} may not manage permissions of {}/{}: only its owner and admins may",
        caller.name, project.owner, project.name
    ))
}

/// Everyone with a role or a request in `project`. Only those who may
/// grant roles see them.
pub async fn list_roles(
    app: &App,
    caller: &User,
    project: &ProjectRow,
) -> Result<Vec<v1::UserRoles>> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(refuse(caller, project));
    }
    Ok(app
        .db()
        .project_roles(project.id)
        .await?
        .into_iter()
        .map(|row| v1::UserRoles {
            user: row.user_name,
            builder: row.roles.builder,
            admin: row.roles.admin,
        })
        .collect())
}

/// Grants, denies or takes back roles, all or none: an unknown user or an
/// empty change refuses the whole request. Returns the users changed.
pub async fn change_roles(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    updates: &BTreeMap<String, v1::RoleUpdate>,
) -> Result<Vec<String>> {
    if !permissions::can_admin(app, caller, project).await? {
        return Err(refuse(caller, project));
    }
    if updates.is_empty() {
        return Err(Error::bad_request("no permission changes given"));
    }
    let mut changes = Vec::with_capacity(updates.len());
    for (name, update) in updates {
        if update.builder.is_none() && update.admin.is_none() {
            return Err(Error::bad_request(format!(
                "no role given for {name}: set builder or admin"
            )));
        }
        let user = app.db().find_user(name).await?.ok_or_else(|| {
            Error::bad_request(format!("user {name} does not exist, nothing was changed"))
        })?;
        changes.push(RoleChange {
            user_id: user.id,
            builder: update.builder,
            admin: update.admin,
        });
    }
    app.db()
        .change_roles(project.id, &changes, now_epoch())
        .await?;
    tracing::info!(
        project = %format_args!("{}/{}", project.owner, project.name),
        by = %caller.name,
        users = ?updates.keys().collect::<Vec<_>>(),
        "permissions changed"
    );
    Ok(updates.keys().cloned().collect())
}

/// The caller asks for roles (`true`) or gives them up (`false`). A role
/// already granted stays granted when asked for again. Returns whether
/// anything changed.
pub async fn request_roles(
    app: &App,
    caller: &User,
    project: &ProjectRow,
    request: &v1::RoleRequest,
) -> Result<bool> {
    if request.builder.is_none() && request.admin.is_none() {
        return Err(Error::bad_request(
            "ask for the builder or the admin role (or give one up)",
        ));
    }
    let access = permissions::access(app, caller, project).await?;
    if access.admin && app.db().roles_of(project.id, caller.id).await?.admin != RoleState::Approved
    {
        return Err(Error::bad_request(format!(
            "{} already manages {}/{} as its owner",
            caller.name, project.owner, project.name
        )));
    }
    let current = app.db().roles_of(project.id, caller.id).await?;
    let wanted = |asked: Option<bool>, now: RoleState| match asked {
        None => None,
        Some(false) => Some(RoleState::Nothing),
        Some(true) if now == RoleState::Approved => None,
        Some(true) => Some(RoleState::Requested),
    };
    let change = RoleChange {
        user_id: caller.id,
        builder: wanted(request.builder, current.builder).filter(|s| *s != current.builder),
        admin: wanted(request.admin, current.admin).filter(|s| *s != current.admin),
    };
    if change.builder.is_none() && change.admin.is_none() {
        return Ok(false);
    }
    app.db()
        .change_roles(project.id, &[change], now_epoch())
        .await?;
    Ok(true)
}
