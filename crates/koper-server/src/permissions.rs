//! Who may do what to a project. Every state-changing operation asks here.
//!
//! A project's owner (the user, or an admin of the owning group) and the
//! instance's admins may do everything. Members of an owning group and users
//! granted the builder role may build; users granted the admin role may also
//! change settings and grant roles. Requests (`request`) grant nothing until
//! approved.

use koper_db::{ProjectRow, User};
use koper_types::OwnerName;

use crate::app::App;
use crate::error::Result;

/// What one user may do in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// Submit, cancel and delete builds.
    pub build: bool,
    /// Change settings and permissions, delete the project.
    pub admin: bool,
}

impl Access {
    const ALL: Access = Access {
        build: true,
        admin: true,
    };
}

/// What `user` may do in `project`.
pub async fn access(app: &App, user: &User, project: &ProjectRow) -> Result<Access> {
    if user.is_admin {
        return Ok(Access::ALL);
    }
    match project.owner.group() {
        Some(group) => match app.db().group_membership(group, user.id).await? {
            Some(true) => return Ok(Access::ALL),
            Some(false) => {
                let roles = app.db().roles_of(project.id, user.id).await?;
                return Ok(Access {
                    build: true,
                    admin: roles.admin.is_approved(),
                });
            }
            None => {}
        },
        None if project.owner.as_str() == user.name.as_str() => return Ok(Access::ALL),
        None => {}
    }
    let roles = app.db().roles_of(project.id, user.id).await?;
    let admin = roles.admin.is_approved();
    Ok(Access {
        build: admin || roles.builder.is_approved(),
        admin,
    })
}

/// Whether `user` may submit and cancel builds in `project`.
pub async fn can_build(app: &App, user: &User, project: &ProjectRow) -> Result<bool> {
    Ok(access(app, user, project).await?.build)
}

/// Whether `user` may change or delete `project` and grant roles in it.
pub async fn can_admin(app: &App, user: &User, project: &ProjectRow) -> Result<bool> {
    Ok(access(app, user, project).await?.admin)
}

/// Whether `user` may create a project owned by `owner`: their own, or
/// their group's (any member may, as in Copr).
pub async fn can_create_for(app: &App, user: &User, owner: &OwnerName) -> Result<bool> {
    if user.is_admin {
        return Ok(true);
    }
    Ok(match owner.group() {
        Some(group) => app.db().group_membership(group, user.id).await?.is_some(),
        None => owner.as_str() == user.name.as_str(),
    })
}

/// Whether `user` may change the membership of group `name` (without `@`).
pub async fn can_manage_group(app: &App, user: &User, name: &str) -> Result<bool> {
    if user.is_admin {
        return Ok(true);
    }
    Ok(app.db().group_membership(name, user.id).await? == Some(true))
}
