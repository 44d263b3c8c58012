//! AAGI motor end to end: quick quotes, issuing for a person and a company, an inspection that
//! holds the policy, status, and cancellation within (and after) the issue day.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn quick_quote_prices_the_default_cover_with_vat_and_stamp() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/aagi-motor/quotes", &example("aagi-motor", "quote"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let option = &body["result"]["options"][0];
    assert_eq!(option["plan"], "VMI1");
    assert_eq!(option["premium"]["currency"], "THB");
    // 600,000 THB default sum insured: net 18,600, stamp 75, VAT 1,307.25.
    assert_eq!(option["premium"]["amount"], "19982.25");
    assert_eq!(option["taxes"]["amount"], "1382.25");
    assert!(
        option["coverages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "RA85")
    );
    assert!(h.aagi.requests().iter().all(|(_, authorized)| *authorized));

    // Mode 1.2: a given sum insured.
    let mut quote = example("aagi-motor", "quote");
    quote["sum_insured"] = json!({ "amount": "700000", "currency": "THB" });
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["result"]["options"][0]["coverages"][0]["sum_insured"]["amount"],
        "700000"
    );
}

#[tokio::test]
async fn broken_conditional_rules_are_named_before_any_call() {
    let h = start().await;
    let mut quote = example("aagi-motor", "quote");
    quote["plan"] = json!("VMI2+");
    quote["interest"]["motor"]["garage"] = json!("dealer");
    quote["interest"]["motor"]["registration"]["number"] = serde_json::Value::Null;
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    assert!(paths.iter().any(|p| p == "interest.motor.garage"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p == "interest.motor.registration.number"),
        "{paths:?}"
    );

    let mut accept = example("aagi-motor", "accept");
    accept["consents"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["kind"] != "sanction_screening");
    accept["parties"][0]["detail"]["person"]["addresses"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    assert!(paths.iter().any(|p| p == "consents"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p == "parties[0].detail.person.addresses"),
        "{paths:?}"
    );
    assert!(h.aagi.requests().is_empty(), "nothing reached AAGI");
}

#[tokio::test]
async fn a_person_and_a_company_are_issued_and_the_status_follows_the_contract() {
    let h = start().await;
    for name in ["accept", "accept-company"] {
        let (status, body) = h
            .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", name))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!(body["result"]["outcome"], "issued");
        assert!(
            body["result"]["policy"]["number"]
                .as_str()
                .unwrap()
                .starts_with("22-001-M01-")
        );
        let case = body["case_id"].as_str().unwrap();
        let (status, c) = h.get(&format!("/v1/panels/aagi-motor/policies/{case}")).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        assert_eq!(c["status"], "in_force");
    }
    let paths: Vec<String> = h.aagi.requests().into_iter().map(|(p, _)| p).collect();
    assert!(
        paths.iter().any(|p| p == "/v1/motor/contracts/{id}"),
        "status reached #3: {paths:?}"
    );
}

#[tokio::test]
async fn an_old_car_waits_for_inspection_and_the_status_picks_up_the_result() {
    let h = start().await;
    let mut accept = example("aagi-motor", "accept");
    accept["interest"]["motor"]["year"] = json!(2005);
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "pending");
    assert_eq!(body["result"]["requirements"][0]["code"], "car-inspection");
    let case = body["case_id"].as_str().unwrap().to_string();
    let contract = body["result"]["references"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();

    assert!(h.aagi.finish_inspection(&contract, false));
    let (_, c) = h.get(&format!("/v1/panels/aagi-motor/policies/{case}")).await;
    assert_eq!(c["status"], "declined", "{c}");
    let events = h.all_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "status_result" && e["status"] == "declined"),
        "{events:?}"
    );
}

