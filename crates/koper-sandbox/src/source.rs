//! A source build: the source RPM made from a git repository or from a
//! spec file fetched from a URL, in the same isolation as a build.
//! Everything from the repository or the spec is hostile: the clone (or
//! the fetch of the spec's source URLs) runs as the sandbox uid with a
//! size and time limit, and the spec or `.copr/Makefile` runs without the
//! network (unless the project enables it), seeing the builder's system
//! read-only and writing only the checkout and the output directory.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use koper_types::{ScmSource, SpecSource, SrpmMethod, check_file_name};

use crate::build::{Scratch, check_runner, interrupted, sandbox_command};
use crate::bwrap::{self, CHECKOUT_DIR, SOURCE_OUT_DIR, SourceView};
use crate::cgroup::{BuildCgroup, Hierarchies};
use crate::collect::collect_rpms;
use crate::layout::Layout;
use crate::logs::{Channel, Logs};
use crate::process::{self, Ended, Finished, Limits};
use crate::{BuildOutcome, CancelToken, LogSink, SandboxConfig, SandboxError, base, fsutil};

/// The longest a clone, or fetching a spec's sources, may take, whatever
/// the build timeout.
const CLONE_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest one source URL may take to fetch.
const FETCH_ONE_SECONDS: u64 = 300;
/// The largest spec `rpmspec -P` may expand to.
const MAX_PARSED_SPEC_BYTES: u64 = 64 << 20;
/// Where `rpmspec -P` writes the expanded spec, in the output directory.
const PARSED_SPEC: &str = "koper-parsed.spec";

/// What the source RPM is made from.
#[derive(Debug, Clone)]
pub enum SourceInput {
    /// A git repository, cloned in the sandbox.
    Git(ScmSource),
    /// A spec file (fetched by the server); the http(s) URLs among its
    /// `SourceN`/`PatchN` are fetched in the sandbox.
    Spec(SpecSource),
}

/// One source build.
#[derive(Debug, Clone)]
pub struct SourceRequest {
    /// The repository and how to make the source RPM from it, or the spec.
    pub input: SourceInput,
    /// How long cloning (or fetching) and making the source RPM may take
    /// together.
    pub timeout: Duration,
    /// The most bytes `root.log` (the clone or fetch) or `build.log` may
    /// grow to.
    pub max_log_bytes: u64,
    /// The most disk the checkout (or the spec with its fetched sources)
    /// may fill; more fails.
    pub max_checkout_bytes: u64,
    /// Whether the spec or Makefile may use the network (the clone and
    /// the fetch of source URLs always do).
    pub enable_net: bool,
    /// An existing, empty directory: the source RPM, `root.log` (the
    /// clone or fetch) and `build.log` (making the source RPM) are written
    /// here.
    pub result_dir: PathBuf,
}

/// Clones the repository (or takes the spec and fetches its sources) and
/// makes the source RPM; a success is [`BuildOutcome::Succeeded`] with
/// the source RPM as its one package.
///
/// Blocking; needs root, bubblewrap, rpmbuild, and git (and make for
/// [`SrpmMethod::MakeSrpm`]) or rpmspec and curl (for a spec) on the
/// builder.
pub fn make_srpm(
    config: &SandboxConfig,
    request: &SourceRequest,
    log: &mut dyn LogSink,
    cancel: &CancelToken,
) -> Result<BuildOutcome, SandboxError> {
    let mut tools = vec!["bwrap", "rpmbuild", "setpriv", "sh"];
    match &request.input {
        SourceInput::Git(scm) => {
            tools.push("git");
            if scm.method == SrpmMethod::MakeSrpm {
                tools.push("make");
            }
            scm.check()
        }
        SourceInput::Spec(spec) => {
            tools.extend(["rpmspec", "curl"]);
            spec.check()
        }
    }
    .map_err(|e| SandboxError::InvalidRequest(e.to_string()))?;
    check_runner(config, &tools)?;
    if !request.result_dir.is_dir() {
        return Err(SandboxError::InvalidRequest(format!(
            "the result directory {} does not exist",
            request.result_dir.display()
        )));
    }
    let mut logs = Logs::create(&request.result_dir, request.max_log_bytes, log)?;
    let scratch = Scratch::create(&config.work_dir)?;
    let hierarchies = Hierarchies::of_this_process();
    BuildCgroup::remove_stale(&hierarchies, &config.work_dir);
    let cgroup = BuildCgroup::for_scratch(config, &scratch.path, &hierarchies)?;
    let job = SourceJob {
        config,
        request,
        cancel,
        scratch: &scratch.path,
        cgroup: &cgroup,
        host: Layout::of_directory(Path::new("/"))?,
        deadline: Instant::now().checked_add(request.timeout),
    };
    job.run(&mut logs)
}

