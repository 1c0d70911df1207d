//! Publishing: from the current state and a list of wanted packages to a new
//! revision, redoing only the pieces that changed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::fsutil::{self, WriterLock};
use crate::package::{self, Stamp};
use crate::repomd::{self, Record};
use crate::state::{self, BadFile, CachedPkg, KINDS, Piece, State};
use crate::{
    Compression, PublishReport, RepoChanges, RepoPackage, RepodataError, RepodataOptions,
    RepomdSigner, io_err,
};

/// Packages per piece: small enough that redoing one is quick (about 1 MB
/// of XML), large enough that a 10,000-package repository has few pieces.
const PIECE_TARGET: usize = 100;
const GZIP_LEVEL: u32 = 6;
const ZSTD_LEVEL: i32 = 3;

/// Applies `changes` to the repository at `repo_dir` and writes a new
/// revision of its metadata.
///
/// Writers of one repository are serialised by an exclusive lock on
/// `cache_dir/lock`; readers are never blocked. Only the added packages are
/// read; unchanged packages come from the cache. When the cache is missing
/// or was written with other options, the repository directory is scanned
/// instead (every `*.rpm` under it).
pub fn publish(
    repo_dir: &Path,
    changes: &RepoChanges,
    options: &RepodataOptions,
) -> Result<PublishReport, RepodataError> {
    let repo_key = check_dirs(repo_dir, options)?;
    for p in &changes.add {
        check_location(&p.location)?;
    }
    for prefix in &changes.remove {
        if prefix.is_empty() || prefix.starts_with('/') || prefix.contains("..") {
            return Err(RepodataError::InvalidLocation(prefix.clone()));
        }
    }
    let _lock = WriterLock::acquire(&options.cache_dir)?;
    let (old, usable) = load_state(options, repo_dir, repo_key);
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    let mut skipped = Vec::new();
    if usable {
        for (pi, piece) in old.pieces.iter().enumerate() {
            for (idx, p) in piece.packages.iter().enumerate() {
                targets.insert(p.location.clone(), Target::Cached { piece: pi, idx });
            }
        }
    } else {
        for (location, path, _) in scan(repo_dir, &mut skipped)? {
            targets.insert(
                location,
                Target::Read {
                    path,
                    strict: false,
                },
            );
        }
    }
    targets.retain(|loc, _| !changes.remove.iter().any(|prefix| loc.starts_with(prefix)));
    for p in &changes.add {
        targets.insert(
            p.location.clone(),
            Target::Read {
                path: p.path.clone(),
                strict: true,
            },
        );
    }
    let request = Request {
        targets,
        force: false,
        skipped,
        known_bad: Vec::new(),
    };
    apply(repo_dir, old, usable, request, options)
}

/// Rebuilds the metadata of `repo_dir` from exactly these packages, reading
/// every one (Copr's "regenerate repos"). With an empty list, writes empty
/// metadata, e.g. for a new project.
pub fn regenerate(
    repo_dir: &Path,
    packages: &[RepoPackage],
    options: &RepodataOptions,
) -> Result<PublishReport, RepodataError> {
    let repo_key = check_dirs(repo_dir, options)?;
    for p in packages {
        check_location(&p.location)?;
    }
    let _lock = WriterLock::acquire(&options.cache_dir)?;
    let (old, _) = load_state(options, repo_dir, repo_key);
    let targets: BTreeMap<String, Target> = packages
        .iter()
        .map(|p| {
            (
                p.location.clone(),
                Target::Read {
                    path: p.path.clone(),
                    strict: true,
                },
            )
        })
        .collect();
    let request = Request {
        targets,
        force: true,
        skipped: Vec::new(),
        known_bad: Vec::new(),
    };
    apply(repo_dir, old, false, request, options)
}

