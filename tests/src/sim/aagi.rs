//! A strict simulator of the AAGI motor web service (`/v1/motor`): quick quotes, contracts,
//! policy information and cancel amendments, with AAGI's `{"code","message"}` error shape and
//! the codes of its FAQ. Choices where the spec is silent are in `tests/sims/README.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

pub struct AagiSimConfig {
    /// The Bearer token a gateway in front of the API requires. The seed names no authentication
    /// at all, so `None` is the seed's own service: no credential, and a request that carries an
    /// `Authorization` nobody asked for is recorded as such (it is served: the seed is silent).
    /// `Some` is our guess at a deployed gateway.
    pub token: Option<String>,
}

/// A contract as the simulator keeps it.
#[derive(Debug, Clone)]
struct Contract {
    info: Value,
    issued_at: OffsetDateTime,
    /// The vehicle's identification number, to count contracts per vehicle.
    vin: String,
}

struct Inner {
    contracts: HashMap<String, Contract>,
    issued: u64,
    /// Answer the next issued contract with a system error (see `fail_next_issue`).
    fail_next_issue: bool,
    requests: Vec<(String, bool)>,
}

struct Shared {
    config: AagiSimConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct AagiSimulator {
    shared: Arc<Shared>,
    base_url: String,
}

impl AagiSimulator {
    pub async fn start(config: AagiSimConfig, addr: SocketAddr) -> anyhow::Result<AagiSimulator> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(Inner {
                contracts: HashMap::new(),
                issued: 0,
                fail_next_issue: false,
                requests: Vec::new(),
            }),
        });
        let router = Router::new()
            .route("/v1/motor/quickquotes", post(quick_quotes))
            .route("/v1/motor/contracts", post(contracts))
            .route("/v1/motor/contracts/{id}", get(contract_info))
            .route("/v1/motor/contracts/{id}/amendments", post(amendments))
            .with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("AAGI simulator stopped: {e}");
            }
        });
        Ok(AagiSimulator { shared, base_url })
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request as `(path, as the gateway wants)`: the configured token, or no
    /// `Authorization` at all when none is configured.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.shared.lock().requests.clone()
    }

    /// Contracts issued, counted by the vehicle's identification number: a test that places one
    /// vehicle per Idempotency-Key counts the partner's effects per key.
    pub fn contracts_per_vin(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for contract in self.shared.lock().contracts.values() {
            *counts.entry(contract.vin.clone()).or_default() += 1;
        }
        counts
    }

    /// The insurer's inspection of a car: the contract becomes SUCCESS or REJECTED.
    pub fn finish_inspection(&self, contract_id: &str, passed: bool) -> bool {
        let mut inner = self.shared.lock();
        let Some(contract) = inner.contracts.get_mut(contract_id) else {
            return false;
        };
        contract.info["policyStatus"] = json!(if passed { "SUCCESS" } else { "REJECTED" });
        true
    }

    /// The next contract issued is created, then answered with HTTP 500 and the FAQ's 999
    /// "เกิดข้อผิดพลาดในระบบ" (a system error): the contract exists though the answer says failure.
    pub fn fail_next_issue(&self) {
        self.shared.lock().fail_next_issue = true;
    }

    /// Moves a contract's issue time into the past, to test the one-day cancel rule.
    pub fn age_contract(&self, contract_id: &str, days: i64) -> bool {
        let mut inner = self.shared.lock();
        let Some(contract) = inner.contracts.get_mut(contract_id) else {
            return false;
        };
        contract.issued_at -= time::Duration::days(days);
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Conventions

/// The known customer master (AAGI FAQ 112): a PERSON with this id must carry this name.
const KNOWN_CUSTOMER: (&str, &str, &str) = ("1111111111111", "สมชาย", "ใจดี");

/// An AAGI error answer: HTTP status, code and Thai message.
struct Refusal(StatusCode, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "code": self.1, "message": self.2 }))).into_response()
    }
}

fn error(status: StatusCode, code: &'static str, message: &'static str) -> Refusal {
    Refusal(status, code, message)
}

