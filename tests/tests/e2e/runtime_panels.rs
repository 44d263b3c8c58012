//! Panels at run time: an adapter pushed into a running host and a panel added for it through
//! the admin API serve a quote with no restart; a change of its base URL sends the next calls
//! to the new partner; a removal refuses new operations and keeps its cases readable; inline
//! secrets and unknown adapters are refused before anything is written; the store keeps the
//! panels across a restart, the config file's unchanged entry does not undo an API change and an
//! edited one does; two hosts on one PostgreSQL store follow each other's changes; the CLI.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use panelgate_tests::guests;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A partner for the probe's `echo` product that answers `rate` and counts the calls it got.
async fn rate_partner(rate: &'static str) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let app = axum::Router::new().route(
        "/rate",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { axum::Json(json!({ "rate": rate })) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, calls)
}

fn echo_quote() -> Value {
    json!({ "product": "echo", "binding": false, "interest": { "life": {} } })
}

async fn admin_at(
    h: &Harness,
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = h
        .client
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin(h: &Harness, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    admin_at(h, &h.base, method, path, body).await
}

/// Pushes the probe adapter (0.1.0), which the harness's config does not name.
async fn push_probe(h: &Harness) {
    let response = h
        .client
        .post(h.url("/admin/adapters"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(std::fs::read(guests::PROBE).expect("the probe"))
        .send()
        .await
        .expect("push");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Polls `check` until it holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A secret in a file of the harness's folder: the reference the API takes.
fn secret_file(h: &Harness, name: &str, value: &str) -> Value {
    let path = h.dir.path().join(name);
    // A trailing line end, as editors and `echo` leave it: not part of the secret.
    std::fs::write(&path, format!("{value}\n")).unwrap();
    json!({ "file": path.display().to_string() })
}

/// A second host on the harness's store, started from the config text `config`.
async fn host_from(h: &Harness, config: &str) -> String {
    let path = h
        .dir
        .path()
        .join(format!("panelgate-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, config).unwrap();
    let config = panelgate::config::Config::load(&path).expect("config");
    let app = panelgate::App::start(&config).await.expect("host");
    let listener = panelgate::listen("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        panelgate::serve(listener, app.router(), &config.server, std::future::pending()).await
    });
    base
}

#[tokio::test]
async fn a_pushed_adapter_gets_a_panel_through_the_admin_api_and_serves_without_a_restart() {
    let h = start().await;
    let (first, first_calls) = rate_partner("0.0100").await;
    let (second, second_calls) = rate_partner("0.0200").await;
    let (status, body) = h.post("/v1/panels/live/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "panel_not_found");

    push_probe(&h).await;
    let (status, view) = admin(
        &h,
        Method::PUT,
        "/admin/panels/live",
        Some(json!({ "adapter": "probe", "base_url": first })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["version"], 1);
    assert_eq!(view["serving"]["version"], "0.1.0");
    let (status, body) = h.post("/v1/panels/live/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["adapter"], "probe@0.1.0");
    assert!(body.to_string().contains("rate 0.0100"), "{body}");
    assert_eq!(first_calls.load(Ordering::SeqCst), 1);
    let (_, panels) = h.get("/v1/panels").await;
    assert!(panels.to_string().contains("\"live\""), "{panels}");

    // The base URL changes: the next call goes to the new partner, none to the old one.
    let (status, view) = admin(
        &h,
        Method::PUT,
        "/admin/panels/live",
        Some(json!({ "adapter": "probe", "base_url": second })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["version"], 2);
    assert_eq!(view["definition"]["base_url"], second.as_str());
    let (status, body) = h.post("/v1/panels/live/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("rate 0.0200"), "{body}");
    assert_eq!(
        (
            first_calls.load(Ordering::SeqCst),
            second_calls.load(Ordering::SeqCst)
        ),
        (1, 1)
    );

    // Every change is journaled, with its definition and no secret.
    let (_, journal) = h.admin_get("/admin/journal?panel=live").await;
    let actions: Vec<&str> = journal
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "panel")
        .filter_map(|e| e["detail"]["action"].as_str())
        .collect();
    assert_eq!(actions, ["change", "add"], "newest first");

    // Removed: new operations are refused, the definition is gone.
    let (status, removed) = admin(&h, Method::DELETE, "/admin/panels/live", None).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["version"], 3);
    let (status, body) = h.post("/v1/panels/live/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "panel_not_found");
    let (status, _) = admin(&h, Method::GET, "/admin/panels/live", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin(&h, Method::DELETE, "/admin/panels/live", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "removed once");
    assert_eq!(second_calls.load(Ordering::SeqCst), 1);

    // And it can come back.
    let (status, view) = admin(
        &h,
        Method::PUT,
        "/admin/panels/live",
        Some(json!({ "adapter": "probe@0.1.0", "base_url": first })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(view["version"], 4);
    let (status, _) = h.post("/v1/panels/live/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_removed_panels_cases_stay_readable_and_its_credentials_come_from_files() {
    let h = start().await;
    // An AAP panel of the running host's registered aap-h2h, against the A03 simulator, its
    // credentials by reference to files on the host.
    let definition = json!({
        "adapter": "aap-h2h",
        "base_url": h.a03.base_url(),
        "settings": { "line": "life" },
        "credentials": { "partner": {
            "kind": "basic",
            "username": secret_file(&h, "user", PANEL_USER),
            "password": secret_file(&h, "password", PANEL_PASSWORD),
        } },
        "callback_auth": {
            "kind": "basic",
            "username": secret_file(&h, "cb-user", CALLBACK_USER),
            "password": secret_file(&h, "cb-password", CALLBACK_PASSWORD),
        },
    });
    let (status, view) = admin(&h, Method::PUT, "/admin/panels/A09", Some(definition)).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert!(!view.to_string().contains(PANEL_PASSWORD), "{view}");
    let (status, accepted) = h
        .post("/v1/panels/A09/policies", &example("A03", "accept-cac"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{accepted}");
    let case = accepted["case_id"].as_str().unwrap().to_string();

    let (status, _) = admin(&h, Method::DELETE, "/admin/panels/A09", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.post("/v1/panels/A09/quotes", &example("A03", "quote")).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("panel_not_found"))
    );
    let (status, stored) = h.get(&format!("/v1/panels/A09/policies/{case}")).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["id"], case.as_str());
    assert_eq!(stored["panel"], "A09");
    // Its document as stored: the link the partner gave, or none yet; not `panel_not_found`.
    let (status, document) = h.get(&format!("/v1/panels/A09/policies/{case}/document")).await;
    match stored["policy"]["document_link"].as_str() {
        Some(link) => {
            assert_eq!(status, StatusCode::OK, "{document}");
            assert_eq!(document["link"], link);
        }
        None => {
            assert_eq!(status, StatusCode::NOT_FOUND, "{document}");
            assert_eq!(document["error"]["code"], "not_found", "{document}");
        }
    }
}

/// A `PUT` re-reads the panel's secrets: sent again unchanged after the file behind a
/// reference changed (a rotated password), or with a credential changed, the next calls to the
/// partner carry the new secret. (Before, a panel rebuilt by a `PUT` kept the credentials the
/// panel had resolved first, until a restart.)
#[tokio::test]
async fn a_panel_sent_again_takes_up_its_rotated_secret() {
    let h = start().await;
    let definition = json!({
        "adapter": "aap-h2h",
        "base_url": h.a03.base_url(),
        "settings": { "line": "life" },
        "credentials": { "partner": {
            "kind": "basic",
            "username": secret_file(&h, "user", PANEL_USER),
            "password": secret_file(&h, "password", "not-yet-rotated"),
        } },
        "callback_auth": {
            "kind": "basic",
            "username": secret_file(&h, "cb-user", CALLBACK_USER),
            "password": secret_file(&h, "cb-password", CALLBACK_PASSWORD),
        },
    });
    let (status, view) = admin(&h, Method::PUT, "/admin/panels/A09", Some(definition.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    let (status, refused) = h.post("/v1/panels/A09/quotes", &example("A03", "quote")).await;
    assert_ne!(
        status,
        StatusCode::OK,
        "the partner refuses the old password: {refused}"
    );

    // The password file is rotated, and the same definition sent again.
    secret_file(&h, "password", PANEL_PASSWORD);
    let (status, view) = admin(&h, Method::PUT, "/admin/panels/A09", Some(definition.clone())).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, quoted) = h.post("/v1/panels/A09/quotes", &example("A03", "quote")).await;
    assert_eq!(status, StatusCode::OK, "the rotated password is sent: {quoted}");

    // A credential changed to another file.
    let mut changed = definition;
    changed["credentials"]["partner"]["password"] = secret_file(&h, "password-2", "changed-again");
    let (status, view) = admin(&h, Method::PUT, "/admin/panels/A09", Some(changed)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let (status, refused) = h.post("/v1/panels/A09/quotes", &example("A03", "quote")).await;
    assert_ne!(status, StatusCode::OK, "the changed password is sent: {refused}");
}

#[tokio::test]
async fn inline_secrets_unknown_adapters_and_unmet_needs_are_refused_and_nothing_is_written() {
    let h = start().await;
    let refused = |body: Value| {
        let h = &h;
        async move {
            let (status, answer) = admin(h, Method::PUT, "/admin/panels/bad", Some(body)).await;
            let (exists, _) = admin(h, Method::GET, "/admin/panels/bad", None).await;
            assert_eq!(exists, StatusCode::NOT_FOUND, "nothing written: {answer}");
            (status, answer)
        }
    };
    let aap = |credentials: Value| {
        json!({
            "adapter": "aap-h2h",
            "base_url": h.a03.base_url(),
            "settings": { "line": "life" },
            "credentials": credentials,
            "callback_auth": { "kind": "none" },
        })
    };

    // An inline secret: refused naming its field, and the value is in no answer.
    let (status, answer) = refused(aap(json!({ "partner": {
        "kind": "basic", "username": { "env": "HOME" }, "password": { "value": PANEL_PASSWORD }
    } })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["credentials.partner.password"]);
    assert!(!answer.to_string().contains(PANEL_PASSWORD));

    // A reference this host cannot resolve.
    let missing = h.dir.path().join("no-such-secret").display().to_string();
    let (status, answer) = refused(aap(json!({ "partner": {
        "kind": "basic", "username": { "file": missing }, "password": { "env": "PANELGATE_TEST_NO_SUCH_VARIABLE" }
    } })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["credentials.partner.username"]);
    let (status, answer) = refused(aap(json!({ "partner": {
        "kind": "basic", "username": { "env": "HOME" }, "password": { "env": "PANELGATE_TEST_NO_SUCH_VARIABLE" }
    } })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["credentials.partner.password"]);
    assert!(
        answer.to_string().contains("PANELGATE_TEST_NO_SUCH_VARIABLE"),
        "{answer}"
    );

    // An adapter no module registers, by name or by version.
    let (status, answer) = refused(json!({ "adapter": "nowhere", "base_url": "http://127.0.0.1:1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["adapter"]);
    let (status, answer) =
        refused(json!({ "adapter": "aap-h2h@9.9.9", "base_url": "http://127.0.0.1:1" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["adapter"]);

    // A registered adapter whose `describe` needs what the definition lacks.
    let (status, answer) = refused(json!({ "adapter": "aap-h2h", "base_url": h.a03.base_url() })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["error"]["code"], "adapter_refused");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs setting `line`"),
        "{answer}"
    );

    // Fields the host checks itself, all named at once; an id it does not take.
    let (status, answer) = refused(json!({
        "adapter": "aap-h2h", "base_url": "ftp://partner", "allowed_hosts": ["a:b"],
        "limits": { "memory_mib": 100000, "operation_timeout_ms": 0 },
    }))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        issue_paths(&answer),
        [
            "base_url",
            "allowed_hosts[0]",
            "limits.memory_mib",
            "limits.operation_timeout_ms"
        ]
    );
    let (status, answer) = admin(
        &h,
        Method::PUT,
        "/admin/panels/not%20an%20id",
        Some(json!({ "adapter": "probe", "base_url": "http://127.0.0.1:1" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(issue_paths(&answer), ["panel"]);

    // A config panel's definition is stored with references to the config file's values.
    let (status, view) = admin(&h, Method::GET, "/admin/panels/A03", None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert!(view["seeded_from_config"].as_bool().unwrap());
    assert_eq!(
        view["definition"]["credentials"]["partner"]["password"],
        json!({ "config": "panels.A03.credentials.partner.password" })
    );
    assert!(!view.to_string().contains(PANEL_PASSWORD), "{view}");
}

#[tokio::test]
async fn the_store_keeps_panels_across_a_restart_and_an_unchanged_config_does_not_undo_them() {
    let h = start().await;
    let (partner, _) = rate_partner("0.0300").await;
    push_probe(&h).await;
    let (status, _) = admin(
        &h,
        Method::PUT,
        "/admin/panels/kept",
        Some(json!({ "adapter": "probe", "base_url": partner })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // A config panel changed through the API: a longer deadline.
    let (_, view) = admin(&h, Method::GET, "/admin/panels/aagi-motor", None).await;
    let mut definition = view["definition"].clone();
    definition["limits"]["operation_timeout_ms"] = json!(7000);
    let (status, view) = admin(&h, Method::PUT, "/admin/panels/aagi-motor", Some(definition)).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    // A host started on the store with the same config file: the panel added at run time
    // serves, and the API's change stands.
    let config = std::fs::read_to_string(h.dir.path().join("panelgate.toml")).unwrap();
    let restarted = host_from(&h, &config).await;
    let (status, body) = h
        .post_to(&restarted, "/v1/panels/kept/quotes", &echo_quote())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("rate 0.0300"), "{body}");
    let (_, view) = admin_at(&h, &restarted, Method::GET, "/admin/panels/aagi-motor", None).await;
    assert_eq!(
        view["definition"]["limits"]["operation_timeout_ms"], 7000,
        "{view}"
    );
    // A config's webhook subscription may name the panel added at run time: the host starts.
    let subscribed = format!(
        "{config}\n[[webhooks.subscriptions]]\nid = \"kept-hook\"\nurl = \"http://127.0.0.1:9/hooks\"\npanels = [\"kept\"]\nsecret = {{ value = \"whsec_cGFuZWxnYXRlLXRlc3Qtd2ViaG9vay1zZWNyZXQtMzI=\" }}\n"
    );
    let with_hook = host_from(&h, &subscribed).await;
    let (status, hook) = admin_at(
        &h,
        &with_hook,
        Method::GET,
        "/admin/subscriptions/kept-hook",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    assert_eq!(hook["panels"], json!(["kept"]), "{hook}");

    // The config file's entry edited: the edit replaces the store's definition.
    let edited = config.replacen(
        "[panels.aagi-motor]\n",
        "[panels.aagi-motor]\nallowed_hosts = [\"aagi-gateway.example\"]\n",
        1,
    );
    assert_ne!(edited, config);
    let reseeded = host_from(&h, &edited).await;
    let (_, view) = admin_at(&h, &reseeded, Method::GET, "/admin/panels/aagi-motor", None).await;
    assert_eq!(
        view["definition"]["allowed_hosts"],
        json!(["aagi-gateway.example"]),
        "{view}"
    );
    assert!(
        view["definition"]["limits"].get("operation_timeout_ms").is_none(),
        "{view}"
    );
    let (status, body) = h
        .post_to(
            &reseeded,
            "/v1/panels/aagi-motor/quotes",
            &example("aagi-motor", "quote"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_second_host_on_the_store_serves_a_panel_the_first_adds_and_drops_it_when_removed() {
    let h = start_on(Some(fresh_postgres().await), "").await;
    let second = h.another_host("").await;
    let (first_partner, _) = rate_partner("0.0400").await;
    let (next_partner, _) = rate_partner("0.0500").await;
    push_probe(&h).await;
    let (status, _) = admin(
        &h,
        Method::PUT,
        "/admin/panels/shared",
        Some(json!({ "adapter": "probe", "base_url": first_partner })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let quote_on_second = |rate: &'static str| {
        let (h, second) = (&h, &second);
        move || async move {
            let (status, body) = h.post_to(second, "/v1/panels/shared/quotes", &echo_quote()).await;
            status == StatusCode::OK && body.to_string().contains(rate)
        }
    };
    eventually(
        Duration::from_secs(3),
        "the second host serves the panel",
        quote_on_second("0.0400"),
    )
    .await;

    let (status, _) = admin(
        &h,
        Method::PUT,
        "/admin/panels/shared",
        Some(json!({ "adapter": "probe", "base_url": next_partner })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    eventually(
        Duration::from_secs(3),
        "the second host calls the new base URL",
        quote_on_second("0.0500"),
    )
    .await;

    let (status, _) = admin(&h, Method::DELETE, "/admin/panels/shared", None).await;
    assert_eq!(status, StatusCode::OK);
    let (h, second) = (&h, &second);
    eventually(
        Duration::from_secs(3),
        "the second host drops the panel",
        move || async move {
            let (status, body) = h.post_to(second, "/v1/panels/shared/quotes", &echo_quote()).await;
            status == StatusCode::NOT_FOUND && body["error"]["code"] == "panel_not_found"
        },
    )
    .await;
}

#[tokio::test]
async fn the_cli_adds_changes_and_removes_a_panel() {
    let h = start().await;
    let (first, _) = rate_partner("0.0600").await;
    let (second, _) = rate_partner("0.0700").await;
    let cli = |args: &[&str]| {
        let mut argv = vec!["panelgate"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--url", &h.base, "--token", ADMIN]);
        let argv: Vec<String> = argv.into_iter().map(String::from).collect();
        async move { panelgate::cli::run(argv).await }
    };
    assert_eq!(cli(&["adapter", "push", guests::PROBE]).await.unwrap(), 0);
    // The definition from a file, as a `[panels.ID]` table of the config holds it.
    let file = h.dir.path().join("cli-panel.toml");
    std::fs::write(&file, format!("adapter = \"probe\"\nbase_url = \"{first}\"\n")).unwrap();
    let file = file.display().to_string();
    assert_eq!(cli(&["panel", "add", "cli", "--from", &file]).await.unwrap(), 0);
    let (status, body) = h.post("/v1/panels/cli/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.to_string().contains("rate 0.0600"), "{body}");
    assert!(
        cli(&["panel", "add", "cli", "--from", &file]).await.is_err(),
        "add does not change an existing panel"
    );

    assert_eq!(
        cli(&["panel", "set", "cli", "--base-url", &second])
            .await
            .unwrap(),
        0
    );
    let (_, body) = h.post("/v1/panels/cli/quotes", &echo_quote()).await;
    assert!(body.to_string().contains("rate 0.0700"), "{body}");
    assert_eq!(cli(&["panel", "list"]).await.unwrap(), 0);
    assert_eq!(cli(&["panel", "show", "cli"]).await.unwrap(), 0);

    assert_eq!(cli(&["panel", "remove", "cli"]).await.unwrap(), 0);
    let (status, _) = h.post("/v1/panels/cli/quotes", &echo_quote()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error = cli(&["panel", "remove", "cli"]).await.unwrap_err().to_string();
    assert!(error.contains("404"), "{error}");
}
