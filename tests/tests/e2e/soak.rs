//! A soak: concurrent portal traffic on the demo's panels for a fixed time, with partner faults
//! injected on a known set of requests. Afterwards every acknowledged operation is in the
//! journal, the counts match, nothing is duplicated, and the errors are exactly the injected
//! faults. `PANELGATE_SOAK_SECS` sets the length (default 8 s; the figures in the note
//! come from a longer run).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::sim::aap::Fault;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One request of the soak and how it ended.
#[derive(Debug)]
struct Sent {
    what: String,
    injected: bool,
    status: StatusCode,
    body: Value,
}

#[tokio::test]
async fn a_soak_with_injected_faults_loses_nothing_and_duplicates_nothing() {
    let secs: u64 = std::env::var("PANELGATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let h = start().await;
    // Every accept for a loan starting `FAULT-` meets a partner 500; nothing else is faulted.
    for sim in [&h.a03, &h.b03] {
        sim.set_fault(Some(Fault::ForLoans {
            prefix: "FAULT-".into(),
            status: 500,
        }));
    }
    let until = Instant::now() + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for worker in 0..6 {
        let client = h.client.clone();
        let base = h.base.clone();
        workers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut i = 0u64;
            while Instant::now() < until {
                i += 1;
                let panel = if i.is_multiple_of(2) { "A03" } else { "B03" };
                let (what, path, body, injected) = match (worker + i) % 6 {
                    0 | 1 => {
                        let injected = i.is_multiple_of(5);
                        let loan = format!("{}-{worker}-{i}", if injected { "FAULT" } else { "SOAK" });
                        let mut body = example("A03", "accept-cac");
                        body["interest"]["credit_life"]["account"] = json!(loan);
                        (
                            format!("accept {panel} {loan}"),
                            format!("/v1/panels/{panel}/policies"),
                            body,
                            injected,
                        )
                    }
                    2 => (
                        "quote".into(),
                        format!("/v1/panels/{panel}/quotes"),
                        example("A03", "quote"),
                        false,
                    ),
                    3 => (
                        "aagi quote".into(),
                        "/v1/panels/aagi-motor/quotes".into(),
                        example("aagi-motor", "quote"),
                        false,
                    ),
                    4 => (
                        "bcs quote".into(),
                        "/v1/panels/bcs/quotes".into(),
                        example("bcs", "quote-life-simulation"),
                        false,
                    ),
                    _ => ("julo lookup".into(), String::new(), Value::Null, false),
                };
                let request = if path.is_empty() {
                    client.get(format!("{base}/v1/panels/julo/lookups/loan_purposes"))
                } else {
                    client
                        .post(format!("{base}{path}"))
                        .header("idempotency-key", format!("soak-{worker}-{i}"))
                        .json(&body)
                };
                let response = request
                    .bearer_auth(PORTAL)
                    .send()
                    .await
                    .expect("the host answers");
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                sent.push(Sent {
                    what,
                    injected,
                    status,
                    body,
                });
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for w in workers {
        sent.extend(w.await.unwrap());
    }

    // The errors are exactly the injected faults, each a typed partner error.
    let injected: Vec<&Sent> = sent.iter().filter(|s| s.injected).collect();
    let errors: Vec<&Sent> = sent.iter().filter(|s| !s.status.is_success()).collect();
    for e in &errors {
        assert!(
            e.injected,
            "an error nobody injected: {} → {} {}",
            e.what, e.status, e.body
        );
        // A 5xx after the request left: the partner may have acted, so the accept is in doubt
        // (and listed), never released for a retry to place again.
        assert_eq!(e.status, StatusCode::CONFLICT, "{}: {}", e.what, e.body);
        assert_eq!(e.body["error"]["code"], "outcome_unknown");
    }
    assert_eq!(errors.len(), injected.len(), "an injected fault was not reported");
    let (_, listed) = h.admin_get("/admin/unknown-outcomes").await;
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(injected.len()),
        "each accept in doubt listed: {listed}"
    );
    let served = h.a03.faults_served() + h.b03.faults_served();
    assert_eq!(
        served as usize,
        injected.len(),
        "each injected fault reached the partner once"
    );

    // Every answer names a journal entry, and the journal holds them all: nothing lost.
    let mut journal: Vec<Value> = Vec::new();
    let mut before = String::new();
    loop {
        let (_, page) = h.admin_get(&format!("/admin/journal?limit=10000{before}")).await;
        let page = page.as_array().unwrap().clone();
        let Some(last) = page.last() else { break };
        before = format!("&before={}", last["seq"]);
        journal.extend(page);
    }
    let portal: BTreeMap<&str, &Value> = journal
        .iter()
        .filter(|e| e["kind"] == "portal")
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    let mut lost = 0;
    for s in &sent {
        let id = s.body["journal_id"]
            .as_str()
            .or(s.body["error"]["journal_id"].as_str());
        if !id.is_some_and(|id| portal.contains_key(id)) {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "acknowledged operations missing from the journal");
    assert_eq!(portal.len(), sent.len(), "one journal entry per portal request");

    // Each issued accept is one case, and the partner registered its loan once.
    let issued: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.what.starts_with("accept") && s.status == StatusCode::CREATED)
        .collect();
    let cases: BTreeSet<&str> = issued
        .iter()
        .map(|s| s.body["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(cases.len(), issued.len(), "duplicate cases");
    let mut registrations: BTreeMap<String, usize> = BTreeMap::new();
    for sim in [&h.a03, &h.b03] {
        for r in sim
            .requests()
            .iter()
            .filter(|r| r.path == "/akseptasi/registrasi")
        {
            let loan = r
                .json
                .as_ref()
                .and_then(|j| j["ID_Loan"].as_str())
                .unwrap_or_default();
            *registrations.entry(loan.to_string()).or_default() += 1;
        }
    }
    let duplicates = registrations.values().filter(|n| **n > 1).count();
    assert_eq!(duplicates, 0, "a loan registered twice at the partner");
    let (_, verify) = h.admin_get("/admin/journal/verify").await;
    assert_eq!(verify["intact"], true);
    eprintln!(
        "soak {secs} s: {} requests served, {} faults injected, {} errors returned, {} policies issued, 0 records lost, 0 duplicates",
        sent.len(),
        injected.len(),
        errors.len(),
        issued.len()
    );
}
