//! JULO end to end: the whole credit-limit application, reference lookups, and JULO's refusals.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

async fn register(h: &Harness) -> (String, String) {
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case = body["case_id"].as_str().unwrap().to_string();
    let xid = body["result"]["references"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    (case, xid)
}

async fn step(h: &Harness, case: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    h.post(&format!("/v1/panels/julo/policies/{case}/confirm"), &body)
        .await
}

#[tokio::test]
async fn the_whole_credit_limit_application() {
    let h = start().await;
    // #5, #6, #1: checked, then registered.
    let (case, xid) = register(&h).await;
    let (_, c) = h.get(&format!("/v1/panels/julo/policies/{case}")).await;
    assert_eq!(c["kind"], "credit_application");
    assert_eq!(c["status"], "pending_documents");

    // #3: KTP and selfie.
    for code in ["ktp_self", "selfie"] {
        let (status, body) = h
            .upload(
                &format!("/v1/panels/julo/policies/{case}/documents"),
                code,
                "photo.jpg",
                b"\xff\xd8\xff jpeg".to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // #7, #8: the phone, confirmed with the OTP the customer received.
    let (status, body) = step(&h, &case, example("julo", "confirm-send-otp")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let otp = h.julo.otp_for(&xid).expect("an OTP was sent");
    let (status, body) = step(&h, &case, json!({ "step": { "verify_otp": otp } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The photos and the verified phone are what registration asked for: all received now.
    let (_, c) = h.get(&format!("/v1/panels/julo/policies/{case}")).await;
    let requirements = c["requirements"].as_array().expect("requirements");
    assert!(!requirements.is_empty(), "{c}");
    for requirement in requirements {
        assert_eq!(requirement["status"], "received", "{requirement} in {c}");
    }
    // #4 and #11: supporting data.
    let (status, body) = step(&h, &case, example("julo", "confirm-bpjs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["result"]["link"].as_str().unwrap().starts_with("https://"));
    let (status, body) = step(&h, &case, example("julo", "confirm-bank-import")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["result"]["message"].as_str().unwrap().contains("initiated"));
    // #2: the full application; JULO decides later.
    let (status, body) = step(&h, &case, example("julo", "confirm-complete-application")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, c) = h.get(&format!("/v1/panels/julo/policies/{case}")).await;
    assert_eq!(c["status"], "pending_underwriting");

    // Every call carried JULO's headers; the customer's PIN and bank password stayed out of the journal.
    assert!(h.julo.requests().iter().all(|(_, ok)| *ok));
    let (_, journal) = h.admin_get("/admin/journal?limit=1000").await;
    let text = journal.to_string();
    for secret in ["159357", "password_example", JULO_SECRET] {
        assert!(!text.contains(secret), "`{secret}` is in the journal");
    }
}

#[tokio::test]
async fn reference_lists_come_from_julo() {
    let h = start().await;
    let (status, body) = h.get("/v1/panels/julo/lookups/loan_purposes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "Membeli kendaraan")
    );
    let (_, body) = h.get("/v1/panels/julo/lookups/jobs?job_industry=Kesehatan").await;
    assert!(
        body["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "Apoteker"),
        "{body}"
    );
    let (status, body) = h.get("/v1/panels/julo/lookups/cities").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "province");
}

#[tokio::test]
async fn julo_refuses_what_it_should_and_the_portal_hears_why() {
    let h = start().await;
    // A missing PIN is named before any call.
    let mut accept = example("julo", "accept");
    accept["interest"]["credit_limit"]
        .as_object_mut()
        .unwrap()
        .remove("pin");
    let (status, body) = h.post("/v1/panels/julo/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "interest.credit_limit.pin");
    assert!(h.julo.requests().is_empty());

    // A weak PIN: JULO's check, reported on the field.
    let mut accept = example("julo", "accept");
    accept["interest"]["credit_limit"]["pin"] = json!("123456");
    let (status, body) = h.post("/v1/panels/julo/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "interest.credit_limit.pin");

    // Registered once; the second time the pre-register check says no.
    let (case, _) = register(&h).await;
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");

    // A phone JULO refuses: its 400 envelope, JULO's message to the portal.
    let (status, body) = step(&h, &case, json!({ "step": { "send_otp": "12345" } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");

    // An image type JULO does not have.
    let (status, _) = h
        .upload(
            &format!("/v1/panels/julo/policies/{case}/documents"),
            "passport_photo",
            "p.jpg",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_wrong_secret_key_is_partner_unauthorized() {
    let h = start().await;
    let extra = r#"
[panels.julo-bad]
adapter = "julo"
base_url = "{JULO}"
[panels.julo-bad.credentials.partner]
kind = "api-key"
headers = { secret-key = { value = "wrong" }, username = { value = "partner" } }
"#
    .replace("{JULO}", &h.julo.base_url());
    let base = h.another_host(&extra).await;
    let (status, body) = h.get_from(&base, "/v1/panels/julo-bad/lookups/banks").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "partner_unauthorized");
}

fn requested(h: &Harness, endpoint: &str) -> bool {
    h.julo.requests().iter().any(|(path, _)| path == endpoint)
}

#[tokio::test]
async fn a_pin_julo_calls_weak_with_http_400_never_registers() {
    let h = start().await;
    let mut accept = example("julo", "accept");
    accept["interest"]["credit_limit"]["pin"] = json!("123456");
    let (status, body) = h.post("/v1/panels/julo/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "interest.credit_limit.pin");
    assert!(
        body["error"]["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PIN is weak"),
        "{body}"
    );
    assert!(!requested(&h, "customer"), "a weak PIN went on to registration");
}

#[tokio::test]
async fn a_strong_pin_check_that_fails_stops_registration() {
    let h = start().await;
    h.julo
        .fail_next("check-strong-pin", 401, "Invalid secret-key or username");
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_unauthorized");
    h.julo.fail_next("check-strong-pin", 503, "maintenance");
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    // A 5xx after the request left is in doubt for the host; registration never follows it.
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("HTTP 503"),
        "{body}"
    );
    assert!(
        !requested(&h, "customer"),
        "registration went on without a strong PIN"
    );
}

#[tokio::test]
async fn julo_refusals_at_http_400_are_rejected_with_julo_message() {
    let h = start().await;
    let (case, _) = register(&h).await;
    // NIK already registered (pre-register check, 400 with JULO's envelope).
    let (status, body) = h
        .post("/v1/panels/julo/policies", &example("julo", "accept"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sudah terdaftar"),
        "{body}"
    );
    // JULO could not send the OTP.
    h.julo.fail_next("otp", 400, "Gagal mengirim OTP");
    let (status, body) = step(&h, &case, example("julo", "confirm-send-otp")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Gagal mengirim OTP"),
        "{body}"
    );
    // A wrong OTP.
    let (status, body) = step(&h, &case, example("julo", "confirm-send-otp")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = step(&h, &case, json!({ "step": { "verify_otp": "000000" } })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "rejected");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("OTP salah"),
        "{body}"
    );
}

#[tokio::test]
async fn sub_districts_come_with_their_postal_codes() {
    let h = start().await;
    let (status, body) = h
        .get("/v1/panels/julo/lookups/sub-districts?province=DKI%20Jakarta&city=Jakarta%20Barat&district=Cengkareng")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["result"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["code"], "Cengkareng Barat");
    assert_eq!(items[0]["label"], "Cengkareng Barat (11730)");
    assert_eq!(items[0]["parent"], "Cengkareng");
}

#[tokio::test]
async fn an_upload_that_is_not_an_image_is_refused_before_julo() {
    let h = start().await;
    let (case, _) = register(&h).await;
    for (name, data) in [
        ("ktp.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()),
        ("ktp.jpg", b"not really a jpeg".to_vec()),
    ] {
        let (status, body) = h
            .upload(
                &format!("/v1/panels/julo/policies/{case}/documents"),
                "ktp_self",
                name,
                data,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["issues"][0]["path"], "file", "{body}");
    }
    assert!(!requested(&h, "images"), "a file that is no image went to JULO");
}

#[tokio::test]
async fn the_complete_application_waits_for_the_validated_otp() {
    let h = start().await;
    let (case, _) = register(&h).await;
    for code in ["ktp_self", "selfie"] {
        let (status, body) = h
            .upload(
                &format!("/v1/panels/julo/policies/{case}/documents"),
                code,
                "photo.jpg",
                b"\xff\xd8\xff jpeg".to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = step(&h, &case, example("julo", "confirm-send-otp")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Sent, not yet validated: refused here, naming the step, and JULO never sees it.
    let (status, body) = step(&h, &case, example("julo", "confirm-complete-application")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("verify_otp"),
        "{body}"
    );
    assert!(
        !requested(&h, "applications"),
        "the application went to JULO before the OTP"
    );
}

#[tokio::test]
async fn lookup_values_reach_julo_encoded_in_full() {
    let h = start().await;
    let (status, body) = h
        .get("/v1/panels/julo/lookups/jobs?job_industry=Sales%20%231%3Fx%3Dy%20%3B%20%22z%22")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let queries = h.julo.lookup_queries();
    assert_eq!(
        queries
            .last()
            .and_then(|q| q.get("job_industry"))
            .map(String::as_str),
        Some("Sales #1?x=y ; \"z\""),
        "{queries:?}"
    );
}

#[tokio::test]
async fn what_julo_would_refuse_is_named_before_any_call() {
    let h = start().await;
    // Spec 5.1's "valid email": a domain without a dot is refused before the pre-register check.
    let mut accept = example("julo", "accept");
    accept["parties"][0]["detail"]["person"]["email"] = json!("budi.s@gmail");
    let (status, body) = h.post("/v1/panels/julo/policies", &accept).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["issues"][0]["path"],
        "parties[0].detail.person.email"
    );
    assert!(h.julo.requests().is_empty(), "{:?}", h.julo.requests());

    // Spec 5.2's "Mandatory | YES" fields, blank: named, and JULO never sees the application.
    let (case, xid) = register(&h).await;
    let (status, body) = step(&h, &case, example("julo", "confirm-send-otp")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let otp = h.julo.otp_for(&xid).expect("an OTP was sent");
    let (status, body) = step(&h, &case, json!({ "step": { "verify_otp": otp } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut complete = example("julo", "confirm-complete-application");
    let details = &mut complete["step"]["complete_application"];
    details["parties"][0]["detail"]["person"]["full_name"] = json!("");
    details["application"]["bank_account"]["number"] = json!("   ");
    let (status, body) = step(&h, &case, complete).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths: Vec<&str> = body["error"]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["path"].as_str())
        .collect();
    for path in [
        "step.complete_application.parties[0].detail.person.full_name",
        "step.complete_application.application.bank_account.number",
    ] {
        assert!(paths.contains(&path), "{path} not in {body}");
    }
    assert!(!requested(&h, "applications"), "a blank field went to JULO");
}

/// The spec gives no HTTP status for a failure; JULO's envelope on a 404 is an application it
/// does not know, and on a 429 a JULO that cannot answer now: neither is a final `rejected`.
#[tokio::test]
async fn julo_not_knowing_the_application_or_too_busy_is_no_rejection() {
    let h = start().await;
    let (case, _) = register(&h).await;
    h.julo.fail_next("images", 404, "application not found");
    let (status, body) = h
        .upload(
            &format!("/v1/panels/julo/policies/{case}/documents"),
            "ktp_self",
            "photo.jpg",
            b"\xff\xd8\xff jpeg".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application not found"),
        "{body}"
    );
    h.julo.fail_next("dropdown-data", 429, "too many requests");
    let (status, body) = h.get("/v1/panels/julo/lookups/banks").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "partner_unavailable");
    // Retried, it answers.
    let (status, body) = h.get("/v1/panels/julo/lookups/banks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