/// 999: "a system error", which the FAQ says is in practice a malformed request.
fn malformed(why: String) -> Refusal {
    tracing::debug!("AAGI simulator: 999 because {why}");
    error(StatusCode::BAD_REQUEST, "999", "เกิดข้อผิดพลาดในระบบ")
}

/// Records whether the request carried what the gateway wants (the token, or with none
/// configured, no `Authorization` at all), and refuses a missing or wrong token.
fn gate(shared: &Shared, path: &str, headers: &HeaderMap) -> Option<Refusal> {
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (as_wanted, refused) = match &shared.config.token {
        Some(token) => {
            let ok = sent == Some(format!("Bearer {token}").as_str());
            (ok, !ok)
        }
        None => (sent.is_none(), false),
    };
    shared.lock().requests.push((path.to_string(), as_wanted));
    refused.then(|| error(StatusCode::UNAUTHORIZED, "401", "Unauthorized"))
}

type Check<T> = Result<T, String>;

fn object<'a>(v: &'a Value, name: &str) -> Check<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| format!("`{name}` must be an object"))
}

fn text<'a>(o: &'a Map<String, Value>, name: &str) -> Check<&'a str> {
    match o.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        _ => Err(format!("`{name}` is required text")),
    }
}

fn opt_text<'a>(o: &'a Map<String, Value>, name: &str) -> Check<Option<&'a str>> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` must be text or null")),
    }
}

fn date(o: &Map<String, Value>, name: &str, required: bool) -> Check<Option<Date>> {
    match opt_text(o, name)? {
        None if required => Err(format!("`{name}` is required")),
        None => Ok(None),
        Some(s) => Date::parse(s, format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|_| format!("`{name}` must be yyyy-mm-dd")),
    }
}

fn length(value: Option<&str>, name: &str, n: usize) -> Check<()> {
    match value {
        Some(v) if v.chars().count() != n => Err(format!("`{name}` has length {n}")),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Rules

/// AAGI 6.4, per country and type: (province required, number required); `None` = undefined.
fn registration_rule(country: Option<&str>, kind: Option<&str>) -> Option<(bool, bool)> {
    let thai = matches!(country, None | Some("THA"));
    match (thai, kind) {
        (true, Some("GEN")) => Some((true, true)),
        (true, Some("REDPLATE")) => Some((true, false)),
        (true, Some("GOV")) => Some((false, true)),
        (true, None) => Some((true, false)),
        (false, Some("INTER") | None) if country.is_some() => Some((false, true)),
        _ => None,
    }
}

fn check_vehicle(body: &Map<String, Value>, product: &str, plan: Option<&str>, contract: bool) -> Check<()> {
    let v = object(body.get("vehicle").unwrap_or(&Value::Null), "vehicle")?;
    text(v, "make")?;
    text(v, "usage")?;
    if product == "VMI" {
        text(v, "model")?;
        length(Some(text(v, "yearOfManufacture")?), "yearOfManufacture", 4)?;
    }
    if contract {
        text(v, "vehicleIdentificationNumber")?;
    }
    // AAGI 4: an unused owner is null; `""` is error 999.
    match v.get("owner") {
        None | Some(Value::Null) => {}
        Some(Value::Object(owner)) => {
            date(owner, "birthDate", false)?;
            if let Some(Value::Object(address)) = owner.get("address") {
                length(Some(text(address, "postalCode")?), "owner.address.postalCode", 5)?;
            }
        }
        Some(_) => return Err("`vehicle.owner` must be an object or null".into()),
    }
    let (country, kind) = (
        opt_text(v, "registrationCountry")?,
        opt_text(v, "registrationType")?,
    );
    let (state, number) = registration_rule(country, kind)
        .ok_or_else(|| format!("registration {country:?}/{kind:?} is undefined"))?;
    if state {
        text(v, "registrationState")?;
    }
    if number {
        text(v, "registrationNumber")?;
    }
    let garage = opt_text(v, "garageType")?;
    let allowed: &[Option<&str>] = match plan {
        Some("VMI1") => &[Some("DEALER"), Some("COMPANY")],
        Some("VMI2+" | "VMI3+") => &[Some("COMPANY")],
        _ => &[None, Some("UNSPECIFIED")],
    };
    if !allowed.contains(&garage) {
        return Err(format!(
            "garage {garage:?} is not allowed for {}",
            plan.unwrap_or(product)
        ));
    }
    Ok(())
}

fn mandatory_items(plan: &str) -> &'static [&'static str] {
    match plan {
        "VMI1" => &[
            "OD",
            "DD",
            "TPBI_PERSON",
            "TPBI_ACCIDENT",
            "TPPD",
            "PA",
            "ME",
            "BB",
        ],
        "VMI2+" | "VMI3+" => &[
            "OD",
            "DD",
            "FL",
            "TPBI_PERSON",
            "TPBI_ACCIDENT",
            "TPPD",
            "PA",
            "ME",
            "BB",
        ],
        _ => &["TPBI_PERSON", "TPBI_ACCIDENT", "TPPD", "PA", "ME", "BB"],
    }
}

/// The coverage items a plan does not cover, whose sum must be "0" or null (the remarks of the
/// seed's "Coverage Items: mandatory fields").
fn not_covered(plan: &str) -> &'static [&'static str] {
    match plan {
        "VMI1" => &["FL"],
        "VMI3" => &["OD", "DD", "FL"],
        _ => &[],
    }
}

