//! The objects of Copr's APIv3 (`/api_3/`), in the shapes `copr-cli` and
//! python-copr read. Every key is always present (null when unknown),
//! because Copr's own server marshals through fixed models and clients
//! index keys without checking.

use std::collections::BTreeMap;

use serde::Serialize;

/// A project (Copr's "copr").
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// Database id.
    pub id: i64,
    /// Project name.
    pub name: String,
    /// User name, or `@group`.
    pub ownername: String,
    /// `owner/name`.
    pub full_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Installation instructions.
    pub instructions: Option<String>,
    /// Project home page.
    pub homepage: Option<String>,
    /// Contact address.
    pub contact: Option<String>,
    /// Manual createrepo (koper publishes every build: always false).
    pub devel_mode: bool,
    /// Whether the project may be deleted only by an administrator.
    pub persistent: bool,
    /// Hidden from the project directory.
    pub unlisted_on_hp: bool,
    /// Old builds are pruned.
    pub auto_prune: bool,
    /// Builds may reach the network.
    pub enable_net: bool,
    /// Mock bootstrap setting (koper has no bootstrap chroot).
    pub bootstrap: Option<String>,
    /// Isolation setting.
    pub isolation: Option<String>,
    /// dnf's `module_hotfixes`.
    pub module_hotfixes: bool,
    /// AppStream metadata generation.
    pub appstream: bool,
    /// New Fedora branches are added automatically.
    pub follow_fedora_branching: bool,
    /// Repo priority, when not the default.
    pub repo_priority: Option<i64>,
    /// Forges allowed to build through Packit.
    pub packit_forge_projects_allowed: Vec<String>,
    /// Build-time repositories.
    pub additional_repos: Vec<String>,
    /// Where results are stored: always the backend's results tree.
    pub storage: String,
    /// Each chroot's repository URL (with a trailing slash).
    pub chroot_repos: BTreeMap<String, String>,
}

/// A build's source package, all null until it is known.
#[derive(Debug, Clone, Serialize)]
pub struct SourcePackage {
    /// Package name.
    pub name: Option<String>,
    /// `[epoch:]version-release`.
    pub version: Option<String>,
    /// Where the source RPM can be downloaded.
    pub url: Option<String>,
}

/// A build.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    /// Build id.
    pub id: i64,
    /// Copr's aggregate state name.
    pub state: String,
    /// Project owner.
    pub ownername: String,
    /// Project name.
    pub projectname: String,
    /// The project directory (koper has one per project: its name).
    pub project_dirname: String,
    /// `<results>/<owner>/<project>`, no trailing slash.
    pub repo_url: String,
    /// The source package.
    pub source_package: SourcePackage,
    /// Unix seconds.
    pub submitted_on: i64,
    /// The earliest chroot start.
    pub started_on: Option<i64>,
    /// The last chroot end, null while any chroot runs.
    pub ended_on: Option<i64>,
    /// Who submitted it.
    pub submitter: Option<String>,
    /// Chroot names.
    pub chroots: Vec<String>,
    /// Background builds go last in the queue.
    pub is_background: bool,
}

/// One chroot of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildChroot {
    /// Chroot name.
    pub name: String,
    /// State name.
    pub state: String,
    /// Unix seconds.
    pub started_on: Option<i64>,
    /// Unix seconds.
    pub ended_on: Option<i64>,
    /// The result directory URL, with a trailing slash.
    pub result_url: Option<String>,
}

/// A package: the builds of one name in a project.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// A stable id (the id of its first build).
    pub id: i64,
    /// Package name.
    pub name: String,
    /// Project owner.
    pub ownername: String,
    /// Project name.
    pub projectname: String,
    /// How its sources come in.
    pub source_type: String,
    /// Source settings.
    pub source_dict: BTreeMap<String, String>,
    /// Rebuilt by webhooks.
    pub auto_rebuild: bool,
    /// Its newest builds; always present (copr-cli refuses servers
    /// without it).
    pub builds: PackageBuilds,
}

/// The newest builds of a package.
#[derive(Debug, Clone, Serialize)]
pub struct PackageBuilds {
    /// The newest build.
    pub latest: Option<Build>,
    /// The newest successful build.
    pub latest_succeeded: Option<Build>,
}

/// A project's chroot and its settings.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectChroot {
    /// Chroot name.
    pub mock_chroot: String,
    /// Project owner.
    pub ownername: String,
    /// Project name.
    pub projectname: String,
    /// Comps file name, if one was uploaded.
    pub comps_name: Option<String>,
    /// Extra build-time repositories of this chroot.
    pub additional_repos: Vec<String>,
    /// Extra packages installed into its buildroot.
    pub additional_packages: Vec<String>,
    /// Modules enabled in its buildroot.
    pub additional_modules: Vec<String>,
    /// `--with` options.
    pub with_opts: Vec<String>,
    /// `--without` options.
    pub without_opts: Vec<String>,
    /// Days until an end-of-life chroot is deleted.
    pub delete_after_days: Option<i64>,
    /// Isolation setting.
    pub isolation: Option<String>,
}

/// A repository in a build configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Repo {
    /// Repo id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Base URL.
    pub baseurl: String,
    /// dnf priority, when not the default.
    pub priority: Option<i64>,
    /// dnf's `module_hotfixes`.
    pub module_hotfixes: Option<bool>,
    /// Whether repo metadata signatures are checked.
    pub repo_gpgcheck: Option<bool>,
}

/// What a local mock build needs to reproduce a project's chroot.
#[derive(Debug, Clone, Serialize)]
pub struct BuildConfig {
    /// Chroot name.
    pub chroot: String,
    /// Repositories, the project's first.
    pub repos: Vec<Repo>,
    /// Extra repos as the project lists them (`copr://` first).
    pub additional_repos: Vec<String>,
    /// Extra buildroot packages.
    pub additional_packages: Vec<String>,
    /// Modules to enable.
    pub additional_modules: Vec<String>,
    /// Network in the build.
    pub enable_net: bool,
    /// `--with` options.
    pub with_opts: Vec<String>,
    /// `--without` options.
    pub without_opts: Vec<String>,
    /// Isolation setting.
    pub isolation: Option<String>,
}

/// A binary package a build produced.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltPackage {
    /// Name.
    pub name: String,
    /// Epoch (0 when none).
    pub epoch: u32,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// Architecture (`src` for the source package).
    pub arch: String,
}

/// The packages of one build chroot.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltPackages {
    /// The packages.
    pub packages: Vec<BuiltPackage>,
}

/// A page of a list, with the paging it was made with.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The paging parameters in effect.
    pub meta: PageMeta,
}

/// Paging parameters as Copr echoes them.
#[derive(Debug, Clone, Serialize)]
pub struct PageMeta {
    /// Page size, null when unlimited.
    pub limit: Option<i64>,
    /// Items skipped.
    pub offset: i64,
    /// Order column.
    pub order: String,
    /// `ASC` or `DESC`.
    pub order_type: String,
}
