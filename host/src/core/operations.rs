//! Running one operation: idempotency, the adapter call, and committing what it learned.

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use std::sync::Arc;

use super::terms::Terms;
use super::{ApiError, AppState, Panel};
use crate::adapter::{Call, CallError, Outcome};
use crate::model::{
    AdapterError, CaseKind, CaseStatus, ConfirmStep, Policy, Requirement, RequirementKind, RequirementStatus,
    ValidationRequest,
};
use crate::runtime::Exchange;
use crate::store::{
    CaseChange, Commit, JournalEntry, KeyClaim, KeyState, NewEvent, PendingOperation, enum_str,
};

/// How an operation relates to cases.
pub struct CaseEffect {
    /// The case the operation acts on, if any.
    pub case_id: Option<String>,
    /// Set when the operation opens a case: its id, kind, product and parent.
    pub opens: Option<(String, CaseKind, Option<String>, Option<String>)>,
    /// The case's status before the operation; an unchanged status is no event.
    pub current: Option<CaseStatus>,
    /// The case's requirements before the operation, which it may fulfil.
    pub requirements: Vec<Requirement>,
    /// The terms the case was applied for (an opening accept's, or the stored case's), which
    /// complete a policy the partner issues without restating them.
    pub terms: Option<Terms>,
}

impl CaseEffect {
    pub fn none() -> CaseEffect {
        CaseEffect {
            case_id: None,
            opens: None,
            current: None,
            requirements: Vec::new(),
            terms: None,
        }
    }

    pub fn on(case: &crate::store::Case) -> CaseEffect {
        CaseEffect {
            case_id: Some(case.id.clone()),
            opens: None,
            current: Some(case.status),
            requirements: case.requirements.clone(),
            terms: case.terms.clone(),
        }
    }

    pub fn opening(
        id: String,
        kind: CaseKind,
        product: Option<String>,
        parent: Option<String>,
    ) -> CaseEffect {
        CaseEffect {
            case_id: None,
            opens: Some((id, kind, product, parent)),
            current: None,
            requirements: Vec::new(),
            terms: None,
        }
    }
}

/// An idempotency key scoped to the caller and route, with the fingerprint of the request's
/// meaning it was first used for.
pub struct IdempotencyKey {
    pub(crate) scope: String,
    pub(crate) key: String,
    hash: String,
    /// This request's own token for its claim of the key: its release lets only its own claim go.
    claimed_by: String,
}

impl IdempotencyKey {
    /// The key the adapter gets (`invocation.idempotency-key`): the same for every retry of
    /// this operation, different for any other route, panel or case, and not the portal's key
    /// itself, which the partner need not learn.
    pub fn for_adapter(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::new()
            .chain_update(self.scope.as_bytes())
            .chain_update([0])
            .chain_update(self.key.as_bytes())
            .finalize();
        hex::encode(&digest[..16])
    }

    /// The request's key, if it sent one. `fingerprint` is asked only then: see
    /// [`json_fingerprint`] and [`parts_fingerprint`].
    pub fn from_headers(
        headers: &HeaderMap,
        route: &str,
        fingerprint: impl FnOnce() -> Result<String, ApiError>,
    ) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            // Visible ASCII only (`^[!-~]+$`, as the OpenAPI document says): `to_str` lets a
            // space or tab inside through, and a key a proxy may re-space is no key.
            .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| ApiError::invalid("Idempotency-Key", "must be 1 to 255 visible characters"))?;
        Ok(Some(IdempotencyKey {
            scope: format!("portal:{route}"),
            key: key.to_string(),
            hash: fingerprint()?,
            claimed_by: uuid::Uuid::now_v7().to_string(),
        }))
    }

    /// This request's claim of the key.
    fn claim(&self) -> KeyClaim {
        KeyClaim {
            scope: self.scope.clone(),
            key: self.key.clone(),
            request_hash: self.hash.clone(),
            claimed_by: self.claimed_by.clone(),
        }
    }
}

