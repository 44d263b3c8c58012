//! BCS policy management end to end: all eleven endpoints through the real `bcs` component.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn simulations_quotes_issuing_and_the_certificate() {
    let h = start().await;
    // #4 life simulation and #8 general simulation (card protection).
    for name in ["quote-life-simulation", "quote-card-simulation"] {
        let (status, body) = h.post("/v1/panels/bcs/quotes", &example("bcs", name)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert!(
            !body["result"]["options"].as_array().unwrap().is_empty(),
            "{body}"
        );
        assert_eq!(body["result"]["options"][0]["premium"]["currency"], "COP");
    }
    // #9 general quote for a home (productIdent 3), with its risk.
    let (status, body) = h
        .post("/v1/panels/bcs/quotes", &example("bcs", "quote-home"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["result"]["reference"].is_string());

    // #5 life quote, then #6 issuing from its pmtAuthId.
    let (status, body) = h
        .post("/v1/panels/bcs/quotes", &example("bcs", "quote-life"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let auth = body["result"]["reference"].as_str().unwrap().to_string();
    let mut issue = example("bcs", "issue-life");
    issue["quote_reference"] = json!(auth);
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "issued");
    let case = body["case_id"].as_str().unwrap().to_string();

    // #7: the certificate, decoded from base64.
    let response = h
        .client
        .get(h.url(&format!("/v1/panels/bcs/policies/{case}/document")))
        .bearer_auth(PORTAL)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF-"));

    // A quote is used once: issuing again from it is BCS's refusal.
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["partner_code"], "00004");
}

#[tokio::test]
async fn general_issuing_for_a_life_product_of_the_general_table() {
    let h = start().await;
    let mut quote = example("bcs", "quote-life");
    quote["product"] = json!("34299");
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut issue = example("bcs", "issue-life");
    issue["product"] = json!("34299");
    issue["quote_reference"] = body["result"]["reference"].clone();
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let paths: Vec<String> = h.bcs.requests().into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.contains(&"general/quote".to_string()) && paths.contains(&"general/issuing".to_string()),
        "{paths:?}"
    );
}

#[tokio::test]
async fn an_insurability_case_statuses_and_a_payee() {
    let h = start().await;
    // #3.
    let (status, body) = h
        .post(
            "/v1/panels/bcs/policies",
            &example("bcs", "accept-insurance-case"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["status"], "pending_underwriting");
    assert_eq!(body["result"]["requirements"][0]["kind"], "medical_examination");
    // The same request number twice: BCS's own refusal.
    let (status, body) = h
        .post(
            "/v1/panels/bcs/policies",
            &example("bcs", "accept-insurance-case"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // #2 before #1: there is nothing to update.
    let (status, body) = h
        .post(
            "/v1/panels/bcs/notifications",
            &example("bcs", "notify-status-update"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["partner_code"], "00001");
    // #1, then #2 (PUT).
    for name in ["notify-status-submit", "notify-status-update"] {
        let (status, body) = h
            .post("/v1/panels/bcs/notifications", &example("bcs", name))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["result"]["reference"], "550100000000001");
    }
    // #11.
    let (status, body) = h
        .post("/v1/panels/bcs/notifications", &example("bcs", "notify-payee"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let paths: Vec<String> = h.bcs.requests().into_iter().map(|(p, _)| p).collect();
    for endpoint in [
        "insurance/case",
        "status-submit",
        "status-update",
        "costumer-payee",
    ] {
        assert!(paths.iter().any(|p| p == endpoint), "{endpoint}: {paths:?}");
    }
}

#[tokio::test]
async fn bad_input_is_named_and_bcs_refusals_keep_their_envelope() {
    let h = start().await;
    // The adapter names what BCS needs before calling.
    let mut status_report = example("bcs", "notify-status-submit");
    status_report["application_status"]["application_number"] = json!("5501000000000019999");
    status_report["application_status"]["status_code"] = json!("XX");
    let (status, body) = h.post("/v1/panels/bcs/notifications", &status_report).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    assert!(
        paths.contains(&"application_status.status_code".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"application_status.application_number".to_string()),
        "{paths:?}"
    );
    // A product the interest does not fit.
    let mut quote = example("bcs", "quote-life-simulation");
    quote["product"] = json!("69308");
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "product");
    // An office BCS does not have: its 400 in envelope A.
    let mut quote = example("bcs", "quote-life");
    quote["extensions"]["office"] = json!("9999");
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_bad_request");
}

#[tokio::test]
async fn a_wrong_client_secret_is_partner_unauthorized() {
    let h = start().await;
    let extra = r#"
[panels.bcs-bad]
adapter = "bcs"
base_url = "{BCS}"
settings = { source-system = "1", case-domain = "d", case-user = "u", bank-system = "1" }
[panels.bcs-bad.credentials.partner]
kind = "api-key"
headers = { client_id = { value = "panelgate" }, client_secret = { value = "wrong" } }
"#
    .replace("{BCS}", &h.bcs.base_url());
    let base = h.another_host(&extra).await;
    let (status, body) = h
        .post_to(
            &base,
            "/v1/panels/bcs-bad/quotes",
            &example("bcs", "quote-life-simulation"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "partner_unauthorized");
}
