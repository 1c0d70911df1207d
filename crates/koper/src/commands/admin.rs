//! `koper admin`: work on a server's data directory directly.

use std::process::ExitCode;

use koper_server::moderation::{self, ProjectAction};
use koper_server::quota_requests::{self, Answer};
use koper_server::{quota, users};
use koper_storage::DataDir;
use koper_types::UserName;

use crate::cli::{AdminCommand, DataDirArgs, ModerateProjectArgs, ModerateUserArgs, OutputFormat};
use crate::exit::{CommandResult, Failure};

/// The database of a data directory: `--database-url` (or
/// `KOPER_DATABASE_URL`), else the `database_url` of its `koper.toml`, else
/// its SQLite file.
fn database_url(data: &DataDirArgs) -> Result<Option<String>, Failure> {
    if let Some(url) = &data.database_url {
        return Ok(Some(url.clone()));
    }
    let settings = koper_server::SettingsFile::load(&data.data_dir.join("koper.toml"))
        .map_err(|e| Failure::new(6, e))?;
    Ok(settings.database_url)
}

async fn open(data: &DataDirArgs) -> Result<(DataDir, koper_server::Database), Failure> {
    let dir = DataDir::new(&data.data_dir).map_err(Failure::local)?;
    let db = koper_server::open_database(&dir, database_url(data)?.as_deref())
        .await
        .map_err(|e| Failure::local(format!("cannot open the database: {e}")))?;
    Ok((dir, db))
}

/// The URL `koper serve` recorded for this data directory.
fn server_url(dir: &DataDir) -> String {
    std::fs::read_to_string(dir.url_file())
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:5050".to_owned())
}

fn user_name(name: &str) -> Result<UserName, Failure> {
    name.parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))
}

fn print_client_config(dir: &DataDir, account: &users::NewAccount) {
    println!(
        "# koper client configuration for {}; save it as ~/.config/koper.toml",
        account.user.name
    );
    println!("# the token expires in 180 days; it is shown only once");
    println!("url = \"{}\"", server_url(dir));
    println!("user = \"{}\"", account.user.name);
    println!("token = \"{}\"", account.token);
}

/// The first line of standard input, without its line ending: a password
/// given on the command line would show in `ps` and shell histories.
fn read_password() -> Result<String, Failure> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::local(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err(Failure::new(2, "no password on standard input")
            .hint("e.g. `printf '%s\\n' \"$PASSWORD\" | koper admin set-password NAME`"));
    }
    Ok(password)
}