/// Indexes every `*.rpm` under `dir` (outside `dir/repodata`), like
/// `createrepo_c [--update] DIR`. With `update`, packages whose file is
/// unchanged (same location, size and modification time) are taken from
/// the cache; without it, every package is read. Files that are not valid
/// RPMs are skipped and listed in the report.
pub fn createrepo_dir(
    dir: &Path,
    update: bool,
    options: &RepodataOptions,
) -> Result<PublishReport, RepodataError> {
    let repo_key = check_dirs(dir, options)?;
    let _lock = WriterLock::acquire(&options.cache_dir)?;
    let (old, usable) = load_state(options, dir, repo_key);
    let usable = usable && update;
    let mut cached: HashMap<&str, (usize, usize)> = HashMap::new();
    if usable {
        for (pi, piece) in old.pieces.iter().enumerate() {
            for (idx, p) in piece.packages.iter().enumerate() {
                cached.insert(p.location.as_str(), (pi, idx));
            }
        }
    }
    let mut skipped = Vec::new();
    let mut targets = BTreeMap::new();
    let mut known_bad = Vec::new();
    let old_bad: HashMap<&str, &BadFile> = if usable {
        old.bad.iter().map(|b| (b.location.as_str(), b)).collect()
    } else {
        HashMap::new()
    };
    for (location, path, stamp) in scan(dir, &mut skipped)? {
        if let Some(b) = old_bad.get(location.as_str()).filter(|b| b.stamp == stamp) {
            skipped.push((path, b.reason.clone()));
            known_bad.push((*b).clone());
            continue;
        }
        let hit = cached
            .get(location.as_str())
            .copied()
            .filter(|&(pi, idx)| stamp == old.pieces[pi].packages[idx].stamp);
        let target = match hit {
            Some((piece, idx)) => Target::Cached { piece, idx },
            None => Target::Read {
                path,
                strict: false,
            },
        };
        targets.insert(location, target);
    }
    drop(cached);
    drop(old_bad);
    let request = Request {
        targets,
        force: !update,
        skipped,
        known_bad,
    };
    apply(dir, old, usable, request, options)
}

#[derive(Debug, Clone)]
enum Target {
    /// Package `idx` of the old state's piece `piece`.
    Cached { piece: usize, idx: usize },
    /// A package to read; `strict` makes a bad file an error instead of a
    /// skipped entry.
    Read { path: PathBuf, strict: bool },
}

/// Checks the directories and returns the repository's canonical path, which
/// the state records so that a cache is never used for another repository.
fn check_dirs(repo_dir: &Path, options: &RepodataOptions) -> Result<String, RepodataError> {
    std::fs::create_dir_all(repo_dir).map_err(io_err(repo_dir))?;
    let repo = std::fs::canonicalize(repo_dir).map_err(io_err(repo_dir))?;
    std::fs::create_dir_all(&options.cache_dir).map_err(io_err(&options.cache_dir))?;
    let cache = std::fs::canonicalize(&options.cache_dir).map_err(io_err(&options.cache_dir))?;
    if cache.starts_with(&repo) {
        return Err(RepodataError::CacheInsideRepo);
    }
    Ok(repo
        .to_string_lossy()
        .replace(|c: char| c.is_control(), "?"))
}

fn check_location(location: &str) -> Result<(), RepodataError> {
    let bad = location.is_empty()
        || location.starts_with('/')
        || location.starts_with("repodata/")
        || location.chars().any(char::is_control)
        || location
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(RepodataError::InvalidLocation(location.to_owned()));
    }
    Ok(())
}

/// The state, and whether its pieces can be reused with these options.
fn load_state(options: &RepodataOptions, repo_dir: &Path, repo: String) -> (State, bool) {
    let (mut state, usable) = match state::load(&options.cache_dir) {
        Some(s)
            if s.compression == options.compression
                && s.changelog_limit == options.changelog_limit
                && s.repo == repo
                && agrees_with_repomd(&s, repo_dir) =>
        {
            (s, true)
        }
        Some(s) if s.repo == repo => {
            let mut fresh = State::empty(options.compression, options.changelog_limit);
            fresh.next_id = s.next_id;
            fresh.revision = s.revision;
            fresh.current = s.current;
            fresh.retired = s.retired;
            (fresh, false)
        }
        // No state, or another repository's: start afresh, keeping piece
        // ids unique anyway.
        other => {
            let mut fresh = State::empty(options.compression, options.changelog_limit);
            fresh.next_id = other.map_or(1, |s| s.next_id);
            (fresh, false)
        }
    };
    state.repo = repo;
    (state, usable)
}

/// Whether the state describes the published revision: repomd.xml names the
/// state's files, or those of the revision before (the writer died between
/// saving the state and replacing repomd.xml), or there is no repomd.xml.
/// Anything else (a state older than repomd.xml after a power loss, another
/// tool's metadata) means the state cannot be trusted.
fn agrees_with_repomd(state: &State, repo_dir: &Path) -> bool {
    let repodata = repo_dir.join("repodata");
    if !repodata.join("repomd.xml").exists() {
        return true;
    }
    let mut published = published_files(&repodata);
    published.sort();
    let same = |names: &[String]| {
        let mut names = names.to_vec();
        names.sort();
        names == published
    };
    same(&state.current) || (!state.previous.is_empty() && same(&state.previous))
}