/// A JSON body's meaning, hashed: the same value gives the same fingerprint whatever its
/// spacing, key order or escapes, so a retry that re-serialises its body is the same request.
pub fn json_fingerprint(body: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let mut hasher = Sha256::new();
    canonical(&value, &mut hasher);
    Ok(hex::encode(hasher.finalize()))
}

/// Feeds `value` to `hasher` as canonical JSON: object keys sorted, no whitespace, strings
/// and numbers as serde_json renders them.
fn canonical(value: &serde_json::Value, hasher: &mut Sha256) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            hasher.update(b"{");
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                hasher.update(serde_json::to_string(k).unwrap_or_default());
                hasher.update(b":");
                canonical(v, hasher);
            }
            hasher.update(b"}");
        }
        Value::Array(items) => {
            hasher.update(b"[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                canonical(v, hasher);
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string()),
    }
}

/// A multipart form's meaning, hashed: its parts (name, file name, content type, bytes), in
/// name order, whatever the boundary or the order the client sent them in.
pub fn parts_fingerprint(parts: &[crate::model::FormPart]) -> String {
    let mut sorted: Vec<_> = parts.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.filename).cmp(&(&b.name, &b.filename)));
    let mut hasher = Sha256::new();
    for part in sorted {
        // Each field length-prefixed, so that no two forms run together into the same bytes.
        for field in [
            Some(part.name.as_bytes()),
            part.filename.as_deref().map(str::as_bytes),
            part.content_type.as_deref().map(str::as_bytes),
            Some(part.data.as_slice()),
        ] {
            match field {
                Some(bytes) => {
                    hasher.update((bytes.len() as u64 + 1).to_le_bytes());
                    hasher.update(bytes);
                }
                None => hasher.update(0u64.to_le_bytes()),
            }
        }
    }
    hex::encode(hasher.finalize())
}

/// A response ready to send: its status and its body, JSON text.
pub type Answer = (StatusCode, String);

/// Runs an operation to its end, whatever happens to the caller meanwhile: it runs on a task of
/// its own, so a portal that hangs up (dropping this future) leaves it running, and its answer
/// is committed and stored under its key as if the portal had waited.
pub(crate) async fn run(
    state: &Arc<AppState>,
    panel: &Arc<Panel>,
    call: Call,
    effect: CaseEffect,
    key: Option<IdempotencyKey>,
) -> Result<Answer, ApiError> {
    if let Err(refusal) = check_extensions(panel, &call) {
        return answered_before(state, key.as_ref())
            .await?
            .unwrap_or(Err(refusal));
    }
    let operation = enum_str(&call.operation());
    detached(state, panel, operation, move |state, panel| async move {
        answer(&state, &panel, call, effect, key).await
    })
    .await
}

/// Refuses an operation the panel's adapter does not serve: 501.
fn supported(panel: &Panel, call: &Call) -> Result<(), ApiError> {
    let operation = call.operation();
    if panel.adapter.description().operations.contains(&operation) {
        return Ok(());
    }
    Err(ApiError::Unsupported {
        panel: panel.id.clone(),
        operation: enum_str(&operation),
    })
}

