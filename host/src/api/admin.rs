//! Admin API under `/admin` (its own token): panels, the journal, callbacks, attachments.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Query};
use crate::core::deploy::Source;
use crate::store::{JournalFilter, JournalRow, ModuleInfo};

pub mod panels;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/panels", get(panels))
        .route(
            "/admin/panels/{panel}",
            get(panels::get_panel)
                .put(panels::put_panel)
                .delete(panels::delete_panel),
        )
        .route("/admin/journal", get(journal))
        .route("/admin/journal/verify", get(verify))
        .route("/admin/journal/{id}", get(journal_entry))
        .route("/admin/cases", get(find_cases))
        .route("/admin/cases/{case}", get(case))
        .route("/admin/events", get(events))
        .route("/admin/operations/last-hour", get(last_hour))
        .route("/admin/panels/{panel}/callbacks", get(callbacks))
        .route("/admin/attachments/{id}", get(attachment))
        .route(
            "/admin/adapters",
            get(adapters)
                .post(push_adapter)
                .layer(DefaultBodyLimit::max(MAX_MODULE_BYTES)),
        )
        .route("/admin/adapters/pull", post(pull_adapter))
        .route("/admin/panels/{panel}/deployments", get(deployments))
        .route("/admin/panels/{panel}/adapter", put(set_adapter))
        .route("/admin/panels/{panel}/rollback", post(rollback))
        .route("/admin/panels/{panel}/enable", post(enable))
        .route("/admin/unknown-outcomes", get(unknown_outcomes))
        .route(
            "/admin/unknown-outcomes/{journal_id}",
            post(settle_unknown_outcome),
        )
        .route(
            "/admin/panels/{panel}/replay",
            post(replay).layer(DefaultBodyLimit::max(MAX_MODULE_BYTES)),
        )
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ReplayQuery {
    /// How many of the panel's most recent operations to replay (default 20).
    pub last: Option<u32>,
}

/// Runs a candidate module (the body) against the panel's recorded operations, answering its
/// partner calls from the journal; registers and switches nothing.
#[utoipa::path(post, path = "/admin/panels/{panel}/replay", tag = "admin", params(ReplayQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the component (`.wasm`)"),
    responses((status = 200, body = crate::core::replay::ReplayReport), (status = 422)))]
pub async fn replay(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    Query(q): Query<ReplayQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let report = state.replay(&panel, &body, q.last.unwrap_or(20)).await?;
    Ok(Json(report).into_response())
}

pub use crate::core::deploy::MAX_MODULE_BYTES;

/// A registered module, the panels serving it now, and its signatures.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AdapterEntry {
    pub module: ModuleInfo,
    pub serving: Vec<String>,
    pub signatures: Vec<crate::store::ModuleSignature>,
}

/// Registered modules, each with the panels serving it now.
#[utoipa::path(get, path = "/admin/adapters", tag = "admin", responses((status = 200, body = Vec<AdapterEntry>)))]
pub async fn adapters(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let panels = state.panels();
    let mut modules = Vec::new();
    for m in state.store.modules().await? {
        let serving = panels
            .iter()
            .filter(|p| p.module.hash == m.hash)
            .map(|p| p.id.clone())
            .collect();
        let signatures = state.store.module_signatures(&m.hash).await?;
        modules.push(AdapterEntry {
            module: m,
            serving,
            signatures,
        });
    }
    Ok(Json(modules).into_response())
}

/// A registered module, and the signer whose signature came with the push.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PushedModule {
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// The configured signer whose key made the push's signature; absent for an unsigned push.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// Registers a component (the body, as `application/wasm`): checked, compiled, described.
/// A detached signature may come in the `X-Panelgate-Signature` header (base64 of the Ed25519
/// signature `panelgate adapter sign` writes); it must verify with a key under `[signers]`.
/// 201 when new, 200 when the same bytes were already registered (a signature adds to them);
/// 422 names why not.
#[utoipa::path(post, path = "/admin/adapters", tag = "admin",
    params(("X-Panelgate-Signature" = Option<String>, Header, description = "base64 Ed25519 signature of the module's SHA-256 (docs/deploying.md)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the component (`.wasm`)"),
    responses((status = 201, body = PushedModule), (status = 200, body = PushedModule), (status = 409), (status = 422)))]
