//! The HTTP side of the builder protocol.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use koper_api::builder::{FinishRequest, LeaseRequest, LeaseStatus, PROTOCOL_VERSION, Task};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The header carrying the lease id.
const LEASE_HEADER: &str = "koper-lease";
/// The header carrying a file's SHA-256.
const SHA256_HEADER: &str = "koper-sha256";

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The server is unreachable or the connection broke.
    #[error("cannot reach the server: {0}")]
    Transport(#[from] reqwest::Error),
    /// The lease was lost (expired and given to another builder, or the
    /// task ended): stop working on the task.
    #[error("the lease on this task was lost")]
    LeaseLost,
    /// The server asks builders to slow down.
    #[error("the server asks to slow down")]
    SlowDown(Duration),
    /// The server refused the request.
    #[error("the server refused: {status}: {message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// A local file operation failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The downloaded source RPM does not match its checksum.
    #[error("the source RPM download is damaged (checksum mismatch)")]
    Checksum,
}

/// A connection to one server with one builder token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, ProtocolError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::CONFLICT {
        return Err(ProtocolError::LeaseLost);
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(10);
        return Err(ProtocolError::SlowDown(Duration::from_secs(wait)));
    }
    let body = response.text().await.unwrap_or_default();
    let message = serde_json_error(&body).unwrap_or(body);
    Err(ProtocolError::Refused { status, message })
}

fn serde_json_error(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let parsed: ErrorBody = serde_json::from_str(body).ok()?;
    Some(parsed.error)
}

impl Client {
    /// A client for the server at `base` (no trailing slash), trusting the
    /// certificates in the PEM file `ca_cert` besides the usual roots.
    pub fn new(base: &str, token: &str, ca_cert: Option<&Path>) -> Result<Self, ProtocolError> {
        let mut http = reqwest::Client::builder()
            .user_agent(format!(
                "koper-builder/{} protocol/{PROTOCOL_VERSION}",
                env!("CARGO_PKG_VERSION")
            ))
            .connect_timeout(Duration::from_secs(10));
        if let Some(path) = ca_cert {
            for cert in reqwest::Certificate::from_pem_bundle(&std::fs::read(path)?)? {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http.build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/builder-api/v1{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("Koper-Builder-Protocol", PROTOCOL_VERSION.to_string())
    }

    /// Asks for a task, waiting up to `wait` on the server side.
    pub async fn lease(
        &self,
        arches: &[String],
        tags: &[String],
        slots: u32,
        wait: Duration,
    ) -> Result<Option<Task>, ProtocolError> {
        let response = self
            .request(reqwest::Method::POST, "/lease")
            .timeout(wait + Duration::from_secs(30))
            .json(&LeaseRequest {
                arches: arches.to_vec(),
                wait_seconds: wait.as_secs(),
                slots,
                tags: tags.to_vec(),
                source_builds: true,
                spec_builds: true,
            })
            .send()
            .await?;
        let response = check(response).await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        Ok(Some(response.json().await?))
    }

    /// Downloads the task's source RPM to `path`, checking its SHA-256.
    pub async fn download_srpm(&self, task: &Task, path: &Path) -> Result<(), ProtocolError> {
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("/tasks/{}/srpm", task.task_id),
            )
            .header(LEASE_HEADER, &task.lease_id)
            .send()
            .await?;
        let response = check(response).await?;
        let mut file = tokio::fs::File::create(path).await?;
        let mut hasher = Sha256::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        if !hex::encode(hasher.finalize()).eq_ignore_ascii_case(&task.srpm_sha256) {
            return Err(ProtocolError::Checksum);
        }
        Ok(())
    }

    /// Renews the lease.
    pub async fn heartbeat(&self, task: &Task) -> Result<LeaseStatus, ProtocolError> {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/tasks/{}/heartbeat", task.task_id),
            )
            .header(LEASE_HEADER, &task.lease_id)
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        Ok(check(response).await?.json().await?)
    }

    /// Appends to the live log (renews the lease too).
    pub async fn append_log(
        &self,
        task: &Task,
        chunk: Vec<u8>,
    ) -> Result<LeaseStatus, ProtocolError> {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/tasks/{}/log", task.task_id),
            )
            .header(LEASE_HEADER, &task.lease_id)
            .timeout(Duration::from_secs(60))
            .body(chunk)
            .send()
            .await?;
        Ok(check(response).await?.json().await?)
    }

    /// Uploads one result file, streamed, with its SHA-256.
    pub async fn upload_file(&self, task: &Task, path: &Path) -> Result<(), ProtocolError> {
        self.put_file(task, path, "files").await
    }

    /// Sends a log that comes after the outcome (`rpmlint.log`; see
    /// `Task::late_logs`).
    pub async fn upload_late_log(&self, task: &Task, path: &Path) -> Result<(), ProtocolError> {
        self.put_file(task, path, "late").await
    }

    /// `PUT /tasks/{id}/{kind}/{name}` of a file, streamed, with its
    /// SHA-256.
    async fn put_file(&self, task: &Task, path: &Path, kind: &str) -> Result<(), ProtocolError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sha256 = {
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || -> std::io::Result<String> {
                let mut file = std::fs::File::open(path)?;
                let mut hasher = Sha256::new();
                std::io::copy(&mut file, &mut hasher)?;
                Ok(hex::encode(hasher.finalize()))
            })
            .await
            .map_err(std::io::Error::other)??
        };
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let response = self
            .request(
                reqwest::Method::PUT,
                &format!("/tasks/{}/{kind}/{name}", task.task_id),
            )
            .header(LEASE_HEADER, &task.lease_id)
            .header(SHA256_HEADER, sha256)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(body)
            .send()
            .await?;
        check(response).await?;
        Ok(())
    }

    /// Reports how the task ended.
    pub async fn finish(&self, task: &Task, request: &FinishRequest) -> Result<(), ProtocolError> {
        let response = self
            .request(
                reqwest::Method::POST,
                &format!("/tasks/{}/finish", task.task_id),
            )
            .json(request)
            .send()
            .await?;
        check(response).await?;
        Ok(())
    }
}
