//! Signed adapters (issue 22): a panel with a signature policy serves only modules one of its
//! signers signed, whichever way the module comes (push and switch, rollback, the config at
//! start); the signer is recorded in the deployment history and the journal; a panel without
//! a policy takes unsigned modules as before.

use std::path::Path;

use crate::common::*;
use panelgate::core::deploy::{Source, module_hash};
use panelgate::signing::{self, SigningKey};
use panelgate_tests::guests;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A partner's release key: its private half and its public key as the config takes it.
struct Key {
    private: SigningKey,
    public: String,
}

fn key() -> Key {
    let (pem, public) = signing::keygen().expect("keygen");
    Key {
        private: signing::private_key(&pem).expect("its own PEM"),
        public,
    }
}

fn sign(key: &Key, bytes: &[u8]) -> String {
    signing::sign(&key.private, &module_hash(bytes))
}

/// The probe, copied to `dir` with its signature beside it when `signer` is given.
fn config_module(dir: &Path, signer: Option<&Key>) -> String {
    let bytes = std::fs::read(guests::PROBE).unwrap();
    let path = dir.join("probe.wasm");
    std::fs::write(&path, &bytes).unwrap();
    if let Some(key) = signer {
        std::fs::write(dir.join("probe.wasm.sig"), sign(key, &bytes)).unwrap();
    }
    path.display().to_string()
}

/// Two signers configured; panel `probe` takes only `partner-a`'s, panel `open` has no policy.
fn signed_panels(module: &str, a: &Key, b: &Key) -> String {
    format!(
        r#"
[signers.partner-a]
public_key = "{a}"
[signers.partner-b]
public_key = "{b}"
[adapters.probe]
path = "{module}"
[panels.probe]
adapter = "probe"
base_url = "http://127.0.0.1:9"
settings = {{ channel = "h2h" }}
signers = ["partner-a"]
[panels.open]
adapter = "probe"
base_url = "http://127.0.0.1:9"
settings = {{ channel = "h2h" }}
"#,
        a = a.public,
        b = b.public,
    )
}

