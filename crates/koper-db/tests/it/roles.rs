use koper_db::{DbError, NewProject, RoleChange};
use koper_types::{ChrootName, RoleState, Roles};

use crate::harness::on_both;

#[tokio::test]
async fn groups_keep_members_and_admins() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = db
            .create_user(&"alice".parse().unwrap(), false, 1)
            .await
            .unwrap();
        let bob = db
            .create_user(&"bob".parse().unwrap(), false, 1)
            .await
            .unwrap();

        let kde = db.create_group("kde", alice.id, 2).await.unwrap();
        assert!(
            matches!(
                db.create_group("kde", bob.id, 3).await,
                Err(DbError::Conflict)
            ),
            "{}",
            t.name
        );
        assert_eq!(
            db.group_membership("kde", alice.id).await.unwrap(),
            Some(true)
        );
        assert_eq!(db.group_membership("kde", bob.id).await.unwrap(), None);

        db.set_group_member(kde.id, bob.id, false).await.unwrap();
        assert_eq!(
            db.group_membership("kde", bob.id).await.unwrap(),
            Some(false)
        );
        db.set_group_member(kde.id, bob.id, true).await.unwrap();
        let members = db.group_members(kde.id).await.unwrap();
        let names: Vec<_> = members
            .iter()
            .map(|m| (m.user.name.as_str(), m.is_admin))
            .collect();
        assert_eq!(names, [("alice", true), ("bob", true)]);
        assert_eq!(db.groups_of(bob.id).await.unwrap(), [(kde.clone(), true)]);

        assert!(db.remove_group_member(kde.id, bob.id).await.unwrap());
        assert!(!db.remove_group_member(kde.id, bob.id).await.unwrap());
        assert_eq!(db.find_group("kde").await.unwrap(), Some(kde));
        assert_eq!(db.list_groups().await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn role_changes_apply_all_at_once_and_keep_what_they_leave_alone() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = db
            .create_user(&"alice".parse().unwrap(), false, 1)
            .await
            .unwrap();
        let bob = db
            .create_user(&"bob".parse().unwrap(), false, 1)
            .await
            .unwrap();
        let carol = db
            .create_user(&"carol".parse().unwrap(), false, 1)
            .await
            .unwrap();
        let chroots: Vec<ChrootName> = vec!["fedora-42-x86_64".parse().unwrap()];
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
                2,
            )
            .await
            .unwrap();
        assert_eq!(
            db.roles_of(project.id, bob.id).await.unwrap(),
            Roles::default()
        );

        db.change_roles(
            project.id,
            &[RoleChange {
                user_id: bob.id,
                builder: Some(RoleState::Requested),
                admin: None,
            }],
            3,
        )
        .await
        .unwrap();
        db.change_roles(
            project.id,
            &[
                RoleChange {
                    user_id: bob.id,
                    builder: None,
                    admin: Some(RoleState::Approved),
                },
                RoleChange {
                    user_id: carol.id,
                    builder: Some(RoleState::Approved),
                    admin: None,
                },
            ],
            4,
        )
        .await
        .unwrap();
        assert_eq!(
            db.roles_of(project.id, bob.id).await.unwrap(),
            Roles {
                builder: RoleState::Requested,
                admin: RoleState::Approved
            },
            "{}",
            t.name
        );
        let listed: Vec<_> = db
            .project_roles(project.id)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.user_name, row.roles.builder, row.roles.admin))
            .collect();
        assert_eq!(
            listed,
            [
                ("bob".to_owned(), RoleState::Requested, RoleState::Approved),
                ("carol".to_owned(), RoleState::Approved, RoleState::Nothing),
            ]
        );

        // A change naming a user who does not exist fails as a whole.
        let refused = db
            .change_roles(
                project.id,
                &[
                    RoleChange {
                        user_id: carol.id,
                        builder: Some(RoleState::Nothing),
                        admin: None,
                    },
                    RoleChange {
                        user_id: 999_999,
                        builder: Some(RoleState::Approved),
                        admin: None,
                    },
                ],
                5,
            )
            .await;
        assert!(refused.is_err(), "{}", t.name);
        assert_eq!(
            db.roles_of(project.id, carol.id).await.unwrap().builder,
            RoleState::Approved,
            "{}",
            t.name
        );

        // Roles go with the project.
        db.delete_project(project.id).await.unwrap();
        assert_eq!(
            db.roles_of(project.id, bob.id).await.unwrap(),
            Roles::default()
        );
        let _ = alice;
    })
    .await;
}
