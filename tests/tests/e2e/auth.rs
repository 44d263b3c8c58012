//! Partner auth held by the host, end to end through the compiled AAGI adapter (whose gateway
//! credential the spec leaves open) and the AAP adapter's callbacks: OAuth2 client credentials,
//! mutual TLS, HTTP signatures (HMAC-SHA256/512, RSA-SHA256), several credentials on one
//! request, and HMAC-signed callbacks. Each partner side checks its scheme as the scheme's text
//! says (`panelgate_tests::sim::auth`), and every test ends by looking for every secret it
//! configured, and every token issued, in the journal, the panels' admin view and `/metrics`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::common::*;
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use panelgate_tests::sim::auth::*;
use reqwest::StatusCode;
use serde_json::Value;

const CLIENT_SECRET: &str = "s3cret-oauth-client";
const HMAC_SECRET: &str = "s3cret-hmac-signing-key";
const API_KEY: &str = "s3cret-api-key-value";
const CALLBACK_SECRET: &str = "s3cret-callback-hmac";

async fn aagi() -> AagiSimulator {
    AagiSimulator::start(
        AagiSimConfig {
            token: Some(AAGI_TOKEN.into()),
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

/// An AAGI panel `id` at `base` whose `partner` credential is `credential` (TOML body lines),
/// with more TOML `more` after it (other credentials, `tls`).
fn aagi_panel(id: &str, base: &str, credential: &str, more: &str) -> String {
    format!(
        r#"
[panels.{id}]
adapter = "aagi-motor"
base_url = "{base}"
settings = {{ credential = "partner" }}
{more}
[panels.{id}.credentials.partner]
{credential}
"#
    )
}

async fn quote(h: &Harness, panel: &str) -> (StatusCode, Value) {
    h.post(
        &format!("/v1/panels/{panel}/quotes"),
        &example("aagi-motor", "quote"),
    )
    .await
}

/// Every place a secret must never be: the journal, the panels' admin view, `/metrics`, and
/// the answers the test collected (error bodies included).
async fn assert_no_secret(h: &Harness, answers: &[Value], secrets: &[String]) {
    let (_, journal) = h.admin_get("/admin/journal?limit=1000").await;
    let (_, panels) = h.admin_get("/admin/panels").await;
    let metrics = h
        .client
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let answers: Vec<String> = answers.iter().map(Value::to_string).collect();
    let everything = format!("{journal}\n{panels}\n{metrics}\n{}", answers.join("\n"));
    assert!(journal.as_array().is_some_and(|j| !j.is_empty()), "{journal}");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!everything.contains(secret.as_str()), "`{secret}` leaked");
    }
}

/// An AAGI panel `oauth` behind a gateway that takes the Bearer tokens of an OAuth2 server
/// issuing tokens of `lifetime` to the panel's client (`panelgate`, scope `motor`).
struct OauthHost {
    _aagi: AagiSimulator,
    tokens: TokenServer,
    gateway: Gateway,
    h: Harness,
}

async fn oauth_host(lifetime: Duration) -> OauthHost {
    let aagi = aagi().await;
    let tokens = TokenServer::start(TokenServerConfig {
        client_id: "panelgate".into(),
        client_secret: CLIENT_SECRET.into(),
        scopes: vec!["motor".into()],
        lifetime,
    })
    .await
    .unwrap();
    let gateway = Gateway::start(GatewayConfig {
        checks: vec![tokens.bearer_check()],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let credential = format!(
        r#"kind = "oauth2-client"
token_url = "{}"
client_id = {{ value = "panelgate" }}
client_secret = {{ value = "{CLIENT_SECRET}" }}
scope = "motor""#,
        tokens.token_url()
    );
    let h = start_with(&aagi_panel("oauth", &gateway.base_url(), &credential, "")).await;
    OauthHost {
        _aagi: aagi,
        tokens,
        gateway,
        h,
    }
}

#[tokio::test]
async fn oauth2_tokens_are_fetched_once_shared_cached_refreshed_and_refetched_on_a_401() {
    let OauthHost {
        tokens, gateway, h, ..
    } = oauth_host(Duration::from_secs(10)).await;
    let mut answers = Vec::new();

    // Eight callers at once before any token exists: one token request serves them all.
    let before_first = std::time::Instant::now();
    let first = futures::future::join_all((0..8).map(|_| quote(&h, "oauth"))).await;
    let after_first = std::time::Instant::now();
    for (status, body) in first {
        assert_eq!(status, StatusCode::OK, "{body}");
        answers.push(body);
    }
    let requests = tokens.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    // RFC 6749 §2.3.1: HTTP Basic is the default; the scope asked for is the configured one.
    assert_eq!(requests[0].client_auth, "basic");
    assert_eq!(requests[0].scope.as_deref(), Some("motor"));
    assert!(requests[0].error.is_none(), "{requests:?}");

    // Cached: more calls, no new token (the token is used until a tenth of its life is left).
    let (status, body) = quote(&h, "oauth").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        before_first.elapsed() < Duration::from_secs(9),
        "too slow to see the cache"
    );
    assert_eq!(tokens.requests().len(), 1);

    // Refreshed before it expires (10 s, so 1 s before): no call meets an expired token.
    tokio::time::sleep_until((after_first + Duration::from_millis(9100)).into()).await;
    let (status, body) = quote(&h, "oauth").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tokens.requests().len(), 2, "a fresh token before expiry");
    assert!(
        gateway.requests().iter().all(|r| r.refused.is_none()),
        "{:?}",
        gateway.requests()
    );

    // The server ends the token early: the partner's 401, one new token, the same call again.
    tokens.revoke_all();
    let (status, body) = quote(&h, "oauth").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(tokens.requests().len(), 3);
    let refused: Vec<_> = gateway
        .requests()
        .into_iter()
        .filter(|r| r.refused.is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].refused.as_deref().unwrap().contains("expired"),
        "{refused:?}"
    );
    answers.push(body);

    let mut secrets = vec![CLIENT_SECRET.to_string()];
    secrets.extend(tokens.issued());
    assert_eq!(tokens.issued().len(), 3);
    assert_no_secret(&h, &answers, &secrets).await;
}