pub async fn admin(command: AdminCommand) -> CommandResult {
    match command {
        AdminCommand::AddUser {
            data,
            name,
            admin,
            password,
        } => {
            let name = user_name(&name)?;
            let password = if password {
                let password = read_password()?;
                koper_server::passwords::check_policy(&password)
                    .map_err(|e| Failure::new(2, e.to_string()))?;
                Some(password)
            } else {
                None
            };
            let (dir, db) = open(&data).await?;
            let account = users::add_user(&db, &name, admin).await.map_err(|e| {
                Failure::new(1, e.to_string())
                    .hint("`koper admin new-token NAME` issues another token for an existing user")
            })?;
            if let Some(password) = password {
                koper_server::passwords::set_password(&db, &name, &password)
                    .await
                    .map_err(|e| Failure::new(1, e.to_string()))?;
            }
            print_client_config(&dir, &account);
        }
        AdminCommand::SetPassword { data, name } => {
            let name = user_name(&name)?;
            let password = read_password()?;
            let (_, db) = open(&data).await?;
            koper_server::passwords::set_password(&db, &name, &password)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            eprintln!("password of {name} set; their browser sessions were ended");
        }
        AdminCommand::NewToken { data, name } => {
            let name = user_name(&name)?;
            let (dir, db) = open(&data).await?;
            let account = users::new_api_token(&db, &name)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            print_client_config(&dir, &account);
        }
        AdminCommand::RegenerateRepos { data, project } => {
            let project: koper_types::ProjectRef = project
                .parse()
                .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
            let mut config = koper_server::ServerConfig::new(data.data_dir.clone());
            config.database_url = database_url(&data)?;
            let app = koper_server::open_app(config)
                .await
                .map_err(|e| Failure::local(format!("cannot open the data directory: {e}")))?;
            let chroots = koper_server::regenerate_repos(&app, &project.owner, &project.name)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            for chroot in chroots {
                eprintln!("regenerated {project} {chroot}");
            }
        }
        AdminCommand::Status { data, output } => {
            let mut config = koper_server::ServerConfig::new(data.data_dir.clone());
            config.database_url = database_url(&data)?;
            let app = koper_server::open_app(config)
                .await
                .map_err(|e| Failure::local(format!("cannot open the data directory: {e}")))?;
            let status = koper_server::metrics::status(&app)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            match output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&status).map_err(Failure::local)?
                ),
                OutputFormat::Text => print_status(&status),
            }
        }
        AdminCommand::AddBuilder { data, name } => {
            let (dir, db) = open(&data).await?;
            let token = koper_server::register_builder(&db, &name)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            eprintln!(
                "builder {name} registered; start it with:\n  koper builder --server {} --token {token}",
                server_url(&dir)
            );
            println!("{token}");
        }
        AdminCommand::SetLimit {
            data,
            owner,
            max_running,
        } => {
            let owner: koper_types::OwnerName = owner
                .parse()
                .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
            let limit = if max_running == "default" {
                None
            } else {
                match max_running.parse::<i64>() {
                    Ok(n) if n >= 1 => Some(n),
                    _ => {
                        return Err(Failure::new(
                            2,
                            format!("{max_running:?} is not a number of builds (1 or more)"),
                        )
                        .hint("give a positive number, or `default` for the instance's setting"));
                    }
                }
            };
            let (_, db) = open(&data).await?;
            db.set_owner_limit(owner.as_str(), limit)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            match limit {
                Some(n) => eprintln!("{owner} may now run {n} build(s) at once"),
                None => eprintln!("{owner} now has the instance's limit (max_running_per_owner)"),
            }
        }
        AdminCommand::RefreshChroot { data, chroot } => {
            let chroot: koper_types::ChrootName = chroot
                .parse()
                .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
            let (dir, db) = open(&data).await?;
            let catalog = koper_chroots::ChrootCatalog::load(Some(&dir.chroots_dir()))
                .map_err(|e| Failure::new(6, e.to_string()))?;
            if catalog.get(&chroot).is_none() {
                return Err(Failure::new(1, format!("there is no chroot {chroot}"))
                    .hint("`koper list-chroots` shows the chroots this server offers"));
            }
            let refresh = db
                .refresh_chroot(&chroot)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            eprintln!(
                "{chroot}: builders make its base root again before its next build (refresh {refresh})"
            );
        }
        AdminCommand::QuotaRequests { data, all, output } => {
            let (_, db) = open(&data).await?;
            let requests: Vec<_> = db
                .list_quota_requests(!all)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?
                .iter()
                .map(quota_requests::to_api)
                .collect();
            match output {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&requests).map_err(Failure::local)?
                ),
                OutputFormat::Text => {
                    if requests.is_empty() {
                        eprintln!("no quota request is waiting");
                    }
                    for r in &requests {
                        println!("{}", super::projects::quota_request_line(r));
                    }
                }
            }
        }
        AdminCommand::GrantQuota {
            data,
            id,
            size,
            message,
        } => {
            let size = size
                .map(|s| koper_types::parse_bytes(&s))
                .transpose()
                .map_err(|e| Failure::new(2, e))?;
            let (_, db) = open(&data).await?;
            let answered =
                quota_requests::answer(&db, id, Answer::Grant(size), &message, "koper admin")
                    .await
                    .map_err(|e| Failure::new(1, e.to_string()))?;
            eprintln!(
                "{}/{} now has a quota of its own: {}",
                answered.owner,
                answered.project,
                koper_types::format_bytes(answered.granted_bytes.unwrap_or_default())
            );
        }
        AdminCommand::DenyQuota { data, id, message } => {
            let (_, db) = open(&data).await?;
            let answered = quota_requests::answer(&db, id, Answer::Deny, &message, "koper admin")
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            eprintln!(
                "the quota request of {}/{} is denied",
                answered.owner, answered.project
            );
        }
        AdminCommand::HideProject(args) => moderate_project(args, ProjectAction::Hide).await?,
        AdminCommand::UnhideProject(args) => moderate_project(args, ProjectAction::Unhide).await?,
        AdminCommand::DisableProject(args) => {
            moderate_project(args, ProjectAction::Disable).await?;
        }
        AdminCommand::EnableProject(args) => moderate_project(args, ProjectAction::Enable).await?,
        AdminCommand::DisableUser(args) => moderate_user(args, true).await?,
        AdminCommand::EnableUser(args) => moderate_user(args, false).await?,
        AdminCommand::SetQuota { data, target, size } => {
            let target = quota_target(&target)?;
            let bytes = if size == "default" {
                None
            } else {
                Some(koper_types::parse_bytes(&size).map_err(|e| Failure::new(2, e))?)
            };
            let (_, db) = open(&data).await?;
            quota::set_quota(&db, &target, bytes)
                .await
                .map_err(|e| Failure::new(1, e.to_string()))?;
            let shown = bytes.map_or_else(|| "the default".to_owned(), koper_types::format_bytes);
            match target {
                quota::QuotaTarget::Owner(owner) => {
                    eprintln!("the storage quota of {owner} is now {shown}");
                }
                quota::QuotaTarget::Project(owner, name) => eprintln!(
                    "{owner}/{name} now has {}",
                    bytes.map_or_else(
                        || "no quota of its own (it counts against its owner's)".to_owned(),
                        |_| format!("a quota of its own: {shown}")
                    )
                ),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `koper admin status` for people.
fn print_status(status: &koper_server::metrics::Status) {
    let now = koper_types::now_epoch();
    println!("queue (unended build chroots):");
    if status.queue.is_empty() {
        println!("  empty");
    }
    for count in &status.queue {
        println!("  {:<9} {:<8} {}", count.state, count.arch, count.tasks);
    }
    println!("builders:");
    if status.builders.is_empty() {
        println!("  none registered (`koper admin add-builder NAME`)");
    }
    for b in &status.builders {
        let seen = b.last_seen_on.map_or_else(
            || "never seen".to_owned(),
            |t| format!("seen {} s ago", now - t),
        );
        let tags = if b.tags.is_empty() {
            String::new()
        } else {
            format!("  tags {}", b.tags.join(","))
        };
        println!(
            "  {:<16} {:<8} {:<14} slots {}  running {}{tags}  {seen}",
            b.name,
            b.state,
            b.arches.join(","),
            b.slots,
            b.running
        );
    }
    println!("recent durations (last ended build chroots):");
    if status.recent.is_empty() {
        println!("  no build has ended yet");
    }
    for d in &status.recent {
        println!(
            "  {:<8} {} task(s)  mean build {} s  longest {} s  mean publish {}",
            d.arch,
            d.tasks,
            d.mean_build_seconds,
            d.max_build_seconds,
            d.mean_publish_seconds
                .map_or_else(|| "unknown".to_owned(), |s| format!("{s:.1} s"))
        );
    }
}

fn quota_target(text: &str) -> Result<quota::QuotaTarget, Failure> {
    let bad = |e: koper_types::NameError| Failure::new(2, e.to_string());
    Ok(match text.split_once('/') {
        Some((owner, project)) => {
            quota::QuotaTarget::Project(owner.parse().map_err(bad)?, project.parse().map_err(bad)?)
        }
        None => quota::QuotaTarget::Owner(text.parse().map_err(bad)?),
    })
}

async fn moderate_project(args: ModerateProjectArgs, action: ProjectAction) -> Result<(), Failure> {
    let project: koper_types::ProjectRef = args
        .project
        .parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    let (_, db) = open(&args.data).await?;
    moderation::moderate_project(
        &db,
        &project.owner,
        &project.name,
        action,
        &args.reason,
        "koper admin",
    )
    .await
    .map_err(|e| Failure::new(1, e.to_string()).hint("hiding and disabling need --reason"))?;
    eprintln!(
        "{project}: {}",
        match action {
            ProjectAction::Hide => "hidden from every listing",
            ProjectAction::Unhide => "listed again",
            ProjectAction::Disable => "disabled (no new builds; served only to who manages it)",
            ProjectAction::Enable => "enabled again",
        }
    );
    Ok(())
}

async fn moderate_user(args: ModerateUserArgs, disable: bool) -> Result<(), Failure> {
    let (_, db) = open(&args.data).await?;
    let reason = disable.then_some(args.reason.as_str());
    let user = moderation::set_user_disabled(&db, &args.name, reason, "koper admin")
        .await
        .map_err(|e| Failure::new(1, e.to_string()))?;
    if disable {
        eprintln!(
            "{} is disabled: no sign-in, API tokens refused, their projects disabled",
            user.name
        );
    } else {
        eprintln!("{} is enabled again", user.name);
    }
    Ok(())
}
