//! `http.send`: outbound calls to the panel's partner, allow-listed, time- and size-bounded,
//! with the named credential applied here, and every exchange journaled with secrets redacted.

use std::borrow::Cow;
use std::time::{Duration, Instant};
use tracing::Instrument as _;

use futures::StreamExt;
use reqwest::header::{HeaderName, HeaderValue};

use super::credentials::Credential;
use crate::model::Pair;
use crate::runtime::bindings::panelgate::adapter::http::{
    Host, HttpError, Method, Request, RequestBody, Response,
};
use crate::runtime::{Exchange, HostState, PanelContext};

/// Journaled bodies are cut here, and so are a URL, a header, a form's text and an error.
const JOURNAL_BODY_LIMIT: usize = 64 * 1024;

/// The most partner calls one operation (or callback) makes, retries included: past it `send`
/// is `denied` and nothing more is journaled, only counted. JULO's `accept`, the most any
/// shipped adapter makes, is three calls; read-only ones retry at most twice each. A guest
/// past 64 is looping, and each call is a journal entry of up to a few hundred KiB.
pub const MAX_PARTNER_CALLS: usize = 64;

/// Time left to the adapter after its last partner call times out.
const ADAPTER_MARGIN: Duration = Duration::from_millis(50);

/// Attempts of one read-only call, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// The first retry waits up to this long (full jitter), doubling after.
const BACKOFF: Duration = Duration::from_millis(100);

impl Host for HostState {
    async fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, HttpError>> {
        // `describe` answers what the adapter is and `validate` what a request lacks, both
        // without the partner (the contract's word): neither is journaled as an operation that
        // acts, and `describe` runs under the deploy lock.
        if matches!(self.operation, "describe" | "validate") {
            return Ok(Err(HttpError::Denied(format!(
                "`{}` does not call the partner; only operations do",
                self.operation
            ))));
        }
        if self.exchanges.len() >= MAX_PARTNER_CALLS {
            return Ok(Err(self.refuse_past_the_cap()));
        }
        if self.replay.is_some() {
            let mut exchange = self.exchange(&request, 1);
            let result = match &mut self.replay {
                Some(recording) => replayed(&self.panel, recording, &exchange, &request),
                None => unreachable_replay(),
            };
            self.finish(&mut exchange, &result, Instant::now());
            self.exchanges.push(exchange);
            return Ok(result);
        }
        // Only an operation that changes nothing at the partner has a failed call retried.
        let retryable =
            crate::model::Operation::from_wit_name(self.operation).is_some_and(|o| !o.changes_state());
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let mut exchange = self.exchange(&request, attempt);
            let span = tracing::info_span!(
                "partner_request",
                method = %exchange.method,
                url = %exchange.url,
                attempt,
            );
            let result = match self.panel.breaker.admit() {
                Err(open) => Err(HttpError::Connect(open)),
                Ok(call) => {
                    self.sending.store(true, std::sync::atomic::Ordering::SeqCst);
                    let result = send(&self.panel, self.deadline, request.clone(), &mut exchange.sent)
                        .instrument(span.clone())
                        .await
                        .map_err(|e| redacted(&self.panel, e));
                    call.record(partner_failed(&result));
                    result
                }
            };
            let transient = transient(&result);
            self.finish(&mut exchange, &result, started);
            span.in_scope(|| {
                tracing::debug!(
                    status = exchange.status,
                    error = exchange.error_kind.as_deref(),
                    duration_ms = exchange.duration_ms,
                    "partner answered"
                )
            });
            self.exchanges.push(exchange);
            let room = self.exchanges.len() < MAX_PARTNER_CALLS;
            if retryable && transient && attempt < MAX_ATTEMPTS && room {
                // Full jitter: anywhere up to the doubled backoff, within the deadline.
                let cap = BACKOFF * 2u32.pow(attempt - 1);
                let wait = cap.mul_f64(rand::random::<f64>());
                // Only when the next attempt has a fair share of the time left.
                let left = self.deadline.saturating_duration_since(Instant::now() + wait);
                if left >= (BACKOFF * 2).max(self.panel.read_timeout / 2) {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Ok(result);
        }
    }
}

fn unreachable_replay() -> Result<Response, HttpError> {
    Err(HttpError::Protocol("replay without a recording".into()))
}

/// The partner was unreachable, timed out or failed (5xx): what opens the circuit.
fn partner_failed(result: &Result<Response, HttpError>) -> bool {
    match result {
        Ok(response) => response.status >= 500,
        Err(HttpError::Connect(_) | HttpError::Timeout(_)) => true,
        Err(_) => false,
    }
}

/// Worth another attempt of a read-only call: not a refusal the partner will repeat, and not
/// the circuit breaker, which already said the partner is down.
fn transient(result: &Result<Response, HttpError>) -> bool {
    match result {
        Ok(response) => matches!(response.status, 502..=504),
        Err(HttpError::Connect(m)) => !m.starts_with("circuit"),
        Err(HttpError::Timeout(_)) => true,
        Err(_) => false,
    }
}

impl HostState {
    /// A call past [`MAX_PARTNER_CALLS`]: refused before it is sent or journaled, and counted on the
    /// operation's last exchange rather than journaled.
    fn refuse_past_the_cap(&mut self) -> HttpError {
        if let Some(last) = self.exchanges.last_mut() {
            if last.refused_after == 0 {
                tracing::warn!(
                    panel = %self.panel.id,
                    operation = self.operation,
                    "the adapter made {MAX_PARTNER_CALLS} partner calls in one operation; refusing the rest"
                );
            }
            last.refused_after += 1;
        }
        HttpError::Denied(format!(
            "this {} has made {MAX_PARTNER_CALLS} partner calls, the most one operation may make",
            self.operation
        ))
    }

