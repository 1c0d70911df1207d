use koper_db::{BatchPlacement, Database, LeaseFilter, NewBuild, NewProject, TaskRow};
use koper_types::{BuildId, BuildState, ChrootName};

use crate::harness::on_both;

pub async fn project_with_build(db: &Database) -> (i64, BuildId) {
    project_with_build_in(db, &[]).await
}

/// A project on x86_64 and aarch64 with one build, whose chroots take
/// their packages from another as `built_in` says.
async fn project_with_build_in(
    db: &Database,
    built_in: &[(ChrootName, ChrootName)],
) -> (i64, BuildId) {
    let chroots: Vec<ChrootName> = vec![
        "host-1-x86_64".parse().unwrap(),
        "host-1-aarch64".parse().unwrap(),
    ];
    let project = db
        .create_project(
            &NewProject {
                owner: &"alice".parse().unwrap(),
                name: &"hello".parse().unwrap(),
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
        .unwrap();
    let with_arch: Vec<(ChrootName, String)> = chroots
        .iter()
        .map(|c| (c.clone(), c.arch().to_owned()))
        .collect();
    let build = db
        .create_build(
            &NewBuild {
                project_id: project.id,
                submitter_id: None,
                source_type: "upload",
                srpm_path: Some("uploads/x/hello-1.0-1.src.rpm"),
                srpm_sha256: Some("00"),
                package_name: Some(&"hello".parse().unwrap()),
                package_version: Some("1.0-1"),
                timeout: 60,
                chroots: &with_arch,
                built_in,
                srpm_bytes: 1000,
                task_state: BuildState::Pending,
                priority: 0,
                batch: BatchPlacement::Alone,
                source: None,
            },
            2,
        )
        .await
        .unwrap();
    (project.id, build)
}

/// Leases the next task for `arches` with no limits.
pub async fn lease(
    db: &Database,
    builder_id: i64,
    arches: &[String],
    lease_id: &str,
    expires: i64,
    now: i64,
) -> Option<TaskRow> {
    let filter = LeaseFilter {
        arches,
        excluded_chroots: &[],
        spec_builds: true,
        now,
    };
    db.lease_next_task(builder_id, &filter, lease_id, expires, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_task_is_leased_once_renewed_and_published() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, build_id) = project_with_build(db).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let x86 = vec!["x86_64".to_owned()];

        let task = lease(db, builder.id, &x86, "lease-1", 100, 10)
            .await
            .unwrap();
        assert_eq!(task.chroot.as_str(), "host-1-x86_64", "{}", t.name);
        assert_eq!(task.state, BuildState::Starting);
        assert_eq!(task.attempts, 1);
        // Nothing else for x86_64.
        assert!(
            lease(db, builder.id, &x86, "lease-2", 100, 10)
                .await
                .is_none()
        );

        assert!(db.renew_lease(task.id, "lease-1", 200).await.unwrap());
        assert!(!db.renew_lease(task.id, "someone-else", 200).await.unwrap());
        assert_eq!(
            db.task_by_id(task.id).await.unwrap().unwrap().state,
            BuildState::Running
        );

        db.set_result_dir(task.id, "00000001-hello").await.unwrap();
        assert!(
            db.record_outcome(task.id, "lease-1", "succeeded", None, 250)
                .await
                .unwrap()
        );
        assert!(
            !db.record_outcome(task.id, "lease-1", "failed", None, 250)
                .await
                .unwrap()
        );
        // A reported outcome is not requeued even if the lease lapses.
        assert!(db.expired_leases(10_000).await.unwrap().is_empty());
        let to_publish = db.tasks_to_publish().await.unwrap();
        assert_eq!(to_publish.len(), 1);
        db.end_task(task.id, BuildState::Succeeded, None, 300)
            .await
            .unwrap();
        assert!(db.tasks_to_publish().await.unwrap().is_empty());
        // Leased at 10, reported at 250, published at 300.
        let recent = db.recent_finished_tasks(10).await.unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(
            (recent[0].seconds, recent[0].publish_seconds),
            (290, Some(50))
        );
        assert_eq!(recent[0].state, BuildState::Succeeded);
        let counts = db.unended_task_counts().await.unwrap();
        assert_eq!(counts.len(), 1, "{}: {counts:?}", t.name);
        assert_eq!(
            (counts[0].state, counts[0].arch.as_str(), counts[0].count),
            (BuildState::Pending, "aarch64", 1)
        );

        let chroot: ChrootName = "host-1-x86_64".parse().unwrap();
        assert_eq!(
            db.published_result_dirs(project_id, &chroot).await.unwrap(),
            vec!["00000001-hello"]
        );
        let build = db.build_by_id(build_id).await.unwrap().unwrap();
        let states: Vec<BuildState> = build.chroots.iter().map(|c| c.state).collect();
        assert_eq!(states, vec![BuildState::Pending, BuildState::Succeeded]);
    })
    .await;
}

