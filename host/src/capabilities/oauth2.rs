//! OAuth 2.0 client credentials (RFC 6749 §4.4), held by the host: the token is fetched on
//! first use, cached until shortly before it expires, shared by every call of the panel, and
//! never handed to the adapter, the journal or the log.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::StreamExt as _;

use crate::config::ClientAuthMethod;
use crate::runtime::bindings::panelgate::adapter::http::HttpError;

/// The longest token answer read: a token response is a few hundred bytes.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;
/// A token is used until this long before it expires, or a tenth of its life for a short one:
/// room for the clock skew and the trip to the partner.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// Tokens remembered for redaction after they are replaced.
const TOKENS_KEPT_FOR_REDACTION: usize = 4;

/// One `oauth2-client` credential of a panel: its client and its token cache.
pub struct TokenSource {
    /// `panel `X` credential `name``, for errors.
    what: String,
    token_url: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    method: ClientAuthMethod,
    /// The token in use. Held across a fetch: callers arriving meanwhile wait for that fetch
    /// and share its token instead of fetching their own.
    cache: tokio::sync::Mutex<Cache>,
    /// The last tokens issued, for the redaction of anything journaled or logged.
    recent: std::sync::Mutex<VecDeque<String>>,
}

#[derive(Default)]
struct Cache {
    token: Option<Token>,
    /// The last fetch that failed, and when: callers that waited for it get its error.
    failed: Option<(Instant, HttpError)>,
}

struct Token {
    value: String,
    /// `None` when the server gave no `expires_in`: the token is used until it is refused.
    refresh_at: Option<Instant>,
}

impl TokenSource {
    pub fn new(
        what: String,
        token_url: String,
        client_id: String,
        client_secret: String,
        scope: Option<String>,
        method: ClientAuthMethod,
    ) -> anyhow::Result<TokenSource> {
        let url = url::Url::parse(&token_url)
            .map_err(|e| anyhow::anyhow!("{what}.token_url: `{token_url}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            anyhow::bail!("{what}.token_url: must be http(s), not `{}`", url.scheme());
        }
        Ok(TokenSource {
            what,
            token_url,
            client_id,
            client_secret,
            scope,
            method,
            cache: Default::default(),
            recent: Default::default(),
        })
    }

    /// The client secret and its encodings as they could appear on the wire.
    pub fn secrets(&self) -> Vec<String> {
        vec![self.client_secret.clone(), self.basic_value()]
    }

    /// The tokens issued lately: secrets too, for as long as they may be in use.
    pub fn recent_tokens(&self) -> Vec<String> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// A token that is not about to expire: the cached one, or one fetched now.
    pub async fn token(&self, client: &reqwest::Client, timeout: Duration) -> Result<String, HttpError> {
        let waited_from = Instant::now();
        let mut cache = self.cache.lock().await;
        if let Some(token) = &cache.token
            && token.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(token.value.clone());
        }
        if let Some((at, error)) = &cache.failed
            && *at >= waited_from
        {
            return Err(error.clone());
        }
        match self.fetch(client, timeout).await {
            Ok(token) => {
                let value = token.value.clone();
                let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
                if recent.len() == TOKENS_KEPT_FOR_REDACTION {
                    recent.pop_front();
                }
                recent.push_back(value.clone());
                cache.token = Some(token);
                cache.failed = None;
                Ok(value)
            }
            Err(error) => {
                cache.failed = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// The partner refused `token` (401): it is dropped, so the next call fetches another.
    /// A token already replaced by another caller is left alone.
    pub async fn refused(&self, token: &str) {
        let mut cache = self.cache.lock().await;
        if cache.token.as_ref().is_some_and(|t| t.value == token) {
            cache.token = None;
        }
    }

    /// RFC 6749 §2.3.1: the client id and secret, each form-urlencoded, as Basic credentials.
    fn basic_value(&self) -> String {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(&self.client_id),
            encode(&self.client_secret)
        ))
    }

    /// The token request of RFC 6749 §4.4.2 and its answer (§5.1, §5.2).
    async fn fetch(&self, client: &reqwest::Client, timeout: Duration) -> Result<Token, HttpError> {
        let what = &self.what;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let mut request = client
            .post(&self.token_url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        match self.method {
            ClientAuthMethod::Basic => {
                let mut value =
                    reqwest::header::HeaderValue::try_from(format!("Basic {}", self.basic_value())).map_err(
                        |_| {
                            HttpError::UnknownCredential(format!(
                                "{what}: the client id or secret cannot go in a header"
                            ))
                        },
                    )?;
                // So that no HTTP library prints it.
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value)
            }
            ClientAuthMethod::Body => {
                form.push(("client_id", &self.client_id));
                form.push(("client_secret", &self.client_secret));
            }
        }
        let started = Instant::now();
        let response = request.form(&form).send().await.map_err(|e| {
            let detail = format!(
                "{what}: the token endpoint {} did not answer: {}",
                self.token_url,
                super::http::error_chain(&e)
            );
            if e.is_timeout() {
                HttpError::Timeout(detail)
            } else {
                HttpError::Connect(detail)
            }
        })?;
        let status = response.status();
        let body = read_limited(response)
            .await
            .map_err(|e| HttpError::Protocol(format!("{what}: reading the token endpoint's answer: {e}")))?;
        tracing::info!(credential = %what, status = status.as_u16(), duration_ms = started.elapsed().as_millis() as u64, "OAuth2 token requested");
        if !status.is_success() {
            return Err(HttpError::Protocol(format!(
                "{what}: the token endpoint refused the client: HTTP {}{}",
                status.as_u16(),
                refusal(&body)
            )));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            HttpError::Protocol(format!(
                "{what}: the token endpoint's answer is not a token response (RFC 6749 §5.1): {e}"
            ))
        })?;
        // RFC 6749 §7.1: a client must not use a token whose type it does not understand.
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(HttpError::Protocol(format!(
                "{what}: the token endpoint issued a `{}` token; only Bearer tokens are sent",
                answer.token_type
            )));
        }
        if answer.access_token.is_empty() {
            return Err(HttpError::Protocol(format!(
                "{what}: the token endpoint issued an empty access_token"
            )));
        }
        // A life past what a clock can add (`expires_in` is the endpoint's to choose) is no
        // expiry: the token is kept until the partner refuses it.
        let refresh_at = answer.expires_in.and_then(|seconds| {
            let life = Duration::from_secs(seconds);
            started.checked_add(life - REFRESH_MARGIN.min(life / 10))
        });
        Ok(Token {
            value: answer.access_token,
            refresh_at,
        })
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// An error answer's `error` and `error_description` (RFC 6749 §5.2), when it has them.
fn refusal(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorAnswer {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(answer) => {
            let description: String = answer
                .error_description
                .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            format!(
                " `{}`{description}",
                answer.error.chars().take(100).collect::<String>()
            )
        }
        Err(_) => String::new(),
    }
}

async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if body.len() + chunk.len() > MAX_TOKEN_RESPONSE {
            return Err(format!("more than {MAX_TOKEN_RESPONSE} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
