//! The layout of an RPM file (lead, signature header, main header, payload),
//! read with every size checked before anything is allocated.

use std::io::{Cursor, ErrorKind, Read};

use rpm::{IndexSignatureTag, IndexTag, PackageMetadata};
use sha2::{Digest, Sha256};

use crate::RpmError;

const LEAD_SIZE: u64 = 96;
const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 3] = [0x8e, 0xad, 0xe8];
const INTRO_SIZE: u64 = 16;
const ENTRY_SIZE: u64 = 16;
/// rpm itself refuses headers with more tags (`hdrchkTags`).
const MAX_ENTRIES: u32 = 0xffff;
/// rpm itself refuses headers whose data is larger (`HEADER_DATA_MAX`).
const MAX_HEADER_BYTES: u64 = 256 << 20;
/// A signature header holds a few digests and signatures; real ones are a
/// few KiB.
const MAX_SIGNATURE_BYTES: u64 = 64 << 20;
/// The `PAYLOADDIGESTALGO` value for SHA-256, the only one rpm 4 writes.
const DIGEST_ALGO_SHA256: u32 = 8;

/// The headers of an RPM file, read and bounds-checked, and where its parts
/// lie in the file.
#[derive(Debug)]
pub struct RpmHeaders {
    /// The parsed lead, signature header and main header.
    pub metadata: PackageMetadata,
    /// The file's bytes up to the payload: lead, signature header and its
    /// padding, main header.
    pub raw: Vec<u8>,
    /// Offset of the main header (the start of createrepo's header range).
    pub header_start: u64,
    /// Offset of the payload (the end of createrepo's header range).
    pub payload_start: u64,
    /// The file's length.
    pub file_len: u64,
}

impl RpmHeaders {
    /// The file length that the signature header announces (its size tag
    /// counts the main header and the payload), if it has one.
    pub fn announced_len(&self) -> Option<u64> {
        let sig = &self.metadata.signature;
        let size = sig
            .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGSIZE)
            .ok()
            .or_else(|| {
                sig.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_SIZE)
                    .ok()
                    .map(u64::from)
            })?;
        Some(self.header_start.saturating_add(size))
    }

    /// Checks the file's length against the announced one.
    pub fn check_length(&self) -> Result<(), RpmError> {
        match self.announced_len() {
            Some(expected) if self.file_len < expected => Err(RpmError::Truncated {
                expected,
                actual: self.file_len,
            }),
            Some(expected) if self.file_len > expected => Err(RpmError::Corrupt(format!(
                "the file has {} bytes after the end that its header announces",
                self.file_len - expected
            ))),
            _ => Ok(()),
        }
    }

    /// Checks the main header against the SHA-256 digest recorded in the
    /// signature header, when there is one.
    pub fn check_header_digest(&self) -> Result<(), RpmError> {
        let Ok(recorded) = self
            .metadata
            .signature
            .get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA256)
        else {
            return Ok(());
        };
        let start = usize::try_from(self.header_start).unwrap_or(usize::MAX);
        let header = self.raw.get(start..).unwrap_or_default();
        let actual = hex::encode(Sha256::digest(header));
        if actual.eq_ignore_ascii_case(recorded.trim()) {
            Ok(())
        } else {
            Err(RpmError::DigestMismatch { part: "header" })
        }
    }

    /// The SHA-256 digest of the (compressed) payload recorded in the main
    /// header, when there is one that this crate can check.
    pub fn payload_sha256(&self) -> Option<[u8; 32]> {
        let header = &self.metadata.header;
        let algo = header
            .get_entry_data_as_u32(IndexTag::RPMTAG_PAYLOADSHA256ALGO)
            .unwrap_or(DIGEST_ALGO_SHA256);
        if algo != DIGEST_ALGO_SHA256 {
            return None;
        }
        let digests = header
            .get_entry_data_as_string_array(IndexTag::RPMTAG_PAYLOADSHA256)
            .ok()?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(digests.first()?.trim(), &mut out).ok()?;
        Some(out)
    }
}

