//! The portal API under `/v1`: one route per canonical operation, and the event feed.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, AppState, Panel, Query, from_value, parse_json, parse_multipart};
use crate::adapter::Call;
use crate::core::operations::{CaseEffect, IdempotencyKey, json_fingerprint, parts_fingerprint, run};
use crate::core::terms::Terms;
use crate::model::*;
use crate::store::{Case, Staleness, StoredEvent};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/panels", get(list_panels))
        .route("/v1/panels/{panel}/quotes", post(quote))
        .route("/v1/panels/{panel}/policies", post(accept))
        .route("/v1/panels/{panel}/validations", post(validate))
        .route("/v1/panels/{panel}/policies/{case}", get(policy_status))
        .route(
            "/v1/panels/{panel}/policies/{case}/documents",
            post(upload_policy_document),
        )
        .route("/v1/panels/{panel}/policies/{case}/confirm", post(confirm))
        .route("/v1/panels/{panel}/policies/{case}/cancel", post(cancel))
        .route(
            "/v1/panels/{panel}/policies/{case}/cancellation-quote",
            post(quote_cancellation),
        )
        .route("/v1/panels/{panel}/policies/{case}/changes", post(change))
        .route(
            "/v1/panels/{panel}/policies/{case}/change-quotes",
            post(quote_change),
        )
        .route("/v1/panels/{panel}/quote-declines", post(decline_quote))
        .route(
            "/v1/panels/{panel}/policies/{case}/document",
            get(policy_document),
        )
        .route("/v1/panels/{panel}/claims", post(claim))
        .route("/v1/panels/{panel}/claims/{case}", get(claim_status))
        .route(
            "/v1/panels/{panel}/claims/{case}/documents",
            post(upload_claim_document),
        )
        .route("/v1/panels/{panel}/lookups/{kind}", get(lookup))
        .route("/v1/panels/{panel}/notifications", post(notify))
        .route("/v1/panels/{panel}/worklist", get(worklist))
        .route("/v1/events", get(events))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PanelView {
    pub id: String,
    pub adapter: String,
    pub adapter_version: String,
    pub spec: String,
    pub operations: Vec<Operation>,
    pub lookups: Vec<String>,
    pub health: String,
}

/// Panels, their adapter and version, what they support.
#[utoipa::path(get, path = "/v1/panels", tag = "portal", responses((status = 200, body = Vec<PanelView>)))]
pub async fn list_panels(State(state): State<Arc<AppState>>) -> Result<Json<Vec<PanelView>>, ApiError> {
    Ok(Json(
        state
            .panels()
            .iter()
            .map(|p| {
                let d = p.adapter.description();
                PanelView {
                    id: p.id.clone(),
                    adapter: d.name.clone(),
                    adapter_version: d.version.clone(),
                    spec: d.spec.clone(),
                    operations: d.operations.clone(),
                    lookups: d.lookups.clone(),
                    health: match p.adapter.quarantine() {
                        None => "serving".into(),
                        Some(reason) => format!("quarantined: {reason}"),
                    },
                }
            })
            .collect(),
    ))
}

fn answer((status, body): (StatusCode, String)) -> Response {
    // A replayed `outcome_unknown` says when to ask again, as the first answer did.
    let in_doubt = status == StatusCode::CONFLICT
        && serde_json::from_str::<Value>(&body).is_ok_and(|b| b["error"]["code"] == "outcome_unknown");
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if in_doubt {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, super::error::RETRY_AFTER_UNKNOWN.into());
    }
    response
}

/// Which of the portal's case routes a request came by: `/claims/{case}` serves claims,
/// `/policies/{case}` every other case (policies, credit applications, collection tasks).
#[derive(Clone, Copy, PartialEq)]
enum Under {
    Policies,
    Claims,
}

