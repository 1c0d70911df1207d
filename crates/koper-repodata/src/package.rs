//! One RPM file turned into its three rpm-md fragments (primary, filelists,
//! other), following createrepo_c's rules so that both tools describe a
//! package the same way.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use koper_rpm::rpm::{IndexSignatureTag, IndexTag, PackageMetadata};
use sha2::{Digest, Sha256};

use crate::xml::{element, push_attr, text};
use crate::{RepodataError, io_err};

/// `RPMFILE_GHOST`.
const FILE_GHOST: u32 = 1 << 6;
/// `S_IFMT` and `S_IFDIR`.
const MODE_TYPE: u16 = 0o170_000;
const MODE_DIR: u16 = 0o040_000;
/// `RPMSENSE_PREREQ | RPMSENSE_SCRIPT_PRE | RPMSENSE_SCRIPT_POST`: what makes
/// createrepo_c mark a requirement `pre="1"`.
const SENSE_PRE: u32 = (1 << 6) | (1 << 9) | (1 << 10);

/// Files up to this size are read with one call; larger ones are streamed.
const WHOLE_READ_MAX: u64 = 512 << 10;

thread_local! {
    static FILE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What the cache remembers about a package file to know it is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub size: u64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i128,
}

impl Stamp {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        let mtime_ns = match meta.modified().map(|t| t.duration_since(UNIX_EPOCH)) {
            Ok(Ok(d)) => d.as_nanos() as i128,
            Ok(Err(e)) => -(e.duration().as_nanos() as i128),
            Err(_) => 0,
        };
        Self {
            size: meta.len(),
            mtime_ns,
        }
    }

    fn mtime_secs(self) -> i64 {
        self.mtime_ns.div_euclid(1_000_000_000) as i64
    }
}

/// What reading a package produced, besides its rpm-md fragments
/// (`<package>` elements for primary, filelists and other, each ending with
/// a newline), which were appended to the caller's buffers.
#[derive(Debug, Clone)]
pub(crate) struct Fragments {
    pub pkgid: String,
    pub stamp: Stamp,
    /// The length of each fragment.
    pub lens: [u64; 3],
}

/// Reads `path` once (its headers for the metadata and all of it for the
/// SHA-256 pkgid) and appends its three fragments to `out`.
pub(crate) fn read_package(
    path: &Path,
    location: &str,
    changelog_limit: usize,
    out: &mut [Vec<u8>; 3],
) -> Result<Fragments, RepodataError> {
    let bad = |e: koper_rpm::RpmError| RepodataError::Package {
        path: path.to_owned(),
        source: e,
    };
    let mut file = File::open(path).map_err(io_err(path))?;
    let meta = file.metadata().map_err(io_err(path))?;
    let stamp = Stamp::of(&meta);
    let mut hasher = Sha256::new();
    let headers = if stamp.size <= WHOLE_READ_MAX {
        // Most packages are small: one read, headers parsed from memory, in
        // a buffer each thread reuses (fewer large allocations, less memory
        // held by the allocator).
        FILE_BUF.with_borrow_mut(|buf| {
            // Exactly the size just read from the open file, in one read
            // call (read_to_end would ask for the size and position again,
            // and read once more to see the end). The buffer only grows, so
            // it is zeroed once per thread, not per package.
            let len = stamp.size as usize;
            if buf.len() < len {
                buf.resize(len, 0);
            }
            let mut got = 0;
            while got < len {
                match file.read(&mut buf[got..len]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_err(path)(e)),
                }
            }
            // A file that shrank meanwhile is reported by check_length.
            let bytes = &buf[..got];
            hasher.update(bytes);
            koper_rpm::read_headers(&mut &bytes[..], got as u64).map_err(bad)
        })?
    } else {
        let headers = koper_rpm::read_headers(&mut file, stamp.size).map_err(bad)?;
        hasher.update(&headers.raw);
        FILE_BUF.with_borrow_mut(|buf| -> Result<(), RepodataError> {
            buf.resize(128 * 1024, 0);
            loop {
                let n = file.read(buf).map_err(io_err(path))?;
                if n == 0 {
                    return Ok(());
                }
                hasher.update(&buf[..n]);
            }
        })?;
        headers
    };
    headers.check_length().map_err(bad)?;
    let pkgid = hex::encode(hasher.finalize());
    let pkg = Pkg {
        meta: &headers.metadata,
        pkgid: &pkgid,
        location,
        stamp,
        header_start: headers.header_start,
        header_end: headers.payload_start,
    };
    let mut xml = [
        String::with_capacity(4096),
        String::with_capacity(2048),
        String::with_capacity(2048),
    ];
    pkg.render(changelog_limit, &mut xml);
    let mut lens = [0u64; 3];
    for (k, s) in xml.iter().enumerate() {
        lens[k] = s.len() as u64;
        out[k].extend_from_slice(s.as_bytes());
    }
    Ok(Fragments { pkgid, stamp, lens })
}

