//! A synthetic but realistic corpus of binary RPMs, built with rpmbuild.
//!
//! Specs of 100 subpackages each (one rpmbuild per 100 packages); each
//! package gets, from a generator seeded by its index (so package `i` is
//! always the same): a version, sometimes an epoch, requirements on
//! lower-numbered packages, provides, weak dependencies, obsoletes and
//! conflicts now and then, a `%post` scriptlet for some, 4 to 20 files
//! (a script in /usr/bin, data under /usr/share, sometimes a config file in
//! /etc and a README), sizes spread log-uniformly from 1 KiB to 256 KiB of
//! text or random bytes; 40 % are arch-specific, the rest noarch. Each
//! spec has its own changelog.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const CHUNK: usize = 100;
const WORDS: &[&str] = &[
    "archive", "buffer", "cache", "checksum", "client", "compress", "config", "daemon", "deploy",
    "graph", "index", "kernel", "library", "manifest", "matrix", "mirror", "module", "network",
    "parser", "plugin", "queue", "record", "render", "resolver", "runtime", "search", "server",
    "shell", "signal", "socket", "solver", "storage", "stream", "table", "thread", "vector",
];
const LICENSES: &[&str] = &[
    "MIT",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "LGPL-2.1-or-later",
    "BSD-3-Clause",
    "Apache-2.0",
    "MPL-2.0",
    "ISC",
];
const GROUPS: &[&str] = &[
    "System Environment/Base",
    "Development/Libraries",
    "Applications/System",
    "Unspecified",
];