pub async fn push_adapter(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let signature = match headers.get(crate::signing::HEADER) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::invalid(crate::signing::HEADER, "signature: give base64 (ASCII)"))?,
        ),
        None => None,
    };
    let pushed = state.push(&body, Source::Push, signature).await?;
    let status = if pushed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = PushedModule {
        module: pushed.info,
        signer: pushed.signature.map(|s| s.signer),
    };
    Ok((status, Json(answer)).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullAdapter {
    /// `oci://REGISTRY/NAMESPACE/NAME:TAG` or `...@sha256:DIGEST`. Credentials for the registry
    /// are the config's (`[registries."HOST:PORT"]`), never part of a request.
    pub reference: String,
}

/// A module pulled from an OCI registry, and the reference pinned by digest it came by.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PulledModule {
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// `oci://REGISTRY/REPO@sha256:...`: the manifest the tag named when it was pulled.
    pub reference: String,
    /// The configured signer whose key made the signature the artifact carried, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// Pulls an adapter from an OCI registry and registers it (the same checks as a push, and the
/// signature in its manifest's `dev.panelgate.signature` annotation verified like a push's);
/// switches no panel. The tag is resolved to a digest once: the registry records the module's
/// origin as `oci://...@sha256:...`. 201 when new, 200 when already registered; 502 when the
/// registry served content that does not match its digest or refused the host's credentials,
/// 503 when it cannot be reached.
#[utoipa::path(post, path = "/admin/adapters/pull", tag = "admin", request_body = PullAdapter,
    responses((status = 201, body = PulledModule), (status = 200, body = PulledModule), (status = 404),
        (status = 409), (status = 422), (status = 502), (status = 503)))]
pub async fn pull_adapter(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let request: PullAdapter = super::parse_json(&body)?;
    if !request.reference.starts_with(crate::oci::SCHEME) {
        return Err(ApiError::invalid(
            "reference",
            "give oci://REGISTRY/NAMESPACE/NAME:TAG or oci://REGISTRY/NAMESPACE/NAME@sha256:DIGEST",
        ));
    }
    let pulled = state.pull(&request.reference).await?;
    let status = if pulled.pushed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = PulledModule {
        module: pulled.pushed.info,
        reference: pulled.reference,
        signer: pulled.pushed.signature.map(|s| s.signer),
    };
    Ok((status, Json(answer)).into_response())
}

/// A panel's deployment history, oldest first, and the module it serves now.
#[utoipa::path(get, path = "/admin/panels/{panel}/deployments", tag = "admin", responses((status = 200)))]
pub async fn deployments(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
) -> Result<Response, ApiError> {
    let current = state.panel(&panel)?;
    let history = state.store.deployments(&panel).await?;
    Ok(Json(json!({ "panel": panel, "serving": current.module, "history": history })).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAdapter {
    /// `name@version` of a registered module (the newest registration of that pair), or an OCI
    /// reference (`oci://...@sha256:...`, pulled first unless registered)...
    pub adapter: Option<String>,
    /// ...or its SHA-256.
    pub module: Option<String>,
}

/// Switches a panel to a registered module, or to one pulled from an OCI registry first: the
/// next request is served by it, requests already running finish on the old one.
#[utoipa::path(put, path = "/admin/panels/{panel}/adapter", tag = "admin", request_body = SetAdapter,
    responses((status = 200, body = ModuleInfo), (status = 404), (status = 422)))]
pub async fn set_adapter(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SetAdapter = super::parse_json(&body)?;
    let hash = match (request.adapter, request.module) {
        (Some(adapter), None) if adapter.starts_with(crate::oci::SCHEME) => {
            let pulled = state.pull(&adapter).await?;
            let panel = state
                .switch_from(&panel, &pulled.pushed.info.hash, Some(&pulled.reference))
                .await?;
            return Ok(Json(&panel.module).into_response());
        }
        (Some(adapter), None) => {
            let Some((name, version)) = adapter.rsplit_once('@') else {
                return Err(ApiError::invalid("adapter", "give `name@version`"));
            };
            state
                .store
                .module_by_name(name, version)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no registered adapter `{adapter}`")))?
                .hash
        }
        (None, Some(hash)) => hash,
        _ => {
            return Err(ApiError::invalid(
                "adapter",
                "give exactly one of `adapter` (name@version) or `module` (sha256)",
            ));
        }
    };
    let panel = state.switch(&panel, &hash).await?;
    Ok(Json(&panel.module).into_response())
}

