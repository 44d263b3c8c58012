//! MNC Desk Coll end to end, through the Python adapter (componentize-py): the task list, and
//! collection results signed by a digest the host computes with a key the adapter never reads.

use crate::common::*;
use panelgate_tests::guests;
use panelgate_tests::sim::deskcoll::{DeskCollSimConfig, DeskCollSimulator};
use reqwest::StatusCode;
use serde_json::json;

/// The spec's own (published, test) credentials and HashKey.
const USER: &str = "SERVICEMNC";
pub(crate) const PASSWORD: &str = "Mnc%^21";
pub(crate) const HASH_KEY: &str = "8de3ef10fec04f05adb8631f9186a437";

pub(crate) async fn start_deskcoll(password: &str, hash_key: &str) -> (Harness, DeskCollSimulator) {
    start_deskcoll_built(guests::DESKCOLL, password, hash_key).await
}

/// [`start_deskcoll`] with the Desk Coll build at `path`.
pub(crate) async fn start_deskcoll_built(
    path: &str,
    password: &str,
    hash_key: &str,
) -> (Harness, DeskCollSimulator) {
    let sim = start_sim().await;
    let extra = format!(
        r#"
[adapters.deskcoll]
path = "{path}"
[panels.deskcoll]
adapter = "deskcoll"
base_url = "{base}"
settings = {{ results-path = "/deskcoll/result", tasks-path = "/deskcoll/tasks" }}
[panels.deskcoll.credentials.partner]
kind = "basic"
username = {{ value = "{USER}" }}
password = {{ value = "{password}" }}
[panels.deskcoll.credentials.hash-key]
kind = "hash-key"
key = {{ value = "{hash_key}" }}
"#,
        base = sim.base_url(),
    );
    (start_with(&extra).await, sim)
}

