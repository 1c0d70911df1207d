//! The command line: every subcommand and option, with its environment
//! variable where it has one.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// koper: build RPMs in isolated buildroots and publish them as dnf
/// repositories.
#[derive(Debug, Parser)]
#[command(name = "koper", version, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the client finds its server and credentials.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Client config file [default: ~/.config/koper.toml, else copr-cli's
    /// ~/.config/copr].
    #[arg(long, env = "KOPER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The server's URL.
    #[arg(long, env = "KOPER_URL")]
    pub url: Option<String>,
    /// Your user name.
    #[arg(long, env = "KOPER_USER")]
    pub user: Option<String>,
    /// Your API token.
    #[arg(long, env = "KOPER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Output formats of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Text,
    /// JSON for programs.
    Json,
}

/// The data directory options of server-side commands.
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// Where all of the server's state lives.
    #[arg(long, env = "KOPER_DATA_DIR", default_value = "./var")]
    pub data_dir: PathBuf,
    /// Database URL (postgres://...) [default: the data directory's koper.toml,
    /// else SQLite in the data directory].
    #[arg(long, env = "KOPER_DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (with a local builder by default).
    Serve(ServeArgs),
    /// Run a builder that takes work from a server.
    Builder(BuilderArgs),
    /// Administer a server's data directory.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Create a project.
    Create(CreateArgs),
    /// List projects.
    List(ListArgs),
    /// List the chroots the server can build for.
    ListChroots(ClientOnly),
    /// Build a source RPM in a project: a file, or an http(s) URL of a
    /// source RPM or of a spec file (whose source RPM a builder makes).
    Build(BuildArgs),
    /// Build from a git repository: a builder makes the source RPM in its
    /// sandbox, then the chroots build it.
    BuildScm(BuildScmArgs),
    /// Add a package built from a git repository by default.
    AddPackageScm(PackageScmArgs),
    /// Change a package's git repository.
    EditPackageScm(PackageScmArgs),
    /// List a project's packages and their default sources.
    ListPackages(ProjectArgs),
    /// Clear a package's default source (Copr's reset-package); it keeps
    /// its builds and cannot be built by build-package until
    /// edit-package-scm gives it a source again.
    ResetPackage(PackageArgs),
    /// Delete a package (its builds stay).
    DeletePackage(PackageArgs),
    /// Build a package from its default source.
    BuildPackage(BuildPackageArgs),
    /// Make a new secret for the project's webhook (pushes rebuild its
    /// packages with --webhook-rebuild) and print the webhook's URL.
    NewWebhookSecret(ProjectArgs),
    /// Show a build's state.
    Status(BuildIdArgs),
    /// Follow a build until it ends.
    WatchBuild(BuildIdArgs),
    /// List a project's builds.
    ListBuilds(ListBuildsArgs),
    /// Cancel a build.
    Cancel(BuildIdArgs),
    /// Delete builds; their space is freed at once.
    DeleteBuild(DeleteBuildArgs),
    /// Who holds or asks for a role in a project (its owner and admins
    /// may look).
    ListPermissions(ListPermissionsArgs),
    /// Grant, deny or take back roles in a project.
    EditPermissions(EditPermissionsArgs),
    /// Ask the owner of a project for a role in it, or give one up.
    RequestPermissions(RequestPermissionsArgs),
    /// Groups (`@name` owners) and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Download a build's results (packages and logs) into a directory.
    DownloadBuild(DownloadBuildArgs),
    /// Print a mock profile that reproduces a project chroot's builds.
    MockConfig(MockConfigArgs),
    /// Copy a project, with the newest build of each package, under
    /// another owner or name.
    Fork(ForkArgs),
    /// Delete a project with its builds and repositories.
    Delete(DeleteArgs),
    /// Show an owner's storage use and quota.
    Quota(QuotaArgs),
    /// Ask the instance's administrators for more storage for a project
    /// (it gets a quota of its own), or with --list show your requests.
    RequestQuota(RequestQuotaArgs),
    /// Change a project's settings.
    Modify(ModifyArgs),
    /// Change a project chroot's settings (extra buildroot packages).
    EditChroot(EditChrootArgs),
    /// Show a project chroot's settings.
    GetChroot(GetChrootArgs),
    /// Add already-built RPMs to a project, without a build.
    UploadRpm(UploadRpmArgs),
    /// Search the project directory (listed projects).
    Search(SearchArgs),
    /// Merge local RPMs into a remote repository's metadata and push the
    /// result (a local directory or a koper project).
    SyncToRepo(SyncToRepoArgs),
    /// Copy a project's repositories, incrementally, checking signatures.
    Mirror(MirrorArgs),
    /// Enable a project's repository (and those it depends on) for dnf on
    /// this host, as `dnf copr enable` does.
    Enable(EnableArgs),
    /// Disable a project's repositories enabled with `koper enable`.
    Disable(DisableArgs),
    /// Show who the configured token belongs to.
    Whoami(ClientOnly),
    /// Write rpm-md metadata (repodata/) for a directory of RPMs, like
    /// createrepo_c.
    Createrepo(CreaterepoArgs),
}

