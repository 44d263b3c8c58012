//! No caller disables a panel for others: input beyond what an adapter can hold is refused
//! before it runs, and quarantine counts only the adapter's own faults.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

/// The first string leaf under `key` in `value`, by path, replaced with `text`.
fn replace_first_string(value: &mut Value, text: &str) -> bool {
    match value {
        Value::String(s) => {
            *s = text.to_string();
            true
        }
        Value::Array(items) => items.iter_mut().any(|v| replace_first_string(v, text)),
        Value::Object(map) => map.values_mut().any(|v| replace_first_string(v, text)),
        _ => false,
    }
}

async fn health(h: &Harness) -> Vec<(String, String)> {
    let (_, panels) = h.get("/v1/panels").await;
    panels
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["health"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn five_oversized_quotes_leave_the_panel_serving() {
    let h = start().await;
    let mut body = example("aagi-motor", "quote");
    body["interest"]["motor"]["vin"] = Value::String("V".repeat(15_000_000));
    for _ in 0..5 {
        let (status, answer) = h.post("/v1/panels/aagi-motor/quotes", &body).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
        assert_eq!(answer["error"]["code"], "input_too_large", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("at most 4194304 bytes for `quote`") && message.contains("the body is 15000"),
            "{message}"
        );
        assert_eq!(
            answer["error"]["issues"][0]["path"], "",
            "the whole body: {answer}"
        );
    }
    let (status, answer) = h
        .post("/v1/panels/aagi-motor/quotes", &example("aagi-motor", "quote"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(health(&h).await.iter().all(|(_, health)| health == "serving"));
    // Refused before the adapter ran: no operation of the panel is journaled as a fault.
    let (_, journal) = h.admin_get("/admin/journal?panel=aagi-motor&limit=100").await;
    assert!(
        !journal.to_string().contains("adapter fault"),
        "the adapter never saw the oversized bodies: {journal}"
    );
}

#[tokio::test]
async fn an_oversized_string_or_document_is_refused_naming_the_field_and_the_limit() {
    let h = start().await;
    let mut body = example("aagi-motor", "quote");
    body["interest"]["motor"]["vin"] = Value::String("V".repeat(2 << 20));
    let (status, answer) = h.post("/v1/panels/aagi-motor/quotes", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_request");
    assert_eq!(answer["error"]["issues"][0]["path"], "interest.motor.vin");
    let message = answer["error"]["issues"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("is 2097152 bytes long") && message.contains("at most 1048576 bytes"),
        "{message}"
    );
    // In an array, and on every JSON operation.
    let mut application = example("A03", "accept-cac");
    application["parties"][0]["detail"]["person"]["full_name"] = Value::String("N".repeat(2 << 20));
    let (status, answer) = h.post("/v1/panels/A03/policies", &application).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["error"]["issues"][0]["path"],
        "parties[0].detail.person.full_name"
    );

    let (status, issued) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let case = issued["case_id"].as_str().unwrap();
    let mut document = pdf();
    document.resize(9 << 20, b' ');
    let (status, answer) = h
        .upload(
            &format!("/v1/panels/A03/policies/{case}/documents"),
            "KTP",
            "d.pdf",
            document,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(answer["error"]["issues"][0]["path"], "file");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("at most 8388608 bytes for `upload-document`"),
        "{message}"
    );
}

/// A hostile body of kind `n`, and the panel it goes to.
fn hostile(n: usize, panels: &[&str]) -> (String, String) {
    let panel = panels[n % panels.len()];
    let body = match n % 10 {
        // Larger than any adapter is given: a few, for they are megabytes each.
        0 if n.is_multiple_of(100) => format!(r#"{{"product": "{}"}}"#, "x".repeat(5 << 20)),
        // A string longer than any field.
        0 if n % 50 == 10 => format!(r#"{{"product": "{}", "binding": false}}"#, "y".repeat(1100 << 10)),
        0 => r#"{"product": "01", "binding": "yes"}"#.into(),
        1 => format!("{}1{}", "[".repeat(5000), "]".repeat(5000)),
        2 => r#"{"product": "0\u00001", "binding": false, "interest": {"life": {}}}"#.into(),
        3 => r#"{"product": 1, "binding": false, "interest": {"life": {}}}"#.into(),
        4 => r#"{"product": "01", "binding": false, "interest": {"life": {"x": "\u0000"}}}"#.into(),
        5 => r#"[1, 2, 3]"#.into(),
        6 => "{not json".into(),
        // A real quote with a string just under the limit: the adapter runs on it.
        7 if n % 20 == 7 => {
            let mut quote = example(if n % 40 == 7 { "aagi-motor" } else { "A03" }, "quote");
            replace_first_string(quote.get_mut("interest").unwrap(), &"z".repeat(1000 << 10));
            return (
                if n % 40 == 7 { "aagi-motor" } else { "A03" }.into(),
                quote.to_string(),
            );
        }
        7 => r#"{"product": "01", "binding": false, "interest": {"life": {}}, "extensions": {"k": 1e400}}"#
            .into(),
        8 => r#"{"product": "trap", "binding": false, "interest": {"life": {}}}"#.into(),
        _ => r#"{"product": "alloc", "binding": false, "interest": {"life": {}}}"#.into(),
    };
    // The probe's faulting products go to the probe; the real adapters get the rest.
    let panel = if n % 10 >= 8 { "HOSTILE" } else { panel };
    (panel.to_string(), body)
}

#[tokio::test]
async fn a_thousand_hostile_requests_from_one_token_leave_every_panel_serving() {
    let h = start_with(&format!(
        r#"
[adapters.probe]
path = "{path}"
[panels.HOSTILE]
adapter = "probe"
base_url = "http://127.0.0.1:9"
limits = {{ operation_timeout_ms = 1500, memory_mib = 16 }}
"#,
        path = panelgate_tests::guests::PROBE
    ))
    .await;
    let normal = |panel: &str| -> Value {
        match panel {
            "HOSTILE" => {
                serde_json::json!({ "product": "fine", "binding": false, "interest": { "life": {} } })
            }
            "bcs" => example("bcs", "quote-life"),
            "julo" => Value::Null,
            p => example(p, "quote"),
        }
    };
    let panels = ["A03", "B03", "aagi-motor", "bcs", "julo", "HOSTILE"];
    // Each panel serves once, as it would have before the hostile caller came.
    for panel in panels.iter().filter(|p| **p != "julo") {
        let (status, body) = h
            .post(&format!("/v1/panels/{panel}/quotes"), &normal(panel))
            .await;
        assert_eq!(status, StatusCode::OK, "{panel}: {body}");
    }
    let started = std::time::Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..20)
        .map(|_| {
            let (client, base, next) = (h.client.clone(), h.base.clone(), next.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= 1000 {
                        return statuses;
                    }
                    let (panel, body) = hostile(n, &panels);
                    let response = client
                        .post(format!("{base}/v1/panels/{panel}/quotes"))
                        .bearer_auth(PORTAL)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("request");
                    let status = response.status();
                    let answer: Value = response.json().await.unwrap_or(Value::Null);
                    statuses.push((
                        n,
                        status,
                        answer["error"]["code"].as_str().unwrap_or("").to_string(),
                    ));
                }
            })
        })
        .collect();
    let mut answered = Vec::new();
    for worker in workers {
        answered.extend(worker.await.unwrap());
    }
    eprintln!("1000 hostile requests in {} ms", started.elapsed().as_millis());
    assert_eq!(answered.len(), 1000);
    for (n, status, code) in &answered {
        // Refused, or the adapter's or the partner's own answer: never the host failing, never
        // a panel refusing service.
        assert!(
            ![StatusCode::INTERNAL_SERVER_ERROR, StatusCode::SERVICE_UNAVAILABLE].contains(status),
            "hostile request {n}: {status} {code}"
        );
    }
    for (panel, health) in health(&h).await {
        assert_eq!(health, "serving", "{panel}");
    }
    for panel in panels.iter().filter(|p| **p != "julo") {
        let (status, body) = h
            .post(&format!("/v1/panels/{panel}/quotes"), &normal(panel))
            .await;
        assert_eq!(status, StatusCode::OK, "{panel} serves another caller: {body}");
    }
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert!(status.is_success(), "julo serves another caller: {body}");
}

/// Measures the largest string each real adapter holds in a JSON body at the default 64 MiB:
/// `cargo test -p panelgate-tests --test e2e -- limits::measure --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn measure_the_largest_string_each_adapter_holds() {
    let h = start().await;
    for (panel, example_name, under) in [
        ("A03", "quote", "parties"),
        ("aagi-motor", "quote", "interest"),
        ("bcs", "quote-life", "parties"),
        ("julo", "accept", "parties"),
        ("aagi-motor", "accept", "parties"),
    ] {
        let route = if example_name.starts_with("quote") {
            "quotes"
        } else {
            "policies"
        };
        for mib in [1usize, 2, 3, 4, 6, 8, 12, 16] {
            let mut body = example(panel, example_name);
            let text = "x".repeat(mib << 20);
            let target = body.get_mut(under).expect(under);
            assert!(replace_first_string(target, &text));
            let started = std::time::Instant::now();
            let (status, answer) = h.post(&format!("/v1/panels/{panel}/{route}"), &body).await;
            eprintln!(
                "{panel} {example_name} {mib} MiB in `{under}`: {status} {} ({} ms)",
                answer["error"]["code"].as_str().unwrap_or("ok"),
                started.elapsed().as_millis()
            );
            if status == StatusCode::BAD_GATEWAY {
                // Let the fault count reset before the next panel.
                h.post(
                    &format!("/v1/panels/{panel}/quotes"),
                    &example(panel, example_name),
                )
                .await;
            }
        }
    }
}

/// Measures the largest document the AAP adapter uploads at the default 64 MiB:
/// `cargo test -p panelgate-tests --test e2e -- limits::measure --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn measure_the_largest_document_an_adapter_uploads() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case = body["case_id"].as_str().unwrap().to_string();
    let code = body["result"]["requirements"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    for mib in [1usize, 2, 4, 6, 8, 10, 12, 16] {
        let mut data = pdf();
        data.resize(mib << 20, b' ');
        let started = std::time::Instant::now();
        let (status, answer) = h
            .upload(
                &format!("/v1/panels/A03/policies/{case}/documents"),
                &code,
                "d.pdf",
                data,
            )
            .await;
        eprintln!(
            "A03 upload {mib} MiB: {status} {} ({} ms)",
            answer["error"]["code"].as_str().unwrap_or("ok"),
            started.elapsed().as_millis()
        );
    }
}

/// A partner that answers the probe's `/rate` after `delay`.
async fn slow_rate_partner(delay: std::time::Duration) -> String {
    let app = axum::Router::new().route(
        "/rate",
        axum::routing::post(move || async move {
            tokio::time::sleep(delay).await;
            axum::Json(serde_json::json!({ "rate": "0.0125" }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A host whose probe panel has one slot, a queue of one, and `wait_ms` to wait for the slot.
async fn one_slot_host(partner: &str, wait_ms: u64) -> (String, tempfile::TempDir) {
    let (addr, dir) = bare_host(&format!(
        r#"
[sandbox]
panel_concurrency = 1
panel_queue = 1
queue_wait_ms = {wait_ms}
cache_dir = "{cache}"
[adapters.probe]
path = "{path}"
[panels.probe]
adapter = "probe"
base_url = "{partner}"
"#,
        cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
        path = panelgate_tests::guests::PROBE,
    ))
    .await;
    (format!("http://{addr}"), dir)
}

async fn timed_quote(
    client: reqwest::Client,
    base: String,
) -> (u16, Option<String>, serde_json::Value, std::time::Duration) {
    let started = std::time::Instant::now();
    let response = client
        .post(format!("{base}/v1/panels/probe/quotes"))
        .bearer_auth(PORTAL)
        .json(&serde_json::json!({ "product": "echo", "binding": false, "interest": { "life": {} } }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or_default();
    (status, retry_after, body, started.elapsed())
}

/// Admission control: with every slot busy and the queue full, a quote is answered `503
/// overloaded` with `Retry-After` at once, never queued; a queued quote is served when the slot
/// frees; and one that waits past `queue_wait_ms` is answered `503 overloaded` then.
#[tokio::test]
async fn past_its_slots_and_queue_a_panel_answers_overloaded_at_once() {
    let partner = slow_rate_partner(std::time::Duration::from_millis(1500)).await;
    let (base, _dir) = one_slot_host(&partner, 10_000).await;
    let client = reqwest::Client::new();
    let running = tokio::spawn(timed_quote(client.clone(), base.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let queued = tokio::spawn(timed_quote(client.clone(), base.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, retry_after, body, took) = timed_quote(client.clone(), base.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(
        took < std::time::Duration::from_millis(500),
        "refused at once, not after {took:?}"
    );
    let (status, _, body, _) = running.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _, body, took) = queued.await.unwrap();
    assert_eq!(
        status, 200,
        "the queued quote is served once the slot frees: {body}"
    );
    assert!(
        took >= std::time::Duration::from_millis(1500),
        "it waited for the slot: {took:?}"
    );

    // A wait for a slot is bounded.
    let (base, _dir) = one_slot_host(&partner, 200).await;
    let running = tokio::spawn(timed_quote(client.clone(), base.clone()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, retry_after, body, took) = timed_quote(client.clone(), base.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert!(
        took >= std::time::Duration::from_millis(200) && took < std::time::Duration::from_millis(1200),
        "answered when its wait ran out: {took:?}"
    );
    assert_eq!(running.await.unwrap().0, 200);
}

/// The engine renewed while quotes are in flight (as the host does by itself once its instance
/// pool sits idle after a burst): every quote under way is served on the old engine, the next
/// ones on the new, and the old engine, with its pool, is gone once the last of them ends:
/// neither a panel nor the compiled modules hold it.
#[tokio::test]
async fn renewing_the_engine_mid_burst_serves_every_quote_and_lets_the_old_pool_go() {
    let partner = slow_rate_partner(std::time::Duration::from_millis(600)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panelgate.toml");
    let config = format!(
        "{}\n[sandbox]\ncache_dir = \"{cache}\"\n[adapters.probe]\npath = \"{probe}\"\n\
         [panels.probe]\nadapter = \"probe\"\nbase_url = \"{partner}\"\n",
        bare_config(dir.path(), "127.0.0.1:0", ""),
        cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
        probe = panelgate_tests::guests::PROBE,
    );
    std::fs::write(&path, config).unwrap();
    let config = panelgate::config::Config::load(&path).unwrap();
    let app = panelgate::App::start(&config).await.unwrap();
    let listener = panelgate::listen("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router();
    tokio::spawn(
        async move { panelgate::serve(listener, router, &config.server, std::future::pending()).await },
    );
    let client = reqwest::Client::new();

    let in_flight = |n| {
        (0..n)
            .map(|_| tokio::spawn(timed_quote(client.clone(), base.clone())))
            .collect::<Vec<_>>()
    };
    let burst = in_flight(24);
    let old = app.runtime().engine().weak();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let running = |engine: &wasmtime::Engine| {
        engine
            .pooling_allocator_metrics()
            .map(|pool| pool.component_instances())
    };
    assert_eq!(
        running(&old.upgrade().unwrap()),
        Some(24),
        "the burst is under way"
    );

    let renewed = app.renew_engine().await.unwrap();
    assert_eq!(renewed.panels, 1);
    assert!(renewed.modules >= 1, "{renewed:?}");
    let new = app.runtime().engine();
    assert_eq!(running(&new), Some(0), "a new engine, its pool empty");
    let after = in_flight(4);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(running(&new), Some(4), "new quotes run on the new engine");
    assert!(
        old.upgrade().is_some(),
        "the quotes under way keep the old engine"
    );
    for quote in burst.into_iter().chain(after) {
        let (status, _, body, _) = quote.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while old.upgrade().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the old engine outlived its last call"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, _, body, _) = timed_quote(client.clone(), base.clone()).await;
    assert_eq!(status, 200, "{body}");
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "panelgate_engine_renewals_total 1"),
        "{metrics}"
    );
}
