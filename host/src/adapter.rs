//! What the API calls: an adapter as a plain async trait, with no wasmtime in it.

use std::future::Future;
use std::pin::Pin;

use serde_json::value::RawValue;

use crate::model::*;
use crate::runtime::Exchange;

/// One canonical operation and its input.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "operation", content = "input", rename_all = "snake_case")]
// Every input is a record of the contract, moved once into the adapter's call; boxing the
// large ones would buy nothing but an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Call {
    Quote(QuoteRequest),
    Accept(Application),
    UploadDocument(Document),
    Confirm(Confirmation),
    Cancel(Cancellation),
    Claim(ClaimRequest),
    Status(CaseRef),
    PolicyDocument(CaseRef),
    HandleCallback(CallbackRequest),
    Lookup(LookupRequest),
    Poll(PollRequest),
    Notify(Notification),
    DeclineQuote(QuoteDecline),
    QuoteChange(ChangeRequest),
    Change(ChangeRequest),
    QuoteCancellation(Cancellation),
}

impl Call {
    /// The input as the journal keeps it, JSON text: secrets masked, document bytes as their
    /// size and digest. Rendered straight from the input; only an input whose text may hold a
    /// secret, and a document, go through a tree to be changed.
    pub fn journal_input(&self) -> Box<RawValue> {
        use serde_json::value::to_raw_value as raw;
        let text = match self {
            Call::Quote(r) => raw(r),
            Call::Accept(r) => raw(r),
            Call::UploadDocument(r) => raw(r),
            Call::Confirm(r) => raw(r),
            Call::Cancel(r) => raw(r),
            Call::Claim(r) => raw(r),
            Call::Status(r) | Call::PolicyDocument(r) => raw(r),
            Call::HandleCallback(r) => raw(r),
            Call::Lookup(r) => raw(r),
            Call::Poll(r) => raw(r),
            Call::Notify(r) => raw(r),
            Call::DeclineQuote(r) => raw(r),
            Call::QuoteChange(r) | Call::Change(r) => raw(r),
            Call::QuoteCancellation(r) => raw(r),
        };
        // The portal's input was parsed from JSON, so it renders back, and parses back below;
        // should either fail, the journal says so, and never keeps what it could not mask.
        let unrenderable = |e: serde_json::Error| {
            raw(&serde_json::json!({ "unrenderable": e.to_string() })).unwrap_or_default()
        };
        let text = match text {
            Ok(text) => text,
            Err(e) => return unrenderable(e),
        };
        let document = match self {
            Call::UploadDocument(document) => Some(document),
            _ => None,
        };
        if document.is_none() && !may_hold_a_secret(text.get()) {
            return text;
        }
        let mut value = match serde_json::from_str::<serde_json::Value>(text.get()) {
            Ok(value) => value,
            Err(e) => return unrenderable(e),
        };
        if let Some(document) = document
            && let Some(data) = value.get_mut("data")
        {
            use sha2::Digest as _;
            *data = serde_json::json!({
                "bytes": document.data.len(),
                "sha256": hex::encode(sha2::Sha256::digest(&document.data)),
            });
        }
        mask(&mut value);
        raw(&value).unwrap_or_else(unrenderable)
    }

    pub fn operation(&self) -> Operation {
        match self {
            Call::Quote(_) => Operation::Quote,
            Call::Accept(_) => Operation::Accept,
            Call::UploadDocument(_) => Operation::UploadDocument,
            Call::Confirm(_) => Operation::Confirm,
            Call::Cancel(_) => Operation::Cancel,
            Call::Claim(_) => Operation::Claim,
            Call::Status(_) => Operation::Status,
            Call::PolicyDocument(_) => Operation::PolicyDocument,
            Call::HandleCallback(_) => Operation::HandleCallback,
            Call::Lookup(_) => Operation::Lookup,
            Call::Poll(_) => Operation::Poll,
            Call::Notify(_) => Operation::Notify,
            Call::DeclineQuote(_) => Operation::DeclineQuote,
            Call::QuoteChange(_) => Operation::QuoteChange,
            Call::Change(_) => Operation::Change,
            Call::QuoteCancellation(_) => Operation::QuoteCancellation,
        }
    }
}

