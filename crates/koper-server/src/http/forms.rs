//! The forms that change things: a new project, a project's settings, a
//! new build (an uploaded source RPM, a source RPM or spec from a URL, or
//! a git repository). Each handler reads
//! its form and calls the same operation as the API.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use koper_api::v1;
use koper_db::ProjectRow;
use koper_types::{ChrootName, ScmSource, SrpmMethod, format_bytes};

use super::pages::{PathParams, project_path};
use super::web::{CheckedForm, Chrome, PageError, PageResult, Visitor, render};
use crate::app::App;
use crate::builds::{self, BuildTarget};
use crate::error::Error;
use crate::{permissions, projects, sources};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/coprs/new", get(new_project_form).post(create_project))
        .route(
            "/coprs/{owner}/{project}/edit",
            get(settings_form).post(save_settings),
        )
        .route(
            "/coprs/g/{group}/{project}/edit",
            get(settings_form).post(save_settings),
        )
        .route(
            "/coprs/{owner}/{project}/new_build",
            get(new_build_form)
                .post(upload_build)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/coprs/g/{group}/{project}/new_build",
            get(new_build_form)
                .post(upload_build)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/coprs/{owner}/{project}/build/{id}/cancel",
            post(cancel_build),
        )
        .route(
            "/coprs/g/{group}/{project}/build/{id}/cancel",
            post(cancel_build),
        )
        .route(
            "/coprs/{owner}/{project}/new_build_url",
            post(build_from_url),
        )
        .route(
            "/coprs/g/{group}/{project}/new_build_url",
            post(build_from_url),
        )
        .route(
            "/coprs/{owner}/{project}/new_build_scm",
            post(build_from_git),
        )
        .route(
            "/coprs/g/{group}/{project}/new_build_scm",
            post(build_from_git),
        )
}

/// What the project form shows.
struct ProjectFields {
    owner: String,
    name: String,
    description: String,
    instructions: String,
    chroots: Vec<String>,
    repos: String,
    enable_net: bool,
    listed: bool,
    retain_older: String,
}

impl ProjectFields {
    fn of(project: &ProjectRow) -> Self {
        Self {
            owner: project.owner.to_string(),
            name: project.name.to_string(),
            description: project.description.clone(),
            instructions: project.instructions.clone(),
            chroots: project.chroots.iter().map(ToString::to_string).collect(),
            repos: project.buildroot.additional_repos.join("\n"),
            enable_net: project.buildroot.enable_net,
            listed: project.listed,
            retain_older: project.retain_older.to_string(),
        }
    }

    fn from_form(form: &CheckedForm) -> Self {
        Self {
            owner: form.text("owner").to_owned(),
            name: form.text("name").trim().to_owned(),
            description: form.text("description").trim().to_owned(),
            instructions: form.text("instructions").to_owned(),
            chroots: form.all("chroots").into_iter().map(str::to_owned).collect(),
            repos: form.text("repos").to_owned(),
            enable_net: form.ticked("enable_net"),
            listed: form.ticked("listed"),
            retain_older: form.text("retain_older").trim().to_owned(),
        }
    }

    fn chroot_names(&self) -> Result<Vec<ChrootName>, Error> {
        Ok(self
            .chroots
            .iter()
            .map(|c| c.parse::<ChrootName>())
            .collect::<Result<_, _>>()?)
    }

