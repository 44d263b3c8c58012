//! Adapter signatures: who vouches for a module, checked offline.
//!
//! A partner signs the SHA-256 digest the registry already names a module by, with an Ed25519
//! key (RFC 8032) whose public half broker IT writes in the config (`[signers.NAME]`). The
//! signed message is the digest behind a fixed prefix, so a signature made for something else
//! with the same key never passes for a module signature. A signature travels as base64 of its
//! 64 bytes; the private key as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes);
//! the public key as base64 of its 32 bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
pub use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};

/// The header a push carries its signature in (`POST /admin/adapters`).
pub const HEADER: &str = "X-Panelgate-Signature";

/// What is signed: the prefix, then the module's lowercase hex SHA-256.
const CONTEXT: &str = "panelgate-adapter-v1 sha256:";

fn message(hash: &str) -> Vec<u8> {
    format!("{CONTEXT}{hash}").into_bytes()
}

/// A public key from its base64 (32 bytes).
pub fn public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("an Ed25519 public key is 32 bytes, not {}", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key".to_string())
}

/// A signature from its base64 (64 bytes), as the `.sig` file and the push header carry it.
pub fn signature(text: &str) -> Result<Signature, String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("an Ed25519 signature is 64 bytes, not {}", b.len()))?;
    Ok(Signature::from_bytes(&bytes))
}

/// Whether `sig` is `key`'s signature of the module whose SHA-256 is `hash`.
pub fn verifies(key: &VerifyingKey, hash: &str, sig: &Signature) -> bool {
    // Strict: refuses the malleable and small-order forms RFC 8032 lets a lax verifier take.
    key.verify_strict(&message(hash), sig).is_ok()
}

/// The base64 signature of the module whose SHA-256 is `hash`.
pub fn sign(key: &SigningKey, hash: &str) -> String {
    STANDARD.encode(key.sign(&message(hash)).to_bytes())
}

/// A new key pair: its private key as PKCS#8 PEM, its public key as base64.
pub fn keygen() -> Result<(String, String), String> {
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("encoding the key: {e}"))?;
    Ok((pem.to_string(), public_key_of(&key)))
}

/// A private key from PKCS#8 PEM.
pub fn private_key(pem: &str) -> Result<SigningKey, String> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| format!("not an Ed25519 private key in PKCS#8 PEM: {e}"))
}

/// The base64 public key of a private key, as the config's `public_key` takes it.
pub fn public_key_of(key: &SigningKey) -> String {
    public_key_of_verifying(&key.verifying_key())
}

/// A public key as base64, as the config's `public_key` takes it.
pub fn public_key_of_verifying(key: &VerifyingKey) -> String {
    STANDARD.encode(key.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_digest_and_key_only() {
        let (pem, public) = keygen().unwrap();
        let key = private_key(&pem).unwrap();
        let public = public_key(&public).unwrap();
        let hash = "ab".repeat(32);
        let sig = signature(&sign(&key, &hash)).unwrap();
        assert!(verifies(&public, &hash, &sig));
        assert!(!verifies(&public, &"cd".repeat(32), &sig));
        let (_, other) = keygen().unwrap();
        assert!(!verifies(&public_key(&other).unwrap(), &hash, &sig));
    }

    #[test]
    fn malformed_keys_and_signatures_are_named() {
        assert!(public_key("not base64!").unwrap_err().contains("base64"));
        assert!(public_key("AAAA").unwrap_err().contains("32 bytes"));
        assert!(signature("AAAA").unwrap_err().contains("64 bytes"));
        assert!(private_key("junk").is_err());
    }
}
