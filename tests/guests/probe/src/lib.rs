//! A test guest. `quote` with product `trap` panics (a trap in the host's eyes); with product
//! `probe` it answers with everything it could see: environment, arguments, files, settings,
//! and whether its HTTP import reaches a host off its allow-list; with product `echo` it asks
//! its partner (`POST {base-url}/rate`) for a rate and quotes it. Anything else gets a fixed
//! quotation. The hostile products: `loop` spins forever, `alloc` allocates without bound,
//! `recurse` recurses without end, `log-flood` logs without end, `stdout-flood` prints without
//! end, `chatty` prints 256 KiB to stdout and stderr each and answers, and `malformed` answers a quotation whose money and dates are not money and dates.
//! `http-flood` sends [`FLOOD_SENDS`] requests with an outsized URL, header and form field to
//! a host off its allow-list, and answers how many were refused. `count` counts its calls in
//! statics, one of them 2 MiB, and answers what it found: a fresh instance per call finds
//! nothing of the one before. `accept` binds at its partner (`POST {base-url}/bind`), and traps
//! after when the partner's answer says `"trap": true`. `validate` of the product
//! `reach-partner` tries its partner, which the host must refuse.
//!
//! Built six times by `tests/build.rs`: as `probe@0.1.0`; with the `next` feature as
//! `probe@0.2.0`, a "new version" that needs the `channel` setting and sends it to the partner,
//! for the deploy, rollback and replay tests; with the `callbacks` feature as
//! `probe-callbacks@0.1.0`, which serves the callback `rate-changed` by asking its partner
//! (`POST {base-url}/rate`) and answering the rate, for the tests of callback auth and of the
//! journal of a callback's partner exchanges; with the `broken` feature as `probe@0.3.0`, a bad
//! release that traps on every quote, ordinary ones included, which quarantine must catch; and
//! with the `reach` feature, importing the filesystem and sockets the sandbox does not grant,
//! which push must refuse; and with the `sleepy-describe` feature as `probe@0.4.0`, whose
//! `describe` sleeps an hour in a WASI clock wait, which push must refuse in time.

use panelgate_adapter_sdk::bindings::panelgate::adapter::http::{Method, RequestBody, Response};
use panelgate_adapter_sdk::*;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

pub struct Probe;

fn quotation(message: String) -> Quotation {
    Quotation {
        reference: None,
        options: vec![],
        underwriting: UnderwritingIndication::Unknown,
        acceptance_class: None,
        accumulation: None,
        requirements: vec![],
        valid_until: None,
        message: Some(message),
        extensions: None,
    }
}

fn probe() -> String {
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let args: Vec<String> = std::env::args().collect();
    let files = reach();
    let settings: Vec<String> = ["base-url", "line", "partner", "password", "secret"]
        .iter()
        .map(|k| format!("{k}={:?}", setting(k)))
        .collect();
    let outside = match http::send(Method::Get, "http://example.invalid/", RequestBody::Empty, None) {
        Ok(r) => format!("reached outside: {}", r.status),
        Err(e) => format!("outside refused: {e:?}"),
    };
    serde_json::json!({ "env": env, "args": args, "files": files, "settings": settings, "outside": outside })
        .to_string()
}

/// What the filesystem and the network let the guest do. Only the `reach` build imports them
/// (`wasi:filesystem`, `wasi:sockets`), and the host refuses that build at push; the others
/// import neither, so there is nothing to try.
#[cfg(feature = "reach")]
fn reach() -> String {
    let files = match std::fs::read_dir("/") {
        Ok(entries) => format!("read_dir ok: {}", entries.count()),
        Err(e) => format!("read_dir refused: {e}"),
    };
    let socket = match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("connect refused: {e}"),
    };
    format!("{files}; {socket}")
}

#[cfg(not(feature = "reach"))]
fn reach() -> String {
    "no filesystem or socket imported".into()
}

/// Calls this instance has answered with `count`.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// 2 MiB of zero-initialised memory, more than the pool resets in place (1 MiB), so that both
/// the in-place reset and the kernel's are seen.
static PAGES: [AtomicU8; 2 << 20] = [const { AtomicU8::new(0) }; 2 << 20];

/// `count`: how many calls this instance has seen, and how many pages of [`PAGES`] an earlier
/// call left marked. A fresh instance per call: always 1 and 0.
fn count() -> String {
    let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    let leftover = PAGES
        .iter()
        .step_by(4096)
        .filter(|byte| byte.swap(0xAB, Ordering::SeqCst) != 0)
        .count();
    format!("calls {calls}, leftover pages {leftover}")
}

