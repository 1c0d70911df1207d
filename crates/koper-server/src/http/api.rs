//! The native API under `/api/v1/`, used by the `koper` CLI.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use koper_api::v1;
use koper_types::{BuildId, ChrootName, OwnerName, ProjectName, ScmSource};
use serde::Deserialize;

use crate::app::App;
use crate::auth::Caller;
use crate::builds::{self, BuildTarget};
use crate::error::{Error, Result};
use crate::{downloads, forks, mock_config, projects, quota, sources, spool, uploads};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(version))
        .route("/me", get(me))
        .route("/chroots", get(list_chroots))
        .route("/projects", get(list_projects).post(create_project))
        .route(
            "/projects/{owner}/{project}",
            get(get_project)
                .patch(modify_project)
                .delete(delete_project),
        )
        .route("/projects/{owner}/{project}/fork", post(fork_project))
        .route(
            "/projects/{owner}/{project}/rpms",
            post(upload_rpms).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/projects/{owner}/{project}/chroots/{chroot}",
            get(get_chroot_settings).put(set_chroot_settings),
        )
        .route("/storage/{owner}", get(storage))
        .route(
            "/projects/{owner}/{project}/quota-requests",
            get(list_quota_requests).post(request_quota),
        )
        .route(
            "/projects/{owner}/{project}/builds",
            get(list_builds).post(submit_build),
        )
        .route(
            "/projects/{owner}/{project}/builds/url",
            post(submit_build_url),
        )
        .route(
            "/projects/{owner}/{project}/builds/scm",
            post(submit_build_scm),
        )
        .route(
            "/projects/{owner}/{project}/builds/check",
            get(check_submission),
        )
        .route("/builds/{id}", get(get_build).delete(delete_build))
        .route("/builds/{id}/cancel", post(cancel_build))
        .route("/builds/{id}/files", get(build_files))
        .route(
            "/projects/{owner}/{project}/chroots/{chroot}/mock-config",
            get(mock_config),
        )
        .route("/builds/{id}/log/{chroot}", get(build_log))
        .merge(super::access::routes())
        .merge(super::package_api::routes())
        .fallback(unknown_endpoint)
}

async fn unknown_endpoint() -> Error {
    Error::NotFound("no such API endpoint".into())
}

/// What clients may need to know before they send anything: the API
/// version and the upload limit (so a client can refuse a too-large file
/// before uploading it).
async fn version(State(app): State<App>) -> Json<v1::ServerInfo> {
    Json(v1::ServerInfo {
        api: 1,
        server: env!("CARGO_PKG_VERSION").to_owned(),
        max_upload_bytes: app.config().max_upload_bytes,
    })
}

async fn me(Caller(user): Caller) -> Json<v1::Me> {
    Json(v1::Me {
        name: user.name.to_string(),
        is_admin: user.is_admin,
    })
}

async fn list_chroots(State(app): State<App>) -> Json<Vec<v1::Chroot>> {
    Json(
        app.chroots()
            .iter()
            .map(|def| v1::Chroot {
                name: def.name.clone(),
                arch: def.arch.clone(),
                description: def.description.clone(),
            })
            .collect(),
    )
}

#[derive(Deserialize)]
struct OwnerFilter {
    owner: Option<OwnerName>,
    /// The project directory: listed projects matching this text.
    search: Option<String>,
}

async fn list_projects(
    State(app): State<App>,
    Query(filter): Query<OwnerFilter>,
) -> Result<Json<Vec<v1::Project>>> {
    let projects = match &filter.search {
        Some(query) => app.db().search_projects(query).await?,
        None => app.db().list_projects(filter.owner.as_ref()).await?,
    };
    Ok(Json(
        projects.iter().map(|p| projects::to_api(&app, p)).collect(),
    ))
}

async fn create_project(
    State(app): State<App>,
    Caller(user): Caller,
    body: std::result::Result<Json<v1::NewProject>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::Project>)> {
    let Json(new) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = projects::create_project(&app, &user, &new).await?;
    Ok((StatusCode::CREATED, Json(projects::to_api(&app, &project))))
}

async fn fork_project(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    body: std::result::Result<Json<v1::ForkRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::Forked>)> {
    let Json(request) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let source = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let forked = forks::fork_project(
        &app,
        &user,
        &source,
        &request.owner,
        &request.name,
        request.confirm,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(v1::Forked {
            project: projects::to_api(&app, &forked.project),
            builds: forked.builds,
        }),
    ))
}

async fn get_project(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<v1::Project>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(projects::describe(&app, &project).await?))
}

async fn modify_project(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    body: std::result::Result<Json<v1::ProjectChanges>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<v1::Project>> {
    let Json(changes) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let project = projects::modify_project(&app, &user, &project, &changes).await?;
    Ok(Json(projects::to_api(&app, &project)))
}

async fn delete_project(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<v1::Project>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let deleted = projects::delete_project(&app, &user, &project).await?;
    Ok(Json(projects::to_api(&app, &deleted)))
}

async fn get_chroot_settings(
    State(app): State<App>,
    Path((owner, project, chroot)): Path<(String, String, String)>,
) -> Result<Json<v1::ChrootSettings>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(
        projects::chroot_settings(&app, &project, &chroot.parse()?).await?,
    ))
}

