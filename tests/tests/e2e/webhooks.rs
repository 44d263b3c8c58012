//! Events pushed to the portal as Standard Webhooks deliveries: signed, retried until
//! acknowledged, in the feed's order per case, each acknowledged once across restarts and hosts;
//! a slow endpoint slows nothing else. The receiver verifies as the specification's reference
//! code does (`panelgate_tests::webhook_receiver`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::webhook_receiver::{self, Mode, VerifyError, WebhookReceiver};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `whsec_` and the base64 of 32 bytes.
const SECRET: &str = "whsec_cGFuZWxnYXRlLXRlc3Qtd2ViaG9vay1zZWNyZXQtMzI=";

/// The `[webhooks]` settings a test runs under (seconds where production waits hours) and a
/// subscription `portal` of every event to `url`.
fn hooks(url: &str, schedule: &str, timeout_ms: u64) -> String {
    format!(
        r#"
[webhooks]
retry_schedule_s = {schedule}
jitter = 0.0
timeout_ms = {timeout_ms}
poll_interval_ms = 200
[[webhooks.subscriptions]]
id = "portal"
url = "{url}"
secret = {{ value = "{SECRET}" }}
"#
    )
}

/// Enough one-second retries that no test gives up by accident.
const PATIENT: &str =
    "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]";

