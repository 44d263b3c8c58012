//! Partner callbacks: `POST /callbacks/{panel}/{*path}`.
//!
//! The host authenticates the partner, stores the request exactly as received, lets the adapter
//! turn it into canonical events and the reply the partner expects, and commits it all before
//! replying. The same fact delivered twice is one event.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tracing::Instrument as _;

use super::{ApiError, AppState, Panel};
use crate::adapter::{Call, CallError, Outcome};
use crate::core::callback_auth::{Admission, Reply};
use crate::model::*;
use crate::store::{CallbackRecord, CaseChange, Commit, JournalEntry, NewAttachment, NewEvent, enum_str};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/callbacks/{panel}/{*path}", post(callback))
}

/// A partner calls back: authenticated per panel, handled by the panel's adapter.
#[utoipa::path(post, path = "/callbacks/{panel}/{path}", tag = "partner",
    request_body(content = String, description = "the partner's request as its spec defines it", content_type = "application/json"),
    responses((status = 200, description = "the reply the partner's spec expects"), (status = 401, description = "the callback's Basic credentials or HMAC signature are missing, wrong, outside their time window or replayed")))]
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path((panel_id, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let panel = state.panel(&panel_id)?;
    let span = tracing::info_span!("callback", panel = %panel.id, path = %path);
    // On a task of its own, as an operation runs: a partner that hangs up does not cut off
    // what its callback set going (the adapter's own partner calls, the commit).
    let (task_state, task_panel, task_headers) = (state.clone(), panel.clone(), headers.clone());
    let answer = tokio::spawn(
        async move { receive(&task_state, &task_panel, path, task_headers, body).await }
            .instrument(span.clone()),
    )
    .await
    .unwrap_or_else(|e| {
        // Nothing of it was kept: the partner's retry of it is no replay.
        if let Some(auth) = &panel.callback_auth {
            auth.forget(&headers);
        }
        Err(ApiError::Internal(anyhow::anyhow!(
            "the callback's task ended: {e}"
        )))
    });
    let status = match &answer {
        Ok(response) => response.status(),
        Err(e) => e.status(),
    };
    state.runtime.metrics.callback(&panel.id, status.as_u16());
    span.in_scope(|| tracing::info!(status = status.as_u16(), "answered"));
    answer
}

async fn receive(
    state: &AppState,
    panel: &Panel,
    path: String,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if let Some(auth) = &panel.callback_auth {
        match auth.check(&path, &headers, &body) {
            Ok(Admission::Fresh) => {}
            Ok(Admission::Again(reply)) => {
                tracing::info!("the same signed callback again: answered the reply it had");
                return Ok((
                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                    [(header::CONTENT_TYPE, reply.content_type.clone())],
                    reply.body.clone(),
                )
                    .into_response());
            }
            Ok(Admission::InFlight) => {
                tracing::info!("the same signed callback again while it is being handled: try later");
                return Ok((
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "5")],
                    "this signed request is still being handled: send it again later for its reply",
                )
                    .into_response());
            }
            Err(refusal) => {
                tracing::info!(reason = %refusal.reason, "callback refused");
                return Ok((
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, refusal.challenge)],
                    refusal.reason,
                )
                    .into_response());
            }
        }
    }
    let answer = admitted(state, panel, path, &headers, body).await;
    if let Some(auth) = &panel.callback_auth {
        // Whatever it was answered, unless its signature was given back (`forget`).
        auth.answered(&headers);
    }
    answer
}

