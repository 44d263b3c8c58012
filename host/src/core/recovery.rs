//! Operations in doubt: marked, reconciled and settled, whether a fault left them so while the
//! host ran or a stop cut them off.
//!
//! A state-changing operation is recorded (`pending`) before its adapter asks the partner and
//! removed in the transaction that commits its outcome. When the partner may have acted without
//! a definite answer (`core::operations`), or a record is still `running` at start-up (the host
//! died in it), the operation is in doubt: in one transaction ([`AppState::unknown_commit`]) it
//! is journaled under its journal id with outcome `unknown`, its case opened with status
//! `unknown` (or noted), a flagged `outcome_unknown` event put in the feed, and its
//! `Idempotency-Key` answers `409 outcome_unknown`, so no retry places the business twice.
//!
//! It is then reconciled on a backoff through `status` where the adapter has it and the case
//! carries the partner's references ([`AppState::reconcile`]), or settled by an operator
//! ([`AppState::settle_by_operator`]); either way its key then replays the settled case (or is
//! released when the partner did not act). What stays in doubt is listed at
//! `GET /admin/unknown-outcomes`.

use std::sync::Arc;

use serde_json::json;

use crate::adapter::Call;
use crate::core::operations::{CaseEffect, run};
use crate::core::{ApiError, AppState};
use crate::model::{CaseKind, CaseStatus, Operation};
use crate::store::{
    Backend, CaseChange, Commit, JournalEntry, NewEvent, PendingOperation, SettledKey, SettledUnknown,
    StoreError,
};