struct Pkg<'a> {
    meta: &'a PackageMetadata,
    pkgid: &'a str,
    location: &'a str,
    stamp: Stamp,
    header_start: u64,
    header_end: u64,
}

struct FileEntry<'a> {
    /// The directory, ending with `/` (as rpm stores it).
    dir: &'a str,
    base: &'a str,
    kind: FileKind,
}

impl FileEntry<'_> {
    /// createrepo_c's primary rule on `dir + base`. Directories end with `/`
    /// and base names hold none, so `bin/` can only occur inside `dir`.
    fn is_primary(&self) -> bool {
        self.dir.starts_with("/etc/")
            || (self.dir == "/usr/lib/" && self.base == "sendmail")
            || self.dir.contains("bin/")
            || (self.dir.is_empty() && is_primary_file(self.base))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    File,
    Dir,
    Ghost,
}

struct Dep<'a> {
    name: &'a str,
    flags: Option<&'static str>,
    epoch: Option<&'a str>,
    version: Option<&'a str>,
    release: Option<&'a str>,
    pre: bool,
}

/// createrepo_c's rule for which files also go into primary.xml.
pub(crate) fn is_primary_file(path: &str) -> bool {
    path.starts_with("/etc/") || path == "/usr/lib/sendmail" || path.contains("bin/")
}

fn flags_str(flags: u32) -> Option<&'static str> {
    match flags & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

/// Splits a dependency's `[epoch:]version[-release]` as createrepo_c does:
/// a missing epoch is `0`; `None` for an epoch that is not a number.
fn split_evr(s: &str) -> Option<(Option<&str>, Option<&str>, Option<&str>)> {
    if s.is_empty() {
        return Some((None, None, None));
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (e, rest)
        }
        None => ("0", s),
    };
    let (version, release) = match rest.split_once('-') {
        Some((v, r)) => (v, Some(r)),
        None => (rest, None),
    };
    Some((
        Some(epoch),
        (!version.is_empty()).then_some(version),
        release.filter(|r| !r.is_empty()),
    ))
}

const DEP_KINDS: [(&str, IndexTag, IndexTag, IndexTag); 8] = [
    (
        "provides",
        IndexTag::RPMTAG_PROVIDENAME,
        IndexTag::RPMTAG_PROVIDEFLAGS,
        IndexTag::RPMTAG_PROVIDEVERSION,
    ),
    (
        "conflicts",
        IndexTag::RPMTAG_CONFLICTNAME,
        IndexTag::RPMTAG_CONFLICTFLAGS,
        IndexTag::RPMTAG_CONFLICTVERSION,
    ),
    (
        "obsoletes",
        IndexTag::RPMTAG_OBSOLETENAME,
        IndexTag::RPMTAG_OBSOLETEFLAGS,
        IndexTag::RPMTAG_OBSOLETEVERSION,
    ),
    (
        "requires",
        IndexTag::RPMTAG_REQUIRENAME,
        IndexTag::RPMTAG_REQUIREFLAGS,
        IndexTag::RPMTAG_REQUIREVERSION,
    ),
    (
        "suggests",
        IndexTag::RPMTAG_SUGGESTNAME,
        IndexTag::RPMTAG_SUGGESTFLAGS,
        IndexTag::RPMTAG_SUGGESTVERSION,
    ),
    (
        "enhances",
        IndexTag::RPMTAG_ENHANCENAME,
        IndexTag::RPMTAG_ENHANCEFLAGS,
        IndexTag::RPMTAG_ENHANCEVERSION,
    ),
    (
        "recommends",
        IndexTag::RPMTAG_RECOMMENDNAME,
        IndexTag::RPMTAG_RECOMMENDFLAGS,
        IndexTag::RPMTAG_RECOMMENDVERSION,
    ),
    (
        "supplements",
        IndexTag::RPMTAG_SUPPLEMENTNAME,
        IndexTag::RPMTAG_SUPPLEMENTFLAGS,
        IndexTag::RPMTAG_SUPPLEMENTVERSION,
    ),
];
/// The order in which primary.xml lists the dependency kinds.
const DEP_ORDER: [usize; 8] = [0, 3, 1, 2, 4, 5, 6, 7];