/// A callback whose proof holds (or that needs none), from its route on.
async fn admitted(
    state: &AppState,
    panel: &Panel,
    path: String,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let panel_id = &panel.id;
    let proof = panel
        .callback_auth
        .as_ref()
        .map(|auth| auth.proof_headers())
        .unwrap_or_else(|| vec![header::AUTHORIZATION]);
    let description = panel.adapter.description();
    if !description.callbacks.iter().any(|c| c.path == path) {
        return Err(ApiError::NotFound(format!(
            "panel `{panel_id}` has no callback `{path}`"
        )));
    }
    // Input beyond what the adapter can hold is refused before it runs, as a portal's is: a
    // form (documents) up to an upload's limit, any other body up to a portal body's. Nothing
    // of it is kept, so its signature is not used up.
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let (limit, why) = if form {
        (
            panel.context.max_document(),
            "an eighth of its sandbox memory, as for an uploaded document",
        )
    } else {
        (
            panel.context.max_json_input(),
            "a sixteenth of its sandbox memory, as for a portal's body",
        )
    };
    if body.len() > limit {
        if let Some(auth) = &panel.callback_auth {
            auth.forget(headers);
        }
        return Err(ApiError::InputTooLarge {
            panel: panel_id.clone(),
            operation: "handle-callback",
            field: String::new(),
            size: body.len(),
            limit,
            why,
        });
    }
    let parsed = parse_body(headers, &body).await;
    if let Some(field) = nul_field(headers, &parsed) {
        return refuse(state, panel, &path, headers, body, &field).await;
    }
    let request = CallbackRequest {
        path: path.clone(),
        method: "POST".into(),
        headers: headers
            .iter()
            .filter(|(n, _)| !proof.contains(n))
            .filter_map(|(n, v)| {
                Some(Pair {
                    name: n.as_str().into(),
                    value: v.to_str().ok()?.into(),
                })
            })
            .collect(),
        query: None,
        body: parsed,
    };
    let answer = handle(state, panel, request, headers, body).await;
    if let Err(e) = &answer
        && e.status().is_server_error()
        && let Some(auth) = &panel.callback_auth
    {
        // The host failed it and kept nothing of it (the store could not write): the partner's
        // retry of the same signed request is taken. An adapter's fault is answered with the
        // callback kept, flagged: a replay of it is refused, as it would only repeat the fault.
        auth.forget(headers);
    }
    answer
}

/// The path of the first text field of a callback that holds the NUL character. No partner
/// field means it, no text the host keeps may hold it (PostgreSQL cannot store it), and an
/// adapter that passes it on faults: refused before the adapter runs, so that no callback
/// source can count faults against the panel. Files in a form are bytes, and may hold it.
fn nul_field(headers: &HeaderMap, body: &CallbackBody) -> Option<String> {
    match body {
        CallbackBody::Empty => None,
        CallbackBody::Form(parts) => parts.iter().find_map(|part| {
            let text = part.filename.is_none();
            (part.name.contains('\0')
                || part.filename.as_deref().is_some_and(|f| f.contains('\0'))
                || (text && part.data.contains(&0)))
            .then(|| part.name.clone())
        }),
        CallbackBody::Bytes(bytes) => {
            if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
                return super::nul_path(&value).map(|p| if p.is_empty() { "body".into() } else { p });
            }
            (bytes.contains(&0) && is_text(headers)).then(|| "body".to_string())
        }
    }
}

/// Whether a body's declared type is text (or undeclared, so read as text).
fn is_text(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("json")
        || essence.ends_with("xml")
        || essence == "application/x-www-form-urlencoded"
}

/// Answers a callback refused before its adapter ran, keeping it as received, flagged, and
/// journaled: a partner's request is never lost, even one the host would not hand on.
async fn refuse(
    state: &AppState,
    panel: &Panel,
    path: &str,
    headers: &HeaderMap,
    raw: Bytes,
    field: &str,
) -> Result<Response, ApiError> {
    let error = ApiError::invalid(field, "must not contain the NUL character (U+0000)");
    let status = error.status();
    let callback_id = uuid::Uuid::now_v7().to_string();
    // The field's name may hold the NUL itself; what the host stores may not.
    let flag = format!(
        "refused: `{}` holds the NUL character",
        field.replace('\0', "\u{fffd}")
    );
    let mut commit = Commit::default();
    commit.journal.push(JournalEntry {
        id: uuid::Uuid::now_v7().to_string(),
        panel: Some(panel.id.clone()),
        operation: "handle-callback".into(),
        kind: "callback",
        case_id: None,
        outcome: flag.clone(),
        detail: json!({ "callback_id": callback_id, "path": path, "reply_status": status.as_u16() })
            .to_string(),
    });
    commit.callback = Some(CallbackRecord {
        id: callback_id,
        panel: panel.id.clone(),
        path: path.to_string(),
        headers: recorded_headers(headers),
        body: raw.to_vec(),
        parsed: None,
        reply_status: Some(status.as_u16()),
        flagged: Some(flag),
    });
    state.store.commit(commit).await?;
    Err(error)
}

