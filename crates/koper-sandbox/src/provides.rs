//! What a directory base root provides, in rpm's terms, and the spec of
//! the virtual package that says so to rpm and dnf.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::SandboxError;
use crate::layout::MERGED_USR;

/// The host tool that lists an ELF file's sonames as rpm provides them.
const ELFDEPS: &str = "/usr/lib/rpm/elfdeps";

/// The name of the virtual package.
pub(crate) const PACKAGE: &str = "koper-base-root";

/// Fedora package names build specs ask for, with the files that show the
/// root has what they stand for, and the Debian package (when there is a
/// dpkg database) whose version they get.
const FEDORA_NAMES: &[(&str, &[&str], &str)] = &[
    ("bash", &["usr/bin/bash"], "bash"),
    ("coreutils", &["usr/bin/ls"], "coreutils"),
    ("sed", &["usr/bin/sed"], "sed"),
    ("grep", &["usr/bin/grep"], "grep"),
    ("gawk", &["usr/bin/gawk"], "gawk"),
    ("findutils", &["usr/bin/find"], "findutils"),
    ("diffutils", &["usr/bin/diff"], "diffutils"),
    ("patch", &["usr/bin/patch"], "patch"),
    ("tar", &["usr/bin/tar"], "tar"),
    ("gzip", &["usr/bin/gzip"], "gzip"),
    ("bzip2", &["usr/bin/bzip2"], "bzip2"),
    ("xz", &["usr/bin/xz"], "xz-utils"),
    ("zstd", &["usr/bin/zstd"], "zstd"),
    ("unzip", &["usr/bin/unzip"], "unzip"),
    ("cpio", &["usr/bin/cpio"], "cpio"),
    ("which", &["usr/bin/which"], ""),
    ("util-linux", &["usr/bin/getopt"], "util-linux"),
    ("shadow-utils", &["usr/sbin/useradd"], ""),
    ("info", &["usr/bin/info"], "info"),
    ("file", &["usr/bin/file"], "file"),
    ("make", &["usr/bin/make"], "make"),
    ("m4", &["usr/bin/m4"], "m4"),
    ("gcc", &["usr/bin/gcc"], "gcc"),
    ("gcc-c++", &["usr/bin/g++"], "g++"),
    ("cpp", &["usr/bin/cpp"], "cpp"),
    ("binutils", &["usr/bin/ld"], "binutils"),
    ("glibc-devel", &["usr/include/stdio.h"], "libc6-dev"),
    ("glibc-headers", &["usr/include/stdio.h"], "libc6-dev"),
    (
        "kernel-headers",
        &["usr/include/linux/version.h"],
        "linux-libc-dev",
    ),
    ("libstdc++-devel", &["usr/include/c++"], ""),
    ("rpm", &["usr/bin/rpm"], "rpm"),
    ("rpm-build", &["usr/bin/rpmbuild"], "rpm"),
    ("redhat-rpm-config", &["usr/bin/rpmbuild"], ""),
    ("perl-interpreter", &["usr/bin/perl"], "perl-base"),
    ("perl", &["usr/bin/perl"], "perl"),
    ("python3", &["usr/bin/python3"], "python3"),
    (
        "pkgconf-pkg-config",
        &["usr/bin/pkg-config", "usr/bin/pkgconf"],
        "",
    ),
    ("pkgconfig", &["usr/bin/pkg-config", "usr/bin/pkgconf"], ""),
    ("autoconf", &["usr/bin/autoconf"], "autoconf"),
    ("automake", &["usr/bin/automake"], "automake"),
    ("libtool", &["usr/bin/libtoolize"], "libtool"),
    ("cmake", &["usr/bin/cmake"], "cmake"),
    ("git", &["usr/bin/git"], "git"),
    ("gettext", &["usr/bin/msgfmt"], "gettext"),
    ("bison", &["usr/bin/bison"], "bison"),
    ("flex", &["usr/bin/flex"], "flex"),
];

