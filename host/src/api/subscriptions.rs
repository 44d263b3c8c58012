//! Webhook subscriptions under `/admin/subscriptions` (the admin token): create, list, delete,
//! enable again, the delivery log and replays. The worker that delivers is `core::webhooks`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, AppState, Query};
use crate::core::webhooks::{SubscriptionInput, new_secret, secret_key};
use crate::store::{Delivery, JournalEntry, NewSubscription, Subscription};

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/admin/subscriptions", get(list).post(create))
        .route("/admin/subscriptions/{id}", get(one).delete(delete))
        .route("/admin/subscriptions/{id}/enable", post(enable))
        .route("/admin/subscriptions/{id}/deliveries", get(deliveries))
        .route("/admin/subscriptions/{id}/replay", post(replay))
}

/// A new subscription.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// The portal's endpoint, `http` or `https`, with no user or password in it.
    pub url: String,
    /// Event kinds to receive (e.g. `accept_result`); none: every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Panels whose events to receive; none: every panel.
    #[serde(default)]
    pub panels: Vec<String>,
    pub description: Option<String>,
    /// The signing secret, `whsec_` and the base64 of 24 to 64 bytes; none: the host makes one.
    pub secret: Option<String>,
}

/// A subscription just created, with its signing secret: the only answer that shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// `whsec_<base64>`: verify each delivery's `webhook-signature` with it.
    pub secret: String,
}

/// Creates a subscription. It receives the events stored from now on.
#[utoipa::path(post, path = "/admin/subscriptions", tag = "admin", request_body = SubscriptionRequest,
    responses((status = 201, body = CreatedSubscription), (status = 422)))]
pub async fn create(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    let request: SubscriptionRequest = super::parse_json(&body)?;
    let panels: Vec<String> = state.panels().iter().map(|p| p.id.clone()).collect();
    let panels: Vec<&str> = panels.iter().map(String::as_str).collect();
    SubscriptionInput {
        url: &request.url,
        kinds: &request.kinds,
        panels: &request.panels,
        description: request.description.as_deref(),
    }
    .check(&panels)
    .map_err(|(field, message)| ApiError::invalid(&field, message))?;
    let secret = match request.secret {
        Some(secret) => {
            secret_key(&secret).map_err(|message| ApiError::invalid("secret", message))?;
            secret
        }
        None => new_secret(),
    };
    let id = format!("sub_{}", uuid::Uuid::now_v7().simple());
    // Journaled in the subscription's own transaction: a journal that failed after the
    // subscription's commit answered 5xx without its secret, and the caller's retry made a
    // second subscription.
    let created = state
        .store
        .create_subscription(
            &NewSubscription {
                id: id.clone(),
                url: request.url,
                kinds: request.kinds,
                panels: request.panels,
                description: request.description,
                secret: secret.clone(),
                source: "admin",
            },
            Some(&entry("subscription_create", json!({ "subscription": id }))),
        )
        .await?;
    if !created {
        return Err(ApiError::Conflict(format!("subscription `{id}` exists")));
    }
    let subscription = found(&state, &id).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSubscription { subscription, secret }),
    )
        .into_response())
}

