//! A strict simulator of BCS policy management 1.5.x: all eleven endpoints, with both error
//! envelopes (A: `ER` for the life, status, case and payee endpoints; B: `ERR400` for the general
//! ones), the code tables of section 6 and #2's types and lengths. Choices where the spec is
//! silent are in `tests/sims/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

pub struct BcsSimConfig {
    pub client_id: String,
    pub client_secret: String,
}

struct Quote {
    product: String,
    plan: String,
    premium: u64,
}

struct Inner {
    quotes: BTreeMap<u64, Quote>,
    policies: BTreeMap<String, String>,
    applications: BTreeSet<String>,
    cases: BTreeSet<u64>,
    next: u64,
    requests: Vec<(String, bool)>,
}

struct Shared {
    config: BcsSimConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    fn new(config: BcsSimConfig) -> Shared {
        let inner = Inner {
            quotes: BTreeMap::new(),
            policies: BTreeMap::new(),
            applications: BTreeSet::new(),
            cases: BTreeSet::new(),
            next: 1000,
            requests: Vec::new(),
        };
        Shared {
            config,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct BcsSimulator {
    shared: Arc<Shared>,
    base_url: String,
}

impl BcsSimulator {
    pub async fn start(config: BcsSimConfig, addr: SocketAddr) -> anyhow::Result<BcsSimulator> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared::new(config));
        let router = Router::new().fallback(dispatch).with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("BCS simulator stopped: {e}");
            }
        });
        Ok(BcsSimulator { shared, base_url })
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request as `(path, authorized)`.
    pub fn requests(&self) -> Vec<(String, bool)> {
        self.shared.lock().requests.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

/// A refusal in one of BCS's two error envelopes.
struct Refusal {
    status: StatusCode,
    general: bool,
    code: String,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = if self.general {
            json!({ "responseType": { "value": "ERR400" }, "responseDetail": { "errorCode": 400, "errorDesc": self.message, "errorType": "Bad Request" } })
        } else {
            json!({ "responseType": { "value": "ER" }, "responseDetail": { "errorCode": self.code, "errorDesc": self.message, "errorType": "TPS" } })
        };
        (self.status, axum::Json(body)).into_response()
    }
}

impl Refusal {
    /// The refusal of a field inside the array element `at`, its message naming the element.
    fn within(mut self, at: &str) -> Refusal {
        self.message = format!("{at}.{}", self.message);
        self
    }
}

type Check<T> = Result<T, Refusal>;

/// The error context of an endpoint: which envelope it uses.
#[derive(Clone, Copy)]
struct Ctx {
    general: bool,
}

impl Ctx {
    fn bad(self, message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            general: self.general,
            code: "00002".into(),
            message: message.into(),
        }
    }

    fn business(self, code: &str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            general: self.general,
            code: code.into(),
            message: message.into(),
        }
    }

    fn at<'a>(self, v: &'a Value, path: &str) -> Check<&'a Value> {
        let mut cur = v;
        for key in path.split('.') {
            cur = cur
                .get(key)
                .ok_or_else(|| self.bad(format!("{path} is required")))?;
        }
        if cur.is_null() {
            Err(self.bad(format!("{path} is required")))
        } else {
            Ok(cur)
        }
    }

    /// A string or number field as text (BCS mixes them, spec 8.13).
    fn text(self, v: &Value, path: &str, max: Option<usize>) -> Check<String> {
        let value = self.at(v, path)?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(self.bad(format!("{path} must be text"))),
        };
        if text.trim().is_empty() {
            return Err(self.bad(format!("{path} is required")));
        }
        if max.is_some_and(|m| text.chars().count() > m) {
            return Err(self.bad(format!("{path} is longer than {}", max.unwrap_or_default())));
        }
        Ok(text)
    }

    fn one_of(self, v: &Value, path: &str, allowed: &[&str]) -> Check<String> {
        let text = self.text(v, path, None)?;
        if allowed.contains(&text.as_str()) {
            Ok(text)
        } else {
            Err(self.bad(format!("{path} must be one of {allowed:?}")))
        }
    }

    /// `DD-MM-YYYY` for simulations and quotes; issuing takes either (spec 8.12).
    fn date(self, v: &Value, path: &str, day_first: bool, iso: bool) -> Check<Date> {
        let text = self.text(v, path, None)?;
        let parsed = day_first
            .then(|| Date::parse(&text, format_description!("[day]-[month]-[year]")).ok())
            .flatten()
            .or_else(|| {
                iso.then(|| Date::parse(&text, format_description!("[year]-[month]-[day]")).ok())
                    .flatten()
            });
        parsed.ok_or_else(|| self.bad(format!("{path} is not a valid date")))
    }
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("client_id") == Some(s.config.client_id.as_str())
        && header("client_secret") == Some(s.config.client_secret.as_str())
}

// ---------------------------------------------------------------------------------------------
// Code tables (spec 6)

const LIFE_PRODUCTS: [&str; 3] = ["24297", "27298", "31300"];
const GENERAL_PRODUCTS: [(&str, &str); 7] = [
    ("24297", "1"),
    ("24298", "1"),
    ("31300", "1"),
    ("34299", "1"),
    ("69308", "2"),
    ("67307", "3"),
    ("307", "3"),
];
const FREQUENCIES: [&str; 9] = ["1", "2", "3", "4", "5", "6", "7", "8", "10000"];
const OFFICES: [&str; 23] = [
    "421", "1001", "2013", "2016", "2017", "2018", "2026", "2029", "3004", "3014", "3015", "3023", "4003",
    "4006", "4011", "4021", "4025", "4027", "5002", "5008", "5019", "5022", "6005",
];
const STATUS_CODES: [&str; 17] = [
    "SE", "AP", "NE", "DE", "NR", "AE", "AG", "CM", "PC", "AN", "AV", "DI", "FS", "IT", "PE", "PS", "SO",
];

fn channels() -> Vec<String> {
    (101..=121).map(|c: u32| c.to_string()).collect()
}

fn id_types() -> Vec<String> {
    (1..=12).map(|c: u32| c.to_string()).collect()
}

