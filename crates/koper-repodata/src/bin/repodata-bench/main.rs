//! Benchmark of koper-repodata against createrepo_c and createrepo-agent,
//! side by side in one run: full generation, adding and removing one
//! package, an update with nothing changed; wall and CPU time (medians of
//! several runs) and peak memory.
//!
//! ```text
//! cargo run --release -p koper-repodata --bin repodata-bench -- \
//!     [--corpus DIR] [--sizes 1000,10000] [--runs 5] [--work DIR] \
//!     [--createrepo-agent PATH|venv]
//! ```
//!
//! Without `--corpus`, a corpus of synthetic RPMs is built with rpmbuild
//! (see `corpus.rs`) and kept for later runs. Every koper and createrepo_c
//! operation runs in its own process under `/usr/bin/time`, which reports
//! its peak RSS and CPU time. createrepo-agent is measured when
//! `--createrepo-agent` (or `KOPER_BENCH_CREATEREPO_AGENT`) names its
//! executable, or is `venv` to install it from PyPI into a virtual
//! environment under the work directory (see `agent.rs`).

mod agent;
mod corpus;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use koper_repodata::{RepoChanges, RepoPackage, RepodataOptions};

/// Index of the package added and removed in the incremental runs; far
/// above any corpus size so that it is a new package.
const EXTRA_INDEX: usize = 900_000;

struct Args {
    corpus: Option<PathBuf>,
    sizes: Vec<usize>,
    runs: usize,
    work: PathBuf,
    /// createrepo-agent's executable, or `venv`.
    agent: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut out = Args {
        corpus: None,
        sizes: vec![1000, 10_000],
        runs: 5,
        work: std::env::temp_dir().join("koper-repodata-bench"),
        agent: std::env::var("KOPER_BENCH_CREATEREPO_AGENT")
            .ok()
            .filter(|v| !v.is_empty()),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--corpus" => out.corpus = Some(PathBuf::from(value()?)),
            "--sizes" => {
                out.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .context("--sizes takes numbers, e.g. 1000,10000")?;
            }
            "--runs" => out.runs = value()?.parse().context("--runs takes a number")?,
            "--work" => out.work = PathBuf::from(value()?),
            "--createrepo-agent" => out.agent = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: repodata-bench [--corpus DIR] [--sizes 1000,10000] [--runs N] [--work DIR] [--createrepo-agent PATH|venv]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    out.sizes.sort_unstable();
    if out.sizes.is_empty() || out.runs == 0 {
        bail!("--sizes and --runs must not be empty or zero");
    }
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    match first.as_deref() {
        Some("internal-install") => {
            let start = args.next().context("start")?.parse()?;
            let count = args.next().context("count")?.parse()?;
            let root = PathBuf::from(args.next().context("buildroot")?);
            return corpus::install(start, count, &root);
        }
        Some("internal-koper") => return koper_op(args),
        _ => {}
    }
    let args = parse_args(first.into_iter().chain(args))?;
    run(&args)
}

/// One koper operation, run in a child process so that its peak memory is
/// measured alone.
fn koper_op(mut args: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let op = args.next().context("op")?;
    let repo = PathBuf::from(args.next().context("repo")?);
    let options = RepodataOptions::new(args.next().context("cache")?);
    let report = match op.as_str() {
        "full" => koper_repodata::createrepo_dir(&repo, false, &options)?,
        "update" => koper_repodata::createrepo_dir(&repo, true, &options)?,
        "add" => {
            let location = args.next().context("location")?;
            let changes = RepoChanges {
                add: vec![RepoPackage {
                    path: repo.join(&location),
                    location,
                }],
                remove: vec![],
            };
            koper_repodata::publish(&repo, &changes, &options)?
        }
        "remove" => {
            let changes = RepoChanges {
                add: vec![],
                remove: vec![args.next().context("prefix")?],
            };
            koper_repodata::publish(&repo, &changes, &options)?
        }
        other => bail!("unknown op {other}"),
    };
    eprintln!("{report:?}");
    Ok(())
}

struct Sample {
    secs: f64,
    rss_kb: Option<u64>,
    cpu_secs: Option<f64>,
}

/// User + system CPU seconds of every child process waited for so far
/// (grandchildren included: `/usr/bin/time` waits for the program it runs).
/// Microsecond precision, where `/usr/bin/time` prints hundredths.
fn children_cpu_secs() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Some(secs(usage.user_time()) + secs(usage.system_time()))
}

