//! Adapters as OCI artifacts, in the layout the component tooling uses (wkg, wasm-pkg-tools, the
//! CNCF Wasm OCI artifact layout): an image manifest whose config is
//! `application/vnd.wasm.config.v0+json` and whose one layer, `application/wasm`, is the
//! component. panelgate's signature travels as a manifest annotation
//! ([`SIGNATURE_ANNOTATION`]), so the layer stays the one layer other tools expect, and the
//! signature is covered by the manifest's digest like everything else in it.
//!
//! The client speaks the distribution API itself over reqwest (the host's own HTTP client):
//! four endpoints (a manifest, a blob, an upload, a token), Basic or Bearer-token auth. The
//! `oci-client` crate would add a dozen crates for the same calls, and the host must check every
//! digest itself anyway: a registry is trusted for nothing but bytes.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config's media type in the component tooling's layout.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer that holds the component.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The manifest annotation that carries the panelgate signature (base64 Ed25519, the same text
/// as a `.sig` file) of the layer's SHA-256, which is the module's registry hash.
pub const SIGNATURE_ANNOTATION: &str = "dev.panelgate.signature";
/// The scheme of a reference.
pub const SCHEME: &str = "oci://";

/// The largest manifest the host reads: a manifest is a few hundred bytes.
const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// The most of a registry's error or token answer read: what is said there fits in far less,
/// and a registry that streams on must not take the host's memory.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

/// `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port`.
    pub registry: String,
    /// `namespace/name`, lowercase, as the distribution spec allows.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:` and 64 lowercase hex digits: the manifest's digest.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let rest = text
            .trim()
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("`{text}` is not an OCI reference: give oci://REGISTRY/NAMESPACE/NAME:TAG or ...@sha256:DIGEST"))?;
        let (rest, digest) = match rest.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest)?;
                (rest, Some(digest.to_string()))
            }
            None => (rest, None),
        };
        let (registry, path) = rest.split_once('/').ok_or_else(|| {
            format!("`{text}`: no repository after the registry (oci://REGISTRY/NAMESPACE/NAME:TAG)")
        })?;
        if registry.is_empty()
            || !registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(format!("`{text}`: `{registry}` is not a registry host[:port]"));
        }
        // A tag follows the last `:` of the last path segment (a port has its `:` before the
        // first `/`).
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (path, None),
        };
        for part in repository.split('/') {
            let ok = !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
                && part.starts_with(|c: char| c.is_ascii_alphanumeric())
                && part.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(format!(
                    "`{text}`: repository `{repository}`: each part is lowercase letters and digits, separated by `.`, `_` or `-`"
                ));
            }
        }
        if let Some(tag) = &tag {
            let ok = (1..=128).contains(&tag.len())
                && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !ok {
                return Err(format!(
                    "`{text}`: tag `{tag}`: at most 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
                ));
            }
        }
        if tag.is_none() && digest.is_none() {
            return Err(format!(
                "`{text}`: give a tag (`:1.2.0`) or a digest (`@sha256:...`)"
            ));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// The reference pinned to manifest `digest`: what the registry and the history record.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{SCHEME}{}/{}@{digest}", self.registry, self.repository)
    }

    /// What the manifest is fetched by: the digest when given, else the tag.
    fn target(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or_default()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "digest `{digest}`: give `sha256:` and 64 lowercase hex digits"
        )),
    }
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Why a registry call failed. Each names the registry; none holds a credential.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// Not reachable, or answering 5xx: try again later; nothing changed.
    #[error("registry `{registry}` is unavailable: {detail}")]
    Unavailable { registry: String, detail: String },
    /// 401 or 403 with the credentials the host holds for it (or without any).
    #[error("registry `{registry}` refused access: {detail}")]
    Unauthorized { registry: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    /// What the registry served does not hash to the digest that names it.
    #[error("{0}")]
    DigestMismatch(String),
    /// The artifact is not an adapter in the layout the host takes.
    #[error("{0}")]
    NotAnAdapter(String),
    /// Any other answer the protocol does not allow.
    #[error("registry `{registry}`: {detail}")]
    Protocol { registry: String, detail: String },
}