/// Every `*.rpm` under `dir`, by location, outside the top-level `repodata`.
fn scan(
    dir: &Path,
    skipped: &mut Vec<(PathBuf, String)>,
) -> Result<Vec<(String, PathBuf, Stamp)>, RepodataError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&path).map_err(io_err(&path))?;
        for entry in entries {
            let entry = entry.map_err(io_err(&path))?;
            let full = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                skipped.push((full, "the file name is not UTF-8".into()));
                continue;
            };
            if name.starts_with('.') || (prefix.is_empty() && name == "repodata") {
                continue;
            }
            let file_type = entry.file_type().map_err(io_err(&full))?;
            let location = format!("{prefix}{name}");
            if file_type.is_dir() {
                stack.push((full, format!("{location}/")));
            } else if name.ends_with(".rpm") {
                // One stat per file: relative to the open directory for a
                // plain file (no walk of the whole path), through the link
                // for a symbolic link.
                let meta = if file_type.is_symlink() {
                    std::fs::metadata(&full)
                } else {
                    entry.metadata()
                };
                let Ok(meta) = meta else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                if check_location(&location).is_err() {
                    skipped.push((full, "unusable file name".into()));
                    continue;
                }
                out.push((location, full, Stamp::of(&meta)));
            }
        }
    }
    Ok(out)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

enum PlanItem {
    Keep(usize),
    Build(Vec<usize>),
}

/// Decides which old pieces stay as they are and groups everything else
/// into new pieces.
fn plan(old: &State, usable: bool, targets: &[(String, Target)]) -> Vec<PlanItem> {
    let n_old = if usable { old.pieces.len() } else { 0 };
    // Where each old piece's packages landed in the new list.
    let mut seen = vec![0usize; n_old];
    let mut first = vec![usize::MAX; n_old];
    let mut last = vec![0usize; n_old];
    for (pos, (_, t)) in targets.iter().enumerate() {
        if let Target::Cached { piece, .. } = t {
            seen[*piece] += 1;
            first[*piece] = first[*piece].min(pos);
            last[*piece] = pos;
        }
    }
    let mut clean: Vec<bool> = (0..n_old)
        .map(|p| {
            let len = old.pieces[p].packages.len();
            len > 0 && seen[p] == len && last[p] + 1 - first[p] == len
        })
        .collect();
    // A small clean piece next to new packages is redone with them, so that
    // publishing one build after another does not leave a trail of tiny
    // pieces.
    let is_clean_at = |clean: &[bool], pos: usize| match &targets[pos].1 {
        Target::Cached { piece, .. } => clean[*piece],
        Target::Read { .. } => false,
    };
    for p in 0..n_old {
        if !clean[p] || old.pieces[p].packages.len() >= PIECE_TARGET {
            continue;
        }
        let before = first[p]
            .checked_sub(1)
            .is_some_and(|pos| !is_clean_at(&clean, pos));
        let after = last[p] + 1 < targets.len() && !is_clean_at(&clean, last[p] + 1);
        if before || after {
            clean[p] = false;
        }
    }
    let mut items = Vec::new();
    let mut pending: Vec<usize> = Vec::new();
    let mut pos = 0;
    while pos < targets.len() {
        if let Target::Cached { piece, .. } = &targets[pos].1
            && clean[*piece]
        {
            flush(&mut pending, &mut items);
            items.push(PlanItem::Keep(*piece));
            pos += old.pieces[*piece].packages.len();
            continue;
        }
        pending.push(pos);
        pos += 1;
    }
    flush(&mut pending, &mut items);
    items
}

fn flush(pending: &mut Vec<usize>, items: &mut Vec<PlanItem>) {
    if pending.is_empty() {
        return;
    }
    let chunks = pending.len().div_ceil(PIECE_TARGET);
    let size = pending.len().div_ceil(chunks);
    for chunk in pending.chunks(size) {
        items.push(PlanItem::Build(chunk.to_vec()));
    }
    pending.clear();
}

struct Ctx<'a> {
    cache_dir: &'a Path,
    old: &'a State,
    targets: &'a [(String, Target)],
    options: &'a RepodataOptions,
}

struct Built {
    piece: Option<Piece>,
    read: usize,
    skipped: Vec<(PathBuf, String)>,
    bad: Vec<BadFile>,
}

/// Builds one new piece: fragments from old pieces or from RPM files,
/// written uncompressed and compressed.
fn build_piece(ctx: &Ctx<'_>, id: u64, members: &[usize]) -> Result<Built, RepodataError> {
    // Each thread reuses its buffers from one piece to the next.
    let mut bufs = PIECE_BUFS.take();
    for b in &mut bufs {
        b.clear();
    }
    let built = fill_piece(ctx, id, members, &mut bufs);
    PIECE_BUFS.set(bufs);
    built
}

thread_local! {
    static PIECE_BUFS: std::cell::Cell<[Vec<u8>; 3]> = const {
        std::cell::Cell::new([Vec::new(), Vec::new(), Vec::new()])
    };
}

