//! Groups: creating them and managing their members. A group's admins
//! manage its membership; any member may create and build its projects.

use koper_api::v1;
use koper_db::{GroupRow, User};
use koper_types::{UserName, now_epoch};

use crate::app::App;
use crate::error::{Error, Result};
use crate::permissions;

/// Creates group `name` (without `@`), its creator its first admin.
pub async fn create_group(app: &App, caller: &User, name: &str) -> Result<v1::Group> {
    // A group's name follows the rules of user names; `@name` is its owner
    // name.
    let name: UserName = name.trim_start_matches('@').parse()?;
    match app
        .db()
        .create_group(name.as_str(), caller.id, now_epoch())
        .await
    {
        Ok(group) => describe(app, &group).await,
        Err(koper_db::DbError::Conflict) => {
            Err(Error::Conflict(format!("group @{name} already exists")))
        }
        Err(err) => Err(err.into()),
    }
}

/// The group `name` and its members.
pub async fn show_group(app: &App, name: &str) -> Result<v1::Group> {
    describe(app, &find_group(app, name).await?).await
}

/// Every group's name.
pub async fn list_groups(app: &App) -> Result<Vec<String>> {
    Ok(app
        .db()
        .list_groups()
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect())
}

/// Adds `user` to the group, or changes whether they administer it.
pub async fn set_member(
    app: &App,
    caller: &User,
    group: &str,
    user: &str,
    admin: bool,
) -> Result<v1::Group> {
    let group = managed_group(app, caller, group).await?;
    let member = find_user(app, user).await?;
    if !admin {
        keep_an_admin(app, &group, &member).await?;
    }
    app.db()
        .set_group_member(group.id, member.id, admin)
        .await?;
    describe(app, &group).await
}

/// Removes `user` from the group.
pub async fn remove_member(app: &App, caller: &User, group: &str, user: &str) -> Result<v1::Group> {
    let group = managed_group(app, caller, group).await?;
    let member = find_user(app, user).await?;
    keep_an_admin(app, &group, &member).await?;
    if !app.db().remove_group_member(group.id, member.id).await? {
        return Err(Error::NotFound(format!(
            "{} is not a member of @{}",
            member.name, group.name
        )));
    }
    describe(app, &group).await
}

/// Refuses to leave a group without anyone to manage it.
async fn keep_an_admin(app: &App, group: &GroupRow, leaving: &User) -> Result<()> {
    let members = app.db().group_members(group.id).await?;
    let other_admin = members
        .iter()
        .any(|m| m.is_admin && m.user.id != leaving.id);
    let leaving_is_admin = members
        .iter()
        .any(|m| m.is_admin && m.user.id == leaving.id);
    if leaving_is_admin && !other_admin {
        return Err(Error::Conflict(format!(
            "{} is the last admin of @{}; make someone else an admin first",
            leaving.name, group.name
        )));
    }
    Ok(())
}

async fn find_group(app: &App, name: &str) -> Result<GroupRow> {
    let name = name.trim_start_matches('@');
    app.db()
        .find_group(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("group @{name} does not exist")))
}

async fn managed_group(app: &App, caller: &User, name: &str) -> Result<GroupRow> {
    let group = find_group(app, name).await?;
    if !permissions::can_manage_group(app, caller, &group.name).await? {
        return Err(Error::Forbidden(format!(
            "{} may not manage @{}: only its admins may",
            caller.name, group.name
        )));
    }
    Ok(group)
}

async fn find_user(app: &App, name: &str) -> Result<User> {
    app.db()
        .find_user(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name} does not exist")))
}

async fn describe(app: &App, group: &GroupRow) -> Result<v1::Group> {
    let members = app.db().group_members(group.id).await?;
    Ok(v1::Group {
        name: group.name.clone(),
        members: members
            .into_iter()
            .map(|m| v1::GroupMember {
                user: m.user.name.to_string(),
                admin: m.is_admin,
            })
            .collect(),
    })
}
