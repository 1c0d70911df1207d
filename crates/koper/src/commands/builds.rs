//! `koper build`, `status`, `watch-build`, `list-builds`, `cancel`.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};
use koper_api::v1;
use koper_client::Client;
use koper_types::{BuildId, BuildState, ChrootName, ScmSource, SrpmMethod};

use super::{client, project_ref};
use crate::cli::{
    BuildArgs, BuildIdArgs, BuildScmArgs, DeleteBuildArgs, DownloadBuildArgs, ListBuildsArgs,
    OutputFormat, ScmArgs, SubmitArgs, UploadRpmArgs,
};
use crate::exit::{CommandResult, Failure};
use crate::output;

/// Builds asked for per page by `list-builds`.
const LIST_PAGE: i64 = 500;

/// How often a followed build is polled.
const POLL: Duration = Duration::from_secs(1);

fn build_id(text: &str) -> Result<BuildId, Failure> {
    text.parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))
}

/// The chroots and queueing options of a new build.
pub(crate) fn submission(
    args: &SubmitArgs,
) -> Result<(Vec<ChrootName>, v1::BuildOptions), Failure> {
    let chroots = args
        .chroots
        .iter()
        .map(|c| c.parse::<ChrootName>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::new(2, e.to_string()))?;
    let options = v1::BuildOptions {
        priority: args.priority,
        background: args.background,
        after_build_id: args.after_build_id.as_deref().map(build_id).transpose()?,
        with_build_id: args.with_build_id.as_deref().map(build_id).transpose()?,
    };
    Ok((chroots, options))
}

/// The repository named on the command line.
pub(crate) fn scm_source(args: &ScmArgs) -> Result<ScmSource, Failure> {
    let method = SrpmMethod::from_copr(&args.method).ok_or_else(|| {
        Failure::new(2, format!("unknown method {:?}", args.method)).hint("use rpkg or make_srpm")
    })?;
    Ok(ScmSource {
        clone_url: args.clone_url.clone(),
        committish: args.commit.clone(),
        subdirectory: args.subdir.clone(),
        spec: args.spec.clone(),
        method,
    })
}

pub async fn build_scm(args: BuildScmArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let (chroots, options) = submission(&args.submit)?;
    let scm = scm_source(&args.scm)?;
    let build = client
        .submit_scm(&project.owner, &project.name, &chroots, &options, &scm)
        .await?;
    announce_and_follow(&client, build, args.submit.nowait).await
}

pub async fn build(args: BuildArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let (chroots, options) = submission(&args.submit)?;
    let url = args.srpm.to_string_lossy();
    if url.starts_with("http://") || url.starts_with("https://") {
        let build = client
            .submit_srpm_url(&project.owner, &project.name, &chroots, &options, &url)
            .await?;
        return announce_and_follow(&client, build, args.submit.nowait).await;
    }
    let size = std::fs::metadata(&args.srpm)
        .map_err(|e| {
            Failure::local(format!("cannot read {}: {e}", args.srpm.display()))
                .hint("give the path of a source RPM, made with `rpmbuild -bs NAME.spec`")
        })?
        .len();
    // Refuse before uploading: a server that refuses mid-upload can only
    // reset the connection, which says nothing useful.
    let limit = client.server_info().await?.max_upload_bytes;
    if size > limit {
        return Err(Failure::new(
            1,
            format!(
                "{} is {size} bytes, larger than this server accepts ({limit} bytes)",
                args.srpm.display()
            ),
        )
        .hint("ask the server's administrator to raise max_upload_bytes"));
    }

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "uploading {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    let submitted = client
        .submit_srpm(
            &project.owner,
            &project.name,
            &chroots,
            &options,
            &args.srpm,
            move |sent| progress.set_position(sent),
        )
        .await;
    bar.finish_and_clear();
    announce_and_follow(&client, submitted?, args.submit.nowait).await
}