    fn repo_list(&self) -> Vec<String> {
        self.repos
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn retain(&self) -> Result<u32, Error> {
        if self.retain_older.is_empty() {
            return Ok(0);
        }
        self.retain_older
            .parse()
            .map_err(|_| Error::bad_request("older builds kept must be a whole number from 0"))
    }
}

#[derive(Template)]
#[template(path = "project_form.html")]
struct ProjectForm {
    chrome: Chrome,
    heading: String,
    action: String,
    submit: &'static str,
    project_path: Option<String>,
    owners: Vec<String>,
    /// Name, description, ticked.
    chroots: Vec<(String, String, bool)>,
    f: ProjectFields,
    error: Option<String>,
    saved: bool,
}

impl ProjectForm {
    fn new(
        app: &App,
        visitor: &Visitor,
        fields: ProjectFields,
        project: Option<&ProjectRow>,
    ) -> Self {
        let chroots = app
            .chroots()
            .iter()
            .map(|def| {
                let name = def.name.to_string();
                let ticked = fields.chroots.contains(&name);
                (name, def.description.clone(), ticked)
            })
            .collect();
        let (heading, action, submit, path) = match project {
            Some(project) => {
                let path = project_path(project);
                (
                    format!("Settings of {}/{}", project.owner, project.name),
                    format!("{path}/edit"),
                    "Save settings",
                    Some(path),
                )
            }
            None => (
                "New project".to_owned(),
                "/coprs/new".to_owned(),
                "Create project",
                None,
            ),
        };
        Self {
            chrome: visitor.chrome(app, heading.clone()),
            heading,
            action,
            submit,
            project_path: path,
            owners: visitor.user.iter().map(|u| u.name.to_string()).collect(),
            chroots,
            f: fields,
            error: None,
            saved: false,
        }
    }

    /// The form again with what was typed and why it was refused.
    fn refused(mut self, error: &Error) -> PageResult {
        self.error = Some(error.to_string());
        let mut response = render(&self)?;
        *response.status_mut() = error.status();
        Ok(response)
    }
}

/// Whether an error is about what the form said (shown on the form) rather
/// than a failure (shown as an error page).
fn about_the_form(error: &Error) -> bool {
    matches!(error, Error::BadRequest { .. } | Error::Conflict(_))
}

/// The owners a user may create projects for: themselves and their groups.
async fn owner_choices(app: &App, user: &koper_db::User) -> Result<Vec<String>, Error> {
    let mut owners = vec![user.name.to_string()];
    for (group, _) in app.db().groups_of(user.id).await? {
        owners.push(format!("@{}", group.name));
    }
    Ok(owners)
}

async fn new_project_form(State(app): State<App>, visitor: Visitor) -> PageResult {
    let user = visitor.require_user()?;
    let fields = ProjectFields {
        owner: user.name.to_string(),
        name: String::new(),
        description: String::new(),
        instructions: String::new(),
        chroots: Vec::new(),
        repos: String::new(),
        enable_net: false,
        listed: true,
        retain_older: "0".into(),
    };
    let mut page = ProjectForm::new(&app, &visitor, fields, None);
    page.owners = owner_choices(&app, user).await?;
    render(&page)
}

async fn create_project(State(app): State<App>, form: CheckedForm) -> PageResult {
    let user = form.visitor.require_user()?;
    let fields = ProjectFields::from_form(&form);
    let new = (|| {
        Ok::<_, Error>(v1::NewProject {
            owner: fields.owner.parse()?,
            name: fields.name.parse()?,
            chroots: fields.chroot_names()?,
            description: fields.description.clone(),
            instructions: fields.instructions.clone(),
            retain_older: fields.retain()?,
            listed: fields.listed,
            additional_repos: fields.repo_list(),
            enable_net: fields.enable_net,
            repo_priority: None,
        })
    })();
    let created = match new {
        Ok(new) => projects::create_project(&app, user, &new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(project) => Ok(Redirect::to(&format!("{}/", project_path(&project))).into_response()),
        Err(e) if about_the_form(&e) => {
            let mut page = ProjectForm::new(&app, &form.visitor, fields, None);
            page.owners = owner_choices(&app, user).await?;
            page.refused(&e)
        }
        Err(e) => Err(e.into()),
    }
}

/// The project of a settings page, which only its admins see.
async fn administered(app: &App, visitor: &Visitor, params: &PathParams) -> PageResult<ProjectRow> {
    let user = visitor.require_user()?;
    let project = params.project(app).await?;
    if !permissions::can_admin(app, user, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not change the settings of {}/{}",
            user.name, project.owner, project.name
        ))
        .into());
    }
    Ok(project)
}

