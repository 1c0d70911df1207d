#![doc = include_str!("../README.md")]

mod key;
mod rpmsig;

use std::fmt;
use std::str::FromStr;

pub use key::{PublicKey, SigningKey};

/// The public-key algorithm of new project keys (chosen per instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    /// RSA with 4096-bit keys: verified by every rpm and gpg version.
    #[default]
    Rsa4096,
    /// Ed25519 (the v4 "EdDSA legacy" encoding, which rpm 4.16+ and gpg
    /// 2.2+ verify): small keys, fast signatures.
    Ed25519,
}

impl KeyAlgorithm {
    /// The name used in settings: `rsa4096` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa4096 => "rsa4096",
            Self::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rsa4096" | "rsa" => Ok(Self::Rsa4096),
            "ed25519" => Ok(Self::Ed25519),
            other => Err(format!(
                "unknown key algorithm {other:?}: use rsa4096 or ed25519"
            )),
        }
    }
}

/// Who a project key belongs to: Copr's user id, `<owner>_<project>
/// <<owner>#<project>@<host>>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    /// `<owner>_<project>`.
    pub name: String,
    /// `<owner>#<project>@<host>`.
    pub email: String,
}

impl KeyIdentity {
    /// The identity of project `owner/project` on the instance `host`
    /// (group owners keep their `@`, as on Copr).
    pub fn for_project(owner: &str, project: &str, host: &str) -> Self {
        Self {
            name: format!("{owner}_{project}"),
            email: format!("{owner}#{project}@{host}"),
        }
    }

    /// The OpenPGP user id.
    pub fn user_id(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

/// Why a key could not be made or used, or a signature did not verify.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The key text is not a usable OpenPGP key.
    #[error("unusable OpenPGP key: {0}")]
    Key(String),
    /// Making a key or a signature failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The signature does not match the data or the key.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The RPM file could not be read or rewritten.
    #[error("{path}: {message}")]
    Rpm {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The result of this crate's operations.
pub type Result<T, E = SignError> = std::result::Result<T, E>;
