//! The host's TOML configuration: server, store, sandbox defaults, adapters and panels.
//!
//! Secrets are named by environment variable or file (`{ env = "X" }`, `{ file = "path" }`);
//! inline values exist for the demo only, and never reach the store or the admin API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub sandbox: SandboxConfig,
    #[serde(default)]
    pub adapters: BTreeMap<String, AdapterConfig>,
    #[serde(default)]
    pub panels: BTreeMap<String, PanelConfig>,
    #[serde(default)]
    pub registry: RegistryConfig,
    #[serde(default)]
    pub webhooks: WebhooksConfig,
    /// Keys that may sign adapters, by name; a panel's `signers` names those it takes
    /// (docs/deploying.md, "Signed adapters").
    #[serde(default)]
    pub signers: BTreeMap<String, SignerConfig>,
    /// OCI registries adapters are pulled from, by `host:port` as references name them
    /// (docs/deploying.md, "Adapters from an OCI registry"). A registry not listed is pulled
    /// from anonymously.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryAccess>,
}

/// How the host reaches one OCI registry. Credentials are references, like a partner's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAccess {
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    /// Plain http to a registry that is not on loopback (one on loopback always is).
    #[serde(default)]
    pub insecure: bool,
}

/// A key that signs adapters: a partner's release key, or broker IT's own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// The Ed25519 public key, base64 of its 32 bytes (`panelgate adapter keygen` prints it).
    pub public_key: String,
}

/// Events pushed to the portal as signed webhooks (docs/webhooks.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Seconds to wait after each failed attempt: after the first failure the first value, and
    /// so on; a delivery that fails once more than the schedule is long is given up, and its
    /// subscription disabled. The default waits 5 s, 5 min, 30 min, 2 h, 5 h, then 10 h six
    /// times: 12 attempts over about 2.8 days.
    pub retry_schedule_s: Vec<u64>,
    /// Each wait is moved at random by up to this share of itself (0.2: ±20 %), so that
    /// deliveries failed together do not all come back at the same moment.
    pub jitter: f64,
    /// How long one attempt may take (connecting, sending, the endpoint's answer) before it
    /// counts as failed.
    pub timeout_ms: u64,
    /// How often a host looks for work it was not told of: events another host stored, and
    /// retries coming due. Events this host stores wake it at once.
    pub poll_interval_ms: u64,
    /// Deliveries one host sends at once, across subscriptions.
    pub concurrency: usize,
    /// Subscriptions the host keeps as configured here (created or updated at start; the
    /// admin API deletes one only once the config no longer names it).
    pub subscriptions: Vec<SubscriptionConfig>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            retry_schedule_s: vec![
                5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000,
            ],
            jitter: 0.2,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            concurrency: 16,
            subscriptions: Vec::new(),
        }
    }
}

/// A subscription seeded from the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// The subscription's id in the admin API and the delivery log.
    pub id: String,
    /// The portal's endpoint: `http` or `https`.
    pub url: String,
    /// Event kinds it wants (e.g. `accept_result`); none: every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Panels whose events it wants; none: every panel.
    #[serde(default)]
    pub panels: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The signing secret, `whsec_` and the base64 of 24 to 64 random bytes, as Standard
    /// Webhooks writes it.
    pub secret: Secret,
}

/// Deploying by copying files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// A folder the host watches, relative to the config file: a `.wasm` copied into it is
    /// registered, and every panel serving an older version of the same adapter switches to
    /// it. A file the registry refuses is logged and left alone.
    pub watch_dir: Option<PathBuf>,
    /// How often the folder is looked at; a file is read once it is unchanged for one interval.
    pub watch_interval_ms: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            watch_dir: None,
            watch_interval_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: String,
    pub portal_token: Secret,
    pub admin_token: Secret,
    /// Connections the host holds open at once. A new connection past it closes the connection
    /// that has waited longest for a request; when every connection is serving one, the new
    /// one is answered `503 too_many_connections` and closed. Lowered at start to fit the
    /// process's open-files limit (see `serve`).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a request's head (its request line and headers) may take to arrive, from its
    /// first byte; a client slower than this is disconnected.
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// How long a connection may wait for its next request (from its opening or its last
    /// answer) before the host closes it.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// The longest request target (path and query) the host reads: `414 uri_too_long` past it.
    #[serde(default = "default_max_uri_bytes")]
    pub max_uri_bytes: usize,
    /// The most bytes of headers (names, values and their separators) a request may carry:
    /// `431 headers_too_large` past it.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

// The reasons for these values are in `serve.rs`, beside the code that applies them.
fn default_max_connections() -> usize {
    crate::serve::DEFAULT_MAX_CONNECTIONS
}
fn default_header_read_timeout_ms() -> u64 {
    crate::serve::DEFAULT_HEADER_READ_TIMEOUT.as_millis() as u64
}
fn default_idle_timeout_ms() -> u64 {
    crate::serve::DEFAULT_IDLE_TIMEOUT.as_millis() as u64
}
fn default_max_uri_bytes() -> usize {
    crate::serve::DEFAULT_MAX_URI_BYTES
}
fn default_max_header_bytes() -> usize {
    crate::serve::DEFAULT_MAX_HEADER_BYTES
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` (created on first start; one host; a relative path is
    /// relative to the config file, as every path in it is), or `postgres://USER@HOST/DATABASE`
    /// (shared by several hosts; the schema is created on first start).
    #[serde(default = "default_store_url")]
    pub url: String,
    /// The name of an environment variable holding the URL instead, for a URL with a password
    /// in it: secrets are never written in the config. A relative SQLite path in it is
    /// relative to the config file too.
    #[serde(default)]
    pub url_env: Option<String>,
    /// `full` (the default): every answer waits for the commit to reach the disk, so nothing
    /// answered 2xx is lost even to a power cut. `normal`: the commit reaches the operating
    /// system (a crash of the host loses nothing; a power cut may lose the last commits) and
    /// the disk catches up at WAL checkpoints.
    #[serde(default)]
    pub durability: Durability,
    /// The config file's folder, which a relative SQLite path is relative to; set by
    /// [`Config::load`] (a config built in code resolves against the working directory).
    #[serde(skip)]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: default_store_url(),
            url_env: None,
            durability: Durability::Full,
            base: None,
        }
    }
}

