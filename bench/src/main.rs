//! `cargo run --release -p panelgate-bench`: the same partner calls made by a plain Rust client
//! doing the adapter's mapping natively (*direct*) and through panelgate (portal → host →
//! component → partner and back), side by side in one run, against the strict simulators on
//! loopback; plus the runtime's micro-figures. See BENCHMARKS.md.

use std::collections::BTreeMap;
use std::future::Future;

use futures::FutureExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use panelgate::adapter::Call;
use panelgate_adapter_sdk as sdk;
use panelgate_tests::guests;
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator};
use serde_json::{Value, json};

const PORTAL: &str = "bench-portal";
const LATENCY_SAMPLES: usize = 400;
const SATURATION: Duration = Duration::from_secs(3);
const CONCURRENCY: usize = 16;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

type Outcome = std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send>>;
/// One way of making a call: the `u64` makes each call distinct where the partner needs it.
type Path = Arc<dyn Fn(u64) -> Outcome + Send + Sync>;

fn path<F, Fut>(f: F) -> Path
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// `count` requests per path, one at a time, alternating the paths request by request so all
/// see the same machine.
async fn latencies(paths: &[Path], count: usize) -> Result<Vec<Vec<Duration>>> {
    let mut samples = vec![Vec::new(); paths.len()];
    for i in 0..count as u64 {
        for (p, path) in paths.iter().enumerate() {
            let t = Instant::now();
            path(i * 10 + p as u64).await?;
            samples[p].push(t.elapsed());
        }
    }
    samples.iter_mut().for_each(|s| s.sort());
    Ok(samples)
}

