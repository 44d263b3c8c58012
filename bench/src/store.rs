//! The store: what one operation's commit costs (a portal entry and one exchange), alone and
//! with committers side by side, grouped and one transaction each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::common::*;

pub(crate) async fn commits(apps: &[(panelgate::App, panelgate::config::Config)]) -> Result<()> {
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
    Ok(())
}
