//! What the instance is doing, for operators: Prometheus metrics at
//! `/metrics` and the same figures for `koper admin status`.
//!
//! Queue lengths and builder states are read from the database at each
//! scrape, so every server process of an instance reports the same; build
//! and publish durations are histograms of the tasks this process
//! published (sum them across processes), and the status command shows
//! their recent averages from the database.

use std::collections::BTreeMap;
use std::time::Duration;

use koper_types::{BuildState, now_epoch};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::app::App;
use crate::error::{Error, Result};
use crate::queue::CONNECTED_SECONDS;

/// Recently ended tasks that averages are taken over.
const RECENT_TASKS: i64 = 500;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    state: String,
    arch: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuilderLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    arch: String,
    outcome: String,
}

type Durations = Family<OutcomeLabels, Histogram, fn() -> Histogram>;

/// Build durations run from seconds to a day; publishes from a few
/// milliseconds to minutes.
fn build_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 17))
}

fn publish_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

/// This process's counters and histograms.
pub struct Metrics {
    build_seconds: Durations,
    publish_seconds: Durations,
    lapsed_leases: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            build_seconds: Family::new_with_constructor(build_histogram),
            publish_seconds: Family::new_with_constructor(publish_histogram),
            lapsed_leases: Counter::default(),
        }
    }
}

impl Metrics {
    /// A task was published: how long it built and how long publishing
    /// took.
    pub fn task_published(
        &self,
        arch: &str,
        state: BuildState,
        built: Option<Duration>,
        publish: Duration,
    ) {
        let labels = OutcomeLabels {
            arch: arch.to_owned(),
            outcome: state.as_str().to_owned(),
        };
        if let Some(built) = built {
            self.build_seconds
                .get_or_create(&labels)
                .observe(built.as_secs_f64());
        }
        self.publish_seconds
            .get_or_create(&labels)
            .observe(publish.as_secs_f64());
    }

    /// A lease lapsed (its builder died or lost contact).
    pub fn lease_lapsed(&self) {
        self.lapsed_leases.inc();
    }
}

/// Tasks in one state for one architecture.
#[derive(Debug, Clone, Serialize)]
pub struct QueueCount {
    /// `pending`, `starting` or `running`.
    pub state: String,
    /// The architecture.
    pub arch: String,
    /// Tasks.
    pub tasks: i64,
}

/// One builder as the status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BuilderStatus {
    /// Its name.
    pub name: String,
    /// `busy`, `idle`, `offline` (not heard from lately) or `revoked`.
    pub state: String,
    /// Architectures it asked work for.
    pub arches: Vec<String>,
    /// Capabilities it offers.
    pub tags: Vec<String>,
    /// Builds it runs at once.
    pub slots: i64,
    /// Tasks it holds now.
    pub running: i64,
    /// Unix seconds of its last call.
    pub last_seen_on: Option<i64>,
}

/// Recent durations for one architecture.
#[derive(Debug, Clone, Serialize)]
pub struct DurationSummary {
    /// The architecture.
    pub arch: String,
    /// Ended tasks looked at.
    pub tasks: usize,
    /// Their mean build time, seconds.
    pub mean_build_seconds: i64,
    /// The longest, seconds.
    pub max_build_seconds: i64,
    /// Mean time from the builder's report to the published result,
    /// seconds, when known.
    pub mean_publish_seconds: Option<f64>,
}

/// The instance at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Unended tasks by state and architecture.
    pub queue: Vec<QueueCount>,
    /// Every registered builder.
    pub builders: Vec<BuilderStatus>,
    /// Durations of the most recently ended tasks, per architecture.
    pub recent: Vec<DurationSummary>,
}

/// Reads the instance's status from the database.
pub async fn status(app: &App) -> Result<Status> {
    let db = app.db();
    let now = now_epoch();
    let queue = db
        .unended_task_counts()
        .await?
        .into_iter()
        .map(|c| QueueCount {
            state: c.state.as_str().to_owned(),
            arch: c.arch,
            tasks: c.count,
        })
        .collect();
    let running = db.running_tasks().await?;
    let builders = db
        .list_builders()
        .await?
        .into_iter()
        .map(|b| {
            let holding = running
                .iter()
                .filter(|r| r.builder_id == Some(b.id))
                .count() as i64;
            let state = if b.revoked {
                "revoked"
            } else if b
                .last_seen_on
                .is_none_or(|seen| seen < now - CONNECTED_SECONDS)
            {
                "offline"
            } else if holding > 0 {
                "busy"
            } else {
                "idle"
            };
            BuilderStatus {
                name: b.name,
                state: state.to_owned(),
                arches: b.arches,
                tags: b.tags,
                slots: b.slots,
                running: holding,
                last_seen_on: b.last_seen_on,
            }
        })
        .collect();
    let mut by_arch: BTreeMap<String, Vec<koper_db::FinishedTask>> = BTreeMap::new();
    for task in db.recent_finished_tasks(RECENT_TASKS).await? {
        by_arch.entry(task.arch.clone()).or_default().push(task);
    }
    let recent = by_arch
        .into_iter()
        .map(|(arch, tasks)| {
            let publishes: Vec<i64> = tasks.iter().filter_map(|t| t.publish_seconds).collect();
            DurationSummary {
                tasks: tasks.len(),
                mean_build_seconds: tasks.iter().map(|t| t.seconds).sum::<i64>()
                    / tasks.len().max(1) as i64,
                max_build_seconds: tasks.iter().map(|t| t.seconds).max().unwrap_or(0),
                mean_publish_seconds: (!publishes.is_empty())
                    .then(|| publishes.iter().sum::<i64>() as f64 / publishes.len() as f64),
                arch,
            }
        })
        .collect();
    Ok(Status {
        queue,
        builders,
        recent,
    })
}

/// The Prometheus text exposition of the instance.
pub async fn render(app: &App) -> Result<String> {
    let status = status(app).await?;
    let mut registry = Registry::with_prefix("koper");

    let tasks = Family::<TaskLabels, Gauge>::default();
    for state in [
        BuildState::Pending,
        BuildState::Starting,
        BuildState::Running,
    ] {
        // Every architecture a chroot builds for, so absent ones read 0.
        for def in app.chroots().iter() {
            let _ = tasks.get_or_create(&TaskLabels {
                state: state.as_str().to_owned(),
                arch: def.arch.clone(),
            });
        }
    }
    for count in &status.queue {
        tasks
            .get_or_create(&TaskLabels {
                state: count.state.clone(),
                arch: count.arch.clone(),
            })
            .set(count.tasks);
    }
    registry.register(
        "queue_tasks",
        "Build chroots not ended yet, by state and architecture",
        tasks,
    );

    let builders = Family::<BuilderLabels, Gauge>::default();
    for state in ["busy", "idle", "offline", "revoked"] {
        let _ = builders.get_or_create(&BuilderLabels {
            state: state.to_owned(),
        });
    }
    for builder in &status.builders {
        builders
            .get_or_create(&BuilderLabels {
                state: builder.state.clone(),
            })
            .inc();
    }
    registry.register("builders", "Registered builders by state", builders);

    let metrics = app.metrics();
    registry.register(
        "build_duration_seconds",
        "Time from lease to end of the build chroots this process published",
        metrics.build_seconds.clone(),
    );
    registry.register(
        "publish_duration_seconds",
        "Time this process took to publish a build chroot's results",
        metrics.publish_seconds.clone(),
    );
    registry.register(
        "lapsed_leases",
        "Leases whose builder stopped answering, as seen by this process",
        metrics.lapsed_leases.clone(),
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(Error::internal)?;
    Ok(text)
}
