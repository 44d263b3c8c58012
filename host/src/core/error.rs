//! The API's one error type: one HTTP status and one JSON shape per failure.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::adapter::CallError;
use crate::model::{AdapterError, FieldIssue};
use crate::oci::OciError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or wrong bearer token")]
    Unauthenticated,
    /// Authenticated, but the request may not do this: a console session's unsafe request
    /// without its CSRF token, or from another origin.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// No panel has this id (never had one, or it was removed).
    #[error("no panel `{0}`")]
    PanelNotFound(String),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request is invalid")]
    Invalid(Vec<FieldIssue>),
    #[error("panel `{panel}`'s adapter does not support `{operation}`")]
    Unsupported { panel: String, operation: String },
    #[error("this Idempotency-Key was used with a different request body")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still running")]
    KeyInFlight,
    #[error("{0}")]
    Conflict(String),
    /// A module the registry would not take, or a switch it would not make.
    #[error("{0}")]
    AdapterRefused(String),
    /// An OCI registry could not give an adapter: nothing was registered or switched.
    #[error(transparent)]
    Registry(crate::oci::OciError),
    #[error("{error}")]
    Call { error: CallError, journal_id: String },
    /// A state-changing operation whose partner may or may not have acted: in doubt until the
    /// host reconciles it or an operator settles it (`/admin/unknown-outcomes`).
    #[error("{message}")]
    OutcomeUnknown {
        message: String,
        journal_id: String,
        case_id: Option<String>,
    },
    /// The store cannot write now. `kept`: what the partner answered is held and committed
    /// when the store returns, and the Idempotency-Key then replays it.
    #[error("the store cannot write now; {}", if *kept { "the partner's answer is kept and will be committed when it returns" } else { "try again" })]
    StoreUnavailable { kept: bool },
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    /// No route has this path.
    #[error("no route `{method} {path}`")]
    NoRoute { method: String, path: String },
    /// The route exists, not with this method.
    #[error("`{path}` does not take {method}")]
    MethodNotAllowed { method: String, path: String },
    /// The body is larger than the route takes.
    #[error("the body is larger than this route's limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The request target (path and query) is longer than the host reads.
    #[error("the request target is {length} bytes long; the limit is {limit} (server.max_uri_bytes)")]
    UriTooLong { length: usize, limit: usize },
    /// The request's headers are larger than the host reads.
    #[error("the request's headers are {length} bytes; the limit is {limit} (server.max_header_bytes)")]
    HeadersTooLarge { length: usize, limit: usize },
    /// Every connection the host holds is serving a request (`server.max_connections`).
    #[error("the host holds its maximum of {max} connections, each serving a request; try again")]
    TooManyConnections { max: usize },
    /// An input larger than the panel's adapter can hold, refused before the adapter runs.
    /// `field`: the part of the request it is (empty: the whole body).
    #[error(
        "{} is {size} bytes; panel `{panel}` gives its adapter at most {limit} bytes for `{operation}` ({why})",
        if field.is_empty() { "the body" } else { field.as_str() }
    )]
    InputTooLarge {
        panel: String,
        operation: &'static str,
        field: String,
        size: usize,
        limit: usize,
        why: &'static str,
    },
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// The case an operation in doubt opened or acted on (`outcome_unknown`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code.
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FieldIssue>,
    /// The partner's own code, for `rejected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_id: Option<String>,
}

