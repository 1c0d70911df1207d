//! A source build: the source RPM made from a git repository, in the same
//! isolation as a build. Everything from the repository is hostile: the
//! clone runs as the sandbox uid with a size and time limit, and the spec
//! or `.copr/Makefile` runs without the network (unless the project
//! enables it), seeing the builder's system read-only and writing only
//! the checkout and the output directory.

use std::ffi::OsString;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use koper_types::{ScmSource, SrpmMethod};

use crate::build::{Scratch, check_runner, interrupted, sandbox_command};
use crate::bwrap::{self, CHECKOUT_DIR, SOURCE_OUT_DIR, SourceView};
use crate::cgroup::{BuildCgroup, Hierarchies};
use crate::collect::collect_rpms;
use crate::layout::Layout;
use crate::logs::{Channel, Logs};
use crate::process::{self, Ended, Finished, Limits};
use crate::{BuildOutcome, CancelToken, LogSink, SandboxConfig, SandboxError, base, fsutil};

/// The longest a clone may take, whatever the build timeout.
const CLONE_TIMEOUT: Duration = Duration::from_secs(600);

/// One source build.
#[derive(Debug, Clone)]
pub struct SourceRequest {
    /// The repository and how to make the source RPM from it.
    pub scm: ScmSource,
    /// How long cloning and making the source RPM may take together.
    pub timeout: Duration,
    /// The most bytes `root.log` (the clone) or `build.log` may grow to.
    pub max_log_bytes: u64,
    /// The most disk the checkout may fill; a larger repository fails.
    pub max_checkout_bytes: u64,
    /// Whether the spec or Makefile may use the network (the clone always
    /// does).
    pub enable_net: bool,
    /// An existing, empty directory: the source RPM, `root.log` (the
    /// clone) and `build.log` (making the source RPM) are written here.
    pub result_dir: PathBuf,
}

