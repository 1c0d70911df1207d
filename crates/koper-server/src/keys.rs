//! Project signing keys: made when a project is created (or first needed),
//! kept under `<data-dir>/keys/` (mode 0700, files 0600, never below
//! `results/`), published as `pubkey.gpg` at the project's root, and
//! extended before they lapse. Builders never see them: only the server
//! signs, after a builder's results arrived.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use koper_db::ProjectRow;
use koper_sign::{KeyIdentity, SigningKey};
use koper_types::now_epoch;

use crate::app::App;
use crate::error::{Error, Result};

/// How often keys are checked for renewal.
const RENEWAL_SWEEP: Duration = Duration::from_secs(24 * 3600);

/// The published public key's file name, at the project's root (where
/// dnf4's `.repo` files and dnf5's copr plugin point `gpgkey`).
pub const PUBKEY_FILE: &str = "pubkey.gpg";

/// Loaded keys by project id. One lock for all: keys are made rarely, and
/// two publishes of a new project must not make two keys.
#[derive(Default)]
pub struct KeyStore {
    keys: tokio::sync::Mutex<HashMap<i64, Arc<SigningKey>>>,
}

/// The instance's host name, part of every key's e-mail address.
pub fn instance_host(app: &App) -> &str {
    crate::repo_file::hostname(app.public_url())
}

fn identity(app: &App, project: &ProjectRow) -> KeyIdentity {
    KeyIdentity::for_project(
        project.owner.as_str(),
        project.name.as_str(),
        instance_host(app),
    )
}

fn key_file(app: &App, project: &ProjectRow) -> PathBuf {
    app.data().project_key_file(&project.owner, &project.name)
}

/// The project's key: loaded, or made (and published) when it has none.
pub async fn project_key(app: &App, project: &ProjectRow) -> Result<Arc<SigningKey>> {
    let mut keys = app.keys().keys.lock().await;
    if let Some(key) = keys.get(&project.id) {
        return Ok(key.clone());
    }
    let file = key_file(app, project);
    let identity = identity(app, project);
    let algorithm = app.config().key_algorithm;
    let lifetime = app.config().key_lifetime;
    let pubkey = app
        .data()
        .results()
        .project_dir(&project.owner, &project.name)
        .join(PUBKEY_FILE);
    let key = tokio::task::spawn_blocking(move || -> Result<SigningKey> {
        let key = match SigningKey::from_file(&file) {
            Ok(key) => key,
            Err(koper_sign::SignError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&identity, algorithm, now_epoch(), lifetime)
                    .map_err(Error::internal)?;
                // Another server process sharing the data directory may
                // have made one meanwhile; the first one stored wins.
                store_new(&file, &key)?;
                SigningKey::from_file(&file).map_err(Error::internal)?
            }
            Err(e) => return Err(Error::internal(format!("{}: {e}", file.display()))),
        };
        publish_pubkey(&pubkey, &key)?;
        Ok(key)
    })
    .await??;
    let key = Arc::new(key);
    keys.insert(project.id, key.clone());
    tracing::info!(project = %format!("{}/{}", project.owner, project.name),
        fingerprint = %key.fingerprint(), "project key ready");
    Ok(key)
}

/// Removes a deleted project's key, so that a new project of the same name
/// gets a key of its own.
pub async fn forget_project_key(app: &App, project: &ProjectRow) -> Result<()> {
    app.keys().keys.lock().await.remove(&project.id);
    match tokio::fs::remove_file(key_file(app, project)).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Stores a new secret key readable by the server's user only, unless a
/// key is already there.
fn store_new(file: &Path, key: &SigningKey) -> Result<()> {
    let dir = file
        .parent()
        .ok_or_else(|| Error::internal("key file without a directory"))?;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let temp = dir.join(format!(".new-{}", koper_storage::random_suffix()));
    let armored = key.to_armored().map_err(Error::internal)?;
    let result = (|| -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(armored.as_bytes())?;
        out.sync_all()?;
        // A hard link fails when the name exists: create-if-absent,
        // atomically, even across processes.
        match std::fs::hard_link(&temp, file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }?;
        koper_storage::fsync_dir(dir)
    })();
    let _ = std::fs::remove_file(&temp);
    result.map_err(Error::from)
}

/// Replaces a stored key (after renewal), atomically.
fn store_replacing(file: &Path, key: &SigningKey) -> Result<()> {
    let armored = key.to_armored().map_err(Error::internal)?;
    let dir = file
        .parent()
        .ok_or_else(|| Error::internal("key file without a directory"))?;
    let temp = dir.join(format!(".renew-{}", koper_storage::random_suffix()));
    let result = (|| -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(armored.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&temp, file)?;
        koper_storage::fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(Error::from)
}

/// Writes `pubkey.gpg` when it differs from the key's public half.
fn publish_pubkey(path: &Path, key: &SigningKey) -> Result<()> {
    let public = key.public_key().map_err(Error::internal)?;
    if std::fs::read_to_string(path).is_ok_and(|text| text == public.armored()) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    koper_storage::write_atomically(path, public.armored().as_bytes())?;
    Ok(())
}

/// Extends every key that lapses within the configured margin, and
/// republishes its public half. Returns the projects whose key changed.
pub async fn renew_due_keys(app: &App) -> Result<Vec<ProjectRow>> {
    let mut renewed = Vec::new();
    for project in app.db().list_projects(None).await? {
        let key = project_key(app, &project).await?;
        let now = now_epoch();
        if !key.needs_renewal(now, app.config().key_renew_before) {
            continue;
        }
        let mut new_key = (*key).clone();
        let lifetime = app.config().key_lifetime;
        let file = key_file(app, &project);
        let pubkey = app
            .data()
            .results()
            .project_dir(&project.owner, &project.name)
            .join(PUBKEY_FILE);
        let new_key = tokio::task::spawn_blocking(move || -> Result<SigningKey> {
            new_key.renew(now, lifetime).map_err(Error::internal)?;
            store_replacing(&file, &new_key)?;
            publish_pubkey(&pubkey, &new_key)?;
            Ok(new_key)
        })
        .await??;
        tracing::info!(project = %format!("{}/{}", project.owner, project.name),
            expires_on = ?new_key.expires_on(), "project key extended");
        app.keys()
            .keys
            .lock()
            .await
            .insert(project.id, Arc::new(new_key));
        renewed.push(project);
    }
    Ok(renewed)
}

/// Checks the keys once a day, forever.
pub async fn run_renewal_loop(app: App) {
    let mut tick = tokio::time::interval(RENEWAL_SWEEP);
    loop {
        tick.tick().await;
        match renew_due_keys(&app).await {
            // Release packages carry the key: theirs are made again.
            Ok(renewed) => {
                for project in renewed {
                    if let Err(e) = crate::release::refresh_all(&app, &project).await {
                        tracing::error!(error = %e, "cannot remake a release package");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot check the signing keys"),
        }
    }
}
