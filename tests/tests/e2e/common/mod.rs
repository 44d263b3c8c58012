//! The end-to-end harness: AAP simulators, the host with the real compiled adapters, all on
//! loopback ports chosen at run time.

use std::net::SocketAddr;

use panelgate_tests::guests;
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator};
use panelgate_tests::sim::bcs::{BcsSimConfig, BcsSimulator};
use panelgate_tests::sim::julo::{JuloSimConfig, JuloSimulator};
use reqwest::StatusCode;
use serde_json::Value;

pub const PORTAL: &str = "test-portal-token";
pub const ADMIN: &str = "test-admin-token";
pub const PANEL_USER: &str = "aap-user";
pub const PANEL_PASSWORD: &str = "s3cret-panel-pa55word";
pub const CALLBACK_USER: &str = "panel-cb";
pub const CALLBACK_PASSWORD: &str = "s3cret-callback-pa55word";
pub const AAGI_TOKEN: &str = "s3cret-aagi-token";
pub const JULO_SECRET: &str = "s3cret-julo-key";
pub const BCS_SECRET: &str = "s3cret-bcs-client";

pub struct Harness {
    pub base: String,
    /// The store the host runs on: see [`store_url`].
    pub store_url: String,
    pub client: reqwest::Client,
    pub a03: AapSimulator,
    pub b03: AapSimulator,
    pub aagi: AagiSimulator,
    pub julo: JuloSimulator,
    pub bcs: BcsSimulator,
    pub dir: tempfile::TempDir,
}

pub fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback")
}

pub fn sim_config(code: &str, life: bool) -> AapSimConfig {
    AapSimConfig {
        panel_code: code.into(),
        life,
        username: PANEL_USER.into(),
        password: PANEL_PASSWORD.into(),
        callback_base: None,
        callback_username: CALLBACK_USER.into(),
        callback_password: CALLBACK_PASSWORD.into(),
    }
}

/// `extra` is appended to the config (more adapters and panels).
pub async fn start_with(extra: &str) -> Harness {
    start_on(None, extra).await
}

/// The adapter builds a harness serves.
pub struct Builds {
    pub aap: &'static str,
    pub aagi: &'static str,
    pub julo: &'static str,
    pub bcs: &'static str,
}

/// The adapters of this tree (contract 2.0.0).
pub const CURRENT: Builds = Builds {
    aap: guests::AAP_H2H,
    aagi: guests::AAGI_MOTOR,
    julo: guests::JULO,
    bcs: guests::BCS,
};

/// The adapters as last released for the 1.x contracts, built by tests/build.rs from this
/// repository's history, unchanged.
pub const LEGACY: Builds = Builds {
    aap: guests::LEGACY_AAP_H2H,
    aagi: guests::LEGACY_AAGI_MOTOR,
    julo: guests::LEGACY_JULO,
    bcs: guests::LEGACY_BCS,
};

/// [`start`] with the 1.x builds of every adapter.
pub async fn start_legacy() -> Harness {
    start_built(&LEGACY, None, "").await
}

/// [`start_with`] on the store at `store_url` rather than [`store_url`]'s choice.
pub async fn start_on(store_url: Option<String>, extra: &str) -> Harness {
    start_built(&CURRENT, store_url, extra).await
}

