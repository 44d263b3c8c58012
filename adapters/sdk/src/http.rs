//! Calling the partner through the host's `http` import.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::panelgate::adapter::http::{
    self as host, HttpError, Method, Request, RequestBody, Response,
};
use crate::{AdapterError, FormPart, Pair};

/// Joins the panel's base URL and a path without doubling or dropping the slash.
pub fn url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Sends `body` as JSON with `credential` applied by the host.
pub fn post_json(
    url: &str,
    body: &impl Serialize,
    credential: Option<&str>,
) -> Result<Response, AdapterError> {
    let json = serde_json::to_string(body)
        .map_err(|e| AdapterError::PartnerProtocol(format!("encoding request: {e}")))?;
    send(Method::Post, url, RequestBody::Json(json), credential)
}

/// Sends a multipart form with `credential` applied by the host.
pub fn post_form(
    url: &str,
    parts: Vec<FormPart>,
    credential: Option<&str>,
) -> Result<Response, AdapterError> {
    send(Method::Post, url, RequestBody::Form(parts), credential)
}

/// Sends a request; transport failures become the matching `adapter-error`.
pub fn send(
    method: Method,
    url: &str,
    body: RequestBody,
    credential: Option<&str>,
) -> Result<Response, AdapterError> {
    let request = Request {
        method,
        url: url.to_string(),
        headers: vec![Pair {
            name: "accept".into(),
            value: "application/json".into(),
        }],
        body,
        credential: credential.map(str::to_string),
    };
    host::send(&request).map_err(transport_error)
}

fn transport_error(error: HttpError) -> AdapterError {
    match error {
        HttpError::Timeout(m) => AdapterError::PartnerTimeout(m),
        HttpError::Connect(m) => AdapterError::PartnerUnavailable(m),
        HttpError::Denied(m) => {
            AdapterError::PartnerProtocol(format!("outbound call denied by the host: {m}"))
        }
        HttpError::UnknownCredential(m) => {
            AdapterError::PartnerProtocol(format!("credential not configured: {m}"))
        }
        HttpError::TooLarge(n) => {
            AdapterError::PartnerProtocol(format!("response larger than the panel's cap ({n} bytes)"))
        }
        HttpError::Protocol(m) => AdapterError::PartnerProtocol(m),
    }
}

/// Decodes a JSON body, naming the partner and what was wrong when it is not the expected shape.
pub fn json<T: DeserializeOwned>(response: &Response) -> Result<T, AdapterError> {
    serde_json::from_slice(&response.body).map_err(|e| {
        AdapterError::PartnerProtocol(format!(
            "HTTP {} with a body that is not the expected JSON ({e}): {}",
            response.status,
            snippet(&response.body)
        ))
    })
}

/// The start of a body, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        s.push('…');
    }
    s
}
