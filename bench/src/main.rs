//! `cargo run --release -p panelgate-bench`: the same partner calls made by a plain Rust client
//! doing the adapter's mapping natively (*direct*) and through panelgate (portal → host →
//! component → partner and back), side by side in one run, against the strict simulators on
//! loopback; plus the runtime's micro-figures. See BENCHMARKS.md. Each scenario is a module:
//! [`micro`] (the runtime alone), [`startup`], [`store`] (commits), [`side_by_side`] (the
//! table), [`low_load`] (one at a time and the open loop), [`slow`] (a slow partner, thousands
//! of connections, the host in a process of its own).

mod common;
mod low_load;
mod micro;
mod partners;
mod relay;
mod side_by_side;
mod slow;
mod startup;
mod store;

use std::time::Duration;

use anyhow::{Context, Result};
use panelgate_tests::guests;
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator};

use common::*;
use partners::examples;

/// The allocator the `panelgate` binary uses, so that the host measured here is the one that
/// ships. Every path of the benchmark shares the process, and so the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    // `PANELGATE_BENCH_HOST=CONFIG`: this process is the slow-partner scenario's host (see
    // `slow`), on the runtime `panelgate serve` runs on.
    if let Ok(config) = std::env::var(slow::HOST_ENV) {
        return panelgate::memory::runtime(None)?.block_on(slow::serve_host(&config));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // `PANELGATE_BENCH_RELAY=PARTNER LISTEN`: this process is the slow-partner scenario's relay.
    if let Ok(spec) = std::env::var(slow::RELAY_ENV) {
        return runtime.block_on(slow::serve_relay(&spec));
    }
    runtime.block_on(bench())
}

