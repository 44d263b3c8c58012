//! Building `adapter-error`s.

use crate::{AdapterError, FieldIssue, Rejection};

pub fn unsupported(operation: &str) -> AdapterError {
    AdapterError::Unsupported(format!("this adapter does not implement `{operation}`"))
}

pub fn rejected(code: impl Into<String>, message: impl Into<String>) -> AdapterError {
    AdapterError::Rejected(Rejection {
        code: code.into(),
        message: message.into(),
    })
}

pub fn protocol(detail: impl Into<String>) -> AdapterError {
    AdapterError::PartnerProtocol(detail.into())
}

/// The usual reading of a partner's HTTP status when its body says nothing more specific:
/// 400 `partner-bad-request`, 401/403 `unauthorized`, 404 `not-found`, 409 `conflict`,
/// 408/429/5xx `partner-unavailable`, anything else `partner-protocol`. The body's start is
/// kept for the operator.
pub fn status_error(status: u16, body: &[u8]) -> AdapterError {
    let detail = format!("HTTP {status}: {}", crate::http::snippet(body));
    match status {
        400 => AdapterError::PartnerBadRequest(detail),
        401 | 403 => AdapterError::Unauthorized(detail),
        404 => AdapterError::NotFound(detail),
        409 => AdapterError::Conflict(detail),
        408 | 429 | 500..=599 => AdapterError::PartnerUnavailable(detail),
        _ => AdapterError::PartnerProtocol(detail),
    }
}

/// Collects field issues so that one reply names every broken field, not just the first.
#[derive(Debug, Default)]
pub struct Issues(Vec<FieldIssue>);

impl Issues {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// The value, or an issue at `path` saying it is required.
    pub fn require<T>(&mut self, value: Option<T>, path: &str) -> Option<T> {
        if value.is_none() {
            self.add(path, "is required by this partner");
        }
        value
    }

    /// A mandatory text: absent, empty or only whitespace, an issue at `path` and none; else the
    /// value as given. (`require` checks presence only: `""` passes it.)
    pub fn require_text(&mut self, value: Option<String>, path: &str) -> Option<String> {
        match value {
            Some(v) if v.trim().is_empty() => {
                self.add(path, "is blank; this partner requires a value");
                None
            }
            value => self.require(value, path),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was found wrong, else `invalid-request` with every issue.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, AdapterError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(AdapterError::InvalidRequest(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_text_refuses_absent_empty_and_whitespace_only_values() {
        let mut issues = Issues::new();
        assert_eq!(
            issues.require_text(Some("015".into()), "branch"),
            Some("015".into())
        );
        assert!(issues.is_empty());
        assert_eq!(issues.require_text(None, "a"), None);
        assert_eq!(issues.require_text(Some(String::new()), "b"), None);
        assert_eq!(issues.require_text(Some(" \t".into()), "c"), None);
        let paths: Vec<_> = issues.0.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "c"]);
    }
}
