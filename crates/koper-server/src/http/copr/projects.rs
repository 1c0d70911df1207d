//! Projects: get, list, search, add, edit, fork, delete, regenerate-repos.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use koper_api::{copr, v1};
use koper_types::{ChrootName, OwnerName, ProjectName};

use crate::app::App;
use crate::error::Error;
use crate::{forks, permissions, projects, publisher};

use super::objects::{Paging, project};
use super::{CoprResult, Fields, caller, find_project, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(router, "/api_3/project", get(get_project));
    let router = route(router, "/api_3/project/list", get(list));
    let router = route(router, "/api_3/project/search", get(search));
    let router = route(router, "/api_3/project/add/{owner}", post(add));
    let router = route(
        router,
        "/api_3/project/edit/{owner}/{project}",
        put(edit).post(edit),
    );
    let router = route(
        router,
        "/api_3/project/delete/{owner}/{project}",
        delete(remove).post(remove),
    );
    let router = route(router, "/api_3/project/fork/{owner}/{project}", post(fork));
    route(
        router,
        "/api_3/project/regenerate-repos/{owner}/{project}",
        put(regenerate_repos).post(regenerate_repos),
    )
}

async fn get_project(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Project>> {
    let fields = Fields::from_query(query.as_deref())?;
    let found = named_project(&app, &fields).await?;
    Ok(Json(project(&app, &found)))
}

async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Project>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id", "name"])?;
    let owner: Option<OwnerName> = fields.str("ownername").map(|o| o.parse()).transpose()?;
    let mut rows = app.db().list_projects(owner.as_ref()).await?;
    // Someone else's unlisted projects stay out of listings of everyone's,
    // and moderated ones out of every listing.
    rows.retain(|p| {
        (p.listed || owner.is_some())
            && p.moderation.hidden.is_none()
            && p.disabled_reason().is_none()
    });
    match paging.order.as_str() {
        "name" => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => rows.sort_by_key(|p| p.id),
    }
    let items = rows.iter().map(|p| project(&app, p)).collect();
    Ok(Json(paging.page(items)))
}

async fn search(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Project>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id", "name"])?;
    let mut rows = app.db().search_projects(&fields.required("query")?).await?;
    rows.sort_by_key(|p| p.id);
    let items = rows.iter().map(|p| project(&app, p)).collect();
    Ok(Json(paging.page(items)))
}

/// Chroot names from a Copr body; `None` when not given.
fn chroots(fields: &Fields) -> CoprResult<Option<Vec<ChrootName>>> {
    fields
        .list("chroots")
        .map(|names| {
            names
                .iter()
                .map(|n| n.parse::<ChrootName>().map_err(Into::into))
                .collect()
        })
        .transpose()
}

fn repo_priority(fields: &Fields) -> CoprResult<Option<u32>> {
    fields
        .int("repo_priority")?
        .map(|p| {
            u32::try_from(p)
                .map_err(|_| Error::bad_request("repo_priority: must be 1 or more").into())
        })
        .transpose()
}

async fn add(
    State(app): State<App>,
    headers: HeaderMap,
    Path(owner): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> CoprResult<Json<copr::Project>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let exist_ok = Fields::from_query(query.as_deref())?
        .bool("exist_ok")
        .unwrap_or(false);
    let owner: OwnerName = owner.parse()?;
    let name: ProjectName = fields.required("name")?.parse()?;
    if exist_ok && let Some(existing) = app.db().find_project(&owner, &name).await? {
        return Ok(Json(project(&app, &existing)));
    }
    let new = v1::NewProject {
        owner,
        name,
        chroots: chroots(&fields)?.unwrap_or_default(),
        description: fields.str("description").unwrap_or_default(),
        instructions: fields.str("instructions").unwrap_or_default(),
        retain_older: 0,
        listed: !fields.bool("unlisted_on_hp").unwrap_or(false),
        additional_repos: fields.list("additional_repos").unwrap_or_default(),
        enable_net: fields.bool("enable_net").unwrap_or(false),
        repo_priority: repo_priority(&fields)?,
    };
    let created = projects::create_project(&app, &user, &new).await?;
    Ok(Json(project(&app, &created)))
}

/// Copr's fork answers at once with the destination; koper has copied the
/// builds by then.
async fn fork(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> CoprResult<Json<copr::Project>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let source = find_project(&app, &owner, &name).await?;
    let to_owner: OwnerName = match fields.str("ownername") {
        Some(owner) => owner.parse()?,
        None => user.name.clone().into(),
    };
    let to_name: ProjectName = fields.required("name")?.parse()?;
    let confirm = fields.bool("confirm").unwrap_or(false);
    let forked = forks::fork_project(&app, &user, &source, &to_owner, &to_name, confirm).await?;
    Ok(Json(project(&app, &forked.project)))
}

async fn edit(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    body: Bytes,
) -> CoprResult<Json<copr::Project>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let found = find_project(&app, &owner, &name).await?;
    let changes = v1::ProjectChanges {
        retain_older: None,
        description: fields.str("description"),
        instructions: fields.str("instructions"),
        listed: fields.bool("unlisted_on_hp").map(|unlisted| !unlisted),
        chroots: chroots(&fields)?,
        // Copr's edit calls the build-time repos `repos`.
        additional_repos: fields.list("repos"),
        enable_net: fields.bool("enable_net"),
        repo_priority: repo_priority(&fields)?,
    };
    let changed = projects::modify_project(&app, &user, &found, &changes).await?;
    Ok(Json(project(&app, &changed)))
}

async fn remove(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> CoprResult<Json<copr::Project>> {
    let user = caller(&app, &headers).await?;
    let found = find_project(&app, &owner, &name).await?;
    let shown = project(&app, &found);
    projects::delete_project(&app, &user, &found).await?;
    Ok(Json(shown))
}

async fn regenerate_repos(
    State(app): State<App>,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> CoprResult<Json<copr::Project>> {
    let user = caller(&app, &headers).await?;
    let found = find_project(&app, &owner, &name).await?;
    if !permissions::can_admin(&app, &user, &found).await? {
        return Err(Error::Forbidden(format!(
            "{} may not regenerate the repositories of {owner}/{name}",
            user.name
        ))
        .into());
    }
    for chroot in &found.chroots {
        publisher::regenerate_repo(&app, &found, chroot).await?;
    }
    Ok(Json(project(&app, &found)))
}