/// The `coverageId`s (plans) of each product, from the seed's #5 and #6 lists ("coverageId
/// (Required) : Coverage module identifier"), which agree with each other.
fn plans(product: &str) -> &'static [&'static str] {
    match product {
        // "1 = 24 24297 Plan 1 500K 4 Cuotas" … "8 = 24 24297 Plan 8 1.2M 6 Cuotas".
        "24297" => &["1", "2", "3", "4", "5", "6", "7", "8"],
        // "1 = 24 24298 Plan 1 100K 6 Cuotas" … "4 = 24 24298 Plan 4 400K 6 Cuotas"; the life
        // product list calls the same product (Tu Ahorro Amigo) "27298" (spec 8.11).
        "24298" | "27298" => &["1", "2", "3", "4"],
        // "1 = 31 31300 Plan 1 $5 MM" … "16 = 31 31300 Plan 16 $150 MM Asist"; #10's productIdent 1
        // example sends "productIdNumber": "31300" with "coverageId": "8".
        "31300" => &[
            "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
        ],
        // The lists name no plan of 34299, 69308 or 67307 ("307" in the examples); every example
        // for them (#9 productIdent 1 `34299`, #10 productIdent 2 `69308`, productIdent 3 `307`)
        // sends "coverageId": 1 or "1", so that is the one plan taken: a guess.
        "34299" | "69308" | "67307" | "307" => &["1"],
        _ => &[],
    }
}

fn plan_json(product: &str, plan: &str) -> Value {
    let n: u64 = plan.parse().unwrap_or(1);
    let sum = n * 5_000_000;
    json!({ "product": { "productLine": 31, "productClass": product.parse::<u64>().unwrap_or(0), "idItem": n,
                "desc": format!("Plan {n} {} MM", sum / 1_000_000), "fee": { "totalInsurableValue": 100 * (n + 1) }, "freq": 1 },
            "coverageInfo": [ { "coverageId": 1, "desc": "Muerte Accidental", "amt": sum as f64, "fee": { "insuranPremiumValue": 0.0 },
                                "insuranPremiumValue": (sum / 1000 * 12) as f64 } ] })
}

fn detail_ok() -> Value {
    json!({ "errorCode": "", "errorDesc": "", "startDt": "2023-07-19T10:28:27.0131805-05:00" })
}

// ---------------------------------------------------------------------------------------------
// Dispatch

async fn dispatch(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path()
        .trim_start_matches("/policy-management/v1/")
        .to_string();
    let ok = authorized(&s, &headers);
    s.lock().requests.push((path.clone(), ok));
    let general = path.starts_with("general/");
    if !ok {
        return Refusal {
            status: StatusCode::UNAUTHORIZED,
            general,
            code: "401".into(),
            message: "Unauthorized".into(),
        }
        .into_response();
    }
    let ctx = Ctx { general };
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return ctx.bad("the body is not JSON").into_response();
    };
    let result = match (method.as_str(), path.as_str()) {
        ("POST", "life/simulation") => life_simulation(ctx, &v),
        ("POST", "general/simulation") => general_simulation(ctx, &v),
        ("POST", "life/quote") => quote(&s, ctx, &v, None),
        ("POST", "general/quote") => general_quote(&s, ctx, &v),
        ("POST", "life/issuing") => issuing(&s, ctx, &v, false),
        ("POST", "general/issuing") => issuing(&s, ctx, &v, true),
        ("POST", "life/certificate") => certificate(&s, ctx, &v),
        ("POST", "insurance/case") => insurance_case(&s, ctx, &v),
        ("POST", "status-submit") => status(&s, ctx, &v, false),
        ("PUT", "status-update") => status(&s, ctx, &v, true),
        ("POST", "costumer-payee") => payee(ctx, &v),
        _ => return (StatusCode::NOT_FOUND, "resource not found").into_response(),
    };
    match result {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn life_simulation(ctx: Ctx, v: &Value) -> Check<Value> {
    let items = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ctx.bad("the body is an array of products (5.4)"))?;
    let mut plans_out = Vec::new();
    for item in items {
        let product = ctx.one_of(item, "product.productIdNumber", &LIFE_PRODUCTS)?;
        let channels = channels();
        ctx.one_of(
            item,
            "insuranceInfo.channel",
            &channels.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        ctx.date(item, "insuranceInfo.personName.birthDt", true, false)?;
        plans_out.extend(plans(&product).iter().take(2).map(|p| plan_json(&product, p)));
    }
    Ok(json!({ "responseDetail": detail_ok(), "insuranceInfo": plans_out }))
}

/// `productIdent` and product must agree (6.4b); home needs its risk (5.8).
fn general_product(ctx: Ctx, v: &Value) -> Check<(String, String)> {
    let ident = ctx.one_of(v, "productIdent", &["1", "2", "3"])?;
    let product = ctx.text(v, "product.productIdNumber", None)?;
    if !GENERAL_PRODUCTS.contains(&(product.as_str(), ident.as_str())) {
        return Err(ctx.bad(format!("product {product} is not a productIdent {ident} product")));
    }
    ctx.one_of(v, "product.freq", &FREQUENCIES)?;
    if ident == "3" {
        let capital = ctx.at(v, "insuranceInfo.capitalization")?;
        if !capital
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["amt"].is_number()))
        {
            return Err(ctx.bad("insuranceInfo.capitalization[].amt is required for homes"));
        }
        let address = ctx.at(v, "insuranceInfo.riskInfo.postAddr")?;
        let first = address
            .as_array()
            .and_then(|a| a.first())
            .ok_or_else(|| ctx.bad("riskInfo.postAddr is required"))?;
        for field in ["addr1", "stateProv", "cityId"] {
            ctx.text(first, field, None)?;
        }
    }
    Ok((ident, product))
}

