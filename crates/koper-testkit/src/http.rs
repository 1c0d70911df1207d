//! A tiny static file server on 127.0.0.1 for sources fetched by URL.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;

/// Serves the files of `dir` over HTTP/1.1 on a free loopback port (one
/// request per connection, 404 for anything else) from a background
/// thread, for as long as the test runs; queries are ignored, so a bare
/// git repository prepared with `git update-server-info` can be cloned
/// from it (git's dumb HTTP). Returns the base URL.
pub fn serve_dir(dir: &Path) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let root = dir.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let target = request.split(' ').nth(1).unwrap_or("/");
            // A static server ignores queries (git's dumb HTTP asks
            // `info/refs?service=...` first).
            let path = target.split('?').next().unwrap_or("/");
            let body = (!path.contains(".."))
                .then(|| std::fs::read(root.join(path.trim_start_matches('/'))).ok())
                .flatten();
            let mut out = &stream;
            let _ = match body {
                Some(body) => out
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| out.write_all(&body)),
                None => out.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}