impl Pkg<'_> {
    fn str(&self, tag: IndexTag) -> &str {
        let h = &self.meta.header;
        h.get_entry_data_as_string(tag)
            .or_else(|_| h.get_entry_data_as_i18n_string(tag))
            .unwrap_or("")
    }

    fn num(&self, tag: IndexTag) -> Option<u64> {
        let h = &self.meta.header;
        h.get_entry_data_as_u64(tag)
            .ok()
            .or_else(|| h.get_entry_data_as_u32(tag).ok().map(u64::from))
    }

    fn strings(&self, tag: IndexTag) -> Vec<&str> {
        self.meta
            .header
            .get_entry_data_as_string_array(tag)
            .unwrap_or_default()
    }

    fn u32s(&self, tag: IndexTag) -> Vec<u32> {
        self.meta
            .header
            .get_entry_data_as_u32_array(tag)
            .unwrap_or_default()
    }

    fn files(&self) -> Vec<FileEntry<'_>> {
        let dirs = self.strings(IndexTag::RPMTAG_DIRNAMES);
        let bases = self.strings(IndexTag::RPMTAG_BASENAMES);
        let indexes = self.u32s(IndexTag::RPMTAG_DIRINDEXES);
        let flags = self.u32s(IndexTag::RPMTAG_FILEFLAGS);
        let modes = self
            .meta
            .header
            .get_entry_data_as_u16_array(IndexTag::RPMTAG_FILEMODES)
            .unwrap_or_default();
        let n = bases
            .len()
            .min(indexes.len())
            .min(flags.len())
            .min(modes.len());
        (0..n)
            .map(|i| {
                let kind = if modes[i] & MODE_TYPE == MODE_DIR {
                    FileKind::Dir
                } else if flags[i] & FILE_GHOST != 0 {
                    FileKind::Ghost
                } else {
                    FileKind::File
                };
                FileEntry {
                    dir: dirs.get(indexes[i] as usize).copied().unwrap_or(""),
                    base: bases[i],
                    kind,
                }
            })
            .collect()
    }

    /// The dependencies of each kind, filtered as createrepo_c filters them.
    fn deps(&self, files: &[FileEntry<'_>]) -> [Vec<Dep<'_>>; 8] {
        // Full paths, only needed when a requirement names a file.
        let mut file_set: Option<HashSet<String>> = None;
        let mut provided: HashSet<(&str, Option<&str>, &str)> = HashSet::new();
        let mut seen_requires: HashMap<&str, (Option<&str>, &str, bool)> = HashMap::new();
        let mut out: [Vec<Dep<'_>>; 8] = Default::default();
        for (kind, (_, name_tag, flags_tag, version_tag)) in DEP_KINDS.iter().enumerate() {
            let names = self.strings(*name_tag);
            let flags = self.u32s(*flags_tag);
            let versions = self.strings(*version_tag);
            let is_requires = kind == 3;
            let mut libc_highest: Option<Dep<'_>> = None;
            for ((&name, &flag), &version) in names.iter().zip(&flags).zip(&versions) {
                let fstr = flags_str(flag);
                let mut pre = false;
                if is_requires {
                    if name.starts_with("rpmlib(") {
                        continue;
                    }
                    if name.starts_with('/') && is_primary_file(name) {
                        let set = file_set.get_or_insert_with(|| {
                            files
                                .iter()
                                .map(|f| format!("{}{}", f.dir, f.base))
                                .collect()
                        });
                        if set.contains(name) {
                            continue;
                        }
                    }
                    if provided.contains(&(name, fstr, version)) {
                        continue;
                    }
                    pre = flag & SENSE_PRE != 0;
                    if seen_requires.get(name) == Some(&(fstr, version, pre)) {
                        continue;
                    }
                }
                let Some((epoch, ver, rel)) = split_evr(version) else {
                    // createrepo_c skips dependencies with a non-numeric epoch.
                    continue;
                };
                let dep = Dep {
                    name,
                    flags: fstr,
                    epoch,
                    version: ver,
                    release: rel,
                    pre,
                };
                match kind {
                    0 => {
                        provided.insert((name, fstr, version));
                    }
                    3 if name.starts_with("libc.so.6") => {
                        // createrepo_c keeps only the highest libc.so.6 symbol version.
                        libc_highest = match libc_highest {
                            Some(prev) if !libc_is_higher(prev.name, name) => Some(prev),
                            _ => Some(dep),
                        };
                        continue;
                    }
                    3 => {
                        seen_requires.insert(name, (fstr, version, pre));
                    }
                    _ => {}
                }
                out[kind].push(dep);
            }
            if let Some(dep) = libc_highest {
                out[kind].push(dep);
            }
        }
        out
    }

    fn render(&self, changelog_limit: usize, out: &mut [String; 3]) {
        let name = self.str(IndexTag::RPMTAG_NAME);
        let is_source = self
            .meta
            .header
            .get_entry_data_as_u32(IndexTag::RPMTAG_SOURCEPACKAGE)
            .is_ok_and(|v| v != 0);
        let arch = if is_source {
            "src"
        } else {
            self.str(IndexTag::RPMTAG_ARCH)
        };
        let epoch = self.num(IndexTag::RPMTAG_EPOCH).unwrap_or(0).to_string();
        let version = self.str(IndexTag::RPMTAG_VERSION);
        let release = self.str(IndexTag::RPMTAG_RELEASE);
        let mut version_el = String::with_capacity(64);
        version_el.push_str("  <version");
        push_attr(&mut version_el, "epoch", &epoch);
        push_attr(&mut version_el, "ver", version);
        push_attr(&mut version_el, "rel", release);
        let vcs = self.str(IndexTag::RPMTAG_VCS);
        if !vcs.is_empty() {
            push_attr(&mut version_el, "vcs", vcs);
        }
        version_el.push_str("/>\n");

        let files = self.files();
        let deps = self.deps(&files);

        // primary
        let [p, fl, o] = out;
        p.push_str("<package type=\"rpm\">\n");
        element(p, "  ", "name", name);
        element(p, "  ", "arch", arch);
        p.push_str(&version_el);
        p.push_str("  <checksum type=\"sha256\" pkgid=\"YES\">");
        p.push_str(self.pkgid);
        p.push_str("</checksum>\n");
        element(p, "  ", "summary", self.str(IndexTag::RPMTAG_SUMMARY));
        element(
            p,
            "  ",
            "description",
            self.str(IndexTag::RPMTAG_DESCRIPTION),
        );
        element(p, "  ", "packager", self.str(IndexTag::RPMTAG_PACKAGER));
        element(p, "  ", "url", self.str(IndexTag::RPMTAG_URL));
        p.push_str(&format!(
            "  <time file=\"{}\" build=\"{}\"/>\n",
            self.stamp.mtime_secs(),
            self.num(IndexTag::RPMTAG_BUILDTIME).unwrap_or(0)
        ));
        let installed = self
            .num(IndexTag::RPMTAG_LONGSIZE)
            .or_else(|| self.num(IndexTag::RPMTAG_SIZE))
            .unwrap_or(0);
        let sig = &self.meta.signature;
        let archive = sig
            .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE)
            .ok()
            .or_else(|| {
                sig.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE)
                    .ok()
                    .map(u64::from)
            })
            .or_else(|| self.num(IndexTag::RPMTAG_LONGARCHIVESIZE))
            .or_else(|| self.num(IndexTag::RPMTAG_ARCHIVESIZE))
            .unwrap_or(0);
        p.push_str(&format!(
            "  <size package=\"{}\" installed=\"{installed}\" archive=\"{archive}\"/>\n",
            self.stamp.size
        ));
        p.push_str("  <location");
        push_attr(p, "href", self.location);
        p.push_str("/>\n  <format>\n");
        element(p, "    ", "rpm:license", self.str(IndexTag::RPMTAG_LICENSE));
        element(p, "    ", "rpm:vendor", self.str(IndexTag::RPMTAG_VENDOR));
        element(p, "    ", "rpm:group", self.str(IndexTag::RPMTAG_GROUP));
        element(
            p,
            "    ",
            "rpm:buildhost",
            self.str(IndexTag::RPMTAG_BUILDHOST),
        );
        element(
            p,
            "    ",
            "rpm:sourcerpm",
            self.str(IndexTag::RPMTAG_SOURCERPM),
        );
        p.push_str(&format!(
            "    <rpm:header-range start=\"{}\" end=\"{}\"/>\n",
            self.header_start, self.header_end
        ));
        for kind in DEP_ORDER {
            let list = &deps[kind];
            if list.is_empty() {
                continue;
            }
            let tag = DEP_KINDS[kind].0;
            p.push_str("    <rpm:");
            p.push_str(tag);
            p.push_str(">\n");
            for dep in list {
                p.push_str("      <rpm:entry");
                push_attr(p, "name", dep.name);
                if let Some(flags) = dep.flags {
                    push_attr(p, "flags", flags);
                    for (attr_name, value) in [
                        ("epoch", dep.epoch),
                        ("ver", dep.version),
                        ("rel", dep.release),
                    ] {
                        if let Some(v) = value {
                            push_attr(p, attr_name, v);
                        }
                    }
                }
                if dep.pre {
                    p.push_str(" pre=\"1\"");
                }
                p.push_str("/>\n");
            }
            p.push_str("    </rpm:");
            p.push_str(tag);
            p.push_str(">\n");
        }
        for f in files.iter().filter(|f| f.is_primary()) {
            push_file(p, f);
        }
        p.push_str("  </format>\n</package>\n");

        let mut head = String::with_capacity(256);
        head.push_str("<package");
        push_attr(&mut head, "pkgid", self.pkgid);
        push_attr(&mut head, "name", name);
        push_attr(&mut head, "arch", arch);
        head.push_str(">\n");
        head.push_str(&version_el);

        // filelists
        fl.push_str(&head);
        for f in &files {
            push_file(fl, f);
        }
        fl.push_str("</package>\n");

        // other
        o.push_str(&head);
        for (author, date, body) in self.changelogs(changelog_limit) {
            o.push_str("  <changelog");
            push_attr(o, "author", author);
            o.push_str(&format!(" date=\"{date}\">"));
            text(o, body);
            o.push_str("</changelog>\n");
        }
        o.push_str("</package>\n");
    }

    /// The newest `limit` changelog entries, oldest first, with createrepo_c's
    /// bump of entries that share a timestamp (the newer one gets +1 s).
    fn changelogs(&self, limit: usize) -> Vec<(&str, i64, &str)> {
        let names = self.strings(IndexTag::RPMTAG_CHANGELOGNAME);
        let times = self.u32s(IndexTag::RPMTAG_CHANGELOGTIME);
        let texts = self.strings(IndexTag::RPMTAG_CHANGELOGTEXT);
        // Built newest-first, then reversed: mirrors createrepo_c's prepend.
        let mut list: Vec<(&str, i64, &str)> = Vec::new();
        let mut last_time = 0i64;
        for ((&name, &time), &body) in names.iter().zip(&times).zip(&texts).take(limit) {
            let time = i64::from(time);
            let author = trim_trailing_spaces(name);
            list.push((author, time, body));
            if last_time == time {
                for (tmp, prev) in (time..).zip(list.iter_mut().rev().skip(1)) {
                    if prev.1 != tmp {
                        break;
                    }
                    prev.1 += 1;
                }
            } else {
                last_time = time;
            }
        }
        list.reverse();
        list
    }
}

