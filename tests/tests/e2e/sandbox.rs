//! The sandbox: a trapping adapter fails only its own request, and secrets never reach an
//! adapter, the journal or an error.

use crate::common::*;
use panelgate_tests::guests;
use reqwest::StatusCode;
use serde_json::json;

fn probe_panel(base: &str) -> String {
    format!(
        r#"
[adapters.probe]
path = "{path}"
[panels.PROBE]
adapter = "probe"
base_url = "{base}"
settings = {{ line = "life" }}
[panels.PROBE.credentials.partner]
kind = "basic"
username = {{ value = "{PANEL_USER}" }}
password = {{ value = "{PANEL_PASSWORD}" }}
"#,
        path = guests::PROBE
    )
}

fn quote(product: &str) -> serde_json::Value {
    json!({ "product": product, "binding": false, "interest": { "life": {} } })
}

#[tokio::test]
async fn no_call_sees_the_memory_of_the_one_before() {
    let h = start_with(&probe_panel("http://127.0.0.1:9")).await;
    // Enough calls that instances reuse the pool's slots, one at a time and side by side.
    for _ in 0..5 {
        let (status, body) = h.post("/v1/panels/PROBE/quotes", &quote("count")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["message"], "calls 1, leftover pages 0");
    }
    let body = quote("count");
    let calls = (0..8).map(|_| h.post("/v1/panels/PROBE/quotes", &body));
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["message"], "calls 1, leftover pages 0");
    }
}

#[tokio::test]
async fn a_trapping_adapter_fails_only_its_request_and_the_next_one_succeeds() {
    let h = start_with(&probe_panel("http://127.0.0.1:9")).await;
    let (status, body) = h.post("/v1/panels/PROBE/quotes", &quote("trap")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "adapter_fault");
    assert!(body["error"]["journal_id"].is_string());
    // A fresh instance for the next call: nothing of the trap remains.
    let (status, body) = h.post("/v1/panels/PROBE/quotes", &quote("fine")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["message"], "fine");
    // And the other panels never noticed.
    let (status, _) = h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, journal) = h.admin_get("/admin/journal?panel=PROBE").await;
    assert!(
        journal
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"].as_str().unwrap().contains("adapter fault"))
    );
}

#[tokio::test]
async fn no_adapter_visible_value_and_no_journal_entry_contains_a_secret() {
    let h = start_with(&probe_panel("http://127.0.0.1:9")).await;
    let (status, body) = h.post("/v1/panels/PROBE/quotes", &quote("probe")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen: serde_json::Value = serde_json::from_str(body["result"]["message"].as_str().unwrap()).unwrap();
    assert_eq!(seen["env"], json!([]), "no environment");
    // No files and no sockets: a module importing them is refused at push
    // (`deploy::a_module_importing_sockets_or_files_is_refused_at_push_naming_the_import`).
    assert!(
        seen["outside"].as_str().unwrap().contains("denied by the host"),
        "no hosts off the allow-list: {seen}"
    );
    let text = seen.to_string();

    // Drive real AAP traffic too, so the journal holds credentialed exchanges and callbacks.
    h.post("/v1/panels/A03/policies", &example("A03", "accept-cac"))
        .await;
    h.a03
        .send_raw_callback("post-status-pembatalan", "{}", CALLBACK_USER, CALLBACK_PASSWORD)
        .await
        .unwrap();
    let (_, journal) = h.admin_get("/admin/journal?limit=1000").await;
    let (_, panels) = h.admin_get("/admin/panels").await;
    let everything = format!("{text}{journal}{panels}");
    for secret in [PANEL_PASSWORD, CALLBACK_PASSWORD] {
        assert!(!everything.contains(secret), "`{secret}` leaked");
    }
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{PANEL_USER}:{PANEL_PASSWORD}"));
    assert!(!everything.contains(&basic));
    // The credential was applied at egress all the same.
    assert!(
        h.a03
            .requests()
            .iter()
            .any(|r| r.path == "/akseptasi/registrasi" && r.authorized)
    );
}

#[tokio::test]
async fn health_readiness_and_openapi_are_served() {
    let h = start().await;
    assert_eq!(
        h.client.get(h.url("/healthz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        h.client.get(h.url("/readyz")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let spec: serde_json::Value = h
        .client
        .get(h.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/panels/{panel}/quotes",
        "/v1/panels/{panel}/policies",
        "/v1/events",
        "/callbacks/{panel}/{path}",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(spec["components"]["schemas"]["QuoteRequest"].is_object());
    let (_, verify) = h.admin_get("/admin/journal/verify").await;
    assert_eq!(verify["intact"], true);
}

#[tokio::test]
async fn what_was_acknowledged_survives_a_restart() {
    let h = start().await;
    let (status, body) = h
        .post("/v1/panels/A03/policies", &example("A03", "accept-cac"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_string();
    // A second host on the same store, as after a restart.
    let config = panelgate::config::Config::load(&h.dir.path().join("panelgate.toml")).unwrap();
    let restarted = panelgate::App::start(&config).await.unwrap();
    let case = restarted
        .state
        .store
        .case("A03", &case_id)
        .await
        .unwrap()
        .expect("the case survived");
    assert_eq!(case.status, panelgate::model::CaseStatus::InForce);
    assert!(case.policy.is_some());
}

#[tokio::test]
async fn an_altered_journal_entry_is_caught_by_the_hash_chain() {
    let h = start().await;
    h.post("/v1/panels/A03/quotes", &example("A03", "quote")).await;
    h.post("/v1/panels/A03/policies", &example("A03", "accept-cac"))
        .await;
    let (_, verify) = h.admin_get("/admin/journal/verify").await;
    assert_eq!(verify["intact"], true, "{verify}");
    let config = h.dir.path().join("panelgate.toml");
    let argv = [
        "panelgate",
        "journal",
        "verify",
        "--config",
        config.to_str().unwrap(),
    ]
    .map(String::from);
    assert_eq!(panelgate::cli::run(argv).await.unwrap(), 0);

    // Behind the host's back: the append-only triggers refuse, so a forger drops them first.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.store_url).await.unwrap();
    let refused = sqlx::query("UPDATE journal SET outcome = 'ok' WHERE seq = 2")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the journal refuses updates");
    let drop_trigger = if h.store_url.starts_with("sqlite:") {
        "DROP TRIGGER journal_no_update"
    } else {
        "DROP TRIGGER journal_no_update ON journal"
    };
    sqlx::query(drop_trigger).execute(&pool).await.unwrap();
    let victim: String = sqlx::query_scalar("SELECT id FROM journal WHERE seq = 2")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE journal SET detail = '{\"forged\":true}' WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();

    let (_, verify) = h.admin_get("/admin/journal/verify").await;
    assert_eq!(verify["intact"], false);
    assert_eq!(verify["first_bad_entry"], victim.as_str());
    // The same check from the command line, on the config's store: exit code 1.
    let config = h.dir.path().join("panelgate.toml");
    let argv = [
        "panelgate",
        "journal",
        "verify",
        "--config",
        config.to_str().unwrap(),
    ]
    .map(String::from);
    assert_eq!(panelgate::cli::run(argv).await.unwrap(), 1);
}
