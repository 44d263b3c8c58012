//! Failing partners: every way a partner can fail reaches the portal as a typed error with the
//! journal id; read-only calls retry transient failures within the deadline, state-changing
//! ones never do; a circuit breaker stops hammering a dead partner and recovers on its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// How the partner misbehaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Fine,
    Status(u16),
    /// Answers this status this many more times, then is fine.
    StatusThenFine(u16, usize),
    Malformed,
    Truncated,
    Slow,
    Dribble,
    Oversized,
}

#[derive(Clone)]
struct BadPartner {
    base: String,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<AtomicUsize>,
}

impl BadPartner {
    async fn start() -> BadPartner {
        let mode = Arc::new(Mutex::new(Mode::Fine));
        let hits = Arc::new(AtomicUsize::new(0));
        let (m, h) = (mode.clone(), hits.clone());
        let app = axum::Router::new().fallback(move || {
            let (m, h) = (m.clone(), h.clone());
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                let mode = {
                    let mut mode = m.lock().unwrap();
                    let now = *mode;
                    if let Mode::StatusThenFine(code, n) = now {
                        *mode = if n <= 1 {
                            Mode::Fine
                        } else {
                            Mode::StatusThenFine(code, n - 1)
                        };
                    }
                    now
                };
                answer(mode).await
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        BadPartner { base, mode, hits }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn answer(mode: Mode) -> Response {
    let fine = || axum::Json(json!({ "rate": "0.0125", "policy": "P-1" })).into_response();
    match mode {
        Mode::Fine => fine(),
        Mode::Status(code) | Mode::StatusThenFine(code, _) => {
            (StatusCode::from_u16(code).unwrap(), "partner trouble").into_response()
        }
        Mode::Malformed => ([("content-type", "application/json")], "{\"rate\": 0.01,").into_response(),
        Mode::Truncated => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"rate\": \"0.01")),
                Err(std::io::Error::other("connection lost")),
            ];
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            fine()
        }
        Mode::Dribble => {
            let stream = futures::stream::unfold(0, |i| async move {
                if i >= 40 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), i + 1))
            });
            Response::new(Body::from_stream(stream))
        }
        Mode::Oversized => ([("content-type", "application/json")], vec![b' '; 2 << 20]).into_response(),
    }
}

fn panel(id: &str, base: &str, limits: &str) -> String {
    format!(
        r#"
[panels.{id}]
adapter = "probe"
base_url = "{base}"
limits = {{ {limits} }}
"#
    )
}

async fn host(extra: &str) -> Harness {
    start_with(&format!(
        "\n[adapters.probe]\npath = \"{}\"\n{extra}",
        guests::PROBE
    ))
    .await
}

fn echo() -> Value {
    json!({ "product": "echo", "binding": false, "interest": { "life": {} } })
}

fn bind() -> Value {
    let mut application = example("A03", "accept-cac");
    application["product"] = json!("echo");
    application
}

/// The partner exchanges the journal holds for one operation.
async fn exchanges(h: &Harness, journal_id: &str) -> Vec<Value> {
    let (_, journal) = h.admin_get("/admin/journal?limit=10000").await;
    journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "partner" && e["detail"]["of"] == journal_id)
        .map(|e| e["detail"]["exchange"].clone())
        .collect()
}

