//! `koper add-package-scm`, `edit-package-scm`, `list-packages`,
//! `delete-package`, `build-package` and `new-webhook-secret`.

use std::process::ExitCode;

use koper_api::v1;
use koper_types::PackageName;

use super::builds::{announce_and_follow, scm_source, submission};
use super::{client, project_ref};
use crate::cli::{BuildPackageArgs, PackageArgs, PackageScmArgs, ProjectArgs};
use crate::exit::{CommandResult, Failure};

fn package_name(text: &str) -> Result<PackageName, Failure> {
    text.parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))
}

pub async fn set_scm(args: PackageScmArgs, edit: bool) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let name = package_name(&args.package)?;
    let settings = v1::PackageSettings {
        source: v1::PackageSource::Scm(scm_source(&args.scm)?),
        webhook_rebuild: args.webhook_rebuild,
    };
    let package = client.set_package(&project, &name, &settings, edit).await?;
    eprintln!(
        "Package {} of {}/{} builds from {}.",
        package.name,
        package.owner,
        package.project,
        describe(&package.settings.source)
    );
    Ok(ExitCode::SUCCESS)
}

/// One line saying where a package is built from.
fn describe(source: &v1::PackageSource) -> String {
    match source {
        v1::PackageSource::Scm(scm) => {
            let mut text = scm.clone_url.clone();
            for (what, value) in [
                ("at", &scm.committish),
                ("in", &scm.subdirectory),
                ("spec", &scm.spec),
            ] {
                if !value.is_empty() {
                    text.push_str(&format!(" {what} {value}"));
                }
            }
            format!("{text} ({})", scm.method)
        }
        v1::PackageSource::Link { url } => url.clone(),
        v1::PackageSource::Unset => "(no default source)".to_owned(),
    }
}

pub async fn list(args: ProjectArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    for package in client.list_packages(&project).await? {
        let webhook = if package.settings.webhook_rebuild {
            "  [webhook]"
        } else {
            ""
        };
        println!(
            "{}  {}{webhook}",
            package.name,
            describe(&package.settings.source)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn reset(args: PackageArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let name = package_name(&args.package)?;
    let package = client.reset_package(&project, &name).await?;
    eprintln!(
        "Package {} of {}/{} has no default source now; give it one with edit-package-scm.",
        package.name, package.owner, package.project
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(args: PackageArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let name = package_name(&args.package)?;
    let package = client.delete_package(&project, &name).await?;
    eprintln!(
        "Package {} was deleted from {}/{}; its builds stay.",
        package.name, package.owner, package.project
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn build(args: BuildPackageArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let name = package_name(&args.package)?;
    let (chroots, options) = submission(&args.submit)?;
    let build = client
        .build_package(&project, &name, &chroots, &options)
        .await?;
    announce_and_follow(&client, build, args.submit.nowait).await
}

pub async fn new_webhook_secret(args: ProjectArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let made = client.new_webhook_secret(&project).await?;
    println!("{}", made.url);
    eprintln!(
        "Pushes reported to this URL (GitHub, GitLab, or {{\"clone_url\": ...}}) rebuild the \
         packages of {}/{} whose clone URL matches; the old URL no longer works.",
        project.owner, project.name
    );
    Ok(ExitCode::SUCCESS)
}
