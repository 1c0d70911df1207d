//! Browsable pages: home, the project directory (`/coprs/`), user and
//! group pages, a project's page, its builds and each build, each repo's
//! packages (like repoview) and each package's versions with changelog
//! and files, and a project's Atom feed of builds.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;
use koper_db::{BuildFilter, BuildRow, ProjectRow};
use koper_types::{BuildState, ChrootName, OwnerName, format_bytes};
use serde::Deserialize;

use super::web::{Chrome, PageError, PageResult, Visitor, render, url_encode};
use crate::app::App;
use crate::error::Error;
use crate::{builds, keys, permissions, projects, quota, release, views};

pub fn routes() -> Router<App> {
    let mut router = Router::new()
        .route("/", get(home))
        .route("/coprs/", get(directory))
        .route("/coprs", get(directory))
        .route("/coprs/{owner}/", get(owner_page))
        .route("/coprs/g/{group}/", get(owner_page));
    // Every project page exists for user projects and for group
    // (`@group`) projects.
    for prefix in ["/coprs/{owner}/{project}", "/coprs/g/{group}/{project}"] {
        router = router
            .route(&format!("{prefix}/"), get(project_page))
            .route(&format!("{prefix}/feed.atom"), get(feed))
            .route(&format!("{prefix}/builds/"), get(builds_page))
            .route(&format!("{prefix}/build/{{id}}/"), get(build_page))
            .route(&format!("{prefix}/packages/{{chroot}}/"), get(packages))
            .route(
                &format!("{prefix}/packages/{{chroot}}/{{name}}/"),
                get(package),
            );
    }
    router
}

/// A project page's path prefix: `/coprs/alice/hello` or `/coprs/g/grp/x`.
pub fn project_path(project: &ProjectRow) -> String {
    match project.owner.as_str().strip_prefix('@') {
        Some(group) => format!("/coprs/g/{group}/{}", project.name),
        None => format!("/coprs/{}/{}", project.owner, project.name),
    }
}

/// An owner's page: `/coprs/alice/` or `/coprs/g/grp/`.
pub fn owner_path(owner: &OwnerName) -> String {
    match owner.as_str().strip_prefix('@') {
        Some(group) => format!("/coprs/g/{group}/"),
        None => format!("/coprs/{owner}/"),
    }
}

/// The path parameters of every page below a project or an owner, with
/// the owner of `/coprs/g/GROUP/...` paths as `@GROUP`.
pub struct PathParams(HashMap<String, String>);

impl FromRequestParts<App> for PathParams {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|e| Error::bad_request(e.body_text()))?;
        if let Some(group) = params.remove("group") {
            params.insert("owner".into(), format!("@{group}"));
        }
        Ok(Self(params))
    }
}

impl PathParams {
    /// A parameter the route has.
    pub fn get(&self, name: &str) -> Result<&str, PageError> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::internal(format!("route without {{{name}}}")).into())
    }

    /// The owner of the page.
    pub fn owner(&self) -> Result<OwnerName, PageError> {
        Ok(self.get("owner")?.parse()?)
    }

    /// The project the page is about.
    pub async fn project(&self, app: &App) -> Result<ProjectRow, PageError> {
        Ok(projects::find_project(app, &self.owner()?, &self.get("project")?.parse()?).await?)
    }
}

/// What the visitor may do in a project (nothing when not signed in), to
/// show only the buttons that work.
pub async fn access_of(
    app: &App,
    visitor: &Visitor,
    project: &ProjectRow,
) -> Result<permissions::Access, PageError> {
    Ok(match &visitor.user {
        Some(user) => permissions::access(app, user, project).await?,
        None => permissions::Access::default(),
    })
}

/// One build in a list.
pub struct BuildLine {
    id: String,
    url: String,
    project: String,
    project_url: String,
    package: String,
    state: String,
    chroots: String,
    submitted: String,
}