struct SourceJob<'j> {
    config: &'j SandboxConfig,
    request: &'j SourceRequest,
    cancel: &'j CancelToken,
    scratch: &'j Path,
    cgroup: &'j BuildCgroup,
    host: Layout,
    deadline: Option<Instant>,
}

/// The directories every step of a source build sees.
struct Dirs {
    checkout: PathBuf,
    out: PathBuf,
    hosts: PathBuf,
}

/// The last step: the command that makes the source RPM.
struct Plan {
    command: Vec<OsString>,
    /// Where it runs, inside the sandbox.
    chdir: String,
    /// What it is called in the log.
    what: &'static str,
    /// Where it runs, for the log.
    place: String,
}

/// A plan, or how the source build ended before it.
type Prepared = Result<Plan, BuildOutcome>;

impl SourceJob<'_> {
    fn run(&self, logs: &mut Logs<'_>) -> Result<BuildOutcome, SandboxError> {
        let uid = self.config.sandbox_uid;
        let s = self.scratch;
        let dirs = Dirs {
            checkout: s.join("src"),
            out: s.join("out"),
            hosts: s.join("hosts"),
        };
        for dir in [&dirs.checkout, &dirs.out] {
            fsutil::make_dir(dir, 0o700)?;
            fsutil::chown(dir, uid)?;
        }
        fsutil::write_file(
            &dirs.hosts,
            &format!(
                "127.0.0.1 localhost {h}\n::1 localhost {h}\n",
                h = bwrap::HOSTNAME
            ),
            0o644,
        )?;
        let prepared = match &self.request.input {
            SourceInput::Git(scm) => self.git_plan(logs, scm, &dirs)?,
            SourceInput::Spec(spec) => self.spec_plan(logs, spec, &dirs)?,
        };
        let plan = match prepared {
            Ok(plan) => plan,
            Err(outcome) => return Ok(outcome),
        };
        logs.note(
            Channel::Build,
            &format!(
                "running {} in {} as uid {uid}{}",
                plan.what,
                plan.place,
                if self.request.enable_net {
                    " (with network)"
                } else {
                    " (no network)"
                }
            ),
        );
        let done = self.run_step(
            logs,
            Channel::Build,
            &dirs,
            &plan.command,
            &plan.chdir,
            &[],
            self.request.enable_net,
            &self.limits(None),
        )?;
        if !done.success() {
            return Ok(self.step_failed(logs, Channel::Build, &done, plan.what));
        }
        self.collect(logs, &dirs.out)
    }

    /// Runs one command in the source sandbox.
    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        logs: &mut Logs<'_>,
        channel: Channel,
        dirs: &Dirs,
        command: &[OsString],
        chdir: &str,
        env: &[(&str, String)],
        enable_net: bool,
        limits: &Limits<'_>,
    ) -> Result<Finished, SandboxError> {
        let view = SourceView {
            host: &self.host,
            checkout: &dirs.checkout,
            out: &dirs.out,
            hosts: &dirs.hosts,
            enable_net,
            resolv_target: base::resolv_target(),
            chdir,
            env,
        };
        let args = bwrap::source_sandbox(&view, command);
        process::run(
            sandbox_command(self.config, self.cgroup, args, true),
            &mut logs.channel(channel),
            limits,
        )
    }

    /// Clones the repository and finds what to run in it.
    fn git_plan(
        &self,
        logs: &mut Logs<'_>,
        scm: &ScmSource,
        dirs: &Dirs,
    ) -> Result<Prepared, SandboxError> {
        let checkout = &dirs.checkout;
        if let Some(outcome) = self.clone_repo(logs, scm, dirs)? {
            return Ok(Err(outcome));
        }
        let workdir = match inside_checkout(checkout, &scm.subdirectory, true) {
            Ok(dir) => dir,
            Err(reason) => return Ok(Err(failed(logs, Channel::Build, reason))),
        };
        let spec = match find_spec(checkout, &workdir, &scm.spec) {
            Ok(spec) => spec,
            Err(reason) => return Ok(Err(failed(logs, Channel::Build, reason))),
        };
        let inside = |path: &Path| -> String {
            let relative = path.strip_prefix(checkout).unwrap_or(path);
            Path::new(CHECKOUT_DIR)
                .join(relative)
                .to_string_lossy()
                .into_owned()
        };
        let command: Vec<OsString> = match (scm.method, &spec) {
            (SrpmMethod::Rpkg, None) => {
                return Ok(Err(failed(
                    logs,
                    Channel::Build,
                    format!(
                        "no spec file: give one, or keep exactly one *.spec in {}",
                        shown_dir(&scm.subdirectory)
                    ),
                )));
            }
            (SrpmMethod::Rpkg, Some(spec)) => {
                let spec_dir = spec.parent().unwrap_or(&workdir);
                rpmbuild_bs(&inside(spec_dir), &inside(spec))
            }
            (SrpmMethod::MakeSrpm, spec) => {
                let makefile = checkout.join(".copr/Makefile");
                if !fs::symlink_metadata(&makefile).is_ok_and(|m| m.is_file()) {
                    return Ok(Err(failed(
                        logs,
                        Channel::Build,
                        "the repository has no .copr/Makefile (needed by the make_srpm method)"
                            .into(),
                    )));
                }
                vec![
                    "make".into(),
                    "-f".into(),
                    inside(&makefile).into(),
                    "srpm".into(),
                    format!("outdir={SOURCE_OUT_DIR}").into(),
                    format!("spec={}", spec.as_deref().map(inside).unwrap_or_default()).into(),
                ]
            }
        };
        Ok(Ok(Plan {
            command,
            chdir: inside(&workdir),
            what: match scm.method {
                SrpmMethod::Rpkg => "rpmbuild -bs",
                SrpmMethod::MakeSrpm => "make srpm",
            },
            place: shown_dir(&scm.subdirectory),
        }))
    }

    /// Puts the spec into the checkout, expands it without the network to
    /// learn its sources, fetches those that are http(s) URLs (with the
    /// network, but only curl runs then) and plans `rpmbuild -bs`.
    fn spec_plan(
        &self,
        logs: &mut Logs<'_>,
        spec: &SpecSource,
        dirs: &Dirs,
    ) -> Result<Prepared, SandboxError> {
        let uid = self.config.sandbox_uid;
        let path = dirs.checkout.join(&spec.file_name);
        fsutil::write_file(&path, &spec.content, 0o644)?;
        fsutil::chown(&path, uid)?;
        let inside_spec = format!("{CHECKOUT_DIR}/{}", spec.file_name);
        logs.note(
            Channel::Build,
            &format!(
                "reading the sources of {} (from {}) with rpmspec -P as uid {uid}{}",
                spec.file_name,
                spec.url,
                if self.request.enable_net {
                    " (with network)"
                } else {
                    " (no network)"
                }
            ),
        );
        let parse: Vec<OsString> = vec![
            "sh".into(),
            "-c".into(),
            "exec rpmspec -P --define '_topdir /builddir/rpmbuild' \
             --define \"_sourcedir $2\" -- \"$1\" > \"$3\""
                .into(),
            "koper-parse".into(),
            inside_spec.clone().into(),
            CHECKOUT_DIR.into(),
            format!("{SOURCE_OUT_DIR}/{PARSED_SPEC}").into(),
        ];
        let done = self.run_step(
            logs,
            Channel::Build,
            dirs,
            &parse,
            CHECKOUT_DIR,
            &[],
            self.request.enable_net,
            &self.limits(None),
        )?;
        if !done.success() {
            return Ok(Err(self.step_failed(
                logs,
                Channel::Build,
                &done,
                "rpmspec -P",
            )));
        }
        let parsed_path = dirs.out.join(PARSED_SPEC);
        let parsed = read_sandbox_file(&parsed_path, MAX_PARSED_SPEC_BYTES);
        let _ = fs::remove_file(&parsed_path);
        let parsed = match parsed {
            Ok(text) => text,
            Err(reason) => return Ok(Err(failed(logs, Channel::Build, reason))),
        };
        let fetches = match plan_fetches(&spec_sources(&parsed), &spec.file_name, &dirs.checkout) {
            Ok(fetches) => fetches,
            Err(reason) => return Ok(Err(failed(logs, Channel::Build, reason))),
        };
        if !fetches.is_empty()
            && let Some(outcome) = self.fetch_sources(logs, &fetches, dirs)?
        {
            return Ok(Err(outcome));
        }
        Ok(Ok(Plan {
            command: rpmbuild_bs(CHECKOUT_DIR, &inside_spec),
            chdir: CHECKOUT_DIR.into(),
            what: "rpmbuild -bs",
            place: format!("the directory of {}", spec.file_name),
        }))
    }

    /// Fetches each `(file name, URL)` into the checkout with curl in the
    /// sandbox (http and https only, also after redirects), within the
    /// checkout's disk limit and [`CLONE_TIMEOUT`]; `Some` when that
    /// failed.
    fn fetch_sources(
        &self,
        logs: &mut Logs<'_>,
        fetches: &[(String, String)],
        dirs: &Dirs,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        let cap = self.request.max_checkout_bytes;
        logs.note(
            Channel::Root,
            &format!(
                "fetching {} source{} as uid {}",
                fetches.len(),
                if fetches.len() == 1 { "" } else { "s" },
                self.config.sandbox_uid
            ),
        );
        let script = format!(
            "while [ \"$#\" -gt 0 ]; do echo \"koper: fetching $2\"; \
             curl --fail --silent --show-error --location --max-redirs 5 \
             --proto =http,https --proto-redir =http,https --connect-timeout 15 \
             --max-time {FETCH_ONE_SECONDS} --max-filesize {cap} --output \"$1\" -- \"$2\" \
             || exit 1; shift 2; done"
        );
        let mut command: Vec<OsString> = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "koper-fetch".into(),
        ];
        for (name, url) in fetches {
            command.push(name.into());
            command.push(url.into());
        }
        let fetch_deadline = Instant::now().checked_add(CLONE_TIMEOUT);
        let limits = Limits {
            deadline: earliest(self.deadline, fetch_deadline),
            ..self.limits(Some(cap))
        };
        let env = [("HOME", "/tmp".to_owned())];
        let done = self.run_step(
            logs,
            Channel::Root,
            dirs,
            &command,
            CHECKOUT_DIR,
            &env,
            true,
            &limits,
        )?;
        Ok(self.checkout_ended(
            logs,
            &done,
            fetch_deadline,
            CheckoutStep {
                what: "fetching the spec's sources",
                too_large: "the spec's sources are larger than",
                too_slow: "fetching the spec's sources took",
            },
        ))
    }

    fn limits(&self, disk: Option<u64>) -> Limits<'_> {
        let disk = disk.or(self.config.limits.max_disk_bytes);
        Limits {
            deadline: self.deadline,
            cancel: self.cancel,
            disk: disk.map(|bytes| (self.scratch, bytes)),
        }
    }

    /// Clones the repository (with the network) and checks out the
    /// committish; `Some` when that failed.
    fn clone_repo(
        &self,
        logs: &mut Logs<'_>,
        scm: &ScmSource,
        dirs: &Dirs,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        let cap = self.request.max_checkout_bytes;
        logs.note(
            Channel::Root,
            &format!(
                "cloning {} ({}) as uid {}",
                scm.clone_url,
                if scm.committish.is_empty() {
                    "default branch"
                } else {
                    &scm.committish
                },
                self.config.sandbox_uid
            ),
        );
        // Only remote transports (no file://, ext::, submodule tricks), no
        // prompts for credentials, no hooks, nothing from the host's git
        // configuration.
        let config = [
            ("protocol.allow", "never"),
            ("protocol.http.allow", "always"),
            ("protocol.https.allow", "always"),
            ("protocol.git.allow", "always"),
            ("core.hooksPath", "/dev/null"),
            ("advice.detachedHead", "false"),
        ];
        let mut env: Vec<(&str, String)> = vec![
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_CONFIG_COUNT", config.len().to_string()),
        ];
        let keys: Vec<(String, String)> = (0..config.len())
            .map(|i| {
                (
                    format!("GIT_CONFIG_KEY_{i}"),
                    format!("GIT_CONFIG_VALUE_{i}"),
                )
            })
            .collect();
        for ((key, value), (key_var, value_var)) in config.iter().zip(&keys) {
            env.push((key_var, (*key).into()));
            env.push((value_var, (*value).into()));
        }
        let script = "git clone --quiet --no-recurse-submodules -- \"$1\" . || exit 1; \
                      if [ -n \"$2\" ]; then git checkout --quiet \"$2\" -- || exit 1; fi; \
                      git log -1 --format='koper: checked out %H' || exit 1";
        let command: Vec<OsString> = vec![
            "sh".into(),
            "-c".into(),
            script.into(),
            "koper-clone".into(),
            scm.clone_url.clone().into(),
            scm.committish.clone().into(),
        ];
        let clone_deadline = Instant::now().checked_add(CLONE_TIMEOUT);
        let limits = Limits {
            deadline: earliest(self.deadline, clone_deadline),
            ..self.limits(Some(cap))
        };
        let done = self.run_step(
            logs,
            Channel::Root,
            dirs,
            &command,
            CHECKOUT_DIR,
            &env,
            true,
            &limits,
        )?;
        Ok(self.checkout_ended(
            logs,
            &done,
            clone_deadline,
            CheckoutStep {
                what: "git clone",
                too_large: "the repository is larger than",
                too_slow: "cloning took",
            },
        ))
    }

    /// What a step that fills the checkout ended as: `Some` when it went
    /// past the checkout's size cap, its own deadline, or failed.
    fn checkout_ended(
        &self,
        logs: &mut Logs<'_>,
        done: &Finished,
        step_deadline: Option<Instant>,
        step: CheckoutStep,
    ) -> Option<BuildOutcome> {
        let cap = self.request.max_checkout_bytes;
        // The step ran with the cap on the whole scratch directory, the
        // checkout included, measured once more as it ended.
        if matches!(done.ended, Ended::DiskLimitExceeded(_)) {
            let reason = format!(
                "{} {} MiB (the limit of a checkout); nothing was built",
                step.too_large,
                (cap >> 20).max(1)
            );
            return Some(failed(logs, Channel::Root, reason));
        }
        if matches!(done.ended, Ended::TimedOut)
            && step_deadline.is_some_and(|d| Instant::now() >= d)
        {
            let reason = format!(
                "{} longer than {} s and was stopped",
                step.too_slow,
                CLONE_TIMEOUT.as_secs()
            );
            return Some(failed(logs, Channel::Root, reason));
        }
        (!done.success()).then(|| self.step_failed(logs, Channel::Root, done, step.what))
    }

    /// Takes the one source RPM out of the output directory.
    fn collect(&self, logs: &mut Logs<'_>, out: &Path) -> Result<BuildOutcome, SandboxError> {
        let result_dir = &self.request.result_dir;
        let collected = collect_rpms(out, result_dir, self.config.sandbox_uid)?;
        for refused in &collected.refused {
            logs.note(
                Channel::Build,
                &format!("not taken from the output: {refused}"),
            );
        }
        let (sources, others): (Vec<PathBuf>, Vec<PathBuf>) = collected
            .packages
            .into_iter()
            .partition(|p| p.to_string_lossy().ends_with(".src.rpm"));
        for other in &others {
            let _ = fs::remove_file(other);
        }
        match sources.as_slice() {
            [srpm] => {
                if let Some(name) = srpm.file_name() {
                    logs.note(Channel::Build, &format!("made {}", name.to_string_lossy()));
                }
                Ok(BuildOutcome::Succeeded { packages: sources })
            }
            [] => Ok(failed(
                logs,
                Channel::Build,
                "no source RPM was made".into(),
            )),
            many => {
                for srpm in many {
                    let _ = fs::remove_file(srpm);
                }
                Ok(failed(
                    logs,
                    Channel::Build,
                    format!("{} source RPMs were made; one is expected", many.len()),
                ))
            }
        }
    }

    fn step_failed(
        &self,
        logs: &mut Logs<'_>,
        channel: Channel,
        done: &Finished,
        what: &str,
    ) -> BuildOutcome {
        let log_name = match channel {
            Channel::Root => "root.log",
            Channel::Build => "build.log",
        };
        match &done.ended {
            Ended::Exited(status) => {
                let reason = match self.cgroup.limit_hit() {
                    Some(limit) => format!("{limit}; see {log_name}"),
                    None => format!(
                        "{what} failed ({status}): {}; see {log_name}",
                        done.last_lines(2)
                    ),
                };
                failed(logs, channel, reason)
            }
            ended => interrupted(logs, channel, ended),
        }
    }
}

