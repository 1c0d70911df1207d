//! Signing and verifying RPM files.
//!
//! rpmbuild leaves reserved space in every package's signature header, so a
//! signature is normally written in place: only the few kilobytes of the
//! signature header change, and the payload (possibly hundreds of
//! megabytes) is neither read nor copied. A package without reserved space
//! is rewritten whole, through a temporary file and a rename.

use std::io::Write;
use std::path::Path;

use crate::{Result, SignError};

fn rpm_err(path: &Path) -> impl Fn(rpm::Error) -> SignError + '_ {
    move |e| SignError::Rpm {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Signs `path` with `signer`, removing the signatures it had (a package
/// re-signed by koper must not keep a foreign key's signature in the one
/// slot that rpm 4 reads).
pub fn sign_rpm(signer: &rpm::signature::pgp::Signer, path: &Path) -> Result<()> {
    let metadata = rpm::PackageMetadata::open(path).map_err(rpm_err(path))?;
    let reserved = rpm::SignatureHeaderBuilder::from_existing(&metadata.signature)
        .map_err(rpm_err(path))?
        .has_reserved_space();
    if reserved {
        if !metadata.raw_signatures().map_err(rpm_err(path))?.is_empty() {
            rpm::Package::clear_signatures_in_place(path).map_err(rpm_err(path))?;
        }
        match rpm::Package::resign_in_place(path, signer.clone()) {
            Ok(()) => return sync(path),
            Err(rpm::Error::InsufficientReservedSpace { .. }) => {}
            Err(e) => return Err(rpm_err(path)(e)),
        }
    }
    rewrite_signed(signer, path)
}

fn sync(path: &Path) -> Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .sync_all()?;
    Ok(())
}

fn rewrite_signed(signer: &rpm::signature::pgp::Signer, path: &Path) -> Result<()> {
    let mut package = rpm::Package::open(path).map_err(rpm_err(path))?;
    package.clear_signatures().map_err(rpm_err(path))?;
    package.sign(signer.clone()).map_err(rpm_err(path))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.signing-{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&temp)?);
        package.write(&mut file).map_err(rpm_err(path))?;
        file.flush()?;
        file.get_ref().sync_all()?;
        std::fs::rename(&temp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Checks the header digests and the header signature of `path` against
/// the armored public key.
pub fn verify_rpm(public_key: &str, path: &Path) -> Result<()> {
    let metadata = rpm::PackageMetadata::open(path).map_err(rpm_err(path))?;
    metadata
        .verify_digests()
        .map_err(|e| SignError::BadSignature(e.to_string()))?;
    if metadata.raw_signatures().map_err(rpm_err(path))?.is_empty() {
        return Err(SignError::BadSignature(format!(
            "{} is not signed",
            path.display()
        )));
    }
    let verifier = rpm::signature::pgp::Verifier::from_asc(public_key)
        .map_err(|e| SignError::Key(e.to_string()))?;
    metadata
        .verify_signature(verifier)
        .map_err(|e| SignError::BadSignature(format!("{}: {e}", path.display())))
}
