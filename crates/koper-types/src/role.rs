//! Roles a user holds in a project besides owning it, with Copr's words for
//! their states so that `copr-cli edit-permissions` and koper agree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a user stands with one role (builder or admin) in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RoleState {
    /// Not held, not asked for.
    #[default]
    #[serde(rename = "nothing")]
    Nothing,
    /// Asked for by the user; the owner or an admin has not decided yet.
    #[serde(rename = "request")]
    Requested,
    /// Granted.
    #[serde(rename = "approved")]
    Approved,
}

impl RoleState {
    /// Every state.
    pub const ALL: [RoleState; 3] = [Self::Nothing, Self::Requested, Self::Approved];

    /// The name Copr uses (`nothing`, `request`, `approved`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nothing => "nothing",
            Self::Requested => "request",
            Self::Approved => "approved",
        }
    }

    /// Whether the role is in effect.
    pub fn is_approved(self) -> bool {
        self == Self::Approved
    }
}

impl fmt::Display for RoleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role state koper does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission state {0:?}: use nothing, request or approved")]
pub struct UnknownRoleState(pub String);

impl FromStr for RoleState {
    type Err = UnknownRoleState;
    fn from_str(s: &str) -> Result<Self, UnknownRoleState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownRoleState(s.to_owned()))
    }
}

/// A user's two roles in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roles {
    /// May submit, cancel and delete builds.
    pub builder: RoleState,
    /// May also change settings and grant roles.
    pub admin: RoleState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_coprs_words() {
        for state in RoleState::ALL {
            assert_eq!(state.as_str().parse::<RoleState>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        assert!("requested".parse::<RoleState>().is_err());
    }
}
