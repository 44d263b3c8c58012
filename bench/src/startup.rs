//! Start-up times, and the PostgreSQL database a run uses.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// A new database `panelgate_bench` on the PostgreSQL server of `PANELGATE_BENCH_POSTGRES`
/// (default: the local one), replacing the last run's.
pub(crate) async fn fresh_postgres() -> Result<String> {
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
pub(crate) async fn startup(dir: &std::path::Path) -> Result<()> {
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
