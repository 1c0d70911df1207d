//! bubblewrap command lines: the unprivileged build sandbox rpmbuild runs
//! in, and the privileged (root, reduced capabilities) sandbox dnf and
//! ldconfig run in.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::dnf::{INPUT_DIR, INSTALLROOT, KOPER_DIR};
use crate::layout::{Entry, Layout};

/// Where the build tree is inside the build sandbox (also HOME).
pub(crate) const BUILDDIR: &str = "/builddir";

/// The host name inside the build sandbox.
pub(crate) const HOSTNAME: &str = "koper-build";

/// The uid and gid a build has inside its sandbox.
pub(crate) const INSIDE_ID: u32 = 1000;

/// The only capabilities dnf keeps: enough to install files with their
/// owners and modes and to run scriptlets chrooted. Left out on purpose:
/// `CAP_SYS_ADMIN` (mounts), `CAP_MKNOD` (raw devices),
/// `CAP_DAC_READ_SEARCH` (`open_by_handle_at`), `CAP_SYS_PTRACE`,
/// `CAP_SYS_MODULE`, `CAP_NET_ADMIN` and the rest.
const DNF_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
];

const PATH: &str = "/usr/local/bin:/usr/bin:/usr/sbin:/bin:/sbin";

struct Args(Vec<OsString>);

impl Args {
    fn flag(&mut self, flag: &str) -> &mut Self {
        self.0.push(flag.into());
        self
    }

    fn pair(&mut self, flag: &str, a: impl Into<OsString>) -> &mut Self {
        self.0.push(flag.into());
        self.0.push(a.into());
        self
    }

    fn triple(&mut self, flag: &str, a: impl Into<OsString>, b: impl Into<OsString>) -> &mut Self {
        self.0.push(flag.into());
        self.0.push(a.into());
        self.0.push(b.into());
        self
    }

    /// What every unprivileged sandbox is: every namespace of its own
    /// (but the host's network when `share_net`), uid and gid 1000
    /// inside, no nested user namespaces, a session of its own and only
    /// koper's environment (`PATH`, `HOME` at [`BUILDDIR`], `LANG`,
    /// `TMPDIR`).
    fn unprivileged(&mut self, share_net: bool) -> &mut Self {
        self.flag("--unshare-all");
        if share_net {
            self.flag("--share-net");
        }
        self.flag("--unshare-user")
            .pair("--uid", INSIDE_ID.to_string())
            .pair("--gid", INSIDE_ID.to_string())
            .flag("--disable-userns")
            .flag("--new-session")
            .flag("--clearenv")
            .pair("--hostname", HOSTNAME)
            .triple("--setenv", "PATH", PATH)
            .triple("--setenv", "HOME", BUILDDIR)
            .triple("--setenv", "LANG", "C.UTF-8")
            .triple("--setenv", "TMPDIR", "/tmp")
    }

    /// `/proc` and `/dev` of the sandbox's own; `/tmp`, `/var`, `/var/tmp`
    /// and `/run` empty.
    fn fresh_system_dirs(&mut self) -> &mut Self {
        self.pair("--proc", "/proc")
            .pair("--dev", "/dev")
            .pair("--tmpfs", "/tmp")
            .pair("--tmpfs", "/var")
            .pair("--tmpfs", "/var/tmp")
            .pair("--tmpfs", "/run")
    }

    /// A root's `usr`, `etc` and merged-usr entries, read-only, at `/`.
    fn system(&mut self, layout: &Layout, backing: &Path) -> &mut Self {
        for entry in layout.system_entries() {
            match entry {
                Entry::Overlay(name) => {
                    self.triple("--ro-bind", backing.join(name), format!("/{name}"));
                }
                Entry::Symlink { name, target } => {
                    self.triple("--symlink", target, format!("/{name}"));
                }
            }
        }
        self
    }
}

/// What the privileged dnf sandbox shows besides the host's system.
pub(crate) struct DnfView<'a> {
    /// The host's top level, whose `usr` and `etc` dnf itself runs from.
    pub(crate) host: &'a Layout,
    /// The buildroot to install into, writable, at [`INSTALLROOT`].
    pub(crate) installroot: &'a Path,
    /// koper's files for dnf, writable, at [`KOPER_DIR`].
    pub(crate) koper_dir: &'a Path,
    /// The build's input, read-only, at [`INPUT_DIR`].
    pub(crate) input_dir: Option<&'a Path>,
    /// Directories of `file://` repos, read-only at their own path.
    pub(crate) local_repos: &'a [&'a Path],
    /// The target of `/etc/resolv.conf` when it points outside `/etc`
    /// (to `/run`, which the sandbox replaces).
    pub(crate) resolv_target: Option<PathBuf>,
}

