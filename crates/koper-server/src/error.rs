//! The one error type of the server's operations, and its mapping to an
//! HTTP status and the JSON error envelope. Internal details (SQL, paths,
//! backtraces) are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use koper_api::ErrorBody;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or names something invalid.
    #[error("{message}")]
    BadRequest {
        /// For the user.
        message: String,
        /// The next step, if any.
        hint: Option<String>,
    },
    /// No credentials, or credentials that are not valid.
    #[error("{message}")]
    Unauthenticated {
        /// For the user.
        message: String,
        /// The next step.
        hint: Option<String>,
    },
    /// Valid credentials without the permission needed.
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (duplicate, already
    /// ended, lease lost).
    #[error("{0}")]
    Conflict(String),
    /// The upload is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// Storing this would exceed a storage quota.
    #[error("{message}")]
    QuotaExceeded {
        /// Usage and quota.
        message: String,
        /// How to free space or get more.
        hint: String,
    },
    /// Too many attempts (sign-in); try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A service koper relies on (an OpenID provider) did not answer
    /// usably; the detail goes to the log only.
    #[error("{0}")]
    Upstream(String),
    /// Something broke on the server; the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            hint: None,
        }
    }

    /// A 400 with a message and a hint.
    pub fn bad_request_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// Wraps an unexpected failure.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) | Self::QuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body sent to the client.
    pub fn body(&self) -> ErrorBody {
        match self {
            Self::BadRequest { message, hint } | Self::Unauthenticated { message, hint } => {
                ErrorBody {
                    error: message.clone(),
                    hint: hint.clone(),
                }
            }
            Self::QuotaExceeded { message, hint } => ErrorBody {
                error: message.clone(),
                hint: Some(hint.clone()),
            },
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                ErrorBody {
                    error: "internal server error; the details are in the server log".into(),
                    hint: None,
                }
            }
            other => ErrorBody {
                error: other.to_string(),
                hint: None,
            },
        }
    }
}

impl From<koper_db::DbError> for Error {
    fn from(err: koper_db::DbError) -> Self {
        Self::internal(err)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::internal(err)
    }
}

impl From<koper_types::NameError> for Error {
    fn from(err: koper_types::NameError) -> Self {
        Self::bad_request(err.to_string())
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal(err)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

/// The result of a server operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