/// Options of `koper createrepo`.
#[derive(Debug, Args)]
pub struct CreaterepoArgs {
    /// The directory whose RPMs (at any depth) the repository lists.
    pub dir: PathBuf,
    /// Reuse the metadata of packages whose files did not change.
    #[arg(long)]
    pub update: bool,
    /// Compress the metadata with zstd instead of gzip.
    #[arg(long)]
    pub zstd: bool,
    /// Changelog entries kept per package.
    #[arg(long, default_value_t = 10)]
    pub changelog_limit: usize,
    /// Where the metadata cache lives [default: ~/.cache/koper/createrepo/HASH].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
}

/// Options of `koper serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// Address to listen on [default: 127.0.0.1:5050].
    #[arg(long, env = "KOPER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The URL users and builders reach this server at [default:
    /// http://LISTEN].
    #[arg(long, env = "KOPER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "KOPER_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "KOPER_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Builders to run inside this process [default: 1]; 0 for none.
    #[arg(long, env = "KOPER_BUILDERS")]
    pub builders: Option<u32>,
    /// Largest accepted upload in bytes [default: 1 GiB].
    #[arg(long, env = "KOPER_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Algorithm of new project signing keys: rsa4096 (default) or ed25519.
    #[arg(long, env = "KOPER_SIGNING_KEY_ALGORITHM")]
    pub signing_key_algorithm: Option<String>,
    /// Storage quota of owners without one of their own, bytes [default:
    /// 1 GiB].
    #[arg(long, env = "KOPER_DEFAULT_QUOTA_BYTES")]
    pub default_quota_bytes: Option<u64>,
    /// Most builds an owner runs at once unless `koper admin set-limit`
    /// gave it a limit of its own [default: 0, no limit].
    #[arg(long, env = "KOPER_MAX_RUNNING_PER_OWNER")]
    pub max_running_per_owner: Option<u64>,
    /// The local builders' caches and scratch space; every ancestor must be
    /// traversable by the unprivileged build uids [default:
    /// /var/tmp/koper-builder-HASH, one per data directory].
    #[arg(long, env = "KOPER_BUILDER_DIR")]
    pub builder_dir: Option<PathBuf>,
    #[command(flatten)]
    pub limits: BuildLimitArgs,
}

/// Options of `koper builder`.
#[derive(Debug, Args)]
pub struct BuilderArgs {
    /// The server's URL.
    #[arg(long, env = "KOPER_SERVER")]
    pub server: String,
    /// This builder's token (`koper admin add-builder NAME` prints one).
    #[arg(long, env = "KOPER_BUILDER_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Architectures to build for [default: this host's].
    #[arg(long = "arch")]
    pub arches: Vec<String>,
    /// Builds to run at once.
    #[arg(long, default_value_t = 1)]
    pub slots: u32,
    /// A capability this builder offers (repeat for several); chroots
    /// whose definition lists `tags` go only to builders offering them all.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Buildroot caches and scratch space; every ancestor must be
    /// traversable by the unprivileged build uids.
    #[arg(
        long,
        env = "KOPER_BUILDER_DIR",
        default_value = "/var/tmp/koper-builder"
    )]
    pub work_dir: PathBuf,
    /// Trust the certificates in this PEM file (a server with its own CA).
    #[arg(long, env = "KOPER_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    #[command(flatten)]
    pub limits: BuildLimitArgs,
}

