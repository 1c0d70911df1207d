//! Build states, named and numbered as Copr names them so that Copr clients
//! understand koper's answers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of a build or of one of its chroots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildState {
    /// The build, its source or its import failed.
    Failed,
    /// Done, results published.
    Succeeded,
    /// A user canceled it.
    Canceled,
    /// A builder is executing it.
    Running,
    /// Queued, waiting for a builder.
    Pending,
    /// Not built for this chroot (ExcludeArch/ExclusiveArch).
    Skipped,
    /// A builder took it and is preparing the buildroot.
    Starting,
    /// The source is being fetched and checked.
    Importing,
    /// Copied from another project by a fork.
    Forked,
    /// Waits for the source phase to finish.
    Waiting,
    /// Undefined.
    Unknown,
}

impl BuildState {
    /// Every state, in Copr's numeric order.
    pub const ALL: [BuildState; 11] = [
        Self::Failed,
        Self::Succeeded,
        Self::Canceled,
        Self::Running,
        Self::Pending,
        Self::Skipped,
        Self::Starting,
        Self::Importing,
        Self::Forked,
        Self::Waiting,
        Self::Unknown,
    ];

    /// The name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Succeeded => "succeeded",
            Self::Canceled => "canceled",
            Self::Running => "running",
            Self::Pending => "pending",
            Self::Skipped => "skipped",
            Self::Starting => "starting",
            Self::Importing => "importing",
            Self::Forked => "forked",
            Self::Waiting => "waiting",
            Self::Unknown => "unknown",
        }
    }

    /// Copr's integer code for the state.
    pub fn code(self) -> i64 {
        match self {
            Self::Failed => 0,
            Self::Succeeded => 1,
            Self::Canceled => 2,
            Self::Running => 3,
            Self::Pending => 4,
            Self::Skipped => 5,
            Self::Starting => 6,
            Self::Importing => 7,
            Self::Forked => 8,
            Self::Waiting => 9,
            Self::Unknown => 1000,
        }
    }

    /// Whether nothing more will happen to a build in this state; what
    /// `watch-build` waits for. `forked` is final on the server, but
    /// Copr clients keep watching it, so it is not listed here.
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Skipped | Self::Failed | Self::Canceled
        )
    }

    /// Whether the server may no longer change the state (cancel is refused).
    pub fn is_final(self) -> bool {
        self.is_ended() || self == Self::Forked
    }
}

impl fmt::Display for BuildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that koper does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown build state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for BuildState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, UnknownState> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// The state of a whole build from the state of its source phase, of its
/// chroots and its cancel flag, by Copr's rule: a canceled build is
/// canceled; an unfinished or failed source decides; otherwise the most
/// "active" chroot state wins, so one failed and one running chroot report
/// `running`, and one failed and one succeeded report `failed`.
pub fn aggregate_state(
    canceled: bool,
    source: BuildState,
    chroots: impl IntoIterator<Item = BuildState>,
) -> BuildState {
    use BuildState::*;
    if canceled {
        return Canceled;
    }
    if matches!(source, Starting | Pending | Running | Importing | Failed) {
        return source;
    }
    let chroots: Vec<BuildState> = chroots.into_iter().collect();
    for state in [Running, Starting, Pending] {
        if chroots.contains(&state) {
            return state;
        }
    }
    // A chroot waiting for another's packages (noarch) has work ahead,
    // as a pending one does.
    if chroots.contains(&Waiting) {
        return Pending;
    }
    for state in [Failed, Succeeded, Skipped, Forked] {
        if chroots.contains(&state) {
            return state;
        }
    }
    if chroots.is_empty() && source == Succeeded {
        return Waiting;
    }
    Unknown
}

#[cfg(test)]
mod tests {
    use super::BuildState::*;
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in BuildState::ALL {
            assert_eq!(state.as_str().parse::<BuildState>().unwrap(), state);
        }
    }

    #[test]
    fn aggregate_follows_copr() {
        assert_eq!(aggregate_state(true, Succeeded, [Running]), Canceled);
        assert_eq!(aggregate_state(false, Importing, [Waiting]), Importing);
        assert_eq!(
            aggregate_state(false, Succeeded, [Failed, Running]),
            Running
        );
        assert_eq!(
            aggregate_state(false, Succeeded, [Failed, Succeeded]),
            Failed
        );
        assert_eq!(aggregate_state(false, Succeeded, [Succeeded]), Succeeded);
        assert_eq!(aggregate_state(false, Succeeded, [Waiting]), Pending);
        assert_eq!(
            aggregate_state(false, Succeeded, [Succeeded, Waiting]),
            Pending
        );
        assert_eq!(
            aggregate_state(false, Succeeded, [Failed, Waiting]),
            Pending
        );
        assert_eq!(aggregate_state(false, Succeeded, []), Waiting);
    }
}