fn default_store_url() -> String {
    "sqlite://data/panelgate.db".into()
}

/// Sandbox limits; each panel may override them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Linear memory per instance.
    pub memory_mib: u64,
    /// Wall clock per operation, covering CPU and every partner call.
    pub operation_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    pub max_response_bytes: u64,
    /// Bytes of stdout/stderr an adapter may write per operation.
    pub max_log_bytes: usize,
    /// Instances in the pooling allocator, across all panels: the calls in flight the host holds
    /// at once. Past it an operation is answered `503 overloaded`.
    pub pool_instances: u32,
    /// Operations in flight per panel (at most `pool_instances` run at once across all panels).
    pub panel_concurrency: usize,
    /// Operations that may wait for one of a panel's slots beyond `panel_concurrency`; more are
    /// answered `503 overloaded` with `Retry-After` at once. A waiting operation holds its
    /// request only: no instance, no memory of its own.
    pub panel_queue: usize,
    /// How long an operation waits for a slot before it is answered `503 overloaded`.
    pub queue_wait_ms: u64,
    /// An adapter that faults (traps, returns malformed results, runs out of CPU time) this many
    /// times in a row, and also on the panel's last good request replayed, is quarantined: its
    /// panel answers 503 until an operator re-enables it or deploys another version. Faults it
    /// does not repeat on that request were its callers' inputs' and quarantine nothing
    /// (docs/security.md). 0 never quarantines.
    pub quarantine_after: u32,
    /// Partner failures in a row (unreachable, timed out, 5xx) that open a panel's circuit:
    /// calls then fail at once as `partner_unavailable` until the cool-down ends and one trial
    /// call finds the partner back. 0 never opens it.
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
    /// Where compiled adapters are cached (by module, engine configuration and wasmtime
    /// version), relative to the config file; none compiles on every start.
    pub cache_dir: Option<PathBuf>,
}

/// Instances the pool holds by default, and the calls in flight a panel may have: a partner
/// answering in 200 ms to 2 s keeps one instance per call waiting, so a host on two cores serving
/// thousands of quotes a second holds thousands. An instance waiting costs its touched pages only
/// (BENCHMARKS.md: the slow partner); a slot unused costs address space, not memory.
pub const DEFAULT_POOL_INSTANCES: u32 = 4096;

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            operation_timeout_ms: 30_000,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 25_000,
            max_response_bytes: 10 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            pool_instances: DEFAULT_POOL_INSTANCES,
            panel_concurrency: DEFAULT_POOL_INSTANCES as usize,
            panel_queue: 1024,
            queue_wait_ms: 5_000,
            quarantine_after: 5,
            breaker_failures: 5,
            breaker_cooldown_ms: 10_000,
            cache_dir: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// Path to the component (`.wasm`), relative to the config file.
    pub path: PathBuf,
}

/// A panel's definition: in the config file under `[panels.ID]`, in the store (`panels`), and
/// the body of `PUT /admin/panels/{panel}`. Its secrets are references (`env`, `file`), never
/// values, wherever it is stored or sent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// The adapter: in the config file, a key of `[adapters]`; in the store and the admin API,
    /// the name a registered module's `describe` gives (`aap-h2h`), or `name@version` in a
    /// `PUT` to serve that version.
    pub adapter: String,
    /// The partner's address (http or https).
    pub base_url: String,
    /// `host` or `host:port` the adapter may call; the base URL's host is always allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// Non-secret settings the adapter reads with `config.get`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// The credentials the adapter names, each applied by the host at egress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, CredentialConfig>,
    /// How partner callbacks to this panel authenticate. A panel whose adapter serves
    /// callbacks must say: a credential, or `{ kind = "none" }` to take them unauthenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_auth: Option<CallbackAuthConfig>,
    /// Mutual TLS and the partner's CA.
    #[serde(default, skip_serializing_if = "PanelTls::is_empty")]
    pub tls: PanelTls,
    /// Overrides of the `[sandbox]` defaults for this panel.
    #[serde(default)]
    pub limits: PanelLimits,
    /// The panel's signature policy: the names, under `[signers]`, of the keys one of which
    /// must have signed every module it serves. Absent: the panel takes unsigned modules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_failures: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker_cooldown_ms: Option<u64>,
}

/// The longest operation deadline, connect or read timeout, queue wait or breaker cool-down a
/// panel or the sandbox may ask for: an hour, longer than any partner call should take.
const MAX_MILLIS: u64 = 3_600_000;

/// The largest partner response a panel may take (1 GiB).
const MAX_RESPONSE_BYTES: u64 = 1 << 30;

/// The most linear memory an instance may have: all a 32-bit WebAssembly memory addresses.
pub const MAX_MEMORY_MIB: u64 = 4096;

