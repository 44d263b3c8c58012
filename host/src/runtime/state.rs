//! What a store carries for one operation: WASI with nothing granted, limits, the panel's
//! context for the capabilities, and what the operation did (partner exchanges, logs).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::output::KeptOutput;
use crate::capabilities::credentials::Credential;

/// A panel as its adapter's capabilities see it. Secrets stay in `credentials`, out of reach
/// of the guest: the capabilities apply them, never return them.
pub struct PanelContext {
    pub id: String,
    pub adapter: String,
    pub settings: BTreeMap<String, String>,
    pub credentials: BTreeMap<String, Credential>,
    /// `(host, port)` pairs; a `None` port allows any port on that host.
    pub allowed_hosts: Vec<(String, Option<u16>)>,
    pub client: reqwest::Client,
    pub memory_bytes: usize,
    pub operation_timeout: std::time::Duration,
    pub read_timeout: std::time::Duration,
    pub max_response_bytes: u64,
    pub max_log_bytes: usize,
    /// Every secret value and its encodings, removed from anything journaled or logged.
    pub redactions: Vec<String>,
    /// The panel's circuit breaker, shared by every version the panel serves.
    pub breaker: Arc<crate::capabilities::breaker::Breaker>,
    /// The last request the panel served, shared by every version the panel serves: what
    /// tells an adapter's own faults from the ones its callers' inputs provoke.
    pub known_good: Arc<KnownGood>,
}

impl PanelContext {
    /// The largest JSON body of a portal operation the panel's adapter is given: a sixteenth
    /// of its memory (4 MiB at the default 64 MiB). The canonical value is copied into linear
    /// memory, parsed there, and mapped into a partner body that is serialized again: measured
    /// with the real adapters at 64 MiB, aagi-motor faults on a 12 MiB string in a quote and
    /// holds 8 MiB, so an adapter needs five to eight times its input
    /// (`limits::measure_the_largest_string_each_adapter_holds`); a sixteenth leaves it twice
    /// that.
    pub fn max_json_input(&self) -> usize {
        self.memory_bytes / 16
    }

    /// The longest string in a portal body: a sixty-fourth of the memory (1 MiB at 64 MiB).
    /// No partner field the seeds define is near that long (a name, an address, a free-text
    /// note: a few KiB at most), and a body's one oversized field gets its own name in the
    /// refusal.
    pub fn max_string(&self) -> usize {
        self.memory_bytes / 64
    }

    /// The largest document an upload gives the adapter: an eighth of its memory (8 MiB at
    /// 64 MiB). The adapter holds the bytes and the multipart or base64 body it builds from
    /// them: aap-h2h built and sent a 16 MiB document at 64 MiB without a fault
    /// (`limits::measure_the_largest_document_an_adapter_uploads`); an eighth leaves it twice
    /// that.
    pub fn max_document(&self) -> usize {
        self.memory_bytes / 8
    }
}

/// A request a panel served, with the partner exchanges it made.
pub struct GoodCall {
    pub call: crate::adapter::Call,
    pub exchanges: Vec<Exchange>,
    at: Instant,
}

/// The last request a panel served, refreshed at most every [`KnownGood::REFRESH`] so that
/// the hot path seldom clones its input.
#[derive(Default)]
pub struct KnownGood(std::sync::Mutex<Option<Arc<GoodCall>>>);

impl KnownGood {
    const REFRESH: Duration = Duration::from_secs(10);

    /// Whether the next request that succeeds should be kept.
    pub fn wants(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_none_or(|good| good.at.elapsed() >= Self::REFRESH)
    }

    pub fn keep(&self, call: crate::adapter::Call, exchanges: Vec<Exchange>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(GoodCall {
            call,
            exchanges,
            at: Instant::now(),
        }));
    }

    pub fn get(&self) -> Option<Arc<GoodCall>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl PanelContext {
    /// A context tied to no panel, for asking a module to `describe` itself before it is
    /// deployed: no settings, no credentials, no host it may call.
    pub fn detached(sandbox: &crate::config::SandboxConfig) -> PanelContext {
        PanelContext {
            id: "(registry)".into(),
            adapter: String::new(),
            settings: BTreeMap::new(),
            credentials: BTreeMap::new(),
            allowed_hosts: Vec::new(),
            client: reqwest::Client::new(),
            memory_bytes: (sandbox.memory_mib as usize) << 20,
            operation_timeout: std::time::Duration::from_millis(sandbox.operation_timeout_ms),
            read_timeout: std::time::Duration::from_millis(sandbox.read_timeout_ms),
            max_response_bytes: sandbox.max_response_bytes,
            max_log_bytes: sandbox.max_log_bytes,
            redactions: Vec::new(),
            breaker: Arc::new(crate::capabilities::breaker::Breaker::new(
                0,
                std::time::Duration::ZERO,
            )),
            known_good: Default::default(),
        }
    }

    /// Replaces every secret in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let tokens = self.credentials.values().filter_map(|c| match c {
            Credential::OAuth2(source) => Some(source.recent_tokens()),
            _ => None,
        });
        for token in tokens.flatten() {
            if !token.is_empty() && out.contains(token.as_str()) {
                out = out.replace(token.as_str(), "***");
            }
        }
        for secret in &self.redactions {
            if !secret.is_empty() && out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// One outbound call to the partner, as journaled (secrets redacted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub credential: Option<String>,
    /// 1 for the first attempt; read-only operations retry transient failures.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    pub status: Option<u16>,
    #[serde(default)]
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    /// The `http-error` case when the exchange failed (`timeout`, `connect`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The exchange's time to the nanosecond, for the metrics; the journal keeps `duration_ms`.
    #[serde(skip)]
    pub elapsed: Duration,
    /// Whether the request may have reached the partner: false only when the host refused it
    /// or could not connect. Entries journaled before this field existed count as sent.
    #[serde(default = "sent_before_recorded")]
    pub sent: bool,
    /// When the request was handed to be sent (Unix milliseconds): what the partner's answer
    /// tells was learnt after it (`store::write`, a case's newest news).
    #[serde(skip)]
    pub sent_at_ms: i64,
    /// Calls the adapter tried after this one that the host refused unjournaled, the operation
    /// having made its `http::MAX_PARTNER_CALLS`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused_after: u32,
}

