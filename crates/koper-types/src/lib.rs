//! Validated names, ids and states shared by every part of koper.
//!
//! Anything that becomes part of a path, a URL or a query is parsed into one
//! of these types at the edge of the system; code behind the edge never
//! sees an unchecked string.

mod names;
mod role;
mod size;
mod source;
mod state;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use names::{ChrootName, NameError, OwnerName, PackageName, ProjectName, ProjectRef, UserName};
pub use role::{RoleState, Roles, UnknownRoleState};
pub use size::{format_bytes, parse_bytes};
pub use source::{
    MAX_SPEC_BYTES, ScmSource, SourceError, SpecSource, SrpmMethod, check_clone_url,
    check_committish, check_file_name, check_relative_path, check_spec_text,
};
pub use state::{BuildState, UnknownState, aggregate_state};

/// A build's number, unique on the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BuildId(pub i64);

impl BuildId {
    /// The name of a build's result directory in a chroot repo,
    /// `00000042-hello`, as Copr lays it out.
    pub fn result_dir_name(self, package: &PackageName) -> String {
        format!("{:08}-{}", self.0, package)
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for BuildId {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        match s.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Self(n)),
            _ => Err(NameError {
                kind: "build id",
                value: s.chars().take(40).collect(),
                reason: "must be a positive number",
            }),
        }
    }
}

/// The current time as Unix seconds, the only time format koper stores.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_dirs_are_zero_padded() {
        let pkg: PackageName = "hello".parse().unwrap();
        assert_eq!(BuildId(1).result_dir_name(&pkg), "00000001-hello");
        assert!("0".parse::<BuildId>().is_err());
        assert!("-3".parse::<BuildId>().is_err());
        assert_eq!("17".parse::<BuildId>().unwrap(), BuildId(17));
    }
}