async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn admin(
    h: &Harness,
    method: reqwest::Method,
    base: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = h
        .client
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A case-by-case application on A03 through the host at `base`, the insurer's decision (a
/// callback), and the offer taken up: three events on one case. The case id.
async fn three_events(h: &Harness, base: &str, loan: &str) -> String {
    let mut body = example("A03", "accept-cbc");
    body["interest"]["credit_life"]["account"] = json!(loan);
    let (status, answer) = h.post_to(base, "/v1/panels/A03/policies", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let case_id = answer["case_id"].as_str().expect("case").to_string();
    let (code, reply) = h.a03.send_cbc_decision(loan, "DISETUJUI", 0, "ok").await.unwrap();
    assert_eq!(code, 200, "{reply}");
    let (status, answer) = h
        .post_to(
            base,
            &format!("/v1/panels/A03/policies/{case_id}/confirm"),
            &example("A03", "confirm"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    case_id
}

/// An automatic-cover policy: one event.
async fn one_event(h: &Harness, base: &str, loan: &str) {
    let mut body = example("A03", "accept-cac");
    body["interest"]["credit_life"]["account"] = json!(loan);
    let (status, answer) = h.post_to(base, "/v1/panels/A03/policies", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// The feed's event ids (from the host at `base`), and per case in the feed's order.
async fn feed(h: &Harness, base: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let (status, page) = h.get_from(base, "/v1/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut ids = Vec::new();
    let mut by_case: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in page["events"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap().to_string();
        by_case
            .entry(e["case_id"].as_str().unwrap_or("-").to_string())
            .or_default()
            .push(id.clone());
        ids.push(id);
    }
    (ids, by_case)
}

/// Every event of the feed acknowledged exactly once and never sent again after, verified, each
/// case's in the feed's order, each delivery's body the feed's event.
async fn assert_every_event_once_in_order(h: &Harness, base: &str, receiver: &WebhookReceiver) {
    let (ids, by_case) = feed(h, base).await;
    let received = receiver.received();
    let repeated: Vec<&str> = received
        .iter()
        .filter(|r| r.duplicate)
        .map(|r| r.id.as_str())
        .collect();
    assert!(
        repeated.is_empty(),
        "sent again after it was acknowledged: {repeated:?}"
    );
    let acknowledged: Vec<_> = received.iter().filter(|r| r.acknowledged).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &acknowledged {
        assert_eq!(r.verified, Ok(()), "{}", r.id);
        *counts.entry(r.id.as_str()).or_default() += 1;
        let event = r.json();
        assert_eq!(
            event["data"]["id"],
            r.id.as_str(),
            "the webhook-id is the event id"
        );
        assert_eq!(event["type"], event["data"]["kind"]);
    }
    for id in &ids {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "event {id} acknowledged once: {counts:?}"
        );
    }
    assert_eq!(
        acknowledged.len(),
        ids.len(),
        "nothing acknowledged that is not in the feed"
    );
    for (case, in_feed) in by_case {
        let delivered: Vec<String> = acknowledged
            .iter()
            .filter(|r| r.json()["data"]["case_id"].as_str().unwrap_or("-") == case)
            .map(|r| r.id.clone())
            .collect();
        assert_eq!(delivered, in_feed, "case {case}: delivered in the feed's order");
    }
}

async fn all_acknowledged(h: &Harness, base: &str, receiver: &WebhookReceiver, within: Duration) {
    let (ids, _) = feed(h, base).await;
    wait_until("every event acknowledged", within, || {
        let acked = receiver.acknowledged();
        ids.iter().all(|id| acked.contains(id))
    })
    .await;
}

#[tokio::test]
async fn a_callbacks_event_arrives_signed_with_its_event_id_and_is_logged() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 2000)).await;
    let case_id = three_events(&h, &h.base, "HOOK-CB-1").await;
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(20)).await;
    assert_every_event_once_in_order(&h, &h.base, &receiver).await;

    let decision = receiver
        .received()
        .into_iter()
        .find(|r| r.json()["type"] == "underwriting_decision")
        .expect("the callback's event was delivered");
    assert_eq!(decision.verified, Ok(()));
    assert_eq!(decision.json()["data"]["case_id"], case_id.as_str());
    assert_eq!(decision.headers["content-type"], "application/json");
    let timestamp: i64 = decision.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() < 60);

    let (status, log) = admin(
        &h,
        reqwest::Method::GET,
        &h.base,
        "/admin/subscriptions/portal/deliveries",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    for entry in log {
        assert_eq!(entry["state"], "delivered", "{entry}");
        assert_eq!(entry["attempts"], 1);
        assert_eq!(entry["last_status"], 204);
        assert!(entry["last_latency_ms"].as_i64().is_some(), "{entry}");
        assert!(entry["delivered_at"].is_string());
    }
    assert_eq!(log[0]["event_id"], decision_last(&receiver), "newest first");
    let (_, subscriptions) = admin(&h, reqwest::Method::GET, &h.base, "/admin/subscriptions", None).await;
    assert_eq!(subscriptions[0]["id"], "portal");
    assert_eq!(subscriptions[0]["source"], "config");
    assert!(
        !subscriptions.to_string().contains("whsec_"),
        "no secret is listed"
    );
    let metrics = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"panelgate_webhook_attempts_total{subscription="portal",outcome="delivered"} 3"#),
        "{metrics}"
    );
    assert!(!metrics.contains(SECRET));
}

/// The last event acknowledged.
fn decision_last(receiver: &WebhookReceiver) -> String {
    receiver.acknowledged().last().cloned().unwrap()
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_once_back_in_order_per_case() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Fail(503)).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 2000)).await;
    for n in 0..3 {
        three_events(&h, &h.base, &format!("HOOK-DOWN-{n}")).await;
        one_event(&h, &h.base, &format!("HOOK-DOWN-CAC-{n}")).await;
    }
    // Down: every case's first event is tried, and tried again; none of its next events is.
    let tried =
        || -> std::collections::BTreeSet<String> { receiver.received().into_iter().map(|r| r.id).collect() };
    wait_until(
        "every case's first event tried twice",
        Duration::from_secs(15),
        || tried().len() >= 6 && receiver.received().len() >= 12,
    )
    .await;
    assert_eq!(
        tried().len(),
        6,
        "only each case's first event is tried: {:?}",
        tried()
    );
    receiver.set_mode(Mode::Accept);
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(30)).await;
    assert_every_event_once_in_order(&h, &h.base, &receiver).await;
    let (_, log) = admin(
        &h,
        reqwest::Method::GET,
        &h.base,
        "/admin/subscriptions/portal/deliveries?state=delivered",
        None,
    )
    .await;
    let retried = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempts"].as_i64().unwrap() > 1)
        .count();
    assert!(retried >= 6, "the first events took several attempts: {log:#}");
}

