//! Project chroots: their settings, and the build configuration that
//! `copr-cli mock-config` turns into a mock profile reproducing a build.

use axum::Json;
use axum::Router;
use axum::extract::{Multipart, Path};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use koper_api::{copr, v1};
use koper_db::ProjectRow;
use koper_types::ChrootName;

use crate::app::App;
use crate::error::Error;
use crate::{buildroot, projects};

use super::multipart::{discard, receive_multipart};
use super::{CoprResult, Fields, caller, find_project, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(router, "/api_3/project-chroot", get(get_chroot));
    let router = route(
        router,
        "/api_3/project-chroot/edit/{owner}/{project}/{chroot}",
        put(edit_chroot).post(edit_chroot),
    );
    route(
        router,
        "/api_3/project-chroot/build-config",
        get(build_config),
    )
}

/// The project and chroot a query names (`ownername`, `projectname`,
/// `chrootname`).
async fn project_chroot(app: &App, query: Option<&str>) -> CoprResult<(ProjectRow, ChrootName)> {
    let fields = Fields::from_query(query)?;
    let project = named_project(app, &fields).await?;
    let chroot: ChrootName = fields.required("chrootname")?.parse()?;
    if !project.chroots.contains(&chroot) {
        return Err(Error::NotFound(format!(
            "Chroot {chroot} does not exist in {}/{}.",
            project.owner, project.name
        ))
        .into());
    }
    Ok((project, chroot))
}

async fn get_chroot(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::ProjectChroot>> {
    let (project, chroot) = project_chroot(&app, query.as_deref()).await?;
    Ok(Json(describe(&app, &project, &chroot).await?))
}

/// Changes a project chroot's settings; Copr always sends a multipart body
/// whose `json` part holds them. koper acts on `additional_packages`
/// (with `reset_fields` clearing it); comps files, modules and mock
/// options have no meaning in its buildroots and are refused.
async fn edit_chroot(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name, chroot)): Path<(String, String, String)>,
    multipart: Multipart,
) -> CoprResult<Json<copr::ProjectChroot>> {
    let user = caller(&app, &headers).await?;
    let project = find_project(&app, &owner, &name).await?;
    let chroot: ChrootName = chroot.parse()?;
    let (files, fields) = receive_multipart(&app, multipart).await?;
    if !files.is_empty() {
        discard(&files).await;
        return Err(Error::bad_request("koper buildroots take no comps file").into());
    }
    for unsupported in [
        "additional_modules",
        "with_opts",
        "without_opts",
        "additional_repos",
    ] {
        if fields.list(unsupported).is_some_and(|l| !l.is_empty()) {
            return Err(Error::bad_request(format!(
                "{unsupported}: not supported per chroot by koper (project repos are set \
                 with `copr-cli modify --repo`)"
            ))
            .into());
        }
    }
    let reset = fields.list("reset_fields").unwrap_or_default();
    let packages = if reset.iter().any(|f| f == "additional_packages") {
        Some(Vec::new())
    } else {
        fields.list("additional_packages")
    };
    if let Some(additional_packages) = packages {
        projects::set_chroot_settings(
            &app,
            &user,
            &project,
            &chroot,
            &v1::ChrootSettings {
                additional_packages,
            },
        )
        .await?;
    }
    Ok(Json(describe(&app, &project, &chroot).await?))
}

async fn describe(
    app: &App,
    project: &ProjectRow,
    chroot: &ChrootName,
) -> CoprResult<copr::ProjectChroot> {
    if !project.chroots.contains(chroot) {
        return Err(Error::NotFound(format!(
            "Chroot {chroot} does not exist in {}/{}.",
            project.owner, project.name
        ))
        .into());
    }
    let additional_packages = buildroot::extra_packages(app, project, chroot).await?;
    Ok(copr::ProjectChroot {
        mock_chroot: chroot.to_string(),
        ownername: project.owner.to_string(),
        projectname: project.name.to_string(),
        comps_name: None,
        additional_repos: Vec::new(),
        additional_packages,
        additional_modules: Vec::new(),
        with_opts: Vec::new(),
        without_opts: Vec::new(),
        delete_after_days: None,
        isolation: None,
    })
}

/// The repositories a build of this chroot installs from: the project's
/// own first, then its dependencies', as koper's builders use them. The
/// profile carries no keys, so like Copr's it does not ask mock to check
/// metadata signatures.
async fn build_config(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::BuildConfig>> {
    let (project, chroot) = project_chroot(&app, query.as_deref()).await?;
    let definition = app
        .chroots()
        .get(&chroot)
        .ok_or_else(|| Error::NotFound(format!("Chroot {chroot} is not offered here.")))?;
    let repos = buildroot::build_repos(&app, &project, definition)
        .await?
        .into_iter()
        .filter_map(|repo| {
            Some(copr::Repo {
                name: format!("Repository {}", repo.id),
                baseurl: repo.baseurl?,
                priority: repo.priority.map(i64::from),
                module_hotfixes: None,
                repo_gpgcheck: None,
                id: repo.id,
            })
        })
        .collect();
    let mut additional_repos = vec![format!("copr://{}/{}", project.owner, project.name)];
    additional_repos.extend(project.buildroot.additional_repos.iter().cloned());
    let additional_packages = buildroot::extra_packages(&app, &project, &chroot).await?;
    Ok(Json(copr::BuildConfig {
        chroot: chroot.to_string(),
        repos,
        additional_repos,
        additional_packages,
        additional_modules: Vec::new(),
        enable_net: project.buildroot.enable_net,
        with_opts: Vec::new(),
        without_opts: Vec::new(),
        isolation: None,
    }))
}
