//! What the listings read instead of every build: the state the database
//! keeps per build (it must be `aggregate_state`'s), index-paged build
//! lists, package summaries and the newest build per package and chroot.

use std::collections::{BTreeMap, BTreeSet};

use koper_db::{
    BatchPlacement, BuildQuery, BuildRow, Database, MadeSource, MonitorEntry, NewBuild, NewProject,
    NewSource, PackageKey, PackageSourceRow, PackageSummary,
};
use koper_types::{BuildId, BuildState, ChrootName, aggregate_state};

use crate::harness::on_both;

async fn project(db: &Database) -> i64 {
    let chroots: Vec<ChrootName> = vec!["host-1-x86_64".parse().unwrap()];
    db.create_project(
        &NewProject {
            owner: &"alice".parse().unwrap(),
            name: &"big".parse().unwrap(),
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

/// A build of `package` in chroots `host-N-x86_64` for N in `releases`,
/// with a source task first when `from_git`.
async fn submit(
    db: &Database,
    project_id: i64,
    package: Option<&str>,
    releases: &[u32],
    from_git: bool,
) -> BuildId {
    let chroots: Vec<(ChrootName, String)> = releases
        .iter()
        .map(|n| {
            (
                format!("host-{n}-x86_64").parse().unwrap(),
                "x86_64".to_owned(),
            )
        })
        .collect();
    let package = package.map(|p| p.parse().unwrap());
    db.create_build(
        &NewBuild {
            project_id,
            submitter_id: None,
            source_type: if from_git { "scm" } else { "upload" },
            srpm_path: (!from_git).then_some("uploads/x/p-1-1.src.rpm"),
            srpm_sha256: (!from_git).then_some("00"),
            package_name: package.as_ref(),
            package_version: package.as_ref().map(|_| "1-1"),
            timeout: 60,
            chroots: &chroots,
            built_in: &[],
            srpm_bytes: 10,
            task_state: BuildState::Pending,
            priority: 0,
            batch: BatchPlacement::Alone,
            source: from_git.then_some(NewSource {
                source_json: r#"{"clone_url":"https://x/r.git"}"#,
                arch: "x86_64",
            }),
        },
        10,
    )
    .await
    .unwrap()
}

/// Puts every chroot of a build (in name order) in the given states.
async fn set_states(
    db: &Database,
    id: BuildId,
    source: Option<BuildState>,
    chroots: &[BuildState],
) {
    let build = db.build_by_id(id).await.unwrap().unwrap();
    if let (Some(task), Some(state)) = (&build.source_task, source) {
        db.end_task(task.id, state, None, 20).await.unwrap();
    }
    for (task, state) in build.chroots.iter().zip(chroots) {
        db.end_task(task.id, *state, None, 20).await.unwrap();
    }
}

fn query(state: Option<BuildState>, package: Option<&str>) -> BuildQuery<'_> {
    BuildQuery {
        package,
        state,
        oldest_first: false,
        after: None,
        limit: i64::MAX,
        offset: 0,
    }
}

fn ids(builds: &[BuildRow]) -> Vec<BuildId> {
    builds.iter().map(|b| b.id).collect()
}

/// Each build is listed under exactly the state `aggregate_state` gives it.
async fn assert_states_agree(db: &Database, project_id: i64, name: &str) {
    let all = db.list_builds(project_id, i64::MAX, 0).await.unwrap();
    let mut expected: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
    for b in &all {
        let state = aggregate_state(
            b.canceled,
            b.source_state,
            b.chroots.iter().map(|c| c.state),
        );
        expected.entry(state.as_str()).or_default().insert(b.id.0);
    }
    for state in BuildState::ALL {
        let listed = db
            .query_builds(project_id, &query(Some(state), None))
            .await
            .unwrap();
        let listed: BTreeSet<i64> = listed.iter().map(|b| b.id.0).collect();
        assert_eq!(
            listed,
            expected.remove(state.as_str()).unwrap_or_default(),
            "{name}: builds in state {state}"
        );
    }
}

#[tokio::test]
async fn the_stored_build_state_follows_coprs_rule_through_every_combination() {
    use BuildState::*;
    const CHROOT_STATES: [BuildState; 11] = [
        Running, Starting, Pending, Waiting, Failed, Succeeded, Skipped, Forked, Canceled,
        Importing, Unknown,
    ];
    on_both(|t| async move {
        let db = &t.db;
        let project_id = project(db).await;
        // No chroots, one, and every pair of chroot states.
        submit(db, project_id, Some("none"), &[], false).await;
        for first in CHROOT_STATES {
            let id = submit(db, project_id, Some("one"), &[1], false).await;
            set_states(db, id, None, &[first]).await;
            for second in CHROOT_STATES {
                let id = submit(db, project_id, Some("two"), &[1, 2], false).await;
                set_states(db, id, None, &[first, second]).await;
            }
        }
        // A source task in each state, before and after its chroots moved.
        for source in [
            Pending, Starting, Running, Importing, Failed, Succeeded, Canceled,
        ] {
            let id = submit(db, project_id, None, &[1, 2], true).await;
            set_states(db, id, Some(source), &[]).await;
            let id = submit(db, project_id, None, &[1, 2], true).await;
            set_states(db, id, Some(source), &[Succeeded, Running]).await;
        }
        assert_states_agree(db, project_id, t.name).await;

        // Canceling and a made source RPM change states too.
        let canceled = submit(db, project_id, Some("c"), &[1, 2], false).await;
        assert!(db.cancel_build(canceled, 30).await.unwrap());
        let from_git = submit(db, project_id, None, &[1], true).await;
        let made = MadeSource {
            path: "uploads/y/hello-2-1.src.rpm",
            sha256: "ab",
            bytes: 10,
            package_name: &"hello".parse().unwrap(),
            package_version: "2-1",
            built_in: &[],
        };
        assert!(db.source_made(from_git, &made).await.unwrap());
        assert_states_agree(db, project_id, t.name).await;
        let canceled_ids = db
            .query_builds(project_id, &query(Some(Canceled), Some("c")))
            .await
            .unwrap();
        assert_eq!(ids(&canceled_ids), [canceled], "{}", t.name);

        // A deleted build's chroots leave no trace in the state lists.
        db.delete_build(canceled).await.unwrap();
        assert_states_agree(db, project_id, t.name).await;
    })
    .await;
}

#[tokio::test]
async fn build_pages_come_from_the_index_in_either_order_and_after_a_build() {
    on_both(|t| async move {
        let db = &t.db;
        let project_id = project(db).await;
        let mut all = Vec::new();
        for n in 0..30 {
            all.push(submit(db, project_id, Some(&format!("pkg{}", n % 3)), &[1], false).await);
        }
        let newest_first: Vec<BuildId> = all.iter().rev().copied().collect();
        let page = |after: Option<BuildId>, offset: i64, oldest_first: bool| BuildQuery {
            package: None,
            state: None,
            oldest_first,
            after,
            limit: 5,
            offset,
        };
        let got = db
            .query_builds(project_id, &page(None, 0, false))
            .await
            .unwrap();
        assert_eq!(ids(&got), newest_first[..5], "{}", t.name);
        let got = db
            .query_builds(project_id, &page(None, 27, false))
            .await
            .unwrap();
        assert_eq!(ids(&got), newest_first[27..], "{}: the last page", t.name);
        // Keyset: the page after the 10th newest build, and an offset from there.
        let got = db
            .query_builds(project_id, &page(Some(newest_first[9]), 0, false))
            .await
            .unwrap();
        assert_eq!(ids(&got), newest_first[10..15], "{}", t.name);
        let got = db
            .query_builds(project_id, &page(Some(newest_first[9]), 5, false))
            .await
            .unwrap();
        assert_eq!(ids(&got), newest_first[15..20], "{}", t.name);
        let got = db
            .query_builds(project_id, &page(Some(all[3]), 0, true))
            .await
            .unwrap();
        assert_eq!(ids(&got), all[4..9], "{}: oldest first", t.name);
        // One package's builds, one state's, both.
        let pkg1: Vec<BuildId> = newest_first
            .iter()
            .copied()
            .filter(|id| all.iter().position(|a| a == id).unwrap() % 3 == 1)
            .collect();
        let got = db
            .query_builds(project_id, &query(None, Some("pkg1")))
            .await
            .unwrap();
        assert_eq!(ids(&got), pkg1, "{}", t.name);
        set_states(db, pkg1[0], None, &[BuildState::Succeeded]).await;
        set_states(db, all[0], None, &[BuildState::Succeeded]).await;
        let got = db
            .query_builds(project_id, &query(Some(BuildState::Succeeded), None))
            .await
            .unwrap();
        assert_eq!(ids(&got), [pkg1[0], all[0]], "{}", t.name);
        let got = db
            .query_builds(
                project_id,
                &query(Some(BuildState::Succeeded), Some("pkg1")),
            )
            .await
            .unwrap();
        assert_eq!(ids(&got), [pkg1[0]], "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn package_summaries_name_the_first_newest_and_newest_successful_build() {
    on_both(|t| async move {
        let db = &t.db;
        let project_id = project(db).await;
        let named = ["a", "b", "c", "zz"];
        assert!(
            db.package_summaries_named(project_id, &named)
                .await
                .unwrap()
                .is_empty()
        );
        let a1 = submit(db, project_id, Some("a"), &[1], false).await;
        let b1 = submit(db, project_id, Some("b"), &[1], false).await;
        let a2 = submit(db, project_id, Some("a"), &[1], false).await;
        let a3 = submit(db, project_id, Some("a"), &[1], false).await;
        set_states(db, a1, None, &[BuildState::Succeeded]).await;
        set_states(db, a2, None, &[BuildState::Succeeded]).await;
        set_states(db, a3, None, &[BuildState::Failed]).await;
        // A build from git is summarised once its source RPM names it.
        let git = submit(db, project_id, None, &[1], true).await;
        assert_eq!(
            db.package_summaries_named(project_id, &named)
                .await
                .unwrap()
                .len(),
            2
        );
        let made = MadeSource {
            path: "uploads/y/c-1-1.src.rpm",
            sha256: "ab",
            bytes: 10,
            package_name: &"c".parse().unwrap(),
            package_version: "1-1",
            built_in: &[],
        };
        db.source_made(git, &made).await.unwrap();
        let summaries = db
            .package_summaries_named(project_id, &named)
            .await
            .unwrap();
        let a = PackageSummary {
            name: "a".into(),
            first_build: a1,
            latest: a3,
            latest_succeeded: Some(a2),
        };
        let b = PackageSummary {
            name: "b".into(),
            first_build: b1,
            latest: b1,
            latest_succeeded: None,
        };
        let c = PackageSummary {
            name: "c".into(),
            first_build: git,
            latest: git,
            latest_succeeded: None,
        };
        assert_eq!(summaries, [a.clone(), b.clone(), c], "{}", t.name);
        // Only the names asked for are read.
        assert_eq!(
            db.package_summaries_named(project_id, &["b", "nothing"])
                .await
                .unwrap(),
            [b],
            "{}",
            t.name
        );
        assert_eq!(
            db.package_summary(project_id, "a").await.unwrap(),
            Some(a),
            "{}",
            t.name
        );
        assert_eq!(db.package_summary(project_id, "zz").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn package_keys_list_every_package_with_coprs_id_and_records_are_read_by_name() {
    on_both(|t| async move {
        let db = &t.db;
        let project_id = project(db).await;
        assert!(db.package_keys(project_id).await.unwrap().is_empty());
        let source = PackageSourceRow {
            source_type: "scm",
            source_json: r#"{"clone_url":"https://x/r.git"}"#,
            webhook_rebuild: false,
        };
        // Built only; built and recorded (the record's id wins); recorded
        // only. Upper case sorts first in byte order, whatever the
        // database's collation.
        let a1 = submit(db, project_id, Some("a"), &[1], false).await;
        submit(db, project_id, Some("a"), &[1], false).await;
        let upper = submit(db, project_id, Some("Zed"), &[1], false).await;
        submit(db, project_id, Some("both"), &[1], false).await;
        let both = db
            .add_package(project_id, &"both".parse().unwrap(), &source, 5)
            .await
            .unwrap();
        let only = db
            .add_package(project_id, &"only-record".parse().unwrap(), &source, 5)
            .await
            .unwrap();
        // Not named until its source RPM is made: not listed.
        submit(db, project_id, None, &[1], true).await;
        let keys = db.package_keys(project_id).await.unwrap();
        let expected = [
            PackageKey {
                name: "Zed".into(),
                id: upper.0,
            },
            PackageKey {
                name: "a".into(),
                id: a1.0,
            },
            PackageKey {
                name: "both".into(),
                id: both.id,
            },
            PackageKey {
                name: "only-record".into(),
                id: only.id,
            },
        ];
        assert_eq!(keys, expected, "{}", t.name);

        let records = db
            .packages_named(project_id, &["only-record", "a", "both"])
            .await
            .unwrap();
        assert_eq!(records, [both, only], "{}", t.name);
        assert!(db.packages_named(project_id, &[]).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_monitor_gets_the_newest_build_per_package_and_chroot() {
    on_both(|t| async move {
        let db = &t.db;
        let project_id = project(db).await;
        let a_both = submit(db, project_id, Some("a"), &[1, 2], false).await;
        let a_one = submit(db, project_id, Some("a"), &[1], false).await;
        let b_two = submit(db, project_id, Some("b"), &[2], false).await;
        let b_gone = submit(db, project_id, Some("b"), &[2, 3], false).await;
        // Not named yet: not shown.
        submit(db, project_id, None, &[1], true).await;
        // Named by its source task, which is not a chroot of the monitor.
        let git = submit(db, project_id, None, &[1], true).await;
        let made = MadeSource {
            path: "uploads/y/C-2-1.src.rpm",
            sha256: "ab",
            bytes: 10,
            package_name: &"C".parse().unwrap(),
            package_version: "2-1",
            built_in: &[],
        };
        db.source_made(git, &made).await.unwrap();
        set_states(db, a_one, None, &[BuildState::Failed]).await;
        db.delete_build(b_gone).await.unwrap();
        let entries = db.monitor_entries(project_id).await.unwrap();
        let entry =
            |package: &str, release: u32, build_id: BuildId, state: BuildState| MonitorEntry {
                package: package.into(),
                chroot: format!("host-{release}-x86_64").parse().unwrap(),
                build_id,
                package_version: Some(if package == "C" { "2-1" } else { "1-1" }.into()),
                state,
                result_dir: None,
            };
        // Byte order: upper case first.
        let expected = [
            entry("C", 1, git, BuildState::Pending),
            entry("a", 1, a_one, BuildState::Failed),
            entry("a", 2, a_both, BuildState::Pending),
            entry("b", 2, b_two, BuildState::Pending),
        ];
        assert_eq!(entries, expected, "{}", t.name);
    })
    .await;
}
