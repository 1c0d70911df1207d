//! What every web page shares: who is visiting (session cookie), the
//! layout's chrome, forms checked against CSRF by construction, and errors
//! shown as pages in the same look.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use koper_db::User;

use crate::app::App;
use crate::error::Error;
use crate::sessions;

/// The cookie holding a session's secret.
pub const SESSION_COOKIE: &str = "koper_session";
/// The cookie holding the CSRF token of visitors who are not signed in
/// (the sign-in and sign-up forms).
pub const ANONYMOUS_CSRF_COOKIE: &str = "koper_csrf";
/// The cookie holding the state of a sign-in at the OpenID provider.
pub const OIDC_STATE_COOKIE: &str = "koper_oidc";

/// What the layout shows around every page.
pub struct Chrome {
    /// The page's title.
    pub title: String,
    /// The signed-in user's name.
    pub user: Option<String>,
    /// The token every form of the page carries.
    pub csrf: String,
    /// Whether the sign-up page is open.
    pub signup: bool,
    /// Whether the visitor administers the instance.
    pub is_admin: bool,
}

/// The value of cookie `name` in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: HttpOnly and SameSite always, Secure when the
/// instance is served over HTTPS; `max_age` 0 deletes it.
fn set_cookie(app: &App, name: &str, value: &str, same_site: &str, max_age: i64) -> HeaderValue {
    let secure = if app.public_url().starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookie of a new session.
pub fn session_cookie(app: &App, secret: &str) -> HeaderValue {
    set_cookie(
        app,
        SESSION_COOKIE,
        secret,
        "Lax",
        sessions::SESSION_SECONDS,
    )
}

/// Deletes the session cookie.
pub fn expired_session_cookie(app: &App) -> HeaderValue {
    set_cookie(app, SESSION_COOKIE, "", "Lax", 0)
}

/// The cookie tying a sign-in at the OpenID provider to this browser.
/// SameSite=Lax: the provider sends the browser back with a top-level
/// GET, which Lax cookies go along with.
pub fn oidc_state_cookie(app: &App, state: &str) -> HeaderValue {
    set_cookie(
        app,
        OIDC_STATE_COOKIE,
        state,
        "Lax",
        crate::oidc::LOGIN_SECONDS,
    )
}

/// Deletes the OpenID sign-in cookie (a state is used once).
pub fn expired_oidc_state_cookie(app: &App) -> HeaderValue {
    set_cookie(app, OIDC_STATE_COOKIE, "", "Lax", 0)
}

/// Who is visiting a page.
pub struct Visitor {
    /// The signed-in user.
    pub user: Option<User>,
    /// The session's secret, when signed in.
    pub session: Option<String>,
    /// The CSRF token of a visitor who is not signed in, and whether it is
    /// new (then the page must set its cookie).
    anonymous_csrf: (String, bool),
    /// The path and query asked for (where to come back after signing in).
    pub path: String,
    /// The client's address (rate limiting).
    pub address: IpAddr,
}

impl FromRequestParts<App> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let secret = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let user = match &secret {
            Some(secret) => sessions::session_user(app, secret).await?,
            None => None,
        };
        let anonymous_csrf = match cookie(&parts.headers, ANONYMOUS_CSRF_COOKIE) {
            Some(token) if token.len() == 40 => (token.to_owned(), false),
            _ => (crate::auth::new_token()?, true),
        };
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        Ok(Self {
            session: secret.filter(|_| user.is_some()),
            user,
            anonymous_csrf,
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            address,
        })
    }
}

impl Visitor {
    /// The CSRF token this visitor's forms carry.
    pub fn csrf(&self) -> String {
        match &self.session {
            Some(secret) => sessions::csrf_token(secret),
            None => self.anonymous_csrf.0.clone(),
        }
    }

    /// The `Set-Cookie` a page with a sign-in form must send when the
    /// visitor has no CSRF cookie yet.
    pub fn csrf_cookie(&self, app: &App) -> Option<HeaderValue> {
        let (token, new) = &self.anonymous_csrf;
        new.then(|| set_cookie(app, ANONYMOUS_CSRF_COOKIE, token, "Strict", 24 * 3600))
    }