/// Says which build was added and follows it unless `nowait`.
pub(crate) async fn announce_and_follow(
    client: &koper_client::Client,
    build: v1::Build,
    nowait: bool,
) -> CommandResult {
    println!("{}", build.id);
    eprintln!(
        "Build {} was added to {}/{}: {}",
        build.id,
        build.owner,
        build.project,
        build
            .chroots
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if nowait {
        return Ok(ExitCode::SUCCESS);
    }
    follow(client, build.id).await
}

pub async fn watch(args: BuildIdArgs) -> CommandResult {
    let client = client(&args.client)?;
    follow(&client, build_id(&args.build_id)?).await
}

/// The time of day (UTC) for state-change lines.
fn clock() -> String {
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    stamp.get(11..19).unwrap_or(&stamp).to_owned()
}

/// Where a followed chroot's log is.
struct LogCursor {
    offset: u64,
    complete: bool,
    /// An unfinished line, kept until its end arrives (multi-chroot
    /// output is prefixed per line).
    partial: Vec<u8>,
}

/// Follows a build: prints state changes to stderr and the live logs to
/// stdout until the build ends; exit 4 unless it succeeded.
async fn follow(client: &Client, id: BuildId) -> CommandResult {
    let mut states: HashMap<ChrootName, BuildState> = HashMap::new();
    let mut cursors: HashMap<ChrootName, LogCursor> = HashMap::new();
    let mut last_state = None;
    let mut ended_polls = 0;
    let mut build = client.build(id).await?;
    loop {
        if last_state != Some(build.state) {
            eprintln!("  {} Build {id}: {}", clock(), output::state(build.state));
            last_state = Some(build.state);
        }
        let several = build.chroots.len() + usize::from(build.source_build.is_some()) > 1;
        for chroot in build.source_build.iter().chain(&build.chroots) {
            if states.get(&chroot.name) != Some(&chroot.state) && several {
                eprintln!(
                    "  {} Build {id} {}: {}",
                    clock(),
                    chroot.name,
                    output::state(chroot.state)
                );
            }
            states.insert(chroot.name.clone(), chroot.state);
            if chroot.result_url.is_some() {
                print_new_log(client, id, chroot, several, &mut cursors).await?;
            }
        }
        if build.state.is_ended() {
            // A canceled build ends at once, its running chroots when their
            // builder has stopped; logs are complete a moment after that.
            let settled = build.source_build.iter().chain(&build.chroots).all(|c| {
                c.state.is_final()
                    && (c.result_url.is_none()
                        || cursors.get(&c.name).is_some_and(|cur| cur.complete))
            });
            ended_polls += 1;
            if settled || ended_polls > 30 {
                return Ok(summary(&build));
            }
        }
        // The server answers as soon as the build changes, and after POLL
        // at the latest (so the live log keeps flowing); an older server
        // answers at once, and is asked again after POLL.
        let asked = std::time::Instant::now();
        let before = progress(&build);
        build = client.build_after_change(id, POLL).await?;
        if progress(&build) == before && asked.elapsed() < POLL {
            tokio::time::sleep(POLL - asked.elapsed()).await;
        }
    }
}

/// What the server's long poll watches: the build's state and how many
/// of its chroots ended.
fn progress(build: &v1::Build) -> (BuildState, usize) {
    let ended = build
        .chroots
        .iter()
        .filter(|c| c.ended_on.is_some())
        .count();
    (build.state, ended)
}

async fn print_new_log(
    client: &Client,
    id: BuildId,
    chroot: &v1::BuildChroot,
    prefix: bool,
    cursors: &mut HashMap<ChrootName, LogCursor>,
) -> Result<(), Failure> {
    let cursor = cursors.entry(chroot.name.clone()).or_insert(LogCursor {
        offset: 0,
        complete: false,
        partial: Vec::new(),
    });
    if cursor.complete {
        return Ok(());
    }
    loop {
        let chunk = client.log(id, &chroot.name, cursor.offset).await?;
        cursor.offset += chunk.bytes.len() as u64;
        cursor.complete = chunk.complete;
        let mut stdout = std::io::stdout().lock();
        if prefix {
            cursor.partial.extend_from_slice(&chunk.bytes);
            while let Some(end) = cursor.partial.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = cursor.partial.drain(..=end).collect();
                let _ = write!(stdout, "[{}] ", chroot.name);
                let _ = stdout.write_all(&line);
            }
            if chunk.complete && !cursor.partial.is_empty() {
                let _ = writeln!(
                    stdout,
                    "[{}] {}",
                    chroot.name,
                    String::from_utf8_lossy(&cursor.partial)
                );
                cursor.partial.clear();
            }
        } else {
            let _ = stdout.write_all(&chunk.bytes);
        }
        let _ = stdout.flush();
        // A full chunk means more is waiting.
        if chunk.bytes.len() < (1 << 20) {
            return Ok(());
        }
    }
}

/// Prints how each chroot ended; the exit code copr-cli would give.
fn summary(build: &v1::Build) -> ExitCode {
    eprintln!("Build {} {}", build.id, output::state(build.state));
    for chroot in build.source_build.iter().chain(&build.chroots) {
        let mut line = format!("  {}: {}", chroot.name, output::state(chroot.state));
        if let Some(url) = &chroot.result_url {
            line.push_str(&format!("  {url}"));
        }
        eprintln!("{line}");
        if let Some(reason) = &chroot.fail_reason {
            eprintln!("    {reason}");
        }
    }
    match build.state {
        BuildState::Succeeded | BuildState::Skipped => ExitCode::SUCCESS,
        _ => {
            if let Some(url) = build
                .source_build
                .iter()
                .chain(&build.chroots)
                .find_map(|c| {
                    (c.state == BuildState::Failed)
                        .then_some(c.result_url.as_ref())
                        .flatten()
                })
            {
                output::error(
                    &format!("build {} {}", build.id, build.state),
                    Some(&format!("the logs are in {url}")),
                );
            }
            ExitCode::from(4)
        }
    }
}

