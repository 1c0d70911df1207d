//! Metadata that someone else wrote: reading a repository's `repomd.xml`
//! and primary (to mirror it), and merging local packages into its
//! metadata without reading its packages (`koper sync-to-repo`).
//!
//! Package entries are taken from the remote files as they are: in rpm-md
//! XML a literal `<package` or `</package>` only ever starts or ends an
//! element (text and attribute values escape `<`), so splitting on them
//! yields each package's entry exactly.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::package;
use crate::repomd::Record;
use crate::state::KINDS;
use crate::update::{compress, now_secs, xml_foot, xml_head};
use crate::{PublishReport, RepoPackage, RepodataError, RepodataOptions, io_err};

/// One `<data>` entry of a `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepomdEntry {
    /// `primary`, `filelists`, `other`, `primary_db`, ...
    pub kind: String,
    /// Relative to the repository: `repodata/<...>`.
    pub href: String,
    /// The checksum of the file as stored (compressed).
    pub checksum: String,
    /// Its algorithm: `sha256`, ...
    pub checksum_type: String,
}

/// The entries of a `repomd.xml`.
pub fn parse_repomd(text: &str) -> Vec<RepomdEntry> {
    let mut entries = Vec::new();
    for block in text.split("<data ").skip(1) {
        let block = block.split("</data>").next().unwrap_or(block);
        let kind = attribute(block, "type").unwrap_or_default();
        let href = block
            .split("<location")
            .nth(1)
            .and_then(|l| attribute(l, "href"))
            .unwrap_or_default();
        let (checksum_type, checksum) = block
            .split("<checksum")
            .nth(1)
            .map(|c| {
                let kind = attribute(c, "type").unwrap_or_default();
                let value = c
                    .split_once('>')
                    .and_then(|(_, rest)| rest.split_once('<'))
                    .map(|(value, _)| value.trim().to_owned())
                    .unwrap_or_default();
                (kind, value)
            })
            .unwrap_or_default();
        entries.push(RepomdEntry {
            kind,
            href: unescape(&href),
            checksum,
            checksum_type,
        });
    }
    entries
}

/// The value of `name="..."` in the first tag of `text`.
fn attribute(text: &str, name: &str) -> Option<String> {
    let tag_end = text.find('>').unwrap_or(text.len());
    let tag = &text[..tag_end];
    let needle = format!("{name}=\"");
    let mut search = tag;
    loop {
        let at = search.find(&needle)?;
        // `href=` must not match `xml:href=`-like longer names.
        let before = search[..at].chars().next_back();
        let rest = &search[at + needle.len()..];
        if before.is_none_or(|c| c.is_whitespace()) {
            return rest.split_once('"').map(|(value, _)| value.to_owned());
        }
        search = rest;
    }
}

/// Undoes XML escaping of an attribute value.
pub fn unescape(value: &str) -> String {
    value
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&#9;", "\t")
        .replace("&amp;", "&")
}

/// A metadata file's content, decompressed according to its name (`.gz`,
/// `.zst` or plain).
pub fn decompress(name: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    } else if name.ends_with(".zst") {
        zstd::stream::read::Decoder::new(bytes)?.read_to_end(&mut out)?;
    } else {
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// The SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A package listed in a primary.xml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPackage {
    /// Its checksum (the package id).
    pub pkgid: String,
    /// The checksum's algorithm.
    pub checksum_type: String,
    /// Its `href`, unescaped.
    pub location: String,
    /// Its `xml:base`, when it has one.
    pub base: Option<String>,
    /// The RPM file's size.
    pub size: u64,
    /// Package name.
    pub name: String,
    /// Architecture (`src` for source packages).
    pub arch: String,
    /// Epoch (`0` when it has none).
    pub epoch: String,
    /// Version.
    pub version: String,
    /// Release.
    pub release: String,
    /// One-line summary.
    pub summary: String,
    /// Build time, Unix seconds.
    pub build_time: i64,
}

/// The text of the first `<name>...</name>` element in `entry`, unescaped.
fn element_text(entry: &str, name: &str) -> String {
    let open = format!("<{name}>");
    entry
        .split_once(&open)
        .and_then(|(_, rest)| rest.split_once(&format!("</{name}>")))
        .map(|(text, _)| unescape(text))
        .unwrap_or_default()
}

/// The package entries of a metadata file: (`<package ...>` ... `</package>`)
/// slices, in order.
fn entries(xml: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = find_package_start(rest) {
        let from = &rest[start..];
        let Some(end) = from.find("</package>") else {
            break;
        };
        let end = end + "</package>".len();
        out.push(&from[..end]);
        rest = &from[end..];
    }
    out
}

