//! Sources besides an uploaded SRPM: a source RPM at an http(s) URL
//! (Copr's `link` source type), downloaded by the server with the upload
//! size limit and a time limit, then accepted exactly like an upload; and
//! a git repository (Copr's `scm`), whose source RPM a builder makes in
//! its sandbox (a source task, `source_tasks.rs`): the server never runs
//! anything of the repository.

use std::time::Duration;

use futures::StreamExt;
use koper_db::{BuildRow, NewBuild, NewSource, User};
use koper_types::{BuildState, ScmSource, now_epoch};

use crate::app::App;
use crate::builds::{self, BuildTarget};
use crate::error::{Error, Result};
use crate::quota;

/// How long fetching a source may take, connection to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Checks that `url` is an http(s) URL koper may fetch.
pub fn check_url(url: &str) -> Result<reqwest::Url> {
    let hint = "give an http:// or https:// URL of a .src.rpm";
    if url.len() > MAX_URL_LEN || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::bad_request_hint(
            format!("{url:?} is not a usable URL"),
            hint,
        ));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::bad_request_hint(format!("{url:?} is not a URL: {e}"), hint))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(Error::bad_request_hint(
            format!("{url:?}: only http and https URLs can be fetched"),
            hint,
        ));
    }
    Ok(parsed)
}

/// Fetches the source RPM at `url` and submits it as a build.
pub async fn submit_srpm_url(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    url: &str,
) -> Result<BuildRow> {
    let parsed = check_url(url)?;
    // Permission and queue checks come before any fetch.
    builds::check_submission(app, caller, target.clone(), 0, 0).await?;
    let limit = app.config().max_upload_bytes;
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("koper/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::internal)?;
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fetch_failed(url, &e.to_string()))?;
    if !response.status().is_success() {
        return Err(fetch_failed(
            url,
            &format!("the server answered {}", response.status()),
        ));
    }
    if let Some(len) = response.content_length()
        && len > limit
    {
        return Err(Error::TooLarge(format!(
            "{url} is {len} bytes, larger than this server accepts ({limit} bytes)"
        )));
    }
    let announced = response.content_length();
    // The client's total timeout ends a slow download with an error item,
    // which deletes the partial file.
    let body = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(|e| format!("fetching the source failed: {e}")));
    builds::submit_srpm_from(app, caller, target, body, announced, "link").await
}

/// Queues a build whose source RPM a builder makes from a git repository
/// first; its chroots wait for that source task.
pub async fn submit_scm(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    scm: &ScmSource,
) -> Result<BuildRow> {
    scm.check().map_err(|e| {
        Error::bad_request_hint(
            e.to_string(),
            "give the repository's http(s) or git:// clone URL and paths inside it",
        )
    })?;
    let placement = builds::place(app, caller, &target).await?;
    quota::check_room(app, target.project, 0).await?;
    let project = target.project;
    let source_json = serde_json::to_string(scm).map_err(Error::internal)?;
    // A builder that can build the first chroot makes the source RPM.
    let arch = placement
        .chroots
        .first()
        .map(|(_, arch)| arch.clone())
        .ok_or_else(|| Error::bad_request("the project has no chroots to build for"))?;
    let build_id = app
        .db()
        .create_build(
            &NewBuild {
                project_id: project.id,
                submitter_id: Some(caller.id),
                source_type: "scm",
                srpm_path: None,
                srpm_sha256: None,
                srpm_bytes: 0,
                package_name: None,
                package_version: None,
                timeout: project.build_timeout,
                chroots: &placement.chroots,
                // Whether the package is noarch is known only once the
                // source RPM is made: every chroot builds it.
                built_in: &[],
                task_state: BuildState::Pending,
                priority: placement.priority,
                batch: placement.batch,
                source: Some(NewSource {
                    source_json: &source_json,
                    arch: &arch,
                }),
            },
            now_epoch(),
        )
        .await?;
    app.work_available().notify_waiters();
    tracing::info!(build.id = %build_id, clone_url = %scm.clone_url,
        project = %format!("{}/{}", project.owner, project.name), "build from git submitted");
    builds::get_build(app, build_id).await
}

fn fetch_failed(url: &str, detail: &str) -> Error {
    Error::bad_request_hint(
        format!("cannot fetch {url}: {detail}"),
        "check that the URL is reachable from the koper server",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_are_fetched() {
        assert!(check_url("https://example.org/x-1-1.src.rpm").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x.src.rpm").is_ok());
        for bad in [
            "file:///etc/shadow",
            "ftp://example.org/x.src.rpm",
            "gopher://x/",
            "http://x/a b",
            "/tmp/x.src.rpm",
            "http://",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
