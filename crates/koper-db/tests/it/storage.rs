//! Quotas, usage, retention bookkeeping, release packages and the project
//! directory's search.

use koper_db::{NewProject, ReleaseRow};
use koper_types::{BuildState, ChrootName};

use crate::harness::on_both;
use crate::tasks::project_with_build;

#[tokio::test]
async fn usage_counts_sources_and_results_until_pruned_or_deleted() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = "alice".parse().unwrap();
        let (project_id, build_id) = project_with_build(db).await;
        let usage = db.usage_of_owner(&alice).await.unwrap();
        assert_eq!(usage.len(), 1, "{}", t.name);
        assert_eq!(usage[0].project_id, project_id);
        assert_eq!(usage[0].used_bytes, 1000, "the source RPM counts");

        let tasks = db.tasks_of_build(build_id).await.unwrap();
        db.set_result_bytes(tasks[0].id, 5000).await.unwrap();
        db.set_result_bytes(tasks[1].id, 7000).await.unwrap();
        assert_eq!(
            db.usage_of_owner(&alice).await.unwrap()[0].used_bytes,
            13000
        );

        db.mark_pruned(tasks[0].id, 50).await.unwrap();
        assert_eq!(db.usage_of_owner(&alice).await.unwrap()[0].used_bytes, 8000);

        db.delete_build(build_id).await.unwrap();
        assert_eq!(db.usage_of_owner(&alice).await.unwrap()[0].used_bytes, 0);
        assert!(db.build_by_id(build_id).await.unwrap().is_none());
        assert!(db.tasks_of_build(build_id).await.unwrap().is_empty());

        // Quotas: none set means the default; set and cleared.
        assert_eq!(db.owner_quota(&alice).await.unwrap(), None);
        db.set_owner_quota(&alice, Some(5 << 30)).await.unwrap();
        db.set_owner_quota(&alice, Some(6 << 30)).await.unwrap();
        assert_eq!(db.owner_quota(&alice).await.unwrap(), Some(6 << 30));
        db.set_owner_quota(&alice, None).await.unwrap();
        assert_eq!(db.owner_quota(&alice).await.unwrap(), None);

        db.set_project_quota(project_id, Some(1 << 40))
            .await
            .unwrap();
        db.set_retention(project_id, 3).await.unwrap();
        let project = db.project_by_id(project_id).await.unwrap().unwrap();
        assert_eq!(project.quota_bytes, Some(1 << 40));
        assert_eq!(project.retain_older, 3);
    })
    .await;
}

#[tokio::test]
async fn published_builds_are_newest_first_and_pruned_ones_leave() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, build_id) = project_with_build(db).await;
        let chroot: ChrootName = "host-1-x86_64".parse().unwrap();
        let tasks = db.tasks_of_build(build_id).await.unwrap();
        let task = tasks.iter().find(|t| t.chroot == chroot).unwrap();
        db.set_result_dir(task.id, "00000001-hello").await.unwrap();
        assert!(
            db.published_builds(project_id, &chroot)
                .await
                .unwrap()
                .is_empty()
        );
        db.end_task(task.id, BuildState::Succeeded, None, 9)
            .await
            .unwrap();
        let published = db.published_builds(project_id, &chroot).await.unwrap();
        assert_eq!(published.len(), 1, "{}", t.name);
        assert_eq!(published[0].package_name, "hello");
        assert_eq!(published[0].result_dir, "00000001-hello");
        assert_eq!(
            db.published_result_dirs(project_id, &chroot).await.unwrap(),
            vec!["00000001-hello".to_owned()]
        );
        db.mark_pruned(task.id, 10).await.unwrap();
        assert!(
            db.published_builds(project_id, &chroot)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            db.published_result_dirs(project_id, &chroot)
                .await
                .unwrap()
                .is_empty()
        );

        // Release packages: one row per project chroot, replaced.
        assert_eq!(db.release_package(project_id, &chroot).await.unwrap(), None);
        let first = ReleaseRow {
            release: 1,
            content_sha256: "aa".into(),
            file_name: "koper-alice-hello-1-1.noarch.rpm".into(),
        };
        db.set_release_package(project_id, &chroot, &first)
            .await
            .unwrap();
        let second = ReleaseRow {
            release: 2,
            content_sha256: "bb".into(),
            file_name: "koper-alice-hello-1-2.noarch.rpm".into(),
        };
        db.set_release_package(project_id, &chroot, &second)
            .await
            .unwrap();
        assert_eq!(
            db.release_package(project_id, &chroot).await.unwrap(),
            Some(second)
        );
    })
    .await;
}

#[tokio::test]
async fn the_directory_lists_and_searches_listed_projects() {
    on_both(|t| async move {
        let db = &t.db;
        let chroots: Vec<ChrootName> = vec!["host-1-x86_64".parse().unwrap()];
        for (owner, name, description, listed) in [
            ("alice", "hello", "Says hello", true),
            ("bob", "tools_x", "Useful 100% tools", true),
            ("@team", "secret", "hello from the team", false),
        ] {
            db.create_project(
                &NewProject {
                    owner: &owner.parse().unwrap(),
                    name: &name.parse().unwrap(),
                    description,
                    instructions: "",
                    chroots: &chroots,
                    build_timeout: 60,
                    retain_older: 0,
                    listed,
                    buildroot: &Default::default(),
                },
                1,
            )
            .await
            .unwrap();
        }
        let names = |found: Vec<koper_db::ProjectRow>| {
            found
                .iter()
                .map(|p| format!("{}/{}", p.owner, p.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(db.search_projects("").await.unwrap()),
            ["alice/hello", "bob/tools_x"],
            "{}",
            t.name
        );
        assert_eq!(
            names(db.search_projects("HELLO").await.unwrap()),
            ["alice/hello"]
        );
        assert_eq!(
            names(db.search_projects("bob/").await.unwrap()),
            ["bob/tools_x"]
        );
        // LIKE's wildcards are taken literally.
        assert_eq!(
            names(db.search_projects("100%").await.unwrap()),
            ["bob/tools_x"]
        );
        assert!(db.search_projects("s_x").await.unwrap().len() == 1);
        assert!(db.search_projects("o_h").await.unwrap().is_empty());
        assert!(db.search_projects("secret").await.unwrap().is_empty());
    })
    .await;
}
