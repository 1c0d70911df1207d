//! Signing in with an OpenID Connect provider (the `[oidc]` table of
//! `koper.toml`): the authorization code flow with PKCE, state and nonce.
//! The `openidconnect` crate reads the discovery document and verifies
//! the id_token (signature against the provider's JWKS, issuer, audience,
//! expiry, nonce); this module keeps sign-ins in progress in the database
//! and maps provider accounts to local ones.
//!
//! A provider account is linked to a local account by the provider's
//! (issuer, subject), once. Its first sign-in creates an account named by
//! the configured claim (`preferred_username`); when a local account of
//! that name exists and is not linked, the sign-in is refused: a name
//! alone never opens someone's account.

use std::time::Duration;

use base64::Engine;
use koper_db::{DbError, PendingOidcLogin, User};
use koper_types::{UserName, now_epoch};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde_json::{Map, Value};

use crate::app::App;
use crate::auth::{hash_token, new_token};
use crate::config::OidcConfig;
use crate::error::{Error, Result};
use crate::sessions::{self, NewSession};

/// How long a sign-in may stay at the provider.
pub const LOGIN_SECONDS: i64 = 600;

/// The path of koper's callback, under its public URL (what the provider
/// must have registered as koper's redirect URI).
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider's client and what its discovery document says.
struct Provider {
    client: Client,
    userinfo_url: Option<String>,
    http: reqwest::Client,
}

/// The configured provider, or a 404 when there is none.
pub fn configured(app: &App) -> Result<&OidcConfig> {
    app.config().oidc.as_ref().ok_or_else(|| {
        Error::NotFound("this instance does not sign in with an OpenID provider".into())
    })
}

fn unreachable_provider(config: &OidcConfig, error: impl std::fmt::Display) -> Error {
    tracing::warn!(issuer = %config.issuer, %error, "OpenID provider unusable");
    Error::Upstream(format!(
        "{} could not be asked to sign you in; try again later",
        config.name
    ))
}

/// Reads the discovery document and the JWKS (each sign-in: keys rotate).
async fn provider(app: &App, config: &OidcConfig) -> Result<Provider> {
    // No redirects: a provider's URLs are used as published.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(Error::internal)?;
    let issuer =
        IssuerUrl::new(config.issuer.clone()).map_err(|e| unreachable_provider(config, e))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| unreachable_provider(config, e))?;
    let userinfo_url = metadata
        .userinfo_endpoint()
        .map(|url| url.url().to_string());
    let redirect = RedirectUrl::new(format!("{}{CALLBACK_PATH}", app.public_url()))
        .map_err(Error::internal)?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect);
    Ok(Provider {
        client,
        userinfo_url,
        http,
    })
}

/// A sign-in sent to the provider.
pub struct Started {
    /// Where to send the browser.
    pub provider_url: String,
    /// The state, for the browser's cookie.
    pub state: String,
}

/// Starts a sign-in that comes back to `next_path` (a local path).
pub async fn start(app: &App, next_path: &str) -> Result<Started> {
    let config = configured(app)?;
    let provider = provider(app, config).await?;
    let state = new_token()?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let sent_state = state.clone();
    let mut request = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(sent_state),
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, _, nonce) = request.url();
    let now = now_epoch();
    app.db()
        .create_oidc_login(
            &hash_token(&state),
            &PendingOidcLogin {
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next_path: next_path.to_owned(),
            },
            now,
            now + LOGIN_SECONDS,
        )
        .await?;
    Ok(Started {
        provider_url: url.to_string(),
        state,
    })
}

/// What the provider sends the browser back with.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent.
    pub state: Option<String>,
    /// Why the provider did not sign the user in.
    pub error: Option<String>,
    /// More about `error`.
    pub error_description: Option<String>,
}

/// A finished sign-in: the session, and where to go.
pub struct Finished {
    /// The new session.
    pub session: NewSession,
    /// The local path the sign-in was started for.
    pub next_path: String,
}

fn refused(message: impl Into<String>) -> Error {
    Error::Unauthenticated {
        message: message.into(),
        hint: Some("start again from the sign-in page".into()),
    }
}

