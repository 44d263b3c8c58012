//! Partner facts and the cases they move, including facts that came before their case.
//!
//! A callback's event finds its case by the partner reference it names. A partner may call
//! back before the host has a case with that reference: the outcome that opens the case (and
//! gives it the reference) may still be committing when the partner, having answered it, calls
//! back at once; or the operation is in doubt, its case opened without the partner's references
//! until reconciliation or an operator settles it. Such an event is stored flagged, with the
//! reference it names, and waits.
//!
//! Once a case has that reference, the event is applied ([`AppState::apply_waiting_events`]):
//! a copy of it joins the case's events (its dedup key `applied:` and the fact's own, so that
//! it is applied once whichever host gets there) and moves the case as it would have, unless
//! the case already holds news of the partner learnt after the event was stored (a `status`
//! asked later, an operator's settlement): then it joins the case's events without moving it,
//! flagged and without a status. A case that moves while an event is being applied is read
//! again. Commits that give a case a reference or store a waiting event wake the applier with
//! the references they name; a look at every waiting event every few seconds finds what another
//! host's commits, or a stop between a commit and its applying, left.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::core::AppState;
use crate::model::{CaseStatus, ChangeDecision, EventDetail, UnderwritingDecision};
use crate::store::{
    AppliedEvent, Case, CaseChange, Commit, JournalEntry, NewEvent, StoreError, WaitingEvent,
};

/// How often waiting events are looked for without a wake-up.
const POLL: Duration = Duration::from_secs(5);
/// The least time between two looks: under load every accept's commit wakes the applier, and
/// one look serves the commits of this long.
const PASS_GAP: Duration = Duration::from_millis(20);

/// Whether news that a case is `to`, arriving when it is `from`, would move it back through a
/// lifecycle no partner walks backwards: a paid claim is not approved or under review again, an
/// issued policy (in force, being changed or cancelled, or ended) is not submitted, underwritten
/// or offered again. Such news is late (a partner's retry of a callback the host could not take
/// at first, say): it joins the case's events without its status, flagged.
pub(crate) fn goes_back(from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus::*;
    match from {
        ClaimPaid => matches!(
            to,
            ClaimSubmitted
                | ClaimUnderReview
                | ClaimInformationRequested
                | ClaimApproved
                | ClaimPartlyApproved
        ),
        InForce | ChangePending | CancellationRequested | Cancelled | Lapsed | Expired => matches!(
            to,
            Submitted | PendingDocuments | PendingUnderwriting | Referred | Offered
        ),
        _ => false,
    }
}

/// What `event` changes in `case`, as `source` (`callback:ID`, `applied:ID`): no status that
/// [`goes_back`].
pub(crate) fn case_change(case: &Case, event: &crate::model::Event, source: String) -> CaseChange {
    // A policy the partner issues without restating its terms takes the case's (the dates and
    // premium applied for, plus a loading an earlier decision added).
    let terms = case.terms.clone().unwrap_or_default();
    CaseChange {
        case_id: case.id.clone(),
        status: event.status.filter(|to| !goes_back(case.status, *to)),
        policy: match &event.detail {
            EventDetail::PolicyIssued(p) => Some(terms.complete(p.clone())),
            // An endorsement the partner approved, with the policy as changed.
            EventDetail::ChangeDecision(ChangeDecision {
                approved: true,
                policy: Some(p),
                ..
            }) => Some(terms.complete(p.clone())),
            _ => None,
        },
        terms: match &event.detail {
            EventDetail::UnderwritingDecision(UnderwritingDecision {
                extra_premium: Some(extra),
                ..
            }) => Some(terms.loaded(extra)),
            _ => None,
        },
        source,
        ..CaseChange::default()
    }
}

/// How many references one look asks about at most.
const REFS_PER_LOOK: usize = 100;
/// How many times an event is tried again when its case moved while it was being applied.
const MOVED_RETRIES: usize = 3;

