//! Disabled projects (and those of disabled users) are served only to
//! those who manage them: one layer in front of every page, `.repo` file,
//! release package and results path below a project, so no route can
//! forget it. Everyone else gets a page saying the project is disabled.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use koper_types::{OwnerName, ProjectName};

use super::web::{Visitor, error_page};
use crate::app::App;
use crate::{moderation, permissions};

/// The project a path is below: `/coprs/OWNER/PROJECT/...`,
/// `/coprs/g/GROUP/PROJECT/...` or `/results/OWNER/PROJECT/...`.
fn project_of_path(path: &str) -> Option<(OwnerName, ProjectName)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (owner, project) = match segments.as_slice() {
        ["coprs", "g", group, project, ..] => (format!("@{group}"), *project),
        ["coprs", owner, project, _, ..] => ((*owner).to_owned(), *project),
        ["results", owner, project, ..] => ((*owner).to_owned(), *project),
        _ => return None,
    };
    Some((owner.parse().ok()?, project.parse().ok()?))
}

/// Refuses what is below a disabled project to visitors who do not
/// manage it; everything else passes untouched.
pub async fn serve_only_to_managers(
    State(app): State<App>,
    request: Request,
    next: Next,
) -> Response {
    // Forms (POST) decide for themselves: owners may still change a
    // disabled project's settings, and builds are refused where they are
    // submitted.
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let Some((owner, name)) = project_of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let project = match app.db().find_project(&owner, &name).await {
        Ok(Some(project)) => project,
        // Unknown projects and database trouble are the handler's to answer.
        _ => return next.run(request).await,
    };
    let Some(refusal) = moderation::not_served(&project) else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let manages = match Visitor::from_request_parts(&mut parts, &app).await {
        Ok(Visitor {
            user: Some(user), ..
        }) => permissions::can_admin(&app, &user, &project)
            .await
            .unwrap_or(false),
        _ => false,
    };
    if manages {
        next.run(Request::from_parts(parts, body)).await
    } else {
        error_page(&refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::project_of_path;

    fn named(path: &str) -> Option<String> {
        project_of_path(path).map(|(owner, project)| format!("{owner}/{project}"))
    }

    #[test]
    fn paths_below_a_project_name_it() {
        assert_eq!(named("/coprs/alice/hello/").as_deref(), Some("alice/hello"));
        assert_eq!(
            named("/coprs/alice/hello/repo/fedora-42/x.repo").as_deref(),
            Some("alice/hello")
        );
        assert_eq!(
            named("/coprs/g/kde/plasma/builds/").as_deref(),
            Some("@kde/plasma")
        );
        assert_eq!(
            named("/results/alice/hello/host-1-x86_64/repodata/repomd.xml").as_deref(),
            Some("alice/hello")
        );
        assert_eq!(
            named("/results/@kde/plasma/").as_deref(),
            Some("@kde/plasma")
        );
        // Owner pages, the directory and other paths are nobody's project.
        for path in [
            "/coprs/alice/",
            "/coprs/g/kde/",
            "/coprs/",
            "/results/alice/",
            "/",
            "/admin/",
        ] {
            assert_eq!(named(path), None, "{path}");
        }
    }
}