/// What one build may use (sizes like `512M` or `8GiB`; 0 turns a limit
/// off). Memory and processes are limited with cgroups (v2 or v1).
#[derive(Debug, Clone, Args)]
pub struct BuildLimitArgs {
    /// Memory of a build's processes together, tmpfs included [default: 8G].
    #[arg(long, env = "KOPER_BUILD_MEMORY", value_parser = parse_size)]
    pub build_memory: Option<u64>,
    /// Processes and threads a build may have at once [default: 4096].
    #[arg(long, env = "KOPER_BUILD_PROCESSES")]
    pub build_processes: Option<u64>,
    /// Largest file a build may write [default: 16G].
    #[arg(long, env = "KOPER_BUILD_MAX_FILE", value_parser = parse_size)]
    pub build_max_file: Option<u64>,
    /// Disk a build may fill: buildroot changes, build tree and packages
    /// [default: 64G].
    #[arg(long, env = "KOPER_BUILD_DISK", value_parser = parse_size)]
    pub build_disk: Option<u64>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    koper_types::parse_bytes(text).map(|bytes| bytes.unsigned_abs())
}

/// `koper admin` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user and print its client configuration (with a new token).
    AddUser {
        #[command(flatten)]
        data: DataDirArgs,
        /// The user's name.
        name: String,
        /// Make the user an administrator of the instance.
        #[arg(long)]
        admin: bool,
        /// Also give the user a password for the web pages, read from the
        /// first line of standard input.
        #[arg(long)]
        password: bool,
    },
    /// Set a user's password for the web pages, read from the first line
    /// of standard input; the user's browser sessions end.
    SetPassword {
        #[command(flatten)]
        data: DataDirArgs,
        /// The user's name.
        name: String,
    },
    /// Issue another API token for an existing user.
    NewToken {
        #[command(flatten)]
        data: DataDirArgs,
        /// The user's name.
        name: String,
    },
    /// Rebuild a project's repository metadata from its published builds.
    RegenerateRepos {
        #[command(flatten)]
        data: DataDirArgs,
        /// OWNER/PROJECT.
        project: String,
    },
    /// Show the queue by state and architecture, the builders and recent
    /// build and publish durations (what `/metrics` exports).
    Status {
        #[command(flatten)]
        data: DataDirArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Register a builder and print its token.
    AddBuilder {
        #[command(flatten)]
        data: DataDirArgs,
        /// The builder's name.
        name: String,
    },
    /// Set how many builds an owner may run at once (`default`: the
    /// instance's max_running_per_owner).
    SetLimit {
        #[command(flatten)]
        data: DataDirArgs,
        /// The owner (a user, or @group).
        owner: String,
        /// A number of builds, or `default`.
        max_running: String,
    },
    /// Set the storage quota of an owner, or of one project (which then
    /// no longer counts against its owner's).
    SetQuota {
        #[command(flatten)]
        data: DataDirArgs,
        /// OWNER or OWNER/PROJECT.
        target: String,
        /// A size (`10GiB`, `500M`, bytes), or `default`.
        size: String,
    },
    /// List quota requests: those waiting for an answer, or all.
    QuotaRequests {
        #[command(flatten)]
        data: DataDirArgs,
        /// Also the answered ones.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Grant a quota request: the project's quota becomes the size asked,
    /// or --size.
    GrantQuota {
        #[command(flatten)]
        data: DataDirArgs,
        /// The request's number (`koper admin quota-requests`).
        id: i64,
        /// Grant this size instead of the one asked.
        #[arg(long)]
        size: Option<String>,
        /// A message for the requester.
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Deny a quota request, saying why.
    DenyQuota {
        #[command(flatten)]
        data: DataDirArgs,
        /// The request's number (`koper admin quota-requests`).
        id: i64,
        /// Why, for the requester.
        #[arg(long)]
        message: String,
    },
    /// Hide a project from the directory, search, user pages and the home
    /// page (its address keeps working); the owner sees the reason.
    HideProject(ModerateProjectArgs),
    /// List a hidden project again.
    UnhideProject(ModerateProjectArgs),
    /// Disable a project: no new builds, and its pages and repos are
    /// served only to those who manage it; the owner sees the reason.
    DisableProject(ModerateProjectArgs),
    /// Enable a disabled project again.
    EnableProject(ModerateProjectArgs),
    /// Disable a user: no sign-in, API tokens refused, their projects
    /// disabled; the user is told the reason.
    DisableUser(ModerateUserArgs),
    /// Enable a disabled user again.
    EnableUser(ModerateUserArgs),
    /// Have builders make a chroot's base root again before its next
    /// build (after its base repos changed).
    RefreshChroot {
        #[command(flatten)]
        data: DataDirArgs,
        /// The chroot.
        chroot: String,
    },
}

/// Options of the `koper admin` commands moderating a project.
#[derive(Debug, Args)]
pub struct ModerateProjectArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// OWNER/PROJECT.
    pub project: String,
    /// Why (needed to hide or disable), shown to the owner.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Options of the `koper admin` commands moderating a user.
#[derive(Debug, Args)]
pub struct ModerateUserArgs {
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The user's name.
    pub name: String,
    /// Why (needed to disable), shown to the user.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Commands that only need the client settings.
#[derive(Debug, Args)]
pub struct ClientOnly {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Options of `koper create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// A chroot to build for (repeat for several).
    #[arg(long = "chroot", required = true)]
    pub chroots: Vec<String>,
    /// Free text shown with the project.
    #[arg(long, default_value = "")]
    pub description: String,
    /// How to use the project's packages, shown as plain text on the
    /// project page.
    #[arg(long, default_value = "")]
    pub instructions: String,
    /// Older successful builds to keep per package and chroot besides the
    /// newest, so users can downgrade [default: 0].
    #[arg(long, default_value_t = 0)]
    pub retain: u32,
    /// Leave the project out of the project directory.
    #[arg(long)]
    pub unlisted: bool,
    #[command(flatten)]
    pub buildroot: BuildrootArgs,
}

/// `on` or `off`, as copr-cli spells switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl OnOff {
    /// Whether this is `on`.
    pub fn is_on(self) -> bool {
        self == Self::On
    }
}

/// What a project's builds take their BuildRequires from.
#[derive(Debug, Args)]
pub struct BuildrootArgs {
    /// A repo builds take BuildRequires from: copr://OWNER/PROJECT (and
    /// what that project depends on) or an http(s) URL, where $releasever
    /// and $basearch are expanded per chroot (repeat for several).
    #[arg(long = "repo", value_name = "REPO")]
    pub repos: Vec<String>,
    /// Whether builds may use the network.
    #[arg(long, value_enum, value_name = "on|off")]
    pub enable_net: Option<OnOff>,
    /// dnf priority of this project's repos in buildroots (lower wins; 0:
    /// dnf's default).
    #[arg(long, value_name = "N")]
    pub repo_priority: Option<u32>,
}

/// Options of `koper edit-chroot`.
#[derive(Debug, Args)]
pub struct EditChrootArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT/CHROOT, or PROJECT/CHROOT for one of your own.
    pub chroot: String,
    /// Packages installed into every buildroot of this chroot, separated
    /// by spaces ("" for none).
    #[arg(long)]
    pub packages: Option<String>,
}

/// Options of `koper get-chroot`.
#[derive(Debug, Args)]
pub struct GetChrootArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT/CHROOT, or PROJECT/CHROOT for one of your own.
    pub chroot: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only this owner's projects [default: yours; `--all` for everyone's].
    pub owner: Option<String>,
    /// Every project on the server.
    #[arg(long, conflicts_with = "owner")]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The source RPM to build: a file to upload, or an http(s) URL the
    /// server fetches. A URL may also serve a spec file: a builder then
    /// makes the source RPM with `rpmbuild -bs`, after fetching the
    /// spec's Source/Patch files that are http(s) URLs.
    pub srpm: PathBuf,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

/// Where a new build goes and whether to follow it.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Build only for this chroot (repeat for several) [default: all of
    /// the project's].
    #[arg(long = "chroot", short = 'r')]
    pub chroots: Vec<String>,
    /// Print the build id and return at once.
    #[arg(long)]
    pub nowait: bool,
    /// Order among your own waiting builds, 0..=100 (higher first).
    #[arg(long, default_value_t = 0)]
    pub priority: i64,
    /// Let everyone else's normal builds go first (for mass rebuilds).
    #[arg(long)]
    pub background: bool,
    /// Start only after every build of this build's batch has ended.
    #[arg(long, value_name = "BUILD_ID", conflicts_with = "with_build_id")]
    pub after_build_id: Option<String>,
    /// Build in the same batch as this build (side by side with it).
    #[arg(long, value_name = "BUILD_ID")]
    pub with_build_id: Option<String>,
}

/// Options of `koper build-scm`.
#[derive(Debug, Args)]
pub struct BuildScmArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    #[command(flatten)]
    pub scm: ScmArgs,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

/// Options of `koper add-package-scm` and `koper edit-package-scm`.
#[derive(Debug, Args)]
pub struct PackageScmArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The package's name.
    pub package: String,
    #[command(flatten)]
    pub scm: ScmArgs,
    /// Rebuild it when its repository's webhook reports a push.
    #[arg(long)]
    pub webhook_rebuild: bool,
}

/// A project named on the command line.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
}

/// A package of a project.
#[derive(Debug, Args)]
pub struct PackageArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The package's name.
    pub package: String,
}

/// Options of `koper build-package`.
#[derive(Debug, Args)]
pub struct BuildPackageArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The package to build from its default source.
    pub package: String,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

/// A git repository to make the source RPM from (Copr's SCM source).
#[derive(Debug, Args)]
pub struct ScmArgs {
    /// The repository's http(s) or git:// URL.
    #[arg(long)]
    pub clone_url: String,
    /// Branch, tag or commit to build [default: the default branch].
    #[arg(long, default_value = "")]
    pub commit: String,
    /// Directory of the repository holding the spec file.
    #[arg(long, default_value = "")]
    pub subdir: String,
    /// The spec file, relative to --subdir [default: the only *.spec there].
    #[arg(long, default_value = "")]
    pub spec: String,
    /// How the source RPM is made: rpkg (rpmbuild -bs on the spec and the
    /// files next to it) or make_srpm (`make -f .copr/Makefile srpm`).
    #[arg(long, default_value = "rpkg")]
    pub method: String,
}

/// A build id argument.
#[derive(Debug, Args)]
pub struct BuildIdArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The build's number.
    pub build_id: String,
}

/// Options of `koper list-builds`.
#[derive(Debug, Args)]
pub struct ListBuildsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper delete-build`.
#[derive(Debug, Args)]
pub struct DeleteBuildArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The builds' numbers.
    #[arg(required = true)]
    pub build_ids: Vec<String>,
}

/// Options of `koper quota`.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The owner [default: you].
    pub owner: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper request-quota`.
#[derive(Debug, Args)]
pub struct RequestQuotaArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The quota asked for (`5GiB`, `500M`, bytes).
    #[arg(long, required_unless_present = "list")]
    pub size: Option<String>,
    /// Why the project needs it, for the administrators.
    #[arg(long, required_unless_present = "list")]
    pub reason: Option<String>,
    /// Show the project's requests and their answers instead.
    #[arg(long, conflicts_with_all = ["size", "reason"])]
    pub list: bool,
    /// Output format of --list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper modify`.
#[derive(Debug, Args)]
pub struct ModifyArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// Older successful builds to keep per package and chroot besides the
    /// newest.
    #[arg(long)]
    pub retain: Option<u32>,
    /// Free text shown with the project.
    #[arg(long)]
    pub description: Option<String>,
    /// How to use the project's packages (an empty text removes them).
    #[arg(long)]
    pub instructions: Option<String>,
    /// Show the project in the project directory.
    #[arg(long, conflicts_with = "unlisted")]
    pub listed: bool,
    /// Leave the project out of the project directory.
    #[arg(long)]
    pub unlisted: bool,
    /// Replaces the project's repos with the `--repo` options given.
    #[command(flatten)]
    pub buildroot: BuildrootArgs,
    /// Remove all of the project's additional repos.
    #[arg(long, conflicts_with = "repos")]
    pub no_repos: bool,
    /// Build for these chroots from now on (repeat; replaces the set).
    #[arg(long = "chroot")]
    pub chroots: Vec<koper_types::ChrootName>,
}

/// Options of `koper upload-rpm`.
#[derive(Debug, Args)]
pub struct UploadRpmArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The chroot whose repo gets the packages.
    #[arg(long, short = 'r')]
    pub chroot: String,
    /// Binary RPMs (for the chroot's arch or noarch), optionally with their
    /// source RPM.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Options of `koper search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Text to look for in owners, names and descriptions [default: list
    /// every listed project].
    #[arg(default_value = "")]
    pub query: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper sync-to-repo`.
#[derive(Debug, Args)]
pub struct SyncToRepoArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The directory holding the RPMs to add.
    pub local_dir: PathBuf,
    /// The URL of the repository whose metadata is merged (a directory
    /// holding `repodata/`).
    #[arg(long)]
    pub read: String,
    /// Where the result goes: a local directory, or `koper://OWNER/PROJECT/CHROOT`
    /// for a koper project's chroot repo.
    #[arg(long)]
    pub write: String,
}

/// Options of `koper delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
}

