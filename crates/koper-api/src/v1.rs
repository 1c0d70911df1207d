//! The native API (`/api/v1/`), used by the `koper` CLI.

use koper_types::{
    BuildId, BuildState, ChrootName, OwnerName, PackageName, ProjectName, RoleState, ScmSource,
};
use serde::{Deserialize, Serialize};

/// What `GET /api/v1/` says about the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The API version, 1.
    pub api: u32,
    /// The server's version.
    pub server: String,
    /// The largest upload the server accepts, in bytes.
    pub max_upload_bytes: u64,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    /// The user's name.
    pub name: String,
    /// Whether the user administers the instance.
    pub is_admin: bool,
}

/// A chroot that projects can select.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chroot {
    /// `<distribution>-<version>-<arch>`.
    pub name: ChrootName,
    /// The architecture packages are built for.
    pub arch: String,
    /// One line for listings.
    pub description: String,
}

/// What `POST /api/v1/projects` takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProject {
    /// The owner: the caller, or a group the caller administers.
    pub owner: OwnerName,
    /// The project's name, unique per owner.
    pub name: ProjectName,
    /// Chroots to build for; at least one.
    pub chroots: Vec<ChrootName>,
    /// Free text shown on the project page.
    #[serde(default)]
    pub description: String,
    /// How to use the project's packages, shown as plain text on the
    /// project page.
    #[serde(default)]
    pub instructions: String,
    /// Older successful builds to keep per package and chroot, besides the
    /// newest (0: each new build replaces the previous one).
    #[serde(default)]
    pub retain_older: u32,
    /// Whether the project shows in the project directory.
    #[serde(default = "listed_by_default")]
    pub listed: bool,
    /// Repos builds take BuildRequires from besides the project's own:
    /// `copr://owner/project` (that project's repo for the same chroot,
    /// and what it depends on in turn) or an http(s) URL (`$releasever`
    /// and `$basearch` are expanded per chroot).
    #[serde(default)]
    pub additional_repos: Vec<String>,
    /// Whether builds may use the network.
    #[serde(default)]
    pub enable_net: bool,
    /// dnf priority of this project's repos in buildroots (lower wins);
    /// absent: dnf's default, 99.
    #[serde(default)]
    pub repo_priority: Option<u32>,
}

fn listed_by_default() -> bool {
    true
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    /// Database id.
    pub id: i64,
    /// Who owns it.
    pub owner: OwnerName,
    /// Its name.
    pub name: ProjectName,
    /// `owner/name`.
    pub full_name: String,
    /// Free text.
    pub description: String,
    /// How to use the project's packages (plain text).
    #[serde(default)]
    pub instructions: String,
    /// The chroots it builds for.
    pub chroots: Vec<ChrootName>,
    /// Base URL of its repositories: `<results>/<owner>/<name>`.
    pub repo_url: String,
    /// Build timeout in seconds.
    pub build_timeout: i64,
    /// Unix seconds.
    pub created_on: i64,
    /// Older successful builds kept per package and chroot.
    #[serde(default)]
    pub retain_older: i64,
    /// Shown in the project directory.
    #[serde(default = "listed_by_default")]
    pub listed: bool,
    /// Fingerprint of the key that signs its packages and metadata.
    #[serde(default)]
    pub key_fingerprint: Option<String>,
    /// Repos builds take BuildRequires from besides the project's own.
    #[serde(default)]
    pub additional_repos: Vec<String>,
    /// Whether builds may use the network.
    #[serde(default)]
    pub enable_net: bool,
    /// dnf priority of this project's repos in buildroots.
    #[serde(default)]
    pub repo_priority: Option<u32>,
}

/// What `PATCH /api/v1/projects/{owner}/{project}` changes; absent fields
/// stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProjectChanges {
    /// Older successful builds to keep per package and chroot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_older: Option<u32>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How to use the project's packages (plain text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Shown in the project directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<bool>,
    /// Replaces the additional repos (an empty list removes them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_repos: Option<Vec<String>>,
    /// Whether builds may use the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_net: Option<bool>,
    /// dnf priority of this project's repos in buildroots; 0 goes back to
    /// dnf's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_priority: Option<u32>,
    /// The new chroot set (replaces the old one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chroots: Option<Vec<ChrootName>>,
}

/// A project chroot's settings (`GET`/`PUT
/// /api/v1/projects/{owner}/{project}/chroots/{chroot}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChrootSettings {
    /// Packages installed into every buildroot of this chroot, before the
    /// BuildRequires.
    #[serde(default)]
    pub additional_packages: Vec<String>,
}

/// Storage used and allowed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Usage {
    /// Bytes stored.
    pub used_bytes: i64,
    /// Bytes allowed.
    pub quota_bytes: i64,
}

