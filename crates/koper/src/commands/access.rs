//! `koper list-permissions`, `edit-permissions`, `request-permissions` and
//! `koper group ...`: who may build in and manage a project.

use std::collections::BTreeMap;
use std::process::ExitCode;

use koper_api::v1;
use koper_types::RoleState;

use super::{client, project_ref};
use crate::cli::{
    EditPermissionsArgs, GroupCommand, ListPermissionsArgs, OutputFormat, RequestPermissionsArgs,
};
use crate::exit::{CommandResult, Failure};

pub async fn list_permissions(args: ListPermissionsArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let roles = client.project_roles(&project.owner, &project.name).await?;
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&roles).map_err(Failure::local)?
        ),
        OutputFormat::Text => {
            if roles.is_empty() {
                eprintln!(
                    "Nobody holds or asks for a role in {}/{}.",
                    project.owner, project.name
                );
            }
            for row in &roles {
                println!("{}: builder {}, admin {}", row.user, row.builder, row.admin);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn edit_permissions(args: EditPermissionsArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let mut updates: BTreeMap<String, v1::RoleUpdate> = BTreeMap::new();
    for given in &args.builders {
        let (user, state) = user_and_state(given)?;
        updates.entry(user).or_default().builder = Some(state);
    }
    for given in &args.admins {
        let (user, state) = user_and_state(given)?;
        updates.entry(user).or_default().admin = Some(state);
    }
    if updates.is_empty() {
        return Err(Failure::new(2, "nothing to change")
            .hint("name users with --builder USER[=STATE] or --admin USER[=STATE]"));
    }
    let changed = client
        .change_roles(&project.owner, &project.name, &updates)
        .await?;
    for user in changed {
        let update = &updates[&user];
        let show =
            |state: Option<RoleState>| state.map_or("unchanged".to_owned(), |s| s.to_string());
        println!(
            "{user}: builder {}, admin {}",
            show(update.builder),
            show(update.admin)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `USER` (approved) or `USER=STATE`.
fn user_and_state(given: &str) -> Result<(String, RoleState), Failure> {
    match given.split_once('=') {
        None => Ok((given.to_owned(), RoleState::Approved)),
        Some((user, state)) => {
            let state = state
                .parse()
                .map_err(|e: koper_types::UnknownRoleState| Failure::new(2, e.to_string()))?;
            Ok((user.to_owned(), state))
        }
    }
}

pub async fn request_permissions(args: RequestPermissionsArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    if !args.builder && !args.admin {
        return Err(Failure::new(2, "name the role: --builder, --admin or both"));
    }
    let wanted = !args.give_up;
    let request = v1::RoleRequest {
        builder: args.builder.then_some(wanted),
        admin: args.admin.then_some(wanted),
    };
    let changed = client
        .request_roles(&project.owner, &project.name, &request)
        .await?;
    let what = if wanted { "Asked for" } else { "Gave up" };
    let roles: Vec<&str> = [(args.builder, "builder"), (args.admin, "admin")]
        .into_iter()
        .filter_map(|(named, role)| named.then_some(role))
        .collect();
    if changed {
        println!(
            "{what} {} in {}/{}.",
            roles.join(" and "),
            project.owner,
            project.name
        );
        if wanted {
            println!(
                "The project's owner or an admin decides; `koper list-permissions` shows the answer to them."
            );
        }
    } else {
        println!("Nothing changed: that is already where you stand.");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn group(command: GroupCommand) -> CommandResult {
    let group = match command {
        GroupCommand::List(args) => {
            let client = client(&args.client)?;
            for name in client.list_groups().await? {
                println!("@{name}");
            }
            return Ok(ExitCode::SUCCESS);
        }
        GroupCommand::Create(args) => {
            let client = client(&args.client)?;
            client.create_group(bare(&args.group)).await?
        }
        GroupCommand::Show(args) => {
            let client = client(&args.client)?;
            client.group(bare(&args.group)).await?
        }
        GroupCommand::AddMember(args) => {
            let client = client(&args.client)?;
            client
                .set_group_member(bare(&args.group), &args.member, args.admin)
                .await?
        }
        GroupCommand::RemoveMember(args) => {
            let client = client(&args.client)?;
            client
                .remove_group_member(bare(&args.group), &args.member)
                .await?
        }
    };
    println!("@{}", group.name);
    for member in &group.members {
        let role = if member.admin { "admin" } else { "member" };
        println!("  {} ({role})", member.user);
    }
    Ok(ExitCode::SUCCESS)
}

fn bare(group: &str) -> &str {
    group.trim_start_matches('@')
}