#[tokio::test]
async fn cancel_works_on_the_issue_day_and_is_refused_after_it() {
    let h = start().await;
    let (_, body) = h
        .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", "accept"))
        .await;
    let case = body["case_id"].as_str().unwrap().to_string();
    let (status, body) = h
        .post(
            &format!("/v1/panels/aagi-motor/policies/{case}/cancel"),
            &example("aagi-motor", "cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["status"], "cancelled");

    let (_, body) = h
        .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", "accept"))
        .await;
    let case = body["case_id"].as_str().unwrap().to_string();
    let contract = body["result"]["references"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(h.aagi.age_contract(&contract, 2));
    let (status, body) = h
        .post(
            &format!("/v1/panels/aagi-motor/policies/{case}/cancel"),
            &example("aagi-motor", "cancel"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    assert_eq!(body["error"]["partner_code"], "130");
}

#[tokio::test]
async fn aagi_refusals_keep_their_codes() {
    let h = start().await;
    // FAQ 112: a known customer id with another name.
    let mut accept = example("aagi-motor", "accept");
    accept["parties"][0]["detail"]["person"]["identities"][0]["number"] = json!("1111111111111");
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["partner_code"], "112");
    // A request the simulator finds malformed (a CMI quick quote sent with a VMI package).
    let mut quote = example("aagi-motor", "quote");
    quote["product"] = json!("CMI");
    quote.as_object_mut().unwrap().remove("plan");
    quote["interest"]["motor"]["garage"] = serde_json::Value::Null;
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &quote).await;
    assert_eq!(status, StatusCode::OK, "CMI prices without packages: {body}");
}

#[tokio::test]
async fn a_wrong_gateway_credential_is_partner_unauthorized() {
    let extra = r#"
[panels.aagi-bad]
adapter = "aagi-motor"
base_url = "{AAGI}"
settings = { credential = "partner" }
[panels.aagi-bad.credentials.partner]
kind = "bearer"
token = { value = "wrong" }
"#;
    // The AAGI simulator's address is only known once it runs: start, then reload with it.
    let h = start().await;
    let config = extra.replace("{AAGI}", &h.aagi.base_url());
    let base = h.another_host(&config).await;
    let (status, body) = h
        .post_to(
            &base,
            "/v1/panels/aagi-bad/quotes",
            &example("aagi-motor", "quote"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "partner_unauthorized");
}

#[tokio::test]
async fn a_field_aagi_finds_malformed_is_its_999() {
    let h = start().await;
    // An empty usage code passes the adapter's rules but not AAGI's: its 999.
    let mut quote = example("aagi-motor", "quote");
    quote["interest"]["motor"]["usage"] = json!("");
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &quote).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_bad_request");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("999"),
        "{body}"
    );
}

/// A 500 carrying AAGI's own 999 body is a system error, not an answer: the contract AAGI did
/// create is in doubt (409 `outcome_unknown`), never closed as refused. (Before, the body made
/// it a definite 502 `partner_bad_request`.)
#[tokio::test]
async fn a_system_error_after_issuing_leaves_the_accept_in_doubt() {
    let h = start().await;
    h.aagi.fail_next_issue();
    let (status, body) = h
        .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", "accept"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");
    assert_eq!(
        h.aagi.contracts_per_vin().values().sum::<usize>(),
        1,
        "AAGI created the contract"
    );
}

fn cmi(mut body: serde_json::Value) -> serde_json::Value {
    body["product"] = json!("CMI");
    body.as_object_mut().unwrap().remove("plan");
    body["interest"]["motor"]["garage"] = serde_json::Value::Null;
    body
}

#[tokio::test]
async fn a_cmi_quick_quote_answered_with_null_coverages_is_priced() {
    let h = start().await;
    let (status, body) = h
        .post(
            "/v1/panels/aagi-motor/quotes",
            &cmi(example("aagi-motor", "quote")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let option = &body["result"]["options"][0];
    assert_eq!(option["product"], "CMI");
    assert!(option["plan"].is_null(), "{body}");
    assert_eq!(option["premium"]["currency"], "THB");
    assert!(option["premium"]["amount"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn a_cmi_contract_names_no_coverage_code_outside_the_seeds_list() {
    let h = start().await;
    let (status, body) = h
        .post(
            "/v1/panels/aagi-motor/policies",
            &cmi(example("aagi-motor", "accept")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "issued");
}

#[tokio::test]
async fn a_verify_answered_with_a_null_contract_id_is_pending() {
    let h = start().await;
    let mut accept = example("aagi-motor", "accept");
    accept["mode"] = json!("verify");
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["result"]["outcome"], "pending");
    assert_eq!(body["result"]["references"], json!([]), "{body}");
}

/// A beneficiary who is a person needs a nationality, as the insured does (the seed's tables:
/// "nationality | String | Yes | No" for each): refused naming the field before AAGI is called.
/// (Before, the adapter sent `"nationality": null`, which AAGI would refuse.)
#[tokio::test]
async fn a_beneficiary_person_without_a_nationality_is_refused_before_aagi_sees_it() {
    let h = start().await;
    let mut application = example("aagi-motor", "accept");
    let mut beneficiary = application["parties"][0].clone();
    beneficiary["role"] = json!("beneficiary");
    beneficiary["detail"]["person"]
        .as_object_mut()
        .unwrap()
        .remove("nationality");
    application["parties"].as_array_mut().unwrap().push(beneficiary);
    let index = application["parties"].as_array().unwrap().len() - 1;
    let before = h.aagi.requests().len();
    let (status, body) = h.post("/v1/panels/aagi-motor/policies", &application).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let path = format!("parties[{index}].detail.person.nationality");
    assert!(
        body["error"]["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["path"] == path.as_str()),
        "{body}"
    );
    assert_eq!(h.aagi.requests().len(), before, "AAGI was not called");
}
