//! `panelgate adapter test`: an adapter run in the host's real sandbox against fixtures, with no
//! partner. Each fixture gives the canonical call, the partner exchanges the adapter is expected
//! to make (matched as patterns) with the answers to serve, and the expected result or error.
//!
//! A fixture file (`fixtures/*.json`):
//!
//! ```json
//! {
//!   "description": "a sedan is quoted",
//!   "operation": "quote",
//!   "input": { "...": "the canonical request, as the portal sends it" },
//!   "exchanges": [{
//!     "request": { "method": "POST", "path": "/v1/quotes", "headers": { "date": "*" },
//!                  "body": { "plate": "B 1234 XY", "id": "*" } },
//!     "response": { "status": 200, "headers": { "content-type": "application/json" },
//!                   "body": { "premium": 100 } }
//!   }],
//!   "expect": { "ok": { "options": [{ "premium": { "amount": "100", "currency": "IDR" }, "*": "*" }], "*": "*" } }
//! }
//! ```
//!
//! The panel the fixtures run on is `fixtures/panel.json` (`base_url`, `settings`, and the
//! `credentials` the adapter names), or a fixture's own `panel`.
//!
//! Patterns: the string `"*"` matches any value; an object matches when every key it gives
//! matches, a key it leaves out matches only `null` (or anything, when the object has the key
//! `"*"`); arrays match element by element and must be as long. A request `body` given as JSON
//! is matched against the body parsed as JSON; given as a string, against the text. Listed
//! headers are matched by name whatever their case; others are not checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapter::{Call, CallError, Outcome};
use crate::config::Config;
use crate::runtime::{Exchange, Recording, Runtime, WasmAdapter};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelFixture {
    pub base_url: String,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// The credentials the adapter names; the sandbox holds none, and applies none.
    #[serde(default)]
    pub credentials: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: Option<String>,
    pub operation: String,
    pub input: Value,
    #[serde(default)]
    pub exchanges: Vec<FixtureExchange>,
    pub expect: Value,
    #[serde(default)]
    pub panel: Option<PanelFixture>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureExchange {
    pub request: ExpectedRequest,
    pub response: StubbedResponse,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRequest {
    pub method: String,
    /// The path and query after the panel's base URL.
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub body: Option<Value>,
    /// The panel credential the request names (`null`: none); left out, not checked.
    #[serde(default, deserialize_with = "given")]
    pub credential: Option<Option<String>>,
}

/// A field given, `null` included, as `Some`; left out, `None` (by `default`).
fn given<'de, D, T>(deserializer: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubbedResponse {
    /// The answer's status; none when the transport fails (`error`).
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// JSON, or a string sent as it is.
    #[serde(default)]
    pub body: Value,
    /// Instead of an answer, the transport fails: `timeout` or `connect`.
    #[serde(default)]
    pub error: Option<String>,
}

/// What one fixture found.
#[derive(Debug)]
pub struct FixtureReport {
    pub file: PathBuf,
    pub description: Option<String>,
    /// Every mismatch, one line each, by path (`result/ok/premium`, `requests/0/body/plate`).
    pub mismatches: Vec<String>,
}

/// Runs every fixture in `fixtures` (a file or a folder of `*.json`, `panel.json` aside)
/// against the component in `wasm`.
pub async fn run(wasm: &[u8], fixtures: &Path) -> Result<Vec<FixtureReport>> {
    let (files, shared_panel) = fixture_files(fixtures)?;
    if files.is_empty() {
        bail!(
            "no fixtures in {} (files `*.json` other than `panel.json`)",
            fixtures.display()
        );
    }
    let runtime = kit_runtime()?;
    let (component, wit) = runtime
        .compile_adapter(wasm)
        .map_err(|e| anyhow::anyhow!("the module is not an adapter this host runs: {e}"))?;
    tracing::debug!(wit, "adapter compiled for the fixtures");
    let mut reports = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let fixture: Fixture =
            serde_json::from_str(&text).with_context(|| format!("{} is not a fixture", file.display()))?;
        stubs_are_whole(&fixture).with_context(|| format!("{} is not a fixture", file.display()))?;
        let panel = fixture
            .panel
            .clone()
            .or_else(|| shared_panel.clone())
            .with_context(|| format!("{}: no `panel` and no panel.json beside it", file.display()))?;
        let adapter = load(&runtime, &component, &panel).await?;
        let mismatches = check(&adapter, &panel, &fixture).await;
        reports.push(FixtureReport {
            file,
            description: fixture.description.clone(),
            mismatches,
        });
    }
    Ok(reports)
}

