//! The host killed with SIGKILL in the middle of operations: after a restart nothing it
//! answered is lost, a state-changing operation it died in is marked with an unknown outcome
//! (never dropped, never run twice), and a read-only one simply runs again. And a host process
//! logging at `trace` writes no secret anywhere.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A partner whose `/rate` and `/bind` answer at once, or wait while `hang` is set.
#[derive(Clone, Default)]
struct Partner {
    hang: Arc<AtomicBool>,
    rates: Arc<AtomicUsize>,
    binds: Arc<AtomicUsize>,
}

impl Partner {
    async fn start(&self) -> String {
        let p = self.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let p = p.clone();
            async move {
                let counter = if uri.path() == "/bind" { &p.binds } else { &p.rates };
                counter.fetch_add(1, Ordering::SeqCst);
                // Until `hang` is cleared, two minutes at most.
                let until = Instant::now() + Duration::from_secs(120);
                while p.hang.load(Ordering::SeqCst) && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                axum::Json(json!({ "rate": "0.0125", "policy": "P-1" }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }
}

async fn post(base: &str, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(PORTAL)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(base: &str, path: &str, token: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_for(counter: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while counter.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "the partner was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A config `name` in `dir` for a host on `port` with the probe's panel `probe` at the partner
/// `partner_base`, on the SQLite store `dir/panelgate.db`.
fn probe_config(dir: &std::path::Path, name: &str, port: u16, partner_base: &str) -> std::path::PathBuf {
    let config = dir.join(name);
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
[adapters.probe]
path = "{probe}"
[panels.probe]
adapter = "probe"
base_url = "{partner_base}"
"#,
            db = dir.join("panelgate.db").display(),
            cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            probe = guests::PROBE,
        ),
    )
    .unwrap();
    config
}

/// How `child` exited, if it did within `wait`.
async fn exit_within(child: &mut std::process::Child, wait: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(exit) = child.try_wait().unwrap() {
            return Some(exit);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// A second `panelgate serve` on a SQLite store that a host serves refuses to start before it
/// touches the store (before, its start took the first host's running operations for ones a
/// stop cut off, and marked them in doubt); SIGTERM, as systemd, Docker and Kubernetes stop a
/// process, ends the host as Ctrl-C does: exit 0, its answered quote's journal entry written,
/// the store free for the next host (before, the signal killed it, queued entries lost).
#[tokio::test]
async fn a_second_host_may_not_share_a_sqlite_store_and_sigterm_stops_the_first_cleanly() {
    let partner = Partner::default();
    let partner_base = partner.start().await;
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = probe_config(dir.path(), "panelgate.toml", port, &partner_base);
    let log = dir.path().join("host.log");
    let mut application = example("A03", "accept-cac");
    application["product"] = json!("echo");
    let host = HostProcess::start(&config, &log, &base).await;

    // An accept in flight at the first host while a second one tries to start.
    partner.hang.store(true, Ordering::SeqCst);
    let (b, a) = (base.clone(), application.clone());
    let accept = tokio::spawn(async move { post(&b, "/v1/panels/probe/policies", "sole-1", &a).await });
    wait_for(&partner.binds, 1).await;
    let (other_port, _other) = free_port();
    let other = probe_config(dir.path(), "other.toml", other_port, &partner_base);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
        .args(["serve", "--config"])
        .arg(&other)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut second = HostProcess { child: second };
    let exit = exit_within(&mut second.child, Duration::from_secs(60))
        .await
        .expect("the second host started and kept serving");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut second.child.stderr.take().unwrap(), &mut said).unwrap();
    assert!(!exit.success(), "{said}");
    assert!(
        said.contains("another panelgate host serves this store"),
        "{said}"
    );
    partner.hang.store(false, Ordering::SeqCst);
    let (status, body) = accept.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        get(&base, "/admin/unknown-outcomes", ADMIN)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    let quote = json!({ "product": "echo", "binding": false, "interest": { "life": {} } });
    let (status, quoted) = post(&base, "/v1/panels/probe/quotes", "sole-q", &quote).await;
    assert_eq!(status, StatusCode::OK, "{quoted}");
    let journal_id = quoted["journal_id"]
        .as_str()
        .expect("the quote's journal id")
        .to_string();
    let mut host = host;
    let pid = host.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = exit_within(&mut host.child, Duration::from_secs(30))
        .await
        .expect("SIGTERM did not stop the host");
    assert_eq!(exit.code(), Some(0), "{exit:?}");

    let host = HostProcess::start(&config, &log, &base).await;
    let entry = get(&base, &format!("/admin/journal/{journal_id}"), ADMIN).await;
    assert_eq!(entry["entry"]["id"], journal_id.as_str(), "{entry}");
    host.kill();
}

#[tokio::test]
async fn a_host_killed_mid_operation_loses_nothing_and_places_nothing_twice() {
    let partner = Partner::default();
    let partner_base = partner.start().await;
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = probe_config(dir.path(), "panelgate.toml", port, &partner_base);
    let log = dir.path().join("host.log");
    let quote = json!({ "product": "echo", "binding": false, "interest": { "life": {} } });
    let mut application = example("A03", "accept-cac");
    application["product"] = json!("echo");

    let host = HostProcess::start(&config, &log, &base).await;
    // Answered before the crash.
    let (status, done) = post(&base, "/v1/panels/probe/policies", "accept-1", &application).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    // In flight at the crash: an accept (state-changing) and a quote (read-only).
    partner.hang.store(true, Ordering::SeqCst);
    let (b, a) = (base.clone(), application.clone());
    let accept = tokio::spawn(async move { post(&b, "/v1/panels/probe/policies", "accept-2", &a).await });
    let (b, q) = (base.clone(), quote.clone());
    let quoting = tokio::spawn(async move { post(&b, "/v1/panels/probe/quotes", "quote-1", &q).await });
    wait_for(&partner.binds, 2).await;
    wait_for(&partner.rates, 1).await;
    host.kill();
    let _ = accept.await;
    let _ = quoting.await;
    partner.hang.store(false, Ordering::SeqCst);
    // The clock stepped back since the crash (NTP, a restored VM): what the stop cut off looks
    // newer than the restart. It is settled all the same (before, it was skipped, and stayed
    // running with its key in flight, since on SQLite no sweep comes back for it).
    {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}", dir.path().join("panelgate.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        for sql in [
            "UPDATE pending SET started_at = '2999-01-01T00:00:00.000000000Z'",
            "UPDATE idempotency SET created_at = '2999-01-01T00:00:00.000000000Z' WHERE state = 'running'",
        ] {
            let changed = sqlx::query(sql).execute(&pool).await.unwrap().rows_affected();
            assert!(changed >= 1, "{sql}: nothing to move");
        }
        pool.close().await;
    }

    let host = HostProcess::start(&config, &log, &base).await;
    // What was answered is there, and its key replays the same answer.
    let (status, again) = post(&base, "/v1/panels/probe/policies", "accept-1", &application).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, done);
    // The accept the host died in: not lost, not placed again, its outcome marked unknown.
    let (status, unknown) = post(&base, "/v1/panels/probe/policies", "accept-2", &application).await;
    assert_eq!(status, StatusCode::CONFLICT, "{unknown}");
    assert_eq!(unknown["error"]["code"], "outcome_unknown");
    assert_eq!(
        partner.binds.load(Ordering::SeqCst),
        2,
        "the accept went to the partner twice"
    );
    let case_id = unknown["case_id"]
        .as_str()
        .expect("the case it opened")
        .to_string();
    let case = get(&base, &format!("/v1/panels/probe/policies/{case_id}"), PORTAL).await;
    assert_eq!(case["status"], "unknown", "{case}");
    let outcomes = get(&base, "/admin/unknown-outcomes", ADMIN).await;
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["operation"], "accept");
    let journal_id = outcomes[0]["journal_id"].as_str().unwrap();
    assert_eq!(unknown["error"]["journal_id"], journal_id);
    let events = get(&base, "/v1/events?after=&limit=1000", PORTAL).await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "outcome_unknown" && e["case_id"] == case_id.as_str()),
        "{events}"
    );
    // The quote the host died in changed nothing: its key is free and it simply runs again.
    let (status, body) = post(&base, "/v1/panels/probe/quotes", "quote-1", &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // And the journal's chain held through it all.
    let verify = get(&base, "/admin/journal/verify", ADMIN).await;
    assert_eq!(verify["intact"], true, "{verify}");
    host.kill();
}

#[tokio::test]
async fn no_secret_reaches_the_log_an_error_or_a_description() {
    use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator, Fault};
    let sim = AapSimulator::start(
        AapSimConfig {
            panel_code: "A03".into(),
            life: true,
            username: PANEL_USER.into(),
            password: PANEL_PASSWORD.into(),
            callback_base: None,
            callback_username: CALLBACK_USER.into(),
            callback_password: CALLBACK_PASSWORD.into(),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    sim.set_callback_base(&format!("{base}/callbacks/A03"));
    let config = dir.path().join("panelgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
[adapters.aap-h2h]
path = "{aap}"
{panel}"#,
            db = dir.path().join("panelgate.db").display(),
            cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            aap = guests::AAP_H2H,
            panel = aap_panel("A03", "life", &sim.base_url(), ""),
        ),
    )
    .unwrap();
    let log = dir.path().join("host.log");
    // The most talkative log there is: `trace` for the host and every library in it.
    let host = {
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "trace")
            .env("PANELGATE_LOG_FORMAT", "json")
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap();
        let h = HostProcess { child };
        h.ready(&base).await;
        h
    };
    let mut seen = String::new();
    let (_, body) = post(&base, "/v1/panels/A03/quotes", "q-1", &example("A03", "quote")).await;
    seen += &body.to_string();
    let quote_journal = body["journal_id"].as_str().expect("a journal id").to_string();
    let (_, body) = post(
        &base,
        "/v1/panels/A03/policies",
        "a-1",
        &example("A03", "accept-cac"),
    )
    .await;
    seen += &body.to_string();
    // The partner refuses the credentials: the error names the refusal, not the credential.
    sim.set_fault(Some(Fault::HttpStatus(401)));
    let (status, body) = post(&base, "/v1/panels/A03/quotes", "q-2", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    seen += &body.to_string();
    // Callbacks, with the right credentials and with wrong ones.
    sim.send_raw_callback("post-status-pembatalan", "{}", CALLBACK_USER, CALLBACK_PASSWORD)
        .await
        .unwrap();
    sim.send_raw_callback("post-status-pembatalan", "{}", CALLBACK_USER, "wrong")
        .await
        .unwrap();
    for path in ["/admin/panels", "/admin/journal?limit=10000", "/admin/adapters"] {
        seen += &get(&base, path, ADMIN).await.to_string();
    }
    seen += &get(&base, "/v1/panels", PORTAL).await.to_string();
    host.kill();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.len() > 10_000,
        "the trace log was written ({} bytes)",
        log_text.len()
    );
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{PANEL_USER}:{PANEL_PASSWORD}"));
    let callback_basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CALLBACK_USER}:{CALLBACK_PASSWORD}"));
    for secret in [
        PANEL_PASSWORD,
        CALLBACK_PASSWORD,
        basic.as_str(),
        callback_basic.as_str(),
    ] {
        assert!(!log_text.contains(secret), "`{secret}` is in the host's log");
        assert!(!seen.contains(secret), "`{secret}` is in an answer");
    }
    // The credential was applied at egress all the same.
    assert!(sim.requests().iter().any(|r| r.authorized));

    // The log is JSON, a line per event, and the quote's partner exchange is logged inside the
    // operation's span, which carries its journal id.
    let lines: Vec<Value> = log_text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let exchange = lines
        .iter()
        .find(|l| {
            l["fields"]["message"] == "partner answered"
                && l["spans"][0]["journal_id"] == quote_journal.as_str()
        })
        .unwrap_or_else(|| panic!("no partner exchange logged under journal id {quote_journal}"));
    assert_eq!(exchange["spans"][0]["name"], "operation");
    assert_eq!(exchange["spans"][0]["panel"], "A03");
    assert_eq!(exchange["spans"][0]["operation"], "quote");
    assert_eq!(exchange["spans"][1]["name"], "partner_request");
    assert_eq!(exchange["fields"]["status"], 200);
    assert!(lines.iter().any(|l| l["fields"]["message"] == "answered"
        && l["span"]["journal_id"] == quote_journal.as_str()
        && l["fields"]["status"] == 200));
}

