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
