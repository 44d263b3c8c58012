//! The panelgate adapter SDK: everything an adapter author needs, and the only crate that
//! calls `wit_bindgen`.
//!
//! An adapter implements [`Adapter`] (every operation defaults to `unsupported`) and exports
//! it with [`export_adapter!`]. Mapping code works on the canonical types re-exported here and
//! talks to its partner through [`http`], never through sockets of its own. In a native build
//! (the adapter's own unit tests) the host's imports are a [`mock::MockHost`] the test installs.
//!
//! ```ignore
//! struct MyPartner;
//! impl panelgate_adapter_sdk::Adapter for MyPartner { /* describe, quote, ... */ }
//! panelgate_adapter_sdk::export_adapter!(MyPartner);
//! ```

pub mod bindings;
pub mod date;
pub mod errors;
pub mod form;
mod host;
pub mod http;
#[cfg(not(target_arch = "wasm32"))]
pub mod mock;

pub use bindings::panelgate::adapter::types::*;
pub use errors::Issues;

use bindings::exports::panelgate::adapter::operations::Guest;

/// One partner spec's translation. Implement `describe` and the operations the partner has.
pub trait Adapter {
    fn describe() -> Description;

    fn quote(_request: QuoteRequest) -> Result<Quotation, AdapterError> {
        Err(errors::unsupported("quote"))
    }
    fn accept(_application: Application) -> Result<Acceptance, AdapterError> {
        Err(errors::unsupported("accept"))
    }
    fn upload_document(_document: Document) -> Result<DocumentReceipt, AdapterError> {
        Err(errors::unsupported("upload-document"))
    }
    fn confirm(_confirmation: Confirmation) -> Result<ConfirmResult, AdapterError> {
        Err(errors::unsupported("confirm"))
    }
    fn cancel(_cancellation: Cancellation) -> Result<CancelResult, AdapterError> {
        Err(errors::unsupported("cancel"))
    }
    fn claim(_claim: ClaimRequest) -> Result<ClaimReceipt, AdapterError> {
        Err(errors::unsupported("claim"))
    }
    fn status(_case: CaseRef) -> Result<StatusReport, AdapterError> {
        Err(errors::unsupported("status"))
    }
    fn policy_document(_case: CaseRef) -> Result<DocumentContent, AdapterError> {
        Err(errors::unsupported("policy-document"))
    }
    fn handle_callback(_callback: CallbackRequest) -> Result<CallbackOutcome, AdapterError> {
        Err(errors::unsupported("handle-callback"))
    }
    fn lookup(_request: LookupRequest) -> Result<Vec<LookupItem>, AdapterError> {
        Err(errors::unsupported("lookup"))
    }
    fn poll(_request: PollRequest) -> Result<Vec<WorkItem>, AdapterError> {
        Err(errors::unsupported("poll"))
    }
    fn notify(_notification: Notification) -> Result<NotifyReceipt, AdapterError> {
        Err(errors::unsupported("notify"))
    }
    /// The issues `quote` or `accept` would find, without calling the partner.
    fn validate(_request: ValidationRequest) -> Result<Vec<FieldIssue>, AdapterError> {
        Err(errors::unsupported("validate"))
    }
    /// Tells the partner the customer turns a held quote down.
    fn decline_quote(_request: QuoteDecline) -> Result<NotifyReceipt, AdapterError> {
        Err(errors::unsupported("decline-quote"))
    }
    /// Prices a change to an issued policy without making it.
    fn quote_change(_request: ChangeRequest) -> Result<ChangeQuote, AdapterError> {
        Err(errors::unsupported("quote-change"))
    }
    /// Makes a change to an issued policy (an endorsement).
    fn change(_request: ChangeRequest) -> Result<ChangeResult, AdapterError> {
        Err(errors::unsupported("change"))
    }
    /// What cancelling would refund, without cancelling.
    fn quote_cancellation(_cancellation: Cancellation) -> Result<CancellationQuote, AdapterError> {
        Err(errors::unsupported("quote-cancellation"))
    }
}

impl<T: Adapter> Guest for T {
    fn describe() -> Description {
        T::describe()
    }
    fn quote(request: QuoteRequest) -> Result<Quotation, AdapterError> {
        T::quote(request)
    }
    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        T::accept(application)
    }
    fn upload_document(document: Document) -> Result<DocumentReceipt, AdapterError> {
        T::upload_document(document)
    }
    fn confirm(confirmation: Confirmation) -> Result<ConfirmResult, AdapterError> {
        T::confirm(confirmation)
    }
    fn cancel(cancellation: Cancellation) -> Result<CancelResult, AdapterError> {
        T::cancel(cancellation)
    }
    fn claim(claim: ClaimRequest) -> Result<ClaimReceipt, AdapterError> {
        T::claim(claim)
    }
    fn status(case: CaseRef) -> Result<StatusReport, AdapterError> {
        T::status(case)
    }
    fn policy_document(case: CaseRef) -> Result<DocumentContent, AdapterError> {
        T::policy_document(case)
    }
    fn handle_callback(callback: CallbackRequest) -> Result<CallbackOutcome, AdapterError> {
        T::handle_callback(callback)
    }
    fn look_up(request: LookupRequest) -> Result<Vec<LookupItem>, AdapterError> {
        T::lookup(request)
    }
    fn poll(request: PollRequest) -> Result<Vec<WorkItem>, AdapterError> {
        T::poll(request)
    }
    fn notify(notification: Notification) -> Result<NotifyReceipt, AdapterError> {
        T::notify(notification)
    }
    fn validate(request: ValidationRequest) -> Result<Vec<FieldIssue>, AdapterError> {
        T::validate(request)
    }
    fn decline_quote(request: QuoteDecline) -> Result<NotifyReceipt, AdapterError> {
        T::decline_quote(request)
    }
    fn quote_change(request: ChangeRequest) -> Result<ChangeQuote, AdapterError> {
        T::quote_change(request)
    }
    fn change(request: ChangeRequest) -> Result<ChangeResult, AdapterError> {
        T::change(request)
    }
    fn quote_cancellation(cancellation: Cancellation) -> Result<CancellationQuote, AdapterError> {
        T::quote_cancellation(cancellation)
    }
}

/// Exports an [`Adapter`] implementation as the component's `operations`.
#[macro_export]
macro_rules! export_adapter {
    ($adapter:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_operations!($adapter with_types_in $crate::bindings);
    };
}

/// The operation's idempotency key: the same every time the portal retries this operation.
/// Give it to a partner that takes one, so that a retry never acts twice. None when the portal
/// sent no `Idempotency-Key`, and for callbacks.
pub fn idempotency_key() -> Option<String> {
    host::idempotency_key()
}

/// The panel's non-secret setting `key`.
pub fn setting(key: &str) -> Option<String> {
    host::setting(key)
}

/// The panel's setting `key`, or an error naming it.
pub fn required_setting(key: &str) -> Result<String, AdapterError> {
    setting(key).ok_or_else(|| AdapterError::PartnerProtocol(format!("the panel has no `{key}` setting")))
}

/// Logs into the host's log, tagged with the panel and operation.
pub fn log(level: bindings::panelgate::adapter::log::Level, message: &str) {
    host::log(level, message);
}

/// A digest of `data` computed by the host with the panel's `hash-key` credential `credential`;
/// the key never enters the adapter.
pub fn digest(
    credential: &str,
    algorithm: bindings::panelgate::adapter::credentials::DigestAlgorithm,
    data: &str,
) -> Result<String, AdapterError> {
    host::digest(credential, algorithm, data).map_err(AdapterError::PartnerProtocol)
}