impl Call {
    /// The input's `extensions` (JSON text), for an operation whose input has them.
    pub fn extensions(&self) -> Option<&Option<String>> {
        Some(match self {
            Call::Quote(r) => &r.extensions,
            Call::Accept(r) => &r.extensions,
            Call::UploadDocument(r) => &r.extensions,
            Call::Confirm(r) => &r.extensions,
            Call::Cancel(r) | Call::QuoteCancellation(r) => &r.extensions,
            Call::Claim(r) => &r.extensions,
            Call::DeclineQuote(r) => &r.extensions,
            Call::QuoteChange(r) | Call::Change(r) => &r.extensions,
            Call::Status(_)
            | Call::PolicyDocument(_)
            | Call::HandleCallback(_)
            | Call::Lookup(_)
            | Call::Poll(_)
            | Call::Notify(_) => return None,
        })
    }
}

impl Outcome {
    /// The result's `extensions` (JSON text), for a result that has them.
    pub fn extensions(&self) -> Option<&str> {
        match self {
            Outcome::Quote(r) => r.extensions.as_deref(),
            Outcome::Accept(r) => r.extensions.as_deref(),
            Outcome::UploadDocument(r) => r.extensions.as_deref(),
            Outcome::Confirm(r) => r.extensions.as_deref(),
            Outcome::Cancel(r) => r.extensions.as_deref(),
            Outcome::Claim(r) => r.extensions.as_deref(),
            Outcome::Status(r) => r.extensions.as_deref(),
            Outcome::QuoteChange(r) => r.extensions.as_deref(),
            Outcome::Change(r) => r.extensions.as_deref(),
            Outcome::QuoteCancellation(r) => r.extensions.as_deref(),
            Outcome::PolicyDocument(_)
            | Outcome::HandleCallback(_)
            | Outcome::Lookup(_)
            | Outcome::Poll(_)
            | Outcome::Notify(_)
            | Outcome::DeclineQuote(_) => None,
        }
    }
}

impl Operation {
    /// Every operation, in the contract's order.
    pub const ALL: [Operation; 17] = [
        Operation::Quote,
        Operation::Accept,
        Operation::UploadDocument,
        Operation::Confirm,
        Operation::Cancel,
        Operation::Claim,
        Operation::Status,
        Operation::PolicyDocument,
        Operation::HandleCallback,
        Operation::Lookup,
        Operation::Poll,
        Operation::Notify,
        Operation::Validate,
        Operation::DeclineQuote,
        Operation::QuoteChange,
        Operation::Change,
        Operation::QuoteCancellation,
    ];

    /// The operation's name in the contract (its export's name, as the WIT spells it).
    pub fn wit_name(self) -> &'static str {
        match self {
            Operation::Quote => "quote",
            Operation::Accept => "accept",
            Operation::UploadDocument => "upload-document",
            Operation::Confirm => "confirm",
            Operation::Cancel => "cancel",
            Operation::Claim => "claim",
            Operation::Status => "status",
            Operation::PolicyDocument => "policy-document",
            Operation::HandleCallback => "handle-callback",
            Operation::Lookup => "lookup",
            Operation::Poll => "poll",
            Operation::Notify => "notify",
            Operation::Validate => "validate",
            Operation::DeclineQuote => "decline-quote",
            Operation::QuoteChange => "quote-change",
            Operation::Change => "change",
            Operation::QuoteCancellation => "quote-cancellation",
        }
    }

    /// The operation a contract name names.
    pub fn from_wit_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.wit_name() == name)
    }

    /// Whether the operation may change something at the partner. Such an operation is
    /// recorded before the partner is asked, a failure after its request left may leave it in
    /// doubt, and the host never retries its partner calls. The others (quote, status,
    /// lookup, poll, policy-document, validate, and the prices of a change or a
    /// cancellation) only read. A callback's handling counts as changing: whatever the adapter
    /// sends the partner then is sent once.
    pub fn changes_state(self) -> bool {
        !matches!(
            self,
            Operation::Quote
                | Operation::Status
                | Operation::Lookup
                | Operation::Poll
                | Operation::PolicyDocument
                | Operation::Validate
                | Operation::QuoteChange
                | Operation::QuoteCancellation
        )
    }
}

/// An operation's result.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum Outcome {
    Quote(Quotation),
    Accept(Acceptance),
    UploadDocument(DocumentReceipt),
    Confirm(ConfirmResult),
    Cancel(CancelResult),
    Claim(ClaimReceipt),
    Status(StatusReport),
    PolicyDocument(DocumentContent),
    HandleCallback(CallbackOutcome),
    Lookup(Vec<LookupItem>),
    Poll(Vec<WorkItem>),
    Notify(NotifyReceipt),
    DeclineQuote(NotifyReceipt),
    QuoteChange(ChangeQuote),
    Change(ChangeResult),
    QuoteCancellation(CancellationQuote),
}