/// State-changing operations in doubt: the partner may or may not have acted (an answer lost,
/// a 5xx after the request left, a stop of the host). Each stays here until reconciliation or
/// an operator settles it.
#[utoipa::path(get, path = "/admin/unknown-outcomes", tag = "admin", responses((status = 200, body = Vec<crate::store::PendingOperation>)))]
pub async fn unknown_outcomes(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(Json(state.store.pending("unknown").await?).into_response())
}

/// Settles an operation in doubt as the operator found it at the partner: `acted` (the case
/// takes `status` and `references`; the Idempotency-Key replays the case) or not (the key is
/// released: the portal's retry runs the operation again). Journaled; answers the case.
#[utoipa::path(post, path = "/admin/unknown-outcomes/{journal_id}", tag = "admin",
    request_body = crate::core::recovery::Settlement,
    responses((status = 200, body = crate::store::Case), (status = 404), (status = 409), (status = 422)))]
pub async fn settle_unknown_outcome(
    State(state): State<Arc<AppState>>,
    Path(journal_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let decision: crate::core::recovery::Settlement = super::parse_json(&body)?;
    Ok(Json(state.settle_by_operator(&journal_id, &decision).await?).into_response())
}

/// Lifts a quarantine: the panel's adapter is called again.
#[utoipa::path(post, path = "/admin/panels/{panel}/enable", tag = "admin", responses((status = 200)))]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
) -> Result<Response, ApiError> {
    let panel = state.panel(&panel)?;
    let was = panel.adapter.quarantine();
    // Journaled first, then lifted: a journal that fails leaves the panel quarantined and the
    // caller told so, for a retry that journals it (lifted first, the retry found nothing to
    // lift and the lift was never journaled).
    if let Some(reason) = &was {
        let mut commit = crate::store::Commit::default();
        commit.journal.push(crate::store::JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: Some(panel.id.clone()),
            operation: "enable".into(),
            kind: "admin",
            case_id: None,
            outcome: "ok".into(),
            detail: json!({ "quarantine": reason, "module": panel.module.hash }).to_string(),
        });
        state.store.commit(commit).await?;
    }
    panel.adapter.release();
    Ok(Json(json!({ "panel": panel.id, "was_quarantined": was })).into_response())
}

/// Switches a panel back to the module it served before its current one.
#[utoipa::path(post, path = "/admin/panels/{panel}/rollback", tag = "admin",
    responses((status = 200, body = ModuleInfo), (status = 409)))]
pub async fn rollback(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
) -> Result<Response, ApiError> {
    let panel = state.rollback(&panel).await?;
    Ok(Json(&panel.module).into_response())
}

/// Health and readiness, open to load balancers.
pub fn open_router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Panels with their adapter's full description.
#[utoipa::path(get, path = "/admin/panels", tag = "admin", responses((status = 200)))]
pub async fn panels(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let panels: Vec<_> = state
        .panels()
        .iter()
        .map(|p| json!({ "id": p.id, "adapter": p.adapter.description(), "module": p.module, "quarantined": p.adapter.quarantine(), "circuit": p.context.breaker.state(), "callback_auth": p.callback_auth.is_some(), "callback_warning": state.callback_warning(p) }))
        .collect();
    Ok(Json(panels).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct JournalQuery {
    pub panel: Option<String>,
    /// Only this operation (`quote`, `accept`, ..., `enable`, `deploy`).
    pub operation: Option<String>,
    /// Only this kind of entry: `portal`, `partner`, `callback`, `admin`, `settlement`.
    pub kind: Option<String>,
    /// `ok`: only entries whose outcome is `ok`; `error`: only the others.
    pub status: Option<JournalStatus>,
    /// Only entries of this case.
    pub case: Option<String>,
    /// Only entries at or after this time (RFC 3339, e.g. `2026-01-31T08:00:00Z`).
    pub since: Option<String>,
    /// Only entries before this time (RFC 3339).
    pub until: Option<String>,
    /// At most this many entries (1 to 10,000; default 100).
    pub limit: Option<i64>,
    /// Only entries older than this `seq`: page back with the last `seq` of the previous page.
    pub before: Option<i64>,
}

#[derive(Deserialize, Clone, Copy, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalStatus {
    Ok,
    Error,
}

/// A time parameter as the store writes times (UTC, nine digits of fraction: they compare as
/// text), or the error naming it.
fn store_time(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    use time::format_description::well_known::Rfc3339;
    value
        .map(|v| {
            time::OffsetDateTime::parse(v, &Rfc3339)
                .map(crate::store::stored_time)
                .map_err(|_| {
                    ApiError::invalid(field, "must be a time in RFC 3339, e.g. `2026-01-31T08:00:00Z`")
                })
        })
        .transpose()
}

/// The newest journal entries, newest first (secrets already redacted when written), filtered
/// by panel, operation, kind, status, case and time.
#[utoipa::path(get, path = "/admin/journal", tag = "admin", params(JournalQuery),
    responses((status = 200, body = Vec<JournalRow>), (status = 422)))]
