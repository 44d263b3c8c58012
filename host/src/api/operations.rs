//! Running one operation: idempotency, the adapter call, and committing what it learned.

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

use super::{ApiError, AppState, Panel};
use crate::adapter::{Call, CallError, Outcome};
use crate::model::{AdapterError, CaseKind, CaseStatus};
use crate::runtime::Exchange;
use crate::store::{CaseChange, Commit, JournalEntry, KeyState, NewEvent, PendingOperation, enum_str};

/// How an operation relates to cases.
pub struct CaseEffect {
    /// The case the operation acts on, if any.
    pub case_id: Option<String>,
    /// Set when the operation opens a case: its id, kind, product and parent.
    pub opens: Option<(String, CaseKind, Option<String>, Option<String>)>,
    /// The case's status before the operation; an unchanged status is no event.
    pub current: Option<CaseStatus>,
}

impl CaseEffect {
    pub fn none() -> CaseEffect {
        CaseEffect {
            case_id: None,
            opens: None,
            current: None,
        }
    }

    pub fn on(case: &crate::store::Case) -> CaseEffect {
        CaseEffect {
            case_id: Some(case.id.clone()),
            opens: None,
            current: Some(case.status),
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
        }
    }
}

/// An idempotency key scoped to the caller and route.
pub struct IdempotencyKey {
    scope: String,
    key: String,
    hash: String,
}

impl IdempotencyKey {
    pub fn from_headers(headers: &HeaderMap, route: &str, body: &[u8]) -> Result<Option<Self>, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .ok_or_else(|| ApiError::invalid("Idempotency-Key", "must be 1 to 255 visible characters"))?;
        Ok(Some(IdempotencyKey {
            scope: format!("portal:{route}"),
            key: key.to_string(),
            hash: hex::encode(Sha256::digest(body)),
        }))
    }
}

/// A response ready to send: its status and its body, JSON text.
pub type Answer = (StatusCode, String);

pub(crate) async fn run(
    state: &AppState,
    panel: &Panel,
    call: Call,
    effect: CaseEffect,
    key: Option<IdempotencyKey>,
) -> Result<Answer, ApiError> {
    let started = std::time::Instant::now();
    let labels = crate::metrics::OperationLabels {
        panel: panel.id.clone(),
        operation: enum_str(&call.operation()),
        adapter: format!("{}@{}", panel.module.name, panel.module.version),
    };
    // The operation's span: its adapter call, partner exchanges and logs nest in it, and it
    // carries the journal id once there is one.
    let span = tracing::info_span!(
        "operation",
        panel = %labels.panel,
        operation = %labels.operation,
        adapter = %labels.adapter,
        journal_id = tracing::field::Empty,
    );
    let answer = answer(state, panel, call, effect, key)
        .instrument(span.clone())
        .await;
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
}

async fn answer(
    state: &AppState,
    panel: &Panel,
    call: Call,
    effect: CaseEffect,
    key: Option<IdempotencyKey>,
) -> Result<Answer, ApiError> {
    let operation = call.operation();
    if !panel.adapter.description().operations.contains(&operation) {
        return Err(ApiError::Unsupported {
            panel: panel.id.clone(),
            operation: enum_str(&operation),
        });
    }
    if let Some(k) = &key {
        match state.store.claim_key(&k.scope, &k.key, &k.hash).await? {
            KeyState::Fresh => {}
            KeyState::Replay { status, body } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                return Ok((status, body));
            }
            KeyState::Mismatch => return Err(ApiError::KeyReused),
            KeyState::InFlight => return Err(ApiError::KeyInFlight),
        }
    }
    let result = execute(state, panel, call, effect, key.as_ref()).await;
    if let (Some(k), Err(e)) = (&key, &result)
        && (e.status().is_server_error() || matches!(e, ApiError::Internal(_)))
    {
        // A retry may succeed where this failed: let the key go.
        state.store.release_key(&k.scope, &k.key).await?;
    }
    result
}

async fn execute(
    state: &AppState,
    panel: &Panel,
    call: Call,
    effect: CaseEffect,
    key: Option<&IdempotencyKey>,
) -> Result<Answer, ApiError> {
    let operation = enum_str(&call.operation());
    let journal_id = uuid::Uuid::now_v7().to_string();
    tracing::Span::current().record("journal_id", journal_id.as_str());
    let input = call.journal_input();
    let adapter = format!("{}@{}", panel.module.name, panel.module.version);
    // A state-changing call is recorded before the partner is asked: should the host die
    // before the outcome is committed, start-up finds it and marks its outcome unknown.
    let changes_state = !matches!(
        call,
        Call::Quote(_)
            | Call::Status(_)
            | Call::Lookup(_)
            | Call::Poll(_)
            | Call::PolicyDocument(_)
            | Call::HandleCallback(_)
    );
    if changes_state {
        state
            .store
            .begin_pending(&PendingOperation {
                journal_id: journal_id.clone(),
                panel: panel.id.clone(),
                operation: operation.clone(),
                case_id: effect.case_id.clone(),
                opens: effect.opens.as_ref().map(|(id, kind, product, parent)| {
                    json!({ "case_id": id, "kind": kind, "product": product, "parent": parent })
                }),
                idempotency: key.map(|k| (k.scope.clone(), k.key.clone())),
                request: input.clone(),
                started_at: crate::store::now(),
                state: "running".into(),
            })
            .await?;
    }
    let (result, record) = panel.adapter.call(call, &journal_id).await;
    let case_id = effect
        .opens
        .as_ref()
        .map(|o| o.0.clone())
        .or(effect.case_id.clone());

    let mut commit = Commit {
        settles: changes_state.then(|| journal_id.clone()),
        ..Commit::default()
    };
    let outcome_label = match &result {
        Ok(_) => "ok".to_string(),
        Err(CallError::Adapter(e)) => format!("adapter-error: {e}"),
        Err(e) => e.to_string(),
    }
    .replace('\0', "\u{fffd}");
    commit.journal.push(JournalEntry {
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
    });
    for exchange in &record.exchanges {
        commit.journal.push(JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: Some(panel.id.clone()),
            operation: operation.clone(),
            kind: "partner",
            case_id: case_id.clone(),
            outcome: match (exchange.status, &exchange.error) {
                (Some(s), _) => format!("http {s}"),
                (None, Some(e)) => e.clone(),
                (None, None) => "unknown".into(),
            },
            detail: detail(&ExchangeDetail {
                exchange,
                of: &journal_id,
            }),
        });
    }

    let answer = match result {
        Ok(outcome) => {
            let (status, change) = case_change(&outcome, &effect, &journal_id, &panel.id);
            if let Some(mut change) = change {
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
        }
    }
    state.store.commit(commit).await?;
    answer
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

/// The status to answer with, and what the outcome changes in the case.
fn case_change(
    outcome: &Outcome,
    effect: &CaseEffect,
    journal_id: &str,
    panel: &str,
) -> (StatusCode, Option<CaseChange>) {
    let source = format!("operation:{journal_id}");
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
            c.policy = a.policy.clone();
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
            c.policy = r.policy.clone();
            c.references = r.references.clone();
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        Outcome::Cancel(r) => {
            let mut c = base(r.status);
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        Outcome::Status(r) if effect.case_id.is_some() => {
            let mut c = base(r.status);
            c.policy = r.policy.clone();
            c.references = r.references.clone();
            c.message = r.message.clone();
            (StatusCode::OK, Some(c))
        }
        _ => (StatusCode::OK, None),
    }
}
