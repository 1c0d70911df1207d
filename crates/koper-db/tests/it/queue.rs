//! The fair queue: owners share builders, priorities, background builds,
//! batches and per-owner limits.

use koper_db::{BatchPlacement, Database, LeaseFilter, NewBuild, NewProject};
use koper_types::{BuildId, BuildState, ChrootName};

use crate::harness::on_both;

const NOW: i64 = 1_000_000;

fn x86() -> Vec<String> {
    vec!["x86_64".to_owned()]
}

async fn project(db: &Database, owner: &str) -> i64 {
    let chroots: Vec<ChrootName> = vec!["host-1-x86_64".parse().unwrap()];
    db.create_project(
        &NewProject {
            owner: &owner.parse().unwrap(),
            name: &"p".parse().unwrap(),
            description: "",
            instructions: "",
            chroots: &chroots,
            build_timeout: 60,
            retain_older: 0,
            listed: true,
            buildroot: &Default::default(),
        },
        1,
    )
    .await
    .unwrap()
    .id
}

async fn submit(db: &Database, project_id: i64, priority: i64, batch: BatchPlacement) -> BuildId {
    let chroots = vec![("host-1-x86_64".parse().unwrap(), "x86_64".to_owned())];
    db.create_build(
        &NewBuild {
            project_id,
            submitter_id: None,
            source_type: "upload",
            srpm_path: Some("uploads/x/pkg-1-1.src.rpm"),
            srpm_sha256: Some("00"),
            package_name: Some(&"pkg".parse().unwrap()),
            package_version: Some("1-1"),
            timeout: 60,
            chroots: &chroots,
            built_in: &[],
            srpm_bytes: 10,
            task_state: BuildState::Pending,
            priority,
            batch,
            source: None,
        },
        NOW,
    )
    .await
    .unwrap()
}

