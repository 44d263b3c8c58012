//! A strict simulator of MNC Desk Coll: the desk-coll task list (GET) and collection results
//! (POST) with Basic Auth, the `hashing` digest of `account_no + HashKey`, the spec's field
//! sizes and formats, and its `respon_code` convention. Choices where the spec is silent are in
//! `tests/sims/README.md`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;
use time::macros::format_description;

pub struct DeskCollSimConfig {
    pub username: String,
    pub password: String,
    pub hash_key: String,
    /// The spec gives no paths; these are configurable.
    pub results_path: String,
    pub tasks_path: String,
}

/// The master data the spec refers to (`WS MNC GUI DC - NEW APPS`) is not provided; these
/// result/action pairs stand in for it.
pub const MASTER_CODES: [(&str, &str); 3] = [("PTP01", "PTP"), ("NC01", "NC"), ("BP01", "BP")];

struct Inner {
    requests: Vec<(String, bool)>,
    results: Vec<Value>,
}

struct Shared {
    config: DeskCollSimConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct DeskCollSimulator {
    shared: Arc<Shared>,
    base_url: String,
}

impl DeskCollSimulator {
    pub async fn start(config: DeskCollSimConfig, addr: SocketAddr) -> anyhow::Result<DeskCollSimulator> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (results_path, tasks_path) = (config.results_path.clone(), config.tasks_path.clone());
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(Inner {
                requests: Vec::new(),
                results: Vec::new(),
            }),
        });
        let router = Router::new()
            .route(&results_path, axum::routing::post(post_result))
            .route(&tasks_path, axum::routing::get(get_tasks))
            .with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("Desk Coll simulator stopped: {e}");
            }
        });
        Ok(DeskCollSimulator { shared, base_url })
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request as `(path, authorized)`.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.shared.lock().requests.clone()
    }

    /// The collection results accepted (`respon_code` 00), as posted.
    pub fn results(&self) -> Vec<Value> {
        self.shared.lock().results.clone()
    }
}

/// Seed: "AUTHORIZATION  Type : Basic Auth", "Username … SERVICEMNC", "Password … Mnc%^21".
/// Basic as RFC 7617 defines it: the scheme's name is case-insensitive (RFC 9110 11.1, so
/// `basic` and `BASIC` are `Basic`), and the token is base64 of `user-id ":" password`, compared
/// decoded, each part exactly. The password is the raw `Mnc%^21`: a percent-encoded `Mnc%25%5E21`
/// is another password (spec 2.1).
fn authorized(config: &DeskCollSimConfig, headers: &HeaderMap) -> bool {
    let Some((scheme, token)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else {
        return false;
    };
    // RFC 7617 2: the user-id cannot contain a colon, so the first one ends it.
    let Some(colon) = decoded.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
    user == config.username.as_bytes() && password == config.password.as_bytes()
}

fn gate(shared: &Shared, path: &str, headers: &HeaderMap) -> Option<Response> {
    let ok = authorized(&shared.config, headers);
    shared.lock().requests.push((path.to_string(), ok));
    (!ok).then(|| (StatusCode::UNAUTHORIZED, "Unauthorized").into_response())
}

fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "respon_code": code, "respon_mess": message })),
    )
        .into_response()
}

