//! Browsable pages: the project directory (`/coprs/`), a project's page,
//! each repo's packages (like repoview) and each package's versions with
//! changelog and files, and a project's Atom feed of builds. Plain HTML,
//! no JavaScript.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use koper_db::ProjectRow;
use koper_types::{ChrootName, format_bytes};
use serde::Deserialize;

use crate::app::App;
use crate::error::Result;
use crate::{builds, keys, projects, quota, release, views};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/coprs/", get(directory))
        .route("/coprs", get(directory))
        .route("/coprs/{owner}/{project}/", get(user_project))
        .route("/coprs/g/{group}/{project}/", get(group_project))
        .route("/coprs/{owner}/{project}/feed.atom", get(user_feed))
        .route("/coprs/g/{group}/{project}/feed.atom", get(group_feed))
        .route(
            "/coprs/{owner}/{project}/packages/{chroot}/",
            get(user_packages),
        )
        .route(
            "/coprs/g/{group}/{project}/packages/{chroot}/",
            get(group_packages),
        )
        .route(
            "/coprs/{owner}/{project}/packages/{chroot}/{name}/",
            get(user_package),
        )
        .route("/coprs/{owner}/{project}/build/{id}/", get(user_build))
        .route("/coprs/g/{group}/{project}/build/{id}/", get(group_build))
        .route(
            "/coprs/g/{group}/{project}/packages/{chroot}/{name}/",
            get(group_package),
        )
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60em;margin:1em auto;\
    padding:0 1em;color:#222}a{color:#0b5ea8}table{border-collapse:collapse}\
    td,th{padding:.2em .8em .2em 0;text-align:left;vertical-align:top}\
    code,pre{background:#f4f4f4;padding:.1em .3em}pre{padding:.5em;overflow-x:auto}\
    .muted{color:#666}h1 small{font-weight:normal;color:#666}";

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · koper</title><style>{STYLE}</style></head>\n<body>\n\
         <p><a href=\"/coprs/\">koper projects</a></p>\n{body}\n</body></html>\n",
        esc(title)
    ))
    .into_response()
}

/// A project page's path prefix: `/coprs/alice/hello` or `/coprs/g/grp/x`.
fn project_path(project: &ProjectRow) -> String {
    match project.owner.as_str().strip_prefix('@') {
        Some(group) => format!("/coprs/g/{group}/{}", project.name),
        None => format!("/coprs/{}/{}", project.owner, project.name),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn directory(State(app): State<App>, Query(query): Query<SearchQuery>) -> Result<Response> {
    let found = app.db().search_projects(&query.q).await?;
    let mut body = format!(
        "<h1>Projects</h1>\n<form action=\"/coprs/\"><input name=\"q\" value=\"{}\" \
         placeholder=\"owner, name or description\"> <button>Search</button></form>\n",
        esc(&query.q)
    );
    if found.is_empty() {
        body.push_str("<p class=\"muted\">No listed project matches.</p>\n");
    } else {
        body.push_str("<table>\n<tr><th>project</th><th>description</th><th>chroots</th></tr>\n");
        for project in &found {
            let chroots: Vec<&str> = project.chroots.iter().map(ChrootName::as_str).collect();
            body.push_str(&format!(
                "<tr><td><a href=\"{}/\">{}/{}</a></td><td>{}</td><td>{}</td></tr>\n",
                project_path(project),
                esc(project.owner.as_str()),
                esc(project.name.as_str()),
                esc(&project.description),
                esc(&chroots.join(" "))
            ));
        }
        body.push_str("</table>\n");
    }
    Ok(page("Projects", &body))
}

async fn find(app: &App, owner: &str, project: &str) -> Result<ProjectRow> {
    projects::find_project(app, &owner.parse()?, &project.parse()?).await
}

async fn user_project(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Response> {
    project_page(&app, find(&app, &owner, &project).await?).await
}

async fn group_project(
    State(app): State<App>,
    Path((group, project)): Path<(String, String)>,
) -> Result<Response> {
    project_page(&app, find(&app, &format!("@{group}"), &project).await?).await
}

async fn project_page(app: &App, project: ProjectRow) -> Result<Response> {
    let path = project_path(&project);
    let full = format!("{}/{}", project.owner, project.name);
    let key = keys::project_key(app, &project).await?;
    let budget = quota::budget_for(app, &project).await?;
    let mut body = format!(
        "<h1>{} <small><a href=\"{path}/feed.atom\">feed</a></small></h1>\n",
        esc(&full)
    );
    if !project.description.is_empty() {
        body.push_str(&format!("<p>{}</p>\n", esc(&project.description)));
    }
    body.push_str(
        "<h2>Install</h2>\n<table>\n<tr><th>chroot</th><th>release package</th>\
                   <th>.repo file</th><th>packages</th></tr>\n",
    );
    for chroot in &project.chroots {
        let release = release::release_url(app, &project, chroot)
            .await?
            .map(|url| {
                format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&url),
                    esc(&release::package_name(&project))
                )
            })
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr><td>{chroot}</td><td>{release}</td>\
             <td><a href=\"{path}/repo/{}/dnf.repo\">dnf.repo</a></td>\
             <td><a href=\"{path}/packages/{chroot}/\">browse</a></td></tr>\n",
            chroot.name_release()
        ));
    }
    body.push_str("</table>\n");
    if let Some(chroot) = project.chroots.first() {
        body.push_str(&format!(
            "<p>For example: <code>sudo dnf install {}{path}/release/{}/{}.noarch.rpm</code>, \
             then <code>sudo dnf install PACKAGE</code>.</p>\n",
            esc(app.public_url()),
            chroot.name_release(),
            esc(&release::package_name(&project))
        ));
    }
    body.push_str(&format!(
        "<p>Packages and repository metadata are signed with key <code>{}</code> \
         (<a href=\"{}/{}/pubkey.gpg\">pubkey.gpg</a>{}).</p>\n",
        key.fingerprint(),
        esc(&app.results_url()),
        esc(&full),
        key.expires_on()
            .map(|t| format!(", valid until {}", &views::rfc3339(t)[..10]))
            .unwrap_or_default()
    ));
    body.push_str(&format!(
        "<p>Storage: {} of {} used ({}). Keeps {} older build(s) of each package per chroot.</p>\n",
        format_bytes(budget.used),
        format_bytes(budget.quota),
        if budget.scope.contains('/') {
            "the project's own quota".to_owned()
        } else {
            format!("shared by {}'s projects", esc(&budget.scope))
        },
        project.retain_older
    ));
    body.push_str(
        "<h2>Recent builds</h2>\n<table>\n<tr><th>build</th><th>package</th>\
                   <th>state</th><th>submitted</th></tr>\n",
    );
    for build in app.db().list_builds(project.id, 20, 0).await? {
        body.push_str(&format!(
            "<tr><td><a href=\"{path}/build/{0}/\">{0}</a></td><td>{1} {2}</td>\
             <td>{3}</td><td>{4}</td></tr>\n",
            build.id,
            esc(build.package_name.as_ref().map_or("", |n| n.as_str())),
            esc(build.package_version.as_deref().unwrap_or_default()),
            builds::state_of(&build),
            views::rfc3339(build.submitted_on)
        ));
    }
    body.push_str("</table>\n");
    Ok(page(&full, &body))
}