/// What a request's key answered before, read without claiming it. A refusal that depends on
/// what the panel runs now (its adapter's operations and extension schemas) gives way to it: a
/// deployment between a request and the portal's retry of it must not turn the retry of an
/// accepted request into a refusal, which would have the portal send it anew under a new key
/// and place it twice.
async fn answered_before(
    state: &AppState,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Result<Answer, ApiError>>, ApiError> {
    let Some(key) = key else { return Ok(None) };
    Ok(state.store.key_holder(&key.claim()).await?.and_then(answered))
}

/// Checks the input's `extensions` against the schema the panel's adapter declares for the
/// operation, before anything is journaled or sent: 422 naming each path.
fn check_extensions(panel: &Panel, call: &Call) -> Result<(), ApiError> {
    let Some(extensions) = call.extensions() else {
        return Ok(());
    };
    panel
        .adapter
        .extensions()
        .check_input(call.operation(), extensions.as_deref())
        .map_err(ApiError::Invalid)
}

/// Validates a request against the panel's partner rules without calling the partner, through
/// the same pipeline as an operation: its own task, span, log line, metrics and journal entry.
pub(crate) async fn validate(
    state: &Arc<AppState>,
    panel: &Arc<Panel>,
    request: ValidationRequest,
) -> Result<Answer, ApiError> {
    let (operation, extensions) = match &request {
        ValidationRequest::Quote(r) => (crate::model::Operation::Quote, &r.extensions),
        ValidationRequest::Application(a) => (crate::model::Operation::Accept, &a.extensions),
    };
    panel
        .adapter
        .extensions()
        .check_input(operation, extensions.as_deref())
        .map_err(ApiError::Invalid)?;
    detached(state, panel, "validate".into(), move |state, panel| async move {
        validation(&state, &panel, request).await
    })
    .await
}

/// Runs `work` on a task of its own, in the operation's span, and logs and counts its answer.
async fn detached<F, Fut>(
    state: &Arc<AppState>,
    panel: &Arc<Panel>,
    operation: String,
    work: F,
) -> Result<Answer, ApiError>
where
    F: FnOnce(Arc<AppState>, Arc<Panel>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Answer, ApiError>> + Send,
{
    let (state, panel) = (state.clone(), panel.clone());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let labels = crate::metrics::OperationLabels {
            panel: panel.id.clone(),
            operation,
            adapter: format!("{}@{}", panel.module.name, panel.module.version),
        };
        // The operation's span: its adapter call, partner exchanges and logs nest in it, and
        // it carries the journal id once there is one.
        let span = tracing::info_span!(
            "operation",
            panel = %labels.panel,
            operation = %labels.operation,
            adapter = %labels.adapter,
            journal_id = tracing::field::Empty,
        );
        let answer = work(state.clone(), panel).instrument(span.clone()).await;
        let (status, code) = match &answer {
            Ok((status, _)) => (status.as_u16(), None),
            Err(e) => (e.status().as_u16(), Some(e.body().error.code)),
        };
        span.in_scope(|| {
            tracing::info!(
                status,
                code = code.as_deref(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "answered"
            )
        });
        state
            .runtime
            .metrics
            .request(&labels, status, code.as_deref(), started.elapsed());
        answer
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the operation's task ended: {e}")))?
}

async fn validation(
    state: &Arc<AppState>,
    panel: &Panel,
    request: ValidationRequest,
) -> Result<Answer, ApiError> {
    let journal_id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("journal_id", journal_id.as_str());
    let adapter = format!("{}@{}", panel.module.name, panel.module.version);
    let result = panel.adapter.validate(request.clone()).await;
    let commit = Commit {
        journal: vec![JournalEntry {
            id: journal_id.clone(),
            panel: Some(panel.id.clone()),
            operation: "validate".into(),
            kind: "portal",
            case_id: None,
            outcome: match &result {
                Ok(_) => "ok".into(),
                Err(e) => e.to_string(),
            },
            detail: json!({ "request": request, "adapter": adapter, "module": panel.module.hash })
                .to_string(),
        }],
        ..Commit::default()
    };
    keep_read_only(state, commit).await?;
    match result {
        Ok(issues) => Ok((
            StatusCode::OK,
            json!({
                "journal_id": journal_id,
                "adapter": adapter,
                "valid": issues.is_empty(),
                "issues": issues,
            })
            .to_string(),
        )),
        Err(CallError::Adapter(AdapterError::Unsupported(_))) => Err(ApiError::Unsupported {
            panel: panel.id.clone(),
            operation: "validate".into(),
        }),
        Err(error) => Err(ApiError::Call { error, journal_id }),
    }
}

async fn answer(
    state: &Arc<AppState>,
    panel: &Panel,
    call: Call,
    effect: CaseEffect,
    key: Option<IdempotencyKey>,
) -> Result<Answer, ApiError> {
    if let Err(refusal) = supported(panel, &call) {
        return answered_before(state, key.as_ref())
            .await?
            .unwrap_or(Err(refusal));
    }
    let operation = call.operation();
    // A state change without a key is refused before anything runs: a portal's ordinary
    // retry of it (a timeout, a dropped connection) would act at the partner twice.
    if operation.changes_state() && key.is_none() {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "is required on a request that changes state at the partner: send a key of your own (a UUID), the same on every retry of this request, so that a retry never acts twice",
        ));
    }
    // A state change claims its key in the commit that records it in flight (`execute`): one
    // commit and one sync for both. Any other operation claims its key first, on its own.
    let mut releasable = false;
    if let Some(k) = &key
        && !operation.changes_state()
    {
        if let Some(answer) = answered(state.store.claim_key(&k.claim()).await?) {
            return answer;
        }
        releasable = true;
    }
    let result = execute(state, panel, call, effect, key.as_ref(), &mut releasable).await;
    if let (Some(k), Err(e), true) = (&key, &result, releasable)
        && releases_key(e)
    {
        // The partner certainly did not act (or the operation changes nothing): a retry may
        // succeed where this failed, so the key goes. Should the store refuse even that, it
        // goes as soon as the store returns.
        let claim = k.claim();
        if state.store.release_key(&claim).await.is_err() {
            spawn_release(state, claim);
        }
    }
    result
}

/// What a request answers when its idempotency key was claimed before (`None`: the key is now
/// this request's).
fn answered(key: KeyState) -> Option<Result<Answer, ApiError>> {
    match key {
        KeyState::Fresh => None,
        KeyState::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Some(Ok((status, body)))
        }
        KeyState::Mismatch => Some(Err(ApiError::KeyReused)),
        KeyState::InFlight => Some(Err(ApiError::KeyInFlight)),
    }
}