/// `rpmbuild -bs` of a spec (paths inside the sandbox) with its sources
/// in `source_dir`.
fn rpmbuild_bs(source_dir: &str, spec: &str) -> Vec<OsString> {
    vec![
        "rpmbuild".into(),
        "-bs".into(),
        "--define".into(),
        "_topdir /builddir/rpmbuild".into(),
        "--define".into(),
        format!("_sourcedir {source_dir}").into(),
        "--define".into(),
        format!("_srcrpmdir {SOURCE_OUT_DIR}").into(),
        "--".into(),
        spec.into(),
    ]
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Reads a file the sandbox wrote: a regular file (never through a
/// link), at most `max` bytes, as text.
fn read_sandbox_file(path: &Path, max: u64) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read the expanded spec: {e}");
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| unreadable(&e))?;
    let meta = file.metadata().map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(unreadable(&"it is not a file"));
    }
    if meta.len() > max {
        return Err(format!("the spec expands to more than {} MiB", max >> 20));
    }
    let mut bytes = Vec::new();
    file.take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// rpm's section names that end a preamble (`%package` starts one).
const SECTIONS: &[&str] = &[
    "description",
    "prep",
    "conf",
    "generate_buildrequires",
    "build",
    "install",
    "check",
    "clean",
    "files",
    "changelog",
    "pre",
    "post",
    "preun",
    "postun",
    "pretrans",
    "posttrans",
    "preuntrans",
    "postuntrans",
    "verifyscript",
    "triggerprein",
    "triggerin",
    "triggerun",
    "triggerpostun",
    "filetriggerin",
    "filetriggerun",
    "filetriggerpostun",
    "transfiletriggerin",
    "transfiletriggerun",
    "transfiletriggerpostun",
    "sepolicy",
];