fn sent_before_recorded() -> bool {
    true
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Exchange {
    /// Whether the partner may have acted on this request: it may have reached the partner, it
    /// is not a safe method (a GET changes nothing, RFC 9110 9.2.1), and the partner did not
    /// refuse it with a 4xx (a refusal is an answer: the partner did not act).
    pub fn may_have_acted(&self) -> bool {
        self.sent
            && !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
            && !matches!(self.status, Some(400..=499))
    }
}

fn first_attempt() -> u32 {
    1
}

/// Partner exchanges recorded in the journal, served back instead of calling the partner when
/// a candidate module is replayed.
#[derive(Debug, Default)]
pub struct Recording {
    pub exchanges: Vec<Exchange>,
    used: Vec<bool>,
}

impl Recording {
    pub fn new(exchanges: Vec<Exchange>) -> Recording {
        let used = vec![false; exchanges.len()];
        Recording { exchanges, used }
    }

    /// The recorded exchange for a request: the first unused one with the same method and
    /// URL, else the next unused one in order.
    pub fn answer(&mut self, method: &str, url: &str) -> Option<&Exchange> {
        let unused = |(i, _): &(usize, &Exchange)| !self.used[*i];
        let index = self
            .exchanges
            .iter()
            .enumerate()
            .filter(unused)
            .find(|(_, e)| e.method == method && e.url == url)
            .or_else(|| self.exchanges.iter().enumerate().find(unused))
            .map(|(i, _)| i)?;
        self.used[index] = true;
        Some(&self.exchanges[index])
    }
}

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: Limits,
    pub panel: Arc<PanelContext>,
    pub operation: &'static str,
    pub deadline: Instant,
    pub exchanges: Vec<Exchange>,
    pub stdout: KeptOutput,
    pub stderr: KeptOutput,
    pub log_bytes: usize,
    /// When replaying: the recorded partner exchanges `http.send` serves instead of the partner.
    pub replay: Option<Recording>,
    /// Set as a request starts out to the partner. Shared with the caller, who still holds it
    /// should the call be cut off (and this state dropped) before the exchange is recorded.
    pub sending: Arc<std::sync::atomic::AtomicBool>,
    /// The key `invocation.idempotency-key` gives the adapter: stable across the portal's
    /// retries of one operation.
    pub idempotency_key: Option<String>,
}

impl HostState {
    pub fn new(panel: Arc<PanelContext>, operation: &'static str) -> HostState {
        let stdout = KeptOutput::new(panel.max_log_bytes);
        let stderr = KeptOutput::new(panel.max_log_bytes);
        // No preopened directories, no environment, no arguments, no sockets.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = Limits {
            inner: StoreLimitsBuilder::new()
                .memory_size(panel.memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            memory_hit: false,
        };
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            deadline: Instant::now() + panel.operation_timeout,
            panel,
            operation,
            exchanges: Vec::new(),
            stdout,
            stderr,
            log_bytes: 0,
            replay: None,
            sending: Default::default(),
            idempotency_key: None,
        }
    }

    /// The limits this operation reached, for the metrics.
    pub fn limits_hit(&self) -> crate::metrics::LimitsHit {
        crate::metrics::LimitsHit {
            memory: self.limits.memory_hit,
            log_bytes: self.log_bytes > self.panel.max_log_bytes
                || self.stdout.dropped() > 0
                || self.stderr.dropped() > 0,
        }
    }

    /// Forwards what the adapter printed to the host's log.
    pub fn flush_output(&self, journal_id: &str) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (bytes, dropped) = pipe.contents();
            let text = self.panel.redact(&String::from_utf8_lossy(&bytes));
            for line in text.lines() {
                tracing::info!(panel = %self.panel.id, operation = self.operation, journal = journal_id, stream, "{line}");
            }
            if dropped > 0 {
                tracing::warn!(panel = %self.panel.id, operation = self.operation, journal = journal_id, stream, dropped, "adapter output capped at {} bytes for this operation; the rest dropped", self.panel.max_log_bytes);
            }
        }
    }
}

/// The store's limits, noting when the adapter asked for more memory than its panel allows.
pub struct Limits {
    inner: StoreLimits,
    pub memory_hit: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.memory_hit = true;
        }
        allowed
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl crate::model::Host for HostState {}

impl super::bindings::panelgate::adapter::invocation::Host for HostState {
    async fn idempotency_key(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.idempotency_key.clone())
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