impl ApiError {
    pub fn invalid(path: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid(vec![FieldIssue {
            path: path.into(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::PanelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid(_) | ApiError::KeyReused | ApiError::AdapterRefused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unsupported { .. } => StatusCode::NOT_IMPLEMENTED,
            ApiError::Registry(e) => match e {
                OciError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                OciError::Unauthorized { .. } | OciError::DigestMismatch(_) | OciError::Protocol { .. } => {
                    StatusCode::BAD_GATEWAY
                }
                OciError::NotFound(_) => StatusCode::NOT_FOUND,
                OciError::NotAnAdapter(_) => StatusCode::UNPROCESSABLE_ENTITY,
            },
            ApiError::KeyInFlight | ApiError::Conflict(_) | ApiError::OutcomeUnknown { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Call { error, .. } => match error {
                CallError::Adapter(e) => match e {
                    AdapterError::InvalidRequest(_) | AdapterError::Rejected(_) => {
                        StatusCode::UNPROCESSABLE_ENTITY
                    }
                    AdapterError::PartnerBadRequest(_)
                    | AdapterError::Unauthorized(_)
                    | AdapterError::PartnerProtocol(_) => StatusCode::BAD_GATEWAY,
                    AdapterError::PartnerUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                    AdapterError::PartnerTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
                    AdapterError::NotFound(_) => StatusCode::NOT_FOUND,
                    AdapterError::Conflict(_) => StatusCode::CONFLICT,
                    AdapterError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
                },
                CallError::Fault(_) => StatusCode::BAD_GATEWAY,
                CallError::Deadline(_) => StatusCode::GATEWAY_TIMEOUT,
                CallError::Quarantined(_) | CallError::Overloaded(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::TooManyConnections { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InputTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (code, issues, partner_code, journal_id) = match self {
            ApiError::Unauthenticated => ("unauthenticated", vec![], None, None),
            ApiError::Forbidden(_) => ("forbidden", vec![], None, None),
            ApiError::NotFound(_) => ("not_found", vec![], None, None),
            ApiError::PanelNotFound(_) => ("panel_not_found", vec![], None, None),
            ApiError::MalformedJson(_) => ("malformed_json", vec![], None, None),
            ApiError::Invalid(issues) => ("invalid_request", issues.clone(), None, None),
            ApiError::Unsupported { .. } => ("unsupported_operation", vec![], None, None),
            ApiError::KeyReused => ("idempotency_key_reused", vec![], None, None),
            ApiError::KeyInFlight => ("idempotency_key_in_flight", vec![], None, None),
            ApiError::Conflict(_) => ("conflict", vec![], None, None),
            ApiError::AdapterRefused(_) => ("adapter_refused", vec![], None, None),
            ApiError::Registry(e) => (
                match e {
                    OciError::Unavailable { .. } => "registry_unavailable",
                    OciError::Unauthorized { .. } => "registry_unauthorized",
                    OciError::DigestMismatch(_) => "registry_digest_mismatch",
                    OciError::Protocol { .. } => "registry_error",
                    OciError::NotFound(_) => "not_found",
                    OciError::NotAnAdapter(_) => "adapter_refused",
                },
                vec![],
                None,
                None,
            ),
            ApiError::Call { error, journal_id } => {
                let j = Some(journal_id.clone());
                match error {
                    CallError::Adapter(e) => match e {
                        AdapterError::InvalidRequest(i) => ("invalid_request", i.clone(), None, j),
                        AdapterError::Rejected(r) => ("rejected", vec![], Some(r.code.clone()), j),
                        AdapterError::PartnerBadRequest(_) => ("partner_bad_request", vec![], None, j),
                        AdapterError::Unauthorized(_) => ("partner_unauthorized", vec![], None, j),
                        AdapterError::PartnerUnavailable(_) => ("partner_unavailable", vec![], None, j),
                        AdapterError::PartnerTimeout(_) => ("partner_timeout", vec![], None, j),
                        AdapterError::PartnerProtocol(_) => ("partner_protocol", vec![], None, j),
                        AdapterError::NotFound(_) => ("not_found", vec![], None, j),
                        AdapterError::Conflict(_) => ("conflict", vec![], None, j),
                        AdapterError::Unsupported(_) => ("unsupported_operation", vec![], None, j),
                    },
                    CallError::Fault(_) => ("adapter_fault", vec![], None, j),
                    CallError::Deadline(_) => ("deadline_exceeded", vec![], None, j),
                    CallError::Quarantined(_) => ("adapter_quarantined", vec![], None, j),
                    CallError::Overloaded(_) => ("overloaded", vec![], None, j),
                }
            }
            ApiError::OutcomeUnknown { journal_id, .. } => {
                ("outcome_unknown", vec![], None, Some(journal_id.clone()))
            }
            ApiError::StoreUnavailable { .. } => ("store_unavailable", vec![], None, None),
            ApiError::Internal(_) => ("internal", vec![], None, None),
            ApiError::NoRoute { .. } => ("not_found", vec![], None, None),
            ApiError::MethodNotAllowed { .. } => ("method_not_allowed", vec![], None, None),
            ApiError::BodyTooLarge { .. } => ("body_too_large", vec![], None, None),
            ApiError::UriTooLong { .. } => ("uri_too_long", vec![], None, None),
            ApiError::HeadersTooLarge { .. } => ("headers_too_large", vec![], None, None),
            ApiError::TooManyConnections { .. } => ("too_many_connections", vec![], None, None),
            ApiError::InputTooLarge { field, .. } => (
                "input_too_large",
                vec![FieldIssue {
                    path: field.clone(),
                    message: self.to_string(),
                }],
                None,
                None,
            ),
        };
        let message = match self {
            // Internal causes go to the log, not to the client.
            ApiError::Internal(_) => "internal error; see the host's log".to_string(),
            ApiError::Call {
                error: CallError::Adapter(AdapterError::Rejected(r)),
                ..
            } => r.message.clone(),
            // The trap's backtrace goes to the log and the journal; the caller gets the cause.
            ApiError::Call {
                error: CallError::Fault(fault),
                journal_id,
            } => format!(
                "adapter fault: {}; the full cause is in the host's log and journal entry {journal_id}",
                crate::adapter::fault_cause(fault)
            ),
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                issues,
                partner_code,
                journal_id,
            },
            case_id: match self {
                ApiError::OutcomeUnknown { case_id, .. } => case_id.clone(),
                _ => None,
            },
        }
    }

    /// Seconds a caller should wait before trying again, for the answers that say "not yet".
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::KeyInFlight => Some(1),
            ApiError::StoreUnavailable { .. } => Some(RETRY_AFTER_STORE),
            ApiError::OutcomeUnknown { .. } => Some(RETRY_AFTER_UNKNOWN),
            ApiError::Call {
                error: CallError::Quarantined(_),
                ..
            } => Some(60),
            ApiError::Call {
                error: CallError::Overloaded(_),
                ..
            } => Some(1),
            ApiError::TooManyConnections { .. } => Some(1),
            ApiError::Registry(crate::oci::OciError::Unavailable { .. }) => Some(30),
            _ => None,
        }
    }
}

/// How long a portal waits on a store fault: the host retries its commits every few seconds.
pub const RETRY_AFTER_STORE: u64 = 5;
/// How long a portal waits on an operation in doubt: reconciliation's first attempts.
pub const RETRY_AFTER_UNKNOWN: u64 = 30;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!("internal error: {e:#}");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let ApiError::Unauthenticated = self {
            // A 401 names the scheme that would be taken (RFC 9110 11.6.1).
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::core::deploy::DeployError> for ApiError {
    fn from(e: crate::core::deploy::DeployError) -> Self {
        use crate::core::deploy::DeployError;
        match e {
            DeployError::Refused(m) => ApiError::AdapterRefused(m),
            DeployError::NotFound(m) => ApiError::NotFound(m),
            DeployError::Conflict(m) => ApiError::Conflict(m),
            DeployError::BadSignature(m) => ApiError::invalid(crate::signing::HEADER, m),
            DeployError::Unsigned(m) => ApiError::AdapterRefused(m),
            DeployError::Registry(e) => ApiError::Registry(e),
            DeployError::Store(e) => e.into(),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// A store that cannot be reached or written is a 503 the caller may retry; stored data
    /// the host cannot read is a bug, logged as internal.
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!("store unavailable: {e}");
            ApiError::StoreUnavailable { kept: false }
        } else {
            ApiError::Internal(e.into())
        }
    }
}