async fn load_case(state: &AppState, panel: &str, id: &str, under: Under) -> Result<Case, ApiError> {
    let case = state
        .store
        .case(panel, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no case `{id}` on panel `{panel}`")))?;
    // A claim is not cancelled, confirmed or documented as a policy, nor a policy as a claim.
    match (under, case.kind == CaseKind::Claim) {
        (Under::Policies, true) => Err(ApiError::NotFound(format!(
            "case `{id}` on panel `{panel}` is a claim: it is at /v1/panels/{panel}/claims/{id}"
        ))),
        (Under::Claims, false) => Err(ApiError::NotFound(format!(
            "case `{id}` on panel `{panel}` is no claim: it is at /v1/panels/{panel}/policies/{id}"
        ))),
        _ => Ok(case),
    }
}

/// Puts host-owned fields into a portal body, refusing them when the portal sent them.
fn inject(body: &[u8], fields: &[(&str, Value)]) -> Result<Value, ApiError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("", "the body must be a JSON object"))?;
    for (name, v) in fields {
        if object.contains_key(*name) {
            return Err(ApiError::invalid(name, "is set by the host; leave it out"));
        }
        object.insert((*name).to_string(), v.clone());
    }
    Ok(value)
}

/// Refuses a JSON body larger than the panel's adapter can hold, or one holding a string
/// longer than it takes, before anything parses it into the operation's input: an adapter
/// that runs out of memory on a caller's oversized input would count as faulting.
fn check_input(p: &Panel, operation: &'static str, body: &[u8]) -> Result<(), ApiError> {
    let limit = p.context.max_json_input();
    if body.len() > limit {
        return Err(ApiError::InputTooLarge {
            panel: p.id.clone(),
            operation,
            field: String::new(),
            size: body.len(),
            limit,
            why: "a sixteenth of its sandbox memory: the adapter holds the input and the partner body it builds from it",
        });
    }
    let longest = p.context.max_string();
    // Only a body longer than the limit can hold a string longer than it: most bodies stop here.
    if body.len() <= longest {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    match long_string(&value, longest) {
        Some((path, size)) => Err(ApiError::invalid(
            &path,
            format!(
                "is {size} bytes long; panel `{}` takes strings of at most {longest} bytes (a sixty-fourth of its sandbox memory)",
                p.id
            ),
        )),
        None => Ok(()),
    }
}

/// The path and length of the first string (or key) in `value` longer than `limit` bytes.
fn long_string(value: &Value, limit: usize) -> Option<(String, usize)> {
    match value {
        Value::String(s) => (s.len() > limit).then(|| (String::new(), s.len())),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            long_string(v, limit).map(|(path, size)| {
                let rest = if path.is_empty() || path.starts_with('[') {
                    path
                } else {
                    format!(".{path}")
                };
                (format!("[{i}]{rest}"), size)
            })
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.len() > limit {
                return Some((format!("{}...", &k[..k.floor_char_boundary(32)]), k.len()));
            }
            long_string(v, limit).map(|(path, size)| {
                let path = match path.as_str() {
                    "" => k.clone(),
                    p if p.starts_with('[') => format!("{k}{p}"),
                    p => format!("{k}.{p}"),
                };
                (path, size)
            })
        }),
        _ => None,
    }
}

fn new_case_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Quote: premiums and what acceptance will need.
#[utoipa::path(post, path = "/v1/panels/{panel}/quotes", tag = "portal", request_body = QuoteRequest,
    responses((status = 200, description = "`result` is a `Quotation`"), (status = 422, body = super::error::ErrorBody)))]
pub async fn quote(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "quote", &body)?;
    let request: QuoteRequest = parse_json(&body)?;
    let key = IdempotencyKey::from_headers(&headers, &format!("quote:{panel}"), || json_fingerprint(&body))?;
    let effect = CaseEffect::none();
    Ok(answer(run(&state, &p, Call::Quote(request), effect, key).await?))
}

/// What `POST /v1/panels/{panel}/validations` checks: exactly one of the two.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationBody {
    /// A quote request as `POST .../quotes` takes it.
    pub quote: Option<Value>,
    /// An application as `POST .../policies` takes it.
    pub application: Option<Value>,
}

/// Validate: the issues the panel's partner rules find in a quote request or an application,
/// without calling the partner (adapters built for `panelgate:adapter@1.1.0`).
#[utoipa::path(post, path = "/v1/panels/{panel}/validations", tag = "portal", request_body = ValidationBody,
    responses((status = 200, description = "`valid`, and the `issues` with their field paths"), (status = 501)))]
