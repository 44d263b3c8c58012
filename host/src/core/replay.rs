//! Replaying a candidate module against a panel's recorded operations before promoting it.
//!
//! Each recorded portal operation is run again through the candidate, with the panel's own
//! settings, while `http.send` serves the partner responses the journal recorded instead of
//! calling the partner. The report says, per operation, whether the canonical result and the
//! outbound requests are the same as what the serving version produced, and where they differ.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use crate::adapter::{Call, CallError};
use crate::core::AppState;
use crate::core::deploy::{DeployError, Source};
use crate::runtime::{Exchange, Recording, WasmAdapter};
use crate::store::JournalRow;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayReport {
    pub panel: String,
    /// `name@version` of the candidate.
    pub candidate: String,
    /// `name@version` the panel serves now.
    pub current: String,
    pub replayed: usize,
    pub same: usize,
    pub changed: usize,
    /// Recorded operations that could not be replayed (recorded before results were journaled).
    pub skipped: usize,
    pub operations: Vec<ReplayedOperation>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReplayedOperation {
    pub journal_id: String,
    pub operation: String,
    /// The module that produced the recorded result.
    pub recorded_by: String,
    pub same_result: bool,
    pub same_requests: bool,
    /// Where the candidate differs, one line each (`result/options/0/premium/amount: ...`).
    pub differences: Vec<String>,
}

/// The fields of an outbound request that replay compares.
fn request_view(e: &Exchange) -> Value {
    json!({
        "method": e.method,
        "url": e.url,
        "headers": e.request_headers,
        "body": e.request_body,
        "credential": e.credential,
    })
}

fn result_view(result: &Result<crate::adapter::Outcome, CallError>) -> Value {
    match result {
        Ok(outcome) => json!({ "ok": outcome }),
        Err(CallError::Adapter(e)) => json!({ "error": e }),
        Err(e) => json!({ "fault": e.to_string() }),
    }
}

/// The call a journal entry recorded, as the adapter received it. Document bytes were
/// journaled as their size and digest; the replay sends that many zero bytes.
pub(crate) fn recorded_call(row: &JournalRow) -> Option<Call> {
    let mut input = row.detail.get("request")?.clone();
    if row.operation == "upload_document"
        && let Some(data) = input.get_mut("data")
    {
        use base64::Engine as _;
        let size = data["bytes"].as_u64()? as usize;
        *data = json!(base64::engine::general_purpose::STANDARD.encode(vec![0u8; size]));
    }
    serde_json::from_value(json!({ "operation": row.operation, "input": input })).ok()
}

/// Lines naming every place `a` and `b` differ, under `path`.
pub fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                diff(&format!("{path}/{k}"), va, vb, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}/{i}"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} → {b}")),
        _ => {}
    }
}

impl AppState {
    /// Replays the panel's last `last` operations through the module in `bytes`. Nothing is
    /// registered, switched, or sent to the partner.
    pub async fn replay(&self, panel: &str, bytes: &[u8], last: u32) -> Result<ReplayReport, DeployError> {
        let current = self
            .panel(panel)
            .map_err(|_| DeployError::NotFound(format!("no panel `{panel}`")))?;
        let config = &*current.definition;
        let candidate = self.inspect(bytes, Source::Push).await?;
        let breaker = Arc::new(crate::breaker(config, &self.config));
        let context = crate::panel_context(panel, config, &self.config, breaker, &self.inline)
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        let adapter = WasmAdapter::load(&self.runtime, &candidate.component, Arc::new(context), 1)
            .await
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        let mut report = ReplayReport {
            panel: panel.to_string(),
            candidate: format!("{}@{}", candidate.info.name, candidate.info.version),
            current: format!("{}@{}", current.module.name, current.module.version),
            replayed: 0,
            same: 0,
            changed: 0,
            skipped: 0,
            operations: Vec::new(),
        };
        let recorded = self
            .store
            .recent_operations(panel, i64::from(last.clamp(1, 10_000)))
            .await?;
        for (entry, partner) in recorded {
            let (Some(call), Some(recorded_result)) = (recorded_call(&entry), entry.detail.get("result"))
            else {
                report.skipped += 1;
                continue;
            };
            let exchanges: Vec<Exchange> = partner
                .iter()
                .filter_map(|row| serde_json::from_value(row.detail["exchange"].clone()).ok())
                .collect();
            let recorded_requests: Vec<Value> = exchanges.iter().map(request_view).collect();
            let (result, made) = adapter.replay(call, Recording::new(exchanges)).await;
            let made_requests: Vec<Value> = made.iter().map(request_view).collect();
            let mut differences = Vec::new();
            diff("result", recorded_result, &result_view(&result), &mut differences);
            let same_result = differences.is_empty();
            if recorded_requests.len() != made_requests.len() {
                differences.push(format!(
                    "requests: {} recorded, {} made",
                    recorded_requests.len(),
                    made_requests.len()
                ));
            }
            for (i, (a, b)) in recorded_requests.iter().zip(&made_requests).enumerate() {
                diff(&format!("requests/{i}"), a, b, &mut differences);
            }
            let same_requests = recorded_requests == made_requests;
            report.replayed += 1;
            if same_result && same_requests {
                report.same += 1;
            } else {
                report.changed += 1;
            }
            report.operations.push(ReplayedOperation {
                journal_id: entry.id,
                operation: entry.operation,
                recorded_by: entry.detail["adapter"].as_str().unwrap_or("?").to_string(),
                same_result,
                same_requests,
                differences,
            });
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_changed_path() {
        let mut out = Vec::new();
        diff(
            "result",
            &json!({ "ok": { "premium": "100", "codes": [1, 2] } }),
            &json!({ "ok": { "premium": "110", "codes": [1, 2], "note": "x" } }),
            &mut out,
        );
        assert_eq!(
            out,
            vec![
                "result/ok/note: null → \"x\"".to_string(),
                "result/ok/premium: \"100\" → \"110\"".to_string()
            ]
        );
    }
}