/// Finishes a sign-in: `browser_state` is the state this browser's cookie
/// holds.
pub async fn finish(
    app: &App,
    browser_state: Option<&str>,
    callback: &Callback,
) -> Result<Finished> {
    let config = configured(app)?;
    if let Some(error) = &callback.error {
        let detail = callback
            .error_description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(refused(format!(
            "{} did not sign you in: {error}{detail}",
            config.name
        )));
    }
    let (Some(state), Some(code)) = (&callback.state, &callback.code) else {
        return Err(Error::bad_request(
            "this address is where the OpenID provider sends you back to, with a code and a \
             state; it has neither",
        ));
    };
    // The state must be the one this browser was sent off with: a sign-in
    // someone else started cannot be finished here.
    if !browser_state.is_some_and(|mine| sessions::tokens_equal(mine, state)) {
        return Err(refused(
            "this sign-in was not started in this browser (its state does not match)",
        ));
    }
    let Some(pending) = app
        .db()
        .take_oidc_login(&hash_token(state), now_epoch())
        .await?
    else {
        return Err(refused(
            "this sign-in is unknown, was already used or took too long",
        ));
    };
    let provider = provider(app, config).await?;
    let tokens = provider
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| unreachable_provider(config, e))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&provider.http)
        .await
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => refused(format!(
                "{} refused to complete the sign-in: {}",
                config.name,
                answer.error()
            )),
            other => unreachable_provider(config, other),
        })?;
    let invalid = |why: String| {
        tracing::warn!(issuer = %config.issuer, %why, "id_token refused");
        refused(format!(
            "the identity {} vouched for could not be verified: {why}",
            config.name
        ))
    };
    let id_token = tokens
        .id_token()
        .ok_or_else(|| invalid("no id_token came with the answer".into()))?;
    let verifier = provider.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(pending.nonce))
        .map_err(|e| invalid(e.to_string()))?;
    if let Some(expected) = claims.access_token_hash() {
        let actual = id_token
            .signing_alg()
            .map_err(|e| invalid(e.to_string()))
            .and_then(|alg| {
                let key = id_token
                    .signing_key(&verifier)
                    .map_err(|e| invalid(e.to_string()))?;
                AccessTokenHash::from_token(tokens.access_token(), alg, key)
                    .map_err(|e| invalid(e.to_string()))
            })?;
        if actual != *expected {
            return Err(invalid(
                "the access token is not the one it was issued with".into(),
            ));
        }
    }
    let subject = claims.subject().as_str();
    let user = match app.db().user_of_identity(&config.issuer, subject).await? {
        Some(user) => user,
        None => {
            // The payload is that of the token just verified.
            let verified = payload(&id_token.to_string()).map_err(invalid)?;
            let name =
                username(config, &provider, &verified, tokens.access_token(), subject).await?;
            first_sign_in(app, config, &name, subject).await?
        }
    };
    if let Some(refusal) = crate::moderation::account_disabled(&user) {
        return Err(refusal);
    }
    tracing::info!(user = %user.name, issuer = %config.issuer, "signed in with OpenID Connect");
    Ok(Finished {
        session: sessions::open_session(app, user).await?,
        next_path: pending.next_path,
    })
}

/// The claims of a compact JWT's payload (no verification here).
fn payload(jwt: &str) -> std::result::Result<Map<String, Value>, String> {
    let part = jwt
        .split('.')
        .nth(1)
        .ok_or_else(|| "the id_token is not a JWT".to_owned())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| format!("the id_token's payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the id_token's payload is not JSON: {e}"))
}

/// The name a new account gets: the configured claim, from the id_token
/// or else from the userinfo endpoint (where providers put profile claims
/// asked for by scope).
async fn username(
    config: &OidcConfig,
    provider: &Provider,
    id_claims: &Map<String, Value>,
    access_token: &openidconnect::AccessToken,
    subject: &str,
) -> Result<UserName> {
    let claim = &config.username_claim;
    let value = match id_claims.get(claim) {
        Some(value) => Some(value.clone()),
        None => match &provider.userinfo_url {
            Some(url) => {
                let info: Map<String, Value> = provider
                    .http
                    .get(url)
                    .bearer_auth(access_token.secret())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| unreachable_provider(config, e))?
                    .json()
                    .await
                    .map_err(|e| unreachable_provider(config, e))?;
                // Userinfo about someone else must not name this account.
                if info.get("sub").and_then(Value::as_str) != Some(subject) {
                    return Err(refused(format!(
                        "{}'s user information is about another account",
                        config.name
                    )));
                }
                info.get(claim).cloned()
            }
            None => None,
        },
    };
    let Some(Value::String(name)) = value else {
        return Err(refused(format!(
            "{} did not tell koper your user name (claim `{claim}`), which a new account \
             needs",
            config.name
        )));
    };
    name.parse().map_err(|e: koper_types::NameError| {
        Error::bad_request_hint(
            format!(
                "your user name at {}, {name:?}, cannot name an account here: {e}",
                config.name
            ),
            "ask the administrators of this instance for an account",
        )
    })
}

/// Creates the account of a provider account's first sign-in, linked to
/// it; refuses to when the name is taken.
async fn first_sign_in(
    app: &App,
    config: &OidcConfig,
    name: &UserName,
    subject: &str,
) -> Result<User> {
    match app
        .db()
        .create_user_with_identity(name, &config.issuer, subject, now_epoch())
        .await
    {
        Ok(user) => {
            tracing::info!(user = %user.name, issuer = %config.issuer, "account created by OpenID Connect");
            Ok(user)
        }
        Err(DbError::Conflict) => Err(Error::Conflict(format!(
            "an account named {name} already exists here and is not linked to your {} \
             account, so signing in with {} does not open it. If it is yours, sign in with \
             its password; otherwise ask the administrators of this instance",
            config.name, config.name
        ))),
        Err(e) => Err(e.into()),
    }
}