pub async fn validate(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "validate", &body)?;
    let request: ValidationBody = parse_json(&body)?;
    let request = match (request.quote, request.application) {
        (Some(quote), None) => {
            let wrapped: Wrapped<QuoteRequest> = from_value(json!({ "quote": quote }))?;
            ValidationRequest::Quote(
                wrapped
                    .quote
                    .ok_or_else(|| ApiError::invalid("quote", "must be an object"))?,
            )
        }
        (None, Some(mut application)) => {
            if let Some(object) = application.as_object_mut() {
                object.entry("case_id").or_insert_with(|| json!("validation"));
            }
            let wrapped: Wrapped<Application> = from_value(json!({ "application": application }))?;
            ValidationRequest::Application(
                wrapped
                    .application
                    .ok_or_else(|| ApiError::invalid("application", "must be an object"))?,
            )
        }
        _ => {
            return Err(ApiError::invalid(
                "",
                "give exactly one of `quote` or `application`",
            ));
        }
    };
    Ok(answer(
        crate::core::operations::validate(&state, &p, request).await?,
    ))
}

/// Parses one field of a wrapper object, so field paths in errors start with its name.
#[derive(Deserialize)]
struct Wrapped<T> {
    quote: Option<T>,
    application: Option<T>,
}

/// Accept: apply, issue or submit for underwriting; opens a case.
#[utoipa::path(post, path = "/v1/panels/{panel}/policies", tag = "portal", request_body = Application,
    responses((status = 201, description = "`result` is an `Acceptance`; `case_id` names the new case")))]
pub async fn accept(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "accept", &body)?;
    let case_id = new_case_id();
    let application: Application = from_value(inject(&body, &[("case_id", json!(case_id))])?)?;
    let kind = match application.interest {
        InsuredInterest::CreditLimit(_) => CaseKind::CreditApplication,
        _ => CaseKind::Policy,
    };
    let key = IdempotencyKey::from_headers(&headers, &format!("accept:{panel}"), || json_fingerprint(&body))?;
    let mut effect = CaseEffect::opening(case_id, kind, application.product.clone(), None);
    effect.terms = Terms::applied(&application);
    Ok(answer(
        run(&state, &p, Call::Accept(application), effect, key).await?,
    ))
}

/// A case with what the portal needs to show it.
#[utoipa::path(get, path = "/v1/panels/{panel}/policies/{case}", tag = "portal", responses((status = 200, body = Case)))]
pub async fn policy_status(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
) -> Result<Response, ApiError> {
    case_status(state, path, Under::Policies).await
}

#[utoipa::path(get, path = "/v1/panels/{panel}/claims/{case}", tag = "portal", responses((status = 200, body = Case)))]
pub async fn claim_status(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
) -> Result<Response, ApiError> {
    case_status(state, path, Under::Claims).await
}

/// The stored case, refreshed through the adapter when it can ask the partner.
async fn case_status(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    under: Under,
) -> Result<Response, ApiError> {
    // The case of a removed panel stays readable, as stored: no adapter can refresh it.
    let Ok(p) = state.panel(&panel) else {
        return Ok(Json(load_case(&state, &panel, &id, under).await?).into_response());
    };
    let case = load_case(&state, &panel, &id, under).await?;
    // A case in doubt that carries no partner reference cannot be asked about: it waits for
    // reconciliation or an operator, and reads as stored.
    let askable = case.status != CaseStatus::Unknown || !case.references.is_empty();
    if askable && p.adapter.description().operations.contains(&Operation::Status) {
        let effect = CaseEffect::on(&case);
        if let Err(e) = run(&state, &p, Call::Status(case.to_ref()), effect, None).await {
            // The partner could not be asked (or its answer not kept): the case still reads,
            // as stored, saying why it is not fresh. A portal showing a policy must not lose
            // it while its insurer is down.
            let detail = e.body().error;
            let mut case = case;
            case.stale = Some(Staleness {
                code: detail.code,
                message: detail.message,
                journal_id: detail.journal_id,
            });
            return Ok(Json(case).into_response());
        }
        let case = load_case(&state, &panel, &id, under).await?;
        return Ok(Json(case).into_response());
    }
    Ok(Json(case).into_response())
}