    /// The journal's view of an outbound request, before it is sent.
    fn exchange(&self, request: &Request, attempt: u32) -> Exchange {
        Exchange {
            method: method_name(request.method).into(),
            url: clipped(&self.panel, &request.url),
            request_headers: journal_headers(&self.panel, &request.headers),
            request_body: describe_body(&self.panel, &request.body),
            credential: request
                .credential
                .as_deref()
                .map(|name| clipped(&self.panel, name)),
            attempt,
            status: None,
            response_headers: Vec::new(),
            response_body: String::new(),
            error_kind: None,
            error: None,
            duration_ms: 0,
            elapsed: Duration::ZERO,
            sent: false,
            sent_at_ms: crate::store::now_ms(),
            refused_after: 0,
        }
    }

    /// Completes the exchange with its answer, as the journal keeps it.
    fn finish(&self, exchange: &mut Exchange, result: &Result<Response, HttpError>, started: Instant) {
        exchange.elapsed = started.elapsed();
        exchange.duration_ms = exchange.elapsed.as_millis() as u64;
        match result {
            Ok(response) => {
                exchange.status = Some(response.status);
                exchange.response_headers = journal_headers(&self.panel, &response.headers);
                exchange.response_body = journal_body(&self.panel, &response.body);
            }
            Err(error) => {
                let (kind, detail) = error_parts(error);
                exchange.error_kind = Some(kind.into());
                exchange.error = Some(clipped(&self.panel, &detail));
            }
        }
    }
}

/// Sends `request` to the partner. `sent` says whether it may have reached the partner: set just
/// before the request leaves, and cleared again when the connection was never made. Every
/// refusal before that point (allow-list, deadline, credential, a malformed header) leaves it
/// false: the partner certainly never saw the request.
async fn send(
    panel: &PanelContext,
    deadline: Instant,
    request: Request,
    sent: &mut bool,
) -> Result<Response, HttpError> {
    let url = reqwest::Url::parse(&request.url).map_err(|e| HttpError::Denied(format!("bad URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::Denied(format!(
            "scheme `{}` is not allowed",
            url.scheme()
        )));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = url.port_or_known_default();
    if !panel
        .allowed_hosts
        .iter()
        .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    {
        return Err(HttpError::Denied(format!(
            "`{host}` is not on panel `{}`'s allow-list",
            panel.id
        )));
    }
    // The adapter keeps a moment after the call to turn its failure into an answer.
    let remaining = deadline.saturating_duration_since(Instant::now() + ADAPTER_MARGIN);
    if remaining.is_zero() {
        return Err(HttpError::Timeout("the operation's deadline has passed".into()));
    }
    let timeout = remaining.min(panel.read_timeout);
    // An OAuth2 token the partner refuses is dropped and the request sent once more with a
    // fresh one: kept for that, only when a token may be applied.
    let again = request
        .credential
        .as_deref()
        .is_some_and(|name| uses_oauth2(panel, name))
        .then(|| request.clone());
    let (outgoing, applied) = prepare(panel, request, url, timeout).await?;
    let mut response = execute(panel, outgoing, sent).await?;
    if response.status() == reqwest::StatusCode::UNAUTHORIZED
        && !applied.tokens.is_empty()
        && let Some(request) = again
    {
        for (source, token) in &applied.tokens {
            source.refused(token).await;
        }
        tracing::info!(panel = %panel.id, "the partner refused the OAuth2 token (401): sending once more with a fresh one");
        let remaining = deadline.saturating_duration_since(Instant::now() + ADAPTER_MARGIN);
        let url =
            reqwest::Url::parse(&request.url).map_err(|e| HttpError::Denied(format!("bad URL: {e}")))?;
        // No time left, or no fresh token: the partner's 401 is the answer.
        if !remaining.is_zero() {
            match prepare(panel, request, url, remaining.min(panel.read_timeout)).await {
                Ok((outgoing, _)) => response = execute(panel, outgoing, sent).await?,
                Err(error) => {
                    let (_, detail) = error_parts(&error);
                    tracing::warn!(panel = %panel.id, "no fresh OAuth2 token after the partner's 401: {}", panel.redact(&detail));
                }
            }
        }
    }
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(n, v)| {
            Some(Pair {
                name: n.as_str().into(),
                value: v.to_str().ok()?.into(),
            })
        })
        .collect();
    if response
        .content_length()
        .is_some_and(|len| len > panel.max_response_bytes)
    {
        return Err(HttpError::TooLarge(panel.max_response_bytes));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(transport_error)?;
        if (body.len() + chunk.len()) as u64 > panel.max_response_bytes {
            return Err(HttpError::TooLarge(panel.max_response_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Whether applying the panel's credential `name` may send an OAuth2 token.
fn uses_oauth2(panel: &PanelContext, name: &str) -> bool {
    match panel.credentials.get(name) {
        Some(Credential::OAuth2(_)) => true,
        Some(Credential::All(of)) => of
            .iter()
            .any(|part| matches!(panel.credentials.get(part), Some(Credential::OAuth2(_)))),
        _ => false,
    }
}

/// The request as it will leave: the adapter's method, URL, headers and body, with the named
/// credential applied over them.
async fn prepare(
    panel: &PanelContext,
    request: Request,
    url: reqwest::Url,
    timeout: Duration,
) -> Result<(reqwest::Request, super::credentials::Applied), HttpError> {
    let mut builder = panel
        .client
        .request(reqwest_method(request.method), url)
        .timeout(timeout);
    for Pair { name, value } in &request.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) else {
            return Err(HttpError::Protocol(format!("invalid header `{name}`")));
        };
        if name == reqwest::header::AUTHORIZATION {
            return Err(HttpError::Denied(
                "adapters may not set Authorization; name a credential".into(),
            ));
        }
        builder = builder.header(name, value);
    }
    builder = match request.body {
        RequestBody::Empty => builder,
        RequestBody::Json(json) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json),
        RequestBody::Bytes((content_type, bytes)) => builder
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes),
        RequestBody::Form(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for part in parts {
                let mut p = reqwest::multipart::Part::bytes(part.data);
                if let Some(filename) = part.filename {
                    p = p.file_name(filename);
                }
                if let Some(ct) = part.content_type {
                    p = p
                        .mime_str(&ct)
                        .map_err(|e| HttpError::Protocol(format!("part `{}`: {e}", part.name)))?;
                }
                form = form.part(part.name, p);
            }
            builder.multipart(form)
        }
    };
    let mut outgoing = builder
        .build()
        .map_err(|e| HttpError::Protocol(format!("building the request: {}", error_chain(&e))))?;
    let applied = match &request.credential {
        Some(name) => super::credentials::apply(panel, name, &mut outgoing, timeout).await?,
        None => Default::default(),
    };
    Ok((outgoing, applied))
}

/// Sends the request; `sent` as [`send`] says.
async fn execute(
    panel: &PanelContext,
    outgoing: reqwest::Request,
    sent: &mut bool,
) -> Result<reqwest::Response, HttpError> {
    *sent = true;
    match panel.client.execute(outgoing).await {
        Ok(response) => Ok(response),
        Err(e) => {
            // No connection, no request: connect refused, DNS, a TLS handshake that failed. A
            // connect timeout is `is_connect` too. Anything else may have left the host.
            *sent = !e.is_connect();
            Err(transport_error(e))
        }
    }
}

/// Serves a replayed request from the recording: the partner is not called.
fn replayed(
    panel: &PanelContext,
    recording: &mut crate::runtime::Recording,
    outbound: &Exchange,
    request: &Request,
) -> Result<Response, HttpError> {
    // The same checks as a live call: a candidate that would be refused live is refused here.
    if let Some(name) = &request.credential
        && !panel.credentials.contains_key(name)
    {
        return Err(HttpError::UnknownCredential(format!(
            "panel `{}` has no credential `{name}`",
            panel.id
        )));
    }
    let Some(recorded) = recording.answer(&outbound.method, &outbound.url) else {
        return Err(HttpError::Connect(
            "replay: the recording has no response left for this request".into(),
        ));
    };
    if let Some(kind) = &recorded.error_kind {
        let detail = recorded.error.clone().unwrap_or_default();
        return Err(match kind.as_str() {
            "denied" => HttpError::Denied(detail),
            "unknown-credential" => HttpError::UnknownCredential(detail),
            "timeout" => HttpError::Timeout(detail),
            "connect" => HttpError::Connect(detail),
            "too-large" => HttpError::TooLarge(panel.max_response_bytes),
            _ => HttpError::Protocol(detail),
        });
    }
    Ok(Response {
        status: recorded.status.unwrap_or(200),
        headers: recorded
            .response_headers
            .iter()
            .map(|(name, value)| Pair {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        body: recorded.response_body.clone().into_bytes(),
    })
}

/// An error as the adapter may see it: no secret of the panel in its text (a token endpoint or
/// a TLS library may echo one).
fn redacted(panel: &PanelContext, error: HttpError) -> HttpError {
    match error {
        HttpError::Denied(m) => HttpError::Denied(panel.redact(&m)),
        HttpError::UnknownCredential(m) => HttpError::UnknownCredential(panel.redact(&m)),
        HttpError::Timeout(m) => HttpError::Timeout(panel.redact(&m)),
        HttpError::Connect(m) => HttpError::Connect(panel.redact(&m)),
        HttpError::TooLarge(n) => HttpError::TooLarge(n),
        HttpError::Protocol(m) => HttpError::Protocol(panel.redact(&m)),
    }
}

/// An `http-error` as its WIT case name and its detail.
fn error_parts(error: &HttpError) -> (&'static str, String) {
    match error {
        HttpError::Denied(m) => ("denied", m.clone()),
        HttpError::UnknownCredential(m) => ("unknown-credential", m.clone()),
        HttpError::Timeout(m) => ("timeout", m.clone()),
        HttpError::Connect(m) => ("connect", m.clone()),
        HttpError::TooLarge(n) => ("too-large", format!("more than {n} bytes")),
        HttpError::Protocol(m) => ("protocol", m.clone()),
    }
}

/// An error with its causes, outermost first: reqwest's own text names only the URL, and the
/// cause (a refused connection, the partner's TLS alert) is what tells an operator what to fix.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn transport_error(error: reqwest::Error) -> HttpError {
    let detail = error_chain(&error);
    if error.is_timeout() {
        HttpError::Timeout(detail)
    } else if error.is_connect() {
        HttpError::Connect(detail)
    } else {
        HttpError::Protocol(detail)
    }
}

fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// A JSON body with customer secrets masked (see `SENSITIVE_KEYS`). A body that cannot hold one
/// of those keys is kept as it came, unparsed: none of their names is in its text, and it has
/// no escape at all. An escape could spell a key (`\u0070in`), or hide a panel secret from
/// [`PanelContext::redact`], which looks for it in the unescaped text (`\/` for `/`).
fn masked_json(text: &str) -> Cow<'_, str> {
    // `may_hold_a_secret` counts any escape, which covers the redaction's `\/` too.
    if !crate::adapter::may_hold_a_secret(text) {
        return Cow::Borrowed(text);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut value) => {
            crate::adapter::mask(&mut value);
            Cow::Owned(value.to_string())
        }
        Err(_) => Cow::Borrowed(text),
    }
}

