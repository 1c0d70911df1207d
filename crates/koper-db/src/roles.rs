//! Per-project roles (builder, admin) and requests for them.

use koper_types::{RoleState, Roles};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// One user's roles in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// The user's id.
    pub user_id: i64,
    /// The user's name.
    pub user_name: String,
    /// Their roles.
    pub roles: Roles,
}

/// A change to one user's roles; `None` leaves a role as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleChange {
    /// Whose roles change.
    pub user_id: i64,
    /// The new builder state.
    pub builder: Option<RoleState>,
    /// The new admin state.
    pub admin: Option<RoleState>,
}

fn roles_from_row(row: &AnyRow) -> Result<Roles, DbError> {
    Ok(Roles {
        builder: parse_column(
            &row.try_get::<String, _>("builder")?,
            "project_roles.builder",
        )?,
        admin: parse_column(&row.try_get::<String, _>("admin")?, "project_roles.admin")?,
    })
}

impl Database {
    /// Every user with a role or a request in a project, by name; users whose
    /// roles are all `nothing` are left out.
    pub async fn project_roles(&self, project_id: i64) -> Result<Vec<RoleRow>, DbError> {
        let rows = sqlx::query(
            "SELECT r.user_id, u.name, r.builder, r.admin
             FROM project_roles r JOIN users u ON u.id = r.user_id
             WHERE r.project_id = $1 AND (r.builder <> 'nothing' OR r.admin <> 'nothing')
             ORDER BY u.name",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoleRow {
                    user_id: row.try_get("user_id")?,
                    user_name: row.try_get("name")?,
                    roles: roles_from_row(row)?,
                })
            })
            .collect()
    }

    /// A user's roles in a project (`nothing` for both if none).
    pub async fn roles_of(&self, project_id: i64, user_id: i64) -> Result<Roles, DbError> {
        let row = sqlx::query(
            "SELECT builder, admin FROM project_roles WHERE project_id = $1 AND user_id = $2",
        )
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(roles_from_row)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Applies several users' role changes in one transaction: all or none.
    pub async fn change_roles(
        &self,
        project_id: i64,
        changes: &[RoleChange],
        now: i64,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            // COALESCE keeps a role that this change leaves alone; a new row
            // starts from `nothing`.
            sqlx::query(
                "INSERT INTO project_roles (project_id, user_id, builder, admin, updated_on)
                 VALUES ($1, $2, COALESCE($3, 'nothing'), COALESCE($4, 'nothing'), $5)
                 ON CONFLICT (project_id, user_id) DO UPDATE SET
                     builder = COALESCE($3, project_roles.builder),
                     admin = COALESCE($4, project_roles.admin),
                     updated_on = $5",
            )
            .bind(project_id)
            .bind(change.user_id)
            .bind(change.builder.map(RoleState::as_str))
            .bind(change.admin.map(RoleState::as_str))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