/// Where a line of an expanded spec is.
enum Part {
    Preamble,
    List(&'static str),
    Other,
}

/// The `SourceN:`/`PatchN:` values of an expanded spec's preambles (and
/// the lines of its `%sourcelist`/`%patchlist` sections), each with its
/// tag.
fn spec_sources(parsed: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut part = Part::Preamble;
    for line in parsed.lines() {
        let trimmed = line.trim();
        if let Some(section) = trimmed.strip_prefix('%') {
            let word = section.split_whitespace().next().unwrap_or("");
            let changed = match word {
                "package" => Some(Part::Preamble),
                "sourcelist" => Some(Part::List("Source")),
                "patchlist" => Some(Part::List("Patch")),
                word if SECTIONS.contains(&word) => Some(Part::Other),
                _ => None,
            };
            if let Some(changed) = changed {
                part = changed;
                continue;
            }
        }
        match part {
            Part::Other => {}
            Part::List(tag) => {
                if !trimmed.is_empty() && !trimmed.starts_with('#') {
                    found.push((tag.to_owned(), trimmed.to_owned()));
                }
            }
            Part::Preamble => {
                let Some((tag, value)) = trimmed.split_once(':') else {
                    continue;
                };
                let tag = tag.trim();
                let lower = tag.to_ascii_lowercase();
                let number = lower
                    .strip_prefix("source")
                    .or_else(|| lower.strip_prefix("patch"));
                if number.is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
                    && !value.trim().is_empty()
                {
                    found.push((tag.to_owned(), value.trim().to_owned()));
                }
            }
        }
    }
    found
}

/// Which sources to fetch, as `(file name, URL)`: the http(s) URLs; a
/// source that is not a URL must already be next to the spec, and a URL
/// must name a plain file (rpm takes what follows its last `/`).
fn plan_fetches(
    sources: &[(String, String)],
    spec_name: &str,
    dir: &Path,
) -> Result<Vec<(String, String)>, String> {
    let mut fetches: Vec<(String, String)> = Vec::new();
    for (tag, value) in sources {
        let name = value.rsplit('/').next().unwrap_or(value);
        let Some((scheme, _)) = value.split_once("://") else {
            if !fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_file()) {
                return Err(format!(
                    "{tag} {value:?} is not a URL, and a spec built from a URL has no files \
                     next to it: give the source's http(s) URL in the spec, or build from git"
                ));
            }
            continue;
        };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return Err(format!(
                "{tag} {value:?}: only http and https sources are fetched"
            ));
        }
        if let Err(e) = check_file_name(name) {
            return Err(format!(
                "{tag} {value:?} names no file koper can write: {e}"
            ));
        }
        if name == spec_name {
            return Err(format!("{tag} {value:?} has the spec's own name"));
        }
        let url = value.split('#').next().unwrap_or(value);
        match fetches.iter().find(|(n, _)| n == name) {
            Some((_, other)) if other != url => {
                return Err(format!("two sources are named {name} ({other} and {url})"));
            }
            Some(_) => {}
            None => fetches.push((name.to_owned(), url.to_owned())),
        }
    }
    Ok(fetches)
}