/// SplitMix64: a tiny deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    fn words(&mut self, n: u64) -> String {
        (0..n)
            .map(|_| self.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn name(i: usize) -> String {
    format!("bench{i:05}")
}

struct Plan {
    noarch: bool,
    epoch: Option<u64>,
    version: String,
    release: u64,
    license: &'static str,
    group: &'static str,
    summary: String,
    description: String,
    requires: Vec<String>,
    provides: Vec<String>,
    obsoletes: Vec<String>,
    conflicts: Vec<String>,
    recommends: Vec<String>,
    suggests: Vec<String>,
    post: bool,
    /// (path, size, random bytes?)
    files: Vec<(String, usize, bool)>,
    config: bool,
}

fn plan(i: usize) -> Plan {
    let mut r = Rng::new(0x6b6f_7065_7200_0000 ^ (i as u64).wrapping_mul(0x1000_0001));
    let n = name(i);
    let version = format!("{}.{}.{}", r.range(0, 9), r.range(0, 40), r.range(0, 99));
    let mut requires = Vec::new();
    if i > 1 {
        for _ in 0..r.range(0, 5) {
            let j = r.range((i.saturating_sub(1500)).max(1) as u64, (i - 1) as u64) as usize;
            requires.push(if r.chance(0.3) {
                format!("{} >= 0.1", name(j))
            } else {
                name(j)
            });
        }
    }
    requires.sort();
    requires.dedup();
    let mut provides = vec![format!(
        "{n}-api = {}",
        version.rsplit_once('.').map_or(version.as_str(), |v| v.0)
    )];
    if r.chance(0.25) {
        provides.push(format!("bundled({}) = 1.{}", r.pick(WORDS), r.range(0, 9)));
    }
    let earlier = |r: &mut Rng| name(r.range(1, (i.max(2) - 1) as u64) as usize);
    let mut files = vec![(format!("/usr/bin/{n}"), 0, false)];
    let count = r.range(4, 20) as usize;
    let total = (1024.0 * 256f64.powf((r.next_u64() >> 11) as f64 / (1u64 << 53) as f64)) as usize;
    for k in 0..count {
        let dir = ["", "data/", "lib/", "share/"][(r.next_u64() % 4) as usize];
        let random = r.chance(0.3);
        let ext = if random { "bin" } else { "txt" };
        let size = (total / count).max(16) + r.range(0, 64) as usize;
        files.push((
            format!("/usr/share/{n}/{dir}{}-{k:02}.{ext}", r.pick(WORDS)),
            size,
            random,
        ));
    }
    if r.chance(0.4) {
        files.push((
            format!("/usr/share/doc/{n}/README"),
            r.range(200, 4000) as usize,
            false,
        ));
    }
    Plan {
        noarch: r.chance(0.6),
        epoch: r.chance(0.05).then_some(1),
        release: r.range(1, 9),
        license: r.pick(LICENSES),
        group: r.pick(GROUPS),
        summary: format!("{} for {n}", r.words(3)),
        description: (0..r.range(1, 6))
            .map(|_| {
                let n = r.range(5, 12);
                r.words(n)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        requires,
        provides,
        obsoletes: if r.chance(0.1) {
            vec![format!("old-{n} < 1.0")]
        } else {
            vec![]
        },
        conflicts: if r.chance(0.05) {
            vec![format!("{n}-legacy")]
        } else {
            vec![]
        },
        recommends: if i > 1 && r.chance(0.15) {
            vec![earlier(&mut r)]
        } else {
            vec![]
        },
        suggests: if i > 1 && r.chance(0.05) {
            vec![earlier(&mut r)]
        } else {
            vec![]
        },
        post: r.chance(0.2),
        config: r.chance(0.3),
        version,
        files,
    }
}

fn spec(start: usize, count: usize, chunk: usize, installer: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "%global debug_package %{{nil}}");
    let _ = writeln!(s, "%global __os_install_post %{{nil}}");
    let _ = writeln!(s, "%global _build_id_links none");
    let _ = writeln!(s, "%global _binary_payload w3.zstdio");
    let _ = writeln!(
        s,
        "Name: bench-chunk{chunk:04}\nVersion: 1.{chunk}\nRelease: 1"
    );
    let _ = writeln!(
        s,
        "Summary: Benchmark corpus chunk {chunk}\nLicense: MIT\nURL: https://example.invalid/bench"
    );
    let _ = writeln!(s, "\n%description\nOnly the subpackages are built.\n");
    let _ = writeln!(
        s,
        "%install\n{} internal-install {start} {count} %{{buildroot}}\n",
        installer.display()
    );
    for i in start..start + count {
        let p = plan(i);
        let n = name(i);
        let _ = writeln!(s, "%package -n {n}");
        if let Some(e) = p.epoch {
            let _ = writeln!(s, "Epoch: {e}");
        }
        let _ = writeln!(
            s,
            "Version: {}\nRelease: {}\nSummary: {}",
            p.version, p.release, p.summary
        );
        let _ = writeln!(
            s,
            "License: {}\nGroup: {}\nURL: https://example.invalid/{n}",
            p.license, p.group
        );
        if p.noarch {
            let _ = writeln!(s, "BuildArch: noarch");
        }
        // Dependencies are declared; rpm's generators would only slow the
        // corpus build down.
        let _ = writeln!(s, "AutoReqProv: no");
        for (tag, list) in [
            ("Requires", &p.requires),
            ("Provides", &p.provides),
            ("Obsoletes", &p.obsoletes),
            ("Conflicts", &p.conflicts),
            ("Recommends", &p.recommends),
            ("Suggests", &p.suggests),
        ] {
            for v in list {
                let _ = writeln!(s, "{tag}: {v}");
            }
        }
        let _ = writeln!(s, "\n%description -n {n}\n{}\n", p.description);
        if p.post {
            let _ = writeln!(s, "%post -n {n}\necho configuring {n} >/dev/null || :\n");
        }
        let _ = writeln!(s, "%files -n {n}\n/usr/bin/{n}\n/usr/share/{n}");
        if p.config {
            let _ = writeln!(s, "%config(noreplace) /etc/{n}.conf");
        }
        if p.files.iter().any(|f| f.0.starts_with("/usr/share/doc/")) {
            let _ = writeln!(s, "%doc /usr/share/doc/{n}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "%changelog");
    let mut r = Rng::new(7 + chunk as u64);
    // 2024-06-01 plus the chunk number in days, going back from there.
    let mut day = 19_875 + chunk as i64;
    for k in 0..r.range(5, 25) {
        let (y, m, d, wd) = civil(day);
        let _ = writeln!(
            s,
            "* {wd} {m} {d:02} {y} Bench Bot <bot@example.invalid> - 1.{chunk}-{}",
            30 - k
        );
        for _ in 0..r.range(1, 3) {
            let n = r.range(4, 10);
            let _ = writeln!(s, "- {}", r.words(n));
        }
        day -= r.range(1, 60) as i64;
    }
    s
}

/// Year, month name, day and weekday name of a day number since 1970-01-01.
fn civil(days: i64) -> (i64, &'static str, i64, &'static str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        MONTHS[(m - 1) as usize],
        d,
        WEEKDAYS[days.rem_euclid(7) as usize],
    )
}

/// Fills a buildroot with the files of packages `start..start+count`
/// (called by the specs' `%install`).
pub fn install(start: usize, count: usize, buildroot: &Path) -> anyhow::Result<()> {
    for i in start..start + count {
        let p = plan(i);
        let n = name(i);
        let mut r = Rng::new(0xda7a ^ i as u64);
        let mut all = p.files.clone();
        if p.config {
            all.push((format!("/etc/{n}.conf"), r.range(100, 2000) as usize, false));
        }
        for (path, size, random) in all {
            let full = buildroot.join(path.trim_start_matches('/'));
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut f = std::fs::File::create(&full)?;
            if path.starts_with("/usr/bin/") {
                writeln!(f, "#!/bin/sh\nexec echo {n} \"$@\"")?;
                continue;
            }
            let mut written = 0;
            while written < size {
                let chunk = if random {
                    r.next_u64().to_le_bytes().to_vec()
                } else {
                    let mut w = r.pick(WORDS).as_bytes().to_vec();
                    w.push(if r.chance(0.1) { b'\n' } else { b' ' });
                    w
                };
                let take = chunk.len().min(size - written);
                f.write_all(&chunk[..take])?;
                written += take;
            }
        }
    }
    Ok(())
}

/// Builds packages `1..=count` into `dir` (flat), skipping the work when
/// `dir` already holds that many RPMs.
pub fn build(dir: &Path, count: usize) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let existing = rpms_in(dir)?;
    if existing.len() >= count {
        return Ok(existing);
    }
    build_range(dir, 1, count)?;
    rpms_in(dir)
}

/// Builds packages `first..first+count` into `dir`.
pub fn build_range(dir: &Path, first: usize, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let exe = std::env::current_exe()?;
    let work = tempfile::tempdir()?;
    let end = first + count;
    let chunks: Vec<(usize, usize, usize)> = (0..count.div_ceil(CHUNK))
        .map(|k| {
            let start = first + k * CHUNK;
            (start / CHUNK, start, CHUNK.min(end - start))
        })
        .collect();
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failure = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    let idx = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(k, start, n)) = chunks.get(idx) else {
                        break;
                    };
                    if let Err(e) = build_chunk(work.path(), dir, &exe, k, start, n) {
                        if let Ok(mut f) = failure.lock() {
                            *f = Some(e);
                        }
                        break;
                    }
                    eprint!(
                        "\rcorpus: {} of {count} packages",
                        ((idx + 1) * CHUNK).min(count)
                    );
                }
            });
        }
    });
    eprintln!();
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(())
}

fn build_chunk(
    work: &Path,
    out: &Path,
    exe: &Path,
    k: usize,
    start: usize,
    n: usize,
) -> anyhow::Result<()> {
    let top = work.join(format!("c{k}"));
    std::fs::create_dir_all(&top)?;
    let spec_path = top.join("chunk.spec");
    std::fs::write(&spec_path, spec(start, n, k, exe))?;
    let output = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .args(["--define", &format!("_topdir {}", top.display())])
        .args(["--define", &format!("_rpmdir {}", out.display())])
        .args([
            "--define",
            "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
        ])
        .args(["--define", "_dbpath /var/lib/rpm"])
        .arg(&spec_path)
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .context("running rpmbuild")?;
    if !output.status.success() {
        bail!(
            "rpmbuild of chunk {k} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&top);
    Ok(())
}

/// The `*.rpm` files directly in `dir`, sorted.
pub fn rpms_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rpm") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