/// Clones the repository and makes its source RPM; a success is
/// [`BuildOutcome::Succeeded`] with the source RPM as its one package.
///
/// Blocking; needs root, bubblewrap, git, rpmbuild (and make for
/// [`SrpmMethod::MakeSrpm`]) on the builder.
pub fn make_srpm(
    config: &SandboxConfig,
    request: &SourceRequest,
    log: &mut dyn LogSink,
    cancel: &CancelToken,
) -> Result<BuildOutcome, SandboxError> {
    let mut tools = vec!["bwrap", "git", "rpmbuild", "setpriv", "sh"];
    if request.scm.method == SrpmMethod::MakeSrpm {
        tools.push("make");
    }
    check_runner(config, &tools)?;
    request
        .scm
        .check()
        .map_err(|e| SandboxError::InvalidRequest(e.to_string()))?;
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
    let scratch_name = scratch
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup = BuildCgroup::create(
        &config.limits,
        &BuildCgroup::name_for(&config.work_dir, &scratch_name),
        &hierarchies,
    )?;
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

impl SourceJob<'_> {
    fn run(&self, logs: &mut Logs<'_>) -> Result<BuildOutcome, SandboxError> {
        let uid = self.config.sandbox_uid;
        let s = self.scratch;
        let checkout = s.join("src");
        let out = s.join("out");
        for dir in [&checkout, &out] {
            fsutil::make_dir(dir, 0o700)?;
            fsutil::chown(dir, uid)?;
        }
        let hosts = s.join("hosts");
        fsutil::write_file(
            &hosts,
            &format!(
                "127.0.0.1 localhost {h}\n::1 localhost {h}\n",
                h = bwrap::HOSTNAME
            ),
            0o644,
        )?;
        let scm = &self.request.scm;

        if let Some(outcome) = self.clone_repo(logs, &checkout, &out, &hosts)? {
            return Ok(outcome);
        }
        let workdir = match inside_checkout(&checkout, &scm.subdirectory, true) {
            Ok(dir) => dir,
            Err(reason) => return Ok(failed(logs, Channel::Build, reason)),
        };
        let spec = match find_spec(&checkout, &workdir, &scm.spec) {
            Ok(spec) => spec,
            Err(reason) => return Ok(failed(logs, Channel::Build, reason)),
        };
        let inside = |path: &Path| -> String {
            let relative = path.strip_prefix(&checkout).unwrap_or(path);
            Path::new(CHECKOUT_DIR)
                .join(relative)
                .to_string_lossy()
                .into_owned()
        };
        let command: Vec<OsString> = match (scm.method, &spec) {
            (SrpmMethod::Rpkg, None) => {
                return Ok(failed(
                    logs,
                    Channel::Build,
                    format!(
                        "no spec file: give one, or keep exactly one *.spec in {}",
                        shown_dir(&scm.subdirectory)
                    ),
                ));
            }
            (SrpmMethod::Rpkg, Some(spec)) => {
                let spec_dir = spec.parent().unwrap_or(&workdir);
                vec![
                    "rpmbuild".into(),
                    "-bs".into(),
                    "--define".into(),
                    "_topdir /builddir/rpmbuild".into(),
                    "--define".into(),
                    format!("_sourcedir {}", inside(spec_dir)).into(),
                    "--define".into(),
                    format!("_srcrpmdir {SOURCE_OUT_DIR}").into(),
                    "--".into(),
                    inside(spec).into(),
                ]
            }
            (SrpmMethod::MakeSrpm, spec) => {
                let makefile = checkout.join(".copr/Makefile");
                if !fs::symlink_metadata(&makefile).is_ok_and(|m| m.is_file()) {
                    return Ok(failed(
                        logs,
                        Channel::Build,
                        "the repository has no .copr/Makefile (needed by the make_srpm method)"
                            .into(),
                    ));
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
        let chdir = inside(&workdir);
        let view = SourceView {
            host: &self.host,
            checkout: &checkout,
            out: &out,
            hosts: &hosts,
            enable_net: self.request.enable_net,
            resolv_target: base::resolv_target(),
            chdir: &chdir,
            env: &[],
        };
        let what = match scm.method {
            SrpmMethod::Rpkg => "rpmbuild -bs",
            SrpmMethod::MakeSrpm => "make srpm",
        };
        logs.note(
            Channel::Build,
            &format!(
                "running {what} in {} as uid {uid}{}",
                shown_dir(&scm.subdirectory),
                if self.request.enable_net {
                    " (with network)"
                } else {
                    " (no network)"
                }
            ),
        );
        let args = bwrap::source_sandbox(&view, &command);
        let done = process::run(
            sandbox_command(self.config, self.cgroup, args, true),
            &mut logs.channel(Channel::Build),
            &self.limits(None),
        )?;
        if !done.success() {
            return Ok(self.step_failed(logs, Channel::Build, &done, what));
        }
        self.collect(logs, &out)
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
        checkout: &Path,
        out: &Path,
        hosts: &Path,
    ) -> Result<Option<BuildOutcome>, SandboxError> {
        let scm = &self.request.scm;
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
        let view = SourceView {
            host: &self.host,
            checkout,
            out,
            hosts,
            enable_net: true,
            resolv_target: base::resolv_target(),
            chdir: CHECKOUT_DIR,
            env: &env,
        };
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
        let args = bwrap::source_sandbox(&view, &command);
        let clone_deadline = Instant::now().checked_add(CLONE_TIMEOUT);
        let limits = Limits {
            deadline: match (self.deadline, clone_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..self.limits(Some(cap))
        };
        let done = process::run(
            sandbox_command(self.config, self.cgroup, args, true),
            &mut logs.channel(Channel::Root),
            &limits,
        )?;
        // A small clone ends between two measurements: measure once more.
        let used = fsutil::disk_usage(checkout);
        if matches!(done.ended, Ended::DiskLimitExceeded(_)) || used > cap {
            let reason = format!(
                "the repository is larger than {} MiB (the limit of a checkout) and was not built",
                (cap >> 20).max(1)
            );
            return Ok(Some(failed(logs, Channel::Root, reason)));
        }
        if matches!(done.ended, Ended::TimedOut)
            && clone_deadline.is_some_and(|d| Instant::now() >= d)
        {
            let reason = format!(
                "cloning took longer than {} s and was stopped",
                CLONE_TIMEOUT.as_secs()
            );
            return Ok(Some(failed(logs, Channel::Root, reason)));
        }
        if !done.success() {
            return Ok(Some(self.step_failed(
                logs,
                Channel::Root,
                &done,
                "git clone",
            )));
        }
        Ok(None)
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
}