#[tokio::test]
async fn a_delivery_never_acknowledged_disables_its_subscription_until_enabled_and_replays_resend() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Fail(500)).await.unwrap();
    // Three attempts: the first and two retries.
    let h = start_with(&hooks(&receiver.url(), "[1, 1]", 2000)).await;
    one_event(&h, &h.base, "HOOK-GIVEUP-1").await;
    let subscription = || async {
        admin(
            &h,
            reqwest::Method::GET,
            &h.base,
            "/admin/subscriptions/portal",
            None,
        )
        .await
        .1
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let disabled = loop {
        let s = subscription().await;
        if s["state"] == "disabled" {
            break s;
        }
        assert!(Instant::now() < deadline, "not disabled: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("3 attempts") && reason.contains("500"),
        "{reason}"
    );
    assert_eq!(receiver.received().len(), 3);
    let (_, log) = admin(
        &h,
        reqwest::Method::GET,
        &h.base,
        "/admin/subscriptions/portal/deliveries",
        None,
    )
    .await;
    assert_eq!(log[0]["state"], "failed", "{log}");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status"], 500);

    // Disabled, it takes nothing new; enabled, it sends the failed one, then what came since.
    one_event(&h, &h.base, "HOOK-GIVEUP-2").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "a disabled subscription sends nothing"
    );
    receiver.set_mode(Mode::Accept);
    let (status, enabled) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/enable",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["requeued"], 1);
    assert_eq!(enabled["subscription"]["state"], "enabled");
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(20)).await;
    assert_every_event_once_in_order(&h, &h.base, &receiver).await;

    // A replay sends the same webhook-id again: the receiver sees a duplicate.
    let first = receiver.acknowledged()[0].clone();
    let (status, replayed) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/replay",
        Some(json!({ "event_id": first })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 1);
    wait_until("the replay", Duration::from_secs(10), || {
        receiver.received().iter().any(|r| r.duplicate && r.id == first)
    })
    .await;
    // A time range: every delivery since a minute ago.
    let since = (time::OffsetDateTime::now_utc() - time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, replayed) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/replay",
        Some(json!({ "since": since })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 2);
    wait_until("the range's replay", Duration::from_secs(10), || {
        receiver.received().iter().filter(|r| r.duplicate).count() == 3
    })
    .await;
    let (status, none) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/replay",
        Some(json!({ "event_id": "no-such-event" })),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{none}");
    // An empty event id (a script's unset variable) names no event: refused, nothing sent
    // again. (Before, it replayed every delivery the subscription ever made.)
    let (status, refused) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/replay",
        Some(json!({ "event_id": "" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"]["issues"][0]["path"], "event_id", "{refused}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().iter().filter(|r| r.duplicate).count(),
        3,
        "nothing was sent again"
    );
}

/// A host process on its own store (PostgreSQL when the suite runs there), with `portal`: its
/// config, its address, and the socket that holds its port (keep it while the host may restart).
async fn process_config(
    h: &Harness,
    name: &str,
    receiver: &WebhookReceiver,
    timeout_ms: u64,
) -> (std::path::PathBuf, String, tokio::net::TcpSocket) {
    let store = match std::env::var("PANELGATE_TEST_STORE").as_deref() {
        Ok("postgres") => fresh_postgres().await,
        _ => format!("sqlite://{}", h.dir.path().join(format!("{name}.db")).display()),
    };
    let (port, held) = free_port();
    let config = std::fs::read_to_string(h.dir.path().join("panelgate.toml"))
        .unwrap()
        .replace(&h.store_url, &store)
        .replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        )
        + &hooks(&receiver.url(), PATIENT, timeout_ms);
    let path = h.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    (path, format!("http://127.0.0.1:{port}"), held)
}

