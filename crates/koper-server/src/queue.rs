//! Why a pending build chroot waits and when it is likely to start: the
//! queue as the scheduler sees it (`koper_db::fair_order`), replayed to find
//! each task's turn, with the connected builders and recent build
//! durations for the estimate.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use koper_api::v1::{QueueInfo, WaitReason};
use koper_db::{Builder, FinishedTask, OwnerShare, QueuedTask, RunningTask, fair_order};
use koper_types::{BuildId, now_epoch};

use crate::app::App;
use crate::error::Result;

/// A builder that called within this many seconds counts as connected
/// (builders call at least every few seconds while building, and every
/// long poll otherwise).
pub const CONNECTED_SECONDS: i64 = 120;
/// Assumed build time when no build has finished yet.
const DEFAULT_BUILD_SECONDS: i64 = 600;
/// Finished tasks looked at for durations.
const DURATION_SAMPLE: i64 = 200;

/// How long a loaded view explains the queue to every request: reading
/// and replaying 10,000 pending tasks takes about 100 ms (debug build), so
/// pages viewed at once share one replay instead of each making its own.
const SHARED_VIEW_SECONDS: Duration = Duration::from_secs(1);

/// The queue view shared by the requests of one process (kept in
/// [`App`]): reloaded when it is older than [`SHARED_VIEW_SECONDS`] or
/// does not know a pending task asked about (a build newer than it).
#[derive(Default)]
pub struct SharedQueueView {
    /// The latest view and when it was loaded. Held while loading, so
    /// requests arriving meanwhile wait for that load instead of
    /// starting their own.
    latest: tokio::sync::Mutex<Option<(Instant, Arc<QueueView>)>>,
}

impl SharedQueueView {
    /// A view that knows every task of `pending` (ids of pending tasks),
    /// at most [`SHARED_VIEW_SECONDS`] old.
    pub async fn get(&self, app: &App, pending: &[i64]) -> Result<Arc<QueueView>> {
        let mut latest = self.latest.lock().await;
        if let Some((loaded, view)) = latest.as_ref()
            && view.answers_for(loaded.elapsed(), pending)
        {
            return Ok(Arc::clone(view));
        }
        let view = Arc::new(QueueView::load(app).await?);
        *latest = Some((Instant::now(), Arc::clone(&view)));
        Ok(view)
    }
}

/// Everything needed to explain the queue, read at once.
pub struct QueueView {
    now: i64,
    tasks: HashMap<i64, QueuedTask>,
    /// Per task: how many tasks start before it by the fair share.
    ahead: HashMap<i64, u64>,
    /// Per task: its place in its owner's queue for its arch, and that
    /// queue's length.
    owner_position: HashMap<i64, (u64, u64)>,
    running: Vec<RunningTask>,
    builders: Vec<Builder>,
    finished: Vec<FinishedTask>,
    loads: HashMap<String, (i64, i64)>,
    limits: HashMap<String, i64>,
    default_limit: Option<i64>,
    /// Capabilities each chroot needs from its builders (chroots needing
    /// none are left out).
    needs: HashMap<String, Vec<String>>,
}

impl QueueView {
    /// Reads the queue from the database.
    pub async fn load(app: &App) -> Result<Self> {
        let db = app.db();
        let now = now_epoch();
        let tasks = db.queued_tasks().await?;
        let loads = db.owner_loads(now).await?;
        let view = Self::new(
            now,
            tasks,
            db.running_tasks().await?,
            db.list_builders().await?,
            db.recent_finished_tasks(DURATION_SAMPLE).await?,
            loads,
            db.owner_limits().await?,
            app.config().max_running_per_owner,
        )
        .with_needs(
            app.chroots()
                .iter()
                .filter(|def| !def.tags.is_empty())
                .map(|def| (def.name.to_string(), def.tags.clone()))
                .collect(),
        );
        Ok(view)
    }

    /// Whether this view, loaded `age` ago, may still explain the pending
    /// tasks `pending`: it is recent and knows each of them.
    fn answers_for(&self, age: Duration, pending: &[i64]) -> bool {
        age < SHARED_VIEW_SECONDS && pending.iter().all(|task| self.tasks.contains_key(task))
    }