/// Every subscription, its state and why it was disabled (never its secret).
#[utoipa::path(get, path = "/admin/subscriptions", tag = "admin",
    responses((status = 200, body = Vec<Subscription>)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<Subscription>>, ApiError> {
    Ok(Json(state.store.subscriptions().await?))
}

#[utoipa::path(get, path = "/admin/subscriptions/{id}", tag = "admin",
    responses((status = 200, body = Subscription), (status = 404)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Subscription>, ApiError> {
    Ok(Json(found(&state, &id).await?))
}

/// Deletes a subscription and its delivery log. One the host's config names is refused:
/// remove it there.
#[utoipa::path(delete, path = "/admin/subscriptions/{id}", tag = "admin",
    responses((status = 204), (status = 404), (status = 409)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    found(&state, &id).await?;
    // One this host's config keeps would come back at its next start. One a config kept once
    // and no longer names may go.
    if state.config.webhooks.subscriptions.iter().any(|s| s.id == id) {
        return Err(ApiError::Conflict(format!(
            "subscription `{id}` is configured in [[webhooks.subscriptions]]: remove it there"
        )));
    }
    // Journaled in its own transaction, as every change to a subscription.
    let journal = entry("subscription_delete", json!({ "subscription": id }));
    if !state.store.delete_subscription(&id, &journal).await? {
        return Err(not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Enabled {
    pub subscription: Subscription,
    /// Deliveries the give-up had failed, pending again (sent first, in their order).
    pub requeued: u64,
}

/// Enables a subscription a give-up disabled: its failed deliveries are sent again, in order,
/// then the events stored while it was disabled.
#[utoipa::path(post, path = "/admin/subscriptions/{id}/enable", tag = "admin",
    responses((status = 200, body = Enabled), (status = 404)))]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let was = found(&state, &id).await?;
    let requeued = state
        .store
        .enable_subscription(&id, |requeued| {
            entry(
                "subscription_enable",
                json!({ "subscription": id, "was": was.state, "requeued": requeued }),
            )
        })
        .await?;
    let subscription = found(&state, &id).await?;
    Ok(Json(Enabled {
        subscription,
        requeued,
    })
    .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DeliveriesQuery {
    /// Only deliveries in this state: `pending`, `delivered` or `failed`.
    pub state: Option<String>,
    /// At most this many (1 to 1,000; default 100).
    pub limit: Option<i64>,
    /// Only deliveries older than this `seq`: page back with the last `seq` of the previous page.
    pub before: Option<i64>,
}

/// A subscription's delivery log, newest first: each event's state, attempts, the last
/// attempt's answer status, error and latency.
#[utoipa::path(get, path = "/admin/subscriptions/{id}/deliveries", tag = "admin", params(DeliveriesQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 404), (status = 422)))]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    if let Some(s) = &q.state
        && !matches!(s.as_str(), "pending" | "delivered" | "failed")
    {
        return Err(ApiError::invalid("state", "`pending`, `delivered` or `failed`"));
    }
    found(&state, &id).await?;
    Ok(Json(
        state
            .store
            .deliveries(
                &id,
                q.state.as_deref(),
                q.limit.unwrap_or(100).clamp(1, 1000),
                q.before,
            )
            .await?,
    ))
}

/// What to send again: one event's delivery, or those taken in a time range.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The event (the delivery's `webhook-id`) to send again...
    pub event_id: Option<String>,
    /// ...or every delivery the host took from this time (RFC 3339)...
    pub since: Option<String>,
    /// ...until this one (RFC 3339; default now).
    pub until: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// Deliveries queued to be sent again.
    pub replayed: u64,
}

/// Sends deliveries again, as new (the same `webhook-id`, attempts counted afresh), in the
/// feed's order per case. A disabled subscription's replays wait until it is enabled.
#[utoipa::path(post, path = "/admin/subscriptions/{id}/replay", tag = "admin", request_body = ReplayRequest,
    responses((status = 200, body = Replayed), (status = 404), (status = 422)))]
pub async fn replay(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ReplayRequest = super::parse_json(&body)?;
    let time = |field: &str, text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|e| ApiError::invalid(field, format!("an RFC 3339 time: {e}")))
    };
    let (event_id, since, until) = match (&request.event_id, &request.since, &request.until) {
        (Some(event), None, None) if event.trim().is_empty() => {
            return Err(ApiError::invalid(
                "event_id",
                "must name an event (an empty one is not \"every event\": give `since` for that)",
            ));
        }
        (Some(event), None, None) => (Some(event.as_str()), i64::MIN, i64::MAX),
        (None, Some(since), until) => {
            let since = time("since", since)?;
            let until = match until {
                Some(until) => time("until", until)?,
                None => crate::store::now_ms(),
            };
            if until < since {
                return Err(ApiError::invalid("until", "must not be before `since`"));
            }
            (None, since, until)
        }
        _ => {
            return Err(ApiError::invalid(
                "event_id",
                "give `event_id`, or `since` (and `until`), not both",
            ));
        }
    };
    found(&state, &id).await?;
    // Journaled in the replay's transaction: a journal refused after the replay's commit
    // answered 5xx, and the operator's retry queued the deliveries again.
    let replayed = state
        .store
        .replay_deliveries(&id, event_id, since, until, |replayed| {
            (event_id.is_none() || replayed > 0).then(|| {
                entry(
                    "subscription_replay",
                    json!({ "subscription": id, "event_id": event_id, "since": request.since, "until": request.until, "replayed": replayed }),
                )
            })
        })
        .await?;
    if let Some(event) = event_id
        && replayed == 0
    {
        return Err(ApiError::NotFound(format!(
            "subscription `{id}` has no delivery of event `{event}`"
        )));
    }
    Ok(Json(Replayed { replayed }).into_response())
}

