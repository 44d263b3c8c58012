//! A portal's webhook endpoint, verifying each delivery as the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>, "Verifying webhooks") and its reference libraries do:
//! the three `webhook-*` headers required, the timestamp within five minutes of now either way,
//! the signature `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the base64 key
//! after `whsec_`, any of several space-separated signatures accepted, compared in constant time.
//! Written from the specification, not from the host's signer. Like the specification asks of a
//! receiver, it de-duplicates by `webhook-id`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};

/// The specification's tolerance for the timestamp, either way.
pub const TOLERANCE_S: i64 = 5 * 60;

/// Why a delivery does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    MissingHeader(&'static str),
    BadSecret,
    BadTimestamp,
    TooOld,
    TooNew,
    NoMatchingSignature,
}

/// Verifies a delivery at `now` (Unix seconds) under `secret` (`whsec_<base64>`).
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or(VerifyError::MissingHeader(name))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let seconds: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if seconds < now - TOLERANCE_S {
        return Err(VerifyError::TooOld);
    }
    if seconds > now + TOLERANCE_S {
        return Err(VerifyError::TooNew);
    }
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| VerifyError::BadSecret)?;
    for versioned in signatures.split(' ') {
        let Some(("v1", signature)) = versioned.split_once(',') else {
            continue;
        };
        let Ok(signature) = BASE64.decode(signature) else {
            continue;
        };
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| VerifyError::BadSecret)?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatchingSignature)
}

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 204 to every verified delivery.
    Accept,
    /// This status to everything (an endpoint that is down).
    Fail(u16),
    /// No answer, ever (an endpoint that hangs).
    Hang,
    /// Accepts until this many deliveries are acknowledged in all, then hangs.
    AcceptThenHang(usize),
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// `webhook-id`.
    pub id: String,
    pub verified: Result<(), VerifyError>,
    /// Answered 2xx as a first delivery of its `webhook-id`.
    pub acknowledged: bool,
    /// Answered 2xx, but its `webhook-id` was acknowledged before.
    pub duplicate: bool,
}

impl Received {
    /// The body as JSON (`{type, timestamp, data}`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

struct Inner {
    secret: String,
    mode: Mutex<Mode>,
    received: Mutex<Vec<Received>>,
    /// Requests being answered in `Hang` mode now.
    hanging: std::sync::atomic::AtomicUsize,
}

pub struct WebhookReceiver {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl WebhookReceiver {
    /// Starts on a loopback port of its own, verifying with `secret`.
    pub async fn start(secret: &str, mode: Mode) -> anyhow::Result<WebhookReceiver> {
        let inner = Arc::new(Inner {
            secret: secret.to_string(),
            mode: Mutex::new(mode),
            received: Mutex::default(),
            hanging: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = Router::new()
            .route("/hooks", post(receive))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(WebhookReceiver { addr, inner })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The `webhook-id`s acknowledged, in the order they were.
    pub fn acknowledged(&self) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|r| r.acknowledged)
            .map(|r| r.id)
            .collect()
    }

    pub fn hanging(&self) -> usize {
        self.inner.hanging.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verified = verify(&inner.secret, &headers, &body, now);
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut received = Received {
        headers,
        body: body.to_vec(),
        id: id.clone(),
        verified: verified.clone(),
        acknowledged: false,
        duplicate: false,
    };
    // Decided and recorded under one lock, so that two deliveries arriving at once are counted
    // as they are answered.
    {
        let mut all = inner.received.lock().unwrap();
        let mode = *inner.mode.lock().unwrap();
        let acked = all.iter().filter(|r| r.acknowledged).count();
        let status = match (mode, &verified) {
            (_, Err(_)) => StatusCode::UNAUTHORIZED,
            (Mode::Fail(status), _) => {
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            (Mode::Hang, _) => StatusCode::REQUEST_TIMEOUT,
            (Mode::AcceptThenHang(n), _) if acked >= n => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::NO_CONTENT,
        };
        if status == StatusCode::NO_CONTENT {
            let seen = all.iter().any(|r| r.acknowledged && r.id == id);
            received.duplicate = seen;
            received.acknowledged = !seen;
        }
        all.push(received);
        if status != StatusCode::REQUEST_TIMEOUT {
            return status;
        }
    }
    inner.hanging.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let _gone = Gone(&inner);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::SERVICE_UNAVAILABLE
}

/// Counts a hanging request out when its connection closes (its future is dropped).
struct Gone<'a>(&'a Inner);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.hanging.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("webhook-id", id.parse().unwrap());
        h.insert("webhook-timestamp", timestamp.parse().unwrap());
        h.insert("webhook-signature", signature.parse().unwrap());
        h
    }

    /// The specification's example delivery verifies at its time and not past the tolerance.
    #[test]
    fn the_specification_example_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let h = headers("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", good);
        assert_eq!(verify(secret, &h, body, 1614265330), Ok(()));
        assert_eq!(
            verify(secret, &h, body, 1614265330 + 301),
            Err(VerifyError::TooOld)
        );
        assert_eq!(
            verify(secret, &h, body, 1614265330 - 301),
            Err(VerifyError::TooNew)
        );
        let several = format!("v2,abc v1,Zm9yZ2Vk {good}");
        let h2 = headers("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", &several);
        assert_eq!(verify(secret, &h2, body, 1614265330), Ok(()));
        assert_eq!(
            verify(secret, &h, br#"{"test": 2432232315}"#, 1614265330),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}