/// Headers a callback record keeps as sent: what says how the request was made and by what,
/// never who it claims to be. Every other header is kept by name with its value masked, as a
/// partner's key, cookie or proxy credential must not sit in the store.
const RECORDED_HEADERS: [&str; 16] = [
    "accept",
    "accept-encoding",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "expect",
    "host",
    "traceparent",
    "tracestate",
    "transfer-encoding",
    "user-agent",
    "x-correlation-id",
    "x-forwarded-for",
    "x-request-id",
];

/// A callback's headers as its record keeps them: `[name, value]` pairs, in the order sent,
/// values outside [`RECORDED_HEADERS`] masked.
fn recorded_headers(headers: &HeaderMap) -> serde_json::Value {
    json!(
        headers
            .iter()
            .map(|(name, value)| {
                let value = if RECORDED_HEADERS.contains(&name.as_str()) {
                    value.to_str().unwrap_or("")
                } else {
                    "***"
                };
                (name.as_str().to_string(), value.to_string())
            })
            .collect::<Vec<_>>()
    )
}

async fn parse_body(headers: &HeaderMap, body: &Bytes) -> CallbackBody {
    if body.is_empty() {
        return CallbackBody::Empty;
    }
    match super::parse_multipart(headers, body).await {
        Some(Ok(parts)) => return CallbackBody::Form(parts),
        // A malformed form goes to the adapter raw; it answers as its partner expects.
        Some(Err(_)) => return CallbackBody::Bytes(body.to_vec()),
        None => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return CallbackBody::Form(
            url::form_urlencoded::parse(body)
                .map(|(n, v)| FormPart {
                    name: n.into(),
                    filename: None,
                    content_type: None,
                    data: v.as_bytes().to_vec(),
                })
                .collect(),
        );
    }
    CallbackBody::Bytes(body.to_vec())
}

