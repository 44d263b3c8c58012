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
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://path/to/file.db` (created on first start; one host), or
    /// `postgres://USER@HOST/DATABASE` (shared by several hosts; the schema is created on first
    /// start).
    #[serde(default = "default_store_url")]
    pub url: String,
    /// The name of an environment variable holding the URL instead, for a URL with a password
    /// in it: secrets are never written in the config.
    #[serde(default)]
    pub url_env: Option<String>,
    /// `full` (the default): every answer waits for the commit to reach the disk, so nothing
    /// answered 2xx is lost even to a power cut. `normal`: the commit reaches the operating
    /// system (a crash of the host loses nothing; a power cut may lose the last commits) and
    /// the disk catches up at WAL checkpoints.
    #[serde(default)]
    pub durability: Durability,
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
    /// How partner callbacks to this panel authenticate.
    #[serde(default)]
    pub callback_auth: Option<CredentialConfig>,
    #[serde(default)]
    pub limits: PanelLimits,
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
    /// The store's URL: `url_env`'s variable when it is given, `url` otherwise.
    pub fn url(&self) -> Result<String> {
        match &self.url_env {
            Some(var) => std::env::var(var)
                .with_context(|| format!("store.url_env: environment variable `{var}` is not set")),
            None => Ok(self.url.clone()),
        }
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
        // Relative paths in the file are relative to the file, made absolute once here.
        let base = std::path::absolute(path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("resolving the folder of {}", path.display()))?;
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
        for (id, panel) in &self.panels {
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
}
