//! The per-repository cache: which packages the current revision lists, in
//! which pieces, and where each package's fragments lie inside them.
//!
//! A piece is a run of consecutive packages (sorted by location). For each
//! of the three files it has an uncompressed fragment file and a compressed
//! one (one gzip member or zstd frame), so that a new revision reuses every
//! untouched piece's compressed bytes as they are.
//!
//! The state is a small line-based text file, replaced atomically; piece
//! files are never rewritten in place (each new piece gets a new id), so a
//! crash at any point leaves the previous state and its pieces intact.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::package::Stamp;
use crate::{Compression, RepodataError, fsutil, io_err};

const MAGIC: &str = "koper-repodata-cache 1";

/// The three rpm-md files, in this order everywhere.
pub(crate) const KINDS: [&str; 3] = ["primary", "filelists", "other"];

#[derive(Debug, Clone)]
pub(crate) struct CachedPkg {
    pub location: String,
    pub stamp: Stamp,
    pub pkgid: String,
    /// Length of this package's fragment in each uncompressed piece file.
    pub lens: [u64; 3],
}

#[derive(Debug, Clone)]
pub(crate) struct BadFile {
    pub location: String,
    pub stamp: Stamp,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub id: u64,
    pub packages: Vec<CachedPkg>,
    /// Uncompressed and compressed lengths of the piece's files.
    pub ulen: [u64; 3],
    pub clen: [u64; 3],
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    /// The repository's canonical path.
    pub repo: String,
    pub compression: Compression,
    pub changelog_limit: usize,
    pub next_id: u64,
    pub revision: u64,
    /// File names (in `repodata/`) of the current revision.
    pub current: Vec<String>,
    /// Those of the revision before it: what repomd.xml still names if the
    /// writer died between saving this state and replacing repomd.xml.
    pub previous: Vec<String>,
    /// Files of replaced revisions and when they were replaced.
    pub retired: Vec<(u64, String)>,
    /// Files under the repository that are not valid RPMs, so that an
    /// update does not read them again while they are unchanged.
    pub bad: Vec<BadFile>,
    pub pieces: Vec<Piece>,
}

impl State {
    pub(crate) fn empty(compression: Compression, changelog_limit: usize) -> Self {
        Self {
            repo: String::new(),
            compression,
            changelog_limit,
            next_id: 1,
            revision: 0,
            current: Vec::new(),
            previous: Vec::new(),
            retired: Vec::new(),
            bad: Vec::new(),
            pieces: Vec::new(),
        }
    }

    pub(crate) fn package_count(&self) -> usize {
        self.pieces.iter().map(|p| p.packages.len()).sum()
    }
}

pub(crate) fn pieces_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("pieces")
}

/// The file of a piece: the compressed parts of primary, filelists and
/// other, then their uncompressed parts, back to back (one file, so one
/// fsync, per piece).
pub(crate) fn piece_path(cache_dir: &Path, id: u64) -> PathBuf {
    pieces_dir(cache_dir).join(format!("{id}.piece"))
}

impl Piece {
    /// Where the compressed part of `kind` lies in the piece file.
    pub(crate) fn packed_range(&self, kind: usize) -> (u64, u64) {
        let start: u64 = self.clen[..kind].iter().sum();
        (start, self.clen[kind])
    }

    /// Where the uncompressed part of `kind` lies in the piece file.
    pub(crate) fn plain_range(&self, kind: usize) -> (u64, u64) {
        let start: u64 = self.clen.iter().sum::<u64>() + self.ulen[..kind].iter().sum::<u64>();
        (start, self.ulen[kind])
    }

    /// The piece file's length.
    pub(crate) fn file_len(&self) -> u64 {
        self.clen.iter().sum::<u64>() + self.ulen.iter().sum::<u64>()
    }
}

fn state_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("state")
}

/// Loads the state, or `None` when there is none or it cannot be trusted
/// (unreadable, another version, a piece file missing or of the wrong
/// length): the caller then rebuilds from the RPM files.
pub(crate) fn load(cache_dir: &Path) -> Option<State> {
    let text = std::fs::read_to_string(state_path(cache_dir)).ok()?;
    let state = parse(&text)?;
    for piece in &state.pieces {
        if std::fs::metadata(piece_path(cache_dir, piece.id))
            .ok()?
            .len()
            != piece.file_len()
        {
            return None;
        }
    }
    Some(state)
}

