//! Builds and build chroots: check-before-build, create from an upload or
//! prebuilt RPMs, get, list, cancel, delete, and what a build produced.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use koper_api::{copr, v1};
use koper_db::{BuildQuery, BuildRow, ProjectRow, TaskRow, User};
use koper_types::{BuildId, BuildState, ChrootName, PackageName, ScmSource, SrpmMethod};
use serde_json::{Value, json};

use crate::app::App;
use crate::builds::{self, BuildTarget};
use crate::error::Error;
use crate::{sources, uploads};

use super::multipart::{or_discard, receive_multipart};
use super::objects::{Paging, build, build_chroot};
use super::{CoprResult, Fields, caller, named_project, route};

pub fn routes(router: Router<App>) -> Router<App> {
    let router = route(
        router,
        "/api_3/build/check-before-build",
        post(check_before_build),
    );
    let router = route(
        router,
        "/api_3/build/create/upload",
        post(create_upload).layer(DefaultBodyLimit::disable()),
    );
    let router = route(router, "/api_3/build/create/url", post(create_url));
    let router = route(router, "/api_3/build/create/scm", post(create_scm));
    let router = route(
        router,
        "/api_3/build/create/rpm-upload",
        post(create_rpm_upload).layer(DefaultBodyLimit::disable()),
    );
    let router = route(router, "/api_3/build/list", get(list));
    let router = route(router, "/api_3/build/cancel/{id}", put(cancel).post(cancel));
    let router = route(
        router,
        "/api_3/build/delete/list",
        delete(delete_list).post(delete_list),
    );
    let router = route(
        router,
        "/api_3/build/delete/{id}",
        delete(delete_one).post(delete_one),
    );
    let router = route(
        router,
        "/api_3/build/built-packages/{id}",
        get(built_packages),
    );
    let router = route(
        router,
        "/api_3/build/source-chroot/{id}",
        get(source_chroot),
    );
    let router = route(
        router,
        "/api_3/build/source-build-config/{id}",
        get(source_build_config),
    );
    let router = route(router, "/api_3/build/{id}", get(get_build));
    let router = route(router, "/api_3/build-chroot", get(get_build_chroot));
    let router = route(
        router,
        "/api_3/build-chroot/{id}/{chroot}",
        get(get_build_chroot_by_path),
    );
    let router = route(router, "/api_3/build-chroot/list", get(list_build_chroots));
    let router = route(
        router,
        "/api_3/build-chroot/list/{id}",
        get(list_build_chroots_by_path),
    );
    route(
        router,
        "/api_3/build-chroot/built-packages",
        get(build_chroot_packages),
    )
}

