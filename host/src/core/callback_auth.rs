//! How a partner's callback proves it is the partner: Basic credentials, or an HMAC signature
//! over a timestamp and the body (as Stripe, Slack and GitHub sign webhooks), within a time
//! window, each signature handled once: the very same signed request again is answered the
//! reply it had, and handled no second time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use axum::http::{HeaderMap, HeaderName, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

use crate::capabilities::credentials::{Credential, constant_time_eq};
use crate::config::{
    CallbackAuthConfig, CredentialConfig, InlineSecrets, SignatureAlgorithm, SignatureEncoding,
};

/// A panel's callback authentication, its secrets resolved.
pub enum CallbackAuth {
    Basic(Credential),
    Hmac(HmacCheck),
}

pub struct HmacCheck {
    secret: String,
    algorithm: SignatureAlgorithm,
    encoding: SignatureEncoding,
    signature_header: HeaderName,
    prefix: String,
    timestamp_header: HeaderName,
    window_s: u64,
    template: Vec<Piece>,
    /// Signatures taken within their window: the same signature again is the same request
    /// sent again. Per host (see docs/security.md), shared by the panel's versions.
    seen: Arc<Mutex<HashMap<Vec<u8>, Taken>>>,
}

/// A signature taken: the Unix second its window ends, and the reply its callback was given
/// once handled (none while it is handled, or when it faulted).
struct Taken {
    until: u64,
    reply: Option<Arc<Reply>>,
    /// The request it took has been answered (its reply kept or not).
    answered: bool,
}

/// The reply a handled callback was given, kept to answer the very same request with again.
#[derive(Debug, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The longest reply kept for a request sent again: a partner's acknowledgement is a few bytes,
/// and every signature of the window may keep one. A longer one is not kept, and the request
/// sent again is refused as a replay.
const MAX_KEPT_REPLY: usize = 4 * 1024;

/// A callback whose proof holds.
#[derive(Debug)]
pub enum Admission {
    /// Handle it.
    Fresh,
    /// The very same signed request was handled already: answer the reply it had.
    Again(Arc<Reply>),
    /// The very same signed request is being handled now (the partner gave up waiting and sent
    /// it again): it is to try later, when it will get that request's reply, not a refusal.
    InFlight,
}

/// A part of the signed text's template.
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Timestamp,
    Body,
    Method,
    Path,
}

/// Past this many remembered signatures, the expired ones are swept out on the next insert.
const SWEEP_AT: usize = 1024;

/// The widest timestamp window a panel may set: a day. Past it the timestamp would check next to
/// nothing, and a replay would be taken for as long.
const MAX_WINDOW_S: u64 = 86_400;

impl CallbackAuth {
    /// The check `config` asks for; `None` for `kind = "none"`.
    pub fn resolve(
        what: &str,
        config: &CallbackAuthConfig,
        inline: &InlineSecrets,
    ) -> Result<Option<CallbackAuth>> {
        Ok(Some(match config {
            CallbackAuthConfig::None => return Ok(None),
            CallbackAuthConfig::Basic { username, password } => {
                let credential = Credential::resolve(
                    what,
                    &CredentialConfig::Basic {
                        username: username.clone(),
                        password: password.clone(),
                    },
                    inline,
                )?;
                // An empty password would take whoever sends the user name.
                if let Credential::Basic { password, .. } = &credential
                    && password.is_empty()
                {
                    bail!("{what}.password: must not be empty");
                }
                CallbackAuth::Basic(credential)
            }
            CallbackAuthConfig::Hmac {
                secret,
                algorithm,
                encoding,
                signature_header,
                signature_prefix,
                timestamp_header,
                window_s,
                signed,
            } => {
                if *algorithm == SignatureAlgorithm::RsaSha256 {
                    bail!("{what}.algorithm: `hmac-sha256` or `hmac-sha512`");
                }
                let secret = secret.resolve_with(&format!("{what}.secret"), inline)?;
                if secret.is_empty() {
                    bail!("{what}.secret: must not be empty");
                }
                let header = |field: &str, name: &str| {
                    HeaderName::try_from(name)
                        .map_err(|_| anyhow::anyhow!("{what}.{field}: `{name}` is no header name"))
                };
                if !(1..=MAX_WINDOW_S).contains(window_s) {
                    bail!("{what}.window_s: from 1 to {MAX_WINDOW_S} seconds (a day)");
                }
                CallbackAuth::Hmac(HmacCheck {
                    secret,
                    algorithm: *algorithm,
                    encoding: *encoding,
                    signature_header: header("signature_header", signature_header)?,
                    prefix: signature_prefix.clone(),
                    timestamp_header: header("timestamp_header", timestamp_header)?,
                    window_s: *window_s,
                    template: template(signed).map_err(|e| anyhow::anyhow!("{what}.signed: {e}"))?,
                    seen: Default::default(),
                })
            }
        }))
    }

