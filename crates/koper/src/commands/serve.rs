//! `koper serve`: the server, with its local builders.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use koper_builder::BuilderConfig;
use koper_server::{ServerConfig, SettingsFile};
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::exit::{CommandResult, Failure};

/// The local builder's own directory: outside the data directory, because
/// the unprivileged build users must be able to traverse every ancestor of
/// it, which a data directory under a private home does not allow.
fn default_builder_dir(data_dir: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    PathBuf::from(format!(
        "/var/tmp/koper-builder-{}",
        &hex::encode(digest)[..12]
    ))
}

pub async fn serve(args: ServeArgs) -> CommandResult {
    let data_dir = std::path::absolute(&args.data.data_dir).map_err(Failure::local)?;
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| Failure::local(format!("cannot create {}: {e}", data_dir.display())))?;
    let file = SettingsFile::load(&data_dir.join("koper.toml")).map_err(|e| Failure::new(6, e))?;
    let settings = file.overridden_by(SettingsFile {
        listen: args.listen,
        public_url: args.public_url.clone(),
        database_url: args.data.database_url.clone(),
        max_upload_bytes: args.max_upload_bytes,
        local_builders: args.builders,
        signing_key_algorithm: args.signing_key_algorithm.clone(),
        default_quota_bytes: args.default_quota_bytes,
        max_running_per_owner: args.max_running_per_owner,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        ..SettingsFile::default()
    });
    let config = ServerConfig::new(data_dir.clone())
        .apply(settings)
        .map_err(|e| Failure::new(6, e))?;
    let local_builders = config.local_builders;
    // The local builder trusts the server's own certificate, self-signed
    // or not.
    let server_cert = config.tls.as_ref().map(|tls| tls.cert.clone());
    if local_builders > 0 && !nix::unistd::geteuid().is_root() {
        return Err(Failure::local(
            "the local builder needs root: it mounts overlays and runs builds as \
             unprivileged sandbox users",
        )
        .hint(
            "run `sudo koper serve ...`, or `koper serve --builders 0` and run builders elsewhere",
        ));
    }

    let server = koper_server::start(config)
        .await
        .map_err(|e| Failure::local(format!("cannot start the server: {e}")))?;
    let url = server.public_url().to_owned();

    let (stop_builders, stop) = watch::channel(false);
    let mut builder_task = None;
    if local_builders > 0 {
        let token = server
            .register_builder("local")
            .await
            .map_err(|e| Failure::local(format!("cannot register the local builder: {e}")))?;
        let dir = args
            .builder_dir
            .clone()
            .unwrap_or_else(|| default_builder_dir(&data_dir));
        let mut builder = BuilderConfig::new(url.clone(), token, dir);
        builder.slots = local_builders;
        args.limits.apply(&mut builder.limits);
        builder.ca_cert = server_cert;
        builder_task = Some(tokio::spawn(async move {
            let ran = koper_builder::run(builder, stop).await;
            // Said at once: a server without its builder queues forever.
            if let Err(e) = &ran {
                tracing::error!(error = %e, "the local builder stopped");
            }
            ran
        }));
    }

    println!("koper is ready at {url}/");
    println!("  data directory: {}", data_dir.display());
    println!(
        "  local builder:  {local_builders} slot(s) for {}",
        koper_builder::host_arch()
    );
    println!(
        "  get a token:    koper admin add-user NAME --data-dir {} > ~/.config/koper.toml",
        data_dir.display()
    );

    shutdown_signal().await;
    eprintln!("stopping: finishing the builds in progress (interrupt again to stop at once)");
    let _ = stop_builders.send(true);
    if let Some(task) = builder_task {
        tokio::select! {
            _ = task => {}
            _ = shutdown_signal() => {}
        }
    }
    server
        .shutdown()
        .await
        .map_err(|e| Failure::local(format!("server error: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