fn trim_trailing_spaces(s: &str) -> &str {
    // createrepo_c never trims the first character.
    let trimmed = s.trim_end_matches(' ');
    if trimmed.is_empty() && !s.is_empty() {
        &s[..1]
    } else {
        trimmed
    }
}

fn push_file(out: &mut String, f: &FileEntry<'_>) {
    out.push_str(match f.kind {
        FileKind::File => "  <file>",
        FileKind::Dir => "  <file type=\"dir\">",
        FileKind::Ghost => "  <file type=\"ghost\">",
    });
    text(out, f.dir);
    text(out, f.base);
    out.push_str("</file>\n");
}

/// Whether `b` names a higher libc.so.6 symbol version than `a`, comparing
/// the first parenthesised part from its first digit (createrepo_c's rule).
fn libc_is_higher(a: &str, b: &str) -> bool {
    fn ver(s: &str) -> Option<&str> {
        let open = s.find('(')?;
        let inner = &s[open + 1..];
        let close = inner.find(')')?;
        let inner = &inner[..close];
        let digit = inner.find(|c: char| c.is_ascii_digit())?;
        Some(&inner[digit..])
    }
    match (ver(a), ver(b)) {
        (None, None) | (Some(_), None) => false,
        (None, Some(_)) => true,
        (Some(x), Some(y)) => vercmp(x, y) == Ordering::Less,
    }
}

