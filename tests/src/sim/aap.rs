//! A strict simulator of an insurer panel under the AA Pialang Host-to-Host API v2.0.
//!
//! It serves the nine endpoints a panel hosts, rejecting what the spec says a panel rejects
//! (Basic Auth, mandatory fields, types, dates, code lists, PDF uploads, the `00`/`01`
//! convention, business sequencing), and plays the insurer's side of each flow by posting the
//! four callbacks to the host. Choices where the spec is ambiguous are in `tests/sims/README.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use time::Date;
use time::macros::format_description;

/// AAP §4: the 400 and 401 texts.
pub const BAD_REQUEST: &str = "Format data tidak sesuai dengan persyaratan permintaan";
pub const UNAUTHORIZED: &str = "Invalid Username or Password";

pub struct AapSimConfig {
    /// Panel code, e.g. `A03` (life) or `B03` (general).
    pub panel_code: String,
    /// Life panels take case-by-case underwriting (#3, #4, #6); general panels refuse it.
    pub life: bool,
    /// Basic Auth the panel requires on its endpoints.
    pub username: String,
    pub password: String,
    /// Where the insurer posts callbacks, e.g. `http://127.0.0.1:8080/callbacks/A03`.
    pub callback_base: Option<String>,
    /// Basic Auth the insurer uses on callbacks.
    pub callback_username: String,
    pub callback_password: String,
}

/// A fault for the next request (after authentication), then cleared; or, for `ForLoans`, a
/// standing fault for every request about a loan whose `ID_Loan` has the prefix.
#[derive(Debug, Clone)]
pub enum Fault {
    /// `200 {"Status":"01","Keterangan": text}`.
    Business(String),
    /// That HTTP status with a short text body.
    HttpStatus(u16),
    /// That HTTP status for every JSON request whose `ID_Loan` starts with `prefix`, counted.
    ForLoans { prefix: String, status: u16 },
}