async fn bench() -> Result<()> {
    slow::raise_open_files_limit();
    let any = "127.0.0.1:0".parse()?;
    let aap_config = AapSimConfig {
        panel_code: "A03".into(),
        life: true,
        username: "bench".into(),
        password: "bench-secret".into(),
        callback_base: None,
        callback_username: "cb".into(),
        callback_password: "cb-secret".into(),
    };
    let aap = AapSimulator::start(aap_config, any).await?;
    let aagi = AagiSimulator::start(
        AagiSimConfig {
            token: Some("bench-token".into()),
        },
        any,
    )
    .await?;
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("cache");
    // The hosts log as `panelgate serve` does (its subscriber, `RUST_LOG` or `info`), to a file
    // instead of stderr: a line per operation is part of what a host costs.
    let log = dir.path().join("host.log");
    let _telemetry = panelgate::telemetry::Telemetry::init_writing_to(
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?,
    )?;
    // `PANELGATE_BENCH_PROFILE=SECONDS`: only keep the host busy with AAP quotes for that long
    // (SQLite, durability full), for a profiler watching the process.
    let profile = std::env::var("PANELGATE_BENCH_PROFILE")
        .ok()
        .map(|s| s.parse::<u64>().map(Duration::from_secs))
        .transpose()
        .context("PANELGATE_BENCH_PROFILE: a number of seconds")?;
    // `PANELGATE_BENCH_MICRO=1`: only the runtime's per-call figures, for comparing settings.
    let micro = std::env::var("PANELGATE_BENCH_MICRO").is_ok();

    // `PANELGATE_BENCH_ONLY=slow`: only the slow-partner scenario; `fast`: all but it; `side`:
    // only the side-by-side table.
    let only = std::env::var("PANELGATE_BENCH_ONLY").ok();

    println!(
        "# panelgate benchmark ({} cores)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "\nThe hosts log as `panelgate serve` does (RUST_LOG={}), to a file.",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())
    );
    if only.as_deref() == Some("slow") {
        return slow::run(&cache, &aap).await;
    }
    if profile.is_none() && !micro && only.as_deref() != Some("side") {
        micro::compile_and_load(&cache).await?;
        startup::startup(dir.path()).await?;
        // First, while the process holds no connections from the other scenarios: its
        // thousands of connections need the open-files limit to themselves.
        // (`PANELGATE_BENCH_ONLY=fast`: every scenario but this one.)
        if only.as_deref() != Some("fast") {
            slow::run(&cache, &aap).await?;
        }
    }

    // ---- the host ----
    let config = format!(
        r#"
[server]
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "bench-admin" }}
[store]
url = "STORE_URL"
durability = "DURABILITY"
[sandbox]
cache_dir = "{cache}"
[adapters.aap-h2h]
path = "{aap_path}"
[adapters.aagi-motor]
path = "{aagi_path}"
[panels.A03]
adapter = "aap-h2h"
base_url = "{aap_url}"
settings = {{ line = "life" }}
[panels.A03.credentials.partner]
kind = "basic"
username = {{ value = "bench" }}
password = {{ value = "bench-secret" }}
[panels.A03.callback_auth]
kind = "basic"
username = {{ value = "cb" }}
password = {{ value = "cb-secret" }}
[panels.aagi-motor]
adapter = "aagi-motor"
base_url = "{aagi_url}"
settings = {{ credential = "partner" }}
[panels.aagi-motor.credentials.partner]
kind = "bearer"
token = {{ value = "bench-token" }}
"#,
        cache = cache.display(),
        aap_path = guests::AAP_H2H,
        aagi_path = guests::AAGI_MOTOR,
        aap_url = aap.base_url(),
        aagi_url = aagi.base_url(),
    );
    let mut hosts = Vec::new();
    let mut apps = Vec::new();
    let mut loaded = None;
    let mut stores = vec![
        (
            "full",
            format!("sqlite://{}", dir.path().join("bench-full.db").display()),
        ),
        (
            "normal",
            format!("sqlite://{}", dir.path().join("bench-normal.db").display()),
        ),
    ];
    match startup::fresh_postgres().await {
        Ok(url) => stores.push(("full", url)),
        Err(e) => println!("\n(no PostgreSQL path: {e:#})"),
    }
    for (n, (durability, url)) in stores.iter().enumerate() {
        let text = config.replace("DURABILITY", durability).replace("STORE_URL", url);
        let config_path = dir.path().join(format!("bench-{n}.toml"));
        std::fs::write(&config_path, text)?;
        let config = panelgate::config::Config::load(&config_path)?;
        let rss_before = rss_kib();
        let app = panelgate::App::start(&config).await?;
        loaded.get_or_insert(rss_kib().saturating_sub(rss_before));
        // Bound and served as `panelgate serve` binds and serves.
        let listener = panelgate::listen("127.0.0.1:0").await?;
        hosts.push(format!("http://{}", listener.local_addr()?));
        let router = app.router();
        let server = config.server.clone();
        tokio::spawn(
            async move { panelgate::serve(listener, router, &server, std::future::pending()).await },
        );
        apps.push((app, config));
    }
    let (app, config) = &apps[0];

    if let Some(period) = profile {
        // `PANELGATE_BENCH_PROFILE_PATH=adapter`: the adapter call with its partner exchange
        // alone (no portal API, no store) instead of the whole host; `accept`: host AAP accepts
        // (a new loan each) instead of quotes, `aagi-accept` AAGI accepts, each with its
        // `Idempotency-Key` (`accept-keyed` and `aagi-accept-keyed` say the same: every accept
        // carries one since the host requires it).
        // `PANELGATE_BENCH_PROFILE_STORE=postgres`: the host on the PostgreSQL store instead of
        // SQLite's (`full`).
        let (host, store) = match std::env::var("PANELGATE_BENCH_PROFILE_STORE").as_deref() {
            Ok("postgres") => (
                hosts
                    .get(2)
                    .context("PANELGATE_BENCH_PROFILE_STORE=postgres: no PostgreSQL path")?,
                "PostgreSQL",
            ),
            Ok("sqlite") | Err(std::env::VarError::NotPresent) => (&hosts[0], "SQLite, full"),
            _ => anyhow::bail!("PANELGATE_BENCH_PROFILE_STORE: `sqlite` or `postgres`"),
        };
        let (what, call) = match std::env::var("PANELGATE_BENCH_PROFILE_PATH").as_deref() {
            Ok("adapter") => {
                let adapter = app.state.panel("A03").expect("panel A03").adapter.clone();
                let quote: panelgate::model::QuoteRequest =
                    serde_json::from_value(examples("A03", "quote")?)?;
                (
                    "the AAP adapter's quote with its partner exchange".to_string(),
                    adapter_quote(adapter, quote),
                )
            }
            Ok(path @ ("accept" | "accept-keyed" | "aagi-accept" | "aagi-accept-keyed")) => {
                // AAP refuses a loan it has insured: each accept names a new one.
                let (partner, panel, body, loan) = if path.starts_with("aagi") {
                    ("AAGI", "aagi-motor", examples("aagi-motor", "accept")?, None)
                } else {
                    (
                        "AAP",
                        "A03",
                        examples("A03", "accept-cac")?,
                        Some("/interest/credit_life/account"),
                    )
                };
                let url = format!("{host}/v1/panels/{panel}/policies");
                let accept = portal_call(&reqwest::Client::new(), url, body, loan);
                (
                    format!("{partner} accepts through the host, each with its Idempotency-Key ({store})"),
                    accept,
                )
            }
            Ok("host") | Err(std::env::VarError::NotPresent) => {
                let url = format!("{host}/v1/panels/A03/quotes");
                let quote = portal_call(&reqwest::Client::new(), url, examples("A03", "quote")?, None);
                (format!("AAP quotes through the host ({store})"), quote)
            }
            _ => anyhow::bail!(
                "PANELGATE_BENCH_PROFILE_PATH: `adapter`, `host`, `accept`, `accept-keyed`, `aagi-accept` or `aagi-accept-keyed`"
            ),
        };
        let sat = throughput_for(call, 0, period).await?;
        println!(
            "profile: {what} for {period:?}: {:.0} req/s, {:.0} µs of CPU per request (client, host and simulator)",
            sat.rps,
            micros(sat.cpu_per_request)
        );
        return Ok(());
    }
    if only.as_deref() == Some("side") {
        return side_by_side::rows(&hosts, aap.base_url(), aagi.base_url()).await;
    }
    micro::calls(app).await?;
    if micro {
        low_load::low_load(&aap.base_url(), &hosts, &apps, 2000).await?;
        return Ok(());
    }
    store::commits(&apps).await?;
    side_by_side::memory_per_panel(app, config, &aap.base_url(), loaded.unwrap_or_default()).await?;
    side_by_side::rows(&hosts, aap.base_url(), aagi.base_url()).await?;
    low_load::low_load(&aap.base_url(), &hosts, &apps, 1000).await
}
