//! Repository locks: on PostgreSQL a second writer waits for the first,
//! whichever connection (server process) it comes from.

use std::time::Duration;

use crate::harness::on_both;

#[tokio::test]
async fn a_second_repo_writer_waits_for_the_first() {
    on_both(|t| async move {
        let db = t.db.clone();
        let first = db.lock_repo(7, "fedora-42-x86_64").await.unwrap();
        // Another repository is not held up.
        let other = db.lock_repo(7, "fedora-42-aarch64").await.unwrap();
        other.release().await.unwrap();
        let second = tokio::spawn({
            let db = db.clone();
            async move { db.lock_repo(7, "fedora-42-x86_64").await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        if t.name == "postgres" {
            assert!(!second.is_finished(), "the second writer got in too early");
        }
        first.release().await.unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second writer gets in once the first is done")
            .unwrap();
        second.release().await.unwrap();
        // A lock dropped without release (a failed publish) frees the
        // repository too.
        drop(db.lock_repo(7, "fedora-42-x86_64").await.unwrap());
        tokio::time::timeout(Duration::from_secs(10), db.lock_repo(7, "fedora-42-x86_64"))
            .await
            .expect("a dropped lock is released")
            .unwrap()
            .release()
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_tasks_publish_is_claimed_by_one_server_process_at_a_time() {
    on_both(|t| async move {
        let db = t.db.clone();
        let first = db.try_claim_publish(7).await.unwrap().expect("unclaimed");
        let other_task = db.try_claim_publish(8).await.unwrap();
        assert!(other_task.is_some(), "another task is not held up");
        if t.name == "postgres" {
            assert!(
                db.try_claim_publish(7).await.unwrap().is_none(),
                "a second claim while the first holds"
            );
        }
        first.release().await.unwrap();
        let again = db.try_claim_publish(7).await.unwrap();
        assert!(again.is_some(), "free once released");
        // A publisher that dies drops its claim: the next may take it.
        drop(again);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(db.try_claim_publish(7).await.unwrap().is_some());
    })
    .await;
}
