//! Listings of a project with many builds: the native API, Copr's APIv3
//! and the project page, page by page.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use koper_testkit::TestServer;

use crate::seed;
use crate::stats::{millis, quantile};

pub fn listing(koper: &Path, builds: usize, pending: usize, requests: usize) -> anyhow::Result<()> {
    let server = TestServer::start_with(koper, &["--builders", "0"])?;
    let chroot = format!("host-1-{}", std::env::consts::ARCH);
    let user = server.add_user("alice")?;
    let out = user.run(&["create", "alice/big", "--chroot", &chroot])?;
    if !out.status.success() {
        bail!("create: {}", String::from_utf8_lossy(&out.stderr));
    }
    let id = seed::project_id(&server, "alice", "big")?;
    seed::builds(&server, id, builds, &chroot, "succeeded")?;

    // A queue beside it: the page of a pending build explains why it waits
    // (its turn among every pending task).
    let out = user.run(&["create", "alice/queue", "--chroot", &chroot])?;
    if !out.status.success() {
        bail!("create: {}", String::from_utf8_lossy(&out.stderr));
    }
    let queue = seed::project_id(&server, "alice", "queue")?;
    seed::builds(&server, queue, pending, &chroot, "pending")?;
    let last_pending = seed::sql(
        &server,
        &format!("SELECT MAX(id) FROM builds WHERE project_id = {queue}"),
    )?;

    let deep = builds.saturating_sub(100);
    // The build just before the deep page: a client paging by keyset asks
    // for the builds older than the last one it got.
    let last_before_deep = seed::sql(
        &server,
        &format!(
            "SELECT id FROM builds WHERE project_id = {id} ORDER BY id DESC LIMIT 1 OFFSET {}",
            deep.saturating_sub(1)
        ),
    )?;
    let copr = "/api_3/build/list?ownername=alice&projectname=big";
    let pending_build = format!("native API, the newest of {pending} pending builds (explained)");
    // (what, path)
    let pages = [
        (
            "native API, newest 50",
            "/api/v1/projects/alice/big/builds?limit=50".to_owned(),
        ),
        (
            "native API, 50 at offset near the end",
            format!("/api/v1/projects/alice/big/builds?limit=50&offset={deep}"),
        ),
        (
            "native API, 50 before a build near the end (keyset)",
            format!("/api/v1/projects/alice/big/builds?limit=50&before={last_before_deep}"),
        ),
        ("Copr build/list, 50", format!("{copr}&limit=50")),
        (
            "Copr build/list, 50 of one package",
            format!("{copr}&limit=50&packagename=pkg77"),
        ),
        (
            "Copr build/list, 50 of a status",
            format!("{copr}&limit=50&status=succeeded"),
        ),
        (
            "Copr build/list, 50 of a status no build is in",
            format!("{copr}&limit=50&status=running"),
        ),
        (
            "project page /coprs/alice/big/",
            "/coprs/alice/big/".to_owned(),
        ),
        (
            pending_build.as_str(),
            format!("/api/v1/builds/{last_pending}"),
        ),
    ];
    let http = reqwest::blocking::Client::new();
    let monitor = [
        (
            "Copr package/list, all",
            "/api_3/package/list?ownername=alice&projectname=big&limit=50".to_owned(),
        ),
        (
            "Copr monitor",
            "/api_3/monitor?ownername=alice&projectname=big".to_owned(),
        ),
    ];
    for (what, path) in pages.into_iter().chain(monitor) {
        let url = format!("{}{path}", server.url);
        let mut latencies: Vec<Duration> = Vec::new();
        for n in 0..requests + 3 {
            let asked = Instant::now();
            let answer = http.get(&url).send()?;
            let status = answer.status();
            let _ = answer.bytes()?;
            if !status.is_success() {
                bail!("{path} answered {status}");
            }
            // The first few warm the caches.
            if n >= 3 {
                latencies.push(asked.elapsed());
            }
        }
        println!(
            "{what}, project of {builds} builds | p50 {} | p99 {} (target p99 < 50 ms) | {requests} requests",
            millis(quantile(&latencies, 0.5)),
            millis(quantile(&latencies, 0.99)),
        );
    }
    Ok(())
}
