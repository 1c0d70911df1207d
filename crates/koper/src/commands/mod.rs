//! One module per group of commands.

mod access;
mod admin;
mod builder;
mod builds;
mod enable;
mod packages;
mod projects;
mod repo;
mod repos;
mod serve;

use koper_client::{Client, ClientConfig, ConfigOverrides};

use crate::cli::{ClientArgs, Command};
use crate::exit::{CommandResult, Failure};

/// Runs one command.
pub async fn run(command: Command) -> CommandResult {
    match command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Builder(args) => builder::builder(args).await,
        Command::Admin(command) => admin::admin(command).await,
        Command::Create(args) => projects::create(args).await,
        Command::List(args) => projects::list(args).await,
        Command::ListChroots(args) => projects::list_chroots(args).await,
        Command::Whoami(args) => projects::whoami(args).await,
        Command::Build(args) => builds::build(args).await,
        Command::BuildScm(args) => builds::build_scm(args).await,
        Command::AddPackageScm(args) => packages::set_scm(args, false).await,
        Command::EditPackageScm(args) => packages::set_scm(args, true).await,
        Command::ListPackages(args) => packages::list(args).await,
        Command::ResetPackage(args) => packages::reset(args).await,
        Command::DeletePackage(args) => packages::delete(args).await,
        Command::BuildPackage(args) => packages::build(args).await,
        Command::NewWebhookSecret(args) => packages::new_webhook_secret(args).await,
        Command::Status(args) => builds::status(args).await,
        Command::WatchBuild(args) => builds::watch(args).await,
        Command::ListBuilds(args) => builds::list(args).await,
        Command::Cancel(args) => builds::cancel(args).await,
        Command::Createrepo(args) => repo::createrepo(args).await,
        Command::DeleteBuild(args) => builds::delete(args).await,
        Command::UploadRpm(args) => builds::upload_rpm(args).await,
        Command::Quota(args) => projects::quota(args).await,
        Command::RequestQuota(args) => projects::request_quota(args).await,
        Command::Modify(args) => projects::modify(args).await,
        Command::Delete(args) => projects::delete(args).await,
        Command::Fork(args) => projects::fork(args).await,
        Command::DownloadBuild(args) => builds::download(args).await,
        Command::MockConfig(args) => projects::mock_config(args).await,
        Command::ListPermissions(args) => access::list_permissions(args).await,
        Command::EditPermissions(args) => access::edit_permissions(args).await,
        Command::RequestPermissions(args) => access::request_permissions(args).await,
        Command::Group(command) => access::group(command).await,
        Command::EditChroot(args) => projects::edit_chroot(args).await,
        Command::GetChroot(args) => projects::get_chroot(args).await,
        Command::Search(args) => projects::search(args).await,
        Command::SyncToRepo(args) => repos::sync_to_repo(args).await,
        Command::Mirror(args) => repos::mirror(args).await,
        Command::Enable(args) => enable::enable(args).await,
        Command::Disable(args) => enable::disable(args).await,
    }
}

/// A client from the layered settings.
fn client(args: &ClientArgs) -> Result<Client, Failure> {
    let config = ClientConfig::load(&ConfigOverrides {
        config_file: args.config.clone(),
        url: args.url.clone(),
        user: args.user.clone(),
        token: args.token.clone(),
    })?;
    Ok(Client::new(config)?)
}

/// `OWNER/PROJECT`, or `PROJECT` owned by the configured user.
fn project_ref(client: &Client, text: &str) -> Result<koper_types::ProjectRef, Failure> {
    koper_types::ProjectRef::parse_with_default(text, client.config().user.as_deref()).map_err(
        |e| {
            Failure::new(2, e.to_string())
                .hint("write the project as OWNER/PROJECT, or set `user` in ~/.config/koper.toml")
        },
    )
}

impl crate::cli::BuildLimitArgs {
    /// Overrides the builder's default limits with the ones given; 0 turns
    /// a limit off.
    pub fn apply(&self, limits: &mut koper_builder::ResourceLimits) {
        let set = |limit: &mut Option<u64>, given: Option<u64>| {
            if let Some(value) = given {
                *limit = (value > 0).then_some(value);
            }
        };
        set(&mut limits.memory_bytes, self.build_memory);
        set(&mut limits.max_processes, self.build_processes);
        set(&mut limits.max_file_bytes, self.build_max_file);
        set(&mut limits.max_disk_bytes, self.build_disk);
    }
}