async fn user_build(
    State(app): State<App>,
    Path((owner, project, id)): Path<(String, String, String)>,
) -> Result<Response> {
    build_page(&app, find(&app, &owner, &project).await?, &id).await
}

async fn group_build(
    State(app): State<App>,
    Path((group, project, id)): Path<(String, String, String)>,
) -> Result<Response> {
    build_page(&app, find(&app, &format!("@{group}"), &project).await?, &id).await
}

/// One build: its chroots, their results, and for the pending ones why
/// they wait and when they are likely to start.
async fn build_page(app: &App, project: ProjectRow, id: &str) -> Result<Response> {
    let build = builds::get_build(app, id.parse()?).await?;
    if build.project_id != project.id {
        return Err(crate::error::Error::NotFound(format!(
            "build {id} is not in {}/{}",
            project.owner, project.name
        )));
    }
    let shown = builds::to_api_explained(app, &build).await?;
    let title = format!("Build {} of {}/{}", build.id, project.owner, project.name);
    let mut body = format!(
        "<h1>{}</h1>\n<p>{} {} · <b>{}</b> · submitted {}{}{}</p>\n",
        esc(&title),
        esc(build.package_name.as_ref().map_or("", |n| n.as_str())),
        esc(build.package_version.as_deref().unwrap_or_default()),
        shown.state,
        views::rfc3339(build.submitted_on),
        build
            .submitter
            .as_ref()
            .map(|s| format!(" by {}", esc(s)))
            .unwrap_or_default(),
        if shown.is_background {
            " · background"
        } else {
            ""
        }
    );
    body.push_str(
        "<table>\n<tr><th>chroot</th><th>state</th><th>started</th><th>ended</th>\
         <th>results</th></tr>\n",
    );
    for chroot in &shown.chroots {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            chroot.name,
            chroot.state,
            chroot.started_on.map(views::rfc3339).unwrap_or_default(),
            chroot.ended_on.map(views::rfc3339).unwrap_or_default(),
            chroot
                .result_url
                .as_ref()
                .map(|u| format!("<a href=\"{}\">files and logs</a>", esc(u)))
                .unwrap_or_default()
        ));
        if let Some(reason) = &chroot.fail_reason {
            body.push_str(&format!(
                "<tr><td></td><td colspan=\"4\" class=\"muted\">{}</td></tr>\n",
                esc(reason)
            ));
        }
        if let Some(queue) = &chroot.queue {
            body.push_str(&format!(
                "<tr><td></td><td colspan=\"4\">Waiting: {}{}</td></tr>\n",
                esc(&queue.message),
                queue
                    .estimated_start
                    .map(|t| format!(" (estimated start {})", views::rfc3339(t)))
                    .unwrap_or_default()
            ));
        }
    }
    body.push_str("</table>\n");
    Ok(page(&title, &body))
}