    /// The secrets and their encodings, for the redaction of anything journaled or logged.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            CallbackAuth::Basic(credential) => credential.secrets(),
            CallbackAuth::Hmac(check) => vec![check.secret.clone()],
        }
    }

    /// Keeps the signatures the panel's previous version took: a switch opens no replay window.
    pub fn carry_over(&mut self, previous: &CallbackAuth) {
        if let (CallbackAuth::Hmac(check), CallbackAuth::Hmac(before)) = (self, previous) {
            check.seen = before.seen.clone();
        }
    }

    /// Headers that are the partner's proof, kept from the adapter.
    pub fn proof_headers(&self) -> Vec<HeaderName> {
        match self {
            CallbackAuth::Basic(_) => vec![header::AUTHORIZATION],
            CallbackAuth::Hmac(check) => vec![header::AUTHORIZATION, check.signature_header.clone()],
        }
    }

    /// Whether the callback is the partner's, and new; the reason when it is not, and the
    /// `WWW-Authenticate` challenge to answer with.
    pub fn check(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Admission, Refusal> {
        match self {
            CallbackAuth::Basic(credential) => {
                let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                if credential.accepts_basic(given) {
                    Ok(Admission::Fresh)
                } else {
                    Err(Refusal {
                        challenge: "Basic realm=\"panelgate\"",
                        reason: "Invalid Username or Password".into(),
                    })
                }
            }
            CallbackAuth::Hmac(check) => check.check(path, headers, body, now()),
        }
    }

    /// Forgets that a callback [`CallbackAuth::check`] took was taken, when the host failed it
    /// and kept nothing of it (the store could not write): the partner's retry of the same
    /// signed request is then no replay, and is taken.
    pub fn forget(&self, headers: &HeaderMap) {
        if let CallbackAuth::Hmac(check) = self {
            check.forget(headers);
        }
    }

    /// Keeps the reply the host gave a callback [`CallbackAuth::check`] took, once it is
    /// stored: the very same signed request sent again (its answer lost on the way) is given
    /// it again, as DESIGN's "same body: 200 again" asks.
    pub fn remember(&self, headers: &HeaderMap, reply: Reply) {
        if let CallbackAuth::Hmac(check) = self
            && reply.body.len() <= MAX_KEPT_REPLY
            && let Some(given) = check.given(headers)
            && let Some(taken) = check
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&given)
        {
            taken.reply = Some(Arc::new(reply));
        }
    }

    /// Notes that a callback [`CallbackAuth::check`] took has been answered: the very same
    /// request sent again is then a replay (or given the reply kept), no longer in flight.
    pub fn answered(&self, headers: &HeaderMap) {
        if let CallbackAuth::Hmac(check) = self {
            check.answered(headers);
        }
    }
}

