#![doc = include_str!("../README.md")]

mod deps;
mod error;
mod framing;
mod inspect;

pub use deps::{Capability, PackageDeps, read_deps, still_needed};
pub use error::RpmError;
pub use framing::{RpmHeaders, read_headers};
pub use inspect::{PackageIdentity, SourceRpm, inspect_package, inspect_source_rpm};

/// The `rpm` crate, re-exported so that callers of [`read_headers`] use the
/// same version of its types.
pub use rpm;