async fn user_feed(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Response> {
    feed(&app, find(&app, &owner, &project).await?).await
}

async fn group_feed(
    State(app): State<App>,
    Path((group, project)): Path<(String, String)>,
) -> Result<Response> {
    feed(&app, find(&app, &format!("@{group}"), &project).await?).await
}

async fn feed(app: &App, project: ProjectRow) -> Result<Response> {
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        views::feed(app, &project).await?,
    )
        .into_response())
}

async fn user_packages(
    State(app): State<App>,
    Path((owner, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    packages(&app, find(&app, &owner, &project).await?, &chroot).await
}

async fn group_packages(
    State(app): State<App>,
    Path((group, project, chroot)): Path<(String, String, String)>,
) -> Result<Response> {
    packages(
        &app,
        find(&app, &format!("@{group}"), &project).await?,
        &chroot,
    )
    .await
}

fn evr(p: &koper_repodata::ListedPackage) -> String {
    if p.epoch.is_empty() || p.epoch == "0" {
        format!("{}-{}", p.version, p.release)
    } else {
        format!("{}:{}-{}", p.epoch, p.version, p.release)
    }
}

/// A repo's packages, one row per name with its newest version.
async fn packages(app: &App, project: ProjectRow, chroot: &str) -> Result<Response> {
    let chroot: ChrootName = chroot.parse()?;
    let listed = views::repo_packages(app, &project, &chroot).await?;
    let title = format!("{}/{} packages for {chroot}", project.owner, project.name);
    let mut body = format!(
        "<h1>{}</h1>\n<p><a href=\"{}/\">project</a> · <a href=\"{}/{}/{}/{chroot}/\">files</a></p>\n",
        esc(&title),
        project_path(&project),
        esc(&app.results_url()),
        esc(project.owner.as_str()),
        esc(project.name.as_str()),
    );
    body.push_str(
        "<table>\n<tr><th>package</th><th>version</th><th>arch</th><th>summary</th></tr>\n",
    );
    let mut names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    for name in names {
        let arches: Vec<&str> = listed
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.arch.as_str())
            .collect();
        let Some(newest) = listed.iter().rfind(|p| p.name == name) else {
            continue;
        };
        body.push_str(&format!(
            "<tr><td><a href=\"{}/\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(name),
            esc(name),
            esc(&evr(newest)),
            esc(&arches.join(" ")),
            esc(&newest.summary)
        ));
    }
    body.push_str("</table>\n");
    Ok(page(&title, &body))
}

async fn user_package(
    State(app): State<App>,
    Path((owner, project, chroot, name)): Path<(String, String, String, String)>,
) -> Result<Response> {
    package(&app, find(&app, &owner, &project).await?, &chroot, &name).await
}

async fn group_package(
    State(app): State<App>,
    Path((group, project, chroot, name)): Path<(String, String, String, String)>,
) -> Result<Response> {
    package(
        &app,
        find(&app, &format!("@{group}"), &project).await?,
        &chroot,
        &name,
    )
    .await
}

/// One package: every published version with its changelog and files.
async fn package(app: &App, project: ProjectRow, chroot: &str, name: &str) -> Result<Response> {
    let chroot: ChrootName = chroot.parse()?;
    let versions = views::package_details(app, &project, &chroot, name).await?;
    let title = format!("{name} in {}/{} ({chroot})", project.owner, project.name);
    let repo_url = format!(
        "{}/{}/{}/{chroot}",
        app.results_url(),
        project.owner,
        project.name
    );
    let mut body = format!(
        "<h1>{}</h1>\n<p><a href=\"../\">all packages</a></p>\n",
        esc(&title)
    );
    if let Some(first) = versions.first() {
        body.push_str(&format!(
            "<p>{}</p>\n<pre>{}</pre>\n<p>License: {}{}</p>\n",
            esc(&first.listed.summary),
            esc(&first.description),
            esc(&first.license),
            if first.url.is_empty() {
                String::new()
            } else {
                format!(" · <a href=\"{0}\">{0}</a>", esc(&first.url))
            }
        ));
    }
    for version in &versions {
        let p = &version.listed;
        body.push_str(&format!(
            "<h2>{}-{}.{}</h2>\n<p><a href=\"{}/{}\">download</a> · {} · built {}</p>\n",
            esc(&p.name),
            esc(&evr(p)),
            esc(&p.arch),
            esc(&repo_url),
            esc(&p.location),
            format_bytes(i64::try_from(p.size).unwrap_or(i64::MAX)),
            views::rfc3339(p.build_time)
        ));
        if !version.changelog.is_empty() {
            body.push_str("<h3>Changelog</h3>\n");
            for entry in &version.changelog {
                body.push_str(&format!(
                    "<p><b>{}</b> {}</p>\n<pre>{}</pre>\n",
                    &views::rfc3339(entry.time)[..10],
                    esc(&entry.author),
                    esc(&entry.text)
                ));
            }
        }
        if !version.files.is_empty() {
            body.push_str("<h3>Files</h3>\n<pre>");
            for file in &version.files {
                body.push_str(&esc(file));
                body.push('\n');
            }
            body.push_str("</pre>\n");
        }
    }
    Ok(page(&title, &body))
}