/// A user name and password for a registry; never printed.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: std::collections::BTreeMap<String, String>,
}

/// What a pull fetched, every digest checked.
pub struct Pulled {
    /// The manifest's digest, `sha256:...`.
    pub digest: String,
    /// The component's bytes.
    pub module: Vec<u8>,
    /// The panelgate signature the manifest carries, if any.
    pub signature: Option<String>,
}

/// One registry, with the credentials the host (or the partner's CLI) holds for it.
pub struct Client {
    http: reqwest::Client,
    registry: String,
    base: url::Url,
    credentials: Option<Credentials>,
    /// The `Authorization` that worked last, sent first next time.
    auth: std::sync::Mutex<Option<HeaderValue>>,
}

/// Whether a registry address is on this machine: those speak plain http without `insecure`.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client for `registry` (`host[:port]`): https, or plain http when `insecure` or when the
    /// registry is on loopback.
    pub fn new(registry: &str, credentials: Option<Credentials>, insecure: bool) -> Result<Client, OciError> {
        let scheme = if insecure || is_loopback(registry) {
            "http"
        } else {
            "https"
        };
        let base = url::Url::parse(&format!("{scheme}://{registry}/")).map_err(|e| OciError::Protocol {
            registry: registry.into(),
            detail: format!("not a registry address: {e}"),
        })?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            // Redirects to blob storage keep no Authorization (reqwest drops it across hosts).
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| OciError::Protocol {
                registry: registry.into(),
                detail: format!("building the client: {e}"),
            })?;
        Ok(Client {
            http,
            registry: registry.to_string(),
            base,
            credentials,
            auth: std::sync::Mutex::new(None),
        })
    }

    fn unavailable(&self, detail: impl fmt::Display) -> OciError {
        OciError::Unavailable {
            registry: self.registry.clone(),
            detail: detail.to_string(),
        }
    }

    fn protocol(&self, detail: impl fmt::Display) -> OciError {
        OciError::Protocol {
            registry: self.registry.clone(),
            detail: detail.to_string(),
        }
    }

    fn url(&self, path: &str) -> Result<url::Url, OciError> {
        self.base
            .join(path)
            .map_err(|e| self.protocol(format!("URL `{path}`: {e}")))
    }

    /// Sends the request `build` makes, answering the registry's auth challenge once (Basic, or
    /// a Bearer token for `scope` from the realm it names).
    async fn send(
        &self,
        scope: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OciError> {
        let cached = self.auth.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut request = build(&self.http);
        if let Some(auth) = &cached {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.checked(response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let auth = self.authorize(&challenge, scope).await?;
        let response = build(&self.http)
            .header(AUTHORIZATION, auth.clone())
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.refused(&response));
        }
        *self.auth.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth);
        self.checked(response)
    }

    fn transport(&self, e: reqwest::Error) -> OciError {
        // The cause without the URL's query (an upload's state token).
        let what = if e.is_connect() {
            "cannot connect"
        } else if e.is_timeout() {
            "no answer in time"
        } else {
            "the connection failed"
        };
        // The innermost cause says most ("Connection refused (os error 111)").
        let mut source = std::error::Error::source(&e);
        let mut innermost = None;
        while let Some(s) = source {
            innermost = Some(s.to_string());
            source = s.source();
        }
        let cause = innermost.map(|s| format!(" ({s})")).unwrap_or_default();
        self.unavailable(format!("{what}{cause}"))
    }

    fn refused(&self, response: &reqwest::Response) -> OciError {
        OciError::Unauthorized {
            registry: self.registry.clone(),
            detail: format!(
                "{} {}",
                response.status(),
                if self.credentials.is_some() {
                    "with the credentials configured for it (registries.\"HOST:PORT\")"
                } else {
                    "and no credentials are configured for it (registries.\"HOST:PORT\")"
                }
            ),
        }
    }

    /// A 5xx is the registry being down; a 403 is a refusal.
    fn checked(&self, response: reqwest::Response) -> Result<reqwest::Response, OciError> {
        let status = response.status();
        if status.is_server_error() {
            return Err(self.unavailable(format!("it answered {status}")));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(self.refused(&response));
        }
        Ok(response)
    }

    async fn authorize(&self, challenge: &str, scope: &str) -> Result<HeaderValue, OciError> {
        let basic = || {
            self.credentials.as_ref().map(|c| {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password));
                format!("Basic {token}")
            })
        };
        let scheme_is = |name: &str| {
            challenge
                .get(..name.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(name))
        };
        let value = if scheme_is("basic") {
            basic().ok_or_else(|| OciError::Unauthorized {
                registry: self.registry.clone(),
                detail: "it asks for a user name and password, and none are configured for it (registries.\"HOST:PORT\")".into(),
            })?
        } else if scheme_is("bearer") {
            format!("Bearer {}", self.token(&challenge[6..], scope, basic()).await?)
        } else {
            return Err(self.protocol(format!(
                "401 with an auth challenge the host does not speak: `{challenge}`"
            )));
        };
        HeaderValue::from_str(&value)
            .map_err(|_| self.protocol("credentials that are not a valid header value"))
    }

    /// A token from the realm a Bearer challenge names (the distribution token protocol).
    async fn token(&self, params: &str, scope: &str, basic: Option<String>) -> Result<String, OciError> {
        let params = challenge_params(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.protocol("a Bearer challenge without a realm"))?;
        let mut url =
            url::Url::parse(&realm).map_err(|e| self.protocol(format!("token realm `{realm}`: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", scope);
        }
        let mut request = self.http.get(url);
        if let Some(basic) = basic {
            request = request.header(AUTHORIZATION, basic);
        }
        let response = request.send().await.map_err(|e| self.transport(e))?;
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(self.refused(&response));
        }
        let response = self.checked(response)?;
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let body = self.read(response, MAX_ANSWER_BYTES, "the token answer").await?;
        let token: Token =
            serde_json::from_slice(&body).map_err(|e| self.protocol(format!("the token answer: {e}")))?;
        token
            .token
            .or(token.access_token)
            .ok_or_else(|| self.protocol("the token answer has no token"))
    }

    /// Pushes `module` (with its panelgate `signature`, if any) to `reference`'s tag; the
    /// manifest's digest.
    pub async fn push(
        &self,
        reference: &Reference,
        module: &[u8],
        signature: Option<&str>,
    ) -> Result<String, OciError> {
        let tag = reference.tag.as_deref().ok_or_else(|| {
            OciError::NotFound(format!(
                "{reference}: a push needs a tag (oci://REGISTRY/NAMESPACE/NAME:TAG)"
            ))
        })?;
        let scope = format!("repository:{}:pull,push", reference.repository);
        let layer = Descriptor {
            media_type: LAYER_MEDIA_TYPE.into(),
            digest: digest_of(module),
            size: module.len() as u64,
        };
        let created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        // The config of the Wasm OCI artifact layout; `component` (the WIT world's imports and
        // exports) is optional there and left out.
        let config = serde_json::to_vec(&serde_json::json!({
            "created": created,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer.digest],
        }))
        .unwrap_or_default();
        let config_descriptor = Descriptor {
            media_type: CONFIG_MEDIA_TYPE.into(),
            digest: digest_of(&config),
            size: config.len() as u64,
        };
        self.upload(reference, &scope, &config_descriptor.digest, Bytes::from(config))
            .await?;
        self.upload(reference, &scope, &layer.digest, Bytes::copy_from_slice(module))
            .await?;
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert("org.opencontainers.image.created".to_string(), created);
        if let Some(signature) = signature {
            annotations.insert(SIGNATURE_ANNOTATION.to_string(), signature.trim().to_string());
        }
        let manifest = serde_json::to_vec(&Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.into()),
            config: config_descriptor,
            layers: vec![layer],
            annotations,
        })
        .unwrap_or_default();
        let digest = digest_of(&manifest);
        let url = self.url(&format!("v2/{}/manifests/{tag}", reference.repository))?;
        let manifest = Bytes::from(manifest);
        let response = self
            .send(&scope, |http| {
                http.put(url.clone())
                    .header(CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
                    .body(manifest.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.answer_error("putting the manifest", response).await);
        }
        Ok(digest)
    }

    /// Uploads one blob unless the registry has it (monolithic upload: POST, then PUT).
    async fn upload(
        &self,
        reference: &Reference,
        scope: &str,
        digest: &str,
        bytes: Bytes,
    ) -> Result<(), OciError> {
        let repo = &reference.repository;
        let head = self.url(&format!("v2/{repo}/blobs/{digest}"))?;
        let response = self.send(scope, |http| http.head(head.clone())).await?;
        if response.status() == StatusCode::OK {
            return Ok(());
        }
        let start = self.url(&format!("v2/{repo}/blobs/uploads/"))?;
        let response = self.send(scope, |http| http.post(start.clone())).await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.answer_error("starting an upload", response).await);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol("an upload without a Location"))?;
        let mut put = self
            .base
            .join(location)
            .map_err(|e| self.protocol(format!("upload Location: {e}")))?;
        put.query_pairs_mut().append_pair("digest", digest);
        let response = self
            .send(scope, |http| {
                http.put(put.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self
                .answer_error(&format!("uploading blob {digest}"), response)
                .await);
        }
        Ok(())
    }

    async fn answer_error(&self, what: &str, response: reqwest::Response) -> OciError {
        let status = response.status();
        let body = self
            .read(response, MAX_ANSWER_BYTES, what)
            .await
            .unwrap_or_default();
        let body: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        self.protocol(format!("{what}: {status} {}", body.trim()))
    }

    /// Pulls the adapter `reference` names: the manifest (its digest checked against the
    /// reference's, when it has one), then the component layer (its digest and size checked
    /// against the manifest's), refusing a module over `max_bytes`.
    pub async fn pull(&self, reference: &Reference, max_bytes: usize) -> Result<Pulled, OciError> {
        let scope = format!("repository:{}:pull", reference.repository);
        let url = self.url(&format!(
            "v2/{}/manifests/{}",
            reference.repository,
            reference.target()
        ))?;
        let response = self
            .send(&scope, |http| {
                http.get(url.clone()).header(ACCEPT, MANIFEST_MEDIA_TYPE)
            })
            .await?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(OciError::NotFound(format!(
                    "registry `{}` has no `{reference}`",
                    self.registry
                )));
            }
            _ => return Err(self.answer_error("fetching the manifest", response).await),
        }
        // The digest the registry files the manifest under: what a tag names there.
        let named = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let manifest_bytes = self
            .read(response, MAX_MANIFEST_BYTES as u64, "the manifest")
            .await?;
        let digest = digest_of(&manifest_bytes);
        if let Some(wanted) = reference.digest.as_ref().or(named.as_ref())
            && *wanted != digest
        {
            return Err(OciError::DigestMismatch(format!(
                "registry `{}` served the manifest {wanted} of `{reference}` with content hashing to {digest}: digest mismatch, refused",
                self.registry
            )));
        }
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| OciError::NotAnAdapter(format!("{reference}: not an OCI image manifest ({e})")))?;
        if manifest.schema_version != 2
            || manifest
                .media_type
                .as_deref()
                .is_some_and(|m| m != MANIFEST_MEDIA_TYPE)
        {
            return Err(OciError::NotAnAdapter(format!(
                "{reference}: not an OCI image manifest (`{MANIFEST_MEDIA_TYPE}`, schemaVersion 2)"
            )));
        }
        if manifest.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(OciError::NotAnAdapter(format!(
                "{reference}: its config is `{}`, not a wasm component's `{CONFIG_MEDIA_TYPE}` (push it with `panelgate adapter push oci://...` or `wkg oci push`)",
                manifest.config.media_type
            )));
        }
        let layers: Vec<&Descriptor> = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == LAYER_MEDIA_TYPE)
            .collect();
        let [layer] = layers.as_slice() else {
            return Err(OciError::NotAnAdapter(format!(
                "{reference}: it has {} `{LAYER_MEDIA_TYPE}` layers; an adapter is exactly one",
                layers.len()
            )));
        };
        check_digest(&layer.digest).map_err(|e| OciError::NotAnAdapter(format!("{reference}: layer {e}")))?;
        if layer.size > max_bytes as u64 {
            return Err(OciError::NotAnAdapter(format!(
                "{reference}: the component is {} bytes; the host takes modules of at most {max_bytes}",
                layer.size
            )));
        }
        let url = self.url(&format!("v2/{}/blobs/{}", reference.repository, layer.digest))?;
        let response = self.send(&scope, |http| http.get(url.clone())).await?;
        if response.status() != StatusCode::OK {
            return Err(self
                .answer_error(&format!("fetching blob {}", layer.digest), response)
                .await);
        }
        let module = self
            .read(response, layer.size, &format!("blob {}", layer.digest))
            .await?;
        let got = digest_of(&module);
        if got != layer.digest || module.len() as u64 != layer.size {
            return Err(OciError::DigestMismatch(format!(
                "registry `{}` served blob {} of `{reference}` as {} bytes hashing to {got}: digest mismatch, refused",
                self.registry,
                layer.digest,
                module.len()
            )));
        }
        Ok(Pulled {
            digest,
            module,
            signature: manifest.annotations.get(SIGNATURE_ANNOTATION).cloned(),
        })
    }

    /// A body of at most `limit` bytes (one more is read, to see that it is longer).
    async fn read(
        &self,
        mut response: reqwest::Response,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, OciError> {
        let mut out = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.unavailable(format!("reading {what}: {e}")))?
        {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > limit {
                // Longer than the manifest says: the digest check names it.
                break;
            }
        }
        Ok(out)
    }
}

