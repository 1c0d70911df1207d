//! `koper`: one binary for the server, the builder and the client. This
//! file only parses the command line and dispatches; each command lives in
//! `commands/`.

mod cli;
mod commands;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let daemon = matches!(cli.command, Command::Serve(_) | Command::Builder(_));
    init_logging(daemon);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"), None);
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(failure) => {
            output::error(&failure.message, failure.hint.as_deref());
            failure.exit_code()
        }
    }
}

/// Logs go to stderr; `KOPER_LOG` (or `RUST_LOG`) sets the filter. Server
/// roles log at info by default, client commands only warnings.
fn init_logging(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = std::env::var("KOPER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
}