/// Why a call produced no outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The adapter answered with a typed error.
    #[error("{0}")]
    Adapter(AdapterError),
    /// The adapter trapped, panicked, ran out of memory or returned something malformed.
    #[error("adapter fault: {0}")]
    Fault(String),
    /// The operation's deadline passed (CPU or partner time).
    #[error("the operation exceeded its deadline of {0} ms")]
    Deadline(u64),
    /// The adapter faulted too often in a row and is not called until re-enabled.
    #[error("the panel's adapter is quarantined: {0}")]
    Quarantined(String),
    /// The panel had no slot free and its queue was full, or the wait for a slot ran out: the
    /// adapter was not called.
    #[error("the panel is overloaded: {0}")]
    Overloaded(String),
}

/// What a call did besides its outcome.
#[derive(Debug, Default)]
pub struct CallRecord {
    pub exchanges: Vec<Exchange>,
    /// The call was cut off while a request to the partner may have been out, before its
    /// exchange was recorded: the partner may have acted on a request `exchanges` lacks.
    pub unrecorded_request: bool,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An adapter serving one panel.
pub trait Adapter: Send + Sync {
    fn description(&self) -> &Description;

    /// The extension schemas the description declares, compiled.
    fn extensions(&self) -> &crate::extensions::ExtensionSchemas;

    /// Checks a request against the partner's rules without calling the partner.
    fn validate(&self, request: ValidationRequest) -> BoxFuture<'_, Result<Vec<FieldIssue>, CallError>>;

    /// Runs `call`. `idempotency_key` is what the adapter's `invocation.idempotency-key` gives
    /// it: the same for every retry of one portal operation.
    fn call<'a>(
        &'a self,
        call: Call,
        journal_id: &'a str,
        idempotency_key: Option<String>,
    ) -> BoxFuture<'a, (Result<Outcome, CallError>, CallRecord)>;

    /// Why the adapter is quarantined, if it is.
    fn quarantine(&self) -> Option<String>;

    /// Lifts a quarantine (an operator's decision).
    fn release(&self);

    /// Moves onto a renewed engine (`core::renewal`); calls already running finish where they
    /// started.
    fn follow(&self, carrying: &crate::runtime::Carrying) -> Result<(), String>;
}