/// Runs `program` and measures its wall time, its CPU time and (with
/// /usr/bin/time) its peak RSS.
fn measure(program: &Path, args: &[&str]) -> anyhow::Result<Sample> {
    let time = Path::new("/usr/bin/time");
    let rss_file = tempfile::NamedTempFile::new()?;
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "%M", "-o"]).arg(rss_file.path()).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    let cpu_before = children_cpu_secs();
    let start = Instant::now();
    let output = cmd
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = children_cpu_secs()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    if !output.status.success() {
        bail!(
            "{} {args:?} failed:\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report = std::fs::read_to_string(rss_file.path()).unwrap_or_default();
    let rss_kb = report.lines().last().and_then(|l| l.trim().parse().ok());
    Ok(Sample {
        secs,
        rss_kb,
        cpu_secs,
    })
}

#[derive(Default, Clone)]
struct Stats {
    times: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<u64>,
}

fn median(values: &[f64]) -> Option<f64> {
    let mut t = values.to_vec();
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied()
}

impl Stats {
    fn push(&mut self, s: Sample) {
        self.times.push(s.secs);
        self.rss.extend(s.rss_kb);
        self.cpu.extend(s.cpu_secs);
    }

    fn median(&self) -> Option<f64> {
        median(&self.times)
    }

    fn cpu_median(&self) -> Option<f64> {
        median(&self.cpu)
    }

    fn peak_mb(&self) -> String {
        self.rss
            .iter()
            .max()
            .map_or("–".into(), |kb| format!("{:.0}", *kb as f64 / 1024.0))
    }
}

/// One operation measured with every tool; a tool that was not measured
/// has no samples and shows as `–`.
struct Row {
    what: String,
    koper: Stats,
    nodb: Stats,
    db: Stats,
    agent: Stats,
}

fn new_row(what: String) -> Row {
    Row {
        what,
        koper: Stats::default(),
        nodb: Stats::default(),
        db: Stats::default(),
        agent: Stats::default(),
    }
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str().context("paths must be UTF-8")
}

/// The createrepo-agent side of a run: its executable and the package
/// added and removed in the incremental runs.
struct AgentPeer {
    exe: PathBuf,
}

impl AgentPeer {
    /// Full generation: a new daemon on an empty cluster, every package
    /// added, one commit. Timed from the daemon's start to the commit's
    /// answer.
    fn full(&self, cluster: &Path, rpms: &[PathBuf]) -> anyhow::Result<Sample> {
        if cluster.exists() {
            std::fs::remove_dir_all(cluster)?;
        }
        let mut daemon = agent::Daemon::start(&self.exe, cluster)?;
        for rpm in rpms {
            daemon.command(&format!("ADD {} {}", path_str(rpm)?, agent::ARCH))?;
        }
        daemon.command("COMMIT")?;
        let sample = Sample {
            secs: daemon.started.elapsed().as_secs_f64(),
            rss_kb: Some(daemon.peak_rss_kb()?),
            cpu_secs: Some(daemon.cpu_secs()?),
        };
        daemon.shutdown()?;
        Ok(sample)
    }

    /// Runs `lines` on a running daemon and measures them: wall time, the
    /// daemon's CPU time for them, and its peak RSS so far.
    fn timed(daemon: &mut agent::Daemon, lines: &[&str]) -> anyhow::Result<Sample> {
        let cpu_before = daemon.cpu_secs()?;
        let start = Instant::now();
        for line in lines {
            daemon.command(line)?;
        }
        let secs = start.elapsed().as_secs_f64();
        Ok(Sample {
            secs,
            rss_kb: Some(daemon.peak_rss_kb()?),
            cpu_secs: Some(daemon.cpu_secs()? - cpu_before),
        })
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let max = *args.sizes.last().context("sizes")?;
    let corpus_dir = match &args.corpus {
        Some(dir) => dir.clone(),
        None => args.work.join("corpus"),
    };
    let rpms = if args.corpus.is_some() {
        corpus::rpms_in(&corpus_dir)?
    } else {
        corpus::build(&corpus_dir, max)?
    };
    if rpms.len() < max {
        bail!("the corpus has {} RPMs, fewer than {max}", rpms.len());
    }
    let rpms: Vec<PathBuf> = rpms
        .iter()
        .map(std::fs::canonicalize)
        .collect::<Result<_, _>>()?;
    let extra_dir = args.work.join("extra");
    let extra = match corpus::rpms_in(&extra_dir)
        .ok()
        .and_then(|v| v.into_iter().next())
    {
        Some(p) => p,
        None => {
            corpus::build_range(&extra_dir, EXTRA_INDEX, 1)?;
            corpus::rpms_in(&extra_dir)?
                .into_iter()
                .next()
                .context("extra package")?
        }
    };
    let extra = std::fs::canonicalize(extra)?;
    let agent = match &args.agent {
        Some(spec) => {
            let exe = agent::locate(spec, &args.work)?;
            eprintln!("createrepo-agent: {}", exe.display());
            Some(AgentPeer { exe })
        }
        None => {
            eprintln!(
                "createrepo-agent not measured (hint: --createrepo-agent venv installs it from PyPI)"
            );
            None
        }
    };
    let exe = std::env::current_exe()?;
    let createrepo = Path::new("createrepo_c");
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let dir = args.work.join(format!("repo-{n}"));
        let repo = dir.join("repo");
        if repo.exists() {
            std::fs::remove_dir_all(&repo)?;
        }
        std::fs::create_dir_all(&repo)?;
        for rpm in &rpms[..n] {
            let name = rpm.file_name().context("file name")?;
            std::fs::hard_link(rpm, repo.join(name))?;
        }
        let cache = dir.join("cache");
        let out_nodb = dir.join("out-nodb");
        let out_db = dir.join("out-db");
        for d in [&out_nodb, &out_db] {
            std::fs::create_dir_all(d)?;
        }
        let cluster = dir.join("agent");
        let (repo_s, cache_s) = (path_str(&repo)?, path_str(&cache)?);
        let (nodb_s, db_s) = (path_str(&out_nodb)?, path_str(&out_db)?);
        let mut row = new_row(format!("full generation, {n} packages"));
        let runs = if n > 5000 {
            args.runs.min(3)
        } else {
            args.runs
        };
        for _ in 0..runs {
            let _ = std::fs::remove_dir_all(&cache);
            let _ = std::fs::remove_dir_all(repo.join("repodata"));
            row.koper
                .push(measure(&exe, &["internal-koper", "full", repo_s, cache_s])?);
            let _ = std::fs::remove_dir_all(out_nodb.join("repodata"));
            row.nodb.push(measure(
                createrepo,
                &["-q", "--no-database", "-o", nodb_s, repo_s],
            )?);
            let _ = std::fs::remove_dir_all(out_db.join("repodata"));
            row.db
                .push(measure(createrepo, &["-q", "-o", db_s, repo_s])?);
            if let Some(agent) = &agent {
                row.agent.push(agent.full(&cluster, &rpms[..n])?);
            }
        }
        eprintln!(
            "{}: koper {:.3}s, createrepo_c {:.3}s",
            row.what,
            row.koper.median().unwrap_or(f64::NAN),
            row.nodb.median().unwrap_or(f64::NAN)
        );
        rows.push(row);
        if n != max {
            continue;
        }
        // Incremental runs on the largest repository, whose metadata all
        // tools have just written.
        let extra_loc = "99999999-extra/".to_owned();
        let extra_file = format!(
            "{extra_loc}{}",
            extra.file_name().context("name")?.to_string_lossy()
        );
        let agent_add = format!("ADD {} {}", path_str(&extra)?, agent::ARCH);
        let agent_remove = format!(
            "REMOVE_NAME {} {}",
            agent::package_name(&extra)?,
            agent::ARCH
        );
        let mut add = new_row(format!("add 1 package to {n}"));
        let mut remove = new_row(format!("remove 1 package from {n}"));
        let mut cold = new_row(format!(
            "add 1 package to {n}, createrepo-agent daemon just started"
        ));
        for _ in 0..args.runs {
            std::fs::create_dir_all(repo.join(&extra_loc))?;
            std::fs::hard_link(&extra, repo.join(&extra_file))?;
            add.koper.push(measure(
                &exe,
                &["internal-koper", "add", repo_s, cache_s, &extra_file],
            )?);
            add.nodb.push(measure(
                createrepo,
                &["-q", "--update", "--no-database", "-o", nodb_s, repo_s],
            )?);
            add.db.push(measure(
                createrepo,
                &["-q", "--update", "-o", db_s, repo_s],
            )?);
            // The agent is measured as it is meant to run, with a daemon
            // that already holds the repository (it keeps the rendered XML
            // of every package in memory); once per run it is also timed
            // from its start, when it first loads the repository.
            let mut daemon = None;
            if let Some(agent) = &agent {
                let mut d = agent::Daemon::start(&agent.exe, &cluster)?;
                d.command(&agent_add)?;
                d.command("COMMIT")?;
                cold.agent.push(Sample {
                    secs: d.started.elapsed().as_secs_f64(),
                    rss_kb: Some(d.peak_rss_kb()?),
                    cpu_secs: Some(d.cpu_secs()?),
                });
                remove
                    .agent
                    .push(AgentPeer::timed(&mut d, &[&agent_remove, "COMMIT"])?);
                add.agent
                    .push(AgentPeer::timed(&mut d, &[&agent_add, "COMMIT"])?);
                daemon = Some(d);
            }
            std::fs::remove_dir_all(repo.join(&extra_loc))?;
            remove.koper.push(measure(
                &exe,
                &["internal-koper", "remove", repo_s, cache_s, &extra_loc],
            )?);
            remove.nodb.push(measure(
                createrepo,
                &["-q", "--update", "--no-database", "-o", nodb_s, repo_s],
            )?);
            remove.db.push(measure(
                createrepo,
                &["-q", "--update", "-o", db_s, repo_s],
            )?);
            if let Some(mut d) = daemon {
                remove
                    .agent
                    .push(AgentPeer::timed(&mut d, &[&agent_remove, "COMMIT"])?);
                d.shutdown()?;
            }
        }
        // koper has no daemon: its add is the same operation in both rows.
        cold.koper = add.koper.clone();
        cold.nodb = add.nodb.clone();
        cold.db = add.db.clone();
        let mut same = new_row(format!("update with nothing changed, {n}"));
        for _ in 0..args.runs {
            same.koper.push(measure(
                &exe,
                &["internal-koper", "update", repo_s, cache_s],
            )?);
            same.nodb.push(measure(
                createrepo,
                &["-q", "--update", "--no-database", "-o", nodb_s, repo_s],
            )?);
            same.db.push(measure(
                createrepo,
                &["-q", "--update", "-o", db_s, repo_s],
            )?);
        }
        rows.push(add);
        if agent.is_some() {
            rows.push(cold);
        }
        rows.extend([remove, same]);
    }
    print_table(&rows);
    Ok(())
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3} s"))
}