/// bwrap's arguments for running `command` in the dnf sandbox: as root but
/// with the capabilities in [`DNF_CAPS`] only, in its own pid, ipc and uts
/// namespaces, sharing the host's network (repos may be on 127.0.0.1),
/// seeing only the host's `usr` and `etc` read-only, the buildroot and
/// koper's dnf directory. Scriptlets dnf runs chrooted in the buildroot
/// cannot reach the host's other files even if they break out of the
/// chroot.
pub(crate) fn dnf_sandbox(view: &DnfView<'_>, command: &[OsString]) -> Vec<OsString> {
    let mut a = Args(Vec::new());
    a.flag("--unshare-pid")
        .flag("--unshare-ipc")
        .flag("--unshare-uts")
        .flag("--unshare-cgroup-try")
        .flag("--die-with-parent")
        .flag("--new-session")
        .flag("--clearenv")
        .triple("--setenv", "PATH", PATH)
        .triple("--setenv", "HOME", format!("{KOPER_DIR}/home"))
        .triple("--setenv", "LANG", "C.UTF-8")
        .system(view.host, Path::new("/"))
        .pair("--proc", "/proc")
        .pair("--dev", "/dev")
        .pair("--tmpfs", "/tmp")
        .pair("--tmpfs", "/var")
        .pair("--tmpfs", "/run");
    if let Some(target) = &view.resolv_target {
        a.triple("--ro-bind-try", target, target);
    }
    a.triple("--bind", view.installroot, INSTALLROOT)
        .pair("--proc", format!("{INSTALLROOT}/proc"))
        .pair("--dev", format!("{INSTALLROOT}/dev"))
        .triple("--bind", view.koper_dir, KOPER_DIR);
    if let Some(input) = view.input_dir {
        a.triple("--ro-bind", input, INPUT_DIR);
    }
    for dir in view.local_repos {
        a.triple("--ro-bind", *dir, *dir);
    }
    a.pair("--cap-drop", "ALL");
    for cap in DNF_CAPS {
        a.pair("--cap-add", *cap);
    }
    a.flag("--");
    a.0.extend(command.iter().cloned());
    a.0
}

/// What the build sandbox shows.
pub(crate) struct BuildView<'a> {
    /// The buildroot's top level.
    pub(crate) layout: &'a Layout,
    /// The mounted buildroot on the host.
    pub(crate) root: &'a Path,
    /// The rpmdb: a directory of the buildroot to bind read-only, or the
    /// target of the root's `/var/lib/rpm` symlink.
    pub(crate) rpmdb: Rpmdb,
    /// The build tree, writable, at `/builddir/build`.
    pub(crate) build_dir: &'a Path,
    /// Where rpmbuild writes the RPMs, writable, at `/builddir/rpms`.
    pub(crate) rpms_dir: &'a Path,
    /// The SRPM, read-only, at `/builddir/<name>`.
    pub(crate) srpm: &'a Path,
    /// The SRPM's file name inside.
    pub(crate) srpm_name: &'a str,
    /// A hosts file naming the sandbox's host name, bound over the root's.
    pub(crate) hosts: &'a Path,
    /// Whether the sandbox shares the host's network.
    pub(crate) enable_net: bool,
    /// With the network: the host's resolver configuration when
    /// `/etc/resolv.conf` points into `/run`, shown at the same path.
    pub(crate) resolv_target: Option<PathBuf>,
}

/// Where the build sandbox finds the rpmdb.
pub(crate) enum Rpmdb {
    /// A directory on the host, bound read-only at `/var/lib/rpm`.
    Directory(PathBuf),
    /// `/var/lib/rpm` is a symlink to this (into `/usr`).
    Symlink(PathBuf),
}

