//! Signed-in browser sessions, stored by the hash of their secret.

use crate::users::user_from_row;
use crate::{Database, DbError, User};

impl Database {
    /// Stores a new session of a user.
    pub async fn create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        now: i64,
        expires_on: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO web_sessions (user_id, token_hash, created_on, expires_on)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(now)
        .bind(expires_on)
        .execute(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<User>, DbError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.api_login, u.is_admin, u.disabled_reason
             FROM web_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_on > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Ends a session; ending an unknown one does nothing.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user (after a password change).
    pub async fn delete_user_sessions(&self, user_id: i64) -> Result<(), DbError> {
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets sessions that expired before `now`.
    pub async fn delete_expired_sessions(&self, now: i64) -> Result<u64, DbError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE expires_on <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