async fn handle(
    state: &AppState,
    panel: &Panel,
    request: CallbackRequest,
    headers: &HeaderMap,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let journal_id = uuid::Uuid::now_v7().to_string();
    let callback_id = uuid::Uuid::now_v7().to_string();
    let path = request.path.clone();
    let (result, call_record) = panel
        .adapter
        .call(Call::HandleCallback(request), &journal_id, None)
        .await;
    let mut record = CallbackRecord {
        id: callback_id.clone(),
        panel: panel.id.clone(),
        path: path.clone(),
        headers: recorded_headers(headers),
        body: raw.to_vec(),
        parsed: None,
        reply_status: None,
        flagged: None,
    };
    let mut commit = Commit::default();
    // Held from the look for a stored event to the commit, so that deliveries of one fact
    // arriving together see each other: one stores it, the others find it (issue 17, #9).
    let _turns = match &result {
        Ok(Outcome::HandleCallback(outcome)) => {
            take_turns(&panel.id, outcome.events.iter().map(|e| e.dedup_key.as_str())).await
        }
        _ => Vec::new(),
    };
    // The reply a handled callback was given, for the very same request sent again.
    let mut kept = None;
    let reply = match result {
        Ok(Outcome::HandleCallback(outcome)) => {
            let mut flags = Vec::new();
            for event in &outcome.events {
                let (new_event, change, attachment, flag) =
                    plan_event(state, panel, event, &callback_id).await?;
                // A repeat within this very callback is the first one's fact: flagged when it
                // differs (the store would drop it silently), nothing more.
                if let Some(earlier) = commit.events.iter().find(|e| e.dedup_key == event.dedup_key) {
                    if earlier.payload != new_event.payload {
                        flags.push(format!(
                            "`{}` twice in one callback with different content: the first kept",
                            event.dedup_key
                        ));
                    }
                    continue;
                }
                if let Some(flag) = flag {
                    flags.push(flag);
                }
                // A repeat of a fact already stored changes nothing; a repeat that differs is
                // flagged.
                if let Some(stored) = state.store.event_payload(&panel.id, &event.dedup_key).await? {
                    if serde_json::from_str::<serde_json::Value>(&stored).ok().as_ref()
                        != Some(&new_event.payload)
                    {
                        flags.push(format!(
                            "`{}` delivered again with different content",
                            event.dedup_key
                        ));
                    }
                    continue;
                }
                // Applied only if this event is new at the store too: another host may store the
                // same fact first.
                commit
                    .event_changes
                    .extend(change.map(|c| (commit.events.len(), c)));
                commit.events.push(new_event);
                commit.attachments.extend(attachment);
            }
            record.parsed =
                Some(json!({ "events": outcome.events.iter().map(event_json).collect::<Vec<_>>() }));
            record.reply_status = Some(outcome.reply.status);
            record.flagged = (!flags.is_empty()).then(|| flags.join("; "));
            let status = StatusCode::from_u16(outcome.reply.status).unwrap_or(StatusCode::OK);
            kept = Some(Reply {
                status: status.as_u16(),
                content_type: outcome.reply.content_type.clone(),
                body: outcome.reply.body.clone(),
            });
            (
                status,
                [(header::CONTENT_TYPE, outcome.reply.content_type.clone())],
                outcome.reply.body.clone(),
            )
                .into_response()
        }
        Ok(_) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "adapter returned the wrong outcome kind"
            )));
        }
        Err(error) => {
            // The adapter's words, kept as text PostgreSQL takes (no NUL).
            record.flagged = Some(format!("not handled: {error}").replace('\0', "\u{fffd}"));
            // Answered as the portal would hear it (503 with Retry-After, 504, ...). A passing
            // failure (the host busy, the panel quarantined, the partner's API down or slow, the
            // deadline) releases the request's signature, so that the partner's retry of the very
            // same signed request is taken. The adapter's own fault is 500 and uses it up: a
            // replay would only repeat the fault. Any other answer (the callback refused as
            // invalid, unknown, ...) would be the same again: the very same request is given it
            // again without running the adapter, as a handled one is.
            let passing = matches!(
                error,
                CallError::Overloaded(_)
                    | CallError::Quarantined(_)
                    | CallError::Deadline(_)
                    | CallError::Adapter(
                        AdapterError::PartnerUnavailable(_) | AdapterError::PartnerTimeout(_)
                    )
            );
            let status = match &error {
                CallError::Adapter(AdapterError::InvalidRequest(_)) => Some(StatusCode::BAD_REQUEST),
                CallError::Fault(_) => Some(StatusCode::INTERNAL_SERVER_ERROR),
                _ => None,
            };
            let fault = matches!(error, CallError::Fault(_));
            if passing && let Some(auth) = &panel.callback_auth {
                auth.forget(headers);
            }
            let error = ApiError::Call {
                error,
                journal_id: journal_id.clone(),
            };
            let status = status.unwrap_or_else(|| error.status());
            record.reply_status = Some(status.as_u16());
            let message = error.body().error.message;
            if !passing && !fault {
                kept = Some(Reply {
                    status: status.as_u16(),
                    content_type: "text/plain; charset=utf-8".into(),
                    body: message.clone().into_bytes(),
                });
            }
            let mut response = (status, message).into_response();
            if let Some(seconds) = error.retry_after() {
                response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            }
            response
        }
    };
    let case_id = commit.event_changes.first().map(|(_, c)| c.case_id.clone());
    // What the adapter asked of the partner while handling it, each pointing at the callback's
    // entry, as an operation's exchanges point at the operation's.
    let exchanges = crate::core::operations::exchange_entries(
        &call_record,
        &journal_id,
        &panel.id,
        "handle-callback",
        case_id.as_deref(),
    );
    commit.journal.push(JournalEntry {
        id: journal_id,
        panel: Some(panel.id.clone()),
        operation: "handle-callback".into(),
        kind: "callback",
        case_id,
        outcome: record.flagged.clone().unwrap_or_else(|| "ok".into()),
        detail: json!({ "callback_id": callback_id, "path": path, "reply_status": record.reply_status, "exchanges": call_record.exchanges.len() })
            .to_string(),
    });
    commit.journal.extend(exchanges);
    commit.callback = Some(record);
    state.store.commit(commit).await?;
    if let (Some(kept), Some(auth)) = (kept, &panel.callback_auth) {
        auth.remember(headers, kept);
    }
    Ok(reply)
}

