//! panelgate adapter for the AAGI (Allianz Ayudhya General Insurance) motor web service:
//! quick quotes, contracts (issue or verify), policy information and cancellation.
//! Spec decisions are in this crate's README.

pub mod mapping;
pub mod partner;

use mapping::*;
use panelgate_adapter_sdk::bindings::panelgate::adapter::http::{Method, RequestBody, Response};
use panelgate_adapter_sdk::{http, *};
use serde::de::DeserializeOwned;

/// The panel credential applied to every call, named by the optional `credential` setting.
/// The spec names no authentication, so by default none is asked for and requests go out as
/// the adapter makes them; a gateway in front of the API may take one (Bearer, API key, Basic:
/// the panel's choice of kind).
fn credential() -> Option<String> {
    setting("credential")
}

/// The adapter; exported as the component's `operations`.
pub struct AagiMotor;

fn endpoint(path: &str) -> Result<String, AdapterError> {
    Ok(http::url(
        &required_setting("base-url")?,
        &format!("v1/motor/{path}"),
    ))
}

fn decode<T: DeserializeOwned>(response: &Response) -> Result<T, AdapterError> {
    if !(200..300).contains(&response.status) {
        return Err(failure(response.status, &response.body));
    }
    http::json(response)
}

fn post<T: DeserializeOwned>(path: &str, body: &impl serde::Serialize) -> Result<T, AdapterError> {
    decode(&http::post_json(&endpoint(path)?, body, credential().as_deref())?)
}

fn contract_id(case: &CaseRef) -> Result<String, AdapterError> {
    case.references
        .iter()
        .find(|r| r.kind == CONTRACT_ID)
        .map(|r| r.value.clone())
        .ok_or_else(|| AdapterError::Conflict(format!("case `{}` has no AAGI contract", case.id)))
}

impl Adapter for AagiMotor {
    fn describe() -> Description {
        use Operation::*;
        Description {
            name: "aagi-motor".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: "AAGI motor web service (quick quotes, contracts, amendments)".into(),
            operations: vec![Quote, Accept, Status, Cancel],
            config_keys: vec![
                ConfigKey {
                    name: "base-url".into(),
                    description: "the API gateway root; paths are /v1/motor/...".into(),
                    required: true,
                },
                ConfigKey {
                    name: "credential".into(),
                    description: "the panel credential the gateway takes, applied to every call; \
                                  the spec names none, so none is sent by default"
                        .into(),
                    required: false,
                },
            ],
            // The spec names no authentication: no credential is needed (see `credential`).
            credentials: Vec::new(),
            callbacks: Vec::new(),
            lookups: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn quote(request: QuoteRequest) -> Result<Quotation, AdapterError> {
        let wire = quick_quote(&request)?;
        quotation(post("quickquotes", &wire)?)
    }

    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        let wire = contract(&application)?;
        acceptance(post("contracts", &wire)?, application.mode)
    }

    fn status(case: CaseRef) -> Result<StatusReport, AdapterError> {
        let id = contract_id(&case)?;
        let url = endpoint(&format!("contracts/{id}"))?;
        let response = http::send(Method::Get, &url, RequestBody::Empty, credential().as_deref())?;
        status_report(decode(&response)?, &id)
    }

    fn cancel(cancellation: Cancellation) -> Result<CancelResult, AdapterError> {
        let wire = amendment(&cancellation)?;
        let id = contract_id(&cancellation.case)?;
        let result: partner::AmendmentResult = post(&format!("contracts/{id}/amendments"), &wire)?;
        if result.status != "SUCCESS" {
            return Err(errors::rejected(
                result.status,
                "the cancellation was not accepted",
            ));
        }
        Ok(CancelResult {
            status: CaseStatus::Cancelled,
            // AAGI 5.4: the amendment returns no refund.
            refund: None,
            awaiting_approval: false,
            message: Some(format!(
                "cancelled on {}; endorsement {}",
                result.effective_date.unwrap_or_default(),
                result.policy_number.unwrap_or_default()
            )),
            extensions: None,
        })
    }
}

export_adapter!(AagiMotor);