async fn push(h: &Harness, bytes: &[u8], signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = h
        .client
        .post(h.url("/admin/adapters"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(bytes.to_vec());
    if let Some(signature) = signature {
        request = request.header("X-Panelgate-Signature", signature);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin(h: &Harness, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = h.client.request(method, h.url(path)).bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn switch(h: &Harness, panel: &str, adapter: &str) -> (StatusCode, Value) {
    admin(
        h,
        Method::PUT,
        &format!("/admin/panels/{panel}/adapter"),
        Some(json!({ "adapter": adapter })),
    )
    .await
}

/// The adapter (`name@version`) that serves a quote on `panel` now.
async fn served_by(h: &Harness, panel: &str) -> String {
    let (status, body) = h
        .post(
            &format!("/v1/panels/{panel}/quotes"),
            &json!({ "product": "count", "binding": false, "interest": { "life": {} } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["adapter"].as_str().unwrap_or_default().to_string()
}

async fn last_deployment(h: &Harness, panel: &str) -> Value {
    let (status, body) = h.admin_get(&format!("/admin/panels/{panel}/deployments")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["history"].as_array().unwrap().last().cloned().unwrap()
}

#[tokio::test]
async fn a_panel_with_a_policy_serves_only_what_its_signers_signed() {
    let (a, b) = (key(), key());
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&signed_panels(&config_module(dir.path(), Some(&a)), &a, &b)).await;
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    // The config's own module, signed beside its file: recorded with its signer.
    let first = last_deployment(&h, "probe").await;
    assert_eq!(first["action"], "config");
    assert_eq!(first["signer"], "partner-a", "{first}");
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();

    // Unsigned: registered, but never served by the panel with a policy.
    let (status, pushed) = push(&h, &next, None).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    assert!(pushed.get("signer").is_none(), "{pushed}");
    let (status, refused) = switch(&h, "probe", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`partner-a`") && message.contains("is unsigned"),
        "{refused}"
    );
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // The panel without a policy takes the unsigned module, as before.
    let (status, switched) = switch(&h, "open", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "open").await, "probe@0.2.0");
    assert_eq!(last_deployment(&h, "open").await["signer"], Value::Null);

    // Signed by a configured key the panel does not allow: refused, naming who signed it.
    let (status, pushed) = push(&h, &next, Some(&sign(&b, &next))).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["signer"], "partner-b");
    let (status, refused) = switch(&h, "probe", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("is signed only by `partner-b`"), "{refused}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // Signed by a key the host does not know: the push itself is refused, naming the header.
    let stranger = key();
    let (status, refused) = push(&h, &next, Some(&sign(&stranger, &next))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(issue_paths(&refused), ["X-Panelgate-Signature"], "{refused}");
    let (status, refused) = push(&h, &next, Some("not a signature")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(issue_paths(&refused), ["X-Panelgate-Signature"], "{refused}");

    // Signed by the allowed key: switches and serves, the signer in the history and journal.
    let signature = sign(&a, &next);
    let (status, pushed) = push(&h, &next, Some(&signature)).await;
    assert_eq!(status, StatusCode::OK, "{pushed}");
    assert_eq!(pushed["signer"], "partner-a");
    let (status, switched) = switch(&h, "probe", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    let set = last_deployment(&h, "probe").await;
    assert_eq!(set["action"], "set");
    assert_eq!(set["signer"], "partner-a");
    assert_eq!(set["signature"], signature.as_str());
    // The journal lists the newest first.
    let (_, journal) = h.admin_get("/admin/journal?panel=probe").await;
    let deploy = journal
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == "deploy")
        .cloned()
        .expect("the switch's journal entry");
    assert_eq!(deploy["detail"]["action"], "set", "{deploy}");
    assert_eq!(deploy["detail"]["signer"], "partner-a", "{deploy}");
    assert_eq!(deploy["detail"]["signature"], signature.as_str(), "{deploy}");

    // The registry lists every signature a module came with.
    let (_, adapters) = h.admin_get("/admin/adapters").await;
    let entry = adapters
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["module"]["version"] == "0.2.0")
        .cloned()
        .unwrap();
    let signers: Vec<&str> = entry["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["signer"].as_str())
        .collect();
    assert_eq!(signers.len(), 2, "{entry}");
    assert!(signers.contains(&"partner-a") && signers.contains(&"partner-b"));

    // A rollback goes back only to a signed module, and records who signed it.
    let (status, rolled) = admin(&h, Method::POST, "/admin/panels/probe/rollback", None).await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    let rollback = last_deployment(&h, "probe").await;
    assert_eq!(rollback["action"], "rollback");
    assert_eq!(rollback["signer"], "partner-a");
}

/// A custom section appended: the same adapter, still a valid component, other bytes.
fn tampered(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0x00, 0x06, 0x05]);
    out.extend_from_slice(b"extra");
    out
}

#[tokio::test]
async fn a_module_changed_after_it_was_signed_never_serves() {
    let (a, b) = (key(), key());
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&signed_panels(&config_module(dir.path(), Some(&a)), &a, &b)).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let signature = sign(&a, &next);
    let changed = tampered(&next);

    // With the original's signature: the push is refused, and nothing is registered.
    let (status, refused) = push(&h, &changed, Some(&signature)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let message = refused["error"]["issues"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains(&module_hash(&changed)), "{refused}");
    assert!(message.contains("changed after it was signed"), "{refused}");
    let (_, adapters) = h.admin_get("/admin/adapters").await;
    assert!(
        adapters
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["module"]["hash"] != module_hash(&changed).as_str()),
        "{adapters}"
    );

    // Without it: registered (it is a valid component), but the panel with a policy refuses it.
    let (status, pushed) = push(&h, &changed, None).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let hash = pushed["hash"].as_str().unwrap().to_string();
    let (status, refused) = admin(
        &h,
        Method::PUT,
        "/admin/panels/probe/adapter",
        Some(json!({ "module": hash })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is unsigned"),
        "{refused}"
    );
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
}

/// A host with one panel with a policy, on a fresh SQLite store in `dir`.
async fn boot(dir: &Path, module: &str, allowed: &Key) -> anyhow::Result<panelgate::App> {
    let config = format!(
        "{}\n[signers.partner-a]\npublic_key = \"{}\"\n[adapters.probe]\npath = \"{module}\"\n\
         [panels.probe]\nadapter = \"probe\"\nbase_url = \"http://127.0.0.1:9\"\nsigners = [\"partner-a\"]\n\
         settings = {{ channel = \"h2h\" }}\n",
        bare_config(dir, "127.0.0.1:0", ""),
        allowed.public
    );
    let path = dir.join("panelgate.toml");
    std::fs::write(&path, config)?;
    let config = panelgate::config::Config::load(&path)?;
    panelgate::App::start(&config).await
}

#[tokio::test]
async fn the_configs_own_adapter_must_be_signed_beside_its_file_on_a_panel_with_a_policy() {
    let a = key();
    // No `.sig` beside the module: the host does not start, and says where the signature goes.
    let dir = tempfile::tempdir().unwrap();
    let module = config_module(dir.path(), None);
    let error = format!(
        "{:#}",
        boot(dir.path(), &module, &a).await.err().expect("refused")
    );
    assert!(
        error.contains("probe.wasm.sig") && error.contains("is unsigned"),
        "{error}"
    );

    // Signed by a key the config does not name: refused as well.
    let dir = tempfile::tempdir().unwrap();
    let module = config_module(dir.path(), Some(&key()));
    let error = format!(
        "{:#}",
        boot(dir.path(), &module, &a).await.err().expect("refused")
    );
    assert!(
        error.contains("made by none of the configured signers (`partner-a`)"),
        "{error}"
    );

    // Signed by the allowed key: the panel loads.
    let dir = tempfile::tempdir().unwrap();
    let module = config_module(dir.path(), Some(&a));
    let app = boot(dir.path(), &module, &a).await.expect("starts");
    let panel = app.state.panel("probe").expect("loaded");
    assert_eq!(
        panel.signature.as_ref().map(|s| s.signer.as_str()),
        Some("partner-a")
    );
}

#[tokio::test]
async fn the_partner_signs_with_the_cli_and_broker_it_pushes_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: Vec<String>| async move {
        let mut argv = vec!["panelgate".to_string()];
        argv.extend(args);
        panelgate::cli::run(argv).await
    };
    let path = |name: &str| dir.path().join(name).display().to_string();
    let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    // The partner: a key (never written over), then the signature beside the module.
    assert_eq!(
        cli(strings(&["adapter", "keygen", "--out", &path("release.pem")]))
            .await
            .unwrap(),
        0
    );
    assert!(
        cli(strings(&["adapter", "keygen", "--out", &path("release.pem")]))
            .await
            .is_err()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path("release.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the private key is its owner's only: {mode:o}");
    }
    let pem = std::fs::read_to_string(path("release.pem")).unwrap();
    let private = signing::private_key(&pem).unwrap();
    let a = Key {
        public: signing::public_key_of(&private),
        private,
    };
    std::fs::copy(guests::PROBE_NEXT, path("next.wasm")).unwrap();
    let sign = strings(&[
        "adapter",
        "sign",
        &path("next.wasm"),
        "--key",
        &path("release.pem"),
    ]);
    assert_eq!(cli(sign).await.unwrap(), 0);

    // Broker IT: the push carries the signature, and the panel with a policy switches.
    let h = start_with(&signed_panels(&config_module(dir.path(), Some(&a)), &a, &key())).await;
    let push = strings(&[
        "adapter",
        "push",
        &path("next.wasm"),
        "--signature",
        &path("next.wasm.sig"),
        "--url",
        &h.base,
        "--token",
        ADMIN,
    ]);
    assert_eq!(cli(push).await.unwrap(), 0);
    let (status, switched) = switch(&h, "probe", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(last_deployment(&h, "probe").await["signer"], "partner-a");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
}

/// Waits until `panel` is served by `adapter`, for at most 20 s.
async fn until_served_by(h: &Harness, panel: &str, adapter: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while served_by(h, panel).await != adapter {
        assert!(
            std::time::Instant::now() < deadline,
            "`{panel}` never served `{adapter}`"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A host with [`signed_panels`] (`probe` takes what `a` or `b` signed, `open` anything) and a
/// folder it watches every 100 ms; the folder, and the one holding the config's module.
async fn watching(a: &Key, b: &Key) -> (Harness, tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let drop = tempfile::tempdir().unwrap();
    let extra = format!(
        "{}\n[registry]\nwatch_dir = \"{}\"\nwatch_interval_ms = 100\n",
        signed_panels(&config_module(dir.path(), Some(a)), a, b),
        drop.path().display()
    );
    (start_with(&extra).await, drop, dir)
}

#[tokio::test]
async fn the_watched_folder_deploys_to_a_panel_with_a_policy_only_a_module_signed_beside_it() {
    let (a, b) = (key(), key());
    let (h, drop, _config) = watching(&a, &b).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();

    // Unsigned: the panel without a policy takes it, the one with a policy keeps its module.
    std::fs::write(drop.path().join("unsigned.wasm"), tampered(&next)).unwrap();
    until_served_by(&h, "open", "probe@0.2.0").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    assert_eq!(last_deployment(&h, "probe").await["action"], "config");

    // Signed, the `.sig` copied first: deployed, its signer recorded.
    std::fs::write(drop.path().join("signed.wasm.sig"), sign(&a, &next)).unwrap();
    std::fs::write(drop.path().join("signed.wasm"), &next).unwrap();
    until_served_by(&h, "probe", "probe@0.2.0").await;
    let set = last_deployment(&h, "probe").await;
    assert_eq!(set["signer"], "partner-a", "{set}");
    assert_eq!(set["module"], module_hash(&next).as_str());
}

/// A dropped module refused for its signature (signed by a key no panel takes) is looked at
/// again once its `.sig` changes: the right signature copied over it deploys it. (Before, a
/// file refused once was never looked at again while it stayed the same, its `.sig` unheeded.)
#[tokio::test]
async fn a_dropped_module_is_taken_once_its_signature_is_fixed() {
    let (a, b, stranger) = (key(), key(), key());
    let (h, drop, _config) = watching(&a, &b).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    std::fs::write(drop.path().join("late.wasm.sig"), sign(&stranger, &next)).unwrap();
    std::fs::write(drop.path().join("late.wasm"), &next).unwrap();
    // Looked at (two intervals to settle, one to take) and refused: nothing changes.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    assert_eq!(served_by(&h, "open").await, "probe@0.1.0");
    std::fs::write(drop.path().join("late.wasm.sig"), sign(&a, &next)).unwrap();
    until_served_by(&h, "probe", "probe@0.2.0").await;
    assert_eq!(last_deployment(&h, "probe").await["signer"], "partner-a");
}

/// A module dropped unsigned, its `.sig` copied after it: the panel without a policy takes the
/// module at once, the one with a policy when the signature comes. (Before, the module was
/// registered by then, the push that brought the signature created nothing, and no panel was
/// switched.)
#[tokio::test]
async fn a_signature_copied_after_its_module_deploys_it_where_a_policy_waited() {
    let (a, b) = (key(), key());
    let (h, drop, _config) = watching(&a, &b).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    std::fs::write(drop.path().join("next.wasm"), &next).unwrap();
    until_served_by(&h, "open", "probe@0.2.0").await;
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    std::fs::write(drop.path().join("next.wasm.sig"), sign(&a, &next)).unwrap();
    until_served_by(&h, "probe", "probe@0.2.0").await;
    assert_eq!(last_deployment(&h, "probe").await["signer"], "partner-a");
}

#[tokio::test]
async fn module_bytes_altered_in_the_store_are_refused_at_the_next_start() {
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let module = config_module(dir.path(), Some(&a));
    let app = boot(dir.path(), &module, &a).await.expect("starts");
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let pushed = app
        .state
        .push(&next, Source::Push, Some(&sign(&a, &next)))
        .await
        .expect("pushed");
    assert_eq!(pushed.signature.map(|s| s.signer).as_deref(), Some("partner-a"));
    app.state
        .switch("probe", &module_hash(&next))
        .await
        .expect("switched");
    drop(app);

    // Someone with the database swaps the signed module's bytes for others.
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", dir.path().join("panelgate.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let altered = sqlx::query("UPDATE modules SET bytes = $1 WHERE hash = $2")
        .bind(tampered(&next))
        .bind(module_hash(&next))
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(altered.rows_affected(), 1);
    pool.close().await;

    let error = format!(
        "{:#}",
        boot(dir.path(), &module, &a).await.err().expect("refused")
    );
    assert!(error.contains("no longer hash to its name"), "{error}");
}

#[tokio::test]
async fn a_panel_added_through_the_admin_api_keeps_its_policy() {
    let (a, b) = (key(), key());
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&signed_panels(&config_module(dir.path(), Some(&a)), &a, &b)).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let (status, pushed) = push(&h, &next, None).await;
    assert_eq!(status, StatusCode::CREATED, "{pushed}");
    let definition = |adapter: &str, signers: Value| {
        json!({
            "adapter": adapter,
            "base_url": "http://127.0.0.1:9",
            "settings": { "channel": "h2h" },
            "signers": signers,
        })
    };

    // A policy naming a key the config lacks: refused, naming the field.
    let body = definition("probe@0.2.0", json!(["nobody"]));
    let (status, refused) = admin(&h, Method::PUT, "/admin/panels/P9", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(issue_paths(&refused), ["signers"], "{refused}");
    // An unsigned module: refused, and no panel is added.
    let body = definition("probe@0.2.0", json!(["partner-a"]));
    let (status, refused) = admin(&h, Method::PUT, "/admin/panels/P9", Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is unsigned"),
        "{refused}"
    );
    let (status, _) = h.admin_get("/admin/panels/P9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The signed module: added, serving, its signer recorded.
    let body = definition("probe@0.1.0", json!(["partner-a"]));
    let (status, added) = admin(&h, Method::PUT, "/admin/panels/P9", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(served_by(&h, "P9").await, "probe@0.1.0");
    assert_eq!(last_deployment(&h, "P9").await["signer"], "partner-a");
    // Its policy holds for a later switch.
    let (status, refused) = switch(&h, "P9", "probe@0.2.0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
}
