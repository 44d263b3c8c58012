//! The runtime's own figures: compiling and loading adapters, instantiating and calling one,
//! and the adapter call with its partner exchange (no portal API, no store).

use std::time::{Duration, Instant};

use anyhow::Result;
use panelgate::adapter::Call;
use panelgate_tests::guests;

use crate::common::*;
use crate::partners::examples;

/// Each adapter's size, its compile time cold and its load time from the compiled cache.
pub(crate) async fn compile_and_load(cache: &std::path::Path) -> Result<()> {
    println!(
        "\n| adapter | size KiB | compile ms (cold) | load ms (compiled cache) |\n| --- | ---: | ---: | ---: |"
    );
    for (name, path) in [
        ("aap-h2h", guests::AAP_H2H),
        ("aagi-motor", guests::AAGI_MOTOR),
        ("deskcoll (Python)", guests::DESKCOLL),
    ]
    .into_iter()
    {
        let size = std::fs::metadata(path)?.len() / 1024;
        let cold_runtime =
            panelgate::runtime::Runtime::new(&panelgate::config::SandboxConfig::default(), 64)?;
        let t = Instant::now();
        cold_runtime.compile_file(std::path::Path::new(path))?;
        let cold = t.elapsed();
        let sandbox = panelgate::config::SandboxConfig {
            cache_dir: Some(cache.to_path_buf()),
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
    Ok(())
}

/// Instantiate + call with no network, and the adapter call with its partner exchange, one at a
/// time and at saturation.
pub(crate) async fn calls(app: &panelgate::App) -> Result<()> {
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

    Ok(())
}
