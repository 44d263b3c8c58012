//! The store's group commit: commits arriving together share a transaction, yet each one
//! succeeds or fails on its own.

use panelgate::config::Durability;
use panelgate::store::{Commit, JournalEntry, Store};
use serde_json::json;

use crate::common::store_url;

fn entry(id: &str) -> JournalEntry {
    JournalEntry {
        id: id.into(),
        panel: Some("A03".into()),
        operation: "quote".into(),
        kind: "portal",
        case_id: None,
        outcome: "ok".into(),
        detail: json!({ "request": { "product": "01" } }).to_string(),
    }
}

fn commit(ids: &[String]) -> Commit {
    Commit {
        journal: ids.iter().map(|id| entry(id)).collect(),
        ..Commit::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        Store::open(&store_url(dir.path()).await, Durability::Full)
            .await
            .unwrap(),
    );
    store.commit(commit(&["first".into()])).await.unwrap();

    // 64 commits at once; one of them reuses a journal id, which the database refuses.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let own = format!("c{i}-a");
            let ids = if i == 40 {
                vec![own, "first".into()]
            } else {
                vec![own]
            };
            store
                .commit(commit(&ids))
                .await
                .map(drop)
                .map_err(|e| (i, e.to_string()))
        }));
    }
    let mut failed = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.unwrap() {
            failed.push(e);
        }
    }
    assert_eq!(failed.len(), 1, "exactly the one bad commit fails: {failed:?}");
    assert_eq!(failed[0].0, 40);

    // Its own other entry is not half-written; every other commit is there, and the chain holds.
    let journal = store.journal(None, 1000, None).await.unwrap();
    let ids: std::collections::BTreeSet<String> = journal.iter().map(|row| row.id.clone()).collect();
    assert_eq!(journal.len(), 64, "the first entry and 63 good commits");
    assert!(!ids.contains("c40-a"), "the failed commit left nothing");
    assert!(
        (0..64)
            .filter(|i| *i != 40)
            .all(|i| ids.contains(&format!("c{i}-a")))
    );
    assert_eq!(store.verify_journal().await.unwrap(), None);
}