/// `realm="...",service="...",scope="..."` as pairs.
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        out.push((key, value.to_string()));
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_a_tag_a_digest_or_both() {
        let r = Reference::parse("oci://127.0.0.1:5000/partner/aap-h2h:2.1.0").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "partner/aap-h2h");
        assert_eq!(r.tag.as_deref(), Some("2.1.0"));
        assert_eq!(r.digest, None);
        assert_eq!(r.to_string(), "oci://127.0.0.1:5000/partner/aap-h2h:2.1.0");
        let digest = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("oci://ghcr.io/partner/aap@{digest}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(digest.as_str()))
        );
        assert_eq!(r.pinned(&digest), format!("oci://ghcr.io/partner/aap@{digest}"));
        let r = Reference::parse(&format!("oci://ghcr.io/partner/aap:1.0@{digest}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.0"));
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let err = |t: &str| Reference::parse(t).unwrap_err();
        assert!(err("https://x/y:1").contains("not an OCI reference"));
        assert!(err("oci://registry").contains("no repository"));
        assert!(err("oci://r:5000/Partner/x:1").contains("lowercase"));
        assert!(err("oci://r/p/x").contains("give a tag"));
        assert!(err("oci://r/p/x@sha256:abc").contains("64 lowercase hex"));
        assert!(err("oci://r/p/x:-bad").contains("tag `-bad`"));
    }

    #[test]
    fn loopback_registries_are_recognised() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }

    /// A registry that answers an error with a body that never ends: the pull fails having
    /// read a bounded part of it. (Before, the whole body was read, for as long as the client's
    /// timeout let it stream.)
    #[tokio::test]
    async fn an_endless_error_answer_is_read_only_in_part() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use futures::StreamExt as _;
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                let chunks = futures::stream::repeat(vec![b'x'; 64 * 1024]).map(move |chunk| {
                    counter.fetch_add(chunk.len(), Ordering::SeqCst);
                    Ok::<_, std::io::Error>(chunk)
                });
                (StatusCode::BAD_REQUEST, axum::body::Body::from_stream(chunks))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::new(&registry, None, true).unwrap();
        let reference = Reference::parse(&format!("oci://{registry}/partner/x:1.0.0")).unwrap();
        let pulled = tokio::time::timeout(Duration::from_secs(10), client.pull(&reference, 1 << 20))
            .await
            .expect("the pull ends without reading the whole answer");
        assert!(pulled.is_err());
        let read = sent.load(Ordering::SeqCst);
        assert!(read < 8 << 20, "{read} bytes streamed");
    }

    #[test]
    fn bearer_challenges_are_read() {
        let p = challenge_params(
            r#" realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(p[1], ("service".into(), "registry.example".into()));
        assert_eq!(p[2].1, "repository:a/b:pull");
    }
}
