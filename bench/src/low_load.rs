//! AAP quotes at low and moderate load: one at a time, the paths alternating (distributions,
//! where a host quote's time goes, thread hand-offs), and in an open loop at fixed rates.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::common::*;
use crate::partners::{direct_aap_quote, examples};
use crate::relay::relay;

/// Sums (in seconds) and counts of the histograms a host keeps for its A03 quotes: enough for
/// the mean of each part of a quote's time.
#[derive(Clone, Copy, Default)]
pub(crate) struct Timings {
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
pub(crate) async fn low_load(
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
    let relay_url = relay(direct.clone(), "127.0.0.1:0").await?;
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
    // A quote is read-only: it answers once its journal entries are queued, and its commit
    // runs after the answer, outside the quote's time.
    row(
        "the commit, after the answer (not in the quote's time): the read-only window",
        &|h| means[h][3],
    );
    row(
        "the rest of the operation: journal entries, the answer's JSON, the log line, the metrics",
        &|h| means[h][0] - means[h][1],
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
    moderate_load(&paths, &LABELS, apps).await
}

/// A table of each path's latencies, `samples` sorted and the direct path's first: how many,
/// p50, p90, p99, the maximum, and what each path adds to the direct path at p50 and p99.
pub(crate) fn distributions(labels: &[&str], samples: &[Vec<Duration>]) {
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

/// The rates [`moderate_load`] offers, as quotes sent every so many milliseconds: 500, 1,000,
/// 2,000 and 4,000 a second, from under a tenth to about two thirds of what a host serves at
/// saturation here.
pub(crate) const MODERATE_RATES: [(usize, u64); 4] = [(1, 2), (1, 1), (2, 1), (4, 1)];

/// The issue's "moderate load": AAP quotes sent at fixed rates whether or not the earlier ones
/// have been answered (an open loop: a slow answer delays no later send, and a connection
/// the portal's pool lacks is opened), each path alone for 1 s of ticks in turn, over two
/// rounds. A quote's latency runs from its issue (the task that sends it spawned) to its
/// answer, its wait for a worker included. A generator that falls behind its clock is not in
/// the latencies: it shows as a round that took longer than 1 s to send, printed under the
/// table.
pub(crate) async fn moderate_load(
    paths: &[Path],
    labels: &[&str],
    apps: &[(panelgate::App, panelgate::config::Config)],
) -> Result<()> {
    const ROUNDS: usize = 2;
    const PERIOD: Duration = Duration::from_secs(1);
    let mut n = 2_000_000;
    for (quotes, every_ms) in MODERATE_RATES {
        let before: Vec<Timings> = apps.iter().take(2).map(|(app, _)| Timings::of(app)).collect();
        let mut samples = vec![Vec::new(); paths.len()];
        let mut failed = vec![0u64; paths.len()];
        let mut first_failure: Vec<Option<String>> = vec![None; paths.len()];
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
                    // A failure past what a path can take is counted, not the end of the run.
                    match answered? {
                        Ok(took) => samples[p].push(took),
                        Err(e) => {
                            failed[p] += 1;
                            first_failure[p].get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
            }
        }
        samples.iter_mut().for_each(|s| s.sort());
        for ((label, failed), first) in labels.iter().zip(&failed).zip(&first_failure) {
            if let Some(first) = first {
                println!("\n({label}: {failed} quotes failed at this rate; the first: {first})");
            }
        }
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
        // A read-only quote answers before its commit: the commit's time (its wait in the group
        // commit's queue and its transaction) is the window in which a crash loses its record.
        let windows: Vec<String> = apps
            .iter()
            .zip(&before)
            .zip(&labels[2..])
            .map(|(((app, _), before), label)| {
                format!("{label} {:.0} µs", Timings::of(app).means_since(before)[3])
            })
            .collect();
        println!(
            "\nA quote's commit after its answer (the window a crash loses it in), mean: {}",
            windows.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use panelgate::metrics::{Metrics, OperationLabels};
    use serde_json::json;

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
