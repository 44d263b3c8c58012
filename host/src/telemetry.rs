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

/// Keeps the trace exporter; [`Telemetry::shutdown`] sends what is still batched.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the process's subscriber.
    pub fn init() -> Result<Telemetry> {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
        let json = std::env::var("PANELGATE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
        let log = if json {
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .boxed()
        } else {
            tracing_subscriber::fmt::layer().boxed()
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
        Ok(Telemetry { provider })
    }

    /// Flushes the spans not yet exported.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
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