async fn start_built(builds: &Builds, store_url: Option<String>, extra: &str) -> Harness {
    // The host's log (adapters' stdout and stderr included) shows with `--nocapture`.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn,panelgate=info")
        .try_init();
    let a03 = AapSimulator::start(sim_config("A03", true), any_port())
        .await
        .expect("A03 simulator");
    let b03 = AapSimulator::start(sim_config("B03", false), any_port())
        .await
        .expect("B03 simulator");
    let aagi = AagiSimulator::start(
        AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        any_port(),
    )
    .await
    .expect("AAGI simulator");
    let julo_config = JuloSimConfig {
        secret_key: JULO_SECRET.into(),
        username: "partner".into(),
    };
    let julo = JuloSimulator::start(julo_config, any_port())
        .await
        .expect("JULO simulator");
    let bcs_config = BcsSimConfig {
        client_id: "panelgate".into(),
        client_secret: BCS_SECRET.into(),
    };
    let bcs = BcsSimulator::start(bcs_config, any_port())
        .await
        .expect("BCS simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let store_url = match store_url {
        Some(url) => url,
        None => self::store_url(dir.path()).await,
    };
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "{store_url}"
[sandbox]
pool_instances = 50
cache_dir = "{cache}"
[adapters.aap-h2h]
path = "{aap}"
[adapters.aagi-motor]
path = "{aagi_path}"
[panels.aagi-motor]
adapter = "aagi-motor"
base_url = "{aagi_url}"
settings = {{ credential = "partner" }}
[panels.aagi-motor.credentials.partner]
kind = "bearer"
token = {{ value = "{AAGI_TOKEN}" }}
[adapters.bcs]
path = "{bcs_path}"
[panels.bcs]
adapter = "bcs"
base_url = "{bcs_url}"
settings = {{ credential = "partner", channel = "101", office = "6005", source-system = "1", case-domain = "domain", case-user = "admon", bank-system = "1" }}
[panels.bcs.credentials.partner]
kind = "api-key"
headers = {{ client_id = {{ value = "panelgate" }}, client_secret = {{ value = "{BCS_SECRET}" }} }}
[adapters.julo]
path = "{julo_path}"
[panels.julo]
adapter = "julo"
base_url = "{julo_url}"
[panels.julo.credentials.partner]
kind = "api-key"
headers = {{ secret-key = {{ value = "{JULO_SECRET}" }}, username = {{ value = "partner" }} }}
{a}{b}{extra}"#,
        cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
        aap = builds.aap,
        aagi_path = builds.aagi,
        aagi_url = aagi.base_url(),
        julo_path = builds.julo,
        julo_url = julo.base_url(),
        bcs_path = builds.bcs,
        bcs_url = bcs.base_url(),
        a = aap_panel("A03", "life", &a03.base_url(), "operation_timeout_ms = 10000"),
        b = aap_panel("B03", "general", &b03.base_url(), "operation_timeout_ms = 10000"),
    );
    let path = dir.path().join("panelgate.toml");
    std::fs::write(&path, config).expect("writing config");
    let base = format!("http://{}", serve_config(&path).await);
    a03.set_callback_base(&format!("{base}/callbacks/A03"));
    b03.set_callback_base(&format!("{base}/callbacks/B03"));
    Harness {
        base,
        store_url,
        client: reqwest::Client::new(),
        a03,
        b03,
        aagi,
        julo,
        bcs,
        dir,
    }
}

/// The store a harness runs on: a fresh SQLite file in `dir`, or, with
/// `PANELGATE_TEST_STORE=postgres`, a fresh database on the PostgreSQL server.
pub async fn store_url(dir: &std::path::Path) -> String {
    match std::env::var("PANELGATE_TEST_STORE").as_deref() {
        Ok("postgres") => fresh_postgres().await,
        Ok("sqlite") | Err(_) => format!("sqlite://{}", dir.join("panelgate.db").display()),
        Ok(other) => panic!("PANELGATE_TEST_STORE=`{other}`: `sqlite` or `postgres`"),
    }
}