/// Turns for storing callback events, by a hash of the panel and the event's partner key: few
/// enough to keep, many enough that unrelated callbacks rarely wait for each other. Shared by
/// every host in the process, which only makes them wait a little more; hosts on one shared
/// store meet at the store (an event and its attachment are inserted once whatever races).
static TURNS: [tokio::sync::Mutex<()>; 64] = [const { tokio::sync::Mutex::const_new(()) }; 64];

/// Takes the turns of `panel`'s events with `dedup_keys`, in index order so that two callbacks
/// sharing several never wait for each other in a circle.
async fn take_turns<'a>(
    panel: &str,
    dedup_keys: impl Iterator<Item = &'a str>,
) -> Vec<tokio::sync::MutexGuard<'static, ()>> {
    let mut indices: Vec<usize> = dedup_keys
        .map(|key| {
            let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{panel}\n{key}"));
            usize::from(digest[0]) % TURNS.len()
        })
        .collect();
    indices.sort_unstable();
    indices.dedup();
    let mut guards = Vec::with_capacity(indices.len());
    for i in indices {
        guards.push(TURNS[i].lock().await);
    }
    guards
}

type EventPlan = (
    NewEvent,
    Option<CaseChange>,
    Option<NewAttachment>,
    Option<String>,
);

/// Finds the event's case and turns it into what to store.
async fn plan_event(
    state: &AppState,
    panel: &Panel,
    event: &Event,
    callback_id: &str,
) -> Result<EventPlan, ApiError> {
    let case = state.store.case_by_reference(&panel.id, &event.case_ref).await?;
    let flag = match &case {
        None => Some(format!(
            "no case has {} `{}` yet: stored, to be applied once one has it",
            event.case_ref.kind, event.case_ref.value
        )),
        Some(c) => event
            .status
            .filter(|to| crate::core::events::goes_back(c.status, *to))
            .map(|to| {
                format!(
                    "says `{}` of case {} already `{}`: late news, kept without moving the case back",
                    enum_str(&to),
                    c.id,
                    enum_str(&c.status)
                )
            }),
    };
    let waits = case.is_none();
    let mut payload = event_json(event);
    let mut attachment = None;
    let event_id = format!("{callback_id}:{}", event.dedup_key);
    if let EventDetail::ClaimPayment(ClaimPayment {
        proof: Some(proof), ..
    }) = &event.detail
    {
        // Derived from the fact's identity, so a repeat of the same fact compares equal.
        let id = hex::encode(
            &<sha2::Sha256 as sha2::Digest>::digest(format!("{}\n{}", panel.id, event.dedup_key))[..16],
        );
        payload["detail"]["claim_payment"]["proof"] = json!({ "attachment_id": id, "filename": proof.filename, "content_type": proof.content_type, "bytes": proof.data.len() });
        attachment = Some(NewAttachment {
            id,
            event_id,
            filename: proof.filename.clone(),
            content_type: proof.content_type.clone(),
            data: proof.data.clone(),
        });
    }
    let change = case
        .as_ref()
        .map(|c| crate::core::events::case_change(c, event, format!("callback:{callback_id}")));
    let new_event = NewEvent {
        panel: panel.id.clone(),
        case_id: case.map(|c| c.id),
        kind: event_kind(&event.detail).into(),
        dedup_key: event.dedup_key.clone(),
        // The status it gives the case: none when it moves nothing (a portal following the
        // feed would take it for the case's); a waiting event's own until it is applied.
        status: match &change {
            Some(change) => change.status,
            None => event.status,
        },
        payload,
        flagged: flag.clone(),
        // Waits for a case with the reference (`core::events`).
        case_ref: waits.then(|| event.case_ref.clone()),
        learnt_ms: crate::store::learnt_ms(&format!("callback:{callback_id}")),
    };
    Ok((new_event, change, attachment, flag))
}

