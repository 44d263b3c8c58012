//! Request signing in the HTTP Signatures style (draft-cavage-http-signatures-12), held by the
//! host: it sets a fresh `Date` (and `Host`, `Digest`, `Content-Length` when they are signed)
//! itself, builds the signing string of §2.3 over the configured headers, signs it with a key
//! the adapter never reads, and writes the `Signature` header of §4.1 (or `Authorization:
//! Signature ...`, §3.1).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest as _, Sha256, Sha512};

use crate::config::{SignatureAlgorithm, SignatureEncoding, SignatureHeader};

/// One `http-signature` credential of a panel.
pub struct Signer {
    /// `panel `X` credential `name``, for errors.
    what: String,
    key_id: String,
    algorithm: SignatureAlgorithm,
    key: Key,
    encoding: SignatureEncoding,
    /// What is signed, lowercased, in order.
    headers: Vec<String>,
    header: SignatureHeader,
}

enum Key {
    Hmac(String),
    Rsa(Box<ring::signature::RsaKeyPair>),
}

/// The pseudo-header of §2.3 the host builds from the request line.
const REQUEST_TARGET: &str = "(request-target)";

impl Signer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        what: String,
        key_id: String,
        algorithm: SignatureAlgorithm,
        secret: Option<String>,
        private_key: Option<String>,
        encoding: SignatureEncoding,
        headers: &[String],
        header: SignatureHeader,
    ) -> anyhow::Result<Signer> {
        use anyhow::bail;
        if key_id.is_empty() || key_id.contains('"') || key_id.contains('\\') {
            bail!("{what}.key_id: must be non-empty, without `\"` or `\\`");
        }
        let key = match (algorithm, secret, private_key) {
            (SignatureAlgorithm::RsaSha256, None, Some(pem)) => Key::Rsa(Box::new(rsa_key(&what, &pem)?)),
            (SignatureAlgorithm::RsaSha256, _, _) => {
                bail!("{what}: `rsa-sha256` signs with `private_key` (PKCS#8 PEM), and no `secret`")
            }
            (_, Some(secret), None) if !secret.is_empty() => Key::Hmac(secret),
            (algorithm, _, _) => bail!(
                "{what}: `{}` signs with a non-empty `secret`, and no `private_key`",
                algorithm.name()
            ),
        };
        let headers: Vec<String> = headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        if headers.is_empty() {
            bail!("{what}.headers: name at least one header to sign");
        }
        for name in &headers {
            // §2.3: `(created)` and `(expires)` are for `hs2019` only, an error with these
            // algorithms.
            if name != REQUEST_TARGET && HeaderName::try_from(name.as_str()).is_err() {
                bail!("{what}.headers: `{name}` is neither `(request-target)` nor a header name");
            }
        }
        let signer = Signer {
            what,
            key_id,
            algorithm,
            key,
            encoding,
            headers,
            header,
        };
        Ok(signer)
    }

    /// The HMAC key (an RSA key is never sent, nor written anywhere, so it cannot leak).
    pub fn secrets(&self) -> Vec<String> {
        match &self.key {
            Key::Hmac(secret) => vec![secret.clone()],
            Key::Rsa(_) => vec![],
        }
    }

    pub fn writes_authorization(&self) -> bool {
        self.header == SignatureHeader::Authorization
    }

    fn signs(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// Sets the headers the host owns, then signs the request as it will be sent.
    pub fn sign(&self, request: &mut reqwest::Request) -> Result<(), String> {
        let what = &self.what;
        let url = request.url().clone();
        // A copy: the headers are set while the body is read.
        let body = request.body().map(|b| b.as_bytes().map(<[u8]>::to_vec));
        let headers = request.headers_mut();
        // A fresh Date whatever the adapter set: the partner refuses a stale one.
        headers.insert(
            reqwest::header::DATE,
            value(&httpdate::fmt_http_date(std::time::SystemTime::now()))?,
        );
        if self.signs("host") {
            let host = url.host_str().unwrap_or_default();
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            headers.insert(reqwest::header::HOST, value(&authority)?);
        }
        let bytes = || -> Result<&[u8], String> {
            match &body {
                None => Ok(&[]),
                Some(Some(bytes)) => Ok(bytes),
                Some(None) => Err(format!(
                    "{what} signs the body (`digest` or `content-length`), and a multipart body is streamed; sign a JSON or bytes body"
                )),
            }
        };
        if self.signs("digest") {
            // RFC 3230 with RFC 5843's algorithm name, as draft-cavage's examples write it.
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes()?));
            headers.insert("digest", value(&format!("SHA-256={digest}"))?);
        }
        if self.signs("content-length") {
            headers.insert(
                reqwest::header::CONTENT_LENGTH,
                value(&bytes()?.len().to_string())?,
            );
        }
        let target = request_target(request.method(), &url);
        let text =
            signing_string(&self.headers, &target, request.headers()).map_err(|e| format!("{what}: {e}"))?;
        let signature = self.encode(&self.raw_signature(text.as_bytes())?);
        let parameters = format!(
            "keyId=\"{}\",algorithm=\"{}\",headers=\"{}\",signature=\"{signature}\"",
            self.key_id,
            self.algorithm.name(),
            self.headers.join(" ")
        );
        let (name, written) = match self.header {
            SignatureHeader::Signature => (HeaderName::from_static("signature"), parameters),
            SignatureHeader::Authorization => {
                (reqwest::header::AUTHORIZATION, format!("Signature {parameters}"))
            }
        };
        request.headers_mut().insert(name, value(&written)?);
        Ok(())
    }

    fn raw_signature(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        Ok(match (&self.key, self.algorithm) {
            (Key::Hmac(secret), SignatureAlgorithm::HmacSha512) => {
                let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            (Key::Hmac(secret), _) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| e.to_string())?;
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            (Key::Rsa(key), _) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    data,
                    &mut signature,
                )
                .map_err(|_| format!("{}: RSA signing failed", self.what))?;
                signature
            }
        })
    }

    fn encode(&self, bytes: &[u8]) -> String {
        match self.encoding {
            SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            SignatureEncoding::Hex => hex::encode(bytes),
        }
    }
}

