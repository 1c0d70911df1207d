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

/// Creates a user without credentials.
pub async fn create_account(db: &Database, name: &UserName, is_admin: bool) -> Result<User> {
    match db.create_user(name, is_admin, now_epoch()).await {
        Ok(user) => Ok(user),
        Err(DbError::Conflict) => Err(Error::Conflict(format!("user {name} already exists"))),
        Err(e) => Err(e.into()),
    }
}

/// Creates a user with a fresh API token.
pub async fn add_user(db: &Database, name: &UserName, is_admin: bool) -> Result<NewAccount> {
    let user = create_account(db, name, is_admin).await?;
    let (token, expires_on) = issue_token(db, &user, now_epoch()).await?;
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

/// The expiries a user may pick for a token on the token page, in days.
pub const TOKEN_DAYS_CHOICES: [i64; 5] = [7, 30, 90, 180, 365];

/// Creates a named API token for `user`, valid `days` days (one of
/// [`TOKEN_DAYS_CHOICES`]); the token is returned once.
pub async fn create_named_token(
    db: &Database,
    user: &User,
    label: &str,
    days: i64,
) -> Result<NewAccount> {
    if !TOKEN_DAYS_CHOICES.contains(&days) {
        return Err(Error::bad_request(format!(
            "a token is valid for one of {TOKEN_DAYS_CHOICES:?} days, not {days}"
        )));
    }
    let label = label.trim();
    if label.chars().count() > 100 || label.chars().any(char::is_control) {
        return Err(Error::bad_request(
            "a token's name is at most 100 characters, without control characters",
        ));
    }
    let now = now_epoch();
    let token = new_token()?;
    let expires_on = now + days * 24 * 3600;
    db.add_labelled_api_token(user.id, &hash_token(&token), label, Some(expires_on), now)
        .await?;
    Ok(NewAccount {
        user: user.clone(),
        token,
        expires_on,
    })
}

/// Revokes one of `user`'s tokens.
pub async fn revoke_token(db: &Database, user: &User, token_id: i64) -> Result<()> {
    if db.revoke_api_token(user.id, token_id, now_epoch()).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "{} has no token {token_id} that is not yet revoked",
            user.name
        )))
    }
}

/// Locks an account out, as moderation: its password is removed, its API
/// tokens revoked, its OpenID provider account unlinked (signing in there
/// then meets a name that is taken) and its browser sessions ended. Only site administrators
/// may, and not their own account. `koper admin set-password` or
/// `new-token` lets the user in again.
pub async fn lock_account(db: &Database, caller: &User, name: &str) -> Result<User> {
    if !caller.is_admin {
        return Err(Error::Forbidden(format!(
            "{} is not an administrator of this instance",
            caller.name
        )));
    }
    let user = db
        .find_user(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {name} does not exist")))?;
    if user.id == caller.id {
        return Err(Error::bad_request("you cannot lock your own account"));
    }
    db.set_password_hash(user.id, None).await?;
    let revoked = db.revoke_all_api_tokens(user.id, now_epoch()).await?;
    db.delete_user_identities(user.id).await?;
    db.delete_user_sessions(user.id).await?;
    tracing::info!(user = %user.name, by = %caller.name, tokens = revoked, "account locked");
    Ok(user)
}
