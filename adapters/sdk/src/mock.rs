//! A stand-in for the host in native unit tests (`cargo test` on the adapter's crate): the
//! panel's settings, the partner's answers in the order the adapter's requests get them, and a
//! record of every request and log line. Install one per test; it lives on the test's thread.
//!
//! ```
//! use panelgate_adapter_sdk::mock::MockHost;
//! use panelgate_adapter_sdk::bindings::panelgate::adapter::http::Method;
//!
//! let host = MockHost::new()
//!     .setting("base-url", "https://partner.example")
//!     .answer_json(200, &serde_json::json!({ "premium": 100 }))
//!     .install();
//! let response = panelgate_adapter_sdk::http::request(Method::Post, "https://partner.example/quote")
//!     .header("x-request-id", "42")
//!     .send()
//!     .unwrap();
//! assert_eq!(response.status, 200);
//! assert_eq!(host.requests()[0].url, "https://partner.example/quote");
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use crate::Pair;
use crate::bindings::panelgate::adapter::credentials::DigestAlgorithm;
use crate::bindings::panelgate::adapter::http::{HttpError, Request, Response};
use crate::bindings::panelgate::adapter::log::Level;

#[derive(Default)]
struct State {
    settings: BTreeMap<String, String>,
    answers: VecDeque<Result<Response, HttpError>>,
    digests: BTreeMap<String, String>,
    requests: Vec<Request>,
    logs: Vec<(Level, String)>,
    idempotency_key: Option<String>,
}

thread_local! {
    static INSTALLED: RefCell<Option<Rc<RefCell<State>>>> = const { RefCell::new(None) };
}

/// What the host will answer; [`MockHost::install`] makes it the host of this thread.
#[derive(Default)]
pub struct MockHost {
    state: State,
}

impl MockHost {
    pub fn new() -> MockHost {
        MockHost::default()
    }

    /// A panel setting, as `config.get` returns it (the host also sets `base-url`).
    pub fn setting(mut self, key: &str, value: &str) -> MockHost {
        self.state.settings.insert(key.into(), value.into());
        self
    }

    /// The operation's idempotency key, as `invocation.idempotency-key` returns it.
    pub fn idempotency_key(mut self, key: &str) -> MockHost {
        self.state.idempotency_key = Some(key.into());
        self
    }

    /// The partner's next answer: `status` with `body` and no headers.
    pub fn answer(self, status: u16, body: impl Into<Vec<u8>>) -> MockHost {
        self.response(Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        })
    }

    /// The partner's next answer: `status` with `body` as JSON.
    pub fn answer_json(self, status: u16, body: &serde_json::Value) -> MockHost {
        let mut host = self.answer(status, body.to_string());
        if let Some(Ok(last)) = host.state.answers.back_mut() {
            last.headers.push(Pair {
                name: "content-type".into(),
                value: "application/json".into(),
            });
        }
        host
    }

    /// The partner's next answer, in full.
    pub fn response(mut self, response: Response) -> MockHost {
        self.state.answers.push_back(Ok(response));
        self
    }

    /// The next request fails as the host would report it (a timeout, a refused connection).
    pub fn fail(mut self, error: HttpError) -> MockHost {
        self.state.answers.push_back(Err(error));
        self
    }

    /// What `credentials.digest` returns for `data` (the mock holds no keys).
    pub fn digest(mut self, data: &str, digest: &str) -> MockHost {
        self.state.digests.insert(data.into(), digest.into());
        self
    }

    /// Makes this the host of the current thread until the returned handle is dropped.
    pub fn install(self) -> Installed {
        let state = Rc::new(RefCell::new(self.state));
        INSTALLED.with(|slot| *slot.borrow_mut() = Some(state.clone()));
        Installed { state }
    }
}

/// The installed mock: what the adapter sent and logged.
pub struct Installed {
    state: Rc<RefCell<State>>,
}

impl Installed {
    /// Every request the adapter sent, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }

    /// Every line the adapter logged.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    /// Answers not yet taken: a test may assert that the adapter made every call it expects.
    pub fn unanswered(&self) -> usize {
        self.state.borrow().answers.len()
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        INSTALLED.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_some_and(|s| Rc::ptr_eq(s, &self.state)) {
                *slot = None;
            }
        });
    }
}

fn with<T>(what: &str, f: impl FnOnce(&mut State) -> T) -> T {
    INSTALLED.with(|slot| {
        let slot = slot.borrow();
        let Some(state) = slot.as_ref() else {
            panic!(
                "the adapter called the host's `{what}` in a native build with no mock installed: \
                 start the test with `panelgate_adapter_sdk::mock::MockHost::new()...install()`"
            );
        };
        f(&mut state.borrow_mut())
    })
}

pub(crate) fn send(request: &Request) -> Result<Response, HttpError> {
    with("http.send", |state| {
        state.requests.push(request.clone());
        state.answers.pop_front().unwrap_or_else(|| {
            panic!(
                "the mock host has no answer left for {:?} {} (request {})",
                request.method,
                request.url,
                state.requests.len()
            )
        })
    })
}

pub(crate) fn setting(key: &str) -> Option<String> {
    with("config.get", |state| state.settings.get(key).cloned())
}

pub(crate) fn log(level: Level, message: &str) {
    with("log.log", |state| state.logs.push((level, message.to_string())))
}

pub(crate) fn digest(credential: &str, _algorithm: DigestAlgorithm, data: &str) -> Result<String, String> {
    with("credentials.digest", |state| {
        state
            .digests
            .get(data)
            .cloned()
            .ok_or_else(|| format!("the mock host has no digest of {data:?} with `{credential}`"))
    })
}

pub(crate) fn idempotency_key() -> Option<String> {
    with("invocation.idempotency-key", |state| {
        state.idempotency_key.clone()
    })
}