/// The CPU time the whole process has used: client, host and simulators together.
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Each live thread of the process, by its id: its name (as `/proc/self/task/*/comm` has it,
/// cut to 15 bytes) and its context switches so far, voluntary or not. Each is the thread
/// parking for want of work, or being put off its CPU. `None` where there is no `/proc`.
fn context_switches() -> Option<BTreeMap<u32, (String, u64)>> {
    let mut threads = BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        // A thread may end between the listing and the reads.
        let (Ok(status), Ok(name)) = (
            std::fs::read_to_string(task.path().join("status")),
            std::fs::read_to_string(task.path().join("comm")),
        ) else {
            continue;
        };
        let switches: u64 = status
            .lines()
            .filter_map(|line| {
                line.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|count| count.trim().parse::<u64>().ok())
            .sum();
        threads.insert(tid, (name.trim().to_string(), switches));
    }
    Some(threads)
}

/// The context switches between two readings of [`context_switches`], summed by thread name:
/// each thread's own difference (a thread born between them counts from 0; one that ended is
/// lost).
fn switches_by_name(
    before: &BTreeMap<u32, (String, u64)>,
    after: &BTreeMap<u32, (String, u64)>,
) -> BTreeMap<String, u64> {
    let mut by_name = BTreeMap::new();
    for (tid, (name, now)) in after {
        let was = before.get(tid).map_or(0, |(_, n)| *n);
        *by_name.entry(name.clone()).or_default() += now.saturating_sub(was);
    }
    by_name
}

/// Throughput at saturation: requests per second, and the process's CPU time per request.
#[derive(Clone, Copy)]
struct Saturation {
    rps: f64,
    cpu_per_request: Duration,
}

/// Requests per second with `CONCURRENCY` callers for `SATURATION`.
async fn throughput(call: Path, offset: u64) -> Result<Saturation> {
    throughput_for(call, offset, SATURATION).await
}

async fn throughput_for(call: Path, offset: u64, period: Duration) -> Result<Saturation> {
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(offset));
    let cpu = process_cpu();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (call, done, counter) = (call.clone(), done.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < period {
                call(counter.fetch_add(1, Ordering::Relaxed)).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let (elapsed, cpu, done) = (start.elapsed(), process_cpu() - cpu, done.load(Ordering::Relaxed));
    Ok(Saturation {
        rps: done as f64 / elapsed.as_secs_f64(),
        cpu_per_request: cpu / done.max(1) as u32,
    })
}

/// The portal's side of a host (or the relay): POST `body` to `url` with the portal's token and
/// read the answer to the end, as a portal does, so the connection goes back to the pool. With
/// `loan_pointer`, that field of the body is made distinct per call.
fn portal_call(
    client: &reqwest::Client,
    url: String,
    body: Value,
    loan_pointer: Option<&'static str>,
) -> Path {
    let client = client.clone();
    path(move |i: u64| {
        let (client, url, mut body) = (client.clone(), url.clone(), body.clone());
        if let Some(pointer) = loan_pointer
            && let Some(slot) = body.pointer_mut(pointer)
        {
            *slot = json!(format!("BENCH-H-{i}"));
        }
        async move {
            let response = client.post(url).bearer_auth(PORTAL).json(&body).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            anyhow::ensure!(
                status.is_success(),
                "host answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
            anyhow::Ok(())
        }
    })
}

/// The adapter's quote with its partner exchange, called as the API calls it: no portal hop,
/// no store.
fn adapter_quote(
    adapter: Arc<dyn panelgate::adapter::Adapter>,
    quote: panelgate::model::QuoteRequest,
) -> Path {
    path(move |_| {
        let (adapter, quote) = (adapter.clone(), quote.clone());
        async move {
            let (result, _) = adapter.call(Call::Quote(quote), "bench", None).await;
            result
                .map(drop)
                .map_err(|e| anyhow::anyhow!("the AAP quote failed: {e}"))
        }
    })
}

struct Row {
    name: &'static str,
    /// direct, relay, host on SQLite (durability full, normal), host on PostgreSQL when there is
    /// one: latencies, and throughput with CPU per request.
    paths: Vec<(Vec<Duration>, Saturation)>,
}

async fn measure(name: &'static str, paths: Vec<Path>) -> Result<Row> {
    let lat = latencies(&paths, LATENCY_SAMPLES).await?;
    let mut out = Vec::new();
    for (p, (path, lat)) in paths.into_iter().zip(lat).enumerate() {
        out.push((lat, throughput(path, 10_000_000 * (p as u64 + 1)).await?));
    }
    Ok(Row { name, paths: out })
}

/// Resident memory per request in flight: the peak RSS while `CONCURRENCY` callers keep the
/// host busy, over the idle RSS, divided by the callers.
async fn memory_in_flight(path: Path) -> Result<f64> {
    let idle = rss_kib();
    let peak = Arc::new(AtomicU64::new(idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    throughput(path, 90_000_000).await?;
    sampler.abort();
    Ok(peak.load(Ordering::Relaxed).saturating_sub(idle) as f64 / CONCURRENCY as f64)
}

fn print_rows(rows: &[Row]) {
    println!(
        "\n| scenario | path | p50 µs | p99 µs | added p50 µs | added p99 µs | req/s | of direct | CPU µs/req | added CPU µs/req |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in rows {
        let (direct, direct_sat) = &r.paths[0];
        let (dp50, dp99) = (micros(percentile(direct, 0.5)), micros(percentile(direct, 0.99)));
        let dcpu = micros(direct_sat.cpu_per_request);
        for (label, (lat, sat)) in [
            "direct",
            "relay (a bare Rust hop: no sandbox, no store)",
            "panelgate (SQLite, durability full)",
            "panelgate (SQLite, durability normal)",
            "panelgate (PostgreSQL, local server)",
        ]
        .iter()
        .zip(&r.paths)
        {
            let (p50, p99) = (micros(percentile(lat, 0.5)), micros(percentile(lat, 0.99)));
            let cpu = micros(sat.cpu_per_request);
            println!(
                "| {} | {label} | {p50:.0} | {p99:.0} | {:.0} | {:.0} | {:.0} | {:.0}% | {cpu:.0} | {:.0} |",
                r.name,
                p50 - dp50,
                p99 - dp99,
                sat.rps,
                100.0 * sat.rps / direct_sat.rps,
                cpu - dcpu,
            );
        }
    }
}

fn uuid_like() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn aap_person() -> sdk::Party {
    sdk::Party {
        role: sdk::PartyRole::Insured,
        detail: sdk::PartyDetail::Person(sdk::Person {
            full_name: "BUDI SANTOSO".into(),
            title: None,
            given_name: None,
            middle_name: None,
            family_name: None,
            second_family_name: None,
            birth_date: Some("1976-01-01".into()),
            birth_place: None,
            gender: None,
            nationality: None,
            marital_status: None,
            occupation: Some("DINAS KESEHATAN".into()),
            education: None,
            mother_maiden_name: None,
            identities: vec![sdk::Identity {
                kind: sdk::IdentityKind::NationalId,
                number: "3578010101760001".into(),
                issuing_country: None,
            }],
            addresses: vec![],
            email: None,
            phones: vec![],
        }),
        relationship: None,
        share_percent: None,
    }
}

fn aap_loan(account: &str) -> sdk::Loan {
    sdk::Loan {
        account: Some(account.into()),
        principal: Some(sdk::Money {
            amount: "15000000".into(),
            currency: "IDR".into(),
        }),
        outstanding: None,
        tenor_months: Some(60),
        branch: Some("015".into()),
        application_date: Some("2024-08-16".into()),
        contract_date: Some("2024-08-16".into()),
        end_date: None,
        transaction: Some(sdk::LoanTransaction::NewLoan),
    }
}

fn examples(panel: &str, name: &str) -> Result<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(panel)
        .join(format!("{name}.json"));
    Ok(serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| path.display().to_string())?,
    )?)
}

/// The allocator the `panelgate` binary uses, so that the host measured here is the one that
/// ships. Every path of the benchmark shares the process, and so the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
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

    // ---- micro-figures: compiling, loading from the cache ----
    println!(
        "# panelgate benchmark ({} cores)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!(
        "\nThe hosts log as `panelgate serve` does (RUST_LOG={}), to a file.",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())
    );
    println!(
        "\n| adapter | size KiB | compile ms (cold) | load ms (compiled cache) |\n| --- | ---: | ---: | ---: |"
    );
    for (name, path) in [
        ("aap-h2h", guests::AAP_H2H),
        ("aagi-motor", guests::AAGI_MOTOR),
        ("deskcoll (Python)", guests::DESKCOLL),
    ]
    .into_iter()
    .filter(|_| profile.is_none() && !micro)
    {
        let size = std::fs::metadata(path)?.len() / 1024;
        let cold_runtime =
            panelgate::runtime::Runtime::new(&panelgate::config::SandboxConfig::default(), 64)?;
        let t = Instant::now();
        cold_runtime.compile_file(std::path::Path::new(path))?;
        let cold = t.elapsed();
        let sandbox = panelgate::config::SandboxConfig {
            cache_dir: Some(cache.clone()),
            ..Default::default()
        };
        panelgate::runtime::Runtime::new(&sandbox, 64)?.compile_file(std::path::Path::new(path))?;
        // wasmtime writes cache entries in the background: give it a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let warm_runtime = panelgate::runtime::Runtime::new(&sandbox, 64)?;
        let t = Instant::now();
        warm_runtime.compile_file(std::path::Path::new(path))?;
        println!(
            "| {name} | {size} | {:.0} | {:.1} |",
            cold.as_secs_f64() * 1e3,
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    // ---- start-up: all demo panels, cold and restarted with a warm cache ----
    if profile.is_none() && !micro {
        startup(dir.path()).await?;
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
    match fresh_postgres().await {
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
        // alone (no portal API, no store) instead of the whole host.
        let (what, call) = match std::env::var("PANELGATE_BENCH_PROFILE_PATH").as_deref() {
            Ok("adapter") => {
                let adapter = app.state.panel("A03").expect("panel A03").adapter.clone();
                let quote: panelgate::model::QuoteRequest =
                    serde_json::from_value(examples("A03", "quote")?)?;
                (
                    "the AAP adapter's quote with its partner exchange",
                    adapter_quote(adapter, quote),
                )
            }
            Ok("host") | Err(std::env::VarError::NotPresent) => {
                let url = format!("{}/v1/panels/A03/quotes", hosts[0]);
                let quote = portal_call(&reqwest::Client::new(), url, examples("A03", "quote")?, None);
                ("AAP quotes through the host (SQLite, full)", quote)
            }
            _ => anyhow::bail!("PANELGATE_BENCH_PROFILE_PATH: `adapter` or `host`"),
        };
        let sat = throughput_for(call, 0, period).await?;
        println!(
            "profile: {what} for {period:?}: {:.0} req/s, {:.0} µs of CPU per request (client, host and simulator)",
            sat.rps,
            micros(sat.cpu_per_request)
        );
        return Ok(());
    }

    // ---- instantiate + call, no network: an AAP quote the adapter refuses before any call ----
    let adapter = app.state.panel("A03").expect("panel A03").adapter.clone();
    let refused = Call::Quote(panelgate::model::QuoteRequest {
        product: Some("01".into()),
        plan: None,
        binding: false,
        start_date: None,
        end_date: None,
        frequency: None,
        sum_insured: None,
        parties: vec![],
        interest: panelgate::model::InsuredInterest::Life(panelgate::model::LifeCover {
            smoker: None,
            height_cm: None,
            weight_kg: None,
        }),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    });
    for _ in 0..200 {
        let _ = adapter.call(refused.clone(), "warm-up", None).await;
    }
    let mut calls = Vec::new();
    for _ in 0..3000 {
        let t = Instant::now();
        let (result, _) = adapter.call(refused.clone(), "bench", None).await;
        calls.push(t.elapsed());
        anyhow::ensure!(result.is_err(), "the refused quote was not refused");
    }
    calls.sort();
    println!(
        "\ninstantiate + call (fresh instance, pooling allocator, AAP quote refused in the guest): p50 {:.1} µs, p99 {:.1} µs",
        micros(percentile(&calls, 0.5)),
        micros(percentile(&calls, 0.99))
    );

    // ---- the adapter with its partner exchange, no portal API and no store ----
    let quote: panelgate::model::QuoteRequest = serde_json::from_value(examples("A03", "quote")?)?;
    let mut calls = Vec::new();
    for i in 0..1000 {
        let t = Instant::now();
        let (result, record) = adapter.call(Call::Quote(quote.clone()), "bench", None).await;
        if i >= 100 {
            calls.push(t.elapsed());
        }
        anyhow::ensure!(
            result.is_ok() && record.exchanges.len() == 1,
            "the AAP quote failed: {result:?}"
        );
    }
    calls.sort();
    println!(
        "adapter call with its partner exchange (AAP quote; no portal API, no store): p50 {:.1} µs, p99 {:.1} µs",
        micros(percentile(&calls, 0.5)),
        micros(percentile(&calls, 0.99))
    );
    // The same at saturation: what the sandbox and its HTTP capability cost in CPU per call,
    // beside the full path's figure in the table.
    let sat = throughput(adapter_quote(adapter.clone(), quote.clone()), 0).await?;
    println!(
        "adapter call with its partner exchange, {CONCURRENCY} callers: {:.0} calls/s, {:.0} µs of CPU per call (client, host and simulator)",
        sat.rps,
        micros(sat.cpu_per_request)
    );

    if micro {
        low_load(&aap.base_url(), &hosts, &apps, 2000).await?;
        return Ok(());
    }

    // ---- the store: what one operation's commit costs (a portal entry and one exchange) ----
    for ((app, _), durability) in apps.iter().zip(["SQLite, full", "SQLite, normal", "PostgreSQL"]) {
        let store = &app.state.store;
        let commit = || panelgate::store::Commit {
            journal: (0..2)
                .map(|i| panelgate::store::JournalEntry {
                    id: format!("bench-{}-{i}", uuid_like()),
                    panel: Some("A03".into()),
                    operation: "quote".into(),
                    kind: if i == 0 { "portal" } else { "partner" },
                    case_id: None,
                    outcome: "ok".into(),
                    detail: json!({ "request": { "product": "01" }, "exchanges": 1 }).to_string(),
                })
                .collect(),
            ..Default::default()
        };
        let mut one = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            store.commit(commit()).await?;
            one.push(t.elapsed());
        }
        one.sort();
        let mut rates = Vec::new();
        for grouped in [true, false] {
            let start = Instant::now();
            let done = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..CONCURRENCY {
                let (state, done) = (app.state.clone(), done.clone());
                tasks.push(tokio::spawn(async move {
                    while start.elapsed() < Duration::from_secs(2) {
                        let commit = panelgate::store::Commit {
                            journal: vec![panelgate::store::JournalEntry {
                                id: format!("bench-c-{}", uuid_like()),
                                panel: Some("A03".into()),
                                operation: "quote".into(),
                                kind: "portal",
                                case_id: None,
                                outcome: "ok".into(),
                                detail: "{}".into(),
                            }],
                            ..Default::default()
                        };
                        if grouped {
                            state.store.commit(commit).await?;
                        } else {
                            state.store.commit_alone(commit).await?;
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    anyhow::Ok(())
                }));
            }
            for task in tasks {
                task.await??;
            }
            rates.push(done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64());
        }
        println!(
            "store commit ({durability}): p50 {:.0} µs, p99 {:.0} µs alone; with {CONCURRENCY} committers {:.0} commits/s grouped, {:.0} one transaction each",
            micros(percentile(&one, 0.5)),
            micros(percentile(&one, 0.99)),
            rates[0],
            rates[1]
        );
    }

    // ---- memory per loaded panel ----
    let component = app
        .runtime()
        .compile_file(std::path::Path::new(guests::AAP_H2H))?;
    let context = || -> Result<_> {
        let mut panel = config.panels["A03"].clone();
        panel.settings.insert("base-url".into(), aap.base_url());
        Ok(panel)
    };
    let before = rss_kib();
    let mut extra = Vec::new();
    for i in 0..20 {
        let panel = context()?;
        let ctx = panelgate::runtime::PanelContext {
            id: format!("extra-{i}"),
            adapter: "aap-h2h".into(),
            settings: panel.settings.clone(),
            credentials: Default::default(),
            allowed_hosts: vec![],
            client: reqwest::Client::new(),
            memory_bytes: 64 << 20,
            operation_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(25),
            max_response_bytes: 10 << 20,
            max_log_bytes: 65536,
            redactions: vec![],
            breaker: Arc::new(panelgate::capabilities::breaker::Breaker::new(0, Duration::ZERO)),
            known_good: Default::default(),
        };
        extra.push(
            panelgate::runtime::WasmAdapter::load(app.runtime(), &component, Arc::new(ctx), 64)
                .await
                .map_err(anyhow::Error::from)?,
        );
    }
    let per_panel = (rss_kib().saturating_sub(before)) as f64 / 20.0;
    println!(
        "memory: {:.0} KiB per additional loaded panel (RSS over 20 panels); host with 2 panels {} KiB over the bare process",
        per_panel,
        loaded.unwrap_or_default()
    );
    drop(extra);

    // ---- direct vs through panelgate ----
    let client = reqwest::Client::new();
    let aap_url = aap.base_url();
    let aagi_url = aagi.base_url();
    let mut rows = Vec::new();

    // AAP quote.
    let host_call = |host: &String, path: &str, body: Value, loan_pointer: Option<&'static str>| {
        portal_call(&client, format!("{host}{path}"), body, loan_pointer)
    };
    let body = examples("A03", "quote")?;
    let direct = direct_aap_quote(&client, &aap_url);
    let relay_url = relay(direct.clone()).await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/A03/quotes", body.clone(), None)),
    );
    rows.push(measure("AAP quote", paths).await?);

    // AAP accept (automatic cover): a new loan each time, as the panel refuses duplicates.
    let direct_aap_accept = {
        let (client, url) = (client.clone(), aap_url.clone());
        move |i: u64| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let application = sdk::Application {
                    case_id: "bench".into(),
                    mode: sdk::AcceptanceMode::Issue,
                    product: Some("01".into()),
                    plan: None,
                    quote_reference: None,
                    start_date: None,
                    end_date: None,
                    proposal_date: None,
                    frequency: None,
                    sum_insured: None,
                    premium: Some(sdk::Money {
                        amount: "150000".into(),
                        currency: "IDR".into(),
                    }),
                    payment: None,
                    parties: vec![aap_person()],
                    interest: sdk::InsuredInterest::CreditLife(aap_loan(&format!("BENCH-D-{i}"))),
                    coverages: vec![],
                    consents: vec![],
                    digital_policy: None,
                    channel: None,
                    extensions: None,
                    option_ids: Vec::new(),
                    start_time: None,
                    questionnaire: Vec::new(),
                    renewal_of: None,
                };
                let wire = aap_h2h::mapping::acceptance_request(&application)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let body = aap_post(&client, &url, "akseptasi/registrasi", &wire).await?;
                let parsed: aap_h2h::partner::PolicyResponse = serde_json::from_slice(body.as_ref())?;
                aap_h2h::mapping::issued(&wire, parsed).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("A03", "accept-cac")?;
    let direct = path(direct_aap_accept);
    let relay_url = relay(direct.clone()).await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(hosts.iter().map(|h| {
        host_call(
            h,
            "/v1/panels/A03/policies",
            body.clone(),
            Some("/interest/credit_life/account"),
        )
    }));
    rows.push(measure("AAP accept", paths).await?);

    // AAGI quote and accept: the canonical examples, mapped natively for the direct path.
    let aagi_quote = aagi_quote_sdk();
    let direct_aagi_quote = {
        let (client, url, request) = (client.clone(), aagi_url.clone(), aagi_quote.clone());
        move |_: u64| {
            let (client, url, request) = (client.clone(), url.clone(), request.clone());
            async move {
                let wire =
                    aagi_motor::mapping::quick_quote(&request).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let response = client
                    .post(format!("{url}/v1/motor/quickquotes"))
                    .bearer_auth("bench-token")
                    .json(&wire)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "AAGI answered {}",
                    response.status()
                );
                let parsed: aagi_motor::partner::QuickQuote =
                    serde_json::from_slice(&response.bytes().await?)?;
                aagi_motor::mapping::quotation(parsed).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("aagi-motor", "quote")?;
    let direct = path(direct_aagi_quote);
    let relay_url = relay(direct.clone()).await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/aagi-motor/quotes", body.clone(), None)),
    );
    rows.push(measure("AAGI quote", paths).await?);

    let aagi_application = aagi_application_sdk(aagi_quote);
    let direct_aagi_accept = {
        let (client, url, application) = (client.clone(), aagi_url.clone(), aagi_application.clone());
        move |_: u64| {
            let (client, url, application) = (client.clone(), url.clone(), application.clone());
            async move {
                let wire =
                    aagi_motor::mapping::contract(&application).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let response = client
                    .post(format!("{url}/v1/motor/contracts"))
                    .bearer_auth("bench-token")
                    .json(&wire)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "AAGI answered {}: {}",
                    response.status(),
                    response.text().await?
                );
                let parsed: aagi_motor::partner::ContractInfo =
                    serde_json::from_slice(&response.bytes().await?)?;
                aagi_motor::mapping::acceptance(parsed, application.mode)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("aagi-motor", "accept")?;
    let direct = path(direct_aagi_accept);
    let relay_url = relay(direct.clone()).await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/aagi-motor/policies", body.clone(), None)),
    );
    rows.push(measure("AAGI accept", paths).await?);

    let in_flight = memory_in_flight(host_call(
        &hosts[0],
        "/v1/panels/A03/quotes",
        examples("A03", "quote")?,
        None,
    ))
    .await?;
    println!(
        "memory per request in flight: {in_flight:.0} KiB (peak RSS with {CONCURRENCY} host quotes in flight, over idle)"
    );
    println!(
        "\nlatency: {LATENCY_SAMPLES} requests per path, one at a time, the paths alternating; throughput: {CONCURRENCY} callers for {}s per path",
        SATURATION.as_secs()
    );
    print_rows(&rows);
    low_load(&aap_url, &hosts, &apps, 1000).await?;
    Ok(())
}

/// The direct path's AAP quote: the adapter's mapping, natively, and one partner exchange.
fn direct_aap_quote(client: &reqwest::Client, aap_url: &str) -> Path {
    let request = sdk::QuoteRequest {
        product: Some("01".into()),
        plan: None,
        binding: false,
        start_date: None,
        end_date: None,
        frequency: None,
        sum_insured: Some(sdk::Money {
            amount: "15000000".into(),
            currency: "IDR".into(),
        }),
        parties: vec![aap_person()],
        interest: sdk::InsuredInterest::CreditLife(aap_loan("Q")),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    };
    let (client, url) = (client.clone(), aap_url.to_string());
    path(move |_: u64| {
        let (client, url, request) = (client.clone(), url.clone(), request.clone());
        async move {
            let wire = aap_h2h::mapping::premium_request(&request).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let body = aap_post(&client, &url, "get-rate-premi-panel", &wire).await?;
            let parsed: aap_h2h::partner::PremiumResponse = serde_json::from_slice(body.as_ref())?;
            let _ = aap_h2h::mapping::quotation(parsed, request.product.clone());
            anyhow::Ok(())
        }
    })
}

/// The direct path's exchange with the AAP simulator: `wire` POSTed to `endpoint` with the
/// panel's credentials, the answer checked as the adapter checks it; its body.
async fn aap_post(
    client: &reqwest::Client,
    url: &str,
    endpoint: &str,
    wire: &impl serde::Serialize,
) -> Result<impl AsRef<[u8]>> {
    let response = client
        .post(format!("{url}/{endpoint}"))
        .basic_auth("bench", Some("bench-secret"))
        .json(wire)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?;
    aap_h2h::mapping::check_response(status, &body).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(body)
}

/// Sums (in seconds) and counts of the histograms a host keeps for its A03 quotes: enough for
/// the mean of each part of a quote's time.
#[derive(Clone, Copy, Default)]
struct Timings {
    request: (f64, f64),
    adapter: (f64, f64),
    partner: (f64, f64),
    commit: (f64, f64),
}

impl Timings {
    /// Read from the host's `/metrics` text, as Prometheus would.
    fn of(app: &panelgate::App) -> Timings {
        Timings::read(&app.runtime().metrics.encode())
    }

    /// Read from `/metrics` text.
    fn read(text: &str) -> Timings {
        let mut t = Timings::default();
        for line in text.lines() {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let (name, slot) = match (name.strip_suffix("_sum"), name.strip_suffix("_count")) {
                (Some(name), _) => (name, 0),
                (_, Some(name)) => (name, 1),
                _ => continue,
            };
            let a03 = labels.contains(r#"panel="A03""#);
            let quote = a03 && labels.contains(r#"operation="quote""#);
            let part = match name {
                "panelgate_request_duration_seconds" if quote => &mut t.request,
                "panelgate_adapter_call_duration_seconds" if quote => &mut t.adapter,
                "panelgate_partner_request_duration_seconds" if a03 => &mut t.partner,
                "panelgate_store_commit_duration_seconds" => &mut t.commit,
                _ => continue,
            };
            if slot == 0 {
                part.0 += value;
            } else {
                part.1 += value;
            }
        }
        t
    }

    /// The mean of each part, in µs, over what was observed since `before`.
    fn means_since(&self, before: &Timings) -> [f64; 4] {
        // No observation in the window: no mean (printed as NaN), rather than a false 0.
        let mean = |now: (f64, f64), then: (f64, f64)| match now.1 - then.1 {
            0.0 => f64::NAN,
            count => (now.0 - then.0) * 1e6 / count,
        };
        [
            mean(self.request, before.request),
            mean(self.adapter, before.adapter),
            mean(self.partner, before.partner),
            mean(self.commit, before.commit),
        ]
    }
}

/// AAP quotes one at a time, the direct path, the relay and the hosts on both SQLite
/// durabilities alternating request by request: their distributions, the latency each adds to
/// the direct path, and where a host quote's time goes, from the host's own histograms
/// (`/metrics`).
async fn low_load(
    aap_url: &str,
    hosts: &[String],
    apps: &[(panelgate::App, panelgate::config::Config)],
    count: usize,
) -> Result<()> {
    const LABELS: [&str; 4] = ["direct", "relay", "SQLite, full", "SQLite, normal"];
    let hosts_and_apps = hosts.iter().zip(apps).take(2);
    let client = reqwest::Client::new();
    let direct = direct_aap_quote(&client, aap_url);
    let body = examples("A03", "quote")?;
    let relay_url = relay(direct.clone()).await?;
    let mut paths = vec![direct, portal_call(&client, relay_url, body.clone(), None)];
    for (host, _) in hosts_and_apps.clone() {
        let url = format!("{host}/v1/panels/A03/quotes");
        paths.push(portal_call(&client, url, body.clone(), None));
    }
    // A warm-up that opens the connections and the first instances.
    for path in &paths {
        for i in 0..50 {
            path(i).await?;
        }
    }
    let before: Vec<Timings> = hosts_and_apps
        .clone()
        .map(|(_, (app, _))| Timings::of(app))
        .collect();
    let samples = latencies(&paths, count).await?;
    let means: Vec<[f64; 4]> = hosts_and_apps
        .zip(&before)
        .map(|((_, (app, _)), before)| Timings::of(app).means_since(before))
        .collect();

    println!("\n## AAP quotes one at a time ({count} per path, alternating request by request)\n");
    distributions(&LABELS, &samples);

    // Means, so that the parts add up to the whole.
    let mean = |p: usize| micros(samples[p].iter().sum::<Duration>()) / samples[p].len() as f64;
    println!(
        "\nWhere a host quote's time goes: means in µs over the same quotes, from the host's own `/metrics`.\n"
    );
    println!("| part | {} | {} |", LABELS[2], LABELS[3]);
    println!("| --- | ---: | ---: |");
    let row = |label: &str, value: &dyn Fn(usize) -> f64| {
        println!("| {label} | {:.0} | {:.0} |", value(0), value(1));
    };
    row("the direct path, for comparison", &|_| mean(0));
    row("the relay, for comparison", &|_| mean(1));
    row("seen by the portal", &|h| mean(h + 2));
    row(
        "outside the operation: the portal's hop both ways, the body's parse, sending the answer",
        &|h| mean(h + 2) - means[h][0],
    );
    row("the partner exchange, as the host's HTTP client sees it", &|h| {
        means[h][2]
    });
    row(
        "the sandbox around it: instantiation, the adapter's code, the teardown",
        &|h| means[h][1] - means[h][2],
    );
    row("the commit, the group commit's wait included", &|h| means[h][3]);
    row(
        "the rest of the operation: journal entries, the answer's JSON, the log line, the metrics",
        &|h| means[h][0] - means[h][1] - means[h][3],
    );

    // Each path alone: how often the process's threads park per quote, and which. On this
    // machine a parked thread's CPU may halt, and a hand-off to a parked thread waits for its
    // wake-up.
    const ALONE: u64 = 500;
    println!(
        "\nEach path alone, {ALONE} quotes one at a time: the process's context switches per quote, in all and by thread\n"
    );
    println!("| path | mean µs | context switches per quote | by thread |");
    println!("| --- | ---: | ---: | --- |");
    for (label, path) in LABELS.iter().zip(&paths) {
        let (before, started) = (context_switches(), Instant::now());
        for i in 0..ALONE {
            path(1_000_000 + i).await?;
        }
        let mean = micros(started.elapsed()) / ALONE as f64;
        let (Some(before), Some(after)) = (before, context_switches()) else {
            println!("| {label} | {mean:.0} | n/a | no /proc |");
            continue;
        };
        let mut threads: Vec<(f64, String)> = switches_by_name(&before, &after)
            .into_iter()
            .map(|(name, n)| (n as f64 / ALONE as f64, name))
            .collect();
        let all: f64 = threads.iter().map(|(n, _)| n).sum();
        threads.retain(|(n, _)| *n >= 0.05);
        threads.sort_by(|a, b| b.0.total_cmp(&a.0));
        let by_thread: Vec<String> = threads.iter().map(|(n, name)| format!("{name} {n:.1}")).collect();
        println!("| {label} | {mean:.0} | {all:.1} | {} |", by_thread.join(", "));
    }
    moderate_load(&paths, &LABELS).await
}

/// A table of each path's latencies, `samples` sorted and the direct path's first: how many,
/// p50, p90, p99, the maximum, and what each path adds to the direct path at p50 and p99.
fn distributions(labels: &[&str], samples: &[Vec<Duration>]) {
    println!("| path | quotes | p50 µs | p90 µs | p99 µs | max µs | added p50 µs | added p99 µs |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let direct = &samples[0];
    for (label, lat) in labels.iter().zip(samples) {
        let p = |q| micros(percentile(lat, q));
        let added = |q| p(q) - micros(percentile(direct, q));
        println!(
            "| {label} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            lat.len(),
            p(0.5),
            p(0.9),
            p(0.99),
            p(1.0),
            added(0.5),
            added(0.99),
        );
    }
}

/// The rates [`moderate_load`] offers, as quotes sent every so many milliseconds: 500, 1,000
/// and 2,000 a second, from under a tenth to about a third of what a host serves at saturation
/// here.
const MODERATE_RATES: [(usize, u64); 3] = [(1, 2), (1, 1), (2, 1)];

/// The issue's "moderate load": AAP quotes sent at fixed rates whether or not the earlier ones
/// have been answered (an open loop: a slow answer delays no later send, and a connection
/// the portal's pool lacks is opened), each path alone for 1 s of ticks in turn, over two
/// rounds. A quote's latency runs from its issue (the task that sends it spawned) to its
/// answer, its wait for a worker included. A generator that falls behind its clock is not in
/// the latencies: it shows as a round that took longer than 1 s to send, printed under the
/// table.
async fn moderate_load(paths: &[Path], labels: &[&str]) -> Result<()> {
    const ROUNDS: usize = 2;
    const PERIOD: Duration = Duration::from_secs(1);
    let mut n = 2_000_000;
    for (quotes, every_ms) in MODERATE_RATES {
        let mut samples = vec![Vec::new(); paths.len()];
        // The longest a round took to send its quotes: over the period, the rate did not hold.
        let mut sending = vec![Duration::ZERO; paths.len()];
        for _ in 0..ROUNDS {
            for (p, path) in paths.iter().enumerate() {
                let mut sent = tokio::task::JoinSet::new();
                let mut tick = tokio::time::interval(Duration::from_millis(every_ms));
                // A late tick sends its quotes at once: the rate holds over the period, and a
                // busy machine gets its arrivals in bursts, as a real portal's would come.
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let started = Instant::now();
                for _ in 0..PERIOD.as_millis() as u64 / every_ms {
                    tick.tick().await;
                    for _ in 0..quotes {
                        let (call, issued) = (path(n), Instant::now());
                        n += 1;
                        sent.spawn(async move { call.await.map(|()| issued.elapsed()) });
                    }
                }
                sending[p] = sending[p].max(started.elapsed());
                while let Some(answered) = sent.join_next().await {
                    samples[p].push(answered??);
                }
            }
        }
        samples.iter_mut().for_each(|s| s.sort());
        println!(
            "\n## AAP quotes at {} a second (an open loop, each path alone for {PERIOD:?} in turn, {ROUNDS} rounds)\n",
            quotes as u64 * 1000 / every_ms
        );
        distributions(labels, &samples);
        let sending: Vec<String> = labels
            .iter()
            .zip(&sending)
            .map(|(label, took)| format!("{label} {:.2} s", took.as_secs_f64()))
            .collect();
        println!(
            "\nThe longest a round took to send its quotes ({PERIOD:?} when the rate held): {}",
            sending.join(", ")
        );
    }
    Ok(())
}

/// The floor of any host: an HTTP server on loopback that takes the portal's JSON body, parses
/// it, makes the direct path's call (native mapping, one partner exchange) and answers JSON.
/// What panelgate adds over this is the sandbox, the store, and its checks.
async fn relay(direct: Path) -> Result<String> {
    use axum::extract::State;
    let counter = Arc::new(AtomicU64::new(50_000_000));
    let router = axum::Router::new()
        .route(
            "/relay",
            axum::routing::post(
                |State((direct, counter)): State<(Path, Arc<AtomicU64>)>,
                 axum::Json(body): axum::Json<Value>| {
                    async move {
                        anyhow::ensure!(body.is_object(), "not a JSON object");
                        direct(counter.fetch_add(1, Ordering::Relaxed)).await?;
                        anyhow::Ok(())
                    }
                    .map(|done| match done {
                        Ok(()) => (axum::http::StatusCode::OK, axum::Json(json!({ "result": "ok" }))),
                        Err(e) => (
                            axum::http::StatusCode::BAD_GATEWAY,
                            axum::Json(json!({ "error": e.to_string() })),
                        ),
                    })
                },
            ),
        )
        .with_state((direct, counter));
    // Its listener bound as the host's is.
    let listener = panelgate::listen("127.0.0.1:0").await?;
    let url = format!("http://{}/relay", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// A new database `panelgate_bench` on the PostgreSQL server of `PANELGATE_BENCH_POSTGRES`
/// (default: the local one), replacing the last run's.
async fn fresh_postgres() -> Result<String> {
    use sqlx::Connection as _;
    let server = std::env::var("PANELGATE_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .with_context(|| format!("PostgreSQL at {server}"))?;
    sqlx::query("DROP DATABASE IF EXISTS panelgate_bench WITH (FORCE)")
        .execute(&mut conn)
        .await?;
    sqlx::query("CREATE DATABASE panelgate_bench")
        .execute(&mut conn)
        .await?;
    let (base, _) = server.rsplit_once('/').context("a database in the URL")?;
    Ok(format!("{base}/panelgate_bench"))
}

/// `App::start` on `./dev demo`'s config (every demo panel), with a fresh store and compile
/// cache (cold), then restarted on the same store and cache (warm), three times.
async fn startup(dir: &std::path::Path) -> Result<()> {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/demo.toml");
    let mut config = panelgate::config::Config::load(&demo)?;
    config.store.url = format!("sqlite://{}", dir.join("startup.db").display());
    config.sandbox.cache_dir = Some(dir.join("startup-cache"));
    let t = Instant::now();
    let app = panelgate::App::start(&config).await?;
    let cold = t.elapsed();
    let panels = app.state.panels().len();
    drop(app);
    // wasmtime writes cache entries in the background: give it a moment.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut warm = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let app = panelgate::App::start(&config).await?;
        warm.push(t.elapsed());
        drop(app);
    }
    warm.sort();
    println!(
        "\nstart-up with the {panels} demo panels: cold {:.2} s; restart with a warm cache {:.2}–{:.2} s",
        cold.as_secs_f64(),
        warm[0].as_secs_f64(),
        warm[warm.len() - 1].as_secs_f64()
    );
    Ok(())
}

fn aagi_quote_sdk() -> sdk::QuoteRequest {
    sdk::QuoteRequest {
        product: Some("VMI".into()),
        plan: Some("VMI1".into()),
        binding: false,
        start_date: Some("2022-07-23".into()),
        end_date: Some("2023-07-23".into()),
        frequency: None,
        sum_insured: None,
        parties: vec![],
        interest: sdk::InsuredInterest::Motor(sdk::Vehicle {
            make: "39".into(),
            model: Some("1597".into()),
            year: Some(2022),
            usage: "110".into(),
            vin: Some("KNDJA723515687177".into()),
            engine_number: Some("52WVC10337".into()),
            colour: Some("7".into()),
            seats: None,
            registration: Some(sdk::VehicleRegistration {
                number: Some("กข1234".into()),
                region: Some("0".into()),
                kind: Some(sdk::RegistrationKind::General),
                country: Some("THA".into()),
            }),
            garage: Some(sdk::GarageKind::Company),
            market_value: None,
            accessories: Vec::new(),
            new_vehicle: None,
            mileage_km: None,
        }),
        coverages: vec![],
        channel: None,
        extensions: None,
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

fn aagi_application_sdk(quote: sdk::QuoteRequest) -> sdk::Application {
    let address = |kind, line: &str| sdk::Address {
        kind,
        lines: vec![line.into()],
        sub_district: Some("3210".into()),
        district: Some("1".into()),
        city: None,
        province: Some("24".into()),
        postal_code: Some("96000".into()),
        country: None,
    };
    let person = sdk::Party {
        role: sdk::PartyRole::Insured,
        detail: sdk::PartyDetail::Person(sdk::Person {
            full_name: "พอเพียง ไชโย".into(),
            title: Some("ร.ต.อ.".into()),
            given_name: Some("พอเพียง".into()),
            middle_name: None,
            family_name: Some("ไชโย".into()),
            second_family_name: None,
            birth_date: Some("1988-12-25".into()),
            birth_place: None,
            gender: Some(sdk::Gender::Male),
            nationality: Some("TH".into()),
            marital_status: None,
            occupation: Some("99".into()),
            education: None,
            mother_maiden_name: None,
            identities: vec![sdk::Identity {
                kind: sdk::IdentityKind::NationalId,
                number: "4254580668830".into(),
                issuing_country: None,
            }],
            addresses: vec![
                address(sdk::AddressKind::Registered, "No. 9 G Tower Rama 9, 10th Floor"),
                address(sdk::AddressKind::Residence, "No. 10 G Tower Rama 9, 10th Floor"),
            ],
            email: Some("customer@example.co.th".into()),
            phones: vec![sdk::Phone {
                kind: sdk::PhoneKind::Mobile,
                number: "0820509431".into(),
                country_code: None,
                area_code: None,
            }],
        }),
        relationship: None,
        share_percent: None,
    };
    let consent = |kind, accepted| sdk::Consent {
        kind,
        accepted,
        date: Some("2022-06-17".into()),
    };
    sdk::Application {
        case_id: "bench".into(),
        mode: sdk::AcceptanceMode::Issue,
        product: quote.product,
        plan: quote.plan,
        quote_reference: None,
        start_date: Some("2022-06-17".into()),
        end_date: Some("2023-06-17".into()),
        proposal_date: None,
        frequency: None,
        sum_insured: None,
        premium: Some(sdk::Money {
            amount: "20000.44".into(),
            currency: "THB".into(),
        }),
        payment: None,
        parties: vec![person],
        interest: quote.interest,
        coverages: vec![],
        consents: vec![
            consent(sdk::ConsentKind::Information, true),
            consent(sdk::ConsentKind::SanctionScreening, true),
            consent(sdk::ConsentKind::Marketing, false),
        ],
        digital_policy: Some(true),
        channel: None,
        extensions: None,
        option_ids: Vec::new(),
        start_time: None,
        questionnaire: Vec::new(),
        renewal_of: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panelgate::metrics::{Metrics, OperationLabels};

    /// A named thread that parks five times shows at least five switches under its own name.
    #[test]
    fn context_switches_are_counted_by_thread() {
        let (started, ready) = std::sync::mpsc::channel::<()>();
        let (parked, go) = std::sync::mpsc::channel::<()>();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-parker".into())
            .spawn(move || {
                started.send(()).unwrap();
                go.recv().unwrap();
                for _ in 0..5 {
                    std::thread::sleep(Duration::from_millis(2));
                }
                done.send(()).unwrap();
                go.recv().unwrap();
            })
            .unwrap();
        // Named by now: the name is set before the thread runs its closure.
        ready.recv().unwrap();
        let before = context_switches().expect("/proc");
        parked.send(()).unwrap();
        finished.recv().unwrap();
        let after = context_switches().expect("/proc");
        parked.send(()).unwrap();
        thread.join().unwrap();
        let counted = switches_by_name(&before, &after);
        let parker = counted.get("bench-parker").copied().unwrap_or(0);
        assert!(parker >= 5, "{parker} switches counted for the thread");
    }

    /// The split reads the series the host writes: a renamed metric or label would leave it
    /// without an observation (NaN), and this fails.
    #[test]
    fn timings_read_the_series_a_host_writes() {
        let metrics = Metrics::new(1);
        let quote = |panel: &str, operation: &str| OperationLabels {
            panel: panel.into(),
            operation: operation.into(),
            adapter: "aap-h2h@1.0.0".into(),
        };
        let ms = |n: u64| Duration::from_millis(n);
        let before = Timings::read(&metrics.encode());
        metrics.request(&quote("A03", "quote"), 200, None, ms(10));
        metrics.adapter_call(&quote("A03", "quote"), ms(6));
        metrics.commit_duration().observe(0.003);
        let exchange: panelgate::runtime::Exchange = serde_json::from_value(json!({
            "method": "POST", "url": "http://partner/rate", "request_headers": [],
            "request_body": "", "credential": null, "status": 200, "response_body": "",
            "error": null, "duration_ms": 4,
        }))
        .unwrap();
        let record = panelgate::adapter::CallRecord {
            exchanges: vec![panelgate::runtime::Exchange {
                elapsed: ms(4),
                ..exchange
            }],
            ..Default::default()
        };
        metrics.call(
            "A03",
            "aap-h2h@1.0.0",
            &Err(panelgate::adapter::CallError::Deadline(1)),
            &record,
            Default::default(),
        );
        // Other panels and operations are not A03's quotes.
        metrics.request(&quote("B03", "quote"), 200, None, ms(100));
        metrics.adapter_call(&quote("A03", "accept"), ms(100));

        let means = Timings::read(&metrics.encode()).means_since(&before);
        let expected = [10_000.0, 6_000.0, 4_000.0, 3_000.0];
        for (got, want) in means.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{means:?} against {expected:?}");
        }
        assert!(Timings::read("").means_since(&Timings::default())[0].is_nan());
    }
}
