//! Groups (`@name` owners) and their members.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::users::user_from_row;
use crate::{Database, DbError, User};

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Database id.
    pub id: i64,
    /// The name without `@`.
    pub name: String,
    /// Unix seconds.
    pub created_on: i64,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The member.
    pub user: User,
    /// Manages the group's membership and its projects.
    pub is_admin: bool,
}

fn group_from_row(row: &AnyRow) -> Result<GroupRow, DbError> {
    Ok(GroupRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_on: row.try_get("created_on")?,
    })
}

impl Database {
    /// Creates a group with its creator as its first admin, in one
    /// transaction, so no group is ever left without an admin.
    pub async fn create_group(
        &self,
        name: &str,
        creator_id: i64,
        now: i64,
    ) -> Result<GroupRow, DbError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO groups (name, created_on) VALUES ($1, $2)
             RETURNING id, name, created_on",
        )
        .bind(name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(DbError::from_insert)?;
        let group = group_from_row(&row)?;
        sqlx::query("INSERT INTO group_members (group_id, user_id, is_admin) VALUES ($1, $2, 1)")
            .bind(group.id)
            .bind(creator_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(group)
    }

    /// The group called `name` (without `@`).
    pub async fn find_group(&self, name: &str) -> Result<Option<GroupRow>, DbError> {
        let row = sqlx::query("SELECT id, name, created_on FROM groups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// Every group, by name.
    pub async fn list_groups(&self) -> Result<Vec<GroupRow>, DbError> {
        let rows = sqlx::query("SELECT id, name, created_on FROM groups ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(group_from_row).collect()
    }

    /// A group's members, admins first, then by name.
    pub async fn group_members(&self, group_id: i64) -> Result<Vec<GroupMember>, DbError> {
        let rows = sqlx::query(
            "SELECT u.id, u.name, u.api_login, u.is_admin, u.disabled_reason, m.is_admin AS group_admin
             FROM group_members m JOIN users u ON u.id = m.user_id
             WHERE m.group_id = $1
             ORDER BY m.is_admin DESC, u.name",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(GroupMember {
                    user: user_from_row(row)?,
                    is_admin: row.try_get::<i64, _>("group_admin")? != 0,
                })
            })
            .collect()
    }

    /// Whether `user_id` belongs to the group called `name`: `None` if
    /// not, `Some(is_admin)` if so.
    pub async fn group_membership(
        &self,
        name: &str,
        user_id: i64,
    ) -> Result<Option<bool>, DbError> {
        let row = sqlx::query(
            "SELECT m.is_admin FROM group_members m JOIN groups g ON g.id = m.group_id
             WHERE g.name = $1 AND m.user_id = $2",
        )
        .bind(name)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok(row.try_get::<i64, _>("is_admin")? != 0))
            .transpose()
    }

    /// The groups a user belongs to, with whether they administer each.
    pub async fn groups_of(&self, user_id: i64) -> Result<Vec<(GroupRow, bool)>, DbError> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.created_on, m.is_admin
             FROM group_members m JOIN groups g ON g.id = m.group_id
             WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    group_from_row(row)?,
                    row.try_get::<i64, _>("is_admin")? != 0,
                ))
            })
            .collect()
    }

    /// Adds a member or changes whether they administer the group.
    pub async fn set_group_member(
        &self,
        group_id: i64,
        user_id: i64,
        is_admin: bool,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, is_admin) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, user_id) DO UPDATE SET is_admin = excluded.is_admin",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(i64::from(is_admin))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a member; false if they were not one.
    pub async fn remove_group_member(&self, group_id: i64, user_id: i64) -> Result<bool, DbError> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