async fn upload(
    state: &Arc<AppState>,
    panel: &str,
    id: &str,
    under: Under,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(panel)?;
    let case = load_case(state, panel, id, under).await?;
    let parts = match parse_multipart(headers, &body).await {
        Some(Ok(parts)) => parts,
        Some(Err(e)) => return Err(ApiError::invalid("", format!("unreadable multipart: {e}"))),
        None => {
            return Err(ApiError::invalid(
                "",
                "send multipart/form-data with fields `code`, `file` and optionally `name`",
            ));
        }
    };
    // The request's meaning is its parts, whatever boundary carried them.
    let key = IdempotencyKey::from_headers(headers, &format!("upload:{panel}:{id}"), || {
        Ok(parts_fingerprint(&parts))
    })?;
    let (mut code, mut name, mut file) = (None, None, None);
    for part in parts {
        let longest = p.context.max_string();
        let text = || {
            if part.data.len() > longest {
                return Err(ApiError::invalid(
                    &part.name,
                    format!(
                        "is {} bytes long; panel `{}` takes text fields of at most {longest} bytes",
                        part.data.len(),
                        p.id
                    ),
                ));
            }
            if part.data.contains(&0) {
                // As in a JSON body: an adapter that passes a NUL on faults, after its partner
                // may have acted.
                return Err(ApiError::invalid(&part.name, "must not contain a NUL character"));
            }
            String::from_utf8(part.data.clone())
                .map_err(|_| ApiError::invalid(&part.name, "must be UTF-8 text"))
        };
        match part.name.as_str() {
            "code" => code = Some(text()?),
            "name" => name = Some(text()?),
            "file" => {
                let filename = part.filename.clone().unwrap_or_else(|| "document".into());
                let content_type = part
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into());
                file = Some((filename, content_type, part.data));
            }
            other => {
                return Err(ApiError::invalid(
                    other,
                    "unknown form field; expected code, name and file",
                ));
            }
        }
    }
    let code = code
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("code", "is required"))?;
    let (filename, content_type, data) = file.ok_or_else(|| ApiError::invalid("file", "is required"))?;
    if data.is_empty() {
        return Err(ApiError::invalid("file", "is empty"));
    }
    let limit = p.context.max_document();
    if data.len() > limit {
        return Err(ApiError::InputTooLarge {
            panel: p.id.clone(),
            operation: "upload-document",
            field: "file".into(),
            size: data.len(),
            limit,
            why: "an eighth of its sandbox memory: the adapter holds the document and the body it sends it in",
        });
    }

    let document = Document {
        case: case.to_ref(),
        code,
        name,
        filename,
        content_type,
        data,
        extensions: None,
    };
    Ok(answer(
        run(
            state,
            &p,
            Call::UploadDocument(document),
            CaseEffect::on(&case),
            key,
        )
        .await?,
    ))
}

/// Upload a document a policy case requires (multipart: `code`, optional `name`, `file`).
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/documents", tag = "portal",
    request_body(content = String, description = "fields `code`, `file`, optional `name`", content_type = "multipart/form-data"),
    responses((status = 200)))]
pub async fn upload_policy_document(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    upload(&state, &panel, &id, Under::Policies, &headers, body).await
}

/// Upload a document a claim case requires (multipart: `code`, optional `name`, `file`).
#[utoipa::path(post, path = "/v1/panels/{panel}/claims/{case}/documents", tag = "portal",
    request_body(content = String, description = "fields `code`, `file`, optional `name`", content_type = "multipart/form-data"),
    responses((status = 200)))]
pub async fn upload_claim_document(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    upload(&state, &panel, &id, Under::Claims, &headers, body).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    pub step: ConfirmStep,
    #[serde(default, with = "crate::model::json_text")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<String>,
}

/// Confirm: move an open case forward (take up an offer, an OTP, complete an application).
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/confirm", tag = "portal", request_body = ConfirmBody, responses((status = 200)))]
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "confirm", &body)?;
    let request: ConfirmBody = parse_json(&body)?;
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let key = IdempotencyKey::from_headers(&headers, &format!("confirm:{panel}:{id}"), || {
        json_fingerprint(&body)
    })?;
    let effect = CaseEffect::on(&case);
    let call = Call::Confirm(Confirmation {
        case: case.to_ref(),
        step: request.step,
        extensions: request.extensions,
    });
    Ok(answer(run(&state, &p, call, effect, key).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    pub kind: CancellationKind,
    pub reason: Option<String>,
    pub effective_date: Option<String>,
    #[serde(default, with = "crate::model::json_text")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<String>,
}

/// Cancel an in-force policy (with refund) or withdraw a pending application.
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/cancel", tag = "portal", request_body = CancelBody, responses((status = 200)))]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "cancel", &body)?;
    let request: CancelBody = parse_json(&body)?;
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let key = IdempotencyKey::from_headers(&headers, &format!("cancel:{panel}:{id}"), || {
        json_fingerprint(&body)
    })?;
    let effect = CaseEffect::on(&case);
    let call = Call::Cancel(Cancellation {
        case: case.to_ref(),
        kind: request.kind,
        reason: request.reason,
        effective_date: request.effective_date,
        extensions: request.extensions,
    });
    Ok(answer(run(&state, &p, call, effect, key).await?))
}

