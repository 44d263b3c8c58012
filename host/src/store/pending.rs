//! Operations in flight and in doubt: recorded before the partner is asked, settled by the commit
//! of their outcome, by reconciliation or by an operator.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::{Commit, KeyClaim, KeyState, Result, Store, parse_json};

/// A state-changing operation about to ask the partner.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingOperation {
    pub journal_id: String,
    pub panel: String,
    pub operation: String,
    pub case_id: Option<String>,
    /// `{kind, product, parent}` when the operation opens the case.
    #[schema(value_type = Option<Object>)]
    pub opens: Option<serde_json::Value>,
    pub idempotency: Option<(String, String)>,
    #[schema(value_type = Object)]
    pub request: Box<serde_json::value::RawValue>,
    pub started_at: String,
    /// `running`, or `unknown` once recovery found the host had died in it.
    pub state: String,
}

/// How an operation in doubt was settled, as a [`Commit`] writes it.
#[derive(Debug, Clone)]
pub struct SettledUnknown {
    pub journal_id: String,
    /// The operation's key and its new answer, if it had a key.
    pub key: Option<SettledKey>,
}

/// An idempotency key's new answer `(status, body)`; no answer releases the key, so that a
/// retry with it runs the operation again.
#[derive(Debug, Clone)]
pub struct SettledKey {
    pub scope: String,
    pub key: String,
    pub answer: Option<(u16, String)>,
}

impl Store {
    /// Records a state-changing operation before its adapter asks the partner, claiming its
    /// idempotency key in the same commit when it has one (`claim`): one commit and one sync
    /// for both. When another request holds the key, nothing is recorded and the key's state
    /// says what holds it.
    pub async fn begin_pending(&self, op: &PendingOperation, claim: Option<&KeyClaim>) -> Result<KeyState> {
        let begins = || Commit {
            begins: Some(op.clone()),
            ..Commit::default()
        };
        match claim {
            Some(claim) => self.commit_claiming(claim, begins).await,
            None => match self.commit(begins()).await {
                Ok(_) => Ok(KeyState::Fresh),
                // Its commit landed though the answer to its `COMMIT` was lost and could not be
                // checked (PostgreSQL), and was written again: it met its own record, which no
                // other commit writes (the journal id is this operation's own).
                Err(e)
                    if e.is_transient()
                        && self
                            .pending_operation(&op.journal_id)
                            .await
                            .is_ok_and(|found| found.is_some_and(|op| op.state == "running")) =>
                {
                    Ok(KeyState::Fresh)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// The in-flight record of the operation `journal_id` (`running` or `unknown`); `None` once
    /// its operation was settled.
    pub async fn pending_operation(&self, journal_id: &str) -> Result<Option<PendingOperation>> {
        sqlx::query("SELECT * FROM pending WHERE journal_id = $1")
            .bind(journal_id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(operation)
            .transpose()
    }

    /// Operations with the given state (`running` or `unknown`), oldest first.
    pub async fn pending(&self, state: &str) -> Result<Vec<PendingOperation>> {
        let rows = sqlx::query("SELECT * FROM pending WHERE state = $1 ORDER BY started_at")
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(operation).collect()
    }
}

/// An in-flight record as read.
fn operation(r: &sqlx::any::AnyRow) -> Result<PendingOperation> {
    fn json<T: DeserializeOwned>(r: &sqlx::any::AnyRow, col: &str) -> Result<Option<T>> {
        r.get::<Option<String>, _>(col)
            .map(|t| parse_json(&t))
            .transpose()
    }
    Ok(PendingOperation {
        journal_id: r.get("journal_id"),
        panel: r.get("panel"),
        operation: r.get("operation"),
        case_id: r.get("case_id"),
        opens: json(r, "opens")?,
        idempotency: r
            .get::<Option<String>, _>("idem_scope")
            .zip(r.get::<Option<String>, _>("idem_key")),
        request: json(r, "request")?.unwrap_or_default(),
        started_at: r.get("started_at"),
        state: r.get("state"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaseStatus;
    use crate::store::{CaseChange, JournalEntry, StoreError};

    /// An operation's outcome that finds its record marked in doubt meanwhile (a sweep took it
    /// for one whose host died, and opened its case as `unknown`) writes nothing and says so:
    /// `Settled`, a fault of the data, rather than the case's or the journal id's duplicate,
    /// which read as a fault of the moment and was tried again forever.
    #[tokio::test]
    async fn an_outcome_of_an_operation_marked_in_doubt_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url, crate::config::Durability::Full).await.unwrap();
        let op = PendingOperation {
            journal_id: "op-1".into(),
            panel: "A03".into(),
            operation: "accept".into(),
            case_id: None,
            opens: Some(serde_json::json!({ "case_id": "case-1", "kind": "policy" })),
            idempotency: None,
            request: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
            started_at: crate::store::now(),
            state: "running".into(),
        };
        store.begin_pending(&op, None).await.unwrap();
        let opens_case = |status| CaseChange {
            case_id: "case-1".into(),
            create: Some(("A03".into(), crate::model::CaseKind::Policy, None, None)),
            status: Some(status),
            source: "test".into(),
            ..CaseChange::default()
        };
        let entry = |outcome: &str| JournalEntry {
            outcome: outcome.into(),
            ..JournalEntry::quote("op-1".into())
        };
        // The sweep's mark, as `AppState::unknown_commit` writes it.
        store
            .commit(Commit {
                marks_unknown: Some("op-1".into()),
                cases: vec![opens_case(CaseStatus::Unknown)],
                journal: vec![entry("unknown")],
                ..Commit::default()
            })
            .await
            .unwrap();
        // The outcome, held back until now.
        let outcome = store
            .commit(Commit {
                settles: Some("op-1".into()),
                cases: vec![opens_case(CaseStatus::InForce)],
                journal: vec![entry("ok"), JournalEntry::quote("exchange-1".into())],
                ..Commit::default()
            })
            .await;
        assert!(
            matches!(&outcome, Err(StoreError::Settled(id)) if id == "op-1"),
            "{outcome:?}"
        );
        let marked = store.pending("unknown").await.unwrap();
        assert_eq!(marked.len(), 1, "{marked:?}");
        let case = store.case("A03", "case-1").await.unwrap().expect("the case");
        assert_eq!(case.status, CaseStatus::Unknown);
        assert!(store.journal_entry("exchange-1").await.unwrap().is_none());
    }
}
