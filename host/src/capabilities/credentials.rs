//! Panel credentials: resolved from the environment at start, applied at egress, never
//! handed to the adapter.

use anyhow::Result;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::CredentialConfig;
use crate::runtime::HostState;
use crate::runtime::bindings::panelgate::adapter::credentials::{DigestAlgorithm, Host};

/// A credential with its secrets resolved.
#[derive(Clone)]
pub enum Credential {
    Basic { username: String, password: String },
    ApiKey { headers: Vec<(String, String)> },
    Bearer { token: String },
    HashKey { key: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Basic { .. } => "Credential::Basic(***)",
            Credential::ApiKey { .. } => "Credential::ApiKey(***)",
            Credential::Bearer { .. } => "Credential::Bearer(***)",
            Credential::HashKey { .. } => "Credential::HashKey(***)",
        })
    }
}

impl Credential {
    pub fn resolve(name: &str, config: &CredentialConfig) -> Result<Credential> {
        let what = |field: &str| format!("credential `{name}`.{field}");
        Ok(match config {
            CredentialConfig::Basic { username, password } => Credential::Basic {
                username: username.resolve(&what("username"))?,
                password: password.resolve(&what("password"))?,
            },
            CredentialConfig::ApiKey { headers } => Credential::ApiKey {
                headers: headers
                    .iter()
                    .map(|(h, v)| Ok((h.clone(), v.resolve(&what(h))?)))
                    .collect::<Result<_>>()?,
            },
            CredentialConfig::Bearer { token } => Credential::Bearer {
                token: token.resolve(&what("token"))?,
            },
            CredentialConfig::HashKey { key } => Credential::HashKey {
                key: key.resolve(&what("key"))?,
            },
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
        constant_time_eq(encoded.trim().as_bytes(), expected.as_bytes())
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
