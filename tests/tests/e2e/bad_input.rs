//! One test per class of bad input: each gets a clear error naming what was wrong, and none
//! leaves a half-written record.

use crate::common::*;
use panelgate_tests::sim::aap::Fault;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400() {
    let h = start().await;
    let (status, body) = h
        .post_raw("/v1/panels/A03/quotes", "{\"product\": ", PORTAL)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_json");
}

#[tokio::test]
async fn a_missing_field_is_422_naming_it() {
    let h = start().await;
    let mut quote = example("A03", "quote");
    quote.as_object_mut().unwrap().remove("interest");
    let (status, body) = h.post("/v1/panels/A03/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "interest", "{body}");
    assert!(
        body["error"]["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("interest"),
        "{body}"
    );

    // A field the partner needs but the canonical model leaves optional: named by the adapter.
    let mut quote = example("A03", "quote");
    quote["parties"][0]["detail"]["person"]
        .as_object_mut()
        .unwrap()
        .remove("birth_date");
    let (status, body) = h.post("/v1/panels/A03/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["issues"][0]["path"],
        "parties[0].detail.person.birth_date"
    );
    assert!(body["error"]["journal_id"].is_string());
}

#[tokio::test]
async fn a_wrong_type_is_422_with_its_path() {
    let h = start().await;
    let mut quote = example("A03", "quote");
    quote["interest"]["credit_life"]["tenor_months"] = json!("ten years");
    let (status, body) = h.post("/v1/panels/A03/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["issues"][0]["path"],
        "interest.credit_life.tenor_months"
    );
}

#[tokio::test]
async fn an_unknown_panel_is_404() {
    let h = start().await;
    let (status, body) = h.post("/v1/panels/Z99/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"].as_str().unwrap().contains("Z99"));
}

#[tokio::test]
async fn an_operation_the_adapter_does_not_declare_is_501_without_calling_it() {
    let h = start().await;
    let before = h.a03.requests().len();
    let (status, body) = h.get("/v1/panels/A03/lookups/products").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_operation");
    let (status, _) = h.get("/v1/panels/A03/worklist").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(h.a03.requests().len(), before);
}

#[tokio::test]
async fn a_bad_token_is_401() {
    let h = start().await;
    let (status, body) = h.post_raw("/v1/panels/A03/quotes", "{}", "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    // The admin token is not a portal token, nor the other way round.
    let (status, _) = h.post_raw("/v1/panels/A03/quotes", "{}", ADMIN).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let response = h
        .client
        .get(h.url("/admin/journal"))
        .bearer_auth(PORTAL)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // A 401 names the scheme it takes; the scheme's name is case-insensitive.
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = h
        .client
        .get(h.url("/v1/panels"))
        .header("authorization", format!("bearer {PORTAL}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "`bearer` is `Bearer`");
}

#[tokio::test]
async fn bad_callback_credentials_are_401_and_change_nothing() {
    let h = start().await;
    let body = r#"{"ID_Loan":"X1","No_Polis":"P1","Status":"DISETUJUI"}"#;
    let (status, text) = h
        .a03
        .send_raw_callback("post-status-pembatalan", body, CALLBACK_USER, "wrong")
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(text.contains("Invalid Username or Password"));
    // The panel's own outbound credentials are not callback credentials.
    let (status, _) = h
        .a03
        .send_raw_callback("post-status-pembatalan", body, PANEL_USER, PANEL_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(h.all_events().await.is_empty());
}

#[tokio::test]
async fn a_malformed_callback_gets_aaps_400_and_is_stored_flagged_when_the_case_is_unknown() {
    let h = start().await;
    // The spec's own #12 example leaves TAHAN unquoted: invalid JSON, refused.
    let broken =
        r#"{"ID_Loan":"TESANDI4","Status":TAHAN,"Keterangan":"Kurang KTP","No_Polis":"1032311000648"}"#;
    let (status, text) = h
        .a03
        .send_raw_callback("post-status", broken, CALLBACK_USER, CALLBACK_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("Format data tidak sesuai"));
    // Well-formed, for a claim nobody filed: accepted, stored, flagged, not dropped.
    let fine =
        r#"{"ID_Loan":"TESANDI4","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"1032311000648"}"#;
    let (status, _) = h
        .a03
        .send_raw_callback("post-status", fine, CALLBACK_USER, CALLBACK_PASSWORD)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let events = h.all_events().await;
    assert_eq!(events.len(), 1);
    assert!(events[0]["case_id"].is_null());
    assert!(
        events[0]["flagged"]
            .as_str()
            .unwrap()
            .contains("TESANDI4/1032311000648")
    );
    let (_, callbacks) = h.admin_get("/admin/panels/A03/callbacks").await;
    assert_eq!(callbacks.as_array().unwrap().len(), 2, "{callbacks}");
}

#[tokio::test]
async fn partner_400_and_401_are_their_own_typed_errors() {
    let h = start().await;
    h.a03.set_fault(Some(Fault::HttpStatus(400)));
    let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_bad_request");
    h.a03.set_fault(Some(Fault::HttpStatus(401)));
    let (status, body) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_unauthorized");
}

#[tokio::test]
async fn an_unreachable_partner_is_503() {
    let (port, _refusing) = refusing_port();
    let extra = format!(
        r#"
[panels.DEAD]
adapter = "aap-h2h"
base_url = "http://127.0.0.1:{port}"
settings = {{ line = "life" }}
[panels.DEAD.credentials.partner]
kind = "basic"
username = {{ value = "u" }}
password = {{ value = "p" }}
[panels.DEAD.callback_auth]
kind = "basic"
username = {{ value = "{CALLBACK_USER}" }}
password = {{ value = "{CALLBACK_PASSWORD}" }}
"#
    );
    let h = start_with(&extra).await;
    let (status, body) = h.post("/v1/panels/DEAD/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "partner_unavailable");
    assert!(body["error"]["journal_id"].is_string());
}

/// A request that changes state at the partner without an `Idempotency-Key` is refused before
/// anything runs, naming the header: its ordinary retry would otherwise act twice. (Before, it
/// ran, and a portal's retry after a timeout placed the policy again.) A quote reads, and runs
/// without one. The document says which routes require it.
#[tokio::test]
async fn a_state_change_without_an_idempotency_key_is_422_and_the_partner_never_sees_it() {
    let h = start().await;
    let (status, cases_before) = h.admin_get("/admin/cases?panel=A03").await;
    assert_eq!(status, StatusCode::OK, "{cases_before}");
    // post_raw sends no Idempotency-Key.
    let accept = example("A03", "accept-cac").to_string();
    let (status, body) = h.post_raw("/v1/panels/A03/policies", &accept, PORTAL).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "Idempotency-Key", "{body}");
    assert!(h.a03.requests().is_empty(), "the partner saw it");
    let (_, cases_after) = h.admin_get("/admin/cases?panel=A03").await;
    assert_eq!(cases_after, cases_before, "no case was opened");
    let response = h
        .client
        .post(h.url("/v1/panels/A03/quotes"))
        .bearer_auth(PORTAL)
        .json(&example("A03", "quote"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "a quote needs no key");
    // A key with a space or a tab inside is no key: 422, and nothing reaches the partner.
    let seen = h.a03.requests().len();
    for key in ["a b", "a\tb"] {
        let response = h
            .client
            .post(h.url("/v1/panels/A03/policies"))
            .bearer_auth(PORTAL)
            .header("Idempotency-Key", key)
            .json(&example("A03", "accept-cac"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{key:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["issues"][0]["path"], "Idempotency-Key", "{body}");
    }
    assert_eq!(
        h.a03.requests().len(),
        seen,
        "the partner saw a request with a spaced key"
    );

    let (_, document) = h.get("/openapi.json").await;
    let key_of = |path: &str| {
        document["paths"][path]["post"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "Idempotency-Key").cloned())
            .unwrap_or_else(|| panic!("{path} documents no Idempotency-Key"))
    };
    assert_eq!(key_of("/v1/panels/{panel}/policies")["required"], true);
    assert_eq!(
        key_of("/v1/panels/{panel}/policies/{case}/cancel")["required"],
        true
    );
    assert_eq!(key_of("/v1/panels/{panel}/quotes")["required"], false);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let h = start().await;
    let send = |body: serde_json::Value| {
        let h = &h;
        async move {
            let r = h
                .client
                .post(h.url("/v1/panels/A03/policies"))
                .bearer_auth(PORTAL)
                .header("Idempotency-Key", "k-1")
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let body = example("A03", "accept-cac");
    let (first_status, first) = send(body.clone()).await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    let (again_status, again) = send(body.clone()).await;
    assert_eq!(again_status, StatusCode::CREATED);
    assert_eq!(first, again, "the stored response is replayed");
    let issued = h
        .a03
        .requests()
        .iter()
        .filter(|r| r.path == "/akseptasi/registrasi")
        .count();
    assert_eq!(issued, 1, "the partner was called once");
    let mut other = body;
    other["premium"]["amount"] = json!("1");
    let (status, err) = send(other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
async fn an_upload_that_is_not_a_pdf_form_is_422_before_the_partner_sees_it() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case = body["case_id"].as_str().unwrap();
    let path = format!("/v1/panels/A03/policies/{case}/documents");
    let (status, body) = h.post_raw(&path, "{}", PORTAL).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["issues"][0]["message"]
            .as_str()
            .unwrap()
            .contains("multipart")
    );
    let before = h.a03.requests().len();
    let (status, body) = h
        .upload(&path, "B-BJTM-0001", "photo.gif", b"GIF89a".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "file");
    assert_eq!(
        h.a03.requests().len(),
        before,
        "the adapter refused it before any call"
    );
}

#[tokio::test]
async fn an_oversized_callback_is_413_and_stores_nothing() {
    let h = start().await;
    let (_, before) = h.admin_get("/admin/panels/A03/callbacks").await;
    let huge = vec![b' '; 21 * 1024 * 1024];
    let response = h
        .client
        .post(h.url("/callbacks/A03/post-status"))
        .basic_auth(CALLBACK_USER, Some(CALLBACK_PASSWORD))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (_, after) = h.admin_get("/admin/panels/A03/callbacks").await;
    assert_eq!(before, after, "nothing stored");
}

/// A callback larger than the panel's adapter can hold (a sixteenth of its memory: 1 MiB at
/// 16 MiB), though within the host's body limit, is refused before the adapter runs, as a
/// portal's body is: 413 naming the limit, nothing stored. (Before, the adapter ran out of
/// memory on it and the partner heard 500.)
#[tokio::test]
async fn a_callback_larger_than_its_adapter_holds_is_413_before_it_runs() {
    let h = start_with(&aap_panel("A16", "life", "http://127.0.0.1:9", "memory_mib = 16")).await;
    let (_, before) = h.admin_get("/admin/panels/A16/callbacks").await;
    let note = "x".repeat(2 * 1024 * 1024);
    let body = json!({ "ID_Loan": "BIG-1", "Status": "TAHAN", "Keterangan": note, "No_Polis": "P-1" });
    let response = h
        .client
        .post(h.url("/callbacks/A16/post-status"))
        .basic_auth(CALLBACK_USER, Some(CALLBACK_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "input_too_large", "{answer}");
    let (_, after) = h.admin_get("/admin/panels/A16/callbacks").await;
    assert_eq!(before, after, "nothing stored");
}

#[tokio::test]
async fn a_nul_character_in_any_string_is_never_a_500() {
    let h = start().await;
    for (route, name, pointer, path) in [
        ("/v1/panels/A03/quotes", "quote", "/product", "product"),
        (
            "/v1/panels/A03/policies",
            "accept-cac",
            "/interest/credit_life/account",
            "interest.credit_life.account",
        ),
        ("/v1/panels/A03/policies", "accept-cac", "/product", "product"),
        (
            "/v1/panels/A03/policies",
            "accept-cac",
            "/parties/0/detail/person/full_name",
            "parties[0].detail.person.full_name",
        ),
    ] {
        let mut body = example("A03", name);
        let value = body
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{name} has {pointer}"));
        *value = serde_json::json!(format!("{}\u{0}x", value.as_str().unwrap_or("a")));
        let (status, answer) = h.post(route, &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name} {pointer}: {answer}"
        );
        assert_eq!(answer["error"]["issues"][0]["path"], path);
    }
    let (status, answer) = h.get("/v1/panels/A03/policies/case%00").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["issues"][0]["path"], "url");
    // A path that is no UTF-8 once decoded: the same JSON error, on the portal's routes and the
    // admin's (before, a path parameter's extractor answered plain text).
    for (status, answer) in [
        h.get("/v1/panels/A03/policies/case%FF").await,
        h.admin_get("/admin/panels/%C3%28").await,
    ] {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["issues"][0]["path"], "url", "{answer}");
    }
    // An upload's text field, as a JSON string: refused naming the part, AAP never asked.
    let (status, body) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case = body["case_id"].as_str().unwrap();
    let before = h.a03.requests().len();
    let (status, answer) = h
        .upload(
            &format!("/v1/panels/A03/policies/{case}/documents"),
            "B-BJTM-0001\u{0}",
            "doc.pdf",
            pdf(),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["issues"][0]["path"], "code", "{answer}");
    assert_eq!(h.a03.requests().len(), before, "AAP was not asked");
}

/// A feed cursor that is not this feed's (past its last position: another store's, a restored
/// backup's) or negative is 422 naming `after`; the last position itself is an empty page.
/// (Before, it answered an empty page and the same cursor back: the portal waited in silence,
/// missing every event, until the feed caught up with it.)
#[tokio::test]
async fn a_cursor_from_another_feed_is_422_naming_after() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cac"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, page) = h.get("/v1/events?after=").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let head: i64 = page["next_cursor"].as_str().unwrap().parse().unwrap();
    assert!(head > 0, "{page}");
    let (status, page) = h.get(&format!("/v1/events?after={head}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["events"], json!([]));
    for after in [format!("{}", head + 1_000), "-1".to_string()] {
        let (status, body) = h.get(&format!("/v1/events?after={after}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{after}: {body}");
        assert_eq!(body["error"]["issues"][0]["path"], "after", "{body}");
    }
}