/// Everything `root` provides, sorted and free of duplicates.
pub(crate) fn collect(root: &Path) -> Result<Vec<String>, SandboxError> {
    let mut provides = BTreeSet::new();
    let sonames = sonames(root)?;
    if sonames
        .iter()
        .any(|s| s.starts_with("ld-linux") || s.starts_with("ld64.so"))
    {
        provides.insert("rtld(GNU_HASH)".to_owned());
    }
    let has_libc = sonames
        .iter()
        .any(|s| s == "libc.so.6" || s == "libc.so.6()(64bit)");
    provides.extend(sonames);
    provides.extend(commands(root));
    provides.extend(pkgconfig(root));
    provides.extend(accounts(root));
    let dpkg = dpkg_packages(root);
    provides.extend(dpkg.keys().cloned());
    let version_of = |debian: &str| {
        dpkg.get(debian)
            .and_then(|v| v.as_deref())
            .and_then(upstream_version)
    };
    for (name, probes, debian) in FEDORA_NAMES {
        if probes.iter().any(|p| root.join(p).exists()) {
            provides.insert((*name).to_owned());
            if let Some(version) = version_of(debian) {
                provides.insert(format!("{name} = {version}"));
            }
        }
    }
    if has_libc {
        provides.insert("glibc".into());
        if let Some(version) = version_of("libc6") {
            provides.insert(format!("glibc = {version}"));
        }
    }
    if has_python_headers(root) {
        provides.insert("python3-devel".into());
    }
    Ok(provides.into_iter().filter(|p| safe_dep(p)).collect())
}

/// Whether rpm's spec parser takes this dependency as one token (plus an
/// optional `= version`) with nothing expanded.
fn safe_dep(dep: &str) -> bool {
    let name = dep.split(" = ").next().unwrap_or(dep);
    !name.is_empty()
        && !name.starts_with(['(', '-'])
        && dep.is_ascii()
        && !dep.contains(['%', ',', '\\', '\'', '"', '<', '>'])
        && !name.contains(char::is_whitespace)
        && !dep.chars().any(|c| c.is_control())
}

/// The library directories of a root: `usr/lib*` and the top-level `lib*`
/// that are real directories.
fn library_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for name in [
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "local/lib",
        "local/lib64",
    ] {
        dirs.push(root.join("usr").join(name));
    }
    for name in MERGED_USR.iter().filter(|n| n.starts_with("lib")) {
        let path = root.join(name);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            dirs.push(path);
        }
    }
    dirs
}

fn is_library_name(name: &[u8]) -> bool {
    let text = String::from_utf8_lossy(name);
    text.ends_with(".so") || text.contains(".so.")
}

/// Regular files below `dir` (symlinks not followed) whose name `keep`s.
fn walk(dir: &Path, keep: &dyn Fn(&[u8]) -> bool, found: &mut Vec<PathBuf>) {
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), keep, found);
        } else if kind.is_file() && keep(entry.file_name().as_bytes()) {
            found.push(entry.path());
        }
    }
}