impl PanelLimits {
    /// What is wrong with the limits, each as its field's name and why: a zero that would fail
    /// every call (a deadline of no time, no memory), or more than the host could give.
    /// `max_memory_mib` is the most the instance pool gives an instance.
    pub fn issues(&self, max_memory_mib: u64) -> Vec<(&'static str, String)> {
        let mut issues = Vec::new();
        if let Some(mib) = self.memory_mib
            && !(1..=max_memory_mib).contains(&mib)
        {
            issues.push((
                "memory_mib",
                format!("must be between 1 and {max_memory_mib} (the most this host's instance pool gives an instance)"),
            ));
        }
        for (field, value) in [
            ("operation_timeout_ms", self.operation_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("read_timeout_ms", self.read_timeout_ms),
            ("breaker_cooldown_ms", self.breaker_cooldown_ms),
        ] {
            if let Some(ms) = value
                && !(1..=MAX_MILLIS).contains(&ms)
            {
                issues.push((field, format!("must be between 1 and {MAX_MILLIS} ms")));
            }
        }
        if let Some(bytes) = self.max_response_bytes
            && !(1..=MAX_RESPONSE_BYTES).contains(&bytes)
        {
            issues.push((
                "max_response_bytes",
                format!("must be between 1 and {MAX_RESPONSE_BYTES}"),
            ));
        }
        issues
    }
}

impl SandboxConfig {
    /// Refuses a limit under which no adapter call could succeed, or past what the host can
    /// give, naming the field (before, `memory_mib = 0` or a zero timeout started a host whose
    /// every call failed).
    fn check(&self) -> Result<()> {
        let as_panel = PanelLimits {
            memory_mib: Some(self.memory_mib),
            operation_timeout_ms: Some(self.operation_timeout_ms),
            connect_timeout_ms: Some(self.connect_timeout_ms),
            read_timeout_ms: Some(self.read_timeout_ms),
            max_response_bytes: Some(self.max_response_bytes),
            breaker_failures: None,
            breaker_cooldown_ms: Some(self.breaker_cooldown_ms),
        };
        if let Some((field, why)) = as_panel.issues(MAX_MEMORY_MIB).into_iter().next() {
            bail!("sandbox.{field}: {why}");
        }
        // The pool counts its core instances, memories and tables as multiples of its
        // instances in 32 bits; 65,536 instances at the default 64 MiB reserve 4 TiB of address
        // space, well within a process's 128 TiB.
        if !(1..=65_536).contains(&self.pool_instances) {
            bail!("sandbox.pool_instances: must be between 1 and 65536");
        }
        if self.panel_concurrency == 0 {
            bail!("sandbox.panel_concurrency: must be at least 1");
        }
        if self.queue_wait_ms > MAX_MILLIS {
            bail!("sandbox.queue_wait_ms: at most {MAX_MILLIS} ms");
        }
        Ok(())
    }
}

/// A credential of a panel. The adapter names it; the host applies it at egress.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CredentialConfig {
    Basic {
        username: Secret,
        password: Secret,
    },
    /// Headers whose values are secrets (e.g. JULO's `secret-key` and `username`).
    ApiKey {
        headers: BTreeMap<String, Secret>,
    },
    Bearer {
        token: Secret,
    },
    /// A key for digests computed by the host (`credentials.digest`).
    HashKey {
        key: Secret,
    },
    /// OAuth 2.0 client credentials (RFC 6749 §4.4): the host fetches a token from `token_url`,
    /// caches it until shortly before it expires, and sends it as a Bearer token.
    Oauth2Client {
        token_url: String,
        client_id: Secret,
        client_secret: Secret,
        /// The `scope` parameter of the token request; none is sent when absent.
        #[serde(default)]
        scope: Option<String>,
        /// How the client authenticates to the token endpoint (RFC 6749 §2.3.1): `basic`
        /// (HTTP Basic, the default every server must support) or `body` (`client_id` and
        /// `client_secret` in the form).
        #[serde(default)]
        auth_method: ClientAuthMethod,
    },
    /// Request signing in the HTTP Signatures style (draft-cavage-http-signatures-12).
    HttpSignature {
        /// The `keyId` parameter: how the partner finds the key.
        key_id: String,
        algorithm: SignatureAlgorithm,
        /// The HMAC key (`hmac-sha256`, `hmac-sha512`).
        #[serde(default)]
        secret: Option<Secret>,
        /// The RSA private key, PKCS#8 PEM (`rsa-sha256`).
        #[serde(default)]
        private_key: Option<Secret>,
        /// How the signature bytes are written: `base64` (the draft's) or `hex`.
        #[serde(default)]
        encoding: SignatureEncoding,
        /// What is signed, in order: `(request-target)` and header names. The host sets `date`,
        /// `host`, `digest` and `content-length` itself when they are listed.
        #[serde(default = "default_signed_headers")]
        headers: Vec<String>,
        /// Where the signature goes: `signature` (the `Signature` header) or `authorization`
        /// (`Authorization: Signature ...`).
        #[serde(default)]
        header: SignatureHeader,
    },
    /// Several credentials on one request, applied in the order named: e.g. an API key and a
    /// signature over it. A signing credential must come last.
    All {
        of: Vec<String>,
    },
    /// The partner needs no credential under this name (its spec names none): requests that
    /// name it go out as the adapter made them. Said explicitly, so that no operator invents
    /// a dummy secret for the host to send.
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuthMethod {
    #[default]
    Basic,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    HmacSha256,
    HmacSha512,
    RsaSha256,
}

impl SignatureAlgorithm {
    /// The `algorithm` parameter as written in the signature.
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::HmacSha256 => "hmac-sha256",
            SignatureAlgorithm::HmacSha512 => "hmac-sha512",
            SignatureAlgorithm::RsaSha256 => "rsa-sha256",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureEncoding {
    #[default]
    Base64,
    Hex,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureHeader {
    #[default]
    Signature,
    Authorization,
}

fn default_signed_headers() -> Vec<String> {
    vec!["(request-target)".into(), "host".into(), "date".into()]
}

/// The TLS a panel's partner calls use beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PanelTls {
    /// The client certificate (PEM, its chain after it) the host presents to the partner:
    /// mutual TLS. Needs `client_key`.
    #[serde(default)]
    pub client_certificate: Option<Secret>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub client_key: Option<Secret>,
    /// CA certificates (PEM) the partner's certificate must chain to. When given, they are the
    /// only roots this panel trusts: the public ones are not.
    #[serde(default)]
    pub ca_bundle: Option<Secret>,
}

impl PanelTls {
    pub fn is_empty(&self) -> bool {
        self.client_certificate.is_none() && self.client_key.is_none() && self.ca_bundle.is_none()
    }
}

/// What a partner's callback must carry. A kind the host could not check is refused here, not
/// by refusing every callback at run time.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CallbackAuthConfig {
    /// Callbacks are taken unauthenticated: said explicitly, warned about at start and on
    /// `/admin/panels`, because anyone who can reach the host can then move the panel's cases.
    None,
    Basic {
        username: Secret,
        password: Secret,
    },
    /// An HMAC over a timestamp and the body, in a header, as Stripe, Slack and GitHub sign
    /// webhooks: a bad or missing signature, a timestamp outside `window_s`, or a signature seen
    /// before within the window is 401.
    Hmac {
        secret: Secret,
        #[serde(default = "default_callback_algorithm")]
        algorithm: SignatureAlgorithm,
        #[serde(default = "default_callback_encoding")]
        encoding: SignatureEncoding,
        /// The header carrying the signature.
        signature_header: String,
        /// Written before the signature in its header (e.g. `sha256=`); none by default.
        #[serde(default)]
        signature_prefix: String,
        /// The header carrying the time of signing, in seconds since the Unix epoch.
        timestamp_header: String,
        /// How far the timestamp may be from the host's clock, either way.
        #[serde(default = "default_window_s")]
        window_s: u64,
        /// What is signed: `{timestamp}`, `{body}` (the raw bytes), `{method}` and `{path}`
        /// (the callback's path under `/callbacks/{panel}/`) are replaced.
        #[serde(default = "default_signed_template")]
        signed: String,
    },
}

fn default_callback_algorithm() -> SignatureAlgorithm {
    SignatureAlgorithm::HmacSha256
}
fn default_callback_encoding() -> SignatureEncoding {
    SignatureEncoding::Hex
}
fn default_window_s() -> u64 {
    300
}
fn default_signed_template() -> String {
    "{timestamp}.{body}".into()
}

/// A secret, by reference: `{ env = "VAR" }` (an environment variable of the host) or
/// `{ file = "/run/secrets/x" }` (a file's content, one trailing line end dropped; in the config
/// file, relative to its folder). In the config file only, `{ value = "..." }` for the demo.
/// `{ config = "panels.A03.credentials.partner.password" }` is how the store names a value
/// written inline in the config file, which it never holds.
#[derive(Clone, PartialEq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// An environment variable of the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// A file on the host (absolute; in the config file, relative to its folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The value the host's config file gives inline at this path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    /// The value itself: the config file only (refused by the admin API, never stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Where it comes from, never an inline value.
        match (&self.env, &self.file, &self.value) {
            (Some(var), _, _) => write!(f, "Secret(env {var})"),
            (_, Some(path), _) => write!(f, "Secret(file {path})"),
            _ => f.write_str("Secret(***)"),
        }
    }
}

