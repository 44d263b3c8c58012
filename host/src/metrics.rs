//! `/metrics`: what broker IT watches, in the Prometheus (OpenMetrics) text format.
//!
//! One registry per host, not a process-global one: the tests run several hosts in one process
//! and each must count only its own requests.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::adapter::{CallError, CallRecord, Outcome};

/// The media type of what [`Metrics::encode`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub panel: String,
    pub operation: String,
    /// `name@version` of the module that served it (empty when no adapter was reached).
    pub adapter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    panel: String,
    operation: String,
    adapter: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    /// The route's pattern, `/v1/panels/{panel}/quotes`: a bounded set, unlike paths.
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    panel: String,
    operation: String,
    adapter: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PanelLabels {
    panel: String,
}

/// A kind of pooled slot: `memory`, `table` or `stack`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SlotLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartnerLabels {
    panel: String,
    /// The HTTP status (`200`, `503`, ...) or, when no answer came, the failure (`timeout`,
    /// `connect`, `too-large`, `refused`, ...).
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    panel: String,
    adapter: String,
    /// `trap`, `memory_limit`, `cpu_deadline`, `malformed_result`, `instantiate`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    panel: String,
    /// `memory`, `deadline`, `log_bytes`, `response_bytes`.
    limit: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    panel: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    subscription: String,
    /// `delivered`, the failing HTTP status class (`4xx`, `5xx`, `3xx`), or, when no answer
    /// came, `timeout` or `error`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SubscriptionLabels {
    subscription: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, from a tenth of a millisecond (a commit, an adapter's own work) to the longest
/// partner timeout.
fn latency() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        10.0, 30.0,
    ])
}

pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Histograms<OperationLabels>,
    callbacks: Family<CallbackLabels, Counter>,
    partner_requests: Family<PartnerLabels, Counter>,
    partner_duration: Histograms<PanelLabels>,
    adapter_duration: Histograms<OperationLabels>,
    commit_duration: Histogram,
    faults: Family<FaultLabels, Counter>,
    limit_hits: Family<LimitLabels, Counter>,
    in_flight: Family<PanelLabels, Gauge>,
    circuit: Family<PanelLabels, Gauge>,
    quarantined: Family<PanelLabels, Gauge>,
    compiled_modules: Gauge,
    engine_renewals: Counter,
    idle_slots: Family<SlotLabels, Gauge>,
    idle_resident: Family<SlotLabels, Gauge>,
    webhook_attempts: Family<WebhookLabels, Counter>,
    webhook_duration: Histograms<SubscriptionLabels>,
    last_hour: LastHour,
}

/// What one adapter call ran into besides its result: the limits it hit.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitsHit {
    pub memory: bool,
    pub log_bytes: bool,
}