fn find_package_start(text: &str) -> Option<usize> {
    let mut offset = 0;
    while let Some(at) = text[offset..].find("<package") {
        let at = offset + at;
        let next = text[at + "<package".len()..].chars().next();
        if matches!(next, Some(' ' | '>' | '\n' | '\t')) {
            return Some(at);
        }
        offset = at + 1;
    }
    None
}

fn primary_entry(entry: &str) -> ListedPackage {
    let checksum = entry.split("<checksum").nth(1).unwrap_or_default();
    let location = entry.split("<location").nth(1).unwrap_or_default();
    let version = entry.split("<version").nth(1).unwrap_or_default();
    let time = entry.split("<time").nth(1).unwrap_or_default();
    ListedPackage {
        name: element_text(entry, "name"),
        arch: element_text(entry, "arch"),
        epoch: attribute(version, "epoch").unwrap_or_default(),
        version: unescape(&attribute(version, "ver").unwrap_or_default()),
        release: unescape(&attribute(version, "rel").unwrap_or_default()),
        summary: element_text(entry, "summary"),
        build_time: attribute(time, "build")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        pkgid: checksum
            .split_once('>')
            .and_then(|(_, rest)| rest.split_once('<'))
            .map(|(v, _)| v.trim().to_owned())
            .unwrap_or_default(),
        checksum_type: attribute(checksum, "type").unwrap_or_default(),
        location: unescape(&attribute(location, "href").unwrap_or_default()),
        base: attribute(location, "xml:base").map(|b| unescape(&b)),
        size: entry
            .split("<size")
            .nth(1)
            .and_then(|s| attribute(s, "package"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    }
}

/// The packages a primary.xml lists.
pub fn primary_packages(primary: &str) -> Vec<ListedPackage> {
    entries(primary).into_iter().map(primary_entry).collect()
}

/// A repository's primary, filelists and other, decompressed.
#[derive(Debug, Clone, Default)]
pub struct RemoteMetadata {
    /// primary.xml.
    pub primary: String,
    /// filelists.xml.
    pub filelists: String,
    /// other.xml.
    pub other: String,
}

/// Writes metadata into `dest/repodata` that lists the packages of
/// `remote` (their entries copied, never their RPMs read) and `local`
/// (read from disk). A local package replaces a remote one at the same
/// location or with the same checksum. With `base_url`, remote entries
/// without an `xml:base` get it, so that the result works where the remote
/// packages are not copied. `repomd.xml` is replaced last (and signed when
/// the options have a signer).
pub fn merge(
    dest: &Path,
    remote: &RemoteMetadata,
    base_url: Option<&str>,
    local: &[RepoPackage],
    options: &RepodataOptions,
) -> Result<PublishReport, RepodataError> {
    // The local packages' fragments, appended to one buffer per kind.
    let mut local_xml: [Vec<u8>; 3] = Default::default();
    let mut fragments: Vec<package::Fragments> = Vec::with_capacity(local.len());
    for p in local {
        fragments.push(package::read_package(
            &p.path,
            &p.location,
            options.changelog_limit,
            &mut local_xml,
        )?);
    }
    let local_ids: Vec<&str> = fragments.iter().map(|f| f.pkgid.as_str()).collect();
    let local_locations: Vec<&str> = local.iter().map(|p| p.location.as_str()).collect();

    let primary = entries(&remote.primary);
    let mut keep: Vec<String> = Vec::new();
    let mut kept_primary = Vec::new();
    for entry in &primary {
        let listed = primary_entry(entry);
        if local_ids.contains(&listed.pkgid.as_str())
            || local_locations.contains(&listed.location.as_str())
        {
            continue;
        }
        keep.push(listed.pkgid.clone());
        let entry = match (base_url, listed.base) {
            (Some(base), None) => entry.replacen(
                "<location ",
                &format!("<location xml:base=\"{}\" ", escape_attr(base)),
                1,
            ),
            _ => (*entry).to_owned(),
        };
        kept_primary.push(entry);
    }
    let by_pkgid = |xml: &str| -> Vec<String> {
        entries(xml)
            .into_iter()
            .filter(|e| attribute(e, "pkgid").is_some_and(|id| keep.contains(&id)))
            .map(|e| e.to_owned())
            .collect()
    };
    let kept = [
        kept_primary,
        by_pkgid(&remote.filelists),
        by_pkgid(&remote.other),
    ];
    let count = kept[0].len() + fragments.len();

    let repodata = dest.join("repodata");
    std::fs::create_dir_all(&repodata).map_err(io_err(&repodata))?;
    let now = now_secs();
    let mut records = Vec::new();
    for (kind, remote_entries) in kept.iter().enumerate() {
        let mut xml = xml_head(kind, count);
        for entry in remote_entries {
            xml.push_str("  ");
            xml.push_str(entry.trim_start());
            xml.push('\n');
        }
        xml.push_str(&String::from_utf8_lossy(&local_xml[kind]));
        xml.push_str(xml_foot(kind));
        let packed = compress(xml.as_bytes(), options.compression).map_err(io_err(&repodata))?;
        let checksum = sha256_hex(&packed);
        let name = format!(
            "{checksum}-{}.xml.{}",
            KINDS[kind],
            options.compression.suffix()
        );
        let path = repodata.join(&name);
        write_durable(&path, &packed)?;
        records.push(Record {
            kind: KINDS[kind],
            checksum,
            open_checksum: sha256_hex(xml.as_bytes()),
            href: format!("repodata/{name}"),
            timestamp: now,
            size: packed.len() as u64,
            open_size: xml.len() as u64,
        });
    }
    let repomd = crate::repomd::render(now, &records);
    let signature = options
        .signer
        .as_ref()
        .map(|signer| signer.sign(repomd.as_bytes()))
        .transpose()
        .map_err(RepodataError::Sign)?;
    // Data files and signature first, repomd.xml last, all durable.
    std::fs::File::open(&repodata)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&repodata))?;
    if let Some(signature) = &signature {
        write_durable(&repodata.join("repomd.xml.asc"), signature)?;
    }
    write_durable(&repodata.join("repomd.xml"), repomd.as_bytes())?;
    std::fs::File::open(&repodata)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&repodata))?;
    Ok(PublishReport {
        revision: now,
        packages: count,
        read: fragments.len(),
        removed: primary.len() - kept[0].len(),
        pieces_written: 0,
        changed: true,
        skipped: Vec::new(),
    })
}