/// The largest secret file the host reads: a key, a password or a partner's CA bundle, not a
/// document.
const MAX_SECRET_FILE: u64 = 1024 * 1024;

/// Values written inline in the config file's panels, by their path
/// (`panels.A03.credentials.partner.password`): what a `{ config = PATH }` reference names.
pub type InlineSecrets = BTreeMap<String, String>;

impl Secret {
    /// The value, for a secret outside the panels (`server.portal_token`, ...).
    pub fn resolve(&self, what: &str) -> Result<String> {
        self.resolve_with(what, &InlineSecrets::new())
    }

    /// The value, with `{ config = PATH }` looked up in `inline`. The error names `what` and
    /// the reference, never a value.
    pub fn resolve_with(&self, what: &str, inline: &InlineSecrets) -> Result<String> {
        match (&self.env, &self.file, &self.config, &self.value) {
            (Some(var), None, None, None) => {
                std::env::var(var).with_context(|| format!("{what}: environment variable `{var}` is not set"))
            }
            (None, Some(file), None, None) => {
                read_secret_file(file).with_context(|| format!("{what}: file `{file}`"))
            }
            (None, None, Some(path), None) => inline
                .get(path)
                .cloned()
                .with_context(|| format!("{what}: the config file of this host gives no value at `{path}`")),
            (None, None, None, Some(value)) => Ok(value.clone()),
            _ => bail!("{what}: give exactly one of `env`, `file` or `value`"),
        }
    }
}

/// A secret file's content: a regular file (never a pipe or a device, which could block or
/// never end), at most [`MAX_SECRET_FILE`] bytes, UTF-8, without its one trailing line end.
fn read_secret_file(file: &str) -> Result<String> {
    use std::io::Read as _;
    let path = Path::new(file);
    if !path.is_absolute() {
        bail!("must be an absolute path");
    }
    let opened = std::fs::File::open(path).context("cannot be read")?;
    let meta = opened.metadata().context("cannot be read")?;
    if !meta.is_file() {
        bail!("is not a regular file");
    }
    let mut bytes = Vec::new();
    opened
        .take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .context("cannot be read")?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        bail!("is longer than {MAX_SECRET_FILE} bytes");
    }
    let mut text = String::from_utf8(bytes).ok().context("is not UTF-8 text")?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

impl PanelConfig {
    /// Every secret of the panel with its path in the definition
    /// (`credentials.partner.password`, `callback_auth.username`, ...), in a stable order.
    pub fn secrets_mut(&mut self) -> Vec<(String, &mut Secret)> {
        let mut out = Vec::new();
        for (name, credential) in &mut self.credentials {
            let at = |field: &str| format!("credentials.{name}.{field}");
            match credential {
                CredentialConfig::Basic { username, password } => {
                    out.push((at("username"), username));
                    out.push((at("password"), password));
                }
                CredentialConfig::ApiKey { headers } => {
                    for (header, value) in headers {
                        out.push((at(&format!("headers.{header}")), value));
                    }
                }
                CredentialConfig::Bearer { token } => out.push((at("token"), token)),
                CredentialConfig::HashKey { key } => out.push((at("key"), key)),
                CredentialConfig::Oauth2Client {
                    client_id,
                    client_secret,
                    ..
                } => {
                    out.push((at("client_id"), client_id));
                    out.push((at("client_secret"), client_secret));
                }
                CredentialConfig::HttpSignature {
                    secret, private_key, ..
                } => {
                    if let Some(secret) = secret {
                        out.push((at("secret"), secret));
                    }
                    if let Some(key) = private_key {
                        out.push((at("private_key"), key));
                    }
                }
                CredentialConfig::All { .. } | CredentialConfig::None => {}
            }
        }
        match &mut self.callback_auth {
            Some(CallbackAuthConfig::Basic { username, password }) => {
                out.push(("callback_auth.username".into(), username));
                out.push(("callback_auth.password".into(), password));
            }
            Some(CallbackAuthConfig::Hmac { secret, .. }) => {
                out.push(("callback_auth.secret".into(), secret))
            }
            Some(CallbackAuthConfig::None) | None => {}
        }
        let tls = &mut self.tls;
        for (field, secret) in [
            ("tls.client_certificate", tls.client_certificate.as_mut()),
            ("tls.client_key", tls.client_key.as_mut()),
            ("tls.ca_bundle", tls.ca_bundle.as_mut()),
        ] {
            if let Some(secret) = secret {
                out.push((field.into(), secret));
            }
        }
        out
    }
}

