//! Benchmark of koper-repodata against createrepo_c, side by side in one
//! run: full generation, adding and removing one package, an update with
//! nothing changed; wall time (median of several runs) and peak memory.
//!
//! ```text
//! cargo run --release -p koper-repodata --bin repodata-bench -- \
//!     [--corpus DIR] [--sizes 1000,10000] [--runs 5] [--work DIR]
//! ```
//!
//! Without `--corpus`, a corpus of synthetic RPMs is built with rpmbuild
//! (see `corpus.rs`) and kept for later runs. Every measured operation runs
//! in its own process under `/usr/bin/time`, which reports its peak RSS.

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
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut out = Args {
        corpus: None,
        sizes: vec![1000, 10_000],
        runs: 5,
        work: std::env::temp_dir().join("koper-repodata-bench"),
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
            "-h" | "--help" => {
                println!(
                    "usage: repodata-bench [--corpus DIR] [--sizes 1000,10000] [--runs N] [--work DIR]"
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

/// Runs `cmd`, timing it and (with /usr/bin/time) measuring its peak RSS.
fn measure(program: &Path, args: &[&str]) -> anyhow::Result<Sample> {
    let time = Path::new("/usr/bin/time");
    let rss_file = tempfile::NamedTempFile::new()?;
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "%M %U %S", "-o"])
            .arg(rss_file.path())
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    let start = Instant::now();
    let output = cmd
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    let secs = start.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "{} {args:?} failed:\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let report = std::fs::read_to_string(rss_file.path()).unwrap_or_default();
    let fields: Vec<&str> = report
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let rss_kb = fields.first().and_then(|f| f.parse().ok());
    let cpu_secs = match (fields.get(1), fields.get(2)) {
        (Some(u), Some(s)) => u
            .parse::<f64>()
            .ok()
            .zip(s.parse::<f64>().ok())
            .map(|(u, s)| u + s),
        _ => None,
    };
    Ok(Sample {
        secs,
        rss_kb,
        cpu_secs,
    })
}

#[derive(Default)]
struct Stats {
    times: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<u64>,
}

fn median(values: &[f64]) -> f64 {
    let mut t = values.to_vec();
    t.sort_by(f64::total_cmp);
    t.get(t.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Stats {
    fn push(&mut self, s: Sample) {
        self.times.push(s.secs);
        self.rss.extend(s.rss_kb);
        self.cpu.extend(s.cpu_secs);
    }

    fn median(&self) -> f64 {
        median(&self.times)
    }

    fn cpu_median(&self) -> f64 {
        median(&self.cpu)
    }

    fn peak_mb(&self) -> String {
        self.rss
            .iter()
            .max()
            .map_or("?".into(), |kb| format!("{:.0}", *kb as f64 / 1024.0))
    }
}

struct Row {
    what: String,
    koper: Stats,
    nodb: Stats,
    db: Stats,
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str().context("paths must be UTF-8")
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
        let (repo_s, cache_s) = (path_str(&repo)?, path_str(&cache)?);
        let (nodb_s, db_s) = (path_str(&out_nodb)?, path_str(&out_db)?);
        let mut row = Row {
            what: format!("full generation, {n} packages"),
            koper: Stats::default(),
            nodb: Stats::default(),
            db: Stats::default(),
        };
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
        }
        eprintln!(
            "{}: koper {:.3}s, createrepo_c {:.3}s",
            row.what,
            row.koper.median(),
            row.nodb.median()
        );
        rows.push(row);
        if n != max {
            continue;
        }
        // Incremental runs on the largest repository, whose metadata all
        // three tools have just written.
        let extra_loc = "99999999-extra/".to_owned();
        let extra_file = format!(
            "{extra_loc}{}",
            extra.file_name().context("name")?.to_string_lossy()
        );
        let mut add = new_row(format!("add 1 package to {n}"));
        let mut remove = new_row(format!("remove 1 package from {n}"));
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
        }
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
        rows.extend([add, remove, same]);
    }
    print_table(&rows);
    Ok(())
}

fn new_row(what: String) -> Row {
    Row {
        what,
        koper: Stats::default(),
        nodb: Stats::default(),
        db: Stats::default(),
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| operation | koper | createrepo_c --no-database | createrepo_c | koper / c --no-database | CPU s (user+sys): koper / c --no-database | peak RSS MB: koper / c --no-database / c |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (k, n, d) = (r.koper.median(), r.nodb.median(), r.db.median());
        println!(
            "| {} | {k:.3} s | {n:.3} s | {d:.3} s | **{:.3}** | {:.2} / {:.2} | {} / {} / {} |",
            r.what,
            k / n,
            r.koper.cpu_median(),
            r.nodb.cpu_median(),
            r.koper.peak_mb(),
            r.nodb.peak_mb(),
            r.db.peak_mb()
        );
    }
}
