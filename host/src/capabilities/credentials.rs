//! Panel credentials: resolved from the environment at start, applied at egress, never
//! handed to the adapter.

use anyhow::{Result, bail};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::oauth2::TokenSource;
use super::signature::Signer;
use crate::config::{CredentialConfig, InlineSecrets};
use crate::runtime::HostState;
use crate::runtime::bindings::panelgate::adapter::credentials::{DigestAlgorithm, Host};
use crate::runtime::bindings::panelgate::adapter::http::HttpError;

/// A credential with its secrets resolved.
#[derive(Clone)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    ApiKey {
        headers: Vec<(String, String)>,
    },
    Bearer {
        token: String,
    },
    HashKey {
        key: String,
    },
    /// OAuth2 client credentials: the token source and its cache, shared by every clone.
    OAuth2(Arc<TokenSource>),
    /// A request signature (draft-cavage-http-signatures-12).
    Signature(Arc<Signer>),
    /// Several of the panel's credentials, applied in this order.
    All(Vec<String>),
    /// The partner needs none: nothing is applied.
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { .. } => f.write_str("Credential::Basic(***)"),
            Credential::ApiKey { .. } => f.write_str("Credential::ApiKey(***)"),
            Credential::Bearer { .. } => f.write_str("Credential::Bearer(***)"),
            Credential::HashKey { .. } => f.write_str("Credential::HashKey(***)"),
            Credential::OAuth2(_) => f.write_str("Credential::OAuth2(***)"),
            Credential::Signature(_) => f.write_str("Credential::Signature(***)"),
            Credential::All(names) => write!(f, "Credential::All({names:?})"),
            Credential::None => f.write_str("Credential::None"),
        }
    }
}

impl Credential {
    /// Resolves the credential's secrets (`name` says where it is, for errors); a
    /// `{ config = PATH }` reference is looked up in `inline`, the config file's own values.
    pub fn resolve(name: &str, config: &CredentialConfig, inline: &InlineSecrets) -> Result<Credential> {
        let what = |field: &str| format!("{name}.{field}");
        Ok(match config {
            CredentialConfig::Basic { username, password } => Credential::Basic {
                username: username.resolve_with(&what("username"), inline)?,
                password: password.resolve_with(&what("password"), inline)?,
            },
            CredentialConfig::ApiKey { headers } => Credential::ApiKey {
                headers: headers
                    .iter()
                    .map(|(h, v)| Ok((h.clone(), v.resolve_with(&what(&format!("headers.{h}")), inline)?)))
                    .collect::<Result<_>>()?,
            },
            CredentialConfig::Bearer { token } => Credential::Bearer {
                token: token.resolve_with(&what("token"), inline)?,
            },
            CredentialConfig::HashKey { key } => Credential::HashKey {
                key: key.resolve_with(&what("key"), inline)?,
            },
            CredentialConfig::Oauth2Client {
                token_url,
                client_id,
                client_secret,
                scope,
                auth_method,
            } => Credential::OAuth2(Arc::new(TokenSource::new(
                name.to_string(),
                token_url.clone(),
                client_id.resolve_with(&what("client_id"), inline)?,
                client_secret.resolve_with(&what("client_secret"), inline)?,
                scope.clone(),
                *auth_method,
            )?)),
            CredentialConfig::HttpSignature {
                key_id,
                algorithm,
                secret,
                private_key,
                encoding,
                headers,
                header,
            } => Credential::Signature(Arc::new(Signer::new(
                name.to_string(),
                key_id.clone(),
                *algorithm,
                secret
                    .as_ref()
                    .map(|s| s.resolve_with(&what("secret"), inline))
                    .transpose()?,
                private_key
                    .as_ref()
                    .map(|s| s.resolve_with(&what("private_key"), inline))
                    .transpose()?,
                *encoding,
                headers,
                *header,
            )?)),
            CredentialConfig::All { of } => Credential::All(of.clone()),
            CredentialConfig::None => Credential::None,
        })
    }

