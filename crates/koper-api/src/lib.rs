//! Wire types of koper's HTTP APIs, shared by the server, the builder and
//! the CLI so that both ends of a request agree by construction.
//!
//! - [`v1`]: the native API under `/api/v1/` that `koper` (the CLI) uses.
//! - [`copr`]: the objects of Copr's APIv3 under `/api_3/`, for `copr-cli`
//!   and other Copr clients.
//! - [`builder`]: the builder protocol under `/builder-api/v1/`, described
//!   in `docs/builder-api.md`.

pub mod builder;
pub mod copr;
pub mod v1;

use serde::{Deserialize, Serialize};

/// The body of every error response: one human message and, where there is
/// a next step, a hint. Copr clients detect errors by the `error` key alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for humans.
    pub error: String,
    /// What to do about it, when there is something to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}
