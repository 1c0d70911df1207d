use koper_db::{DbError, PendingOidcLogin};

use crate::harness::on_both;

#[tokio::test]
async fn a_pending_oidc_login_is_taken_once_and_not_after_expiry() {
    on_both(|t| async move {
        let db = &t.db;
        let pending = PendingOidcLogin {
            nonce: "n-1".into(),
            pkce_verifier: "v-1".into(),
            next_path: "/coprs/new".into(),
        };
        db.create_oidc_login("state-1", &pending, 100, 700)
            .await
            .unwrap();
        assert!(
            matches!(
                db.create_oidc_login("state-1", &pending, 100, 700).await,
                Err(DbError::Conflict)
            ),
            "{}",
            t.name
        );
        assert_eq!(db.take_oidc_login("state-2", 150).await.unwrap(), None);
        assert_eq!(
            db.take_oidc_login("state-1", 150).await.unwrap(),
            Some(pending.clone())
        );
        assert_eq!(
            db.take_oidc_login("state-1", 150).await.unwrap(),
            None,
            "a state is used once"
        );

        db.create_oidc_login("state-3", &pending, 100, 700)
            .await
            .unwrap();
        assert_eq!(
            db.take_oidc_login("state-3", 700).await.unwrap(),
            None,
            "expired"
        );
        // Expired ones are forgotten when the next sign-in starts.
        db.create_oidc_login("state-4", &pending, 100, 200)
            .await
            .unwrap();
        db.create_oidc_login("state-5", &pending, 300, 900)
            .await
            .unwrap();
        assert_eq!(db.take_oidc_login("state-4", 150).await.unwrap(), None);
        assert!(db.take_oidc_login("state-5", 300).await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn provider_accounts_link_to_local_accounts_by_subject() {
    on_both(|t| async move {
        let db = &t.db;
        let issuer = "https://id.example.org";
        let carol = db
            .create_user_with_identity(&"carol".parse().unwrap(), issuer, "sub-c", 10)
            .await
            .unwrap();
        assert_eq!(carol.api_login, "carol", "{}", t.name);
        assert!(!carol.is_admin);
        assert_eq!(
            db.user_of_identity(issuer, "sub-c").await.unwrap(),
            Some(carol.clone())
        );
        assert_eq!(
            db.user_of_identity("https://other.example.org", "sub-c")
                .await
                .unwrap(),
            None
        );

        // A taken name, or a provider account already linked: neither the
        // account nor the link is made.
        db.create_user(&"alice".parse().unwrap(), false, 10)
            .await
            .unwrap();
        assert!(matches!(
            db.create_user_with_identity(&"alice".parse().unwrap(), issuer, "sub-a", 11)
                .await,
            Err(DbError::Conflict)
        ));
        assert_eq!(db.user_of_identity(issuer, "sub-a").await.unwrap(), None);
        assert!(matches!(
            db.create_user_with_identity(&"dora".parse().unwrap(), issuer, "sub-c", 11)
                .await,
            Err(DbError::Conflict)
        ));
        assert_eq!(db.find_user("dora").await.unwrap(), None, "{}", t.name);

        assert_eq!(db.delete_user_identities(carol.id).await.unwrap(), 1);
        assert_eq!(db.user_of_identity(issuer, "sub-c").await.unwrap(), None);
        assert_eq!(db.find_user("carol").await.unwrap(), Some(carol));
    })
    .await;
}