#[tokio::test]
async fn a_host_restarted_mid_backlog_loses_and_repeats_nothing_acknowledged() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Fail(503)).await.unwrap();
    let h = start().await;
    let (config, base, _held) = process_config(&h, "restart", &receiver, 1000).await;
    let log = h.dir.path().join("restart.log");
    let host = HostProcess::start(&config, &log, &base).await;
    h.a03.set_callback_base(&format!("{base}/callbacks/A03"));
    // A backlog while the endpoint is down: four cases, eight events.
    for n in 0..2 {
        three_events(&h, &base, &format!("HOOK-RESTART-{n}")).await;
        one_event(&h, &base, &format!("HOOK-RESTART-CAC-{n}")).await;
    }
    // Back, for three acknowledgements; then it hangs and the host is killed.
    receiver.set_mode(Mode::AcceptThenHang(3));
    wait_until("three acknowledged", Duration::from_secs(20), || {
        receiver.acknowledged().len() == 3
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, log) = admin(
            &h,
            reqwest::Method::GET,
            &base,
            "/admin/subscriptions/portal/deliveries?state=delivered",
            None,
        )
        .await;
        if log.as_array().map_or(0, Vec::len) == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the host did not record three deliveries: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.kill();
    receiver.set_mode(Mode::Accept);
    let host = HostProcess::start(&config, &log, &base).await;
    all_acknowledged(&h, &base, &receiver, Duration::from_secs(40)).await;
    assert_every_event_once_in_order(&h, &base, &receiver).await;
    drop(host);
}

#[tokio::test]
async fn two_hosts_on_one_store_deliver_each_event_once() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    // The harness's own host and two processes, all on one PostgreSQL database, all delivering.
    let h = start_on(
        Some(fresh_postgres().await),
        &hooks(&receiver.url(), PATIENT, 2000),
    )
    .await;
    let config = std::fs::read_to_string(h.dir.path().join("panelgate.toml")).unwrap();
    let mut hosts = Vec::new();
    let mut bases = Vec::new();
    for n in 1..=2 {
        let (port, _held) = free_port();
        let path = h.dir.path().join(format!("host-{n}.toml"));
        std::fs::write(
            &path,
            config.replace(
                "listen = \"127.0.0.1:0\"",
                &format!("listen = \"127.0.0.1:{port}\""),
            ),
        )
        .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        hosts.push(HostProcess::start(&path, &h.dir.path().join(format!("host-{n}.log")), &base).await);
        bases.push(base);
    }
    // Events written through all three hosts, the callbacks to the first process.
    h.a03.set_callback_base(&format!("{}/callbacks/A03", bases[0]));
    for n in 0..3 {
        three_events(&h, &bases[n % 2], &format!("HOOK-TWO-{n}")).await;
        one_event(&h, &h.base, &format!("HOOK-TWO-CAC-{n}")).await;
        one_event(&h, &bases[1], &format!("HOOK-TWO-CAC2-{n}")).await;
    }
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(30)).await;
    // A moment for a second send of anything, were one under way.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_every_event_once_in_order(&h, &h.base, &receiver).await;
    let received = receiver.received();
    let (ids, _) = feed(&h, &h.base).await;
    assert_eq!(received.len(), ids.len(), "no event was sent twice");
    drop(hosts);
}

