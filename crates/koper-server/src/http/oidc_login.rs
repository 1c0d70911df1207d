//! Signing in with the OpenID provider: `/login/oidc` sends the browser to
//! the provider, which sends it back to `/login/oidc/callback`. Both are
//! GETs, as the protocol has them; the state in the browser's cookie ties
//! the two ends together.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

use super::account::{NextQuery, local_path};
use super::web::{
    OIDC_STATE_COOKIE, PageError, PageResult, cookie, expired_oidc_state_cookie, oidc_state_cookie,
    session_cookie,
};
use crate::app::App;
use crate::oidc::{self, Callback};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/login/oidc", get(start))
        .route(oidc::CALLBACK_PATH, get(callback))
}

async fn start(State(app): State<App>, Query(query): Query<NextQuery>) -> PageResult {
    let started = oidc::start(&app, local_path(&query.next)).await?;
    let mut response = Redirect::to(&started.provider_url).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, oidc_state_cookie(&app, &started.state));
    Ok(response)
}

async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> PageResult {
    let browser_state = cookie(&headers, OIDC_STATE_COOKIE).filter(|s| !s.is_empty());
    let finished = oidc::finish(&app, browser_state, &answer).await;
    let mut response = match finished {
        Ok(finished) => {
            let mut response = Redirect::to(local_path(&finished.next_path)).into_response();
            response.headers_mut().append(
                header::SET_COOKIE,
                session_cookie(&app, &finished.session.secret),
            );
            response
        }
        Err(error) => PageError::from(error).into_response(),
    };
    // Whatever happened, this state is spent.
    if browser_state.is_some() {
        response
            .headers_mut()
            .append(header::SET_COOKIE, expired_oidc_state_cookie(&app));
    }
    Ok(response)
}
