//! `koper builder`: a builder on any host, pulling work from a server.

use std::process::ExitCode;

use koper_builder::BuilderConfig;
use tokio::sync::watch;

use super::serve::shutdown_signal;
use crate::cli::BuilderArgs;
use crate::exit::{CommandResult, Failure};

pub async fn builder(args: BuilderArgs) -> CommandResult {
    if !nix::unistd::geteuid().is_root() {
        return Err(Failure::local(
            "a builder needs root: it mounts overlays and runs builds as unprivileged sandbox users",
        ));
    }
    let mut config = BuilderConfig::new(args.server, args.token, args.work_dir);
    if !args.arches.is_empty() {
        config.arches = args.arches;
    }
    config.slots = args.slots.max(1);
    config.tags = args.tags;
    args.limits.apply(&mut config.limits);
    config.ca_cert = args.ca_cert;
    tracing::info!(server = %config.server_url, arches = ?config.arches, slots = config.slots,
        tags = ?config.tags, "builder starting");
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(koper_builder::run(config, stop));
    shutdown_signal().await;
    // SIGTERM drains: builds in progress finish, no new ones are taken.
    tracing::info!("draining: finishing the builds in progress");
    let _ = stop_tx.send(true);
    tokio::select! {
        result = running => {
            if let Ok(Err(e)) = result {
                return Err(Failure::local(e));
            }
        }
        _ = shutdown_signal() => {}
    }
    Ok(ExitCode::SUCCESS)
}