/// An owner's storage: the shared quota, and each project's use.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerStorage {
    /// The owner.
    pub owner: OwnerName,
    /// What the projects without a quota of their own use, against the
    /// owner's quota.
    pub shared: Usage,
    /// Every project of the owner.
    pub projects: Vec<ProjectStorage>,
}

/// One project's storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectStorage {
    /// The project's name.
    pub name: ProjectName,
    /// Bytes it stores.
    pub used_bytes: i64,
    /// Its own quota, when it has one (it then does not count against the
    /// owner's).
    pub own_quota_bytes: Option<i64>,
}

/// A request for more storage (`POST .../quota-requests`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewQuotaRequest {
    /// The quota asked for the project, bytes.
    pub bytes: i64,
    /// Why, for the administrators.
    pub reason: String,
}

/// A quota request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRequest {
    /// What answering names.
    pub id: i64,
    /// `owner/project`.
    pub project: String,
    /// Who asked.
    pub requester: Option<String>,
    /// The quota asked for, bytes.
    pub requested_bytes: i64,
    /// Why.
    pub reason: String,
    /// `pending`, `granted` or `denied`.
    pub state: String,
    /// The quota given, once granted.
    pub granted_bytes: Option<i64>,
    /// The administrator's message.
    pub answer: String,
    /// Unix seconds.
    pub created_on: i64,
    /// Unix seconds, once answered.
    pub answered_on: Option<i64>,
}

/// What `DELETE /api/v1/builds/{id}` answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedBuild {
    /// The build.
    pub id: BuildId,
    /// Bytes freed.
    pub freed_bytes: i64,
}

/// The package a build makes, once its source is known.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourcePackage {
    /// RPM name.
    pub name: String,
    /// `[epoch:]version-release`.
    pub version: String,
}

/// One chroot of a build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildChroot {
    /// The chroot.
    pub name: ChrootName,
    /// Its state.
    pub state: BuildState,
    /// Unix seconds, when a builder started it.
    pub started_on: Option<i64>,
    /// Unix seconds, when it ended.
    pub ended_on: Option<i64>,
    /// Where its results are served, with a trailing slash.
    pub result_url: Option<String>,
    /// Why it failed, when it did and the reason is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// How many times a builder took it (more than 1: its builders
    /// vanished and it was retried).
    #[serde(default)]
    pub attempts: i64,
    /// While pending: why it waits and when it is likely to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// The chroot whose build made its packages, when it was not built
    /// itself: a noarch build runs once per release and its packages are
    /// published to the release's other chroots too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_in: Option<ChrootName>,
}

/// Why a pending build chroot waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Builders are busy; it starts when its turn in the fair share comes.
    Queued,
    /// Its batch waits for the builds of another batch to end.
    Batch,
    /// Its owner runs as many builds as the owner may at once.
    OwnerLimit,
    /// No builder for its architecture (and needs) is connected.
    NoBuilder,
    /// It lost its builder and waits a moment before it is retried.
    Backoff,
}

/// Where a pending build chroot stands in the queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueInfo {
    /// The main reason it waits.
    pub reason: WaitReason,
    /// The explanation, for people.
    pub message: String,
    /// Its place in its owner's queue for its architecture (1 = next).
    pub owner_position: u64,
    /// How many of its owner's chroots wait for that architecture.
    pub owner_queue: u64,
    /// Chroots (of every owner) that start before it by the fair share.
    pub ahead: u64,
    /// Connected builders for its architecture.
    pub builders: u32,
    /// Their build slots.
    pub slots: u32,
    /// Builds that must end first (its batch waits for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<BuildId>,
    /// Unix seconds it is expected to start at, when that can be told.
    pub estimated_start: Option<i64>,
    /// Seconds it is expected to take (recent builds of the package, or
    /// of the architecture).
    pub expected_seconds: Option<i64>,
}

/// A build.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Build {
    /// Build number.
    pub id: BuildId,
    /// The project's owner.
    pub owner: OwnerName,
    /// The project.
    pub project: ProjectName,
    /// State of the whole build (Copr's aggregate rule).
    pub state: BuildState,
    /// The package, once known.
    pub source_package: Option<SourcePackage>,
    /// Who submitted it.
    pub submitter: Option<String>,
    /// Unix seconds.
    pub submitted_on: i64,
    /// Earliest chroot start.
    pub started_on: Option<i64>,
    /// Latest chroot end, when all ended.
    pub ended_on: Option<i64>,
    /// Per-chroot states.
    pub chroots: Vec<BuildChroot>,
    /// Order within its owner's queue, higher first.
    #[serde(default)]
    pub priority: i64,
    /// A background build: it waits for every other owner's normal builds.
    #[serde(default)]
    pub is_background: bool,
    /// For a build from a git repository: making its source RPM, shown as
    /// a chroot named `srpm-builds` (its log is read like a chroot's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_build: Option<BuildChroot>,
}