/// The simulator alone, with the spec's credentials, for tests that speak HTTP to it directly.
async fn start_sim() -> DeskCollSimulator {
    let config = DeskCollSimConfig {
        username: USER.into(),
        password: PASSWORD.into(),
        hash_key: HASH_KEY.into(),
        results_path: "/deskcoll/result".into(),
        tasks_path: "/deskcoll/tasks".into(),
    };
    DeskCollSimulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The spec's example collection result, exactly as the seed prints it.
fn spec_result_body() -> serde_json::Value {
    json!({
        "account_no": "000319280100042", "collection_date": "2021-12-29 00:00:00", "cust_name": "PUTRA SIMEULUE CUTT",
        "result_code": "PTP01", "action_code": "PTP", "remark": "Customer pasti bayar 22", "cre_by": "1812010",
        "cre_ip_address": "10.1.206.118", "mod_by": "1812010", "mod_ip_address": "10.1.206.118",
        "promise_date": "2021-12-31 00:00:00", "period": "0",
        "hashing": "87072d55e9a05731bdae67c13fe6d617ce60da95260165ec58bbc07377b4d381"
    })
}

#[tokio::test]
async fn the_worklist_is_the_partners_task_list_in_canonical_form() {
    let (h, sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    let (status, body) = h.get("/v1/panels/deskcoll/worklist?kind=collection-tasks").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["result"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let first = &items[0]["collection_task"];
    assert_eq!(first["contract"], "000318270200055");
    assert_eq!(
        first["installment_due"],
        json!({ "amount": "29949000.00", "currency": "IDR" })
    );
    assert_eq!(first["last_payment"]["due_date"], "2021-02-20");
    assert_eq!(first["dedicated"], true);
    assert!(
        sim.requests().iter().all(|(_, ok)| *ok),
        "the `%^` password went out as raw bytes in Basic"
    );
}

#[tokio::test]
async fn a_collection_result_is_signed_with_the_host_computed_digest() {
    let (h, sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    let (status, body) = h
        .post(
            "/v1/panels/deskcoll/notifications",
            &example("deskcoll", "collection-result"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["accepted"], true);
    let posted = sim.results();
    // The spec's own example digest for account 000319280100042.
    assert_eq!(
        posted[0]["hashing"],
        "87072d55e9a05731bdae67c13fe6d617ce60da95260165ec58bbc07377b4d381"
    );
    assert_eq!(posted[0]["collection_date"], "2021-12-29 00:00:00");

    let (_, journal) = h.admin_get("/admin/journal?limit=100").await;
    let text = journal.to_string();
    assert!(
        !text.contains(HASH_KEY) && !text.contains(PASSWORD),
        "no secret in the journal"
    );
}

/// The WIT's `timestamp`: "an ISO 8601 date-time; without an offset it is the partner's local
/// time". Desk Coll's `YYYY-MM-DD HH:MM:SS` is Jakarta time (UTC+7), so `Z` and other offsets
/// are converted to it, `+07:00` is taken as it is, and fractional seconds are accepted (cut to
/// the whole second Desk Coll's format holds). The simulator refuses anything but its format.
#[tokio::test]
async fn timestamps_with_an_offset_or_fraction_are_sent_as_jakarta_local_time() {
    let (h, sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    let cases = [
        (
            "2021-12-28T17:00:00Z",
            "2021-12-30T17:00:00Z",
            "2021-12-29 00:00:00",
            "2021-12-31 00:00:00",
        ),
        (
            "2021-12-29T09:15:00+07:00",
            "2021-12-31T10:00:00+07:00",
            "2021-12-29 09:15:00",
            "2021-12-31 10:00:00",
        ),
        (
            "2021-12-29T02:15:30.250Z",
            "2021-12-31T00:00:00.5",
            "2021-12-29 09:15:30",
            "2021-12-31 00:00:00",
        ),
    ];
    for (n, (contacted, promised, collection_date, promise_date)) in cases.into_iter().enumerate() {
        let mut result = example("deskcoll", "collection-result");
        result["collection_result"]["contacted_at"] = json!(contacted);
        result["collection_result"]["promise_date"] = json!(promised);
        let (status, body) = h.post("/v1/panels/deskcoll/notifications", &result).await;
        assert_eq!(status, StatusCode::OK, "{contacted}: {body}");
        let posted = sim.results();
        assert_eq!(posted.len(), n + 1, "{contacted}");
        assert_eq!(posted[n]["collection_date"], collection_date, "{contacted}");
        assert_eq!(posted[n]["promise_date"], promise_date, "{promised}");
    }
}

#[tokio::test]
async fn bad_input_and_partner_refusals_are_typed() {
    let (h, _sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    // Oversized and malformed fields are named before any call.
    let mut result = example("deskcoll", "collection-result");
    result["collection_result"]["contract"] = json!("9".repeat(26));
    result["collection_result"]["contacted_at"] = json!("29-12-2021");
    let (status, body) = h.post("/v1/panels/deskcoll/notifications", &result).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths = issue_paths(&body);
    assert_eq!(
        paths,
        ["collection_result.contacted_at", "collection_result.contract"]
    );

    // An account MNC does not know: its own refusal code.
    let mut result = example("deskcoll", "collection-result");
    result["collection_result"]["contract"] = json!("000999999999999");
    let (status, body) = h.post("/v1/panels/deskcoll/notifications", &result).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["partner_code"], "03");

    // A result code off the master data.
    let mut result = example("deskcoll", "collection-result");
    result["collection_result"]["result_code"] = json!("XX01");
    let (_, body) = h.post("/v1/panels/deskcoll/notifications", &result).await;
    assert_eq!(body["error"]["partner_code"], "04");

    // The Python adapter declares only poll and notify.
    let (status, _) = h
        .post("/v1/panels/deskcoll/quotes", &example("A03", "quote"))
        .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
}

/// A timestamp past year 9999 (or before year 1) once converted to Jakarta time is the portal's
/// mistake, named as one; before, Python's OverflowError trapped the component (502).
#[tokio::test]
async fn a_timestamp_past_the_years_desk_coll_writes_is_refused_naming_its_field() {
    let (h, sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    for contacted in [
        "9999-12-31T20:00:00Z",
        "0001-01-01T00:00:00+08:00",
        "0999-12-31T00:00:00",
    ] {
        let mut result = example("deskcoll", "collection-result");
        result["collection_result"]["contacted_at"] = json!(contacted);
        let (status, body) = h.post("/v1/panels/deskcoll/notifications", &result).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{contacted}: {body}");
        assert_eq!(
            issue_paths(&body),
            ["collection_result.contacted_at"],
            "{contacted}"
        );
    }
    assert!(sim.requests().is_empty(), "nothing reached the partner");
}

#[tokio::test]
async fn a_wrong_hash_key_and_a_wrong_password_are_refused_by_the_partner() {
    let (h, _sim) = start_deskcoll(PASSWORD, "not-the-key").await;
    let (status, body) = h
        .post(
            "/v1/panels/deskcoll/notifications",
            &example("deskcoll", "collection-result"),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["partner_code"], "01");

    let (h, _sim) = start_deskcoll("Mnc%25%5E21", HASH_KEY).await;
    let (status, body) = h.get("/v1/panels/deskcoll/worklist").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "partner_unauthorized");
}

#[tokio::test]
async fn the_simulator_refuses_the_tables_spelling_and_a_missing_hash() {
    let (_h, sim) = start_deskcoll(PASSWORD, HASH_KEY).await;
    let client = reqwest::Client::new();
    let mut body = spec_result_body();
    let date = body["collection_date"].take();
    body["colection_date"] = date;
    body.as_object_mut().unwrap().remove("collection_date");
    let post = |body: serde_json::Value| {
        client
            .post(format!("{}/deskcoll/result", sim.base_url()))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
    };
    // The table's `colection_date` is not the example's `collection_date`: a missing field.
    let response = post(body.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["respon_code"],
        "02"
    );
    let date = body["colection_date"].take();
    body["collection_date"] = date;
    body.as_object_mut().unwrap().remove("colection_date");
    body.as_object_mut().unwrap().remove("hashing");
    let response = post(body).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// RFC 9110 11.1: an authentication scheme's name is case-insensitive; RFC 7617: Basic's token is
/// base64 of `user-id ":" password`, which the simulator decodes and compares part by part.
#[tokio::test]
async fn the_simulator_takes_the_basic_scheme_in_any_case_and_compares_the_decoded_credentials() {
    use base64::Engine as _;
    let sim = start_sim().await;
    let client = reqwest::Client::new();
    let token = |credentials: &str| base64::engine::general_purpose::STANDARD.encode(credentials);
    let spec = token(&format!("{USER}:{PASSWORD}"));
    let get = |authorization: String| {
        client
            .get(format!("{}/deskcoll/tasks", sim.base_url()))
            .header("authorization", authorization)
            .send()
    };
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let response = get(format!("{scheme} {spec}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
    let refused = [
        format!("Basic {}", token(&format!("{USER}:Mnc%25%5E21"))),
        format!("Basic {}", token(&format!("{USER}:Mnc%^22"))),
        format!("Basic {}", token(&format!("servicemnc:{PASSWORD}"))),
        format!("Basic {}", token(&format!("{USER}{PASSWORD}"))),
        format!("Bearer {spec}"),
        format!("Basic{spec}"),
        "Basic".to_string(),
        "Basic not-base64!".to_string(),
    ];
    for authorization in refused {
        let response = get(authorization.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization}");
    }
}

/// Seed: "period  Tenor tagihan  Integer", sent as `"period": "0"` in its example. A JSON integer
/// or a string of ASCII digits, in one range (`u32`) either way.
#[tokio::test]
async fn the_simulator_takes_period_as_digits_in_one_range() {
    let sim = start_sim().await;
    let client = reqwest::Client::new();
    let post = |period: serde_json::Value| {
        let mut body = spec_result_body();
        body["period"] = period;
        client
            .post(format!("{}/deskcoll/result", sim.base_url()))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
    };
    for period in [
        json!("0"),
        json!(0),
        json!("36"),
        json!("4294967295"),
        json!(4294967295u64),
    ] {
        let response = post(period.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{period}");
        let answer = response.json::<serde_json::Value>().await.unwrap();
        assert_eq!(answer["respon_code"], "00", "{period}");
    }
    let refused = [
        json!("+5"),
        json!("-1"),
        json!(" 5"),
        json!("5.0"),
        json!(""),
        json!("4294967296"),
        json!(4294967296u64),
        json!(-1),
        json!(5.0),
        json!(null),
        json!(true),
    ];
    for period in refused {
        let response = post(period.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{period}");
        let answer = response.json::<serde_json::Value>().await.unwrap();
        assert_eq!(answer["respon_code"], "02", "{period}");
    }
}