/// A token endpoint that gives its token a life of `u64::MAX` seconds (RFC 6749 §5.1 bounds
/// `expires_in` nowhere): the token is kept as one that never expires, and used. (Before, the
/// host's clock overflowed adding it: the operation's task panicked, the portal got 500.)
#[tokio::test]
async fn oauth2_a_token_that_lives_longer_than_the_clock_counts_is_kept() {
    let OauthHost { tokens, h, .. } = oauth_host(Duration::from_secs(u64::MAX)).await;
    for _ in 0..2 {
        let (status, body) = quote(&h, "oauth").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(tokens.requests().len(), 1, "{:?}", tokens.requests());
}

#[tokio::test]
async fn oauth2_client_authentication_in_the_body_and_a_refused_client_is_a_clear_error() {
    let aagi = aagi().await;
    let tokens = TokenServer::start(TokenServerConfig {
        client_id: "panelgate".into(),
        client_secret: CLIENT_SECRET.into(),
        scopes: vec![],
        lifetime: Duration::from_secs(3600),
    })
    .await
    .unwrap();
    let gateway = Gateway::start(GatewayConfig {
        checks: vec![tokens.bearer_check()],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let credential = |secret: &str, method: &str| {
        format!(
            r#"kind = "oauth2-client"
token_url = "{}"
client_id = {{ value = "panelgate" }}
client_secret = {{ value = "{secret}" }}
auth_method = "{method}""#,
            tokens.token_url()
        )
    };
    let wrong = "s3cret-wrong-client-secret";
    let h = start_with(&format!(
        "{}{}",
        aagi_panel(
            "body",
            &gateway.base_url(),
            &credential(CLIENT_SECRET, "body"),
            ""
        ),
        aagi_panel("refused", &gateway.base_url(), &credential(wrong, "basic"), "")
    ))
    .await;

    let (status, ok) = quote(&h, "body").await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(tokens.requests()[0].client_auth, "body");

    // The token endpoint says `invalid_client`: the portal hears it, named, without a secret,
    // and the partner's API never saw the request.
    let before = gateway.requests().len();
    let (status, error) = quote(&h, "refused").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("token endpoint refused the client")
            && message.contains("invalid_client")
            && message.contains("credentials.partner"),
        "{message}"
    );
    assert_eq!(
        gateway.requests().len(),
        before,
        "nothing reached the partner's API"
    );
    let mut secrets = vec![CLIENT_SECRET.to_string(), wrong.to_string()];
    secrets.extend(tokens.issued());
    assert_no_secret(&h, &[ok, error], &secrets).await;
}

#[tokio::test]
async fn a_panel_presents_its_client_certificate_and_without_one_the_partner_refuses_it() {
    let aagi = aagi().await;
    let pki = TestPki::new().unwrap();
    let gateway = Gateway::start(GatewayConfig {
        checks: vec![],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: Some(pki.server_config().unwrap()),
    })
    .await
    .unwrap();
    let (certificate, key) = pki.client("panel-mtls").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client.pem"), &certificate).unwrap();
    std::fs::write(dir.path().join("client.key"), &key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).unwrap();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let none = r#"kind = "none""#;
    let with_certificate = format!(
        "tls = {{ client_certificate = {{ file = \"{}\" }}, client_key = {{ file = \"{}\" }}, ca_bundle = {{ file = \"{}\" }} }}",
        file("client.pem"),
        file("client.key"),
        file("ca.pem")
    );
    let without = format!("tls = {{ ca_bundle = {{ file = \"{}\" }} }}", file("ca.pem"));
    let h = start_with(&format!(
        "{}{}{}",
        aagi_panel("mtls", &gateway.base_url(), none, &with_certificate),
        aagi_panel("nocert", &gateway.base_url(), none, &without),
        aagi_panel("untrusted", &gateway.base_url(), none, "")
    ))
    .await;

    let (status, ok) = quote(&h, "mtls").await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(gateway.requests().len(), 1);
    assert!(
        gateway.handshake_failures().is_empty(),
        "{:?}",
        gateway.handshake_failures()
    );

    // No certificate: the partner ends the handshake, and the portal hears why.
    let (status, refused) = quote(&h, "nocert").await;
    assert!(status.is_server_error(), "{status} {refused}");
    let message = refused["error"]["message"].as_str().unwrap().to_ascii_lowercase();
    assert!(message.contains("certificate"), "{message}");
    assert!(!gateway.handshake_failures().is_empty());
    assert_eq!(gateway.requests().len(), 1, "nothing reached the partner's API");

    // Without the partner's CA, the host does not trust the partner's certificate.
    let (status, untrusted) = quote(&h, "untrusted").await;
    assert!(status.is_server_error(), "{status} {untrusted}");
    let message = untrusted["error"]["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        message.contains("certificate") || message.contains("issuer"),
        "{message}"
    );
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_no_secret(&h, &[ok, refused, untrusted], &[key_body]).await;
}

fn signature_credential(algorithm: &str, key: &str, encoding: &str, header: &str, headers: &str) -> String {
    format!(
        r#"kind = "http-signature"
key_id = "panelgate-{algorithm}"
algorithm = "{algorithm}"
{key}
encoding = "{encoding}"
header = "{header}"
headers = [{headers}]"#
    )
}

const SIGNED: &str = r#""(request-target)", "host", "date", "digest""#;
const REQUIRED: [&str; 4] = ["(request-target)", "host", "date", "digest"];

fn rule(key_id: &str, key: VerifyKey, in_authorization: bool, hex: bool) -> SignatureRule {
    SignatureRule {
        keys: HashMap::from([(key_id.to_string(), key)]),
        required: REQUIRED.map(String::from).to_vec(),
        in_authorization,
        hex,
        max_skew: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn hmac_and_rsa_signatures_verify_at_a_strict_partner() {
    let aagi = aagi().await;
    let (private_pem, public) = rsa_key();
    let gateway = |rule: SignatureRule| {
        Gateway::start(GatewayConfig {
            checks: vec![Check::Signature(rule)],
            upstream: aagi.base_url(),
            upstream_token: AAGI_TOKEN.into(),
            tls: None,
        })
    };
    let hmac256 = gateway(rule(
        "panelgate-hmac-sha256",
        VerifyKey::HmacSha256(HMAC_SECRET.into()),
        false,
        true,
    ))
    .await
    .unwrap();
    let hmac512 = gateway(rule(
        "panelgate-hmac-sha512",
        VerifyKey::HmacSha512(HMAC_SECRET.into()),
        true,
        false,
    ))
    .await
    .unwrap();
    let rsa = gateway(rule(
        "panelgate-rsa-sha256",
        VerifyKey::RsaSha256(public),
        false,
        false,
    ))
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing.pem");
    std::fs::write(&key_file, &private_pem).unwrap();
    let secret = format!("secret = {{ value = \"{HMAC_SECRET}\" }}");
    let private = format!("private_key = {{ file = \"{}\" }}", key_file.display());
    let h = start_with(&format!(
        "{}{}{}{}",
        aagi_panel(
            "sig256",
            &hmac256.base_url(),
            &signature_credential("hmac-sha256", &secret, "hex", "signature", SIGNED),
            ""
        ),
        aagi_panel(
            "sig512",
            &hmac512.base_url(),
            &signature_credential("hmac-sha512", &secret, "base64", "authorization", SIGNED),
            ""
        ),
        aagi_panel(
            "sigrsa",
            &rsa.base_url(),
            &signature_credential("rsa-sha256", &private, "base64", "signature", SIGNED),
            ""
        ),
        // Signs a header the request does not carry: refused before anything is sent.
        aagi_panel(
            "sigmissing",
            &hmac256.base_url(),
            &signature_credential(
                "hmac-sha256",
                &secret,
                "hex",
                "signature",
                r#""(request-target)", "x-partner-channel""#
            ),
            ""
        ),
    ))
    .await;

    let mut answers = Vec::new();
    for (panel, gateway) in [("sig256", &hmac256), ("sig512", &hmac512), ("sigrsa", &rsa)] {
        // Twice: each request gets its own Date and signature.
        for _ in 0..2 {
            let (status, body) = quote(&h, panel).await;
            assert_eq!(status, StatusCode::OK, "{panel}: {body} {:?}", gateway.requests());
            answers.push(body);
        }
        assert!(
            gateway.requests().iter().all(|r| r.refused.is_none()),
            "{:?}",
            gateway.requests()
        );
    }

    let before = hmac256.requests().len();
    let (status, body) = quote(&h, "sigmissing").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("x-partner-channel"), "{message}");
    assert_eq!(hmac256.requests().len(), before, "nothing was sent");
    answers.push(body);
    let key_body: String = private_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_no_secret(&h, &answers, &[HMAC_SECRET.to_string(), key_body]).await;
}

/// The simulator itself is strict: what the draft and the partner's policy refuse, it refuses.
#[tokio::test]
async fn the_signature_simulator_refuses_a_stale_date_a_wrong_signature_and_an_unsigned_header() {
    let aagi = aagi().await;
    let gateway = Gateway::start(GatewayConfig {
        checks: vec![Check::Signature(rule(
            "k",
            VerifyKey::HmacSha256(HMAC_SECRET.into()),
            false,
            false,
        ))],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/motor/quickquotes", gateway.base_url());
    let send = |secret: &str, signed: &[&str], date: SystemTime| {
        let request = signed_request(&client, &url, "{}", "k", secret, signed, date);
        let client = client.clone();
        async move {
            let response = client.execute(request).await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let now = SystemTime::now();
    // A well-signed request reaches AAGI (which finds the empty quote wanting).
    let (status, _) = send(HMAC_SECRET, &REQUIRED, now).await;
    assert_ne!(status, StatusCode::UNAUTHORIZED);
    for (secret, signed, date, why) in [
        (
            HMAC_SECRET,
            &REQUIRED[..],
            now - Duration::from_secs(600),
            "from the partner's clock",
        ),
        ("another-key", &REQUIRED[..], now, "does not verify"),
        (HMAC_SECRET, &REQUIRED[..3], now, "`digest` must be signed"),
    ] {
        let (status, body) = send(secret, signed, date).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert!(body.contains(why), "{why}: {body}");
    }
}

#[tokio::test]
async fn an_api_key_and_a_signature_over_it_go_on_one_request() {
    let aagi = aagi().await;
    let mut signature = rule(
        "panelgate-hmac-sha256",
        VerifyKey::HmacSha256(HMAC_SECRET.into()),
        false,
        false,
    );
    signature.required.push("x-api-key".into());
    let gateway = Gateway::start(GatewayConfig {
        checks: vec![
            Check::ApiKey {
                header: "x-api-key".into(),
                value: API_KEY.into(),
            },
            Check::Signature(signature),
        ],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let secret = format!("secret = {{ value = \"{HMAC_SECRET}\" }}");
    let credentials = format!(
        r#"
[panels.both.credentials.api]
kind = "api-key"
headers = {{ x-api-key = {{ value = "{API_KEY}" }} }}
[panels.both.credentials.sig]
{}"#,
        signature_credential(
            "hmac-sha256",
            &secret,
            "base64",
            "signature",
            r#""(request-target)", "host", "date", "digest", "x-api-key""#
        )
    );
    let h = start_with(&aagi_panel(
        "both",
        &gateway.base_url(),
        r#"kind = "all"
of = ["api", "sig"]"#,
        &credentials,
    ))
    .await;
    let (status, body) = quote(&h, "both").await;
    assert_eq!(status, StatusCode::OK, "{body} {:?}", gateway.requests());
    assert!(gateway.requests().iter().all(|r| r.refused.is_none()));
    assert_no_secret(&h, &[body], &[API_KEY.into(), HMAC_SECRET.into()]).await;
}

#[tokio::test]
async fn a_signature_before_another_credential_or_two_authorization_writers_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let load = |credentials: &str| {
        let text = format!(
            "{}\n[sandbox]\ncache_dir = \"{}\"\n[adapters.aagi-motor]\npath = \"{}\"\n[panels.x]\nadapter = \"aagi-motor\"\nbase_url = \"http://127.0.0.1:1\"\n{credentials}",
            bare_config(dir.path(), "127.0.0.1:0", ""),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
            panelgate_tests::guests::AAGI_MOTOR
        );
        let path = dir.path().join("panelgate.toml");
        std::fs::write(&path, text).unwrap();
        let config = panelgate::config::Config::load(&path).unwrap();
        async move {
            match panelgate::App::start(&config).await {
                Ok(_) => String::new(),
                Err(e) => format!("{e:#}"),
            }
        }
    };
    let sig = r#"[panels.x.credentials.sig]
kind = "http-signature"
key_id = "k"
algorithm = "hmac-sha256"
secret = { value = "s3cret" }"#;
    let bearer = "[panels.x.credentials.bearer]\nkind = \"bearer\"\ntoken = { value = \"t\" }";
    let basic = "[panels.x.credentials.basic]\nkind = \"basic\"\nusername = { value = \"u\" }\npassword = { value = \"p\" }";
    let error = load(&format!(
        "{sig}\n{bearer}\n[panels.x.credentials.partner]\nkind = \"all\"\nof = [\"sig\", \"bearer\"]"
    ))
    .await;
    assert!(error.contains("must come last"), "{error}");
    let error = load(&format!(
        "{basic}\n{bearer}\n[panels.x.credentials.partner]\nkind = \"all\"\nof = [\"basic\", \"bearer\"]"
    ))
    .await;
    assert!(error.contains("both write the Authorization header"), "{error}");
    let error = load("[panels.x.credentials.partner]\nkind = \"all\"\nof = [\"nowhere\"]").await;
    assert!(error.contains("no credential `nowhere`"), "{error}");
}

#[tokio::test]
async fn hmac_signed_callbacks_are_taken_once_within_their_window() {
    let h = start_with(&format!(
        r#"
[panels.H03]
adapter = "aap-h2h"
base_url = "http://127.0.0.1:9"
settings = {{ line = "life" }}
[panels.H03.credentials.partner]
kind = "basic"
username = {{ value = "{PANEL_USER}" }}
password = {{ value = "{PANEL_PASSWORD}" }}
[panels.H03.callback_auth]
kind = "hmac"
secret = {{ value = "{CALLBACK_SECRET}" }}
signature_header = "X-Signature"
signature_prefix = "v1="
timestamp_header = "X-Timestamp"
window_s = 300
"#
    ))
    .await;
    let body = r#"{"ID_Loan":"HM-1","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"P-1"}"#;
    let post = |signature: Option<String>, timestamp: Option<u64>, body: &'static str| {
        let mut request = h
            .client
            .post(h.url("/callbacks/H03/post-status"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-signature", format!("v1={signature}"));
        }
        if let Some(timestamp) = timestamp {
            request = request.header("x-timestamp", timestamp.to_string());
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let now = unix_now();
    let good = sign_callback(CALLBACK_SECRET, now, body);
    let (status, reply) = post(Some(good.clone()), Some(now), body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    // The very same signed request again (its answer lost on the way): the reply it had, and
    // not handled again (DESIGN: "same body: 200 again"; before, 401 "already used").
    let again = post(Some(good.clone()), Some(now), body).await;
    assert_eq!(again, (status, reply), "the same request again");

    let stale = now - 301;
    let refusals = [
        (post(None, Some(now), body).await, "missing `x-signature`"),
        (
            post(Some(good.clone()), None, body).await,
            "missing `x-timestamp`",
        ),
        (
            post(Some(sign_callback("another", now + 1, body)), Some(now + 1), body).await,
            "does not match",
        ),
        (
            post(Some(good.clone()), Some(now), r#"{"ID_Loan":"HM-2"}"#).await,
            "does not match",
        ),
        (
            post(
                Some(sign_callback(CALLBACK_SECRET, stale, body)),
                Some(stale),
                body,
            )
            .await,
            "300 s",
        ),
    ];
    for ((status, reply), why) in refusals {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {reply}");
        assert!(reply.contains(why), "{why}: {reply}");
    }
    // A delivery the host fails (its store cannot write: 503) was not taken: the partner's
    // retry of the very same signed request is.
    let failing = r#"{"ID_Loan":"HM-3","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"P-3"}"#;
    let signed = sign_callback(CALLBACK_SECRET, now, failing);
    let lock = lock_callbacks(&h.store_url).await;
    let (status, reply) = post(Some(signed.clone()), Some(now), failing).await;
    assert!(status.is_server_error(), "{status}: {reply}");
    lock.rollback().await.unwrap();
    let (status, reply) = post(Some(signed.clone()), Some(now), failing).await;
    assert_eq!(status, StatusCode::OK, "the retry of a failed delivery: {reply}");
    let again = post(Some(signed), Some(now), failing).await;
    assert_eq!(again, (status, reply), "the same request again");

    // A partner's retry signs again, with its own time: taken.
    let later = now + 1;
    let (status, reply) = post(
        Some(sign_callback(CALLBACK_SECRET, later, body)),
        Some(later),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");

    // Only the three callbacks handled are kept (not the same requests sent again), their
    // signature masked.
    let handled = || async {
        let (_, journal) = h.admin_get("/admin/journal?panel=H03&limit=100").await;
        journal
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["operation"] == "handle-callback")
            .count()
    };
    assert_eq!(handled().await, 3);

    // One the adapter refuses (no loan): the same refusal again for the same request, without
    // the adapter running a second time (before, 401 "already used").
    let invalid = r#"{"Status":"TAHAN","Keterangan":"Kurang KTP"}"#;
    let signed = sign_callback(CALLBACK_SECRET, now, invalid);
    let (status, reply) = post(Some(signed.clone()), Some(now), invalid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    let again = post(Some(signed), Some(now), invalid).await;
    assert_eq!(again, (status, reply), "the same request again");
    assert_eq!(handled().await, 4);
    assert_no_secret(&h, &[], &[CALLBACK_SECRET.into(), good]).await;
}

/// A host process logging at `trace`, every library included, through a token fetch in the
/// form body, a refused token and its refetch, signed requests and signed callbacks: its log
/// holds none of their secrets.
#[tokio::test]
async fn no_secret_of_any_scheme_reaches_the_hosts_trace_log() {
    let aagi = aagi().await;
    let tokens = TokenServer::start(TokenServerConfig {
        client_id: "panelgate".into(),
        client_secret: CLIENT_SECRET.into(),
        scopes: vec![],
        lifetime: Duration::from_secs(3600),
    })
    .await
    .unwrap();
    let oauth = Gateway::start(GatewayConfig {
        checks: vec![tokens.bearer_check()],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let signed = Gateway::start(GatewayConfig {
        checks: vec![Check::Signature(rule(
            "panelgate-hmac-sha256",
            VerifyKey::HmacSha256(HMAC_SECRET.into()),
            false,
            false,
        ))],
        upstream: aagi.base_url(),
        upstream_token: AAGI_TOKEN.into(),
        tls: None,
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let secret = format!("secret = {{ value = \"{HMAC_SECRET}\" }}");
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
portal_token = {{ value = "{PORTAL}" }}
admin_token = {{ value = "{ADMIN}" }}
[store]
url = "sqlite://{db}"
[sandbox]
cache_dir = "{cache}"
[adapters.aagi-motor]
path = "{aagi_path}"
[adapters.aap-h2h]
path = "{aap_path}"
{oauth_panel}{signed_panel}
[panels.H03]
adapter = "aap-h2h"
base_url = "http://127.0.0.1:9"
settings = {{ line = "life" }}
[panels.H03.credentials.partner]
kind = "none"
[panels.H03.callback_auth]
kind = "hmac"
secret = {{ value = "{CALLBACK_SECRET}" }}
signature_header = "X-Signature"
timestamp_header = "X-Timestamp"
"#,
        db = dir.path().join("panelgate.db").display(),
        cache = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm-cache"),
        aagi_path = panelgate_tests::guests::AAGI_MOTOR,
        aap_path = panelgate_tests::guests::AAP_H2H,
        oauth_panel = aagi_panel(
            "oauth",
            &oauth.base_url(),
            &format!(
                "kind = \"oauth2-client\"\ntoken_url = \"{}\"\nclient_id = {{ value = \"panelgate\" }}\nclient_secret = {{ value = \"{CLIENT_SECRET}\" }}\nauth_method = \"body\"",
                tokens.token_url()
            ),
            ""
        ),
        signed_panel = aagi_panel(
            "signed",
            &signed.base_url(),
            &signature_credential("hmac-sha256", &secret, "base64", "signature", SIGNED),
            ""
        ),
    );
    let path = dir.path().join("panelgate.toml");
    std::fs::write(&path, config).unwrap();
    let log = dir.path().join("host.log");
    let host = {
        use std::process::{Command, Stdio};
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_panelgate-host"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "trace")
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        let host = HostProcess { child };
        host.ready(&base).await;
        host
    };
    let client = reqwest::Client::new();
    let quote = |panel: &'static str| {
        let request = client
            .post(format!("{base}/v1/panels/{panel}/quotes"))
            .bearer_auth(PORTAL)
            .json(&example("aagi-motor", "quote"));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(quote("oauth").await, StatusCode::OK);
    tokens.revoke_all();
    assert_eq!(quote("oauth").await, StatusCode::OK, "refetched after the 401");
    assert_eq!(quote("signed").await, StatusCode::OK);
    let body = r#"{"ID_Loan":"LOG-1","Status":"TAHAN","Keterangan":"Kurang KTP","No_Polis":"P-1"}"#;
    let now = unix_now();
    for _ in 0..2 {
        let status = client
            .post(format!("{base}/callbacks/H03/post-status"))
            .header("content-type", "application/json")
            .header("x-signature", sign_callback(CALLBACK_SECRET, now, body))
            .header("x-timestamp", now.to_string())
            .body(body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status == StatusCode::OK || status == StatusCode::UNAUTHORIZED);
    }
    drop(host);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("OAuth2 token requested"), "the log is the host's");
    let mut secrets = vec![
        CLIENT_SECRET.to_string(),
        HMAC_SECRET.into(),
        CALLBACK_SECRET.into(),
    ];
    secrets.extend(tokens.issued());
    assert_eq!(tokens.issued().len(), 2);
    for secret in secrets {
        assert!(!text.contains(&secret), "`{secret}` is in the host's log");
    }
}

/// A transaction on the host's store holding the write lock on its callback records, as another
/// process would: every commit keeping a callback fails meanwhile (after the store's lock wait).
async fn lock_callbacks(url: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let lock = if url.starts_with("sqlite://") {
        // Any write takes SQLite's one write lock.
        "DELETE FROM callbacks WHERE id = ''"
    } else {
        "LOCK TABLE callbacks IN ACCESS EXCLUSIVE MODE"
    };
    sqlx::query(lock).execute(&mut *tx).await.unwrap();
    tx
}