    /// Refuses a form whose token is not this visitor's.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), PageError> {
        let fresh_anonymous = self.session.is_none() && self.anonymous_csrf.1;
        match submitted {
            Some(token) if !fresh_anonymous && sessions::tokens_equal(token, &self.csrf()) => {
                Ok(())
            }
            _ => Err(Error::Forbidden(
                "the form's security token does not match your session (it may be from an \
                 older page or another site); reload the page and submit it again"
                    .into(),
            )
            .into()),
        }
    }

    /// The layout around a page titled `title`.
    pub fn chrome(&self, app: &App, title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            user: self.user.as_ref().map(|u| u.name.to_string()),
            csrf: self.csrf(),
            signup: app.config().allow_signup,
            is_admin: self.user.as_ref().is_some_and(|u| u.is_admin),
        }
    }

    /// The signed-in user, or a redirect to the sign-in page that comes
    /// back here.
    pub fn require_user(&self) -> Result<&User, PageError> {
        self.user
            .as_ref()
            .ok_or_else(|| PageError::Redirect(format!("/login?next={}", url_encode(&self.path))))
    }
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// A submitted form (`application/x-www-form-urlencoded`) whose CSRF token
/// was checked, with its visitor.
pub struct CheckedForm {
    /// Who submitted it.
    pub visitor: Visitor,
    fields: Vec<(String, String)>,
}

impl FromRequest<App> for CheckedForm {
    type Rejection = PageError;

    async fn from_request(request: Request, app: &App) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let visitor = Visitor::from_request_parts(&mut parts, app).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(|e| Error::bad_request(e.body_text()))?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| Error::bad_request(format!("the form could not be read: {e}")))?;
        let form = Self { visitor, fields };
        form.visitor.check_csrf(form.get("csrf"))?;
        Ok(form)
    }
}

impl CheckedForm {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A field's value, empty when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Whether a checkbox is ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Why a page is not shown: an error shown as a page, or somewhere else
/// to go.
pub enum PageError {
    /// Shown as an error page with the error's status.
    Error(Error),
    /// A `303 See Other` to this location.
    Redirect(String),
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        Self::Error(error)
    }
}

impl From<koper_types::NameError> for PageError {
    fn from(error: koper_types::NameError) -> Self {
        Self::Error(error.into())
    }
}

impl From<koper_db::DbError> for PageError {
    fn from(error: koper_db::DbError) -> Self {
        Self::Error(error.into())
    }
}

/// The result of a page handler.
pub type PageResult<T = Response> = Result<T, PageError>;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    heading: &'static str,
    message: String,
    hint: Option<String>,
}

/// An error page for `status`; the message of an internal error is the
/// generic one (the detail goes to the log).
pub fn error_page(error: &Error) -> Response {
    let status = error.status();
    let body = error.body();
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::UNAUTHORIZED => "Not signed in",
        StatusCode::CONFLICT => "That clashes with what exists",
        StatusCode::PAYLOAD_TOO_LARGE => "Too large",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::BAD_GATEWAY => "Another service did not answer",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on our side",
        _ => "That did not work",
    };
    let page = ErrorPage {
        chrome: Chrome {
            title: heading.to_owned(),
            user: None,
            csrf: String::new(),
            signup: false,
            is_admin: false,
        },
        status: status.as_u16(),
        heading,
        message: body.error,
        hint: body.hint,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, "error").into_response(),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Error(error) => error_page(&error),
            Self::Redirect(to) => Redirect::to(&to).into_response(),
        }
    }
}

/// A page from its template.
pub fn render(page: &impl Template) -> PageResult {
    Ok(Html(page.render().map_err(Error::internal)?).into_response())
}

/// The 404 page of every path no route answers.
pub async fn not_found() -> Response {
    error_page(&Error::NotFound("there is no page at this address".into()))
}

/// The 500 page of a handler that panicked: nothing of the panic is sent.
pub fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_page(&Error::internal("panic"))
}
