use koper_db::{BuildrootSettings, DbError, NewProject};
use koper_types::ChrootName;

use crate::harness::on_both;

#[tokio::test]
async fn projects_are_unique_per_owner() {
    on_both(|t| async move {
        let db = &t.db;
        let chroots: Vec<ChrootName> = vec![
            "host-1-x86_64".parse().unwrap(),
            "fedora-42-x86_64".parse().unwrap(),
        ];
        let alice = "alice".parse().unwrap();
        let bob = "bob".parse().unwrap();
        let hello = "hello".parse().unwrap();
        let new = NewProject {
            owner: &alice,
            name: &hello,
            description: "greets",
            instructions: "sudo dnf install hello\nthen: hello",
            chroots: &chroots,
            build_timeout: 18000,
            retain_older: 0,
            listed: true,
            buildroot: &Default::default(),
        };
        let created = db.create_project(&new, 5).await.unwrap();
        assert_eq!(
            created.chroots[0].as_str(),
            "fedora-42-x86_64",
            "{}",
            t.name
        );
        assert!(matches!(
            db.create_project(&new, 6).await,
            Err(DbError::Conflict)
        ));
        db.create_project(
            &NewProject {
                owner: &bob,
                ..new.clone()
            },
            7,
        )
        .await
        .unwrap();

        let found = db.find_project(&alice, &hello).await.unwrap().unwrap();
        assert_eq!(found, created);
        assert_eq!(found.instructions, "sudo dnf install hello\nthen: hello");
        assert_eq!(
            db.project_by_id(created.id).await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(db.list_projects(None).await.unwrap().len(), 2);
        let mine = db.list_projects(Some(&alice)).await.unwrap();
        assert_eq!(mine, vec![created.clone()]);

        // New repos start dirty so the server creates their empty repodata.
        assert_eq!(db.dirty_repos().await.unwrap().len(), 4);
        for chroot in &chroots {
            db.set_repo_dirty(created.id, chroot, false).await.unwrap();
        }
        assert_eq!(db.dirty_repos().await.unwrap().len(), 2);

        // Text fields change one by one; `None` keeps what is there.
        db.update_project_text(created.id, None, Some("run `hello`"), None)
            .await
            .unwrap();
        let changed = db.project_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(
            (changed.description.as_str(), changed.instructions.as_str()),
            ("greets", "run `hello`"),
            "{}",
            t.name
        );
        db.update_project_text(created.id, Some("hi"), None, Some(false))
            .await
            .unwrap();
        let changed = db.project_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(
            (
                changed.description.as_str(),
                changed.instructions.as_str(),
                changed.listed
            ),
            ("hi", "run `hello`", false)
        );
    })
    .await;
}

#[tokio::test]
async fn buildroot_settings_are_kept_per_project_and_chroot() {
    on_both(|t| async move {
        let db = &t.db;
        let chroots: Vec<ChrootName> = vec!["host-1-x86_64".parse().unwrap()];
        let settings = BuildrootSettings {
            additional_repos: vec![
                "copr://alice/stable".into(),
                "https://example.org/$releasever/$basearch/".into(),
            ],
            enable_net: true,
            repo_priority: Some(5),
        };
        let created = db
            .create_project(
                &NewProject {
                    owner: &"alice".parse().unwrap(),
                    name: &"testing".parse().unwrap(),
                    description: "",
                    instructions: "",
                    chroots: &chroots,
                    build_timeout: 60,
                    retain_older: 0,
                    listed: true,
                    buildroot: &settings,
                },
                1,
            )
            .await
            .unwrap();
        assert_eq!(created.buildroot, settings, "{}", t.name);
        let cleared = BuildrootSettings::default();
        db.set_buildroot_settings(created.id, &cleared)
            .await
            .unwrap();
        let found = db.project_by_id(created.id).await.unwrap().unwrap();
        assert_eq!(found.buildroot, cleared);

        let chroot = &chroots[0];
        assert_eq!(
            db.chroot_buildroot_packages(created.id, chroot)
                .await
                .unwrap(),
            Some(vec![])
        );
        let packages = vec!["make".to_owned(), "libfoo-devel".to_owned()];
        assert!(
            db.set_chroot_buildroot_packages(created.id, chroot, &packages)
                .await
                .unwrap()
        );
        assert_eq!(
            db.chroot_buildroot_packages(created.id, chroot)
                .await
                .unwrap(),
            Some(packages.clone())
        );
        let other: ChrootName = "fedora-42-x86_64".parse().unwrap();
        assert!(
            !db.set_chroot_buildroot_packages(created.id, &other, &packages)
                .await
                .unwrap()
        );
        assert_eq!(
            db.chroot_buildroot_packages(created.id, &other)
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn chroot_sets_change_and_projects_can_be_deleted() {
    on_both(|t| async move {
        let db = &t.db;
        let c = |s: &str| s.parse::<ChrootName>().unwrap();
        let (alice, hello) = ("alice".parse().unwrap(), "hello".parse().unwrap());
        let project = db
            .create_project(
                &NewProject {
                    owner: &alice,
                    name: &hello,
                    description: "",
                    instructions: "",
                    chroots: &[c("fedora-42-x86_64"), c("epel-9-x86_64")],
                    build_timeout: 60,
                    retain_older: 0,
                    listed: true,
                    buildroot: &BuildrootSettings::default(),
                },
                1,
            )
            .await
            .unwrap();
        for chroot in &project.chroots {
            db.set_repo_dirty(project.id, chroot, false).await.unwrap();
        }
        db.set_project_chroots(project.id, &[c("fedora-42-x86_64"), c("fedora-43-x86_64")])
            .await
            .unwrap();
        let changed = db.project_by_id(project.id).await.unwrap().unwrap();
        assert_eq!(
            changed.chroots,
            vec![c("fedora-42-x86_64"), c("fedora-43-x86_64")],
            "{}",
            t.name
        );
        // Only the new chroot needs its empty repo made.
        assert_eq!(
            db.dirty_repos().await.unwrap(),
            vec![(project.id, c("fedora-43-x86_64"))],
            "{}",
            t.name
        );

        db.delete_project(project.id).await.unwrap();
        assert_eq!(db.find_project(&alice, &hello).await.unwrap(), None);
        assert!(db.dirty_repos().await.unwrap().is_empty(), "{}", t.name);
    })
    .await;
}

#[tokio::test]
async fn chroot_refreshes_count_up_per_chroot() {
    on_both(|t| async move {
        let db = &t.db;
        let host: ChrootName = "host-1-x86_64".parse().unwrap();
        let fedora: ChrootName = "fedora-42-x86_64".parse().unwrap();
        assert_eq!(db.chroot_refresh(&host).await.unwrap(), 0, "{}", t.name);
        assert_eq!(db.refresh_chroot(&host).await.unwrap(), 1);
        assert_eq!(db.refresh_chroot(&host).await.unwrap(), 2);
        assert_eq!(db.chroot_refresh(&host).await.unwrap(), 2);
        assert_eq!(db.chroot_refresh(&fedora).await.unwrap(), 0);
    })
    .await;
}
