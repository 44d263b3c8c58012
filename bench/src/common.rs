//! What every scenario measures with: paths (one way of making a call), latencies one at a
//! time, throughput at saturation with the process's CPU, resident memory, context switches.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use panelgate::adapter::Call;
use serde_json::{Value, json};

pub(crate) const PORTAL: &str = "bench-portal";
pub(crate) const LATENCY_SAMPLES: usize = 400;
pub(crate) const SATURATION: Duration = Duration::from_secs(3);
pub(crate) const CONCURRENCY: usize = 16;

pub(crate) fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

pub(crate) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub(crate) type Outcome = std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send>>;
/// One way of making a call: the `u64` makes each call distinct where the partner needs it.
pub(crate) type Path = Arc<dyn Fn(u64) -> Outcome + Send + Sync>;

pub(crate) fn path<F, Fut>(f: F) -> Path
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// `count` requests per path, one at a time, alternating the paths request by request so all
/// see the same machine.
pub(crate) async fn latencies(paths: &[Path], count: usize) -> Result<Vec<Vec<Duration>>> {
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
pub(crate) fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Each live thread of the process, by its id: its name (as `/proc/self/task/*/comm` has it,
/// cut to 15 bytes) and its context switches so far, voluntary or not. Each is the thread
/// parking for want of work, or being put off its CPU. `None` where there is no `/proc`.
pub(crate) fn context_switches() -> Option<BTreeMap<u32, (String, u64)>> {
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
pub(crate) fn switches_by_name(
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
pub(crate) struct Saturation {
    pub(crate) rps: f64,
    pub(crate) cpu_per_request: Duration,
}

/// Requests per second with `CONCURRENCY` callers for `SATURATION`.
pub(crate) async fn throughput(call: Path, offset: u64) -> Result<Saturation> {
    throughput_for(call, offset, SATURATION).await
}

pub(crate) async fn throughput_for(call: Path, offset: u64, period: Duration) -> Result<Saturation> {
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
/// `loan_pointer`, that field of the body is made distinct per call. An accept (the one state
/// change the benchmark makes) carries an `Idempotency-Key` of its own, as the host requires.
pub(crate) fn portal_call(
    client: &reqwest::Client,
    url: String,
    body: Value,
    loan_pointer: Option<&'static str>,
) -> Path {
    let keyed = url.ends_with("/policies");
    let client = client.clone();
    path(move |i: u64| {
        let (client, url, mut body) = (client.clone(), url.clone(), body.clone());
        if let Some(pointer) = loan_pointer
            && let Some(slot) = body.pointer_mut(pointer)
        {
            *slot = json!(format!("BENCH-H-{i}"));
        }
        async move {
            let mut request = client.post(url).bearer_auth(PORTAL).json(&body);
            if keyed {
                request = request.header("Idempotency-Key", format!("bench-{i}"));
            }
            let response = request.send().await?;
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
pub(crate) fn adapter_quote(
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

pub(crate) struct Row {
    pub(crate) name: &'static str,
    /// direct, relay, host on SQLite (durability full, normal), host on PostgreSQL when there is
    /// one: latencies, and throughput with CPU per request.
    pub(crate) paths: Vec<(Vec<Duration>, Saturation)>,
}

pub(crate) async fn measure(name: &'static str, paths: Vec<Path>) -> Result<Row> {
    let lat = latencies(&paths, LATENCY_SAMPLES).await?;
    let mut out = Vec::new();
    for (p, (path, lat)) in paths.into_iter().zip(lat).enumerate() {
        out.push((lat, throughput(path, 10_000_000 * (p as u64 + 1)).await?));
    }
    Ok(Row { name, paths: out })
}

/// Resident memory per request in flight: the peak RSS while `CONCURRENCY` callers keep the
/// host busy, over the idle RSS, divided by the callers.
pub(crate) async fn memory_in_flight(path: Path) -> Result<f64> {
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

pub(crate) fn print_rows(rows: &[Row]) {
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

pub(crate) fn uuid_like() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