/// What the component in `wasm` says of itself, asked in the host's sandbox.
pub async fn describe(wasm: &[u8]) -> Result<crate::model::Description> {
    let runtime = kit_runtime()?;
    let (component, _) = runtime
        .compile_adapter(wasm)
        .map_err(|e| anyhow::anyhow!("the module is not an adapter this host runs: {e}"))?;
    let panel = PanelFixture {
        base_url: "http://fixture.invalid".into(),
        settings: BTreeMap::new(),
        credentials: Vec::new(),
    };
    let adapter = load(&runtime, &component, &panel).await?;
    Ok(crate::adapter::Adapter::description(&adapter).clone())
}

fn fixture_files(path: &Path) -> Result<(Vec<PathBuf>, Option<PanelFixture>)> {
    let (dir, mut files) = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter(|p| p.file_name().is_some_and(|n| n != "panel.json"))
            .collect();
        files.sort();
        (path.to_path_buf(), files)
    } else {
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        (dir, vec![path.to_path_buf()])
    };
    files.retain(|f| f.is_file());
    let panel_file = dir.join("panel.json");
    let panel = if panel_file.is_file() {
        let text = std::fs::read_to_string(&panel_file)?;
        Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a panel", panel_file.display()))?,
        )
    } else {
        None
    };
    Ok((files, panel))
}

fn kit_config(panel: &PanelFixture) -> Result<Config> {
    let mut config: Config =
        toml::from_str("[server]\nportal_token = { value = \"kit\" }\nadmin_token = { value = \"kit\" }\n")?;
    let mut credentials = BTreeMap::new();
    for name in &panel.credentials {
        credentials.insert(name.clone(), crate::config::CredentialConfig::None);
    }
    config.panels.insert(
        "fixture".into(),
        crate::config::PanelConfig {
            adapter: "under-test".into(),
            base_url: panel.base_url.clone(),
            allowed_hosts: Vec::new(),
            settings: panel.settings.clone(),
            credentials,
            callback_auth: None,
            limits: Default::default(),
            signers: None,
            tls: Default::default(),
        },
    );
    Ok(config)
}

fn kit_runtime() -> Result<Runtime> {
    let config = kit_config(&PanelFixture {
        base_url: "http://fixture.invalid".into(),
        settings: BTreeMap::new(),
        credentials: Vec::new(),
    })?;
    Runtime::new(&config.sandbox, config.max_memory_mib()).map_err(|e| anyhow::anyhow!("{e:#}"))
}

/// What serde cannot say of a fixture's stubs: an answer has a status, a failing transport
/// one of the ways the host's `http.send` fails (a misspelt kind was a protocol error).
fn stubs_are_whole(fixture: &Fixture) -> anyhow::Result<()> {
    const KINDS: [&str; 5] = ["timeout", "connect", "denied", "too-large", "protocol"];
    for (i, exchange) in fixture.exchanges.iter().enumerate() {
        let at = format!("exchanges[{i}].response");
        match &exchange.response.error {
            Some(kind) if !KINDS.contains(&kind.as_str()) => {
                anyhow::bail!("{at}.error: `{kind}` is none of {}", KINDS.join(", "))
            }
            Some(_) => {}
            None if !(100..=599).contains(&exchange.response.status) => {
                anyhow::bail!("{at}.status: give the answer's HTTP status (100-599), or an `error`")
            }
            None => {}
        }
    }
    Ok(())
}

async fn load(
    runtime: &Runtime,
    component: &wasmtime::component::Component,
    panel: &PanelFixture,
) -> Result<WasmAdapter> {
    let config = kit_config(panel)?;
    let panel_config = &config.panels["fixture"];
    let breaker = Arc::new(crate::breaker(panel_config, &config));
    let context = crate::panel_context("fixture", panel_config, &config, breaker, &Default::default())?;
    WasmAdapter::load(runtime, component, Arc::new(context), 1)
        .await
        .map_err(|e| anyhow::anyhow!("{e:#}"))
}

