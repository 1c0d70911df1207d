use koper_db::{
    BatchPlacement, DbError, LeaseFilter, MadeSource, NewBuild, NewSource, PackageSourceRow,
};
use koper_types::{BuildState, ChrootName};

use crate::harness::on_both;
use crate::tasks::{lease, project_with_build};

#[tokio::test]
async fn a_source_task_runs_first_and_its_source_rpm_releases_the_chroots() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, _) = project_with_build(db).await;
        // The first build is an upload; take its tasks out of the way.
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let arches = vec!["x86_64".to_owned(), "aarch64".to_owned()];
        while lease(db, builder.id, &arches, "old", 100, 10)
            .await
            .is_some()
        {}

        let chroots: Vec<(ChrootName, String)> = vec![
            ("host-1-x86_64".parse().unwrap(), "x86_64".into()),
            ("host-1-aarch64".parse().unwrap(), "aarch64".into()),
        ];
        let id = db
            .create_build(
                &NewBuild {
                    project_id,
                    submitter_id: None,
                    source_type: "scm",
                    srpm_path: None,
                    srpm_sha256: None,
                    package_name: None,
                    package_version: None,
                    timeout: 60,
                    chroots: &chroots,
                    built_in: &[],
                    srpm_bytes: 0,
                    task_state: BuildState::Pending,
                    priority: 0,
                    batch: BatchPlacement::Alone,
                    source: Some(NewSource {
                        source_json: r#"{"clone_url":"https://x/r.git"}"#,
                        arch: "x86_64",
                    }),
                },
                20,
            )
            .await
            .unwrap();
        let build = db.build_by_id(id).await.unwrap().unwrap();
        assert_eq!(build.source_state, BuildState::Pending, "{}", t.name);
        assert_eq!(build.chroots.len(), 2);
        assert!(build.chroots.iter().all(|c| c.state == BuildState::Waiting));
        assert!(build.package_name.is_none());

        // Only the source task can be leased.
        let task = lease(db, builder.id, &arches, "src", 100, 21)
            .await
            .unwrap();
        assert!(task.chroot.is_source_builds(), "{}", t.name);
        assert!(lease(db, builder.id, &arches, "x", 100, 21).await.is_none());
        let made = MadeSource {
            path: "uploads/y/hello-2-1.src.rpm",
            sha256: "ab",
            bytes: 10,
            package_name: &"hello".parse().unwrap(),
            package_version: "2-1",
            // A noarch package: aarch64 takes what x86_64 builds.
            built_in: &[(chroots[1].0.clone(), chroots[0].0.clone())],
        };
        assert!(db.source_made(id, &made).await.unwrap());
        assert!(!db.source_made(id, &made).await.unwrap(), "only once");
        let build = db.build_by_id(id).await.unwrap().unwrap();
        assert_eq!(build.package_version.as_deref(), Some("2-1"));
        let of = |name: &ChrootName| build.chroots.iter().find(|c| &c.chroot == name).unwrap();
        let (x86, arm) = (of(&chroots[0].0), of(&chroots[1].0));
        assert_eq!((x86.state, x86.built_in), (BuildState::Pending, None));
        assert_eq!(
            (arm.state, arm.built_in),
            (BuildState::Waiting, Some(x86.id))
        );
        let leased = lease(db, builder.id, &arches, "y", 100, 22).await.unwrap();
        assert_eq!(leased.id, x86.id, "{}", t.name);
        assert!(lease(db, builder.id, &arches, "z", 100, 22).await.is_none());

        // A listing keeps the source task apart too.
        let listed = db.list_builds(project_id, 10, 0).await.unwrap();
        let listed = listed.iter().find(|b| b.id == id).unwrap();
        assert_eq!(listed.chroots.len(), 2);
        assert_eq!(listed.source_task.as_ref().map(|s| s.id), Some(task.id));
    })
    .await;
}

#[tokio::test]
async fn spec_source_tasks_go_only_to_builders_that_make_them() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, _) = project_with_build(db).await;
        let builder = db.upsert_builder("b", "tok", 1).await.unwrap();
        let arches = vec!["x86_64".to_owned(), "aarch64".to_owned()];
        while lease(db, builder.id, &arches, "old", 100, 10)
            .await
            .is_some()
        {}
        let chroots: Vec<(ChrootName, String)> =
            vec![("host-1-x86_64".parse().unwrap(), "x86_64".into())];
        db.create_build(
            &NewBuild {
                project_id,
                submitter_id: None,
                source_type: "link",
                srpm_path: None,
                srpm_sha256: None,
                package_name: None,
                package_version: None,
                timeout: 60,
                chroots: &chroots,
                built_in: &[],
                srpm_bytes: 0,
                task_state: BuildState::Pending,
                priority: 0,
                batch: BatchPlacement::Alone,
                source: Some(NewSource {
                    source_json: r#"{"url":"http://x/h.spec","file_name":"h.spec","content":"Name: h"}"#,
                    arch: "x86_64",
                }),
            },
            20,
        )
        .await
        .unwrap();
        let older = LeaseFilter {
            arches: &arches,
            excluded_chroots: &[],
            spec_builds: false,
            now: 21,
        };
        assert!(
            db.lease_next_task(builder.id, &older, "v3", 100, None)
                .await
                .unwrap()
                .is_none(),
            "{}",
            t.name
        );
        let newer = LeaseFilter {
            spec_builds: true,
            ..older
        };
        let task = db
            .lease_next_task(builder.id, &newer, "v4", 100, None)
            .await
            .unwrap()
            .unwrap();
        assert!(task.chroot.is_source_builds(), "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn packages_are_added_once_edited_listed_and_deleted() {
    on_both(|t| async move {
        let db = &t.db;
        let (project_id, _) = project_with_build(db).await;
        let name = "hello".parse().unwrap();
        let scm = PackageSourceRow {
            source_type: "scm",
            source_json: r#"{"clone_url":"https://x/r.git"}"#,
            webhook_rebuild: false,
        };
        let added = db.add_package(project_id, &name, &scm, 5).await.unwrap();
        assert_eq!(added.source_type, "scm", "{}", t.name);
        assert!(matches!(
            db.add_package(project_id, &name, &scm, 6).await,
            Err(DbError::Conflict)
        ));
        let link = PackageSourceRow {
            source_type: "link",
            source_json: r#"{"url":"https://x/a.src.rpm"}"#,
            webhook_rebuild: true,
        };
        let edited = db.edit_package(project_id, &name, &link).await.unwrap();
        assert_eq!(edited.id, added.id);
        assert!(edited.webhook_rebuild);
        assert!(matches!(
            db.edit_package(project_id, &"other".parse().unwrap(), &link)
                .await,
            Err(DbError::NotFound)
        ));
        assert_eq!(db.list_packages(project_id).await.unwrap(), vec![edited]);
        assert!(db.delete_package(project_id, &name).await.unwrap());
        assert!(!db.delete_package(project_id, &name).await.unwrap());
        assert!(db.package(project_id, &name).await.unwrap().is_none());
    })
    .await;
}