fn failed(logs: &mut Logs<'_>, channel: Channel, reason: String) -> BuildOutcome {
    logs.note(channel, &reason);
    BuildOutcome::Failed { reason }
}

fn shown_dir(subdirectory: &str) -> String {
    if subdirectory.is_empty() {
        "the top of the repository".into()
    } else {
        format!("{subdirectory}/")
    }
}

/// `relative` below `checkout`, each part a real directory (or, for the
/// last part when `!dir`, a regular file), never a symlink: the checkout
/// is the repository's, and a link could point anywhere.
fn inside_checkout(checkout: &Path, relative: &str, dir: bool) -> Result<PathBuf, String> {
    let mut path = checkout.to_owned();
    let parts: Vec<&std::ffi::OsStr> = Path::new(relative)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let last = i + 1 == parts.len();
        let ok = match fs::symlink_metadata(&path) {
            Ok(meta) if last && !dir => meta.is_file(),
            Ok(meta) => meta.is_dir(),
            Err(_) => false,
        };
        if !ok {
            let kind = if last && !dir { "file" } else { "directory" };
            return Err(format!(
                "{relative} is not a {kind} in the repository (symlinks are not followed)"
            ));
        }
    }
    Ok(path)
}

/// The spec file: the one named (relative to the subdirectory), or the
/// only `*.spec` in the subdirectory; `None` when there is none.
fn find_spec(checkout: &Path, workdir: &Path, spec: &str) -> Result<Option<PathBuf>, String> {
    let relative_workdir = workdir.strip_prefix(checkout).unwrap_or(Path::new(""));
    if !spec.is_empty() {
        let relative = relative_workdir.join(spec);
        return inside_checkout(checkout, &relative.to_string_lossy(), false).map(Some);
    }
    let listing = fs::read_dir(workdir).map_err(|e| format!("cannot list the checkout: {e}"))?;
    let mut specs: Vec<PathBuf> = listing
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".spec"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    specs.sort();
    match specs.len() {
        0 | 1 => Ok(specs.pop()),
        n => Err(format!(
            "{n} spec files in {}; say which one to use",
            if relative_workdir.as_os_str().is_empty() {
                "the top of the repository".into()
            } else {
                relative_workdir.display().to_string()
            }
        )),
    }
}