// Recursion without end is the point: the host must stop it.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(depth + 1))) + 1
}

const VERSION: &str = if cfg!(feature = "sleepy-describe") {
    "0.4.0"
} else if cfg!(feature = "broken") {
    "0.3.0"
} else if cfg!(feature = "next") {
    "0.2.0"
} else {
    "0.1.0"
};

fn echo() -> Result<Quotation, AdapterError> {
    let base = required_setting("base-url")?;
    let mut body = serde_json::json!({ "ask": "rate" });
    if cfg!(feature = "next") {
        body["channel"] = required_setting("channel")?.into();
    }
    let response = checked(http::post_json(&http::url(&base, "rate"), &body, None)?)?;
    let answer: serde_json::Value = http::json(&response)?;
    let rate = answer["rate"].as_str().unwrap_or("?");
    Ok(quotation(format!("rate {rate} from probe {VERSION}")))
}

/// The partner's status as the canonical error: its 5xx is `partner-unavailable`, its 4xx
/// `partner-bad-request`.
fn checked(response: Response) -> Result<Response, AdapterError> {
    match response.status {
        500.. => Err(AdapterError::PartnerUnavailable(format!(
            "HTTP {}",
            response.status
        ))),
        400.. => Err(AdapterError::PartnerBadRequest(format!(
            "HTTP {}",
            response.status
        ))),
        _ => Ok(response),
    }
}

/// Requests `http-flood` sends: several times what the host lets one operation make.
const FLOOD_SENDS: usize = 200;

/// `http-flood`: each request carries a 96 KiB URL, header and form field, more than the
/// journal keeps of any of them, to a host no panel allows.
fn http_flood() -> String {
    let big = "f".repeat(96 << 10);
    let url = format!("http://off-the-list.invalid/{big}");
    let refused = (0..FLOOD_SENDS)
        .filter(|_| {
            http::request(Method::Post, &url)
                .header("x-flood", &big)
                .body(RequestBody::Form(vec![form::text("note", &big)]))
                .send()
                .is_err()
        })
        .count();
    format!("{FLOOD_SENDS} sends, {refused} refused")
}

