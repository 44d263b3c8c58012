//! Events pushed to the portal: signed deliveries as the Standard Webhooks specification
//! describes them (<https://www.standardwebhooks.com/>, `spec/standard-webhooks.md`), retried with
//! backoff until acknowledged, at least once, in the feed's order per case.
//!
//! Each host runs one worker. It takes new events into each subscription's deliveries (the
//! store's durable cursor per subscription), leases the deliveries due now, each the oldest
//! unacknowledged one of its case, and sends them on tasks of their own: an endpoint that is
//! slow or down holds a lease and a permit of [`WebhooksConfig::concurrency`], never a portal
//! request, a callback or a store connection.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use serde_json::json;

use super::AppState;
use crate::config::WebhooksConfig;
use crate::store::{Attempt, AttemptOutcome, Claimed, NewSubscription};

/// Events read per subscription per pass.
const SCAN_BATCH: i64 = 500;
/// The least time from one pass's start to the next's. A wake-up within it waits for its end,
/// with whatever else comes meanwhile: under load, one pass takes the events of many operations
/// (a pass per event cost each accept about a seventh of its CPU), and an event alone is
/// taken at once.
const PASS_GAP: Duration = Duration::from_millis(10);
/// How long past an attempt's timeout its lease lasts: the time to record its outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The longest URL a subscription takes.
const MAX_URL: usize = 2048;
/// The most kinds or panels one subscription names, and the longest of each.
const MAX_FILTERS: usize = 100;
const MAX_FILTER_LEN: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
/// Standard Webhooks: "secrets should be between 24 bytes (192 bits) and 64 bytes (512 bits)".
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
pub const SECRET_PREFIX: &str = "whsec_";

/// The key of a `whsec_<base64>` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| format!("must start with `{SECRET_PREFIX}`"))?;
    let key = BASE64
        .decode(encoded)
        .map_err(|_| format!("must be `{SECRET_PREFIX}` and standard base64"))?;
    if !SECRET_BYTES.contains(&key.len()) {
        return Err(format!(
            "must hold {} to {} bytes, not {}",
            SECRET_BYTES.start(),
            SECRET_BYTES.end(),
            key.len()
        ));
    }
    Ok(key)
}

/// A new random secret of 32 bytes.
pub fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// `webhook-signature`'s value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
/// under the secret's key (Standard Webhooks, "Signature scheme").
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// A subscription's endpoint and filters, checked as the admin API and the config both take
/// them: the field path and what is wrong with it.
pub struct SubscriptionInput<'a> {
    pub url: &'a str,
    pub kinds: &'a [String],
    pub panels: &'a [String],
    pub description: Option<&'a str>,
}

