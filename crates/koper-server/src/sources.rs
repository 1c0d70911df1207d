//! Sources besides an uploaded SRPM: a source RPM or a spec file at an
//! http(s) URL (Copr's `link` source type), downloaded by the server with
//! the upload size limit and a time limit; a source RPM is then accepted
//! exactly like an upload, while a spec's source RPM is made by a builder
//! in its sandbox, as for a git repository (Copr's `scm`): a source task
//! (`source_tasks.rs`). The server never runs anything of a spec or a
//! repository.

use axum::body::Bytes;
use futures::{Stream, StreamExt};
use koper_db::{BuildRow, NewBuild, NewSource, User};
use koper_types::{BuildState, MAX_SPEC_BYTES, ScmSource, SpecSource, now_epoch};

use crate::app::App;
use crate::builds::{self, BuildTarget};
use crate::error::{Error, Result};
use crate::{noarch, quota};

/// How long connecting may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// The longest URL accepted.
const MAX_URL_LEN: usize = 2048;
/// What every source RPM starts with (its lead's magic).
const RPM_LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];

/// Checks that `url` is an http(s) URL koper may fetch.
pub fn check_url(url: &str) -> Result<reqwest::Url> {
    let hint = "give an http:// or https:// URL of a .src.rpm or a .spec";
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

/// Fetches what `url` serves and submits it as a build: a source RPM (it
/// starts with an RPM lead) like an upload, anything else as a spec file
/// whose source RPM a builder makes. What the URL is called does not
/// decide.
pub async fn submit_url(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    url: &str,
) -> Result<BuildRow> {
    let parsed = check_url(url)?;
    // Permission and queue checks come before any fetch.
    builds::check_submission(app, caller, target.clone(), 0, 0).await?;
    let limit = app.config().max_upload_bytes;
    let timeout = app.config().fetch_timeout;
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::limited(5))
        .user_agent(concat!("koper/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(Error::internal)?;
    let response = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| fetch_error(url, &e, timeout))?;
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
    let mut body = Box::pin(response.bytes_stream());
    let mut head: Vec<u8> = Vec::new();
    while head.len() < RPM_LEAD_MAGIC.len() {
        match body.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(fetch_error(url, &e, timeout)),
            None => break,
        }
    }
    if head.starts_with(&RPM_LEAD_MAGIC) {
        let whole = futures::stream::once(async move { Ok::<Bytes, reqwest::Error>(head.into()) })
            .chain(body)
            .map(|chunk| chunk.map_err(|e| format!("fetching the source failed: {e}")));
        return builds::submit_srpm_from(app, caller, target, whole, announced, "link").await;
    }
    let spec = read_spec(
        url,
        head,
        body,
        announced,
        limit.min(MAX_SPEC_BYTES),
        timeout,
    )
    .await?;
    submit_spec(app, caller, target, &spec).await
}

/// Reads the rest of a response that is not a source RPM, which must then
/// be a spec file of at most `limit` bytes.
async fn read_spec(
    url: &str,
    mut content: Vec<u8>,
    mut body: impl Stream<Item = reqwest::Result<Bytes>> + Unpin,
    announced: Option<u64>,
    limit: u64,
    timeout: std::time::Duration,
) -> Result<SpecSource> {
    let too_large = || {
        Error::TooLarge(format!(
            "{url} is not a source RPM, and larger than a spec file may be ({} MiB)",
            limit >> 20
        ))
    };
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| fetch_error(url, &e, timeout))?;
        content.extend_from_slice(&chunk);
        if content.len() as u64 > limit {
            return Err(too_large());
        }
    }
    let not_spec = |why: &str| {
        Error::bad_request_hint(
            format!("{url} is neither a source RPM (it has no RPM lead) nor a spec file: {why}"),
            "give the URL of a .src.rpm or of a .spec file",
        )
    };
    let text = String::from_utf8(content).map_err(|_| not_spec("it is not UTF-8 text"))?;
    let spec = SpecSource {
        url: url.to_owned(),
        file_name: SpecSource::file_name_for(url),
        content: text,
    };
    spec.check().map_err(|e| not_spec(&e.0))?;
    Ok(spec)
}

/// Queues a build whose source RPM a builder makes from a spec file
/// fetched from a URL (and the sources it names by URL).
pub async fn submit_spec(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    spec: &SpecSource,
) -> Result<BuildRow> {
    let source_json = serde_json::to_string(spec).map_err(Error::internal)?;
    let build = queue_source_task(app, caller, target, "link", &source_json).await?;
    tracing::info!(build.id = %build.id, url = %spec.url,
        project = %format!("{}/{}", build.owner, build.project), "build from a spec submitted");
    Ok(build)
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
    let source_json = serde_json::to_string(scm).map_err(Error::internal)?;
    let build = queue_source_task(app, caller, target, "scm", &source_json).await?;
    tracing::info!(build.id = %build.id, clone_url = %scm.clone_url,
        project = %format!("{}/{}", build.owner, build.project), "build from git submitted");
    Ok(build)
}

/// Stores a build without a source RPM yet: a source task (pseudo chroot
/// `srpm-builds`) makes it while the chroots wait.
async fn queue_source_task(
    app: &App,
    caller: &User,
    target: BuildTarget<'_>,
    source_type: &'static str,
    source_json: &str,
) -> Result<BuildRow> {
    let placement = builds::place(app, caller, &target).await?;
    quota::check_room(app, target.project, 0).await?;
    let project = target.project;
    // A builder of the arch with the most connected builder slots makes
    // the source RPM (the first chroot's when none is connected).
    let slots = noarch::ConnectedSlots::load(app).await?;
    let arch = placement
        .chroots
        .iter()
        .rev()
        .max_by_key(|(chroot, arch)| slots.for_chroot(app, chroot, arch))
        .map(|(_, arch)| arch.clone())
        .ok_or_else(|| Error::bad_request("the project has no chroots to build for"))?;
    let build_id = app
        .db()
        .create_build(
            &NewBuild {
                project_id: project.id,
                submitter_id: Some(caller.id),
                source_type,
                srpm_path: None,
                srpm_sha256: None,
                srpm_bytes: 0,
                package_name: None,
                package_version: None,
                timeout: project.build_timeout,
                chroots: &placement.chroots,
                // Whether the package is noarch is known once the source
                // RPM is made (`source_tasks::accept` plans it then).
                built_in: &[],
                task_state: BuildState::Pending,
                priority: placement.priority,
                batch: placement.batch,
                source: Some(NewSource {
                    source_json,
                    arch: &arch,
                }),
            },
            now_epoch(),
        )
        .await?;
    app.work_available().notify_waiters();
    builds::get_build(app, build_id).await
}

fn fetch_error(url: &str, e: &reqwest::Error, timeout: std::time::Duration) -> Error {
    if e.is_timeout() {
        return fetch_failed(
            url,
            &format!(
                "it took longer than {} s and was stopped",
                timeout.as_secs()
            ),
        );
    }
    fetch_failed(url, &e.to_string())
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
