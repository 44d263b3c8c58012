//! The host's TOML configuration: server, store, sandbox defaults, adapters and panels.
//!
//! Secrets are named by environment variable (`*_env`); inline values exist for the demo only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

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
    /// Instances in the pooling allocator, across all panels.
    pub pool_instances: u32,
    /// Operations in flight per panel.
    pub panel_concurrency: usize,
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

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            operation_timeout_ms: 30_000,
            connect_timeout_ms: 5_000,
            read_timeout_ms: 25_000,
            max_response_bytes: 10 * 1024 * 1024,
            max_log_bytes: 64 * 1024,
            pool_instances: 200,
            panel_concurrency: 64,
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    pub adapter: String,
    pub base_url: String,
    /// `host` or `host:port` the adapter may call; the base URL's host is always allowed.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Non-secret settings the adapter reads with `config.get`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, CredentialConfig>,
    /// How partner callbacks to this panel authenticate. A panel whose adapter serves
    /// callbacks must say: a credential, or `{ kind = "none" }` to take them unauthenticated.
    #[serde(default)]
    pub callback_auth: Option<CallbackAuthConfig>,
    #[serde(default)]
    pub limits: PanelLimits,
    /// The panel's signature policy: the names, under `[signers]`, of the keys one of which
    /// must have signed every module it serves. Absent: the panel takes unsigned modules.
    #[serde(default)]
    pub signers: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelLimits {
    pub memory_mib: Option<u64>,
    pub operation_timeout_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub read_timeout_ms: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub breaker_failures: Option<u32>,
    pub breaker_cooldown_ms: Option<u64>,
}

/// A credential of a panel. The adapter names it; the host applies it at egress.
#[derive(Debug, Clone, Deserialize)]
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
    /// The partner needs no credential under this name (its spec names none): requests that
    /// name it go out as the adapter made them. Said explicitly, so that no operator invents
    /// a dummy secret for the host to send.
    None,
}

/// What a partner's callback must carry. Only Basic is checked on the way in today: a kind the
/// host could not check is refused here, not by refusing every callback at run time.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CallbackAuthConfig {
    /// Callbacks are taken unauthenticated: said explicitly, warned about at start and on
    /// `/admin/panels`, because anyone who can reach the host can then move the panel's cases.
    None,
    Basic {
        username: Secret,
        password: Secret,
    },
}

impl CallbackAuthConfig {
    /// The credential callbacks are checked against; `None` for `kind = "none"`.
    pub fn credential(&self) -> Option<CredentialConfig> {
        match self {
            CallbackAuthConfig::None => None,
            CallbackAuthConfig::Basic { username, password } => Some(CredentialConfig::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
        }
    }
}

/// A secret value: `{ env = "VAR" }`, or `{ value = "..." }` for the demo only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub env: Option<String>,
    pub value: Option<String>,
}

impl Secret {
    pub fn resolve(&self, what: &str) -> Result<String> {
        match (&self.env, &self.value) {
            (Some(var), None) => {
                std::env::var(var).with_context(|| format!("{what}: environment variable `{var}` is not set"))
            }
            (None, Some(value)) => Ok(value.clone()),
            _ => bail!("{what}: give exactly one of `env` or `value`"),
        }
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

impl Config {
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
        config.check()?;
        Ok(config)
    }

    pub fn check(&self) -> Result<()> {
        self.server.check()?;
        self.webhooks.check()?;
        for (name, signer) in &self.signers {
            crate::signing::public_key(&signer.public_key)
                .map_err(|e| anyhow::anyhow!("signers.{name}.public_key: {e}"))?;
        }
        for (id, panel) in &self.panels {
            if let Some(signers) = &panel.signers {
                if signers.is_empty() {
                    bail!(
                        "panel `{id}`: `signers` is empty, so no module could serve it; name a key under [signers], or remove `signers` to take unsigned modules"
                    );
                }
                if let Some(unknown) = signers.iter().find(|s| !self.signers.contains_key(*s)) {
                    bail!("panel `{id}`: signer `{unknown}` is not configured under [signers]");
                }
            }
            if !self.adapters.contains_key(&panel.adapter) {
                bail!(
                    "panel `{id}`: adapter `{}` is not configured under [adapters]",
                    panel.adapter
                );
            }
            url::Url::parse(&panel.base_url).with_context(|| format!("panel `{id}`: base_url"))?;
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                || id.is_empty()
            {
                bail!("panel id `{id}`: use letters, digits, `-` and `_` only");
            }
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
        assert!(password.env.is_some() && password.value.is_none());
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
    fn callback_auth_is_basic_or_an_explicit_none() {
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
        assert!(basic.unwrap().callback_auth.unwrap().credential().is_some());
        // A kind the host cannot check on the way in is refused by name, not at every callback.
        let error = parse(r#"{ kind = "bearer", token = { value = "t" } }"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("bearer") && error.contains("none"), "{error}");
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
}
