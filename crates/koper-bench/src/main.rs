//! `koper-bench`: koper's speed, printed side by side with the bare tools
//! where there is something to compare with. Benchmarks, not tests: run
//! them on a release build, several times, and read medians
//! (docs/performance.md).

mod bare;
mod builds;
mod lease;
mod listing;
mod seed;
mod stats;

use std::path::PathBuf;

use clap::Parser;

/// Runs koper's speed benchmarks against a koper binary.
#[derive(Parser)]
struct Args {
    /// The koper binary to measure (build it with --release).
    #[arg(long, default_value = "target/release/koper")]
    koper: PathBuf,
    /// Which benchmarks to run: latency, throughput, lease, listing.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "latency,throughput,lease,listing"
    )]
    only: Vec<String>,
    /// Runs of the latency comparison (medians are printed).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Builds in the throughput comparison.
    #[arg(long, default_value_t = 100)]
    builds: usize,
    /// Pending tasks for the lease latency, and beside the listings.
    #[arg(long, default_value_t = 10_000)]
    pending: usize,
    /// Simulated builders asking for work at once.
    #[arg(long, default_value_t = 100)]
    builders: usize,
    /// Leases each simulated builder takes.
    #[arg(long, default_value_t = 10)]
    leases_each: usize,
    /// Builds in the project whose listings are measured.
    #[arg(long, default_value_t = 100_000)]
    listed: usize,
    /// Requests per listing.
    #[arg(long, default_value_t = 200)]
    requests: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let koper = std::fs::canonicalize(&args.koper)?;
    let wanted = |name: &str| args.only.iter().any(|o| o == name);
    if wanted("latency") {
        builds::latency(&koper, args.runs)?;
    }
    if wanted("throughput") {
        builds::throughput(&koper, args.builds)?;
    }
    if wanted("lease") {
        lease::lease(&koper, args.pending, args.builders, args.leases_each)?;
    }
    if wanted("listing") {
        listing::listing(&koper, args.listed, args.pending, args.requests)?;
    }
    Ok(())
}
