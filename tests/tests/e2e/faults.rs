//! Exactly once under everyday faults: a fault-injecting proxy between the host and the AAGI
//! simulator loses, resets, delays and replaces the partner's answers, the portal hangs up, and
//! the store refuses to write. Each test counts the partner's effects per Idempotency-Key (one
//! vehicle per key: AAGI's contracts counted by VIN) and checks what the portal, the journal and
//! `/admin/unknown-outcomes` say.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::faults::{Fault, FaultProxy};
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The AAGI panel behind the proxy: `aagi-faulty`. A short read timeout, so a held answer is a
/// timeout within the test's time, and a breaker that does not open, so every fault is met.
struct Faulty {
    h: Harness,
    sim: AagiSimulator,
    proxy: FaultProxy,
}

const PANEL: &str = "/v1/panels/aagi-faulty/policies";
const CONTRACTS: &str = "POST /v1/motor/contracts ";

async fn faulty() -> Faulty {
    faulty_with(None, AAGI_TOKEN).await
}

/// [`faulty`] on the store at `store_url` rather than [`store_url`]'s choice, the panel
/// presenting `token` to the partner.
async fn faulty_with(store_url: Option<String>, token: &str) -> Faulty {
    let sim = AagiSimulator::start(
        AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("AAGI simulator");
    let proxy = FaultProxy::start(&sim.base_url()).await.expect("proxy");
    let h = start_on(
        store_url,
        &format!(
            r#"
[panels.aagi-faulty]
adapter = "aagi-motor"
base_url = "{proxy}"
settings = {{ credential = "partner" }}
limits = {{ read_timeout_ms = 2000, operation_timeout_ms = 6000, breaker_failures = 100000 }}
[panels.aagi-faulty.credentials.partner]
kind = "bearer"
token = {{ value = "{token}" }}
"#,
            proxy = proxy.base_url()
        ),
    )
    .await;
    Faulty { h, sim, proxy }
}

/// An AAGI application for the vehicle `vin` (17 characters).
fn application(vin: &str) -> Value {
    let mut accept = example("aagi-motor", "accept");
    accept["interest"]["motor"]["vin"] = json!(vin);
    accept
}

fn vin(n: usize) -> String {
    format!("KNDJA7235{n:08}")
}

/// Posts with an Idempotency-Key; the status, the body and the Retry-After header.
async fn post_keyed(h: &Harness, path: &str, key: &str, body: &Value) -> (StatusCode, Value, Option<String>) {
    let response = h
        .client
        .post(h.url(path))
        .bearer_auth(PORTAL)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap_or(Value::Null), retry_after)
}