/// What a cancellation would refund, without cancelling (read-only at the partner).
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/cancellation-quote", tag = "portal", request_body = CancelBody, responses((status = 200, description = "`result` is a `CancellationQuote`")))]
pub async fn quote_cancellation(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "quote-cancellation", &body)?;
    let request: CancelBody = parse_json(&body)?;
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let key = IdempotencyKey::from_headers(&headers, &format!("cancellation-quote:{panel}:{id}"), || {
        json_fingerprint(&body)
    })?;
    let call = Call::QuoteCancellation(Cancellation {
        case: case.to_ref(),
        kind: request.kind,
        reason: request.reason,
        effective_date: request.effective_date,
        extensions: request.extensions,
    });
    Ok(answer(run(&state, &p, call, CaseEffect::none(), key).await?))
}

/// A change to an issued policy (an endorsement), as the portal asks it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    /// What the change alters (open: `sum_insured`, `vehicle`, `registration`, `parties`,
    /// `address`, `coverages`, `period`, `payment`, or the partner's own code).
    pub kinds: Vec<ChangeKind>,
    pub effective_date: Option<String>,
    /// The parties after the change (only those that change).
    #[serde(default)]
    pub parties: Vec<Party>,
    /// The insured interest after the change.
    pub interest: Option<InsuredInterest>,
    #[serde(default)]
    pub coverages: Vec<Coverage>,
    pub sum_insured: Option<Money>,
    pub description: Option<String>,
    /// The reference a change quote returned, when making a priced change.
    pub quote_reference: Option<String>,
    #[serde(default, with = "crate::model::json_text")]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<String>,
}

impl ChangeBody {
    fn into_request(self, case: CaseRef) -> Result<ChangeRequest, ApiError> {
        if self.kinds.is_empty() {
            return Err(ApiError::invalid(
                "kinds",
                "names at least one thing the change alters",
            ));
        }
        Ok(ChangeRequest {
            case,
            kinds: self.kinds,
            effective_date: self.effective_date,
            parties: self.parties,
            interest: self.interest,
            coverages: self.coverages,
            sum_insured: self.sum_insured,
            description: self.description,
            quote_reference: self.quote_reference,
            extensions: self.extensions,
        })
    }
}

/// Price a change to an issued policy without making it (read-only at the partner).
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/change-quotes", tag = "portal", request_body = ChangeBody, responses((status = 200, description = "`result` is a `ChangeQuote`")))]
pub async fn quote_change(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "quote-change", &body)?;
    let request: ChangeBody = parse_json(&body)?;
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let key = IdempotencyKey::from_headers(&headers, &format!("change-quote:{panel}:{id}"), || {
        json_fingerprint(&body)
    })?;
    let call = Call::QuoteChange(request.into_request(case.to_ref())?);
    Ok(answer(run(&state, &p, call, CaseEffect::none(), key).await?))
}

/// Make a change to an issued policy (an endorsement); quote a priced change's reference to
/// make that one.
#[utoipa::path(post, path = "/v1/panels/{panel}/policies/{case}/changes", tag = "portal", request_body = ChangeBody, responses((status = 200, description = "`result` is a `ChangeResult`")))]
pub async fn change(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "change", &body)?;
    let request: ChangeBody = parse_json(&body)?;
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let key = IdempotencyKey::from_headers(&headers, &format!("change:{panel}:{id}"), || {
        json_fingerprint(&body)
    })?;
    let effect = CaseEffect::on(&case);
    let call = Call::Change(request.into_request(case.to_ref())?);
    Ok(answer(run(&state, &p, call, effect, key).await?))
}

