//! The console's sessions: signed cookies whose key is derived from the admin token, so every
//! host sharing the token accepts them and none stores them; sign-outs are remembered until the
//! session would have expired. The routes that issue and read them are in `api::console`.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::capabilities::credentials::constant_time_eq;

/// The session cookie's name.
pub const COOKIE: &str = "panelgate_console";
/// How long a session lasts from sign-in (a working day).
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;

/// The console's sessions: the key that signs them and the ones signed out before they expired.
pub struct Sessions {
    key: [u8; 32],
    /// Revoked sessions' nonces, with their expiry (unix seconds): kept until then.
    revoked: Mutex<HashMap<String, i64>>,
}

/// A valid session, as read from its cookie.
pub struct Session {
    nonce: String,
    /// When it ends (unix seconds).
    pub expires: i64,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Sessions {
    pub fn new(admin_token: &str) -> Sessions {
        Sessions {
            key: mac(admin_token.as_bytes(), &[b"panelgate console session v1"]),
            revoked: Mutex::default(),
        }
    }

    /// A new session's cookie value and its expiry.
    pub fn issue(&self) -> (String, i64) {
        let nonce: [u8; 16] = rand::random();
        let nonce = hex::encode(nonce);
        let expires = unix_now() + SESSION_SECONDS;
        let payload = format!("v1.{expires}.{nonce}");
        let tag = hex::encode(mac(&self.key, &[payload.as_bytes()]));
        (format!("{payload}.{tag}"), expires)
    }

    /// The session a cookie value names, if its MAC holds, it has not expired and it was not
    /// signed out.
    pub fn check(&self, value: &str) -> Option<Session> {
        let (payload, tag) = value.rsplit_once('.')?;
        let expected = hex::encode(mac(&self.key, &[payload.as_bytes()]));
        if !constant_time_eq(tag.as_bytes(), expected.as_bytes()) {
            return None;
        }
        let mut parts = payload.splitn(3, '.');
        let (Some("v1"), Some(expires), Some(nonce)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        if expires <= unix_now() {
            return None;
        }
        if self.revoked.lock().ok()?.contains_key(nonce) {
            return None;
        }
        Some(Session {
            nonce: nonce.to_string(),
            expires,
        })
    }

    /// The CSRF token of a session: derived from it, so nothing is stored, and useless without
    /// the cookie (which scripts cannot read).
    pub fn csrf(&self, session: &Session) -> String {
        hex::encode(mac(&self.key, &[b"csrf", session.nonce.as_bytes()]))
    }

    pub fn revoke(&self, session: &Session) {
        if let Ok(mut revoked) = self.revoked.lock() {
            let now = unix_now();
            revoked.retain(|_, expires| *expires > now);
            revoked.insert(session.nonce.clone(), session.expires);
        }
    }

    /// The session of a request's cookie, if any is valid.
    pub fn of(&self, headers: &HeaderMap) -> Option<Session> {
        cookie(headers, COOKIE).and_then(|value| self.check(&value))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_checks_until_it_is_altered_revoked_or_signed_by_another_token() {
        let sessions = Sessions::new("admin-token");
        let (value, _) = sessions.issue();
        let session = sessions.check(&value).expect("a fresh session checks");
        assert_eq!(sessions.csrf(&session).len(), 64);
        // Another token's sessions are not this one's.
        assert!(Sessions::new("another-token").check(&value).is_none());
        // Any change to the payload breaks the MAC: a later expiry, another nonce.
        let (payload, tag) = value.rsplit_once('.').unwrap();
        let later = payload.replacen("v1.", "v1.9", 1);
        assert!(sessions.check(&format!("{later}.{tag}")).is_none());
        assert!(sessions.check("v1.99999999999.00.00").is_none());
        assert!(sessions.check("").is_none());
        sessions.revoke(&session);
        assert!(
            sessions.check(&value).is_none(),
            "a signed-out session is refused"
        );
    }
}