/// The plan of the single package, its coverage items as given, and the package's sum insured.
struct PackageRequest {
    plan: String,
    sum_insured: Option<f64>,
    items: Option<Vec<Value>>,
}

/// Err(Ok(why)) is a 999, Err(Err(why)) a 003 (coverage items).
fn check_packages(
    body: &Map<String, Value>,
    product: &str,
    contract: bool,
) -> Result<Option<PackageRequest>, Result<String, String>> {
    let packages = body.get("productPackages");
    if product == "CMI" && !contract {
        return match packages {
            None => Ok(None),
            Some(_) => Err(Ok("CMI quick quotes carry no productPackages".into())),
        };
    }
    let Some(Value::Array(packages)) = packages else {
        return Err(Ok("`productPackages` is required".into()));
    };
    let package = packages
        .first()
        .and_then(Value::as_object)
        .ok_or_else(|| Ok("an empty productPackages".into()))?;
    if contract {
        // Contracts model: "premium | Yes | Yes", "grossPremium | Number | Yes | Yes".
        let premium = package
            .get("premium")
            .and_then(Value::as_object)
            .ok_or_else(|| Ok("`premium` is required".into()))?;
        if !premium.get("grossPremium").is_some_and(Value::is_number) {
            return Err(Ok("`premium.grossPremium` is required".into()));
        }
    }
    // Contracts model: coverages "code | Enum | Yes | Yes | ... | VMI1, VMI2+, VMI3+, VMI3 | Fixed
    // Value". No value is CMI's: a CMI package names no coverage (null, absent or empty), and
    // a coverage code off that list ("CMI") is malformed.
    let plans = ["VMI1", "VMI2+", "VMI3+", "VMI3"];
    if product == "CMI" {
        return match package.get("coverages") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(c)) if c.is_empty() => Ok(None),
            Some(Value::Array(c)) => {
                let code = c
                    .first()
                    .and_then(|c| c.get("code"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Err(Ok(match plans.contains(&code) {
                    true => format!("coverage code `{code}` is a VMI plan, not CMI"),
                    false => format!("coverage code `{code}` is not one of VMI1, VMI2+, VMI3+, VMI3"),
                }))
            }
            Some(_) => Err(Ok("coverages must be an array or null".into())),
        };
    }
    let coverage = package
        .get("coverages")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(Value::as_object)
        .ok_or_else(|| Ok("a package without coverages".into()))?;
    let code = text(coverage, "code").map_err(Ok)?;
    if !plans.contains(&code) {
        return Err(Ok(format!(
            "coverage code `{code}` is not one of VMI1, VMI2+, VMI3+, VMI3"
        )));
    }
    let items = match coverage.get("coverageItems") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let codes: Vec<&str> = items
                .iter()
                .filter_map(|i| i.get("code").and_then(Value::as_str))
                .collect();
            if let Some(missing) = mandatory_items(code).iter().find(|m| !codes.contains(m)) {
                return Err(Err(format!("{code} lacks {missing}")));
            }
            // The same table's remarks: OD and DD "VMI3 should be “0” or null", FL "VMI1 and
            // VMI3 should be “0” or null"; the FAQ answers a wrong coverage item with 003.
            for item in items {
                let item_code = item.get("code").and_then(Value::as_str).unwrap_or_default();
                let zero = match item.get("sumInsured") {
                    None | Some(Value::Null) => true,
                    Some(sum) => sum.as_f64() == Some(0.0) || sum.as_str() == Some("0"),
                };
                if not_covered(code).contains(&item_code) && !zero {
                    return Err(Err(format!("{code}: {item_code} should be 0 or null")));
                }
            }
            Some(items.clone())
        }
        Some(_) => return Err(Ok("coverageItems must be an array or null".into())),
    };
    Ok(Some(PackageRequest {
        plan: code.into(),
        sum_insured: coverage.get("sumInsured").and_then(Value::as_f64),
        items,
    }))
}

