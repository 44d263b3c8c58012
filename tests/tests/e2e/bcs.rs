//! BCS policy management end to end: all eleven endpoints through the real `bcs` component.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
settings = { credential = "partner", source-system = "1", case-domain = "d", case-user = "u", bank-system = "1" }
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

// ---------------------------------------------------------------------------------------------
// Issue 18: each seed rule the simulator now enforces, through the real component.

/// Quotes `quote` (an example, edited) and answers the issuing body of `issue` bound to it.
async fn bound(h: &Harness, quote: Value, mut issue: Value) -> Value {
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    issue["quote_reference"] = body["result"]["reference"].clone();
    issue
}

#[tokio::test]
async fn an_insurance_case_carries_every_applicant_field_the_seed_requires() {
    let h = start().await;
    // Seed #3: applicantType, planRequested, personInfo.birthDt/gender, orgInfo, contactInfo
    // (with emailAddr), businessOcucupation.certcode and question[], identSerialNum an Int and
    // govIssueIdentType "CC": the strict simulator refuses the case without any of them.
    let (status, body) = h
        .post(
            "/v1/panels/bcs/policies",
            &example("bcs", "accept-insurance-case"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["status"], "pending_underwriting");
}

#[tokio::test]
async fn an_insurance_case_without_its_insurability_statement_or_workplace_is_named() {
    let h = start().await;
    let mut case = example("bcs", "accept-insurance-case");
    case["questionnaire"] = json!([]);
    let person = &mut case["parties"][0]["detail"]["person"];
    person["addresses"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["kind"] != "work");
    person["occupation"] = Value::Null;
    person["identities"][0]["number"] = json!("AB-123");
    let (status, body) = h.post("/v1/panels/bcs/policies", &case).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    for path in [
        "questionnaire",
        "parties[0].detail.person.addresses[work]",
        "parties[0].detail.person.occupation",
        "parties[0].detail.person.identities[0].number",
    ] {
        assert!(paths.contains(&path.to_string()), "{path}: {paths:?}");
    }
    assert!(
        !h.bcs.requests().iter().any(|(p, _)| p == "insurance/case"),
        "nothing reaches BCS"
    );
}

#[tokio::test]
async fn issuing_debits_the_account_the_portal_gives_with_the_insured_address() {
    let h = start().await;
    // Seed #6: pmtType, and "depAcctId: bankId … acctType … acctId" for an account; postAddr
    // with addr1 and cityId.
    let issue = bound(&h, example("bcs", "quote-life"), example("bcs", "issue-life")).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn issuing_charges_the_card_the_portal_gives() {
    let h = start().await;
    // Seed #6: "ccAcctRec: Credit card information in case the payment method is through it /
    // code (Required): Bank code".
    let mut issue = example("bcs", "issue-life");
    issue["payment"] = json!({ "method": "card", "bank": "32", "account": "4704371043791074" });
    let issue = bound(&h, example("bcs", "quote-life"), issue).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A bank BCS does not list (6.12) is named before BCS is called.
    let mut issue = issue;
    issue["payment"]["bank"] = json!("999");
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(issue_paths(&body).contains(&"payment.bank".to_string()), "{body}");
}

#[tokio::test]
async fn issuing_without_the_insured_address_is_named() {
    let h = start().await;
    let mut issue = example("bcs", "issue-life");
    issue["parties"][0]["detail"]["person"]["addresses"] = json!([]);
    let issue = bound(&h, example("bcs", "quote-life"), issue).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        issue_paths(&body).contains(&"parties[0].detail.person.addresses".to_string()),
        "{body}"
    );
}

#[tokio::test]
async fn a_beneficiary_relationship_is_never_invented() {
    let h = start().await;
    let mut issue = example("bcs", "issue-life");
    issue["parties"][1]["relationship"] = Value::Null;
    let issue = bound(&h, example("bcs", "quote-life"), issue).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        issue_paths(&body).contains(&"parties[1].relationship".to_string()),
        "{body}"
    );
    assert!(!h.bcs.requests().iter().any(|(p, _)| p == "life/issuing"));
}

#[tokio::test]
async fn home_issuing_keeps_the_capital_and_the_risk_address_of_its_quote() {
    let h = start().await;
    // Seed #10 productIdent 3: "insuranceInfo": { "capitalization": [...], "riskInfo": { "postAddr": [...] } }.
    let quote = example("bcs", "quote-home");
    let mut issue = example("bcs", "issue-life");
    issue["product"] = quote["product"].clone();
    issue["interest"] = quote["interest"].clone();
    issue["parties"].as_array_mut().unwrap().truncate(1);
    let issue = bound(&h, quote, issue).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "issued");
}

