//! Partner callbacks as a partner and an operator see them: a text field holding NUL is refused
//! before the adapter and kept, deliveries of one fact arriving together make one event and
//! each gets the partner's answer, records keep only harmless headers in clear, a panel that
//! takes callbacks says how they authenticate, and what an adapter asks its partner while
//! handling one is journaled.

use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::faults::{Fault, FaultProxy};
use panelgate_tests::guests;
use panelgate_tests::sim::aap::AapSimulator;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The callbacks a panel has received, as the store keeps them: (path, headers, flagged).
async fn stored_callbacks(h: &Harness, panel: &str) -> Vec<(String, Value, Option<String>)> {
    use sqlx::Row as _;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.store_url).await.unwrap();
    let rows =
        sqlx::query("SELECT path, headers, flagged FROM callbacks WHERE panel = $1 ORDER BY received_at")
            .bind(panel)
            .fetch_all(&pool)
            .await
            .unwrap();
    rows.iter()
        .map(|row| {
            let headers: String = row.get("headers");
            (
                row.get("path"),
                serde_json::from_str(&headers).unwrap(),
                row.get("flagged"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_nul_in_a_callbacks_text_is_refused_before_the_adapter_and_the_callback_kept_flagged() {
    let h = start().await;
    // More than the panel's quarantine threshold (5): none of them may count as a fault.
    let body = r#"{"ID_Loan":"Z-1","Status":"TAHAN","Keterangan":"Kurang\u0000KTP","No_Polis":"P-1"}"#;
    for _ in 0..7 {
        let (status, text) = h
            .a03
            .send_raw_callback("post-status", body, CALLBACK_USER, CALLBACK_PASSWORD)
            .await
            .unwrap();
        assert_eq!(status, 422, "{text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["error"]["code"], "invalid_request", "{error}");
        assert_eq!(issue_paths(&error), ["Keterangan"], "{error}");
    }
    // A form's text field too; a file in it is bytes, NUL and all.
    let (status, text) = h
        .a03
        .send_claim_payment("Z-1", "P-1", 1_000, "Pembayaran\0klaim", pdf())
        .await
        .unwrap();
    assert_eq!(status, 422, "{text}");
    assert_eq!(issue_paths(&serde_json::from_str(&text).unwrap()), ["Keterangan"]);
    let mut binary = pdf();
    binary.extend_from_slice(&[0, 0, 0xff, 0]);
    let (status, text) = h
        .a03
        .send_claim_payment("Z-1", "P-1", 1_000, "Pembayaran klaim", binary)
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");

    // The panel still serves: not quarantined, and the next callback is handled.
    let (_, panels) = h.admin_get("/admin/panels").await;
    let a03 = panels
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "A03")
        .unwrap();
    assert!(a03["quarantined"].is_null(), "{a03}");
    let fine = r#"{"ID_Loan":"Z-1","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"P-1"}"#;
    let (status, text) = h
        .a03
        .send_raw_callback("post-status", fine, CALLBACK_USER, CALLBACK_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status, 200, "{text}");

    // Every refused callback is kept as received, flagged with the field.
    let stored = stored_callbacks(&h, "A03").await;
    assert_eq!(stored.len(), 10, "{stored:?}");
    let refused: Vec<_> = stored
        .iter()
        .filter_map(|(_, _, flag)| flag.as_deref())
        .filter(|flag| flag.contains("NUL character"))
        .collect();
    assert_eq!(refused.len(), 8, "{stored:?}");
    assert!(refused.iter().all(|f| f.contains("`Keterangan`")), "{refused:?}");
}

#[tokio::test]
async fn identical_callbacks_arriving_together_make_one_event_and_each_gets_the_partners_answer() {
    let h = start().await;
    let loan = "RACE-0001";
    let mut application = example("B03", "accept");
    application["interest"]["credit_life"]["account"] = json!(loan);
    let (status, body) = h.post("/v1/panels/B03/policies", &application).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let policy = body["result"]["policy"]["number"].as_str().unwrap().to_string();
    let mut claim = example("B03", "claim");
    claim["policy_reference"]["value"] = json!(loan);
    let (status, body) = h.post("/v1/panels/B03/claims", &claim).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let claim_case = body["case_id"].as_str().unwrap().to_string();

    // Ten deliveries of one payment with its proof, all at once.
    let answers = futures::future::join_all((0..10).map(|_| {
        h.b03
            .send_claim_payment(loan, &policy, 6_000_000, "Pembayaran klaim", pdf())
    }))
    .await;
    for answer in &answers {
        let (status, reply) = answer.as_ref().unwrap();
        assert_eq!(*status, 200, "{reply}");
        assert_eq!(
            serde_json::from_str::<Value>(reply).unwrap()["Status"],
            "00",
            "{reply}"
        );
    }

    let payments: Vec<Value> = h
        .all_events()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "claim_payment")
        .collect();
    assert_eq!(payments.len(), 1, "{payments:#?}");
    let proof = &payments[0]["payload"]["detail"]["claim_payment"]["proof"];
    let (status, _) = h
        .admin_get(&format!(
            "/admin/attachments/{}",
            proof["attachment_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    // The case moved once; every delivery is kept, the repeats of the same body unflagged.
    let (_, case) = h.get(&format!("/v1/panels/B03/claims/{claim_case}")).await;
    assert_eq!(case["status"], "claim_paid");
    let paid = case["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "claim_paid")
        .count();
    assert_eq!(paid, 1, "{case}");
    let stored = stored_callbacks(&h, "B03").await;
    let deliveries: Vec<_> = stored
        .iter()
        .filter(|(path, _, _)| path == "post-pembayaran")
        .collect();
    assert_eq!(deliveries.len(), 10);
    assert!(
        deliveries.iter().all(|(_, _, flag)| flag.is_none()),
        "{deliveries:?}"
    );
}

/// A claim's approval that reaches the host after its payment (the partner's retry of a
/// delivery the host could not take at first) is kept, in the case's events, flagged and
/// without a status: a paid claim is not approved again, on the case nor in the feed.
#[tokio::test]
async fn a_late_approval_does_not_move_a_paid_claim_back() {
    let h = start().await;
    let loan = "LATE-0001";
    let (policy, claim_case) = b03_claim(&h, loan).await;

    let (status, reply) = h
        .b03
        .send_claim_payment(loan, &policy, 6_000_000, "Pembayaran klaim", pdf())
        .await
        .unwrap();
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = h
        .b03
        .send_claim_status(loan, &policy, "TERIMA", "Disetujui")
        .await
        .unwrap();
    assert_eq!(status, 200, "the partner hears its answer: {reply}");

    let (_, case) = h.get(&format!("/v1/panels/B03/claims/{claim_case}")).await;
    assert_eq!(case["status"], "claim_paid", "{case}");
    let late: Vec<Value> = h
        .all_events()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "claim_status" && e["case_id"] == claim_case.as_str())
        .collect();
    assert_eq!(late.len(), 1, "{late:#?}");
    assert!(
        late[0]["status"].is_null(),
        "the feed says no status: {}",
        late[0]
    );
    let flag = late[0]["flagged"].as_str().unwrap_or_default();
    assert!(
        flag.contains("claim_approved") && flag.contains("claim_paid"),
        "{flag}"
    );
}

#[tokio::test]
async fn callback_records_keep_only_harmless_headers_in_clear() {
    let h = start().await;
    let response = h
        .client
        .post(h.url("/callbacks/A03/post-status"))
        .basic_auth(CALLBACK_USER, Some(CALLBACK_PASSWORD))
        .header("content-type", "application/json")
        .header("x-request-id", "req-42")
        .header("user-agent", "insurer/1.0")
        .header("x-api-key", "s3cret-api-key")
        .header("cookie", "session=s3cret-cookie")
        .header("proxy-authorization", "Basic s3cret-proxy")
        .header("x-partner-signature", "s3cret-signature")
        .body(r#"{"ID_Loan":"H-1","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"P-1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let stored = stored_callbacks(&h, "A03").await;
    assert_eq!(stored.len(), 1);
    let headers = stored[0].1.as_array().unwrap();
    let value = |name: &str| {
        headers
            .iter()
            .find(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no `{name}` in {headers:?}"))
    };
    assert_eq!(value("content-type"), "application/json");
    assert_eq!(value("x-request-id"), "req-42");
    assert_eq!(value("user-agent"), "insurer/1.0");
    for secret in [
        "authorization",
        "x-api-key",
        "cookie",
        "proxy-authorization",
        "x-partner-signature",
    ] {
        assert_eq!(value(secret), "***", "{secret}");
    }
    assert!(!stored[0].1.to_string().contains("s3cret"), "{}", stored[0].1);
}

/// A partner for the probe's callback: `POST /rate` answers a rate.
async fn rate_partner() -> String {
    let app = axum::Router::new().route(
        "/rate",
        axum::routing::post(|| async { axum::Json(json!({ "rate": "0.0175" })) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A config of the probe that serves a callback, for panel `CB` with `callback_auth` as given
/// (nothing when empty).
fn probe_callbacks_config(dir: &std::path::Path, partner: &str, callback_auth: &str) -> std::path::PathBuf {
    let config = format!(
        r#"
[server]
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://panelgate.db"
[sandbox]
cache_dir = "{cache}"
[adapters.probe-callbacks]
path = "{probe}"
[panels.CB]
adapter = "probe-callbacks"
base_url = "{partner}"
{callback_auth}
"#,
        cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
        probe = guests::PROBE_CALLBACKS,
    );
    let path = dir.join("panelgate.toml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test]
async fn a_panel_whose_adapter_serves_callbacks_must_say_how_they_authenticate() {
    let partner = rate_partner().await;
    let dir = tempfile::tempdir().unwrap();

    // Nothing said: the host does not start, and names the panel.
    let path = probe_callbacks_config(dir.path(), &partner, "");
    let config = panelgate::config::Config::load(&path).unwrap();
    let error = match panelgate::App::start(&config).await {
        Ok(_) => panic!("a panel taking unauthenticated callbacks by omission started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("panel `CB`") && error.contains("callback_auth") && error.contains("rate-changed"),
        "{error}"
    );

    // Said explicitly: it starts, and `/admin/panels` warns.
    let path = probe_callbacks_config(dir.path(), &partner, r#"callback_auth = { kind = "none" }"#);
    let config = panelgate::config::Config::load(&path).unwrap();
    let app = panelgate::App::start(&config).await.expect("starts");
    let listener = panelgate::listen("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app.router()).await });
    let client = reqwest::Client::new();
    let panels: Value = client
        .get(format!("{base}/admin/panels"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warning = panels[0]["callback_warning"].as_str().unwrap_or_default();
    assert!(warning.contains("unauthenticated"), "{panels}");
    let response = client
        .post(format!("{base}/callbacks/CB/rate-changed"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn switching_a_panel_to_an_adapter_that_serves_callbacks_needs_callback_auth() {
    let partner = rate_partner().await;
    let h = start_with(&format!(
        r#"
[adapters.probe]
path = "{probe}"
[panels.probe]
adapter = "probe"
base_url = "{partner}"
"#,
        probe = guests::PROBE
    ))
    .await;
    let response = h
        .client
        .post(h.url("/admin/adapters"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(std::fs::read(guests::PROBE_CALLBACKS).unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
    let response = h
        .client
        .put(h.url("/admin/panels/probe/adapter"))
        .bearer_auth(ADMIN)
        .json(&json!({ "adapter": "probe-callbacks@0.1.0" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("panel `probe`") && message.contains("callback_auth"),
        "{body}"
    );
    // Nothing changed: the panel serves what it served.
    let (_, panels) = h.admin_get("/admin/panels").await;
    let probe = panels
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "probe")
        .unwrap();
    assert_eq!(probe["module"]["name"], "probe", "{probe}");
}

/// The probe-callbacks panel `CB` taking callbacks without authentication, the partner it asks
/// while handling one answering its rate.
async fn unsigned_callbacks_host() -> Harness {
    let partner = rate_partner().await;
    start_with(&format!(
        r#"
[adapters.probe-callbacks]
path = "{probe}"
[panels.CB]
adapter = "probe-callbacks"
base_url = "{partner}"
callback_auth = {{ kind = "none" }}
"#,
        probe = guests::PROBE_CALLBACKS
    ))
    .await
}

#[tokio::test]
async fn partner_exchanges_made_while_handling_a_callback_are_journaled() {
    let h = unsigned_callbacks_host().await;
    let response = h
        .client
        .post(h.url("/callbacks/CB/rate-changed"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["rate"], "0.0175");

    let (_, journal) = h.admin_get("/admin/journal?panel=CB").await;
    let entries = journal.as_array().unwrap();
    let callback = entries
        .iter()
        .find(|e| e["kind"] == "callback")
        .expect("the callback's entry");
    let exchanges: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "partner").collect();
    assert_eq!(exchanges.len(), 1, "{journal:#}");
    assert_eq!(exchanges[0]["detail"]["of"], callback["id"], "{journal:#}");
    assert_eq!(exchanges[0]["operation"], "handle-callback");
    assert_eq!(exchanges[0]["outcome"], "http 200");
    assert!(
        exchanges[0]["detail"]["exchange"]["url"]
            .as_str()
            .is_some_and(|url| url.ends_with("/rate")),
        "{journal:#}"
    );
}

/// One callback carrying the same fact twice with different content: the first is kept and
/// the callback flagged (the store dropped the second silently before). A reply whose content
/// type no header can hold is the adapter's fault: 500, and nothing of its events kept (before,
/// the events were committed and the partner heard a 500 it would retry forever).
#[tokio::test]
async fn a_callbacks_own_repeats_are_flagged_and_an_unsendable_reply_keeps_nothing() {
    let h = unsigned_callbacks_host().await;
    let send = |body: Value| {
        let h = &h;
        async move {
            let response = h
                .client
                .post(h.url("/callbacks/CB/rate-changed"))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let probe_events = |events: Vec<Value>| {
        events
            .into_iter()
            .filter(|e| e["panel"] == "CB" && e["kind"] == "other")
            .collect::<Vec<_>>()
    };

    let (status, reply) = send(json!({ "events": [
        { "ref": "R-1", "key": "k1", "data": "first" },
        { "ref": "R-1", "key": "k1", "data": "second" },
    ] }))
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let kept = probe_events(h.all_events().await);
    assert_eq!(kept.len(), 1, "{kept:#?}");
    assert!(kept[0].to_string().contains("first"), "{}", kept[0]);
    let stored = stored_callbacks(&h, "CB").await;
    assert!(
        stored.iter().any(|(_, _, flag)| flag
            .as_deref()
            .is_some_and(|f| f.contains("twice in one callback"))),
        "{stored:?}"
    );

    let (status, reply) = send(json!({
        "content_type": "text/plain\r\nX-Injected: yes",
        "events": [{ "ref": "R-2", "key": "k2", "data": "third" }],
    }))
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
    assert_eq!(probe_events(h.all_events().await).len(), 1, "nothing of it kept");
}

/// The probe-callbacks panel `CB` taking HMAC-signed callbacks, the partner it asks while
/// handling one behind a fault proxy.
async fn signed_callbacks_host() -> (Harness, FaultProxy) {
    let partner = rate_partner().await;
    let proxy = FaultProxy::start(&partner).await.expect("proxy");
    let h = start_with(&format!(
        r#"
[adapters.probe-callbacks]
path = "{probe}"
[panels.CB]
adapter = "probe-callbacks"
base_url = "{proxy}"
[panels.CB.callback_auth]
kind = "hmac"
secret = {{ value = "{SIGNED_SECRET}" }}
signature_header = "X-Signature"
timestamp_header = "X-Timestamp"
"#,
        probe = guests::PROBE_CALLBACKS,
        proxy = proxy.base_url()
    ))
    .await;
    (h, proxy)
}

const SIGNED_SECRET: &str = "cb-secret";

/// The same signed callback every time it is sent with one timestamp `now`: its status,
/// Retry-After and text.
async fn send_signed(h: &Harness, now: u64) -> (StatusCode, Option<reqwest::header::HeaderValue>, String) {
    use panelgate_tests::sim::auth::sign_callback;
    let body = r#"{"changed":"rate"}"#;
    let response = h
        .client
        .post(h.url("/callbacks/CB/rate-changed"))
        .header("x-signature", sign_callback(SIGNED_SECRET, now, body))
        .header("x-timestamp", now.to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    let retry_after = response.headers().get("retry-after").cloned();
    (response.status(), retry_after, response.text().await.unwrap())
}

/// A signed callback sent again while the first is still being handled (the partner's API,
/// asked while handling it, is slow) is told to try later, not refused as a replay; sent again
/// after, it gets the first one's reply.
#[tokio::test]
async fn a_signed_callback_sent_again_while_it_is_handled_is_told_to_retry() {
    let (h, proxy) = signed_callbacks_host().await;
    let now = panelgate_tests::sim::auth::unix_now();
    let send = || send_signed(&h, now);
    proxy.queue("POST /rate ", [Fault::Slow(Duration::from_millis(1500))]);
    let first = send();
    let again = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        send().await
    };
    let ((status, _, reply), (again_status, retry_after, again_reply)) = tokio::join!(first, again);
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(again_status, StatusCode::SERVICE_UNAVAILABLE, "{again_reply}");
    assert!(retry_after.is_some(), "a Retry-After");
    let (status, _, later) = send().await;
    assert_eq!((status, later), (StatusCode::OK, reply), "the first one's reply");
    assert_eq!(proxy.counts().0, 1, "handled once");
}

/// A signed callback the host could not handle for a passing reason (here the partner's API,
/// asked while handling it, answers 503) is answered as the portal would hear it, 503, and not
/// taken: the partner's retry of the very same signed request is, once; sent once more, it is
/// answered the reply it had without being handled again. (Before: 500, and the retry was
/// refused as a replay, so the callback was never handled.)
#[tokio::test]
async fn a_signed_callback_failed_by_a_passing_fault_is_taken_when_retried() {
    let (h, proxy) = signed_callbacks_host().await;
    let now = panelgate_tests::sim::auth::unix_now();
    let send = || async {
        let (status, _, text) = send_signed(&h, now).await;
        (status, text)
    };
    proxy.queue("POST /rate ", [Fault::Error(503)]);
    let (status, reply) = send().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{reply}");
    let (status, reply) = send().await;
    assert_eq!(status, StatusCode::OK, "the partner's retry: {reply}");
    assert!(reply.contains("0.0175"), "{reply}");
    assert_eq!(send().await, (status, reply), "sent once more");
    assert_eq!(proxy.counts().0, 2, "handled once more than it failed, no more");
}

/// What hosts sharing a store meet at when the same fact reaches two of them at once (the
/// in-process turns cannot order them): the event and its attachment are kept once, and
/// neither commit fails.
#[tokio::test]
async fn the_store_keeps_an_event_and_its_attachment_once_whoever_commits_them() {
    use panelgate::store::{Commit, NewAttachment, NewEvent, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&store_url(dir.path()).await, Default::default())
        .await
        .unwrap();
    let commit = Commit {
        events: vec![NewEvent {
            panel: "B03".into(),
            case_id: None,
            kind: "claim_payment".into(),
            dedup_key: "payment:RACE-1".into(),
            status: None,
            payload: json!({ "proof": { "attachment_id": "a1" } }),
            flagged: None,
            case_ref: None,
            learnt_ms: None,
        }],
        attachments: vec![NewAttachment {
            id: "a1".into(),
            event_id: "cb-1:payment:RACE-1".into(),
            filename: "bukti.pdf".into(),
            content_type: "application/pdf".into(),
            data: pdf(),
        }],
        ..Commit::default()
    };
    // One after the other: the same statements a racing host would run, in the same order.
    let first = store.commit(commit.clone()).await.expect("first commit");
    let second = store.commit(commit).await.expect("the repeat commits too");
    assert_eq!(first.events_new, [true]);
    assert_eq!(second.events_new, [false]);
    let (_, _, data) = store.attachment("a1").await.unwrap().expect("kept");
    assert_eq!(data, pdf());
}

/// 1,000 hostile callbacks from one source holding the panel's own credentials (the worst a
/// callback source can be): NUL in text, malformed and deeply nested JSON, huge strings, wrong
/// types, unknown loans, unknown paths, wrong credentials, 20 at a time. Afterwards no panel is
/// quarantined, every panel serves another caller, and a genuine callback still moves its case.
#[tokio::test]
async fn a_thousand_hostile_callbacks_leave_every_panel_serving() {
    let h = start().await;
    let (status, case) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let loan = example("A03", "accept-cbc")["interest"]["credit_life"]["account"]
        .as_str()
        .unwrap()
        .to_string();
    // None aims at the case: the genuine decision below must find it untouched.
    let hostile = |n: usize| -> (&'static str, String, bool) {
        let paths = [
            "post-status-pertanggung-cbc",
            "post-status-pembatalan",
            "post-status",
        ];
        // Each kind of body to each path in turn.
        let path = paths[(n / 9) % paths.len()];
        let body = match n % 9 {
            0 => format!(
                r#"{{"ID_Loan":"NUL-{n}","Status":"TAHAN","Keterangan":"a\u0000b","No_Polis":"P-{n}"}}"#
            ),
            1 => "{\"ID_Loan\": ".to_string(),
            2 => format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
            3 => format!(
                r#"{{"ID_Loan":"HUGE-{n}","Status":"TAHAN","Keterangan":"{}"}}"#,
                "x".repeat(3 << 20)
            ),
            4 => r#"{"ID_Loan":12,"Status":["x"],"Keterangan":{"a":1}}"#.to_string(),
            5 => format!(r#"{{"ID_Loan":"NO-SUCH-LOAN-{n}","Status":"DISETUJUI"}}"#),
            6 => format!(r#"{{"{}":1}}"#, "k".repeat(1 << 20)),
            7 => "\u{0}\u{1}binary".to_string(),
            _ => format!(r#"{{"ID_Loan":"OTHER-{n}","Status":"DISETUJUI","Keterangan":"ok {n}"}}"#),
        };
        // Every tenth with wrong credentials, every 13th to a path the adapter does not serve.
        let path = if n.is_multiple_of(13) {
            "no-such-callback"
        } else {
            path
        };
        (path, body, !n.is_multiple_of(10))
    };
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let (client, base, next) = (h.client.clone(), h.base.clone(), next.clone());
            tokio::spawn(async move {
                let mut answered = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= 1000 {
                        return answered;
                    }
                    let (path, body, authentic) = hostile(n);
                    let password = if authentic { CALLBACK_PASSWORD } else { "wrong" };
                    let response = client
                        .post(format!("{base}/callbacks/A03/{path}"))
                        .basic_auth(CALLBACK_USER, Some(password))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("the host answers");
                    answered.push((n, response.status()));
                }
            })
        })
        .collect();
    let mut answered = Vec::new();
    for worker in workers {
        answered.extend(worker.await.unwrap());
    }
    eprintln!("1000 hostile callbacks in {} ms", started.elapsed().as_millis());
    assert_eq!(answered.len(), 1000);
    for (n, status) in &answered {
        assert!(status.as_u16() < 500, "hostile callback {n}: {status}");
    }
    let (_, panels) = h.get("/v1/panels").await;
    for panel in panels.as_array().unwrap() {
        assert_eq!(panel["health"], "serving", "{panel}");
    }
    for panel in ["A03", "B03", "aagi-motor"] {
        let (status, body) = h
            .post(&format!("/v1/panels/{panel}/quotes"), &example(panel, "quote"))
            .await;
        assert_eq!(status, StatusCode::OK, "{panel} serves another caller: {body}");
    }
    let (status, body) = h
        .post("/v1/panels/bcs/quotes", &example("bcs", "quote-life"))
        .await;
    assert_eq!(status, StatusCode::OK, "bcs serves another caller: {body}");
    // A genuine decision still reaches its case.
    let (code, text) = h
        .a03
        .send_cbc_decision(&loan, "DISETUJUI", 100000, "CBC diterima")
        .await
        .unwrap();
    assert_eq!(code, 200, "{text}");
    let (_, after) = h
        .get(&format!(
            "/v1/panels/A03/policies/{}",
            case["case_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(after["status"], "offered", "{after}");
    let (_, verify) = h.admin_get("/admin/journal/verify").await;
    assert_eq!(verify["intact"], true);
}

/// An AAP panel, `slow`, behind a fault proxy: its own simulator calls back to it.
async fn slow_panel() -> (Harness, AapSimulator, FaultProxy) {
    let sim = AapSimulator::start(sim_config("A03", true), any_port())
        .await
        .expect("AAP simulator");
    let proxy = FaultProxy::start(&sim.base_url()).await.expect("proxy");
    let h = start_with(&aap_panel(
        "slow",
        "life",
        &proxy.base_url(),
        "operation_timeout_ms = 10000",
    ))
    .await;
    sim.set_callback_base(&format!("{}/callbacks/slow", h.base));
    (h, sim, proxy)
}

/// The statuses of a case's history, oldest first.
fn history_statuses(case: &Value) -> Vec<&str> {
    case["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect()
}

/// Waits until the simulator has had a request for `path`.
async fn reached(sim: &AapSimulator, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sim.requests().iter().any(|r| r.path == path) {
        assert!(Instant::now() < deadline, "{path} never reached the partner");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A partner that calls back before the host has heard its answer (the answer slow on its way
/// back, the insurer deciding at once): no case has the loan yet, so the decision is stored,
/// flagged, waiting for one. Once the accept's outcome gives its case the loan, the decision is
/// applied to that case, as if it had come after: the case is offered, the feed has the decision
/// on the case, and the stored event says where it went. The insurer sending it again changes
/// nothing. (Before, the decision stayed unapplied for good, its repeats taken for duplicates.)
#[tokio::test]
async fn a_decision_that_comes_before_its_case_is_applied_once_the_case_has_its_loan() {
    let (h, sim, proxy) = slow_panel().await;
    const SUBMISSION: &str = "/akseptasi/pengajuan-cbc";
    proxy.queue(
        &format!("POST {SUBMISSION} "),
        [Fault::Slow(Duration::from_secs(3))],
    );
    let mut application = example("A03", "accept-cbc");
    application["interest"]["credit_life"]["account"] = json!("CBC-EARLY");
    let loan_event = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["panel"] == "slow" && e["kind"] == "underwriting_decision")
            .cloned()
            .collect::<Vec<_>>()
    };

    let accept = h.post("/v1/panels/slow/policies", &application);
    let decide = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sim.requests().iter().any(|r| r.path == SUBMISSION) {
            assert!(
                Instant::now() < deadline,
                "the submission never reached the partner"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (code, reply) = sim
            .send_cbc_decision("CBC-EARLY", "DISETUJUI", 100_000, "CBC diterima")
            .await
            .unwrap();
        assert_eq!(code, 200, "{reply}");
        // Stored before the accept's answer came: no case has the loan, so it waits.
        let waiting = loan_event(&h.all_events().await);
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        assert_eq!(waiting[0]["case_id"], Value::Null, "{waiting:?}");
        assert!(
            waiting[0]["flagged"]
                .as_str()
                .is_some_and(|f| f.contains("yet: stored, to be applied once one has it")),
            "{waiting:?}"
        );
        waiting[0]["id"].as_str().unwrap().to_string()
    };
    let ((status, accepted), waiting_id) = tokio::join!(accept, decide);
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
    let case_id = accepted["case_id"].as_str().unwrap().to_string();
    let accepted_status = accepted["result"]["status"].as_str().unwrap().to_string();
    assert_ne!(accepted_status, "offered", "{accepted}");

    // Applied once the case has the loan: woken by the accept's commit, well before the
    // applier's 5 s look at everything.
    let deadline = Instant::now() + Duration::from_secs(1);
    let case = loop {
        let (status, case) = h.get(&format!("/v1/panels/slow/policies/{case_id}")).await;
        assert_eq!(status, StatusCode::OK, "{case}");
        if case["status"] == "offered" {
            break case;
        }
        assert!(
            Instant::now() < deadline,
            "the decision was never applied: {case}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let statuses = history_statuses(&case);
    assert_eq!(statuses, [accepted_status.as_str(), "offered"], "{case}");
    let events = loan_event(&h.all_events().await);
    assert_eq!(
        events.len(),
        2,
        "the waiting event and its copy on the case: {events:?}"
    );
    let (waited, applied) = (&events[0], &events[1]);
    assert_eq!(waited["id"], waiting_id.as_str());
    assert_eq!(
        waited["case_id"],
        Value::Null,
        "the feed's past is kept: {waited}"
    );
    assert!(
        waited["flagged"]
            .as_str()
            .is_some_and(|f| f.contains(&format!("applied to case {case_id}"))),
        "{waited}"
    );
    assert_eq!(applied["case_id"], case_id.as_str(), "{applied}");
    assert_eq!(applied["status"], "offered", "{applied}");
    assert_eq!(applied["flagged"], Value::Null, "{applied}");
    assert_eq!(
        applied["payload"]["applied_late"]["event_id"],
        waiting_id.as_str()
    );

    // The insurer sends it again: one fact, already stored.
    let (code, reply) = sim
        .send_cbc_decision("CBC-EARLY", "DISETUJUI", 100_000, "CBC diterima")
        .await
        .unwrap();
    assert_eq!(code, 200, "{reply}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(loan_event(&h.all_events().await).len(), 2);
    let (_, again) = h.get(&format!("/v1/panels/slow/policies/{case_id}")).await;
    assert_eq!(again["history"], case["history"], "{again}");

    // Another loan's submission whose answer is lost: the case is in doubt, without the loan.
    // The insurer's decision waits; an operator then settles the case, as the insurer's records
    // show it at that time, with the loan. The decision is older news than the settlement: it
    // joins the case, flagged, without a status, and the case keeps the operator's.
    proxy.queue(&format!("POST {SUBMISSION} "), [Fault::Drop]);
    let mut application = example("A03", "accept-cbc");
    application["interest"]["credit_life"]["account"] = json!("CBC-DOUBT");
    let (status, body) = h.post("/v1/panels/slow/policies", &application).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let doubted = body["case_id"].as_str().unwrap().to_string();
    let journal_id = body["error"]["journal_id"].as_str().unwrap().to_string();
    let (code, reply) = sim
        .send_cbc_decision("CBC-DOUBT", "DISETUJUI", 0, "CBC diterima")
        .await
        .unwrap();
    assert_eq!(code, 200, "{reply}");
    let response = h
        .client
        .post(h.url(&format!("/admin/unknown-outcomes/{journal_id}")))
        .bearer_auth(ADMIN)
        .json(&json!({
            "acted": true,
            "status": "pending_documents",
            "references": [{ "kind": "loan-id", "value": "CBC-DOUBT" }],
            "note": "in the insurer's portal, awaiting documents",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(1);
    let joined = loop {
        let events = h.all_events().await;
        if let Some(joined) = events
            .iter()
            .find(|e| e["case_id"] == doubted.as_str() && e["kind"] == "underwriting_decision")
        {
            break joined.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the decision never joined its case: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(joined["status"], Value::Null, "{joined}");
    assert!(
        joined["flagged"]
            .as_str()
            .is_some_and(|f| f.contains("without moving it")),
        "{joined}"
    );
    let (_, case) = h.get(&format!("/v1/panels/slow/policies/{doubted}")).await;
    assert_eq!(case["status"], "pending_documents", "{case}");
}

/// The insurer approves a cancellation while its answer to the request is still on its way
/// back: the approval, received after the request was sent, is newer news than the answer
/// ("requested"), though the answer is committed after it. The case stays cancelled, its history
/// ends with the approval, and the answer's own record is kept in the journal. (Before, the
/// answer committed last set the case back to `cancellation_requested` for good.)
#[tokio::test]
async fn an_approval_that_comes_before_the_answer_to_its_request_is_not_undone_by_it() {
    let (h, sim, proxy) = slow_panel().await;
    let mut application = example("A03", "accept-cac");
    application["interest"]["credit_life"]["account"] = json!("CAN-RACE");
    let (status, body) = h.post("/v1/panels/slow/policies", &application).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["status"], "in_force", "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_string();
    let policy = body["result"]["policy"]["number"].as_str().unwrap().to_string();

    const CANCELLATION: &str = "/pembatalan/inforce";
    proxy.queue(
        &format!("POST {CANCELLATION} "),
        [Fault::Slow(Duration::from_secs(3))],
    );
    let (path, request) = (
        format!("/v1/panels/slow/policies/{case_id}/cancel"),
        example("A03", "cancel-inforce"),
    );
    let cancel = h.post(&path, &request);
    let approve = async {
        reached(&sim, CANCELLATION).await;
        let (code, reply) = sim
            .send_cancellation_decision("CAN-RACE", &policy, "DISETUJUI")
            .await
            .unwrap();
        assert_eq!(code, 200, "{reply}");
        let (_, case) = h.get(&format!("/v1/panels/slow/policies/{case_id}")).await;
        assert_eq!(
            case["status"], "cancelled",
            "the approval, before the answer: {case}"
        );
        case
    };
    let ((status, body), approved) = tokio::join!(cancel, approve);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["status"], "cancellation_requested", "{body}");
    let journal_id = body["journal_id"].as_str().unwrap().to_string();

    let (_, case) = h.get(&format!("/v1/panels/slow/policies/{case_id}")).await;
    assert_eq!(case, approved, "the older answer changes nothing of the case");
    let statuses = history_statuses(&case);
    assert_eq!(statuses, ["in_force", "cancelled"], "{case}");
    let (status, entry) = h.admin_get(&format!("/admin/journal/{journal_id}")).await;
    assert_eq!(status, StatusCode::OK, "the answer's record: {entry}");
    // The feed tells it as the case does: the answer's event, after the approval's, says no
    // status, so a portal following the feed does not move its case back either.
    let events: Vec<Value> = h
        .all_events()
        .await
        .into_iter()
        .filter(|e| e["case_id"] == case_id.as_str())
        .collect();
    let kinds: Vec<(&str, &Value)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), &e["status"]))
        .collect();
    assert_eq!(
        kinds,
        [
            ("accept_result", &json!("in_force")),
            ("cancellation_decision", &json!("cancelled")),
            ("cancel_result", &Value::Null),
        ],
        "{events:?}"
    );
}
