//! Contract 2.0.0 at the portal: extensions typed by the schemas an adapter declares, each
//! panel's own OpenAPI, the portal's idempotency key handed to the adapter, and the operations
//! 2.0 added.

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn extensions_are_checked_against_the_schema_the_adapter_declares() {
    let h = start().await;
    // BCS declares `office` (string or number) and nothing else on quotes.
    let mut quote = example("bcs", "quote-life");
    quote["extensions"] = json!({ "office": ["6005"] });
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(issue_paths(&body), ["extensions.office"], "{body}");
    quote["extensions"] = json!({ "office": "6005", "branch": "x" });
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(issue_paths(&body), ["extensions"], "{body}");
    assert!(
        body.to_string().contains("branch"),
        "the unknown key is named: {body}"
    );
    // Refused before the partner heard of it.
    assert!(h.bcs.requests().is_empty(), "{:?}", h.bcs.requests());
    quote["extensions"] = json!({ "office": 6005 });
    let (status, body) = h.post("/v1/panels/bcs/quotes", &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // AAGI declares none: a 2.0 adapter that declares nothing takes nothing.
    let mut quote = example("aagi-motor", "quote");
    quote["extensions"] = json!({ "customer_name": "x" });
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &quote).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(issue_paths(&body), ["extensions"], "{body}");
    assert!(body.to_string().contains("takes no extensions"), "{body}");
}

#[tokio::test]
async fn each_panel_publishes_its_own_api_with_its_extensions_typed() {
    let h = start().await;
    let response = h
        .client
        .get(h.url("/v1/panels/bcs/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let doc: serde_json::Value = response.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let quote = &paths["/v1/panels/bcs/quotes"]["post"];
    let schema = &quote["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        schema["allOf"][1]["properties"]["extensions"]["properties"]["office"]["type"],
        json!(["string", "integer"]),
        "{schema}"
    );
    assert_eq!(
        schema["allOf"][0]["$ref"], "#/components/schemas/QuoteRequest",
        "the core resource, narrowed: {schema}"
    );
    // What it answers: the result inside the answer that names the adapter and the journal.
    let answer = &quote["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        answer["properties"]["result"]["$ref"], "#/components/schemas/Quotation",
        "{answer}"
    );
    assert_eq!(
        answer["required"],
        json!(["adapter", "journal_id", "result"]),
        "{answer}"
    );
    // Only what the adapter implements: BCS polls no worklist and takes no claims.
    assert!(
        !paths.contains_key("/v1/panels/bcs/worklist"),
        "{:?}",
        paths.keys()
    );
    assert!(!paths.contains_key("/v1/panels/bcs/claims"), "{:?}", paths.keys());
    assert!(
        quote["parameters"]
            .as_array()
            .is_none_or(|p| p.iter().all(|p| p["name"] != "panel")),
        "the panel is in the path already: {quote}"
    );
    // The global document carries every panel's declared schemas among its components.
    let (status, global) = h.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    // Calls take the bearer token, but for the open ones.
    assert_eq!(
        global["security"],
        json!([{ "bearer": [] }]),
        "{}",
        global["security"]
    );
    assert_eq!(global["paths"]["/healthz"]["get"]["security"], json!([]));
    assert_eq!(
        global["paths"]["/callbacks/{panel}/{path}"]["post"]["security"],
        json!([])
    );
    assert!(
        global["paths"]["/v1/panels"]["get"].get("security").is_none(),
        "the document's own"
    );
    for (path, result) in [
        (
            "/v1/panels/{panel}/policies/{case}/cancellation-quote",
            "CancellationQuote",
        ),
        ("/v1/panels/{panel}/quote-declines", "NotifyReceipt"),
    ] {
        let answer =
            &global["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(
            answer["properties"]["result"]["$ref"],
            format!("#/components/schemas/{result}"),
            "{path}: the answer, not the bare result: {answer}"
        );
    }
    assert_eq!(
        global["components"]["schemas"]["bcs.accept.extensions.input"]["properties"]["account_type"]["type"],
        "string",
        "{}",
        global["components"]["schemas"]
    );
    let response = h
        .client
        .get(h.url("/v1/panels/nope/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_adapter_gets_a_key_that_is_stable_for_one_operation_and_new_for_another() {
    let h = start_with(&format!(
        r#"
[adapters.probe]
path = "{path}"
[panels.probe]
adapter = "probe"
base_url = "http://127.0.0.1:9"
"#,
        path = guests::PROBE
    ))
    .await;
    let decline = |key: &'static str, quote: &'static str| {
        let request = h
            .client
            .post(h.url("/v1/panels/probe/quote-declines"))
            .bearer_auth(PORTAL)
            .json(&json!({ "quote_reference": quote }))
            .header("Idempotency-Key", key);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            body["result"]["reference"].clone()
        }
    };
    let first = decline("k-1", "Q-1").await;
    let text = first.as_str().expect("the probe answers the key it got");
    assert_eq!(text.len(), 32, "{text}");
    assert_ne!(
        text, "k-1",
        "the partner gets a key derived from the portal's, not the portal's own"
    );
    assert_eq!(
        decline("k-1", "Q-1").await,
        first,
        "a retry is the same operation"
    );
    let other = decline("k-2", "Q-2").await;
    assert!(
        other.is_string() && other != first,
        "another operation gets another key"
    );
    // A state change without a key is refused before the adapter runs: it never gets one
    // without a key.
    // post_raw sends no Idempotency-Key.
    let decline = json!({ "quote_reference": "Q-3" }).to_string();
    let (status, body) = h
        .post_raw("/v1/panels/probe/quote-declines", &decline, PORTAL)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["path"], "Idempotency-Key", "{body}");
}

#[tokio::test]
async fn operations_2_0_added_answer_501_where_the_adapter_lacks_them() {
    let h = start().await;
    let (status, body) = h
        .post(
            "/v1/panels/aagi-motor/quote-declines",
            &json!({ "quote_reference": "Q-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    let (status, body) = h
        .post(
            "/v1/panels/bcs/quote-declines",
            &json!({ "quote_reference": " " }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(issue_paths(&body), ["quote_reference"], "{body}");
}