fn ratio(a: Option<f64>, b: Option<f64>, digits: usize) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.digits$}", a / b),
        _ => "–".into(),
    }
}

fn cpu(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.3}"))
}

fn print_table(rows: &[Row]) {
    println!(
        "| operation | koper | createrepo_c --no-database | createrepo_c | createrepo-agent | wall koper / c --no-database | wall koper / agent | CPU s koper / c --no-database / agent | CPU koper / c --no-database | CPU koper / agent | peak RSS MB koper / c --no-database / c / agent |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (k, n, d, a) = (
            r.koper.median(),
            r.nodb.median(),
            r.db.median(),
            r.agent.median(),
        );
        let (kc, nc, ac) = (
            r.koper.cpu_median(),
            r.nodb.cpu_median(),
            r.agent.cpu_median(),
        );
        println!(
            "| {} | {} | {} | {} | {} | **{}** | **{}** | {} / {} / {} | {} | {} | {} / {} / {} / {} |",
            r.what,
            secs(k),
            secs(n),
            secs(d),
            secs(a),
            ratio(k, n, 3),
            ratio(k, a, 3),
            cpu(kc),
            cpu(nc),
            cpu(ac),
            ratio(kc, nc, 3),
            ratio(kc, ac, 3),
            r.koper.peak_mb(),
            r.nodb.peak_mb(),
            r.db.peak_mb(),
            r.agent.peak_mb()
        );
    }
}