/// How a step that fills the checkout is named in its failures.
struct CheckoutStep {
    /// The step, as a failed step is reported.
    what: &'static str,
    /// Starts the message when the checkout went past its size cap.
    too_large: &'static str,
    /// Starts the message when the step ran past its own deadline.
    too_slow: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_checkout_never_follow_links() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        fs::create_dir_all(top.join("pkg/sub")).unwrap();
        fs::write(top.join("pkg/x.spec"), "").unwrap();
        std::os::unix::fs::symlink("/etc", top.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", top.join("pkg/evil.spec")).unwrap();
        assert_eq!(inside_checkout(top, "pkg", true), Ok(top.join("pkg")));
        assert!(inside_checkout(top, "etc", true).is_err());
        assert!(inside_checkout(top, "missing", true).is_err());
        assert!(inside_checkout(top, "pkg/evil.spec", false).is_err());
        assert_eq!(
            find_spec(top, &top.join("pkg"), ""),
            Ok(Some(top.join("pkg/x.spec"))),
            "the link is not a spec file"
        );
        assert_eq!(find_spec(top, &top.join("pkg/sub"), ""), Ok(None));
        fs::write(top.join("pkg/y.spec"), "").unwrap();
        assert!(find_spec(top, &top.join("pkg"), "").is_err());
        assert_eq!(
            find_spec(top, &top.join("pkg"), "y.spec"),
            Ok(Some(top.join("pkg/y.spec")))
        );
    }