/// Whether a failed request lets its key go: a server-side failure that left nothing behind
/// (an answer in doubt and a kept commit both hold their key until they are settled).
fn releases_key(e: &ApiError) -> bool {
    match e {
        ApiError::OutcomeUnknown { .. } | ApiError::StoreUnavailable { kept: true } => false,
        e => e.status().is_server_error(),
    }
}

/// Releases a request's claim of its key once the store can write again.
fn spawn_release(state: &Arc<AppState>, claim: KeyClaim) {
    until_the_store_takes(state, "releasing an idempotency key", move |state| {
        let claim = claim.clone();
        async move { state.store.release_key(&claim).await }
    });
}

/// Runs `write` in the background until the store takes it, backing off from 200 ms to
/// [`STORE_RETRY_CAP`], or refuses it for good (a fault of the data, not of the moment).
fn until_the_store_takes<F, Fut>(state: &Arc<AppState>, what: &'static str, write: F)
where
    F: Fn(Arc<AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::store::Result<()>> + Send,
{
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            tokio::time::sleep(wait).await;
            let Some(state) = state.upgrade() else { return };
            match write(state).await {
                Ok(()) => {
                    tracing::info!("{what}: done once the store took it");
                    return;
                }
                Err(e) if e.is_transient() => tracing::warn!("{what}: still waiting for the store: {e}"),
                Err(e) => {
                    tracing::error!("{what}: refused for good: {e}");
                    return;
                }
            }
            wait = (wait * 2).min(STORE_RETRY_CAP);
        }
    });
}

/// The longest wait between two attempts to commit what a store fault held back.
const STORE_RETRY_CAP: std::time::Duration = std::time::Duration::from_secs(5);

/// Whether a failed call's error is the partner's (or the host's) definite answer: the partner
/// refused the request, so it did not act on it, or nothing was sent.
fn definite(error: &CallError) -> bool {
    match error {
        CallError::Adapter(e) => matches!(
            e,
            AdapterError::InvalidRequest(_)
                | AdapterError::Rejected(_)
                | AdapterError::NotFound(_)
                | AdapterError::Conflict(_)
                | AdapterError::Unsupported(_)
                | AdapterError::PartnerBadRequest(_)
                | AdapterError::Unauthorized(_)
        ),
        CallError::Quarantined(_) | CallError::Overloaded(_) => true,
        CallError::Fault(_) | CallError::Deadline(_) => false,
    }
}

