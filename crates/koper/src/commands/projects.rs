//! `koper create`, `koper list`, `koper list-chroots`, `koper whoami`, and
//! the other project commands (settings, storage, quota requests).

use std::process::ExitCode;

use koper_api::v1;
use koper_types::{ChrootName, OwnerName, format_bytes};

use super::{client, project_ref};
use crate::cli::{
    ClientOnly, CreateArgs, DeleteArgs, EditChrootArgs, ForkArgs, GetChrootArgs, ListArgs,
    MockConfigArgs, ModifyArgs, OutputFormat, QuotaArgs, RequestQuotaArgs, SearchArgs,
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
            instructions: args.instructions,
            retain_older: args.retain,
            listed: !args.unlisted,
            additional_repos: args.buildroot.repos,
            enable_net: args.buildroot.enable_net.is_some_and(|v| v.is_on()),
            repo_priority: args.buildroot.repo_priority,
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
        if !project.additional_repos.is_empty() {
            println!("  builds with: {}", project.additional_repos.join(" "));
        }
        if project.enable_net {
            println!("  network:     enabled in builds");
        }
        if let Some(priority) = project.repo_priority {
            println!("  priority:    {priority}");
        }
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
        instructions: args.instructions,
        listed: if args.listed {
            Some(true)
        } else if args.unlisted {
            Some(false)
        } else {
            None
        },
        additional_repos: if args.no_repos {
            Some(Vec::new())
        } else if args.buildroot.repos.is_empty() {
            None
        } else {
            Some(args.buildroot.repos)
        },
        enable_net: args.buildroot.enable_net.map(|v| v.is_on()),
        repo_priority: args.buildroot.repo_priority,
        chroots: (!args.chroots.is_empty()).then_some(args.chroots),
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

/// `OWNER/PROJECT/CHROOT` or `PROJECT/CHROOT`.
fn chroot_ref(
    client: &koper_client::Client,
    text: &str,
) -> Result<(koper_types::ProjectRef, ChrootName), Failure> {
    let (project, chroot) = text.rsplit_once('/').ok_or_else(|| {
        Failure::new(2, format!("{text:?} names no chroot"))
            .hint("write OWNER/PROJECT/CHROOT, or PROJECT/CHROOT for one of your own")
    })?;
    let chroot = chroot
        .parse::<ChrootName>()
        .map_err(|e| Failure::new(2, e.to_string()).hint("see `koper list-chroots`"))?;
    Ok((project_ref(client, project)?, chroot))
}

fn print_chroot_settings(settings: &v1::ChrootSettings) {
    println!(
        "additional_packages: {}",
        settings.additional_packages.join(" ")
    );
}

pub async fn edit_chroot(args: EditChrootArgs) -> CommandResult {
    let client = client(&args.client)?;
    let (project, chroot) = chroot_ref(&client, &args.chroot)?;
    let mut settings = client
        .chroot_settings(&project.owner, &project.name, &chroot)
        .await?;
    if let Some(packages) = &args.packages {
        settings.additional_packages = packages.split_whitespace().map(str::to_owned).collect();
    }
    let settings = client
        .set_chroot_settings(&project.owner, &project.name, &chroot, &settings)
        .await?;
    eprintln!(
        "Chroot {chroot} of {}/{} was changed.",
        project.owner, project.name
    );
    print_chroot_settings(&settings);
    Ok(ExitCode::SUCCESS)
}

pub async fn get_chroot(args: GetChrootArgs) -> CommandResult {
    let client = client(&args.client)?;
    let (project, chroot) = chroot_ref(&client, &args.chroot)?;
    let settings = client
        .chroot_settings(&project.owner, &project.name, &chroot)
        .await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&settings).map_err(Failure::local)?
        ),
        OutputFormat::Text => print_chroot_settings(&settings),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(args: DeleteArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let deleted = client.delete_project(&project.owner, &project.name).await?;
    eprintln!("Project {} has been deleted.", deleted.full_name);
    Ok(ExitCode::SUCCESS)
}

pub async fn fork(args: ForkArgs) -> CommandResult {
    let client = client(&args.client)?;
    let source = project_ref(&client, &args.source)?;
    let destination = project_ref(&client, &args.destination)?;
    let forked = client
        .fork_project(
            &source.owner,
            &source.name,
            &v1::ForkRequest {
                owner: destination.owner,
                name: destination.name,
                confirm: args.confirm,
            },
        )
        .await?;
    println!(
        "Forked {}/{} into {} with {} build(s).",
        source.owner, source.name, forked.project.full_name, forked.builds
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn mock_config(args: MockConfigArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let chroot: ChrootName = args
        .chroot
        .parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    let profile = client
        .mock_config(&project.owner, &project.name, &chroot)
        .await?;
    print!("{profile}");
    Ok(ExitCode::SUCCESS)
}

pub async fn request_quota(args: RequestQuotaArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    if args.list {
        let requests = client.quota_requests(&project.owner, &project.name).await?;
        match args.output {
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&requests).map_err(Failure::local)?
            ),
            OutputFormat::Text => {
                if requests.is_empty() {
                    eprintln!("{}/{} has no quota requests.", project.owner, project.name);
                }
                for r in &requests {
                    println!("{}", quota_request_line(r));
                }
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(size), Some(reason)) = (&args.size, &args.reason) else {
        return Err(Failure::new(2, "give --size and --reason"));
    };
    let bytes = koper_types::parse_bytes(size).map_err(|e| Failure::new(2, e))?;
    let filed = client
        .request_quota(
            &project.owner,
            &project.name,
            &v1::NewQuotaRequest {
                bytes,
                reason: reason.clone(),
            },
        )
        .await?;
    println!(
        "Asked for {} for {} (request {}); an administrator of the instance answers it.",
        format_bytes(filed.requested_bytes),
        filed.project,
        filed.id
    );
    println!(
        "`koper request-quota {} --list` shows the answer.",
        filed.project
    );
    Ok(ExitCode::SUCCESS)
}

/// One quota request for people.
pub(crate) fn quota_request_line(r: &v1::QuotaRequest) -> String {
    let outcome = match (r.state.as_str(), r.granted_bytes) {
        ("granted", Some(bytes)) => format!("granted {}", format_bytes(bytes)),
        (state, _) => state.to_owned(),
    };
    let answer = if r.answer.is_empty() {
        String::new()
    } else {
        format!(": {}", r.answer)
    };
    format!(
        "#{} {} {} asked by {} ({}): {outcome}{answer}",
        r.id,
        r.project,
        format_bytes(r.requested_bytes),
        r.requester.as_deref().unwrap_or("-"),
        r.reason
    )
}