/// Tell the partner the customer turns a held quote down, so it releases it.
#[utoipa::path(post, path = "/v1/panels/{panel}/quote-declines", tag = "portal", request_body = QuoteDecline, responses((status = 200, description = "`result` is a `NotifyReceipt`")))]
pub async fn decline_quote(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "decline-quote", &body)?;
    let request: QuoteDecline = parse_json(&body)?;
    if request.quote_reference.trim().is_empty() {
        return Err(ApiError::invalid(
            "quote_reference",
            "names the quote the partner holds",
        ));
    }
    let key = IdempotencyKey::from_headers(&headers, &format!("quote-decline:{panel}"), || {
        json_fingerprint(&body)
    })?;
    Ok(answer(
        run(&state, &p, Call::DeclineQuote(request), CaseEffect::none(), key).await?,
    ))
}

/// Claim on a policy, named by `policy_case` (case id) or `policy_reference` (e.g. the loan id);
/// opens a claim case.
#[utoipa::path(post, path = "/v1/panels/{panel}/claims", tag = "portal", request_body = ClaimRequest, responses((status = 201)))]
pub async fn claim(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "claim", &body)?;
    let mut value: Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("", "the body must be a JSON object"))?;
    let policy = match (object.remove("policy_case"), object.remove("policy_reference")) {
        (Some(Value::String(id)), None) => load_case(&state, &panel, &id, Under::Policies).await?,
        (None, Some(reference)) => {
            let reference: Reference = from_value(reference).map_err(|e| match e {
                ApiError::Invalid(mut issues) => {
                    issues
                        .iter_mut()
                        .for_each(|i| i.path = super::join_path("policy_reference", &i.path));
                    ApiError::Invalid(issues)
                }
                other => other,
            })?;
            state
                .store
                // The policy, not a claim made on it before under the same reference.
                .case_by_reference_but(&panel, &reference, Some(CaseKind::Claim))
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "no case on panel `{panel}` has {} `{}`",
                        reference.kind, reference.value
                    ))
                })?
        }
        _ => {
            return Err(ApiError::invalid(
                "policy_case",
                "give exactly one of `policy_case` (a case id) or `policy_reference` (a partner reference)",
            ));
        }
    };
    let policy_case = policy.id.clone();
    let case_id = new_case_id();
    let with_host = inject(
        value.to_string().as_bytes(),
        &[
            ("case_id", json!(case_id)),
            (
                "policy",
                serde_json::to_value(policy.to_ref()).map_err(|e| ApiError::Internal(e.into()))?,
            ),
        ],
    )?;
    let request: ClaimRequest = from_value(with_host)?;
    let key = IdempotencyKey::from_headers(&headers, &format!("claim:{panel}"), || json_fingerprint(&body))?;
    let effect = CaseEffect::opening(
        case_id,
        CaseKind::Claim,
        policy.product.clone(),
        Some(policy_case),
    );
    Ok(answer(run(&state, &p, Call::Claim(request), effect, key).await?))
}

