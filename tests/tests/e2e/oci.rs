//! Adapters from an OCI registry (issue 22), against a real one: Debian's `docker-registry`
//! (the CNCF distribution registry) on a loopback port each test picks. The partner pushes
//! with the CLI; broker IT's host pulls, pins the digest the tag named, and switches. A tag
//! that moves changes nothing that runs; a tampered blob is refused; a registry that is down
//! is a clear 503 while the panels keep serving; an unsigned module never serves a panel with
//! a policy; registry credentials are config references, never in a request or the journal.

use std::path::Path;

use crate::common::*;
use panelgate::core::deploy::module_hash;
use panelgate::oci::{self, Credentials, Reference};
use panelgate::signing::{self, SigningKey};
use panelgate_tests::guests;
use panelgate_tests::registry::{self, Registry};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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

/// The probe (0.1.0) as the config's adapter of panel `probe`, signed by `key` beside its file;
/// with `policy`, the panel takes only `partner-a`'s modules. `more` is appended.
fn host_config(dir: &Path, key: &Key, policy: bool, more: &str) -> String {
    let bytes = std::fs::read(guests::PROBE).unwrap();
    let path = dir.join("probe.wasm");
    std::fs::write(&path, &bytes).unwrap();
    std::fs::write(dir.join("probe.wasm.sig"), sign(key, &bytes)).unwrap();
    format!(
        r#"
[signers.partner-a]
public_key = "{public}"
[adapters.probe]
path = "{path}"
[panels.probe]
adapter = "probe"
base_url = "http://127.0.0.1:9"
settings = {{ channel = "h2h" }}
{signers}
{more}
"#,
        public = key.public,
        path = path.display(),
        signers = if policy { "signers = [\"partner-a\"]" } else { "" },
    )
}