async fn found(state: &AppState, id: &str) -> Result<Subscription, ApiError> {
    state.store.subscription(id).await?.ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no subscription `{id}`"))
}

/// The journal entry of an operator's change to a subscription.
fn entry(operation: &str, detail: serde_json::Value) -> JournalEntry {
    JournalEntry {
        id: uuid::Uuid::now_v7().to_string(),
        panel: None,
        operation: operation.into(),
        kind: "admin",
        case_id: None,
        outcome: "ok".into(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    /// A subscription is stored with its journal entry or not at all: while the journal refuses
    /// the entry, the answer is an error and no subscription exists, so the caller's retry makes
    /// the one subscription. (Before, the subscription was committed first: the caller had a
    /// 5xx, never saw the secret, and each retry left one more subscription.)
    #[tokio::test]
    async fn a_subscription_is_created_and_deleted_with_its_journal_entry_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("panelgate.toml");
        std::fs::write(
            &file,
            r#"
[server]
portal_token = { value = "p" }
admin_token = { value = "a" }
[store]
url = "sqlite://store.db"
"#,
        )
        .unwrap();
        let config = crate::config::Config::load(&file).unwrap();
        let app = crate::App::start(&config).await.unwrap();
        let store = rusqlite::Connection::open(dir.path().join("store.db")).unwrap();
        store
            .execute_batch(
                "CREATE TRIGGER refuse_subscription_create BEFORE INSERT ON journal
                 WHEN NEW.operation = 'subscription_create'
                 BEGIN SELECT RAISE(ABORT, 'the journal refuses it'); END;",
            )
            .unwrap();
        let routes = router().with_state(app.state.clone());
        let create = || {
            Request::post("/admin/subscriptions")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"url": "http://127.0.0.1:9/hooks"}"#))
                .unwrap()
        };

        let refused = routes.clone().oneshot(create()).await.unwrap();
        assert!(refused.status().is_server_error(), "{}", refused.status());
        let stored = app.state.store.subscriptions().await.unwrap();
        assert!(stored.is_empty(), "{stored:?}");

        store
            .execute_batch("DROP TRIGGER refuse_subscription_create")
            .unwrap();
        let created = routes.clone().oneshot(create()).await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(app.state.store.subscriptions().await.unwrap().len(), 1);
        let journaled = app.state.store.journal(None, 10, None).await.unwrap();
        assert!(
            journaled.iter().any(|e| e.operation == "subscription_create"),
            "{journaled:?}"
        );

        // Deleting it is journaled in its own transaction too: while the journal refuses the
        // entry, the subscription stays.
        let id = app.state.store.subscriptions().await.unwrap()[0].id.clone();
        store
            .execute_batch(
                "CREATE TRIGGER refuse_subscription_delete BEFORE INSERT ON journal
                 WHEN NEW.operation = 'subscription_delete'
                 BEGIN SELECT RAISE(ABORT, 'the journal refuses it'); END;",
            )
            .unwrap();
        let delete = || {
            Request::delete(format!("/admin/subscriptions/{id}"))
                .body(Body::empty())
                .unwrap()
        };
        let refused = routes.clone().oneshot(delete()).await.unwrap();
        assert!(refused.status().is_server_error(), "{}", refused.status());
        assert_eq!(
            app.state.store.subscriptions().await.unwrap().len(),
            1,
            "deleted unjournaled"
        );
        store
            .execute_batch("DROP TRIGGER refuse_subscription_delete")
            .unwrap();
        let deleted = routes.oneshot(delete()).await.unwrap();
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        assert!(app.state.store.subscriptions().await.unwrap().is_empty());
        let journaled = app.state.store.journal(None, 10, None).await.unwrap();
        assert!(
            journaled.iter().any(|e| e.operation == "subscription_delete"),
            "{journaled:?}"
        );
    }
}
