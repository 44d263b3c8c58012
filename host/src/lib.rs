//! panelgate: one canonical API for a broker's portal, one sandboxed wasm adapter per partner.
//!
//! [`App::start`] builds everything from a [`config::Config`]: the store, the wasmtime runtime
//! with one pre-instantiated adapter per panel, and the router. `main` and the tests share it.

pub mod adapter;
pub mod api;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod core;
pub mod extensions;
pub mod kit;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod oci;
pub mod runtime;
pub mod serve;
pub mod signing;
pub mod store;
pub mod telemetry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::capabilities::credentials::Credential;
use crate::config::{Config, InlineSecrets, PanelConfig};
use crate::core::AppState;
use crate::runtime::{PanelContext, Runtime};
pub use crate::serve::serve;

pub struct App {
    pub state: Arc<AppState>,
}

impl App {
    /// Opens the store, registers the config's adapters and loads every panel's active module.
    pub async fn start(config: &Config) -> Result<App> {
        let (portal_token, admin_token) = config.server.tokens()?;
        let store = store::Store::open(&config.store.url()?, config.store.durability)
            .await
            .context("opening the store")?;
        // The pool's slots fit the largest memory limit of any panel, the ones the store
        // defines (added at run time) as well as the config file's.
        let stored_max = store
            .stored_panels()
            .await
            .context("reading the store's panels")?
            .iter()
            .filter(|p| p.removed_at.is_none())
            .filter_map(|p| p.definition.limits.memory_mib)
            .max()
            .unwrap_or_default();
        let runtime = Runtime::new(&config.sandbox, config.max_memory_mib().max(stored_max))?;
        let store = store.timing_commits(runtime.metrics.commit_duration());
        let state = Arc::new(AppState::new(
            store,
            runtime,
            config.clone(),
            portal_token,
            admin_token,
        ));
        state.boot().await?;
        state
            .resume_reconciliation()
            .await
            .context("resuming the reconciliation of operations in doubt")?;
        state
            .recover()
            .await
            .context("recovering operations a stop cut off")?;
        state.spawn_recovery_sweep();
        state.spawn_event_applier();
        state
            .keep_configured_subscriptions()
            .await
            .context("webhook subscriptions")?;
        state.spawn_webhook_worker();
        state.spawn_deployment_follower();
        state.spawn_engine_renewal();
        if let Some(dir) = &config.registry.watch_dir {
            core::watch::spawn(
                state.clone(),
                dir.clone(),
                Duration::from_millis(config.registry.watch_interval_ms.max(50)),
            );
        }
        Ok(App { state })
    }

    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone())
    }

    pub fn runtime(&self) -> &Runtime {
        &self.state.runtime
    }

    /// Renews the engine now, as the host does by itself once its instance pool sits idle after
    /// a burst (`core::renewal`).
    pub async fn renew_engine(&self) -> Result<core::renewal::Renewed> {
        self.state.renew_engine().await
    }
}

/// How many connections the kernel may hold for the portal before the host accepts them. The
/// kernel clamps it to `net.core.somaxconn` (4096 on current Linux). The standard library's 128
/// was too few: a burst of new connections past it had its connection attempts dropped, and
/// each waited for its SYN to be sent again, 1 s later and then 3 s.
pub const LISTEN_BACKLOG: u32 = 4096;