/// Runs `call` and commits what came of it. `releasable` says whether the request's key may go
/// should it fail: set once a state change holds its key (claimed with its in-flight record),
/// cleared once its partner may have acted.
async fn execute(
    state: &Arc<AppState>,
    panel: &Panel,
    call: Call,
    effect: CaseEffect,
    key: Option<&IdempotencyKey>,
    releasable: &mut bool,
) -> Result<Answer, ApiError> {
    let operation = enum_str(&call.operation());
    let journal_id = uuid::Uuid::now_v7().to_string();
    let input = call.journal_input();
    let adapter = format!("{}@{}", panel.module.name, panel.module.version);
    // A state-changing call is recorded before the partner is asked: should the host die
    // before the outcome is committed, start-up finds it and marks its outcome unknown.
    // (A callback's handling never comes here: `api::callbacks` runs it.)
    let changes_state = call.operation().changes_state();
    let opens = effect.opens.as_ref().map(|(id, kind, product, parent)| {
        json!({ "case_id": id, "kind": kind, "product": product, "parent": parent })
    });
    let pending = changes_state.then(|| PendingOperation {
        journal_id: journal_id.clone(),
        panel: panel.id.clone(),
        operation: operation.clone(),
        case_id: effect.case_id.clone(),
        opens,
        idempotency: key.map(|k| (k.scope.clone(), k.key.clone())),
        request: input.clone(),
        started_at: crate::store::now(),
        state: "running".into(),
    });
    if let Some(pending) = &pending {
        let claim = key.map(IdempotencyKey::claim);
        if let Some(answer) = answered(state.store.begin_pending(pending, claim.as_ref()).await?) {
            return answer;
        }
        *releasable = key.is_some();
    }
    // Not before: a request its key answered has no journal entry of its own.
    tracing::Span::current().record("journal_id", journal_id.as_str());
    let fulfils = Fulfils::of(&call);
    let (result, record) = panel
        .adapter
        .call(call, &journal_id, key.map(IdempotencyKey::for_adapter))
        .await;
    let case_id = effect
        .opens
        .as_ref()
        .map(|o| o.0.clone())
        .or(effect.case_id.clone());
    // The partner may have acted though no answer says so: a timeout or a reset after the
    // request left, a 5xx, an answer the adapter could not read, a trap after a call.
    let in_doubt = match (&pending, &result) {
        (Some(_), Err(error)) if !definite(error) => {
            record.unrecorded_request || record.exchanges.iter().any(Exchange::may_have_acted)
        }
        _ => false,
    };
    // From here a state change's key goes with a failure only if the partner certainly did not
    // act: once it acted, a retry must find the key held whatever fails after (the outcome's
    // commit refused for good, say), never call the partner again.
    if pending.is_some() {
        *releasable &= result.is_err() && !in_doubt;
    }

    let outcome_label = match &result {
        Ok(_) => "ok".to_string(),
        Err(e) if in_doubt => format!("unknown: {e}"),
        Err(CallError::Adapter(e)) => format!("adapter-error: {e}"),
        Err(e) => e.to_string(),
    }
    .replace('\0', "\u{fffd}");
    let entry = JournalEntry {
        id: journal_id.clone(),
        panel: Some(panel.id.clone()),
        operation: operation.clone(),
        kind: "portal",
        case_id: case_id.clone(),
        outcome: outcome_label,
        detail: detail(&OperationDetail {
            adapter: &adapter,
            exchanges: record.exchanges.len(),
            module: &panel.module.hash,
            request: &input,
            result: match &result {
                Ok(outcome) => ResultDetail::Ok(outcome),
                Err(CallError::Adapter(e)) => ResultDetail::Error(e),
                Err(e) => ResultDetail::Fault(e.to_string()),
            },
        }),
    };
    let exchanges = exchange_entries(&record, &journal_id, &panel.id, &operation, case_id.as_deref());

    if let (true, Some(pending), Err(error)) = (in_doubt, &pending, &result) {
        // In one line: the backtrace of a fault is the journal's (the entry above), not the
        // portal's, which this message reaches through the answer, its replay, the case and
        // the feed.
        let cause = match error {
            CallError::Adapter(e) => e.to_string(),
            CallError::Fault(fault) => format!("adapter fault: {}", crate::adapter::fault_cause(fault)),
            other => other.to_string(),
        };
        let message = format!(
            "outcome unknown: `{operation}` reached the partner but no definite answer came back ({}); the partner may or may not have acted (journal {journal_id})",
            cause.replace('\0', "\u{fffd}")
        );
        let (mut commit, case_id) = state.unknown_commit(pending, &message, entry, true);
        commit.journal.extend(exchanges);
        let kept = keep(state, commit, true).await;
        tracing::warn!(case = ?case_id, "{message}");
        // Asked of the partner where it can tell, once the commit is in (a kept one too).
        state.reconcile_later(pending.clone(), case_id.clone());
        kept?;
        return Err(ApiError::OutcomeUnknown {
            message,
            journal_id,
            case_id,
        });
    }

    let mut commit = Commit {
        settles: changes_state.then(|| journal_id.clone()),
        ..Commit::default()
    };
    commit.journal.push(entry);
    commit.journal.extend(exchanges);
    let answer = match result {
        Ok(outcome) => {
            let (status, change) = case_change(&outcome, &effect, &journal_id, &panel.id);
            if let Some(mut change) = change {
                // What the answer tells was learnt once its request went out: a callback
                // received before that (while the operation waited its turn) is older news.
                change.learnt_ms = record
                    .exchanges
                    .iter()
                    .filter(|e| e.sent)
                    .map(|e| e.sent_at_ms)
                    .max();
                if change.requirements.is_none() {
                    change.requirement_marks = fulfils.marks(&effect.requirements, change.status);
                }
                if change.status == effect.current {
                    change.status = None;
                }
                if let Some(new_status) = change.status
                    && let Some(case_id) = &case_id
                {
                    commit.events.push(NewEvent {
                        panel: panel.id.clone(),
                        case_id: Some(case_id.clone()),
                        kind: format!("{operation}_result"),
                        dedup_key: format!("journal:{journal_id}"),
                        status: Some(new_status),
                        payload: json!({ "operation": operation, "journal_id": journal_id, "result": outcome }),
                        flagged: None,
                        case_ref: None,
                        learnt_ms: change
                            .learnt_ms
                            .or_else(|| crate::store::learnt_ms(&change.source)),
                    });
                }
                commit.cases.push(change);
            }
            // Not `?`: what the partner did is committed below whatever happens here. (The
            // outcome passed `check_outcome`, which renders it, so this does not fail.)
            serde_json::to_string(&AnswerBody {
                adapter: &adapter,
                case_id: case_id.as_deref(),
                journal_id: &journal_id,
                result: &outcome,
            })
            .map(|body| (status, body))
            .map_err(|e| ApiError::Internal(e.into()))
        }
        Err(error) => Err(ApiError::Call {
            error,
            journal_id: journal_id.clone(),
        }),
    };
    if let Some(k) = key {
        let (status, body) = match &answer {
            Ok((s, b)) => (s.as_u16(), b.clone()),
            Err(e) => (
                e.status().as_u16(),
                serde_json::to_string(&e.body()).unwrap_or_default(),
            ),
        };
        if status < 500 {
            commit.idempotent_response = Some((k.scope.clone(), k.key.clone(), status, body));
        } else {
            // The key goes with the outcome (as the caller lets it go after), so that an
            // outcome kept through a store fault does not hold it once it lands.
            commit.releases = Some(k.claim());
        }
    }
    // Durability by operation class: a state change, and a read that changed a case (a status
    // report that moved it, which the portal reads next) or stored an answer under a key, wait
    // for their commit; any other read answers once its record is queued.
    if changes_state || key.is_some() || !commit.cases.is_empty() || !commit.events.is_empty() {
        keep(state, commit, changes_state).await?;
    } else {
        keep_read_only(state, commit).await?;
    }
    answer
}