async fn set_chroot_settings(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project, chroot)): Path<(String, String, String)>,
    body: std::result::Result<Json<v1::ChrootSettings>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<v1::ChrootSettings>> {
    let Json(settings) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(
        projects::set_chroot_settings(&app, &user, &project, &chroot.parse()?, &settings).await?,
    ))
}

async fn storage(
    State(app): State<App>,
    Path(owner): Path<String>,
) -> Result<Json<v1::OwnerStorage>> {
    Ok(Json(quota::owner_storage(&app, &owner.parse()?).await?))
}

#[derive(Deserialize)]
struct UploadQuery {
    chroot: ChrootName,
}

/// Prebuilt packages: a multipart body with one file part per RPM.
async fn upload_rpms(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<UploadQuery>,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    // Refused before any byte is stored when the caller may not build.
    if !crate::permissions::can_build(&app, &user, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not add packages to {}/{}",
            user.name, project.owner, project.name
        )));
    }
    let mut files = Vec::new();
    let received = async {
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| Error::bad_request(format!("bad multipart body: {e}")))?
        {
            let name = field.file_name().unwrap_or("upload.rpm").to_owned();
            let mut spooled = spool::receive(
                field,
                &spool::new_path(&app),
                app.config().max_upload_bytes,
                None,
            )
            .await?;
            spooled.name = name;
            files.push(spooled);
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = received {
        for file in &files {
            let _ = tokio::fs::remove_file(&file.path).await;
        }
        return Err(e);
    }
    let build = uploads::add_prebuilt(&app, &user, &project, &query.chroot, files).await?;
    Ok((StatusCode::CREATED, Json(builds::to_api(&app, &build))))
}

async fn delete_build(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<v1::DeletedBuild>> {
    Ok(Json(
        builds::delete_build(&app, &user, id.parse::<BuildId>()?).await?,
    ))
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
    /// Only builds older than this one (keyset paging: the next page is
    /// `before` the last build listed, as cheap however deep).
    before: Option<i64>,
}

fn default_limit() -> i64 {
    100
}

async fn list_builds(
    State(app): State<App>,
    Path((owner, project)): Path<(String, String)>,
    Query(paging): Query<Paging>,
) -> Result<Json<v1::Page<v1::Build>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    Ok(Json(
        builds::list_builds(
            &app,
            &project,
            paging.limit,
            paging.offset,
            paging.before.map(BuildId),
        )
        .await?,
    ))
}

#[derive(Deserialize)]
pub(super) struct SubmitQuery {
    /// Comma-separated chroot names; absent means all of the project's.
    #[serde(default)]
    chroots: String,
    /// Order among the caller's builds, 0..=100.
    #[serde(default)]
    priority: i64,
    /// Let other owners' normal builds go first.
    #[serde(default)]
    background: bool,
    /// Start after this build's batch ended.
    after_build_id: Option<String>,
    /// Join this build's batch.
    with_build_id: Option<String>,
}

impl SubmitQuery {
    /// Where a build submitted with these parameters goes.
    pub(super) fn target<'p>(&self, project: &'p koper_db::ProjectRow) -> Result<BuildTarget<'p>> {
        Ok(BuildTarget {
            project,
            chroots: parse_chroot_list(&self.chroots)?,
            options: build_options(
                self.priority,
                self.background,
                self.after_build_id.as_deref(),
                self.with_build_id.as_deref(),
            )?,
        })
    }
}

#[derive(Deserialize)]
struct CheckQuery {
    #[serde(default)]
    chroots: String,
    /// Bytes the upload adds (counted against the quota).
    #[serde(default)]
    size: u64,
    /// Its largest file (held to the upload limit); `size` when absent.
    largest: Option<u64>,
    /// How the build would be queued (as for submitting).
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    background: bool,
    after_build_id: Option<String>,
    with_build_id: Option<String>,
}

/// How a new build is queued, from the query parameters.
fn build_options(
    priority: i64,
    background: bool,
    after_build_id: Option<&str>,
    with_build_id: Option<&str>,
) -> Result<v1::BuildOptions> {
    Ok(v1::BuildOptions {
        priority,
        background,
        after_build_id: after_build_id.map(str::parse::<BuildId>).transpose()?,
        with_build_id: with_build_id.map(str::parse::<BuildId>).transpose()?,
    })
}