#[tokio::test]
async fn a_status_push_sends_the_client_status_apart_from_the_application_status() {
    let h = start().await;
    // Seed #2: statusCode is the application's (seventeen codes, here AE); personInfo.policy.status
    // is the client's, from the "Client status table": SE AP NE DE NR.
    let (status, body) = h
        .post(
            "/v1/panels/bcs/notifications",
            &example("bcs", "notify-status-submit"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A canonical status with no client status is named, not guessed.
    let mut report = example("bcs", "notify-status-submit");
    report["application_status"]["status"] = json!("claim_paid");
    let (status, body) = h.post("/v1/panels/bcs/notifications", &report).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        issue_paths(&body).contains(&"application_status.status".to_string()),
        "{body}"
    );
}

/// The README's "Life cover from BCS" block, as a portal developer would paste it, against this
/// harness's host (curl and python3 as the README assumes).
fn readme_bcs_walk_through() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let start = readme.find("Life cover from BCS").expect("the BCS walk-through");
    let block = &readme[start..];
    let block = &block[block.find("```sh\n").expect("its sh block") + 6..];
    let block = &block[..block.find("```").expect("the block's end")];
    block.replace("examples/", &format!("{}/examples/", root.display()))
}

#[tokio::test]
async fn the_readme_bcs_walk_through_runs_twice_on_one_simulator() {
    let h = start().await;
    let script = readme_bcs_walk_through().replace("http://127.0.0.1:8080", &h.base);
    for run in 1..=2 {
        let dir = tempfile::tempdir().unwrap();
        let output = tokio::process::Command::new("sh")
            .arg("-ec")
            .arg(&script)
            .env("H", format!("Authorization: Bearer {PORTAL}"))
            .env("J", "Content-Type: application/json")
            .current_dir(dir.path())
            .output()
            .await
            .expect("sh runs");
        assert!(
            output.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let pdf = std::fs::read(dir.path().join("certificate.pdf")).expect("certificate.pdf");
        assert!(
            pdf.starts_with(b"%PDF-"),
            "run {run}: {}",
            String::from_utf8_lossy(&pdf)
        );
    }
    let issued = h
        .bcs
        .requests()
        .iter()
        .filter(|(p, _)| p == "life/issuing")
        .count();
    assert_eq!(issued, 2);
}

#[tokio::test]
async fn product_31300_quotes_and_issues_its_plan_16() {
    let h = start().await;
    // Seed #5/#6: "16 = 31 31300 Plan 16 $150 MM Asist"; until now the simulator took plans 1-2.
    let mut quote = example("bcs", "quote-life");
    quote["plan"] = json!("16");
    let mut issue = example("bcs", "issue-life");
    issue["plan"] = json!("16");
    let issue = bound(&h, quote, issue).await;
    let (status, body) = h.post("/v1/panels/bcs/policies", &issue).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Plan 17 is not in the list: BCS's 400 in envelope A.
    let mut quote = example("bcs", "quote-life");
    quote["plan"] = json!("17");
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_bad_request");
}

#[tokio::test]
async fn a_status_coverage_bcs_would_refuse_is_named_before_the_call() {
    let h = start().await;
    // Seed #2: "coverageInfo[].coverageId … maxLength: 10", "coverageInfo[].percentage … maxLength: 3".
    let mut report = example("bcs", "notify-status-submit");
    report["application_status"]["coverages"] =
        json!([{ "code": "12345678901", "excluded": true, "premium_percent": "1000" }]);
    let (status, body) = h.post("/v1/panels/bcs/notifications", &report).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    for path in [
        "application_status.coverages[0].code",
        "application_status.coverages[0].premium_percent",
    ] {
        assert!(paths.contains(&path.to_string()), "{path}: {paths:?}");
    }
    assert!(!h.bcs.requests().iter().any(|(p, _)| p == "status-submit"));
}

#[tokio::test]
async fn a_case_request_number_or_bank_system_bcs_would_refuse_is_named_before_the_call() {
    let h = start().await;
    // Seed #3: "requestNumber … | int | 15", "trnSrcInfo.code … | Int | 1".
    let mut case = example("bcs", "accept-insurance-case");
    case["interest"]["credit_life"]["account"] = json!("1234567890123456");
    let (status, body) = h.post("/v1/panels/bcs/policies", &case).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(issue_paths(&body), ["interest.credit_life.account"], "{body}");
    let extra = r#"
[panels.bcs-12]
adapter = "bcs"
base_url = "{BCS}"
settings = { credential = "partner", source-system = "1", case-domain = "domain", case-user = "admon", bank-system = "12" }
[panels.bcs-12.credentials.partner]
kind = "api-key"
headers = { client_id = { value = "panelgate" }, client_secret = { value = "{SECRET}" } }
"#
    .replace("{BCS}", &h.bcs.base_url())
    .replace("{SECRET}", BCS_SECRET);
    let base = h.another_host(&extra).await;
    let (status, body) = h
        .post_to(
            &base,
            "/v1/panels/bcs-12/policies",
            &example("bcs", "accept-insurance-case"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.to_string().contains("bank-system"), "{body}");
    assert!(
        !h.bcs.requests().iter().any(|(p, _)| p == "insurance/case"),
        "nothing reaches BCS"
    );
}