/// The two tasks of the spec's example (every value a string or null).
fn tasks() -> Value {
    json!({ "data": [
        { "contract_no": "000318270200055", "name": "TRIJAYA KONSTRUKSI MEGAH", "contract_person": "",
          "address": "JL. SAWANGAN LINGKUNGAN V, TIKALA BARU WENANG, MANADO , Manado, Kota.", "branch_name": "JAKARTA 1",
          "marketing_name": "JUWITA FIKA TYASTI", "phone1": "085340060088", "phone2": "", "phone3": "", "phone4": "",
          "overdue": "5", "installmentNumber": "29949000.00", "total_installmentNumber": "54", "dueDate_Installment": "2021-03-20",
          "payment_methode": "Transfer", "description_assets": "DOOSAN EXCAVATOR DX300LCA", "customer_code": "C18030135",
          "installment_amount": null, "penalty": "77312731.00", "total_amount": "107261731.00", "osar": "1445252000",
          "lastpaid_amount": "29949000.00", "lastpaid_duedate": "2/20/2021 12:00:00 AM", "lastpaid_tenor": "28",
          "lastpaid_paymentdate": "2021-02-22", "product": "CF - HEAVY EQUIPMENT BARU", "flag_dedicated": "1" },
        { "contract_no": "000418110200010", "name": "PUTRA MOROWALI SEJAHTERA", "contract_person": "",
          "address": "JALAN TRANS SULAWESI, DESA BAHODOPI KEC. BUNGKU TENGAH , MOROWALI", "branch_name": "JAKARTA 2",
          "marketing_name": "PUTRA DWIYANA", "phone1": "0811349991", "phone2": "", "phone3": "", "phone4": "",
          "overdue": "5", "installmentNumber": "21489000.00", "total_installmentNumber": "42", "dueDate_Installment": "2021-03-20",
          "payment_methode": "Giro/Cheq", "description_assets": "VOLVO COMPACTOR SD110", "customer_code": "C17120737",
          "installment_amount": null, "penalty": "4946641.00", "total_amount": "26435641.00", "osar": "107445000",
          "lastpaid_amount": "21489000.00", "lastpaid_duedate": "2/20/2021 12:00:00 AM", "lastpaid_tenor": "37",
          "lastpaid_paymentdate": "2021-02-22", "product": "FL - HEAVY EQUIPMENT BARU", "flag_dedicated": "1" },
        { "contract_no": "000319280100042", "name": "PUTRA SIMEULUE CUTT", "contract_person": null,
          "address": null, "branch_name": "JAKARTA 1", "marketing_name": null, "phone1": "", "phone2": null, "phone3": null,
          "phone4": null, "overdue": "2", "installmentNumber": "1500000.00", "total_installmentNumber": "36",
          "dueDate_Installment": "2021-12-20", "payment_methode": "Transfer", "description_assets": null,
          "customer_code": "C19010001", "installment_amount": null, "penalty": "50000.00", "total_amount": "1550000.00",
          "osar": "30000000", "lastpaid_amount": null, "lastpaid_duedate": null, "lastpaid_tenor": null,
          "lastpaid_paymentdate": null, "product": "CF - KENDARAAN", "flag_dedicated": "0" }
    ]})
}

async fn get_tasks(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&s, &s.config.tasks_path, &headers) {
        return r;
    }
    axum::Json(tasks()).into_response()
}

fn known_account(account: &str) -> bool {
    tasks()["data"]
        .as_array()
        .is_some_and(|d| d.iter().any(|t| t["contract_no"] == account))
}

/// The spec's limits (section 5): `(field, max size)`; all are required, `promise_date` may be null.
const FIELDS: [(&str, usize); 10] = [
    ("account_no", 25),
    ("cust_name", 50),
    ("result_code", 10),
    ("action_code", 10),
    ("remark", 255),
    ("cre_by", 25),
    ("cre_ip_address", 25),
    ("mod_by", 25),
    ("mod_ip_address", 25),
    ("hashing", 255),
];

