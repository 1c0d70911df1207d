//! Reads rpm-md files back, for comparing koper's output with createrepo_c's
//! and for checking that repomd.xml describes its files.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use quick_xml::events::Event;
use sha2::{Digest, Sha256};

/// A `<data>` record of repomd.xml.
#[derive(Debug, Clone)]
pub struct DataRecord {
    pub kind: String,
    pub checksum: String,
    pub open_checksum: String,
    pub href: String,
    pub size: u64,
    pub open_size: u64,
}

/// Parses `repodata/repomd.xml` of `repo`.
pub fn repomd(repo: &Path) -> anyhow::Result<(u64, Vec<DataRecord>)> {
    let text = std::fs::read_to_string(repo.join("repodata/repomd.xml"))?;
    let mut revision = 0;
    let mut records = Vec::new();
    for pkg in elements(&text, 1)? {
        let get = |suffix: &str| {
            pkg.iter()
                .find_map(|l| l.strip_prefix(suffix))
                .map(str::to_owned)
                .unwrap_or_default()
        };
        if let Some(r) = pkg.iter().find_map(|l| l.strip_prefix("revision=")) {
            revision = r.parse()?;
            continue;
        }
        records.push(DataRecord {
            kind: get("data@type="),
            checksum: get("data/checksum="),
            open_checksum: get("data/open-checksum="),
            href: get("data/location@href="),
            size: get("data/size=").parse().unwrap_or(0),
            open_size: get("data/open-size=").parse().unwrap_or(0),
        });
    }
    Ok((revision, records))
}

/// Checks that every file repomd.xml names exists with the size and
/// checksums it gives; returns each kind's decompressed content.
pub fn verify(repo: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let (_, records) = repomd(repo)?;
    let mut out = BTreeMap::new();
    for r in records {
        let path = repo.join(&r.href);
        let packed = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if packed.len() as u64 != r.size || hex::encode(Sha256::digest(&packed)) != r.checksum {
            bail!("{} does not match its size or checksum", r.href);
        }
        let plain = decompress(&r.href, &packed)?;
        if plain.len() as u64 != r.open_size
            || hex::encode(Sha256::digest(plain.as_bytes())) != r.open_checksum
        {
            bail!("{} does not match its open size or open checksum", r.href);
        }
        out.insert(r.kind, plain);
    }
    Ok(out)
}

/// Decompresses a whole gzip (all members) or zstd (all frames) file.
pub fn decompress(name: &str, packed: &[u8]) -> anyhow::Result<String> {
    let mut out = String::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(packed).read_to_string(&mut out)?;
    } else if name.ends_with(".zst") {
        out = String::from_utf8(zstd::stream::decode_all(packed)?)?;
    } else {
        bail!("unknown compression: {name}");
    }
    Ok(out)
}

/// The `packages="N"` attribute of an rpm-md file's root element.
pub fn package_count(xml: &str) -> anyhow::Result<usize> {
    let at = xml.find("packages=\"").context("no packages attribute")? + 10;
    let end = xml[at..].find('"').context("unterminated")? + at;
    Ok(xml[at..end].parse()?)
}

/// Every element at `depth` (1 = children of the root) as canonical lines:
/// `path@attr=value` for attributes and `path=text` for leaf text, where
/// `path` is the element names from that element down. Comparing sorted
/// lines compares every field and value while ignoring order.
pub fn elements(xml: &str, depth: usize) -> anyhow::Result<Vec<Vec<String>>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    // Per open element: its text so far and whether it has child elements.
    let mut texts: Vec<(String, bool)> = Vec::new();
    loop {
        let event = reader.read_event()?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec())?;
                if let Some(parent) = texts.last_mut() {
                    parent.1 = true;
                }
                path.push(name);
                texts.push((String::new(), false));
                if path.len() > depth {
                    let p = path[depth..].join("/");
                    for a in e.attributes() {
                        let a = a?;
                        let key = String::from_utf8(a.key.as_ref().to_vec())?;
                        let value = a.unescape_value()?.into_owned();
                        current.push(format!("{p}@{key}={value}"));
                    }
                }
                if matches!(event, Event::Empty(_)) {
                    close(&mut path, &mut texts, &mut current, &mut out, depth);
                }
            }
            Event::End(_) => close(&mut path, &mut texts, &mut current, &mut out, depth),
            Event::Text(e) => {
                if let Some(t) = texts.last_mut() {
                    t.0.push_str(&e.decode()?);
                }
            }
            Event::GeneralRef(e) => {
                let name = e.decode()?;
                let resolved = match &*name {
                    "amp" => "&".to_owned(),
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "quot" => "\"".to_owned(),
                    "apos" => "'".to_owned(),
                    _ => match e.resolve_char_ref()? {
                        Some(c) => c.to_string(),
                        None => bail!("unknown entity &{name};"),
                    },
                };
                if let Some(t) = texts.last_mut() {
                    t.0.push_str(&resolved);
                }
            }
            Event::CData(e) => {
                if let Some(t) = texts.last_mut() {
                    t.0.push_str(&String::from_utf8_lossy(&e));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

fn close(
    path: &mut Vec<String>,
    texts: &mut Vec<(String, bool)>,
    current: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
    depth: usize,
) {
    let (text, has_children) = texts.pop().unwrap_or_default();
    if path.len() > depth && !has_children {
        current.push(format!("{}={text}", path[depth..].join("/")));
    }
    if path.len() == depth + 1 {
        let mut lines = std::mem::take(current);
        lines.sort();
        out.push(lines);
    }
    path.pop();
}

/// The packages of a primary, filelists or other file keyed by pkgid (and
/// location, so that identical files at two places stay apart), each as
/// sorted canonical lines.
pub fn packages(xml: &str) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for lines in elements(xml, 1)? {
        let key = lines
            .iter()
            .find_map(|l| {
                l.strip_prefix("package/checksum=")
                    .or_else(|| l.strip_prefix("package@pkgid="))
            })
            .context("package without pkgid")?
            .to_owned();
        let loc = lines
            .iter()
            .find_map(|l| l.strip_prefix("package/location@href="))
            .unwrap_or("")
            .to_owned();
        out.insert(format!("{key} {loc}"), lines);
    }
    Ok(out)
}