fn parse(text: &str) -> Option<State> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut state = State::empty(Compression::Gzip, 0);
    let mut complete = false;
    for line in lines {
        let mut f = line.split('\t');
        match f.next()? {
            "options" => {
                state.compression = match f.next()? {
                    "gz" => Compression::Gzip,
                    "zst" => Compression::Zstd,
                    _ => return None,
                };
                state.changelog_limit = f.next()?.parse().ok()?;
            }
            "repo" => state.repo = f.next()?.to_owned(),
            "next_id" => state.next_id = f.next()?.parse().ok()?,
            "revision" => state.revision = f.next()?.parse().ok()?,
            "current" => state.current.push(f.next()?.to_owned()),
            "previous" => state.previous.push(f.next()?.to_owned()),
            "retired" => {
                let at = f.next()?.parse().ok()?;
                state.retired.push((at, f.next()?.to_owned()));
            }
            "bad" => {
                let size = f.next()?.parse().ok()?;
                let mtime_ns = f.next()?.parse().ok()?;
                let location = f.next()?.to_owned();
                let reason = f.next()?.to_owned();
                state.bad.push(BadFile {
                    location,
                    stamp: Stamp { size, mtime_ns },
                    reason,
                });
            }
            "piece" => {
                let id = f.next()?.parse().ok()?;
                let mut nums = [0u64; 6];
                for n in &mut nums {
                    *n = f.next()?.parse().ok()?;
                }
                state.pieces.push(Piece {
                    id,
                    packages: Vec::new(),
                    ulen: [nums[0], nums[1], nums[2]],
                    clen: [nums[3], nums[4], nums[5]],
                });
            }
            "pkg" => {
                let size = f.next()?.parse().ok()?;
                let mtime_ns = f.next()?.parse().ok()?;
                let pkgid = f.next()?.to_owned();
                let mut lens = [0u64; 3];
                for n in &mut lens {
                    *n = f.next()?.parse().ok()?;
                }
                let location = f.next()?.to_owned();
                state.pieces.last_mut()?.packages.push(CachedPkg {
                    location,
                    stamp: Stamp { size, mtime_ns },
                    pkgid,
                    lens,
                });
            }
            "end" => complete = true,
            _ => return None,
        }
    }
    complete.then_some(state)
}

/// Writes the state atomically (temporary file and rename), without fsync:
/// after a power loss the state may be an older one or missing, which the
/// caller detects by comparing it with repomd.xml, falling back to reading
/// the RPMs.
pub(crate) fn save(cache_dir: &Path, state: &State) -> Result<(), RepodataError> {
    let mut out = String::with_capacity(64 + state.package_count() * 160);
    out.push_str(MAGIC);
    out.push('\n');
    let _ = writeln!(
        out,
        "options\t{}\t{}",
        state.compression.suffix(),
        state.changelog_limit
    );
    let _ = writeln!(out, "repo\t{}", state.repo);
    let _ = writeln!(out, "next_id\t{}", state.next_id);
    let _ = writeln!(out, "revision\t{}", state.revision);
    for name in &state.current {
        let _ = writeln!(out, "current\t{name}");
    }
    for name in &state.previous {
        let _ = writeln!(out, "previous\t{name}");
    }
    for (at, name) in &state.retired {
        let _ = writeln!(out, "retired\t{at}\t{name}");
    }
    for b in &state.bad {
        let reason: String = b
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let _ = writeln!(
            out,
            "bad\t{}\t{}\t{}\t{reason}",
            b.stamp.size, b.stamp.mtime_ns, b.location
        );
    }
    for piece in &state.pieces {
        let _ = writeln!(
            out,
            "piece\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            piece.id,
            piece.ulen[0],
            piece.ulen[1],
            piece.ulen[2],
            piece.clen[0],
            piece.clen[1],
            piece.clen[2]
        );
        for p in &piece.packages {
            let _ = writeln!(
                out,
                "pkg\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.stamp.size,
                p.stamp.mtime_ns,
                p.pkgid,
                p.lens[0],
                p.lens[1],
                p.lens[2],
                p.location
            );
        }
    }
    out.push_str("end\n");
    std::fs::create_dir_all(cache_dir).map_err(io_err(cache_dir))?;
    fsutil::replace(&state_path(cache_dir), out.as_bytes())
}