#[tokio::test]
async fn expired_leases_go_back_to_the_queue() {
    on_both(|t| async move {
        let db = &t.db;
        let (_, _) = project_with_build(db).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let arm = vec!["aarch64".to_owned()];
        let task = lease(db, builder.id, &arm, "l1", 50, 10).await.unwrap();
        assert!(
            db.expired_leases(49).await.unwrap().is_empty(),
            "{}",
            t.name
        );
        let lapsed = db.expired_leases(51).await.unwrap();
        assert_eq!(lapsed.len(), 1);
        assert_eq!(
            (
                lapsed[0].task_id,
                lapsed[0].lease_id.as_str(),
                lapsed[0].attempts
            ),
            (task.id, "l1", 1)
        );
        // Requeued with a backoff: not leased again before it ends.
        assert!(db.requeue_task(&lapsed[0], 51, 60).await.unwrap());
        assert!(!db.requeue_task(&lapsed[0], 51, 60).await.unwrap());
        assert!(
            lease(db, builder.id, &arm, "early", 500, 59)
                .await
                .is_none()
        );
        // The old lease is dead; a new lease gets the task again.
        assert!(!db.renew_lease(task.id, "l1", 500).await.unwrap());
        let again = lease(db, builder.id, &arm, "l2", 500, 60).await.unwrap();
        assert_eq!(again.id, task.id);
        assert_eq!(again.attempts, 2);
        assert!(
            !db.record_outcome(task.id, "l1", "succeeded", None, 600)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn canceling_stops_pending_chroots_and_leasing() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, build_id) = project_with_build(db).await;
        assert!(db.cancel_build(build_id, 9).await.unwrap(), "{}", t.name);
        assert!(!db.cancel_build(build_id, 9).await.unwrap());
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let all = vec!["x86_64".to_owned(), "aarch64".to_owned()];
        assert!(lease(db, builder.id, &all, "l", 50, 10).await.is_none());
        let build = db.build_by_id(build_id).await.unwrap().unwrap();
        assert!(build.canceled);
        assert!(
            build
                .chroots
                .iter()
                .all(|c| c.state == BuildState::Canceled)
        );
        let listed = db.list_builds(project_id, 10, 0).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].chroots.len(), 2);
        assert!(db.list_builds(project_id, 10, 1).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_chroot_built_in_another_waits_for_it_and_is_never_leased() {
    on_both(|t| async move {
        let db = &t.db;
        let x86: ChrootName = "host-1-x86_64".parse().unwrap();
        let arm: ChrootName = "host-1-aarch64".parse().unwrap();
        let (_, build_id) = project_with_build_in(db, &[(arm.clone(), x86.clone())]).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let both = vec!["x86_64".to_owned(), "aarch64".to_owned()];

        let task = lease(db, builder.id, &both, "lease-1", 100, 10)
            .await
            .unwrap();
        assert_eq!(task.chroot, x86, "{}", t.name);
        assert!(
            lease(db, builder.id, &both, "lease-2", 100, 10)
                .await
                .is_none(),
            "the aarch64 chroot is not built itself"
        );
        let copies = db.copies_waiting_on(task.id).await.unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].chroot, arm);
        assert_eq!(copies[0].state, BuildState::Waiting);
        assert_eq!(copies[0].built_in, Some(task.id));
        // Not before the task it waits for has ended.
        assert!(db.copies_to_publish().await.unwrap().is_empty());
        db.end_task(task.id, BuildState::Succeeded, None, 50)
            .await
            .unwrap();
        let left = db.copies_to_publish().await.unwrap();
        assert_eq!(left.len(), 1, "{}", t.name);
        assert!(
            db.end_copy(left[0].id, BuildState::Succeeded, None, Some(10), 60)
                .await
                .unwrap()
        );
        assert!(
            !db.end_copy(left[0].id, BuildState::Failed, None, Some(10), 60)
                .await
                .unwrap(),
            "ended once"
        );
        assert!(db.copies_to_publish().await.unwrap().is_empty());
        let build = db.build_by_id(build_id).await.unwrap().unwrap();
        let states: Vec<BuildState> = build.chroots.iter().map(|c| c.state).collect();
        assert_eq!(states, vec![BuildState::Succeeded, BuildState::Succeeded]);
    })
    .await;
}