/// Options of `koper enable`.
#[derive(Debug, Args)]
pub struct EnableArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The chroot (`fedora-42`, `epel-9`, or a full chroot name) [default:
    /// guessed from /etc/os-release, as dnf's copr plugin does].
    pub chroot: Option<String>,
    /// dnf's repo directory.
    #[arg(long, default_value = "/etc/yum.repos.d")]
    pub reposdir: PathBuf,
}

/// Options of `koper disable`.
#[derive(Debug, Args)]
pub struct DisableArgs {
    /// OWNER/PROJECT.
    pub project: String,
    /// dnf's repo directory.
    #[arg(long, default_value = "/etc/yum.repos.d")]
    pub reposdir: PathBuf,
}

/// Options of `koper mirror`.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT.
    pub project: String,
    /// The local directory to mirror into.
    pub dest: PathBuf,
}

/// Options of `koper download-build`.
#[derive(Debug, Args)]
pub struct DownloadBuildArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The build.
    pub id: String,
    /// Where to put the files (one directory per chroot).
    #[arg(long, default_value = ".")]
    pub dest: PathBuf,
    /// Only these chroots' results.
    #[arg(long = "chroot")]
    pub chroots: Vec<String>,
}

/// Options of `koper mock-config`.
#[derive(Debug, Args)]
pub struct MockConfigArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// The chroot.
    pub chroot: String,
}