impl AppState {
    /// Applies, in the background, events that waited for their case: those named by the
    /// commits of this host that may have let one be applied (at most every [`PASS_GAP`]),
    /// and every one every [`POLL`] (another host's commits, a stop between two commits).
    pub fn spawn_event_applier(self: &Arc<Self>) {
        let wake = self.store.waiting_events();
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut scanned: Option<tokio::time::Instant> = None;
            loop {
                let started = tokio::time::Instant::now();
                let Some(strong) = state.upgrade() else { return };
                let every = scanned.is_none_or(|at| at.elapsed() >= POLL);
                if every {
                    scanned = Some(started);
                }
                // On a task of its own: a panic ends the pass, not the applier.
                match tokio::spawn(async move { strong.apply_waiting_events(every).await }).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!("applying events that waited for their case: {e:#}"),
                    Err(e) => tracing::error!("applying events that waited for their case: {e}"),
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                }
                // What woke it meanwhile waits for the same next look.
                tokio::time::sleep_until(started + PASS_GAP).await;
            }
        });
    }

    /// Applies the stored events that waited for a case which now has the reference they
    /// name, oldest first: every one (`every`), or those naming a reference this host's commits
    /// gave a case or a waiting event since the last pass. One that cannot be applied now is
    /// logged and left for a later pass. Returns how many it applied.
    pub async fn apply_waiting_events(&self, every: bool) -> anyhow::Result<usize> {
        let refs = self.store.take_waiting_refs();
        let mut waiting = if every {
            self.store.unapplied_events(None).await?
        } else {
            let mut found = Vec::new();
            for refs in refs.chunks(REFS_PER_LOOK) {
                found.extend(self.store.unapplied_events(Some(refs)).await?);
            }
            found
        };
        waiting.sort_by_key(|w| w.seq);
        let mut applied = 0;
        for event in waiting {
            let (panel, id) = (event.panel.clone(), event.id.clone());
            match self.apply_waiting(event).await {
                Ok(()) => applied += 1,
                Err(e) => {
                    tracing::warn!(%panel, event = %id, "a waiting event was not applied, left for a later pass: {e:#}")
                }
            }
        }
        Ok(applied)
    }

    /// Applies one waiting event, reading its case again when it moved meanwhile.
    async fn apply_waiting(&self, waiting: WaitingEvent) -> anyhow::Result<()> {
        let mut tries = 0;
        loop {
            match self.try_apply_waiting(&waiting).await {
                Err(StoreError::CaseChanged(_)) if tries < MOVED_RETRIES => tries += 1,
                result => return Ok(result?),
            }
        }
    }

    async fn try_apply_waiting(&self, waiting: &WaitingEvent) -> Result<(), StoreError> {
        let Some(case) = self.store.case(&waiting.panel, &waiting.case_id).await? else {
            return Ok(());
        };
        let mut payload: serde_json::Value =
            serde_json::from_str(&waiting.payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // As old as its callback, not as its applying.
        let learnt = waiting
            .learnt_ms
            .unwrap_or_else(|| crate::store::ms_of(&waiting.created_at));
        let event = parse_event(&payload);
        let later_news = holds_later_news(&case, learnt);
        let moves = event.as_ref().filter(|_| !later_news).map(|e| CaseChange {
            learnt_ms: Some(learnt),
            ..case_change(&case, e, format!("applied:{}", waiting.id))
        });
        let joined = format!(
            "joined to case {} once it had the reference the event names, without moving it",
            case.id
        );
        let how = match (&event, later_news) {
            (Some(_), false) => format!(
                "applied to case {} once it had the reference the event names",
                case.id
            ),
            (Some(_), true) => format!("{joined}: the case holds news of the partner learnt after the event"),
            (None, _) => format!("{joined}: its payload does not read as an event"),
        };
        if event.is_none() {
            tracing::warn!(panel = %waiting.panel, event = %waiting.id, "{how}");
        }
        payload["applied_late"] = json!({ "event_id": waiting.id, "stored_at": waiting.created_at });
        let moved = moves.is_some();
        let status = moves.as_ref().and_then(|change| change.status);
        let commit = Commit {
            events: vec![NewEvent {
                panel: waiting.panel.clone(),
                case_id: Some(case.id.clone()),
                kind: waiting.kind.clone(),
                dedup_key: format!("applied:{}", waiting.dedup_key),
                // A copy that does not move the case says no status: a portal following the
                // feed would take it for the case's.
                status,
                payload,
                flagged: (!moved).then(|| how.clone()),
                case_ref: None,
                learnt_ms: Some(learnt),
            }],
            event_changes: moves.map(|change| (0, change)).into_iter().collect(),
            applies_event: Some(AppliedEvent {
                event_id: waiting.id.clone(),
                flag: format!("stored before its case: {how}"),
                unless_moved: moved.then(|| (case.id.clone(), case.updated_at.clone())),
            }),
            journal: vec![JournalEntry {
                id: uuid::Uuid::now_v7().to_string(),
                panel: Some(waiting.panel.clone()),
                operation: "handle-callback".into(),
                kind: "callback",
                case_id: Some(case.id.clone()),
                outcome: how.clone(),
                detail: json!({ "event_id": waiting.id, "dedup_key": waiting.dedup_key, "moved": moved })
                    .to_string(),
            }],
            ..Commit::default()
        };
        let committed = self.store.commit(commit).await?;
        if committed.events_new.first() == Some(&true) {
            tracing::info!(panel = %waiting.panel, case = %case.id, event = %waiting.id, "{how}");
        }
        Ok(())
    }
}

