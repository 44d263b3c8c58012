//! panelgate adapter for the BCS (Banco Caja Social, Colombia) policy-management API 1.5.x:
//! simulations and quotes, issuing, the life certificate, insurability cases, application
//! statuses and customer payees. Decisions are in this crate's README.

pub mod mapping;
pub mod partner;

use base64::Engine as _;
use mapping::*;
use panelgate_adapter_sdk::bindings::panelgate::adapter::http::{Method, RequestBody, Response};
use panelgate_adapter_sdk::{errors, http, *};
use serde_json::Value;

/// The panel credential applied to every call, named by the optional `credential` setting.
/// The spec names no authentication, so by default none is asked for; the MuleSoft gateway in
/// front of the API usually takes `client_id` / `client_secret` headers (an `api-key` credential).
fn credential() -> Option<String> {
    setting("credential")
}

/// The adapter; exported as the component's `operations`.
pub struct Bcs;

fn send(method: Method, path: &str, body: &Value) -> Result<Value, AdapterError> {
    let url = http::url(&required_setting("base-url")?, path);
    let json = serde_json::to_string(body).map_err(|e| errors::protocol(e.to_string()))?;
    let response: Response = http::send(method, &url, RequestBody::Json(json), credential().as_deref())?;
    if !(200..300).contains(&response.status) {
        return Err(failure(response.status, &response.body));
    }
    let answer: Value = http::json(&response)?;
    if is_error(&answer) {
        return Err(failure(response.status, &response.body));
    }
    Ok(answer)
}

fn channel() -> String {
    setting("channel").unwrap_or_else(|| "101".into())
}

impl Adapter for Bcs {
    fn describe() -> Description {
        use Operation::*;
        let key = |name: &str, description: &str, required| ConfigKey {
            name: name.into(),
            description: description.into(),
            required,
        };
        Description {
            name: "bcs".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: "BCS policy-management API 1.5.34".into(),
            operations: vec![Quote, Accept, PolicyDocument, Notify],
            config_keys: vec![
                key(
                    "base-url",
                    "the API root; paths are /policy-management/v1/...",
                    true,
                ),
                key("channel", "default sales channel (6.6), e.g. 101", false),
                key(
                    "credential",
                    "the panel credential the gateway takes (e.g. client_id/client_secret headers), \
                     applied to every call; the spec names none, so none is sent by default",
                    false,
                ),
                key(
                    "office",
                    "default office (entprAgreement.cityId, 6.7) when a request gives none",
                    false,
                ),
                key(
                    "source-system",
                    "request.source of status pushes (1 character)",
                    true,
                ),
                key("case-domain", "channel.sPname of insurability cases", true),
                key("case-user", "channel.user of insurability cases", true),
                key(
                    "bank-system",
                    "trnSrcInfo.code of insurability cases (one digit)",
                    true,
                ),
            ],
            // The spec names no authentication: no credential is needed (see `credential`).
            credentials: Vec::new(),
            callbacks: Vec::new(),
            lookups: Vec::new(),
            // BCS's own fields the canonical model has no place for (docs/wit.md lists them).
            extensions: vec![
                extension(Operation::Quote, OFFICE_ONLY),
                extension(Operation::Accept, OFFICE_AND_ACCOUNT),
            ],
        }
    }

    fn quote(request: QuoteRequest) -> Result<Quotation, AdapterError> {
        let (path, body) = quote_body(&request, &channel(), setting("office"))?;
        quotation(
            &send(Method::Post, &path, &body)?,
            request.product.as_deref().unwrap_or_default(),
        )
    }

    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        match application.mode {
            AcceptanceMode::Issue => {
                let (path, body) = issuing_body(&application, &channel(), setting("office"))?;
                issued(&send(Method::Post, &path, &body)?)
            }
            AcceptanceMode::Underwrite => {
                let settings = CaseSettings::new(
                    required_setting("case-domain")?,
                    required_setting("case-user")?,
                    &required_setting("bank-system")?,
                )?;
                let (path, body) = case_body(&application, &settings)?;
                case_opened(&send(Method::Post, &path, &body)?, &application)
            }
            AcceptanceMode::Verify => Err(AdapterError::InvalidRequest(vec![FieldIssue {
                path: "mode".into(),
                message: "BCS issues (`issue`) or opens an insurability case (`underwrite`)".into(),
            }])),
        }
    }

    /// #7: the life certificate, decoded from base64.
    fn policy_document(case: CaseRef) -> Result<DocumentContent, AdapterError> {
        let policy = case
            .policy
            .as_ref()
            .ok_or_else(|| AdapterError::Conflict(format!("case `{}` has no policy", case.id)))?;
        let product = case.product.clone().unwrap_or_default();
        if !partner::LIFE_PRODUCTS.contains(&product.as_str()) {
            return Err(AdapterError::Unsupported(format!(
                "BCS certificates are for life products, not `{product}`"
            )));
        }
        let body = partner::certificate(
            &product,
            &policy.number,
            policy.start_date.as_deref(),
            policy.certificate.as_deref(),
        );
        let answer = send(
            Method::Post,
            &format!("{}/life/certificate", partner::ROOT),
            &body,
        )?;
        let data = answer["insuranceInfo"]["binData"]
            .as_str()
            .ok_or_else(|| errors::protocol("a certificate without binData"))?;
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(data.split_whitespace().collect::<String>())
            .map_err(|e| errors::protocol(format!("binData is not base64: {e}")))?;
        if !pdf.starts_with(b"%PDF-") {
            return Err(errors::protocol("binData is not a PDF"));
        }
        Ok(DocumentContent::Pdf(pdf))
    }

    fn notify(notification: Notification) -> Result<NotifyReceipt, AdapterError> {
        let (method, path, body) = match &notification {
            Notification::ApplicationStatus(report) => {
                let (path, update, body) = status_body(report, &required_setting("source-system")?)?;
                (if update { Method::Put } else { Method::Post }, path, body)
            }
            Notification::PayeeRegistration(payee) => {
                let (path, body) = payee_body(payee)?;
                (Method::Post, path, body)
            }
            Notification::CollectionResult(_) => {
                return Err(AdapterError::InvalidRequest(vec![FieldIssue {
                    path: "collection_result".into(),
                    message: "BCS takes application statuses and payees".into(),
                }]));
            }
        };
        let answer = send(method, &path, &body)?;
        let reference = answer["depAcctStmtRec"]["depAcctId"]["refNumber"]
            .as_str()
            .map(str::to_string);
        Ok(NotifyReceipt {
            accepted: true,
            reference,
            message: answer["responseType"]["value"].as_str().map(str::to_string),
        })
    }
}

export_adapter!(Bcs);

/// `office`: `entprAgreement.cityId`, the bank office selling (6.7); the panel's `office`
/// setting is the default.
const OFFICE_ONLY: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "office": {"type": ["string", "integer"], "description": "entprAgreement.cityId, the bank office selling (BCS 6.7); the panel's `office` setting is the default"}
  }
}"#;

/// `office`, and `account_type`: #6/#10's `depAcctId.acctType` for an account debit.
const OFFICE_AND_ACCOUNT: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "office": {"type": ["string", "integer"], "description": "entprAgreement.cityId, the bank office selling (BCS 6.7); the panel's `office` setting is the default"},
    "account_type": {"type": "string", "description": "depAcctId.acctType of an account debit (BCS #6/#10)"}
  }
}"#;

fn extension(operation: Operation, input: &str) -> ExtensionSchema {
    ExtensionSchema {
        operation,
        input: Some(input.into()),
        output: None,
    }
}