fn build_line(build: &BuildRow) -> BuildLine {
    let path = match build.owner.as_str().strip_prefix('@') {
        Some(group) => format!("/coprs/g/{group}/{}", build.project),
        None => format!("/coprs/{}/{}", build.owner, build.project),
    };
    BuildLine {
        id: build.id.to_string(),
        url: format!("{path}/build/{}/", build.id),
        project: format!("{}/{}", build.owner, build.project),
        project_url: format!("{path}/"),
        package: match (&build.package_name, &build.package_version) {
            (Some(name), Some(version)) => format!("{name} {version}"),
            (Some(name), None) => name.to_string(),
            _ => String::new(),
        },
        state: builds::state_of(build).to_string(),
        chroots: build
            .chroots
            .iter()
            .map(|c| c.chroot.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        submitted: short_time(build.submitted_on),
    }
}

/// `2026-01-02 03:04 UTC`.
pub fn short_time(secs: i64) -> String {
    let text = views::rfc3339(secs);
    format!("{} {} UTC", &text[..10], &text[11..16])
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    builds: Vec<BuildLine>,
}

async fn home(State(app): State<App>, visitor: Visitor) -> PageResult {
    let builds = app.db().recent_listed_builds(20).await?;
    render(&HomePage {
        chrome: visitor.chrome(&app, "Home"),
        builds: builds.iter().map(build_line).collect(),
    })
}

struct ProjectLine {
    url: String,
    full_name: String,
    description: String,
    chroots: String,
    /// Why it is not in public listings (for its owner and administrators).
    note: &'static str,
}

fn project_line(project: &ProjectRow) -> ProjectLine {
    ProjectLine {
        note: if project.disabled_reason().is_some() {
            "disabled"
        } else if project.moderation.hidden.is_some() {
            "hidden"
        } else if !project.listed {
            "unlisted"
        } else {
            ""
        },
        url: format!("{}/", project_path(project)),
        full_name: format!("{}/{}", project.owner, project.name),
        description: project.description.clone(),
        chroots: project
            .chroots
            .iter()
            .map(ChrootName::as_str)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage {
    chrome: Chrome,
    heading: String,
    intro: Option<String>,
    show_search: bool,
    query: String,
    empty: String,
    projects: Vec<ProjectLine>,
    /// A group's members and whether each is an admin of it.
    members: Vec<(String, bool)>,
    /// A user's groups.
    groups: Vec<String>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn directory(
    State(app): State<App>,
    visitor: Visitor,
    Query(query): Query<SearchQuery>,
) -> PageResult {
    let found = app.db().search_projects(&query.q).await?;
    render(&DirectoryPage {
        chrome: visitor.chrome(&app, "Projects"),
        heading: "Projects".into(),
        intro: None,
        show_search: true,
        query: query.q,
        empty: "No listed project matches.".into(),
        projects: found.iter().map(project_line).collect(),
        members: Vec::new(),
        groups: Vec::new(),
    })
}

/// A user's or a group's projects; unlisted ones only for the owner and
/// administrators.
async fn owner_page(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let owner = params.owner()?;
    let (members, groups) = match owner.group() {
        Some(group) => {
            let group = crate::groups::show_group(&app, group).await?;
            let members = group
                .members
                .into_iter()
                .map(|m| (m.user, m.admin))
                .collect();
            (members, Vec::new())
        }
        None => {
            let user = app
                .db()
                .find_user(owner.as_str())
                .await?
                .ok_or_else(|| Error::NotFound(format!("there is no user {owner}")))?;
            let groups = app.db().groups_of(user.id).await?;
            (
                Vec::new(),
                groups.into_iter().map(|(g, _)| g.name).collect(),
            )
        }
    };
    let is_group = owner.group().is_some();
    let sees_unlisted = visitor
        .user
        .as_ref()
        .is_some_and(|u| u.is_admin || u.name.as_str() == owner.as_str());
    let projects: Vec<ProjectRow> = app
        .db()
        .list_projects(Some(&owner))
        .await?
        .into_iter()
        .filter(|p| p.publicly_listed() || sees_unlisted)
        .collect();
    render(&DirectoryPage {
        chrome: visitor.chrome(&app, owner.to_string()),
        heading: owner.to_string(),
        intro: Some(format!(
            "{} project(s) {} {owner}.",
            projects.len(),
            if is_group { "of the group" } else { "of" }
        )),
        show_search: false,
        query: String::new(),
        empty: format!("{owner} has no projects yet."),
        projects: projects.iter().map(project_line).collect(),
        members,
        groups,
    })
}

struct ChrootLine {
    name: String,
    name_release: String,
    release_url: Option<String>,
    release_name: String,
}

struct ProjectView {
    path: String,
    owner: String,
    owner_url: String,
    full_name: String,
    description: String,
    instructions: String,
    hub: String,
    /// Where dnf's copr plugin needs a hub configuration first, and what.
    hub_config: Option<(String, String)>,
    can_build: bool,
    can_admin: bool,
    signed_in: bool,
    chroots: Vec<ChrootLine>,
    release_example: Option<String>,
    fingerprint: String,
    pubkey_url: String,
    key_until: Option<String>,
    storage_used: String,
    storage_quota: String,
    storage_scope: String,
    retain_older: i64,
    enable_net: bool,
    repos: Vec<String>,
    /// Moderation, shown to those who manage the project.
    hidden: Option<String>,
    disabled: Option<String>,
    /// The newest quota request, shown to those who manage the project.
    quota_request: Option<QuotaRequestLine>,
}

/// A quota request as the project page shows it.
struct QuotaRequestLine {
    requested: String,
    reason: String,
    state: String,
    granted: String,
    answer: String,
    pending: bool,
}

impl ProjectView {
    /// Whether a quota request waits for an answer (no second one then).
    fn quota_request_pending(&self) -> bool {
        self.quota_request.as_ref().is_some_and(|r| r.pending)
    }
}

#[derive(Template)]
#[template(path = "project.html")]
struct ProjectPage {
    chrome: Chrome,
    p: ProjectView,
    builds: Vec<BuildLine>,
}

async fn project_page(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let project = params.project(&app).await?;
    let path = project_path(&project);
    let full_name = format!("{}/{}", project.owner, project.name);
    let key = keys::project_key(&app, &project).await?;
    let budget = quota::budget_for(&app, &project).await?;
    let mut chroots = Vec::new();
    for chroot in &project.chroots {
        chroots.push(ChrootLine {
            name: chroot.to_string(),
            name_release: chroot.name_release().to_string(),
            release_url: release::release_url(&app, &project, chroot).await?,
            release_name: release::package_name(&project),
        });
    }
    let release_example = project.chroots.first().map(|chroot| {
        format!(
            "{}{path}/release/{}/{}.noarch.rpm",
            app.public_url(),
            chroot.name_release(),
            release::package_name(&project)
        )
    });
    let access = access_of(&app, &visitor, &project).await?;
    let hub = crate::repo_file::plugin_hub(app.public_url());
    let quota_request = if access.admin {
        app.db()
            .project_quota_requests(project.id)
            .await?
            .into_iter()
            .next()
            .map(|r| QuotaRequestLine {
                requested: format_bytes(r.requested_bytes),
                reason: r.reason,
                state: r.state.to_string(),
                granted: r.granted_bytes.map(format_bytes).unwrap_or_default(),
                answer: r.answer,
                pending: r.state == koper_db::QuotaRequestState::Pending,
            })
    } else {
        None
    };
    let disabled = project.disabled_reason().map(str::to_owned);
    let view = ProjectView {
        hidden: project.moderation.hidden.clone().filter(|_| access.admin),
        disabled: disabled.filter(|_| access.admin),
        quota_request,
        owner: project.owner.to_string(),
        owner_url: owner_path(&project.owner),
        description: project.description.clone(),
        instructions: project.instructions.clone(),
        hub: hub.name,
        hub_config: hub.config,
        can_build: access.build && project.disabled_reason().is_none(),
        can_admin: access.admin,
        signed_in: visitor.user.is_some(),
        chroots,
        release_example,
        fingerprint: key.fingerprint(),
        pubkey_url: format!("{}/{full_name}/pubkey.gpg", app.results_url()),
        key_until: key.expires_on().map(|t| views::rfc3339(t)[..10].to_owned()),
        storage_used: format_bytes(budget.used),
        storage_quota: format_bytes(budget.quota),
        storage_scope: if budget.scope.contains('/') {
            "the project's own quota".to_owned()
        } else {
            format!("shared by {}'s projects", budget.scope)
        },
        retain_older: project.retain_older,
        enable_net: project.buildroot.enable_net,
        repos: project.buildroot.additional_repos.clone(),
        full_name: full_name.clone(),
        path,
    };
    let builds = app.db().list_builds(project.id, 10, 0).await?;
    render(&ProjectPage {
        chrome: visitor.chrome(&app, full_name),
        p: view,
        builds: builds.iter().map(build_line).collect(),
    })
}

/// Builds per page of a project's builds list.
const BUILDS_PER_PAGE: i64 = 25;

#[derive(Deserialize)]
struct BuildsQuery {
    #[serde(default)]
    package: String,
    #[serde(default)]
    chroot: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "builds.html")]
struct BuildsPage {
    chrome: Chrome,
    path: String,
    full_name: String,
    can_build: bool,
    filter: BuildFilter,
    chroots: Vec<String>,
    states: Vec<String>,
    builds: Vec<BuildLine>,
    page: i64,
    newer: Option<String>,
    older: Option<String>,
}

/// The states a chroot of a build can be in, for the builds filter.
const CHROOT_STATES: [BuildState; 7] = [
    BuildState::Pending,
    BuildState::Starting,
    BuildState::Running,
    BuildState::Succeeded,
    BuildState::Failed,
    BuildState::Canceled,
    BuildState::Skipped,
];

async fn builds_page(
    State(app): State<App>,
    visitor: Visitor,
    params: PathParams,
    Query(query): Query<BuildsQuery>,
) -> PageResult {
    let project = params.project(&app).await?;
    let path = project_path(&project);
    if !query.state.is_empty() && !CHROOT_STATES.iter().any(|s| s.as_str() == query.state) {
        return Err(Error::bad_request(format!("unknown build state {:?}", query.state)).into());
    }
    if !query.chroot.is_empty() {
        query.chroot.parse::<ChrootName>()?;
    }
    let filter = BuildFilter {
        package: query.package.trim().to_owned(),
        chroot: query.chroot.clone(),
        chroot_state: query.state.clone(),
    };
    let page = query.page.unwrap_or(1).clamp(1, 1_000_000);
    // One more than a page tells whether an older page exists.
    let mut rows = app
        .db()
        .list_builds_filtered(
            project.id,
            &filter,
            BUILDS_PER_PAGE + 1,
            (page - 1) * BUILDS_PER_PAGE,
        )
        .await?;
    let has_older = rows.len() as i64 > BUILDS_PER_PAGE;
    rows.truncate(BUILDS_PER_PAGE as usize);
    let page_url = |n: i64| {
        format!(
            "{path}/builds/?package={}&chroot={}&state={}&page={n}",
            url_encode(&filter.package),
            url_encode(&filter.chroot),
            url_encode(&filter.chroot_state)
        )
    };
    let access = access_of(&app, &visitor, &project).await?;
    render(&BuildsPage {
        chrome: visitor.chrome(
            &app,
            format!("Builds of {}/{}", project.owner, project.name),
        ),
        full_name: format!("{}/{}", project.owner, project.name),
        can_build: access.build,
        chroots: project.chroots.iter().map(ToString::to_string).collect(),
        states: CHROOT_STATES.iter().map(ToString::to_string).collect(),
        builds: rows.iter().map(build_line).collect(),
        newer: (page > 1).then(|| page_url(page - 1)),
        older: has_older.then(|| page_url(page + 1)),
        page,
        filter,
        path,
    })
}

struct ChrootRun {
    name: String,
    state: String,
    builder: String,
    started: String,
    ended: String,
    result_url: Option<String>,
    fail_reason: Option<String>,
    waiting: Option<String>,
    live: bool,
    log: String,
    log_offset: usize,
    /// rpmlint's findings (successful builds checked by rpmlint only).
    lint: Option<Vec<LintFinding>>,
}

/// One line of rpmlint's output.
struct LintFinding {
    /// `error`, `warning` or `info` (rpmlint's E, W, I), or `summary`.
    level: &'static str,
    text: String,
}

/// The most of a build chroot's `rpmlint.log` a page shows.
const LINT_SHOWN_BYTES: u64 = 64 << 10;

/// rpmlint's findings kept with a build chroot (`rpmlint.log.gz` in its
/// result directory, which the builder wrote after a successful build);
/// `None` when rpmlint did not run.
fn lint_findings(result_dir: &std::path::Path) -> std::io::Result<Option<Vec<LintFinding>>> {
    use std::io::Read;
    let file = match std::fs::File::open(result_dir.join("rpmlint.log.gz")) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .take(LINT_SHOWN_BYTES)
        .read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let findings = text
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('='))
        .map(|line| {
            let level = if line.contains(": E: ") {
                "error"
            } else if line.contains(": W: ") {
                "warning"
            } else if line.contains(": I: ") {
                "info"
            } else {
                "summary"
            };
            LintFinding {
                level,
                text: line.to_owned(),
            }
        })
        .collect();
    Ok(Some(findings))
}

#[derive(Template)]
#[template(path = "build.html")]
struct BuildPage {
    chrome: Chrome,
    path: String,
    full_name: String,
    id: String,
    package: String,
    state: String,
    submitted: String,
    submitter: Option<String>,
    source_type: String,
    background: bool,
    can_cancel: bool,
    chroots: Vec<ChrootRun>,
}

/// How much of a running build's log the page shows before the script
/// follows it.
const LOG_SHOWN_BYTES: usize = 256 << 10;

/// One build: its chroots, their results, for the pending ones why they
/// wait and when they are likely to start, and the live log of those not
/// ended.
async fn build_page(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let project = params.project(&app).await?;
    let id = params.get("id")?;
    let build = builds::get_build(&app, id.parse()?).await?;
    if build.project_id != project.id {
        return Err(Error::NotFound(format!(
            "build {id} is not in {}/{}",
            project.owner, project.name
        ))
        .into());
    }
    let shown = builds::to_api_explained(&app, &build).await?;
    let mut chroots = Vec::new();
    for chroot in &shown.chroots {
        let task = build.chroots.iter().find(|t| t.chroot == chroot.name);
        let live = !chroot.state.is_final();
        let (log, log_offset) = if live {
            let chunk = builds::read_log(&app, &build, &chroot.name, 0, LOG_SHOWN_BYTES).await?;
            // Whole lines only, so that the script continues at a line.
            let end = chunk
                .bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            (
                String::from_utf8_lossy(&chunk.bytes[..end]).into_owned(),
                end,
            )
        } else {
            (String::new(), 0)
        };
        let lint = match task.and_then(|t| t.result_dir.as_ref()) {
            Some(dir) if chroot.state == BuildState::Succeeded => {
                let dir = app
                    .data()
                    .results()
                    .repo_dir(&build.owner, &build.project, &chroot.name)
                    .join(dir);
                tokio::task::spawn_blocking(move || lint_findings(&dir))
                    .await
                    .map_err(Error::internal)?
                    .map_err(Error::from)?
            }
            _ => None,
        };
        chroots.push(ChrootRun {
            name: chroot.name.to_string(),
            state: chroot.state.to_string(),
            builder: task
                .and_then(|t| t.builder_id)
                .map(|b| format!("#{b}"))
                .unwrap_or_default(),
            started: chroot.started_on.map(short_time).unwrap_or_default(),
            ended: chroot.ended_on.map(short_time).unwrap_or_default(),
            result_url: chroot.result_url.clone(),
            fail_reason: chroot.fail_reason.clone(),
            waiting: chroot.queue.as_ref().map(|q| {
                format!(
                    "{}{}",
                    q.message,
                    q.estimated_start
                        .map(|t| format!(" (estimated start {})", short_time(t)))
                        .unwrap_or_default()
                )
            }),
            live,
            log,
            log_offset,
            lint,
        });
    }
    let full_name = format!("{}/{}", project.owner, project.name);
    render(&BuildPage {
        chrome: visitor.chrome(&app, format!("Build {} of {full_name}", build.id)),
        path: project_path(&project),
        full_name,
        id: build.id.to_string(),
        package: build_line(&build).package,
        state: shown.state.to_string(),
        submitted: short_time(build.submitted_on),
        submitter: build.submitter.clone(),
        source_type: build.source_type.clone(),
        background: shown.is_background,
        can_cancel: !shown.state.is_final() && access_of(&app, &visitor, &project).await?.build,
        chroots,
    })
}

async fn feed(State(app): State<App>, params: PathParams) -> PageResult {
    let project = params.project(&app).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        views::feed(&app, &project).await?,
    )
        .into_response())
}