fn validate(o: &Map<String, Value>) -> Result<(), String> {
    for (field, max) in FIELDS {
        match o.get(field) {
            Some(Value::String(v)) if v.chars().count() <= max => {}
            Some(Value::String(_)) => return Err(format!("`{field}` is longer than {max}")),
            _ => return Err(format!("`{field}` is required text")),
        }
    }
    // Seed: "colection_date  Tanggal konsumen di hubungi  Datetime", example
    // `"collection_date": "2021-12-29 00:00:00"`: exactly that shape, no `T`, offset or fraction.
    // The seed names no time zone; a Jakarta partner's local time is presumed (a guess), which
    // the simulator cannot see in the value: the e2e tests check the converted value it records.
    let datetime = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    // The example's spelling; the table's `colection_date` counts as missing (README).
    match o.get("collection_date").and_then(Value::as_str) {
        Some(d) if PrimitiveDateTime::parse(d, datetime).is_ok() => {}
        _ => return Err("`collection_date` must be YYYY-MM-DD HH:MM:SS".into()),
    }
    match o.get("promise_date") {
        None | Some(Value::Null) => {}
        Some(Value::String(d)) if PrimitiveDateTime::parse(d, datetime).is_ok() => {}
        _ => return Err("`promise_date` must be YYYY-MM-DD HH:MM:SS or null".into()),
    }
    // Seed: "period  Tenor tagihan  Integer" in the table, `"period": "0"` in the example: a JSON
    // integer or a string of its digits, both taken. A tenor is a count: ASCII digits only (no
    // `+5`, `-1`, ` 5` or `5.0`), and the same range either way. The seed gives no width; `u32` is
    // the canonical `period`'s.
    let period = match o.get("period") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u32>().ok()
        }
        _ => None,
    };
    if period.is_none() {
        return Err(format!("`period` must be an integer from 0 to {}", u32::MAX));
    }
    Ok(())
}

async fn post_result(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&s, &s.config.results_path, &headers) {
        return r;
    }
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let Some(Value::Object(o)) = json_body
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
    else {
        return answer(StatusCode::BAD_REQUEST, "02", "Format data tidak valid");
    };
    if let Err(why) = validate(&o) {
        tracing::debug!("Desk Coll simulator: 02 because {why}");
        return answer(
            StatusCode::BAD_REQUEST,
            "02",
            &format!("Format data tidak valid: {why}"),
        );
    }
    let account = o["account_no"].as_str().unwrap_or_default();
    let expected = hex::encode(
        Sha256::new()
            .chain_update(account)
            .chain_update(&s.config.hash_key)
            .finalize(),
    );
    if o["hashing"].as_str() != Some(expected.as_str()) {
        return answer(StatusCode::OK, "01", "Invalid hashing");
    }
    if !known_account(account) {
        return answer(
            StatusCode::OK,
            "03",
            &format!("Account No tidak ditemukan : {account}"),
        );
    }
    let pair = (
        o["result_code"].as_str().unwrap_or_default(),
        o["action_code"].as_str().unwrap_or_default(),
    );
    if !MASTER_CODES.contains(&pair) {
        return answer(StatusCode::OK, "04", "Result code / action code tidak terdaftar");
    }
    s.lock().results.push(Value::Object(o.clone()));
    answer(
        StatusCode::OK,
        "00",
        &format!("Sukses Memasukan Data Dengan Account No : {account}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_hash_is_sha256_of_account_then_key() {
        let digest = hex::encode(
            Sha256::new()
                .chain_update("000319280100042")
                .chain_update("8de3ef10fec04f05adb8631f9186a437")
                .finalize(),
        );
        assert_eq!(
            digest,
            "87072d55e9a05731bdae67c13fe6d617ce60da95260165ec58bbc07377b4d381"
        );
    }

    #[test]
    fn the_spec_example_body_is_valid_and_the_tables_spelling_is_not() {
        let mut body = json!({
            "account_no": "000319280100042", "collection_date": "2021-12-29 00:00:00", "cust_name": "PUTRA SIMEULUE CUTT",
            "result_code": "PTP01", "action_code": "PTP", "remark": "Customer pasti bayar 22", "cre_by": "1812010",
            "cre_ip_address": "10.1.206.118", "mod_by": "1812010", "mod_ip_address": "10.1.206.118",
            "promise_date": "2021-12-31 00:00:00", "period": "0",
            "hashing": "87072d55e9a05731bdae67c13fe6d617ce60da95260165ec58bbc07377b4d381"
        });
        assert!(validate(body.as_object().unwrap()).is_ok());
        let date = body["collection_date"].take();
        body["colection_date"] = date;
        assert!(validate(body.as_object().unwrap()).is_err());
    }
}