    /// A view of a queue given in full (what [`QueueView::load`] reads).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        now: i64,
        tasks: Vec<QueuedTask>,
        running: Vec<RunningTask>,
        builders: Vec<Builder>,
        finished: Vec<FinishedTask>,
        loads: HashMap<String, (i64, i64)>,
        limits: HashMap<String, i64>,
        default_limit: Option<i64>,
    ) -> Self {
        let (ahead, owner_position) = replay(now, &tasks, &loads);
        Self {
            now,
            tasks: tasks.into_iter().map(|t| (t.task_id, t)).collect(),
            ahead,
            owner_position,
            running,
            builders,
            finished,
            loads,
            limits,
            default_limit,
            needs: HashMap::new(),
        }
    }

    /// The capabilities chroots need from their builders.
    pub fn with_needs(mut self, needs: HashMap<String, Vec<String>>) -> Self {
        self.needs = needs;
        self
    }

    fn limit_of(&self, owner: &str) -> Option<i64> {
        self.limits
            .get(owner)
            .copied()
            .or(self.default_limit)
            .filter(|l| *l > 0)
    }

    /// Builders connected now that build for `arch` and offer `needs`.
    fn builders_for(&self, arch: &str, needs: &[String]) -> Vec<&Builder> {
        self.builders
            .iter()
            .filter(|b| {
                !b.revoked
                    && b.last_seen_on
                        .is_some_and(|seen| seen >= self.now - CONNECTED_SECONDS)
                    && b.arches.iter().any(|a| a == arch)
                    && needs.iter().all(|tag| b.tags.contains(tag))
            })
            .collect()
    }

    /// Mean seconds of the recent tasks matching `keep`, with their count.
    fn mean_duration(&self, keep: impl Fn(&FinishedTask) -> bool) -> Option<(i64, usize)> {
        let sample: Vec<i64> = self
            .finished
            .iter()
            .filter(|t| keep(t))
            .take(20)
            .map(|t| t.seconds.max(0))
            .collect();
        (!sample.is_empty()).then(|| {
            (
                sample.iter().sum::<i64>() / sample.len() as i64,
                sample.len(),
            )
        })
    }

    /// Why the pending task waits and when it may start; `None` when it is
    /// not pending (any more).
    pub fn explain(&self, task_id: i64, blocked_by: &[BuildId]) -> Option<QueueInfo> {
        let task = self.tasks.get(&task_id)?;
        let arch = task.arch.as_str();
        let needs = self.needs.get(&task.chroot).cloned().unwrap_or_default();
        let builders = self.builders_for(arch, &needs);
        let slots: i64 = builders.iter().map(|b| b.slots.max(1)).sum();
        let busy = self.running.iter().filter(|r| r.arch == arch).count() as i64;
        let (owner_position, owner_queue) =
            self.owner_position.get(&task_id).copied().unwrap_or((1, 1));
        let ahead = self.ahead.get(&task_id).copied().unwrap_or(0);
        let arch_duration = self
            .mean_duration(|t| t.arch == arch)
            .or_else(|| self.mean_duration(|_| true));
        let package_duration = task
            .package
            .as_ref()
            .and_then(|p| self.mean_duration(|t| t.package.as_ref() == Some(p)));
        let expected_seconds = package_duration.or(arch_duration).map(|(s, _)| s);
        let slot_seconds = arch_duration.map_or(DEFAULT_BUILD_SECONDS, |(s, _)| s.max(1));
        let owner = task.owner.as_str();
        let owner_running = self.loads.get(owner).map_or(0, |(r, _)| *r);
        let limit = self.limit_of(owner);

        let mut info = QueueInfo {
            reason: WaitReason::Queued,
            message: String::new(),
            owner_position,
            owner_queue,
            ahead,
            builders: builders.len() as u32,
            slots: slots as u32,
            blocked_by: blocked_by.to_vec(),
            estimated_start: None,
            expected_seconds,
        };
        let place =
            format!("number {owner_position} of {owner_queue} in {owner}'s queue for {arch}");
        if task.not_before.is_some_and(|t| t > self.now) {
            let at = task.not_before.unwrap_or(self.now);
            info.reason = WaitReason::Backoff;
            info.message = format!(
                "its builder stopped answering (attempt {}); it is retried in {}",
                task.attempts,
                in_words(at - self.now)
            );
            info.estimated_start = Some(at);
            return Some(info);
        }
        if task.batch_blocked {
            info.reason = WaitReason::Batch;
            let ids: Vec<String> = blocked_by.iter().map(|id| id.to_string()).collect();
            info.message = format!(
                "it waits for build(s) {} to end (--after-build-id)",
                ids.join(", ")
            );
            return Some(info);
        }
        if builders.is_empty() {
            info.reason = WaitReason::NoBuilder;
            let with_tags = if needs.is_empty() {
                String::new()
            } else {
                format!(" offering {}", needs.join(", "))
            };
            info.message = format!(
                "no builder for {arch}{with_tags} is connected; it starts when one is ({place})"
            );
            return Some(info);
        }
        // Free slots take the first tasks at once; after that a slot frees
        // about every build time per slot, the first after half of one.
        let free = (slots - busy).max(0);
        let ahead_i = ahead as i64;
        let mut start = if ahead_i < free {
            self.now
        } else {
            self.now + slot_seconds / 2 + (ahead_i - free) / slots * slot_seconds
        };
        if let Some(limit) = limit {
            // Its owner's own earlier builds must leave room under the limit.
            let own_before = owner_position as i64 - 1;
            let room = (limit - owner_running).max(0);
            if own_before >= room {
                let waves = (own_before - room) / limit + 1;
                start = start.max(self.now + waves * slot_seconds);
                if room == 0 {
                    info.reason = WaitReason::OwnerLimit;
                }
            }
            if info.reason == WaitReason::OwnerLimit {
                info.message = format!(
                    "{owner} runs {owner_running} build(s), as many as {owner} may at once \
                     ({limit}); {place}"
                );
            }
        }
        info.estimated_start = Some(start);
        if info.reason == WaitReason::Queued {
            info.message = format!(
                "{place}; {ahead} chroot(s) of all owners start before it (fair share); \
                 {} builder(s) with {slots} slot(s) build {arch}, {busy} busy",
                builders.len()
            );
        }
        info.message.push_str(&format!(
            "; likely start {}",
            if start <= self.now {
                "now".to_owned()
            } else {
                format!("in {}", in_words(start - self.now))
            }
        ));
        match (package_duration, &task.package) {
            (Some((seconds, count)), Some(package)) => info.message.push_str(&format!(
                "; {package} took {} on average (last {count} build(s))",
                in_words(seconds)
            )),
            _ if arch_duration.is_none() => info.message.push_str(&format!(
                " (no build has finished yet: {} per build assumed)",
                in_words(DEFAULT_BUILD_SECONDS)
            )),
            _ => {}
        }
        Some(info)
    }
}