pub async fn journal(
    State(state): State<Arc<AppState>>,
    Query(q): Query<JournalQuery>,
) -> Result<Json<Vec<JournalRow>>, ApiError> {
    let filter = JournalFilter {
        panel: q.panel,
        operation: q.operation,
        kind: q.kind,
        ok: q.status.map(|s| matches!(s, JournalStatus::Ok)),
        case_id: q.case,
        since: store_time("since", q.since.as_deref())?,
        until: store_time("until", q.until.as_deref())?,
    };
    Ok(Json(
        state
            .store
            .journal_filtered(&filter, q.limit.unwrap_or(100).clamp(1, 10_000), q.before)
            .await?,
    ))
}

/// One journal entry, the partner exchanges its operation made (redacted when written), and
/// what was journaled on its case since: how an operation in doubt was reconciled or settled.
#[utoipa::path(get, path = "/admin/journal/{id}", tag = "admin",
    responses((status = 200, body = crate::store::EntryDetail), (status = 404)))]
pub async fn journal_entry(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = state
        .store
        .journal_entry(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no journal entry `{id}`")))?;
    Ok(Json(entry).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CasesQuery {
    /// The case id.
    pub id: Option<String>,
    /// A partner reference's value, of any kind: a loan id, a policy or contract number.
    pub reference: Option<String>,
    pub panel: Option<String>,
    /// At most this many cases (1 to 500; default 50).
    pub limit: Option<i64>,
}

/// Cases matching every criterion given (by id, by a partner reference such as a loan id, by
/// panel), newest first, each with its history.
#[utoipa::path(get, path = "/admin/cases", tag = "admin", params(CasesQuery),
    responses((status = 200, body = Vec<crate::store::Case>), (status = 422)))]
pub async fn find_cases(
    State(state): State<Arc<AppState>>,
    Query(q): Query<CasesQuery>,
) -> Result<Response, ApiError> {
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let cases = state
        .store
        .find_cases(
            given(q.id).as_deref(),
            given(q.reference).as_deref(),
            given(q.panel).as_deref(),
            q.limit.unwrap_or(50).clamp(1, 500),
        )
        .await?;
    Ok(Json(cases).into_response())
}

/// A case with its history and its events.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    pub case: crate::store::Case,
    pub events: Vec<crate::store::StoredEvent>,
}

/// A case by its id, with its history and events.
#[utoipa::path(get, path = "/admin/cases/{case}", tag = "admin",
    responses((status = 200, body = CaseDetail), (status = 404)))]
pub async fn case(
    State(state): State<Arc<AppState>>,
    Path(case): Path<String>,
) -> Result<Response, ApiError> {
    let found = state
        .store
        .find_cases(Some(&case), None, None, 1)
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("no case `{case}`")))?;
    let events = state.store.case_events(&found.id).await?;
    Ok(Json(CaseDetail { case: found, events }).into_response())
}

/// The event feed, as the portal reads it (`/v1/events`), for the console.
#[utoipa::path(get, path = "/admin/events", tag = "admin", params(super::portal::EventsQuery),
    responses((status = 200, body = super::portal::EventPage), (status = 422)))]
pub async fn events(
    state: State<Arc<AppState>>,
    query: Query<super::portal::EventsQuery>,
) -> Result<Json<super::portal::EventPage>, ApiError> {
    super::portal::events(state, query).await
}