#[tokio::test]
async fn a_hanging_endpoint_never_slows_the_portal_or_the_callbacks() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Hang).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 60_000)).await;
    one_event(&h, &h.base, "HOOK-HANG-0").await;
    wait_until("a delivery hanging", Duration::from_secs(10), || {
        receiver.hanging() >= 1
    })
    .await;
    let mut slowest = Duration::ZERO;
    for n in 1..=4 {
        let started = Instant::now();
        three_events(&h, &h.base, &format!("HOOK-HANG-{n}")).await;
        let (status, _) = h.get("/v1/events?limit=1000").await;
        assert_eq!(status, StatusCode::OK);
        slowest = slowest.max(started.elapsed());
    }
    // Four portal requests and a callback per round; the endpoint has hung all along.
    eprintln!("the slowest round while the endpoint hung: {slowest:?}");
    assert!(receiver.hanging() >= 1, "the endpoint still hangs");
    assert!(
        slowest < Duration::from_secs(3),
        "a round of portal calls and a callback took {slowest:?} while the endpoint hung"
    );
    // Every event is taken in and waits its turn; none is lost or given up.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, log) = admin(
            &h,
            reqwest::Method::GET,
            &h.base,
            "/admin/subscriptions/portal/deliveries",
            None,
        )
        .await;
        let log = log.as_array().unwrap().clone();
        assert!(log.iter().all(|d| d["state"] == "pending"), "{log:#?}");
        if log.len() == 13 {
            break;
        }
        assert!(Instant::now() < deadline, "13 deliveries pending: {log:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_forged_or_replayed_delivery_fails_verification() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 2000)).await;
    one_event(&h, &h.base, "HOOK-FORGE-1").await;
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(20)).await;
    let genuine = receiver.received().remove(0);
    let sent_at: i64 = genuine.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let verify = |headers: &reqwest::header::HeaderMap, body: &[u8], now: i64| {
        webhook_receiver::verify(SECRET, headers, body, now)
    };
    assert_eq!(verify(&genuine.headers, &genuine.body, sent_at), Ok(()));

    // Forged: another body under the genuine signature, or signed with another secret.
    let mut forged = genuine.body.clone();
    let at = forged.iter().position(|b| *b == b'"').unwrap();
    forged.insert(at, b' ');
    assert_eq!(
        verify(&genuine.headers, &forged, sent_at),
        Err(VerifyError::NoMatchingSignature)
    );
    let other = "whsec_b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmchISE=";
    assert_eq!(
        webhook_receiver::verify(other, &genuine.headers, &genuine.body, sent_at),
        Err(VerifyError::NoMatchingSignature)
    );
    // Replayed: the genuine delivery six minutes later, or with its timestamp moved up.
    assert_eq!(
        verify(&genuine.headers, &genuine.body, sent_at + 360),
        Err(VerifyError::TooOld)
    );
    let mut moved = genuine.headers.clone();
    moved.insert("webhook-timestamp", (sent_at + 360).to_string().parse().unwrap());
    assert_eq!(
        verify(&moved, &genuine.body, sent_at + 360),
        Err(VerifyError::NoMatchingSignature)
    );

    // Posted to the endpoint: the forgery is refused, the replay within the window is
    // recognised by its webhook-id and not taken twice.
    let post = |headers: reqwest::header::HeaderMap, body: Vec<u8>| {
        h.client.post(receiver.url()).headers(headers).body(body).send()
    };
    let refused = post(genuine.headers.clone(), forged).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let refused = post(moved, genuine.body.clone()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let replay = post(genuine.headers.clone(), genuine.body.clone()).await.unwrap();
    assert!(replay.status().is_success());
    let received = receiver.received();
    assert!(received.last().unwrap().duplicate, "the replay is a duplicate");
    assert_eq!(receiver.acknowledged(), vec![genuine.id.clone()]);
}

