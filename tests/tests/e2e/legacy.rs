//! The adapters partners shipped for the 1.x contracts keep running, unchanged, beside the
//! 2.0.0 host: the builds of the last 1.x commit (tests/build.rs `LEGACY_COMMIT`), served
//! through the host's conversion (host/src/runtime/compat.rs) against the same strict
//! simulators as the 2.0.0 adapters.

use crate::common::*;
use crate::deskcoll::{HASH_KEY, PASSWORD, start_deskcoll_built};
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_1_1_adapters_serve_their_seed_flows_on_the_2_0_host() {
    let h = start_legacy().await;
    let (_, panels) = h.get("/v1/panels").await;
    let version = |id: &str| {
        panels
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["adapter_version"].as_str().unwrap().to_string())
            .unwrap()
    };
    // The versions last released for 1.1.0.
    assert_eq!(version("A03"), "2.1.0");
    assert_eq!(version("aagi-motor"), "1.1.0");
    assert_eq!(version("bcs"), "1.6.0");
    assert_eq!(version("julo"), "1.0.0");

    // AAP: a quote, a case-by-case application, and its status.
    let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["acceptance_class"], "A", "{body}");
    let mut accept = example("A03", "accept-cac");
    accept["interest"]["credit_life"]["account"] = json!("LEGACY-1");
    let (status, body) = h.post("/v1/panels/A03/policies", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case = body["case_id"].as_str().unwrap().to_string();
    let (status, body) = h.get(&format!("/v1/panels/A03/policies/{case}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // AAGI: a quote and an issued policy.
    let (status, body) = h
        .post("/v1/panels/aagi-motor/quotes", &example("aagi-motor", "quote"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", "accept"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "issued", "{body}");
    // A 1.x adapter declares no extension schemas and keeps taking its own keys: the 1.1.0
    // AAGI still reads the main driver from `extensions.customer_name`.
    let mut company = example("aagi-motor", "accept-company");
    company["parties"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["role"] != "driver");
    company["extensions"] = json!({ "customer_name": "นายชุม เชย" });
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &company).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A value 1.1.0 cannot carry is refused by path, before the adapter runs.
    let mut driver = example("aagi-motor", "accept-company");
    driver["extensions"] = json!({ "customer_name": "นายชุม เชย" });
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &driver).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    assert!(paths.iter().any(|p| p.ends_with(".role")), "{body}");
    assert!(body.to_string().contains("panelgate:adapter@1.1.0"), "{body}");

    // BCS: a life quote, then issuing from it.
    let (status, body) = h
        .post("/v1/panels/bcs/quotes", &example("bcs", "quote-life"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut issue = example("bcs", "issue-life");
    issue["quote_reference"] = body["result"]["reference"].clone();
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "issued", "{body}");

    // JULO: the credit-limit application opens.
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_1_0_desk_coll_serves_its_worklist_and_signed_results_on_the_2_0_host() {
    let (h, sim) = start_deskcoll_built(guests::LEGACY_DESKCOLL, PASSWORD, HASH_KEY).await;
    let (status, body) = h.get("/v1/panels/deskcoll/worklist?kind=collection-tasks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"].as_array().unwrap().len(), 3, "{body}");
    let (status, body) = h
        .post(
            "/v1/panels/deskcoll/notifications",
            &example("deskcoll", "collection-result"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        sim.results()[0]["hashing"],
        "87072d55e9a05731bdae67c13fe6d617ce60da95260165ec58bbc07377b4d381"
    );
}
