//! The partner's side of each auth scheme, as strict as the scheme's own text:
//!
//! - [`TokenServer`]: an OAuth 2.0 authorization server for the client credentials grant
//!   (RFC 6749 §4.4), with both client authentication methods of §2.3.1.
//! - [`Gateway`]: the partner's API gateway in front of a partner simulator. It checks what its
//!   [`Check`]s require (a Bearer token the token server issued, RFC 6750; an API key; an HTTP
//!   signature, draft-cavage-http-signatures-12; over TLS, a client certificate), refuses with
//!   401 and the scheme's challenge, and hands what passes to the simulator behind it with the
//!   credential that simulator wants (as a gateway holds the backend's own credential).
//! - [`TestPki`]: a CA, server and client certificates made at run time (rcgen).
//! - [`sign_callback`]: a partner signing a callback with HMAC-SHA256 over `{timestamp}.{body}`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest as _, Sha256, Sha512};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// OAuth 2.0 authorization server

pub struct TokenServerConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The scopes the client may ask for; a request for another is `invalid_scope` (§5.2).
    pub scopes: Vec<String>,
    /// `expires_in` of the tokens issued.
    pub lifetime: Duration,
}

/// One token request as the server saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `basic`, `body`, or `none`.
    pub client_auth: &'static str,
    pub scope: Option<String>,
    /// The error of §5.2 it was answered with; `None` when a token was issued.
    pub error: Option<String>,
}

struct TokenState {
    /// Tokens issued and when each expires.
    tokens: HashMap<String, Instant>,
    requests: Vec<TokenRequest>,
    lifetime: Duration,
}

pub struct TokenShared {
    config: TokenServerConfig,
    state: Mutex<TokenState>,
}

pub struct TokenServer {
    shared: Arc<TokenShared>,
    base_url: String,
}

impl TokenServer {
    pub async fn start(config: TokenServerConfig) -> anyhow::Result<TokenServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(TokenShared {
            state: Mutex::new(TokenState {
                tokens: HashMap::new(),
                requests: Vec::new(),
                lifetime: config.lifetime,
            }),
            config,
        });
        let router = Router::new()
            .route("/oauth/token", post(token))
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(TokenServer { shared, base_url })
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> Vec<String> {
        lock(&self.shared.state).tokens.keys().cloned().collect()
    }

    /// Ends every token now, before its `expires_in`: as a server that revokes them.
    pub fn revoke_all(&self) {
        for expiry in lock(&self.shared.state).tokens.values_mut() {
            *expiry = Instant::now();
        }
    }

    /// A [`Check`] of the Bearer tokens this server issues.
    pub fn bearer_check(&self) -> Check {
        Check::Bearer(self.shared.clone())
    }
}

impl TokenShared {
    /// RFC 6750 §3.1: `invalid_token` for a token that is unknown or expired.
    fn valid(&self, token: &str) -> bool {
        lock(&self.state)
            .tokens
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry)
    }
}

/// RFC 6749 §5.2's error answer; 401 with a challenge for a client that tried Basic.
fn token_error(status: StatusCode, error: &str, description: &str, basic: bool) -> Response {
    let mut response = (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if basic {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"token\""),
        );
    }
    response
}

/// RFC 6749 Appendix B: each of the client id and secret is form-urlencoded before Basic.
fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(State(shared): State<Arc<TokenShared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (client_auth, scope, answer) = issue(&shared, &headers, &body);
    let error = (!answer.status().is_success()).then(|| answer.status().to_string());
    lock(&shared.state).requests.push(TokenRequest {
        client_auth,
        scope,
        error,
    });
    answer
}