fn value(text: &str) -> Result<HeaderValue, String> {
    HeaderValue::try_from(text).map_err(|e| format!("`{text}` is no header value: {e}"))
}

/// §2.3: the lowercased method, a space, and the path with its query.
pub fn request_target(method: &reqwest::Method, url: &url::Url) -> String {
    let mut target = format!("{} {}", method.as_str().to_ascii_lowercase(), url.path());
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    target
}

/// §2.3's signing string: one `name: value` line per signed header, in the order listed,
/// values trimmed and several values of one header joined with `, `. A listed header the
/// request lacks is an error, as the draft requires.
pub fn signing_string(signed: &[String], target: &str, headers: &HeaderMap) -> Result<String, String> {
    let mut lines = Vec::with_capacity(signed.len());
    for name in signed {
        if name == REQUEST_TARGET {
            lines.push(format!("{REQUEST_TARGET}: {target}"));
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.to_str().map(str::trim))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("header `{name}` is not text"))?;
        if values.is_empty() {
            return Err(format!("signs header `{name}`, which the request does not carry"));
        }
        lines.push(format!("{name}: {}", values.join(", ")));
    }
    Ok(lines.join("\n"))
}

/// An RSA private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
fn rsa_key(what: &str, pem: &str) -> anyhow::Result<ring::signature::RsaKeyPair> {
    let der = pem_block(pem, "PRIVATE KEY").ok_or_else(|| {
        anyhow::anyhow!(
            "{what}.private_key: no `-----BEGIN PRIVATE KEY-----` block (PKCS#8 PEM; convert a PKCS#1 key with `openssl pkcs8 -topk8 -nocrypt`)"
        )
    })?;
    ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        anyhow::anyhow!("{what}.private_key: not an RSA key ring accepts (2048 bits or more): {e}")
    })
}

/// The bytes of the first PEM block labelled `label`.
fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let text: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_string_is_the_drafts() {
        // draft-cavage-http-signatures-12 §2.3's example request, signed over
        // `(request-target) host date`.
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.org".parse().unwrap());
        headers.insert("date", "Tue, 07 Jun 2014 20:51:35 GMT".parse().unwrap());
        headers.append("cache-control", "max-age=60".parse().unwrap());
        headers.append("cache-control", " must-revalidate ".parse().unwrap());
        let url = url::Url::parse("https://example.org/foo?param=value&pet=dog").unwrap();
        let target = request_target(&reqwest::Method::GET, &url);
        let signed: Vec<String> = ["(request-target)", "host", "date", "cache-control"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            signing_string(&signed, &target, &headers).unwrap(),
            "(request-target): get /foo?param=value&pet=dog\nhost: example.org\ndate: Tue, 07 Jun 2014 20:51:35 GMT\ncache-control: max-age=60, must-revalidate"
        );
        let missing = signing_string(&["x-missing".to_string()], &target, &headers).unwrap_err();
        assert!(missing.contains("x-missing"), "{missing}");
    }

    #[test]
    fn a_signed_request_carries_the_drafts_header_and_a_verifiable_hmac() {
        let signer = Signer::new(
            "credential `sig`".into(),
            "key-1".into(),
            SignatureAlgorithm::HmacSha512,
            Some("k3y".into()),
            None,
            SignatureEncoding::Hex,
            &[
                "(request-target)".into(),
                "host".into(),
                "date".into(),
                "digest".into(),
            ],
            SignatureHeader::Signature,
        )
        .unwrap();
        let mut request = reqwest::Client::new()
            .post("http://127.0.0.1:8443/v1/x?a=1")
            .body("{}")
            .build()
            .unwrap();
        signer.sign(&mut request).unwrap();
        let header = request.headers()["signature"].to_str().unwrap().to_string();
        let date = request.headers()["date"].to_str().unwrap().to_string();
        assert_eq!(request.headers()["host"], "127.0.0.1:8443");
        assert_eq!(
            request.headers()["digest"],
            "SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="
        );
        let expected = {
            let text = format!(
                "(request-target): post /v1/x?a=1\nhost: 127.0.0.1:8443\ndate: {date}\ndigest: SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="
            );
            let mut mac = Hmac::<Sha512>::new_from_slice(b"k3y").unwrap();
            mac.update(text.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(
            header,
            format!(
                "keyId=\"key-1\",algorithm=\"hmac-sha512\",headers=\"(request-target) host date digest\",signature=\"{expected}\""
            )
        );
    }

    #[test]
    fn a_key_of_the_wrong_kind_is_refused_naming_the_field() {
        let new = |algorithm, secret: Option<&str>, key: Option<&str>| {
            Signer::new(
                "credential `sig`".into(),
                "k".into(),
                algorithm,
                secret.map(String::from),
                key.map(String::from),
                SignatureEncoding::Base64,
                &["date".into()],
                SignatureHeader::Signature,
            )
            .err()
            .map(|e| e.to_string())
        };
        let rsa = new(SignatureAlgorithm::RsaSha256, Some("s"), None).unwrap();
        assert!(rsa.contains("private_key"), "{rsa}");
        let hmac = new(SignatureAlgorithm::HmacSha256, None, None).unwrap();
        assert!(hmac.contains("secret"), "{hmac}");
        let pem = new(SignatureAlgorithm::RsaSha256, None, Some("not pem")).unwrap();
        assert!(pem.contains("PKCS#8"), "{pem}");
    }
}
