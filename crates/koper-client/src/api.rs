//! Typed calls of the native API.

use std::path::Path;

use futures::StreamExt;
use koper_api::{ErrorBody, v1};
use koper_types::{BuildId, ChrootName, OwnerName, ProjectName, ScmSource};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::ClientConfig;

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The server's message.
        message: String,
        /// The server's hint, if any.
        hint: Option<String>,
    },
    /// The server could not be reached.
    #[error("cannot reach the koper server at {url}: {source}")]
    Transport {
        /// The server URL.
        url: String,
        /// What failed.
        source: reqwest::Error,
    },
    /// A local file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// Whether the server refused the credentials or the permission.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Api { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN)
    }

    /// Whether the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status, .. } if *status == StatusCode::NOT_FOUND)
    }
}

/// A piece of a live log.
#[derive(Debug, Clone)]
pub struct LogChunk {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// No more bytes will come.
    pub complete: bool,
}

/// A client of one koper server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// For files (`fetch`, `download`): keeps them as served, never
    /// undoing a `Content-Encoding: gzip` (koper serves `.log.gz` so, for
    /// browsers; some web servers do it to `.xml.gz`), so sizes and
    /// checksums hold.
    files: reqwest::Client,
    config: ClientConfig,
}

impl Client {
    /// A client for the configured server.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let transport = |source| ClientError::Transport {
            url: config.url.clone(),
            source,
        };
        // A server with a certificate of its own CA: KOPER_CA_CERT, or
        // the bundle copr-cli users already point REQUESTS_CA_BUNDLE at.
        let bundle = std::env::var_os("KOPER_CA_CERT")
            .or_else(|| std::env::var_os("REQUESTS_CA_BUNDLE"))
            .filter(|path| !path.is_empty());
        let certs = match bundle {
            Some(path) => {
                reqwest::Certificate::from_pem_bundle(&std::fs::read(&path)?).map_err(transport)?
            }
            None => Vec::new(),
        };
        let builder = || {
            let builder = reqwest::Client::builder()
                .user_agent(format!("koper-cli/{}", env!("CARGO_PKG_VERSION")));
            certs.iter().fold(builder, |builder, cert| {
                builder.add_root_certificate(cert.clone())
            })
        };
        let http = builder().build().map_err(transport)?;
        let files = builder().no_gzip().build().map_err(transport)?;
        Ok(Self {
            http,
            files,
            config,
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.config.url));
        match (&self.config.login, &self.config.token) {
            (Some(login), Some(token)) => request.basic_auth(login, Some(token)),
            (None, Some(token)) => request.bearer_auth(token),
            _ => request,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|source| self.transport(source))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let (message, hint) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.hint),
            Err(_) => (format!("the server answered {status}"), None),
        };
        Err(ClientError::Api {
            status,
            message,
            hint,
        })
    }

    fn transport(&self, source: reqwest::Error) -> ClientError {
        ClientError::Transport {
            url: self.config.url.clone(),
            source,
        }
    }

    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        self.send(request)
            .await?
            .json()
            .await
            .map_err(|source| self.transport(source))
    }

    /// The server's version and limits.
    pub async fn server_info(&self) -> Result<v1::ServerInfo, ClientError> {
        self.json(self.request(Method::GET, "")).await
    }

    /// Who the token belongs to.
    pub async fn me(&self) -> Result<v1::Me, ClientError> {
        self.json(self.request(Method::GET, "/me")).await
    }

    /// Chroots the server offers.
    pub async fn chroots(&self) -> Result<Vec<v1::Chroot>, ClientError> {
        self.json(self.request(Method::GET, "/chroots")).await
    }

    /// Creates a project.
    pub async fn create_project(&self, new: &v1::NewProject) -> Result<v1::Project, ClientError> {
        self.json(self.request(Method::POST, "/projects").json(new))
            .await
    }

    /// One project.
    pub async fn project(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
    ) -> Result<v1::Project, ClientError> {
        self.json(self.request(Method::GET, &format!("/projects/{owner}/{name}")))
            .await
    }

    /// Projects, all or one owner's.
    pub async fn projects(
        &self,
        owner: Option<&OwnerName>,
    ) -> Result<Vec<v1::Project>, ClientError> {
        let mut request = self.request(Method::GET, "/projects");
        if let Some(owner) = owner {
            request = request.query(&[("owner", owner.as_str())]);
        }
        self.json(request).await
    }

    /// Has the server fetch the source RPM at `url` and build it.
    pub async fn submit_srpm_url(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroots: &[ChrootName],
        options: &v1::BuildOptions,
        url: &str,
    ) -> Result<v1::Build, ClientError> {
        let chroots: Vec<&str> = chroots.iter().map(ChrootName::as_str).collect();
        let mut query = vec![("chroots", chroots.join(","))];
        query.extend(options_query(options));
        self.json(
            self.request(
                Method::POST,
                &format!("/projects/{owner}/{name}/builds/url"),
            )
            .query(&query)
            .json(&v1::SubmitUrl {
                url: url.to_owned(),
            }),
        )
        .await
    }

    /// Has a builder make the source RPM from a git repository and build
    /// it.
    pub async fn submit_scm(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroots: &[ChrootName],
        options: &v1::BuildOptions,
        scm: &ScmSource,
    ) -> Result<v1::Build, ClientError> {
        let chroots: Vec<&str> = chroots.iter().map(ChrootName::as_str).collect();
        let mut query = vec![("chroots", chroots.join(","))];
        query.extend(options_query(options));
        self.json(
            self.request(
                Method::POST,
                &format!("/projects/{owner}/{name}/builds/scm"),
            )
            .query(&query)
            .json(scm),
        )
        .await
    }

    /// Uploads a source RPM, streamed from disk, and creates a build.
    /// `progress` is told the number of bytes sent so far.
    pub async fn submit_srpm(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroots: &[ChrootName],
        options: &v1::BuildOptions,
        srpm: &Path,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<v1::Build, ClientError> {
        let file = tokio::fs::File::open(srpm).await?;
        let len = file.metadata().await?.len();
        let chroots: Vec<&str> = chroots.iter().map(ChrootName::as_str).collect();
        let chroots = chroots.join(",");
        // Asked first so that a refusal arrives as the server's message,
        // not as a connection it closed while the file was still going.
        self.check_upload(owner, name, &chroots, options, (len, len))
            .await?;
        let mut sent = 0u64;
        let stream = tokio_util::io::ReaderStream::new(file).map(move |chunk| {
            if let Ok(bytes) = &chunk {
                sent += bytes.len() as u64;
                progress(sent);
            }
            chunk
        });
        let mut query = vec![("chroots", chroots.clone())];
        query.extend(options_query(options));
        let request = self
            .request(Method::POST, &format!("/projects/{owner}/{name}/builds"))
            .query(&query)
            .header(reqwest::header::CONTENT_TYPE, "application/x-rpm")
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(reqwest::Body::wrap_stream(stream));
        let sent = self.json(request).await;
        self.explain_cut_upload(sent, owner, name, &chroots, options, (len, len))
            .await
    }

    /// Whether the server would take an upload of `size` bytes, in files
    /// of at most `largest` bytes, into the project's `chroots`
    /// (comma-separated; empty for all of them).
    async fn check_upload(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroots: &str,
        options: &v1::BuildOptions,
        (size, largest): (u64, u64),
    ) -> Result<(), ClientError> {
        let mut query = vec![
            ("chroots", chroots.to_owned()),
            ("size", size.to_string()),
            ("largest", largest.to_string()),
        ];
        query.extend(options_query(options));
        let request = self
            .request(
                Method::GET,
                &format!("/projects/{owner}/{name}/builds/check"),
            )
            .query(&query);
        self.send(request).await.map(drop)
    }

    /// When an upload was cut off, something changed since the check (a
    /// token revoked, the quota filled): asking again says what.
    async fn explain_cut_upload<T>(
        &self,
        sent: Result<T, ClientError>,
        owner: &OwnerName,
        name: &ProjectName,
        chroots: &str,
        options: &v1::BuildOptions,
        sizes: (u64, u64),
    ) -> Result<T, ClientError> {
        match sent {
            Err(cut @ ClientError::Transport { .. }) => {
                match self
                    .check_upload(owner, name, chroots, options, sizes)
                    .await
                {
                    Err(refusal @ ClientError::Api { .. }) => Err(refusal),
                    _ => Err(cut),
                }
            }
            other => other,
        }
    }

    /// One build.
    pub async fn build(&self, id: BuildId) -> Result<v1::Build, ClientError> {
        self.json(self.request(Method::GET, &format!("/builds/{id}")))
            .await
    }

    /// A build once it changed (its state, or one more chroot ended) or
    /// `wait` (whole seconds) passed: a long poll. Servers before it
    /// answer at once.
    pub async fn build_after_change(
        &self,
        id: BuildId,
        wait: std::time::Duration,
    ) -> Result<v1::Build, ClientError> {
        let path = format!("/builds/{id}?wait={}", wait.as_secs());
        self.json(self.request(Method::GET, &path)).await
    }

    /// A page of a project's builds, newest first: the newest, or those
    /// older than build `before` (keyset paging: as cheap however deep).
    pub async fn builds(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        limit: i64,
        before: Option<BuildId>,
    ) -> Result<v1::Page<v1::Build>, ClientError> {
        let mut query = vec![("limit", limit)];
        if let Some(before) = before {
            query.push(("before", before.0));
        }
        self.json(
            self.request(Method::GET, &format!("/projects/{owner}/{name}/builds"))
                .query(&query),
        )
        .await
    }

    /// Cancels a build.
    pub async fn cancel(&self, id: BuildId) -> Result<v1::Build, ClientError> {
        self.json(self.request(Method::POST, &format!("/builds/{id}/cancel")))
            .await
    }

    /// Reads a build chroot's log from `offset`.
    pub async fn log(
        &self,
        id: BuildId,
        chroot: &ChrootName,
        offset: u64,
    ) -> Result<LogChunk, ClientError> {
        let response = self
            .send(
                self.request(Method::GET, &format!("/builds/{id}/log/{chroot}"))
                    .query(&[("offset", offset)]),
            )
            .await?;
        let complete = response
            .headers()
            .get("koper-log-complete")
            .is_some_and(|v| v == "true");
        let bytes = response
            .bytes()
            .await
            .map_err(|source| self.transport(source))?;
        Ok(LogChunk {
            bytes: bytes.to_vec(),
            complete,
        })
    }

    /// Deletes a build; its space is freed at once.
    pub async fn delete_build(&self, id: BuildId) -> Result<v1::DeletedBuild, ClientError> {
        self.json(self.request(Method::DELETE, &format!("/builds/{id}")))
            .await
    }

    /// An owner's storage quota and use.
    pub async fn storage(&self, owner: &OwnerName) -> Result<v1::OwnerStorage, ClientError> {
        self.json(self.request(Method::GET, &format!("/storage/{owner}")))
            .await
    }

    /// Asks an administrator for a quota of `bytes` for a project.
    pub async fn request_quota(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        request: &v1::NewQuotaRequest,
    ) -> Result<v1::QuotaRequest, ClientError> {
        self.json(
            self.request(
                Method::POST,
                &format!("/projects/{owner}/{name}/quota-requests"),
            )
            .json(request),
        )
        .await
    }

    /// A project's quota requests, newest first.
    pub async fn quota_requests(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
    ) -> Result<Vec<v1::QuotaRequest>, ClientError> {
        self.json(self.request(
            Method::GET,
            &format!("/projects/{owner}/{name}/quota-requests"),
        ))
        .await
    }

    /// Changes a project's settings.
    pub async fn modify_project(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        changes: &v1::ProjectChanges,
    ) -> Result<v1::Project, ClientError> {
        self.json(
            self.request(Method::PATCH, &format!("/projects/{owner}/{name}"))
                .json(changes),
        )
        .await
    }

    /// Deletes a project with its builds and repositories.
    pub async fn delete_project(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
    ) -> Result<v1::Project, ClientError> {
        self.json(self.request(Method::DELETE, &format!("/projects/{owner}/{name}")))
            .await
    }

    /// Forks a project (the newest build of each package comes along).
    pub async fn fork_project(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        request: &v1::ForkRequest,
    ) -> Result<v1::Forked, ClientError> {
        self.json(
            self.request(Method::POST, &format!("/projects/{owner}/{name}/fork"))
                .json(request),
        )
        .await
    }

    /// Every file of a build's results.
    pub async fn build_files(&self, id: BuildId) -> Result<Vec<v1::ResultFile>, ClientError> {
        self.json(self.request(Method::GET, &format!("/builds/{id}/files")))
            .await
    }

    /// A mock profile reproducing a project chroot's builds.
    pub async fn mock_config(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroot: &ChrootName,
    ) -> Result<String, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/projects/{owner}/{name}/chroots/{chroot}/mock-config"),
        ))
        .await?
        .text()
        .await
        .map_err(|source| self.transport(source))
    }

    /// A project chroot's settings.
    pub async fn chroot_settings(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroot: &ChrootName,
    ) -> Result<v1::ChrootSettings, ClientError> {
        self.json(self.request(
            Method::GET,
            &format!("/projects/{owner}/{name}/chroots/{chroot}"),
        ))
        .await
    }

    /// Replaces a project chroot's settings.
    pub async fn set_chroot_settings(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroot: &ChrootName,
        settings: &v1::ChrootSettings,
    ) -> Result<v1::ChrootSettings, ClientError> {
        self.json(
            self.request(
                Method::PUT,
                &format!("/projects/{owner}/{name}/chroots/{chroot}"),
            )
            .json(settings),
        )
        .await
    }

    /// The project directory: listed projects matching `query`.
    pub async fn search_projects(&self, query: &str) -> Result<Vec<v1::Project>, ClientError> {
        self.json(
            self.request(Method::GET, "/projects")
                .query(&[("search", query)]),
        )
        .await
    }

    /// Uploads already-built RPMs (streamed from disk) into a project's
    /// chroot repo.
    pub async fn upload_rpms(
        &self,
        owner: &OwnerName,
        name: &ProjectName,
        chroot: &ChrootName,
        files: &[std::path::PathBuf],
    ) -> Result<v1::Build, ClientError> {
        let (mut total, mut largest) = (0u64, 0u64);
        for path in files {
            let len = tokio::fs::metadata(path).await?.len();
            total += len;
            largest = largest.max(len);
        }
        let options = v1::BuildOptions::default();
        self.check_upload(owner, name, chroot.as_str(), &options, (total, largest))
            .await?;
        let mut form = reqwest::multipart::Form::new();
        for path in files {
            let file = tokio::fs::File::open(path).await?;
            let len = file.metadata().await?.len();
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let part = reqwest::multipart::Part::stream_with_length(
                reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file)),
                len,
            )
            .file_name(file_name)
            .mime_str("application/x-rpm")
            .map_err(|source| self.transport(source))?;
            form = form.part("pkgs", part);
        }
        let sent = self
            .json(
                self.request(Method::POST, &format!("/projects/{owner}/{name}/rpms"))
                    .query(&[("chroot", chroot.as_str())])
                    .multipart(form),
            )
            .await;
        self.explain_cut_upload(
            sent,
            owner,
            name,
            chroot.as_str(),
            &options,
            (total, largest),
        )
        .await
    }

    /// GETs any URL (a repository's files); `None` for a 404.
    pub async fn fetch(&self, url: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let response = self
            .files
            .get(url)
            .send()
            .await
            .map_err(|source| self.transport(source))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(ClientError::Api {
                status: response.status(),
                message: format!("{url} answered {}", response.status()),
                hint: None,
            });
        }
        Ok(Some(
            response
                .bytes()
                .await
                .map_err(|source| self.transport(source))?
                .to_vec(),
        ))
    }

    /// Streams any URL into a new file at `path`.
    pub async fn download(&self, url: &str, path: &Path) -> Result<(), ClientError> {
        use tokio::io::AsyncWriteExt;
        let response = self
            .files
            .get(url)
            .send()
            .await
            .map_err(|source| self.transport(source))?;
        if !response.status().is_success() {
            return Err(ClientError::Api {
                status: response.status(),
                message: format!("{url} answered {}", response.status()),
                hint: None,
            });
        }
        let mut file = tokio::fs::File::create(path).await?;
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|source| self.transport(source))?;
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        Ok(())
    }
}

/// The query parameters saying how a new build is queued.
pub(crate) fn options_query(options: &v1::BuildOptions) -> Vec<(&'static str, String)> {
    let mut query = Vec::new();
    if options.priority != 0 {
        query.push(("priority", options.priority.to_string()));
    }
    if options.background {
        query.push(("background", "true".to_owned()));
    }
    if let Some(id) = options.after_build_id {
        query.push(("after_build_id", id.to_string()));
    }
    if let Some(id) = options.with_build_id {
        query.push(("with_build_id", id.to_string()));
    }
    query
}
