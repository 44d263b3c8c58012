//! Panel credentials: resolved from the environment at start, applied at egress, never
//! handed to the adapter.

use anyhow::Result;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::{CredentialConfig, InlineSecrets};
use crate::runtime::HostState;
use crate::runtime::bindings::panelgate::adapter::credentials::{DigestAlgorithm, Host};

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
    /// The partner needs none: nothing is applied.
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Basic { .. } => "Credential::Basic(***)",
            Credential::ApiKey { .. } => "Credential::ApiKey(***)",
            Credential::Bearer { .. } => "Credential::Bearer(***)",
            Credential::HashKey { .. } => "Credential::HashKey(***)",
            Credential::None => "Credential::None",
        })
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
            CredentialConfig::None => Credential::None,
        })
    }

    /// The secret values and the encodings in which they could appear on the wire.
    pub fn secrets(&self) -> Vec<String> {
        match self {
            Credential::Basic { username, password } => vec![
                password.clone(),
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
            ],
            Credential::ApiKey { headers } => headers.iter().map(|(_, v)| v.clone()).collect(),
            Credential::Bearer { token } => vec![token.clone()],
            Credential::HashKey { key } => vec![key.clone()],
            Credential::None => vec![],
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
            DigestAlgorithm::HmacSha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
                    .map_err(|e| wasmtime::Error::msg(e.to_string()))?;
                mac.update(data.as_bytes());
                hex::encode(mac.finalize().into_bytes())
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
