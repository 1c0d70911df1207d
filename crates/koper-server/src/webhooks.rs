//! Webhooks: a push reported by GitHub, GitLab or any sender of a small
//! JSON body rebuilds the project's packages whose clone URL matches
//! (those with `webhook_rebuild`), and the answer names the builds made.
//! The secret is in the URL; a GitHub HMAC signature
//! (`X-Hub-Signature-256`), when sent, must match it too. Pushes build as
//! the user who made the secret (so group projects, which have no owner
//! user, build too), as long as that user may still build there.

use hmac::{Hmac, Mac};
use koper_api::v1;
use koper_db::{ProjectRow, User};
use koper_types::{BuildId, ScmSource};
use serde_json::Value;
use sha2::Sha256;

use crate::app::App;
use crate::builds::BuildTarget;
use crate::error::{Error, Result};
use crate::{packages, permissions};

/// Makes a new secret for a project's webhook (the old one stops working)
/// and returns it; pushes to it build as `caller`.
pub async fn new_secret(
    app: &App,
    caller: &koper_db::User,
    project: &ProjectRow,
) -> Result<String> {
    if !permissions::can_build(app, caller, project).await? {
        return Err(Error::Forbidden(format!(
            "{} may not change the webhook of {}/{}",
            caller.name, project.owner, project.name
        )));
    }
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(Error::internal)?;
    let secret = hex::encode(bytes);
    app.db()
        .set_webhook_secret(project.id, &secret, caller.id)
        .await?;
    Ok(secret)
}

/// Compares without an early exit, so timing says nothing of the secret.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the secret from the URL and, when the sender signed the body,
/// the signature; returns whom the push builds as.
async fn check_secret(
    app: &App,
    project: &ProjectRow,
    given: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<User> {
    let refused = || {
        Error::Forbidden(format!(
            "wrong webhook secret for {}/{}",
            project.owner, project.name
        ))
    };
    let stored = app
        .db()
        .webhook_secret(project.id)
        .await?
        .ok_or_else(refused)?;
    let secret = stored.secret.as_bytes();
    if !same(secret, given.as_bytes()) {
        return Err(refused());
    }
    if let Some(signature) = signature {
        let hex_sig = signature.strip_prefix("sha256=").unwrap_or(signature);
        let sent = hex::decode(hex_sig).map_err(|_| refused())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(Error::internal)?;
        mac.update(body);
        mac.verify_slice(&sent).map_err(|_| refused())?;
    }
    let builder = match stored.made_by {
        Some(id) => app.db().user_by_id(id).await?,
        // Secrets made before koper recorded their maker build as the
        // owner, when the owner is a user.
        None => app.db().find_user(project.owner.as_str()).await?,
    };
    builder.ok_or_else(|| {
        Error::Conflict(format!(
            "nobody to build {}/{} as: make a new webhook secret (koper new-webhook-secret); \
             pushes build as the user who made it",
            project.owner, project.name
        ))
    })
}

/// The repository URLs a push payload names: GitHub's `repository`
/// (`clone_url`, `html_url`, `git_url`, `ssh_url`), GitLab's `project`
/// and `repository` (`git_http_url`, `web_url`, `homepage`, `url`), or a
/// generic `{"clone_url": ...}`.
fn pushed_urls(payload: &Value) -> Vec<String> {
    let mut urls = Vec::new();
    let mut take = |object: &Value, keys: &[&str]| {
        for key in keys {
            if let Some(url) = object.get(key).and_then(Value::as_str) {
                urls.push(url.to_owned());
            }
        }
    };
    take(payload, &["clone_url"]);
    for key in ["repository", "project"] {
        if let Some(object) = payload.get(key) {
            take(
                object,
                &[
                    "clone_url",
                    "html_url",
                    "git_url",
                    "git_http_url",
                    "web_url",
                    "homepage",
                    "url",
                ],
            );
        }
    }
    urls
}

/// Handles a push: checks the secret, rebuilds every package with
/// `webhook_rebuild` whose clone URL is among the pushed repository's, as
/// the user who made the secret, and returns the builds made.
pub async fn receive_push(
    app: &App,
    project: &ProjectRow,
    secret: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<v1::WebhookBuilds> {
    let builder = check_secret(app, project, secret, signature, body).await?;
    crate::moderation::refuse_builds(project)?;
    let payload: Value = serde_json::from_slice(body)
        .map_err(|e| Error::bad_request(format!("the webhook body is not JSON: {e}")))?;
    let pushed: Vec<String> = pushed_urls(&payload)
        .iter()
        .map(|url| ScmSource::repo_identity(url))
        .collect();
    if pushed.is_empty() {
        return Err(Error::bad_request(
            "the payload names no repository (GitHub's or GitLab's push event, or {\"clone_url\": ...})",
        ));
    }
    if !permissions::can_build(app, &builder, project).await? {
        return Err(Error::Forbidden(format!(
            "the webhook secret of {}/{} was made by {}, who may no longer build there; \
             someone who may should make a new one (koper new-webhook-secret)",
            project.owner, project.name, builder.name
        )));
    }
    let mut builds: Vec<BuildId> = Vec::new();
    for row in app.db().list_packages(project.id).await? {
        if !row.webhook_rebuild {
            continue;
        }
        let v1::PackageSource::Scm(scm) = packages::source_of(&row)? else {
            continue;
        };
        if !pushed.contains(&ScmSource::repo_identity(&scm.clone_url)) {
            continue;
        }
        let target = BuildTarget {
            project,
            chroots: Vec::new(),
            options: v1::BuildOptions::default(),
        };
        let build = packages::build(app, &builder, target, &row.name).await?;
        tracing::info!(build.id = %build.id, package = %row.name, "built on a webhook push");
        builds.push(build.id);
    }
    Ok(v1::WebhookBuilds { builds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_gitlab_and_generic_payloads_name_their_repository() {
        let github = serde_json::json!({"ref": "refs/heads/main", "repository": {
            "clone_url": "https://github.com/a/b.git", "html_url": "https://github.com/a/b"}});
        let gitlab = serde_json::json!({"object_kind": "push", "project": {
            "git_http_url": "https://gitlab.com/a/b.git", "web_url": "https://gitlab.com/a/b"}});
        let generic = serde_json::json!({"clone_url": "http://127.0.0.1:9/r.git"});
        assert!(pushed_urls(&github).contains(&"https://github.com/a/b.git".to_owned()));
        assert!(pushed_urls(&gitlab).contains(&"https://gitlab.com/a/b".to_owned()));
        assert_eq!(pushed_urls(&generic), ["http://127.0.0.1:9/r.git"]);
        assert!(pushed_urls(&serde_json::json!({"zen": "x"})).is_empty());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