fn default_sum(plan: &str) -> f64 {
    match plan {
        "VMI1" => 600_000.0,
        "VMI2+" => 300_000.0,
        "VMI3+" => 200_000.0,
        _ => 0.0,
    }
}

/// A premium with AAGI's observed arithmetic: stamp = ceil(net × 0.4%), VAT = 7% of both.
fn premium(net: f64) -> Value {
    let stamp = (net * 0.004).ceil();
    let vat = ((net + stamp) * 0.07 * 100.0).round() / 100.0;
    let gross = ((net + stamp + vat) * 100.0).round() / 100.0;
    json!({ "discounts": null, "additionalCosts": [ { "name": null, "type": "VAT", "amount": vat },
        { "name": null, "type": "STAMP", "amount": stamp } ], "netPremium": net, "grossPremium": gross })
}

fn net_premium(plan: &str, sum: f64) -> f64 {
    match plan {
        "VMI1" => (sum * 0.031).round(),
        "VMI2+" => (sum * 0.04).round() + 3000.0,
        "VMI3+" => (sum * 0.045).round() + 2500.0,
        "VMI3" => 4000.0,
        _ => 600.0,
    }
}

fn default_items(sum: Value) -> Value {
    json!([
        { "name": "Sum Insured", "code": "OD", "sumInsured": sum }, { "name": "Deduct Amount", "code": "DD", "sumInsured": 0 },
        { "name": "TPBI/Persons", "code": "TPBI_PERSON", "sumInsured": 500000 },
        { "name": "TPBI Claims/Accident", "code": "TPBI_ACCIDENT", "sumInsured": 10000000 },
        { "name": "TPPD Claims", "code": "TPPD", "sumInsured": 2500000 }, { "name": "RY01(PA)/Person", "code": "PA", "sumInsured": 100000 },
        { "name": "RY02(ME)/Person", "code": "ME", "sumInsured": 100000 }, { "name": "RY03(BailBond)", "code": "BB", "sumInsured": 200000 },
        { "name": "Roadside Assistance", "code": "RA85", "sumInsured": null }
    ])
}

/// The request's body, its product and its package.
type Parsed = (Map<String, Value>, String, Option<PackageRequest>);

