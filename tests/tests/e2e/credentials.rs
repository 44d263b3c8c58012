//! A partner whose spec names no credential. Its adapter asks for none, so the panel configures
//! none and the host starts; a panel may still name one (`credential` setting) and say
//! `kind = "none"` for it. Either way the requests go out as the adapter made them.

use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn a_panel_whose_partner_needs_no_credential_says_none_and_sends_none() {
    let sim = panelgate_tests::sim::aagi::AagiSimulator::start(
        panelgate_tests::sim::aagi::AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let h = start_with(&format!(
        r#"
[panels.aagi-open]
adapter = "aagi-motor"
base_url = "{}"
settings = {{ credential = "partner" }}
[panels.aagi-open.credentials.partner]
kind = "none"
"#,
        sim.base_url()
    ))
    .await;
    let (_, panels) = h.get("/v1/panels").await;
    assert!(
        panels.as_array().unwrap().iter().any(|p| p["id"] == "aagi-open"),
        "the host started with the panel: {panels}"
    );
    let (status, body) = h
        .post("/v1/panels/aagi-open/quotes", &example("aagi-motor", "quote"))
        .await;
    // The project's simulator guesses that AAGI's gateway wants a Bearer token (the seed names
    // none): the request reached it with no Authorization at all, and it said 401.
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_unauthorized", "{body}");
    let requests = sim.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(!requests[0].1, "no credential was sent: {requests:?}");
    // And the journal names the credential the adapter asked for, with nothing applied.
    let (_, journal) = h.admin_get("/admin/journal?panel=aagi-open&limit=10").await;
    assert!(!journal.to_string().contains(AAGI_TOKEN));
}

/// AAGI's and BCS's specs name no authentication, so their adapters declare no credential need:
/// a panel with no `credentials` at all starts and serves, and nothing is invented on the wire.
#[tokio::test]
async fn a_panel_whose_adapter_needs_no_credential_starts_without_one_and_serves() {
    let sim = panelgate_tests::sim::aagi::AagiSimulator::start(
        panelgate_tests::sim::aagi::AagiSimConfig { token: None },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let h = start_with(&format!(
        r#"
[panels.aagi-bare]
adapter = "aagi-motor"
base_url = "{}"
[panels.bcs-bare]
adapter = "bcs"
base_url = "http://127.0.0.1:9"
settings = {{ source-system = "1", case-domain = "d", case-user = "u", bank-system = "1" }}
"#,
        sim.base_url()
    ))
    .await;
    let (_, panels) = h.get("/v1/panels").await;
    for id in ["aagi-bare", "bcs-bare"] {
        assert!(
            panels.as_array().unwrap().iter().any(|p| p["id"] == id),
            "the host started with `{id}`, which configures no credential: {panels}"
        );
    }
    let (status, body) = h
        .post("/v1/panels/aagi-bare/quotes", &example("aagi-motor", "quote"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let requests = sim.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].1,
        "the request carried no Authorization: {requests:?}"
    );
}