/// A request body as the journal keeps it: JSON as [`journal_body`] keeps it, bytes by their
/// length, a form by its fields (text redacted, files by their length), each cut.
fn describe_body(panel: &PanelContext, body: &RequestBody) -> String {
    match body {
        RequestBody::Empty => String::new(),
        RequestBody::Json(json) => journal_body(panel, json.as_bytes()),
        RequestBody::Bytes((ct, bytes)) => clipped(panel, &format!("<{} bytes of {ct}>", bytes.len())),
        RequestBody::Form(parts) => {
            let fields: Vec<String> = parts
                .iter()
                .map(|p| match &p.filename {
                    Some(f) => format!("{}=<file {f}, {} bytes>", p.name, p.data.len()),
                    None if crate::adapter::SENSITIVE_KEYS.contains(&p.name.as_str()) => {
                        format!("{}=***", p.name)
                    }
                    None => format!("{}={}", p.name, panel.redact(&String::from_utf8_lossy(&p.data))),
                })
                .collect();
            let text = format!("multipart: {}", fields.join("; "));
            let total = text.len();
            truncate(text, total)
        }
    }
}

/// A text as the journal keeps it: the panel's secrets redacted in the whole of it, then cut at
/// `JOURNAL_BODY_LIMIT` (as [`journal_body`], so no part of a secret is left at the cut).
fn clipped(panel: &PanelContext, text: &str) -> String {
    truncate(panel.redact(text), text.len())
}

