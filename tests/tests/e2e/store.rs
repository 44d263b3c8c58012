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

/// Two uploads to one case at once: each read the case's requirements before the other's
/// outcome was written, and each marks its own document received. Both marks stay, in the
/// requirements' order, whichever commit lands last; a requirement already moved on is not
/// moved back. (Before, each outcome wrote the whole list as it had read it, and the last
/// commit undid the other's mark.) On the suite's store: SQLite's and PostgreSQL's JSON differ.
#[tokio::test]
async fn two_uploads_at_once_each_keep_their_requirement_received() {
    use panelgate::model::{CaseKind, CaseStatus, Requirement, RequirementKind, RequirementStatus};
    use panelgate::store::CaseChange;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&store_url(dir.path()).await, Durability::Full)
        .await
        .unwrap();
    let requirement = |code: &str, status| Requirement {
        code: code.into(),
        name: format!("document {code}"),
        kind: RequirementKind::Document,
        status,
        due: None,
    };
    store
        .commit(Commit {
            cases: vec![CaseChange {
                case_id: "case-1".into(),
                create: Some(("A03".into(), CaseKind::Policy, None, None)),
                status: Some(CaseStatus::PendingDocuments),
                requirements: Some(vec![
                    requirement("A", RequirementStatus::Requested),
                    requirement("B", RequirementStatus::Requested),
                    requirement("C", RequirementStatus::Waived),
                ]),
                source: "accept".into(),
                ..CaseChange::default()
            }],
            ..Commit::default()
        })
        .await
        .unwrap();
    // Marks as each upload made them from the same read; the last one also (wrongly, as a stale
    // read would) asks to waive `C`, which is not `requested` any more and must stay as it is.
    let upload = |marks: Vec<(String, RequirementStatus)>| Commit {
        cases: vec![CaseChange {
            case_id: "case-1".into(),
            requirement_marks: marks,
            source: "upload".into(),
            ..CaseChange::default()
        }],
        ..Commit::default()
    };
    store
        .commit(upload(vec![("A".into(), RequirementStatus::Received)]))
        .await
        .unwrap();
    store
        .commit(upload(vec![
            ("B".into(), RequirementStatus::Received),
            ("C".into(), RequirementStatus::Received),
        ]))
        .await
        .unwrap();
    let case = store.case("A03", "case-1").await.unwrap().expect("the case");
    let statuses: Vec<(String, RequirementStatus)> = case
        .requirements
        .iter()
        .map(|r| (r.code.clone(), r.status.clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("A".to_string(), RequirementStatus::Received),
            ("B".to_string(), RequirementStatus::Received),
            ("C".to_string(), RequirementStatus::Waived),
        ]
    );
    assert_eq!(
        case.requirements[0].name, "document A",
        "the rest of each entry is kept"
    );
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

/// On PostgreSQL, a group commit whose `COMMIT` the server took, though its answer never came
/// back (the connection lost between), is found landed: its caller hears success and nothing is
/// written twice. A keyed state change so recorded goes on to call its partner, rather than
/// finding its own claim in flight. A `COMMIT` the server never got is not taken for landed.
/// (The fault is PostgreSQL's alone: SQLite commits in the host's own process.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_was_lost_is_found_landed() {
    use panelgate::store::{KeyClaim, KeyState, PendingOperation};
    use panelgate_tests::pg_proxy::Cut;

    let (store, cutter) = behind_a_cutter().await;

    // A keyed accept recorded in flight, its claim in the same commit.
    let op = PendingOperation {
        journal_id: "lost-ack-op".into(),
        panel: "A03".into(),
        operation: "accept".into(),
        case_id: None,
        opens: None,
        idempotency: Some(("accept:A03".into(), "lost-ack-key".into())),
        request: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        started_at: panelgate::store::now(),
        state: "running".into(),
    };
    let claim = KeyClaim {
        scope: "accept:A03".into(),
        key: "lost-ack-key".into(),
        request_hash: "h-1".into(),
        claimed_by: "lost-ack-request".into(),
    };
    cutter.arm("lost-ack-key", Cut::AfterCommit);
    let begun = store.begin_pending(&op, Some(&claim)).await;
    assert_eq!(cutter.cuts(), 1, "the COMMIT was not cut");
    assert!(matches!(begun, Ok(KeyState::Fresh)), "{begun:?}");
    let running = store.pending("running").await.unwrap();
    assert_eq!(running.len(), 1, "{running:?}");

    // A commit of journal entries: landed once.
    cutter.arm("lost-ack-entry", Cut::AfterCommit);
    let committed = store.commit(commit(&["lost-ack-entry".into()])).await;
    assert_eq!(cutter.cuts(), 2, "the COMMIT was not cut");
    assert!(committed.is_ok(), "{committed:?}");

    // A COMMIT the server never got: the caller hears the fault, nothing landed, and its retry
    // lands once.
    cutter.arm("cut-before", Cut::BeforeCommit);
    let refused = store.commit(commit(&["cut-before".into()])).await;
    assert_eq!(cutter.cuts(), 3, "the COMMIT was not cut");
    assert!(matches!(&refused, Err(e) if e.is_transient()), "{refused:?}");
    assert!(!journal_ids(&store).await.contains(&"cut-before".to_string()));
    store.commit(commit(&["cut-before".into()])).await.unwrap();

    let ids = journal_ids(&store).await;
    for id in ["lost-ack-entry", "cut-before"] {
        assert_eq!(ids.iter().filter(|i| *i == id).count(), 1, "{id}: {ids:?}");
    }
    assert_eq!(store.verify_journal().await.unwrap(), None);
}