impl StoreConfig {
    /// The store's URL: `url_env`'s variable when it is given, `url` otherwise, with a relative
    /// SQLite path made absolute against the config file's folder.
    pub fn url(&self) -> Result<String> {
        let (url, what) = match &self.url_env {
            Some(var) => (
                std::env::var(var)
                    .with_context(|| format!("store.url_env: environment variable `{var}` is not set"))?,
                format!("store.url_env (`{var}`)"),
            ),
            None => (self.url.clone(), "store.url".to_string()),
        };
        match &self.base {
            Some(base) => resolve_sqlite_url(&url, base).with_context(|| what),
            None => Ok(url),
        }
    }

    /// The SQLite file the store lives in, as SQLite will open it; `None` on PostgreSQL.
    pub fn sqlite_file(&self) -> Result<Option<PathBuf>> {
        use std::str::FromStr as _;
        let url = self.url()?;
        if !url.starts_with(SQLITE) {
            return Ok(None);
        }
        // Read as the store reads it, percent-decoding included.
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url).context("store.url")?;
        Ok(Some(options.get_filename().to_path_buf()))
    }
}

const SQLITE: &str = "sqlite://";

/// `url` with a relative SQLite file made absolute against `base`; any other URL unchanged.
/// `base` is percent-encoded where SQLite's URL reading would cut or decode it (`%`, `?`, `#`).
fn resolve_sqlite_url(url: &str, base: &Path) -> Result<String> {
    let Some(rest) = url.strip_prefix(SQLITE) else {
        return Ok(url.to_string());
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    // An empty path or an in-memory database is not a file; the store refuses both by name.
    if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
        return Ok(url.to_string());
    }
    let base = base
        .to_str()
        .with_context(|| format!("the config's folder {} is not UTF-8", base.display()))?;
    let base = base.replace('%', "%25").replace('?', "%3F").replace('#', "%23");
    let separator = if base.ends_with('/') { "" } else { "/" };
    Ok(match query {
        Some(query) => format!("{SQLITE}{base}{separator}{path}?{query}"),
        None => format!("{SQLITE}{base}{separator}{path}"),
    })
}

/// The folder a config file is in, absolute: a bare file name's is the working directory.
fn folder_of(path: &Path) -> Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::path::absolute(parent).with_context(|| format!("resolving the folder of {}", path.display()))
}

impl ServerConfig {
    /// The portal's and the administrators' bearer tokens, resolved. Neither may be empty (an
    /// environment variable set to nothing would let anyone in with an empty token), nor the
    /// one be the other (the portal would administer the host).
    pub fn tokens(&self) -> Result<(String, String)> {
        let portal = self.portal_token.resolve("server.portal_token")?;
        let admin = self.admin_token.resolve("server.admin_token")?;
        for (what, token) in [("server.portal_token", &portal), ("server.admin_token", &admin)] {
            if token.trim().is_empty() {
                bail!("{what}: must not be empty");
            }
        }
        if portal == admin {
            bail!("server.admin_token: must differ from server.portal_token");
        }
        Ok((portal, admin))
    }

    /// Refuses a limit that would stop the host serving anything, naming the field.
    fn check(&self) -> Result<()> {
        let positive = [
            ("max_connections", self.max_connections as u64),
            ("header_read_timeout_ms", self.header_read_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
        ];
        for (field, value) in positive {
            if value == 0 {
                bail!("server.{field}: must be at least 1");
            }
        }
        // Below these, ordinary requests would be refused: a portal's routes with their
        // panel and case ids, and the headers every HTTP client sends.
        // Above these, hyper's own limits (a 64 KiB target, a 408 KiB head) would answer first,
        // with an empty body instead of the API's JSON error (see `serve`).
        let (uri, headers) = (
            crate::serve::HYPER_MAX_URI_BYTES,
            crate::serve::MAX_HEADER_BYTES_LIMIT,
        );
        if !(256..=uri).contains(&self.max_uri_bytes) {
            bail!(
                "server.max_uri_bytes: must be between 256 and {uri}, not {}",
                self.max_uri_bytes
            );
        }
        if !(1024..=headers).contains(&self.max_header_bytes) {
            bail!(
                "server.max_header_bytes: must be between 1024 and {headers}, not {}",
                self.max_header_bytes
            );
        }
        Ok(())
    }
}

impl WebhooksConfig {
    /// Refuses settings under which no delivery could be made or retried sensibly, naming them.
    fn check(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.jitter) {
            bail!("webhooks.jitter: must be between 0 and 1, not {}", self.jitter);
        }
        for (field, value) in [
            ("timeout_ms", self.timeout_ms),
            ("poll_interval_ms", self.poll_interval_ms),
            ("concurrency", self.concurrency as u64),
        ] {
            if value == 0 {
                bail!("webhooks.{field}: must be at least 1");
            }
        }
        // Ten years: past it, a deadline overflows nothing but means nothing either.
        if let Some(i) = self.retry_schedule_s.iter().position(|s| *s > 315_360_000) {
            bail!("webhooks.retry_schedule_s[{i}]: at most ten years (315360000 s)");
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, s) in self.subscriptions.iter().enumerate() {
            if !ids.insert(&s.id) {
                bail!("webhooks.subscriptions[{i}].id: `{}` is given twice", s.id);
            }
        }
        Ok(())
    }
}

/// The longest panel id: it appears in every portal path and journal entry.
pub const MAX_PANEL_ID: usize = 64;