/// The journal entries of an operation's partner exchanges, each pointing at its operation.
pub(crate) fn exchange_entries(
    record: &crate::adapter::CallRecord,
    of: &str,
    panel: &str,
    operation: &str,
    case_id: Option<&str>,
) -> Vec<JournalEntry> {
    record
        .exchanges
        .iter()
        .map(|exchange| JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: Some(panel.to_string()),
            operation: operation.to_string(),
            kind: "partner",
            case_id: case_id.map(str::to_string),
            outcome: match (exchange.status, &exchange.error) {
                (Some(s), _) => format!("http {s}"),
                (None, Some(e)) => e.clone(),
                (None, None) => "unknown".into(),
            },
            detail: detail(&ExchangeDetail { exchange, of }),
        })
        .collect()
}

/// Commits what an operation learned. When the partner may have acted (`hold`), a store fault
/// does not lose it: the commit is kept and tried again until the store takes it, and the
/// caller hears `503` meanwhile (its key still held, so a retry waits for the kept answer).
pub(crate) async fn keep(state: &Arc<AppState>, commit: Commit, hold: bool) -> Result<(), ApiError> {
    if !hold {
        state.store.commit(commit).await?;
        return Ok(());
    }
    match commit_outcome(state, &commit).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_transient() => {
            tracing::error!(
                "the store refused an operation's outcome; kept, and tried again until it takes it: {e}"
            );
            spawn_keeper(state, commit);
            Err(ApiError::StoreUnavailable { kept: true })
        }
        Err(e) => Err(e.into()),
    }
}