/// A store on a fresh PostgreSQL database, reached through a [`CommitCutter`].
async fn behind_a_cutter() -> (Store, panelgate_tests::pg_proxy::CommitCutter) {
    let mut url = url::Url::parse(&crate::common::fresh_postgres().await).unwrap();
    let server = url.socket_addrs(|| Some(5432)).unwrap()[0];
    let cutter = panelgate_tests::pg_proxy::CommitCutter::start(server)
        .await
        .unwrap();
    url.set_ip_host(cutter.addr().ip()).unwrap();
    url.set_port(Some(cutter.addr().port())).unwrap();
    // In the clear, so that the proxy reads what the host sends.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    (Store::open(url.as_str(), Durability::Full).await.unwrap(), cutter)
}

/// As above, but whether the cut `COMMIT` landed cannot be learnt (every question about it is
/// cut too, so after 5 s the writer cannot tell). A state change's record, keyed or not, is
/// found as its own and goes on (rather than failing, answering `409` in flight to its own
/// retry, and being marked in doubt later though the partner was never called). An outcome's
/// commit fails, and its retry (the host keeps an outcome and tries again) finds its operation
/// no longer running and writes nothing twice (`Settled`, which the host takes as settled
/// already).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_landing_cannot_be_learnt_meets_its_own_rows() {
    use panelgate::store::{KeyClaim, KeyState, PendingOperation, StoreError};
    use panelgate_tests::pg_proxy::Cut;

    let (store, cutter) = behind_a_cutter().await;
    cutter.hide_outcomes(true);
    let op = |id: &str, key: Option<&str>| PendingOperation {
        journal_id: id.into(),
        panel: "A03".into(),
        operation: "accept".into(),
        case_id: None,
        opens: None,
        idempotency: key.map(|k| ("accept:A03".into(), k.into())),
        request: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
        started_at: panelgate::store::now(),
        state: "running".into(),
    };
    let claim = KeyClaim {
        scope: "accept:A03".into(),
        key: "unknowable-key".into(),
        request_hash: "h-1".into(),
        claimed_by: "unknowable-request".into(),
    };
    cutter.arm("unknowable-key", Cut::AfterCommit);
    let begun = store
        .begin_pending(&op("keyed-op", Some("unknowable-key")), Some(&claim))
        .await;
    assert_eq!(cutter.cuts(), 1, "the COMMIT was not cut");
    assert!(matches!(begun, Ok(KeyState::Fresh)), "{begun:?}");

    cutter.arm("unkeyed-op", Cut::AfterCommit);
    let begun = store.begin_pending(&op("unkeyed-op", None), None).await;
    assert_eq!(cutter.cuts(), 2, "the COMMIT was not cut");
    assert!(matches!(begun, Ok(KeyState::Fresh)), "{begun:?}");
    let running = store.pending("running").await.unwrap();
    assert_eq!(running.len(), 2, "{running:?}");

    cutter.arm("unkeyed-op", Cut::AfterCommit);
    let settled = store
        .commit(Commit {
            settles: Some("unkeyed-op".into()),
            ..commit(&["unkeyed-op".into()])
        })
        .await;
    assert_eq!(cutter.cuts(), 3, "the COMMIT was not cut");
    assert!(matches!(&settled, Err(e) if e.is_transient()), "{settled:?}");
    let again = store
        .commit(Commit {
            settles: Some("unkeyed-op".into()),
            ..commit(&["unkeyed-op".into()])
        })
        .await;
    assert!(
        matches!(&again, Err(StoreError::Settled(id)) if id == "unkeyed-op"),
        "{again:?}"
    );
    let running = store.pending("running").await.unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    let ids = journal_ids(&store).await;
    assert_eq!(ids.iter().filter(|i| *i == "unkeyed-op").count(), 1, "{ids:?}");
    assert_eq!(store.verify_journal().await.unwrap(), None);
}

async fn journal_ids(store: &Store) -> Vec<String> {
    let rows = store.journal(None, 100, None).await.unwrap();
    rows.into_iter().map(|row| row.id).collect()
}
