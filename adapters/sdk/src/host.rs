//! The host's imports, as the rest of the SDK calls them. In a component they are the host's; in
//! a native build (an adapter's unit tests) they are the [`crate::mock`] the test installed, so
//! mapping code can be tested with `cargo test` and no host.

#[cfg(target_arch = "wasm32")]
mod imports {
    use crate::bindings::panelgate::adapter as wit;
    use wit::http::{HttpError, Request, Response};
    use wit::log::Level;

    pub(crate) fn send(request: &Request) -> Result<Response, HttpError> {
        wit::http::send(request)
    }
    pub(crate) fn setting(key: &str) -> Option<String> {
        wit::config::get(key)
    }
    pub(crate) fn log(level: Level, message: &str) {
        wit::log::log(level, message)
    }
    pub(crate) fn digest(
        credential: &str,
        algorithm: wit::credentials::DigestAlgorithm,
        data: &str,
    ) -> Result<String, String> {
        wit::credentials::digest(credential, algorithm, data)
    }
    pub(crate) fn idempotency_key() -> Option<String> {
        wit::invocation::idempotency_key()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imports {
    pub(crate) use crate::mock::{digest, idempotency_key, log, send, setting};
}

pub(crate) use imports::*;
