//! `koper create`, `koper list`, `koper list-chroots`, `koper whoami`.

use std::process::ExitCode;

use koper_api::v1;
use koper_types::{ChrootName, OwnerName};

use super::{client, project_ref};
use crate::cli::{ClientOnly, CreateArgs, ListArgs, OutputFormat};
use crate::exit::{CommandResult, Failure};

pub async fn create(args: CreateArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let chroots = args
        .chroots
        .iter()
        .map(|c| c.parse::<ChrootName>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(2, e.to_string()).hint("see `koper list-chroots`"))?;
    let created = client
        .create_project(&v1::NewProject {
            owner: project.owner,
            name: project.name,
            chroots,
            description: args.description,
            retain_older: args.retain,
            listed: !args.unlisted,
        })
        .await?;
    println!("{}", created.full_name);
    eprintln!(
        "Project {} was created. Its repositories:",
        created.full_name
    );
    for chroot in &created.chroots {
        eprintln!("  {}/{chroot}/", created.repo_url);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: ListArgs) -> CommandResult {
    let client = client(&args.client)?;
    let owner: Option<OwnerName> = if args.all {
        None
    } else {
        match args.owner.as_deref().or(client.config().user.as_deref()) {
            Some(owner) => Some(
                owner
                    .parse()
                    .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?,
            ),
            None => None,
        }
    };
    let projects = client.projects(owner.as_ref()).await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&projects).map_err(Failure::local)?
        ),
        OutputFormat::Text => {
            if projects.is_empty() {
                eprintln!("No projects.");
            }
            for project in projects {
                let chroots: Vec<&str> = project.chroots.iter().map(ChrootName::as_str).collect();
                println!("{}", project.full_name);
                if !project.description.is_empty() {
                    println!("  description: {}", project.description);
                }
                println!("  chroots:     {}", chroots.join(" "));
                println!("  repos:       {}/", project.repo_url);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list_chroots(args: ClientOnly) -> CommandResult {
    let client = client(&args.client)?;
    for chroot in client.chroots().await? {
        println!("{}", chroot.name);
        if !chroot.description.is_empty() {
            println!("    {}", chroot.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(args: ClientOnly) -> CommandResult {
    let client = client(&args.client)?;
    let me = client.me().await?;
    println!("{}", me.name);
    Ok(ExitCode::SUCCESS)
}