fn common(body: &Value, contract: bool) -> Result<Parsed, Refusal> {
    let o = object(body, "body").map_err(malformed)?.clone();
    if o.get("channel").and_then(Value::as_str) != Some("WS") {
        return Err(malformed("`channel` must be WS".into()));
    }
    let product = match o.get("productCode").and_then(Value::as_str) {
        Some(p @ ("VMI" | "CMI")) => p.to_string(),
        _ => return Err(malformed("`productCode` must be VMI or CMI".into())),
    };
    date(&o, "policyStartDate", true).map_err(malformed)?;
    date(&o, "policyExpiryDate", false).map_err(malformed)?;
    let package = match check_packages(&o, &product, contract) {
        Ok(p) => p,
        Err(Ok(why)) => return Err(malformed(why)),
        Err(Err(why)) => {
            tracing::debug!("AAGI simulator: 003 because {why}");
            return Err(error(
                StatusCode::BAD_REQUEST,
                "003",
                "coverageItems ข้อมูลที่ส่งมาไม่ถูกต้อง",
            ));
        }
    };
    let plan = package.as_ref().map(|p| p.plan.clone());
    let plan = plan.as_deref();
    check_vehicle(&o, &product, plan, contract).map_err(malformed)?;
    Ok((o, product, package))
}

// ---------------------------------------------------------------------------------------------
// Endpoints

async fn quick_quotes(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&s, "/v1/motor/quickquotes", &headers) {
        return r.into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return malformed("not JSON".into()).into_response();
    };
    let (mut o, _, package) = match common(&body, false) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    match package {
        // AAGI 7.10: where a CMI premium comes back is undocumented. A GUESS: in a package, as
        // every VMI answer carries it, with `"coverages": null` since CMI has no plan (the
        // seed's answers spell absent values as null: `"owner": null`, `"discounts": null`).
        None => {
            o.insert(
                "productPackages".into(),
                json!([{ "name": null, "coverages": null, "premium": premium(net_premium("CMI", 0.0)) }]),
            );
        }
        Some(p) => {
            let sum = p.sum_insured.unwrap_or_else(|| default_sum(&p.plan));
            // Whole amounts go back as integers, as the spec's examples show them.
            let sum_json = if sum.fract() == 0.0 {
                json!(sum as u64)
            } else {
                json!(sum)
            };
            let items = p
                .items
                .map(Value::Array)
                .unwrap_or_else(|| default_items(sum_json.clone()));
            o.insert(
                "productPackages".into(),
                json!([{ "name": "GRANU", "coverages": [{ "name": p.plan, "code": p.plan, "sumInsured": sum_json, "coverageItems": items }],
                          "premium": premium(net_premium(&p.plan, sum)) }]),
            );
        }
    }
    if let Some(Value::Object(v)) = o.get_mut("vehicle") {
        v.insert("numberOfSeats".into(), json!(7));
    }
    axum::Json(Value::Object(o)).into_response()
}

