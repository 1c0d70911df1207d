//! A cgroup per build: memory and process-count limits, and a way to kill
//! every process of the build at the end.
//!
//! Hosts differ. Fedora hosts mount only cgroup v2 (`memory.max`,
//! `pids.max`, `cgroup.kill`). Others are hybrids: the controllers are v1
//! hierarchies (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/pids`) and the v2
//! tree has none of them. Each limit is set in v2 when the controller is
//! there and in v1 otherwise; the build's processes join every group made
//! for it. Groups are made under the builder's own groups, as listed in
//! `/proc/self/cgroup`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{ResourceLimits, SandboxConfig, SandboxError};

/// The prefix of build cgroups' names.
const PREFIX: &str = "koper-";

/// Where the cgroup hierarchies of this process are.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Hierarchies {
    /// The process's v2 group directory.
    pub(crate) v2: Option<PathBuf>,
    /// The process's v1 group directory per controller.
    pub(crate) v1: BTreeMap<String, PathBuf>,
}

impl Hierarchies {
    /// Reads `/proc/self/cgroup` and `/proc/self/mountinfo`.
    pub(crate) fn of_this_process() -> Self {
        let cgroup = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        Self::parse(&cgroup, &mountinfo)
    }

    /// The groups listed in a `/proc/<pid>/cgroup`, located through the
    /// mounts in a `/proc/<pid>/mountinfo`.
    pub(crate) fn parse(cgroup: &str, mountinfo: &str) -> Self {
        // (mount point, mount root) of cgroup2, and of each v1 controller.
        let mut v2_mount = None;
        let mut v1_mounts: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(root), Some(point), Some(fstype), Some(options)) = (
                fields.get(3),
                fields.get(4),
                fields.get(dash + 1),
                fields.get(dash + 3),
            ) else {
                continue;
            };
            let mount = (PathBuf::from(unescape(point)), unescape(root));
            match *fstype {
                "cgroup2" => {
                    v2_mount.get_or_insert(mount);
                }
                "cgroup" => {
                    for option in options.split(',') {
                        v1_mounts
                            .entry(option.to_owned())
                            .or_insert_with(|| mount.clone());
                    }
                }
                _ => {}
            }
        }
        let mut found = Self::default();
        for line in cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                if let Some((point, root)) = &v2_mount {
                    found.v2 = Some(group_dir(point, root, path));
                }
                continue;
            }
            for controller in controllers.split(',') {
                if let Some((point, root)) = v1_mounts.get(controller) {
                    found
                        .v1
                        .insert(controller.to_owned(), group_dir(point, root, path));
                }
            }
        }
        found
    }
}

