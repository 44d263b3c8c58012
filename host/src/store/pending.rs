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
            None => self.commit(begins()).await.map(|_| KeyState::Fresh),
        }
    }

    /// Operations with the given state (`running` or `unknown`), oldest first.
    pub async fn pending(&self, state: &str) -> Result<Vec<PendingOperation>> {
        let rows = sqlx::query("SELECT * FROM pending WHERE state = $1 ORDER BY started_at")
            .bind(state)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
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
            })
            .collect()
    }
}