/// Checks what the canonical model cannot say in types: money is a decimal string with an ISO
/// 4217 code, a date is `YYYY-MM-DD`. The path of the first value that is not.
pub fn check_outcome(outcome: &Outcome) -> Result<(), String> {
    /// The path is built on the way out of a failing value only: a good result allocates none.
    fn walk(key: &str, value: &serde_json::Value) -> Result<(), (String, String)> {
        use serde_json::Value;
        let here = |what: String| Err((String::new(), what));
        match value {
            Value::Object(map) => {
                if let (Some(Value::String(amount)), Some(Value::String(currency)), 2) =
                    (map.get("amount"), map.get("currency"), map.len())
                {
                    if !is_decimal(amount) {
                        return here(format!(".amount `{amount}` is not a decimal number"));
                    }
                    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                        return here(format!(".currency `{currency}` is not an ISO 4217 code"));
                    }
                }
                map.iter()
                    .try_for_each(|(k, v)| walk(k, v).map_err(|(path, what)| (format!(".{k}{path}"), what)))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| walk(key, v).map_err(|(path, what)| (format!("[{i}]{path}"), what))),
            Value::String(text) if is_date_key(key) && !is_date(text) => {
                here(format!(" `{text}` is not a YYYY-MM-DD date"))
            }
            Value::String(text) if text.contains('\0') => here(" holds the NUL character".into()),
            _ => Ok(()),
        }
    }
    // A callback's reply goes out as the partner's HTTP answer after its events are
    // committed: one the host could not send (a status outside 200-599, a content type no
    // header can hold) is refused here, before anything is kept.
    if let Outcome::HandleCallback(handled) = outcome {
        let reply = &handled.reply;
        if !(200..=599).contains(&reply.status) {
            return Err(format!(
                "result.reply.status {} is not an HTTP answer's status (200-599)",
                reply.status
            ));
        }
        if axum::http::HeaderValue::from_str(&reply.content_type).is_err() {
            return Err(format!(
                "result.reply.content-type {:?} cannot be sent as a header",
                reply.content_type
            ));
        }
    }
    let value = serde_json::to_value(outcome).map_err(|e| e.to_string())?;
    walk("", &value).map_err(|(path, what)| format!("result{path}{what}"))
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Fields the model types as `date`.
fn is_date_key(key: &str) -> bool {
    key.ends_with("_date") || matches!(key, "valid_until" | "date")
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Customer secrets that travel through operations (a lender's PIN, an OTP, a bank login):
/// masked wherever the journal keeps a body, in the canonical input and in partner exchanges.
pub const SENSITIVE_KEYS: [&str; 6] = [
    "pin",
    "otp_token",
    "password",
    "credentials",
    "login",
    "verify_otp",
];

/// Whether JSON `text` may hold a key of [`SENSITIVE_KEYS`]: it names one, or it has an escape,
/// which could spell one (`\u0070in`). Text that may not can be kept without [`mask`].
pub fn may_hold_a_secret(text: &str) -> bool {
    text.contains('\\') || SENSITIVE_KEYS.iter().any(|key| text.contains(key))
}

/// Replaces the value of every key of [`SENSITIVE_KEYS`] in a JSON tree with `***`, in one walk.
pub fn mask(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if SENSITIVE_KEYS.contains(&k.as_str()) && !v.is_null() {
                    *v = serde_json::Value::String("***".into());
                } else {
                    mask(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

/// A fault's cause in one line, for the portal and the panel's health: wasmtime's text for a
/// trap carries the guest's whole backtrace (one line per frame, with the adapter's function
/// names), which belongs in the log and the journal, not in an answer. Keeps what came before the
/// backtrace (`instantiating: `) and the cause after the last frame (`wasm trap: call stack
/// exhausted`); any other text is joined onto one line. At most 300 characters.
pub fn fault_cause(fault: &str) -> String {
    const BACKTRACE: &str = "error while executing at wasm backtrace:";
    let cause = match fault.split_once(BACKTRACE) {
        Some((before, frames)) => {
            // The cause follows the last frame, after its `: ` (frame names use `::`).
            let last = frames.lines().last().unwrap_or_default().trim_start();
            let frame = last
                .split_once(": ")
                .filter(|(index, _)| index.chars().all(|c| c.is_ascii_digit()))
                .map_or(last, |(_, frame)| frame);
            let after = frame.split_once(": ").map_or("", |(_, cause)| cause);
            format!("{before}{}", if after.is_empty() { "wasm trap" } else { after })
        }
        None => fault.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    match cause.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &cause[..cut]),
        None => cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_reply_the_host_could_not_send_is_a_fault() {
        let reply = |status: u16, content_type: &str| {
            Outcome::HandleCallback(crate::model::CallbackOutcome {
                events: vec![],
                reply: crate::model::CallbackReply {
                    status,
                    content_type: content_type.into(),
                    body: b"{}".to_vec(),
                },
            })
        };
        assert_eq!(check_outcome(&reply(200, "application/json")), Ok(()));
        assert_eq!(check_outcome(&reply(503, "text/plain; charset=utf-8")), Ok(()));
        for (status, content_type, named) in [
            (0, "application/json", "reply.status"),
            (99, "application/json", "reply.status"),
            (600, "application/json", "reply.status"),
            (200, "text/plain\r\nX-Injected: yes", "reply.content-type"),
        ] {
            let refused = check_outcome(&reply(status, content_type)).unwrap_err();
            assert!(refused.contains(named), "{status} {content_type:?}: {refused}");
        }
    }

    #[test]
    fn a_fault_tells_its_cause_in_one_line_without_the_backtrace() {
        // As wasmtime words a trap (`{trap:#}`), from the probe guest.
        let trap = "error while executing at wasm backtrace:\n    0:  0x42788 - probe_adapter.wasm!abort\n   \
                    12:   0xb01b - probe_adapter.wasm!sdk::_export_quote_cabi::h1aef\n   \
                    13:  0x2d259 - probe_adapter.wasm!panelgate:adapter/operations@1.1.0#quote: wasm \
                    trap: wasm `unreachable` instruction executed";
        assert_eq!(
            fault_cause(trap),
            "wasm trap: wasm `unreachable` instruction executed"
        );
        let recursion = "error while executing at wasm backtrace:\n    0: probe_adapter.wasm!recurse::h51\n   \
                         19:  0x2869b - probe_adapter.wasm!recurse::h51: wasm trap: call stack exhausted";
        assert_eq!(fault_cause(recursion), "wasm trap: call stack exhausted");
        let instantiating = format!("instantiating: {trap}");
        assert_eq!(
            fault_cause(&instantiating),
            "instantiating: wasm trap: wasm `unreachable` instruction executed"
        );
        assert_eq!(
            fault_cause("the adapter returned a malformed result:\n  premium `a lot`"),
            "the adapter returned a malformed result: premium `a lot`"
        );
        assert_eq!(fault_cause(&"x".repeat(1000)).chars().count(), 303);
    }

    #[test]
    fn the_journal_view_masks_pins_and_keeps_no_document_bytes() {
        let mut value = serde_json::json!({
            "a": { "pin": "123456", "b": [{ "pin": "9", "login": { "user": "u" } }] },
            "pin": null,
            "otp": "kept",
        });
        mask(&mut value);
        assert_eq!(
            value,
            serde_json::json!({
                "a": { "pin": "***", "b": [{ "pin": "***", "login": "***" }] },
                "pin": null,
                "otp": "kept",
            })
        );
        let call = Call::Lookup(LookupRequest {
            kind: "banks".into(),
            filters: vec![],
        });
        assert_eq!(call.journal_input().get(), r#"{"kind":"banks","filters":[]}"#);
    }

    fn journaled(call: &Call) -> serde_json::Value {
        serde_json::from_str(call.journal_input().get()).unwrap()
    }

    #[test]
    fn the_journal_input_masks_a_pin_and_keeps_no_document_bytes() {
        let mut application: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../examples/julo/accept.json"
            ))
            .unwrap(),
        )
        .unwrap();
        application["case_id"] = "c-1".into();
        let call = Call::Accept(serde_json::from_value(application.clone()).unwrap());
        let text = call.journal_input();
        let pin = "/interest/credit_limit/pin";
        assert!(application.pointer(pin).is_some_and(|p| p != "***"));
        assert_eq!(journaled(&call).pointer(pin).unwrap(), "***", "{}", text.get());
        // Everything else is the input as the host read it.
        let Call::Accept(typed) = &call else {
            unreachable!()
        };
        let mut expected = serde_json::to_value(typed).unwrap();
        *expected.pointer_mut(pin).unwrap() = "***".into();
        assert_eq!(journaled(&call), expected);

        let document: Document = serde_json::from_value(serde_json::json!({
            "case": { "id": "c-1", "kind": "policy", "status": "submitted", "references": [] },
            "code": "KTP",
            "filename": "ktp.pdf",
            "content_type": "application/pdf",
            "data": "JVBERi0=",
        }))
        .unwrap();
        let view = journaled(&Call::UploadDocument(document));
        assert_eq!(view["data"]["bytes"], 5);
        assert_eq!(view["data"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(view["filename"], "ktp.pdf");
    }

    #[test]
    fn a_secret_in_free_json_is_masked_in_the_journal_input() {
        // `extensions` is free JSON: a key the portal spelled with an escape (`p\u0069n`) is read,
        // and rendered again, as `pin`.
        let quote =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/A03/quote.json"))
                .unwrap()
                .replacen(
                    '{',
                    r#"{"extensions": {"p\u0069n": "1234", "note": "a \"quoted\" \\ word"}, "#,
                    1,
                );
        let call = Call::Quote(serde_json::from_str(&quote).unwrap());
        let view = journaled(&call);
        assert_eq!(view["extensions"]["pin"], "***");
        assert_eq!(view["extensions"]["note"], "a \"quoted\" \\ word");
    }

    #[test]
    fn text_may_hold_a_secret_when_it_names_a_key_or_has_an_escape() {
        assert!(!may_hold_a_secret(r#"{"product":"01","notes":["a"]}"#));
        assert!(may_hold_a_secret(r#"{"pin":"1"}"#));
        assert!(may_hold_a_secret(r#"{"login":{"user":"u"}}"#));
        // A partner body may spell a key with an escape, or a panel secret with `\/`.
        assert!(may_hold_a_secret(r#"{"p\u0069n":"1"}"#));
        assert!(may_hold_a_secret(r#"{"token":"a\/b"}"#));
    }
}
