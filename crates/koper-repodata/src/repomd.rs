//! `repodata/repomd.xml`, the index that clients fetch first.

use std::fmt::Write as _;

/// One `<data>` entry of repomd.xml.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub kind: &'static str,
    pub checksum: String,
    pub open_checksum: String,
    /// Relative to the repository directory: `repodata/<sha256>-<kind>.xml.gz`.
    pub href: String,
    pub timestamp: u64,
    pub size: u64,
    pub open_size: u64,
}

pub(crate) fn render(revision: u64, records: &[Record]) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n");
    let _ = writeln!(out, "  <revision>{revision}</revision>");
    for r in records {
        let _ = write!(
            out,
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{checksum}</checksum>\n    \
             <open-checksum type=\"sha256\">{open}</open-checksum>\n    <location href=\"{href}\"/>\n    \
             <timestamp>{ts}</timestamp>\n    <size>{size}</size>\n    <open-size>{open_size}</open-size>\n  </data>\n",
            kind = r.kind,
            checksum = r.checksum,
            open = r.open_checksum,
            href = r.href,
            ts = r.timestamp,
            size = r.size,
            open_size = r.open_size,
        );
    }
    out.push_str("</repomd>\n");
    out
}
