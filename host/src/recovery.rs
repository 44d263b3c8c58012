//! Start-up after a crash: state-changing operations the host died in are marked with an
//! unknown outcome, never silently dropped and never run twice.
//!
//! A state-changing operation is recorded (`pending`) before its adapter asks the partner and
//! removed in the transaction that commits its outcome. A record still `running` at start-up is
//! an operation whose outcome nobody knows: the partner may or may not have acted. Recovery
//! then, in one transaction per operation,
//! - journals it under the journal id the operation was given (with outcome `unknown`),
//! - opens its case with status `unknown` if it was opening one, or notes it on its case,
//! - puts an `outcome_unknown` event, flagged, in the feed,
//! - answers its `Idempotency-Key` with `409 outcome_unknown` and the case id, so a portal retry
//!   cannot place the same business twice,
//!
//! and then reconciles through `status` where the adapter has it and the case carries the
//! partner's references. What stays unknown is listed at `GET /admin/unknown-outcomes`.

use serde_json::json;

use crate::adapter::Call;
use crate::api::AppState;
use crate::api::operations::{CaseEffect, run};
use crate::model::{CaseKind, CaseStatus, Operation};
use crate::store::{Backend, CaseChange, Commit, JournalEntry, NewEvent, PendingOperation, StoreError};

impl AppState {
    /// Settles what a crash left in flight. Called at start-up, before serving.
    ///
    /// On SQLite the host is alone with its store: everything still running was its own. On
    /// PostgreSQL other hosts may be running operations right now, so only records older than
    /// any operation can live ([`AppState::orphan_age`]) are settled, and a sweep
    /// ([`AppState::spawn_recovery_sweep`]) settles those of a host that died and never came back.
    pub async fn recover(&self) -> anyhow::Result<()> {
        let cutoff = match self.store.backend() {
            Backend::Sqlite => crate::store::now_plus(std::time::Duration::from_secs(1)),
            Backend::Postgres => crate::store::now_minus(self.orphan_age()),
        };
        for op in self.store.pending("running").await? {
            if op.started_at >= cutoff {
                continue;
            }
            let case_id = match self.settle_unknown(&op).await {
                Ok(case_id) => case_id,
                Err(e) if matches!(e.downcast_ref(), Some(StoreError::Settled(_))) => continue,
                Err(e) => return Err(e),
            };
            if let Some(case_id) = case_id {
                self.reconcile(&op, &case_id).await;
            }
        }
        let released = self.store.release_running_keys(&cutoff).await?;
        if released > 0 {
            tracing::info!(
                released,
                "idempotency keys of read-only requests cut off by a stop released"
            );
        }
        Ok(())
    }

    /// How old a running operation's record must be before no host can still be working on
    /// it: twice the longest operation deadline, and ten seconds for the commit.
    fn orphan_age(&self) -> std::time::Duration {
        let longest = self
            .config
            .panels
            .values()
            .filter_map(|p| p.limits.operation_timeout_ms)
            .chain([self.config.sandbox.operation_timeout_ms])
            .max()
            .unwrap_or_default();
        std::time::Duration::from_millis(2 * longest) + std::time::Duration::from_secs(10)
    }

    /// On a shared store, settles now and then what a host that died left running.
    pub fn spawn_recovery_sweep(self: &std::sync::Arc<Self>) {
        if self.store.backend() != Backend::Postgres {
            return;
        }
        let state = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { return };
                if let Err(e) = state.recover().await {
                    tracing::warn!("recovery sweep: {e:#}");
                }
            }
        });
    }

    async fn settle_unknown(&self, op: &PendingOperation) -> anyhow::Result<Option<String>> {
        let message = format!(
            "outcome unknown: the host stopped while `{}` was under way (journal {}); the partner may or may not have acted on it",
            op.operation, op.journal_id
        );
        let source = format!("recovery:{}", op.journal_id);
        let mut commit = Commit {
            marks_unknown: Some(op.journal_id.clone()),
            ..Commit::default()
        };
        let mut case_id = op.case_id.clone();
        let mut opened = false;
        if let Some(opens) = &op.opens
            && let Some(id) = opens["case_id"].as_str()
        {
            let kind: CaseKind = serde_json::from_value(opens["kind"].clone())?;
            if self.store.case(&op.panel, id).await?.is_none() {
                commit.cases.push(CaseChange {
                    case_id: id.to_string(),
                    create: Some((
                        op.panel.clone(),
                        kind,
                        opens["product"].as_str().map(str::to_string),
                        opens["parent"].as_str().map(str::to_string),
                    )),
                    status: Some(CaseStatus::Unknown),
                    message: Some(message.clone()),
                    source: source.clone(),
                    ..CaseChange::default()
                });
                opened = true;
            }
            case_id = Some(id.to_string());
        } else if let Some(id) = &case_id {
            commit.cases.push(CaseChange {
                case_id: id.clone(),
                message: Some(message.clone()),
                source: source.clone(),
                ..CaseChange::default()
            });
        }
        commit.events.push(NewEvent {
            panel: op.panel.clone(),
            case_id: case_id.clone(),
            kind: "outcome_unknown".into(),
            dedup_key: source.clone(),
            status: opened.then_some(CaseStatus::Unknown),
            payload: json!({ "operation": op.operation, "journal_id": op.journal_id, "message": message }),
            flagged: Some(message.clone()),
        });
        commit.journal.push(JournalEntry {
            id: op.journal_id.clone(),
            panel: Some(op.panel.clone()),
            operation: op.operation.clone(),
            kind: "portal",
            case_id: case_id.clone(),
            outcome: "unknown: the host stopped during the operation".into(),
            // Rendered around the stored text, not through `json!`, which would parse it again.
            detail: serde_json::to_string(&Recovered {
                recovered: true,
                request: &op.request,
                started_at: &op.started_at,
            })?,
        });
        if let Some((scope, key)) = &op.idempotency {
            let body = json!({
                "error": { "code": "outcome_unknown", "message": message, "journal_id": op.journal_id },
                "case_id": case_id,
            });
            commit.idempotent_response = Some((scope.clone(), key.clone(), 409, body.to_string()));
        }
        self.store.commit(commit).await?;
        tracing::warn!(panel = %op.panel, operation = %op.operation, journal = %op.journal_id, case = ?case_id, "{message}");
        Ok(case_id)
    }

    /// Asks the partner where it can: a `status` refresh of a case that carries references.
    async fn reconcile(&self, op: &PendingOperation, case_id: &str) {
        let Ok(panel) = self.panel(&op.panel) else {
            return;
        };
        if !panel
            .adapter
            .description()
            .operations
            .contains(&Operation::Status)
        {
            return;
        }
        let Ok(Some(case)) = self.store.case(&op.panel, case_id).await else {
            return;
        };
        if case.references.is_empty() {
            return;
        }
        match run(
            self,
            &panel,
            Call::Status(case.to_ref()),
            CaseEffect::on(&case),
            None,
        )
        .await
        {
            Ok(_) => {
                tracing::info!(panel = %op.panel, case = case_id, "case refreshed from the partner after an unknown outcome")
            }
            Err(e) => {
                tracing::warn!(panel = %op.panel, case = case_id, "reconciling through status failed: {e}")
            }
        }
    }
}
/// The journal's entry for an operation found cut off by a stop.
#[derive(serde::Serialize)]
struct Recovered<'a> {
    recovered: bool,
    request: &'a serde_json::value::RawValue,
    started_at: &'a str,
}