async fn cli(args: &[&str]) -> anyhow::Result<i32> {
    let mut argv = vec!["panelgate".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    panelgate::cli::run(argv).await
}

/// The partner's release step: `panelgate adapter push oci://... FILE [--signature SIG]`.
async fn partner_push(dir: &Path, reference: &str, module: &str, signature: Option<String>) {
    let file = dir.join(format!("push-{}.wasm", module_hash(reference.as_bytes())));
    std::fs::copy(module, &file).unwrap();
    let file = file.display().to_string();
    let sig = format!("{file}.sig");
    let mut args = vec!["adapter", "push", reference, &file];
    if let Some(signature) = &signature {
        std::fs::write(&sig, signature).unwrap();
        args.extend(["--signature", &sig]);
    }
    assert_eq!(cli(&args).await.expect("pushed to the registry"), 0);
}

/// The manifest a tag names now, as the registry serves it, and its digest.
async fn manifest(registry: &Registry, repository: &str, tag: &str) -> (Value, String) {
    let response = reqwest::Client::new()
        .get(format!(
            "http://{}/v2/{repository}/manifests/{tag}",
            registry.addr
        ))
        .header("accept", oci::MANIFEST_MEDIA_TYPE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    (serde_json::from_slice(&bytes).unwrap(), oci::digest_of(&bytes))
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

async fn pull(h: &Harness, reference: &str) -> (StatusCode, Value) {
    admin(
        h,
        Method::POST,
        "/admin/adapters/pull",
        Some(json!({ "reference": reference })),
    )
    .await
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

/// The registry's entry for the module with `hash`, if registered.
async fn registered(h: &Harness, hash: &str) -> Option<Value> {
    let (_, adapters) = h.admin_get("/admin/adapters").await;
    adapters
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["module"]["hash"] == hash)
        .cloned()
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_partner_pushes_and_broker_it_pulls_pins_the_digest_and_switches() {
    let registry = Registry::start(false).expect("registry");
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let tag = registry.reference("partner/probe:0.2.0");
    let signature = sign(&a, &next);
    partner_push(dir.path(), &tag, guests::PROBE_NEXT, Some(signature.clone())).await;

    // The layout the component tooling uses, the signature in the manifest.
    let (manifest, digest) = manifest(&registry, "partner/probe", "0.2.0").await;
    assert_eq!(manifest["mediaType"], oci::MANIFEST_MEDIA_TYPE, "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], oci::CONFIG_MEDIA_TYPE);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], oci::LAYER_MEDIA_TYPE);
    assert_eq!(layers[0]["digest"], format!("sha256:{}", module_hash(&next)));
    assert_eq!(layers[0]["size"], next.len());
    assert_eq!(
        manifest["annotations"][oci::SIGNATURE_ANNOTATION],
        signature.as_str()
    );
    let pinned = registry.reference(&format!("partner/probe@{digest}"));

    let h = start_with(&host_config(dir.path(), &a, true, "")).await;
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // Broker IT pulls by tag: registered, pinned by the digest the tag named, signed.
    let pull_cli = ["adapter", "pull", &tag, "--url", &h.base, "--token", ADMIN];
    assert_eq!(cli(&pull_cli).await.unwrap(), 0);
    let entry = registered(&h, &module_hash(&next)).await.expect("registered");
    assert_eq!(entry["module"]["origin"], pinned.as_str(), "{entry}");
    assert_eq!(entry["module"]["source"], "oci", "{entry}");
    assert_eq!(entry["signatures"][0]["signer"], "partner-a", "{entry}");
    // Again: the same module, nothing new.
    let (status, again) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["reference"], pinned.as_str());
    assert_eq!(again["signer"], "partner-a");

    // Rehearsed against the panel's recorded operations, pulled by the CLI itself.
    let replay = [
        "adapter", "replay", &pinned, "--panel", "probe", "--url", &h.base, "--token", ADMIN,
    ];
    // The probe's `count` quote is the same in both versions: nothing changed, exit 0.
    assert_eq!(cli(&replay).await.unwrap(), 0);
    // A reference the registry does not have stops the rehearsal.
    let missing = registry.reference("partner/probe:9.9.9");
    let replay = [
        "adapter", "replay", &missing, "--panel", "probe", "--url", &h.base, "--token", ADMIN,
    ];
    let error = cli(&replay).await.expect_err("no such tag");
    assert!(format!("{error:#}").contains("has no"), "{error:#}");

    // The switch by digest; the history and the journal record the pinned reference.
    let set = [
        "panel",
        "set",
        "probe",
        "--adapter",
        &pinned,
        "--url",
        &h.base,
        "--token",
        ADMIN,
    ];
    assert_eq!(cli(&set).await.unwrap(), 0);
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    let deployed = last_deployment(&h, "probe").await;
    assert_eq!(deployed["origin"], pinned.as_str(), "{deployed}");
    assert_eq!(deployed["signer"], "partner-a", "{deployed}");
    let (_, journal) = h.admin_get("/admin/journal?panel=probe&operation=deploy").await;
    assert_eq!(journal[0]["detail"]["origin"], pinned.as_str(), "{journal}");

    // Credentials are the config's, never part of a request.
    let (status, refused) = admin(
        &h,
        Method::POST,
        "/admin/adapters/pull",
        Some(json!({ "reference": tag, "password": "hunter2" })),
    )
    .await;
    assert!(status.is_client_error(), "{status} {refused}");
    // A reference that is not one is named.
    let (status, refused) = pull(&h, "oci://127.0.0.1:1/Partner/x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(message(&refused).contains("lowercase"), "{refused}");
}

#[tokio::test]
async fn a_tag_that_moves_does_not_change_what_runs_and_a_digest_pins_it() {
    let mut registry = Registry::start(false).expect("registry");
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&host_config(dir.path(), &a, false, "")).await;
    let stable = registry.reference("partner/probe:stable");

    // `stable` names 0.2.0; the panel is switched by the tag, resolved once.
    partner_push(dir.path(), &stable, guests::PROBE_NEXT, None).await;
    let (status, switched) = switch(&h, "probe", &stable).await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    let pinned_next = last_deployment(&h, "probe").await["origin"]
        .as_str()
        .expect("the deployment's origin")
        .to_string();
    assert!(pinned_next.contains("@sha256:"), "{pinned_next}");

    // The partner moves `stable` to other content: what runs does not change.
    partner_push(dir.path(), &stable, guests::PROBE, None).await;
    let (_, moved) = manifest(&registry, "partner/probe", "stable").await;
    assert!(!pinned_next.ends_with(&moved), "the tag moved");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    // Pulling the tag now gets the new content, pinned by its own digest; still nothing switches.
    let (status, pulled) = pull(&h, &stable).await;
    assert!(status.is_success(), "{pulled}");
    assert_eq!(pulled["version"], "0.1.0");
    assert_eq!(
        pulled["reference"],
        registry.reference(&format!("partner/probe@{moved}")).as_str()
    );
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    assert_eq!(last_deployment(&h, "probe").await["origin"], pinned_next.as_str());
    let (status, _) = switch(&h, "probe", &stable).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // The digest pins the first content, registered already: switching to it needs no registry.
    registry.stop();
    let (status, switched) = switch(&h, "probe", &pinned_next).await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    assert_eq!(last_deployment(&h, "probe").await["origin"], pinned_next.as_str());
}

#[tokio::test]
async fn a_tampered_blob_is_refused_naming_the_digest_mismatch() {
    let registry = Registry::start(false).expect("registry");
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&host_config(dir.path(), &a, false, "")).await;
    let tag = registry.reference("partner/probe:0.2.0");
    partner_push(dir.path(), &tag, guests::PROBE_NEXT, None).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let layer = format!("sha256:{}", module_hash(&next));

    // Someone with the registry's storage changes the component's bytes (same length).
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).expect("the layer's blob");
    assert_eq!(bytes, next);
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();

    let (status, refused) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");
    assert_eq!(refused["error"]["code"], "registry_digest_mismatch", "{refused}");
    assert!(message(&refused).contains(&layer), "{refused}");
    assert!(message(&refused).contains("digest mismatch"), "{refused}");
    assert!(message(&refused).contains(&registry.addr), "{refused}");
    assert!(registered(&h, &module_hash(&next)).await.is_none());
    assert!(registered(&h, &module_hash(&bytes)).await.is_none());
    // A switch by the tag is refused the same way; the panel keeps its module.
    let (status, refused) = switch(&h, "probe", &tag).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // A manifest changed in the registry's storage no longer hashes to its digest: refused,
    // whether pulled by its digest or by the tag the registry files under that digest.
    std::fs::write(&file, &next).unwrap();
    let (_, digest) = manifest(&registry, "partner/probe", "0.2.0").await;
    let file = registry.blob_file(&digest);
    let text = std::fs::read_to_string(&file).expect("the manifest's blob");
    let changed = text.replacen("\"schemaVersion\":2", "\"schemaVersion\":2 ", 1);
    assert_ne!(changed, text);
    std::fs::write(&file, changed).unwrap();
    for reference in [
        registry.reference(&format!("partner/probe@{digest}")),
        tag.clone(),
    ] {
        let (status, refused) = pull(&h, &reference).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");
        assert_eq!(refused["error"]["code"], "registry_digest_mismatch", "{refused}");
        assert!(
            message(&refused).contains(&format!("manifest {digest}")),
            "{refused}"
        );
    }
    assert!(registered(&h, &module_hash(&next)).await.is_none());
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
}

#[tokio::test]
async fn the_registry_down_is_a_clear_error_and_panels_keep_serving() {
    let mut registry = Registry::start(false).expect("registry");
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&host_config(dir.path(), &a, false, "")).await;
    let tag = registry.reference("partner/probe:0.2.0");
    partner_push(dir.path(), &tag, guests::PROBE_NEXT, None).await;
    let (status, pulled) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::CREATED, "{pulled}");
    let pinned = pulled["reference"].as_str().unwrap().to_string();

    registry.stop();
    let (status, refused) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["error"]["code"], "registry_unavailable", "{refused}");
    assert!(
        message(&refused).contains(&format!("registry `{}` is unavailable", registry.addr)),
        "{refused}"
    );
    let (status, refused) = switch(&h, "probe", &tag).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    // The panel serves on, and a module pulled before switches in by its digest.
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");
    let (status, switched) = switch(&h, "probe", &pinned).await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    // The CLI says the same.
    let error = cli(&["adapter", "pull", &tag, "--url", &h.base, "--token", ADMIN])
        .await
        .expect_err("refused");
    assert!(format!("{error:#}").contains("is unavailable"), "{error:#}");
}