impl Metrics {
    /// `pool_slots`: the component instances the pooling allocator holds.
    pub fn new(pool_slots: u32) -> Metrics {
        let mut registry = Registry::with_prefix("panelgate");
        let http = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Every HTTP request the host answered (portal, admin, callbacks), by route and status",
            http.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Portal operation requests answered, by panel, operation, adapter version and HTTP status",
            requests.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "request_errors",
            "Portal operation requests answered with an error, by its code",
            errors.clone(),
        );
        let duration = Histograms::<OperationLabels>::new_with_constructor(latency);
        registry.register(
            "request_duration_seconds",
            "Time from a portal operation request to its answer",
            duration.clone(),
        );
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register(
            "callbacks",
            "Partner callbacks answered, by panel and HTTP status",
            callbacks.clone(),
        );
        let partner_requests = Family::<PartnerLabels, Counter>::default();
        registry.register(
            "partner_requests",
            "Requests to partners, by panel and outcome (HTTP status or failure)",
            partner_requests.clone(),
        );
        let partner_duration = Histograms::<PanelLabels>::new_with_constructor(latency);
        registry.register(
            "partner_request_duration_seconds",
            "Time of one partner exchange",
            partner_duration.clone(),
        );
        let adapter_duration = Histograms::<OperationLabels>::new_with_constructor(latency);
        registry.register(
            "adapter_call_duration_seconds",
            "Time of one adapter call in its sandbox, from instantiation to teardown: the adapter's code, its partner exchanges with any retry waits, the check of its result (the wait for a free instance excluded)",
            adapter_duration.clone(),
        );
        let commit_duration = latency();
        registry.register(
            "store_commit_duration_seconds",
            "Time from handing a commit to the store until the caller has its answer (durable, or the error), the group commit's wait included",
            commit_duration.clone(),
        );
        let faults = Family::<FaultLabels, Counter>::default();
        registry.register(
            "adapter_faults",
            "Adapter calls that failed in the sandbox: traps, limits, malformed results",
            faults.clone(),
        );
        let limit_hits = Family::<LimitLabels, Counter>::default();
        registry.register(
            "limit_hits",
            "Adapter calls that reached a sandbox limit",
            limit_hits.clone(),
        );
        let in_flight = Family::<PanelLabels, Gauge>::default();
        registry.register(
            "instances_in_use",
            "Adapter instances running an operation now, by panel",
            in_flight.clone(),
        );
        let pool: Gauge = Gauge::default();
        pool.set(i64::from(pool_slots));
        registry.register(
            "instance_pool_slots",
            "Component instances the pooling allocator holds for all panels",
            pool,
        );
        let circuit = Family::<PanelLabels, Gauge>::default();
        registry.register(
            "circuit_state",
            "The panel's circuit breaker: 0 closed, 1 open, 2 half-open",
            circuit.clone(),
        );
        let quarantined = Family::<PanelLabels, Gauge>::default();
        registry.register(
            "adapter_quarantined",
            "1 while the panel's adapter is quarantined",
            quarantined.clone(),
        );
        let compiled_modules: Gauge = Gauge::default();
        registry.register(
            "compiled_modules",
            "Compiled adapter modules the host keeps in memory: the registered ones it has loaded",
            compiled_modules.clone(),
        );
        let engine_renewals: Counter = Counter::default();
        registry.register(
            "engine_renewals",
            "Times the host renewed its engine to give back what an idle instance pool held after a burst",
            engine_renewals.clone(),
        );
        let idle_slots = Family::<SlotLabels, Gauge>::default();
        registry.register(
            "instance_pool_idle_slots",
            "Pooled slots an earlier instance used and none uses now (warm), by kind",
            idle_slots.clone(),
        );
        let idle_resident = Family::<SlotLabels, Gauge>::default();
        registry.register(
            "instance_pool_idle_resident_bytes",
            "Bytes the idle slots keep resident for their next use, by kind: what a burst leaves behind",
            idle_resident.clone(),
        );
        let webhook_attempts = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts this host made, by subscription and outcome",
            webhook_attempts.clone(),
        );
        let webhook_duration = Histograms::<SubscriptionLabels>::new_with_constructor(latency);
        registry.register(
            "webhook_attempt_duration_seconds",
            "Time of one webhook delivery attempt, from sending to the endpoint's status or the failure",
            webhook_duration.clone(),
        );
        Metrics {
            registry,
            http,
            requests,
            errors,
            duration,
            callbacks,
            partner_requests,
            partner_duration,
            adapter_duration,
            commit_duration,
            faults,
            limit_hits,
            in_flight,
            circuit,
            quarantined,
            compiled_modules,
            engine_renewals,
            idle_slots,
            idle_resident,
            webhook_attempts,
            webhook_duration,
            last_hour: LastHour::default(),
        }
    }

    /// Each panel's operations over the last hour, as [`Metrics::request`] counted them.
    pub fn last_hour(&self) -> Vec<OperationHour> {
        self.last_hour.summary(unix_minute())
    }

    /// A webhook delivery attempt: its outcome (see [`WebhookLabels`]) and how long it took.
    pub fn webhook_attempt(&self, subscription: &str, outcome: &str, seconds: f64) {
        self.webhook_attempts
            .get_or_create(&WebhookLabels {
                subscription: subscription.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.webhook_duration
            .get_or_create(&SubscriptionLabels {
                subscription: subscription.to_string(),
            })
            .observe(seconds);
    }

    /// How many compiled modules the host keeps.
    pub fn compiled_modules(&self, count: usize) {
        self.compiled_modules.set(count as i64);
    }

    /// The engine was renewed (`core::renewal`).
    pub fn engine_renewed(&self) {
        self.engine_renewals.inc();
    }

    /// Any HTTP request answered, by its route's pattern.
    pub fn http(&self, route: &str, method: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                route: route.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
    }

    /// A portal operation answered: its status, its error code if any, and how long it took.
    pub fn request(
        &self,
        labels: &OperationLabels,
        status: u16,
        error_code: Option<&str>,
        elapsed: std::time::Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                panel: labels.panel.clone(),
                operation: labels.operation.clone(),
                adapter: labels.adapter.clone(),
                status,
            })
            .inc();
        if let Some(code) = error_code {
            self.errors
                .get_or_create(&ErrorLabels {
                    panel: labels.panel.clone(),
                    operation: labels.operation.clone(),
                    adapter: labels.adapter.clone(),
                    code: code.to_string(),
                })
                .inc();
        }
        self.duration.get_or_create(labels).observe(elapsed.as_secs_f64());
        self.last_hour.observe(
            unix_minute(),
            labels,
            error_code.is_some(),
            status >= 500,
            elapsed.as_secs_f64(),
        );
    }

    pub fn callback(&self, panel: &str, status: u16) {
        self.callbacks
            .get_or_create(&CallbackLabels {
                panel: panel.to_string(),
                status,
            })
            .inc();
    }

    /// An adapter call spent `elapsed` in its sandbox.
    pub fn adapter_call(&self, labels: &OperationLabels, elapsed: std::time::Duration) {
        self.adapter_duration
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
    }

    /// An adapter call ended: its partner exchanges, and its fault if it was one.
    pub fn call(
        &self,
        panel: &str,
        adapter: &str,
        result: &Result<Outcome, CallError>,
        record: &CallRecord,
        hit: LimitsHit,
    ) {
        let panel_labels = PanelLabels {
            panel: panel.to_string(),
        };
        let mut partner_timeout = false;
        for exchange in &record.exchanges {
            let outcome = match (exchange.status, &exchange.error_kind) {
                (Some(status), _) => status.to_string(),
                (None, Some(kind)) => kind.clone(),
                (None, None) => "error".to_string(),
            };
            partner_timeout |= exchange.error_kind.as_deref() == Some("timeout");
            if exchange.error_kind.as_deref() == Some("too-large") {
                self.limit(panel, "response_bytes");
            }
            self.partner_requests
                .get_or_create(&PartnerLabels {
                    panel: panel.to_string(),
                    outcome,
                })
                .inc();
            self.partner_duration
                .get_or_create(&panel_labels)
                .observe(exchange.elapsed.as_secs_f64());
        }
        if hit.memory {
            self.limit(panel, "memory");
        }
        if hit.log_bytes {
            self.limit(panel, "log_bytes");
        }
        let kind = match result {
            Err(CallError::Fault(_)) if hit.memory => "memory_limit",
            Err(CallError::Fault(reason)) if reason.starts_with("instantiating") => "instantiate",
            Err(CallError::Fault(reason)) if reason.contains("malformed result") => "malformed_result",
            Err(CallError::Fault(_)) => "trap",
            Err(CallError::Deadline(_)) => {
                self.limit(panel, "deadline");
                if partner_timeout {
                    return;
                }
                "cpu_deadline"
            }
            _ => return,
        };
        self.faults
            .get_or_create(&FaultLabels {
                panel: panel.to_string(),
                adapter: adapter.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    fn limit(&self, panel: &str, limit: &str) {
        self.limit_hits
            .get_or_create(&LimitLabels {
                panel: panel.to_string(),
                limit: limit.to_string(),
            })
            .inc();
    }

    /// The histogram [`crate::store::Store::timing_commits`] observes.
    pub fn commit_duration(&self) -> Histogram {
        self.commit_duration.clone()
    }

    /// Counts an adapter instance in use for as long as the guard lives.
    pub fn in_use(&self, panel: &str) -> InUse {
        let gauge = self
            .in_flight
            .get_or_create(&PanelLabels {
                panel: panel.to_string(),
            })
            .clone();
        gauge.inc();
        InUse(gauge)
    }

    /// The state of each panel as it is now: `(panel, circuit state, quarantined)`.
    pub fn panel_states(&self, panels: impl IntoIterator<Item = (String, i64, bool)>) {
        self.circuit.clear();
        self.quarantined.clear();
        for (panel, circuit, quarantined) in panels {
            let labels = PanelLabels { panel };
            self.circuit.get_or_create(&labels).set(circuit);
            self.quarantined
                .get_or_create(&labels)
                .set(i64::from(quarantined));
            // Panels that never ran an operation still show 0 instances in use.
            drop(self.in_flight.get_or_create(&labels));
        }
    }

    /// The pooling allocator's idle slots and what they keep resident, read at each scrape.
    pub fn pool_state(&self, pool: &wasmtime::PoolingAllocatorMetrics) {
        let idle = [
            (
                "memory",
                pool.unused_warm_memories(),
                pool.unused_memory_bytes_resident(),
            ),
            (
                "table",
                pool.unused_warm_tables(),
                pool.unused_table_bytes_resident(),
            ),
            (
                "stack",
                pool.unused_warm_stacks(),
                pool.unused_stack_bytes_resident().unwrap_or(0),
            ),
        ];
        for (kind, slots, bytes) in idle {
            let labels = SlotLabels { kind };
            self.idle_slots.get_or_create(&labels).set(i64::from(slots));
            self.idle_resident
                .get_or_create(&labels)
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    /// The registry in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// See [`Metrics::in_use`].
pub struct InUse(Gauge);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The upper bounds (seconds) of the last hour's latency buckets: [`latency`]'s.
const HOUR_BOUNDS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0,
];

fn unix_minute() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp().div_euclid(60)
}

/// One minute of one panel's operation.
#[derive(Clone, Copy, Default)]
struct Minute {
    minute: i64,
    requests: u64,
    errors: u64,
    server_errors: u64,
    seconds: f64,
    max: f64,
    /// Counts per [`HOUR_BOUNDS`] bucket, the last one for anything longer.
    buckets: [u64; HOUR_BOUNDS.len() + 1],
}

/// The last sixty minutes of each panel's operations, minute by minute: what the console shows
/// as "the last hour" (Prometheus's counters only ever grow; a console has no Prometheus).
#[derive(Default)]
struct LastHour {
    minutes:
        std::sync::Mutex<std::collections::HashMap<(String, String), std::collections::VecDeque<Minute>>>,
}

/// One panel's operation over the last hour.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OperationHour {
    pub panel: String,
    pub operation: String,
    /// Requests answered.
    pub requests: u64,
    /// Of them, answered with an error (any `error.code`).
    pub errors: u64,
    /// Of them, answered with a 5xx.
    pub server_errors: u64,
    /// Mean time to answer, in milliseconds.
    pub mean_ms: f64,
    /// The 95th percentile, in milliseconds: the upper bound of the latency bucket it falls in
    /// (the longest seen when it falls past the last bound).
    pub p95_ms: f64,
    /// The longest, in milliseconds.
    pub max_ms: f64,
}

impl LastHour {
    fn observe(&self, now: i64, labels: &OperationLabels, error: bool, server_error: bool, seconds: f64) {
        let Ok(mut minutes) = self.minutes.lock() else {
            return;
        };
        let series = minutes
            .entry((labels.panel.clone(), labels.operation.clone()))
            .or_default();
        while series.front().is_some_and(|m| m.minute <= now - 60) {
            series.pop_front();
        }
        if series.back().is_none_or(|m| m.minute != now) {
            series.push_back(Minute {
                minute: now,
                ..Minute::default()
            });
        }
        let Some(m) = series.back_mut() else { return };
        m.requests += 1;
        m.errors += u64::from(error);
        m.server_errors += u64::from(server_error);
        m.seconds += seconds;
        m.max = m.max.max(seconds);
        let bucket = HOUR_BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(HOUR_BOUNDS.len());
        m.buckets[bucket] += 1;
    }

    fn summary(&self, now: i64) -> Vec<OperationHour> {
        let Ok(minutes) = self.minutes.lock() else {
            return Vec::new();
        };
        let mut hours: Vec<OperationHour> = minutes
            .iter()
            .filter_map(|((panel, operation), series)| {
                let mut total = Minute::default();
                for m in series.iter().filter(|m| m.minute > now - 60) {
                    total.requests += m.requests;
                    total.errors += m.errors;
                    total.server_errors += m.server_errors;
                    total.seconds += m.seconds;
                    total.max = total.max.max(m.max);
                    for (sum, count) in total.buckets.iter_mut().zip(m.buckets) {
                        *sum += count;
                    }
                }
                if total.requests == 0 {
                    return None;
                }
                // The smallest bucket holding the 95th percentile request.
                let rank = (total.requests * 95).div_ceil(100);
                let mut seen = 0;
                let bucket = total
                    .buckets
                    .iter()
                    .position(|count| {
                        seen += count;
                        seen >= rank
                    })
                    .unwrap_or(HOUR_BOUNDS.len());
                let p95 = HOUR_BOUNDS.get(bucket).map_or(total.max, |b| b.min(total.max));
                Some(OperationHour {
                    panel: panel.clone(),
                    operation: operation.clone(),
                    requests: total.requests,
                    errors: total.errors,
                    server_errors: total.server_errors,
                    mean_ms: total.seconds * 1000.0 / total.requests as f64,
                    p95_ms: p95 * 1000.0,
                    max_ms: total.max * 1000.0,
                })
            })
            .collect();
        hours.sort_by(|a, b| (&a.panel, &a.operation).cmp(&(&b.panel, &b.operation)));
        hours
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(panel: &str, operation: &str) -> OperationLabels {
        OperationLabels {
            panel: panel.into(),
            operation: operation.into(),
            adapter: "a@1".into(),
        }
    }

    #[test]
    fn the_last_hour_counts_only_its_sixty_minutes() {
        let hour = LastHour::default();
        let quote = labels("A03", "quote");
        // Ninety minutes ago: out of the window by the time of the summary.
        hour.observe(1000, &quote, true, true, 9.0);
        for i in 0..19 {
            hour.observe(1090, &quote, false, false, 0.002 + f64::from(i) * 0.0001);
        }
        hour.observe(1100, &quote, true, false, 0.3);
        hour.observe(1100, &labels("B03", "accept"), true, true, 40.0);
        let summary = hour.summary(1100);
        assert_eq!(summary.len(), 2);
        let a03 = &summary[0];
        assert_eq!((a03.panel.as_str(), a03.operation.as_str()), ("A03", "quote"));
        assert_eq!((a03.requests, a03.errors, a03.server_errors), (20, 1, 0));
        // 19 of 20 at most 3.9 ms: the 95th percentile is the 19th, in the 2.5-5 ms bucket.
        assert_eq!(a03.p95_ms, 5.0);
        assert_eq!(a03.max_ms, 300.0);
        // Past the last bound, the longest seen stands for the percentile.
        assert_eq!(summary[1].p95_ms, 40_000.0);
        assert_eq!(summary[1].server_errors, 1);
        // An hour later, nothing is left.
        assert!(hour.summary(1161).is_empty());
    }
}