fn issue(shared: &TokenShared, headers: &HeaderMap, body: &[u8]) -> (&'static str, Option<String>, Response) {
    let config = &shared.config;
    // §4.4.2: the parameters in the `application/x-www-form-urlencoded` format.
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let bad = |error, description: &str| token_error(StatusCode::BAD_REQUEST, error, description, false);
    if !form_type {
        return (
            "none",
            None,
            bad(
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            ),
        );
    }
    let mut params: HashMap<String, String> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        // §3.2: no parameter more than once.
        if params.insert(name.to_string(), value.to_string()).is_some() {
            return ("none", None, bad("invalid_request", "a parameter is repeated"));
        }
    }
    let scope = params.get("scope").cloned();
    let in_body = (params.get("client_id"), params.get("client_secret"));
    // §2.3: a client uses one authentication method per request.
    let (method, client) = match (basic, in_body) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return (
                "basic",
                scope,
                bad("invalid_request", "more than one client authentication method"),
            );
        }
        (Some(encoded), _) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(id, secret)| (form_decode(id), form_decode(secret)))
                });
            ("basic", decoded)
        }
        (None, (Some(id), Some(secret))) => ("body", Some((id.clone(), secret.clone()))),
        (None, _) => ("none", None),
    };
    let authenticated =
        client.is_some_and(|(id, secret)| id == config.client_id && secret == config.client_secret);
    if !authenticated {
        let answer = token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
            method == "basic",
        );
        return (method, scope, answer);
    }
    match params.get("grant_type").map(String::as_str) {
        None => return (method, scope, bad("invalid_request", "grant_type is missing")),
        Some("client_credentials") => {}
        Some(_) => {
            return (
                method,
                scope,
                bad("unsupported_grant_type", "only client_credentials"),
            );
        }
    }
    if let Some(asked) = &scope
        && !asked
            .split(' ')
            .all(|s| config.scopes.iter().any(|allowed| allowed == s))
    {
        return (
            method,
            scope,
            bad("invalid_scope", "a scope the client may not have"),
        );
    }
    let token = format!("at-{}", uuid::Uuid::new_v4().simple());
    let lifetime = {
        let mut state = lock(&shared.state);
        let lifetime = state.lifetime;
        // A life past what the clock can add never ends.
        let now = Instant::now();
        let expiry = now
            .checked_add(lifetime)
            .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
        state.tokens.insert(token.clone(), expiry);
        lifetime
    };
    // §5.1: the token, its type and life, never cached.
    let answer = (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        axum::Json(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
        })),
    )
        .into_response();
    (method, scope, answer)
}

// ---------------------------------------------------------------------------------------------
// The partner's gateway

/// The key a signature verifies with, by algorithm.
pub enum VerifyKey {
    HmacSha256(String),
    HmacSha512(String),
    /// The public key as PKCS#1 `RSAPublicKey` DER.
    RsaSha256(Vec<u8>),
}

impl VerifyKey {
    fn algorithm(&self) -> &'static str {
        match self {
            VerifyKey::HmacSha256(_) => "hmac-sha256",
            VerifyKey::HmacSha512(_) => "hmac-sha512",
            VerifyKey::RsaSha256(_) => "rsa-sha256",
        }
    }
}

/// How the partner reads a signature.
pub struct SignatureRule {
    /// Keys by `keyId`.
    pub keys: HashMap<String, VerifyKey>,
    /// What every signature must cover (the partner's policy).
    pub required: Vec<String>,
    /// `true`: `Authorization: Signature ...` (draft §3.1); `false`: the `Signature` header (§4.1).
    pub in_authorization: bool,
    /// `true`: the signature is hex; `false`: base64, as the draft writes it.
    pub hex: bool,
    /// How far `Date` may be from the partner's clock.
    pub max_skew: Duration,
}

/// What the gateway requires of a request; all must pass.
pub enum Check {
    /// A Bearer token (RFC 6750 §2.1) the token server issued and has not expired.
    Bearer(Arc<TokenShared>),
    /// An API key in a header.
    ApiKey {
        header: String,
        value: String,
    },
    Signature(SignatureRule),
}

pub struct GatewayConfig {
    pub checks: Vec<Check>,
    /// The partner simulator behind the gateway.
    pub upstream: String,
    /// The Bearer token the simulator behind wants.
    pub upstream_token: String,
    /// Served over TLS with this config (which may require a client certificate).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// A request as the gateway judged it.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub path: String,
    /// Why it was refused; `None` when it was passed on.
    pub refused: Option<String>,
}