#[tokio::test]
async fn each_partner_failure_is_a_typed_error_with_its_journal_id() {
    let partner = BadPartner::start().await;
    let (port, _refusing) = refusing_port();
    let closed = format!("http://127.0.0.1:{port}");
    let limits = "read_timeout_ms = 1000, operation_timeout_ms = 2500, max_response_bytes = 1048576, breaker_failures = 0";
    let h = host(&format!(
        "{}{}",
        panel("PARTNER", &partner.base, limits),
        panel("GONE", &closed, limits)
    ))
    .await;
    let cases = [
        (
            "GONE",
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "partner_unavailable",
        ),
        (
            "PARTNER",
            Some(Mode::Status(500)),
            StatusCode::SERVICE_UNAVAILABLE,
            "partner_unavailable",
        ),
        (
            "PARTNER",
            Some(Mode::Malformed),
            StatusCode::BAD_GATEWAY,
            "partner_protocol",
        ),
        (
            "PARTNER",
            Some(Mode::Truncated),
            StatusCode::BAD_GATEWAY,
            "partner_protocol",
        ),
        (
            "PARTNER",
            Some(Mode::Slow),
            StatusCode::GATEWAY_TIMEOUT,
            "partner_timeout",
        ),
        (
            "PARTNER",
            Some(Mode::Dribble),
            StatusCode::GATEWAY_TIMEOUT,
            "partner_timeout",
        ),
        (
            "PARTNER",
            Some(Mode::Oversized),
            StatusCode::BAD_GATEWAY,
            "partner_protocol",
        ),
    ];
    for (panel, mode, status, code) in cases {
        if let Some(mode) = mode {
            partner.set(mode);
        }
        let started = std::time::Instant::now();
        let (got, body) = h.post(&format!("/v1/panels/{panel}/quotes"), &echo()).await;
        assert_eq!(got, status, "{mode:?}: {body}");
        assert_eq!(body["error"]["code"], code, "{mode:?}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{mode:?} outlived the deadline"
        );
        let journal_id = body["error"]["journal_id"].as_str().expect("a journal id");
        assert!(
            !exchanges(&h, journal_id).await.is_empty(),
            "{mode:?}: the exchange is journaled"
        );
    }
    partner.set(Mode::Fine);
    let (status, body) = h.post("/v1/panels/PARTNER/quotes", &echo()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn read_only_calls_retry_transient_failures_and_state_changing_ones_never_do() {
    let partner = BadPartner::start().await;
    let h = host(&panel("PARTNER", &partner.base, "breaker_failures = 0")).await;

    // A quote meets two 503s, then a partner that is back: retried, answered, all journaled.
    partner.set(Mode::StatusThenFine(503, 2));
    let (status, body) = h.post("/v1/panels/PARTNER/quotes", &echo()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(partner.hits(), 3);
    let attempts: Vec<u64> = exchanges(&h, body["journal_id"].as_str().unwrap())
        .await
        .iter()
        .map(|e| e["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:?}");

    // A bind meets one 503: it is not retried, whatever the partner might have done with it,
    // and it is in doubt: the 503 came after the request left.
    partner.set(Mode::StatusThenFine(503, 1));
    let before = partner.hits();
    let (status, body) = h.post("/v1/panels/PARTNER/policies", &bind()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown");
    assert_eq!(
        partner.hits() - before,
        1,
        "a state-changing call went out more than once"
    );
}

#[tokio::test]
async fn a_circuit_breaker_stops_calls_to_a_dead_partner_and_recovers_on_its_own() {
    let partner = BadPartner::start().await;
    let h = host(&panel(
        "FLAKY",
        &partner.base,
        "breaker_failures = 3, breaker_cooldown_ms = 500",
    ))
    .await;
    partner.set(Mode::Status(500));
    for _ in 0..3 {
        let (status, _) = h.post("/v1/panels/FLAKY/quotes", &echo()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(partner.hits(), 3);
    // Open: the partner is not called, the portal hears at once.
    for _ in 0..5 {
        let (status, body) = h.post("/v1/panels/FLAKY/quotes", &echo()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("circuit open"),
            "{body}"
        );
    }
    assert_eq!(partner.hits(), 3, "calls went through an open circuit");
    let (_, panels) = h.admin_get("/admin/panels").await;
    let circuit = |panels: &Value| {
        panels
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "FLAKY")
            .unwrap()["circuit"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(circuit(&panels), "open");

    // The partner comes back; after the cool-down one trial call finds it and closes the circuit.
    partner.set(Mode::Fine);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, body) = h.post("/v1/panels/FLAKY/quotes", &echo()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, panels) = h.admin_get("/admin/panels").await;
    assert_eq!(circuit(&panels), "closed");
}

#[tokio::test]
async fn a_partner_that_never_accepts_the_connection_is_a_connect_timeout() {
    // A listener with a backlog of one that never accepts: once its queue is full, the kernel
    // drops further SYNs and a connect waits until the host's connect timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(200), tokio::net::TcpStream::connect(addr)).await
        {
            fillers.push(s);
        }
    }
    let h = host(&panel(
        "SILENT",
        &format!("http://{addr}"),
        "connect_timeout_ms = 300, operation_timeout_ms = 3000, breaker_failures = 0",
    ))
    .await;
    let started = std::time::Instant::now();
    let (status, body) = h.post("/v1/panels/SILENT/quotes", &echo()).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "partner_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the connect timeout did not bound it"
    );
    let journal_id = body["error"]["journal_id"].as_str().unwrap();
    let attempts = exchanges(&h, journal_id).await;
    assert!(!attempts.is_empty());
    assert!(
        attempts.iter().all(|e| e["error_kind"] == "timeout"),
        "{attempts:?}"
    );
    drop((listener, fillers));
}

/// `validate` checks a request without calling the partner (the contract's word): an adapter
/// that tries is refused before anything leaves, so nothing unjournaled reaches the partner.
#[tokio::test]
async fn validate_never_reaches_the_partner() {
    let partner = BadPartner::start().await;
    let h = host(&panel("PARTNER", &partner.base, "")).await;
    let mut quote = echo();
    quote["product"] = json!("reach-partner");
    let (status, body) = h
        .post("/v1/panels/PARTNER/validations", &json!({ "quote": quote }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let message = body["issues"][0]["message"].as_str().expect("the probe's issue");
    assert!(
        message.starts_with("not sent:")
            && message.contains("denied")
            && message.contains("`validate` does not call the partner"),
        "{message}"
    );
    assert_eq!(partner.hits(), 0, "validate reached the partner");

    // An operation on the same panel still reaches it.
    let (status, body) = h.post("/v1/panels/PARTNER/quotes", &echo()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(partner.hits(), 1);
}
