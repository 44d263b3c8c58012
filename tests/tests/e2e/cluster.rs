//! Two host processes on one PostgreSQL database, as behind a load balancer: an idempotency key used on
//! one is replayed by the other, a partner callback advances its case once whichever host
//! receives it (and however often), the feed is one stream, and a switch made on one host is
//! served by the other within a second.

use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Two `panelgate` processes on one fresh PostgreSQL database, with the harness's panels and
/// simulators (and `extra`); the harness's own in-process host shares the database too.
struct Cluster {
    h: Harness,
    first: String,
    second: String,
    _hosts: [HostProcess; 2],
}

async fn two_hosts(extra: &str) -> Cluster {
    let h = start_on(Some(fresh_postgres().await), extra).await;
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
    let [first, second] = <[String; 2]>::try_from(bases).unwrap();
    let Ok(hosts) = <[HostProcess; 2]>::try_from(hosts) else {
        unreachable!()
    };
    Cluster {
        h,
        first,
        second,
        _hosts: hosts,
    }
}

async fn post_keyed(h: &Harness, base: &str, path: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = h
        .client
        .post(format!("{base}{path}"))
        .bearer_auth(PORTAL)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn application(loan: &str) -> Value {
    let mut body = example("A03", "accept-cbc");
    body["interest"]["credit_life"]["account"] = json!(loan);
    body
}

#[tokio::test]
async fn an_idempotency_key_used_on_one_host_is_replayed_by_the_other() {
    let Cluster { h, first, second, .. } = &two_hosts("").await;
    let submissions = || {
        h.a03
            .requests()
            .iter()
            .filter(|r| r.path != "/get-rate-premi-panel")
            .count()
    };
    let (status, answer) = post_keyed(h, first, "/v1/panels/A03/policies", "K-1", &application("CL-1")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let asked = submissions();
    let (status, again) = post_keyed(h, second, "/v1/panels/A03/policies", "K-1", &application("CL-1")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, answer, "the second host replays the first host's answer");
    assert_eq!(submissions(), asked, "the partner was asked once");
    let (status, other) = post_keyed(h, second, "/v1/panels/A03/policies", "K-1", &application("CL-2")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{other}");
    assert_eq!(other["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn a_callback_advances_its_case_once_whichever_host_receives_it() {
    let Cluster { h, first, second, .. } = &two_hosts("").await;
    let (status, body) = h
        .post_to(first, "/v1/panels/A03/policies", &application("CBC-77"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_string();

    // The insurer's decision reaches the second host, then, retried, the first.
    h.a03.set_callback_base(&format!("{second}/callbacks/A03"));
    let (code, reply) = h
        .a03
        .send_cbc_decision("CBC-77", "DISETUJUI", 100_000, "ok")
        .await
        .unwrap();
    assert_eq!(code, 200, "{reply}");
    h.a03.set_callback_base(&format!("{first}/callbacks/A03"));
    let (code, reply) = h
        .a03
        .send_cbc_decision("CBC-77", "DISETUJUI", 100_000, "ok")
        .await
        .unwrap();
    assert_eq!(code, 200, "{reply}");

    // One event for the decision, and both hosts read the same feed.
    let events = h.all_events().await;
    let decisions: Vec<&Value> = events
        .iter()
        .filter(|e| e["case_id"] == case_id.as_str() && e["status"] == "offered")
        .collect();
    assert_eq!(decisions.len(), 1, "{events:#?}");
    let (status, page) = h.get_from(second, "/v1/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    let ids = |events: &[Value]| events.iter().map(|e| e["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(page["events"].as_array().unwrap()), ids(&events));
    let (_, case) = h
        .get_from(second, &format!("/v1/panels/A03/policies/{case_id}"))
        .await;
    assert_eq!(case["status"], "offered");
    let offered = case["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "offered")
        .count();
    assert_eq!(offered, 1, "{case}");
}

#[tokio::test]
async fn the_feed_is_one_ordered_stream_while_both_hosts_write() {
    let Cluster { h, first, second, .. } = &two_hosts("").await;
    let writers = (0..2).map(|w| {
        let base = if w == 0 { first.clone() } else { second.clone() };
        let client = h.client.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                let mut body = example("A03", "accept-cac");
                body["interest"]["credit_life"]["account"] = json!(format!("FEED-{w}-{i}"));
                let response = client
                    .post(format!("{base}/v1/panels/A03/policies"))
                    .bearer_auth(PORTAL)
                    .header("idempotency-key", format!("feed-{w}-{i}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        })
    });
    // A reader follows the cursor while they write: it must see every event exactly once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut writers: Vec<_> = writers.collect();
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let (_, page) = h
            .get_from(second, &format!("/v1/events?after={cursor}&limit=3"))
            .await;
        let batch = page["events"].as_array().cloned().unwrap_or_default();
        if let Some(next) = page["next_cursor"].as_str() {
            cursor = next.to_string();
        }
        seen.extend(batch.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        if done && batch.is_empty() {
            break;
        }
    }
    for w in writers.drain(..) {
        w.await.unwrap();
    }
    let all: Vec<String> = h
        .all_events()
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 20, "one event per issued policy");
    assert_eq!(seen, all, "the reader saw every event once, in the feed's order");
}

/// The probe's panel `PROBE` (its `channel` set, so 0.2.0 fits too) at a partner of its own.
async fn probe_panel() -> String {
    let app = axum::Router::new().route(
        "/rate",
        axum::routing::post(|| async { axum::Json(json!({ "rate": "1.5" })) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let partner = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!(
        "[adapters.probe]\npath = \"{}\"\n[panels.PROBE]\nadapter = \"probe\"\nbase_url = \"{partner}\"\nsettings = {{ channel = \"h2h\" }}\n",
        guests::PROBE
    )
}

/// Sets `PROBE` to `adapter` through the host at `base`.
async fn switch(h: &Harness, base: &str, adapter: &str) {
    let switched = h
        .client
        .put(format!("{base}/admin/panels/PROBE/adapter"))
        .bearer_auth(ADMIN)
        .json(&json!({ "adapter": adapter }))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), StatusCode::OK, "{adapter} at {base}");
}

/// A switch on the second host right after one on the first, before the second followed it,
/// is the last word: every host ends on it. (Before, the second host found the module it still
/// served in memory, answered 200 and recorded nothing, and every host followed the first.)
#[tokio::test]
async fn a_switch_back_on_a_host_that_has_not_followed_yet_is_not_lost() {
    let Cluster { h, first, second, .. } = &two_hosts(&probe_panel().await).await;
    let pushed = h
        .client
        .post(format!("{first}/admin/adapters"))
        .bearer_auth(ADMIN)
        .body(std::fs::read(guests::PROBE_NEXT).unwrap())
        .send()
        .await
        .unwrap();
    assert!(pushed.status().is_success(), "{}", pushed.text().await.unwrap());
    switch(h, first, "probe@0.2.0").await;
    switch(h, second, "probe@0.1.0").await;
    // Every host follows the store within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let quote = json!({ "product": "echo", "binding": false, "interest": { "life": {} } });
    for base in [first, second, &h.base] {
        let (status, body) = h.post_to(base, "/v1/panels/PROBE/quotes", &quote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["adapter"], "probe@0.1.0", "at {base}");
    }
}

#[tokio::test]
async fn a_switch_on_one_host_is_served_by_the_other_within_a_second() {
    let Cluster { h, first, second, .. } = &two_hosts(&probe_panel().await).await;
    let quote = json!({ "product": "echo", "binding": false, "interest": { "life": {} } });
    let (_, body) = h.post_to(second, "/v1/panels/PROBE/quotes", &quote).await;
    assert_eq!(body["adapter"], "probe@0.1.0");

    // Pushed and switched on the first host.
    let pushed = h
        .client
        .post(format!("{first}/admin/adapters"))
        .bearer_auth(ADMIN)
        .body(std::fs::read(guests::PROBE_NEXT).unwrap())
        .send()
        .await
        .unwrap();
    assert!(pushed.status().is_success(), "{}", pushed.text().await.unwrap());
    switch(h, first, "probe@0.2.0").await;
    let at = Instant::now();
    loop {
        let (status, body) = h.post_to(second, "/v1/panels/PROBE/quotes", &quote).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["adapter"] == "probe@0.2.0" {
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the second host still serves {} after a second",
            body["adapter"]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = h.post_to(second, "/v1/panels/PROBE/quotes", &quote).await;
    assert_eq!(
        body["result"]["message"]
            .as_str()
            .map(|m| m.contains("probe 0.2.0")),
        Some(true),
        "{body}"
    );

    // And a rollback on the second host reaches the first.
    let rolled = h
        .client
        .post(format!("{second}/admin/panels/PROBE/rollback"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(rolled.status(), StatusCode::OK);
    let at = Instant::now();
    loop {
        let (_, body) = h.post_to(first, "/v1/panels/PROBE/quotes", &quote).await;
        if body["adapter"] == "probe@0.1.0" {
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the rollback did not reach the first host"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
