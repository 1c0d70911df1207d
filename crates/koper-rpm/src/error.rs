use koper_types::NameError;

/// Why a file was refused. The messages are written for end users and may be
/// shown as they are.
#[derive(Debug, thiserror::Error)]
pub enum RpmError {
    /// The file does not start with the RPM lead magic.
    #[error("not an RPM file (no RPM lead)")]
    NotAnRpm,
    /// A binary RPM where a source RPM was expected.
    #[error("this is a binary RPM ({arch}), a source RPM (.src.rpm) is expected")]
    NotASourceRpm {
        /// The binary package's architecture.
        arch: String,
    },
    /// The file is shorter than its headers say. When the file ends inside
    /// its headers, `expected` is the length that the headers read so far
    /// need, a lower bound of the real size.
    #[error(
        "the file is truncated: its header announces {expected} bytes but the file has {actual}"
    )]
    Truncated {
        /// The length the file should have.
        expected: u64,
        /// The file's length.
        actual: u64,
    },
    /// A digest recorded in the package does not match its content.
    #[error(
        "the file is damaged: the {part} digest recorded in the package does not match its content"
    )]
    DigestMismatch {
        /// Which digest failed: "header" or "payload".
        part: &'static str,
    },
    /// The file is an RPM but its structure is broken or implausible.
    #[error("the RPM file is corrupt: {0}")]
    Corrupt(String),
    /// The package's name is not a valid package name.
    #[error("the package has an invalid name: {0}")]
    InvalidName(#[from] NameError),
    /// Reading the file failed.
    #[error("could not read the file: {0}")]
    Io(#[from] std::io::Error),
}