fn general_simulation(ctx: Ctx, v: &Value) -> Check<Value> {
    let (ident, product) = general_product(ctx, v)?;
    let channels = channels();
    ctx.one_of(
        v,
        "insuranceInfo.channel",
        &channels.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    // #8 has no field table; its "Request body example (for productIdent=3 )" (a home)
    // carries no `personName`, those for 1 and 2 a `birthDt`.
    if ident != "3" {
        ctx.date(v, "insuranceInfo.personName.birthDt", true, true)?;
    }
    let plans_out: Vec<Value> = plans(&product)
        .iter()
        .take(2)
        .map(|p| plan_json(&product, p))
        .collect();
    Ok(json!({ "responseDetail": detail_ok(), "insuranceInfo": plans_out }))
}

fn general_quote(s: &Shared, ctx: Ctx, v: &Value) -> Check<Value> {
    let (_, product) = general_product(ctx, v)?;
    quote(s, ctx, v, Some(product))
}

/// #5 (life) and #9 (general): a quote held under a new `pmtAuthId`.
fn quote(s: &Shared, ctx: Ctx, v: &Value, general_product: Option<String>) -> Check<Value> {
    let product = match general_product {
        Some(p) => p,
        None => ctx.one_of(v, "product.productIdNumber", &LIFE_PRODUCTS)?,
    };
    ctx.one_of(v, "product.freq", &FREQUENCIES)?;
    office(ctx, v)?;
    let plan = ctx.one_of(v, "coverageInfo.coverageId", plans(&product))?;
    ctx.one_of(v, "insuranceInfo.personType", &["1", "2"])?;
    let channels = channels();
    ctx.one_of(
        v,
        "insuranceInfo.channel",
        &channels.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    let ids = id_types();
    ctx.one_of(
        v,
        "insuranceInfo.govIssueIdent.govIssueIdentType",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    ctx.text(v, "insuranceInfo.govIssueIdent.identSerialNum", None)?;
    ctx.date(v, "insuranceInfo.personName.birthDt", true, ctx.general)?;
    ctx.one_of(v, "insuranceInfo.personName.gender", &["1", "2", "3"])?;
    let n: u64 = plan.parse().unwrap_or(1);
    let premium = 25_000 * n + 366;
    let tax = premium * 95 / 1000;
    let mut inner = s.lock();
    inner.next += 1;
    let auth = inner.next;
    inner.quotes.insert(
        auth,
        Quote {
            product: product.clone(),
            plan: plan.clone(),
            premium: premium + tax,
        },
    );
    Ok(
        json!({ "pmtReferences": { "pmtAuthId": auth }, "responseDetail": detail_ok(),
        "insuranceInfo": { "coverageInfo": [ { "coverageId": 1, "validityPeriod": 100, "validityTime": 100, "amt": 5_000_000 * n,
            "rate": 2.9925, "ccAcctRec": { "brand": 3, "rate": 5, "amt": 25000 }, "insuranPremiumValue": premium, "desc": "Muerte Accidental",
            "additionalData": { "type": 1, "amt": tax } } ] },
        "invoicePremium": { "fee": { "totalInsurableValue": premium + tax, "amt": tax }, "billId": auth, "insuranPremiumValue": premium },
        "product": { "idItem": n, "desc": format!("Plan {n}"), "freq": 1 } }),
    )
}

/// `entprAgreement.cityId`, the office: the seed lists its offices ("421 ... 6005 =
/// Bucaramanga") under the life quote (#5) and life issuing (#6) only, and its general examples
/// send offices off that list (#9's home example `"cityId": "1"`, #10's `"cityId": "106"`):
/// there any office is taken.
fn office(ctx: Ctx, v: &Value) -> Check<String> {
    if ctx.general {
        ctx.text(v, "entprAgreement.cityId", None)
    } else {
        ctx.one_of(v, "entprAgreement.cityId", &OFFICES)
    }
}

/// #6 and #10: issue from a held quote; the product and plan must be the quote's.
fn issuing(s: &Shared, ctx: Ctx, v: &Value, general: bool) -> Check<Value> {
    let mut product = ctx.text(v, "product.productIdNumber", None)?;
    if general {
        general_product(ctx, v)?;
    } else {
        // Spec 8.11: the life issuing list writes 31300 as "3130".
        if product == "3130" {
            product = "31300".into();
        }
        if !LIFE_PRODUCTS.contains(&product.as_str()) {
            return Err(ctx.bad("product.productIdNumber is not a life product"));
        }
        ctx.one_of(v, "product.freq", &FREQUENCIES)?;
    }
    office(ctx, v)?;
    let auth: u64 = ctx
        .text(v, "pmtReferences.pmtAuthId", None)?
        .parse()
        .map_err(|_| ctx.bad("pmtAuthId is numeric"))?;
    let pay_type = ctx.text(v, "pmtReferences.pmtType", None)?;
    let plan = ctx.text(v, "coverageInfo.coverageId", None)?;
    ctx.one_of(v, "personInfo.personType", &["1", "2", "4"])?;
    let ids = id_types();
    ctx.one_of(
        v,
        "personInfo.govIssueIdentType",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    ctx.text(v, "personInfo.identSerialNum", None)?;
    if v["personInfo"].get("birthDt").is_some_and(|b| !b.is_null()) {
        ctx.date(v, "personInfo.birthDt", true, true)?;
    }
    for address in v["personInfo"]["contactInfo"]["postAddr"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for phone in address["phoneNum"].as_array().into_iter().flatten() {
            ctx.text(phone, "phoneAreaCode", None)?;
            ctx.text(phone, "phone", None)?;
        }
    }
    issuing_payment(ctx, v, &pay_type)?;
    issuing_address(ctx, v)?;
    issuing_beneficiaries(ctx, v)?;
    let mut inner = s.lock();
    let Some(quote) = inner.quotes.get(&auth) else {
        return Err(ctx.business("00004", "Cotizacion no encontrada"));
    };
    if quote.product != product || quote.plan != plan {
        return Err(ctx.business("00005", "La cotizacion no corresponde al producto o plan"));
    }
    let premium = quote.premium;
    inner.quotes.remove(&auth);
    inner.next += 1;
    let policy = format!("{}", 900 + inner.next);
    let certificate = format!("{}", 21_344_000 + inner.next);
    inner.policies.insert(policy.clone(), product);
    Ok(
        json!({ "insuranceInfo": { "cSpRefId": "Emisión", "trnRquId": format!("{}", 37_000 + inner.next), "operationType": "Cobro",
        "effDt": "2023-08-24", "endDt": "2024-08-24", "insuranPremiumValue": premium, "fee": { "amt": premium * 95 / 1095 }, "rate": 0,
        "policyId": policy, "certCode": certificate, "forExRateInqRq": { "depAcctId": policy } } }),
    )
}

/// #6/#10's payment. "pmtType (Required) : pay method" has no code list; the examples pair
/// pmtType "2" with a card alone (#10, productIdent 1) and "1" with a bank account (#6, #10
/// productIdent 2 and 3), so this simulator reads 2 = card, 1 = account debit: a guess.
/// "ccAcctRec: Credit card information in case the payment method is through it / code
/// (Required): Bank code" (6.12); "pmtMethod: Bank account information in case the payment
/// method is through an account / depAcctId: bankId: Bank code … acctType … acctId".
fn issuing_payment(ctx: Ctx, v: &Value, pay_type: &str) -> Check<()> {
    let first = |key: &str| {
        v["personInfo"][key]
            .as_array()
            .and_then(|a| a.first())
            .cloned()
            .ok_or_else(|| ctx.bad(format!("personInfo.{key}[] is required for pmtType {pay_type}")))
    };
    match pay_type {
        "2" => {
            let card = first("ccAcctRec")?;
            ctx.one_of(&card, "code", &BANKS)?;
            ctx.text(&card, "acctId", None)?;
        }
        "1" => {
            let account = first("depAcctId")?;
            ctx.one_of(&account, "bankId", &BANKS)?;
            ctx.text(&account, "acctType", Some(2))?;
            ctx.text(&account, "acctId", None)?;
        }
        other => return Err(ctx.bad(format!("pmtReferences.pmtType `{other}` is not a pay method"))),
    }
    Ok(())
}

/// "contactInfo: contact informaction / postAddr: array address / addr1: customer address …
/// cityId: city code": not marked Required, but every issuing example carries `addr1` and
/// `cityId`, and a policy without its holder's address cannot be delivered: a guess.
fn issuing_address(ctx: Ctx, v: &Value) -> Check<()> {
    let address = v["personInfo"]["contactInfo"]["postAddr"]
        .as_array()
        .and_then(|a| a.first())
        .ok_or_else(|| ctx.bad("personInfo.contactInfo.postAddr[] is required"))?;
    ctx.text(address, "addr1", None)?;
    ctx.text(address, "cityId", None)?;
    Ok(())
}

/// `beneficiary[]` is only in the examples (spec 8.4), each with `rate` and `relationshipType`
/// (payee: "relationshipType: Type of relationship among beneficiary and customer"). No list
/// of codes is given, so any non-empty value passes: a guess.
fn issuing_beneficiaries(ctx: Ctx, v: &Value) -> Check<()> {
    for b in v["beneficiary"].as_array().into_iter().flatten() {
        ctx.text(b, "personInfo.relationshipType", None)?;
        ctx.text(b, "personInfo.rate", None)?;
    }
    Ok(())
}

fn certificate(s: &Shared, ctx: Ctx, v: &Value) -> Check<Value> {
    // Spec 8.3: `productIdNumber` in the list, `productIdnumber` in the example; both taken.
    let product = ctx
        .text(v, "product.productIdNumber", None)
        .or_else(|_| ctx.text(v, "product.productIdnumber", None))?;
    let policy = ctx.text(v, "insuranceInfo.policyId", None)?;
    let inner = s.lock();
    match inner.policies.get(&policy) {
        Some(p) if *p == product || (product == "3130" && p == "31300") => {
            let pdf = format!("%PDF-1.3\n% certificado poliza {policy}\n%%EOF\n");
            Ok(json!({ "responseDetail": { "errorCode": "", "errorDesc": "" },
                "insuranceInfo": { "binData": base64::engine::general_purpose::STANDARD.encode(pdf) } }))
        }
        _ => Err(ctx.business("00006", "Poliza no encontrada")),
    }
}

fn insurance_case(s: &Shared, ctx: Ctx, v: &Value) -> Check<Value> {
    ctx.text(v, "channel.sPname", Some(15))?;
    ctx.text(v, "channel.user", Some(10))?;
    // "insuranceInfo[] | Cases[] | Información sobre los casos. | Array | YES" and
    // "insuranceInfo[].refInfo[] | Cases[].Entities | Array | YES": every case and every entity
    // is held to the table, not just the first.
    let mut requests = Vec::new();
    let mut product = String::new();
    for (i, case) in non_empty(ctx, v, "insuranceInfo")?.iter().enumerate() {
        let at = format!("insuranceInfo[{i}]");
        ctx.text(case, "desc", Some(30)).map_err(|r| r.within(&at))?;
        for (j, item) in non_empty(ctx, case, "refInfo")
            .map_err(|r| r.within(&at))?
            .iter()
            .enumerate()
        {
            let (request, kind) =
                case_entity(ctx, item).map_err(|r| r.within(&format!("{at}.refInfo[{j}]")))?;
            requests.push(request);
            if product.is_empty() {
                product = kind;
            }
        }
    }
    let mut inner = s.lock();
    let mut seen = BTreeSet::new();
    if requests
        .iter()
        .any(|r| inner.cases.contains(r) || !seen.insert(*r))
    {
        return Err(ctx.business("00001", "Ya existe un caso para la solicitud"));
    }
    inner.cases.extend(requests.iter().copied());
    inner.next += 1;
    Ok(
        json!({ "insuranceInfo": { "policyId": 23_032_000 + inner.next, "trnSrcInfo": { "code": "1" }, "requestNumber": requests[0].to_string(),
        "productType": product, "responseType": { "value": "OK" } } }),
    )
}

/// A non-empty array at `path`.
fn non_empty<'a>(ctx: Ctx, v: &'a Value, path: &str) -> Check<&'a Vec<Value>> {
    ctx.at(v, path)?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ctx.bad(format!("{path}[] is required")))
}

/// One `insuranceInfo[].refInfo[]` entity of #3: its request number and product type.
fn case_entity(ctx: Ctx, item: &Value) -> Check<(u64, String)> {
    // "curAmt.amt … Monto de valor que se aprueba para el credito | float | 15 | YES"
    if !ctx.at(item, "curAmt.amt")?.is_number() {
        return Err(ctx.bad("curAmt.amt is a number"));
    }
    ctx.text(item, "cityId", Some(5))?;
    // "relationshipType … Si el producto es individual o colectivo. | Int | 2 | YES"
    int_field(ctx, item, "relationshipType", 2)?;
    ctx.date(item, "createdDt", false, true)?;
    // "requestNumber … Número de solicitud enviado por el banco. | int | 15 | YES"
    let request = int_field(ctx, item, "requestNumber", 15)?;
    ctx.text(item, "submitOffice.branchId", Some(5))?;
    // "trnSrcInfo.code | Cases[].Entities[].BankSystemOrigin | Int | 1 | YES"
    int_field(ctx, item, "trnSrcInfo.code", 1)?;
    let product = ctx.one_of(item, "productType", &["3701", "3703", "34VD"])?;
    if !ctx.at(item, "flagAutom")?.is_boolean() {
        return Err(ctx.bad("flagAutom is a boolean"));
    }
    for (k, applicant) in non_empty(ctx, item, "applicantInfo")?.iter().enumerate() {
        case_applicant(ctx, applicant).map_err(|r| r.within(&format!("applicantInfo[{k}]")))?;
    }
    Ok((request, product))
}

/// Spec 6.12: the bank codes of `ccAcctRec[].code` and `depAcctId[].bankId`.
const BANKS: [&str; 22] = [
    "1", "2", "6", "7", "8", "9", "12", "13", "19", "23", "32", "40", "51", "52", "53", "58", "60", "61",
    "62", "65", "507", "558",
];

/// Spec 5.2, "Client status table": only these five, though the field's enum lists seventeen.
const CLIENT_STATUSES: [&str; 5] = ["SE", "AP", "NE", "DE", "NR"];

/// An `Int` field of #3: a JSON integer of at most `digits` digits ("Int | 15").
fn int_field(ctx: Ctx, v: &Value, path: &str, digits: usize) -> Check<u64> {
    let n = ctx
        .at(v, path)?
        .as_u64()
        .ok_or_else(|| ctx.bad(format!("{path} is an Int")))?;
    if n.to_string().len() > digits {
        return Err(ctx.bad(format!("{path} has more than {digits} digits")));
    }
    Ok(n)
}

/// One `applicantInfo[]` of #3, field by field from the seed's table ("Requerido YES").
fn case_applicant(ctx: Ctx, a: &Value) -> Check<()> {
    // "personName.firstName … String | 20 | YES", "personName.lastName … String | 20 | YES"
    ctx.text(a, "personName.firstName", Some(20))?;
    ctx.text(a, "personName.lastName", Some(20))?;
    // "govIssueIdent.identSerialNum … Número de identificación del solicitante. | Int | 15 | YES"
    int_field(ctx, a, "govIssueIdent.identSerialNum", 15)?;
    // "govIssueIdent.govIssueIdentType … String | 3 | YES"; the example sends "CC". The letter
    // codes are #2's enum (CC CE PA TI NI PE): a guess that #3 shares it, the seed lists none here.
    ctx.one_of(
        a,
        "govIssueIdent.govIssueIdentType",
        &["CC", "CE", "PA", "TI", "NI", "PE"],
    )?;
    // "applicantType … Si se trata de un caso individual, se guardará como 1-Titular principal. | int | 1 | YES"
    int_field(ctx, a, "applicantType", 1)?;
    // "planRequested … Guardar el plan al que pertenece el solicitante. | String | 3 | YES"
    ctx.text(a, "planRequested", Some(3))?;
    // "personInfo.birthDt … Formato AAAA-MM-DD. | Date | AAAA-MM-DD | YES"
    ctx.date(a, "personInfo.birthDt", false, true)?;
    // "personInfo.gender … Género del solicitante. | String | 1 | YES"; values from 6.10.
    ctx.one_of(a, "personInfo.gender", &["1", "2", "3"])?;
    // "orgInfo.addr1 … String | 45 | YES", "orgInfo.cityId … String | 5 | YES",
    // "orgInfo.additionalPhoneNum.cellPhone … Número de teléfono del trabajo | Int | 7 | YES"
    ctx.text(a, "orgInfo.addr1", Some(45))?;
    ctx.text(a, "orgInfo.cityId", Some(5))?;
    int_field(ctx, a, "orgInfo.additionalPhoneNum.cellPhone", 7)?;
    // "contactInfo.cellPhone … Int | 10 | YES", "contactInfo.cityId … String | 5 | YES",
    // "contactInfo.addr1 … String | 45 | YES", "contactInfo.additionalphoneNum.cellPhone …
    // Número de teléfono fijo del hogar | Int | 7 | YES" (the example spells it `additionalPhoneNum`).
    int_field(ctx, a, "contactInfo.cellPhone", 10)?;
    ctx.text(a, "contactInfo.cityId", Some(5))?;
    ctx.text(a, "contactInfo.addr1", Some(45))?;
    int_field(ctx, a, "contactInfo.additionalPhoneNum.cellPhone", 7)?;
    // "contactInfo.emailAddr … String | 50 | NO": optional, but only under `contactInfo`.
    if a.get("emailAddr").is_some() {
        return Err(ctx.bad("emailAddr belongs under contactInfo"));
    }
    if a["contactInfo"].get("emailAddr").is_some_and(|e| !e.is_null()) {
        ctx.text(a, "contactInfo.emailAddr", Some(50))?;
    }
    // "birthDt … InsurabilityDate … Por defecto, se envía la misma fecha de nacimiento. | YES"
    ctx.date(a, "birthDt", false, true)?;
    // "businessOcucupation.certcode … Ocupación del solicitante. | Int | 4 | YES"; the example
    // sends "05", so digits as a string pass as well.
    let certcode = ctx.text(a, "businessOcucupation.certcode", Some(4))?;
    if !certcode.chars().all(|c| c.is_ascii_digit()) {
        return Err(ctx.bad("businessOcucupation.certcode is an Int"));
    }
    // "question[] … declaración de asegurabilidad … | Array | YES", each with "questionIdent |
    // Int | 2 | YES", "answer | Respuesta TRUE - FALSE. | Boolean | YES", "desc | Si existen
    // observaciones. | String | 200 | YES" (present; empty when there is nothing to observe).
    let questions = ctx
        .at(a, "question")?
        .as_array()
        .filter(|q| !q.is_empty())
        .ok_or_else(|| ctx.bad("question[] is required"))?;
    for q in questions {
        int_field(ctx, q, "questionIdent", 2)?;
        if !ctx.at(q, "answer")?.is_boolean() {
            return Err(ctx.bad("question[].answer is a Boolean"));
        }
        let desc = ctx
            .at(q, "desc")?
            .as_str()
            .ok_or_else(|| ctx.bad("question[].desc is a String"))?;
        if desc.chars().count() > 200 {
            return Err(ctx.bad("question[].desc is longer than 200"));
        }
    }
    Ok(())
}

/// #1 (submit) and #2 (update), validated with #2's table (spec 5.2; #1 has none of its own).
fn status(s: &Shared, ctx: Ctx, v: &Value, update: bool) -> Check<Value> {
    ctx.text(v, "request.source", Some(1))?;
    ctx.one_of(v, "request.statusCode", &STATUS_CODES)?;
    let application = ctx.text(v, "depAcctStmtRec.depAcctId.acctId", Some(15))?;
    ctx.text(v, "product.productType", Some(4))?;
    let id_type = ctx.one_of(
        v,
        "personInfo.govIssueIdent.govIssueIdentType",
        &["CC", "CE", "PA", "TI", "NI", "PE"],
    )?;
    let id = ctx.text(v, "personInfo.govIssueIdent.identSerialNum", Some(30))?;
    ctx.date(v, "personInfo.policy.signature.issDt", false, true)?;
    // "personInfo.policy.status | Estado del cliente | String - enum | SE AP NE DE NR AE … SO":
    // the enum repeats the application's seventeen, but the seed's "Client status table" lists
    // SE AP NE DE NR only; a client is never "AE" (medical exams authorised is an application's).
    // The seed's own #2 example sends `"status": "AE"` (spec 8.10 lists the contradiction): this
    // simulator follows the table that defines the client status, a guess at which one BCS checks.
    ctx.one_of(v, "personInfo.policy.status", &CLIENT_STATUSES)?;
    ctx.text(v, "personInfo.policy.descriptionDesc", Some(200))?;
    status_optional_fields(ctx, v)?;
    let case = ctx.text(v, "insuranceInfo.coveredCode", None)?;
    if !case.chars().all(|c| c.is_ascii_digit()) {
        return Err(ctx.bad("insuranceInfo.coveredCode is numeric"));
    }
    let mut inner = s.lock();
    if update && !inner.applications.contains(&application) {
        return Err(ctx.business("00001", "Error en la actualizacion"));
    }
    inner.applications.insert(application.clone());
    let mut answer = json!({ "depAcctStmtRec": { "depAcctId": { "refNumber": application } },
        "govIssueIdent": { "identSerialNum": id, "govIssueIdentType": id_type } });
    if !update {
        answer["responseType"] = json!({ "value": "OK" });
    }
    Ok(answer)
}

/// #2's optional fields, each held to its row of the seed's table when present (absent or
/// null passes: "Requerido NO"). A field typed String must be a JSON string.
fn status_optional_fields(ctx: Ctx, v: &Value) -> Check<()> {
    // "personInfo.personType | Tipo solicitante | String | … maxLength: 15 | NO"
    optional_string(ctx, v, "personInfo.personType", 15)?;
    // "personInfo.policy.pmtsPlanProdType | Plan Asignado | String | … maxLength: 3 | NO"
    optional_string(ctx, v, "personInfo.policy.pmtsPlanProdType", 3)?;
    // "personInfo.policy.exclude | Requiere ExtraPrima | String - enum | false true ,
    // minLength: 1 , maxLength: 5 | NO": the strings "false" and "true", not a JSON boolean.
    if let Some(exclude) = optional_string(ctx, v, "personInfo.policy.exclude", 5)?
        && !["false", "true"].contains(&exclude)
    {
        return Err(ctx.bad("personInfo.policy.exclude must be one of \"false\" \"true\""));
    }
    // "personInfo.policy.Percentage | Porcentaje Extra Prima | String | ^[0-9]*$ ,minLength: 1 ,
    // maxLength: 5 | NO"; the table capitalises it, the example writes `percentage` (spec
    // 8.3): either spelling is held to the rule.
    for path in ["personInfo.policy.percentage", "personInfo.policy.Percentage"] {
        if let Some(percentage) = optional_string(ctx, v, path, 5)?
            && (percentage.is_empty() || !percentage.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(ctx.bad(format!("{path} is 1 to 5 digits")));
        }
    }
    let Some(coverages) = v.get("coverageInfo").filter(|c| !c.is_null()) else {
        return Ok(());
    };
    let coverages = coverages
        .as_array()
        .ok_or_else(|| ctx.bad("coverageInfo is an array"))?;
    for (i, c) in coverages.iter().enumerate() {
        let at = format!("coverageInfo[{i}]");
        // "coverageInfo[].coverageId | Código de Amparo | String | … maxLength: 10 | NO"
        optional_string(ctx, c, "coverageId", 10).map_err(|r| r.within(&at))?;
        // "coverageInfo[].percentage | Porcentaje Prima | String | maxLength: 3 | NO"; the
        // example's "S" is not a number, so only the length is checked.
        optional_string(ctx, c, "percentage", 3).map_err(|r| r.within(&at))?;
        // "coverageInfo[].exclude | Excluido | Boolean | NO"; the example sends `true`.
        if c.get("exclude").is_some_and(|e| !e.is_null() && !e.is_boolean()) {
            return Err(ctx.bad(format!("{at}.exclude is a Boolean")));
        }
    }
    Ok(())
}

/// An optional `String` field: absent or null is `None`; anything else must be a JSON string
/// of at most `max` characters.
fn optional_string<'a>(ctx: Ctx, v: &'a Value, path: &str, max: usize) -> Check<Option<&'a str>> {
    let mut cur = v;
    for key in path.split('.') {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return Ok(None),
        }
    }
    if cur.is_null() {
        return Ok(None);
    }
    let text = cur
        .as_str()
        .ok_or_else(|| ctx.bad(format!("{path} is a String")))?;
    if text.chars().count() > max {
        return Err(ctx.bad(format!("{path} is longer than {max}")));
    }
    Ok(Some(text))
}

