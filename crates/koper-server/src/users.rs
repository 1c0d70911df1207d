//! Accounts and their API tokens.

use koper_db::{Database, DbError, User};
use koper_types::{UserName, now_epoch};

use crate::auth::{hash_token, new_token};
use crate::error::{Error, Result};

/// How long a new API token is valid: 180 days, as on Copr.
pub const TOKEN_VALIDITY_SECONDS: i64 = 180 * 24 * 3600;

/// A user and the one time their token is visible.
#[derive(Debug)]
pub struct NewAccount {
    /// The account.
    pub user: User,
    /// The API token, shown once.
    pub token: String,
    /// When the token expires, Unix seconds.
    pub expires_on: i64,
}

/// Creates a user with a fresh API token.
pub async fn add_user(db: &Database, name: &UserName, is_admin: bool) -> Result<NewAccount> {
    let now = now_epoch();
    let user = match db.create_user(name, is_admin, now).await {
        Ok(user) => user,
        Err(DbError::Conflict) => {
            return Err(Error::Conflict(format!("user {name} already exists")));
        }
        Err(e) => return Err(e.into()),
    };
    let (token, expires_on) = issue_token(db, &user, now).await?;
    Ok(NewAccount {
        user,
        token,
        expires_on,
    })
}

/// Gives an existing user an additional API token.
pub async fn new_api_token(db: &Database, name: &UserName) -> Result<NewAccount> {
    let user = db
        .find_user(name.as_str())
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name} does not exist")))?;
    let (token, expires_on) = issue_token(db, &user, now_epoch()).await?;
    Ok(NewAccount {
        user,
        token,
        expires_on,
    })
}

async fn issue_token(db: &Database, user: &User, now: i64) -> Result<(String, i64)> {
    let token = new_token()?;
    let expires_on = now + TOKEN_VALIDITY_SECONDS;
    db.add_api_token(user.id, &hash_token(&token), Some(expires_on), now)
        .await?;
    Ok((token, expires_on))
}