    /// The secret values and the encodings in which they could appear on the wire. An OAuth2
    /// credential's tokens are added as they are issued (`PanelContext::redact`).
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credential::Basic { username, password } => vec![
                password.clone(),
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
            ],
            Credential::ApiKey { headers } => headers.iter().map(|(_, v)| v.clone()).collect(),
            Credential::Bearer { token } => vec![token.clone()],
            Credential::HashKey { key } => vec![key.clone()],
            Credential::OAuth2(source) => source.secrets(),
            Credential::Signature(signer) => signer.secrets(),
            Credential::All(_) | Credential::None => vec![],
        }
    }

    /// Whether applying it writes the `Authorization` header.
    fn writes_authorization(&self) -> bool {
        match self {
            Credential::Basic { .. } | Credential::Bearer { .. } | Credential::OAuth2(_) => true,
            Credential::Signature(signer) => signer.writes_authorization(),
            Credential::ApiKey { headers } => headers
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case("authorization")),
            _ => false,
        }
    }

    /// Checks an inbound `Authorization` header against a Basic credential in constant time.
    pub fn accepts_basic(&self, header: Option<&str>) -> bool {
        let Credential::Basic { username, password } = self else {
            return false;
        };
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let expected = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        // Not trimmed: `Basic  dXNlcjpwYXNz ` is not the credential, and accepting it would
        // make two spellings of one secret.
        constant_time_eq(encoded.as_bytes(), expected.as_bytes())
    }
}

/// Whether `given` equals `secret`, in a time that tells a caller nothing about where they
/// differ, their lengths included. Both sides are hashed first (SHA-256), so what is compared
/// byte by byte is always 32 bytes long: a guess of the wrong length costs as long as a guess
/// of the right length, and an early return on a length difference cannot tell a caller how
/// long the secret is.
pub fn constant_time_eq(given: &[u8], secret: &[u8]) -> bool {
    let given = Sha256::digest(given);
    let secret = Sha256::digest(secret);
    given
        .iter()
        .zip(secret.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Refuses a panel's credentials that could not be applied: an `all` naming a credential the
/// panel lacks, another `all`, a hash key, or a signature anywhere but last; two of them writing
/// `Authorization`.
pub fn check(panel: &str, credentials: &BTreeMap<String, Credential>) -> Result<()> {
    for (name, credential) in credentials {
        let Credential::All(of) = credential else {
            continue;
        };
        let what = format!("panel `{panel}` credential `{name}`.of");
        if of.is_empty() {
            bail!("{what}: name at least one credential");
        }
        let mut authorization = None;
        for (i, part) in of.iter().enumerate() {
            let found = credentials
                .get(part)
                .ok_or_else(|| anyhow::anyhow!("{what}: the panel has no credential `{part}`"))?;
            match found {
                Credential::All(_) => bail!("{what}: `{part}` is itself an `all`"),
                Credential::HashKey { .. } => {
                    bail!("{what}: `{part}` is a hash key, for credentials.digest, not for requests")
                }
                Credential::Signature(_) if i + 1 != of.len() => {
                    bail!("{what}: the signature `{part}` must come last, to sign what the others set")
                }
                _ => {}
            }
            if found.writes_authorization() {
                if let Some(first) = authorization {
                    bail!("{what}: `{first}` and `{part}` both write the Authorization header");
                }
                authorization = Some(part);
            }
        }
    }
    Ok(())
}

/// What applying a credential used that the partner may refuse: the OAuth2 tokens sent, so that
/// a 401 drops them and the request is tried once more with fresh ones.
#[derive(Default)]
pub struct Applied {
    pub tokens: Vec<(Arc<TokenSource>, String)>,
}

/// Applies the panel's credential `name` to `request`. `timeout` bounds a token fetch.
pub async fn apply(
    panel: &crate::runtime::PanelContext,
    name: &str,
    request: &mut reqwest::Request,
    timeout: Duration,
) -> Result<Applied, HttpError> {
    let unknown = || HttpError::UnknownCredential(format!("panel `{}` has no credential `{name}`", panel.id));
    let credential = panel.credentials.get(name).ok_or_else(unknown)?;
    let parts: Vec<(&str, &Credential)> = match credential {
        // `check` made sure at start that every part exists and none is an `all`.
        Credential::All(of) => of
            .iter()
            .map(|part| Ok((part.as_str(), panel.credentials.get(part).ok_or_else(unknown)?)))
            .collect::<Result<_, HttpError>>()?,
        credential => vec![(name, credential)],
    };
    let mut applied = Applied::default();
    for (part, credential) in parts {
        let headers = request.headers_mut();
        match credential {
            Credential::Basic { username, password } => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    secret_value(&format!("Basic {encoded}"), part)?,
                );
            }
            Credential::Bearer { token } => {
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    secret_value(&format!("Bearer {token}"), part)?,
                );
            }
            Credential::ApiKey { headers: keys } => {
                for (header, value) in keys {
                    let header = HeaderName::try_from(header.as_str()).map_err(|_| {
                        HttpError::UnknownCredential(format!(
                            "credential `{part}`: `{header}` is no header name"
                        ))
                    })?;
                    headers.insert(header, secret_value(value, part)?);
                }
            }
            Credential::OAuth2(source) => {
                let token = source.token(&panel.client, timeout).await?;
                request.headers_mut().insert(
                    reqwest::header::AUTHORIZATION,
                    secret_value(&format!("Bearer {token}"), part)?,
                );
                applied.tokens.push((source.clone(), token));
            }
            Credential::Signature(signer) => signer.sign(request).map_err(HttpError::Protocol)?,
            Credential::None => {}
            Credential::HashKey { .. } => {
                return Err(HttpError::UnknownCredential(format!(
                    "`{part}` is a hash key, for credentials.digest, not for requests"
                )));
            }
            Credential::All(_) => return Err(unknown()),
        }
    }
    Ok(applied)
}