fn check_party(
    p: &Map<String, Value>,
    role: &str,
    insured: bool,
    digital: bool,
    usage: &str,
) -> Result<(), Refusal> {
    let bad = |why: String| malformed(format!("{role}: {why}"));
    match p.get("type").and_then(Value::as_str) {
        Some("PERSON") => {
            for field in ["title", "firstName", "lastName"] {
                text(p, field).map_err(bad)?;
            }
            if !matches!(p.get("gender").and_then(Value::as_str), Some("MALE" | "FEMALE")) {
                return Err(bad("`gender` must be MALE or FEMALE".into()));
            }
            let docs = p
                .get("identificationDocuments")
                .and_then(Value::as_array)
                .filter(|d| !d.is_empty());
            let doc = docs
                .and_then(|d| d[0].as_object())
                .ok_or_else(|| bad("identificationDocuments required".into()))?;
            if !matches!(
                doc.get("identityType").and_then(Value::as_str),
                Some("NRIC" | "PASS")
            ) {
                return Err(bad("identityType must be NRIC or PASS".into()));
            }
            let id = text(doc, "identityNumber").map_err(bad)?;
            // The seed's tables for insuredPerson, beneficiary and payer alike: "nationality |
            // String | Yes | No | The nationality of policy person" (required for a PERSON).
            // (The distilled page names it for the insured only.)
            text(p, "nationality").map_err(bad)?;
            date(p, "birthDate", true).map_err(bad)?;
            length(Some(text(p, "mobilePhone").map_err(bad)?), "mobilePhone", 10).map_err(bad)?;
            let email = opt_text(p, "emailAddress").map_err(bad)?;
            if insured && digital && email.is_none() {
                return Err(bad("an e-policy needs emailAddress".into()));
            }
            if insured && digital && email.is_some_and(|e| e.trim().ends_with("@agent.example")) {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "113",
                    "อีเมล์นี้มีผู้อื่นใช้แล้ว กรุณาลองใช้อีเมล์อื่น",
                ));
            }
            let (known_id, first, last) = KNOWN_CUSTOMER;
            if id == known_id
                && (p.get("firstName") != Some(&json!(first)) || p.get("lastName") != Some(&json!(last)))
            {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "112",
                    "ข้อมูลลูกค้า (ชื่อนามสกุล ชื่อบริษัท) ไม่ตรงกับฐานข้อมูล กรุณาติดต่อเจ้าหน้าที่",
                ));
            }
        }
        Some("COMPANY") => {
            text(p, "registerId").map_err(bad)?;
            text(p, "companyName").map_err(bad)?;
            let individual_use = matches!(usage, "110" | "210");
            if (!insured || individual_use) && opt_text(p, "customerName").map_err(bad)?.is_none() {
                return Err(bad("customerName is required".into()));
            }
            if insured && digital {
                return Err(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "E01",
                    "ลูกค้านิติบุคคล ไม่สามารถออกกรมธรรม์ E-Policy ได้",
                ));
            }
        }
        _ => return Err(bad("`type` must be PERSON or COMPANY".into())),
    }
    let addresses = p
        .get("addresses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for kind in ["REGISTER", "CURRENT"] {
        let a = addresses
            .iter()
            .filter_map(Value::as_object)
            .find(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .ok_or_else(|| bad(format!("a {kind} address is required")))?;
        let line = text(a, "addressLine1").map_err(bad)?;
        if line.chars().count() > 250 {
            return Err(bad("addressLine1 is at most 250".into()));
        }
        for field in ["district", "subDistrict", "state"] {
            text(a, field).map_err(bad)?;
        }
        length(Some(text(a, "postalCode").map_err(bad)?), "postalCode", 5).map_err(bad)?;
    }
    Ok(())
}

fn check_consents(o: &Map<String, Value>) -> Result<(), Refusal> {
    let consents = o
        .get("consents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (kind, must) in [
        ("INFORMATION", true),
        ("SANCTION_COUNTRY", true),
        ("MARKETING", false),
    ] {
        let c = consents
            .iter()
            .find(|c| c.get("consentType").and_then(Value::as_str) == Some(kind))
            .ok_or_else(|| malformed(format!("consent {kind} is required")))?;
        let accepted = c
            .get("hasAccepted")
            .and_then(Value::as_bool)
            .ok_or_else(|| malformed("hasAccepted".into()))?;
        if must && !accepted {
            return Err(malformed(format!("{kind} must be accepted")));
        }
    }
    Ok(())
}