/// bwrap's arguments for running `command` in the build sandbox. It is
/// started as the unprivileged sandbox uid and gets every namespace of its
/// own (the network only unless `enable_net`), uid 1000 inside, no
/// capabilities, no nested user namespaces, the root's `usr` and `etc` and
/// rpmdb read-only, tmpfs for `/tmp`, `/var`, `/var/tmp` and HOME
/// (`/builddir`), and only the build tree and the RPM output directory
/// writable. Nothing else of the host is there.
pub(crate) fn build_sandbox(view: &BuildView<'_>, command: &[OsString]) -> Vec<OsString> {
    let mut a = Args(Vec::new());
    a.unprivileged(view.enable_net)
        .flag("--die-with-parent")
        .system(view.layout, view.root)
        .fresh_system_dirs();
    match &view.rpmdb {
        Rpmdb::Directory(dir) => a.triple("--ro-bind", dir, "/var/lib/rpm"),
        Rpmdb::Symlink(target) => a.triple("--symlink", target, "/var/lib/rpm"),
    };
    a.pair("--tmpfs", BUILDDIR)
        .triple("--bind", view.build_dir, format!("{BUILDDIR}/build"))
        .triple("--bind", view.rpms_dir, format!("{BUILDDIR}/rpms"))
        .triple(
            "--ro-bind",
            view.srpm,
            format!("{BUILDDIR}/{}", view.srpm_name),
        )
        .triple("--ro-bind", view.hosts, "/etc/hosts");
    if let (true, Some(target)) = (view.enable_net, &view.resolv_target) {
        a.triple("--ro-bind-try", target, target);
    }
    a
        // Last: the sandbox's own root directory (a tmpfs bwrap made)
        // becomes read-only too.
        .pair("--remount-ro", "/")
        .pair("--chdir", BUILDDIR)
        .pair("--cap-drop", "ALL")
        .flag("--");
    a.0.extend(command.iter().cloned());
    a.0
}

/// What the rpmlint server's sandbox shows: the base root's system
/// read-only, the server's script read-only and its requests directory
/// writable.
pub(crate) struct LintView<'a> {
    /// The base root's top level.
    pub(crate) layout: &'a Layout,
    /// The server's script, at [`LINT_SCRIPT`].
    pub(crate) script: &'a Path,
    /// One directory per check, at [`LINT_REQUESTS`].
    pub(crate) requests: &'a Path,
}

/// Where the rpmlint server's script is inside its sandbox.
pub(crate) const LINT_SCRIPT: &str = "/builddir/lint-server.py";
/// Where the rpmlint server finds each check's packages.
pub(crate) const LINT_REQUESTS: &str = "/builddir/requests";

/// bwrap's arguments for the rpmlint server: the build sandbox's
/// isolation (no network, every namespace its own, uid 1000, no
/// capabilities) over the base root itself, read-only, rather than over a
/// buildroot: rpmlint needs nothing a build installs. It outlives the
/// thread that starts it, so it ends when its input closes rather than
/// with its parent thread.
pub(crate) fn lint_sandbox(view: &LintView<'_>, command: &[OsString]) -> Vec<OsString> {
    let mut a = Args(Vec::new());
    a.unprivileged(false)
        .system(view.layout, &view.layout.base)
        .fresh_system_dirs()
        .pair("--tmpfs", "/dev/shm")
        .pair("--tmpfs", BUILDDIR)
        .triple("--ro-bind", view.script, LINT_SCRIPT)
        .triple("--bind", view.requests, LINT_REQUESTS)
        // What a check leaves behind can only be in the directories the
        // server empties after each check (`/tmp`, `/var/tmp`, `/run`,
        // `/dev/shm`): bwrap's `/dev` is writable otherwise.
        .pair("--remount-ro", BUILDDIR)
        .pair("--remount-ro", "/var")
        .pair("--remount-ro", "/dev")
        .pair("--remount-ro", "/")
        .pair("--chdir", LINT_REQUESTS)
        .pair("--cap-drop", "ALL")
        .flag("--");
    a.0.extend(command.iter().cloned());
    a.0
}

