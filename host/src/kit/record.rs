//! `panelgate adapter record`: a panel's journaled operations turned into fixtures for
//! `panelgate adapter test`, so an adapter's next version is tested against what the partner
//! really answered. The journal keeps exchanges with secrets already redacted; a document's
//! bytes were journaled as their size and digest, and come back as that many zero bytes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::config::Config;
use crate::core::replay::recorded_call;
use crate::runtime::Exchange;

/// Writes `panel.json` and one fixture per recorded operation (the `last` most recent) into
/// `out`; returns the fixture files written. Operations journaled before results were kept are
/// skipped.
pub async fn record(config_file: &Path, panel: &str, last: u32, out: &Path) -> Result<Vec<PathBuf>> {
    let config = Config::load(config_file)?;
    let Some(panel_config) = config.panels.get(panel) else {
        bail!("{} has no panel `{panel}`", config_file.display());
    };
    if let Some(db) = config.store.sqlite_file()?
        && !db.exists()
    {
        bail!(
            "no store at {} (store.url in {})",
            db.display(),
            config_file.display()
        );
    }
    let store = crate::store::Store::open(&config.store.url()?, config.store.durability).await?;
    let recorded = store
        .recent_operations(panel, i64::from(last.clamp(1, 10_000)))
        .await?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let base = panel_config.base_url.trim_end_matches('/').to_string();
    let panel_fixture = json!({
        "base_url": base,
        "settings": panel_config.settings,
        "credentials": panel_config.credentials.keys().collect::<Vec<_>>(),
    });
    write(&out.join("panel.json"), &panel_fixture)?;
    let mut written = Vec::new();
    for (entry, partner) in recorded {
        let (Some(call), Some(result)) = (recorded_call(&entry), entry.detail.get("result")) else {
            continue;
        };
        let call = serde_json::to_value(&call)?;
        let exchanges: Vec<Value> = partner
            .iter()
            .filter_map(|row| serde_json::from_value::<Exchange>(row.detail["exchange"].clone()).ok())
            .map(|e| exchange(&base, &e))
            .collect();
        let fixture = json!({
            "description": format!("{} recorded {} by {}", entry.operation, entry.at, entry.detail["adapter"].as_str().unwrap_or("?")),
            "operation": call["operation"],
            "input": call["input"],
            "exchanges": exchanges,
            "expect": result,
        });
        let file = out.join(format!("{}-{}.json", entry.operation, entry.id));
        write(&file, &fixture)?;
        written.push(file);
    }
    Ok(written)
}

fn write(file: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))
}

/// JSON when the text is JSON; the text otherwise.
fn body(text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn exchange(base: &str, e: &Exchange) -> Value {
    let path = e.url.strip_prefix(base).unwrap_or(&e.url);
    let mut request = json!({ "method": e.method, "path": path });
    // A recorded body is matched as it was sent; headers are left unchecked (the host's and
    // the credential's are not the adapter's, and redacted values would never match).
    if !e.request_body.is_empty() {
        request["body"] = body(&e.request_body);
    }
    let mut response = json!({ "status": e.status.unwrap_or(0), "body": body(&e.response_body) });
    let content_type = e
        .response_headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let Some((_, value)) = content_type {
        response["headers"] = json!({ "content-type": value });
    }
    if let Some(kind) = &e.error_kind {
        response["error"] = json!(kind);
    }
    json!({ "request": request, "response": response })
}
