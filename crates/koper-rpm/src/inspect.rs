//! Checks that a file is a complete, intact RPM and reads who it is.

use std::fs::File;
use std::path::Path;

use koper_types::PackageName;
use rpm::PackageMetadata;

use crate::RpmError;
use crate::framing::{RpmHeaders, read_headers, sha256_stream};

/// What an import learns from a source RPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRpm {
    /// The package name.
    pub name: PackageName,
    /// The epoch, when the spec sets one.
    pub epoch: Option<u32>,
    /// The upstream version.
    pub version: String,
    /// The release.
    pub release: String,
    /// The license expression.
    pub license: String,
    /// The one-line summary.
    pub summary: String,
    /// The upstream URL, when the spec has one.
    pub url: Option<String>,
    /// The names of the `.spec` files it holds (a usable one holds one).
    pub spec_files: Vec<String>,
    /// Every package it builds is `noarch` (`BuildArch: noarch` in the
    /// main package, which its subpackages inherit): one build serves
    /// every architecture.
    pub noarch_only: bool,
}

impl SourceRpm {
    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        evr(self.epoch, &self.version, &self.release)
    }

    /// `name-version-release`, as in the file name.
    pub fn nvr(&self) -> String {
        format!("{}-{}-{}", self.name, self.version, self.release)
    }
}

/// The identity of any RPM, binary or source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageIdentity {
    /// The package name.
    pub name: PackageName,
    /// The epoch, when the spec sets one.
    pub epoch: Option<u32>,
    /// The upstream version.
    pub version: String,
    /// The release.
    pub release: String,
    /// The architecture; `src` for a source RPM, as in its file name.
    pub arch: String,
    /// Whether this is a source RPM.
    pub is_source: bool,
    /// The source RPM a binary package says it was built from
    /// (`name-version-release.src.rpm`); `None` for a source RPM.
    pub source_rpm: Option<String>,
}

impl PackageIdentity {
    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        evr(self.epoch, &self.version, &self.release)
    }

    /// `name-version-release.arch`, as in the file name.
    pub fn nvra(&self) -> String {
        format!(
            "{}-{}-{}.{}",
            self.name, self.version, self.release, self.arch
        )
    }
}

fn evr(epoch: Option<u32>, version: &str, release: &str) -> String {
    match epoch {
        Some(e) => format!("{e}:{version}-{release}"),
        None => format!("{version}-{release}"),
    }
}

/// Validates that `path` is a complete, intact source RPM and reads its
/// header.
pub fn inspect_source_rpm(path: &Path) -> Result<SourceRpm, RpmError> {
    let headers = read_verified(path)?;
    let meta = &headers.metadata;
    if !meta.is_source_package() {
        return Err(RpmError::NotASourceRpm {
            arch: meta.get_arch().unwrap_or("unknown").to_owned(),
        });
    }
    let (name, epoch, version, release) = nevr(meta)?;
    let url = meta
        .get_url()
        .ok()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    // A source RPM lists its files flat; no file list at all means none.
    let spec_files = meta
        .get_file_paths()
        .unwrap_or_default()
        .iter()
        .filter_map(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".spec"))
        .collect();
    let noarch_only = meta
        .header
        .get_entry_data_as_string_array(rpm::IndexTag::RPMTAG_BUILDARCHS)
        .is_ok_and(|arches| arches == ["noarch"]);
    Ok(SourceRpm {
        noarch_only,
        name,
        epoch,
        version,
        release,
        license: meta.get_license().unwrap_or_default().to_owned(),
        summary: meta.get_summary().unwrap_or_default().to_owned(),
        url,
        spec_files,
    })
}

/// Validates that `path` is a complete, intact RPM (binary or source) and
/// returns its identity. Used to check what builders upload.
pub fn inspect_package(path: &Path) -> Result<PackageIdentity, RpmError> {
    let headers = read_verified(path)?;
    let meta = &headers.metadata;
    let (name, epoch, version, release) = nevr(meta)?;
    let is_source = meta.is_source_package();
    let arch = if is_source {
        "src".to_owned()
    } else {
        meta.get_arch()
            .map_err(|_| RpmError::Corrupt("it has no architecture".into()))?
            .to_owned()
    };
    Ok(PackageIdentity {
        name,
        epoch,
        version,
        release,
        arch,
        is_source,
        source_rpm: if is_source {
            None
        } else {
            meta.get_source_rpm().ok().map(str::to_owned)
        },
    })
}

/// Reads the headers and checks length, header digest and payload digest,
/// streaming the payload.
fn read_verified(path: &Path) -> Result<RpmHeaders, RpmError> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let headers = read_headers(&mut file, file_len)?;
    headers.check_length()?;
    headers.check_header_digest()?;
    if let Some(recorded) = headers.payload_sha256() {
        let (actual, _) = sha256_stream(&mut file)?;
        if actual != recorded {
            return Err(RpmError::DigestMismatch { part: "payload" });
        }
    }
    Ok(headers)
}

type Nevr = (PackageName, Option<u32>, String, String);

fn nevr(meta: &PackageMetadata) -> Result<Nevr, RpmError> {
    let field = |value: Result<&str, rpm::Error>, what: &str| {
        value
            .map(str::to_owned)
            .map_err(|_| RpmError::Corrupt(format!("it has no {what}")))
    };
    let name: PackageName = field(meta.get_name(), "name")?.parse()?;
    let epoch = match meta.get_epoch() {
        Ok(e) => Some(e),
        Err(rpm::Error::TagNotFound(_)) => None,
        Err(e) => return Err(RpmError::Corrupt(format!("its epoch is unreadable: {e}"))),
    };
    let version = field(meta.get_version(), "version")?;
    let release = field(meta.get_release(), "release")?;
    Ok((name, epoch, version, release))
}