/// A stand-in OpenTelemetry collector: what arrives at `/v1/traces` (OTLP JSON).
async fn collector() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    let received = Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                let export: Value = serde_json::from_slice(&body).expect("OTLP JSON");
                store.lock().unwrap().push(export);
                axum::Json(json!({}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, received)
}

/// Every span of the exports, flattened.
fn spans(exports: &[Value]) -> Vec<Value> {
    exports
        .iter()
        .flat_map(|e| e["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["spans"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[tokio::test]
async fn spans_reach_an_opentelemetry_collector_with_the_journal_id() {
    use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator};
    let sim = AapSimulator::start(
        AapSimConfig {
            panel_code: "A03".into(),
            life: true,
            username: PANEL_USER.into(),
            password: PANEL_PASSWORD.into(),
            callback_base: None,
            callback_username: CALLBACK_USER.into(),
            callback_password: CALLBACK_PASSWORD.into(),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let (otlp, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("panelgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
[adapters.aap-h2h]
path = "{aap}"
{panel}"#,
            db = dir.path().join("panelgate.db").display(),
            cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            aap = guests::AAP_H2H,
            panel = aap_panel("A03", "life", &sim.base_url(), ""),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("host.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .env("OTEL_SERVICE_NAME", "panelgate-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let host = HostProcess { child };
    host.ready(&base).await;
    let (status, body) = post(&base, "/v1/panels/A03/quotes", "otel-1", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let journal_id = body["journal_id"].as_str().unwrap().to_string();

    // The batch goes out within its 100 ms schedule; allow a slow machine some seconds.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (operation, exchange, exports) = loop {
        let exports = received.lock().unwrap().clone();
        let all = spans(&exports);
        let operation = all.iter().find(|s| {
            s["name"] == "operation"
                && attribute(s, "journal_id").is_some_and(|v| v["stringValue"] == journal_id.as_str())
        });
        if let Some(operation) = operation
            && let Some(exchange) = all
                .iter()
                .find(|s| s["name"] == "partner_request" && s["parentSpanId"] == operation["spanId"])
        {
            break (operation.clone(), exchange.clone(), exports);
        }
        assert!(
            Instant::now() < deadline,
            "no operation span with journal id {journal_id} and its partner_request reached the collector: {exports:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(exchange["traceId"], operation["traceId"], "one trace");
    assert_eq!(attribute(&operation, "panel").unwrap()["stringValue"], "A03");
    assert_eq!(
        attribute(&operation, "operation").unwrap()["stringValue"],
        "quote"
    );
    assert_eq!(attribute(&exchange, "method").unwrap()["stringValue"], "POST");
    let service = exports[0]["resourceSpans"][0]["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "service.name")
        .map(|a| a["value"]["stringValue"].clone());
    assert_eq!(service, Some(json!("panelgate-test")));
    // No secret in what left for the collector either.
    let text = serde_json::to_string(&exports).unwrap();
    assert!(!text.contains(PANEL_PASSWORD));
}

/// An operation already in doubt when the host stops is reconciled again after the restart: a
/// stop ends the reconciliations under way, and only what the stop itself left running was
/// taken up at start-up. Here an AAGI cancel whose answer was lost is in doubt, the host is
/// killed before its first reconciliation, and the restarted host asks the partner (`status`),
/// settles the cancel as the partner reports it, and the key replays the settled case. (Before,
/// it stayed in doubt until an operator settled it.)
#[tokio::test]
async fn an_operation_in_doubt_at_a_stop_is_reconciled_after_the_restart() {
    use panelgate_tests::faults::{Fault, FaultProxy};
    use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
    let sim = AagiSimulator::start(
        AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let proxy = FaultProxy::start(&sim.base_url()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("panelgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
[adapters.aagi-motor]
path = "{aagi}"
[panels.aagi-motor]
adapter = "aagi-motor"
base_url = "{proxy}"
settings = {{ credential = "partner" }}
limits = {{ read_timeout_ms = 2000, breaker_failures = 100000 }}
[panels.aagi-motor.credentials.partner]
kind = "bearer"
token = {{ value = "{AAGI_TOKEN}" }}
"#,
            db = dir.path().join("panelgate.db").display(),
            cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            aagi = guests::AAGI_MOTOR,
            proxy = proxy.base_url(),
        ),
    )
    .unwrap();
    let log = dir.path().join("host.log");
    let policies = "/v1/panels/aagi-motor/policies";
    let host = HostProcess::start(&config, &log, &base).await;
    let (status, placed) = post(&base, policies, "to-cancel", &example("aagi-motor", "accept")).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let case_id = placed["case_id"].as_str().unwrap().to_string();
    let cancel = format!("{policies}/{case_id}/cancel");
    let body = example("aagi-motor", "cancel");
    proxy.queue("/amendments", [Fault::Drop]);
    let (status, unknown) = post(&base, &cancel, "cancel-1", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{unknown}");
    assert_eq!(unknown["error"]["code"], "outcome_unknown", "{unknown}");
    // Should the host reach its first reconciliation (a second on) before it dies, the partner's
    // status fails it (a read-only call's three attempts).
    proxy.queue(
        "GET /v1/motor/contracts/",
        [Fault::Refuse, Fault::Refuse, Fault::Refuse],
    );
    host.kill();

    let host = HostProcess::start(&config, &log, &base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let settled = loop {
        let (status, answer) = post(&base, &cancel, "cancel-1", &body).await;
        if status == StatusCode::OK {
            break answer;
        }
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        assert!(
            Instant::now() < deadline,
            "never reconciled after the restart: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(settled["case"]["status"], "cancelled", "{settled}");
    assert!(
        settled["settled"].as_str().unwrap().starts_with("reconciled"),
        "{settled}"
    );
    let outcomes = get(&base, "/admin/unknown-outcomes", ADMIN).await;
    assert_eq!(outcomes, json!([]));
    host.kill();
}