async fn contracts(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&s, "/v1/motor/contracts", &headers) {
        return r.into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return malformed("not JSON".into()).into_response();
    };
    let (o, product, package) = match common(&body, true) {
        Ok(v) => v,
        Err(r) => return r.into_response(),
    };
    let verify = match o.get("contractProcessState").and_then(Value::as_str) {
        Some("ISSUE") => false,
        Some("VERIFY") => true,
        _ => return malformed("contractProcessState must be ISSUE or VERIFY".into()).into_response(),
    };
    let Some(digital) = o.get("isDigitalPolicy").and_then(Value::as_bool) else {
        return malformed("isDigitalPolicy is required".into()).into_response();
    };
    let usage = o["vehicle"]["usage"].as_str().unwrap_or_default().to_string();
    let Some(insured) = o.get("insuredPerson").and_then(Value::as_object) else {
        return malformed("insuredPerson is required".into()).into_response();
    };
    if let Err(r) = check_party(insured, "insuredPerson", true, digital, &usage) {
        return r.into_response();
    }
    for role in ["beneficiary", "payer"] {
        if let Some(p) = o.get(role).filter(|p| !p.is_null()) {
            let Some(p) = p.as_object() else {
                return malformed(format!("{role} must be an object")).into_response();
            };
            if let Err(r) = check_party(p, role, false, false, &usage) {
                return r.into_response();
            }
        }
    }
    if let Err(r) = check_consents(&o) {
        return r.into_response();
    }
    let start = o["policyStartDate"].as_str().unwrap_or_default().to_string();
    let start_date = Date::parse(&start, format_description!("[year]-[month]-[day]")).ok();
    let expiry = match o.get("policyExpiryDate").and_then(Value::as_str) {
        Some(e) => e.to_string(),
        None => start_date
            .and_then(|d| d.replace_year(d.year() + 1).ok())
            .and_then(|d| d.format(format_description!("[year]-[month]-[day]")).ok())
            .unwrap_or_default(),
    };
    // A voluntary first-class cover on a car over ten years old needs an inspection first.
    let year: i32 = o["vehicle"]["yearOfManufacture"]
        .as_str()
        .and_then(|y| y.parse().ok())
        .unwrap_or(0);
    let old = start_date.is_some_and(|d| d.year() - year > 10);
    let inspection = product == "VMI"
        && old
        && package
            .as_ref()
            .is_some_and(|p| matches!(p.plan.as_str(), "VMI1" | "VMI2+"));
    let mut inner = s.lock();
    inner.issued += 1;
    let contract_id = format!("{:022x}", inner.issued.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // A VERIFY creates nothing (a GUESS at its answer: the seed shows only issued ones), so it
    // names no contract: `"contractId": null`, as the seed spells every absent value.
    let info = json!({
        "contractId": if verify { Value::Null } else { json!(contract_id) },
        "policyNumber": if verify { Value::Null } else { json!(format!("22-001-M01-{:06}", inner.issued)) },
        "policyStartDate": start, "policyExpiryDate": expiry,
        "documentUrl": if verify { Value::Null } else { json!(format!("https://epolicy.example/{contract_id}")) },
        "policyStatus": if inspection { "PROCESS_CAR_INSPECTION" } else { "SUCCESS" },
    });
    if !verify {
        inner.contracts.insert(
            contract_id,
            Contract {
                info: info.clone(),
                issued_at: OffsetDateTime::now_utc(),
                vin: o["vehicle"]["vehicleIdentificationNumber"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            },
        );
    }
    if !verify && std::mem::take(&mut inner.fail_next_issue) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "999", "เกิดข้อผิดพลาดในระบบ").into_response();
    }
    axum::Json(info).into_response()
}

fn not_found() -> Refusal {
    error(StatusCode::NOT_FOUND, "404", "ไม่พบข้อมูล")
}

async fn contract_info(State(s): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&s, "/v1/motor/contracts/{id}", &headers) {
        return r.into_response();
    }
    match s.lock().contracts.get(&id) {
        Some(c) => axum::Json(c.info.clone()).into_response(),
        None => not_found().into_response(),
    }
}