/// The policy document: the PDF itself, or a redirect-free JSON with the e-policy link.
#[utoipa::path(get, path = "/v1/panels/{panel}/policies/{case}/document", tag = "portal", responses((status = 200)))]
pub async fn policy_document(
    State(state): State<Arc<AppState>>,
    Path((panel, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    // A removed panel's case stays readable, its stored link included: no adapter can fetch more.
    let served = state.panel(&panel);
    let case = load_case(&state, &panel, &id, Under::Policies).await?;
    let fetched = served.as_ref().ok().filter(|p| {
        p.adapter
            .description()
            .operations
            .contains(&Operation::PolicyDocument)
    });
    let Some(p) = fetched else {
        return match case.policy.and_then(|p| p.document_link) {
            Some(link) => Ok(Json(json!({ "link": link })).into_response()),
            None => Err(ApiError::NotFound(format!(
                "case `{id}` has no policy document yet"
            ))),
        };
    };
    let effect = CaseEffect::on(&case);
    let (_, body) = run(&state, p, Call::PolicyDocument(case.to_ref()), effect, None).await?;
    #[derive(Deserialize)]
    struct Answered {
        result: DocumentContent,
    }
    let Answered { result: content } =
        serde_json::from_str(&body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(match content {
        DocumentContent::Pdf(bytes) => ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response(),
        DocumentContent::Link(link) => Json(json!({ "link": link })).into_response(),
    })
}

/// Reference data of a kind the adapter lists in `lookups`; query parameters are filters.
#[utoipa::path(get, path = "/v1/panels/{panel}/lookups/{kind}", tag = "portal", responses((status = 200)))]
pub async fn lookup(
    State(state): State<Arc<AppState>>,
    Path((panel, kind)): Path<(String, String)>,
    Query(filters): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    let filters = filters
        .into_iter()
        .map(|(name, value)| Pair { name, value })
        .collect();
    let effect = CaseEffect::none();
    Ok(answer(
        run(
            &state,
            &p,
            Call::Lookup(LookupRequest { kind, filters }),
            effect,
            None,
        )
        .await?,
    ))
}

/// Pull the partner's worklist (query `kind`, other parameters are filters).
#[utoipa::path(get, path = "/v1/panels/{panel}/worklist", tag = "portal", responses((status = 200)))]
pub async fn worklist(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    Query(filters): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    let mut kind = String::from("default");
    let mut rest = Vec::new();
    for (name, value) in filters {
        if name == "kind" {
            kind = value
        } else {
            rest.push(Pair { name, value })
        }
    }
    let effect = CaseEffect::none();
    Ok(answer(
        run(
            &state,
            &p,
            Call::Poll(PollRequest { kind, filters: rest }),
            effect,
            None,
        )
        .await?,
    ))
}

/// Push a status or result to the partner.
#[utoipa::path(post, path = "/v1/panels/{panel}/notifications", tag = "portal", request_body = Notification, responses((status = 200)))]
pub async fn notify(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = state.panel(&panel)?;
    check_input(&p, "notify", &body)?;
    let notification: Notification = parse_json(&body)?;
    let key = IdempotencyKey::from_headers(&headers, &format!("notify:{panel}"), || json_fingerprint(&body))?;
    let effect = CaseEffect::none();
    Ok(answer(
        run(&state, &p, Call::Notify(notification), effect, key).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct EventsQuery {
    /// Resume after this cursor (from a previous page's `next_cursor`); empty: from the
    /// beginning. A cursor past the feed's last position is `422`: not this feed's.
    pub after: Option<String>,
    /// Events per page: 1 to 1,000 (default 100; outside that, the nearest).
    pub limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    /// Pass as `after` to get what came next.
    pub next_cursor: String,
}

/// The event feed, ordered and resumable.
#[utoipa::path(get, path = "/v1/events", tag = "portal", params(EventsQuery), responses((status = 200, body = EventPage)))]
pub async fn events(
    State(state): State<Arc<AppState>>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| ApiError::invalid("after", "must be a cursor from this feed"))?,
    };
    if after < 0 {
        return Err(ApiError::invalid("after", "must be a cursor from this feed"));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = state.store.events_after(after, limit).await?;
    // Positions are never taken back: a cursor past the last one is not this feed's (another
    // store's, a restored backup's), and following it would skip every event until the feed
    // caught up with it, in silence.
    if events.is_empty() && after > 0 {
        let head = state.store.events_head().await?;
        if after > head {
            return Err(ApiError::invalid(
                "after",
                format!(
                    "is past this feed's last position ({head}): not a cursor from this feed; start again from the beginning (`after` empty)"
                ),
            ));
        }
    }
    let next_cursor = events
        .last()
        .map(|e| e.cursor.clone())
        .unwrap_or_else(|| after.to_string());
    Ok(Json(EventPage { events, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_over_the_limit_is_named_by_its_path() {
        let long = "x".repeat(9);
        let value = json!({ "a": [{ "b": "ok" }, { "c": long }], "d": "fine" });
        assert_eq!(long_string(&value, 8), Some(("a[1].c".into(), 9)));
        assert_eq!(long_string(&json!([["ok", long]]), 8), Some(("[0][1]".into(), 9)));
        assert_eq!(
            long_string(&json!({ "k": { "l": [long] } }), 8),
            Some(("k.l[0]".into(), 9))
        );
        assert_eq!(long_string(&value, 9), None, "at the limit is fine");
        let key = json!({ "a": { long.clone(): 1 } });
        assert_eq!(long_string(&key, 8), Some(("a.xxxxxxxxx...".into(), 9)));
    }
}
