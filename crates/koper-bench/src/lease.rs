//! Lease latency: many pending tasks of several owners, many simulated
//! builders asking for work at once over the builder protocol.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use koper_testkit::TestServer;

use crate::seed;
use crate::stats::{millis, quantile};

const OWNERS: usize = 10;

pub fn lease(
    koper: &Path,
    pending: usize,
    builders: usize,
    leases_each: usize,
) -> anyhow::Result<()> {
    let server =
        TestServer::start_configured(koper, &["--builders", "0"], "lease_seconds = 3600\n")?;
    let chroot = format!("host-1-{}", std::env::consts::ARCH);
    for owner in 0..OWNERS {
        let name = format!("owner{owner}");
        let user = server.add_user(&name)?;
        let out = user.run(&["create", &format!("{name}/queue"), "--chroot", &chroot])?;
        if !out.status.success() {
            bail!("create: {}", String::from_utf8_lossy(&out.stderr));
        }
        let id = seed::project_id(&server, &name, "queue")?;
        seed::builds(&server, id, pending / OWNERS, &chroot, "pending")?;
    }
    let mut tokens = Vec::new();
    for n in 0..builders {
        let out = Command::new(koper)
            .args(["admin", "add-builder", &format!("sim{n}"), "--data-dir"])
            .arg(server.data_dir())
            .output()?;
        if !out.status.success() {
            bail!("add-builder: {}", String::from_utf8_lossy(&out.stderr));
        }
        tokens.push(String::from_utf8(out.stdout)?.trim().to_owned());
    }

    let url = format!("{}/builder-api/v1/lease", server.url);
    let body = serde_json::json!({
        "arches": [std::env::consts::ARCH], "wait_seconds": 0, "slots": 1, "tags": []
    });
    let started = Instant::now();
    let simulated: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                let http = reqwest::blocking::Client::new();
                let mut latencies = Vec::new();
                for _ in 0..leases_each {
                    let asked = Instant::now();
                    let answer = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Koper-Builder-Protocol", "2")
                        .json(&body)
                        .send()?;
                    if answer.status() != 200 {
                        bail!("lease answered {}", answer.status());
                    }
                    latencies.push(asked.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for builder in simulated {
        latencies.extend(builder.join().ok().context("a builder thread panicked")??);
    }
    let wall = started.elapsed();
    println!(
        "lease latency, {pending} pending tasks of {OWNERS} owners, {builders} builders asking at once | p50 {} | p99 {} | {} leases in {:.1} s",
        millis(quantile(&latencies, 0.5)),
        millis(quantile(&latencies, 0.99)),
        latencies.len(),
        wall.as_secs_f64()
    );
    Ok(())
}
