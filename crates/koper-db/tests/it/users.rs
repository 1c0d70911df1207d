use koper_db::{DbError, TokenMatch};

use crate::harness::on_both;

#[tokio::test]
async fn users_and_tokens() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = db
            .create_user(&"alice".parse().unwrap(), false, 100)
            .await
            .unwrap();
        assert_eq!(alice.api_login, "alice");
        assert!(
            matches!(
                db.create_user(&"alice".parse().unwrap(), false, 100).await,
                Err(DbError::Conflict)
            ),
            "{}",
            t.name
        );
        db.add_api_token(alice.id, "hash-a", Some(200), 100)
            .await
            .unwrap();
        db.add_api_token(alice.id, "hash-b", None, 100)
            .await
            .unwrap();
        assert_eq!(
            db.match_api_token("hash-a", 150).await.unwrap(),
            TokenMatch::Valid(alice.clone())
        );
        assert_eq!(
            db.match_api_token("hash-a", 200).await.unwrap(),
            TokenMatch::Expired(alice.clone())
        );
        assert_eq!(
            db.match_api_token("hash-b", 10_000).await.unwrap(),
            TokenMatch::Valid(alice.clone())
        );
        assert_eq!(
            db.match_api_token("nope", 150).await.unwrap(),
            TokenMatch::Unknown
        );
        assert_eq!(db.find_user("alice").await.unwrap(), Some(alice.clone()));
        assert_eq!(db.user_by_id(alice.id).await.unwrap(), Some(alice));
        assert_eq!(db.find_user("bob").await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn builder_tokens_are_replaced_on_reregistration() {
    on_both(|t| async move {
        let db = &t.db;
        let first = db.upsert_builder("b1", "old", 1).await.unwrap();
        let again = db.upsert_builder("b1", "new", 2).await.unwrap();
        assert_eq!(first.id, again.id, "{}", t.name);
        assert!(db.builder_by_token("old", 3).await.unwrap().is_none());
        let seen = db.builder_by_token("new", 3).await.unwrap().unwrap();
        assert_eq!(seen.last_seen_on, Some(3));
    })
    .await;
}

#[tokio::test]
async fn passwords_sessions_and_named_tokens() {
    on_both(|t| async move {
        let db = &t.db;
        let alice = db
            .create_user(&"alice".parse().unwrap(), false, 100)
            .await
            .unwrap();
        assert_eq!(
            db.user_with_password("alice").await.unwrap(),
            Some((alice.clone(), None))
        );
        db.set_password_hash(alice.id, Some("$argon2id$x"))
            .await
            .unwrap();
        assert_eq!(
            db.user_with_password("alice").await.unwrap(),
            Some((alice.clone(), Some("$argon2id$x".to_owned())))
        );
        assert!(matches!(
            db.set_password_hash(9999, None).await,
            Err(DbError::NotFound)
        ));

        // Sessions: found while unexpired, gone once ended.
        db.create_session(alice.id, "s1", 100, 200).await.unwrap();
        db.create_session(alice.id, "s2", 100, 300).await.unwrap();
        assert_eq!(
            db.session_user("s1", 150).await.unwrap(),
            Some(alice.clone())
        );
        assert_eq!(
            db.session_user("s1", 200).await.unwrap(),
            None,
            "{}",
            t.name
        );
        assert_eq!(db.delete_expired_sessions(250).await.unwrap(), 1);
        db.delete_session("s2").await.unwrap();
        assert_eq!(db.session_user("s2", 150).await.unwrap(), None);
        db.create_session(alice.id, "s3", 100, 300).await.unwrap();
        db.delete_user_sessions(alice.id).await.unwrap();
        assert_eq!(db.session_user("s3", 150).await.unwrap(), None);

        // Named tokens: listed newest first, revoked one at a time or all.
        let first = db
            .add_labelled_api_token(alice.id, "h1", "laptop", Some(500), 100)
            .await
            .unwrap();
        let second = db
            .add_labelled_api_token(alice.id, "h2", "", None, 110)
            .await
            .unwrap();
        let listed = db.list_api_tokens(alice.id).await.unwrap();
        assert_eq!(
            listed.iter().map(|t| t.id).collect::<Vec<_>>(),
            vec![second, first]
        );
        assert_eq!(listed[1].label, "laptop");
        assert!(db.revoke_api_token(alice.id, first, 120).await.unwrap());
        assert!(!db.revoke_api_token(alice.id, first, 130).await.unwrap());
        assert_eq!(
            db.match_api_token("h1", 150).await.unwrap(),
            TokenMatch::Unknown
        );
        assert_eq!(db.revoke_all_api_tokens(alice.id, 140).await.unwrap(), 1);
        assert_eq!(
            db.match_api_token("h2", 150).await.unwrap(),
            TokenMatch::Unknown
        );
        assert_eq!(
            db.list_api_tokens(alice.id).await.unwrap()[0].revoked_on,
            Some(140)
        );
    })
    .await;
}