/// A request as the simulator received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub authorized: bool,
    pub json: Option<Value>,
    pub form_fields: Vec<(String, String)>,
    /// `(part name, filename, bytes)`.
    pub files: Vec<(String, String, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
enum LoanState {
    /// #3 submitted, awaiting documents and the insurer's decision.
    Pending,
    Issued,
    Withdrawn,
    Declined,
}

#[derive(Debug, Clone)]
struct Loan {
    state: LoanState,
    sum_insured: u64,
    policy_no: Option<String>,
    documents: Vec<String>,
    /// The last decision the insurer sent by #5 and AAP acknowledged.
    decision: Option<String>,
}

#[derive(Debug, Clone)]
struct Claim {
    documents: Vec<String>,
}

struct Inner {
    fault: Option<Fault>,
    faults_served: u64,
    requests: Vec<Recorded>,
    loans: HashMap<String, Loan>,
    claims: HashMap<(String, String), Claim>,
    policies_issued: u64,
    callback_base: Option<String>,
}

struct Shared {
    config: AapSimConfig,
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking handler must not take the simulator down with it.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct AapSimulator {
    shared: Arc<Shared>,
    client: reqwest::Client,
}

impl AapSimulator {
    /// Binds `addr` (use port 0 for any) and serves in a background task.
    pub async fn start(config: AapSimConfig, addr: SocketAddr) -> anyhow::Result<AapSimulator> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let callback_base = config.callback_base.clone();
        let shared = Arc::new(Shared {
            config,
            base_url,
            inner: Mutex::new(Inner {
                fault: None,
                faults_served: 0,
                requests: Vec::new(),
                loans: HashMap::new(),
                claims: HashMap::new(),
                policies_issued: 0,
                callback_base,
            }),
        });
        let client = reqwest::Client::new();
        let sim = AapSimulator {
            shared: shared.clone(),
            client,
        };
        let router = router(shared.clone(), sim.control());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!("AAP simulator stopped: {e}");
            }
        });
        Ok(sim)
    }

    fn control(&self) -> Arc<AapSimulator> {
        Arc::new(AapSimulator {
            shared: self.shared.clone(),
            client: self.client.clone(),
        })
    }

    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn set_callback_base(&self, base: &str) {
        self.shared.lock().callback_base = Some(base.trim_end_matches('/').to_string());
    }

    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.lock().fault = fault;
    }

    /// How many requests a standing `ForLoans` fault has answered.
    pub fn faults_served(&self) -> u64 {
        self.shared.lock().faults_served
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// #5: the insurer's case-by-case decision.
    pub async fn send_cbc_decision(
        &self,
        id_loan: &str,
        status: &str,
        extra_premi: i64,
        keterangan: &str,
    ) -> anyhow::Result<(u16, String)> {
        let body = json!({
            "ID_Loan": id_loan, "Extra_Premi": extra_premi, "Status": status, "Link_E_Polis": "",
            "Nomor_Polis": "", "Keterangan": keterangan, "Asuransi": self.shared.config.panel_code,
        });
        let (code, text) = self.post_callback("post-status-pertanggung-cbc", &body).await?;
        if code == 200
            && acknowledged(&text)
            && let Some(loan) = self.shared.lock().loans.get_mut(id_loan)
        {
            loan.decision = Some(status.to_string());
        }
        Ok((code, text))
    }

    /// #9: the insurer's decision on a cancellation.
    pub async fn send_cancellation_decision(
        &self,
        id_loan: &str,
        no_polis: &str,
        status: &str,
    ) -> anyhow::Result<(u16, String)> {
        let body = json!({ "ID_Loan": id_loan, "No_Polis": no_polis, "Status": status });
        self.post_callback("post-status-pembatalan", &body).await
    }

    /// #12: a claim's status.
    pub async fn send_claim_status(
        &self,
        id_loan: &str,
        no_polis: &str,
        status: &str,
        keterangan: &str,
    ) -> anyhow::Result<(u16, String)> {
        let body =
            json!({ "ID_Loan": id_loan, "Status": status, "Keterangan": keterangan, "No_Polis": no_polis });
        self.post_callback("post-status", &body).await
    }

    /// #13: a claim's payment, with the proof as a PDF in `files`.
    pub async fn send_claim_payment(
        &self,
        id_loan: &str,
        no_polis: &str,
        amount: i64,
        keterangan: &str,
        pdf: Vec<u8>,
    ) -> anyhow::Result<(u16, String)> {
        let form = reqwest::multipart::Form::new()
            .text("ID_Loan", id_loan.to_string())
            .text("Nilai_Dibayarkan", amount.to_string())
            .text("Keterangan", keterangan.to_string())
            .text("No_Polis", no_polis.to_string())
            .part(
                "files",
                reqwest::multipart::Part::bytes(pdf)
                    .file_name("bukti-bayar.pdf")
                    .mime_str("application/pdf")?,
            );
        let url = self.callback_url("post-pembayaran")?;
        let response = self
            .client
            .post(url)
            .basic_auth(
                &self.shared.config.callback_username,
                Some(&self.shared.config.callback_password),
            )
            .multipart(form)
            .send()
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// Posts a raw JSON body to a callback path with the given credentials (for negative tests).
    pub async fn send_raw_callback(
        &self,
        path: &str,
        body: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .post(self.callback_url(path)?)
            .basic_auth(username, Some(password))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    fn callback_url(&self, path: &str) -> anyhow::Result<String> {
        let base = self
            .shared
            .lock()
            .callback_base
            .clone()
            .context("no callback base set")?;
        Ok(format!("{base}/{path}"))
    }

    async fn post_callback(&self, path: &str, body: &Value) -> anyhow::Result<(u16, String)> {
        let response = self
            .client
            .post(self.callback_url(path)?)
            .basic_auth(
                &self.shared.config.callback_username,
                Some(&self.shared.config.callback_password),
            )
            .json(body)
            .send()
            .await?;
        Ok((response.status().as_u16(), response.text().await?))
    }
}

fn acknowledged(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v["Status"] == "00")
}

fn router(shared: Arc<Shared>, control: Arc<AapSimulator>) -> Router {
    let json_endpoints: [(&str, JsonHandler); 7] = [
        ("/get-rate-premi-panel", premium),
        ("/akseptasi/registrasi", registration),
        ("/akseptasi/pengajuan-cbc", cbc_submission),
        ("/akseptasi/konfirmasi-cbc", cbc_confirmation),
        ("/pembatalan/inforce", inforce_cancellation),
        ("/pembatalan/pengajuan-akseptasi", withdrawal),
        ("/klaim/registrasi", claim_registration),
    ];
    let mut router = Router::new();
    for (path, handler) in json_endpoints {
        router = router.route(
            path,
            post(
                move |State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes| async move {
                    json_endpoint(&s, path, &headers, &body, handler)
                },
            ),
        );
    }
    router
        .route(
            "/akseptasi/dokumen",
            post(|State(s): State<Arc<Shared>>, req: Request| async move {
                upload(&s, "/akseptasi/dokumen", req).await
            }),
        )
        .route(
            "/klaim/dokumen",
            post(|State(s): State<Arc<Shared>>, req: Request| async move {
                upload(&s, "/klaim/dokumen", req).await
            }),
        )
        .with_state(shared)
        .merge(
            Router::new()
                .route("/_sim/callbacks/{kind}", post(trigger_callback))
                .with_state(control),
        )
}

// ---------------------------------------------------------------------------------------------
// Conventions

enum Reply {
    Ok(Value),
    /// `200 {"Status":"01"}`: business or system failure (AAP §4).
    Fail(String),
    BadRequest(String),
}

fn ok(keterangan: &str, fields: Value) -> Reply {
    let mut body = json!({ "Status": "00", "Keterangan": keterangan });
    if let (Some(b), Value::Object(f)) = (body.as_object_mut(), fields) {
        b.extend(f);
    }
    Reply::Ok(body)
}

fn respond(reply: Reply) -> Response {
    match reply {
        Reply::Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Reply::Fail(text) => (
            StatusCode::OK,
            axum::Json(json!({ "Status": "01", "Keterangan": text })),
        )
            .into_response(),
        Reply::BadRequest(why) => {
            tracing::debug!("AAP simulator: 400 because {why}");
            (StatusCode::BAD_REQUEST, BAD_REQUEST).into_response()
        }
    }
}

fn authorized(config: &AapSimConfig, headers: &HeaderMap) -> bool {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", config.username, config.password));
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .is_some_and(|given| given.trim() == expected)
}

/// Checks auth and any injected fault; `Some(response)` ends the request.
fn gate(shared: &Shared, record: Recorded, headers: &HeaderMap) -> Option<Response> {
    let mut inner = shared.lock();
    let authorized = record.authorized;
    inner.requests.push(record);
    if !authorized {
        let _ = headers;
        return Some((StatusCode::UNAUTHORIZED, UNAUTHORIZED).into_response());
    }
    if let Some(Fault::ForLoans { prefix, status }) = &inner.fault {
        let loan = inner
            .requests
            .last()
            .and_then(|r| r.json.as_ref())
            .and_then(|j| j["ID_Loan"].as_str())
            .unwrap_or_default();
        if loan.starts_with(prefix.as_str()) {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            inner.faults_served += 1;
            return Some((status, "simulated failure").into_response());
        }
        return None;
    }
    match inner.fault.take() {
        Some(Fault::ForLoans { .. }) => None,
        Some(Fault::Business(text)) => Some(respond(Reply::Fail(text))),
        Some(Fault::HttpStatus(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = match code {
                400 => BAD_REQUEST,
                401 => UNAUTHORIZED,
                _ => "simulated failure",
            };
            Some((status, text).into_response())
        }
        None => None,
    }
}

type JsonHandler = fn(&Shared, &Map<String, Value>) -> Reply;

fn json_endpoint(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    handler: JsonHandler,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let record = Recorded {
        path: path.to_string(),
        authorized: authorized(&shared.config, headers),
        json: parsed.clone(),
        form_fields: Vec::new(),
        files: Vec::new(),
    };
    if let Some(response) = gate(shared, record, headers) {
        return response;
    }
    match parsed {
        Some(Value::Object(object)) => respond(handler(shared, &object)),
        _ => respond(Reply::BadRequest("the body is not a JSON object".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// Field rules

type Field<T> = Result<T, Reply>;

fn string(o: &Map<String, Value>, name: &str) -> Field<String> {
    match o.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(_) => Err(Reply::BadRequest(format!("`{name}` must be a non-empty string"))),
        None => Err(Reply::BadRequest(format!("`{name}` is mandatory"))),
    }
}

fn number(o: &Map<String, Value>, name: &str) -> Field<u64> {
    match o.get(name) {
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| Reply::BadRequest(format!("`{name}` must be a whole non-negative number"))),
        Some(_) => Err(Reply::BadRequest(format!("`{name}` must be Numeric"))),
        None => Err(Reply::BadRequest(format!("`{name}` is mandatory"))),
    }
}

/// AAP 5.1: `Tenor` is Numeric, but the spec's own example sends `"120"`; both are accepted.
fn number_or_digits(o: &Map<String, Value>, name: &str) -> Field<u64> {
    match o.get(name) {
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| Reply::BadRequest(format!("`{name}` must be Numeric"))),
        _ => number(o, name),
    }
}

fn date(o: &Map<String, Value>, name: &str) -> Field<Date> {
    let text = string(o, name)?;
    Date::parse(&text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| Reply::BadRequest(format!("`{name}` must be a date YYYY-MM-DD")))
}

fn one_of(o: &Map<String, Value>, name: &str, allowed: &[&str]) -> Field<String> {
    let value = string(o, name)?;
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(Reply::BadRequest(format!("`{name}` must be one of {allowed:?}")))
    }
}

macro_rules! field {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The nine endpoints

const UW_DOCS: [(&str, &str); 5] = [
    ("A-BJTM-0001", "Surat Pernyataan Kesehatan"),
    ("A-BJTM-0002", "Laporan Pemeriksaan Kesehatan"),
    ("A-BJTM-0003", "Elektrokardiogram"),
    ("A-BJTM-0004", "Urine"),
    ("A-BJTM-0005", "Analisa Darah Lengkap"),
];

const CBC_DOCS: [(&str, &str); 6] = [
    ("B-BJTM-0001", "Surat Pernyataan Kesehatan"),
    ("B-BJTM-0002", "Laporan Pemeriksaan Kesehatan"),
    ("B-BJTM-0003", "Urine"),
    ("B-BJTM-0004", "Analisa Darah Lengkap"),
    ("B-BJTM-0005", "Treadmill Test"),
    (
        "FS-BJTM-0001",
        "Financial Statement (Rekening Koran minimal 3 Bulan Terakhir)",
    ),
];

const CLAIM_DOCS: [(&str, &str); 8] = [
    (
        "19",
        "Dokumen - dokumen yang dipersyaratkan pada saat pengajuan Penutupan Pertanggungan",
    ),
    ("20", "Bukti bahwa DEBITUR dalam kondisi kolektibilitas 4 (macet)"),
    (
        "21",
        "Rekening pinjaman atau rekening koran DEBITUR (minimal 6 bulan terakhir) atas fasilitas KREDIT",
    ),
    ("22", "Bukti pencairan KREDIT / sejenisnya"),
    ("23", "Surat Teguran dan Surat Peringatan kepada DEBITUR"),
    ("24", "Kronologis macetnya KREDIT"),
    ("25", "Copy perjanjian KREDIT"),
    ("26", "Laporan kunjungan/monitoring"),
];

/// Sums insured above this go to case-by-case underwriting.
const CAC_LIMIT: u64 = 500_000_000;

fn docs_json(docs: &[(&str, &str)]) -> Value {
    Value::Array(
        docs.iter()
            .map(|(k, n)| json!({ "Kode_Dokumen": k, "Nama_Dokumen": n }))
            .collect(),
    )
}

/// #1: a deterministic premium: 0.05% of the sum insured per month of tenor.
fn premium(_shared: &Shared, o: &Map<String, Value>) -> Reply {
    field!(date(o, "Tanggal_Lahir"));
    field!(date(o, "Tanggal_Akad"));
    let tenor = field!(number_or_digits(o, "Tenor"));
    let sum = field!(number(o, "Nilai_Pertanggungan"));
    field!(one_of(o, "Produk", &["01", "11"]));
    field!(string(o, "NIK"));
    let premi = sum / 2000 * tenor;
    // "Status_Akseptasi ... CAC => Automatic Cover A, B, C, D, dll", and the seed's own normal
    // answer is `"Status_Akseptasi": "A"` beside a five-document `List_Dokumen_UnderWriting`: an
    // automatic-cover class may still list documents. Above the limit the class is `CBC` (a
    // guess: the seed names no class for case-by-case).
    let (class, docs) = if sum <= CAC_LIMIT {
        ("A", &UW_DOCS[..])
    } else {
        ("CBC", &CBC_DOCS[..])
    };
    ok(
        "Data sudah sesuai dengan ketentuan dan telah diverifikasi",
        json!({ "Premi": premi, "Status_Akseptasi": class, "Akumulasi": 0, "Nilai_Akumulasi": 0,
                "List_Dokumen_UnderWriting": docs_json(docs) }),
    )
}

/// The 15 documented fields of #2 and #3 (AAP 5.2); `Premi` is held mandatory, as the table says.
fn acceptance_fields(o: &Map<String, Value>) -> Field<(String, u64)> {
    string(o, "Kode_Cabang_Bank")?;
    let id_loan = string(o, "ID_Loan")?;
    number(o, "Tenor")?;
    string(o, "Nama_Nasabah")?;
    string(o, "NIK")?;
    date(o, "Tanggal_Lahir")?;
    let sum = number(o, "Nilai_Pertanggungan")?;
    date(o, "Tanggal_Pengajuan")?;
    date(o, "Tanggal_Akad")?;
    number(o, "Usia")?;
    date(o, "Tanggal_Akhir_Asuransi")?;
    number(o, "Premi")?;
    one_of(o, "Produk", &["01", "11"])?;
    let jenis = one_of(o, "Jenis_Transaksi", &["NEW", "TOPUP"])?;
    if jenis == "TOPUP" {
        // "Jika topup harus menyertakan referensi id loan".
        string(o, "Ref_ID_Loan")?;
    }
    Ok((id_loan, sum))
}

/// #2: issues at once.
fn registration(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let (id_loan, sum) = field!(acceptance_fields(o));
    let mut inner = shared.lock();
    if inner.loans.contains_key(&id_loan) {
        return Reply::Fail("ID_Loan sudah terdaftar".into());
    }
    inner.policies_issued += 1;
    let policy_no = format!("10323{:08}", inner.policies_issued);
    inner.loans.insert(
        id_loan.clone(),
        Loan {
            state: LoanState::Issued,
            sum_insured: sum,
            policy_no: Some(policy_no.clone()),
            documents: vec![],
            decision: None,
        },
    );
    ok(
        "Berhasil mengajukan akseptasi",
        json!({ "EPolicy": format!("{}/e_policy/{id_loan}.pdf", shared.base_url), "Policy_No": policy_no }),
    )
}

/// #3: case by case, life panels only.
fn cbc_submission(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let (id_loan, sum) = field!(acceptance_fields(o));
    if !shared.config.life {
        return Reply::Fail("Pengajuan CBC hanya untuk panel asuransi jiwa".into());
    }
    let mut inner = shared.lock();
    if inner.loans.contains_key(&id_loan) {
        return Reply::Fail("ID_Loan sudah terdaftar".into());
    }
    let documents = CBC_DOCS.iter().map(|(k, _)| k.to_string()).collect();
    inner.loans.insert(
        id_loan,
        Loan {
            state: LoanState::Pending,
            sum_insured: sum,
            policy_no: None,
            documents,
            decision: None,
        },
    );
    ok(
        "Berhasil mengajukan akseptasi",
        json!({ "List_Dokumen_UnderWriting": docs_json(&CBC_DOCS) }),
    )
}

/// #6: only after the insurer's decision (#5).
fn cbc_confirmation(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let id_loan = field!(string(o, "ID_Loan"));
    let status = field!(one_of(o, "Status", &["DISETUJUI", "DITOLAK"]));
    if !shared.config.life {
        return Reply::Fail("Konfirmasi CBC hanya untuk panel asuransi jiwa".into());
    }
    let mut inner = shared.lock();
    let issued = inner.policies_issued + 1;
    let Some(loan) = inner.loans.get_mut(&id_loan) else {
        return Reply::Fail("ID_Loan tidak ditemukan".into());
    };
    if loan.state != LoanState::Pending {
        return Reply::Fail("Pengajuan tidak dalam proses CBC".into());
    }
    match (loan.decision.as_deref(), status.as_str()) {
        (Some("DISETUJUI"), "DISETUJUI") => {
            let policy_no = format!("10323{issued:08}");
            loan.state = LoanState::Issued;
            loan.policy_no = Some(policy_no.clone());
            inner.policies_issued = issued;
            ok(
                "Data berhasil diperbaharui",
                json!({ "EPolicy": format!("{}/e_policy/{id_loan}.pdf", shared.base_url), "Policy_No": policy_no }),
            )
        }
        (Some("DISETUJUI" | "DITOLAK"), "DITOLAK") => {
            loan.state = LoanState::Declined;
            ok(
                "Data berhasil diperbaharui",
                json!({ "EPolicy": "", "Policy_No": "" }),
            )
        }
        (Some("DITOLAK"), _) => Reply::Fail("Pengajuan CBC telah ditolak oleh asuransi".into()),
        _ => Reply::Fail("Belum ada keputusan CBC dari asuransi".into()),
    }
}

/// #7: only for an issued policy of that loan.
fn inforce_cancellation(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let id_loan = field!(string(o, "ID_Loan"));
    let no_polis = field!(string(o, "No_Polis"));
    let inner = shared.lock();
    match inner.loans.get(&id_loan) {
        Some(loan)
            if loan.state == LoanState::Issued && loan.policy_no.as_deref() == Some(no_polis.as_str()) =>
        {
            ok(
                "Pembatalan berhasil dilakukan",
                json!({ "Nilai_Refund": loan.sum_insured / 100 }),
            )
        }
        _ => Reply::Fail("Polis tidak ditemukan untuk ID_Loan tersebut".into()),
    }
}

/// #8: only for an application not yet accepted.
fn withdrawal(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let id_loan = field!(string(o, "ID_Loan"));
    let mut inner = shared.lock();
    match inner.loans.get_mut(&id_loan) {
        Some(loan) if loan.state == LoanState::Pending => {
            loan.state = LoanState::Withdrawn;
            ok("Pembatalan berhasil dilakukan", json!({}))
        }
        Some(_) => Reply::Fail("Pengajuan sudah diproses dan tidak dapat dibatalkan".into()),
        None => Reply::Fail("ID_Loan tidak ditemukan".into()),
    }
}

/// #10: on an issued policy; the loss cannot come after the submission.
fn claim_registration(shared: &Shared, o: &Map<String, Value>) -> Reply {
    let id_loan = field!(string(o, "ID_Loan"));
    let pengajuan = field!(date(o, "Tanggal_Pengajuan"));
    let kejadian = field!(date(o, "Tanggal_Kejadian"));
    field!(string(o, "Jenis_Klaim"));
    field!(string(o, "Sebab_Klaim"));
    field!(number(o, "Estimasi_Nilai_Klaim"));
    // AAP #10: "Deskripsi String ✓ Keterangan pengajuan klaim apabila ditambahkan": mandatory
    // (✓), so an empty one is refused as a missing one would be, with the seed's 400 ("Format
    // data tidak sesuai dengan persyaratan permintaan"). Whether the real panel refuses "" is a
    // guess; the ✓ is the seed's.
    if !matches!(o.get("Deskripsi"), Some(Value::String(d)) if !d.trim().is_empty()) {
        return Reply::BadRequest("`Deskripsi` is mandatory".into());
    }
    let no_polis = field!(string(o, "No_Polis"));
    if kejadian > pengajuan {
        return Reply::Fail("Tanggal kejadian melebihi tanggal pengajuan".into());
    }
    let mut inner = shared.lock();
    let issued = inner
        .loans
        .get(&id_loan)
        .is_some_and(|l| l.state == LoanState::Issued && l.policy_no.as_deref() == Some(no_polis.as_str()));
    if !issued {
        return Reply::Fail("Polis tidak ditemukan untuk ID_Loan tersebut".into());
    }
    let documents = CLAIM_DOCS.iter().map(|(k, _)| k.to_string()).collect();
    inner.claims.insert((id_loan, no_polis), Claim { documents });
    let deadline = pengajuan.saturating_add(time::Duration::days(30));
    ok(
        "Berhasil mengajukan klaim",
        json!({ "Tenggat_Waktu_Klaim": deadline.format(format_description!("[year]-[month]-[day]")).unwrap_or_default(),
                "Dokumen_Klaim": docs_json(&CLAIM_DOCS) }),
    )
}

/// #4 (`Files`) and #11 (`files`): one PDF with its fields.
async fn upload(shared: &Shared, path: &'static str, request: Request) -> Response {
    let headers = request.headers().clone();
    let is_auth = authorized(&shared.config, &headers);
    let mut fields = Vec::new();
    let mut files = Vec::new();
    let mut pdf_ok = true;
    let mut form_ok = true;
    if is_auth {
        match Multipart::from_request(request, &()).await {
            Ok(mut form) => loop {
                match form.next_field().await {
                    Ok(Some(field)) => {
                        let name = field.name().unwrap_or_default().to_string();
                        let filename = field.file_name().map(str::to_string);
                        match field.bytes().await {
                            Ok(data) => match filename {
                                Some(f) => {
                                    pdf_ok &= data.starts_with(b"%PDF-");
                                    files.push((name, f, data.len()));
                                }
                                None => fields.push((name, String::from_utf8_lossy(&data).to_string())),
                            },
                            Err(_) => form_ok = false,
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        form_ok = false;
                        break;
                    }
                }
            },
            Err(_) => form_ok = false,
        }
    }
    let record = Recorded {
        path: path.into(),
        authorized: is_auth,
        json: None,
        form_fields: fields.clone(),
        files: files.clone(),
    };
    if let Some(response) = gate(shared, record, &headers) {
        return response;
    }
    if !form_ok {
        return respond(Reply::BadRequest("not a multipart/form-data body".into()));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
    };
    // AAP 5.4 vs 5.11: the file part is `Files` for underwriting, `files` for claims.
    let file_part = if path == "/akseptasi/dokumen" {
        "Files"
    } else {
        "files"
    };
    let (Some(id_loan), Some(code)) = (field("ID_Loan"), field("Kode_Dokumen")) else {
        return respond(Reply::BadRequest("ID_Loan and Kode_Dokumen are mandatory".into()));
    };
    if !files.iter().any(|(n, _, _)| n == file_part) {
        return respond(Reply::BadRequest(format!("the `{file_part}` part is mandatory")));
    }
    if !pdf_ok {
        return respond(Reply::BadRequest("files must be PDF".into()));
    }
    let inner = shared.lock();
    let reply = if path == "/akseptasi/dokumen" {
        match inner.loans.get(&id_loan) {
            _ if !shared.config.life => Reply::Fail("Dokumen CBC hanya untuk panel asuransi jiwa".into()),
            Some(loan) if loan.state != LoanState::Pending => {
                Reply::Fail("Terjadi kesalahan mengupload data: pengajuan tidak dalam proses CBC".into())
            }
            Some(loan) if loan.documents.contains(&code) => ok("Berhasil mengupload dokumen", json!({})),
            Some(_) => Reply::Fail("Terjadi kesalahan mengupload data: Kode_Dokumen tidak sesuai".into()),
            None => Reply::Fail("Terjadi kesalahan mengupload data: ID_Loan tidak ditemukan".into()),
        }
    } else {
        let Some(no_polis) = field("No_Polis") else {
            return respond(Reply::BadRequest("No_Polis is mandatory".into()));
        };
        match inner.claims.get(&(id_loan, no_polis)) {
            Some(claim) if claim.documents.contains(&code) => {
                ok("Berhasil mengupload dokumen kelengkapan klaim", json!({}))
            }
            Some(_) => Reply::Fail("Kode_Dokumen tidak sesuai".into()),
            None => Reply::Fail("Klaim tidak ditemukan".into()),
        }
    };
    respond(reply)
}

// ---------------------------------------------------------------------------------------------
// Control: let a person play the insurer from curl.

async fn trigger_callback(
    State(sim): State<Arc<AapSimulator>>,
    Path(kind): Path<String>,
    body: Bytes,
) -> Response {
    let args: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("body: {e}")).into_response(),
    };
    let s = |k: &str| args[k].as_str().unwrap_or_default().to_string();
    let n = |k: &str| args[k].as_i64().unwrap_or_default();
    let result = match kind.as_str() {
        "cbc-decision" => {
            sim.send_cbc_decision(&s("id_loan"), &s("status"), n("extra_premi"), &s("keterangan"))
                .await
        }
        "cancellation-decision" => {
            sim.send_cancellation_decision(&s("id_loan"), &s("no_polis"), &s("status"))
                .await
        }
        "claim-status" => {
            sim.send_claim_status(&s("id_loan"), &s("no_polis"), &s("status"), &s("keterangan"))
                .await
        }
        "claim-payment" => {
            let pdf = b"%PDF-1.4\n% proof of payment\n%%EOF\n".to_vec();
            sim.send_claim_payment(&s("id_loan"), &s("no_polis"), n("amount"), &s("keterangan"), pdf)
                .await
        }
        other => return (StatusCode::NOT_FOUND, format!("unknown callback kind `{other}`")).into_response(),
    };
    match result {
        Ok((status, body)) => axum::Json(json!({ "status": status, "body": body })).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e:#}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn tenor_may_be_the_examples_string_but_dates_must_be_iso() {
        let o = obj(json!({ "Tenor": "120", "Tanggal_Lahir": "01-01-1976" }));
        assert!(matches!(number_or_digits(&o, "Tenor"), Ok(120)));
        assert!(date(&o, "Tanggal_Lahir").is_err());
        assert!(
            number(&o, "Tenor").is_err(),
            "Numeric fields elsewhere must be numbers"
        );
    }

    #[test]
    fn topup_needs_its_reference_loan() {
        let mut o = obj(json!({
            "Kode_Cabang_Bank": "015", "ID_Loan": "L1", "Tenor": 60, "Nama_Nasabah": "T", "NIK": "1",
            "Tanggal_Lahir": "1976-01-01", "Nilai_Pertanggungan": 1, "Tanggal_Pengajuan": "2024-08-16",
            "Tanggal_Akad": "2024-08-16", "Usia": 48, "Tanggal_Akhir_Asuransi": "2029-08-16", "Premi": 1,
            "Produk": "01", "Jenis_Transaksi": "TOPUP"
        }));
        assert!(acceptance_fields(&o).is_err());
        o.insert("Ref_ID_Loan".into(), json!("L0"));
        assert!(acceptance_fields(&o).is_ok());
        o.insert("Produk".into(), json!("02"));
        assert!(acceptance_fields(&o).is_err());
    }
}
