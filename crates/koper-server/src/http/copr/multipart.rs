//! Copr's multipart bodies: file parts first, then a `json` part with the
//! fields that say what the files are for.

use axum::extract::Multipart;

use crate::app::App;
use crate::error::Error;
use crate::spool::{self, Spooled};

use super::{CoprResult, Fields};

/// The files (`pkgs` parts, spooled to disk as they stream in) and the
/// `json` part of a Copr multipart upload. Copr sends the files first, so
/// they are received before anyone knows where they go.
pub async fn receive_multipart(
    app: &App,
    mut multipart: Multipart,
) -> CoprResult<(Vec<Spooled>, Fields)> {
    let mut files = Vec::new();
    let mut fields = Fields::default();
    let received = async {
        while let Some(part) = multipart
            .next_field()
            .await
            .map_err(|e| Error::bad_request(format!("bad multipart body: {e}")))?
        {
            match part.name() {
                Some("json") => {
                    let bytes = part
                        .bytes()
                        .await
                        .map_err(|e| Error::bad_request(format!("bad json part: {e}")))?;
                    fields = Fields::from_part(&bytes).map_err(|e| e.0)?;
                }
                _ => {
                    let name = part.file_name().unwrap_or("upload.rpm").to_owned();
                    let mut spooled = spool::receive(
                        part,
                        &spool::new_path(app),
                        app.config().max_upload_bytes,
                        None,
                    )
                    .await?;
                    spooled.name = name;
                    files.push(spooled);
                }
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = received {
        discard(&files).await;
        return Err(e.into());
    }
    Ok((files, fields))
}

pub async fn discard(files: &[Spooled]) {
    for file in files {
        let _ = tokio::fs::remove_file(&file.path).await;
    }
}

/// `decided`, after removing the received files when it is a refusal: what
/// was spooled for a request that goes nowhere must not stay behind.
pub async fn or_discard<T>(files: &[Spooled], decided: CoprResult<T>) -> CoprResult<T> {
    if decided.is_err() {
        discard(files).await;
    }
    decided
}
