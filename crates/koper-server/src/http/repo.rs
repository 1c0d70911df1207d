//! `.repo` files: `/coprs/<owner>/<project>/repo/<chroot>/<anything>.repo`
//! as Copr serves them to dnf's copr plugin and to people.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;

use crate::app::App;
use crate::error::{Error, Result};
use crate::{projects, release, repo_file};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/coprs/{owner}/{project}/repo/{chroot}", get(user_repo))
        .route("/coprs/{owner}/{project}/repo/{chroot}/", get(user_repo))
        .route(
            "/coprs/{owner}/{project}/repo/{chroot}/{file}",
            get(user_repo_file),
        )
        .route(
            "/coprs/{owner}/{project}/release/{chroot}",
            get(user_release),
        )
        .route(
            "/coprs/{owner}/{project}/release/{chroot}/",
            get(user_release),
        )
        .route(
            "/coprs/g/{group}/{project}/release/{chroot}",
            get(group_release),
        )
        .route(
            "/coprs/g/{group}/{project}/release/{chroot}/",
            get(group_release),
        )
        .route(
            "/coprs/{owner}/{project}/release/{chroot}/{file}",
            get(user_release_file),
        )
        .route(
            "/coprs/g/{group}/{project}/release/{chroot}/{file}",
            get(group_release_file),
        )
        .route("/coprs/g/{group}/{project}/repo/{chroot}", get(group_repo))
        .route("/coprs/g/{group}/{project}/repo/{chroot}/", get(group_repo))
        .route(
            "/coprs/g/{group}/{project}/repo/{chroot}/{file}",
            get(group_repo_file),
        )
}

async fn user_repo(
    State(app): State<App>,
    Path((owner, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    repo(&app, &owner, &project, &chroot).await
}

async fn user_repo_file(
    State(app): State<App>,
    Path((owner, project, chroot, _file)): Path<(String, String, String, String)>,
) -> Result<Response> {
    repo(&app, &owner, &project, &chroot).await
}

async fn group_repo(
    State(app): State<App>,
    Path((group, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    repo(&app, &format!("@{group}"), &project, &chroot).await
}

async fn group_repo_file(
    State(app): State<App>,
    Path((group, project, chroot, _file)): Path<(String, String, String, String)>,
) -> Result<Response> {
    repo(&app, &format!("@{group}"), &project, &chroot).await
}

async fn user_release(
    State(app): State<App>,
    Path((owner, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    release(&app, &owner, &project, &chroot).await
}

/// The same with a file name, so that `dnf install URL` sees an `.rpm`.
async fn user_release_file(
    State(app): State<App>,
    Path((owner, project, chroot, _file)): Path<(String, String, String, String)>,
) -> Result<Response> {
    release(&app, &owner, &project, &chroot).await
}

async fn group_release_file(
    State(app): State<App>,
    Path((group, project, chroot, _file)): Path<(String, String, String, String)>,
) -> Result<Response> {
    release(&app, &format!("@{group}"), &project, &chroot).await
}

async fn group_release(
    State(app): State<App>,
    Path((group, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    release(&app, &format!("@{group}"), &project, &chroot).await
}

/// A stable address of a chroot's release package: redirects to its
/// current file.
async fn release(app: &App, owner: &str, project: &str, name_release: &str) -> Result<Response> {
    let project = projects::find_project(app, &owner.parse()?, &project.parse()?).await?;
    let chroot = repo_file::select_chroot(&project, name_release).map_err(|available| {
        Error::NotFound(format!(
            "project {}/{} has no chroot matching {name_release}; it has {}",
            project.owner,
            project.name,
            available.join(", ")
        ))
    })?;
    let url = release::release_url(app, &project, chroot)
        .await?
        .ok_or_else(|| Error::NotFound("the release package is not made yet".into()))?;
    Ok(Redirect::to(&url).into_response())
}

async fn repo(app: &App, owner: &str, project: &str, name_release: &str) -> Result<Response> {
    let project = projects::find_project(app, &owner.parse()?, &project.parse()?).await?;
    let chroot = match repo_file::select_chroot(&project, name_release) {
        Ok(chroot) => chroot,
        Err(available) => {
            // dnf's copr plugin shows this list to the user.
            let data = serde_json::json!({ "available chroots": available }).to_string();
            let mut response = Error::NotFound(format!(
                "project {}/{} has no chroot matching {name_release}",
                project.owner, project.name
            ))
            .into_response();
            if let Ok(value) =
                HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(data))
            {
                response.headers_mut().insert("Copr-Error-Data", value);
            }
            return Ok(response);
        }
    };
    // The repos it depends on follow (as Copr's runtime dependencies do),
    // so enabling a project brings what its packages need.
    let mut body = repo_file::render(app, &project, chroot)?;
    for dependency in release::dependency_repos(app, &project, chroot).await? {
        body.push('\n');
        body.push_str(&dependency.section);
    }
    let filename = format!(
        "filename={}-{}.repo",
        project.owner.as_str().replace('@', "group_"),
        project.name
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        body,
    )
        .into_response())
}