/// `42 s`, `3 min`, `2 h 5 min`.
pub fn in_words(seconds: i64) -> String {
    let seconds = seconds.max(0);
    if seconds < 90 {
        format!("{seconds} s")
    } else if seconds < 3600 {
        format!("{} min", (seconds + 30) / 60)
    } else {
        format!("{} h {} min", seconds / 3600, (seconds % 3600) / 60)
    }
}

/// Replays the scheduler's choices over the startable tasks of each
/// architecture, as if no running task ended meanwhile: returns per task
/// how many tasks start before it, and its place in its owner's queue.
#[allow(clippy::type_complexity)]
fn replay(
    now: i64,
    tasks: &[QueuedTask],
    loads: &HashMap<String, (i64, i64)>,
) -> (HashMap<i64, u64>, HashMap<i64, (u64, u64)>) {
    let mut ahead = HashMap::new();
    let mut positions = HashMap::new();
    let startable = |t: &&QueuedTask| !t.batch_blocked && t.not_before.is_none_or(|n| n <= now);
    let mut arches: Vec<&str> = tasks.iter().map(|t| t.arch.as_str()).collect();
    arches.sort_unstable();
    arches.dedup();
    for arch in arches {
        // Each owner's queue: priority first, then submission order.
        let mut queues: HashMap<&str, Vec<&QueuedTask>> = HashMap::new();
        for task in tasks.iter().filter(startable).filter(|t| t.arch == arch) {
            queues.entry(task.owner.as_str()).or_default().push(task);
        }
        let mut state: Vec<(OwnerShare, VecDeque<&QueuedTask>, BTreeSet<i64>)> = queues
            .into_iter()
            .map(|(owner, mut queue)| {
                queue.sort_by_key(|t| (-t.priority, t.task_id));
                let len = queue.len() as u64;
                for (index, task) in queue.iter().enumerate() {
                    positions.insert(task.task_id, (index as u64 + 1, len));
                }
                let (running, recent) = loads.get(owner).copied().unwrap_or((0, 0));
                let ids = queue.iter().map(|t| t.task_id).collect();
                let share = OwnerShare {
                    owner: owner.to_owned(),
                    running,
                    started_recently: recent,
                    top_priority: queue[0].priority,
                    oldest_task: queue[0].task_id,
                    limit: None,
                };
                (share, queue.into(), ids)
            })
            .collect();
        let mut picked = 0u64;
        loop {
            let shares: Vec<OwnerShare> = state.iter().map(|(s, _, _)| s.clone()).collect();
            let Some(next) = fair_order(&shares).first().map(|s| s.owner.clone()) else {
                break;
            };
            let Some(index) = state.iter().position(|(s, _, _)| s.owner == next) else {
                break;
            };
            let (share, queue, ids) = &mut state[index];
            let Some(task) = queue.pop_front() else {
                break;
            };
            ahead.insert(task.task_id, picked);
            picked += 1;
            ids.remove(&task.task_id);
            share.running += 1;
            share.started_recently += 1;
            match (queue.front(), ids.first()) {
                (Some(head), Some(oldest)) => {
                    share.top_priority = head.priority;
                    share.oldest_task = *oldest;
                }
                _ => {
                    state.remove(index);
                }
            }
        }
    }
    (ahead, positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(id: i64, owner: &str, priority: i64) -> QueuedTask {
        QueuedTask {
            task_id: id,
            build_id: BuildId(id),
            owner: owner.to_owned(),
            package: Some(format!("pkg{id}")),
            chroot: "fedora-42-x86_64".to_owned(),
            arch: "x86_64".to_owned(),
            priority,
            batch_blocked: false,
            not_before: None,
            attempts: 0,
        }
    }

    fn builder(slots: i64, seen: i64) -> Builder {
        Builder {
            id: 1,
            name: "b1".to_owned(),
            last_seen_on: Some(seen),
            arches: vec!["x86_64".to_owned()],
            tags: Vec::new(),
            slots,
            revoked: false,
        }
    }

    fn running(owner: &str) -> RunningTask {
        RunningTask {
            owner: owner.to_owned(),
            arch: "x86_64".to_owned(),
            started_on: Some(0),
            builder_id: Some(1),
        }
    }

    fn finished(seconds: i64) -> FinishedTask {
        FinishedTask {
            package: Some("other".to_owned()),
            arch: "x86_64".to_owned(),
            state: koper_types::BuildState::Succeeded,
            seconds,
            publish_seconds: Some(1),
        }
    }

    const NOW: i64 = 10_000;

    /// A mass rebuild of 3,000 by `mass` on two busy slots, and one build
    /// by `single` submitted last.
    fn mass_rebuild() -> QueueView {
        let mut tasks: Vec<QueuedTask> = (1..=3000).map(|id| queued(id, "mass", 0)).collect();
        tasks.push(queued(3001, "single", 0));
        QueueView::new(
            NOW,
            tasks,
            vec![running("mass"), running("mass")],
            vec![builder(2, NOW - 5)],
            vec![finished(300); 5],
            HashMap::from([("mass".to_owned(), (2, 40))]),
            HashMap::new(),
            None,
        )
    }

    #[test]
    fn the_single_build_is_next_and_starts_within_one_slot() {
        let view = mass_rebuild();
        let info = view.explain(3001, &[]).unwrap();
        assert_eq!(info.reason, WaitReason::Queued);
        assert_eq!(info.ahead, 0);
        assert_eq!((info.owner_position, info.owner_queue), (1, 1));
        assert_eq!((info.builders, info.slots), (1, 2));
        // Both slots busy: it starts when the first one frees, about half a
        // build from now, and no later than one build.
        let start = info.estimated_start.unwrap();
        assert!(start > NOW && start <= NOW + 300, "{start}");
        assert!(
            info.message.contains("number 1 of 1 in single's queue"),
            "{}",
            info.message
        );
        assert!(
            info.message.contains("likely start in 3 min"),
            "{}",
            info.message
        );

        // The mass rebuild's own builds take turns with it.
        let info = view.explain(2, &[]).unwrap();
        assert_eq!(info.ahead, 2, "task 1, then the single build");
        assert_eq!(info.owner_position, 2);
        let last = view.explain(3000, &[]).unwrap();
        assert_eq!(last.ahead, 3000);
        // 3,000 ahead on 2 slots of 300 s: about 450,000 s.
        let eta = last.estimated_start.unwrap() - NOW;
        assert!((440_000..460_000).contains(&eta), "{eta}");
    }

    #[test]
    fn other_reasons_are_named() {
        let mut tasks = vec![queued(1, "alice", 0), queued(2, "bob", 0)];
        tasks[1].batch_blocked = true;
        tasks.push(QueuedTask {
            not_before: Some(NOW + 60),
            attempts: 2,
            ..queued(3, "carol", 0)
        });
        tasks.push(QueuedTask {
            arch: "s390x".to_owned(),
            ..queued(4, "dave", 0)
        });
        let view = QueueView::new(
            NOW,
            tasks,
            vec![running("alice")],
            // It builds x86_64 only.
            vec![builder(1, NOW - 10)],
            Vec::new(),
            HashMap::from([("alice".to_owned(), (1, 1))]),
            HashMap::from([("alice".to_owned(), 1)]),
            None,
        );
        let info = view.explain(1, &[]).unwrap();
        assert_eq!(info.reason, WaitReason::OwnerLimit, "{}", info.message);
        assert!(
            info.message.contains("as many as alice may at once (1)"),
            "{}",
            info.message
        );
        assert!(
            info.message.contains("no build has finished yet"),
            "{}",
            info.message
        );
        let info = view.explain(2, &[BuildId(7)]).unwrap();
        assert_eq!(info.reason, WaitReason::Batch);
        assert_eq!(info.blocked_by, [BuildId(7)]);
        assert!(info.message.contains("build(s) 7"), "{}", info.message);
        let info = view.explain(3, &[]).unwrap();
        assert_eq!(info.reason, WaitReason::Backoff);
        assert_eq!(info.estimated_start, Some(NOW + 60));
        let info = view.explain(4, &[]).unwrap();
        assert_eq!(info.reason, WaitReason::NoBuilder);
        assert!(
            info.message.contains("no builder for s390x"),
            "{}",
            info.message
        );
        assert!(view.explain(99, &[]).is_none());
    }

    #[test]
    fn builders_without_a_needed_tag_do_not_count() {
        let view = QueueView::new(
            NOW,
            vec![queued(1, "alice", 0)],
            Vec::new(),
            vec![builder(4, NOW)],
            Vec::new(),
            HashMap::new(),
            HashMap::new(),
            None,
        )
        .with_needs(HashMap::from([(
            "fedora-42-x86_64".to_owned(),
            vec!["kvm".to_owned()],
        )]));
        let info = view.explain(1, &[]).unwrap();
        assert_eq!(info.reason, WaitReason::NoBuilder);
        assert!(
            info.message.contains("no builder for x86_64 offering kvm"),
            "{}",
            info.message
        );
    }

    #[test]
    fn a_shared_view_answers_for_a_second_and_only_for_tasks_it_knows() {
        let view = mass_rebuild();
        let fresh = Duration::from_millis(300);
        assert!(view.answers_for(fresh, &[1, 3001]));
        assert!(view.answers_for(fresh, &[]));
        // A build submitted after the view was loaded: reloaded.
        assert!(!view.answers_for(fresh, &[1, 3002]));
        assert!(!view.answers_for(SHARED_VIEW_SECONDS, &[1]));
    }

    #[test]
    fn durations_are_told_in_words() {
        assert_eq!(in_words(42), "42 s");
        assert_eq!(in_words(600), "10 min");
        assert_eq!(in_words(7500), "2 h 5 min");
    }
}
