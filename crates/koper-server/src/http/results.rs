//! The public results tree under `/results/`: repositories, packages and
//! logs as static files, with directory listings (wget, `copr-cli
//! download-build` and people browsing rely on them).

use std::path::Path as FsPath;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio_util::io::ReaderStream;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::app::App;
use crate::error::{Error, Result};

pub fn routes() -> Router<App> {
    Router::new()
        .route(
            "/results",
            get(|| async { Redirect::permanent("/results/") }),
        )
        .route("/results/", get(root))
        .route("/results/{*path}", get(serve))
}

async fn root(State(app): State<App>, request: Request) -> Result<Response> {
    serve_path(&app, "", request).await
}

async fn serve(
    State(app): State<App>,
    Path(path): Path<String>,
    request: Request,
) -> Result<Response> {
    serve_path(&app, &path, request).await
}

fn not_found() -> Error {
    Error::NotFound("no such file".into())
}

async fn serve_path(app: &App, url_path: &str, request: Request) -> Result<Response> {
    let results = app.data().results();
    let path = results.resolve(url_path).ok_or_else(not_found)?;
    let metadata = match tokio::fs::symlink_metadata(&path).await {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Logs are compressed when a build ends; the plain name Copr
            // clients know keeps working.
            let gz = path.with_file_name(format!(
                "{}.gz",
                path.file_name().unwrap_or_default().to_string_lossy()
            ));
            if url_path.ends_with(".log") && tokio::fs::try_exists(&gz).await? {
                let name = gz
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                return Ok(Redirect::to(&name).into_response());
            }
            return Err(not_found());
        }
        Err(e) => return Err(e.into()),
    };
    if metadata.is_dir() {
        if !url_path.is_empty() && !url_path.ends_with('/') {
            let last = url_path.rsplit('/').next().unwrap_or_default();
            return Ok(Redirect::permanent(&format!("{last}/")).into_response());
        }
        return listing(&path, url_path).await;
    }
    if !metadata.is_file() {
        // Symlinks and special files are never served.
        return Err(not_found());
    }
    if url_path.ends_with(".log.gz") {
        return compressed_log(&path).await;
    }
    ServeFile::new(&path)
        .oneshot(request)
        .await
        .map(IntoResponse::into_response)
        .map_err(Error::internal)
}

/// A compressed log shown as text by browsers (Copr serves them so).
async fn compressed_log(path: &FsPath) -> Result<Response> {
    let file = tokio::fs::File::open(path).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An HTML directory listing with relative links.
async fn listing(dir: &FsPath, url_path: &str) -> Result<Response> {
    let mut entries = tokio::fs::read_dir(dir).await?;
    let mut rows = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let metadata = entry.metadata().await?;
        let (link, size) = if metadata.is_dir() {
            (format!("{name}/"), "-".to_owned())
        } else if metadata.is_file() {
            (name.clone(), metadata.len().to_string())
        } else {
            continue;
        };
        let modified = metadata
            .modified()
            .ok()
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_default();
        rows.push((link, size, modified));
    }
    rows.sort();
    let title = format!("Index of /results/{}", escape(url_path));
    let mut html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:monospace}}td{{padding:0 1em}}</style></head>\n\
         <body><h1>{title}</h1>\n<table>\n<tr><td><a href=\"../\">../</a></td></tr>\n"
    );
    for (link, size, modified) in rows {
        let link = escape(&link);
        html.push_str(&format!(
            "<tr><td><a href=\"{link}\">{link}</a></td><td>{modified}</td><td>{size}</td></tr>\n"
        ));
    }
    html.push_str("</table></body></html>\n");
    Ok((StatusCode::OK, Html(html)).into_response())
}
