//! Logs and traces of the `panelgate` process: `tracing` events to stderr, as text or JSON, and
//! its spans (operation > partner_request, callback) to an OpenTelemetry collector over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` names one.
//!
//! - `RUST_LOG` filters both (default `info`).
//! - `PANELGATE_LOG_FORMAT=json`: one JSON object per line, with the span list on each.
//! - `OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318`: spans are batched and sent to
//!   `{endpoint}/v1/traces` as OTLP JSON; `OTEL_SERVICE_NAME` names the service (default
//!   `panelgate`); the SDK's `OTEL_BSP_*` variables tune the batching.

use anyhow::{Context as _, Result};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the log writer's thread and the trace exporter; [`Telemetry::shutdown`] writes and
/// sends what is still queued.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    _log: tracing_appender::non_blocking::WorkerGuard,
}

impl Telemetry {
    /// Installs the process's subscriber, its log lines going to stderr (coloured only when
    /// stderr is a terminal).
    pub fn init() -> Result<Telemetry> {
        use std::io::IsTerminal as _;
        Telemetry::install(std::io::stderr(), std::io::stderr().is_terminal())
    }

    /// Installs the process's subscriber, its log lines going to `out`, without colours.
    pub fn init_writing_to(out: impl std::io::Write + Send + 'static) -> Result<Telemetry> {
        Telemetry::install(out, false)
    }

    /// Installs the subscriber. A request never waits for its log line: lines are formatted on
    /// the request's thread and written by a thread of their own. Should whatever reads `out`
    /// stall until 128k lines are queued, further lines are dropped rather than the host's
    /// threads blocked (the journal, not the log, is the record of what happened).
    fn install(out: impl std::io::Write + Send + 'static, ansi: bool) -> Result<Telemetry> {
        let (out, guard) = tracing_appender::non_blocking(out);
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let json = std::env::var("PANELGATE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
        let log = if json {
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_writer(out)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(out)
                .boxed()
        };
        let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Ok(endpoint) if !endpoint.trim().is_empty() => Some(tracer_provider(&endpoint)?),
            _ => None,
        };
        let traces = provider
            .as_ref()
            .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("panelgate")));
        tracing_subscriber::registry()
            .with(filter)
            .with(log)
            .with(traces)
            .try_init()
            .context("installing the log subscriber")?;
        Ok(Telemetry {
            provider,
            _log: guard,
        })
    }

    /// Flushes the spans not yet exported, then the log lines not yet written.
    pub fn shutdown(self) {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("flushing traces: {e}");
        }
    }
}

fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider> {
    let url = format!("{}/v1/traces", endpoint.trim().trim_end_matches('/'));
    // The exporter's blocking HTTP client may not be built on the async runtime's threads.
    let exporter = std::thread::spawn(move || {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(url)
            .build()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("building the OTLP exporter panicked"))?
    .context("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "panelgate".into());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build())
}