/// The portal's listener at `addr` (an IP address or a host name, with its port), with
/// [`LISTEN_BACKLOG`]. Like the standard library's bind, it tries each address the name resolves
/// to in turn, and on Unix reuses an address a stopped host left in `TIME_WAIT`.
pub async fn listen(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    fn at(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        // As the standard library does, and not on Windows, where it would let a second host
        // bind the same port.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    }
    let mut last = None;
    for addr in tokio::net::lookup_host(addr).await? {
        match at(addr) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{addr}` names no address"),
        )
    }))
}

/// The circuit breaker a panel's config asks for.
pub(crate) fn breaker(panel: &PanelConfig, config: &Config) -> capabilities::breaker::Breaker {
    capabilities::breaker::Breaker::new(
        panel
            .limits
            .breaker_failures
            .unwrap_or(config.sandbox.breaker_failures),
        Duration::from_millis(
            panel
                .limits
                .breaker_cooldown_ms
                .unwrap_or(config.sandbox.breaker_cooldown_ms),
        ),
    )
}

pub(crate) fn panel_context(
    id: &str,
    panel: &PanelConfig,
    config: &Config,
    breaker: Arc<capabilities::breaker::Breaker>,
    inline: &InlineSecrets,
) -> Result<PanelContext> {
    let sandbox = &config.sandbox;
    let limits = &panel.limits;
    let ms = |v: Option<u64>, d: u64| Duration::from_millis(v.unwrap_or(d));
    let mut credentials = BTreeMap::new();
    let mut redactions = Vec::new();
    for (name, c) in &panel.credentials {
        let credential = Credential::resolve(&format!("panel `{id}`: credentials.{name}"), c, inline)?;
        redactions.extend(credential.secrets());
        credentials.insert(name.clone(), credential);
    }
    capabilities::credentials::check(id, &credentials)?;
    if let Some(c) = &panel.callback_auth
        && let Some(auth) =
            core::callback_auth::CallbackAuth::resolve(&format!("panel `{id}` callback_auth"), c, inline)?
    {
        redactions.extend(auth.secrets());
    }
    redactions.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let base = url::Url::parse(&panel.base_url)?;
    let mut allowed_hosts = vec![(
        base.host_str().unwrap_or_default().to_ascii_lowercase(),
        base.port_or_known_default(),
    )];
    for entry in &panel.allowed_hosts {
        let (host, port) = match entry.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .with_context(|| format!("panel `{id}`: allowed host `{entry}`"))?,
                ),
            ),
            None => (entry.as_str(), None),
        };
        allowed_hosts.push((host.to_ascii_lowercase(), port));
    }
    let connect_timeout = ms(limits.connect_timeout_ms, sandbox.connect_timeout_ms);
    let client = tls(
        id,
        &panel.tls,
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // An idle connection to the partner closes after 4 s: before the common servers'
            // keep-alive limits (Node.js and Apache close at 5 s), so that a request is never
            // sent on a connection the partner is closing (an accept's outcome would be in
            // doubt), and so that after a burst the host does not hold thousands of idle
            // connections and their buffers.
            .pool_idle_timeout(PARTNER_IDLE_TIMEOUT),
    )?
    .build()
    .with_context(|| format!("panel `{id}`: building its HTTP client"))?;
    // Adapters read the partner's address as the `base-url` setting unless the panel sets it.
    let mut settings = panel.settings.clone();
    settings
        .entry("base-url".into())
        .or_insert_with(|| panel.base_url.clone());
    Ok(PanelContext {
        id: id.to_string(),
        adapter: panel.adapter.clone(),
        settings,
        credentials,
        allowed_hosts,
        client,
        memory_bytes: (limits.memory_mib.unwrap_or(sandbox.memory_mib) as usize) << 20,
        operation_timeout: ms(limits.operation_timeout_ms, sandbox.operation_timeout_ms),
        read_timeout: ms(limits.read_timeout_ms, sandbox.read_timeout_ms),
        max_response_bytes: limits.max_response_bytes.unwrap_or(sandbox.max_response_bytes),
        max_log_bytes: sandbox.max_log_bytes,
        redactions,
        breaker,
        known_good: Default::default(),
    })
}

/// How long a connection to a partner may sit idle in the panel's pool.
const PARTNER_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The panel's client with its TLS settings: the client certificate it presents (mutual TLS)
/// and the only CAs it trusts for its partner, when given.
fn tls(id: &str, tls: &config::PanelTls, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    let what = |field: &str| format!("panel `{id}` tls.{field}");
    let mut builder = match (&tls.client_certificate, &tls.client_key) {
        (Some(certificate), Some(key)) => {
            let pem = format!(
                "{}\n{}",
                certificate.resolve(&what("client_certificate"))?,
                key.resolve(&what("client_key"))?
            );
            let identity = reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not a PEM certificate and private key: {}",
                    what("client_certificate"),
                    capabilities::http::error_chain(&e)
                )
            })?;
            builder.identity(identity)
        }
        (None, None) => builder,
        _ => anyhow::bail!(
            "{}: give both `client_certificate` and `client_key`",
            what("client_certificate")
        ),
    };
    if let Some(bundle) = &tls.ca_bundle {
        let pem = bundle.resolve(&what("ca_bundle"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {}", what("ca_bundle"), capabilities::http::error_chain(&e)))?;
        if certificates.is_empty() {
            anyhow::bail!("{}: holds no PEM certificate", what("ca_bundle"));
        }
        builder = builder.tls_built_in_root_certs(false);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of 400 connections the host has not accepted yet all connect at once: with the
    /// standard library's backlog of 128 the ones past it wait a second for their SYN's retry.
    /// Needs a kernel that allows a backlog of 400 (`net.core.somaxconn`, 4096 since Linux 5.4).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_backlog_not_for_a_retry() {
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
        if somaxconn.trim().parse::<u32>().unwrap() < 400 {
            eprintln!("skipped: net.core.somaxconn is {}", somaxconn.trim());
            return;
        }
        let listener = listen("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut connects = tokio::task::JoinSet::new();
        for _ in 0..400 {
            connects.spawn(tokio::time::timeout(
                // Under the SYN's first retry, 1 s, with room for a busy machine.
                Duration::from_millis(900),
                tokio::net::TcpStream::connect(addr),
            ));
        }
        let mut held = Vec::new();
        while let Some(connected) = connects.join_next().await {
            let stream = connected
                .unwrap()
                .expect("connected within 900 ms, no SYN retried")
                .unwrap();
            held.push(stream);
        }
        assert_eq!(held.len(), 400);
        drop(listener);
    }
}