/// The chroots a Copr build request selects: `chroots` (names or fnmatch
/// patterns; none means all of the project's) minus `exclude_chroots`.
pub(super) fn selected_chroots(
    project: &ProjectRow,
    fields: &Fields,
) -> CoprResult<Vec<ChrootName>> {
    let patterns = |key: &str| -> CoprResult<Vec<glob::Pattern>> {
        fields
            .list(key)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|e| {
                    Error::bad_request(format!("{key}: '{p}' is not a valid pattern: {e}")).into()
                })
            })
            .collect()
    };
    let include = patterns("chroots")?;
    let exclude = patterns("exclude_chroots")?;
    for pattern in &include {
        if !project.chroots.iter().any(|c| pattern.matches(c.as_str())) {
            return Err(Error::bad_request(format!(
                "chroots: '{pattern}' matches none of the project's chroots ({})",
                project
                    .chroots
                    .iter()
                    .map(ChrootName::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
    }
    let chosen: Vec<ChrootName> = project
        .chroots
        .iter()
        .filter(|c| include.is_empty() || include.iter().any(|p| p.matches(c.as_str())))
        .filter(|c| !exclude.iter().any(|p| p.matches(c.as_str())))
        .cloned()
        .collect();
    if chosen.is_empty() {
        return Err(Error::bad_request("no chroot is left to build for").into());
    }
    Ok(chosen)
}

/// Where a Copr build goes in the queue: `background`, and a batch
/// (`after_build_id` or `with_build_id`, numbers or numeric strings).
/// Where a build requested with these fields goes: the chosen chroots
/// and how it is queued.
pub(super) fn build_target<'p>(
    project: &'p ProjectRow,
    fields: &Fields,
) -> CoprResult<BuildTarget<'p>> {
    Ok(BuildTarget {
        project,
        chroots: selected_chroots(project, fields)?,
        options: build_options(fields)?,
    })
}

pub(super) fn build_options(fields: &Fields) -> CoprResult<v1::BuildOptions> {
    let build_id = |key: &str| -> CoprResult<Option<BuildId>> { Ok(fields.int(key)?.map(BuildId)) };
    Ok(v1::BuildOptions {
        priority: 0,
        background: fields.bool("background").unwrap_or(false),
        after_build_id: build_id("after_build_id")?,
        with_build_id: build_id("with_build_id")?,
    })
}

async fn check_before_build(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    builds::check_submission(&app, &user, build_target(&project, &fields)?, 0, 0).await?;
    Ok(Json(
        json!({ "message": "It should be safe to submit a build like this" }),
    ))
}

async fn create_upload(
    State(app): State<App>,
    headers: HeaderMap,
    multipart: Multipart,
) -> CoprResult<Json<copr::Build>> {
    // Credentials are in the headers: a stranger's upload is refused
    // before a byte of it is stored.
    let user = caller(&app, &headers).await?;
    let (mut files, fields) = receive_multipart(&app, multipart).await?;
    let chosen = async {
        if files.len() != 1 {
            return Err(Error::bad_request("send exactly one source RPM as `pkgs`").into());
        }
        let project = named_project(&app, &fields).await?;
        let chroots = selected_chroots(&project, &fields)?;
        let options = build_options(&fields)?;
        Ok::<_, super::CoprError>((project, chroots, options))
    }
    .await;
    let (project, chroots, options) = or_discard(&files, chosen).await?;
    let spooled = files.remove(0);
    let submitted = builds::submit_spooled(
        &app,
        &user,
        BuildTarget {
            project: &project,
            chroots,
            options,
        },
        spooled,
        "upload",
    )
    .await?;
    Ok(Json(build(&app, &submitted)))
}

/// One build per URL in `pkgs`; Copr answers with a list.
async fn create_url(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<copr::Page<copr::Build>>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    let chroots = selected_chroots(&project, &fields)?;
    let urls = fields
        .list("pkgs")
        .filter(|urls| !urls.is_empty())
        .ok_or_else(|| Error::bad_request("pkgs: give at least one source RPM URL"))?;
    let mut created = Vec::new();
    for url in &urls {
        let submitted = sources::submit_url(
            &app,
            &user,
            BuildTarget {
                project: &project,
                chroots: chroots.clone(),
                options: build_options(&fields)?,
            },
            url,
        )
        .await?;
        created.push(build(&app, &submitted));
    }
    Ok(Json(copr::Page {
        items: created,
        meta: copr::PageMeta {
            limit: None,
            offset: 0,
            order: "id".into(),
            order_type: "ASC".into(),
        },
    }))
}

/// A build from a git repository (copr-cli `buildscm`).
async fn create_scm(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<copr::Build>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let project = named_project(&app, &fields).await?;
    let scm = scm_source(&fields, None)?;
    let submitted =
        sources::submit_scm(&app, &user, build_target(&project, &fields)?, &scm).await?;
    Ok(Json(build(&app, &submitted)))
}

/// Copr's SCM fields (`clone_url`, `committish`, `subdirectory`, `spec`,
/// `scm_type`, `source_build_method`) over `stored` (fields not sent keep
/// its values).
pub(super) fn scm_source(fields: &Fields, stored: Option<&ScmSource>) -> CoprResult<ScmSource> {
    if let Some(kind) = fields.str("scm_type")
        && !kind.is_empty()
        && kind != "git"
    {
        return Err(Error::bad_request(format!(
            "scm_type {kind}: koper builds from git repositories only"
        ))
        .into());
    }
    let method = match fields.str("source_build_method") {
        Some(name) => SrpmMethod::from_copr(&name).ok_or_else(|| {
            Error::bad_request(format!(
                "source_build_method {name} is not supported; use rpkg or make_srpm"
            ))
        })?,
        None => stored.map(|s| s.method).unwrap_or_default(),
    };
    let text = |key: &str, old: Option<&String>| -> String {
        fields.str(key).or_else(|| old.cloned()).unwrap_or_default()
    };
    let clone_url = match (fields.str("clone_url"), stored) {
        (Some(url), _) => url,
        (None, Some(stored)) => stored.clone_url.clone(),
        (None, None) => return Err(Error::bad_request("Missing argument clone_url").into()),
    };
    Ok(ScmSource {
        clone_url,
        committish: text("committish", stored.map(|s| &s.committish)),
        subdirectory: text("subdirectory", stored.map(|s| &s.subdirectory)),
        spec: text("spec", stored.map(|s| &s.spec)),
        method,
    })
}

async fn create_rpm_upload(
    State(app): State<App>,
    headers: HeaderMap,
    multipart: Multipart,
) -> CoprResult<Json<copr::Build>> {
    let user = caller(&app, &headers).await?;
    let (files, fields) = receive_multipart(&app, multipart).await?;
    let chosen = async {
        let project = named_project(&app, &fields).await?;
        // The upstream server reads `chroot`, copr-cli 2.7 sends `chroots`.
        let chroot = match (fields.str("chroot"), fields.list("chroots")) {
            (Some(chroot), _) => chroot,
            (None, Some(list)) if list.len() == 1 => list[0].clone(),
            _ => {
                return Err(Error::bad_request("name exactly one chroot for uploaded RPMs").into());
            }
        };
        let chroot: ChrootName = chroot.parse()?;
        Ok::<_, super::CoprError>((project, chroot))
    }
    .await;
    let (project, chroot) = or_discard(&files, chosen).await?;
    let added = uploads::add_prebuilt(&app, &user, &project, &chroot, files).await?;
    Ok(Json(build(&app, &added)))
}

async fn find_build(app: &App, id: &str) -> CoprResult<BuildRow> {
    let id: BuildId = id.parse()?;
    app.db()
        .build_by_id(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Build {id} does not exist.")).into())
}

async fn get_build(
    State(app): State<App>,
    Path(id): Path<String>,
) -> CoprResult<Json<copr::Build>> {
    Ok(Json(build(&app, &find_build(&app, &id).await?)))
}

async fn list(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::Build>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let paging = Paging::read(&fields, &["id"])?;
    let project = named_project(&app, &fields).await?;
    let package: Option<PackageName> = fields.str("packagename").map(|p| p.parse()).transpose()?;
    let package = package.as_ref().map(PackageName::as_str);
    // A state koper does not know matches no build.
    let state = match fields.str("status").map(|s| s.parse::<BuildState>()) {
        None => None,
        Some(Ok(state)) => Some(state),
        Some(Err(_)) => return Ok(Json(paging.paged(Vec::new()))),
    };
    // The database filters, orders and pages: projects may hold hundreds
    // of thousands of builds. It keeps each build's state as Copr's rule
    // derives it from the chroots (builds.state).
    let rows = app
        .db()
        .query_builds(
            project.id,
            &BuildQuery {
                package,
                state,
                oldest_first: !paging.descending,
                after: None,
                limit: paging.limit.unwrap_or(i64::MAX),
                offset: paging.offset,
            },
        )
        .await?;
    let items = rows.iter().map(|b| build(&app, b)).collect();
    Ok(Json(paging.paged(items)))
}

async fn cancel(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> CoprResult<Json<copr::Build>> {
    let user = caller(&app, &headers).await?;
    let id = find_build(&app, &id).await?.id;
    let canceled = builds::cancel_build(&app, &user, id).await?;
    Ok(Json(build(&app, &canceled)))
}

async fn delete_one(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> CoprResult<Json<copr::Build>> {
    let user = caller(&app, &headers).await?;
    let found = find_build(&app, &id).await?;
    let shown = build(&app, &found);
    builds::delete_build(&app, &user, found.id).await?;
    Ok(Json(shown))
}

/// Deletes every listed build or none: all are checked first, and the
/// refusal names each build that cannot go.
async fn delete_list(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> CoprResult<Json<Value>> {
    let user = caller(&app, &headers).await?;
    let fields = Fields::from_json(&body)?;
    let ids = fields
        .list("builds")
        .ok_or_else(|| Error::bad_request("Missing argument builds"))?;
    let mut found = Vec::new();
    let mut refused = Vec::new();
    let mut forbidden = false;
    for id in &ids {
        match find_build(&app, id).await {
            Ok(b) => match why_not_deletable(&user, &app, &b).await? {
                None => found.push(b),
                Some(refusal) => {
                    forbidden |= matches!(refusal, Refusal::Forbidden(_));
                    refused.push(format!("build {id} {}", refusal.reason()));
                }
            },
            Err(_) => refused.push(format!("build {id} does not exist")),
        }
    }
    if !refused.is_empty() {
        let message = format!("No build was deleted: {}", refused.join("; "));
        // A permission refusal is reported as one (copr-cli exit 7).
        let error = if forbidden {
            Error::Forbidden(message)
        } else {
            Error::bad_request(message)
        };
        return Err(error.into());
    }
    let mut deleted = Vec::new();
    for b in found {
        builds::delete_build(&app, &user, b.id).await?;
        deleted.push(b.id.0);
    }
    Ok(Json(json!({ "builds": deleted })))
}

/// Why a build cannot be deleted.
enum Refusal {
    /// The caller may not delete it.
    Forbidden(String),
    /// It cannot be deleted now.
    NotNow(String),
}

impl Refusal {
    fn reason(&self) -> &str {
        match self {
            Self::Forbidden(reason) | Self::NotNow(reason) => reason,
        }
    }
}

/// Why a build cannot be deleted by `user`, if it cannot.
async fn why_not_deletable(user: &User, app: &App, b: &BuildRow) -> CoprResult<Option<Refusal>> {
    let Some(project) = app.db().project_by_id(b.project_id).await? else {
        return Ok(Some(Refusal::NotNow("does not exist".into())));
    };
    if !crate::permissions::can_build(app, user, &project).await? {
        return Ok(Some(Refusal::Forbidden(format!(
            "may not be deleted by {}",
            user.name
        ))));
    }
    // A canceled build is still stopping until its builder lets go.
    if b.chroots
        .iter()
        .any(|t| !t.state.is_final() || t.lease_id.is_some())
    {
        return Ok(Some(Refusal::NotNow(
            "has not stopped yet; try again in a few seconds".into(),
        )));
    }
    Ok(None)
}

/// The packages a build chroot published, read from its result directory.
async fn packages_of(app: &App, b: &BuildRow, task: &TaskRow) -> CoprResult<copr::BuiltPackages> {
    let Some(dir) = &task.result_dir else {
        return Ok(copr::BuiltPackages {
            packages: Vec::new(),
        });
    };
    let dir = app
        .data()
        .results()
        .repo_dir(&b.owner, &b.project, &task.chroot)
        .join(dir);
    let packages =
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<copr::BuiltPackage>> {
            let mut packages = Vec::new();
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(packages),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_none_or(|e| e != "rpm") {
                    continue;
                }
                if let Ok(id) = koper_rpm::inspect_package(&path) {
                    packages.push(copr::BuiltPackage {
                        name: id.name.to_string(),
                        epoch: id.epoch.unwrap_or(0),
                        version: id.version,
                        release: id.release,
                        arch: id.arch,
                    });
                }
            }
            packages.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
            Ok(packages)
        })
        .await
        .map_err(Error::from)?
        .map_err(Error::from)?;
    Ok(copr::BuiltPackages { packages })
}

async fn built_packages(
    State(app): State<App>,
    Path(id): Path<String>,
) -> CoprResult<Json<serde_json::Map<String, Value>>> {
    let b = find_build(&app, &id).await?;
    let mut all = serde_json::Map::new();
    for task in &b.chroots {
        let packages = packages_of(&app, &b, task).await?;
        all.insert(
            task.chroot.to_string(),
            serde_json::to_value(packages).map_err(Error::internal)?,
        );
    }
    Ok(Json(all))
}

/// The source phase: a build from git has a source task whose results
/// (logs) are in `srpm-builds/<NNNNNNNN>/`; koper checks an uploaded SRPM
/// when it is submitted, so for other builds the phase has already ended
/// and its result is the SRPM beside the packages.
async fn source_chroot(State(app): State<App>, Path(id): Path<String>) -> CoprResult<Json<Value>> {
    let b = find_build(&app, &id).await?;
    let result_url = match &b.source_task {
        Some(task) => build_chroot(&app, &b, task).result_url,
        None => b
            .chroots
            .iter()
            .find_map(|t| build_chroot(&app, &b, t).result_url),
    };
    Ok(Json(json!({
        "state": b.source_state.to_string(),
        "result_url": result_url,
    })))
}

async fn source_build_config(
    State(app): State<App>,
    Path(id): Path<String>,
) -> CoprResult<Json<Value>> {
    let b = find_build(&app, &id).await?;
    let json = b.source_json.as_deref().unwrap_or("null");
    let source_dict = if b.source_type == "link" {
        serde_json::from_str::<koper_types::SpecSource>(json)
            .map(|spec| std::collections::BTreeMap::from([("url".to_owned(), spec.url)]))
            .unwrap_or_default()
    } else {
        serde_json::from_str::<ScmSource>(json)
            .map(|scm| super::objects::scm_source_dict(&scm))
            .unwrap_or_default()
    };
    Ok(Json(json!({
        "source_type": b.source_type,
        "source_dict": source_dict,
        "memory_limit": null,
        "timeout": b.timeout,
        "is_background": false,
    })))
}

fn task_of<'a>(b: &'a BuildRow, chroot: &str) -> CoprResult<&'a TaskRow> {
    b.chroots
        .iter()
        .find(|t| t.chroot.as_str() == chroot)
        .ok_or_else(|| Error::NotFound(format!("Build {} has no chroot {chroot}.", b.id)).into())
}

async fn get_build_chroot(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::BuildChroot>> {
    let fields = Fields::from_query(query.as_deref())?;
    let b = find_build(&app, &fields.required("build_id")?).await?;
    let task = task_of(&b, &fields.required("chrootname")?)?;
    Ok(Json(build_chroot(&app, &b, task)))
}

async fn get_build_chroot_by_path(
    State(app): State<App>,
    Path((id, chroot)): Path<(String, String)>,
) -> CoprResult<Json<copr::BuildChroot>> {
    let b = find_build(&app, &id).await?;
    let task = task_of(&b, &chroot)?;
    Ok(Json(build_chroot(&app, &b, task)))
}

async fn build_chroots(
    app: &App,
    fields: &Fields,
    id: &str,
) -> CoprResult<copr::Page<copr::BuildChroot>> {
    let paging = Paging::read(fields, &["name"])?;
    let b = find_build(app, id).await?;
    let mut items: Vec<copr::BuildChroot> =
        b.chroots.iter().map(|t| build_chroot(app, &b, t)).collect();
    items.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(paging.page(items))
}

async fn list_build_chroots(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::BuildChroot>>> {
    let fields = Fields::from_query(query.as_deref())?;
    let id = fields.required("build_id")?;
    Ok(Json(build_chroots(&app, &fields, &id).await?))
}

async fn list_build_chroots_by_path(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::Page<copr::BuildChroot>>> {
    let fields = Fields::from_query(query.as_deref())?;
    Ok(Json(build_chroots(&app, &fields, &id).await?))
}

async fn build_chroot_packages(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> CoprResult<Json<copr::BuiltPackages>> {
    let fields = Fields::from_query(query.as_deref())?;
    let b = find_build(&app, &fields.required("build_id")?).await?;
    let task = task_of(&b, &fields.required("chrootname")?)?;
    Ok(Json(packages_of(&app, &b, task).await?))
}