/// Reads the lead and both headers of an RPM from `reader`, positioned at the
/// start of a file that is `file_len` bytes long, and leaves `reader` at the
/// start of the payload.
///
/// Reads at most the headers' own size, which is checked against rpm's
/// limits and the file's length first.
pub fn read_headers(reader: &mut impl Read, file_len: u64) -> Result<RpmHeaders, RpmError> {
    let mut raw = Vec::with_capacity(8192);
    let lead_len = LEAD_SIZE.min(file_len);
    read_part(reader, &mut raw, lead_len, file_len)?;
    if raw.len() < LEAD_MAGIC.len() || raw[..LEAD_MAGIC.len()] != LEAD_MAGIC {
        return Err(RpmError::NotAnRpm);
    }
    if lead_len < LEAD_SIZE {
        return Err(RpmError::Truncated {
            expected: LEAD_SIZE,
            actual: file_len,
        });
    }
    let data_len = read_header(
        reader,
        &mut raw,
        file_len,
        MAX_SIGNATURE_BYTES,
        "signature header",
    )?;
    // The signature header is padded so that the main header is 8-aligned.
    let padding = (8 - data_len % 8) % 8;
    read_part(reader, &mut raw, padding, file_len)?;
    let header_start = raw.len() as u64;
    read_header(reader, &mut raw, file_len, MAX_HEADER_BYTES, "main header")?;
    let metadata = PackageMetadata::parse(&mut Cursor::new(&raw[..]))
        .map_err(|e| RpmError::Corrupt(format!("its headers cannot be parsed: {e}")))?;
    Ok(RpmHeaders {
        metadata,
        payload_start: raw.len() as u64,
        raw,
        header_start,
        file_len,
    })
}

/// Appends the next `len` bytes of the file to `raw`, or reports the file as
/// truncated if it is too short to hold them.
fn read_part(
    reader: &mut impl Read,
    raw: &mut Vec<u8>,
    len: u64,
    file_len: u64,
) -> Result<(), RpmError> {
    let expected = raw.len() as u64 + len;
    if expected > file_len {
        return Err(RpmError::Truncated {
            expected,
            actual: file_len,
        });
    }
    let before = raw.len();
    let got = reader.take(len).read_to_end(raw)?;
    if (got as u64) < len {
        // The file shrank while we read it.
        raw.truncate(before);
        return Err(RpmError::Truncated {
            expected,
            actual: (before + got) as u64,
        });
    }
    Ok(())
}

/// Reads one header structure (intro, index, data store) and checks that
/// every index entry points inside the data store, so that the `rpm` crate
/// never indexes out of bounds or reserves memory for a made-up count.
/// Returns the size of the data store.
fn read_header(
    reader: &mut impl Read,
    raw: &mut Vec<u8>,
    file_len: u64,
    max_bytes: u64,
    what: &str,
) -> Result<u64, RpmError> {
    let start = raw.len();
    read_part(reader, raw, INTRO_SIZE, file_len)?;
    let intro = &raw[start..];
    if intro[..3] != HEADER_MAGIC {
        return Err(RpmError::Corrupt(format!(
            "its {what} is missing or damaged"
        )));
    }
    let entries = be_u32(&intro[8..12]);
    let data_len = u64::from(be_u32(&intro[12..16]));
    if entries == 0 || entries > MAX_ENTRIES {
        return Err(RpmError::Corrupt(format!(
            "its {what} has an implausible number of entries ({entries})"
        )));
    }
    let body_len = u64::from(entries) * ENTRY_SIZE + data_len;
    if body_len > max_bytes {
        return Err(RpmError::Corrupt(format!(
            "its {what} is implausibly large ({body_len} bytes)"
        )));
    }
    read_part(reader, raw, body_len, file_len)?;
    let index_start = start + INTRO_SIZE as usize;
    let index_len = entries as usize * ENTRY_SIZE as usize;
    let index = &raw[index_start..index_start + index_len];
    for entry in index.chunks_exact(ENTRY_SIZE as usize) {
        check_entry(entry, data_len, what)?;
    }
    Ok(data_len)
}

fn check_entry(entry: &[u8], data_len: u64, what: &str) -> Result<(), RpmError> {
    let tag = be_u32(&entry[0..4]);
    let kind = be_u32(&entry[4..8]);
    let offset = be_u32(&entry[8..12]);
    let count = u64::from(be_u32(&entry[12..16]));
    let bad = |why: &str| {
        Err(RpmError::Corrupt(format!(
            "its {what} has a broken entry for tag {tag}: {why}"
        )))
    };
    // The offset is signed in the format; a negative one has its top bit set
    // and so fails the bound below.
    let offset = u64::from(offset);
    if offset > data_len {
        return bad("its data lies outside the header");
    }
    let room = data_len - offset;
    let item_size = match kind {
        0 => 0,         // NULL
        1 | 2 | 7 => 1, // CHAR, INT8, BIN
        3 => 2,         // INT16
        4 => 4,         // INT32
        5 => 8,         // INT64
        // STRING, STRING_ARRAY, I18NSTRING: each string takes at least its NUL.
        6 | 8 | 9 => 1,
        _ => return bad("unknown data type"),
    };
    if count.saturating_mul(item_size) > room {
        return bad("its data runs past the end of the header");
    }
    Ok(())
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(b)
}

/// Streams the rest of `reader` (the payload) through SHA-256 with a fixed
/// buffer, returning the digest and the number of bytes read.
pub(crate) fn sha256_stream(reader: &mut impl Read) -> Result<([u8; 32], u64), RpmError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().into(), total))
}
