//! `/metrics`: after a known sequence of requests, every series holds the count it must.

use std::collections::BTreeMap;

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A partner stub for the probe adapter: `/ok/rate` answers a rate, `/bad/rate` a 400.
async fn rate_partner() -> String {
    let app = axum::Router::new()
        .route(
            "/ok/rate",
            axum::routing::post(|| async { axum::Json(json!({ "rate": "1.25" })) }),
        )
        .route(
            "/bad/rate",
            axum::routing::post(|| async { (axum::http::StatusCode::BAD_REQUEST, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn probe_panels(partner: &str) -> String {
    format!(
        r#"
[adapters.probe]
path = "{path}"
[panels.PROBE]
adapter = "probe"
base_url = "{partner}/ok"
limits = {{ operation_timeout_ms = 1500, memory_mib = 16 }}
[panels.PROBE-BAD]
adapter = "probe"
base_url = "{partner}/bad"
"#,
        path = guests::PROBE
    )
}

fn quote(product: &str) -> Value {
    json!({ "product": product, "binding": false, "interest": { "life": {} } })
}

/// The samples of `name` whose labels include all of `labels`, summed; `None` when there is none.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let have: BTreeMap<&str, &str> = series_labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k, v.trim_matches('"')))
            .collect();
        if labels.iter().all(|(k, v)| have.get(k) == Some(v)) {
            *found.get_or_insert(0.0) += value.parse::<f64>().expect("a number");
        }
    }
    found
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_requests() {
    let partner = rate_partner().await;
    let h = start_with(&probe_panels(&partner)).await;
    let scrape = || async {
        h.client
            .get(h.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let commits_before = sample(
        &scrape().await,
        "panelgate_store_commit_duration_seconds_count",
        &[],
    )
    .unwrap_or(0.0);

    // Two quotes on A03 (one partner call each), one on the probe's good partner, one refused
    // by its bad partner, three faults and a deadline in the sandbox.
    let mut aap = String::new();
    for _ in 0..2 {
        let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        aap = body["adapter"]
            .as_str()
            .expect("the adapter that answered")
            .to_string();
    }
    let (status, body) = h.post("/v1/panels/PROBE/quotes", &quote("echo")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h.post("/v1/panels/PROBE-BAD/quotes", &quote("echo")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_bad_request");
    for (product, status) in [
        ("trap", StatusCode::BAD_GATEWAY),
        ("alloc", StatusCode::BAD_GATEWAY),
        ("malformed", StatusCode::BAD_GATEWAY),
        ("loop", StatusCode::GATEWAY_TIMEOUT),
    ] {
        let (got, body) = h.post("/v1/panels/PROBE/quotes", &quote(product)).await;
        assert_eq!(got, status, "{product}: {body}");
    }
    // An operation the probe does not declare, a body that is not JSON, and a callback with
    // the wrong credentials.
    let (status, _) = h.get("/v1/panels/PROBE/worklist").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    let (status, _) = h.post_raw("/v1/panels/A03/quotes", "{", PORTAL).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let status = h
        .client
        .post(h.url("/callbacks/A03/post-status"))
        .basic_auth(CALLBACK_USER, Some("wrong"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let response = h.client.get(h.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "OpenMetrics text ends with # EOF");
    let count = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels).unwrap_or(0.0);

    // Requests, latency and errors per panel, operation and adapter version.
    let a03 = [
        ("panel", "A03"),
        ("operation", "quote"),
        ("adapter", aap.as_str()),
    ];
    assert_eq!(
        count(
            "panelgate_requests_total",
            &[&a03[..], &[("status", "200")]].concat()
        ),
        2.0
    );
    assert_eq!(count("panelgate_request_duration_seconds_count", &a03), 2.0);
    assert!(count("panelgate_request_duration_seconds_sum", &a03) > 0.0);
    let probe = [
        ("panel", "PROBE"),
        ("operation", "quote"),
        ("adapter", "probe@0.1.0"),
    ];
    assert_eq!(count("panelgate_requests_total", &probe), 5.0);
    assert_eq!(
        count(
            "panelgate_requests_total",
            &[&probe[..], &[("status", "502")]].concat()
        ),
        3.0
    );
    assert_eq!(
        count(
            "panelgate_request_errors_total",
            &[&probe[..], &[("code", "adapter_fault")]].concat()
        ),
        3.0
    );
    assert_eq!(
        count(
            "panelgate_request_errors_total",
            &[&probe[..], &[("code", "deadline_exceeded")]].concat()
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_request_errors_total",
            &[("panel", "PROBE-BAD"), ("code", "partner_bad_request")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_request_errors_total",
            &[
                ("panel", "PROBE"),
                ("operation", "poll"),
                ("code", "unsupported_operation")
            ]
        ),
        1.0
    );
    // The malformed body never reached a panel: it shows under its route.
    assert_eq!(
        count(
            "panelgate_http_requests_total",
            &[
                ("route", "/v1/panels/{panel}/quotes"),
                ("method", "POST"),
                ("status", "400")
            ]
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_http_requests_total",
            &[("route", "/v1/panels/{panel}/quotes"), ("method", "POST")]
        ),
        9.0
    );
    assert_eq!(
        count(
            "panelgate_callbacks_total",
            &[("panel", "A03"), ("status", "401")]
        ),
        1.0
    );

    // Partner calls and their outcomes.
    assert_eq!(
        count(
            "panelgate_partner_requests_total",
            &[("panel", "A03"), ("outcome", "200")]
        ),
        2.0
    );
    assert_eq!(
        count(
            "panelgate_partner_requests_total",
            &[("panel", "PROBE"), ("outcome", "200")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_partner_requests_total",
            &[("panel", "PROBE-BAD"), ("outcome", "400")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_partner_request_duration_seconds_count",
            &[("panel", "A03")]
        ),
        2.0
    );
    // Timed to the nanosecond, not in the whole milliseconds the journal keeps (a loopback
    // exchange takes less than one): the sum is not a whole number of milliseconds.
    let partner_time = count(
        "panelgate_partner_request_duration_seconds_sum",
        &[("panel", "A03")],
    );
    let ms = partner_time * 1000.0;
    assert!(
        ms > 0.0 && (ms - ms.round()).abs() > 1e-6,
        "the A03 exchanges took {partner_time} s"
    );

    // Each adapter call's time in its sandbox encloses its partner exchanges; the faults and
    // the deadline are timed too.
    assert_eq!(
        count(
            "panelgate_adapter_call_duration_seconds_count",
            &[("panel", "A03")]
        ),
        2.0
    );
    assert!(count("panelgate_adapter_call_duration_seconds_sum", &[("panel", "A03")]) > partner_time);
    assert_eq!(
        count(
            "panelgate_adapter_call_duration_seconds_count",
            &[("panel", "PROBE")]
        ),
        5.0
    );
    assert_eq!(
        count(
            "panelgate_adapter_call_duration_seconds_count",
            &[("panel", "PROBE-BAD")]
        ),
        1.0
    );
    // Every operation that reached an adapter committed what it did, once: 8 commits.
    assert_eq!(
        count("panelgate_store_commit_duration_seconds_count", &[]) - commits_before,
        8.0
    );
    assert!(count("panelgate_store_commit_duration_seconds_sum", &[]) > 0.0);

    // The sandbox: a trap, a memory limit, a malformed result, and CPU past the deadline.
    let faults = |kind: &str| {
        count(
            "panelgate_adapter_faults_total",
            &[("panel", "PROBE"), ("adapter", "probe@0.1.0"), ("kind", kind)],
        )
    };
    assert_eq!(faults("trap"), 1.0);
    assert_eq!(faults("memory_limit"), 1.0);
    assert_eq!(faults("malformed_result"), 1.0);
    assert_eq!(faults("cpu_deadline"), 1.0);
    assert_eq!(
        count(
            "panelgate_limit_hits_total",
            &[("panel", "PROBE"), ("limit", "memory")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "panelgate_limit_hits_total",
            &[("panel", "PROBE"), ("limit", "deadline")]
        ),
        1.0
    );

    // Breakers closed, nothing quarantined (four faults, five quarantine), nothing in flight.
    for panel in ["A03", "B03", "PROBE", "PROBE-BAD", "aagi-motor"] {
        assert_eq!(
            sample(&text, "panelgate_circuit_state", &[("panel", panel)]),
            Some(0.0),
            "{panel}"
        );
        assert_eq!(
            sample(&text, "panelgate_adapter_quarantined", &[("panel", panel)]),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "panelgate_instances_in_use", &[("panel", panel)]),
            Some(0.0)
        );
    }
    assert_eq!(sample(&text, "panelgate_instance_pool_slots", &[]), Some(50.0));
    // Far too little idle for the engine to have been renewed (`core::renewal`).
    assert_eq!(sample(&text, "panelgate_engine_renewals_total", &[]), Some(0.0));
    // The operations above left warm slots behind, each keeping a little resident for its next
    // use: at most the 64 KiB of fiber stack a slot keeps (`runtime::engine`).
    for kind in ["memory", "table", "stack"] {
        let idle = sample(&text, "panelgate_instance_pool_idle_slots", &[("kind", kind)]);
        assert!(idle.is_some_and(|n| n >= 1.0), "idle {kind} slots: {idle:?}");
        let resident = sample(
            &text,
            "panelgate_instance_pool_idle_resident_bytes",
            &[("kind", kind)],
        );
        assert!(resident.is_some_and(|b| b >= 0.0), "{kind}: {resident:?}");
    }
    let stacks = sample(&text, "panelgate_instance_pool_idle_slots", &[("kind", "stack")]).unwrap();
    let stack_bytes = sample(
        &text,
        "panelgate_instance_pool_idle_resident_bytes",
        &[("kind", "stack")],
    )
    .unwrap();
    assert!(
        stacks <= 50.0,
        "no more idle stacks than the pool's 50 slots: {stacks}"
    );
    assert!(
        stack_bytes > 0.0 && stack_bytes <= stacks * 65536.0,
        "{stack_bytes} bytes kept by {stacks} idle stacks"
    );

    // A fifth fault in a row on a caller's input does not quarantine the probe: it still serves
    // the panel's last good request.
    let (status, _) = h.post("/v1/panels/PROBE/quotes", &quote("trap")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let text = scrape().await;
    assert_eq!(
        sample(&text, "panelgate_adapter_quarantined", &[("panel", "PROBE")]),
        Some(0.0)
    );
    // A release that faults on every request is quarantined at its fifth, and the next
    // scrape says so.
    let response = h
        .client
        .post(h.url("/admin/adapters"))
        .bearer_auth(ADMIN)
        .body(std::fs::read(guests::PROBE_BROKEN).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = h
        .client
        .put(h.url("/admin/panels/PROBE/adapter"))
        .bearer_auth(ADMIN)
        .json(&json!({ "adapter": "probe@0.3.0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for _ in 0..5 {
        let (status, _) = h.post("/v1/panels/PROBE/quotes", &quote("fine")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
    }
    let text = scrape().await;
    assert_eq!(
        sample(&text, "panelgate_adapter_quarantined", &[("panel", "PROBE")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "panelgate_adapter_quarantined", &[("panel", "A03")]),
        Some(0.0)
    );
}
