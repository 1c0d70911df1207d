//! Account pages: signing in and out, signing up (when the instance
//! allows it), and the API token page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use koper_types::now_epoch;
use serde::Deserialize;

use super::pages::short_time;
use super::web::{
    CheckedForm, Chrome, PageResult, Visitor, expired_session_cookie, render, session_cookie,
    url_encode,
};
use crate::app::App;
use crate::error::Error;
use crate::{passwords, sessions, users};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/signup", get(signup_form).post(signup))
        .route("/account/tokens", get(tokens_page).post(create_token))
        .route("/account/tokens/{id}/revoke", post(revoke_token))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    error: Option<String>,
    name: String,
    next: String,
    /// The OpenID provider's name, when the instance has one.
    provider: Option<String>,
}

impl LoginPage {
    fn new(app: &App, chrome: Chrome, name: &str, next: String) -> Self {
        Self {
            chrome,
            error: None,
            name: name.to_owned(),
            next,
            provider: app.config().oidc.as_ref().map(|p| p.name.clone()),
        }
    }

    /// Where the provider's button goes: the same `next`.
    fn provider_start(&self) -> String {
        format!("/login/oidc?next={}", url_encode(&self.next))
    }
}

/// A page's `?next=` (where to go after signing in).
#[derive(Deserialize)]
pub struct NextQuery {
    /// The path; anything but a local path is ignored.
    #[serde(default)]
    pub next: String,
}

/// Where to go after signing in: a path of this site only, so the form
/// cannot be used to send people elsewhere.
pub fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

async fn login_form(
    State(app): State<App>,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> PageResult {
    let mut response = render(&LoginPage::new(
        &app,
        visitor.chrome(&app, "Sign in"),
        "",
        local_path(&query.next).to_owned(),
    ))?;
    if let Some(cookie) = visitor.csrf_cookie(&app) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn login(State(app): State<App>, form: CheckedForm) -> PageResult {
    let name = form.text("name").trim();
    let next = local_path(form.text("next")).to_owned();
    match sessions::sign_in(&app, name, form.text("password"), form.visitor.address).await {
        Ok(session) => {
            tracing::info!(user = %session.user.name, "signed in");
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&app, &session.secret));
            Ok(response)
        }
        Err(error @ (Error::Unauthenticated { .. } | Error::TooManyRequests(_))) => {
            let status = error.status();
            let mut page = LoginPage::new(&app, form.visitor.chrome(&app, "Sign in"), name, next);
            page.error = Some(error.to_string());
            let mut response = render(&page)?;
            *response.status_mut() = status;
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

async fn logout(State(app): State<App>, form: CheckedForm) -> PageResult {
    if let Some(secret) = &form.visitor.session {
        sessions::sign_out(&app, secret).await?;
    }
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, expired_session_cookie(&app));
    Ok(response)
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    chrome: Chrome,
    error: Option<String>,
    name: String,
    min_password: usize,
}

fn signup_closed() -> Error {
    Error::NotFound(
        "this instance does not allow signing up; its administrators create accounts".into(),
    )
}

async fn signup_form(State(app): State<App>, visitor: Visitor) -> PageResult {
    if !app.config().allow_signup {
        return Err(signup_closed().into());
    }
    let mut response = render(&SignupPage {
        chrome: visitor.chrome(&app, "Sign up"),
        error: None,
        name: String::new(),
        min_password: passwords::MIN_PASSWORD_CHARS,
    })?;
    if let Some(cookie) = visitor.csrf_cookie(&app) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn signup(State(app): State<App>, form: CheckedForm) -> PageResult {
    if !app.config().allow_signup {
        return Err(signup_closed().into());
    }
    let name = form.text("name").trim();
    match sessions::sign_up(&app, name, form.text("password")).await {
        Ok(session) => {
            tracing::info!(user = %session.user.name, "signed up");
            let mut response =
                Redirect::to(&format!("/coprs/{}/", session.user.name)).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session_cookie(&app, &session.secret));
            Ok(response)
        }
        Err(error @ (Error::BadRequest { .. } | Error::Conflict(_))) => {
            let status = error.status();
            let mut response = render(&SignupPage {
                chrome: form.visitor.chrome(&app, "Sign up"),
                error: Some(error.to_string()),
                name: name.to_owned(),
                min_password: passwords::MIN_PASSWORD_CHARS,
            })?;
            *response.status_mut() = status;
            Ok(response)
        }
        Err(error) => Err(error.into()),
    }
}

struct TokenLine {
    id: i64,
    label: String,
    created: String,
    expires: String,
    status: &'static str,
    status_class: &'static str,
    revocable: bool,
}

struct CreatedToken {
    label: String,
    token: String,
    expires: String,
    url: String,
    user: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    chrome: Chrome,
    created: Option<CreatedToken>,
    day_choices: Vec<i64>,
    tokens: Vec<TokenLine>,
}

async fn tokens_view(app: &App, visitor: &Visitor, created: Option<CreatedToken>) -> PageResult {
    let user = visitor.require_user()?;
    let now = now_epoch();
    let tokens = app
        .db()
        .list_api_tokens(user.id)
        .await?
        .into_iter()
        .map(|t| {
            let (status, status_class) = match (t.revoked_on, t.expires_on) {
                (Some(_), _) => ("revoked", "canceled"),
                (None, Some(expiry)) if expiry <= now => ("expired", "failed"),
                _ => ("valid", "succeeded"),
            };
            TokenLine {
                id: t.id,
                label: t.label,
                created: short_time(t.created_on),
                expires: t.expires_on.map_or_else(|| "never".to_owned(), short_time),
                status,
                status_class,
                revocable: status == "valid",
            }
        })
        .collect();
    render(&TokensPage {
        chrome: visitor.chrome(app, "API tokens"),
        created,
        day_choices: users::TOKEN_DAYS_CHOICES.to_vec(),
        tokens,
    })
}

async fn tokens_page(State(app): State<App>, visitor: Visitor) -> PageResult {
    tokens_view(&app, &visitor, None).await
}

async fn create_token(State(app): State<App>, form: CheckedForm) -> PageResult {
    let user = form.visitor.require_user()?;
    let days: i64 = form
        .text("days")
        .parse()
        .map_err(|_| Error::bad_request("pick how many days the token is valid"))?;
    let label = form.text("label");
    let account = users::create_named_token(app.db(), user, label, days).await?;
    let created = CreatedToken {
        label: label.trim().to_owned(),
        token: account.token,
        expires: short_time(account.expires_on),
        url: app.public_url().to_owned(),
        user: user.name.to_string(),
    };
    let mut response = tokens_view(&app, &form.visitor, Some(created)).await?;
    *response.status_mut() = StatusCode::CREATED;
    // The page shows a secret: never keep it in a cache.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Error::internal)?,
    );
    Ok(response)
}

async fn revoke_token(
    State(app): State<App>,
    Path(id): Path<i64>,
    form: CheckedForm,
) -> PageResult {
    let user = form.visitor.require_user()?;
    users::revoke_token(app.db(), user, id).await?;
    Ok(Redirect::to("/account/tokens").into_response())
}