/// Headers as the journal keeps them: each name and value [`clipped`], and once those kept
/// reach `JOURNAL_BODY_LIMIT` the rest only counted. A guest may send any number of headers;
/// the journal keeps a bounded few.
fn journal_headers(panel: &PanelContext, headers: &[Pair]) -> Vec<(String, String)> {
    let mut kept = Vec::new();
    let mut bytes = 0;
    for (i, Pair { name, value }) in headers.iter().enumerate() {
        if bytes >= JOURNAL_BODY_LIMIT {
            kept.push(("…".into(), format!("<{} more headers>", headers.len() - i)));
            break;
        }
        let pair = (clipped(panel, name), clipped(panel, value));
        bytes += pair.0.len() + pair.1.len();
        kept.push(pair);
    }
    kept
}

/// A body as the journal keeps it: customer secrets masked and the panel's secrets redacted
/// in the whole text first, then cut at `JOURNAL_BODY_LIMIT` (a cut body is no JSON to mask,
/// and a cut could leave part of a secret that redaction would no longer recognise).
fn journal_body(panel: &PanelContext, body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) => truncate(panel.redact(&masked_json(text)), body.len()),
        Err(_) => format!("<{} bytes of binary>", body.len()),
    }
}

/// `text` cut at `JOURNAL_BODY_LIMIT`, saying how long the partner's body (`total` bytes) was.
fn truncate(mut text: String, total: usize) -> String {
    if text.len() > JOURNAL_BODY_LIMIT {
        let mut end = JOURNAL_BODY_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(&format!("…<{total} bytes in all>"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(secret: &str) -> PanelContext {
        let mut panel = PanelContext::detached(&crate::config::SandboxConfig::default());
        panel.redactions = vec![secret.into()];
        panel
    }

    #[test]
    fn a_body_longer_than_the_journal_keeps_is_masked_before_it_is_cut() {
        let padding = "x".repeat(JOURNAL_BODY_LIMIT);
        let body = format!(r#"{{"pin":"123456","rest":"{padding}"}}"#);
        let kept = journal_body(&panel("s3cret"), body.as_bytes());
        assert!(!kept.contains("123456"), "the PIN is in the journal");
        assert!(kept.contains(r#""pin":"***""#) && kept.contains("bytes in all>"));
    }

    #[test]
    fn a_secret_across_the_cut_is_redacted_before_it() {
        let secret = "s3cret-token";
        let body = format!("{}{secret}", "x".repeat(JOURNAL_BODY_LIMIT - 4));
        let kept = journal_body(&panel(secret), body.as_bytes());
        assert!(!kept.contains("s3cr"), "part of the secret is in the journal");
    }

    #[test]
    fn headers_are_redacted_cut_and_only_a_bounded_few_kept() {
        let secret = "s3cret-token";
        let long = format!("{}{secret}", "x".repeat(JOURNAL_BODY_LIMIT - 4));
        let header = |value: &str| Pair {
            name: "x-h".into(),
            value: value.into(),
        };
        let mut headers = vec![header(&long)];
        headers.extend((0..1000).map(|_| header("short")));
        let kept = journal_headers(&panel(secret), &headers);
        assert!(
            !kept[0].1.contains("s3cr"),
            "part of the secret is in the journal"
        );
        assert!(kept[0].1.len() < JOURNAL_BODY_LIMIT + 64);
        assert_eq!(kept.len(), 2, "{:?}", &kept[1..]);
        assert_eq!(kept[1].1, "<1000 more headers>");
    }

    #[test]
    fn a_secret_written_with_escapes_is_redacted() {
        // `\/` is how some encoders write `/`, common in base64 credentials.
        let kept = journal_body(&panel("dXNlcjpw/YXNz"), br#"{"echo":"dXNlcjpw\/YXNz"}"#);
        assert_eq!(kept, r#"{"echo":"***"}"#);
    }

    #[test]
    fn only_a_body_that_may_name_a_secret_is_parsed_and_masked() {
        // Kept as it came, spacing and all: no key of `SENSITIVE_KEYS` is in it.
        let plain = r#"{ "premium": "1000", "b": [1, 2] }"#;
        assert_eq!(masked_json(plain), plain);
        assert_eq!(
            masked_json(r#"{"a":{"otp_token":"99"}}"#),
            r#"{"a":{"otp_token":"***"}}"#
        );
        // An escape can spell a key: `\u0070in` is `pin`.
        assert_eq!(masked_json(r#"{"\u0070in":"1234"}"#), r#"{"pin":"***"}"#);
        assert_eq!(masked_json("not json, pin 1234"), "not json, pin 1234");
    }
}
