//! Users and their API tokens. Tokens are stored only as hashes.

use koper_types::UserName;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Database, DbError, parse_column};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Database id.
    pub id: i64,
    /// Login name, also the owner name of the user's projects.
    pub name: UserName,
    /// The login Copr clients send with the token (HTTP Basic).
    pub api_login: String,
    /// Administers the instance.
    pub is_admin: bool,
    /// Why an administrator disabled the account (it cannot sign in or use
    /// its tokens, and its projects count as disabled); `None`: enabled.
    pub disabled: Option<String>,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenMatch {
    /// A valid token of this user.
    Valid(User),
    /// The user's token, but past its expiry.
    Expired(User),
    /// No such token, or a revoked one.
    Unknown,
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, DbError> {
    Ok(User {
        id: row.try_get("id")?,
        name: parse_column(&row.try_get::<String, _>("name")?, "users.name")?,
        api_login: row.try_get("api_login")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        disabled: row.try_get("disabled_reason")?,
    })
}

impl Database {
    /// Creates a user whose API login is its name.
    pub async fn create_user(
        &self,
        name: &UserName,
        is_admin: bool,
        now: i64,
    ) -> Result<User, DbError> {
        let row = sqlx::query(
            "INSERT INTO users (name, api_login, is_admin, created_on) VALUES ($1, $2, $3, $4)
             RETURNING id, name, api_login, is_admin, disabled_reason",
        )
        .bind(name.as_str())
        .bind(name.as_str())
        .bind(i64::from(is_admin))
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        user_from_row(&row)
    }

    /// The user called `name`.
    pub async fn find_user(&self, name: &str) -> Result<Option<User>, DbError> {
        let row = sqlx::query(
            "SELECT id, name, api_login, is_admin, disabled_reason FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, DbError> {
        let row = sqlx::query(
            "SELECT id, name, api_login, is_admin, disabled_reason FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Stores a new API token (its hash) for a user.
    pub async fn add_api_token(
        &self,
        user_id: i64,
        token_hash: &str,
        expires_on: Option<i64>,
        now: i64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, created_on, expires_on)
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

    /// Looks a token up by its hash.
    pub async fn match_api_token(&self, token_hash: &str, now: i64) -> Result<TokenMatch, DbError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.api_login, u.is_admin, u.disabled_reason, t.expires_on
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_on IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(TokenMatch::Unknown);
        };
        let user = user_from_row(&row)?;
        let expires_on: Option<i64> = row.try_get("expires_on")?;
        Ok(match expires_on {
            Some(expiry) if expiry <= now => TokenMatch::Expired(user),
            _ => TokenMatch::Valid(user),
        })
    }
}

/// An API token as its owner sees it on the token page (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenInfo {
    /// Database id, what revoking names.
    pub id: i64,
    /// The name its owner gave it.
    pub label: String,
    /// Unix seconds.
    pub created_on: i64,
    /// Unix seconds; `None`: never expires.
    pub expires_on: Option<i64>,
    /// Unix seconds, once revoked.
    pub revoked_on: Option<i64>,
}

impl Database {
    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>, DbError> {
        let rows = sqlx::query(
            "SELECT id, name, api_login, is_admin, disabled_reason FROM users ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Sets (or with `None` removes) a user's password hash.
    pub async fn set_password_hash(
        &self,
        user_id: i64,
        password_hash: Option<&str>,
    ) -> Result<(), DbError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// The user called `name` with its password hash, if it has one.
    pub async fn user_with_password(
        &self,
        name: &str,
    ) -> Result<Option<(User, Option<String>)>, DbError> {
        let row = sqlx::query(
            "SELECT id, name, api_login, is_admin, disabled_reason, password_hash FROM users
             WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?)))
            .transpose()
    }

    /// Stores a new named API token (its hash) for a user.
    pub async fn add_labelled_api_token(
        &self,
        user_id: i64,
        token_hash: &str,
        label: &str,
        expires_on: Option<i64>,
        now: i64,
    ) -> Result<i64, DbError> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_on, expires_on)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(label)
        .bind(now)
        .bind(expires_on)
        .fetch_one(&self.pool)
        .await
        .map_err(DbError::from_insert)?;
        Ok(row.try_get("id")?)
    }

    /// A user's API tokens, newest first.
    pub async fn list_api_tokens(&self, user_id: i64) -> Result<Vec<ApiTokenInfo>, DbError> {
        let rows = sqlx::query(
            "SELECT id, label, created_on, expires_on, revoked_on FROM api_tokens
             WHERE user_id = $1 ORDER BY id DESC",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ApiTokenInfo {
                    id: row.try_get("id")?,
                    label: row.try_get("label")?,
                    created_on: row.try_get("created_on")?,
                    expires_on: row.try_get("expires_on")?,
                    revoked_on: row.try_get("revoked_on")?,
                })
            })
            .collect()
    }

    /// Revokes every unrevoked token of a user; how many.
    pub async fn revoke_all_api_tokens(&self, user_id: i64, now: i64) -> Result<u64, DbError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_on = $1 WHERE user_id = $2 AND revoked_on IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Revokes one of a user's tokens; `false` if the user has no such
    /// unrevoked token.
    pub async fn revoke_api_token(
        &self,
        user_id: i64,
        token_id: i64,
        now: i64,
    ) -> Result<bool, DbError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_on = $1
             WHERE id = $2 AND user_id = $3 AND revoked_on IS NULL",
        )
        .bind(now)
        .bind(token_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Database {
    /// Disables a user with the reason shown to them, or (`None`) enables
    /// them again; [`DbError::NotFound`] when there is no such user.
    pub async fn set_user_disabled(
        &self,
        user_id: i64,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        let done = sqlx::query("UPDATE users SET disabled_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }
}