impl AppState {
    /// Settles what a crash left in flight. Called at start-up, before serving.
    ///
    /// On SQLite the host is alone with its store: everything still running was its own. On
    /// PostgreSQL other hosts may be running operations right now, so only records older than
    /// any operation can live ([`AppState::orphan_age`]) are settled, and a sweep
    /// ([`AppState::spawn_recovery_sweep`]) settles those of a host that died and never came back.
    pub async fn recover(self: &Arc<Self>) -> anyhow::Result<()> {
        let cutoff = match self.store.backend() {
            // Every record, whatever its start time says: one stamped ahead of this clock (a
            // clock stepped back since the crash) was cut off by the stop all the same, and
            // no sweep would ever come back for it.
            Backend::Sqlite => "9999-12-31T23:59:59Z".to_string(),
            Backend::Postgres => crate::store::now_minus(self.orphan_age()),
        };
        for op in self.store.pending("running").await? {
            if op.started_at >= cutoff {
                continue;
            }
            let case_id = match self.settle_unknown(&op).await {
                Ok(case_id) => case_id,
                // Settled first elsewhere; or marked by this very commit, its answer lost (on
                // PostgreSQL): then it is reconciled as if the answer had come, since no later
                // sweep looks at it again.
                Err(e) => match self.store.pending_operation(&op.journal_id).await {
                    Ok(Some(marked)) if marked.state == "unknown" => case_of(&op),
                    _ if matches!(e.downcast_ref(), Some(StoreError::Settled(_))) => continue,
                    _ => return Err(e),
                },
            };
            let mut op = op;
            op.state = "unknown".into();
            self.reconcile_later(op, case_id);
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

    /// Reconciles again, in the background, what was in doubt when the host stopped: a stop
    /// ends the reconciliations under way. Called at start-up, before [`AppState::recover`] adds
    /// what the stop itself left in doubt (which that reconciles). On a shared store every
    /// host starting does so; an operation is settled once whoever asks.
    pub async fn resume_reconciliation(self: &Arc<Self>) -> anyhow::Result<()> {
        for op in self.store.pending("unknown").await? {
            let case_id = case_of(&op);
            self.reconcile_later(op, case_id);
        }
        Ok(())
    }

    /// How old a running operation's record must be before no host can still be working on
    /// it: twice the longest operation deadline, and ten seconds for the commit.
    fn orphan_age(&self) -> std::time::Duration {
        // The panels this host serves now (the store's, the config file's among them), and
        // the sandbox default.
        let longest = self
            .panels()
            .iter()
            .filter_map(|p| p.definition.limits.operation_timeout_ms)
            .chain([self.config.sandbox.operation_timeout_ms])
            .max()
            .unwrap_or_default();
        std::time::Duration::from_millis(2 * longest) + std::time::Duration::from_secs(10)
    }

    /// On a shared store, settles now and then what a host that died left running.
    pub fn spawn_recovery_sweep(self: &Arc<Self>) {
        if self.store.backend() != Backend::Postgres {
            return;
        }
        let state = Arc::downgrade(self);
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

    async fn settle_unknown(self: &Arc<Self>, op: &PendingOperation) -> anyhow::Result<Option<String>> {
        let message = format!(
            "outcome unknown: the host stopped while `{}` was under way (journal {}); the partner may or may not have acted on it",
            op.operation, op.journal_id
        );
        let entry = JournalEntry {
            id: op.journal_id.clone(),
            panel: Some(op.panel.clone()),
            operation: op.operation.clone(),
            kind: "portal",
            case_id: None,
            outcome: "unknown: the host stopped during the operation".into(),
            // Rendered around the stored text, not through `json!`, which would parse it again.
            detail: serde_json::to_string(&Recovered {
                recovered: true,
                request: &op.request,
                started_at: &op.started_at,
            })?,
        };
        let opens_case = match op.opens.as_ref().and_then(|o| o["case_id"].as_str()) {
            Some(id) => self.store.case(&op.panel, id).await?.is_none(),
            None => false,
        };
        let (commit, case_id) = self.unknown_commit(op, &message, entry, opens_case);
        self.store.commit(commit).await?;
        tracing::warn!(panel = %op.panel, operation = %op.operation, journal = %op.journal_id, case = ?case_id, "{message}");
        Ok(case_id)
    }

    /// What marks an operation in doubt, in one commit: its journal `entry` (given the case),
    /// its record marked `unknown`, its case opened with status `unknown` (when `opens_case`)
    /// or noted, a flagged `outcome_unknown` event, and its key answering `409 outcome_unknown`
    /// so that no retry places the same business twice. Returns the commit and the case.
    pub(crate) fn unknown_commit(
        &self,
        op: &PendingOperation,
        message: &str,
        mut entry: JournalEntry,
        opens_case: bool,
    ) -> (Commit, Option<String>) {
        let source = format!("unknown:{}", op.journal_id);
        let mut commit = Commit {
            marks_unknown: Some(op.journal_id.clone()),
            ..Commit::default()
        };
        let opens = op.opens.as_ref().and_then(|opens| {
            let kind: CaseKind = serde_json::from_value(opens["kind"].clone()).ok()?;
            Some((opens["case_id"].as_str()?.to_string(), kind, opens))
        });
        let case_id = opens.as_ref().map(|o| o.0.clone()).or(op.case_id.clone());
        match (&opens, &case_id) {
            (Some((id, kind, opens)), _) if opens_case => commit.cases.push(CaseChange {
                case_id: id.clone(),
                create: Some((
                    op.panel.clone(),
                    *kind,
                    opens["product"].as_str().map(str::to_string),
                    opens["parent"].as_str().map(str::to_string),
                )),
                status: Some(CaseStatus::Unknown),
                message: Some(message.to_string()),
                source: source.clone(),
                ..CaseChange::default()
            }),
            (_, Some(id)) => commit.cases.push(CaseChange {
                case_id: id.clone(),
                message: Some(message.to_string()),
                source: source.clone(),
                ..CaseChange::default()
            }),
            _ => {}
        }
        commit.events.push(NewEvent {
            panel: op.panel.clone(),
            case_id: case_id.clone(),
            kind: "outcome_unknown".into(),
            dedup_key: source,
            // The status the case takes: only a case this commit opens takes one.
            status: (opens_case && opens.is_some()).then_some(CaseStatus::Unknown),
            payload: json!({ "operation": op.operation, "journal_id": op.journal_id, "message": message }),
            flagged: Some(message.to_string()),
            case_ref: None,
            learnt_ms: None,
        });
        entry.case_id = case_id.clone();
        commit.journal.push(entry);
        if let Some((scope, key)) = &op.idempotency {
            let body = ApiError::OutcomeUnknown {
                message: message.to_string(),
                journal_id: op.journal_id.clone(),
                case_id: case_id.clone(),
            }
            .body();
            let body = serde_json::to_string(&body).unwrap_or_default();
            commit.idempotent_response = Some((scope.clone(), key.clone(), 409, body));
        }
        (commit, case_id)
    }

    /// Reconciles an operation in doubt in the background, on a backoff (1 s, doubling, at
    /// most [`RECONCILE_CAP`] apart, [`RECONCILE_ATTEMPTS`] times): see [`AppState::reconcile`].
    pub(crate) fn reconcile_later(self: &Arc<Self>, op: PendingOperation, case_id: Option<String>) {
        let Some(case_id) = case_id else { return };
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut wait = std::time::Duration::from_secs(1);
            for _ in 0..RECONCILE_ATTEMPTS {
                tokio::time::sleep(wait).await;
                let Some(state) = state.upgrade() else { return };
                match state.reconcile(&op, &case_id).await {
                    Ok(Reconciled::Settled | Reconciled::CannotTell) => return,
                    Ok(Reconciled::NotYet(why)) => {
                        tracing::info!(panel = %op.panel, journal = %op.journal_id, "reconciling later: {why}")
                    }
                    Err(e) => {
                        tracing::warn!(panel = %op.panel, journal = %op.journal_id, "reconciling failed: {e}")
                    }
                }
                wait = (wait * 2).min(RECONCILE_CAP);
            }
        });
    }

    /// Asks the partner where it can: a `status` refresh of the case, once it carries the
    /// partner's references. When the partner answers, the operation is settled as the
    /// partner reports the case: its record goes, its key replays the case as refreshed, and
    /// the feed says so.
    pub(crate) async fn reconcile(
        self: &Arc<Self>,
        op: &PendingOperation,
        case_id: &str,
    ) -> anyhow::Result<Reconciled> {
        // Only once its mark of doubt is written: a mark a store fault holds back leaves the
        // record running, and a settlement now would find nothing to settle and end the
        // reconciliation for good before the mark lands.
        match self.store.pending_operation(&op.journal_id).await? {
            Some(record) if record.state == "unknown" => {}
            Some(_) => return Ok(Reconciled::NotYet("its mark of doubt is not written yet")),
            None => return Ok(Reconciled::Settled),
        }
        let panel = self.panel(&op.panel)?;
        if !panel
            .adapter
            .description()
            .operations
            .contains(&Operation::Status)
            || !status_can_show(op)
        {
            return Ok(Reconciled::CannotTell);
        }
        let Some(case) = self.store.case(&op.panel, case_id).await? else {
            return Ok(Reconciled::CannotTell);
        };
        if case.references.is_empty() {
            return Ok(Reconciled::NotYet(
                "the case carries no partner reference to ask by",
            ));
        }
        run(
            self,
            &panel,
            Call::Status(case.to_ref()),
            CaseEffect::on(&case),
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("status: {e}"))?;
        let case = self
            .store
            .case(&op.panel, case_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("case {case_id} is gone"))?;
        if !status_shows_acted(op, case.status) {
            // Not shown yet: the partner may not have had the request, or may not show it yet.
            // Asked again on the backoff; then an operator settles it.
            return Ok(Reconciled::NotYet(
                "the partner's status does not show the operation",
            ));
        }
        let how = format!(
            "reconciled: the partner reports the case as `{}`",
            crate::store::enum_str(&case.status)
        );
        match self.settle(op, &case, &how, Some(200)).await {
            Ok(()) => Ok(Reconciled::Settled),
            Err(StoreError::Settled(_)) => Ok(Reconciled::Settled),
            Err(e) => Err(e.into()),
        }
    }

    /// Settles an operation in doubt as an operator decided (journaled under `by`): the partner
    /// acted, and the case takes `status` and `references`, its key then replaying the case; or
    /// it did not, and its key is released so that a retry runs the operation again.
    pub async fn settle_by_operator(
        self: &Arc<Self>,
        journal_id: &str,
        decision: &Settlement,
    ) -> Result<crate::store::Case, ApiError> {
        let op = self
            .store
            .pending_operation(journal_id)
            .await?
            .filter(|op| op.state == "unknown")
            .ok_or_else(|| {
                ApiError::NotFound(format!("no operation in doubt with journal id `{journal_id}`"))
            })?;
        let case_id = case_of(&op)
            .ok_or_else(|| ApiError::Conflict(format!("operation `{journal_id}` has no case to settle")))?;
        let opened = op.opens.is_some();
        let (status, how) = if decision.acted {
            let status = decision.status.ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "is required when the partner acted: the case's status at the partner",
                )
            })?;
            (
                Some(status),
                format!("settled by an operator: the partner acted ({})", decision.note),
            )
        } else {
            // A case the operation opened never existed at the partner.
            (
                opened.then_some(CaseStatus::Withdrawn),
                format!(
                    "settled by an operator: the partner did not act ({})",
                    decision.note
                ),
            )
        };
        let mut case = self
            .store
            .case(&op.panel, &case_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no case `{case_id}`")))?;
        let change = CaseChange {
            case_id: case_id.clone(),
            status,
            references: decision.references.clone(),
            message: Some(how.clone()),
            source: format!("operator:{journal_id}"),
            // The operator says how the case stands now: never older than what the case holds
            // (a clock stepped back, another host's clock ahead).
            learnt_ms: case
                .history
                .iter()
                .filter_map(|h| h.learnt_ms)
                .chain([crate::store::now_ms()])
                .max(),
            ..CaseChange::default()
        };
        // The case as the settlement leaves it, for the key's replay.
        if let Some(status) = status {
            case.status = status;
        }
        case.references.extend(decision.references.iter().cloned());
        case.message = Some(how.clone());
        let mut commit = Commit::default();
        commit.cases.push(change);
        self.settle_with(&op, &case, &how, decision.acted.then_some(200), commit)
            .await
            .map_err(|e| match e {
                StoreError::Settled(id) => ApiError::Conflict(format!("operation `{id}` is settled already")),
                e => e.into(),
            })?;
        self.store
            .case(&op.panel, &case_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no case `{case_id}`")))
    }

    /// Settles an operation in doubt with its own outcome: a store fault held the outcome back
    /// (`core::operations::keep`), and meanwhile a sweep took the operation for one whose host
    /// died and marked it in doubt. The partner did answer, so its answer settles the doubt: the
    /// case takes what the outcome says (a case the sweep opened as `unknown` and that the
    /// partner never took is withdrawn), the key replays the answer the portal would have had
    /// (or is released when that answer was a failure the partner did not act on), and the
    /// outcome's journal entries are written under ids of their own, the operation's id being
    /// the mark's. An operation no longer in doubt (settled already, or the outcome landed
    /// though its commit's answer was lost) is left as it is.
    pub(crate) async fn settle_with_outcome(&self, mut commit: Commit) -> Result<(), StoreError> {
        let Some(journal_id) = commit.settles.take() else {
            return Ok(());
        };
        let op = self
            .store
            .pending_operation(&journal_id)
            .await?
            .filter(|op| op.state == "unknown");
        let Some(op) = op else {
            return self.keep_late_outcome(journal_id, commit).await;
        };
        let how = "settled by the operation's own outcome: a store fault held it back until after the operation was marked in doubt";
        let source = format!("settled:{journal_id}");
        for change in &mut commit.cases {
            // Opened by the mark, as `unknown`.
            change.create = None;
            change.message.get_or_insert_with(|| how.to_string());
        }
        let opened = op.opens.as_ref().and_then(|o| o["case_id"].as_str());
        if let Some(case_id) = opened
            && !commit.cases.iter().any(|c| c.case_id == case_id)
        {
            // The partner refused it: the case the mark opened never existed at the partner.
            commit.cases.push(CaseChange {
                case_id: case_id.to_string(),
                status: Some(CaseStatus::Withdrawn),
                message: Some(how.to_string()),
                source: source.clone(),
                ..CaseChange::default()
            });
        }
        own_entry_apart(&mut commit.journal, &journal_id, "settlement", how);
        commit.events.push(NewEvent {
            panel: op.panel.clone(),
            case_id: case_of(&op),
            kind: "outcome_settled".into(),
            dedup_key: source,
            status: case_of(&op).and_then(|id| status_of(&commit, &id)),
            payload: json!({ "operation": op.operation, "journal_id": journal_id, "settled": how }),
            flagged: None,
            case_ref: None,
            learnt_ms: None,
        });
        let answer = commit
            .idempotent_response
            .take()
            .map(|(_, _, status, body)| (status, body));
        commit.settles_unknown = Some(SettledUnknown {
            journal_id: journal_id.clone(),
            key: op
                .idempotency
                .clone()
                .map(|(scope, key)| SettledKey { scope, key, answer }),
        });
        match self.store.commit(commit).await {
            Ok(_) => {
                tracing::info!(panel = %op.panel, journal = %journal_id, "{how}");
                Ok(())
            }
            // An operator or reconciliation came first.
            Err(StoreError::Settled(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// An outcome whose operation is neither running nor in doubt any more. Landed already (the
    /// answer to its commit lost): nothing to do. Marked in doubt and settled (by reconciliation
    /// or an operator) before it came: the settlement stands, and the partner's answer is kept
    /// beside it, in the journal and as a flagged `late_outcome` event, for an operator to
    /// compare with it (it may say the partner acted where the settlement says it did not).
    async fn keep_late_outcome(&self, journal_id: String, commit: Commit) -> Result<(), StoreError> {
        let own = self.store.journal_entry(&journal_id).await?;
        if own.is_none_or(|d| !d.entry.outcome.starts_with("unknown")) {
            tracing::info!(journal = %journal_id, "an operation's outcome found it settled: its commit had landed");
            return Ok(());
        }
        let how = "the partner's answer, held back by a store fault, came after the operation in doubt was settled: compare it with the settlement";
        let mut journal = commit.journal;
        own_entry_apart(&mut journal, &journal_id, "late_outcome", how);
        let (panel, case_id) = journal
            .first()
            .map(|e| (e.panel.clone().unwrap_or_default(), e.case_id.clone()))
            .unwrap_or_default();
        let late = Commit {
            journal,
            events: vec![NewEvent {
                panel: panel.clone(),
                case_id: case_id.clone(),
                kind: "late_outcome".into(),
                dedup_key: format!("late:{journal_id}"),
                status: None,
                payload: json!({ "journal_id": journal_id, "message": how }),
                flagged: Some(how.to_string()),
                case_ref: None,
                learnt_ms: None,
            }],
            ..Commit::default()
        };
        self.store.commit(late).await?;
        tracing::warn!(%panel, journal = %journal_id, case = ?case_id, "{how}");
        Ok(())
    }

    async fn settle(
        &self,
        op: &PendingOperation,
        case: &crate::store::Case,
        how: &str,
        replay: Option<u16>,
    ) -> Result<(), StoreError> {
        self.settle_with(op, case, how, replay, Commit::default()).await
    }

    /// Writes a settlement: the record goes, the key replays the settled case with `replay`'s
    /// status (or is released), a journal entry and an `outcome_settled` event say how.
    async fn settle_with(
        &self,
        op: &PendingOperation,
        case: &crate::store::Case,
        how: &str,
        replay: Option<u16>,
        mut commit: Commit,
    ) -> Result<(), StoreError> {
        let answer = replay.map(|status| {
            let body = json!({
                "settled": how,
                "journal_id": op.journal_id,
                "case_id": case.id,
                "case": case,
            });
            (status, body.to_string())
        });
        commit.settles_unknown = Some(SettledUnknown {
            journal_id: op.journal_id.clone(),
            key: op
                .idempotency
                .clone()
                .map(|(scope, key)| SettledKey { scope, key, answer }),
        });
        commit.journal.push(JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: Some(op.panel.clone()),
            operation: op.operation.clone(),
            kind: "settlement",
            case_id: Some(case.id.clone()),
            outcome: how.to_string(),
            detail: json!({ "of": op.journal_id, "settled": how }).to_string(),
        });
        commit.events.push(NewEvent {
            panel: op.panel.clone(),
            case_id: Some(case.id.clone()),
            kind: "outcome_settled".into(),
            dedup_key: format!("settled:{}", op.journal_id),
            status: status_of(&commit, &case.id),
            payload: json!({ "operation": op.operation, "journal_id": op.journal_id, "settled": how }),
            flagged: None,
            case_ref: None,
            learnt_ms: None,
        });
        self.store.commit(commit).await?;
        tracing::info!(panel = %op.panel, journal = %op.journal_id, case = %case.id, "{how}");
        Ok(())
    }
}

/// The status `commit` gives the case `case_id`, for the event that tells the feed of it.
fn status_of(commit: &Commit, case_id: &str) -> Option<CaseStatus> {
    commit
        .cases
        .iter()
        .rev()
        .find(|c| c.case_id == case_id && c.status.is_some())
        .and_then(|c| c.status)
}

/// The case an operation opens, or the one it acts on.
fn case_of(op: &PendingOperation) -> Option<String> {
    op.opens
        .as_ref()
        .and_then(|o| o["case_id"].as_str().map(str::to_string))
        .or(op.case_id.clone())
}

/// The operation's own journal entry among `entries`, moved to an id of its own (the operation's
/// id is its mark of doubt's) as a `kind` entry saying `how` and pointing at the operation.
fn own_entry_apart(entries: &mut [JournalEntry], journal_id: &str, kind: &'static str, how: &str) {
    for entry in entries.iter_mut().filter(|e| e.id == journal_id) {
        entry.id = uuid::Uuid::now_v7().to_string();
        entry.kind = kind;
        let outcome: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
        entry.detail = json!({ "of": journal_id, "settled": how, "outcome": outcome }).to_string();
    }
}

/// An operator's decision on an operation in doubt (`POST /admin/unknown-outcomes/{journal_id}`).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    /// Whether the partner acted on the operation (as the partner's own records show).
    pub acted: bool,
    /// The case's status at the partner; required when it acted.
    pub status: Option<CaseStatus>,
    /// The partner's references for the case (its contract or policy number), when it acted.
    #[serde(default)]
    pub references: Vec<crate::model::Reference>,
    /// Why: what the operator checked, for the journal.
    pub note: String,
}

/// How many times an operation in doubt is asked about before it is left to an operator.
const RECONCILE_ATTEMPTS: u32 = 16;
/// The longest wait between two reconciliation attempts.
const RECONCILE_CAP: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether a `status` of its case can show that an operation in doubt acted at the partner:
/// one that opens a case (an accept, a claim: the partner knows the case), and a cancel (the
/// case is being or was cancelled). A document received, a code sent, a change or a notice
/// leaves no mark a status reports: an operator settles those.
fn status_can_show(op: &PendingOperation) -> bool {
    op.opens.is_some() || op.operation == "cancel"
}

/// Whether the case's status, as the partner just reported it, shows that the operation in
/// doubt acted ([`status_can_show`]). A partner that answers a status for the case an
/// operation opened has the case; a cancel shows as the case cancelled, or its cancellation
/// requested, or withdrawn (an application cancelled before it was in force).
fn status_shows_acted(op: &PendingOperation, status: CaseStatus) -> bool {
    op.opens.is_some()
        || (op.operation == "cancel"
            && matches!(
                status,
                CaseStatus::CancellationRequested | CaseStatus::Cancelled | CaseStatus::Withdrawn
            ))
}

/// What one reconciliation attempt found.
pub(crate) enum Reconciled {
    Settled,
    /// The adapter cannot ask the partner (no `status`), or a status cannot show what the
    /// operation did: an operator settles it.
    CannotTell,
    /// Not yet: the case lacks what the partner could be asked by, or the partner's status
    /// does not show the operation.
    NotYet(&'static str),
}

/// The journal's entry for an operation found cut off by a stop.
#[derive(serde::Serialize)]
struct Recovered<'a> {
    recovered: bool,
    request: &'a serde_json::value::RawValue,
    started_at: &'a str,
}
