//! A slow partner, as real ones are: an AAP quote answered after 200 ms, and after 2 s for one
//! request in a hundred. Thousands of portal connections, each sending its next quote once the
//! last is answered (a closed loop), first to the partner directly (the adapter's mapping done
//! natively), then through a host with the **default config** in a process of its own, so that
//! its resident memory is its own: the throughput ratio, the latency the host adds, its RSS at
//! rest, at peak and 10 s after the load, and what it refused (`503`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use panelgate_tests::guests;
use panelgate_tests::sim::aap::AapSimulator;
use serde_json::Value;

use crate::common::{PORTAL, micros, percentile};
use crate::partners::{aap_post, aap_quote_request, direct_aap_quote, examples};

/// The environment variable that makes the benchmark's process a host: the path of its config.
pub(crate) const HOST_ENV: &str = "PANELGATE_BENCH_HOST";
/// The environment variable that makes the benchmark's process a relay: `PARTNER_URL LISTEN`.
pub(crate) const RELAY_ENV: &str = "PANELGATE_BENCH_RELAY";
/// The partner's usual answer time, and its tail: one request in [`TAIL_EVERY`].
const DELAY: Duration = Duration::from_millis(200);
const TAIL: Duration = Duration::from_secs(2);
const TAIL_EVERY: u64 = 100;
/// Portal connections, each with one quote in flight at a time.
const CONNECTIONS: [usize; 2] = [1000, 5000];
/// Load before the measurement (connections opened, instances warm), the measurement itself,
/// and the rest after it before the host's RSS is read again.
const WARM_UP: Duration = Duration::from_secs(5);
const MEASURE: Duration = Duration::from_secs(10);
const REST: Duration = Duration::from_secs(10);

/// Raises this process's open-files limit to its hard limit: 5,000 portal connections and as
/// many to the partner, in the benchmark and in the host it starts (which inherits it).
pub(crate) fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.maximum.is_some() && limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            println!("(could not raise the open-files limit: {e})");
        }
    }
}

/// The host's side: `panelgate serve` with the config at `config`, logging to a file beside it.
pub(crate) async fn serve_host(config: &str) -> Result<()> {
    let config_path = std::path::Path::new(config);
    let log = config_path.with_extension("log");
    let _telemetry = panelgate::telemetry::Telemetry::init_writing_to(
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?,
    )?;
    let config = panelgate::config::Config::load(config_path)?;
    let app = panelgate::App::start(&config).await?;
    let listener = panelgate::listen(&config.server.listen).await?;
    panelgate::serve(listener, app.router(), &config.server, std::future::pending()).await?;
    Ok(())
}