/// How a new build is queued (query parameters of the submit call).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildOptions {
    /// Order within the owner's queue, -100..=100, higher first.
    #[serde(default)]
    pub priority: i64,
    /// Let every other owner's normal builds go first.
    #[serde(default)]
    pub background: bool,
    /// Start only after every build of this build's batch ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_build_id: Option<BuildId>,
    /// Run in the same batch as this build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_build_id: Option<BuildId>,
}

/// What `POST /api/v1/projects/{owner}/{project}/builds/url` takes (the
/// queue options go in the query string, as for uploads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitUrl {
    /// An http(s) URL of a source RPM; the server fetches it (within its
    /// upload size limit and a time limit).
    pub url: String,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// The offset of the next page, when there is one. Lists of builds
    /// also page by keyset: `before=ID` lists only builds older than build
    /// ID, so asking `before` the last build of a page gets the next page
    /// at the same cost however deep it is (`offset` then counts from there).
    pub next_offset: Option<i64>,
}

/// One user's roles in a project (`GET .../permissions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRoles {
    /// The user.
    pub user: String,
    /// May build.
    pub builder: RoleState,
    /// May change settings and grant roles.
    pub admin: RoleState,
}

/// A change to one user's roles (`PUT .../permissions`); a missing role is
/// left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleUpdate {
    /// The new builder state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<RoleState>,
    /// The new admin state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<RoleState>,
}

/// What a user asks for (`POST .../permissions/request`): `true` asks for
/// a role, `false` gives it up; a missing role is left as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRequest {
    /// Ask for (or give up) the builder role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<bool>,
    /// Ask for (or give up) the admin role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
}

/// A group and its members (`GET /api/v1/groups/{name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The name without `@`.
    pub name: String,
    /// Members, admins first.
    pub members: Vec<GroupMember>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The user.
    pub user: String,
    /// Manages the membership and the group's projects.
    pub admin: bool,
}

/// What `POST /api/v1/groups` takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewGroup {
    /// The name without `@`.
    pub name: String,
}

/// What `PUT /api/v1/groups/{name}/members/{user}` takes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Membership {
    /// Whether the member administers the group.
    #[serde(default)]
    pub admin: bool,
}

/// What `POST /api/v1/projects/{owner}/{project}/fork` takes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForkRequest {
    /// The fork's owner.
    pub owner: OwnerName,
    /// The fork's name.
    pub name: ProjectName,
    /// Fork into an existing project (its builds are added to).
    #[serde(default)]
    pub confirm: bool,
}

/// What a fork made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forked {
    /// The fork.
    pub project: Project,
    /// How many builds were copied into it.
    pub builds: usize,
}

/// Where a package's builds come from (`koper build-package`, webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source_type", rename_all = "snake_case")]
pub enum PackageSource {
    /// A git repository a builder makes the source RPM from.
    Scm(ScmSource),
    /// A source RPM or spec file at an http(s) URL the server fetches.
    Link {
        /// The URL.
        url: String,
    },
    /// None: the package was reset (Copr's `unset`); it cannot be built
    /// until it gets a source again.
    Unset,
}

/// What adding or editing a package sets
/// (`POST`/`PUT /api/v1/projects/{owner}/{project}/packages/{name}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackageSettings {
    /// Its default source.
    #[serde(flatten)]
    pub source: PackageSource,
    /// Whether pushes to its repository rebuild it (webhooks).
    #[serde(default)]
    pub webhook_rebuild: bool,
}

/// A project's package.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Package {
    /// The project's owner.
    pub owner: OwnerName,
    /// The project.
    pub project: ProjectName,
    /// Its name.
    pub name: PackageName,
    /// Its default source and webhook setting.
    #[serde(flatten)]
    pub settings: PackageSettings,
}

/// One file of a build's results (`GET /api/v1/builds/{id}/files`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultFile {
    /// The chroot it belongs to.
    pub chroot: ChrootName,
    /// Its name in the result directory.
    pub name: String,
    /// Where it is served.
    pub url: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What a project's webhook did with a push.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookBuilds {
    /// The builds it made, one per matching package.
    pub builds: Vec<BuildId>,
}

/// A project's new webhook secret (`POST .../webhook-secret`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookSecret {
    /// The secret.
    pub secret: String,
    /// Where pushes are reported (it holds the secret).
    pub url: String,
}
