//! A partner writes an adapter outside this repository (issue 19's author kit): `panelgate
//! adapter new` scaffolds it in a temporary folder, `panelgate adapter test` builds it and runs
//! its fixtures in the host's sandbox with no partner, a broken fixture fails, the module is
//! pushed into a running host, a new panel for it is added through the admin API with no
//! restart, and it serves a quote from a partner. Nothing under `host/` or `wit/` is touched.

use std::path::{Path, PathBuf};

use crate::common::*;

async fn cli(args: &[&str]) -> i32 {
    let mut argv = vec!["panelgate".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    panelgate::cli::run(argv).await.expect("the command runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A folder outside the workspace, removed at the end.
struct Outside(PathBuf);

impl Outside {
    fn new(lang: &str) -> Outside {
        let dir = std::env::temp_dir().join(format!("panelgate-kit-{lang}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(
            !dir.starts_with(workspace()),
            "{} is inside the workspace",
            dir.display()
        );
        Outside(dir)
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn scaffold_test_and_push(lang: &str, wasm_in_project: &str) {
    let outside = Outside::new(lang);
    let dir = outside.0.to_str().unwrap();
    assert_eq!(
        cli(&["adapter", "new", "card-cover", "--lang", lang, "--dir", dir]).await,
        0
    );
    let project = outside.0.join("card-cover");
    let project_arg = project.to_str().unwrap();
    // Cargo's dependencies build once for every run of this test, in the workspace's target/.
    let target = workspace().join("target/kit");
    let target_arg = target.to_str().unwrap();
    assert_eq!(
        cli(&["adapter", "test", project_arg, "--target-dir", target_arg]).await,
        0,
        "the scaffold's own fixture passes"
    );
    // A fixture the adapter does not meet fails, by path.
    let fixture = project.join("fixtures/quote.json");
    let good = std::fs::read_to_string(&fixture).unwrap();
    std::fs::write(
        &fixture,
        good.replace("\"amount\": \"25000\"", "\"amount\": \"25001\""),
    )
    .unwrap();
    let wasm = if lang == "rust" {
        target.join(wasm_in_project)
    } else {
        project.join(wasm_in_project)
    };
    let wasm_arg = wasm.to_str().unwrap();
    assert_eq!(
        cli(&["adapter", "test", wasm_arg, fixture.to_str().unwrap()]).await,
        1,
        "a fixture whose premium differs fails"
    );
    std::fs::write(&fixture, good).unwrap();

    // Pushed into a running host: registered, described as the scaffold says.
    let h = start().await;
    assert_eq!(
        cli(&["adapter", "push", wasm_arg, "--url", &h.base, "--token", ADMIN]).await,
        0
    );
    let (_, adapters) = h.admin_get("/admin/adapters").await;
    assert!(
        adapters.to_string().contains("\"card-cover\""),
        "the host registered the scaffolded adapter: {adapters}"
    );

    // A new panel for it, through the admin API, its API key by reference to a file; then a
    // quote through the portal reaches the partner with the key the host applied.
    let partner = card_partner().await;
    let key_file = outside.0.join("partner.key");
    std::fs::write(&key_file, format!("{CARD_KEY}\n")).unwrap();
    let panel = format!("card-{lang}");
    let response = h
        .client
        .put(h.url(&format!("/admin/panels/{panel}")))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({
            "adapter": "card-cover",
            "base_url": partner,
            "credentials": { "partner": { "kind": "api-key", "headers": { "x-api-key": { "file": key_file } } } },
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let view: serde_json::Value = response.json().await.unwrap_or_default();
    assert_eq!(status, reqwest::StatusCode::CREATED, "{view}");
    let quote = serde_json::json!({
        "product": "CARD", "binding": false, "interest": { "card_protection": { "brand": "VISA" } },
    });
    let (status, body) = h.post(&format!("/v1/panels/{panel}/quotes"), &quote).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(
        body["result"]["options"][0]["premium"]["amount"], "25000",
        "{body}"
    );
    assert_eq!(body["result"]["reference"], "Q-VISA", "{body}");
}

const CARD_KEY: &str = "card-partner-key";

/// The scaffold's imaginary partner: `POST /quotes` with `x-api-key` and `x-api-version: 1`,
/// `{product, card_brand}` in; `{quote_id, premium, currency}` out.
async fn card_partner() -> String {
    card_partner_keyed(true).await
}

async fn card_partner_keyed(keyed: bool) -> String {
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/quotes",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<serde_json::Value>| async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            if keyed && header("x-api-key").as_deref() != Some(CARD_KEY) {
                return (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({ "error": "api key" })));
            }
            if header("x-api-version").as_deref() != Some("1") || body["product"] != "CARD" {
                return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": "request" })));
            }
            let brand = body["card_brand"].as_str().unwrap_or("NONE").to_string();
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "quote_id": format!("Q-{brand}"), "premium": "25000", "currency": "IDR" })),
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn a_rust_adapter_written_outside_the_repository_passes_its_fixtures_and_is_pushed() {
    scaffold_test_and_push("rust", "wasm32-wasip2/release/card_cover.wasm").await;
}

#[tokio::test]
async fn a_python_adapter_written_outside_the_repository_passes_its_fixtures_and_is_pushed() {
    scaffold_test_and_push("python", "target/adapter.wasm").await;
}

/// componentize-js from the npm registry, every WASI feature off.
#[tokio::test]
async fn a_javascript_adapter_written_outside_the_repository_passes_its_fixtures_and_is_pushed() {
    scaffold_test_and_push("js", "target/adapter.wasm").await;
}

/// What the AAGI panel really exchanged becomes fixtures; the module that made them passes them,
/// and no secret of the panel's is in them.
#[tokio::test]
async fn journaled_operations_become_fixtures_the_serving_module_passes() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/aagi-motor/quotes", &example("aagi-motor", "quote"))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    let (status, body) = h
        .post("/v1/panels/aagi-motor/policies", &example("aagi-motor", "accept"))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let mut bad = example("aagi-motor", "quote");
    bad["start_date"] = serde_json::json!("not a date");
    let (status, body) = h.post("/v1/panels/aagi-motor/quotes", &bad).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A quote answers before its journal entry is committed (docs/operating.md); `record` reads
    // the store from outside the host, so the host's queued entries are let land first: a read
    // of its journal waits for every commit queued before it.
    let (status, _) = h.admin_get("/admin/journal?panel=aagi-motor").await;
    assert_eq!(status, reqwest::StatusCode::OK);

    let out = Outside::new("record");
    let fixtures = out.0.join("fixtures");
    let config = h.dir.path().join("panelgate.toml");
    let code = cli(&[
        "adapter",
        "record",
        "--panel",
        "aagi-motor",
        "--config",
        config.to_str().unwrap(),
        "--out",
        fixtures.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0);
    let written: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(written.len(), 4, "panel.json and three operations");
    for text in &written {
        assert!(
            !text.contains(AAGI_TOKEN),
            "a fixture holds the panel's token: {text}"
        );
    }
    assert_eq!(
        cli(&[
            "adapter",
            "test",
            panelgate_tests::guests::AAGI_MOTOR,
            fixtures.to_str().unwrap()
        ])
        .await,
        0,
        "the module that served them passes its own recording"
    );
}

/// `panelgate dev`: the project served as panel `dev` of a one-panel host, and a change to its
/// source rebuilt and switched to while it serves.
#[tokio::test]
async fn panelgate_dev_serves_a_project_and_switches_to_each_rebuild() {
    let outside = Outside::new("dev");
    let dir = outside.0.to_str().unwrap();
    assert_eq!(cli(&["adapter", "new", "card-dev", "--dir", dir]).await, 0);
    let project = outside.0.join("card-dev");
    let partner = card_partner_keyed(false).await;
    let (port, _held) = free_port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = panelgate::kit::dev::DevOptions {
        dir: project.clone(),
        base_url: partner,
        listen: format!("127.0.0.1:{port}"),
        settings: Vec::new(),
        target_dir: Some(workspace().join("target/kit")),
    };
    let dev = tokio::spawn(panelgate::kit::dev::run(options, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let quote = |client: reqwest::Client| async move {
        let response = client
            .post(format!("http://127.0.0.1:{port}/v1/panels/dev/quotes"))
            .bearer_auth(panelgate::kit::dev::DEV_PORTAL_TOKEN)
            .json(&serde_json::json!({
                "product": "CARD", "binding": false, "interest": { "card_protection": { "brand": "VISA" } },
            }))
            .send()
            .await
            .ok()?;
        response.json::<serde_json::Value>().await.ok()
    };
    let until = |what: &'static str, check: Box<dyn Fn(&serde_json::Value) -> bool + Send>| {
        let client = client.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(400);
            loop {
                if let Some(body) = quote(client.clone()).await
                    && check(&body)
                {
                    return body;
                }
                assert!(std::time::Instant::now() < deadline, "{what} never happened");
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            }
        }
    };
    let body = until(
        "the first build served",
        Box::new(|b| b["result"]["reference"] == "Q-VISA"),
    )
    .await;
    assert_eq!(body["adapter"], "card-dev@0.1.0", "{body}");

    let lib = project.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap();
    let changed = source.replace(
        "reference: Some(answer.quote_id),",
        "reference: Some(format!(\"dev-{}\", answer.quote_id)),",
    );
    assert_ne!(
        source, changed,
        "the template still has the line this test changes"
    );
    std::fs::write(&lib, changed).unwrap();
    until(
        "the rebuild served",
        Box::new(|b| b["result"]["reference"] == "dev-Q-VISA"),
    )
    .await;
    let _ = stop.send(());
    dev.await.unwrap().unwrap();
}
