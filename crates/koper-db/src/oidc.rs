//! Signing in with an OpenID Connect provider: sign-ins in progress (by
//! the hash of their state, used once) and the provider accounts linked
//! to local accounts.

use koper_types::UserName;
use sqlx::Row;

use crate::users::user_from_row;
use crate::{Database, DbError, User};

/// A sign-in sent to the provider, as stored until it comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOidcLogin {
    /// The nonce the id_token must carry.
    pub nonce: String,
    /// The PKCE verifier of the code challenge sent.
    pub pkce_verifier: String,
    /// Where to go once signed in (a local path).
    pub next_path: String,
}

impl Database {
    /// Stores a sign-in sent to the provider (forgetting those that
    /// expired).
    pub async fn create_oidc_login(
        &self,
        state_hash: &str,
        pending: &PendingOidcLogin,
        now: i64,
        expires_on: i64,
    ) -> Result<(), DbError> {
        sqlx::query("DELETE FROM oidc_logins WHERE expires_on <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO oidc_logins (state_hash, nonce, pkce_verifier, next_path, expires_on)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(state_hash)
        .bind(&pending.nonce)
        .bind(&pending.pkce_verifier)
        .bind(&pending.next_path)
        .bind(expires_on)
        .execute(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        Ok(())
    }

    /// Takes the sign-in of a state out of the table, so a state is
    /// accepted once; `None` when unknown, already taken or expired.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<PendingOidcLogin>, DbError> {
        let row = sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = $1
             RETURNING nonce, pkce_verifier, next_path, expires_on",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.try_get::<i64, _>("expires_on")? <= now {
            return Ok(None);
        }
        Ok(Some(PendingOidcLogin {
            nonce: row.try_get("nonce")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            next_path: row.try_get("next_path")?,
        }))
    }

    /// The local account linked to a provider's account.
    pub async fn user_of_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<User>, DbError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.api_login, u.is_admin, u.disabled_reason
             FROM oidc_identities i JOIN users u ON u.id = i.user_id
             WHERE i.issuer = $1 AND i.subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Creates an account linked to a provider's account, both or neither;
    /// [`DbError::Conflict`] when the name or the provider account is
    /// taken.
    pub async fn create_user_with_identity(
        &self,
        name: &UserName,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> Result<User, DbError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (name, api_login, is_admin, created_on) VALUES ($1, $2, 0, $3)
             RETURNING id, name, api_login, is_admin, disabled_reason",
        )
        .bind(name.as_str())
        .bind(name.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(DbError::from_insert)?;
        let user = user_from_row(&row)?;
        sqlx::query(
            "INSERT INTO oidc_identities (user_id, issuer, subject, created_on)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user.id)
        .bind(issuer)
        .bind(subject)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from_insert)?;
        tx.commit().await?;
        Ok(user)
    }

    /// Unlinks every provider account from a user; how many.
    pub async fn delete_user_identities(&self, user_id: i64) -> Result<u64, DbError> {
        let done = sqlx::query("DELETE FROM oidc_identities WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