/// The server the PostgreSQL tests use: `PANELGATE_TEST_POSTGRES`, or the local one.
fn postgres_server() -> String {
    std::env::var("PANELGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A new, empty database on the PostgreSQL server; its URL. The first call of the test run drops
/// the databases earlier runs left.
pub async fn fresh_postgres() -> String {
    use sqlx::Connection as _;
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    let server = postgres_server();
    let connect = || async {
        sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server}: {e}"))
    };
    SWEPT
        .get_or_init(|| async {
            let mut conn = connect().await;
            let old: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'panelgate\\_test\\_%'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for name in old {
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        })
        .await;
    let name = format!("panelgate_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = connect().await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = server.rsplit_once('/').expect("a database in the URL");
    format!("{base}/{name}")
}

pub async fn start() -> Harness {
    start_with("").await
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_to(&self.base, path, body).await
    }

    /// Posts to `base` (e.g. a host from `another_host`) with the portal token; a request that
    /// changes state gets an `Idempotency-Key` of its own, as a portal sends it.
    pub async fn post_to(&self, base: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{base}{path}"))
            .bearer_auth(PORTAL)
            .json(body);
        if changes_state(path) {
            request = request.header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_from(&self.base, path).await
    }

    /// Gets from `base` (e.g. a host from `another_host`) with the portal token.
    pub async fn get_from(&self, base: &str, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{base}{path}"))
            .bearer_auth(PORTAL)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn upload(&self, path: &str, code: &str, filename: &str, data: Vec<u8>) -> (StatusCode, Value) {
        let form = reqwest::multipart::Form::new()
            .text("code", code.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(data)
                    .file_name(filename.to_string())
                    .mime_str("application/pdf")
                    .expect("mime"),
            );
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(PORTAL)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .multipart(form)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A second host on this harness's store and config plus `extra` (more panels); its base URL.
    pub async fn another_host(&self, extra: &str) -> String {
        let path = self.dir.path().join("panelgate.toml");
        let config = std::fs::read_to_string(&path).expect("config") + extra;
        let path = self.dir.path().join("panelgate-extra.toml");
        std::fs::write(&path, config).expect("writing config");
        format!("http://{}", serve_config(&path).await)
    }

    /// All events in the feed, following the cursor.
    pub async fn all_events(&self) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, page) = self.get(&format!("/v1/events?after={cursor}&limit=2")).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let batch = page["events"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                return events;
            }
            cursor = page["next_cursor"].as_str().expect("cursor").to_string();
            events.extend(batch);
        }
    }
}

/// A canonical example from `examples/`.
pub fn example(panel: &str, name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(panel)
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec()
}

/// The field paths of an error's issues.
pub fn issue_paths(body: &Value) -> Vec<String> {
    body["error"]["issues"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["path"].as_str().map(str::to_string))
        .collect()
}

/// A `panelgate` process (the test package's build of the binary), killed when dropped.
pub struct HostProcess {
    pub child: std::process::Child,
}

impl HostProcess {
    /// Starts `panelgate serve --config CONFIG`, its output appended to `log`, and waits until
    /// `base` answers `/readyz`.
    pub async fn start(config: &std::path::Path, log: &std::path::Path, base: &str) -> HostProcess {
        use std::process::{Command, Stdio};
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the host");
        let host = HostProcess { child };
        host.ready(base).await;
        host
    }

    pub async fn ready(&self, base: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the host at {base} did not get ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that refuses every connection while the returned socket lives. The socket is
/// bound but never listens: a port only picked as free could be taken by another test's listener,
/// or be the local end the kernel gives an outgoing connection to it (a connection to itself).
pub fn refusing_port() -> (u16, tokio::net::TcpSocket) {
    bound_port(false)
}

/// A loopback port for a host to listen on, held for it while the returned socket lives: bound
/// with `SO_REUSEADDR` and never listening, so no other socket takes the port before the host
/// does, while the host, which binds with `SO_REUSEADDR` too (`panelgate::listen`), can.
pub fn free_port() -> (u16, tokio::net::TcpSocket) {
    bound_port(true)
}

fn bound_port(reusable: bool) -> (u16, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(reusable).unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    (socket.local_addr().unwrap().port(), socket)
}

/// A host with no panels, served by `panelgate::serve` under `[server]` settings `server`; its
/// address, and the folder its store lives in.
pub async fn bare_host(server: &str) -> (std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panelgate.toml");
    std::fs::write(&path, bare_config(dir.path(), "127.0.0.1:0", server)).unwrap();
    (serve_config(&path).await, dir)
}

/// A host in this process from the config at `path`, on a loopback port of its own, bound and
/// served as `panelgate serve` binds and serves; its address.
pub async fn serve_config(path: &std::path::Path) -> std::net::SocketAddr {
    let config = panelgate::config::Config::load(path).expect("config");
    let app = panelgate::App::start(&config).await.expect("host starts");
    let listener = panelgate::listen("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        panelgate::serve(listener, app.router(), &config.server, std::future::pending()).await
    });
    addr
}

/// A config with no panels, listening on `listen`, with more `[server]` settings `server`.
pub fn bare_config(dir: &std::path::Path, listen: &str, server: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
{server}
[store]
url = "sqlite://{db}"
"#,
        db = dir.join("panelgate.db").display()
    )
}

/// Whether a portal route changes state at the partner, and so needs an `Idempotency-Key`.
pub fn changes_state(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    [
        "/policies",
        "/documents",
        "/confirm",
        "/cancel",
        "/changes",
        "/quote-declines",
        "/claims",
        "/notifications",
    ]
    .iter()
    .any(|end| path.ends_with(end))
}

/// An AAP H2H panel `id` of the `line` ("life", "general") at `base`, with the simulators'
/// credentials both ways (HTTP Basic) and the `limits` (an inline table's contents, or "").
pub fn aap_panel(id: &str, line: &str, base: &str, limits: &str) -> String {
    format!(
        r#"
[panels.{id}]
adapter = "aap-h2h"
base_url = "{base}"
settings = {{ line = "{line}" }}
limits = {{ {limits} }}
[panels.{id}.credentials.partner]
kind = "basic"
username = {{ value = "{PANEL_USER}" }}
password = {{ value = "{PANEL_PASSWORD}" }}
[panels.{id}.callback_auth]
kind = "basic"
username = {{ value = "{CALLBACK_USER}" }}
password = {{ value = "{CALLBACK_PASSWORD}" }}
"#
    )
}

/// A B03 policy issued on `loan` with a claim made on it by the loan id: the policy's number
/// and the claim's case.
pub async fn b03_claim(h: &Harness, loan: &str) -> (String, String) {
    let mut application = example("B03", "accept");
    application["interest"]["credit_life"]["account"] = serde_json::json!(loan);
    let (status, body) = h.post("/v1/panels/B03/policies", &application).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let policy = body["result"]["policy"]["number"].as_str().unwrap().to_string();
    let mut claim = example("B03", "claim");
    claim["policy_reference"]["value"] = serde_json::json!(loan);
    let (status, body) = h.post("/v1/panels/B03/claims", &claim).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (policy, body["case_id"].as_str().unwrap().to_string())
}
