//! Who is calling: API tokens for users (Bearer, or Copr's Basic
//! `login:token`) and builder tokens. Tokens are random, shown once and
//! stored only as SHA-256 hashes.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use koper_db::{Builder, TokenMatch, User};
use koper_types::now_epoch;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::{Error, Result};

const TOKEN_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new random token: 40 characters from `[a-z0-9]` (≈ 206 bits).
pub fn new_token() -> Result<String> {
    let mut bytes = [0u8; 40];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    // 256 is not a multiple of 36; the bias this leaves is negligible for
    // a 206-bit secret.
    Ok(bytes
        .iter()
        .map(|b| char::from(TOKEN_ALPHABET[usize::from(*b) % TOKEN_ALPHABET.len()]))
        .collect())
}

/// How a token is stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Credentials found in a request.
enum Credentials {
    Bearer(String),
    Basic { login: String, token: String },
}

fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || Error::Unauthenticated {
        message: "malformed Authorization header".into(),
        hint: None,
    };
    let value = value.to_str().map_err(|_| malformed())?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Ok(Some(Credentials::Bearer(token.trim().to_owned())));
    }
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (login, token) = decoded.split_once(':').ok_or_else(malformed)?;
        return Ok(Some(Credentials::Basic {
            login: login.to_owned(),
            token: token.to_owned(),
        }));
    }
    Err(malformed())
}

fn invalid_token() -> Error {
    Error::Unauthenticated {
        message: "the API token is not valid".into(),
        hint: Some(
            "check the token in ~/.config/koper.toml; an administrator can issue a new one \
             with `koper admin add-user NAME`"
                .into(),
        ),
    }
}

/// The user behind the request's credentials, if it has any.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Option<User>> {
    let Some(credentials) = credentials(headers)? else {
        return Ok(None);
    };
    let (login, token) = match credentials {
        Credentials::Bearer(token) => (None, token),
        Credentials::Basic { login, token } => (Some(login), token),
    };
    let user = match app
        .db()
        .match_api_token(&hash_token(&token), now_epoch())
        .await?
    {
        TokenMatch::Valid(user) => {
            if let Some(refusal) = crate::moderation::account_disabled(&user) {
                return Err(refusal);
            }
            user
        }
        TokenMatch::Expired(user) => {
            return Err(Error::Unauthenticated {
                message: format!("the API token of {} has expired", user.name),
                hint: Some(format!(
                    "create a new one at {}/account/tokens, or ask an administrator",
                    app.public_url()
                )),
            });
        }
        TokenMatch::Unknown => return Err(invalid_token()),
    };
    if login.is_some_and(|login| login != user.api_login) {
        return Err(invalid_token());
    }
    Ok(Some(user))
}

/// A request made by a signed-in user (401 otherwise).
pub struct Caller(pub User);

impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        match authenticate(app, &parts.headers).await? {
            Some(user) => Ok(Self(user)),
            None => Err(Error::Unauthenticated {
                message: "this needs an API token, and the request carried none".into(),
                hint: Some(
                    "put `url`, `user` and `token` in ~/.config/koper.toml; an administrator \
                     creates accounts with `koper admin add-user NAME`"
                        .into(),
                ),
            }),
        }
    }
}

/// A request made by a registered builder.
pub struct BuilderCaller(pub Builder);

impl FromRequestParts<App> for BuilderCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        let Some(Credentials::Bearer(token)) = credentials(&parts.headers)? else {
            return Err(Error::Unauthenticated {
                message: "the builder API needs a builder token (Bearer)".into(),
                hint: None,
            });
        };
        match app
            .db()
            .builder_by_token(&hash_token(&token), now_epoch())
            .await?
        {
            Some(builder) => Ok(Self(builder)),
            None => Err(Error::Unauthenticated {
                message: "unknown or revoked builder token".into(),
                hint: None,
            }),
        }
    }
}