/// mountinfo escapes spaces and a few other characters as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(Ok(value)) = field.get(i + 1..i + 4).map(|d| u8::from_str_radix(d, 8))
        {
            out.push(value);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The directory of group `path` in a hierarchy mounted at `point` whose
/// mount shows the hierarchy's `root`.
fn group_dir(point: &Path, root: &str, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(root)
        .filter(|_| root != "/")
        .unwrap_or(path);
    point.join(relative.trim_start_matches('/'))
}

/// Which mechanism a group belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

#[derive(Debug)]
struct Group {
    dir: PathBuf,
    version: Version,
    /// The controller a v1 group is for, or the v2 controllers in use.
    role: &'static str,
}

/// The cgroups of one build. Dropping it kills every process left in them
/// and removes them.
#[derive(Debug)]
pub(crate) struct BuildCgroup {
    groups: Vec<Group>,
    limits: ResourceLimits,
}

impl BuildCgroup {
    /// Makes the groups named `group_name` ([`BuildCgroup::name_for`])
    /// under this process's groups and sets `limits`. Without limits a v2 group
    /// is still made when possible, to kill leftovers with; its absence is
    /// not an error (the pid namespace kills them too). A limit that cannot
    /// be set is an error: a build must not run without a limit it was
    /// given.
    pub(crate) fn create(
        limits: &ResourceLimits,
        group_name: &str,
        hierarchies: &Hierarchies,
    ) -> Result<Self, SandboxError> {
        let mut cgroup = Self {
            groups: Vec::new(),
            limits: limits.clone(),
        };
        let v2_controllers = hierarchies
            .v2
            .as_deref()
            .map(|dir| fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default())
            .unwrap_or_default();
        let v2_has = |c: &str| v2_controllers.split_whitespace().any(|x| x == c);
        let memory_v2 = limits.memory_bytes.is_some() && v2_has("memory");
        let pids_v2 = limits.max_processes.is_some() && v2_has("pids");

        if let Some(parent) = &hierarchies.v2 {
            let mut wanted = Vec::new();
            if memory_v2 {
                wanted.push("memory");
            }
            if pids_v2 {
                wanted.push("pids");
            }
            if !wanted.is_empty() {
                enable_controllers(parent, &wanted)?;
            }
            let dir = parent.join(group_name);
            match fs::create_dir(&dir) {
                Ok(()) => {
                    cgroup.groups.push(Group {
                        dir: dir.clone(),
                        version: Version::V2,
                        role: "v2",
                    });
                    if let (true, Some(bytes)) = (memory_v2, limits.memory_bytes) {
                        write(&dir.join("memory.max"), &bytes.to_string())?;
                        // Swap would let a build go past its limit slowly.
                        let _ = fs::write(dir.join("memory.swap.max"), "0");
                    }
                    if let (true, Some(count)) = (pids_v2, limits.max_processes) {
                        write(&dir.join("pids.max"), &count.to_string())?;
                    }
                }
                Err(e) if memory_v2 || pids_v2 => {
                    return Err(SandboxError::io(format!(
                        "creating the cgroup {}",
                        dir.display()
                    ))(e));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no v2 cgroup for the build; the pid namespace still kills leftovers");
                }
            }
        }

        if let (false, Some(bytes)) = (memory_v2, limits.memory_bytes) {
            let dir = cgroup.v1_group(hierarchies, "memory", group_name)?;
            write(&dir.join("memory.limit_in_bytes"), &bytes.to_string())?;
            let memsw = dir.join("memory.memsw.limit_in_bytes");
            if memsw.exists() {
                write(&memsw, &bytes.to_string())?;
            }
        }
        if let (false, Some(count)) = (pids_v2, limits.max_processes) {
            let dir = cgroup.v1_group(hierarchies, "pids", group_name)?;
            write(&dir.join("pids.max"), &count.to_string())?;
        }
        Ok(cgroup)
    }

    fn v1_group(
        &mut self,
        hierarchies: &Hierarchies,
        controller: &'static str,
        name: &str,
    ) -> Result<PathBuf, SandboxError> {
        let Some(parent) = hierarchies.v1.get(controller) else {
            return Err(SandboxError::Config(format!(
                "a {controller} limit is set but this host has no {controller} cgroup controller \
                 (neither in cgroup v2 nor v1)"
            )));
        };
        let dir = parent.join(name);
        fs::create_dir(&dir).map_err(SandboxError::io(format!(
            "creating the cgroup {}",
            dir.display()
        )))?;
        self.groups.push(Group {
            dir: dir.clone(),
            version: Version::V1,
            role: controller,
        });
        Ok(dir)
    }

    /// The `cgroup.procs` files a build's first process writes its pid to.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.groups
            .iter()
            .map(|g| g.dir.join("cgroup.procs"))
            .collect()
    }

    /// Kills every process in the build's groups and waits (a little) for
    /// them to be gone.
    pub(crate) fn kill_all(&self) {
        for group in self.groups.iter().filter(|g| g.version == Version::V2) {
            let _ = fs::write(group.dir.join("cgroup.kill"), "1");
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut alive = false;
            for group in &self.groups {
                for pid in members(&group.dir) {
                    alive = true;
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if !alive || Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Why the build was stopped by a limit, when it was.
    pub(crate) fn limit_hit(&self) -> Option<String> {
        for group in &self.groups {
            let memory = match (group.version, group.role) {
                (Version::V2, _) => counter(&group.dir.join("memory.events"), "oom_kill"),
                (Version::V1, "memory") => {
                    counter(&group.dir.join("memory.oom_control"), "oom_kill")
                }
                _ => None,
            };
            if memory.is_some_and(|n| n > 0) {
                return Some(format!(
                    "the build ran out of memory (limit {} MiB) and was killed",
                    self.limits.memory_bytes.unwrap_or(0) >> 20
                ));
            }
            let pids = match (group.version, group.role) {
                (Version::V2, _) | (Version::V1, "pids") => {
                    counter(&group.dir.join("pids.events"), "max")
                }
                _ => None,
            };
            if pids.is_some_and(|n| n > 0) {
                return Some(format!(
                    "the build hit its limit of {} processes",
                    self.limits.max_processes.unwrap_or(0)
                ));
            }
        }
        None
    }

    /// The groups of the build (or source step, or rpmlint server) whose
    /// scratch directory is `scratch`, in `config`'s work dir, with its
    /// limits; named by [`BuildCgroup::name_for`].
    pub(crate) fn for_scratch(
        config: &SandboxConfig,
        scratch: &Path,
        hierarchies: &Hierarchies,
    ) -> Result<Self, SandboxError> {
        let scratch_name = scratch
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::create(
            &config.limits,
            &Self::name_for(&config.work_dir, &scratch_name),
            hierarchies,
        )
    }

    /// The name of the groups of the build whose scratch directory is
    /// `scratch_name` in `work_dir`: the work dir is part of it, so that
    /// builders with different work dirs never take each other's groups
    /// for stale ones.
    pub(crate) fn name_for(work_dir: &Path, scratch_name: &str) -> String {
        format!("{PREFIX}{}-{scratch_name}", work_dir_tag(work_dir))
    }

    /// Removes the groups of builds of `work_dir` whose scratch directory
    /// is gone (their builder was killed).
    pub(crate) fn remove_stale(hierarchies: &Hierarchies, work_dir: &Path) {
        let prefix = format!("{PREFIX}{}-", work_dir_tag(work_dir));
        let parents = hierarchies.v2.iter().chain(hierarchies.v1.values());
        for parent in parents {
            let Ok(listing) = fs::read_dir(parent) else {
                continue;
            };
            for entry in listing.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(scratch) = name.strip_prefix(&prefix) else {
                    continue;
                };
                if !scratch.is_empty() && !work_dir.join(scratch).exists() {
                    let _ = fs::write(entry.path().join("cgroup.kill"), "1");
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }
}

impl Drop for BuildCgroup {
    fn drop(&mut self) {
        self.kill_all();
        for group in self.groups.iter().rev() {
            let deadline = Instant::now() + Duration::from_secs(2);
            // rmdir fails while the last processes are still exiting.
            while let Err(e) = fs::remove_dir(&group.dir) {
                if e.kind() == io::ErrorKind::NotFound || Instant::now() >= deadline {
                    if e.kind() != io::ErrorKind::NotFound {
                        tracing::warn!(path = %group.dir.display(), error = %e, "cannot remove a build cgroup");
                    }
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn work_dir_tag(work_dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(work_dir.as_os_str().as_encoded_bytes()))[..8].to_owned()
}

fn write(path: &Path, value: &str) -> Result<(), SandboxError> {
    fs::write(path, value).map_err(SandboxError::io(format!(
        "writing {value} to {}",
        path.display()
    )))
}

fn members(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The value of `key` in a flat keyed file (`memory.events`).
fn counter(path: &Path, key: &str) -> Option<u64> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Makes the v2 `controllers` available to children of `parent`. cgroup
/// v2 allows that only in a group without processes of its own: when the
/// builder itself is in `parent` (a systemd service with `Delegate=yes`
/// is), it first moves itself into a leaf `parent/koper-builder`.
fn enable_controllers(parent: &Path, controllers: &[&str]) -> Result<(), SandboxError> {
    let control = parent.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&control).unwrap_or_default();
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let request = missing.join(" ");
    match fs::write(&control, &request) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() != Some(libc::EBUSY) => {
            return Err(SandboxError::io(format!(
                "enabling {request} in {}",
                control.display()
            ))(e));
        }
        Err(_) => {}
    }
    let leaf = parent.join(format!("{PREFIX}builder"));
    if !leaf.is_dir() {
        fs::create_dir(&leaf).map_err(SandboxError::io(format!("creating {}", leaf.display())))?;
    }
    // "0" moves the writing process, with all its threads.
    write(&leaf.join("cgroup.procs"), "0")?;
    fs::write(&control, &request).map_err(SandboxError::io(format!(
        "enabling {request} in {} (the builder moved itself to {})",
        control.display(),
        leaf.display()
    )))
}

/// The shell script that puts itself into the groups named before `--`,
/// then executes the rest: run as root, so every process of the build is
/// in the groups from its first instruction on.
pub(crate) const JOIN_SCRIPT: &str = r#"while [ "$#" -gt 0 ] && [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@""#;

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_CGROUP: &str =
        "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";
    const HYBRID_MOUNTS: &str = "\
100 90 0:50 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
101 100 0:51 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
102 100 0:52 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
103 100 0:53 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn a_hybrid_host_has_v1_controllers_and_a_v2_tree() {
        let h = Hierarchies::parse(HYBRID_CGROUP, HYBRID_MOUNTS);
        assert_eq!(h.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/unified/")));
        assert_eq!(
            h.v1.get("memory").map(PathBuf::as_path),
            Some(Path::new("/sys/fs/cgroup/memory/process_api/abc"))
        );
        assert_eq!(
            h.v1.get("pids").map(PathBuf::as_path),
            Some(Path::new("/sys/fs/cgroup/pids/"))
        );
        assert!(
            !h.v1.contains_key("cpu"),
            "cpu is not mounted in this mountinfo"
        );
    }

    #[test]
    fn a_pure_v2_host_with_a_mount_root() {
        let cgroup = "0::/system.slice/koper-builder.service\n";
        let mounts = "30 20 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let h = Hierarchies::parse(cgroup, mounts);
        assert_eq!(
            h.v2.as_deref(),
            Some(Path::new(
                "/sys/fs/cgroup/system.slice/koper-builder.service"
            ))
        );
        assert!(h.v1.is_empty());

        let mounts = "30 20 0:26 /system.slice /mnt/cg rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::parse(cgroup, mounts);
        assert_eq!(
            h.v2.as_deref(),
            Some(Path::new("/mnt/cg/koper-builder.service"))
        );
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn counters_are_read_from_flat_keyed_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.events");
        fs::write(&file, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(counter(&file, "oom_kill"), Some(1));
        assert_eq!(counter(&file, "max"), Some(3));
        assert_eq!(counter(&file, "nope"), None);
    }
}
