//! Calling the partner through the host's `http` import.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::panelgate::adapter::http::{HttpError, Method, Request, RequestBody, Response};
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
    request(method, url).body(body).credential(credential).send()
}

/// A request to build: headers beyond `accept: application/json`, a body, a credential.
///
/// The host refuses `Authorization` (name a credential instead) and sets `content-type` for
/// JSON and form bodies itself.
pub fn request(method: Method, url: &str) -> Call {
    Call {
        request: Request {
            method,
            url: url.to_string(),
            headers: vec![Pair {
                name: "accept".into(),
                value: "application/json".into(),
            }],
            body: RequestBody::Empty,
            credential: None,
        },
    }
}

/// A request being built; see [`request`].
#[derive(Debug, Clone)]
pub struct Call {
    request: Request,
}

impl Call {
    /// Sets header `name` (replacing one of the same name, whatever its case).
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.request
            .headers
            .retain(|h| !h.name.eq_ignore_ascii_case(name));
        self.request.headers.push(Pair {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    pub fn body(mut self, body: RequestBody) -> Call {
        self.request.body = body;
        self
    }

    /// `body` as JSON.
    pub fn json(self, body: &impl Serialize) -> Result<Call, AdapterError> {
        let json = serde_json::to_string(body)
            .map_err(|e| AdapterError::PartnerProtocol(format!("encoding request: {e}")))?;
        Ok(self.body(RequestBody::Json(json)))
    }

    /// The panel credential the host applies at egress (`None`: none).
    pub fn credential(mut self, name: Option<&str>) -> Call {
        self.request.credential = name.map(str::to_string);
        self
    }

    /// The request as it will be sent.
    pub fn as_request(&self) -> &Request {
        &self.request
    }

    /// Sends it; transport failures become the matching `adapter-error`.
    pub fn send(self) -> Result<Response, AdapterError> {
        crate::host::send(&self.request).map_err(transport_error)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::MockHost;

    #[test]
    fn a_header_replaces_one_of_the_same_name_and_reaches_the_host() {
        let host = MockHost::new().answer(204, "").install();
        let response = request(Method::Get, "https://p.example/x")
            .header("Accept", "application/xml")
            .header("date", "Sun, 06 Dec 2026 06:00:00 GMT")
            .credential(Some("partner"))
            .send()
            .unwrap();
        assert_eq!(response.status, 204);
        let sent = &host.requests()[0];
        let headers: Vec<(&str, &str)> = sent
            .headers
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("Accept", "application/xml"),
                ("date", "Sun, 06 Dec 2026 06:00:00 GMT")
            ]
        );
        assert_eq!(sent.credential.as_deref(), Some("partner"));
    }

    #[test]
    fn a_transport_failure_is_the_matching_adapter_error() {
        let _host = MockHost::new().fail(HttpError::Timeout("read".into())).install();
        let error = post_json("https://p.example/x", &serde_json::json!({}), None).unwrap_err();
        assert!(matches!(error, AdapterError::PartnerTimeout(_)), "{error:?}");
    }

    #[test]
    #[should_panic(expected = "no answer left")]
    fn a_request_the_test_did_not_answer_fails_the_test() {
        let _host = MockHost::new().install();
        let _ = send(Method::Get, "https://p.example/x", RequestBody::Empty, None);
    }
}
