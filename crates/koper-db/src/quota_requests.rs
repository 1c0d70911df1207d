//! Requests for more storage: filed for a project by those who manage it,
//! answered by an administrator of the instance.

use std::fmt;
use std::str::FromStr;

use koper_types::{OwnerName, ProjectName};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// Where a quota request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaRequestState {
    /// Waiting for an administrator.
    Pending,
    /// The project got a quota of its own.
    Granted,
    /// Refused, with an answer saying why.
    Denied,
}

impl QuotaRequestState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Granted => "granted",
            Self::Denied => "denied",
        }
    }
}

impl fmt::Display for QuotaRequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QuotaRequestState {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [Self::Pending, Self::Granted, Self::Denied]
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(())
    }
}

/// A stored quota request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaRequestRow {
    /// Database id, what answering names.
    pub id: i64,
    /// The project it is for.
    pub project_id: i64,
    /// The project's owner.
    pub owner: OwnerName,
    /// The project's name.
    pub project: ProjectName,
    /// Who filed it (gone if the account was deleted).
    pub requester: Option<String>,
    /// The quota asked for, bytes.
    pub requested_bytes: i64,
    /// Why, in the requester's words.
    pub reason: String,
    /// Where it stands.
    pub state: QuotaRequestState,
    /// The quota given, once granted.
    pub granted_bytes: Option<i64>,
    /// The administrator's message.
    pub answer: String,
    /// Unix seconds.
    pub created_on: i64,
    /// Unix seconds, once answered.
    pub answered_on: Option<i64>,
}

const REQUEST_COLUMNS: &str = "r.id, r.project_id, p.owner_name, p.name AS project_name,
    u.name AS requester, r.requested_bytes, r.reason, r.state, r.granted_bytes, r.answer,
    r.created_on, r.answered_on";
const REQUEST_FROM: &str = "quota_requests r JOIN projects p ON p.id = r.project_id
    LEFT JOIN users u ON u.id = r.requester_id";

fn request_from_row(row: &AnyRow) -> Result<QuotaRequestRow, DbError> {
    Ok(QuotaRequestRow {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        owner: parse_column(&row.try_get::<String, _>("owner_name")?, "owner_name")?,
        project: parse_column(&row.try_get::<String, _>("project_name")?, "projects.name")?,
        requester: row.try_get("requester")?,
        requested_bytes: row.try_get("requested_bytes")?,
        reason: row.try_get("reason")?,
        state: parse_column(&row.try_get::<String, _>("state")?, "quota_requests.state")?,
        granted_bytes: row.try_get("granted_bytes")?,
        answer: row.try_get("answer")?,
        created_on: row.try_get("created_on")?,
        answered_on: row.try_get("answered_on")?,
    })
}

impl Database {
    /// Files a request; [`DbError::Conflict`] while the project has one
    /// pending.
    pub async fn create_quota_request(
        &self,
        project_id: i64,
        requester_id: i64,
        requested_bytes: i64,
        reason: &str,
        now: i64,
    ) -> Result<i64, DbError> {
        let row = sqlx::query(
            "INSERT INTO quota_requests (project_id, requester_id, requested_bytes, reason, state,
                 created_on)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(project_id)
        .bind(requester_id)
        .bind(requested_bytes)
        .bind(reason)
        .bind(QuotaRequestState::Pending.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        Ok(row.try_get("id")?)
    }

    /// One request.
    pub async fn quota_request(&self, id: i64) -> Result<Option<QuotaRequestRow>, DbError> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM} WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    /// Requests, oldest first: the pending ones, or all.
    pub async fn list_quota_requests(
        &self,
        pending_only: bool,
    ) -> Result<Vec<QuotaRequestRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM}
             WHERE ($1 = 0 OR r.state = $2) ORDER BY r.id"
        ))
        .bind(i64::from(pending_only))
        .bind(QuotaRequestState::Pending.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// A project's requests, newest first.
    pub async fn project_quota_requests(
        &self,
        project_id: i64,
    ) -> Result<Vec<QuotaRequestRow>, DbError> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM {REQUEST_FROM} WHERE r.project_id = $1
             ORDER BY r.id DESC"
        ))
        .bind(project_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Answers a pending request: granted with `Some(bytes)`, which
    /// becomes the project's own quota in the same transaction, or denied
    /// with `None`. False when the request is not pending (answered
    /// already, or unknown).
    pub async fn answer_quota_request(
        &self,
        id: i64,
        granted_bytes: Option<i64>,
        answer: &str,
        now: i64,
    ) -> Result<bool, DbError> {
        let mut tx = self.pool.begin().await?;
        let state = match granted_bytes {
            Some(_) => QuotaRequestState::Granted,
            None => QuotaRequestState::Denied,
        };
        let row = sqlx::query(
            "UPDATE quota_requests SET state = $1, granted_bytes = $2, answer = $3,
                 answered_on = $4
             WHERE id = $5 AND state = $6 RETURNING project_id",
        )
        .bind(state.as_str())
        .bind(granted_bytes)
        .bind(answer)
        .bind(now)
        .bind(id)
        .bind(QuotaRequestState::Pending.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        if let Some(bytes) = granted_bytes {
            sqlx::query("UPDATE projects SET quota_bytes = $1 WHERE id = $2")
                .bind(bytes)
                .bind(row.try_get::<i64, _>("project_id")?)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