/// Commits a state change's outcome (or its mark of doubt). An outcome that finds its operation
/// marked in doubt meanwhile (a store fault held it back past the age at which a sweep takes an
/// operation for one whose host died) settles the doubt with what the partner answered
/// ([`AppState::settle_with_outcome`]), rather than being refused, or written over the mark.
async fn commit_outcome(state: &Arc<AppState>, commit: &Commit) -> crate::store::Result<()> {
    match state.store.commit(commit.clone()).await {
        Err(crate::store::StoreError::Settled(_)) if commit.settles.is_some() => {
            state.settle_with_outcome(commit.clone()).await
        }
        committed => committed.map(drop),
    }
}

/// Commits a read-only operation's record (its journal entries and nothing else): handed to the
/// group commit, and not waited for, so that a quote waits for no disk. Lost only if the host
/// dies before that group commits (docs/operating.md, "Durability by operation class"). While
/// the store is failing it waits as [`keep`] does, so that the portal hears `503
/// store_unavailable` rather than an answer whose record cannot be written.
pub(crate) async fn keep_read_only(state: &Arc<AppState>, commit: Commit) -> Result<(), ApiError> {
    if state.store.failing() {
        return keep(state, commit, false).await;
    }
    state.store.commit_queued(commit)?;
    Ok(())
}

/// Commits a held-back outcome once the store takes it (or refuses it for good: its operation
/// settled elsewhere). Only a stop of the host loses it, and then start-up finds its operation
/// still running and marks it in doubt.
fn spawn_keeper(state: &Arc<AppState>, commit: Commit) {
    until_the_store_takes(state, "committing a kept outcome", move |state| {
        let commit = commit.clone();
        async move { commit_outcome(&state, &commit).await }
    });
}

/// What the portal gets back from an operation that reached its adapter.
#[derive(Serialize)]
struct AnswerBody<'a> {
    adapter: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_id: Option<&'a str>,
    journal_id: &'a str,
    result: &'a Outcome,
}

/// A portal operation's journal entry: what the portal asked, which module answered, and what.
#[derive(Serialize)]
struct OperationDetail<'a> {
    adapter: &'a str,
    exchanges: usize,
    module: &'a str,
    request: &'a RawValue,
    result: ResultDetail<'a>,
}

/// `{"ok": outcome}`, `{"error": adapter error}` or `{"fault": what went wrong}`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum ResultDetail<'a> {
    Ok(&'a Outcome),
    Error(&'a AdapterError),
    Fault(String),
}

/// A partner exchange's journal entry, pointing at its operation's entry.
#[derive(Serialize)]
struct ExchangeDetail<'a> {
    exchange: &'a Exchange,
    of: &'a str,
}

/// A journal detail as JSON text, straight from the values it holds. Outcomes have passed
/// `check_outcome`, which renders them once already, so this cannot fail; should it, the entry
/// says so rather than being lost.
fn detail(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| json!({ "unrenderable": e.to_string() }).to_string())
}