/// A callback refused: answered 401.
#[derive(Debug)]
pub struct Refusal {
    pub challenge: &'static str,
    pub reason: String,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl HmacCheck {
    fn refuse(&self, reason: String) -> Refusal {
        Refusal {
            challenge: "HMAC",
            reason,
        }
    }

    fn check(&self, path: &str, headers: &HeaderMap, body: &[u8], now: u64) -> Result<Admission, Refusal> {
        let header = |name: &HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| self.refuse(format!("missing `{name}` header")))
        };
        let given = header(&self.signature_header)?;
        let stamp = header(&self.timestamp_header)?;
        let timestamp: u64 = stamp.parse().map_err(|_| {
            self.refuse(format!(
                "`{}` is not seconds since the Unix epoch",
                self.timestamp_header
            ))
        })?;
        if timestamp.abs_diff(now) > self.window_s {
            return Err(self.refuse(format!(
                "`{}` is more than {} s from the host's clock",
                self.timestamp_header, self.window_s
            )));
        }
        let given = given
            .strip_prefix(self.prefix.as_str())
            .and_then(|s| self.decode(s))
            .ok_or_else(|| self.refuse(format!("`{}` is not a signature", self.signature_header)))?;
        let expected = self.mac(&self.signed(stamp, path, body));
        if !constant_time_eq(&given, &expected) {
            return Err(self.refuse("the signature does not match".into()));
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(taken) = seen.get(&given).filter(|taken| taken.until >= now) {
            // Still being handled: later. Faulted, or its reply too long to keep: a replay.
            return match (&taken.reply, taken.answered) {
                (Some(reply), _) => Ok(Admission::Again(reply.clone())),
                (None, false) => Ok(Admission::InFlight),
                (None, true) => Err(self.refuse("this signature was already used".into())),
            };
        }
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, taken| taken.until >= now);
        }
        let until = timestamp + self.window_s;
        seen.insert(
            given,
            Taken {
                until,
                reply: None,
                answered: false,
            },
        );
        Ok(Admission::Fresh)
    }

    /// The signature the request's header gives, decoded.
    fn given(&self, headers: &HeaderMap) -> Option<Vec<u8>> {
        headers
            .get(&self.signature_header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix(self.prefix.as_str()))
            .and_then(|v| self.decode(v))
    }

    fn answered(&self, headers: &HeaderMap) {
        if let Some(given) = self.given(headers)
            && let Some(taken) = self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&given)
        {
            taken.answered = true;
        }
    }

    fn forget(&self, headers: &HeaderMap) {
        if let Some(given) = self.given(headers) {
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).remove(&given);
        }
    }

    fn decode(&self, text: &str) -> Option<Vec<u8>> {
        match self.encoding {
            SignatureEncoding::Hex => hex::decode(text).ok(),
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        }
    }

    fn signed(&self, timestamp: &str, path: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() + 64);
        for piece in &self.template {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                Piece::Timestamp => out.extend_from_slice(timestamp.as_bytes()),
                Piece::Body => out.extend_from_slice(body),
                Piece::Method => out.extend_from_slice(b"POST"),
                Piece::Path => out.extend_from_slice(path.as_bytes()),
            }
        }
        out
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let key = self.secret.as_bytes();
        match self.algorithm {
            SignatureAlgorithm::HmacSha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }
}