#[tokio::test]
async fn subscriptions_are_checked_by_field_and_their_secret_shown_once() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 2000)).await;
    let post = |body: Value| {
        admin(
            &h,
            reqwest::Method::POST,
            &h.base,
            "/admin/subscriptions",
            Some(body),
        )
    };
    for (body, field) in [
        (json!({ "url": "ftp://portal.example/hooks" }), "url"),
        (json!({ "url": "http://user:pw@portal.example/hooks" }), "url"),
        (json!({ "url": "not a url" }), "url"),
        (
            json!({ "url": "https://portal.example/", "panels": ["A03", "Z99"] }),
            "panels[1]",
        ),
        (
            json!({ "url": "https://portal.example/", "kinds": [""] }),
            "kinds[0]",
        ),
        // A kind no event has would receive nothing, silently.
        (
            json!({ "url": "https://portal.example/", "kinds": ["claim_status", "accept_results"] }),
            "kinds[1]",
        ),
        (
            json!({ "url": "https://portal.example/", "secret": "plain" }),
            "secret",
        ),
        (json!({ "url": "https://portal.example/", "surprise": 1 }), ""),
    ] {
        let (status, answer) = post(body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        if !field.is_empty() {
            assert_eq!(issue_paths(&answer), vec![field.to_string()], "{body}: {answer}");
        }
    }
    let (status, created) =
        post(json!({ "url": receiver.url(), "panels": ["A03"], "kinds": ["accept_result"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (status, one) = admin(
        &h,
        reqwest::Method::GET,
        &h.base,
        &format!("/admin/subscriptions/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.get("secret").is_none(), "{one}");
    assert_eq!(one["state"], "enabled");

    // It receives what it asked for: an accept's result on A03, signed with its own secret.
    let mine = WebhookReceiver::start(&secret, Mode::Accept).await.unwrap();
    let (status, _) = admin(
        &h,
        reqwest::Method::DELETE,
        &h.base,
        &format!("/admin/subscriptions/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, created) =
        post(json!({ "url": mine.url(), "kinds": ["accept_result"], "secret": secret })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    three_events(&h, &h.base, "HOOK-FILTER-1").await;
    wait_until("the accept's result", Duration::from_secs(20), || {
        !mine.acknowledged().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = mine.received();
    assert_eq!(received.len(), 1, "only the kind asked for");
    assert_eq!(received[0].json()["type"], "accept_result");
    assert_eq!(received[0].verified, Ok(()));

    for (method, path, status) in [
        (
            reqwest::Method::DELETE,
            "/admin/subscriptions/portal",
            StatusCode::CONFLICT,
        ),
        (
            reqwest::Method::GET,
            "/admin/subscriptions/nope",
            StatusCode::NOT_FOUND,
        ),
        (
            reqwest::Method::GET,
            "/admin/subscriptions/portal/deliveries?state=lost",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            reqwest::Method::POST,
            "/admin/subscriptions/nope/enable",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (got, answer) = admin(&h, method, &h.base, path, None).await;
        assert_eq!(got, status, "{path}: {answer}");
    }
    let (status, answer) = admin(
        &h,
        reqwest::Method::POST,
        &h.base,
        "/admin/subscriptions/portal/replay",
        Some(json!({ "since": "yesterday" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue_paths(&answer), vec!["since".to_string()]);
    let (status, _) = h.get("/admin/subscriptions").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the portal token is not the admin's"
    );
}

#[tokio::test]
async fn the_cli_creates_inspects_replays_and_deletes_a_subscription() {
    let receiver = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    let h = start_with(&hooks(&receiver.url(), PATIENT, 2000)).await;
    let cli = |args: &[&str]| {
        let mut argv = vec!["panelgate"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--url", &h.base, "--token", ADMIN]);
        let argv: Vec<String> = argv.into_iter().map(String::from).collect();
        async move { panelgate::cli::run(argv).await }
    };
    let mine = WebhookReceiver::start(SECRET, Mode::Accept).await.unwrap();
    assert_eq!(
        cli(&[
            "subscription",
            "create",
            "--endpoint",
            &mine.url(),
            "--panel",
            "A03"
        ])
        .await
        .unwrap(),
        0
    );
    let (_, list) = admin(&h, reqwest::Method::GET, &h.base, "/admin/subscriptions", None).await;
    let created = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["url"] == mine.url().as_str())
        .expect("created")
        .clone();
    assert_eq!(created["panels"], json!(["A03"]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(cli(&["subscription", "list"]).await.unwrap(), 0);

    one_event(&h, &h.base, "HOOK-CLI-1").await;
    all_acknowledged(&h, &h.base, &receiver, Duration::from_secs(20)).await;
    let event = receiver.acknowledged()[0].clone();
    assert_eq!(cli(&["subscription", "deliveries", "portal"]).await.unwrap(), 0);
    assert_eq!(
        cli(&[
            "subscription",
            "deliveries",
            "portal",
            "--before",
            "1000000",
            "--limit",
            "1000"
        ])
        .await
        .unwrap(),
        0
    );
    assert_eq!(
        cli(&["subscription", "replay", "portal", "--event", &event])
            .await
            .unwrap(),
        0
    );
    wait_until("the replay", Duration::from_secs(10), || {
        receiver.received().iter().any(|r| r.duplicate && r.id == event)
    })
    .await;
    let refused = cli(&["subscription", "delete", "portal"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("409") && refused.contains("webhooks.subscriptions"),
        "{refused}"
    );
    assert_eq!(cli(&["subscription", "delete", &id]).await.unwrap(), 0);
    let (status, _) = admin(
        &h,
        reqwest::Method::GET,
        &h.base,
        &format!("/admin/subscriptions/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