/// Leases the next x86_64 task; the build it belongs to.
async fn next(db: &Database, builder: i64, default_limit: Option<i64>) -> Option<(i64, BuildId)> {
    let arches = x86();
    let filter = LeaseFilter {
        arches: &arches,
        excluded_chroots: &[],
        spec_builds: true,
        now: NOW,
    };
    let lease_id = format!("lease-{}", rand_suffix());
    db.lease_next_task(builder, &filter, &lease_id, NOW + 100, default_limit)
        .await
        .unwrap()
        .map(|task| (task.id, task.build_id))
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn finish(db: &Database, task_id: i64) {
    db.end_task(task_id, BuildState::Succeeded, None, NOW + 10)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_mass_rebuild_delays_another_owners_build_by_one_slot_at_most() {
    on_both(|t| async move {
        let db = &t.db;
        let mass = project(db, "mass").await;
        let single = project(db, "single").await;
        for _ in 0..3000 {
            submit(db, mass, 0, BatchPlacement::Alone).await;
        }
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        // Three slots busy with the mass rebuild.
        let mut running = Vec::new();
        for _ in 0..3 {
            running.push(next(db, builder, None).await.unwrap());
        }
        let lone = submit(db, single, 0, BatchPlacement::Alone).await;
        // The first slot to free up goes to the other owner's build.
        finish(db, running[0].0).await;
        let (_, got) = next(db, builder, None).await.unwrap();
        assert_eq!(got, lone, "{}: the single build starts next", t.name);
        // Then the mass rebuild goes on.
        finish(db, running[1].0).await;
        let (_, got) = next(db, builder, None).await.unwrap();
        assert!(got < lone, "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn owners_alternate_on_one_slot() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        let b = project(db, "bob").await;
        for _ in 0..3 {
            submit(db, a, 0, BatchPlacement::Alone).await;
        }
        let bob_first = submit(db, b, 0, BatchPlacement::Alone).await;
        submit(db, b, 0, BatchPlacement::Alone).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        let mut owners = Vec::new();
        for _ in 0..5 {
            let (task, build) = next(db, builder, None).await.unwrap();
            owners.push(if build < bob_first { "alice" } else { "bob" });
            finish(db, task).await;
        }
        assert_eq!(
            owners,
            ["alice", "bob", "alice", "bob", "alice"],
            "{}",
            t.name
        );
    })
    .await;
}

#[tokio::test]
async fn priority_orders_an_owners_queue_and_background_goes_last() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        let b = project(db, "bob").await;
        let low = submit(db, a, 0, BatchPlacement::Alone).await;
        let high = submit(db, a, 5, BatchPlacement::Alone).await;
        let background = submit(db, b, -1, BatchPlacement::Alone).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        // Bob has nothing running, but his build is a background one.
        let (_, first) = next(db, builder, None).await.unwrap();
        assert_eq!(first, high, "{}", t.name);
        let (_, second) = next(db, builder, None).await.unwrap();
        assert_eq!(second, low, "{}", t.name);
        let (_, third) = next(db, builder, None).await.unwrap();
        assert_eq!(third, background, "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn a_batch_after_another_waits_until_every_build_of_it_ended() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        let first = submit(db, a, 0, BatchPlacement::Alone).await;
        let after = submit(db, a, 0, BatchPlacement::After(first)).await;
        let with = submit(db, a, 0, BatchPlacement::With(first)).await;
        let queued = db.queued_tasks().await.unwrap();
        let blocked: Vec<(BuildId, bool)> = queued
            .iter()
            .map(|q| (q.build_id, q.batch_blocked))
            .collect();
        assert_eq!(
            blocked,
            [(first, false), (after, true), (with, false)],
            "{}",
            t.name
        );
        assert_eq!(db.builds_blocking(after).await.unwrap(), [first, with]);

        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        let (task_first, got) = next(db, builder, None).await.unwrap();
        assert_eq!(got, first);
        let (task_with, got) = next(db, builder, None).await.unwrap();
        assert_eq!(
            got, with,
            "{}: builds of one batch run side by side",
            t.name
        );
        assert!(next(db, builder, None).await.is_none());
        finish(db, task_first).await;
        assert!(next(db, builder, None).await.is_none());
        // A failed build ends its batch too.
        db.end_task(task_with, BuildState::Failed, Some("x"), NOW + 20)
            .await
            .unwrap();
        assert!(db.builds_blocking(after).await.unwrap().is_empty());
        let (_, got) = next(db, builder, None).await.unwrap();
        assert_eq!(got, after, "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn owners_at_their_limit_wait_while_others_build() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        let b = project(db, "bob").await;
        for _ in 0..3 {
            submit(db, a, 0, BatchPlacement::Alone).await;
        }
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        db.set_owner_limit("alice", Some(1)).await.unwrap();
        let (task, _) = next(db, builder, None).await.unwrap();
        assert!(next(db, builder, None).await.is_none(), "{}", t.name);
        let bobs = submit(db, b, 0, BatchPlacement::Alone).await;
        assert_eq!(next(db, builder, None).await.unwrap().1, bobs);
        finish(db, task).await;
        assert!(next(db, builder, None).await.is_some());

        // The instance default applies to owners without a limit of their own.
        db.set_owner_limit("alice", None).await.unwrap();
        assert!(db.owner_limits().await.unwrap().is_empty());
        assert!(next(db, builder, Some(1)).await.is_none(), "{}", t.name);
        assert!(next(db, builder, Some(2)).await.is_some());
    })
    .await;
}

#[tokio::test]
async fn chroots_a_builder_cannot_serve_are_not_leased_to_it() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        submit(db, a, 0, BatchPlacement::Alone).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        let arches = x86();
        let lacking = ["host-1-x86_64".to_owned()];
        let filter = LeaseFilter {
            arches: &arches,
            excluded_chroots: &lacking,
            spec_builds: true,
            now: NOW,
        };
        assert!(
            db.lease_next_task(builder, &filter, "l1", NOW + 100, None)
                .await
                .unwrap()
                .is_none(),
            "{}",
            t.name
        );
        let other = ["fedora-42-x86_64".to_owned()];
        let filter = LeaseFilter {
            excluded_chroots: &other,
            ..filter
        };
        assert!(
            db.lease_next_task(builder, &filter, "l2", NOW + 100, None)
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn builders_record_what_they_can_do() {
    on_both(|t| async move {
        let db = &t.db;
        let builder = db.upsert_builder("b1", "tok", 1).await.unwrap();
        assert!(builder.arches.is_empty());
        db.record_builder_capabilities(
            builder.id,
            &["x86_64".to_owned(), "i686".to_owned()],
            &["kvm".to_owned()],
            4,
        )
        .await
        .unwrap();
        let listed = db.list_builders().await.unwrap();
        assert_eq!(listed.len(), 1, "{}", t.name);
        assert_eq!(listed[0].arches, ["x86_64", "i686"]);
        assert_eq!(listed[0].tags, ["kvm"]);
        assert_eq!(listed[0].slots, 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leases_never_take_an_owner_past_its_limit() {
    on_both(|t| async move {
        let db = &t.db;
        let a = project(db, "alice").await;
        for _ in 0..30 {
            submit(db, a, 0, BatchPlacement::Alone).await;
        }
        db.set_owner_limit("alice", Some(3)).await.unwrap();
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap().id;
        // Rounds of lease requests arriving at once, as from many builders
        // on several servers: each round fills the limit and no more.
        for round in 0..5 {
            let requests: Vec<_> = (0..10)
                .map(|_| {
                    let db = db.clone();
                    tokio::spawn(async move { next(&db, builder, None).await })
                })
                .collect();
            let mut leased = Vec::new();
            for request in requests {
                if let Some((task, _)) = request.await.unwrap() {
                    leased.push(task);
                }
            }
            assert_eq!(leased.len(), 3, "{} round {round}: {leased:?}", t.name);
            for task in leased {
                finish(db, task).await;
            }
        }
    })
    .await;
}