/// `{timestamp}.{body}` as its pieces; an unknown `{name}` is an error naming it.
fn template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("`{{` without `}}` in `{text}`"))?;
        pieces.push(match &rest[open + 1..open + close] {
            "timestamp" => Piece::Timestamp,
            "body" => Piece::Body,
            "method" => Piece::Method,
            "path" => Piece::Path,
            other => {
                return Err(format!(
                    "`{{{other}}}`: use {{timestamp}}, {{body}}, {{method}} or {{path}}"
                ));
            }
        });
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    if !pieces.contains(&Piece::Timestamp) || !pieces.contains(&Piece::Body) {
        return Err("the signed text must hold {timestamp} and {body}, or a signature could be replayed on another body or time".into());
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> HmacCheck {
        HmacCheck {
            secret: "whsec".into(),
            algorithm: SignatureAlgorithm::HmacSha256,
            encoding: SignatureEncoding::Hex,
            signature_header: HeaderName::from_static("x-signature"),
            prefix: "v1=".into(),
            timestamp_header: HeaderName::from_static("x-timestamp"),
            window_s: 300,
            template: template("{timestamp}.{body}").unwrap(),
            seen: Default::default(),
        }
    }

    fn headers(signature: &str, timestamp: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-signature", signature.parse().unwrap());
        headers.insert("x-timestamp", timestamp.to_string().parse().unwrap());
        headers
    }

    fn sign(timestamp: u64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec").unwrap();
        mac.update(format!("{timestamp}.{body}").as_bytes());
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    /// A handled request's reply is given to the very same request again; one longer than
    /// [`MAX_KEPT_REPLY`] is not kept, and the request sent again is a replay.
    #[test]
    fn a_kept_reply_answers_the_same_request_again_unless_too_long() {
        let check = CallbackAuth::Hmac(check());
        let now = super::now();
        for (body, reply_len, kept) in [(r#"{"a":1}"#, 2, true), (r#"{"a":2}"#, MAX_KEPT_REPLY + 1, false)] {
            let signed = headers(&sign(now, body), now);
            assert!(matches!(
                check.check("p", &signed, body.as_bytes()),
                Ok(Admission::Fresh)
            ));
            let reply = Reply {
                status: 200,
                content_type: "text/plain".into(),
                body: vec![b'k'; reply_len],
            };
            check.remember(&signed, reply);
            check.answered(&signed);
            match check.check("p", &signed, body.as_bytes()) {
                Ok(Admission::Again(again)) => assert!(kept && again.body.len() == reply_len),
                Err(refusal) => assert!(!kept && refusal.reason.contains("already used")),
                Ok(other) => panic!("taken twice: {other:?}"),
            }
        }
    }

    #[test]
    fn a_signature_forgotten_after_a_failure_is_taken_again_once() {
        let check = CallbackAuth::Hmac(check());
        let now = super::now();
        let body = r#"{"a":1}"#;
        let signed = headers(&sign(now, body), now);
        assert!(matches!(
            check.check("p", &signed, body.as_bytes()),
            Ok(Admission::Fresh)
        ));
        // Sent again while the first is being handled: to try later, not refused.
        assert!(matches!(
            check.check("p", &signed, body.as_bytes()),
            Ok(Admission::InFlight)
        ));
        check.answered(&signed);
        assert!(check.check("p", &signed, body.as_bytes()).is_err());
        check.forget(&signed);
        assert!(matches!(
            check.check("p", &signed, body.as_bytes()),
            Ok(Admission::Fresh)
        ));
        check.answered(&signed);
        assert!(check.check("p", &signed, body.as_bytes()).is_err());
    }

    #[test]
    fn a_signature_is_taken_once_within_its_window_and_not_outside_it() {
        let check = check();
        let now = 1_700_000_000;
        let body = r#"{"a":1}"#;
        let good = headers(&sign(now, body), now);
        assert!(check.check("p", &good, body.as_bytes(), now).is_ok());
        check.answered(&good);
        let replay = check.check("p", &good, body.as_bytes(), now + 10).unwrap_err();
        assert!(replay.reason.contains("already used"), "{replay:?}");
        let other_body = check
            .check("p", &headers(&sign(now, body), now), b"{}", now)
            .unwrap_err();
        assert!(other_body.reason.contains("does not match"), "{other_body:?}");
        let stale = now - 301;
        let late = check
            .check("p", &headers(&sign(stale, body), stale), body.as_bytes(), now)
            .unwrap_err();
        assert!(late.reason.contains("300 s"), "{late:?}");
        let missing = check.check("p", &HeaderMap::new(), b"", now).unwrap_err();
        assert!(missing.reason.contains("x-signature"), "{missing:?}");
    }

    #[test]
    fn a_template_without_the_timestamp_or_the_body_is_refused() {
        assert!(template("{body}").is_err());
        assert!(template("{timestamp}").is_err());
        assert!(template("{timestamp}.{nonce}").unwrap_err().contains("nonce"));
        assert_eq!(
            template("v0:{timestamp}:{body}").unwrap(),
            vec![
                Piece::Text("v0:".into()),
                Piece::Timestamp,
                Piece::Text(":".into()),
                Piece::Body
            ]
        );
    }

    /// A window wider than a day, or none, and a Basic password left empty, are refused at
    /// start, naming the field. (Before, a window near u64::MAX overflowed the replay set's
    /// deadline, and an empty password took whoever sent the user name.)
    #[test]
    fn a_window_past_a_day_and_an_empty_basic_password_are_refused() {
        let resolve = |auth: &str| {
            let config: CallbackAuthConfig = toml::from_str(auth).unwrap();
            CallbackAuth::resolve("panels.X.callback_auth", &config, &InlineSecrets::new())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let hmac = |window: u64| {
            format!(
                "kind = \"hmac\"\nsecret = {{ value = \"s\" }}\nsignature_header = \"X-Sig\"\ntimestamp_header = \"X-Ts\"\nwindow_s = {window}"
            )
        };
        assert!(resolve(&hmac(86_400)).is_ok());
        for window in [0, 86_401, u64::MAX] {
            let error = resolve(&hmac(window)).unwrap_err();
            assert!(error.contains("panels.X.callback_auth.window_s"), "{error}");
        }
        let basic = |password: &str| {
            format!(
                "kind = \"basic\"\nusername = {{ value = \"u\" }}\npassword = {{ value = \"{password}\" }}"
            )
        };
        assert!(resolve(&basic("p")).is_ok());
        let error = resolve(&basic("")).unwrap_err();
        assert!(error.contains("panels.X.callback_auth.password"), "{error}");
    }
}