#[tokio::test]
async fn an_unsigned_module_pulled_for_a_panel_with_a_policy_never_serves() {
    let registry = Registry::start(false).expect("registry");
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&host_config(dir.path(), &a, true, "")).await;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();

    // Unsigned: registered, but the panel with a policy refuses it.
    let unsigned = registry.reference("partner/probe:unsigned");
    partner_push(dir.path(), &unsigned, guests::PROBE_NEXT, None).await;
    let (status, refused) = switch(&h, "probe", &unsigned).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(message(&refused).contains("is unsigned"), "{refused}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // Signed by a key the host does not know: the pull is refused, naming the annotation.
    let stranger = registry.reference("partner/probe:stranger");
    partner_push(
        dir.path(),
        &stranger,
        guests::PROBE_NEXT,
        Some(sign(&key(), &next)),
    )
    .await;
    let (status, refused) = pull(&h, &stranger).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(message(&refused).contains(oci::SIGNATURE_ANNOTATION), "{refused}");
    assert!(
        message(&refused).contains("none of the configured signers"),
        "{refused}"
    );
    assert_eq!(served_by(&h, "probe").await, "probe@0.1.0");

    // Signed by the panel's signer: the same bytes take the signature, and serve.
    let signed = registry.reference("partner/probe:signed");
    partner_push(dir.path(), &signed, guests::PROBE_NEXT, Some(sign(&a, &next))).await;
    let (status, switched) = switch(&h, "probe", &signed).await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(served_by(&h, "probe").await, "probe@0.2.0");
    let deployed = last_deployment(&h, "probe").await;
    assert_eq!(deployed["signer"], "partner-a");
    // The history names the reference the switch was made by, though the same bytes were first
    // pulled by another.
    let (_, digest) = manifest(&registry, "partner/probe", "signed").await;
    let pinned = registry.reference(&format!("partner/probe@{digest}"));
    assert_eq!(deployed["origin"], pinned.as_str(), "{deployed}");
    let entry = registered(&h, &module_hash(&next)).await.unwrap();
    assert_ne!(entry["module"]["origin"], pinned.as_str(), "{entry}");
}