fn evr(p: &koper_repodata::ListedPackage) -> String {
    if p.epoch.is_empty() || p.epoch == "0" {
        format!("{}-{}", p.version, p.release)
    } else {
        format!("{}:{}-{}", p.epoch, p.version, p.release)
    }
}

struct PackageLine {
    name: String,
    evr: String,
    arches: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "packages.html")]
struct PackagesPage {
    chrome: Chrome,
    path: String,
    full_name: String,
    chroot: String,
    files_url: String,
    packages: Vec<PackageLine>,
}

/// A repo's packages, one row per name with its newest version.
async fn packages(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let project = params.project(&app).await?;
    let chroot: ChrootName = params.get("chroot")?.parse()?;
    let listed = views::repo_packages(&app, &project, &chroot).await?;
    let mut names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    let packages = names
        .into_iter()
        .filter_map(|name| {
            let newest = listed.iter().rfind(|p| p.name == name)?;
            Some(PackageLine {
                name: name.to_owned(),
                evr: evr(newest),
                arches: listed
                    .iter()
                    .filter(|p| p.name == name)
                    .map(|p| p.arch.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                summary: newest.summary.clone(),
            })
        })
        .collect();
    let full_name = format!("{}/{}", project.owner, project.name);
    render(&PackagesPage {
        chrome: visitor.chrome(&app, format!("{full_name} packages for {chroot}")),
        path: project_path(&project),
        files_url: format!("{}/{full_name}/{chroot}/", app.results_url()),
        full_name,
        chroot: chroot.to_string(),
        packages,
    })
}

struct FirstVersion {
    summary: String,
    description: String,
    license: String,
    url: String,
}

struct VersionView {
    nevra: String,
    download: String,
    size: String,
    built: String,
    changelog: Vec<(String, String, String)>,
    files: Vec<String>,
}

#[derive(Template)]
#[template(path = "package.html")]
struct PackagePage {
    chrome: Chrome,
    path: String,
    full_name: String,
    chroot: String,
    name: String,
    first: Option<FirstVersion>,
    versions: Vec<VersionView>,
}

/// One package: every published version with its changelog and files.
async fn package(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let project = params.project(&app).await?;
    let chroot: ChrootName = params.get("chroot")?.parse()?;
    let name = params.get("name")?;
    let versions = views::package_details(&app, &project, &chroot, name).await?;
    let full_name = format!("{}/{}", project.owner, project.name);
    let repo_url = format!("{}/{full_name}/{chroot}", app.results_url());
    render(&PackagePage {
        chrome: visitor.chrome(&app, format!("{name} in {full_name} ({chroot})")),
        path: project_path(&project),
        first: versions.first().map(|first| FirstVersion {
            summary: first.listed.summary.clone(),
            description: first.description.clone(),
            license: first.license.clone(),
            url: first.url.clone(),
        }),
        versions: versions
            .iter()
            .map(|version| {
                let p = &version.listed;
                VersionView {
                    nevra: format!("{}-{}.{}", p.name, evr(p), p.arch),
                    download: format!("{repo_url}/{}", p.location),
                    size: format_bytes(i64::try_from(p.size).unwrap_or(i64::MAX)),
                    built: views::rfc3339(p.build_time),
                    changelog: version
                        .changelog
                        .iter()
                        .map(|e| {
                            (
                                views::rfc3339(e.time)[..10].to_owned(),
                                e.author.clone(),
                                e.text.clone(),
                            )
                        })
                        .collect(),
                    files: version.files.clone(),
                }
            })
            .collect(),
        full_name,
        chroot: chroot.to_string(),
        name: name.to_owned(),
    })
}