    #[test]
    fn sources_of_an_expanded_spec() {
        let parsed = "Name: x\nSource0: https://h/x-1.tar.gz\nsource1:  x.conf \n\
                      Patch: http://h/p/fix.patch#/x-fix.patch\nSourceX: no\n\
                      Summary: Source: no\n%description\nSource9: in text\n\
                      %sourcelist\nhttps://h/extra.tar.gz\n\n%prep\n";
        let found = spec_sources(parsed);
        let values: Vec<&str> = found.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "https://h/x-1.tar.gz",
                "x.conf",
                "http://h/p/fix.patch#/x-fix.patch",
                "https://h/extra.tar.gz"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x.conf"), "").unwrap();
        let urls = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(t, s)| (t.to_string(), s.to_string()))
                .collect()
        };
        assert_eq!(
            plan_fetches(
                &urls(&[
                    ("Source0", "https://h/x-1.tar.gz"),
                    ("Source1", "x.conf"),
                    ("Patch0", "http://h/p/fix.patch#/x-fix.patch")
                ]),
                "x.spec",
                dir.path()
            ),
            Ok(vec![
                ("x-1.tar.gz".into(), "https://h/x-1.tar.gz".into()),
                ("x-fix.patch".into(), "http://h/p/fix.patch".into())
            ])
        );
        for bad in [
            ("Source0", "missing.tar.gz"),
            ("Source0", "ftp://h/x.tar.gz"),
            ("Source0", "file:///etc/passwd"),
            ("Source0", "http://h/a/.."),
            ("Source0", "http://h/"),
            ("Source0", "http://h/x.spec"),
            ("Source0", "http://h/.bashrc"),
        ] {
            assert!(
                plan_fetches(&urls(&[bad]), "x.spec", dir.path()).is_err(),
                "{bad:?}"
            );
        }
    }
}