/// Options of `koper fork`.
#[derive(Debug, Args)]
pub struct ForkArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The project to copy: OWNER/PROJECT, or PROJECT for one of your own.
    pub source: String,
    /// The fork: OWNER/PROJECT, or PROJECT for one of your own.
    pub destination: String,
    /// Copy into the destination even though it exists.
    #[arg(long)]
    pub confirm: bool,
}

/// Options of `koper list-permissions`.
#[derive(Debug, Args)]
pub struct ListPermissionsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Options of `koper edit-permissions`.
#[derive(Debug, Args)]
pub struct EditPermissionsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT, or PROJECT for one of your own.
    pub project: String,
    /// USER or USER=STATE (nothing, request, approved; default approved):
    /// the builder role. Repeat for several users.
    #[arg(long = "builder", value_name = "USER[=STATE]")]
    pub builders: Vec<String>,
    /// USER or USER=STATE: the admin role. Repeat for several users.
    #[arg(long = "admin", value_name = "USER[=STATE]")]
    pub admins: Vec<String>,
}

/// Options of `koper request-permissions`.
#[derive(Debug, Args)]
pub struct RequestPermissionsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// OWNER/PROJECT.
    pub project: String,
    /// Ask for the builder role.
    #[arg(long)]
    pub builder: bool,
    /// Ask for the admin role.
    #[arg(long)]
    pub admin: bool,
    /// Give the named roles up instead of asking for them.
    #[arg(long)]
    pub give_up: bool,
}

/// `koper group ...`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group; you become its admin.
    Create(GroupArgs),
    /// Show a group's members.
    Show(GroupArgs),
    /// List every group.
    List(ClientOnly),
    /// Add a member (or change whether they administer the group).
    AddMember(GroupMemberArgs),
    /// Remove a member.
    RemoveMember(GroupMemberArgs),
}

/// A group named on the command line.
#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The group, with or without `@`.
    pub group: String,
}

/// A group and one of its members.
#[derive(Debug, Args)]
pub struct GroupMemberArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The group, with or without `@`.
    pub group: String,
    /// The member's user name.
    #[arg(value_name = "USER")]
    pub member: String,
    /// The member administers the group (manages members and projects).
    #[arg(long)]
    pub admin: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap checks the definitions (unique argument names, ...) only when a
    /// subcommand is parsed; this checks every one at once.
    #[test]
    fn every_command_is_well_defined() {
        Cli::command().debug_assert();
    }
}