async fn settings_form(State(app): State<App>, visitor: Visitor, params: PathParams) -> PageResult {
    let project = administered(&app, &visitor, &params).await?;
    render(&ProjectForm::new(
        &app,
        &visitor,
        ProjectFields::of(&project),
        Some(&project),
    ))
}

async fn save_settings(
    State(app): State<App>,
    params: PathParams,
    form: CheckedForm,
) -> PageResult {
    let user = form.visitor.require_user()?;
    let project = params.project(&app).await?;
    let fields = ProjectFields::from_form(&form);
    let changes = (|| {
        Ok::<_, Error>(v1::ProjectChanges {
            retain_older: Some(fields.retain()?),
            description: Some(fields.description.clone()),
            instructions: Some(fields.instructions.clone()),
            listed: Some(fields.listed),
            additional_repos: Some(fields.repo_list()),
            enable_net: Some(fields.enable_net),
            repo_priority: None,
            chroots: Some(fields.chroot_names()?),
        })
    })();
    let saved = match changes {
        Ok(changes) => projects::modify_project(&app, user, &project, &changes).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(project) => {
            let mut page = ProjectForm::new(
                &app,
                &form.visitor,
                ProjectFields::of(&project),
                Some(&project),
            );
            page.saved = true;
            render(&page)
        }
        Err(e) if about_the_form(&e) => {
            ProjectForm::new(&app, &form.visitor, fields, Some(&project)).refused(&e)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "new_build.html")]
struct NewBuildPage {
    chrome: Chrome,
    path: String,
    full_name: String,
    chroots: Vec<String>,
    max_upload: String,
}

/// The project a build form is for, where the visitor may build.
async fn buildable(app: &App, visitor: &Visitor, params: &PathParams) -> PageResult<ProjectRow> {
    let user = visitor.require_user()?;
    let project = params.project(app).await?;
    if !permissions::can_build(app, user, &project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not build in {}/{}",
            user.name, project.owner, project.name
        ))
        .into());
    }
    Ok(project)
}

async fn new_build_form(
    State(app): State<App>,
    visitor: Visitor,
    params: PathParams,
) -> PageResult {
    let project = buildable(&app, &visitor, &params).await?;
    let full_name = format!("{}/{}", project.owner, project.name);
    render(&NewBuildPage {
        chrome: visitor.chrome(&app, format!("New build in {full_name}")),
        path: project_path(&project),
        full_name,
        chroots: project.chroots.iter().map(ToString::to_string).collect(),
        max_upload: format_bytes(i64::try_from(app.config().max_upload_bytes).unwrap_or(i64::MAX)),
    })
}

/// Where a new build is shown.
fn build_created(project: &ProjectRow, build: &koper_db::BuildRow) -> PageResult {
    Ok(Redirect::to(&format!("{}/build/{}/", project_path(project), build.id)).into_response())
}

fn bad_multipart(e: axum::extract::multipart::MultipartError) -> PageError {
    Error::bad_request(format!("the upload could not be read: {e}")).into()
}