/// Each panel's operations over the last hour: requests, errors and latency, from the host's own
/// metrics (those `/metrics` counts since start).
#[utoipa::path(get, path = "/admin/operations/last-hour", tag = "admin",
    responses((status = 200, body = Vec<crate::metrics::OperationHour>)))]
pub async fn last_hour(State(state): State<Arc<AppState>>) -> Json<Vec<crate::metrics::OperationHour>> {
    Json(state.runtime.metrics.last_hour())
}

/// Checks the journal's hash chain.
#[utoipa::path(get, path = "/admin/journal/verify", tag = "admin", responses((status = 200)))]
pub async fn verify(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    Ok(Json(match state.store.verify_journal().await? {
        None => json!({ "intact": true }),
        Some(id) => json!({ "intact": false, "first_bad_entry": id }),
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct CallbacksQuery {
    /// The newest this many (1 to 10,000; default 1,000), oldest first.
    pub limit: Option<i64>,
}

/// Callbacks received for a panel: when, the host's answer, any flag (unknown case, duplicate
/// with another body, unhandled).
#[utoipa::path(get, path = "/admin/panels/{panel}/callbacks", tag = "admin", params(CallbacksQuery),
    responses((status = 200, body = Vec<crate::store::CallbackRow>), (status = 422)))]
pub async fn callbacks(
    State(state): State<Arc<AppState>>,
    Path(panel): Path<String>,
    Query(q): Query<CallbacksQuery>,
) -> Result<Response, ApiError> {
    let rows = state
        .store
        .callbacks(&panel, q.limit.unwrap_or(1000).clamp(1, 10_000))
        .await?;
    Ok(Json(rows).into_response())
}

/// A stored attachment (e.g. a claim-payment proof).
#[utoipa::path(get, path = "/admin/attachments/{id}", tag = "admin", responses((status = 200)))]
pub async fn attachment(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (filename, content_type, data) = state
        .store
        .attachment(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no attachment `{id}`")))?;
    let disposition = format!("attachment; filename=\"{}\"", filename.replace('"', ""));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        data,
    )
        .into_response())
}

/// Liveness.
/// Prometheus metrics: requests, latency and errors per panel, operation and adapter version;
/// partner calls; circuit breakers; instance pool use; sandbox faults and limit hits. Open like
/// the health checks: it names panels and adapters, never a secret or a customer.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Read-only operations' commits, queued after their answers, are counted before the scrape.
    let _ = state.store.flush().await;
    let metrics = &state.runtime.metrics;
    metrics.panel_states(state.panels().iter().map(|panel| {
        let circuit = match panel.context.breaker.state() {
            "closed" => 0,
            "open" => 1,
            _ => 2,
        };
        (panel.id.clone(), circuit, panel.adapter.quarantine().is_some())
    }));
    if let Some(pool) = state.runtime.engine().pooling_allocator_metrics() {
        metrics.pool_state(&pool);
    }
    (
        [(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        metrics.encode(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers and every panel is loaded.
/// How long `/readyz` waits for its write probe.
const READY_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200), (status = 503)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    // Not ready while the store cannot write, though it can be read: an operation would only
    // answer 503. The write probe is bounded, so a held lock does not hang the probe.
    let writable = async {
        state.store.ping().await?;
        match tokio::time::timeout(READY_PROBE, state.store.writable()).await {
            Ok(result) => result,
            Err(_) => Err(crate::store::StoreError::Commit(format!(
                "no write completed within {} ms",
                READY_PROBE.as_millis()
            ))),
        }
    };
    match writable.await {
        Ok(()) => Json(json!({ "ready": true, "panels": state.panels().len() })).into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "store": e.to_string() })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    /// A filter's time compares with the stored times as text: `08:00:00Z` is before every
    /// time written within that second (`08:00:00.5…Z`), as it is in time. (RFC 3339's
    /// shortest form, `…00Z`, sorted after them: `since` dropped that second's entries.)
    #[test]
    fn a_filters_time_is_written_as_stored_times_are() {
        let since = super::store_time("since", Some("2026-01-31T15:00:00+07:00"))
            .unwrap()
            .unwrap();
        assert_eq!(since, "2026-01-31T08:00:00.000000000Z");
        let written = crate::store::stored_time(time::macros::datetime!(2026-01-31 08:00:00.5 UTC));
        assert!(since < written);
        assert!(super::store_time("since", Some("yesterday")).is_err());
    }
}