impl Adapter for Probe {
    fn describe() -> Description {
        if cfg!(feature = "sleepy-describe") {
            // A wait inside a host call (`wasi:clocks` subscribe and poll), not guest CPU.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
        let mut config_keys = vec![];
        if cfg!(feature = "next") {
            config_keys.push(ConfigKey {
                name: "channel".into(),
                description: "the sales channel the partner's rate depends on".into(),
                required: true,
            });
        }
        let mut operations = vec![
            Operation::Quote,
            Operation::Accept,
            Operation::DeclineQuote,
            Operation::Validate,
        ];
        let mut callbacks = vec![];
        if cfg!(feature = "callbacks") {
            // Another adapter's release, which serves a callback and no longer declines quotes.
            operations.retain(|o| *o != Operation::DeclineQuote);
            operations.push(Operation::HandleCallback);
            callbacks.push(CallbackRoute {
                path: "rate-changed".into(),
                description: "the partner says its rate changed; the probe asks for it".into(),
            });
        }
        Description {
            name: if cfg!(feature = "callbacks") {
                "probe-callbacks".into()
            } else {
                "probe".into()
            },
            version: VERSION.into(),
            spec: "test guest".into(),
            operations,
            config_keys,
            credentials: vec![],
            callbacks,
            lookups: vec![],
            extensions: Vec::new(),
        }
    }

    /// `rate-changed` (with the `callbacks` feature): asks the partner for the rate and answers
    /// it, no event.
    /// Asks its partner for the rate and answers it. A callback body may also ask for
    /// `events` (`[{"ref": ..., "key": ..., "data": ...}]`: partner events on the case with the
    /// reference `probe-ref`) and a reply `content_type`, as a test wants them.
    fn handle_callback(callback: CallbackRequest) -> Result<CallbackOutcome, AdapterError> {
        if !cfg!(feature = "callbacks") {
            return Err(errors::unsupported("handle-callback"));
        }
        let base = required_setting("base-url")?;
        let body = serde_json::json!({ "ask": "rate" });
        let response = checked(http::post_json(&http::url(&base, "rate"), &body, None)?)?;
        let asked: serde_json::Value = match &callback.body {
            CallbackBody::Bytes(bytes) => serde_json::from_slice(bytes).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        let events = asked["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Event {
                case_ref: Reference {
                    kind: "probe-ref".into(),
                    value: e["ref"].as_str().unwrap_or_default().into(),
                },
                dedup_key: e["key"].as_str().unwrap_or_default().into(),
                status: None,
                detail: EventDetail::Other(PartnerEvent {
                    kind: "probe".into(),
                    data: Some(serde_json::json!({ "data": e["data"] }).to_string()),
                }),
                extensions: None,
            })
            .collect();
        Ok(CallbackOutcome {
            events,
            reply: CallbackReply {
                status: 200,
                content_type: asked["content_type"]
                    .as_str()
                    .unwrap_or("application/json")
                    .into(),
                body: response.body,
            },
        })
    }

    /// Answers the idempotency key the host gave it as the receipt's reference, so a test can
    /// see it is stable across the portal's retries.
    fn decline_quote(request: QuoteDecline) -> Result<NotifyReceipt, AdapterError> {
        Ok(NotifyReceipt {
            accepted: true,
            reference: idempotency_key(),
            message: Some(format!("declined {}", request.quote_reference)),
        })
    }

    fn quote(request: QuoteRequest) -> Result<Quotation, AdapterError> {
        if cfg!(feature = "broken") {
            panic!("this build of the probe traps on every quote");
        }
        match request.product.as_deref() {
            Some("trap") => panic!("the probe adapter was asked to trap"),
            Some("probe") => Ok(quotation(probe())),
            Some("echo") => echo(),
            Some("count") => Ok(quotation(count())),
            Some("http-flood") => Ok(quotation(http_flood())),
            Some("loop") => loop {
                std::hint::black_box(());
            },
            Some("alloc") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
                }
            }
            Some("recurse") => Ok(quotation(format!("{}", recurse(std::hint::black_box(1))))),
            Some("log-flood") => loop {
                panelgate_adapter_sdk::log(
                    panelgate_adapter_sdk::bindings::panelgate::adapter::log::Level::Info,
                    &"flood ".repeat(200),
                );
            },
            Some("chatty") => {
                for _ in 0..256 {
                    println!("{}", "chat ".repeat(200));
                    eprintln!("{}", "chat ".repeat(200));
                }
                Ok(quotation("chatty".into()))
            }
            Some("stdout-flood") => loop {
                println!("{}", "flood ".repeat(200));
            },
            Some("malformed") => {
                let mut q = quotation("malformed".into());
                q.options.push(QuoteOption {
                    product: None,
                    plan: None,
                    description: None,
                    premium: Money {
                        amount: "a lot".into(),
                        currency: "rupiah".into(),
                    },
                    frequency: None,
                    coverages: vec![],
                    taxes: None,
                    fees: None,
                    id: None,
                    breakdown: Vec::new(),
                    extensions: None,
                });
                q.valid_until = Some("next tuesday".into());
                Ok(q)
            }
            _ => Ok(quotation("fine".into())),
        }
    }

    /// Finds nothing wrong, except that it tries its partner (`POST {base-url}/quote`), which
    /// `validate` may not reach: the issue it answers is what `send` said.
    fn validate(request: ValidationRequest) -> Result<Vec<FieldIssue>, AdapterError> {
        let ValidationRequest::Quote(quote) = request else {
            return Ok(vec![]);
        };
        if quote.product.as_deref() != Some("reach-partner") {
            return Ok(vec![]);
        }
        let base = required_setting("base-url")?;
        let sent = http::post_json(&http::url(&base, "quote"), &serde_json::json!({}), None);
        Ok(vec![FieldIssue {
            path: "product".into(),
            message: match sent {
                Ok(response) => format!("the partner answered {}", response.status),
                Err(e) => format!("not sent: {e:?}"),
            },
        }])
    }

    /// Binds at the partner (`POST {base-url}/bind`): a state-changing call, never retried.
    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        let base = required_setting("base-url")?;
        let body = serde_json::json!({ "case": application.case_id });
        let response = checked(http::post_json(&http::url(&base, "bind"), &body, None)?)?;
        let answer: serde_json::Value = http::json(&response)?;
        if answer["trap"] == true {
            panic!("the probe was asked to trap after its partner bound the policy");
        }
        Ok(Acceptance {
            outcome: AcceptanceOutcome::Issued,
            status: CaseStatus::InForce,
            references: vec![],
            policy: None,
            requirements: vec![],
            message: answer["policy"].as_str().map(str::to_string),
            more_policies: Vec::new(),
            payment_due: None,
            extensions: None,
        })
    }
}

export_adapter!(Probe);