#[tokio::test]
async fn registry_credentials_are_config_references_and_never_leave_the_host() {
    let registry = Registry::start(true).expect("registry");
    let (user, password, _) = registry::USER;
    let next = std::fs::read(guests::PROBE_NEXT).unwrap();
    let tag = registry.reference("partner/probe:0.2.0");
    let reference = Reference::parse(&tag).unwrap();

    // The partner's push needs the registry's credentials.
    let anonymous = oci::Client::new(&registry.addr, None, false).unwrap();
    let error = anonymous
        .push(&reference, &next, None)
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("refused access"), "{error}");
    let partner = Credentials {
        username: user.into(),
        password: password.into(),
    };
    oci::Client::new(&registry.addr, Some(partner), false)
        .unwrap()
        .push(&reference, &next, None)
        .await
        .expect("pushed with credentials");

    // A host without credentials for the registry: a clear refusal naming it.
    let a = key();
    let dir = tempfile::tempdir().unwrap();
    let h = start_with(&host_config(dir.path(), &a, false, "")).await;
    let (status, refused) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{refused}");
    assert_eq!(refused["error"]["code"], "registry_unauthorized", "{refused}");
    assert!(message(&refused).contains(&registry.addr), "{refused}");

    // With them, by reference (the password in a file), the pull works.
    let secret = dir.path().join("registry-password");
    std::fs::write(&secret, format!("{password}\n")).unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let more = format!(
        "[registries.\"{}\"]\nusername = {{ value = \"{user}\" }}\npassword = {{ file = \"{}\" }}\n",
        registry.addr,
        secret.display()
    );
    let h = start_with(&host_config(dir2.path(), &a, false, &more)).await;
    let (status, pulled) = pull(&h, &tag).await;
    assert_eq!(status, StatusCode::CREATED, "{pulled}");
    let (status, switched) = switch(&h, "probe", pulled["reference"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    // Nothing the host recorded or answered holds the password.
    let (_, journal) = h.admin_get("/admin/journal?limit=10000").await;
    let (_, adapters) = h.admin_get("/admin/adapters").await;
    let (_, history) = h.admin_get("/admin/panels/probe/deployments").await;
    for text in [
        journal.to_string(),
        adapters.to_string(),
        history.to_string(),
        pulled.to_string(),
    ] {
        assert!(!text.contains(password), "the password leaked: {text}");
    }
}