/// Whether an upload of `size` bytes would be accepted; `204` if so, the
/// refusal it would meet otherwise.
async fn check_submission(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<CheckQuery>,
) -> Result<StatusCode> {
    let project = find_project(&app, &owner, &project).await?;
    let chroots = parse_chroot_list(&query.chroots)?;
    builds::check_submission(
        &app,
        &user,
        BuildTarget {
            project: &project,
            chroots,
            options: build_options(
                query.priority,
                query.background,
                query.after_build_id.as_deref(),
                query.with_build_id.as_deref(),
            )?,
        },
        query.size,
        query.largest.unwrap_or(query.size),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn find_project(
    app: &App,
    owner: &str,
    project: &str,
) -> Result<koper_db::ProjectRow> {
    let owner: OwnerName = owner.parse()?;
    let project: ProjectName = project.parse()?;
    projects::find_project(app, &owner, &project).await
}

fn parse_chroot_list(list: &str) -> Result<Vec<ChrootName>> {
    Ok(list
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::parse::<ChrootName>)
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

async fn submit_build(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<SubmitQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let project = find_project(&app, &owner, &project).await?;
    let announced_len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let build = builds::submit_srpm(
        &app,
        &user,
        query.target(&project)?,
        body.into_data_stream(),
        announced_len,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(builds::to_api_explained(&app, &build).await?),
    ))
}

async fn submit_build_url(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<SubmitQuery>,
    body: std::result::Result<Json<v1::SubmitUrl>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let Json(submit) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = find_project(&app, &owner, &project).await?;
    let build = sources::submit_url(&app, &user, query.target(&project)?, &submit.url).await?;
    Ok((
        StatusCode::CREATED,
        Json(builds::to_api_explained(&app, &build).await?),
    ))
}

async fn submit_build_scm(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    Query(query): Query<SubmitQuery>,
    body: std::result::Result<Json<ScmSource>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::Build>)> {
    let Json(scm) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let project = find_project(&app, &owner, &project).await?;
    let build = sources::submit_scm(&app, &user, query.target(&project)?, &scm).await?;
    Ok((
        StatusCode::CREATED,
        Json(builds::to_api_explained(&app, &build).await?),
    ))
}

/// `?wait=N`: answer once the build changed or ended, or after N seconds
/// (at most [`MAX_BUILD_WAIT`]).
#[derive(Deserialize)]
struct BuildWait {
    #[serde(default)]
    wait: u64,
}

/// The longest a client may hold `GET /builds/{id}?wait=` open.
const MAX_BUILD_WAIT: u64 = 30;

async fn get_build(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(wait): Query<BuildWait>,
) -> Result<Json<v1::Build>> {
    let wait = std::time::Duration::from_secs(wait.wait.min(MAX_BUILD_WAIT));
    let build = builds::wait_for_change(&app, id.parse::<BuildId>()?, wait).await?;
    Ok(Json(builds::to_api_explained(&app, &build).await?))
}

async fn build_files(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Vec<v1::ResultFile>>> {
    let build = builds::get_build(&app, id.parse::<BuildId>()?).await?;
    Ok(Json(downloads::result_files(&app, &build).await?))
}

/// A mock profile reproducing the project chroot's builds.
async fn mock_config(
    State(app): State<App>,
    Path((owner, project, chroot)): Path<(String, String, String)>,
) -> Result<String> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let chroot: ChrootName = chroot.parse()?;
    let definition = match app.chroots().get(&chroot) {
        Some(definition) if project.chroots.contains(&chroot) => definition.clone(),
        _ => {
            return Err(Error::NotFound(format!(
                "project {}/{} has no chroot {chroot}",
                project.owner, project.name
            )));
        }
    };
    mock_config::render(&app, &project, &definition).await
}

async fn cancel_build(
    State(app): State<App>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<v1::Build>> {
    let build = builds::cancel_build(&app, &user, id.parse::<BuildId>()?).await?;
    Ok(Json(builds::to_api(&app, &build)))
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    offset: u64,
}

/// Header saying whether a log chunk is the end of the log.
pub const LOG_COMPLETE_HEADER: &str = "koper-log-complete";

async fn build_log(
    State(app): State<App>,
    Path((id, chroot)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response> {
    let build = builds::get_build(&app, id.parse::<BuildId>()?).await?;
    let chunk = builds::read_log(&app, &build, &chroot.parse()?, query.offset, 1 << 20).await?;
    let mut response = (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        chunk.bytes,
    )
        .into_response();
    response.headers_mut().insert(
        LOG_COMPLETE_HEADER,
        HeaderValue::from_static(if chunk.complete { "true" } else { "false" }),
    );
    Ok(response)
}

async fn request_quota(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
    body: std::result::Result<Json<v1::NewQuotaRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<v1::QuotaRequest>)> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let Json(new) = body.map_err(|e| Error::bad_request(e.body_text()))?;
    let filed =
        crate::quota_requests::file_request(&app, &user, &project, new.bytes, &new.reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::quota_requests::to_api(&filed)),
    ))
}

async fn list_quota_requests(
    State(app): State<App>,
    Caller(user): Caller,
    Path((owner, project)): Path<(String, String)>,
) -> Result<Json<Vec<v1::QuotaRequest>>> {
    let project = projects::find_project(&app, &owner.parse()?, &project.parse()?).await?;
    let requests = crate::quota_requests::project_requests(&app, &user, &project).await?;
    Ok(Json(
        requests.iter().map(crate::quota_requests::to_api).collect(),
    ))
}
