//! `koper create`, `koper list`, `koper list-chroots`, `koper whoami`.

use std::process::ExitCode;

use koper_api::v1;
use koper_types::{ChrootName, OwnerName, format_bytes};

use super::{client, project_ref};
use crate::cli::{
    ClientOnly, CreateArgs, ListArgs, ModifyArgs, OutputFormat, QuotaArgs, SearchArgs,
};
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
            print_projects(&projects);
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

fn print_projects(projects: &[v1::Project]) {
    for project in projects {
        let chroots: Vec<&str> = project.chroots.iter().map(ChrootName::as_str).collect();
        println!("{}", project.full_name);
        if !project.description.is_empty() {
            println!("  description: {}", project.description);
        }
        println!("  chroots:     {}", chroots.join(" "));
        println!("  repos:       {}/", project.repo_url);
        if project.retain_older > 0 {
            println!(
                "  keeps:       {} older build(s) per package",
                project.retain_older
            );
        }
    }
}

pub async fn quota(args: QuotaArgs) -> CommandResult {
    let client = client(&args.client)?;
    let owner: OwnerName = args
        .owner
        .as_deref()
        .or(client.config().user.as_deref())
        .ok_or_else(|| {
            Failure::new(2, "which owner?")
                .hint("give an OWNER, or set `user` in ~/.config/koper.toml")
        })?
        .parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    let storage = client.storage(&owner).await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&storage).map_err(Failure::local)?
        ),
        OutputFormat::Text => {
            let shared = &storage.shared;
            println!(
                "{}: {} of {} used ({:.0}%)",
                storage.owner,
                format_bytes(shared.used_bytes),
                format_bytes(shared.quota_bytes),
                percent(shared.used_bytes, shared.quota_bytes)
            );
            for project in &storage.projects {
                match project.own_quota_bytes {
                    Some(quota) => println!(
                        "  {:<24} {} of its own {}",
                        project.name,
                        format_bytes(project.used_bytes),
                        format_bytes(quota)
                    ),
                    None => println!(
                        "  {:<24} {}",
                        project.name,
                        format_bytes(project.used_bytes)
                    ),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(used: i64, quota: i64) -> f64 {
    if quota <= 0 {
        return 100.0;
    }
    used as f64 * 100.0 / quota as f64
}

pub async fn modify(args: ModifyArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let changes = v1::ProjectChanges {
        retain_older: args.retain,
        description: args.description,
        listed: if args.listed {
            Some(true)
        } else if args.unlisted {
            Some(false)
        } else {
            None
        },
    };
    let modified = client
        .modify_project(&project.owner, &project.name, &changes)
        .await?;
    eprintln!("Project {} was changed.", modified.full_name);
    print_projects(&[modified]);
    Ok(ExitCode::SUCCESS)
}

pub async fn search(args: SearchArgs) -> CommandResult {
    let client = client(&args.client)?;
    let projects = client.search_projects(&args.query).await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&projects).map_err(Failure::local)?
        ),
        OutputFormat::Text => {
            if projects.is_empty() {
                eprintln!("No listed project matches.");
            }
            print_projects(&projects);
        }
    }
    Ok(ExitCode::SUCCESS)
}