async fn amendments(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, "/v1/motor/contracts/{id}/amendments", &headers) {
        return r.into_response();
    }
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&body) else {
        return malformed("not a JSON object".into()).into_response();
    };
    if o.get("type").and_then(Value::as_str) != Some("CANCEL") {
        return malformed("type must be CANCEL".into()).into_response();
    }
    let reason = match text(&o, "reason") {
        Ok(r) if r.chars().count() <= 50 => r.to_string(),
        _ => return malformed("reason is required, at most 50 characters".into()).into_response(),
    };
    let mut inner = s.lock();
    let Some(contract) = inner.contracts.get_mut(&id) else {
        return not_found().into_response();
    };
    if contract.info["policyStatus"] == "CANCELLED" {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "131", "กรมธรรม์ถูกยกเลิกแล้ว").into_response();
    }
    // AAGI 5.4: "Policy Cancellation with in day".
    if OffsetDateTime::now_utc() - contract.issued_at > time::Duration::days(1) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "130",
            "ไม่สามารถยกเลิกกรมธรรม์ได้ เกินกำหนดวันที่ออกกรมธรรม์",
        )
        .into_response();
    }
    contract.info["policyStatus"] = json!("CANCELLED");
    let today = OffsetDateTime::now_utc()
        .date()
        .format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default();
    let number = contract.info["policyNumber"].as_str().unwrap_or_default();
    axum::Json(
        json!({ "type": "CANCEL", "reason": reason, "effectiveDate": today,
                       "policyNumber": format!("{number}-2"), "status": "SUCCESS" }),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premiums_follow_the_observed_arithmetic_of_the_spec_examples() {
        for (net, vat, stamp, gross) in [
            (18617.0, 1308.44, 75.0, 20000.44),
            (22131.0, 1555.4, 89.0, 23775.4),
        ] {
            let p = premium(net);
            assert_eq!(p["additionalCosts"][0]["amount"], json!(vat));
            assert_eq!(p["additionalCosts"][1]["amount"], json!(stamp));
            assert_eq!(p["grossPremium"], json!(gross));
        }
    }

    /// The seed asks a PERSON's nationality in the beneficiary's and the payer's tables as in
    /// the insured's ("nationality | String | Yes | No").
    #[test]
    fn a_beneficiary_or_payer_person_needs_a_nationality() {
        let address = |kind: &str| {
            json!({ "type": kind, "addressLine1": "1 Road", "district": "8", "subDistrict": "95",
                    "state": "0", "postalCode": "10400" })
        };
        let person = json!({
            "type": "PERSON", "title": "MR", "firstName": "A", "lastName": "B", "gender": "MALE",
            "identificationDocuments": [{ "identityType": "NRIC", "identityNumber": "1234567890123" }],
            "nationality": "TH", "birthDate": "1990-01-01", "mobilePhone": "0812345678",
            "addresses": [address("REGISTER"), address("CURRENT")],
        });
        let mut without = person.clone();
        without.as_object_mut().unwrap().remove("nationality");
        for role in ["beneficiary", "payer"] {
            assert!(check_party(person.as_object().unwrap(), role, false, false, "110").is_ok());
            assert!(check_party(without.as_object().unwrap(), role, false, false, "110").is_err());
        }
    }

    /// The remarks of the seed's coverage-item table: FL "VMI1 and VMI3 should be “0” or
    /// null", OD and DD "VMI3 should be “0” or null"; a wrong item is 003.
    #[test]
    fn an_item_the_plan_does_not_cover_must_be_zero_or_null() {
        let body = |plan: &str, code: &str, sum: Value| {
            let mut items: Vec<Value> = mandatory_items(plan)
                .iter()
                .map(|c| json!({ "code": c, "sumInsured": 100000 }))
                .collect();
            items.push(json!({ "code": code, "sumInsured": sum }));
            json!({ "productPackages": [{ "name": "GRANU", "coverages": [
                { "code": plan, "sumInsured": 700000, "coverageItems": items }
            ] }] })
        };
        let check = |b: Value| check_packages(b.as_object().unwrap(), "VMI", false).map(|_| ());
        assert!(matches!(check(body("VMI1", "FL", json!(300000))), Err(Err(_))));
        assert!(matches!(check(body("VMI3", "OD", json!(1))), Err(Err(_))));
        assert!(check(body("VMI1", "FL", json!(0))).is_ok());
        assert!(check(body("VMI3", "DD", Value::Null)).is_ok());
        assert!(check(body("VMI2+", "RA85", json!(5))).is_ok());
    }

    #[test]
    fn registration_combinations_follow_the_table() {
        assert_eq!(registration_rule(Some("THA"), Some("GEN")), Some((true, true)));
        assert_eq!(registration_rule(None, Some("REDPLATE")), Some((true, false)));
        assert_eq!(registration_rule(Some("MYS"), Some("INTER")), Some((false, true)));
        assert_eq!(registration_rule(Some("THA"), Some("INTER")), None);
        assert_eq!(registration_rule(Some("MYS"), Some("GEN")), None);
    }
}
