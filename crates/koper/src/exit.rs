//! Exit codes, the same as copr-cli's so scripts written for it keep
//! working:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the server refused the request, or the thing does not exist |
//! | 2 | invalid arguments |
//! | 3 | a local problem (a file that cannot be read, the server failed to start) |
//! | 4 | a watched build failed or was canceled |
//! | 6 | configuration problem |
//! | 7 | authentication or permission refused |

use std::process::ExitCode;

use koper_client::{ClientError, ConfigError};

/// A command's failure: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One-line message.
    pub message: String,
    /// The next step, when there is one.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with a code and message.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A local problem (exit 3).
    pub fn local(message: impl std::fmt::Display) -> Self {
        Self::new(3, message.to_string())
    }

    /// The exit code as a process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        let code = if err.is_auth() { 7 } else { 1 };
        let hint = match &err {
            ClientError::Api { hint, .. } => hint.clone(),
            ClientError::Transport { .. } => {
                Some("is `koper serve` running, and is `url` in ~/.config/koper.toml right?".into())
            }
            ClientError::Io(_) => None,
        };
        let code = if matches!(err, ClientError::Io(_)) {
            3
        } else {
            code
        };
        Self {
            code,
            message: err.to_string(),
            hint,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(err: ConfigError) -> Self {
        Self::new(6, err.to_string()).hint(
            "write url, user and token to ~/.config/koper.toml (`koper admin add-user NAME` \
             prints them), or pass --url and --token",
        )
    }
}

/// The result of a command.
pub type CommandResult = Result<ExitCode, Failure>;