/// The relay's side: the bare hop in front of the partner at `PARTNER_URL`, on `LISTEN`.
pub(crate) async fn serve_relay(spec: &str) -> Result<()> {
    let (partner, listen) = spec
        .split_once(' ')
        .with_context(|| format!("{RELAY_ENV}: `PARTNER_URL LISTEN`, not `{spec}`"))?;
    let client = reqwest::Client::new();
    crate::relay::relay(direct_aap_quote(&client, partner), listen).await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// The benchmark's binary re-run as a host or a relay (`env` says which), killed when dropped.
struct Process(std::process::Child);

impl Process {
    fn spawn(what: &str, env: (&str, String)) -> Result<Process> {
        let child = std::process::Command::new(std::env::current_exe()?)
            .env(env.0, env.1)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting the {what} process"))?;
        Ok(Process(child))
    }

    /// Waits until `ready` holds, failing if the process ends first or `within` passes.
    async fn wait_until<F, Fut>(&mut self, what: &str, within: Duration, ready: F) -> Result<()>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while !ready().await {
            if let Some(status) = self.0.try_wait()? {
                anyhow::bail!("the {what} process ended before it got ready ({status})");
            }
            anyhow::ensure!(Instant::now() < deadline, "the {what} never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The relay in a process of its own, as the host is, so that neither shares the load's
/// process (nor its open-files limit: 5,000 connections each way are 20,000 descriptors).
struct Relay {
    _process: Process,
    url: String,
}

impl Relay {
    async fn start(partner: &str) -> Result<Relay> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut process = Process::spawn("relay", (RELAY_ENV, format!("{partner} 127.0.0.1:{port}")))?;
        let listening = || async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() };
        process
            .wait_until("relay", Duration::from_secs(30), listening)
            .await?;
        Ok(Relay {
            _process: process,
            url: format!("http://127.0.0.1:{port}/relay"),
        })
    }
}

/// The slow partner: AAP's quote endpoint, strict enough to refuse what is not an AAP premium
/// request with its credentials, answering `answer` (the simulator's own answer to the same
/// request) after [`DELAY`], or [`TAIL`] for one request in [`TAIL_EVERY`]. Its URL.
async fn slow_partner(answer: Bytes) -> Result<String> {
    let count = Arc::new(AtomicU64::new(0));
    let router = axum::Router::new().route(
        "/get-rate-premi-panel",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (answer, count) = (answer.clone(), count.clone());
            async move {
                let basic = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Basic "));
                if !basic {
                    return (StatusCode::UNAUTHORIZED, Bytes::from_static(b"{}"));
                }
                let request: Option<serde_json::Map<String, Value>> = serde_json::from_slice(&body).ok();
                let complete = request.is_some_and(|o| {
                    [
                        "Tanggal_Lahir",
                        "Tanggal_Akad",
                        "Tenor",
                        "Nilai_Pertanggungan",
                        "Produk",
                        "NIK",
                    ]
                    .iter()
                    .all(|field| o.get(*field).is_some_and(|v| !v.is_null()))
                });
                if !complete {
                    return (StatusCode::BAD_REQUEST, Bytes::from_static(b"{}"));
                }
                let n = count.fetch_add(1, Ordering::Relaxed);
                let wait = if n % TAIL_EVERY == TAIL_EVERY - 1 {
                    TAIL
                } else {
                    DELAY
                };
                tokio::time::sleep(wait).await;
                (StatusCode::OK, answer)
            }
        }),
    );
    let listener = panelgate::listen("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// A host process serving panel `A03` against `partner`: the default config, and `sandbox`'s
/// lines in its `[sandbox]` table.
struct Host {
    process: Process,
    url: String,
}

impl Host {
    async fn start(
        dir: &std::path::Path,
        cache: &std::path::Path,
        partner: &str,
        name: &str,
        sandbox: &str,
    ) -> Result<Host> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = dir.join(format!("slow-host-{name}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "bench-admin" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
{sandbox}
[adapters.aap-h2h]
path = "{aap}"
[panels.A03]
adapter = "aap-h2h"
base_url = "{partner}"
settings = {{ line = "life" }}
[panels.A03.credentials.partner]
kind = "basic"
username = {{ value = "bench" }}
password = {{ value = "bench-secret" }}
[panels.A03.callback_auth]
kind = "basic"
username = {{ value = "cb" }}
password = {{ value = "cb-secret" }}
"#,
                db = dir.join(format!("slow-{name}.db")).display(),
                cache = cache.display(),
                aap = guests::AAP_H2H,
            ),
        )?;
        let mut process = Process::spawn("host", (HOST_ENV, config.display().to_string()))?;
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}");
        let ready = || {
            let request = client.get(format!("{url}/readyz")).send();
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        };
        // Its log is beside its config.
        process
            .wait_until("host", Duration::from_secs(180), ready)
            .await?;
        Ok(Host { process, url })
    }

    fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the pool's idle slots keep resident (`/metrics`), in KiB.
    async fn pool_idle_kib(&self) -> Result<u64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| l.contains("instance_pool_idle_resident_bytes{"))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
            .sum::<u64>()
            / 1024)
    }

    /// Sends 20 quotes, so that the host is warm; its RSS then, in KiB.
    async fn at_rest(&self, portal: &reqwest::Client, quote: &Value) -> Result<u64> {
        let url = format!("{}/v1/panels/A03/quotes", self.url);
        for _ in 0..20 {
            let status = portal
                .post(&url)
                .bearer_auth(PORTAL)
                .json(quote)
                .send()
                .await?
                .status();
            anyhow::ensure!(status.is_success(), "the host answered {status}");
        }
        Ok(rss_kib_of(self.pid()))
    }
}

