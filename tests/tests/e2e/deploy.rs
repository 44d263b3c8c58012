//! Shipping adapters into the running host: a push and a switch under load with no failed
//! request, a rollback the same way, refusals that change nothing, and replay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A partner for the probe's `echo` product: `POST /rate` answers a rate after a short pause,
/// so requests are in flight when the panel switches.
async fn rate_partner() -> String {
    let app = axum::Router::new().route(
        "/rate",
        axum::routing::post(|axum::Json(body): axum::Json<Value>| async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let rate = if body.get("channel").is_some() {
                "0.0150"
            } else {
                "0.0125"
            };
            axum::Json(json!({ "rate": rate }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn probe_panel(base: &str, settings: &str) -> String {
    format!(
        r#"
[adapters.probe]
path = "{path}"
[panels.probe]
adapter = "probe"
base_url = "{base}"
settings = {{ {settings} }}
"#,
        path = guests::PROBE
    )
}

fn echo_quote() -> Value {
    json!({ "product": "echo", "binding": false, "interest": { "life": {} } })
}

/// Builds all claiming `probe@0.2.0`, pushed at once: one is registered, the others refused
/// with 409. (Before, each looked for the name and version before any wrote it, and several
/// were registered: `probe@0.2.0` then named whichever sorted last.)
#[tokio::test]
async fn builds_of_one_version_pushed_at_once_register_one() {
    let h = start_with(&probe_panel(&rate_partner().await, "channel = \"web\"")).await;
    let build = |n: u8| {
        // A custom section (id 0: its size, its name's length, the name) after the component.
        let mut bytes = std::fs::read(guests::PROBE_NEXT).unwrap();
        bytes.extend_from_slice(&[0x00, 0x06, 0x05]);
        bytes.extend_from_slice(&[b'b', b'u', b'i', b'l', b'0' + n]);
        bytes
    };
    let pushes = (0..8).map(|n| push(&h, build(n)));
    let mut statuses: Vec<StatusCode> = futures::future::join_all(pushes)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    statuses.sort();
    let mut expected = vec![StatusCode::CONFLICT; 7];
    expected.insert(0, StatusCode::CREATED);
    assert_eq!(statuses, expected);
    let (_, adapters) = admin(&h, reqwest::Method::GET, "/admin/adapters", None).await;
    let claiming = adapters
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["module"]["name"] == "probe" && m["module"]["version"] == "0.2.0")
        .count();
    assert_eq!(claiming, 1, "{adapters}");
}

/// A panel switched to another adapter's module (`PUT .../adapter`), then defined again naming
/// its own adapter, serves that adapter: the definition says which. (Before, the switched module
/// kept serving, as if it were the same adapter at the version its deployments chose.)
#[tokio::test]
async fn a_definition_naming_its_adapter_is_served_that_adapter_after_a_switch_to_another() {
    let partner = rate_partner().await;
    let h = probe_beside_its_callbacks_build(&partner).await;
    let serving = || async {
        let (_, view) = admin(&h, reqwest::Method::GET, "/admin/panels/probe", None).await;
        view["serving"]["name"].as_str().unwrap_or_default().to_string()
    };
    let (status, body) = switch_probe(&h, "probe-callbacks@0.1.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serving().await, "probe-callbacks");
    let definition = json!({
        "adapter": "probe",
        "base_url": partner,
        "callback_auth": { "kind": "none" },
    });
    let (status, body) = admin(&h, reqwest::Method::PUT, "/admin/panels/probe", Some(definition)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(serving().await, "probe");
}

/// A request answered before a deployment is answered the same when the portal retries it
/// after, whatever the new module serves: a decline (a state change) retried once its panel
/// serves a module that no longer declines quotes gets its 200 back; only a new request gets
/// the 501. (Before, the retry got 501, and a portal told its request failed sends it anew
/// under another key: a state change made twice.)
#[tokio::test]
async fn a_retry_after_a_switch_gets_the_answer_its_request_had() {
    let partner = rate_partner().await;
    let h = probe_beside_its_callbacks_build(&partner).await;
    let decline = |key: &'static str| {
        let request = h
            .client
            .post(h.url("/v1/panels/probe/quote-declines"))
            .bearer_auth(PORTAL)
            .header("Idempotency-Key", key)
            .json(&json!({ "quote_reference": "Q-1" }));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, first) = decline("decline-1").await;
    assert_eq!(status, StatusCode::OK, "{first}");

    let (status, body) = switch_probe(&h, "probe-callbacks@0.1.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, again) = decline("decline-1").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first, "the retry is answered as its request was");
    let (status, body) = decline("decline-2").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_operation");
}

/// A host serving panel `probe` (on `partner`, callbacks unauthenticated) with the probe's
/// callbacks build, `probe-callbacks@0.1.0`, registered beside it, not served.
async fn probe_beside_its_callbacks_build(partner: &str) -> Harness {
    let h = start_with(&format!(
        "{}callback_auth = {{ kind = \"none\" }}\n",
        probe_panel(partner, "")
    ))
    .await;
    let (status, body) = push(&h, std::fs::read(guests::PROBE_CALLBACKS).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    h
}

/// Switches panel `probe` to the registered module `adapter` (`name@version`).
async fn switch_probe(h: &Harness, adapter: &str) -> (StatusCode, Value) {
    let body = json!({ "adapter": adapter });
    admin(h, reqwest::Method::PUT, "/admin/panels/probe/adapter", Some(body)).await
}

async fn admin(h: &Harness, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = h.client.request(method, h.url(path)).bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn push(h: &Harness, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = h
        .client
        .post(h.url("/admin/adapters"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// One portal request of the load: when it started, how it ended, which version served it.
struct Served {
    started: Instant,
    status: StatusCode,
    adapter: String,
}

/// Portal quotes from `workers` tasks until `stop`.
fn load(h: &Harness, workers: usize, stop: Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<Vec<Served>>> {
    (0..workers)
        .map(|_| {
            let client = h.client.clone();
            let url = h.url("/v1/panels/probe/quotes");
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut served = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(PORTAL)
                        .json(&echo_quote())
                        .send()
                        .await
                        .expect("request");
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    served.push(Served {
                        started,
                        status,
                        adapter: body["adapter"].as_str().unwrap_or_default().to_string(),
                    });
                }
                served
            })
        })
        .collect()
}

async fn settle(n: usize) {
    tokio::time::sleep(std::time::Duration::from_millis(20 * n as u64)).await;
}

#[tokio::test]
async fn a_switch_and_a_rollback_under_load_fail_no_request() {
    let partner = rate_partner().await;
    let h = start_with(&probe_panel(&partner, "channel = \"h2h\"")).await;
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&h, 4, stop.clone());
    settle(10).await;

    let push_started = Instant::now();
    let (status, pushed) = push(&h, std::fs::read(guests::PROBE_NEXT).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    assert_eq!(pushed["version"], "0.2.0");
    assert_eq!(pushed["wit"], "2.0.0");
    let (status, switched) = switch_probe(&h, "probe@0.2.0").await;
    let switched_at = Instant::now();
    assert_eq!(status, StatusCode::OK, "{switched}");
    settle(10).await;

    let rollback_started = Instant::now();
    let (status, rolled) = admin(&h, reqwest::Method::POST, "/admin/panels/probe/rollback", None).await;
    let rolled_at = Instant::now();
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["version"], "0.1.0");
    settle(10).await;
    stop.store(true, Ordering::Relaxed);

    let mut served = Vec::new();
    for w in workers {
        served.extend(w.await.unwrap());
    }
    let failed: Vec<_> = served.iter().filter(|s| s.status != StatusCode::OK).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed",
        failed.len(),
        served.len()
    );
    let version = |from: Instant, to: Option<Instant>| -> Vec<&str> {
        served
            .iter()
            .filter(|s| s.started > from && to.is_none_or(|t| s.started < t))
            .map(|s| s.adapter.as_str())
            .collect()
    };
    let before_push = served
        .iter()
        .filter(|s| s.started < push_started)
        .map(|s| s.adapter.as_str())
        .collect::<Vec<_>>();
    assert!(!before_push.is_empty());
    assert!(before_push.iter().all(|a| *a == "probe@0.1.0"), "{before_push:?}");
    let after_switch = version(switched_at, Some(rollback_started));
    assert!(!after_switch.is_empty());
    assert!(
        after_switch.iter().all(|a| *a == "probe@0.2.0"),
        "{after_switch:?}"
    );
    let after_rollback = version(rolled_at, None);
    assert!(!after_rollback.is_empty());
    assert!(
        after_rollback.iter().all(|a| *a == "probe@0.1.0"),
        "{after_rollback:?}"
    );

    // The history says what happened, and the journal holds each switch.
    let (_, history) = admin(&h, reqwest::Method::GET, "/admin/panels/probe/deployments", None).await;
    let actions: Vec<&str> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["config", "set", "rollback"]);
    assert_eq!(history["serving"]["version"], "0.1.0");
    let (_, journal) = h.admin_get("/admin/journal?panel=probe&limit=10000").await;
    let deploys = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "deploy")
        .count();
    assert_eq!(deploys, 3);
    eprintln!(
        "switch under load: {} requests, 0 failed, {} after the switch on 0.2.0, {} after the rollback on 0.1.0",
        served.len(),
        after_switch.len(),
        after_rollback.len()
    );
}

#[tokio::test]
async fn bad_modules_are_refused_and_the_panel_keeps_serving() {
    let partner = rate_partner().await;
    // No `channel` setting: probe@0.2.0 needs it.
    let h = start_with(&probe_panel(&partner, "")).await;
    let refused = |body: &Value, words: &str| {
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(body["error"]["code"], "adapter_refused", "{body}");
        assert!(message.contains(words), "`{message}` should say `{words}`");
    };

    let (status, body) = push(&h, b"this is not wasm".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&body, "not a WebAssembly file");

    // The smallest valid core module: a module, not a component.
    let (status, body) = push(&h, b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&body, "core WebAssembly module, not a component");

    // The probe, with every `panelgate:adapter@2.0.0` name rewritten to a version no host has.
    let bytes = std::fs::read(guests::PROBE).unwrap();
    let future = replace_all(&bytes, b"panelgate:adapter/", b"@2.0.0", b"@9.0.0");
    assert!(future != bytes, "the probe names panelgate:adapter@2.0.0");
    let (status, body) = push(&h, future).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "targets `panelgate:adapter@9.0.0`");

    // 0.2.0 declares `channel`, which the panel serving `probe` lacks.
    let (status, body) = push(&h, std::fs::read(guests::PROBE_NEXT).unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "needs setting `channel`");

    // A registered module that does not fit the panel: aap-h2h needs `line` and a credential.
    let (status, body) = switch_probe(&h, "aap-h2h@3.0.0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "needs setting `line`");
    let (status, _) = switch_probe(&h, "probe@7.7.7").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin(&h, reqwest::Method::POST, "/admin/panels/probe/rollback", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Nothing changed: the same module serves, and only the config's modules are registered.
    let (status, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["adapter"], "probe@0.1.0");
    let (_, modules) = admin(&h, reqwest::Method::GET, "/admin/adapters", None).await;
    let names: Vec<String> = modules
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}@{}",
                m["module"]["name"].as_str().unwrap(),
                m["module"]["version"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!names.contains(&"probe@0.2.0".to_string()), "{names:?}");
}

/// `bytes` with `from` replaced by `to` wherever it follows `prefix` (within 40 bytes).
fn replace_all(bytes: &[u8], prefix: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(p) = find(&out[i..], prefix) {
        let start = i + p + prefix.len();
        let end = (start + 40).min(out.len());
        if let Some(q) = find(&out[start..end], from) {
            out[start + q..start + q + from.len()].copy_from_slice(to);
        }
        i = start;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test]
async fn replay_reports_what_a_candidate_changes_and_nothing_for_the_same_module() {
    let partner = rate_partner().await;
    let h = start_with(&probe_panel(&partner, "channel = \"h2h\"")).await;
    for _ in 0..3 {
        let (status, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let replay = |file: &'static str, panel: &'static str, last: u32| {
        let h = &h;
        async move {
            let response = h
                .client
                .post(h.url(&format!("/admin/panels/{panel}/replay?last={last}")))
                .bearer_auth(ADMIN)
                .body(std::fs::read(file).unwrap())
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };

    let same = replay(guests::PROBE, "probe", 10).await;
    assert_eq!(same["replayed"], 3, "{same}");
    assert_eq!(same["changed"], 0, "{same}");

    let next = replay(guests::PROBE_NEXT, "probe", 10).await;
    assert_eq!(next["candidate"], "probe@0.2.0");
    assert_eq!(next["current"], "probe@0.1.0");
    assert_eq!(next["replayed"], 3);
    assert_eq!(next["changed"], 3, "{next}");
    let op = &next["operations"][0];
    assert_eq!(op["same_result"], false);
    assert_eq!(op["same_requests"], false);
    let differences: Vec<&str> = op["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    // The recorded partner answer is served back, so only what 0.2.0 does differently shows:
    // the `channel` it sends, and its version in the message.
    assert!(
        differences
            .iter()
            .any(|d| d.starts_with("requests/0/body") && d.contains("channel")),
        "{differences:?}"
    );
    assert!(
        differences.iter().any(|d| d.starts_with("result/ok/message")
            && d.contains("probe 0.2.0")
            && d.contains("rate 0.0125")),
        "{differences:?}"
    );
    // Replay calls no partner and registers nothing.
    let (_, modules) = admin(&h, reqwest::Method::GET, "/admin/adapters", None).await;
    assert!(!modules.to_string().contains("0.2.0"));

    // A real adapter replayed against its own recorded AAP traffic reproduces it exactly.
    let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut accept = example("A03", "accept-cac");
    accept["interest"]["credit_life"]["account"] = json!("REPLAY-1");
    let (status, body) = h.post("/v1/panels/A03/policies", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let aap = replay(guests::AAP_H2H, "A03", 10).await;
    assert_eq!(aap["replayed"], 2, "{aap}");
    assert_eq!(aap["changed"], 0, "{aap}");
}

#[tokio::test]
async fn adapters_of_both_contract_versions_serve_side_by_side() {
    // Desk Coll's last 1.x build is against the frozen 1.0.0 contract, the Rust adapters
    // against 2.0.0; one host serves both at once (the 1.1.0 builds: `legacy::`).
    let (h, _sim) = crate::deskcoll::start_deskcoll_built(
        panelgate_tests::guests::LEGACY_DESKCOLL,
        crate::deskcoll::PASSWORD,
        crate::deskcoll::HASH_KEY,
    )
    .await;
    let (_, modules) = admin(&h, reqwest::Method::GET, "/admin/adapters", None).await;
    let wit = |name: &str| {
        modules
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["module"]["name"] == name)
            .map(|m| m["module"]["wit"].as_str().unwrap().to_string())
    };
    assert_eq!(wit("deskcoll").as_deref(), Some("1.0.0"));
    assert_eq!(wit("aap-h2h").as_deref(), Some("2.0.0"));

    let quote_body = example("A03", "quote");
    let quote = h.post("/v1/panels/A03/quotes", &quote_body);
    let worklist = h.get("/v1/panels/deskcoll/worklist?kind=collection-tasks");
    let ((qs, qb), (ws, wb)) = tokio::join!(quote, worklist);
    assert_eq!(qs, StatusCode::OK, "{qb}");
    assert_eq!(ws, StatusCode::OK, "{wb}");
    assert_eq!(wb["result"].as_array().unwrap().len(), 3);

    // `validate`, new in 1.1.0: the 2.0.0 adapter checks without calling its partner...
    let calls_before = h.a03.requests().len();
    let (status, body) = h
        .post(
            "/v1/panels/A03/validations",
            &json!({ "quote": example("A03", "quote") }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true, "{body}");
    let mut bad = example("A03", "accept-cac");
    bad["mode"] = json!("verify");
    bad["parties"][0]["detail"]["person"]["birth_date"] = json!("01-01-1976");
    let (status, body) = h
        .post("/v1/panels/A03/validations", &json!({ "application": bad }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], false);
    let paths: Vec<&str> = body["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"mode"), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("birth_date")), "{paths:?}");
    assert_eq!(
        h.a03.requests().len(),
        calls_before,
        "validate called the partner"
    );
    // ...and the 1.0.0 adapter, which cannot have it, answers 501.
    let (status, body) = h
        .post(
            "/v1/panels/deskcoll/validations",
            &json!({ "quote": example("A03", "quote") }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_operation");
}

#[tokio::test]
async fn a_module_copied_into_the_watched_folder_is_deployed() {
    let partner = rate_partner().await;
    let drop = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}\n[registry]\nwatch_dir = \"{}\"\nwatch_interval_ms = 100\n",
        probe_panel(&partner, "channel = \"h2h\""),
        drop.path().display()
    );
    let h = start_with(&extra).await;
    // A file the registry refuses is logged and changes nothing.
    std::fs::write(drop.path().join("broken.wasm"), b"not a module").unwrap();
    std::fs::copy(guests::PROBE_NEXT, drop.path().join("probe-0.2.0.wasm")).unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["adapter"] == "probe@0.2.0" {
            break;
        }
        assert!(Instant::now() < deadline, "the dropped module was not deployed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, history) = admin(&h, reqwest::Method::GET, "/admin/panels/probe/deployments", None).await;
    assert_eq!(history["history"].as_array().unwrap().len(), 2, "{history}");
    // A rollback is not undone by the file still lying in the folder.
    let (status, _) = admin(&h, reqwest::Method::POST, "/admin/panels/probe/rollback", None).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (_, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(body["adapter"], "probe@0.1.0");
}

#[tokio::test]
async fn a_corrupt_compile_cache_is_ignored_and_rebuilt() {
    let partner = rate_partner().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let config_path = dir.path().join("panelgate.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\nportal_token = {{ value = \"{PORTAL}\" }}\nadmin_token = {{ value = \"{ADMIN}\" }}\n\
             [store]\nurl = \"sqlite://{db}\"\n[sandbox]\ncache_dir = \"{cache}\"\n{probe}",
            db = dir.path().join("p.db").display(),
            cache = cache.display(),
            probe = probe_panel(&partner, "channel = \"h2h\""),
        ),
    )
    .unwrap();
    let config = panelgate::config::Config::load(&config_path).unwrap();
    drop(panelgate::App::start(&config).await.unwrap());
    // wasmtime writes its entries in the background.
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    let entries = || {
        walk(&cache)
            .into_iter()
            .filter(|p| p.is_file() && !p.to_string_lossy().contains("stats"))
            .collect::<Vec<_>>()
    };
    while entries().is_empty() {
        assert!(Instant::now() < deadline, "nothing was cached");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Every entry overwritten, as a foreign or damaged cache would leave it.
    for file in entries() {
        std::fs::write(&file, b"not a compiled module").unwrap();
    }
    let app = panelgate::App::start(&config)
        .await
        .expect("a bad cache entry is a miss, not an error");
    let panel = app.state.panel("probe").unwrap();
    assert_eq!(panel.module.version, "0.1.0");
    let request: panelgate::model::QuoteRequest = serde_json::from_value(echo_quote()).unwrap();
    let (result, _) = panel
        .adapter
        .call(panelgate::adapter::Call::Quote(request), "cache-test", None)
        .await;
    assert!(result.is_ok(), "{result:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn the_cli_pushes_replays_switches_and_rolls_back() {
    let partner = rate_partner().await;
    let h = start_with(&probe_panel(&partner, "channel = \"h2h\"")).await;
    let cli = |args: &[&str]| {
        let mut argv = vec!["panelgate"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--url", &h.base, "--token", ADMIN]);
        let argv: Vec<String> = argv.into_iter().map(String::from).collect();
        async move { panelgate::cli::run(argv).await.expect("the command runs") }
    };
    let (status, _) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(cli(&["adapter", "push", guests::PROBE_NEXT]).await, 0);
    assert_eq!(cli(&["adapter", "list"]).await, 0);
    // Replay exits 3 when the candidate changes anything, 0 when it changes nothing.
    assert_eq!(
        cli(&[
            "adapter",
            "replay",
            guests::PROBE_NEXT,
            "--panel",
            "probe",
            "--last",
            "5"
        ])
        .await,
        3
    );
    assert_eq!(
        cli(&[
            "adapter",
            "replay",
            guests::PROBE,
            "--panel",
            "probe",
            "--last",
            "5"
        ])
        .await,
        0
    );
    assert_eq!(
        cli(&["panel", "set", "probe", "--adapter", "probe@0.2.0"]).await,
        0
    );
    let (_, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(body["adapter"], "probe@0.2.0");
    assert_eq!(cli(&["panel", "history", "probe"]).await, 0);
    assert_eq!(cli(&["panel", "rollback", "probe"]).await, 0);
    let (_, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(body["adapter"], "probe@0.1.0");
    // A refusal is an error with the host's reason.
    let argv: Vec<String> = [
        "panelgate",
        "panel",
        "set",
        "probe",
        "--adapter",
        "nope@1",
        "--url",
        &h.base,
        "--token",
        ADMIN,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let error = panelgate::cli::run(argv).await.unwrap_err().to_string();
    assert!(error.contains("404") && error.contains("nope@1"), "{error}");
    // Without the token, the command says what is missing.
    let argv = ["panelgate", "adapter", "list", "--url", h.base.as_str()].map(String::from);
    let error = panelgate::cli::run(argv).await.unwrap_err().to_string();
    assert!(error.contains("PANELGATE_ADMIN_TOKEN"), "{error}");
}

#[tokio::test]
async fn a_module_importing_sockets_or_files_is_refused_at_push_naming_the_import() {
    let h = start_with(&probe_panel("http://127.0.0.1:9", "")).await;
    let (status, body) = push(&h, std::fs::read(guests::PROBE_REACH).unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "adapter_refused", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for import in ["wasi:filesystem/", "wasi:sockets/"] {
        assert!(message.contains(import), "`{message}` should name `{import}`");
    }
    assert!(message.contains("the component imports `wasi:"), "{message}");
    // The probe without them, and the Python adapter built with `--stub-wasi`, are taken.
    let (status, body) = h
        .post(
            "/v1/panels/probe/quotes",
            &json!({ "product": "fine", "binding": false, "interest": { "life": {} } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = push(&h, std::fs::read(guests::DESKCOLL).unwrap()).await;
    assert!(status.is_success(), "{status} {body}");
}

/// A module whose `describe` waits in a host call (a WASI sleep of an hour, which epoch
/// interruption cannot reach) is refused at push once the describe limit runs out, naming it;
/// the panel serves on, and a push, switch and rollback after it go through.
#[tokio::test]
async fn a_module_whose_describe_never_answers_is_refused_in_time_and_deploys_go_on() {
    let partner = rate_partner().await;
    let h = start_with(&probe_panel(&partner, r#"channel = "h2h""#)).await;
    let started = Instant::now();
    let bytes = std::fs::read(guests::PROBE_SLEEPY_DESCRIBE).unwrap();
    let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(30), push(&h, bytes))
        .await
        .expect("the push of a module whose describe sleeps hung");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "adapter_refused", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`describe` did not answer within 10000 ms"),
        "{message}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "refused only after {:?}",
        started.elapsed()
    );
    let (status, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The deploy lock is free: a push, a switch and a rollback go through at once.
    let (status, body) = push(&h, std::fs::read(guests::PROBE_NEXT).unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = switch_probe(&h, "probe@0.2.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = admin(&h, reqwest::Method::POST, "/admin/panels/probe/rollback", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h.post("/v1/panels/probe/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["adapter"], "probe@0.1.0");
}

/// `bytes` with a custom section named `name` appended: the same component, another hash.
fn with_custom_section(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    // LEB128 of the section's size.
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        out.push(if size == 0 { byte } else { byte | 0x80 });
        if size == 0 {
            break;
        }
    }
    out.extend_from_slice(&payload);
    out
}

/// The host's `panelgate_compiled_modules` gauge.
async fn compiled_modules(h: &Harness) -> i64 {
    let text = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("panelgate_compiled_modules "))
        .unwrap_or_else(|| panic!("no panelgate_compiled_modules in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// This process's resident set, in KiB (Linux), for the report.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn refused_pushes_leave_no_compiled_module_in_memory() {
    // No `channel` setting: probe@0.2.0 needs it, so each push is refused after compiling.
    let h = start_with(&probe_panel("http://127.0.0.1:9", "")).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let before = compiled_modules(&h).await;
    assert!(before > 0, "the config's modules are compiled and kept");
    let rss_before = rss_kib();
    for i in 0..15 {
        let (status, body) = push(&h, with_custom_section(&next, &format!("build-{i}"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("needs setting `channel`"),
            "{body}"
        );
    }
    if let (Some(a), Some(b)) = (rss_before, rss_kib()) {
        eprintln!(
            "RSS over 15 refused pushes: {a} KiB -> {b} KiB ({:+} KiB)",
            b as i64 - a as i64
        );
    }
    assert_eq!(
        compiled_modules(&h).await,
        before,
        "a refused push keeps no compiled module"
    );
    // A module that is registered is kept.
    let (status, body) = push(&h, std::fs::read(guests::DESKCOLL).unwrap()).await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(compiled_modules(&h).await, before + 1);
}