impl SubscriptionInput<'_> {
    pub fn check(&self, known_panels: &[&str]) -> Result<(), (String, String)> {
        let issue = |path: String, message: &str| Err((path, message.to_string()));
        if self.url.len() > MAX_URL {
            return issue("url".into(), &format!("at most {MAX_URL} bytes"));
        }
        let url = match url::Url::parse(self.url) {
            Ok(url) => url,
            Err(e) => return issue("url".into(), &format!("not a URL: {e}")),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return issue("url".into(), "must be an `http` or `https` URL");
        }
        if url.host_str().is_none_or(str::is_empty) {
            return issue("url".into(), "must name a host");
        }
        // The URL is shown in the admin API and the log: it must carry no secret of its own.
        if !url.username().is_empty() || url.password().is_some() {
            return issue(
                "url".into(),
                "must carry no user or password: deliveries are signed instead",
            );
        }
        if self.description.is_some_and(|d| d.len() > MAX_DESCRIPTION) {
            return issue("description".into(), &format!("at most {MAX_DESCRIPTION} bytes"));
        }
        for (field, values) in [("kinds", self.kinds), ("panels", self.panels)] {
            if values.len() > MAX_FILTERS {
                return issue(field.into(), &format!("at most {MAX_FILTERS} entries"));
            }
            for (i, value) in values.iter().enumerate() {
                let well_formed = !value.is_empty()
                    && value.len() <= MAX_FILTER_LEN
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
                if !well_formed {
                    return issue(
                        format!("{field}[{i}]"),
                        &format!("1 to {MAX_FILTER_LEN} letters, digits, `-`, `_` or `.`"),
                    );
                }
                if field == "panels" && !known_panels.contains(&value.as_str()) {
                    return issue(format!("{field}[{i}]"), &format!("no panel `{value}`"));
                }
                // A kind the host never stores would receive nothing, silently.
                if field == "kinds" && !event_kinds().any(|k| k == *value) {
                    return issue(
                        format!("{field}[{i}]"),
                        &format!(
                            "no event kind `{value}`; the kinds are {}",
                            event_kinds().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

/// The kinds of fact a partner's callback tells (`api::callbacks::event_kind` names them).
pub const CALLBACK_EVENT_KINDS: [&str; 10] = [
    "underwriting_decision",
    "policy_issued",
    "cancellation_decision",
    "claim_status",
    "claim_payment",
    "payment_requested",
    "payment_received",
    "claim_step",
    "change_decision",
    "other",
];

/// Every kind of event the host stores: a callback's facts, an operation's result that moved
/// its case (`accept_result`...), and the host's own word on an operation in doubt.
pub fn event_kinds() -> impl Iterator<Item = String> {
    let results = crate::model::Operation::ALL
        .into_iter()
        .map(|o| format!("{}_result", crate::store::enum_str(&o)));
    CALLBACK_EVENT_KINDS
        .into_iter()
        .chain(["outcome_unknown", "outcome_settled", "late_outcome"])
        .map(str::to_string)
        .chain(results)
}

/// Whether `id` may name a subscription.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AppState {
    /// Creates or updates the config's `[[webhooks.subscriptions]]` (their cursors and state
    /// kept), refusing one that is malformed by its field.
    pub async fn keep_configured_subscriptions(&self) -> anyhow::Result<()> {
        // The panels this host serves: the config's and those added through the admin API,
        // which the store keeps, as a subscription made through the API may name.
        let serving: Vec<String> = self.panels().iter().map(|p| p.id.clone()).collect();
        let panels: Vec<&str> = serving.iter().map(String::as_str).collect();
        for (i, s) in self.config.webhooks.subscriptions.iter().enumerate() {
            let at = format!("webhooks.subscriptions[{i}]");
            if !valid_id(&s.id) {
                bail!("{at}.id: 1 to 64 letters, digits, `-` or `_`");
            }
            let input = SubscriptionInput {
                url: &s.url,
                kinds: &s.kinds,
                panels: &s.panels,
                description: s.description.as_deref(),
            };
            if let Err((field, message)) = input.check(&panels) {
                bail!("{at}.{field}: {message}");
            }
            let secret = s.secret.resolve(&format!("{at}.secret"))?;
            if let Err(message) = secret_key(&secret) {
                bail!("{at}.secret: {message}");
            }
            self.store
                .keep_configured_subscription(&NewSubscription {
                    id: s.id.clone(),
                    url: s.url.clone(),
                    kinds: s.kinds.clone(),
                    panels: s.panels.clone(),
                    description: s.description.clone(),
                    secret,
                    source: "config",
                })
                .await
                .with_context(|| format!("storing {at}"))?;
        }
        Ok(())
    }

    /// Starts this host's delivery worker; it ends when the state is dropped.
    pub fn spawn_webhook_worker(self: &Arc<Self>) {
        let config = self.config.webhooks.clone();
        let worker = Worker {
            state: Arc::downgrade(self),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_millis(config.timeout_ms))
                .user_agent(concat!("panelgate-webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
            host: uuid::Uuid::new_v4().to_string(),
            permits: Arc::new(tokio::sync::Semaphore::new(config.concurrency)),
            done: Arc::new(tokio::sync::Notify::new()),
            new_events: self.store.new_events(),
            config,
        };
        tokio::spawn(worker.run());
    }
}

struct Worker {
    state: Weak<AppState>,
    client: reqwest::Client,
    /// This host's name on its leases.
    host: String,
    /// Deliveries in flight.
    permits: Arc<tokio::sync::Semaphore>,
    /// Woken when a delivery ends: its case's next event may be due.
    done: Arc<tokio::sync::Notify>,
    new_events: Arc<tokio::sync::Notify>,
    config: WebhooksConfig,
}

impl Worker {
    async fn run(self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        loop {
            let started = Instant::now();
            let Some(state) = self.state.upgrade() else { return };
            if let Err(e) = self.pass(&state).await {
                tracing::warn!("webhooks: {e}");
            }
            drop(state);
            // Events this host stores and deliveries it ends wake it at once; another host's
            // events and retries coming due are found by the poll.
            tokio::select! {
                _ = self.new_events.notified() => {}
                _ = self.done.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            // What woke it meanwhile waits for the same next pass.
            tokio::time::sleep_until((started + PASS_GAP).into()).await;
        }
    }

    /// Takes new events into deliveries, then starts every delivery due that a permit allows.
    async fn pass(&self, state: &Arc<AppState>) -> crate::store::Result<()> {
        state.store.scan_subscriptions(SCAN_BATCH).await?;
        let free = self.permits.available_permits();
        if free == 0 {
            return Ok(());
        }
        let lease = Duration::from_millis(self.config.timeout_ms) + LEASE_MARGIN;
        let until = crate::store::now_ms() + lease.as_millis() as i64;
        let claimed = state
            .store
            .claim_deliveries(&self.host, until, free as i64)
            .await?;
        for delivery in claimed {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                break;
            };
            let state = state.clone();
            let client = self.client.clone();
            let config = self.config.clone();
            let done = self.done.clone();
            tokio::spawn(async move {
                let (attempt, no_answer) = send(&client, &config, &delivery).await;
                let outcome = match (&attempt.outcome, attempt.status) {
                    (AttemptOutcome::Delivered, _) => "delivered".to_string(),
                    (_, Some(status)) => format!("{}xx", status / 100),
                    (_, None) => no_answer.to_string(),
                };
                state.runtime.metrics.webhook_attempt(
                    &delivery.subscription_id,
                    &outcome,
                    attempt.latency_ms as f64 / 1000.0,
                );
                if let AttemptOutcome::GiveUp { reason } = &attempt.outcome {
                    tracing::warn!(subscription = %delivery.subscription_id, "webhooks: {reason}");
                }
                if let Err(e) = state.store.record_attempt(&delivery, &attempt).await {
                    // The lease runs out and the delivery is sent again: at least once.
                    tracing::warn!(
                        subscription = %delivery.subscription_id,
                        event = %delivery.event.id,
                        "webhooks: recording an attempt: {e}"
                    );
                }
                drop(permit);
                done.notify_one();
            });
        }
        Ok(())
    }
}

/// The body of a delivery: Standard Webhooks' recommended `type`, `timestamp` and `data`, the
/// data the event as the feed serves it.
pub fn body(event: &crate::store::StoredEvent) -> Vec<u8> {
    serde_json::to_vec(&json!({ "type": event.kind, "timestamp": event.created_at, "data": event }))
        .unwrap_or_default()
}

/// One attempt of `delivery`, and what follows from it; when no answer came, why, for
/// `/metrics` (`timeout` or `error`).
async fn send(
    client: &reqwest::Client,
    config: &WebhooksConfig,
    delivery: &Claimed,
) -> (Attempt, &'static str) {
    let body = body(&delivery.event);
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let started = Instant::now();
    let answer = match secret_key(&delivery.secret) {
        Ok(key) => {
            let signature = sign(&key, &delivery.event.id, timestamp, &body);
            client
                .post(&delivery.url)
                .header("webhook-id", &delivery.event.id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| {
                    (
                        if e.is_timeout() { "timeout" } else { "error" },
                        describe(&e, config),
                    )
                })
        }
        Err(message) => Err(("error", format!("the subscription's secret {message}"))),
    };
    let latency_ms = started.elapsed().as_millis() as i64;
    let (status, error) = match answer {
        Ok(status) if (200..300).contains(&status) => {
            let attempt = Attempt {
                status: Some(status),
                error: None,
                latency_ms,
                outcome: AttemptOutcome::Delivered,
            };
            return (attempt, "");
        }
        Ok(status) => (Some(status), ("", format!("the endpoint answered {status}"))),
        Err(error) => (None, error),
    };
    let (no_answer, error) = error;
    let attempts = delivery.attempts as usize + 1;
    let outcome = match config.retry_schedule_s.get(attempts - 1) {
        Some(wait) => AttemptOutcome::RetryAt(
            crate::store::now_ms() + jittered(Duration::from_secs(*wait), config.jitter).as_millis() as i64,
        ),
        None => AttemptOutcome::GiveUp {
            reason: format!(
                "event {} was not acknowledged after {attempts} attempts (the last: {error}); \
                 its deliveries are failed and the subscription disabled: \
                 POST /admin/subscriptions/{}/enable sends them again",
                delivery.event.id, delivery.subscription_id
            ),
        },
    };
    let attempt = Attempt {
        status,
        error: Some(error),
        latency_ms,
        outcome,
    };
    (attempt, no_answer)
}

/// What went wrong, without the URL (it may carry a portal's token in its query).
fn describe(e: &reqwest::Error, config: &WebhooksConfig) -> String {
    if e.is_timeout() {
        format!("no answer within {} ms", config.timeout_ms)
    } else if e.is_connect() {
        "could not connect to the endpoint".into()
    } else {
        let mut e = e.to_string();
        if let Some(cut) = e.find(" for url (") {
            e.truncate(cut);
        }
        format!("sending failed: {e}")
    }
}

/// `wait` moved at random by up to `jitter` of itself either way.
fn jittered(wait: Duration, jitter: f64) -> Duration {
    let factor = 1.0 + jitter * (2.0 * rand::random::<f64>() - 1.0);
    wait.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks specification's example: secret, id, timestamp, body and signature.
    #[test]
    fn the_signature_is_the_specification_example() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_is_whsec_and_24_to_64_bytes_of_base64() {
        assert!(secret_key(&new_secret()).is_ok());
        assert!(
            secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap_err()
                .contains("whsec_")
        );
        assert!(secret_key("whsec_not base64!").is_err());
        assert!(secret_key(&format!("whsec_{}", BASE64.encode([0u8; 8]))).is_err());
    }

    /// A subscription names kinds of event the host stores; a misspelt one is refused, naming
    /// it, rather than receiving nothing.
    #[test]
    fn a_subscription_names_kinds_the_host_stores() {
        let check = |kinds: &[&str]| {
            let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
            SubscriptionInput {
                url: "https://portal.example/hooks",
                kinds: &kinds,
                panels: &[],
                description: None,
            }
            .check(&[])
            .map_err(|(field, _)| field)
        };
        assert_eq!(
            check(&[
                "underwriting_decision",
                "accept_result",
                "upload_document_result",
                "outcome_unknown"
            ]),
            Ok(())
        );
        assert_eq!(
            check(&["claim_status", "policy_issue"]),
            Err("kinds[1]".to_string())
        );
        assert_eq!(check(&["accept-result"]), Err("kinds[0]".to_string()));
    }

    #[test]
    fn a_subscription_url_is_http_or_https_without_credentials() {
        let check = |url: &str, panels: &[String]| {
            SubscriptionInput {
                url,
                kinds: &[],
                panels,
                description: None,
            }
            .check(&["A03"])
            .map_err(|(field, _)| field)
        };
        assert!(check("https://portal.example/hooks", &[]).is_ok());
        assert!(check("http://127.0.0.1:9/hooks?t=1", &["A03".into()]).is_ok());
        for bad in [
            "ftp://x/y",
            "file:///etc/passwd",
            "not a url",
            "http://u:p@x/",
            "javascript:alert(1)",
        ] {
            assert_eq!(check(bad, &[]).unwrap_err(), "url", "{bad}");
        }
        assert_eq!(
            check("https://x/", &["A03".into(), "Z99".into()]).unwrap_err(),
            "panels[1]"
        );
    }

    #[test]
    fn jitter_stays_within_its_share() {
        for _ in 0..1000 {
            let wait = jittered(Duration::from_secs(100), 0.2);
            assert!((80.0..=120.0).contains(&wait.as_secs_f64()), "{wait:?}");
        }
        assert_eq!(jittered(Duration::from_secs(5), 0.0), Duration::from_secs(5));
    }
}