/// Replaces `path` through a fsynced temporary file and a rename.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), RepodataError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".koper-tmp-{}-{name}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
    file.write_all(bytes).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

fn escape_attr(value: &str) -> String {
    let mut out = String::new();
    crate::xml::attr(&mut out, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repomd_and_primary_entries_are_read() {
        let repomd = "<repomd><revision>5</revision>\n<data type=\"primary\">\n  \
            <checksum type=\"sha256\">abc</checksum>\n  <open-checksum type=\"sha256\">def</open-checksum>\n  \
            <location href=\"repodata/abc-primary.xml.gz\"/>\n</data>\n<data type=\"other\">\
            <checksum type=\"sha256\">123</checksum><location href=\"repodata/123-other.xml.zst\"/></data></repomd>";
        let entries = parse_repomd(repomd);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].kind, "primary");
        assert_eq!(entries[0].href, "repodata/abc-primary.xml.gz");
        assert_eq!(entries[0].checksum, "abc");
        assert_eq!(entries[1].checksum_type, "sha256");

        let primary = "<metadata packages=\"2\">\n<package type=\"rpm\">\n  <name>a&lt;/package&gt;</name>\n  \
            <version epoch=\"0\" ver=\"1\" rel=\"2\"/><time file=\"5\" build=\"7\"/>\n  \
            <checksum type=\"sha256\" pkgid=\"YES\">111</checksum>\n  <size package=\"42\" installed=\"1\" archive=\"2\"/>\n  \
            <location href=\"00000001-a/a-1-1.noarch.rpm\"/>\n</package>\n<packages-not/>\n<package type=\"rpm\">\n  \
            <checksum type=\"sha256\" pkgid=\"YES\">222</checksum>\n  \
            <location xml:base=\"http://x/\" href=\"b&amp;c.rpm\"/>\n</package>\n</metadata>";
        let listed = primary_packages(primary);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].pkgid, "111");
        assert_eq!(listed[0].name, "a</package>");
        assert_eq!(listed[0].release, "2");
        assert_eq!(listed[0].build_time, 7);
        assert_eq!(listed[0].size, 42);
        assert_eq!(listed[0].location, "00000001-a/a-1-1.noarch.rpm");
        assert_eq!(listed[0].base, None);
        assert_eq!(listed[1].location, "b&c.rpm");
        assert_eq!(listed[1].base.as_deref(), Some("http://x/"));
    }
}
