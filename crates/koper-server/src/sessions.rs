//! Browser sessions: signing in with a password, the signed-in user of a
//! session secret, signing out, and the session's CSRF token. The cookie
//! carries a random secret; the database keeps only its SHA-256.

use std::net::IpAddr;

use koper_db::User;
use koper_types::{UserName, now_epoch};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::{hash_token, new_token};
use crate::error::{Error, Result};
use crate::passwords;

/// How long a session lasts after sign-in.
pub const SESSION_SECONDS: i64 = 14 * 24 * 3600;

/// A new session: the secret for the cookie, and who it belongs to.
pub struct NewSession {
    /// The cookie's secret.
    pub secret: String,
    /// The signed-in user.
    pub user: User,
}

/// Why a sign-in was refused; the message never says whether the account
/// exists.
pub fn wrong_credentials() -> Error {
    Error::Unauthenticated {
        message: "wrong user name or password".into(),
        hint: None,
    }
}

/// Signs `name` in with `password` from `address`, counting failures
/// against the account and the address.
pub async fn sign_in(app: &App, name: &str, password: &str, address: IpAddr) -> Result<NewSession> {
    if let Some(wait) = app.login_limiter().wait_before_trying(name, address) {
        return Err(Error::TooManyRequests(format!(
            "too many failed sign-ins; try again in {} minute(s)",
            wait.as_secs().div_ceil(60)
        )));
    }
    let stored = app.db().user_with_password(name).await?;
    let matched = match &stored {
        Some((_, Some(hash))) => passwords::verify(password, hash).await?,
        _ => false,
    };
    let Some((user, _)) = stored.filter(|_| matched) else {
        app.login_limiter().record_failure(name, address);
        tracing::info!(user = name, %address, "failed sign-in");
        return Err(wrong_credentials());
    };
    app.login_limiter().record_success(name);
    // Said only to who knows the password.
    if let Some(refusal) = crate::moderation::account_disabled(&user) {
        return Err(refusal);
    }
    open_session(app, user).await
}

/// Creates an account with a password from the sign-up page, when the
/// instance allows it, and signs it in.
pub async fn sign_up(app: &App, name: &str, password: &str) -> Result<NewSession> {
    if !app.config().allow_signup {
        return Err(Error::Forbidden(
            "this instance does not allow signing up; ask an administrator for an account".into(),
        ));
    }
    let name: UserName = name.parse()?;
    let hash = passwords::hash(password).await?;
    let user = crate::users::create_account(app.db(), &name, false).await?;
    app.db().set_password_hash(user.id, Some(&hash)).await?;
    open_session(app, user).await
}

/// Opens a session of a user who proved who they are.
pub(crate) async fn open_session(app: &App, user: User) -> Result<NewSession> {
    let secret = new_token()?;
    let now = now_epoch();
    app.db()
        .create_session(user.id, &hash_token(&secret), now, now + SESSION_SECONDS)
        .await?;
    Ok(NewSession { secret, user })
}

/// The user of a session secret, if the session is still open and the
/// account not disabled.
pub async fn session_user(app: &App, secret: &str) -> Result<Option<User>> {
    Ok(app
        .db()
        .session_user(&hash_token(secret), now_epoch())
        .await?
        .filter(|user| user.disabled.is_none()))
}

/// Ends a session.
pub async fn sign_out(app: &App, secret: &str) -> Result<()> {
    Ok(app.db().delete_session(&hash_token(secret)).await?)
}

/// The CSRF token of the forms a session's pages carry: derived from the
/// session secret (so it is per session and needs no storage) but not
/// revealing it.
pub fn csrf_token(session_secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"koper csrf\0");
    hasher.update(session_secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// Compares two tokens in time independent of where they differ.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
