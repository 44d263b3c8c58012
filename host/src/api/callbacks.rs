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
use crate::model::*;
use crate::store::{CallbackRecord, CaseChange, Commit, JournalEntry, NewAttachment, NewEvent, enum_str};

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/callbacks/{panel}/{*path}", post(callback))
}

/// A partner calls back: authenticated per panel, handled by the panel's adapter.
#[utoipa::path(post, path = "/callbacks/{panel}/{path}", tag = "partner",
    request_body(content = String, description = "the partner's request as its spec defines it", content_type = "application/json"),
    responses((status = 200, description = "the reply the partner's spec expects"), (status = 401)))]
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path((panel_id, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let panel = state.panel(&panel_id)?;
    let span = tracing::info_span!("callback", panel = %panel.id, path = %path);
    let answer = receive(&state, &panel, path, headers, body)
        .instrument(span.clone())
        .await;
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
    let panel_id = &panel.id;
    if let Some(credential) = &panel.callback_auth {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if !credential.accepts_basic(given) {
            return Ok((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"panelgate\"")],
                "Invalid Username or Password",
            )
                .into_response());
        }
    }
    let description = panel.adapter.description();
    if !description.callbacks.iter().any(|c| c.path == path) {
        return Err(ApiError::NotFound(format!(
            "panel `{panel_id}` has no callback `{path}`"
        )));
    }
    let request = CallbackRequest {
        path: path.clone(),
        method: "POST".into(),
        headers: headers
            .iter()
            .filter(|(n, _)| *n != header::AUTHORIZATION)
            .filter_map(|(n, v)| {
                Some(Pair {
                    name: n.as_str().into(),
                    value: v.to_str().ok()?.into(),
                })
            })
            .collect(),
        query: None,
        body: parse_body(&headers, &body).await,
    };
    handle(state, panel, request, &headers, body).await
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
    let (result, _record) = panel
        .adapter
        .call(Call::HandleCallback(request), &journal_id)
        .await;
    let mut record = CallbackRecord {
        id: callback_id.clone(),
        panel: panel.id.clone(),
        path: path.clone(),
        headers: json!(
            headers
                .iter()
                .filter(|(n, _)| *n != header::AUTHORIZATION)
                .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect::<Vec<_>>()
        ),
        body: raw.to_vec(),
        parsed: None,
        reply_status: None,
        flagged: None,
    };
    let mut commit = Commit::default();
    let reply = match result {
        Ok(Outcome::HandleCallback(outcome)) => {
            let mut flags = Vec::new();
            for event in &outcome.events {
                let (new_event, change, attachment, flag) =
                    plan_event(state, panel, event, &callback_id).await?;
                if let Some(flag) = flag {
                    flags.push(flag);
                }
                // A repeat of a fact already stored changes nothing; a repeat that differs is flagged.
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
                commit.events.push(new_event);
                commit.cases.extend(change);
                commit.attachments.extend(attachment);
            }
            record.parsed =
                Some(json!({ "events": outcome.events.iter().map(event_json).collect::<Vec<_>>() }));
            record.reply_status = Some(outcome.reply.status);
            record.flagged = (!flags.is_empty()).then(|| flags.join("; "));
            let status = StatusCode::from_u16(outcome.reply.status).unwrap_or(StatusCode::OK);
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
            record.flagged = Some(format!("not handled: {error}"));
            let status = match &error {
                CallError::Adapter(AdapterError::InvalidRequest(_)) => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            record.reply_status = Some(status.as_u16());
            (
                status,
                ApiError::Call {
                    error,
                    journal_id: journal_id.clone(),
                }
                .body()
                .error
                .message,
            )
                .into_response()
        }
    };
    commit.journal.push(JournalEntry {
        id: journal_id,
        panel: Some(panel.id.clone()),
        operation: "handle-callback".into(),
        kind: "callback",
        case_id: commit.cases.first().map(|c| c.case_id.clone()),
        outcome: record.flagged.clone().unwrap_or_else(|| "ok".into()),
        detail: json!({ "callback_id": callback_id, "path": path, "reply_status": record.reply_status })
            .to_string(),
    });
    commit.callback = Some(record);
    state.store.commit(commit).await?;
    Ok(reply)
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
    let flag = case.is_none().then(|| {
        format!(
            "no case has {} `{}`: stored, not applied",
            event.case_ref.kind, event.case_ref.value
        )
    });
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
    let change = case.as_ref().map(|c| CaseChange {
        case_id: c.id.clone(),
        status: event.status,
        policy: match &event.detail {
            EventDetail::PolicyIssued(p) => Some(p.clone()),
            _ => None,
        },
        source: format!("callback:{callback_id}"),
        ..CaseChange::default()
    });
    let new_event = NewEvent {
        panel: panel.id.clone(),
        case_id: case.map(|c| c.id),
        kind: event_kind(&event.detail).into(),
        dedup_key: event.dedup_key.clone(),
        status: event.status,
        payload,
        flagged: flag.clone(),
    };
    Ok((new_event, change, attachment, flag))
}

fn event_kind(detail: &EventDetail) -> &'static str {
    match detail {
        EventDetail::UnderwritingDecision(_) => "underwriting_decision",
        EventDetail::PolicyIssued(_) => "policy_issued",
        EventDetail::CancellationDecision(_) => "cancellation_decision",
        EventDetail::ClaimStatus(_) => "claim_status",
        EventDetail::ClaimPayment(_) => "claim_payment",
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
