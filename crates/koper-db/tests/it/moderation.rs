//! Moderation (hidden and disabled projects, disabled users), quota
//! requests and the exact build state filter.

use koper_db::{
    BatchPlacement, BuildFilter, Database, DbError, NewBuild, NewProject, NewSource,
    QuotaRequestState, TokenMatch,
};
use koper_types::{BuildState, ChrootName, aggregate_state};

use crate::harness::on_both;

async fn project(db: &Database, owner: &str, name: &str) -> koper_db::ProjectRow {
    let chroots: Vec<ChrootName> = vec![
        "host-1-x86_64".parse().unwrap(),
        "host-1-aarch64".parse().unwrap(),
    ];
    db.create_project(
        &NewProject {
            owner: &owner.parse().unwrap(),
            name: &name.parse().unwrap(),
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
}

async fn build(db: &Database, project_id: i64, with_source: bool) -> koper_types::BuildId {
    let chroots: Vec<(ChrootName, String)> = ["host-1-aarch64", "host-1-x86_64"]
        .iter()
        .map(|c| {
            let c: ChrootName = c.parse().unwrap();
            let arch = c.arch().to_owned();
            (c, arch)
        })
        .collect();
    db.create_build(
        &NewBuild {
            project_id,
            submitter_id: None,
            source_type: if with_source { "scm" } else { "upload" },
            srpm_path: None,
            srpm_sha256: None,
            package_name: Some(&"hello".parse().unwrap()),
            package_version: Some("1.0-1"),
            timeout: 60,
            chroots: &chroots,
            built_in: &[],
            srpm_bytes: 0,
            task_state: BuildState::Pending,
            priority: 0,
            batch: BatchPlacement::Alone,
            source: with_source.then_some(NewSource {
                source_json: "{}",
                arch: "x86_64",
            }),
        },
        2,
    )
    .await
    .unwrap()
}

fn names(found: &[koper_db::ProjectRow]) -> Vec<String> {
    found
        .iter()
        .map(|p| format!("{}/{}", p.owner, p.name))
        .collect()
}

#[tokio::test]
async fn hidden_and_disabled_projects_and_users_leave_the_listings() {
    on_both(|t| async move {
        let db = &t.db;
        let bob = db
            .create_user(&"bob".parse().unwrap(), false, 1)
            .await
            .unwrap();
        assert_eq!(bob.disabled, None);
        let hidden = project(db, "alice", "hidden").await;
        let disabled = project(db, "alice", "disabled").await;
        let shown = project(db, "alice", "shown").await;
        let bobs = project(db, "bob", "tools").await;
        for p in [&hidden, &disabled, &shown, &bobs] {
            build(db, p.id, false).await;
        }
        db.set_project_hidden(hidden.id, Some("spam"))
            .await
            .unwrap();
        db.set_project_disabled(disabled.id, Some("malware"))
            .await
            .unwrap();
        db.set_user_disabled(bob.id, Some("abuse")).await.unwrap();
        assert!(matches!(
            db.set_user_disabled(bob.id + 100, Some("x")).await,
            Err(DbError::NotFound)
        ));

        let found = db.project_by_id(hidden.id).await.unwrap().unwrap();
        assert_eq!(
            found.moderation.hidden.as_deref(),
            Some("spam"),
            "{}",
            t.name
        );
        assert_eq!(found.disabled_reason(), None);
        assert!(!found.publicly_listed());
        let found = db.project_by_id(disabled.id).await.unwrap().unwrap();
        assert_eq!(found.disabled_reason(), Some("malware"));
        let found = db
            .find_project(&bobs.owner, &bobs.name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.moderation.owner_disabled.as_deref(), Some("abuse"));
        assert_eq!(found.disabled_reason(), Some("abuse"));
        assert!(
            db.project_by_id(shown.id)
                .await
                .unwrap()
                .unwrap()
                .publicly_listed()
        );

        // Only the unmoderated project is listed, searched and on the home page.
        assert_eq!(
            names(&db.search_projects("").await.unwrap()),
            ["alice/shown"]
        );
        assert!(db.search_projects("tools").await.unwrap().is_empty());
        let home = db.recent_listed_builds(10).await.unwrap();
        assert_eq!(home.len(), 1, "{}", t.name);
        assert_eq!(home[0].project.as_str(), "shown");
        assert_eq!(
            names(&db.moderated_projects().await.unwrap()),
            ["alice/disabled", "alice/hidden", "bob/tools"]
        );

        // The user's disabling travels with the user wherever it is read.
        assert_eq!(
            db.find_user("bob")
                .await
                .unwrap()
                .unwrap()
                .disabled
                .as_deref(),
            Some("abuse")
        );
        db.add_api_token(bob.id, "hash-b", None, 1).await.unwrap();
        match db.match_api_token("hash-b", 2).await.unwrap() {
            TokenMatch::Valid(user) => assert_eq!(user.disabled.as_deref(), Some("abuse")),
            other => panic!("{other:?}"),
        }

        // Undone, everything is listed again.
        db.set_project_hidden(hidden.id, None).await.unwrap();
        db.set_project_disabled(disabled.id, None).await.unwrap();
        db.set_user_disabled(bob.id, None).await.unwrap();
        assert_eq!(db.search_projects("").await.unwrap().len(), 4, "{}", t.name);
        assert_eq!(db.recent_listed_builds(10).await.unwrap().len(), 4);
        assert!(db.moderated_projects().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn quota_requests_are_filed_once_and_answered_once() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = db
            .create_user(&"alice".parse().unwrap(), false, 1)
            .await
            .unwrap();
        let hello = project(db, "alice", "hello").await;
        let other = project(db, "alice", "other").await;
        let first = db
            .create_quota_request(hello.id, alice.id, 5 << 30, "big ISOs", 10)
            .await
            .unwrap();
        // One pending request per project.
        assert!(
            matches!(
                db.create_quota_request(hello.id, alice.id, 6 << 30, "more", 11)
                    .await,
                Err(DbError::Conflict)
            ),
            "{}",
            t.name
        );
        let second = db
            .create_quota_request(other.id, alice.id, 2 << 30, "docs", 12)
            .await
            .unwrap();
        let pending = db.list_quota_requests(true).await.unwrap();
        assert_eq!(
            pending.iter().map(|r| r.id).collect::<Vec<_>>(),
            [first, second]
        );
        let shown = &pending[0];
        assert_eq!(shown.requester.as_deref(), Some("alice"));
        assert_eq!(shown.project.as_str(), "hello");
        assert_eq!(shown.requested_bytes, 5 << 30);
        assert_eq!(shown.state, QuotaRequestState::Pending);

        // Granted: the project's own quota is what was given, at once.
        assert!(
            db.answer_quota_request(first, Some(4 << 30), "4 GiB is enough", 20)
                .await
                .unwrap()
        );
        let hello_now = db.project_by_id(hello.id).await.unwrap().unwrap();
        assert_eq!(hello_now.quota_bytes, Some(4 << 30), "{}", t.name);
        let answered = db.quota_request(first).await.unwrap().unwrap();
        assert_eq!(answered.state, QuotaRequestState::Granted);
        assert_eq!(answered.granted_bytes, Some(4 << 30));
        assert_eq!(answered.answer, "4 GiB is enough");
        assert_eq!(answered.answered_on, Some(20));
        // Answered once: a second answer changes nothing.
        assert!(
            !db.answer_quota_request(first, None, "no", 21)
                .await
                .unwrap()
        );
        assert!(!db.answer_quota_request(9999, None, "no", 21).await.unwrap());

        // Denied: the quota stays; a new request may be filed.
        assert!(
            db.answer_quota_request(second, None, "use retention", 22)
                .await
                .unwrap()
        );
        assert_eq!(
            db.project_by_id(other.id)
                .await
                .unwrap()
                .unwrap()
                .quota_bytes,
            None
        );
        assert!(db.list_quota_requests(true).await.unwrap().is_empty());
        assert_eq!(db.list_quota_requests(false).await.unwrap().len(), 2);
        let third = db
            .create_quota_request(other.id, alice.id, 3 << 30, "really", 23)
            .await
            .unwrap();
        let history = db.project_quota_requests(other.id).await.unwrap();
        assert_eq!(
            history.iter().map(|r| r.id).collect::<Vec<_>>(),
            [third, second]
        );
        assert_eq!(history[1].state, QuotaRequestState::Denied);
        assert_eq!(history[1].answer, "use retention");
    })
    .await;
}

#[tokio::test]
async fn the_build_state_filter_is_the_state_builds_are_shown_in() {
    on_both(|t| async move {
        let db = &t.db;
        let p = project(db, "alice", "hello").await;
        use BuildState::*;
        // Chroot states (aarch64, x86_64) of builds without a source task,
        // then source task states of builds with one.
        let chroot_cases = [
            [Succeeded, Succeeded],
            [Succeeded, Failed],
            [Failed, Running],
            [Pending, Succeeded],
            [Starting, Failed],
            [Waiting, Succeeded],
            [Skipped, Skipped],
            [Forked, Succeeded],
            [Canceled, Canceled],
        ];
        for states in chroot_cases {
            let id = build(db, p.id, false).await;
            let tasks = db.tasks_of_build(id).await.unwrap();
            for (task, state) in tasks.iter().zip(states) {
                db.end_task(task.id, state, None, 3).await.unwrap();
            }
        }
        let canceled = build(db, p.id, false).await;
        db.cancel_build(canceled, 3).await.unwrap();
        for source_state in [Pending, Running, Importing, Failed, Succeeded] {
            let id = build(db, p.id, true).await;
            let source = db
                .tasks_of_build(id)
                .await
                .unwrap()
                .into_iter()
                .find(|task| task.chroot.is_source_builds())
                .unwrap();
            db.end_task(source.id, source_state, None, 3).await.unwrap();
        }
        let all = db.list_builds(p.id, 100, 0).await.unwrap();
        assert_eq!(all.len(), chroot_cases.len() + 6, "{}", t.name);
        let shown = |b: &koper_db::BuildRow| {
            aggregate_state(
                b.canceled,
                b.source_state,
                b.chroots.iter().map(|c| c.state),
            )
        };
        for state in BuildState::ALL {
            let filter = BuildFilter {
                chroot_state: state.as_str().to_owned(),
                ..Default::default()
            };
            let found: Vec<_> = db
                .list_builds_filtered(p.id, &filter, 100, 0)
                .await
                .unwrap()
                .iter()
                .map(|b| b.id)
                .collect();
            let expected: Vec<_> = all
                .iter()
                .filter(|b| shown(b) == state)
                .map(|b| b.id)
                .collect();
            assert_eq!(found, expected, "{}: state {state}", t.name);
        }
        // The cases that were approximate: a build with a succeeded and a
        // failed chroot is failed, not succeeded too.
        let succeeded = BuildFilter {
            chroot_state: "succeeded".into(),
            ..Default::default()
        };
        let found = db
            .list_builds_filtered(p.id, &succeeded, 100, 0)
            .await
            .unwrap();
        assert!(found.iter().all(|b| shown(b) == Succeeded), "{}", t.name);
        assert_eq!(found.len(), 2);
        // With a chroot, that chroot's state.
        let x86_failed = BuildFilter {
            chroot: "host-1-x86_64".into(),
            chroot_state: "failed".into(),
            ..Default::default()
        };
        let found = db
            .list_builds_filtered(p.id, &x86_failed, 100, 0)
            .await
            .unwrap();
        assert_eq!(found.len(), 2, "{}", t.name);
        for b in &found {
            let x86 = b
                .chroots
                .iter()
                .find(|c| c.chroot.as_str() == "host-1-x86_64");
            assert_eq!(x86.unwrap().state, Failed);
        }
    })
    .await;
}