async fn check(adapter: &WasmAdapter, panel: &PanelFixture, fixture: &Fixture) -> Vec<String> {
    let mut out = Vec::new();
    let call: Call =
        match serde_json::from_value(json!({ "operation": fixture.operation, "input": fixture.input })) {
            Ok(call) => call,
            Err(e) => return vec![format!("input: not a `{}` request: {e}", fixture.operation)],
        };
    let base = panel.base_url.trim_end_matches('/');
    let stubs = fixture.exchanges.iter().map(|e| stub(base, e)).collect();
    let (result, made) = adapter.replay(call, Recording::new(stubs)).await;
    let result = match &result {
        Ok(outcome) => json!({ "ok": outcome_json(outcome) }),
        Err(CallError::Adapter(e)) => json!({ "error": e }),
        Err(e) => json!({ "fault": e.to_string() }),
    };
    matches("result", &fixture.expect, &result, &mut out);
    if made.len() != fixture.exchanges.len() {
        out.push(format!(
            "requests: {} expected, {} made ({})",
            fixture.exchanges.len(),
            made.len(),
            made.iter()
                .map(|e| format!("{} {}", e.method, e.url))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (i, (expected, made)) in fixture.exchanges.iter().zip(&made).enumerate() {
        request_matches(&format!("requests/{i}"), base, &expected.request, made, &mut out);
    }
    out
}

fn outcome_json(outcome: &Outcome) -> Value {
    serde_json::to_value(outcome).unwrap_or_else(|e| json!({ "unrenderable": e.to_string() }))
}

fn stub(base: &str, exchange: &FixtureExchange) -> Exchange {
    let response = &exchange.response;
    let body = match &response.body {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        json => json.to_string(),
    };
    Exchange {
        method: exchange.request.method.to_ascii_uppercase(),
        url: format!("{base}{}", exchange.request.path),
        request_headers: Vec::new(),
        request_body: String::new(),
        credential: None,
        attempt: 1,
        status: response.error.is_none().then_some(response.status),
        response_headers: response.headers.clone().into_iter().collect(),
        response_body: body,
        error_kind: response.error.clone(),
        error: response.error.as_ref().map(|kind| format!("fixture: {kind}")),
        duration_ms: 0,
        elapsed: Default::default(),
        sent: true,
        sent_at_ms: crate::store::now_ms(),
        refused_after: 0,
    }
}

fn request_matches(
    path: &str,
    base: &str,
    expected: &ExpectedRequest,
    made: &Exchange,
    out: &mut Vec<String>,
) {
    if !expected.method.eq_ignore_ascii_case(&made.method) {
        out.push(format!(
            "{path}/method: expected {}, made {}",
            expected.method, made.method
        ));
    }
    let made_path = made.url.strip_prefix(base).unwrap_or(&made.url);
    if expected.path != made_path {
        out.push(format!(
            "{path}/path: expected {}, made {made_path}",
            expected.path
        ));
    }
    if let Some(credential) = &expected.credential
        && *credential != made.credential
    {
        out.push(format!(
            "{path}/credential: expected {credential:?}, made {:?}",
            made.credential
        ));
    }
    for (name, pattern) in &expected.headers {
        let value = made
            .request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone()))
            .unwrap_or(Value::Null);
        matches(&format!("{path}/headers/{name}"), pattern, &value, out);
    }
    match &expected.body {
        None => {}
        Some(Value::String(text)) if text == "*" || *text == made.request_body => {}
        Some(Value::String(text)) => out.push(format!(
            "{path}/body: expected {text:?}, made {:?}",
            made.request_body
        )),
        Some(pattern) => match serde_json::from_str::<Value>(&made.request_body) {
            Ok(body) => matches(&format!("{path}/body"), pattern, &body, out),
            Err(e) => out.push(format!("{path}/body: not JSON ({e}): {}", made.request_body)),
        },
    }
}

/// Appends a line for every place `actual` does not match `pattern`, under `path`.
pub fn matches(path: &str, pattern: &Value, actual: &Value, out: &mut Vec<String>) {
    match (pattern, actual) {
        (Value::String(star), _) if star == "*" => {}
        (Value::Object(expected), Value::Object(made)) => {
            let open = expected.get("*").is_some_and(|v| v == "*");
            for (key, value) in expected.iter().filter(|(k, _)| k.as_str() != "*") {
                matches(
                    &format!("{path}/{key}"),
                    value,
                    made.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
            if !open {
                for (key, value) in made
                    .iter()
                    .filter(|(k, v)| !expected.contains_key(*k) && !v.is_null())
                {
                    out.push(format!("{path}/{key}: not expected, made {value}"));
                }
            }
        }
        (Value::Array(expected), Value::Array(made)) => {
            if expected.len() != made.len() {
                out.push(format!(
                    "{path}: {} items expected, {} made",
                    expected.len(),
                    made.len()
                ));
            }
            for (i, (e, m)) in expected.iter().zip(made).enumerate() {
                matches(&format!("{path}/{i}"), e, m, out);
            }
        }
        _ if pattern != actual => out.push(format!("{path}: expected {pattern}, made {actual}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stub_is_an_answer_with_its_status_or_a_known_transport_failure() {
        let fixture = |response: Value| -> Fixture {
            serde_json::from_value(json!({
                "operation": "quote",
                "input": {},
                "exchanges": [{ "request": { "method": "GET", "path": "/x" }, "response": response }],
                "expect": { "ok": "*" },
            }))
            .unwrap()
        };
        assert!(
            stubs_are_whole(&fixture(json!({ "error": "timeout" }))).is_ok(),
            "as documented"
        );
        assert!(stubs_are_whole(&fixture(json!({ "status": 200, "body": {} }))).is_ok());
        let misspelt = stubs_are_whole(&fixture(json!({ "error": "timout" }))).unwrap_err();
        assert!(
            misspelt.to_string().contains("exchanges[0].response.error"),
            "{misspelt}"
        );
        let bare = stubs_are_whole(&fixture(json!({ "body": {} }))).unwrap_err();
        assert!(
            bare.to_string().contains("exchanges[0].response.status"),
            "{bare}"
        );
    }

    #[test]
    fn a_request_checks_its_credential_only_when_the_fixture_names_one() {
        let credential = |request: Value| -> Option<Option<String>> {
            serde_json::from_value::<ExpectedRequest>(request)
                .unwrap()
                .credential
        };
        let base = json!({ "method": "GET", "path": "/x" });
        assert_eq!(credential(base.clone()), None, "left out: not checked");
        let mut none = base.clone();
        none["credential"] = Value::Null;
        assert_eq!(credential(none), Some(None), "null: the request names none");
        let mut named = base;
        named["credential"] = json!("partner");
        assert_eq!(credential(named), Some(Some("partner".into())));
    }

    fn lines(pattern: Value, actual: Value) -> Vec<String> {
        let mut out = Vec::new();
        matches("r", &pattern, &actual, &mut out);
        out
    }

    #[test]
    fn a_star_matches_anything_and_names_what_differs_by_path() {
        assert!(
            lines(
                json!({"a": "*", "b": [1, "*"]}),
                json!({"a": {"x": 1}, "b": [1, 2]})
            )
            .is_empty()
        );
        assert_eq!(
            lines(json!({"a": {"b": 1}}), json!({"a": {"b": 2}})),
            ["r/a/b: expected 1, made 2"]
        );
        assert_eq!(lines(json!([1]), json!([1, 2])), ["r: 1 items expected, 2 made"]);
    }

    #[test]
    fn a_key_left_out_matches_only_null_unless_the_object_is_open() {
        assert!(lines(json!({"a": 1}), json!({"a": 1, "b": null})).is_empty());
        assert_eq!(
            lines(json!({"a": 1}), json!({"a": 1, "b": 2})),
            ["r/b: not expected, made 2"]
        );
        assert!(lines(json!({"a": 1, "*": "*"}), json!({"a": 1, "b": 2})).is_empty());
        assert_eq!(
            lines(json!({"a": 1, "*": "*"}), json!({"b": 2})),
            ["r/a: expected 1, made null"]
        );
    }
}