/// A process's resident memory, in KiB.
fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A process's CPU time (user and system), from `/proc/PID/stat` in clock ticks of 10 ms.
fn cpu_of(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // The fields after the command's closing parenthesis; utime and stime are 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// One way to send a quote: its answer's status.
type SendQuote = Arc<dyn Fn() -> futures::future::BoxFuture<'static, Result<u16>> + Send + Sync>;

/// A quote POSTed to `url` with the portal's token: its answer's status.
fn portal_quote(portal: &reqwest::Client, url: String, quote: &Value) -> SendQuote {
    let (portal, quote) = (portal.clone(), quote.clone());
    Arc::new(move || {
        let (portal, url, quote) = (portal.clone(), url.clone(), quote.clone());
        Box::pin(async move {
            let response = portal.post(url).bearer_auth(PORTAL).json(&quote).send().await?;
            let status = response.status().as_u16();
            response.bytes().await?;
            Ok(status)
        })
    })
}

/// What a closed loop measured.
struct Load {
    /// Latencies of the quotes answered 2xx within the measurement, sorted.
    served: Vec<Duration>,
    /// Latencies of the quotes answered `503` within it, sorted.
    refused: Vec<Duration>,
    /// Any other answer or failure within it, with the first one's text.
    failed: u64,
    first_failure: Option<String>,
    rps: f64,
    /// The host's peak RSS within the measurement (KiB), and its CPU per quote answered.
    peak_kib: u64,
    cpu_per_quote: Option<Duration>,
}

/// `connections` callers, each sending its next quote once the last is answered, or
/// `back_off` after a `503` (as a portal honouring `Retry-After` would, sooner): [`WARM_UP`],
/// then [`MEASURE`]. With `host`, its RSS is sampled every 50 ms and its CPU read.
async fn closed_loop(
    send: SendQuote,
    connections: usize,
    host: Option<u32>,
    back_off: Duration,
) -> Result<Load> {
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (send, stop, measuring) = (send.clone(), stop.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let (mut served, mut refused) = (Vec::new(), Vec::new());
            let (mut failed, mut first_failure) = (0, None);
            while !stop.load(Ordering::Relaxed) {
                let counted = measuring.load(Ordering::Relaxed);
                let started = Instant::now();
                let answer = send().await;
                let took = started.elapsed();
                let counted = counted && measuring.load(Ordering::Relaxed);
                match answer {
                    Ok(status) if (200..300).contains(&status) => {
                        if counted {
                            served.push(took)
                        }
                    }
                    Ok(503) => {
                        if counted {
                            refused.push(took);
                        }
                        tokio::time::sleep(back_off).await;
                    }
                    Ok(status) => {
                        if counted {
                            failed += 1;
                            first_failure.get_or_insert(format!("answered {status}"));
                        }
                    }
                    Err(e) => {
                        if counted {
                            failed += 1;
                            first_failure.get_or_insert(format!("{e:#}"));
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (served, refused, failed, first_failure)
        }));
    }
    tokio::time::sleep(WARM_UP).await;
    let cpu_before = host.map(cpu_of);
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = host.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib_of(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let cpu_after = host.map(cpu_of);
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    stop.store(true, Ordering::Relaxed);
    let mut load = Load {
        served: Vec::new(),
        refused: Vec::new(),
        failed: 0,
        first_failure: None,
        rps: 0.0,
        peak_kib: peak.load(Ordering::Relaxed),
        cpu_per_quote: None,
    };
    for task in tasks {
        let (served, refused, failed, first_failure) = task.await?;
        load.served.extend(served);
        load.refused.extend(refused);
        load.failed += failed;
        if load.first_failure.is_none() {
            load.first_failure = first_failure;
        }
    }
    load.served.sort();
    load.refused.sort();
    load.rps = load.served.len() as f64 / elapsed.as_secs_f64();
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        load.cpu_per_quote = Some((after - before) / (load.served.len() as u32).max(1));
    }
    Ok(load)
}

fn ms(d: Duration) -> f64 {
    micros(d) / 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A path's row: what it served against `direct`'s, what it refused and failed; `memory` is
/// the host's (RSS at rest, at peak, 10 s after, and of that what idle pool slots held), in KiB.
fn row(connections: usize, label: &str, load: &Load, direct: &Load, memory: Option<[u64; 4]>) {
    let refused = match load.refused.len() {
        0 => "0".to_string(),
        r => format!("{r} ({:.1})", ms(*load.refused.last().unwrap_or(&Duration::ZERO))),
    };
    if load.served.is_empty() {
        println!(
            "| {connections} | {label} | 0 | | | | | | | {refused} | {} | | | | | |",
            load.failed
        );
        return;
    }
    let p = |q| ms(percentile(&load.served, q));
    let added = |q| {
        if label == "direct" || direct.served.is_empty() {
            "—".to_string()
        } else {
            format!("{:.1}", p(q) - ms(percentile(&direct.served, q)))
        }
    };
    let [rest, peak, after, pool] = memory.map_or(
        ["—".to_string(), "—".into(), "—".into(), "—".into()],
        |m| m.map(|kib| format!("{:.0}", mib(kib))),
    );
    println!(
        "| {connections} | {label} | {:.0} | {:.0}% | {:.1} | {:.1} | {:.1} | {} | {} | {refused} | {} | {} | {rest} | {peak} | {after} | {pool} |",
        load.rps,
        100.0 * load.rps / direct.rps.max(f64::MIN_POSITIVE),
        p(0.5),
        p(0.9),
        p(0.99),
        added(0.5),
        added(0.99),
        load.failed,
        load.cpu_per_quote
            .map_or("—".into(), |c| format!("{:.0}", micros(c))),
    );
}

fn first_failures(connections: usize, loads: &[(&str, &Load)]) {
    for (label, load) in loads {
        if let Some(failure) = &load.first_failure {
            println!(
                "\n({connections} connections, {label}: {} failed; the first: {failure})",
                load.failed
            );
        }
    }
}

/// The scenario: the slow partner, then for each count of connections the direct path, the
/// relay and a fresh host side by side; then a host past its capacity.
pub(crate) async fn run(cache: &std::path::Path, aap: &AapSimulator) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let client = reqwest::Client::new();
    // The partner's answer, as the strict simulator gives it for this request.
    let wire =
        aap_h2h::mapping::premium_request(&aap_quote_request()).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let aap_url = aap.base_url();
    let answer = aap_post(&client, &aap_url, "get-rate-premi-panel", &wire).await?;
    let partner = slow_partner(Bytes::copy_from_slice(answer.as_ref())).await?;
    let quote = examples("A03", "quote")?;

    println!(
        "\n## A slow partner: {} ms, {} s for one quote in {TAIL_EVERY} (closed loop, the host's default config)\n",
        DELAY.as_millis(),
        TAIL.as_secs()
    );
    println!(
        "Each connection sends its next AAP quote once the last is answered; {} s of warm-up, then {} s measured. The relay (a bare Rust hop, no sandbox, no store) and the host each run in a process of its own (the benchmark's binary, `App::start` and `serve` as `panelgate serve` runs them), so the RSS is the host's: at rest (started, 20 quotes served), at peak during the measurement, and {} s after the load stopped, with what the instance pool's idle slots kept resident of it then (`/metrics`). CPU: the host process's, per quote served.\n",
        WARM_UP.as_secs(),
        MEASURE.as_secs(),
        REST.as_secs()
    );
    let header = |first: &str| {
        println!(
            "| {first} | path | quotes/s | of direct | p50 ms | p90 ms | p99 ms | added p50 ms | added p99 ms | 503s (slowest ms) | failed | host CPU µs/quote | RSS MiB at rest | at peak | {} s after | idle pool slots |",
            REST.as_secs()
        );
        println!(
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
    };
    header("connections");
    let never = Duration::ZERO;
    // `PANELGATE_BENCH_CONNECTIONS=N,M`: other counts than [`CONNECTIONS`], and no more.
    let chosen: Option<Vec<usize>> = std::env::var("PANELGATE_BENCH_CONNECTIONS")
        .ok()
        .map(|s| s.split(',').map(str::parse).collect())
        .transpose()
        .context("PANELGATE_BENCH_CONNECTIONS: counts of connections, comma-separated")?;
    for connections in chosen.clone().unwrap_or(CONNECTIONS.to_vec()) {
        // Direct: a client of its own, as many connections as callers.
        let direct_client = reqwest::Client::new();
        let direct = direct_aap_quote(&direct_client, &partner);
        let send: SendQuote = Arc::new(move || {
            let call = direct(0);
            Box::pin(async move { call.await.map(|()| 200) })
        });
        let d = closed_loop(send, connections, None, never).await?;
        drop(direct_client);

        // The relay: the same direct call behind a bare HTTP hop, in a process of its own.
        let relay = Relay::start(&partner).await?;
        let portal = reqwest::Client::new();
        let r = closed_loop(
            portal_quote(&portal, relay.url.clone(), &quote),
            connections,
            None,
            never,
        )
        .await?;
        drop((portal, relay));

        let host = Host::start(dir.path(), cache, &partner, &connections.to_string(), "").await?;
        let portal = reqwest::Client::new();
        let rest = host.at_rest(&portal, &quote).await?;
        let url = format!("{}/v1/panels/A03/quotes", host.url);
        let h = closed_loop(
            portal_quote(&portal, url, &quote),
            connections,
            Some(host.pid()),
            never,
        )
        .await?;
        // The portal's connections close: what the host holds after is its own doing.
        drop(portal);
        tokio::time::sleep(REST).await;
        let after = rss_kib_of(host.pid());
        let pool = host.pool_idle_kib().await?;
        drop(host);

        row(connections, "direct", &d, &d, None);
        row(connections, "relay", &r, &d, None);
        row(
            connections,
            "panelgate",
            &h,
            &d,
            Some([rest, h.peak_kib, after, pool]),
        );
        first_failures(connections, &[("direct", &d), ("relay", &r), ("panelgate", &h)]);
    }
    if chosen.is_some() {
        return Ok(());
    }
    past_capacity(dir.path(), cache, &partner, &quote).await
}

/// Slots a panel has in [`past_capacity`], and the connections below and past them.
const CAPACITY: usize = 500;
const BELOW_AND_PAST: [usize; 2] = [400, 1000];
/// How long a refused connection waits before its next quote: as the host's `Retry-After: 1`
/// asks, and a storm of portals that wait only 20 ms.
const BACK_OFFS: [(Duration, &str); 2] = [
    (Duration::from_secs(1), "Retry-After (1 s)"),
    (Duration::from_millis(20), "20 ms"),
];

/// A host past its capacity: panel `A03` with [`CAPACITY`] slots and no queue (a partner that
/// allows that many calls at once, say), at [`BELOW_AND_PAST`] connections, a refused one
/// waiting as [`BACK_OFFS`] says before its next quote. What it served, how fast it refused
/// the rest.
async fn past_capacity(
    dir: &std::path::Path,
    cache: &std::path::Path,
    partner: &str,
    quote: &Value,
) -> Result<()> {
    println!(
        "\n## Past capacity: a panel with {CAPACITY} slots and no queue (`panel_concurrency = {CAPACITY}`, `panel_queue = 0`), the slow partner\n"
    );
    println!(
        "Below and past its slots. A connection refused (`503`) waits before its next quote: as `Retry-After` asks, or 20 ms (portals that ignore it). The 503s' latencies are the portal's, from send to answer; CPU is the host's per quote served, its refusals included.\n"
    );
    println!(
        "| refused wait | connections | quotes/s served | p50 ms | p99 ms | 503s/s | 503 p50 ms | 503 p99 ms | 503 max ms | failed | host CPU µs/quote |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let sandbox = format!("panel_concurrency = {CAPACITY}\npanel_queue = 0");
    let host = Host::start(dir, cache, partner, "capacity", &sandbox).await?;
    let portal = reqwest::Client::new();
    host.at_rest(&portal, quote).await?;
    let url = format!("{}/v1/panels/A03/quotes", host.url);
    for (back_off, label) in BACK_OFFS {
        for connections in BELOW_AND_PAST {
            let send = portal_quote(&portal, url.clone(), quote);
            let load = closed_loop(send, connections, Some(host.pid()), back_off).await?;
            let p = |v: &[Duration], q| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    ms(percentile(v, q))
                }
            };
            println!(
                "| {label} | {connections} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} |",
                load.rps,
                p(&load.served, 0.5),
                p(&load.served, 0.99),
                load.refused.len() as f64 / MEASURE.as_secs_f64(),
                p(&load.refused, 0.5),
                p(&load.refused, 0.99),
                p(&load.refused, 1.0),
                load.failed,
                load.cpu_per_quote
                    .map_or("—".into(), |c| format!("{:.0}", micros(c))),
            );
            first_failures(connections, &[("panelgate", &load)]);
        }
    }
    Ok(())
}