/// The sonames of the root's shared libraries, from rpm's own elfdeps, so
/// they are spelled exactly as packages require them.
fn sonames(root: &Path) -> Result<Vec<String>, SandboxError> {
    let mut files = Vec::new();
    for dir in library_dirs(root) {
        walk(&dir, &is_library_name, &mut files);
    }
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut list = Vec::new();
    for file in &files {
        // elfdeps reads one path per line: a name with a newline in it
        // cannot be passed and is skipped.
        if !file.as_os_str().as_bytes().contains(&b'\n') {
            list.extend_from_slice(file.as_os_str().as_bytes());
            list.push(b'\n');
        }
    }
    let mut child = Command::new(ELFDEPS)
        .arg("--provides")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(SandboxError::io(format!(
            "running {ELFDEPS} (is rpm installed on the builder?)"
        )))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| SandboxError::Config("elfdeps has no stdin".into()))?;
    // Written from a thread: elfdeps prints while it reads, and both pipes
    // would fill up if this thread only wrote.
    let writer = std::thread::spawn(move || stdin.write_all(&list));
    let output = child
        .wait_with_output()
        .map_err(SandboxError::io("reading elfdeps' output"))?;
    let _ = writer.join();
    // elfdeps exits 1 when any file is not ELF (linker scripts named
    // libc.so, for one) and still prints what it found in the others.
    if !output.status.success() && output.stdout.is_empty() {
        return Err(SandboxError::Config(format!(
            "{ELFDEPS} failed: {}",
            output.status
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// `/usr/bin/x` and `/bin/x` for every entry of the command directories
/// (and the same for sbin), whatever the root's merged-usr state.
fn commands(root: &Path) -> Vec<String> {
    let mut provides = Vec::new();
    for kind in ["bin", "sbin"] {
        let mut names = BTreeSet::new();
        for dir in [root.join("usr").join(kind), root.join(kind)] {
            if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let Ok(listing) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in listing.flatten() {
                if entry.file_type().is_ok_and(|t| !t.is_dir())
                    && let Some(name) = entry.file_name().to_str()
                {
                    names.insert(name.to_owned());
                }
            }
        }
        for name in names {
            provides.push(format!("/usr/{kind}/{name}"));
            provides.push(format!("/{kind}/{name}"));
        }
    }
    provides
}

/// `pkgconfig(name) = version` for every `.pc` file in the usual places.
fn pkgconfig(root: &Path) -> Vec<String> {
    let mut dirs = vec![
        root.join("usr/lib/pkgconfig"),
        root.join("usr/lib64/pkgconfig"),
        root.join("usr/share/pkgconfig"),
        root.join("usr/local/lib/pkgconfig"),
        root.join("usr/local/share/pkgconfig"),
    ];
    // Debian's multiarch directories (usr/lib/x86_64-linux-gnu/pkgconfig).
    if let Ok(listing) = fs::read_dir(root.join("usr/lib")) {
        for entry in listing.flatten() {
            if entry.file_name().to_string_lossy().contains("-linux-") {
                dirs.push(entry.path().join("pkgconfig"));
            }
        }
    }
    let mut provides = Vec::new();
    for dir in dirs {
        let Ok(listing) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in listing.flatten() {
            let path = entry.path();
            let (Some(stem), Some("pc")) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            match pc_version(&text) {
                Some(version) => provides.push(format!("pkgconfig({stem}) = {version}")),
                None => provides.push(format!("pkgconfig({stem})")),
            }
        }
    }
    provides
}

/// The `Version:` of a `.pc` file, with `${var}` references to its own
/// variables expanded, when it is a valid rpm version.
fn pc_version(text: &str) -> Option<String> {
    let mut vars: BTreeMap<&str, String> = BTreeMap::new();
    for line in text.lines() {
        if let Some(version) = line.strip_prefix("Version:") {
            let mut version = version.trim().to_owned();
            for (name, value) in &vars {
                version = version.replace(&format!("${{{name}}}"), value);
            }
            return rpm_version(&version);
        }
        if let Some((name, value)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && !name.contains([' ', ':']) {
                vars.insert(name, value.trim().to_owned());
            }
        }
    }
    None
}

/// `version` if rpm takes it as a version as it is.
fn rpm_version(version: &str) -> Option<String> {
    let ok = !version.is_empty()
        && version.starts_with(|c: char| c.is_ascii_alphanumeric())
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~^".contains(&b));
    ok.then(|| version.to_owned())
}

/// A Debian version's upstream part (no epoch, no Debian revision).
fn upstream_version(debian: &str) -> Option<String> {
    let without_epoch = debian.split_once(':').map_or(debian, |(_, rest)| rest);
    let upstream = without_epoch
        .rsplit_once('-')
        .map_or(without_epoch, |(upstream, _)| upstream);
    rpm_version(upstream)
}

/// The installed packages of a Debian root, with their versions.
fn dpkg_packages(root: &Path) -> BTreeMap<String, Option<String>> {
    let mut packages = BTreeMap::new();
    let Ok(status) = fs::read_to_string(root.join("var/lib/dpkg/status")) else {
        return packages;
    };
    for stanza in status.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .map(str::trim)
        };
        let installed = field("Status:").is_some_and(|s| s.ends_with(" installed"));
        if let (true, Some(name)) = (installed, field("Package:")) {
            packages.insert(name.to_owned(), field("Version:").map(str::to_owned));
        }
    }
    packages
}

/// `user(name)` and `group(name)` for the root's accounts: packages made
/// with sysusers files require them.
fn accounts(root: &Path) -> Vec<String> {
    let mut provides = Vec::new();
    for (file, kind) in [("etc/passwd", "user"), ("etc/group", "group")] {
        let Ok(text) = fs::read_to_string(root.join(file)) else {
            continue;
        };
        for line in text.lines() {
            if let Some((name, _)) = line.split_once(':')
                && !name.is_empty()
                && !name.starts_with(['#', '+', '-'])
            {
                provides.push(format!("{kind}({name})"));
            }
        }
    }
    provides
}

fn has_python_headers(root: &Path) -> bool {
    let Ok(listing) = fs::read_dir(root.join("usr/include")) else {
        return false;
    };
    listing.flatten().any(|entry| {
        entry.file_name().to_string_lossy().starts_with("python3")
            && entry.path().join("Python.h").exists()
    })
}

/// The spec of the virtual package: no files, only Provides.
pub(crate) fn spec(provides: &[String], release: &str) -> String {
    let mut spec = format!(
        "Name: {PACKAGE}\n\
         Version: 1\n\
         Release: {release}\n\
         Summary: What a directory base root provides\n\
         License: MIT\n\
         BuildArch: noarch\n\
         AutoReqProv: no\n"
    );
    for provide in provides {
        spec.push_str("Provides: ");
        spec.push_str(provide);
        spec.push('\n');
    }
    spec.push_str(
        "\n%description\n\
         Generated by koper. The libraries, commands, pkg-config modules and\n\
         packages of a base root that rpm did not install, so that rpm and dnf\n\
         resolve BuildRequires against it.\n\
         \n%files\n",
    );
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_versions_expand_their_variables() {
        let pc = "prefix=/usr\nmajor=1\nName: x\nVersion: ${major}.2.13\n";
        assert_eq!(pc_version(pc).as_deref(), Some("1.2.13"));
        assert_eq!(pc_version("Version: @VERSION@\n"), None);
        assert_eq!(pc_version("Name: x\n"), None);
    }

    #[test]
    fn debian_versions_lose_epoch_and_revision() {
        assert_eq!(upstream_version("4:12.2.0-3").as_deref(), Some("12.2.0"));
        assert_eq!(upstream_version("2.36-9+deb12u4").as_deref(), Some("2.36"));
        assert_eq!(upstream_version("1.0").as_deref(), Some("1.0"));
        assert_eq!(upstream_version("1:2.3 bad-1"), None);
    }

    #[test]
    fn unsafe_dependencies_are_dropped() {
        assert!(safe_dep("libc.so.6(GLIBC_2.2.5)(64bit)"));
        assert!(safe_dep("pkgconfig(zlib) = 1.2.13"));
        assert!(safe_dep("/usr/bin/["));
        assert!(!safe_dep("/usr/bin/%(rm -rf /)"));
        assert!(!safe_dep("/usr/bin/a b"));
        assert!(!safe_dep("(a or b)"));
        assert!(!safe_dep("a, b"));
    }

    #[test]
    fn a_small_root_is_described() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for dir in [
            "usr/bin",
            "usr/sbin",
            "usr/lib/pkgconfig",
            "etc",
            "var/lib/dpkg",
        ] {
            fs::create_dir_all(r.join(dir)).unwrap();
        }
        std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
        fs::write(r.join("usr/bin/gcc"), "").unwrap();
        fs::write(r.join("usr/sbin/useradd"), "").unwrap();
        fs::write(r.join("usr/lib/pkgconfig/zlib.pc"), "Version: 1.2.13\n").unwrap();
        fs::write(r.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::write(
            r.join("var/lib/dpkg/status"),
            "Package: gcc\nStatus: install ok installed\nVersion: 4:12.2.0-3\n\n\
             Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
        )
        .unwrap();
        let provides = collect(r).unwrap();
        for expected in [
            "/bin/gcc",
            "/usr/bin/gcc",
            "/sbin/useradd",
            "/usr/sbin/useradd",
            "pkgconfig(zlib) = 1.2.13",
            "user(root)",
            "gcc",
            "gcc = 12.2.0",
            "shadow-utils",
        ] {
            assert!(
                provides.contains(&expected.to_owned()),
                "{expected}: {provides:?}"
            );
        }
        assert!(!provides.contains(&"gone".to_owned()));
        assert!(!provides.contains(&"make".to_owned()));
        let spec = spec(&provides, "abc");
        assert!(spec.contains("\nProvides: gcc = 12.2.0\n"));
        assert!(spec.contains("\nRelease: abc\n"));
    }
}