fn payee(ctx: Ctx, v: &Value) -> Check<Value> {
    const PAYEE_IDS: [&str; 8] = ["CC", "CE", "LC", "NI", "OT", "PA", "RC", "IT"];
    ctx.one_of(v, "govIssueIdent.govIssueIdentType", &PAYEE_IDS)?;
    ctx.text(v, "govIssueIdent.identSerialNum", None)?;
    ctx.text(v, "beneficiary.personName.firstName", None)?;
    ctx.text(v, "beneficiary.personName.lastName", None)?;
    ctx.one_of(v, "beneficiary.govIssueIdent.govIssueIdentType", &PAYEE_IDS)?;
    ctx.text(v, "beneficiary.govIssueIdent.identSerialNum", None)?;
    ctx.text(v, "beneficiary.relationshipType", None)?;
    ctx.text(v, "submitOffice.branchId", None)?;
    Ok(json!({ "responseType": { "value": "OK" } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Ctx = Ctx { general: false };

    fn shared() -> Shared {
        Shared::new(BcsSimConfig {
            client_id: "id".into(),
            client_secret: "secret".into(),
        })
    }

    /// The message of a refusal, or a panic naming the answer that was not one.
    fn refused(result: Check<Value>) -> String {
        match result {
            Ok(answer) => panic!("expected a refusal, got {answer}"),
            Err(r) => r.message,
        }
    }

    /// The seed's #5 request example, with `product` and `plan` in place of 31300 and 1.
    fn life_quote(product: &str, plan: &str) -> Value {
        json!({ "product": { "productIdNumber": product, "freq": 1 }, "entprAgreement": { "cityId": "6005" },
            "coverageInfo": { "coverageId": plan },
            "insuranceInfo": { "personType": 1, "channel": 101,
                "govIssueIdent": { "govIssueIdentType": 3, "identSerialNum": "300541" },
                "personName": { "lastName": "XXXXXXX", "firstName": "XXXXXXXXXX", "fullName": "XXXXXXXXXX",
                    "birthDt": "19-03-1970", "gender": 1 } } })
    }

    #[test]
    fn product_31300_takes_plans_1_to_16() {
        let s = shared();
        for plan in ["1", "3", "8", "16"] {
            let answer = quote(&s, LIFE, &life_quote("31300", plan), None);
            assert!(answer.is_ok(), "plan {plan}: {}", refused(answer));
        }
        assert!(
            refused(quote(&s, LIFE, &life_quote("31300", "17"), None)).contains("coverageInfo.coverageId")
        );
    }

    #[test]
    fn every_product_takes_the_plans_the_seed_lists_and_no_more() {
        let s = shared();
        for (product, last) in [("24297", 8), ("27298", 4), ("31300", 16)] {
            assert!(
                quote(&s, LIFE, &life_quote(product, &last.to_string()), None).is_ok(),
                "{product} {last}"
            );
            let next = (last + 1).to_string();
            assert!(
                quote(&s, LIFE, &life_quote(product, &next), None).is_err(),
                "{product} {next}"
            );
        }
        let general = Ctx { general: true };
        let mut body = life_quote("34299", "1");
        body["productIdent"] = json!("1");
        assert!(general_quote(&s, general, &body).is_ok());
        body["coverageInfo"]["coverageId"] = json!("2");
        assert!(
            general_quote(&s, general, &body).is_err(),
            "no plan 2 of 34299 in the seed"
        );
    }

    #[test]
    fn general_endpoints_take_the_offices_and_persons_of_the_seeds_own_examples() {
        let s = shared();
        let general = Ctx { general: true };
        // #9's home example sends the office "1", #10's life example "106": off the life list.
        let mut body = life_quote("34299", "1");
        body["productIdent"] = json!("1");
        body["entprAgreement"]["cityId"] = json!("106");
        let answer = general_quote(&s, general, &body);
        assert!(answer.is_ok(), "{}", refused(answer));
        let mut life = life_quote("31300", "1");
        life["entprAgreement"]["cityId"] = json!("106");
        assert!(refused(quote(&s, LIFE, &life, None)).contains("cityId"));
        // #8's home example carries no person at all.
        let home = json!({ "productIdent": "3", "product": { "productIdNumber": "307", "freq": "1" },
            "insuranceInfo": { "channel": "101",
                "capitalization": [ { "capitalizationAcctId": "2", "capitalizationAcctAm": "2", "rate": 100, "amt": 195000000 } ],
                "riskInfo": { "postAddr": [ { "addr1": "AVENIDA BRASIL", "floor": "1", "stateProv": "52", "cityId": "52835",
                    "neighborhood": "5438", "postalCode": "01101" } ] } } });
        let answer = general_simulation(general, &home);
        assert!(answer.is_ok(), "{}", refused(answer));
    }

    /// The seed's #2 example, with the client status of its "Client status table".
    fn status_update() -> Value {
        json!({ "request": { "source": "1", "statusCode": "AP" },
            "depAcctStmtRec": { "depAcctId": { "acctId": "550100000000001" } },
            "personInfo": { "govIssueIdent": { "identSerialNum": "1234567890", "govIssueIdentType": "CC" }, "personType": "1",
                "policy": { "signature": { "issDt": "1967-02-26" }, "status": "AP", "descriptionDesc": "1",
                    "pmtsPlanProdType": "1", "exclude": "true", "percentage": "10" } },
            "product": { "productType": "0" },
            "coverageInfo": [ { "exclude": true, "percentage": "S", "coverageId": "2" } ],
            "insuranceInfo": { "coveredCode": "1" }, "sequenceProductRequested": "111" })
    }

    /// The status body with `value` at the JSON pointer `at`: a refusal naming `field`.
    fn status_refuses(at: &str, value: Value, field: &str) {
        let s = shared();
        let mut body = status_update();
        assert!(status(&s, LIFE, &body, false).is_ok(), "the seed's example");
        *body.pointer_mut(at).expect(at) = value.clone();
        let message = refused(status(&s, LIFE, &body, false));
        assert!(message.contains(field), "{at} = {value}: {message}");
    }

    #[test]
    fn status_person_type_is_at_most_15_characters() {
        status_refuses(
            "/personInfo/personType",
            json!("1234567890123456"),
            "personInfo.personType",
        );
    }

    #[test]
    fn status_assigned_plan_is_at_most_3_characters() {
        status_refuses(
            "/personInfo/policy/pmtsPlanProdType",
            json!("0001"),
            "pmtsPlanProdType",
        );
    }

    #[test]
    fn status_extra_premium_flag_is_the_string_false_or_true() {
        status_refuses(
            "/personInfo/policy/exclude",
            json!("yes"),
            "personInfo.policy.exclude",
        );
        status_refuses(
            "/personInfo/policy/exclude",
            json!(true),
            "personInfo.policy.exclude",
        );
    }

    #[test]
    fn status_extra_premium_percentage_is_1_to_5_digits_as_a_string() {
        status_refuses("/personInfo/policy/percentage", json!("1a"), "percentage");
        status_refuses("/personInfo/policy/percentage", json!("123456"), "percentage");
        status_refuses("/personInfo/policy/percentage", json!(123456), "percentage");
        status_refuses("/personInfo/policy/percentage", json!(""), "percentage");
        let mut body = status_update();
        body["personInfo"]["policy"]["Percentage"] = json!("1a");
        assert!(refused(status(&shared(), LIFE, &body, false)).contains("Percentage"));
    }

    #[test]
    fn status_coverage_id_is_at_most_10_characters() {
        status_refuses(
            "/coverageInfo/0/coverageId",
            json!("12345678901"),
            "coverageInfo[0].coverageId",
        );
    }

    #[test]
    fn status_coverage_percentage_is_at_most_3_characters() {
        status_refuses(
            "/coverageInfo/0/percentage",
            json!("1000"),
            "coverageInfo[0].percentage",
        );
    }

    #[test]
    fn status_coverage_exclusion_is_a_boolean() {
        status_refuses(
            "/coverageInfo/0/exclude",
            json!("true"),
            "coverageInfo[0].exclude",
        );
    }

    /// The seed's #3 example, with a product type of its table (the example's "34VO" is not).
    fn case() -> Value {
        let applicant = json!({ "personName": { "firstName": "DORA", "middleName": "NELLY", "lastName": "RESTREPO", "secondLastName": "HERRERA" },
            "personInfo": { "birthDt": "1967-02-26", "gender": "1" },
            "govIssueIdent": { "identSerialNum": 10003598, "govIssueIdentType": "CC" }, "applicantType": 1, "planRequested": "001",
            "orgInfo": { "addr1": "KR 1 12 66", "cityId": "81001", "additionalPhoneNum": { "cellPhone": 7403462 } },
            "contactInfo": { "cellPhone": 3212587913u64, "cityId": "11001", "emailAddr": "s9m3b9o7@bancocajasocial.com",
                "additionalPhoneNum": { "cellPhone": 4296111 }, "addr1": "KR 22 06 32" },
            "profile": 0, "birthDt": "1967-02-26", "businessOcucupation": { "certcode": "05" },
            "question": [ { "questionIdent": 1, "answer": true, "desc": "" }, { "questionIdent": 2, "answer": false, "desc": "" } ] });
        json!({ "channel": { "sPname": "domain", "user": "admon" },
            "insuranceInfo": [ { "desc": "GestionDeExamenesMedicos", "refInfo": [ {
                "curAmt": { "amt": 50000000 }, "cityId": "11001", "relationshipType": 1, "createdDt": "1967-02-26",
                "requestNumber": 1216827820u64, "submitOffice": { "branchId": "0166" }, "trnSrcInfo": { "code": 6 },
                "productType": "34VD", "flagAutom": true, "applicantInfo": [ applicant ] } ] } ] })
    }

    fn case_refuses(body: &Value, field: &str) {
        let message = refused(insurance_case(&shared(), LIFE, body));
        assert!(message.contains(field), "{field}: {message}");
    }

    #[test]
    fn every_case_and_every_entity_of_a_case_is_validated() {
        assert!(
            insurance_case(&shared(), LIFE, &case()).is_ok(),
            "the seed's example"
        );
        // A second case whose description is too long.
        let mut body = case();
        let mut second = body["insuranceInfo"][0].clone();
        second["desc"] = json!("GestionDeExamenesMedicosYOtrosMas");
        body["insuranceInfo"].as_array_mut().unwrap().push(second);
        case_refuses(&body, "insuranceInfo[1].desc");
        // A second entity without its applicants' statement.
        let mut body = case();
        let mut entity = body["insuranceInfo"][0]["refInfo"][0].clone();
        entity["requestNumber"] = json!(1216827821u64);
        entity["applicantInfo"][0]["question"] = json!([]);
        body["insuranceInfo"][0]["refInfo"]
            .as_array_mut()
            .unwrap()
            .push(entity);
        case_refuses(&body, "insuranceInfo[0].refInfo[1].applicantInfo[0].question");
    }

    #[test]
    fn case_integers_keep_their_digit_limits() {
        for (field, value) in [
            ("relationshipType", json!(100)),
            ("trnSrcInfo", json!({ "code": 12 })),
            ("requestNumber", json!(1_234_567_890_123_456u64)),
        ] {
            let mut body = case();
            body["insuranceInfo"][0]["refInfo"][0][field] = value;
            case_refuses(&body, &format!("refInfo[0].{field}"));
        }
        let mut body = case();
        body["insuranceInfo"][0]["refInfo"][0]["requestNumber"] = json!(123_456_789_012_345u64);
        assert!(
            insurance_case(&shared(), LIFE, &body).is_ok(),
            "15 digits is the limit"
        );
    }

    #[test]
    fn one_request_number_is_one_case() {
        let mut body = case();
        let entity = body["insuranceInfo"][0]["refInfo"][0].clone();
        body["insuranceInfo"][0]["refInfo"]
            .as_array_mut()
            .unwrap()
            .push(entity);
        assert!(refused(insurance_case(&shared(), LIFE, &body)).contains("Ya existe"));
    }
}
