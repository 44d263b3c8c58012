//! AA Pialang H2H v2.0 end to end: the portal, the host, the real `aap-h2h` component and a
//! strict panel simulator, through all 13 endpoints of the spec.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn with_loan(mut body: Value, loan: &str) -> Value {
    body["interest"]["credit_life"]["account"] = json!(loan);
    body
}

async fn issue(h: &Harness, panel: &str, example_name: &str, loan: &str) -> (String, Value) {
    let (status, body) = h
        .post(
            &format!("/v1/panels/{panel}/policies"),
            &with_loan(example(panel, example_name), loan),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (body["case_id"].as_str().expect("case id").to_string(), body)
}

async fn case(h: &Harness, panel: &str, id: &str) -> Value {
    let (status, body) = h.get(&format!("/v1/panels/{panel}/policies/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn quote_returns_the_panels_premium_and_acceptance_class() {
    let h = start().await;
    let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["result"];
    assert_eq!(result["options"][0]["premium"]["currency"], "IDR");
    assert!(
        result["options"][0]["premium"]["amount"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(result["acceptance_class"].is_string());
    assert!(body["journal_id"].is_string());
    let quote = h
        .a03
        .requests()
        .into_iter()
        .find(|r| r.path == "/get-rate-premi-panel")
        .expect("reached #1");
    assert!(quote.authorized);
    let wire = quote.json.expect("json");
    assert_eq!(wire["NIK"], "3578010101760001");
    assert_eq!(wire["Tenor"], 120);
}

#[tokio::test]
async fn case_by_case_flow_ends_in_an_issued_policy_and_the_feed_tells_it() {
    let h = start().await;
    // #3: submission for underwriting returns the documents the insurer needs.
    let (case_id, body) = issue(&h, "A03", "accept-cbc", "CBC-0001").await;
    assert_eq!(body["result"]["outcome"], "pending");
    let requirements = body["result"]["requirements"]
        .as_array()
        .expect("requirements")
        .clone();
    assert!(!requirements.is_empty(), "{body}");

    // #4: one PDF per requirement.
    for r in &requirements {
        let code = r["code"].as_str().unwrap();
        let (status, up) = h
            .upload(
                &format!("/v1/panels/A03/policies/{case_id}/documents"),
                code,
                "doc.pdf",
                pdf(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{up}");
    }
    let uploads = h
        .a03
        .requests()
        .into_iter()
        .filter(|r| r.path == "/akseptasi/dokumen")
        .count();
    assert_eq!(uploads, requirements.len());

    // #5: the insurer approves with an extra premium.
    let (status, reply) = h
        .a03
        .send_cbc_decision("CBC-0001", "DISETUJUI", 100_000, "CBC diterima")
        .await
        .unwrap();
    assert_eq!(status, 200, "{reply}");
    assert!(reply.contains("\"Status\":\"00\""), "{reply}");
    let c = case(&h, "A03", &case_id).await;
    assert_eq!(c["status"], "offered");

    // #6: the broker takes the offer up; the policy is issued.
    let (status, body) = h
        .post(
            &format!("/v1/panels/A03/policies/{case_id}/confirm"),
            &example("A03", "confirm"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["status"], "in_force");
    let c = case(&h, "A03", &case_id).await;
    assert_eq!(c["status"], "in_force");
    assert!(
        c["policy"]["number"].as_str().is_some_and(|n| !n.is_empty()),
        "{c}"
    );

    // The feed has the decision and the results, in order, across pages.
    let events = h.all_events().await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["case_id"] == case_id.as_str())
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let decision = kinds
        .iter()
        .position(|k| *k == "underwriting_decision")
        .expect("decision event");
    let confirmed = kinds
        .iter()
        .position(|k| *k == "confirm_result")
        .expect("confirm event");
    assert!(decision < confirmed, "{kinds:?}");
    let decision = events
        .iter()
        .find(|e| e["kind"] == "underwriting_decision")
        .unwrap();
    assert_eq!(
        decision["payload"]["detail"]["underwriting_decision"]["extra_premium"]["amount"],
        "100000"
    );
}

#[tokio::test]
async fn automatic_cover_issues_and_in_force_cancellation_awaits_the_insurers_approval() {
    let h = start().await;
    for (panel, example_name, sim) in [("A03", "accept-cac", &h.a03), ("B03", "accept", &h.b03)] {
        let loan = format!("CAC-{panel}");
        let (case_id, body) = issue(&h, panel, example_name, &loan).await;
        assert_eq!(body["result"]["outcome"], "issued", "{body}");
        let policy = body["result"]["policy"]["number"].as_str().unwrap().to_string();
        assert!(body["result"]["policy"]["document_link"].as_str().is_some());

        // #7: the refund comes at once; the case waits for #9.
        let (status, body) = h
            .post(
                &format!("/v1/panels/{panel}/policies/{case_id}/cancel"),
                &example(panel, "cancel-inforce"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["result"]["refund"]["amount"].as_str().is_some(), "{body}");
        assert_eq!(
            case(&h, panel, &case_id).await["status"],
            "cancellation_requested"
        );

        // #9: the insurer approves.
        let (status, reply) = sim
            .send_cancellation_decision(&loan, &policy, "DISETUJUI")
            .await
            .unwrap();
        assert_eq!(status, 200, "{reply}");
        assert_eq!(case(&h, panel, &case_id).await["status"], "cancelled");
    }
}

#[tokio::test]
async fn a_pending_application_can_be_withdrawn_but_not_an_issued_one() {
    let h = start().await;
    let (pending, _) = issue(&h, "A03", "accept-cbc", "WD-0001").await;
    let (status, body) = h
        .post(
            &format!("/v1/panels/A03/policies/{pending}/cancel"),
            &example("A03", "cancel-withdrawal"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(case(&h, "A03", &pending).await["status"], "withdrawn");
    assert!(
        h.a03
            .requests()
            .iter()
            .any(|r| r.path == "/pembatalan/pengajuan-akseptasi" && r.authorized)
    );

    let (issued, _) = issue(&h, "A03", "accept-cac", "WD-0002").await;
    let (status, body) = h
        .post(
            &format!("/v1/panels/A03/policies/{issued}/cancel"),
            &example("A03", "cancel-withdrawal"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
}

#[tokio::test]
async fn claim_flow_from_registration_to_payment_with_proof() {
    let h = start().await;
    let loan = "CLM-0001";
    let (policy_case, body) = issue(&h, "B03", "accept", loan).await;
    let policy = body["result"]["policy"]["number"].as_str().unwrap().to_string();

    // #10, naming the policy by its loan id.
    let mut claim = example("B03", "claim");
    claim["policy_reference"]["value"] = json!(loan);
    let (status, body) = h.post("/v1/panels/B03/claims", &claim).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let claim_case = body["case_id"].as_str().unwrap().to_string();
    assert!(body["result"]["documents_due"].is_string(), "{body}");
    let code = body["result"]["requirements"][0]["code"]
        .as_str()
        .expect("claim documents")
        .to_string();

    // #11.
    let (status, up) = h
        .upload(
            &format!("/v1/panels/B03/claims/{claim_case}/documents"),
            &code,
            "rekening.pdf",
            pdf(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{up}");

    // #12: under review, on hold for a missing KTP, accepted.
    for (status_code, note, expected) in [
        ("ANALISA", "Sedang dianalisa", "claim_under_review"),
        ("TAHAN", "Kurang KTP", "claim_information_requested"),
        ("TERIMA", "Klaim diterima", "claim_approved"),
    ] {
        let (status, reply) = h
            .b03
            .send_claim_status(loan, &policy, status_code, note)
            .await
            .unwrap();
        assert_eq!(status, 200, "{reply}");
        let (_, c) = h.get(&format!("/v1/panels/B03/claims/{claim_case}")).await;
        assert_eq!(c["status"], expected);
    }

    // #13, twice: one event, and the proof is kept.
    for _ in 0..2 {
        let (status, reply) = h
            .b03
            .send_claim_payment(loan, &policy, 6_000_000, "Pembayaran klaim", pdf())
            .await
            .unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    let (_, c) = h.get(&format!("/v1/panels/B03/claims/{claim_case}")).await;
    assert_eq!(c["status"], "claim_paid");
    assert_eq!(c["parent"], policy_case.as_str());
    let payments: Vec<Value> = h
        .all_events()
        .await
        .into_iter()
        .filter(|e| e["kind"] == "claim_payment")
        .collect();
    assert_eq!(payments.len(), 1, "the same payment delivered twice is one event");
    let proof = &payments[0]["payload"]["detail"]["claim_payment"]["proof"];
    let (status, _) = h
        .admin_get(&format!(
            "/admin/attachments/{}",
            proof["attachment_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        payments[0]["payload"]["detail"]["claim_payment"]["amount"]["amount"],
        "6000000"
    );
}

#[tokio::test]
async fn every_outbound_endpoint_is_reached_with_the_panels_credentials() {
    let h = start().await;
    // A full life journey touches all nine panel endpoints.
    h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    let (cbc, body) = issue(&h, "A03", "accept-cbc", "ALL-CBC").await;
    let code = body["result"]["requirements"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    h.upload(
        &format!("/v1/panels/A03/policies/{cbc}/documents"),
        &code,
        "d.pdf",
        pdf(),
    )
    .await;
    h.a03
        .send_cbc_decision("ALL-CBC", "DISETUJUI", 0, "ok")
        .await
        .unwrap();
    let (status, _) = h
        .post(
            &format!("/v1/panels/A03/policies/{cbc}/confirm"),
            &example("A03", "confirm"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (pending, _) = issue(&h, "A03", "accept-cbc", "ALL-WD").await;
    h.post(
        &format!("/v1/panels/A03/policies/{pending}/cancel"),
        &example("A03", "cancel-withdrawal"),
    )
    .await;
    let (cac, _) = issue(&h, "A03", "accept-cac", "ALL-CAC").await;
    let mut claim = example("A03", "claim");
    claim["policy_reference"]["value"] = json!("ALL-CAC");
    let (status, body) = h.post("/v1/panels/A03/claims", &claim).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let claim_case = body["case_id"].as_str().unwrap().to_string();
    let code = body["result"]["requirements"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    h.upload(
        &format!("/v1/panels/A03/claims/{claim_case}/documents"),
        &code,
        "d.pdf",
        pdf(),
    )
    .await;
    h.post(
        &format!("/v1/panels/A03/policies/{cac}/cancel"),
        &example("A03", "cancel-inforce"),
    )
    .await;

    let paths: std::collections::BTreeSet<String> = h
        .a03
        .requests()
        .into_iter()
        .filter(|r| r.authorized)
        .map(|r| r.path)
        .collect();
    for endpoint in [
        "/get-rate-premi-panel",
        "/akseptasi/registrasi",
        "/akseptasi/pengajuan-cbc",
        "/akseptasi/dokumen",
        "/akseptasi/konfirmasi-cbc",
        "/pembatalan/inforce",
        "/pembatalan/pengajuan-akseptasi",
        "/klaim/registrasi",
        "/klaim/dokumen",
    ] {
        assert!(paths.contains(endpoint), "{endpoint} not reached: {paths:?}");
    }
}

#[tokio::test]
async fn every_creating_example_gets_a_2xx_from_its_route() {
    let h = start().await;
    for panel in ["A03", "B03", "aagi-motor", "julo", "bcs"] {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(panel);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .file_name()
                    .to_string_lossy()
                    .trim_end_matches(".json")
                    .to_string()
            })
            .collect();
        names.sort();
        // Quotes and acceptances first: the claim example claims on the automatic-cover policy.
        let route = |name: &str| match name {
            n if n.starts_with("quote") => Some((0, "quotes")),
            n if n.starts_with("accept") => Some((1, "policies")),
            n if n.starts_with("claim") => Some((2, "claims")),
            _ => None,
        };
        names.retain(|n| route(n).is_some());
        names.sort_by_key(|n| route(n).map(|r| r.0));
        assert!(!names.is_empty(), "{panel}: {names:?}");
        for name in names {
            let (_, path) = route(&name).unwrap();
            let (status, body) = h
                .post(&format!("/v1/panels/{panel}/{path}"), &example(panel, &name))
                .await;
            assert!(status.is_success(), "{panel}/{name}.json: {status} {body}");
        }
    }
}