#[derive(Default)]
struct GatewayState {
    requests: Vec<GatewayRequest>,
    handshake_failures: Vec<String>,
}

pub struct GatewayShared {
    config: GatewayConfig,
    state: Mutex<GatewayState>,
    client: reqwest::Client,
}

pub struct Gateway {
    shared: Arc<GatewayShared>,
    pub addr: SocketAddr,
}

impl Gateway {
    pub async fn start(config: GatewayConfig) -> anyhow::Result<Gateway> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let tls = config.tls.clone();
        let shared = Arc::new(GatewayShared {
            config,
            state: Mutex::default(),
            client: reqwest::Client::new(),
        });
        let router = Router::new().fallback(any(gateway)).with_state(shared.clone());
        match tls {
            None => {
                tokio::spawn(async move { axum::serve(listener, router).await });
            }
            Some(tls) => {
                let state = shared.clone();
                tokio::spawn(serve_tls(
                    listener,
                    tokio_rustls::TlsAcceptor::from(tls),
                    router,
                    state,
                ));
            }
        }
        Ok(Gateway { shared, addr })
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` over TLS (the name its certificate
    /// carries).
    pub fn base_url(&self) -> String {
        match self.shared.config.tls {
            None => format!("http://{}", self.addr),
            Some(_) => format!("https://localhost:{}", self.addr.port()),
        }
    }

    pub fn requests(&self) -> Vec<GatewayRequest> {
        lock(&self.shared.state).requests.clone()
    }

    /// TLS handshakes the gateway refused, with rustls's reason.
    pub fn handshake_failures(&self) -> Vec<String> {
        lock(&self.shared.state).handshake_failures.clone()
    }
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    router: Router,
    shared: Arc<GatewayShared>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (acceptor, router, shared) = (acceptor.clone(), router.clone(), shared.clone());
        tokio::spawn(async move {
            match acceptor.accept(tcp).await {
                Ok(stream) => {
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                }
                Err(e) => lock(&shared.state).handshake_failures.push(e.to_string()),
            }
        });
    }
}

fn unauthorized(challenge: &str, reason: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "code": "401", "message": reason })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn gateway(State(shared): State<Arc<GatewayShared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 32 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path().to_string();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .to_string();
    for check in &shared.config.checks {
        if let Err((challenge, reason)) = check.verify(parts.method.as_str(), &target, &parts.headers, &body)
        {
            lock(&shared.state).requests.push(GatewayRequest {
                path,
                refused: Some(reason.clone()),
            });
            return unauthorized(&challenge, &reason);
        }
    }
    lock(&shared.state)
        .requests
        .push(GatewayRequest { path, refused: None });
    forward(&shared, parts.method, &target, &parts.headers, body).await
}

/// Hands the request to the simulator behind, with the credential it wants instead of the
/// ones the gateway checked.
async fn forward(
    shared: &GatewayShared,
    method: axum::http::Method,
    target: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let config = &shared.config;
    let mut outgoing = shared
        .client
        .request(method, format!("{}{target}", config.upstream))
        .bearer_auth(&config.upstream_token)
        .body(body);
    for (name, value) in headers {
        let checked = [
            "host",
            "authorization",
            "content-length",
            "signature",
            "digest",
            "connection",
        ];
        if !checked.contains(&name.as_str()) {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let status = answer.status();
            let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(content_type) = content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, content_type);
            }
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

type Refused = (String, String);

impl Check {
    fn verify(&self, method: &str, target: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), Refused> {
        match self {
            Check::Bearer(server) => {
                // RFC 6750 §3: no token is a bare challenge; a bad one says `invalid_token`.
                let given = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                match given {
                    None => Err(("Bearer realm=\"partner\"".into(), "no Bearer token".into())),
                    Some(token) if server.valid(token) => Ok(()),
                    Some(_) => Err((
                        "Bearer realm=\"partner\", error=\"invalid_token\"".into(),
                        "the access token is unknown or expired".into(),
                    )),
                }
            }
            Check::ApiKey { header, value } => {
                let given = headers.get(header.as_str()).and_then(|v| v.to_str().ok());
                if given == Some(value.as_str()) {
                    Ok(())
                } else {
                    Err(("ApiKey".into(), format!("`{header}` is missing or wrong")))
                }
            }
            Check::Signature(rule) => rule.verify(method, target, headers, body).map_err(|reason| {
                let challenge = format!(
                    "Signature realm=\"partner\",headers=\"{}\"",
                    rule.required.join(" ")
                );
                (challenge, reason)
            }),
        }
    }
}

impl SignatureRule {
    /// draft-cavage-http-signatures-12 §2.5: the parameters parsed, the signing string rebuilt
    /// from the request as received, the signature verified with the key `keyId` names; and
    /// the partner's policy: the headers it requires signed, a fresh `Date`, a `Digest` that
    /// is the body's.
    fn verify(&self, method: &str, target: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        let text = if self.in_authorization {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Signature "))
                .ok_or("no `Authorization: Signature` header")?
        } else {
            headers
                .get("signature")
                .and_then(|v| v.to_str().ok())
                .ok_or("no `Signature` header")?
        };
        let params = parameters(text)?;
        let key_id = params.get("keyId").ok_or("no keyId")?;
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| format!("unknown keyId `{key_id}`"))?;
        // §2.5: an algorithm that does not match the key's is an error.
        if let Some(algorithm) = params.get("algorithm")
            && algorithm != key.algorithm()
        {
            return Err(format!("algorithm `{algorithm}` is not the key's"));
        }
        // §2.1.6: without `headers` only `(created)` is signed, which these algorithms refuse.
        let signed: Vec<String> = params
            .get("headers")
            .ok_or("no headers parameter")?
            .split(' ')
            .map(str::to_ascii_lowercase)
            .collect();
        for required in &self.required {
            if !signed.contains(required) {
                return Err(format!("`{required}` must be signed"));
            }
        }
        let mut lines = Vec::new();
        for name in &signed {
            if name == "(request-target)" {
                lines.push(format!(
                    "(request-target): {} {target}",
                    method.to_ascii_lowercase()
                ));
                continue;
            }
            let values: Vec<&str> = headers
                .get_all(name.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .collect();
            if values.is_empty() {
                return Err(format!("signed header `{name}` is missing"));
            }
            lines.push(format!("{name}: {}", values.join(", ")));
        }
        let date = headers
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .ok_or("no Date")?;
        let date = httpdate::parse_http_date(date).map_err(|_| format!("`{date}` is no HTTP date"))?;
        let skew = match SystemTime::now().duration_since(date) {
            Ok(age) => age,
            Err(ahead) => ahead.duration(),
        };
        if skew > self.max_skew {
            return Err(format!("Date is {} s from the partner's clock", skew.as_secs()));
        }
        if let Some(digest) = headers.get("digest").and_then(|v| v.to_str().ok()) {
            let expected = format!(
                "SHA-256={}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
            );
            if digest != expected {
                return Err("Digest is not the body's".into());
            }
        }
        let given = params.get("signature").ok_or("no signature")?;
        let given = if self.hex {
            hex::decode(given).map_err(|_| "signature is not hex")?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(given)
                .map_err(|_| "signature is not base64")?
        };
        let signing = lines.join("\n");
        let good = match key {
            VerifyKey::HmacSha256(secret) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
                mac.update(signing.as_bytes());
                mac.verify_slice(&given).is_ok()
            }
            VerifyKey::HmacSha512(secret) => {
                let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).expect("any key");
                mac.update(signing.as_bytes());
                mac.verify_slice(&given).is_ok()
            }
            VerifyKey::RsaSha256(public) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
                    .verify(signing.as_bytes(), &given)
                    .is_ok()
            }
        };
        if good {
            Ok(())
        } else {
            Err("the signature does not verify".into())
        }
    }
}

/// §4.1's `name="value"` parameters, comma-separated.
fn parameters(text: &str) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=').ok_or("a parameter without `=`")?;
        let after = after
            .strip_prefix('"')
            .ok_or("a parameter value without quotes")?;
        let end = after.find('"').ok_or("an unterminated parameter value")?;
        if params
            .insert(name.trim().to_string(), after[..end].to_string())
            .is_some()
        {
            return Err(format!("`{}` given twice", name.trim()));
        }
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(params)
}

/// A request signed as draft-cavage-http-signatures-12 says, for checking the gateway itself:
/// the `Signature` header over `headers` (already set on `request`, except the ones listed
/// here: `date` is `date`, `digest` the body's), HMAC-SHA256 in base64.
pub fn signed_request(
    client: &reqwest::Client,
    url: &str,
    body: &str,
    key_id: &str,
    secret: &str,
    signed: &[&str],
    date: SystemTime,
) -> reqwest::Request {
    let mut request = client
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::DATE, httpdate::fmt_http_date(date))
        .header(
            "digest",
            format!(
                "SHA-256={}",
                base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body.as_bytes()))
            ),
        )
        .body(body.to_string())
        .build()
        .expect("a request");
    let url = request.url().clone();
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port().unwrap_or(80)
    );
    request
        .headers_mut()
        .insert(header::HOST, host.parse().expect("host"));
    let lines: Vec<String> = signed
        .iter()
        .map(|name| match *name {
            "(request-target)" => format!("(request-target): post {}", url.path()),
            name => format!("{name}: {}", request.headers()[name].to_str().expect("text")),
        })
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(lines.join("\n").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let value = format!(
        "keyId=\"{key_id}\",algorithm=\"hmac-sha256\",headers=\"{}\",signature=\"{signature}\"",
        signed.join(" ")
    );
    request
        .headers_mut()
        .insert("signature", value.parse().expect("header"));
    request
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// A CA that issues the gateway's server certificate and the panels' client certificates.
pub struct TestPki {
    pub ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl TestPki {
    pub fn new() -> anyhow::Result<TestPki> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "panelgate test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let certificate = params.self_signed(&key)?;
        Ok(TestPki {
            ca_pem: certificate.pem(),
            ca_der: certificate.der().clone(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// A certificate for `names` with `usage`, and its key: both PEM.
    fn issue(
        &self,
        names: &[&str],
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> anyhow::Result<(String, String)> {
        let key = rcgen::KeyPair::generate()?;
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            names.first().copied().unwrap_or("client"),
        );
        params.extended_key_usages = vec![usage];
        let certificate = params.signed_by(&key, &self.issuer)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }

    /// A client certificate and its key (PEM), for a panel to present.
    pub fn client(&self, name: &str) -> anyhow::Result<(String, String)> {
        self.issue(&[name], rcgen::ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// The gateway's TLS: a certificate for `localhost`, and a client certificate this CA
    /// issued required of every connection.
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        use rustls::pki_types::pem::PemObject as _;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (certificate, key) = self.issue(&["localhost"], rcgen::ExtendedKeyUsagePurpose::ServerAuth)?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .context("client verifier")?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![rustls::pki_types::CertificateDer::from_pem_slice(
                    certificate.as_bytes(),
                )?],
                rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())?,
            )?;
        Ok(Arc::new(config))
    }
}

/// A 2048-bit RSA key made now by `openssl genpkey`: its PKCS#8 PEM for the host, its public
/// half (PKCS#1 DER) for the partner. (ring verifies and signs RSA but does not make keys.)
pub fn rsa_key() -> (String, Vec<u8>) {
    let output = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("the auth tests make an RSA key with the `openssl` command");
    assert!(
        output.status.success(),
        "openssl genpkey: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pem = String::from_utf8(output.stdout).expect("PEM");
    let der = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<String>();
    let der = base64::engine::general_purpose::STANDARD
        .decode(der)
        .expect("base64");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key");
    use ring::signature::KeyPair as _;
    (pem, pair.public_key().as_ref().to_vec())
}

// ---------------------------------------------------------------------------------------------
// Callbacks

/// The partner's signature of a callback: hex HMAC-SHA256 of `{timestamp}.{body}`.
pub fn sign_callback(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
