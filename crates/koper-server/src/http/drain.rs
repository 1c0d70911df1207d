//! Refusals that reach the client. A handler that refuses a request
//! before reading its body (no token, no permission) would otherwise leave
//! the body unread, and a socket closed with unread data is reset: the
//! client, still sending its upload, sees "connection reset" instead of the
//! 403 (copr-cli then exits 1, not 7). Every request body is therefore fed
//! to the handler through a channel by a task that, once the handler lets
//! go, keeps reading and discarding what the client still sends, up to the
//! upload limit, so the answer arrives.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::app::App;

/// Middleware: hands the body on and drains what the handler left.
pub async fn drain_unread_body(State(app): State<App>, request: Request, next: Next) -> Response {
    if !has_body(&request) {
        return next.run(request).await;
    }
    let limit = app.config().max_upload_bytes;
    let (parts, body) = request.into_parts();
    let (sender, receiver) = mpsc::channel::<Result<Bytes, axum::Error>>(4);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut handler_gone = false;
        let mut drained = 0u64;
        while let Some(chunk) = stream.next().await {
            let Ok(bytes) = chunk else {
                if !handler_gone {
                    let _ = sender
                        .send(Err(axum::Error::new("the request body was cut off")))
                        .await;
                }
                return;
            };
            if !handler_gone {
                let len = bytes.len() as u64;
                if sender.send(Ok(bytes)).await.is_ok() {
                    continue;
                }
                handler_gone = true;
                drained += len;
            } else {
                drained += bytes.len() as u64;
            }
            if drained > limit {
                return;
            }
        }
    });
    let body = Body::from_stream(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ));
    next.run(Request::from_parts(parts, body)).await
}

fn has_body(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    let declared_empty = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    !declared_empty
        && (headers.contains_key(header::CONTENT_LENGTH)
            || headers.contains_key(header::TRANSFER_ENCODING))
}