async fn unknown_outcomes(h: &Harness) -> Vec<Value> {
    let (status, body) = h.admin_get("/admin/unknown-outcomes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

async fn admin_post(h: &Harness, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = h
        .client
        .post(h.url(path))
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Finding 2: the partner acted, its answer never came back (dropped, reset, replaced by a 502,
/// held past the read timeout). The operation is in doubt at once: the portal hears
/// `409 outcome_unknown` with `Retry-After`, its ordinary retry with the same key hears it
/// again and never reaches the partner, the case is `unknown`, and the operation is listed.
#[tokio::test]
async fn a_lost_answer_leaves_the_accept_in_doubt_and_a_retry_places_nothing_twice() {
    let f = faulty().await;
    for (n, fault) in Fault::AFTER_FORWARDING.into_iter().enumerate() {
        let vin = vin(n);
        let key = format!("lost-{n}");
        f.proxy.queue(CONTRACTS, [fault]);
        let (status, body, retry_after) = post_keyed(&f.h, PANEL, &key, &application(&vin)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{fault:?}: {body}");
        assert_eq!(body["error"]["code"], "outcome_unknown", "{fault:?}: {body}");
        assert!(retry_after.is_some(), "{fault:?}: a Retry-After");
        let case_id = body["case_id"].as_str().expect("the case in doubt").to_string();
        let journal_id = body["error"]["journal_id"].as_str().unwrap().to_string();
        assert_eq!(
            f.sim.contracts_per_vin().get(&vin),
            Some(&1),
            "{fault:?}: the partner acted"
        );

        // The portal's ordinary retries: the same answer, and the partner is not asked again.
        for _ in 0..2 {
            let (status, again, retry_after) = post_keyed(&f.h, PANEL, &key, &application(&vin)).await;
            assert_eq!(status, StatusCode::CONFLICT, "{fault:?}: {again}");
            assert_eq!(again["error"]["code"], "outcome_unknown");
            assert_eq!(again["case_id"], case_id.as_str());
            assert!(retry_after.is_some(), "{fault:?}: a replayed Retry-After");
        }
        assert_eq!(
            f.sim.contracts_per_vin().get(&vin),
            Some(&1),
            "{fault:?}: placed twice"
        );

        let (status, case) = f.h.get(&format!("{PANEL}/{case_id}")).await;
        assert_eq!(status, StatusCode::OK, "{case}");
        assert_eq!(case["status"], "unknown", "{fault:?}: {case}");
        let listed = unknown_outcomes(&f.h).await;
        assert!(
            listed.iter().any(|op| op["journal_id"] == journal_id.as_str()),
            "{fault:?}: {journal_id} listed in {listed:?}"
        );
        // The journal has the operation and the exchange that went unanswered.
        let (_, journal) = f.h.admin_get("/admin/journal?panel=aagi-faulty&limit=50").await;
        let entries = journal.as_array().cloned().unwrap_or_default();
        assert!(
            entries.iter().any(|e| e["id"] == journal_id.as_str()
                && e["outcome"].as_str().is_some_and(|o| o.starts_with("unknown"))),
            "{fault:?}: the operation journaled as unknown: {journal}"
        );
    }
}

/// An operator who checked at the partner settles an operation in doubt either way: acted (the
/// case takes the partner's status and reference; the key replays the case) or not (the key is
/// released, and the portal's retry places it now, once).
#[tokio::test]
async fn an_operator_settles_an_operation_in_doubt_either_way() {
    let f = faulty().await;
    // Acted: the partner has the contract.
    f.proxy.queue(CONTRACTS, [Fault::Drop]);
    let (status, body, _) = post_keyed(&f.h, PANEL, "settle-acted", &application(&vin(100))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let journal_id = body["error"]["journal_id"].as_str().unwrap().to_string();
    let case_id = body["case_id"].as_str().unwrap().to_string();
    let settlement = json!({
        "acted": true, "status": "in_force",
        "references": [{ "kind": "contract", "value": "C-checked-by-phone" }],
        "note": "AAGI's portal shows the contract",
    });
    let (status, case) = admin_post(
        &f.h,
        &format!("/admin/unknown-outcomes/{journal_id}"),
        &settlement,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["status"], "in_force");
    // The feed tells a portal following it the status the case took.
    let settled = settled_event(&f.h, &case_id).await;
    assert_eq!(settled["status"], "in_force", "{settled}");
    let (status, again) = admin_post(
        &f.h,
        &format!("/admin/unknown-outcomes/{journal_id}"),
        &settlement,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "settled once: {again}");
    let (status, replay, _) = post_keyed(&f.h, PANEL, "settle-acted", &application(&vin(100))).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["case_id"], case_id.as_str());
    assert_eq!(replay["case"]["status"], "in_force");
    assert!(
        unknown_outcomes(&f.h)
            .await
            .iter()
            .all(|op| op["journal_id"] != journal_id.as_str())
    );
    assert_eq!(f.sim.contracts_per_vin().get(&vin(100)), Some(&1));

    // Not acted: the request never got through (the proxy closed before forwarding).
    f.proxy.queue(CONTRACTS, [Fault::Refuse]);
    let (status, body, _) = post_keyed(&f.h, PANEL, "settle-not", &application(&vin(101))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let journal_id = body["error"]["journal_id"].as_str().unwrap().to_string();
    assert_eq!(f.sim.contracts_per_vin().get(&vin(101)), None);
    let (status, body) = admin_post(
        &f.h,
        &format!("/admin/unknown-outcomes/{journal_id}"),
        &json!({ "acted": true, "note": "x" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "acted needs a status: {body}"
    );
    assert_eq!(body["error"]["issues"][0]["path"], "status");
    let (status, case) = admin_post(
        &f.h,
        &format!("/admin/unknown-outcomes/{journal_id}"),
        &json!({ "acted": false, "note": "AAGI has no contract for this VIN" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(case["status"], "withdrawn");
    let withdrawn = case["id"].as_str().unwrap();
    let settled = settled_event(&f.h, withdrawn).await;
    assert_eq!(settled["status"], "withdrawn", "{settled}");
    let (status, placed, _) = post_keyed(&f.h, PANEL, "settle-not", &application(&vin(101))).await;
    assert_eq!(status, StatusCode::CREATED, "the key was released: {placed}");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(101)), Some(&1));
    // The settlements are journaled.
    let (_, journal) = f.h.admin_get("/admin/journal?panel=aagi-faulty&limit=100").await;
    let text = journal.to_string();
    assert!(
        text.contains("settled by an operator: the partner acted"),
        "{journal}"
    );
    assert!(
        text.contains("settled by an operator: the partner did not act"),
        "{journal}"
    );
}

/// The feed's `outcome_settled` event of case `case_id`.
async fn settled_event(h: &Harness, case_id: &str) -> Value {
    h.all_events()
        .await
        .into_iter()
        .find(|e| e["kind"] == "outcome_settled" && e["case_id"] == case_id)
        .expect("an outcome_settled event")
}

/// Where the partner can tell, the host settles an operation in doubt by itself: a cancel whose
/// answer was lost is asked about through `status` (AAGI's `GET contracts/{id}`, by the contract
/// the case carries), the case takes what the partner reports, the operation leaves the list,
/// and the key replays the settled case.
#[tokio::test]
async fn a_cancel_in_doubt_is_reconciled_through_status_and_its_key_replays_the_settled_case() {
    let f = faulty().await;
    let (status, placed, _) = post_keyed(&f.h, PANEL, "to-cancel", &application(&vin(600))).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let case_id = placed["case_id"].as_str().unwrap().to_string();
    f.proxy.queue("/amendments", [Fault::Drop]);
    let cancel = format!("{PANEL}/{case_id}/cancel");
    let (status, body, _) = post_keyed(&f.h, &cancel, "cancel-1", &example("aagi-motor", "cancel")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown");
    let journal_id = body["error"]["journal_id"].as_str().unwrap().to_string();
    // The partner did cancel: reconciliation finds the contract cancelled.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (status, settled) = loop {
        let (status, body, _) = post_keyed(&f.h, &cancel, "cancel-1", &example("aagi-motor", "cancel")).await;
        if status != StatusCode::CONFLICT {
            break (status, body);
        }
        assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");
        assert!(Instant::now() < deadline, "never reconciled: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::OK, "{settled}");
    assert_eq!(settled["case_id"], case_id.as_str());
    assert_eq!(settled["case"]["status"], "cancelled", "{settled}");
    assert!(
        settled["settled"].as_str().unwrap().starts_with("reconciled"),
        "{settled}"
    );
    assert!(
        unknown_outcomes(&f.h)
            .await
            .iter()
            .all(|op| op["journal_id"] != journal_id.as_str())
    );
    let events = f.h.all_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "outcome_settled" && e["case_id"] == case_id.as_str()),
        "the feed says it was settled"
    );
}

/// A cancel in doubt that never reached the partner is not taken for done: reconciliation asks
/// the partner, whose status still shows the contract in force, and leaves the cancel in doubt
/// for an operator. (Before, any status settled it as `200`: the portal heard its cancel done,
/// the key was spent, and the contract stayed in force.) The operator, who checked, settles it
/// as not acted, and the portal's retry with the same key cancels now, once.
#[tokio::test]
async fn a_cancel_in_doubt_that_the_partner_does_not_show_stays_in_doubt() {
    let f = faulty().await;
    let (status, placed, _) = post_keyed(&f.h, PANEL, "to-keep", &application(&vin(610))).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let case_id = placed["case_id"].as_str().unwrap().to_string();
    f.proxy.queue("/amendments", [Fault::Refuse]);
    let cancel = format!("{PANEL}/{case_id}/cancel");
    let body = example("aagi-motor", "cancel");
    let (status, unknown, _) = post_keyed(&f.h, &cancel, "cancel-lost", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{unknown}");
    assert_eq!(unknown["error"]["code"], "outcome_unknown", "{unknown}");
    let journal_id = unknown["error"]["journal_id"].as_str().unwrap().to_string();
    // Reconciliation asks (a second on, then two more): its status refreshes are journaled.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, journal) = f.h.admin_get("/admin/journal?panel=aagi-faulty&limit=100").await;
        let asked = journal
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["operation"] == "status" && e["case_id"] == case_id.as_str())
            .count();
        if asked >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "never asked the partner: {journal}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, again, _) = post_keyed(&f.h, &cancel, "cancel-lost", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "still in doubt: {again}");
    assert_eq!(again["error"]["code"], "outcome_unknown", "{again}");
    assert!(
        unknown_outcomes(&f.h)
            .await
            .iter()
            .any(|op| op["journal_id"] == journal_id.as_str())
    );
    let (_, case) = f.h.get(&format!("{PANEL}/{case_id}")).await;
    assert_eq!(case["status"], "in_force", "{case}");

    let (status, settled) = admin_post(
        &f.h,
        &format!("/admin/unknown-outcomes/{journal_id}"),
        &json!({ "acted": false, "note": "AAGI shows no amendment for the contract" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{settled}");
    let (status, cancelled, _) = post_keyed(&f.h, &cancel, "cancel-lost", &body).await;
    assert_eq!(status, StatusCode::OK, "the key was released: {cancelled}");
    let (_, case) = f.h.get(&format!("{PANEL}/{case_id}")).await;
    assert_eq!(case["status"], "cancelled", "{case}");
}

/// An operation in doubt whose mark of doubt a store fault holds back is reconciled once the
/// mark is written, not before: here every marking of an in-flight record fails for a while (a
/// trigger put in from outside) while the rest of the store writes, so the status refresh
/// succeeds before the mark lands. (Before, reconciliation then found nothing in doubt to
/// settle, took that for settled and stopped; the mark landed after, and the cancel stayed in
/// doubt until an operator settled it.) Triggers differ per database: PostgreSQL's here, in both
/// passes.
#[tokio::test]
async fn a_reconciliation_waits_for_its_mark_of_doubt() {
    use sqlx::Connection as _;
    let f = faulty_with(Some(fresh_postgres().await), AAGI_TOKEN).await;
    let (status, placed, _) = post_keyed(&f.h, PANEL, "to-cancel-later", &application(&vin(650))).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let case_id = placed["case_id"].as_str().unwrap().to_string();
    let mut conn = sqlx::PgConnection::connect(&f.h.store_url).await.unwrap();
    for sql in [
        "CREATE FUNCTION refuse_marking() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the test refuses to mark'; END $$",
        "CREATE TRIGGER refuse_marking BEFORE UPDATE ON pending FOR EACH ROW EXECUTE FUNCTION refuse_marking()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    f.proxy.queue("/amendments", [Fault::Drop]);
    let cancel = format!("{PANEL}/{case_id}/cancel");
    let body = example("aagi-motor", "cancel");
    let (status, answer, _) = post_keyed(&f.h, &cancel, "cancel-later", &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["error"]["code"], "store_unavailable", "{answer}");
    // The first reconciliation comes a second after the cancel; the mark stays held past it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        unknown_outcomes(&f.h).await.is_empty(),
        "the mark landed while refused"
    );
    sqlx::query("DROP TRIGGER refuse_marking ON pending")
        .execute(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let settled = loop {
        let (status, answer, _) = post_keyed(&f.h, &cancel, "cancel-later", &body).await;
        if status == StatusCode::OK {
            break answer;
        }
        assert!(
            matches!(status, StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE),
            "{status}: {answer}"
        );
        assert!(Instant::now() < deadline, "never reconciled: {answer}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(settled["case"]["status"], "cancelled", "{settled}");
    assert!(
        settled["settled"].as_str().unwrap().starts_with("reconciled"),
        "{settled}"
    );
    assert!(unknown_outcomes(&f.h).await.is_empty());
}

/// Certainly not sent (nobody listens at the partner's address): the key is released, and the
/// retry, once the partner is up, places the business once.
#[tokio::test]
async fn a_refused_connection_releases_the_key() {
    let (port, _refusing) = refusing_port();
    let h = start_with(&format!(
        r#"
[panels.aagi-down]
adapter = "aagi-motor"
base_url = "http://127.0.0.1:{port}"
settings = {{ credential = "partner" }}
limits = {{ breaker_failures = 100000 }}
[panels.aagi-down.credentials.partner]
kind = "bearer"
token = {{ value = "{AAGI_TOKEN}" }}
"#
    ))
    .await;
    let (status, body, _) = post_keyed(
        &h,
        "/v1/panels/aagi-down/policies",
        "down-1",
        &application(&vin(200)),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(unknown_outcomes(&h).await.is_empty(), "nothing in doubt");
    let (status, body, _) = post_keyed(
        &h,
        "/v1/panels/aagi-down/policies",
        "down-1",
        &application(&vin(200)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the key was released, the call made again: {body}"
    );
}

/// Finding 1: the portal hangs up while the accept is at the partner. The operation runs to its
/// end: the case is opened, journaled, and the key replays the answer the portal missed.
#[tokio::test]
async fn a_portal_that_hangs_up_mid_accept_leaves_the_operation_to_finish() {
    let f = faulty().await;
    f.proxy
        .queue(CONTRACTS, [Fault::Delay(Duration::from_millis(1500))]);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let hung_up = impatient
        .post(f.h.url(PANEL))
        .bearer_auth(PORTAL)
        .header("idempotency-key", "hang-up")
        .json(&application(&vin(300)))
        .send()
        .await;
    assert!(hung_up.is_err(), "the portal gave up first");
    // The retry while the operation is still at the partner: in flight, with Retry-After.
    let (status, body, retry_after) = post_keyed(&f.h, PANEL, "hang-up", &application(&vin(300))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_in_flight");
    assert!(retry_after.is_some());
    let deadline = Instant::now() + Duration::from_secs(20);
    let replay = loop {
        let (status, body, _) = post_keyed(&f.h, PANEL, "hang-up", &application(&vin(300))).await;
        if status != StatusCode::CONFLICT {
            break (status, body);
        }
        assert!(Instant::now() < deadline, "the operation never finished: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(replay.0, StatusCode::CREATED, "{}", replay.1);
    let case_id = replay.1["case_id"].as_str().unwrap();
    let (status, case) = f.h.get(&format!("{PANEL}/{case_id}")).await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(300)), Some(&1));
    let (_, journal) = f.h.admin_get("/admin/journal?panel=aagi-faulty&limit=20").await;
    assert!(journal.to_string().contains(case_id), "journaled: {journal}");
}

/// Finding 10: a retry that re-serialises its body (other spacing, other key order) is the same
/// request, and so is an upload sent again with a new multipart boundary.
#[tokio::test]
async fn a_retry_that_reserialises_its_body_is_the_same_request() {
    let h = start().await;
    let accept = application(&vin(400));
    let (status, first, _) = post_keyed(&h, "/v1/panels/aagi-motor/policies", "respaced", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // Pretty-printed, and with the top-level keys in reverse order.
    let object = accept.as_object().unwrap();
    let reversed: serde_json::Map<String, Value> =
        object.iter().rev().map(|(k, v)| (k.clone(), v.clone())).collect();
    let text = serde_json::to_string_pretty(&Value::Object(reversed)).unwrap();
    let response = h
        .client
        .post(h.url("/v1/panels/aagi-motor/policies"))
        .bearer_auth(PORTAL)
        .header("idempotency-key", "respaced")
        .header("content-type", "application/json")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let again: Value = response.json().await.unwrap();
    assert_eq!(again["case_id"], first["case_id"], "replayed, not placed again");
    // Another meaning is still another request.
    let (status, body, _) = post_keyed(
        &h,
        "/v1/panels/aagi-motor/policies",
        "respaced",
        &application(&vin(401)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");

    // An upload: the same parts under two boundaries (reqwest picks a new one per form).
    let (status, case) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cbc"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let path = format!(
        "/v1/panels/A03/policies/{}/documents",
        case["case_id"].as_str().unwrap()
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        let form = reqwest::multipart::Form::new().text("code", "B-BJTM-0001").part(
            "file",
            reqwest::multipart::Part::bytes(pdf())
                .file_name("statement.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        let response = h
            .client
            .post(h.url(&path))
            .bearer_auth(PORTAL)
            .header("idempotency-key", "upload-twice")
            .multipart(form)
            .send()
            .await
            .unwrap();
        answers.push((response.status(), response.json::<Value>().await.unwrap()));
    }
    assert_eq!(answers[0].0, StatusCode::OK, "{}", answers[0].1);
    assert_eq!(answers[1], answers[0], "the second upload replays the first");
}

/// Findings 3 and 8: the store refuses to write (another connection holds SQLite's write lock,
/// or PostgreSQL's lock on the table) after the partner answered. The partner's answer is not
/// lost: the portal hears `503 store_unavailable` with `Retry-After` (never 500), `/readyz` says
/// not ready, and once the store returns the kept outcome is committed and the key replays it:
/// one contract, one case.
#[tokio::test]
async fn a_store_fault_after_the_partner_answered_loses_nothing_and_places_nothing_twice() {
    let f = faulty().await;
    f.proxy
        .queue(CONTRACTS, [Fault::Delay(Duration::from_millis(800))]);
    let h = &f.h;
    let accept = {
        let client = h.client.clone();
        let url = h.url(PANEL);
        let body = application(&vin(500));
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(PORTAL)
                .header("idempotency-key", "store-fault")
                .json(&body)
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().get("retry-after").is_some();
            (
                response.status(),
                retry_after,
                response.json::<Value>().await.unwrap(),
            )
        })
    };
    // Once the request is at the partner (so the host recorded it as running), the store's
    // write lock is taken from outside the host.
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.proxy.counts().0 == 0 {
        assert!(Instant::now() < deadline, "the accept never reached the partner");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lock = StoreLock::take(&h.store_url).await;
    let (status, retry_after, body) = accept.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert!(retry_after, "a Retry-After");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(500)), Some(&1));
    let ready = h.client.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while writes fail"
    );
    // A retry meanwhile does not reach the partner.
    let (status, body, _) = post_keyed(h, PANEL, "store-fault", &application(&vin(500))).await;
    assert!(
        matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT),
        "{status}: {body}"
    );
    assert_eq!(f.sim.contracts_per_vin().get(&vin(500)), Some(&1));
    lock.release().await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        let (status, body, _) = post_keyed(h, PANEL, "store-fault", &application(&vin(500))).await;
        if status == StatusCode::CREATED {
            break (status, body);
        }
        assert!(
            matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT),
            "{status}: {body}"
        );
        assert!(
            Instant::now() < deadline,
            "the kept outcome was never committed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::CREATED);
    let case_id = body["case_id"].as_str().unwrap();
    let (status, case) = h.get(&format!("{PANEL}/{case_id}")).await;
    assert_eq!(status, StatusCode::OK, "{case}");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(500)), Some(&1), "placed once");
    let ready = h.client.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "ready again");
    assert!(unknown_outcomes(h).await.is_empty());
}

/// The outcome's commit refused for good after the partner acted, not for a moment: here a
/// trigger put in from outside skips every update of a case, so the commit finds no case to
/// update and fails. The portal hears a 5xx, but the key stays held: a retry with it is told the
/// request is in flight and does not reach the partner again. (Before, any 5xx with no outcome
/// in doubt let the key go, and the retry placed the vehicle a second time.)
#[tokio::test]
async fn an_outcome_refused_for_good_after_the_partner_acted_keeps_its_key() {
    let f = faulty().await;
    let h = &f.h;
    skip_updates_of_cases(&h.store_url).await;
    let body = application(&vin(700));
    let (status, answer, _) = post_keyed(h, PANEL, "refused-for-good", &body).await;
    assert!(status.is_server_error(), "{status}: {answer}");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(700)), Some(&1), "{answer}");
    let reached = f.proxy.counts().0;
    let (status, answer, _) = post_keyed(h, PANEL, "refused-for-good", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "idempotency_key_in_flight", "{answer}");
    assert_eq!(f.proxy.counts().0, reached, "the retry reached the partner");
    assert_eq!(f.sim.contracts_per_vin().get(&vin(700)), Some(&1), "placed once");
}

/// A store fault holds an accept's outcome back past the age at which the recovery sweep takes
/// an operation for one whose host died (twice the longest operation deadline and 10 s: 14 s
/// here), so the sweep marks it in doubt while the host still holds its answer. When the store
/// takes the kept outcome at last, the outcome settles the doubt: the key replays the answer
/// the portal would have had, the case is the partner's, nothing stays listed in doubt, and the
/// vehicle is placed once. (Before, the kept commit met the case the mark had opened and was
/// tried again forever; the key answered `409 outcome_unknown` for good and the partner's answer
/// was lost.) The sweep is PostgreSQL's, so this runs on PostgreSQL in both passes.
#[tokio::test]
async fn an_outcome_held_back_past_the_sweep_settles_the_doubt() {
    held_back_past_the_sweep(false).await;
}

/// As above, but an operator settles the operation in doubt before the kept outcome lands, and
/// decides (wrongly) that the partner did not act. The settlement stands; the partner's answer,
/// landing after it, is kept beside it: a `late_outcome` journal entry pointing at the
/// operation and a flagged `late_outcome` event, for the operator to compare. (Before, it was
/// tried again forever and written nowhere.)
#[tokio::test]
async fn an_outcome_held_back_past_a_settlement_is_kept_beside_it() {
    held_back_past_the_sweep(true).await;
}

async fn held_back_past_the_sweep(operator_settles_first: bool) {
    use sqlx::Connection as _;
    let store_url = fresh_postgres().await;
    let sim = AagiSimulator::start(
        AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("AAGI simulator");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panelgate.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[server]
listen = "127.0.0.1:0"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "{store_url}"
[sandbox]
operation_timeout_ms = 2000
cache_dir = "{cache}"
[adapters.aagi-motor]
path = "{aagi}"
[panels.aagi-motor]
adapter = "aagi-motor"
base_url = "{sim}"
settings = {{ credential = "partner" }}
[panels.aagi-motor.credentials.partner]
kind = "bearer"
token = {{ value = "{AAGI_TOKEN}" }}
"#,
            cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            aagi = CURRENT.aagi,
            sim = sim.base_url(),
        ),
    )
    .unwrap();
    let base = format!("http://{}", serve_config(&path).await);
    let client = reqwest::Client::new();
    let accept = || async {
        let response = client
            .post(format!("{base}/v1/panels/aagi-motor/policies"))
            .bearer_auth(PORTAL)
            .header("idempotency-key", "held-past-the-sweep")
            .json(&application(&vin(800)))
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let get = |path: &str, token: &str| {
        let request = client.get(format!("{base}{path}")).bearer_auth(token).send();
        async move { request.await.unwrap().json::<Value>().await.unwrap() }
    };
    let admin_get = |path: &'static str| get(path, ADMIN);

    // Every settling of an in-flight record fails, as a store that cannot write would; marking
    // one in doubt (an update) still works, as it would once the store came back.
    let mut conn = sqlx::PgConnection::connect(&store_url).await.unwrap();
    for sql in [
        "CREATE FUNCTION refuse_settling() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the test refuses to settle'; END $$",
        "CREATE TRIGGER refuse_settling BEFORE DELETE ON pending FOR EACH ROW EXECUTE FUNCTION refuse_settling()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    let (status, body) = accept().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert_eq!(sim.contracts_per_vin().get(&vin(800)), Some(&1), "{body}");

    // The sweep marks it in doubt.
    let deadline = Instant::now() + Duration::from_secs(40);
    let journal_id = loop {
        let listed = admin_get("/admin/unknown-outcomes").await;
        if let Some(op) = listed.as_array().and_then(|ops| ops.first()) {
            break op["journal_id"].as_str().expect("a journal id").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the sweep never marked the operation: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (status, body) = accept().await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");

    if operator_settles_first {
        // The operator's settlement goes through; the kept outcome's settling (which stores the
        // key's answer, where the operator's decision releases the key) is refused until the
        // decision is in.
        for sql in [
            "CREATE TRIGGER refuse_answering BEFORE UPDATE ON idempotency FOR EACH ROW EXECUTE FUNCTION refuse_settling()",
            "DROP TRIGGER refuse_settling ON pending",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        let response = client
            .post(format!("{base}/admin/unknown-outcomes/{journal_id}"))
            .bearer_auth(ADMIN)
            .json(&json!({ "acted": false, "note": "not in the partner's portal (yet)" }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let settled: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{settled}");
        assert_eq!(settled["status"], "withdrawn", "{settled}");
        sqlx::query("DROP TRIGGER refuse_answering ON idempotency")
            .execute(&mut conn)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let journal = admin_get("/admin/journal?panel=aagi-motor&limit=50").await;
            if journal.as_array().unwrap().iter().any(|e| {
                e["kind"] == "late_outcome"
                    && e["detail"]["of"] == journal_id.as_str()
                    && e["detail"]["outcome"]["result"]["ok"].is_object()
            }) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the late outcome was never kept: {journal}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let events = get("/v1/events?after=&limit=1000", PORTAL).await;
        assert!(
            events["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "late_outcome"),
            "{events}"
        );
        let outcomes = admin_get("/admin/unknown-outcomes").await;
        assert_eq!(outcomes, json!([]), "the settlement stands");
        return;
    }

    // The store writes again: the kept outcome settles the doubt.
    sqlx::query("DROP TRIGGER refuse_settling ON pending")
        .execute(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = accept().await;
        if status == StatusCode::CREATED {
            break body;
        }
        assert!(
            matches!(status, StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE),
            "{status}: {body}"
        );
        assert!(
            Instant::now() < deadline,
            "the kept outcome never settled the doubt: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        body["journal_id"],
        journal_id.as_str(),
        "the operation's own answer: {body}"
    );
    let case_id = body["case_id"].as_str().expect("a case").to_string();
    let case = get(&format!("/v1/panels/aagi-motor/policies/{case_id}"), PORTAL).await;
    assert_ne!(case["status"], "unknown", "{case}");
    assert_eq!(
        case["status"], body["result"]["status"],
        "the case is the partner's: {case}"
    );
    assert_eq!(admin_get("/admin/unknown-outcomes").await, json!([]));
    let journal = admin_get("/admin/journal?panel=aagi-motor&limit=50").await;
    assert!(
        journal
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "settlement"
                && e["detail"]["of"] == journal_id.as_str()
                && e["detail"]["outcome"]["result"]["ok"].is_object()),
        "the outcome journaled as the settlement: {journal}"
    );
    assert_eq!(sim.contracts_per_vin().get(&vin(800)), Some(&1), "placed once");
}

/// Makes every update of a case in the store at `url` change nothing (a `BEFORE UPDATE` trigger
/// that skips the row).
async fn skip_updates_of_cases(url: &str) {
    use sqlx::Connection as _;
    if url.starts_with("sqlite://") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER skip_case_updates BEFORE UPDATE ON cases BEGIN SELECT RAISE(IGNORE); END",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for sql in [
            "CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
            "CREATE TRIGGER skip_case_updates BEFORE UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION skip_row()",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// Durability by operation class (DESIGN.md, "Storage"): with every commit held back (the
/// store's write lock taken from outside), a quote answers at once, its journal entries queued
/// to the group commit, while an accept answers only once its own commit is in; and the quote's
/// entries are committed once the store writes again.
#[tokio::test]
async fn a_quote_waits_for_no_commit_and_an_accept_waits_for_its_own() {
    let f = faulty().await;
    let h = &f.h;
    let quotes = "/v1/panels/aagi-faulty/quotes";
    let quote = example("aagi-motor", "quote");
    // A first quote warms the panel: instances, connections.
    let (status, body) = h.post(quotes, &quote).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let lock = StoreLock::take(&h.store_url).await;
    let started = Instant::now();
    let (status, body) = h.post(quotes, &quote).await;
    let quoted_in = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        quoted_in < Duration::from_millis(1500),
        "the quote waited {quoted_in:?} with every commit held back"
    );
    let journal_id = body["journal_id"].as_str().expect("a journal id").to_string();

    let accept = {
        let client = h.client.clone();
        let url = h.url(PANEL);
        let body = application(&vin(900));
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(PORTAL)
                .header("idempotency-key", "class-accept")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (Instant::now(), status, response.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !accept.is_finished(),
        "the accept answered while its commit could not be written"
    );
    let released = Instant::now();
    lock.release().await;
    let (answered, status, body) = accept.await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(answered >= released, "the accept answered before the store wrote");
    // The quote's record, committed after its answer, is there once the store writes again.
    let (status, entry) = h.admin_get(&format!("/admin/journal/{journal_id}")).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
}

/// A state change the partner refused for certain (a 5xx to the portal: here AAGI's 401, the
/// panel's token wrong) whose outcome meets a store fault is kept, and lets its key go when it
/// lands: the portal's retry with the key runs the operation again. (Before, the kept outcome
/// never released the key: every retry heard `409 idempotency_key_in_flight` until a restart
/// on SQLite, or the sweep's orphan age on PostgreSQL.)
#[tokio::test]
async fn a_refusal_kept_through_a_store_fault_lets_its_key_go_when_it_lands() {
    let Faulty { h, sim, proxy } = faulty_with(None, "not-the-partners-token").await;
    let path = PANEL;
    proxy.queue(CONTRACTS, [Fault::Delay(Duration::from_millis(800))]);
    let accept = {
        let (client, url, body) = (h.client.clone(), h.url(path), application(&vin(700)));
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(PORTAL)
                .header("idempotency-key", "refused-kept")
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        })
    };
    // Once the request is at the proxy (its in-flight record written), the store is locked.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.counts().0 == 0 {
        assert!(Instant::now() < deadline, "the accept never reached the partner");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lock = StoreLock::take(&h.store_url).await;
    let (status, body) = accept.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    lock.release().await;
    // The kept outcome lands within its backoff (200 ms, doubling); then the key is free, and
    // the retry runs: the partner refuses it again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body, _) = post_keyed(&h, path, "refused-kept", &application(&vin(700))).await;
        if status == StatusCode::BAD_GATEWAY {
            assert_eq!(body["error"]["code"], "partner_unauthorized", "{body}");
            break;
        }
        assert!(
            matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT),
            "{status}: {body}"
        );
        assert!(
            Instant::now() < deadline,
            "the key stayed held after the kept outcome landed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sim.contracts_per_vin().get(&vin(700)), None);
}

/// A write lock on the host's store held from another connection, as another process would.
enum StoreLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl StoreLock {
    async fn take(url: &str) -> StoreLock {
        use sqlx::Connection as _;
        if url.starts_with("sqlite://") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            StoreLock::Sqlite(conn)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            // What the outcome's commit writes: the in-flight record it settles.
            sqlx::query("LOCK TABLE pending IN ACCESS EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            StoreLock::Postgres(conn)
        }
    }

    async fn release(self) {
        match self {
            StoreLock::Sqlite(mut conn) => drop(sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap()),
            StoreLock::Postgres(mut conn) => drop(sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap()),
        }
    }
}

/// The soak: accepts, each for a vehicle of its own under its own key, retried as a portal
/// would (on 409 in flight, 503 and timeouts, with the same key), while the proxy gives the
/// partner's contract calls every fault at random. After it: no vehicle placed twice, every
/// acknowledged case stored, every operation in doubt listed (or settled), every key either
/// answered or in doubt. 8 s here; `PANELGATE_SOAK_SECS=60` for longer.
#[tokio::test]
async fn accepts_under_random_faults_place_each_vehicle_at_most_once() {
    let f = faulty().await;
    let seconds: u64 = std::env::var("PANELGATE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("soak seed {seed} ({seconds} s)");
    f.proxy.randomly(
        CONTRACTS,
        seed,
        vec![
            Fault::Pass,
            Fault::Pass,
            Fault::Delay(Duration::from_millis(150)),
            Fault::Hold,
            Fault::Drop,
            Fault::Reset,
            Fault::Error(502),
            Fault::Error(503),
            Fault::Refuse,
        ],
    );
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let client = f.h.client.clone();
        let url = f.h.url(PANEL);
        workers.spawn(async move {
            let mut outcomes = Vec::new();
            let mut n = 0;
            while Instant::now() < end {
                let id = 10_000 + worker * 100_000 + n;
                n += 1;
                let vin = vin(id);
                let key = format!("soak-{id}");
                let mut last = None;
                // The portal's ordinary retries: the same key, a few times.
                for _ in 0..4 {
                    let sent = client
                        .post(&url)
                        .bearer_auth(PORTAL)
                        .header("idempotency-key", &key)
                        .json(&application(&vin))
                        .send()
                        .await;
                    let Ok(response) = sent else { continue };
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    let retry = status == StatusCode::SERVICE_UNAVAILABLE
                        || (status == StatusCode::CONFLICT
                            && body["error"]["code"] == "idempotency_key_in_flight");
                    last = Some((status, body));
                    if !retry {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                outcomes.push((vin, key, last));
            }
            outcomes
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = workers.join_next().await {
        outcomes.extend(done.unwrap());
    }
    f.proxy.heal();
    let (seen, faulted) = f.proxy.counts();
    let placed = f.sim.contracts_per_vin();
    let listed: HashSet<String> = unknown_outcomes(&f.h)
        .await
        .iter()
        .filter_map(|op| op["journal_id"].as_str().map(str::to_string))
        .collect();
    let mut tally: HashMap<String, usize> = HashMap::new();
    for (vin, key, last) in &outcomes {
        let count = placed.get(vin).copied().unwrap_or(0);
        assert!(
            count <= 1,
            "{key}: vehicle {vin} placed {count} times (seed {seed})"
        );
        let Some((status, body)) = last else {
            *tally.entry("no answer".into()).or_default() += 1;
            continue;
        };
        let code = body["error"]["code"].as_str().unwrap_or("ok").to_string();
        *tally.entry(format!("{} {code}", status.as_u16())).or_default() += 1;
        match (*status, code.as_str()) {
            (StatusCode::CREATED, _) => {
                // Acknowledged: stored, and the partner has it.
                assert_eq!(count, 1, "{key}: acknowledged but not placed (seed {seed})");
                let case_id = body["case_id"].as_str().unwrap();
                let (status, case) = f.h.get(&format!("{PANEL}/{case_id}")).await;
                assert_eq!(status, StatusCode::OK, "{key}: acknowledged case lost: {case}");
            }
            (StatusCode::CONFLICT, "outcome_unknown") => {
                let journal_id = body["error"]["journal_id"].as_str().unwrap();
                assert!(
                    listed.contains(journal_id),
                    "{key}: in doubt but not listed (seed {seed})"
                );
            }
            (StatusCode::SERVICE_UNAVAILABLE, _) => {
                // Certainly not sent: nothing at the partner.
                assert_eq!(count, 0, "{key}: answered 503 but placed (seed {seed}): {body}");
            }
            (status, code) => panic!("{key}: unexpected {status} {code}: {body} (seed {seed})"),
        }
    }
    eprintln!(
        "soak: {} keys, {seen} partner requests ({faulted} faulted), outcomes {tally:?}, {} in doubt listed",
        outcomes.len(),
        listed.len()
    );
    assert!(
        outcomes.len() >= 20,
        "the soak ran too few accepts: {}",
        outcomes.len()
    );
    assert!(faulted > 0, "no fault was injected");
}

/// A partner that cannot be asked does not hide a case: its status answers 200 with the case as
/// stored and `stale` saying why it is not fresh (the refresh's error code and journal entry);
/// once the partner answers again the case reads fresh, with no `stale`.
#[tokio::test]
async fn a_case_reads_as_stored_and_stale_while_its_partner_cannot_be_asked() {
    let f = faulty().await;
    let (status, body, _) = post_keyed(&f.h, PANEL, "stale-1", &application(&vin(900))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = format!("{PANEL}/{}", body["case_id"].as_str().unwrap());
    let (status, fresh) = f.h.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert!(fresh.get("stale").is_none(), "{fresh}");

    for fault in [Fault::Error(503), Fault::Refuse] {
        f.proxy.randomly("GET /v1/motor/contracts/", 1, vec![fault]);
        let (status, stale) = f.h.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{fault:?}: {stale}");
        assert_eq!(stale["id"], fresh["id"]);
        assert_eq!(stale["status"], fresh["status"], "{fault:?}: as stored");
        assert_eq!(stale["history"], fresh["history"], "{fault:?}: nothing written");
        // A 503 is the partner unavailable; a connection closed unanswered, a protocol error.
        let code = stale["stale"]["code"].as_str().unwrap_or_default();
        assert!(
            ["partner_unavailable", "partner_protocol"].contains(&code),
            "{fault:?}: {stale}"
        );
        let journal_id = stale["stale"]["journal_id"]
            .as_str()
            .expect("the refresh's journal id");
        // A read-only operation's entry is queued to the group commit, not waited for.
        let mut entry = Value::Null;
        for _ in 0..50 {
            let (status, got) = f.h.admin_get(&format!("/admin/journal/{journal_id}")).await;
            entry = got;
            if status == StatusCode::OK {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(entry["entry"]["operation"], "status", "{fault:?}: {entry}");
        assert!(
            !entry["exchanges"].as_array().unwrap().is_empty(),
            "{fault:?}: the failed exchanges are journaled"
        );
    }

    f.proxy.heal();
    let (status, again) = f.h.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(again.get("stale").is_none(), "{again}");
}
