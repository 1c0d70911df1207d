//! Copr's APIv3 under `/api_3/`, so that `copr-cli`, python-copr, Packit
//! and dnf's copr plugins work against koper unchanged. Handlers translate
//! Copr's requests into the server's own operations and its objects into
//! Copr's shapes; the transport rules Copr clients depend on live here:
//! every route answers with and without a trailing slash, errors are JSON
//! with a top-level `error` key (403 for any authentication failure),
//! booleans and numbers may come as strings.

mod builds;
mod chroots;
mod general;
mod loose;
mod multipart;
mod objects;
mod packages;
mod permissions;
mod projects;
mod repos;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
use koper_api::ErrorBody;
use koper_db::{ProjectRow, User};
use koper_types::{OwnerName, ProjectName};

use crate::app::App;
use crate::auth;
use crate::error::Error;

pub use loose::Fields;

/// Every `/api_3/` route.
pub fn routes() -> Router<App> {
    let router = Router::new();
    let router = general::routes(router);
    let router = projects::routes(router);
    let router = builds::routes(router);
    let router = chroots::routes(router);
    let router = packages::routes(router);
    let router = permissions::routes(router);
    let router = repos::routes(router);
    router.route("/api_3/{*rest}", any(unknown_endpoint))
}

/// Registers `path` with and without a trailing slash (Copr routes are not
/// strict about slashes, and clients use both forms).
fn route(router: Router<App>, path: &str, handler: MethodRouter<App>) -> Router<App> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

async fn unknown_endpoint() -> CoprError {
    CoprError(Error::NotFound("Such API endpoint doesn't exist".into()))
}

/// A server error in Copr's envelope. Copr clients decide success by the
/// presence of `error` alone and treat 403 as "authentication failed"
/// (copr-cli exit 7); a 401 would make them retry blindly, so
/// authentication failures are sent as 403.
#[derive(Debug)]
pub struct CoprError(pub Error);

impl From<Error> for CoprError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

impl From<koper_types::NameError> for CoprError {
    fn from(err: koper_types::NameError) -> Self {
        Self(err.into())
    }
}

impl From<koper_db::DbError> for CoprError {
    fn from(err: koper_db::DbError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for CoprError {
    fn into_response(self) -> Response {
        let body = self.0.body();
        let (status, hint) = match self.0.status() {
            StatusCode::UNAUTHORIZED => (
                StatusCode::FORBIDDEN,
                Some("check `login` and `token` in ~/.config/copr (an administrator issues tokens with `koper admin new-token USER`)".into()),
            ),
            other => (other, body.hint),
        };
        // Copr prints each line of the error; the hint is the next line.
        let error = match hint {
            Some(hint) => format!("{}\n{hint}", body.error),
            None => body.error,
        };
        (status, Json(ErrorBody { error, hint: None })).into_response()
    }
}

/// The result of a Copr handler.
pub type CoprResult<T> = Result<T, CoprError>;

/// The calling user; Copr sends `Authorization: Basic login:token`.
async fn caller(app: &App, headers: &axum::http::HeaderMap) -> CoprResult<User> {
    match auth::authenticate(app, headers).await? {
        Some(user) => Ok(user),
        None => Err(Error::Unauthenticated {
            message: "Login invalid/expired. Put login and token in ~/.config/copr".into(),
            hint: None,
        }
        .into()),
    }
}

/// The project a request names with `ownername` and `projectname`.
async fn named_project(app: &App, fields: &Fields) -> CoprResult<ProjectRow> {
    find_project(
        app,
        &fields.required("ownername")?,
        &fields.required("projectname")?,
    )
    .await
}

/// The project `owner/name` (Copr's wording for a missing one).
async fn find_project(app: &App, owner: &str, name: &str) -> CoprResult<ProjectRow> {
    let owner: OwnerName = owner.parse()?;
    let name: ProjectName = name.parse()?;
    app.db()
        .find_project(&owner, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Project {owner}/{name} does not exist.")).into())
}