/// A panel id: 1 to [`MAX_PANEL_ID`] letters, digits, `-` and `_`.
pub fn check_panel_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_PANEL_ID {
        return Err(format!("must be 1 to {MAX_PANEL_ID} characters long"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("use letters, digits, `-` and `_` only".into());
    }
    Ok(())
}

impl Config {
    /// Every value the config file's panels give inline, by its path
    /// (`panels.A03.credentials.partner.password`).
    pub fn inline_secrets(&self) -> InlineSecrets {
        let mut inline = InlineSecrets::new();
        for (id, panel) in &self.panels {
            let mut panel = panel.clone();
            for (path, secret) in panel.secrets_mut() {
                if let Some(value) = secret.value.take() {
                    inline.insert(format!("panels.{id}.{path}"), value);
                }
            }
        }
        inline
    }

    /// The largest memory any panel may use: the pool's slots are sized for it.
    pub fn max_memory_mib(&self) -> u64 {
        self.panels
            .values()
            .filter_map(|p| p.limits.memory_mib)
            .fold(self.sandbox.memory_mib, u64::max)
    }

    /// Reads and checks a config file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: Config =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        // Relative paths in the file are relative to the file, made absolute once here (the
        // store's URL when it is read, as it may come from the environment).
        let base = folder_of(path)?;
        config.store.base = Some(base.clone());
        let base = base.as_path();
        if let Some(dir) = config.sandbox.cache_dir.as_mut()
            && dir.is_relative()
        {
            *dir = base.join(&*dir);
        }
        if let Some(dir) = config.registry.watch_dir.as_mut()
            && dir.is_relative()
        {
            *dir = base.join(&*dir);
        }
        for adapter in config.adapters.values_mut() {
            if adapter.path.is_relative() {
                adapter.path = base.join(&adapter.path);
            }
        }
        // Every secret kept in a file, wherever the config names it.
        let registries = config
            .registries
            .values_mut()
            .flat_map(|r| [r.username.as_mut(), r.password.as_mut()])
            .flatten();
        let panels = config
            .panels
            .values_mut()
            .flat_map(|p| p.secrets_mut().into_iter().map(|(_, s)| s));
        let server = [&mut config.server.portal_token, &mut config.server.admin_token];
        let subscriptions = config.webhooks.subscriptions.iter_mut().map(|s| &mut s.secret);
        for secret in registries.chain(panels).chain(server).chain(subscriptions) {
            if let Some(file) = secret.file.as_mut()
                && Path::new(file.as_str()).is_relative()
            {
                *file = base.join(&*file).to_string_lossy().into_owned();
            }
        }
        config.check()?;
        Ok(config)
    }

    /// What is wrong with a panel's signature policy, if anything: an empty list, or a name
    /// the config does not give a key for.
    pub fn signers_issue(&self, panel: &PanelConfig) -> Option<String> {
        let signers = panel.signers.as_ref()?;
        if signers.is_empty() {
            return Some(
                "`signers` is empty, so no module could serve it; name a key under [signers], or remove `signers` to take unsigned modules".into(),
            );
        }
        signers
            .iter()
            .find(|s| !self.signers.contains_key(*s))
            .map(|unknown| format!("signer `{unknown}` is not configured under [signers]"))
    }

    pub fn check(&self) -> Result<()> {
        self.server.check()?;
        self.sandbox.check()?;
        // The pool reserves address space for two memories per instance at the largest memory
        // any panel may have: past 64 TiB (half of what a process addresses) it cannot be made.
        let reserved_mib = u64::from(self.sandbox.pool_instances) * 2 * self.max_memory_mib();
        if reserved_mib > 64 << 20 {
            bail!(
                "sandbox.pool_instances: {} instances at {} MiB each reserve {} TiB of address space; at most 64 TiB (fewer instances, or less memory_mib)",
                self.sandbox.pool_instances,
                self.max_memory_mib(),
                reserved_mib >> 20
            );
        }
        for (name, registry) in &self.registries {
            if registry.username.is_some() != registry.password.is_some() {
                bail!("registries.\"{name}\": give both `username` and `password`, or neither");
            }
        }
        self.webhooks.check()?;
        for (name, signer) in &self.signers {
            crate::signing::public_key(&signer.public_key)
                .map_err(|e| anyhow::anyhow!("signers.{name}.public_key: {e}"))?;
        }
        for (id, panel) in &self.panels {
            if let Some(issue) = self.signers_issue(panel) {
                bail!("panel `{id}`: {issue}");
            }
            if !self.adapters.contains_key(&panel.adapter) {
                bail!(
                    "panel `{id}`: adapter `{}` is not configured under [adapters]",
                    panel.adapter
                );
            }
            url::Url::parse(&panel.base_url).with_context(|| format!("panel `{id}`: base_url"))?;
            if let Some((field, why)) = panel.limits.issues(MAX_MEMORY_MIB).into_iter().next() {
                bail!("panels.{id}.limits.{field}: {why}");
            }
            check_panel_id(id).map_err(|e| anyhow::anyhow!("panel id `{id}`: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_configs_parse_and_name_their_secrets_by_environment() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let demo = Config::load(&root.join("demo.toml")).expect("demo.toml");
        assert_eq!(demo.panels.len(), 6);
        // The README's `data/demo.db`, in the checkout, wherever the host starts.
        let lexical = |path: &Path| {
            let mut out = PathBuf::new();
            for part in path.components() {
                match part {
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    std::path::Component::CurDir => {}
                    part => out.push(part),
                }
            }
            out
        };
        let checkout = lexical(
            &std::path::absolute(env!("CARGO_MANIFEST_DIR"))
                .unwrap()
                .join(".."),
        );
        assert_eq!(
            lexical(&demo.store.sqlite_file().unwrap().unwrap()),
            checkout.join("data/demo.db")
        );
        let example = Config::load(&root.join("example.toml")).expect("example.toml");
        let panel = &example.panels["A03"];
        // Outside the demo, no secret is written inline.
        let Some(CredentialConfig::Basic { password, .. }) = panel.credentials.get("partner") else {
            panic!("basic")
        };
        assert!(password.value.is_none());
        // A secret file is relative to the config file, made absolute at load.
        let file = password
            .file
            .as_deref()
            .expect("the example's password is a file");
        assert_eq!(Path::new(file), root.join("secrets/a03-password"));
        assert!(example.server.portal_token.env.is_some());
    }

    #[test]
    fn a_signature_policy_naming_no_key_or_an_unknown_key_is_refused() {
        let base = "[server]\nportal_token = { value = \"p\" }\nadmin_token = { value = \"a\" }\n\
                    [adapters.probe]\npath = \"probe.wasm\"\n";
        let panel = |signers: &str| {
            format!(
                "{base}[panels.probe]\nadapter = \"probe\"\nbase_url = \"http://127.0.0.1:9\"\nsigners = {signers}\n"
            )
        };
        let check = |text: String| {
            let config: Config = toml::from_str(&text).expect("parses");
            format!("{:#}", config.check().expect_err("refused"))
        };
        assert!(check(panel("[]")).contains("`signers` is empty"));
        assert!(check(panel("[\"nobody\"]")).contains("signer `nobody` is not configured under [signers]"));
        let bad_key = format!("{}[signers.x]\npublic_key = \"AAAA\"\n", panel("[\"x\"]"));
        assert!(check(bad_key).contains("signers.x.public_key: an Ed25519 public key is 32 bytes"));
    }

    #[test]
    fn a_panel_naming_an_unknown_adapter_is_refused() {
        let text = r#"
[server]
portal_token = { value = "p" }
admin_token = { value = "a" }
[panels.X]
adapter = "nowhere"
base_url = "http://127.0.0.1:1"
"#;
        let config: Config = toml::from_str(text).expect("parses");
        let error = config.check().expect_err("refused").to_string();
        assert!(error.contains("nowhere"), "{error}");
    }

    /// A fresh folder under the system's temporary one.
    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("panelgate-config-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn every_relative_path_in_the_config_is_relative_to_its_folder() {
        // `%`, `?` and `#` in the folder's name: SQLite's URL reading would cut or decode them.
        let dir = scratch().join("conf 100%?#");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("panelgate.toml");
        std::fs::write(
            &file,
            r#"
[server]
portal_token = { value = "p" }
admin_token = { value = "a" }
[store]
url = "sqlite://data/demo.db?cache=private"
[sandbox]
cache_dir = "cache"
[registry]
watch_dir = "drop"
[adapters.x]
path = "adapters/x.wasm"
"#,
        )
        .unwrap();
        let config = Config::load(&file).unwrap();
        assert_eq!(config.sandbox.cache_dir.unwrap(), dir.join("cache"));
        assert_eq!(config.registry.watch_dir.unwrap(), dir.join("drop"));
        assert_eq!(config.adapters["x"].path, dir.join("adapters/x.wasm"));
        assert_eq!(
            config.store.sqlite_file().unwrap().unwrap(),
            dir.join("data/demo.db"),
            "the store's file is the config folder's, not the working directory's"
        );
        assert!(config.store.url().unwrap().ends_with("?cache=private"));
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn absolute_and_non_file_store_urls_are_left_as_given() {
        let base = Path::new("/srv/panelgate");
        for url in [
            "sqlite:///var/lib/panelgate.db",
            "sqlite://:memory:",
            "sqlite://",
            "postgres://panelgate@db/panelgate",
        ] {
            assert_eq!(resolve_sqlite_url(url, base).unwrap(), url);
        }
        assert_eq!(
            resolve_sqlite_url("sqlite://../data/demo.db", base).unwrap(),
            "sqlite:///srv/panelgate/../data/demo.db"
        );
    }

    #[test]
    fn a_bare_config_file_name_is_in_the_working_directory() {
        let folder = folder_of(Path::new("panelgate.toml")).unwrap();
        assert!(folder.is_absolute(), "{}", folder.display());
        assert_eq!(
            std::fs::canonicalize(&folder).unwrap(),
            std::fs::canonicalize(std::env::current_dir().unwrap()).unwrap()
        );
        assert_eq!(
            folder_of(Path::new("/etc/panelgate/host.toml")).unwrap(),
            Path::new("/etc/panelgate")
        );
    }

    #[test]
    fn a_secret_file_is_read_without_its_line_end_and_only_when_it_is_a_small_regular_file() {
        let dir = scratch();
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            path.display().to_string()
        };
        let secret = |file: String| Secret {
            file: Some(file),
            ..Secret::default()
        };
        let resolve = |s: Secret| {
            s.resolve("credentials.partner.password")
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(resolve(secret(file("unix", b"s3cret\n"))).unwrap(), "s3cret");
        assert_eq!(resolve(secret(file("dos", b"s3cret\r\n"))).unwrap(), "s3cret");
        assert_eq!(
            resolve(secret(file("bare", b" s3cret \n\n"))).unwrap(),
            " s3cret \n"
        );
        let refused = |s: Secret, why: &str| {
            let error = resolve(s).unwrap_err();
            assert!(
                error.contains("credentials.partner.password") && error.contains(why),
                "{error}"
            );
            assert!(!error.contains("s3cret"), "{error}");
        };
        refused(secret(dir.display().to_string()), "not a regular file");
        refused(secret("/dev/zero".into()), "not a regular file");
        refused(secret("relative/file".into()), "absolute");
        refused(
            secret(file("big", &vec![b'k'; MAX_SECRET_FILE as usize + 1])),
            "longer than",
        );
        refused(secret(dir.join("absent").display().to_string()), "cannot be read");
        // A reference to the config file's own inline value resolves only where it is given.
        let config = Secret {
            config: Some("panels.A03.credentials.partner.password".into()),
            ..Secret::default()
        };
        let inline = InlineSecrets::from([(
            "panels.A03.credentials.partner.password".to_string(),
            "v".to_string(),
        )]);
        assert_eq!(config.resolve_with("x", &inline).unwrap(), "v");
        assert!(config.resolve("x").is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn callback_auth_is_basic_hmac_or_an_explicit_none() {
        let parse = |auth: &str| {
            toml::from_str::<PanelConfig>(&format!(
                "adapter = \"a\"\nbase_url = \"http://127.0.0.1:1\"\ncallback_auth = {auth}\n"
            ))
        };
        assert!(matches!(
            parse(r#"{ kind = "none" }"#).unwrap().callback_auth,
            Some(CallbackAuthConfig::None)
        ));
        let basic = parse(r#"{ kind = "basic", username = { value = "u" }, password = { value = "p" } }"#);
        assert!(matches!(
            basic.unwrap().callback_auth,
            Some(CallbackAuthConfig::Basic { .. })
        ));
        let hmac = parse(
            r#"{ kind = "hmac", secret = { env = "S" }, signature_header = "X-Sig", timestamp_header = "X-Ts" }"#,
        );
        let Some(CallbackAuthConfig::Hmac { window_s, signed, .. }) = hmac.unwrap().callback_auth else {
            panic!("hmac")
        };
        assert_eq!((window_s, signed.as_str()), (300, "{timestamp}.{body}"));
        // A kind the host cannot check on the way in is refused by name, not at every callback.
        let error = parse(r#"{ kind = "bearer", token = { value = "t" } }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("bearer") && error.contains("none"), "{error}");
    }

    #[test]
    fn a_secret_in_a_file_is_read_relative_to_the_config_and_never_printed() {
        let dir = scratch();
        std::fs::write(dir.join("key.pem"), "s3cret-file").unwrap();
        std::fs::write(dir.join("portal.token"), "s3cret-portal\n").unwrap();
        std::fs::write(
            dir.join("panelgate.toml"),
            r#"
[server]
portal_token = { file = "portal.token" }
admin_token = { value = "a" }
[adapters.x]
path = "x.wasm"
[panels.X]
adapter = "x"
base_url = "http://127.0.0.1:1"
tls = { client_certificate = { file = "key.pem" }, client_key = { file = "key.pem" } }
[panels.X.credentials.sig]
kind = "http-signature"
key_id = "k"
algorithm = "hmac-sha256"
secret = { value = "s3cret-inline" }
"#,
        )
        .unwrap();
        let config = Config::load(&dir.join("panelgate.toml")).unwrap();
        let panel = &config.panels["X"];
        let key = panel.tls.client_key.as_ref().unwrap();
        assert_eq!(key.resolve("key").unwrap(), "s3cret-file");
        // The server's own tokens too (before, only panels' and registries' secrets were).
        assert_eq!(config.server.tokens().unwrap().0, "s3cret-portal");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// An empty token (an environment variable set to nothing) would let anyone in; the
    /// portal's token as the admin's would let the portal administer the host.
    #[test]
    fn the_tokens_must_be_given_and_differ() {
        let tokens = |portal: &str, admin: &str| {
            let text = format!(
                "[server]\nportal_token = {{ value = \"{portal}\" }}\nadmin_token = {{ value = \"{admin}\" }}\n"
            );
            let config: Config = toml::from_str(&text).expect("parses");
            config.server.tokens().map_err(|e| e.to_string())
        };
        assert_eq!(tokens("p", "a").unwrap(), ("p".into(), "a".into()));
        for (portal, admin, field) in [
            ("", "a", "server.portal_token"),
            ("p", " ", "server.admin_token"),
            ("same", "same", "server.admin_token"),
        ] {
            let error = tokens(portal, admin).unwrap_err();
            assert!(error.contains(field), "{portal:?} {admin:?}: {error}");
        }
    }

    #[test]
    fn sandbox_and_panel_limits_under_which_no_call_could_succeed_are_refused_naming_them() {
        let with = |text: &str| {
            let text = format!(
                "[server]\nportal_token = {{ value = \"p\" }}\nadmin_token = {{ value = \"a\" }}\n[adapters.x]\npath = \"/x.wasm\"\n{text}\n"
            );
            let config: Config = toml::from_str(&text).expect("parses");
            config.check().map_err(|e| e.to_string())
        };
        assert!(with("").is_ok(), "the defaults pass");
        let panel = "[panels.X]\nadapter = \"x\"\nbase_url = \"http://127.0.0.1:1\"\n";
        assert!(with(&format!("{panel}limits = {{ memory_mib = 128 }}")).is_ok());
        for (setting, field) in [
            ("[sandbox]\nmemory_mib = 0", "sandbox.memory_mib"),
            ("[sandbox]\nmemory_mib = 5000", "sandbox.memory_mib"),
            (
                "[sandbox]\noperation_timeout_ms = 0",
                "sandbox.operation_timeout_ms",
            ),
            ("[sandbox]\nread_timeout_ms = 0", "sandbox.read_timeout_ms"),
            ("[sandbox]\nmax_response_bytes = 0", "sandbox.max_response_bytes"),
            ("[sandbox]\npool_instances = 0", "sandbox.pool_instances"),
            ("[sandbox]\npool_instances = 4294967295", "sandbox.pool_instances"),
            ("[sandbox]\npanel_concurrency = 0", "sandbox.panel_concurrency"),
            (
                "[sandbox]\npool_instances = 65536\nmemory_mib = 4096",
                "sandbox.pool_instances",
            ),
            (
                &format!("{panel}limits = {{ memory_mib = 0 }}"),
                "panels.X.limits.memory_mib",
            ),
            (
                &format!("{panel}limits = {{ connect_timeout_ms = 0 }}"),
                "panels.X.limits.connect_timeout_ms",
            ),
        ] {
            let error = with(setting).expect_err(setting);
            assert!(error.contains(field), "{setting}: {error}");
        }
    }

    #[test]
    fn a_listener_limit_that_would_serve_nothing_is_refused_naming_it() {
        let with = |setting: &str| {
            let text = format!(
                "[server]\nportal_token = {{ value = \"p\" }}\nadmin_token = {{ value = \"a\" }}\n{setting}\n"
            );
            let config: Config = toml::from_str(&text).expect("parses");
            config.check().map_err(|e| e.to_string())
        };
        assert!(with("").is_ok(), "the defaults pass");
        for (setting, field) in [
            ("max_connections = 0", "server.max_connections"),
            ("header_read_timeout_ms = 0", "server.header_read_timeout_ms"),
            ("idle_timeout_ms = 0", "server.idle_timeout_ms"),
            ("max_uri_bytes = 100", "server.max_uri_bytes"),
            ("max_uri_bytes = 70000", "server.max_uri_bytes"),
            ("max_header_bytes = 10", "server.max_header_bytes"),
            ("max_header_bytes = 1000000", "server.max_header_bytes"),
        ] {
            let error = with(setting).expect_err(setting);
            assert!(error.contains(field), "{setting}: {error}");
        }
    }

    #[test]
    fn registry_credentials_are_references_given_in_pairs_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let write = |registries: &str| {
            let path = dir.path().join("panelgate.toml");
            std::fs::write(
                &path,
                format!(
                    "[server]\nportal_token = {{ value = \"p\" }}\nadmin_token = {{ value = \"a\" }}\n{registries}"
                ),
            )
            .unwrap();
            Config::load(&path).map_err(|e| format!("{e:#}"))
        };
        let config = write(
            "[registries.\"registry.example:5000\"]\nusername = { env = \"REG_USER\" }\npassword = { file = \"secrets/reg\" }\ninsecure = true\n",
        )
        .expect("loads");
        let access = &config.registries["registry.example:5000"];
        assert!(access.insecure);
        assert_eq!(
            access.password.as_ref().and_then(|p| p.file.clone()),
            Some(dir.path().join("secrets/reg").display().to_string())
        );
        let error = write("[registries.\"r\"]\nusername = { env = \"REG_USER\" }\n").unwrap_err();
        assert!(
            error.contains("registries.\"r\": give both `username` and `password`"),
            "{error}"
        );
        assert!(
            write("[registries.\"r\"]\ntoken = \"x\"\n").is_err(),
            "unknown fields are refused"
        );
    }
}