/// The event's kind; each one listed in `core::webhooks::CALLBACK_EVENT_KINDS`, which a
/// subscription's `kinds` are checked against.
fn event_kind(detail: &EventDetail) -> &'static str {
    match detail {
        EventDetail::UnderwritingDecision(_) => "underwriting_decision",
        EventDetail::PolicyIssued(_) => "policy_issued",
        EventDetail::CancellationDecision(_) => "cancellation_decision",
        EventDetail::ClaimStatus(_) => "claim_status",
        EventDetail::ClaimPayment(_) => "claim_payment",
        EventDetail::PaymentRequested(_) => "payment_requested",
        EventDetail::PaymentReceived(_) => "payment_received",
        EventDetail::ClaimStep(_) => "claim_step",
        EventDetail::ChangeDecision(_) => "change_decision",
        EventDetail::Other(_) => "other",
    }
}

fn event_json(event: &Event) -> serde_json::Value {
    let mut value = serde_json::to_value(event).unwrap_or_default();
    // Attachment bytes live in their own table; the feed carries a reference.
    if let Some(proof) = value.pointer_mut("/detail/claim_payment/proof")
        && proof.is_object()
    {
        proof["data"] = json!(null);
    }
    if let Some(status) = &event.status {
        value["status"] = json!(enum_str(status));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        }
        headers
    }

    async fn nul(content_type: Option<&str>, body: &[u8]) -> Option<String> {
        let headers = headers(content_type);
        let parsed = parse_body(&headers, &Bytes::copy_from_slice(body)).await;
        nul_field(&headers, &parsed)
    }

    #[tokio::test]
    async fn a_nul_is_found_in_every_text_a_callback_carries_and_nowhere_else() {
        let json = Some("application/json");
        assert_eq!(
            nul(json, br#"{"a": {"b": ["x\u0000"]}}"#).await.as_deref(),
            Some("a.b[0]")
        );
        assert_eq!(nul(json, br#""\u0000""#).await.as_deref(), Some("body"));
        assert_eq!(
            nul(json, br#"{"a": "\\u0000"}"#).await,
            None,
            "an escaped backslash is no NUL"
        );
        let form = Some("application/x-www-form-urlencoded");
        assert_eq!(nul(form, b"ok=1&note=a%00b").await.as_deref(), Some("note"));
        // Text that is not JSON, declared or not; bytes declared as such may hold anything.
        assert_eq!(nul(Some("text/xml"), b"<a>\0</a>").await.as_deref(), Some("body"));
        assert_eq!(nul(None, b"plain\0text").await.as_deref(), Some("body"));
        assert_eq!(nul(Some("application/pdf"), b"%PDF\0\0").await, None);
        assert_eq!(nul(json, b"").await, None);
    }

    #[test]
    fn a_callback_record_keeps_harmless_headers_and_masks_the_rest() {
        let mut headers = headers(Some("application/json"));
        headers.insert("x-request-id", "r-1".parse().unwrap());
        headers.insert(header::AUTHORIZATION, "Basic c2VjcmV0".parse().unwrap());
        headers.insert("x-api-key", "secret".parse().unwrap());
        let recorded = recorded_headers(&headers).to_string();
        assert!(
            recorded.contains(r#"["content-type","application/json"]"#),
            "{recorded}"
        );
        assert!(recorded.contains(r#"["x-request-id","r-1"]"#), "{recorded}");
        assert!(recorded.contains(r#"["authorization","***"]"#), "{recorded}");
        assert!(recorded.contains(r#"["x-api-key","***"]"#), "{recorded}");
        assert!(
            !recorded.contains("secret") && !recorded.contains("c2VjcmV0"),
            "{recorded}"
        );
    }
}