pub async fn status(args: BuildIdArgs) -> CommandResult {
    let client = client(&args.client)?;
    let build = client.build(build_id(&args.build_id)?).await?;
    println!("{}", build.state);
    for chroot in &build.chroots {
        println!(
            "  {}: {}{}",
            chroot.name,
            chroot.state,
            chroot
                .result_url
                .as_ref()
                .map(|u| format!("  {u}"))
                .unwrap_or_default()
        );
        if let Some(queue) = &chroot.queue {
            println!("    waiting: {}", queue.message);
            if let Some(start) = queue.estimated_start {
                println!("    estimated start: {}", output::when(start));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(args: BuildIdArgs) -> CommandResult {
    let client = client(&args.client)?;
    let build = client.cancel(build_id(&args.build_id)?).await?;
    println!("{}", build.state);
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: ListBuildsArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let mut builds: Vec<v1::Build> = Vec::new();
    // Each page asks for the builds older than the last one shown: the
    // server reads the same few index entries however deep the page.
    let mut before = None;
    loop {
        let page = client
            .builds(&project.owner, &project.name, LIST_PAGE, before)
            .await?;
        let last = page.items.last().map(|b| b.id);
        if let (Some(before), Some(last)) = (before, last)
            && last >= before
        {
            return Err(Failure::new(
                1,
                format!("the server did not page {project}'s builds by keyset (before={before})"),
            ));
        }
        builds.extend(page.items);
        match (page.next_offset, last) {
            (Some(_), Some(last)) => before = Some(last),
            _ => break,
        }
    }
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&builds).map_err(Failure::local)?
        ),
        OutputFormat::Text => {
            if builds.is_empty() {
                eprintln!("No builds in {project}.");
            }
            for build in builds {
                let (name, version) = build
                    .source_package
                    .map(|p| (p.name, p.version))
                    .unwrap_or_default();
                println!("{}\t{name}\t{version}\t{}", build.id, build.state);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn delete(args: DeleteBuildArgs) -> CommandResult {
    let client = client(&args.client)?;
    let ids = args
        .build_ids
        .iter()
        .map(|id| build_id(id))
        .collect::<Result<Vec<_>, _>>()?;
    for id in ids {
        let deleted = client.delete_build(id).await?;
        println!("{}", deleted.id);
        eprintln!(
            "Build {} was deleted; {} freed.",
            deleted.id,
            koper_types::format_bytes(deleted.freed_bytes)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn upload_rpm(args: UploadRpmArgs) -> CommandResult {
    let client = client(&args.client)?;
    let project = project_ref(&client, &args.project)?;
    let chroot: ChrootName = args
        .chroot
        .parse()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    for file in &args.files {
        std::fs::metadata(file)
            .map_err(|e| Failure::local(format!("cannot read {}: {e}", file.display())))?;
    }
    let build = client
        .upload_rpms(&project.owner, &project.name, &chroot, &args.files)
        .await?;
    println!("{}", build.id);
    eprintln!(
        "Build {} added {} package(s) to {}/{} for {chroot}: {}",
        build.id,
        args.files.len(),
        build.owner,
        build.project,
        output::state(build.state)
    );
    Ok(ExitCode::SUCCESS)
}

/// Fetches every result file of a build into `DEST/CHROOT/`, each through
/// a temporary name and checked for its size, so an interrupted download
/// never leaves a file that looks complete.
pub async fn download(args: DownloadBuildArgs) -> CommandResult {
    let client = client(&args.client)?;
    let id = build_id(&args.id)?;
    let wanted: Vec<ChrootName> = args
        .chroots
        .iter()
        .map(|c| c.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: koper_types::NameError| Failure::new(2, e.to_string()))?;
    let files: Vec<v1::ResultFile> = client
        .build_files(id)
        .await?
        .into_iter()
        .filter(|f| wanted.is_empty() || wanted.contains(&f.chroot))
        .collect();
    if files.is_empty() {
        return Err(
            Failure::new(1, format!("build {id} has no results to download"))
                .hint("a build has results once a chroot of it ended; see `koper status`"),
        );
    }
    for file in &files {
        // The names come from the server; a name is never a path.
        if file.name.contains('/') || file.name.starts_with('.') {
            return Err(Failure::new(
                1,
                format!("the server named a result {:?}", file.name),
            ));
        }
        let dir = args.dest.join(file.chroot.as_str());
        std::fs::create_dir_all(&dir).map_err(Failure::local)?;
        let partial = dir.join(format!(".{}.part", file.name));
        client.download(&file.url, &partial).await?;
        let got = std::fs::metadata(&partial).map_err(Failure::local)?.len();
        if got != file.bytes {
            let _ = std::fs::remove_file(&partial);
            return Err(Failure::new(
                1,
                format!("{} arrived with {got} of {} bytes", file.url, file.bytes),
            ));
        }
        std::fs::rename(&partial, dir.join(&file.name)).map_err(Failure::local)?;
        println!("{}/{}", file.chroot, file.name);
    }
    Ok(ExitCode::SUCCESS)
}