/// What a successful operation fulfils of its case's requirements, which the partner's answer
/// does not restate (an upload's receipt, a confirmation, a status report carry none).
enum Fulfils {
    /// The document with this requirement code was received.
    Document(String),
    /// A one-time password was verified: the case's verification requirements are met.
    Verification,
    Nothing,
}

impl Fulfils {
    fn of(call: &Call) -> Fulfils {
        match call {
            Call::UploadDocument(document) => Fulfils::Document(document.code.clone()),
            Call::Confirm(confirmation) if matches!(confirmation.step, ConfirmStep::VerifyOtp(_)) => {
                Fulfils::Verification
            }
            _ => Fulfils::Nothing,
        }
    }

    /// What the operation moves on of the case's requirements (as read before it ran): what
    /// it fulfilled is `received`; once the case is decided in the customer's favour (in force,
    /// approved), what is still `requested` was not needed after all and is `waived`. The
    /// store applies them to the requirements as they are then ([`CaseChange::requirement_marks`]).
    fn marks(&self, before: &[Requirement], status: Option<CaseStatus>) -> Vec<(String, RequirementStatus)> {
        let decided = matches!(
            status,
            Some(CaseStatus::InForce | CaseStatus::ApplicationApproved)
        );
        before
            .iter()
            .filter(|requirement| requirement.status == RequirementStatus::Requested)
            .filter_map(|requirement| {
                let met = match self {
                    Fulfils::Document(code) => requirement.code == *code,
                    Fulfils::Verification => requirement.kind == RequirementKind::Verification,
                    Fulfils::Nothing => false,
                };
                if met {
                    Some((requirement.code.clone(), RequirementStatus::Received))
                } else if decided {
                    Some((requirement.code.clone(), RequirementStatus::Waived))
                } else {
                    None
                }
            })
            .collect()
    }
}

/// The status to answer with, and what the outcome changes in the case.
fn case_change(
    outcome: &Outcome,
    effect: &CaseEffect,
    journal_id: &str,
    panel: &str,
) -> (StatusCode, Option<CaseChange>) {
    let source = format!("operation:{journal_id}");
    let complete = |policy: &Option<Policy>| match (policy, &effect.terms) {
        (Some(policy), Some(terms)) => Some(terms.complete(policy.clone())),
        (policy, _) => policy.clone(),
    };
    let base = |status: CaseStatus| CaseChange {
        case_id: effect
            .opens
            .as_ref()
            .map(|o| o.0.clone())
            .or(effect.case_id.clone())
            .unwrap_or_default(),
        create: effect
            .opens
            .clone()
            .map(|(_, kind, product, parent)| (panel.to_string(), kind, product, parent)),
        status: Some(status),
        source: source.clone(),
        ..CaseChange::default()
    };
    match outcome {
        Outcome::Accept(a) => {
            let mut c = base(a.status);
            c.policy = complete(&a.policy);
            c.terms = effect.opens.as_ref().and(effect.terms.clone());
            c.requirements = Some(a.requirements.clone());
            c.message = a.message.clone();
            c.references = a.references.clone();
            (StatusCode::CREATED, Some(c))
        }
        Outcome::Claim(r) => {
            let mut c = base(r.status);
            c.requirements = Some(r.requirements.clone());
            c.message = r.message.clone();
            c.references = r.references.clone();
            (StatusCode::CREATED, Some(c))
        }
        Outcome::UploadDocument(r) => {
            let mut c = base(r.status);
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        Outcome::Confirm(r) => {
            let mut c = base(r.status);
            c.policy = complete(&r.policy);
            c.references = r.references.clone();
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        Outcome::Cancel(r) => {
            let mut c = base(r.status);
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        // An endorsement: the case's status, and the policy as changed when the partner
        // issued it at once.
        Outcome::Change(r) => {
            let mut c = base(r.status);
            c.policy = complete(&r.policy);
            c.references = r.references.clone();
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        Outcome::Status(r) if effect.case_id.is_some() => {
            let mut c = base(r.status);
            c.policy = complete(&r.policy);
            c.references = r.references.clone();
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        _ => (StatusCode::OK, None),
    }
}