/// rpm's version comparison (`rpmvercmp`): alternating runs of digits and
/// letters, digits compared as numbers and ranking above letters, `~` sorting
/// before everything and `^` after the end.
fn vercmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
    loop {
        while a.first().is_some_and(sep) {
            a = &a[1..];
        }
        while b.first().is_some_and(sep) {
            b = &b[1..];
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(_)) => {
                let numeric = x.is_ascii_digit();
                let run = |s: &[u8]| {
                    s.iter()
                        .take_while(|c| {
                            if numeric {
                                c.is_ascii_digit()
                            } else {
                                c.is_ascii_alphabetic()
                            }
                        })
                        .count()
                };
                let (la, lb) = (run(a), run(b));
                if lb == 0 {
                    // Different kinds of run: digits win.
                    return if numeric {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    };
                }
                let (mut sa, mut sb) = (&a[..la], &b[..lb]);
                a = &a[la..];
                b = &b[lb..];
                let ord = if numeric {
                    while sa.first() == Some(&b'0') {
                        sa = &sa[1..];
                    }
                    while sb.first() == Some(&b'0') {
                        sb = &sb[1..];
                    }
                    sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb))
                } else {
                    sa.cmp(sb)
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_dependency_versions_like_createrepo_c() {
        assert_eq!(split_evr(""), Some((None, None, None)));
        assert_eq!(split_evr("1.0"), Some((Some("0"), Some("1.0"), None)));
        assert_eq!(
            split_evr("2:1.0-3.fc40"),
            Some((Some("2"), Some("1.0"), Some("3.fc40")))
        );
        assert_eq!(split_evr("x:1.0"), None);
    }

    #[test]
    fn primary_files_follow_createrepo_c() {
        assert!(is_primary_file("/etc/hello.conf"));
        assert!(is_primary_file("/usr/bin/hello"));
        assert!(is_primary_file("/opt/rubin/odd"));
        assert!(is_primary_file("/usr/lib/sendmail"));
        assert!(!is_primary_file("/usr/share/doc/README"));
        assert!(!is_primary_file("/usr/sbin"));
    }

    #[test]
    fn libc_versions_compare_by_number() {
        assert!(libc_is_higher(
            "libc.so.6(GLIBC_2.3.4)(64bit)",
            "libc.so.6(GLIBC_2.14)(64bit)"
        ));
        assert!(!libc_is_higher(
            "libc.so.6(GLIBC_2.34)(64bit)",
            "libc.so.6(GLIBC_2.4)(64bit)"
        ));
    }

    #[test]
    fn compares_versions_like_rpm() {
        assert_eq!(vercmp("1.0", "1.0"), Ordering::Equal);
        assert_eq!(vercmp("1.10", "1.9"), Ordering::Greater);
        assert_eq!(vercmp("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(vercmp("1.0^git1", "1.0"), Ordering::Greater);
        assert_eq!(vercmp("1.0a", "1.0.1"), Ordering::Less);
        assert_eq!(vercmp("2.01", "2.1"), Ordering::Equal);
    }
}