/// An uploaded source RPM. The form's fields come in page order: the CSRF
/// token first (checked before a byte of the file is stored), the chroots,
/// then the file, streamed to the spool.
async fn upload_build(
    State(app): State<App>,
    visitor: Visitor,
    params: PathParams,
    mut multipart: Multipart,
) -> PageResult {
    let mut csrf_checked = false;
    let mut chroots = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(bad_multipart)? {
        match field.name().unwrap_or_default() {
            "csrf" => {
                let token = field.text().await.map_err(bad_multipart)?;
                visitor.check_csrf(Some(&token))?;
                csrf_checked = true;
            }
            _ if !csrf_checked => visitor.check_csrf(None)?,
            "chroots" => chroots.push(field.text().await.map_err(bad_multipart)?.parse()?),
            "srpm" => {
                let project = buildable(&app, &visitor, &params).await?;
                let Some(user) = visitor.user.as_ref() else {
                    return Err(Error::internal("buildable without a user").into());
                };
                if chroots.is_empty() {
                    return Err(Error::bad_request("tick at least one chroot to build for").into());
                }
                let target = BuildTarget {
                    project: &project,
                    chroots,
                    options: v1::BuildOptions::default(),
                };
                let build = builds::submit_srpm(&app, user, target, field, None).await?;
                return build_created(&project, &build);
            }
            other => {
                return Err(Error::bad_request(format!("unexpected form field {other:?}")).into());
            }
        }
    }
    visitor.check_csrf(csrf_checked.then_some(""))?;
    Err(Error::bad_request("the form carried no source RPM; choose a file to upload").into())
}

/// The chroots ticked on a build form; at least one.
fn ticked_chroots(form: &CheckedForm) -> Result<Vec<ChrootName>, PageError> {
    let chroots = form
        .all("chroots")
        .into_iter()
        .map(str::parse::<ChrootName>)
        .collect::<Result<Vec<_>, _>>()?;
    if chroots.is_empty() {
        return Err(Error::bad_request("tick at least one chroot to build for").into());
    }
    Ok(chroots)
}

async fn build_from_url(
    State(app): State<App>,
    params: PathParams,
    form: CheckedForm,
) -> PageResult {
    let project = buildable(&app, &form.visitor, &params).await?;
    let Some(user) = form.visitor.user.as_ref() else {
        return Err(Error::internal("buildable without a user").into());
    };
    let target = BuildTarget {
        project: &project,
        chroots: ticked_chroots(&form)?,
        options: v1::BuildOptions::default(),
    };
    let build = sources::submit_url(&app, user, target, form.text("url").trim()).await?;
    build_created(&project, &build)
}

/// A build from a git repository: clone URL, committish, subdirectory,
/// spec and method, as `koper build-scm` takes them.
async fn build_from_git(
    State(app): State<App>,
    params: PathParams,
    form: CheckedForm,
) -> PageResult {
    let project = buildable(&app, &form.visitor, &params).await?;
    let Some(user) = form.visitor.user.as_ref() else {
        return Err(Error::internal("buildable without a user").into());
    };
    let method = form.text("method").trim();
    let method = SrpmMethod::from_copr(method).ok_or_else(|| {
        Error::bad_request(format!("unknown method {method:?}: use rpkg or make_srpm"))
    })?;
    let scm = ScmSource {
        clone_url: form.text("clone_url").trim().to_owned(),
        committish: form.text("committish").trim().to_owned(),
        subdirectory: form.text("subdirectory").trim().to_owned(),
        spec: form.text("spec").trim().to_owned(),
        method,
    };
    let target = BuildTarget {
        project: &project,
        chroots: ticked_chroots(&form)?,
        options: v1::BuildOptions::default(),
    };
    let build = sources::submit_scm(&app, user, target, &scm).await?;
    build_created(&project, &build)
}

/// Cancels a build of the project, then shows it.
async fn cancel_build(State(app): State<App>, params: PathParams, form: CheckedForm) -> PageResult {
    // Refused by the project of the address first, so that naming a
    // build of another project tells nothing to who may not build here.
    let project = buildable(&app, &form.visitor, &params).await?;
    let Some(user) = form.visitor.user.as_ref() else {
        return Err(Error::internal("buildable without a user").into());
    };
    let id = params.get("id")?.parse()?;
    let build = builds::get_build(&app, id).await?;
    if build.project_id != project.id {
        return Err(Error::NotFound(format!(
            "build {id} is not in {}/{}",
            project.owner, project.name
        ))
        .into());
    }
    let build = builds::cancel_build(&app, user, id).await?;
    build_created(&project, &build)
}