/// What the source sandbox shows: the builder's own system (its git, make
/// and rpmbuild) read-only, the checkout and the output directory
/// writable.
pub(crate) struct SourceView<'a> {
    /// The builder host's top level.
    pub(crate) host: &'a Layout,
    /// The checkout, writable, at [`CHECKOUT_DIR`].
    pub(crate) checkout: &'a Path,
    /// Where the source RPM goes, writable, at [`SOURCE_OUT_DIR`].
    pub(crate) out: &'a Path,
    /// A hosts file naming the sandbox's host name.
    pub(crate) hosts: &'a Path,
    /// Whether the sandbox shares the host's network.
    pub(crate) enable_net: bool,
    /// With the network: the resolver configuration's target in `/run`.
    pub(crate) resolv_target: Option<PathBuf>,
    /// The working directory inside.
    pub(crate) chdir: &'a str,
    /// Environment variables besides PATH, HOME, LANG and TMPDIR.
    pub(crate) env: &'a [(&'a str, String)],
}

/// Where the checkout is inside the source sandbox.
pub(crate) const CHECKOUT_DIR: &str = "/builddir/src";
/// Where the source RPM is written inside the source sandbox.
pub(crate) const SOURCE_OUT_DIR: &str = "/builddir/out";

/// bwrap's arguments for running `command` in the source sandbox: the
/// build sandbox's isolation (every namespace, the network only when
/// asked, uid 1000, no capabilities, no nested user namespaces, a
/// read-only root) over the builder's own system, with only the checkout
/// and the output directory writable besides tmpfs scratch space.
pub(crate) fn source_sandbox(view: &SourceView<'_>, command: &[OsString]) -> Vec<OsString> {
    let mut a = Args(Vec::new());
    a.unprivileged(view.enable_net).flag("--die-with-parent");
    for (name, value) in view.env {
        a.triple("--setenv", *name, value);
    }
    a.system(view.host, Path::new("/"))
        .fresh_system_dirs()
        .pair("--tmpfs", BUILDDIR)
        .triple("--bind", view.checkout, CHECKOUT_DIR)
        .triple("--bind", view.out, SOURCE_OUT_DIR)
        .triple("--ro-bind", view.hosts, "/etc/hosts");
    if let (true, Some(target)) = (view.enable_net, &view.resolv_target) {
        a.triple("--ro-bind-try", target, target);
    }
    a.pair("--remount-ro", "/")
        .pair("--chdir", view.chdir)
        .pair("--cap-drop", "ALL")
        .flag("--");
    a.0.extend(command.iter().cloned());
    a.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            base: "/".into(),
            entries: vec![
                Entry::Overlay("usr".into()),
                Entry::Overlay("etc".into()),
                Entry::Symlink {
                    name: "bin".into(),
                    target: "usr/bin".into(),
                },
                Entry::Overlay("lib64".into()),
            ],
        }
    }

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_build_sandbox_shows_only_the_root_system_and_build_dirs() {
        let layout = layout();
        let view = BuildView {
            layout: &layout,
            root: Path::new("/w/b/root"),
            rpmdb: Rpmdb::Directory("/w/b/root/var/lib/rpm".into()),
            build_dir: Path::new("/w/b/build"),
            rpms_dir: Path::new("/w/b/rpms"),
            srpm: Path::new("/w/b/in/x.src.rpm"),
            srpm_name: "x.src.rpm",
            hosts: Path::new("/w/b/hosts"),
            enable_net: false,
            resolv_target: Some("/run/resolved/resolv.conf".into()),
        };
        let args = joined(&build_sandbox(&view, &["rpmbuild".into()]));
        assert!(args.starts_with("--unshare-all --unshare-user --uid 1000 --gid 1000 --disable-userns --new-session --clearenv"));
        assert!(args.contains("--die-with-parent"));
        assert!(args.contains("--ro-bind /w/b/root/usr /usr --ro-bind /w/b/root/etc /etc --symlink usr/bin /bin --ro-bind /w/b/root/lib64 /lib64"));
        assert!(args.contains("--ro-bind /w/b/root/var/lib/rpm /var/lib/rpm"));
        assert!(args.contains("--bind /w/b/build /builddir/build --bind /w/b/rpms /builddir/rpms --ro-bind /w/b/in/x.src.rpm /builddir/x.src.rpm"));
        assert!(args.contains("--ro-bind /w/b/hosts /etc/hosts --remount-ro /"));
        assert!(args.ends_with("--cap-drop ALL -- rpmbuild"));
        assert!(!args.contains("--share-net"));
        assert!(!args.contains("/run/resolved"));
        let binds = args.split(' ').filter(|a| *a == "--bind").count();
        assert_eq!(binds, 2, "only the build tree and the output are writable");

        let with_net = BuildView {
            enable_net: true,
            ..view
        };
        let args = joined(&build_sandbox(&with_net, &[]));
        assert!(args.contains("--unshare-all --share-net"));
        assert!(args.contains("--ro-bind-try /run/resolved/resolv.conf /run/resolved/resolv.conf"));
    }

    #[test]
    fn the_lint_sandbox_shows_the_base_root_read_only_and_writes_only_its_requests() {
        let layout = layout();
        let view = LintView {
            layout: &layout,
            script: Path::new("/w/l/lint-server.py"),
            requests: Path::new("/w/l/requests"),
        };
        let args = joined(&lint_sandbox(&view, &["/usr/bin/python3".into()]));
        assert!(args.starts_with("--unshare-all --unshare-user --uid 1000 --gid 1000 --disable-userns --new-session --clearenv"));
        assert!(args.contains("--ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin"));
        assert!(args.contains("--ro-bind /w/l/lint-server.py /builddir/lint-server.py --bind /w/l/requests /builddir/requests"));
        assert!(
            args.contains(
                "--remount-ro /builddir --remount-ro /var --remount-ro /dev --remount-ro /"
            )
        );
        assert!(args.ends_with("--cap-drop ALL -- /usr/bin/python3"));
        assert!(!args.contains("--share-net"));
        // It outlives the thread that starts it; its input closing ends it.
        assert!(!args.contains("--die-with-parent"));
        assert_eq!(args.split(' ').filter(|a| *a == "--bind").count(), 1);
    }

    #[test]
    fn the_dnf_sandbox_keeps_few_capabilities() {
        let layout = layout();
        let repo = Path::new("/srv/repo");
        let view = DnfView {
            host: &layout,
            installroot: Path::new("/w/b/root"),
            koper_dir: Path::new("/w/b/dnf"),
            input_dir: Some(Path::new("/w/b/in")),
            local_repos: &[repo],
            resolv_target: None,
        };
        let args = joined(&dnf_sandbox(&view, &["dnf".into(), "builddep".into()]));
        assert!(args.contains("--ro-bind /usr /usr --ro-bind /etc /etc --symlink usr/bin /bin"));
        assert!(args.contains("--bind /w/b/root /installroot"));
        assert!(args.contains("--bind /w/b/dnf /koper --ro-bind /w/b/in /koper-in"));
        assert!(args.contains("--ro-bind /srv/repo /srv/repo"));
        assert!(args.contains("--cap-drop ALL --cap-add CAP_CHOWN"));
        assert!(!args.contains("CAP_SYS_ADMIN"));
        assert!(!args.contains("--share-net"));
        assert!(args.ends_with("-- dnf builddep"));
    }

    #[test]
    fn the_source_sandbox_writes_only_the_checkout_and_the_output() {
        let layout = layout();
        let view = SourceView {
            host: &layout,
            checkout: Path::new("/w/s/src"),
            out: Path::new("/w/s/out"),
            hosts: Path::new("/w/s/hosts"),
            enable_net: false,
            resolv_target: Some("/run/resolved/resolv.conf".into()),
            chdir: "/builddir/src/pkg",
            env: &[("GIT_TERMINAL_PROMPT", "0".into())],
        };
        let args = joined(&source_sandbox(&view, &["make".into()]));
        assert!(args.starts_with("--unshare-all --unshare-user --uid 1000"));
        assert!(args.contains("--setenv GIT_TERMINAL_PROMPT 0"));
        assert!(args.contains("--ro-bind /usr /usr --ro-bind /etc /etc"));
        assert!(args.contains("--bind /w/s/src /builddir/src --bind /w/s/out /builddir/out"));
        assert!(args.contains("--remount-ro / --chdir /builddir/src/pkg --cap-drop ALL -- make"));
        assert!(!args.contains("--share-net"));
        assert!(!args.contains("/run/resolved"));
        assert_eq!(args.split(' ').filter(|a| *a == "--bind").count(), 2);
        let args = joined(&source_sandbox(
            &SourceView {
                enable_net: true,
                ..view
            },
            &[],
        ));
        assert!(args.contains("--unshare-all --share-net"));
    }
}
