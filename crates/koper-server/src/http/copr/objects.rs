//! koper's records in Copr's shapes, and Copr's paging.

use koper_api::copr;
use koper_db::{BuildRow, ProjectRow, TaskRow};
use koper_types::{ChrootName, OwnerName, ProjectName};

use crate::app::App;
use crate::builds::state_of;
use crate::error::Error;
use crate::projects::repo_url;

use super::{CoprResult, Fields};

/// A project as Copr shows it.
pub fn project(app: &App, project: &ProjectRow) -> copr::Project {
    let repo_url = repo_url(app, project);
    copr::Project {
        id: project.id,
        name: project.name.to_string(),
        ownername: project.owner.to_string(),
        full_name: format!("{}/{}", project.owner, project.name),
        description: Some(project.description.clone()),
        instructions: Some(project.instructions.clone()),
        homepage: None,
        contact: None,
        devel_mode: false,
        persistent: false,
        unlisted_on_hp: !project.listed,
        auto_prune: true,
        enable_net: project.buildroot.enable_net,
        bootstrap: None,
        isolation: None,
        module_hotfixes: false,
        appstream: false,
        follow_fedora_branching: false,
        repo_priority: project.buildroot.repo_priority,
        packit_forge_projects_allowed: Vec::new(),
        additional_repos: project.buildroot.additional_repos.clone(),
        storage: "backend".into(),
        chroot_repos: project
            .chroots
            .iter()
            .map(|c| (c.to_string(), format!("{repo_url}/{c}/")))
            .collect(),
    }
}

/// A build as Copr shows it.
pub fn build(app: &App, build: &BuildRow) -> copr::Build {
    let repo_url = format!("{}/{}/{}", app.results_url(), build.owner, build.project);
    let all_ended = build.chroots.iter().all(|c| c.state.is_final());
    copr::Build {
        id: build.id.0,
        state: state_of(build).to_string(),
        ownername: build.owner.to_string(),
        projectname: build.project.to_string(),
        project_dirname: build.project.to_string(),
        repo_url,
        source_package: copr::SourcePackage {
            name: build.package_name.as_ref().map(ToString::to_string),
            version: build.package_version.clone(),
            url: srpm_url(app, build),
        },
        submitted_on: build.submitted_on,
        started_on: build.chroots.iter().filter_map(|c| c.started_on).min(),
        ended_on: if all_ended {
            build.chroots.iter().filter_map(|c| c.ended_on).max()
        } else {
            None
        },
        submitter: build.submitter.clone(),
        chroots: build.chroots.iter().map(|c| c.chroot.to_string()).collect(),
        is_background: false,
    }
}

/// Where the build's source RPM is published: beside the packages of its
/// first chroot that has results.
fn srpm_url(app: &App, build: &BuildRow) -> Option<String> {
    let name = build.package_name.as_ref()?;
    let version = build.package_version.as_ref()?;
    let version = version.split_once(':').map_or(version.as_str(), |(_, v)| v);
    let task = build.chroots.iter().find(|t| t.result_dir.is_some())?;
    let dir = build_chroot(app, build, task).result_url?;
    Some(format!("{dir}{name}-{version}.src.rpm"))
}

/// One chroot of a build as Copr shows it.
pub fn build_chroot(app: &App, build: &BuildRow, task: &TaskRow) -> copr::BuildChroot {
    copr::BuildChroot {
        name: task.chroot.to_string(),
        state: task.state.to_string(),
        started_on: task.started_on,
        ended_on: task.ended_on,
        result_url: task
            .result_dir
            .as_ref()
            .map(|dir| result_url(app, &build.owner, &build.project, &task.chroot, dir)),
    }
}

/// The URL of a build chroot's result directory `dir`.
pub fn result_url(
    app: &App,
    owner: &OwnerName,
    project: &ProjectName,
    chroot: &ChrootName,
    dir: &str,
) -> String {
    format!("{}/{owner}/{project}/{chroot}/{dir}/", app.results_url())
}

/// Copr's paging parameters: `limit` (none: everything), `offset`,
/// `order`, `order_type`.
pub struct Paging {
    pub limit: Option<i64>,
    pub offset: i64,
    pub order: String,
    pub descending: bool,
}

impl Paging {
    /// Reads the paging parameters; `columns` are the orders allowed, the
    /// first being the default.
    pub fn read(fields: &Fields, columns: &[&str]) -> CoprResult<Self> {
        let limit = fields.int("limit")?;
        if limit.is_some_and(|l| l < 0) {
            return Err(Error::bad_request("limit: must not be negative").into());
        }
        let offset = fields.int("offset")?.unwrap_or(0);
        if offset < 0 {
            return Err(Error::bad_request("offset: must not be negative").into());
        }
        let order = fields.str("order").unwrap_or_else(|| columns[0].into());
        if !columns.contains(&order.as_str()) {
            return Err(Error::bad_request(format!(
                "order: cannot order by '{order}' (one of: {})",
                columns.join(", ")
            ))
            .into());
        }
        let descending = match fields.str("order_type").as_deref() {
            None => order == "id",
            Some(t) if t.eq_ignore_ascii_case("desc") => true,
            Some(t) if t.eq_ignore_ascii_case("asc") => false,
            Some(t) => {
                return Err(Error::bad_request(format!(
                    "order_type: '{t}' is neither ASC nor DESC"
                ))
                .into());
            }
        };
        Ok(Self {
            limit,
            offset,
            order,
            descending,
        })
    }

    /// `items` as the page they already are (the database paged them).
    pub fn paged<T>(&self, items: Vec<T>) -> copr::Page<T> {
        copr::Page {
            items,
            meta: copr::PageMeta {
                limit: self.limit,
                offset: self.offset,
                order: self.order.clone(),
                order_type: if self.descending { "DESC" } else { "ASC" }.into(),
            },
        }
    }

    /// This page of `items`, which are in ascending order of the column.
    pub fn page<T>(&self, mut items: Vec<T>) -> copr::Page<T> {
        if self.descending {
            items.reverse();
        }
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let items: Vec<T> = match self.limit {
            Some(limit) => items
                .into_iter()
                .skip(offset)
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect(),
            None => items.into_iter().skip(offset).collect(),
        };
        copr::Page {
            items,
            meta: copr::PageMeta {
                limit: self.limit,
                offset: self.offset,
                order: self.order.clone(),
                order_type: if self.descending { "DESC" } else { "ASC" }.into(),
            },
        }
    }
}

/// Copr's `source_dict` of an SCM source.
pub fn scm_source_dict(scm: &koper_types::ScmSource) -> std::collections::BTreeMap<String, String> {
    [
        ("type", "git"),
        ("clone_url", scm.clone_url.as_str()),
        ("committish", scm.committish.as_str()),
        ("subdirectory", scm.subdirectory.as_str()),
        ("spec", scm.spec.as_str()),
        ("source_build_method", scm.method.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