#[tokio::test]
async fn canceling_a_build_cancels_the_chroots_waiting_in_it() {
    on_both(|t| async move {
        let db = &t.db;
        let x86: ChrootName = "host-1-x86_64".parse().unwrap();
        let arm: ChrootName = "host-1-aarch64".parse().unwrap();
        let (_, build_id) = project_with_build_in(db, &[(arm, x86)]).await;
        assert!(db.cancel_build(build_id, 5).await.unwrap());
        let build = db.build_by_id(build_id).await.unwrap().unwrap();
        assert!(
            build
                .chroots
                .iter()
                .all(|c| c.state == BuildState::Canceled),
            "{}: {:?}",
            t.name,
            build.chroots
        );
        assert!(db.copies_to_publish().await.unwrap().is_empty());
    })
    .await;
}

/// A chroot whose state changes while its build is deleted: the change
/// takes the chroot's row, then (by trigger) the build's; the delete must
/// not hold the build's row while it waits for the chroot's, or
/// PostgreSQL cancels one of them as a deadlock.
#[tokio::test]
async fn a_build_is_deleted_while_one_of_its_chroots_ends() {
    use sqlx::Connection;
    on_both(|t| async move {
        let (_, build) = project_with_build(&t.db).await;
        let task = t.db.tasks_of_build(build).await.unwrap()[0].id;
        if t.name != "postgres" {
            // One writer at a time: nothing to interleave.
            t.db.delete_build(build).await.unwrap();
            return;
        }
        sqlx::any::install_default_drivers();
        let mut ending = sqlx::AnyConnection::connect(&t.url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut ending).await.unwrap();
        sqlx::query("SELECT id FROM build_chroots WHERE id = $1 FOR UPDATE")
            .bind(task)
            .fetch_all(&mut ending)
            .await
            .unwrap();
        let deleting = tokio::spawn({
            let db = t.db.clone();
            async move { db.delete_build(build).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sqlx::query("UPDATE build_chroots SET state = 'succeeded' WHERE id = $1")
            .bind(task)
            .execute(&mut ending)
            .await
            .expect("the chroot's change is not cancelled as a deadlock");
        sqlx::query("COMMIT").execute(&mut ending).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), deleting)
            .await
            .expect("the delete ends")
            .unwrap()
            .expect("the delete is not cancelled as a deadlock");
        assert!(t.db.build_by_id(build).await.unwrap().is_none());
    })
    .await;
}