/// The fact a stored event's payload holds; its attachment (kept apart, a reference in the
/// payload) plays no part in what it changes.
fn parse_event(payload: &serde_json::Value) -> Option<crate::model::Event> {
    let mut payload = payload.clone();
    if let Some(proof) = payload.pointer_mut("/detail/claim_payment/proof") {
        *proof = serde_json::Value::Null;
    }
    serde_json::from_value(payload).ok()
}

/// Whether `case` holds news of the partner learnt after `learnt` (Unix milliseconds), as the
/// store's own check reads its history (`store::write`): an entry learnt later, an `unknown`
/// status being no news (nor an entry a host older than `learnt_ms` wrote).
fn holds_later_news(case: &Case, learnt: i64) -> bool {
    case.history
        .iter()
        .filter(|h| h.status != CaseStatus::Unknown)
        .any(|h| h.learnt_ms.is_some_and(|at| at > learnt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CaseKind;
    use crate::store::HistoryEntry;

    fn case(history: &[(&str, CaseStatus, &str)]) -> Case {
        Case {
            id: "case-1".into(),
            panel: "A03".into(),
            kind: CaseKind::Policy,
            status: history.last().map(|h| h.1).unwrap_or(CaseStatus::Submitted),
            product: None,
            parent: None,
            policy: None,
            requirements: vec![],
            message: None,
            references: vec![],
            created_at: String::new(),
            updated_at: String::new(),
            history: history
                .iter()
                .map(|(at, status, source)| HistoryEntry {
                    at: at.to_string(),
                    status: *status,
                    source: source.to_string(),
                    journal_id: None,
                    // As the store keeps it, for a change that does not say.
                    learnt_ms: Some(
                        crate::store::learnt_ms(source).unwrap_or_else(|| crate::store::ms_of(at)),
                    ),
                })
                .collect(),
            stale: None,
            terms: None,
        }
    }

    /// An operation's news dates from when it was asked for: an accept sent before the
    /// partner's callback came is older news than the callback, though its outcome was written
    /// after it; a `status` asked after it, or an operator's decision written after it, is newer.
    #[test]
    fn a_waiting_event_is_news_only_against_what_was_learnt_before_it() {
        let stored = crate::store::ms_of("2026-12-07T10:00:00.500Z");
        let asked = |at: &str| {
            let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
            let ts = uuid::Timestamp::from_unix(uuid::NoContext, t.unix_timestamp() as u64, t.nanosecond());
            format!("operation:{}", uuid::Uuid::new_v7(ts))
        };
        // The accept was sent at .100 and its outcome written at .900, after the callback.
        let accepted = case(&[(
            "2026-12-07T10:00:00.900Z",
            CaseStatus::Submitted,
            &asked("2026-12-07T10:00:00.100Z"),
        )]);
        assert!(!holds_later_news(&accepted, stored));
        // A status asked at .700 for the case.
        let refreshed = case(&[
            (
                "2026-12-07T10:00:00.900Z",
                CaseStatus::Submitted,
                &asked("2026-12-07T10:00:00.100Z"),
            ),
            (
                "2026-12-07T10:00:01.000Z",
                CaseStatus::InForce,
                &asked("2026-12-07T10:00:00.700Z"),
            ),
        ]);
        assert!(holds_later_news(&refreshed, stored));
        // Opened in doubt, then settled by an operator after the callback.
        let doubted = case(&[("2026-12-07T10:00:00.200Z", CaseStatus::Unknown, "unknown:x")]);
        assert!(!holds_later_news(&doubted, stored));
        let settled = case(&[
            ("2026-12-07T10:00:00.200Z", CaseStatus::Unknown, "unknown:x"),
            ("2026-12-07T10:00:09.000Z", CaseStatus::Submitted, "operator:x"),
        ]);
        assert!(holds_later_news(&settled, stored));
    }
}