/// A header value holding a secret: marked sensitive, so no library prints it.
fn secret_value(text: &str, credential: &str) -> Result<HeaderValue, HttpError> {
    let mut value = HeaderValue::try_from(text).map_err(|_| {
        HttpError::UnknownCredential(format!(
            "credential `{credential}` holds a character a header cannot carry"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// HMAC-SHA256 of `data` keyed with `key`.
fn hmac_sha256(key: &str, data: &str) -> wasmtime::Result<Vec<u8>> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).map_err(|e| wasmtime::Error::msg(e.to_string()))?;
    mac.update(data.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

/// HMAC-SHA512 of `data` keyed with `key`.
fn hmac_sha512(key: &str, data: &str) -> wasmtime::Result<Vec<u8>> {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes())
        .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
    mac.update(data.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

impl Host for HostState {
    async fn digest(
        &mut self,
        credential: String,
        algorithm: DigestAlgorithm,
        data: String,
    ) -> wasmtime::Result<Result<String, String>> {
        let Some(Credential::HashKey { key }) = self.panel.credentials.get(&credential) else {
            return Ok(Err(format!(
                "panel `{}` has no hash-key credential named `{credential}`",
                self.panel.id
            )));
        };
        Ok(Ok(match algorithm {
            DigestAlgorithm::Sha256DataThenKey => hex::encode(
                Sha256::new()
                    .chain_update(data.as_bytes())
                    .chain_update(key.as_bytes())
                    .finalize(),
            ),
            DigestAlgorithm::HmacSha256 => hex::encode(hmac_sha256(key, &data)?),
            DigestAlgorithm::HmacSha512 => hex::encode(hmac_sha512(key, &data)?),
            DigestAlgorithm::HmacSha256Base64 => {
                base64::engine::general_purpose::STANDARD.encode(hmac_sha256(key, &data)?)
            }
            DigestAlgorithm::HmacSha512Base64 => {
                base64::engine::general_purpose::STANDARD.encode(hmac_sha512(key, &data)?)
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fastest of a few runs of `compare`, to keep a busy machine's noise out.
    fn fastest(compare: impl Fn() -> bool) -> std::time::Duration {
        (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                assert!(!std::hint::black_box(compare()));
                start.elapsed()
            })
            .min()
            .expect("five runs")
    }

    #[test]
    fn a_token_of_another_length_costs_as_long_to_refuse_as_one_of_the_same_length() {
        // A long secret makes the difference plain: comparing it takes milliseconds, an
        // early return on the length nanoseconds.
        let secret = vec![b'k'; 4 << 20];
        let mut same_length = secret.clone();
        *same_length.last_mut().expect("not empty") = b'x';
        let full = fastest(|| constant_time_eq(&same_length, &secret));
        let short = fastest(|| constant_time_eq(b"k", &secret));
        assert!(
            short * 10 > full,
            "a one-byte guess was refused in {short:?}, a full-length one in {full:?}: the \
             length leaks"
        );
        assert!(constant_time_eq(&secret, &secret));
        assert!(!constant_time_eq(b"", &secret));
    }

    #[test]
    fn a_basic_credential_with_whitespace_around_it_is_refused() {
        let credential = Credential::Basic {
            username: "user".into(),
            password: "pass".into(),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode("user:pass");
        assert!(credential.accepts_basic(Some(&format!("Basic {encoded}"))));
        for spelled in [
            format!("Basic {encoded} "),
            format!("Basic  {encoded}"),
            format!("Basic {encoded}\t"),
        ] {
            assert!(
                !credential.accepts_basic(Some(&spelled)),
                "`{spelled}` was accepted"
            );
        }
    }
}