fn fill_piece(
    ctx: &Ctx<'_>,
    id: u64,
    members: &[usize],
    bufs: &mut [Vec<u8>; 3],
) -> Result<Built, RepodataError> {
    let mut packages = Vec::with_capacity(members.len());
    // An old piece's three files and each package's offsets in them.
    type Loaded = ([Vec<u8>; 3], Vec<[u64; 3]>);
    let mut old_files: HashMap<usize, Loaded> = HashMap::new();
    let mut read = 0;
    let mut skipped = Vec::new();
    let mut bad = Vec::new();
    for &pos in members {
        let (location, target) = &ctx.targets[pos];
        match target {
            Target::Cached { piece, idx } => {
                let old_piece = &ctx.old.pieces[*piece];
                if !old_files.contains_key(piece) {
                    let mut files: [Vec<u8>; 3] = Default::default();
                    let path = state::piece_path(ctx.cache_dir, old_piece.id);
                    let file = File::open(&path).map_err(io_err(&path))?;
                    for (kind, f) in files.iter_mut().enumerate() {
                        *f = read_range(&file, old_piece.plain_range(kind))
                            .map_err(io_err(&path))?;
                    }
                    let mut offsets = Vec::with_capacity(old_piece.packages.len());
                    let mut at = [0u64; 3];
                    for p in &old_piece.packages {
                        offsets.push(at);
                        for (a, len) in at.iter_mut().zip(p.lens) {
                            *a += len;
                        }
                    }
                    old_files.insert(*piece, (files, offsets));
                }
                let (files, offsets) = &old_files[piece];
                let cached = &old_piece.packages[*idx];
                for k in 0..3 {
                    let start = offsets[*idx][k] as usize;
                    let end = start + cached.lens[k] as usize;
                    let Some(bytes) = files[k].get(start..end) else {
                        let path = state::piece_path(ctx.cache_dir, old_piece.id);
                        return Err(RepodataError::Io {
                            path,
                            source: std::io::Error::other("cache piece shorter than recorded"),
                        });
                    };
                    bufs[k].extend_from_slice(bytes);
                }
                packages.push(cached.clone());
            }
            Target::Read { path, strict } => {
                match package::read_package(path, location, ctx.options.changelog_limit, bufs) {
                    Ok(frag) => {
                        read += 1;
                        packages.push(CachedPkg {
                            location: location.clone(),
                            lens: frag.lens,
                            stamp: frag.stamp,
                            pkgid: frag.pkgid,
                        });
                    }
                    Err(e) if !strict => {
                        if let Ok(meta) = std::fs::metadata(path) {
                            bad.push(BadFile {
                                location: location.clone(),
                                stamp: Stamp::of(&meta),
                                reason: e.to_string(),
                            });
                        }
                        skipped.push((path.clone(), e.to_string()));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    drop(old_files);
    if packages.is_empty() {
        return Ok(Built {
            piece: None,
            read,
            skipped,
            bad,
        });
    }
    let path = state::piece_path(ctx.cache_dir, id);
    let mut ulen = [0u64; 3];
    let mut clen = [0u64; 3];
    let mut f = File::create(&path).map_err(io_err(&path))?;
    let mut packed = PACKED.take();
    for k in 0..3 {
        compress_into(&bufs[k], ctx.options.compression, &mut packed).map_err(io_err(&path))?;
        f.write_all(&packed).map_err(io_err(&path))?;
        ulen[k] = bufs[k].len() as u64;
        clen[k] = packed.len() as u64;
    }
    PACKED.set(packed);
    for part in bufs.iter() {
        f.write_all(part).map_err(io_err(&path))?;
    }
    drop(f);
    Ok(Built {
        piece: Some(Piece {
            id,
            packages,
            ulen,
            clen,
        }),
        read,
        skipped,
        bad,
    })
}

/// Calls `f` on the bytes of `file` in `offset..offset + len`, a buffer at
/// a time.
fn for_each_chunk(
    file: &File,
    (offset, len): (u64, u64),
    buf: &mut [u8],
    mut f: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    let mut at = 0u64;
    while at < len {
        let n = usize::try_from((len - at).min(buf.len() as u64)).map_err(std::io::Error::other)?;
        file.read_exact_at(&mut buf[..n], offset + at)?;
        f(&buf[..n]);
        at += n as u64;
    }
    Ok(())
}

fn read_range(file: &File, (offset, len): (u64, u64)) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).map_err(std::io::Error::other)?];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// One gzip member or zstd frame. Clients read concatenated members and
/// frames as one stream, which is what lets pieces be reused.
pub(crate) fn compress(data: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    compress_into(data, compression, &mut out)?;
    Ok(out)
}

thread_local! {
    // Compressor states are a few hundred KiB each: each thread keeps its
    // own rather than making and freeing one per piece (which also keeps
    // the allocator from holding on to freed memory).
    static DEFLATE: RefCell<Option<flate2::Compress>> = const { RefCell::new(None) };
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static PACKED: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// [`compress`] into `out` (cleared first), with this thread's compressor.
fn compress_into(data: &[u8], compression: Compression, out: &mut Vec<u8>) -> std::io::Result<()> {
    out.clear();
    match compression {
        Compression::Gzip => {
            // A gzip member by hand (RFC 1952): header, raw deflate, CRC-32
            // and length, so that the deflate state can be reused.
            out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            DEFLATE.with_borrow_mut(|slot| -> std::io::Result<()> {
                let deflate = slot.get_or_insert_with(|| {
                    flate2::Compress::new(flate2::Compression::new(GZIP_LEVEL), false)
                });
                deflate.reset();
                let mut input = data;
                loop {
                    out.reserve((input.len() / 2).max(64 * 1024));
                    let before = deflate.total_in();
                    let status = deflate
                        .compress_vec(input, out, flate2::FlushCompress::Finish)
                        .map_err(std::io::Error::other)?;
                    let used = usize::try_from(deflate.total_in() - before)
                        .map_err(std::io::Error::other)?;
                    input = &input[used..];
                    if status == flate2::Status::StreamEnd {
                        return Ok(());
                    }
                }
            })?;
            let mut crc = flate2::Crc::new();
            crc.update(data);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            // ISIZE is the length modulo 2^32.
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            Ok(())
        }
        Compression::Zstd => ZSTD.with_borrow_mut(|slot| {
            if slot.is_none() {
                *slot = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
            }
            let Some(zstd) = slot.as_mut() else {
                return Err(std::io::Error::other("zstd compressor"));
            };
            out.reserve(zstd::zstd_safe::compress_bound(data.len()));
            zstd.compress_to_buffer(data, out)?;
            Ok(())
        }),
    }
}

/// Runs `f` over `items` on up to `half_threads_per_core / 2` threads per
/// core, keeping the order of results.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    half_threads_per_core: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = (std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_mul(half_threads_per_core)
        / 2)
    .clamp(1, items.len().max(1));
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut guard) = results.lock() {
                        guard[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

pub(crate) fn xml_head(kind: usize, count: usize) -> String {
    let root = match kind {
        0 => {
            "metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\""
        }
        1 => "filelists xmlns=\"http://linux.duke.edu/metadata/filelists\"",
        _ => "otherdata xmlns=\"http://linux.duke.edu/metadata/other\"",
    };
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} packages=\"{count}\">\n")
}

pub(crate) fn xml_foot(kind: usize) -> &'static str {
    match kind {
        0 => "</metadata>\n",
        1 => "</filelists>\n",
        _ => "</otherdata>\n",
    }
}

/// Writes one public metadata file from the pieces and returns its record
/// and the open file, still to be made durable.
///
/// The file is written directly under its content-addressed name: the name
/// is computed first (a pass over the cached pieces), and a file that
/// already has that name and content is reused rather than rewritten, so a
/// file that a published repomd.xml names is never modified. A file left
/// half-written by a writer that died is named by no repomd.xml and is
/// simply rewritten (or deleted after the grace period).
fn assemble(
    repodata: &Path,
    cache_dir: &Path,
    kind: usize,
    pieces: &[Piece],
    count: usize,
    compression: Compression,
    timestamp: u64,
) -> Result<(Record, File), RepodataError> {
    let head = xml_head(kind, count);
    let foot = xml_foot(kind);
    let head_packed = compress(head.as_bytes(), compression).map_err(io_err(repodata))?;
    let foot_packed = compress(foot.as_bytes(), compression).map_err(io_err(repodata))?;

    let mut packed_hash = Sha256::new();
    let mut open_hash = Sha256::new();
    let mut size = 0u64;
    let mut open_size = 0u64;
    let mut add = |plain: &[u8], packed: &[u8]| {
        packed_hash.update(packed);
        open_hash.update(plain);
        size += packed.len() as u64;
        open_size += plain.len() as u64;
    };
    add(head.as_bytes(), &head_packed);
    // Pieces are streamed through one buffer: no allocation per piece.
    let mut buf = vec![0u8; 256 * 1024];
    for piece in pieces {
        let path = state::piece_path(cache_dir, piece.id);
        let file = File::open(&path).map_err(io_err(&path))?;
        for_each_chunk(&file, piece.plain_range(kind), &mut buf, |chunk| {
            add(chunk, &[]);
        })
        .map_err(io_err(&path))?;
        for_each_chunk(&file, piece.packed_range(kind), &mut buf, |chunk| {
            add(&[], chunk);
        })
        .map_err(io_err(&path))?;
    }
    add(foot.as_bytes(), &foot_packed);
    let checksum = hex::encode(packed_hash.finalize());
    let name = format!("{checksum}-{}.xml.{}", KINDS[kind], compression.suffix());
    let path = repodata.join(&name);

    let file = match reuse_if_identical(&path, size, &checksum) {
        Some(file) => file,
        None => {
            let mut out = File::create(&path).map_err(io_err(&path))?;
            out.write_all(&head_packed).map_err(io_err(&path))?;
            for piece in pieces {
                let piece_path = state::piece_path(cache_dir, piece.id);
                let file = File::open(&piece_path).map_err(io_err(&piece_path))?;
                let mut written = Ok(());
                for_each_chunk(&file, piece.packed_range(kind), &mut buf, |chunk| {
                    if written.is_ok() {
                        written = out.write_all(chunk);
                    }
                })
                .map_err(io_err(&piece_path))?;
                written.map_err(io_err(&path))?;
            }
            out.write_all(&foot_packed).map_err(io_err(&path))?;
            out
        }
    };
    let record = Record {
        kind: KINDS[kind],
        checksum,
        open_checksum: hex::encode(open_hash.finalize()),
        href: format!("repodata/{name}"),
        timestamp,
        size,
        open_size,
    };
    Ok((record, file))
}

/// The existing file at `path` if it already has exactly this content.
fn reuse_if_identical(path: &Path, size: u64, checksum: &str) -> Option<File> {
    let mut file = File::open(path).ok()?;
    if file.metadata().ok()?.len() != size {
        return None;
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    (hex::encode(Sha256::digest(&bytes)) == checksum).then_some(file)
}

/// Runs `f` on every item at once, one thread each (for blocking calls such
/// as fsync, or a few unequal computations).
fn parallel_all<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|item| s.spawn(|| f(item))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Whether `name` looks like a metadata file written by koper or
/// createrepo: `<hex digest>-<anything>`.
fn is_metadata_name(name: &str) -> bool {
    name.split_once('-').is_some_and(|(digest, _)| {
        digest.len() >= 32 && digest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// What a run wants published.
struct Request {
    /// Every package of the new revision, by location.
    targets: BTreeMap<String, Target>,
    /// Write a new revision even when nothing changed.
    force: bool,
    /// Files already found unusable, for the report.
    skipped: Vec<(PathBuf, String)>,
    /// Unusable files still present and unchanged, kept in the state.
    known_bad: Vec<BadFile>,
}

fn apply(
    repo_dir: &Path,
    old: State,
    usable: bool,
    request: Request,
    options: &RepodataOptions,
) -> Result<PublishReport, RepodataError> {
    let Request {
        targets,
        force,
        mut skipped,
        known_bad,
    } = request;
    let cache_dir = options.cache_dir.as_path();
    let repodata = repo_dir.join("repodata");
    std::fs::create_dir_all(&repodata).map_err(io_err(&repodata))?;
    let pieces_dir = state::pieces_dir(cache_dir);
    std::fs::create_dir_all(&pieces_dir).map_err(io_err(&pieces_dir))?;
    let live: HashSet<u64> = if usable {
        old.pieces.iter().map(|p| p.id).collect()
    } else {
        HashSet::new()
    };
    remove_stray_pieces(&pieces_dir, &live)?;
    remove_temp_files(&repodata)?;

    let targets: Vec<(String, Target)> = targets.into_iter().collect();
    let items = plan(&old, usable, &targets);
    let old_count = if usable { old.package_count() } else { 0 };
    let unchanged = usable
        && !force
        && targets.len() == old_count
        && items.iter().all(|i| matches!(i, PlanItem::Keep(_)))
        && repodata.join("repomd.xml").is_file()
        && {
            // repomd.xml must already name this state's revision (it does
            // not when the last writer died just before replacing it).
            let mut published = published_files(&repodata);
            let mut current = old.current.clone();
            published.sort();
            current.sort();
            published == current
        }
        && old.current.iter().all(|n| repodata.join(n).is_file());
    if unchanged {
        if let Some(signer) = &options.signer {
            sign_if_stale(&repodata, signer)?;
        }
        return Ok(PublishReport {
            revision: old.revision,
            packages: old_count,
            read: 0,
            removed: 0,
            pieces_written: 0,
            changed: false,
            skipped,
        });
    }

    // Ids for new pieces are never reused, so that the old state's files
    // stay valid until the new state replaces it.
    let mut next_id = old.next_id;
    let mut jobs = Vec::new();
    for item in &items {
        if let PlanItem::Build(members) = item {
            jobs.push((next_id, members.as_slice()));
            next_id += 1;
        }
    }
    // Piece files are not fsynced: a process that dies loses nothing from
    // the page cache, and after a power loss `state::load` finds a piece of
    // the wrong length (or a state that disagrees with repomd.xml) and the
    // repository is rebuilt from its RPMs once.
    let ctx = Ctx {
        cache_dir,
        old: &old,
        targets: &targets,
        options,
    };
    // More threads than cores: reading packages also waits on the disk, and
    // the extra thread keeps the cores busy meanwhile.
    let built = parallel_map(&jobs, 3, |(id, members)| build_piece(&ctx, *id, members));
    let mut new_pieces_by_id: HashMap<u64, Piece> = HashMap::new();
    let mut read = 0;
    let mut bad = known_bad;
    for b in built {
        let b = b?;
        read += b.read;
        skipped.extend(b.skipped);
        bad.extend(b.bad);
        if let Some(p) = b.piece {
            new_pieces_by_id.insert(p.id, p);
        }
    }
    let pieces_written = new_pieces_by_id.len();
    let mut pieces = Vec::with_capacity(items.len());
    let mut job_ids = jobs.iter().map(|(id, _)| *id);
    for item in &items {
        match item {
            PlanItem::Keep(p) => pieces.push(old.pieces[*p].clone()),
            PlanItem::Build(_) => {
                if let Some(piece) = job_ids.next().and_then(|id| new_pieces_by_id.remove(&id)) {
                    pieces.push(piece);
                }
            }
        }
    }
    let count: usize = pieces.iter().map(|p| p.packages.len()).sum();
    let now = now_secs();
    let revision = now.max(old.revision + 1);
    let kinds = [0usize, 1, 2];
    // One thread per file, even on two cores: the files are unequal (other
    // and primary are twice filelists), and with two threads one of them
    // hashes two files while the other core idles at the end.
    let assembled = parallel_all(&kinds, |&kind| {
        assemble(
            &repodata,
            cache_dir,
            kind,
            &pieces,
            count,
            options.compression,
            now,
        )
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let (records, data_files): (Vec<Record>, Vec<File>) = assembled.into_iter().unzip();
    let repomd_path = repodata.join("repomd.xml");
    let repomd_tmp = repodata.join(format!(".koper-tmp-{}-repomd.xml", std::process::id()));
    let repomd = repomd::render(revision, &records);
    // Signing comes before anything is replaced or the state saved: a
    // signer that fails leaves the previous revision as it was.
    let signature = options
        .signer
        .as_ref()
        .map(|signer| signer.sign(repomd.as_bytes()))
        .transpose()
        .map_err(RepodataError::Sign)?;
    let mut repomd_file = File::create(&repomd_tmp).map_err(io_err(&repomd_tmp))?;
    repomd_file
        .write_all(repomd.as_bytes())
        .map_err(io_err(&repomd_tmp))?;
    let asc_path = repodata.join("repomd.xml.asc");
    let asc_tmp = repodata.join(format!(".koper-tmp-{}-repomd.xml.asc", std::process::id()));
    let asc_file = match &signature {
        Some(signature) => {
            let mut file = File::create(&asc_tmp).map_err(io_err(&asc_tmp))?;
            file.write_all(signature).map_err(io_err(&asc_tmp))?;
            Some(file)
        }
        None => None,
    };
    // One concurrent batch (a journaling file system commits it at once):
    // the data files, the new repomd.xml under its temporary name, and the
    // directory holding their names. Only then may repomd.xml be renamed.
    let dir_handle = File::open(&repodata).map_err(io_err(&repodata))?;
    let mut to_sync: Vec<&File> = data_files.iter().collect();
    to_sync.push(&repomd_file);
    to_sync.extend(asc_file.iter());
    to_sync.push(&dir_handle);
    for synced in parallel_all(&to_sync, |f| f.sync_all()) {
        synced.map_err(io_err(&repodata))?;
    }
    drop(data_files);
    drop(repomd_file);
    drop(asc_file);

    let current: Vec<String> = records
        .iter()
        .filter_map(|r| r.href.strip_prefix("repodata/").map(str::to_owned))
        .collect();
    let grace = options.grace_period.as_secs();
    let mut retired: Vec<(u64, String)> = old
        .retired
        .iter()
        .filter(|(_, name)| !current.contains(name))
        .cloned()
        .collect();
    // What the repomd.xml being replaced names, even if our state does not
    // know it (lost cache, a repository made by createrepo_c): clients may
    // have just fetched it.
    let replaced_now = published_files(&repodata);
    let mut replaced = old.current.clone();
    replaced.extend(replaced_now.iter().cloned());
    for name in &replaced {
        if !current.contains(name) && !retired.iter().any(|(_, n)| n == name) {
            retired.push((now, name.clone()));
        }
    }
    let (expired, retired): (Vec<_>, Vec<_>) = retired
        .into_iter()
        .partition(|(at, _)| now.saturating_sub(*at) >= grace);
    let removed = old_count.saturating_sub(
        targets
            .iter()
            .filter(|(_, t)| matches!(t, Target::Cached { .. }))
            .count(),
    );
    let new_state = State {
        repo: old.repo.clone(),
        compression: options.compression,
        changelog_limit: options.changelog_limit,
        next_id,
        revision,
        current: current.clone(),
        previous: replaced_now,
        retired: retired.clone(),
        bad,
        pieces,
    };
    // The state goes first: if we die before repomd.xml is replaced, the
    // next run starts from the new state and writes a repomd.xml for it.
    state::save(cache_dir, &new_state)?;
    std::fs::rename(&repomd_tmp, &repomd_path).map_err(io_err(&repomd_path))?;
    // The signature right after: a client can pair the new repomd.xml with
    // the old signature only in the instant between the two renames. A
    // crash in between leaves a signature older than repomd.xml, which the
    // next run makes again (`sign_if_stale`).
    if signature.is_some() {
        std::fs::rename(&asc_tmp, &asc_path).map_err(io_err(&asc_path))?;
    }
    // Durable before publish returns.
    dir_handle.sync_all().map_err(io_err(&repodata))?;

    // Clean-up after the new revision is visible.
    for (_, name) in &expired {
        let _ = std::fs::remove_file(repodata.join(name));
    }
    remove_unknown_metadata(&repodata, &current, &retired, options)?;
    let live: HashSet<u64> = new_state.pieces.iter().map(|p| p.id).collect();
    remove_stray_pieces(&pieces_dir, &live)?;

    Ok(PublishReport {
        revision,
        packages: count,
        read,
        removed,
        pieces_written,
        changed: true,
        skipped,
    })
}

/// Signs the current `repomd.xml` again when its signature is missing or
/// older than it (signing newly enabled, or a crash between the two renames
/// of a publish).
fn sign_if_stale(repodata: &Path, signer: &RepomdSigner) -> Result<(), RepodataError> {
    let repomd_path = repodata.join("repomd.xml");
    let asc_path = repodata.join("repomd.xml.asc");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let fresh = match (modified(&repomd_path), modified(&asc_path)) {
        (Some(repomd), Some(asc)) => asc >= repomd,
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    let repomd = std::fs::read(&repomd_path).map_err(io_err(&repomd_path))?;
    let signature = signer.sign(&repomd).map_err(RepodataError::Sign)?;
    fsutil::replace(&asc_path, &signature)
}

/// The file names (in `repodata/`) that the current repomd.xml refers to.
fn published_files(repodata: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(repodata.join("repomd.xml")) else {
        return Vec::new();
    };
    text.split("href=\"repodata/")
        .skip(1)
        .filter_map(|rest| rest.split_once('"'))
        .map(|(name, _)| name.to_owned())
        .filter(|name| !name.contains('/'))
        .collect()
}

/// Deletes piece files that no state refers to (left by a run that died).
fn remove_stray_pieces(pieces_dir: &Path, live: &HashSet<u64>) -> Result<(), RepodataError> {
    let entries = std::fs::read_dir(pieces_dir).map_err(io_err(pieces_dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let id = name.split('.').next().and_then(|s| s.parse::<u64>().ok());
        if id.is_none_or(|id| !live.contains(&id)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Temporary files of a writer that died; we hold the lock, so no live
/// writer owns them.
fn remove_temp_files(repodata: &Path) -> Result<(), RepodataError> {
    let entries = std::fs::read_dir(repodata).map_err(io_err(repodata))?;
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".koper-tmp-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Deletes metadata files that belong to no known revision (written by a run
/// that died before its repomd.xml, or by another tool) once they are older
/// than the grace period.
fn remove_unknown_metadata(
    repodata: &Path,
    current: &[String],
    retired: &[(u64, String)],
    options: &RepodataOptions,
) -> Result<(), RepodataError> {
    let entries = std::fs::read_dir(repodata).map_err(io_err(repodata))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_metadata_name(&name)
            || current.contains(&name)
            || retired.iter().any(|(_, n)| *n == name)
        {
            continue;
        }
        let old_enough = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= options.grace_period);
        if old_enough {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
