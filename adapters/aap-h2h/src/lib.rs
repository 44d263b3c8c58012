//! panelgate adapter for the AA Pialang Host-to-Host API v2.0, which every insurer panel of the
//! Bank Jatim programme implements. panelgate plays AAP: it calls the panel's nine endpoints and
//! receives the panel's four callbacks. Spec decisions are in this crate's README.

mod callbacks;
pub mod mapping;
pub mod partner;

use mapping::*;
use panelgate_adapter_sdk::bindings::panelgate::adapter::http::Response;
use panelgate_adapter_sdk::{date, errors, http, *};
use serde::de::DeserializeOwned;

/// The panel credential AAP's Basic Auth uses on the panel's endpoints.
const CREDENTIAL: &str = "partner";

/// The adapter; exported as the component's `operations`.
pub struct AapH2h;

fn endpoint(path: &str) -> Result<String, AdapterError> {
    Ok(http::url(&required_setting("base-url")?, path))
}

/// What AAP refuses about an application's mode on this panel, if anything.
fn mode_issue(application: &Application) -> Option<FieldIssue> {
    let message = match application.mode {
        AcceptanceMode::Issue => return None,
        AcceptanceMode::Underwrite if is_life_panel() => return None,
        AcceptanceMode::Underwrite => "case-by-case underwriting is for life panels only (AAP 5.3)",
        AcceptanceMode::Verify => "AAP panels have no verify-only acceptance; use `issue` or `underwrite`",
    };
    Some(FieldIssue {
        path: "mode".into(),
        message: message.into(),
    })
}

fn is_life_panel() -> bool {
    setting("line").is_none_or(|line| line == "life")
}

/// AAP #4 and #6 are "Peruntukan: Panel asuransi jiwa": a general panel has no such endpoint, so
/// `what` is refused before the panel is called. `unsupported`, not `invalid-request`: no field
/// of the request could make it acceptable on this panel (as `mode` can for #3).
fn life_panel_only(what: &str) -> Result<(), AdapterError> {
    if is_life_panel() {
        Ok(())
    } else {
        Err(AdapterError::Unsupported(format!(
            "{what} is for life panels only; this panel's line is general"
        )))
    }
}

/// Posts JSON and decodes the success body, mapping AAP's failure conventions to typed errors.
fn call<T: DeserializeOwned>(path: &str, body: &impl serde::Serialize) -> Result<T, AdapterError> {
    let response = http::post_json(&endpoint(path)?, body, Some(CREDENTIAL))?;
    decode(&response)
}

fn decode<T: DeserializeOwned>(response: &Response) -> Result<T, AdapterError> {
    check_response(response.status, &response.body)?;
    http::json(response)
}

impl Adapter for AapH2h {
    fn describe() -> Description {
        use Operation::*;
        Description {
            name: "aap-h2h".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: "AA Pialang Host-to-Host API v2.0".into(),
            operations: vec![
                Quote,
                Accept,
                UploadDocument,
                Confirm,
                Cancel,
                Claim,
                HandleCallback,
            ],
            config_keys: vec![
                ConfigKey {
                    name: "base-url".into(),
                    description: "the panel's {{urlAsuransi}}".into(),
                    required: true,
                },
                ConfigKey {
                    name: "line".into(),
                    description: "`life` (case-by-case underwriting allowed) or `general`".into(),
                    required: true,
                },
            ],
            credentials: vec![CredentialNeed {
                name: CREDENTIAL.into(),
                kind: CredentialKind::Basic,
                description: "Basic Auth the panel issued for its endpoints".into(),
            }],
            callbacks: callbacks::PATHS
                .iter()
                .map(|(path, description)| CallbackRoute {
                    path: (*path).into(),
                    description: (*description).into(),
                })
                .collect(),
            lookups: Vec::new(),
            extensions: Vec::new(),
        }
    }

    fn quote(request: QuoteRequest) -> Result<Quotation, AdapterError> {
        let wire = premium_request(&request)?;
        let response = call("get-rate-premi-panel", &wire)?;
        Ok(quotation(response, request.product))
    }

    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        let wire = acceptance_request(&application)?;
        if let Some(issue) = mode_issue(&application) {
            return Err(AdapterError::InvalidRequest(vec![issue]));
        }
        match application.mode {
            AcceptanceMode::Issue => issued(&wire, call("akseptasi/registrasi", &wire)?),
            AcceptanceMode::Underwrite | AcceptanceMode::Verify => {
                Ok(submitted(&wire, call("akseptasi/pengajuan-cbc", &wire)?))
            }
        }
    }

    fn validate(request: ValidationRequest) -> Result<Vec<FieldIssue>, AdapterError> {
        let (checked, mode) = match &request {
            ValidationRequest::Quote(quote) => (premium_request(quote).map(drop), None),
            ValidationRequest::Application(application) => {
                (acceptance_request(application).map(drop), mode_issue(application))
            }
        };
        let mut issues = match checked {
            Ok(()) => Vec::new(),
            Err(AdapterError::InvalidRequest(issues)) => issues,
            Err(other) => return Err(other),
        };
        issues.extend(mode);
        Ok(issues)
    }

    fn upload_document(document: Document) -> Result<DocumentReceipt, AdapterError> {
        if document.case.kind == CaseKind::Policy {
            life_panel_only("an underwriting document upload (AAP #4)")?;
        }
        let (path, parts) = upload_form(&document)?;
        let response = http::post_form(&endpoint(path)?, parts, Some(CREDENTIAL))?;
        let envelope: partner::Envelope = decode(&response)?;
        Ok(DocumentReceipt {
            status: document.case.status,
            message: Some(envelope.keterangan),
            extensions: None,
        })
    }

    fn confirm(confirmation: Confirmation) -> Result<ConfirmResult, AdapterError> {
        life_panel_only("confirming a case-by-case offer (AAP #6)")?;
        let ConfirmStep::OfferDecision(decision) = &confirmation.step else {
            return Err(AdapterError::InvalidRequest(vec![FieldIssue {
                path: "step".into(),
                message: "AAP panels confirm only an underwriting offer: use `offer_decision`".into(),
            }]));
        };
        let case = &confirmation.case;
        let wire = partner::CbcConfirmation {
            id_loan: reference(case, LOAN_ID)?,
            status: if decision.accept { "DISETUJUI" } else { "DITOLAK" }.into(),
        };
        let response: partner::PolicyResponse = call("akseptasi/konfirmasi-cbc", &wire)?;
        if !decision.accept {
            // AAP 7.14: EPolicy and Policy_No come back empty when the offer is turned down.
            return Ok(ConfirmResult {
                status: CaseStatus::Withdrawn,
                policy: None,
                references: Vec::new(),
                link: None,
                message: Some(response.keterangan),
                payment_due: None,
                extensions: None,
            });
        }
        if response.policy_no.trim().is_empty() {
            return Err(errors::protocol("confirmation succeeded without `Policy_No`"));
        }
        Ok(ConfirmResult {
            extensions: None,
            status: CaseStatus::InForce,
            policy: Some(Policy {
                number: response.policy_no,
                certificate: None,
                start_date: None,
                end_date: None,
                premium: None,
                document_link: Some(response.epolicy).filter(|l| !l.is_empty()),
                start_time: None,
                option_id: None,
                breakdown: Vec::new(),
                renewal_of: None,
                extensions: None,
            }),
            references: Vec::new(),
            link: None,
            message: Some(response.keterangan),
            payment_due: None,
        })
    }

    fn cancel(cancellation: Cancellation) -> Result<CancelResult, AdapterError> {
        let case = &cancellation.case;
        let id_loan = reference(case, LOAN_ID)?;
        match cancellation.kind {
            CancellationKind::InForce => {
                let wire = partner::InforceCancellation {
                    id_loan,
                    no_polis: policy_number(case)?,
                };
                let response: partner::RefundResponse = call("pembatalan/inforce", &wire)?;
                // AAP 7.13: the refund comes now; the insurer's approval follows by callback #9.
                Ok(CancelResult {
                    status: CaseStatus::CancellationRequested,
                    refund: Some(money(&response.nilai_refund)),
                    awaiting_approval: true,
                    message: Some(response.keterangan),
                    extensions: None,
                })
            }
            CancellationKind::Withdrawal => {
                withdrawable(case)?;
                let response: partner::Envelope =
                    call("pembatalan/pengajuan-akseptasi", &partner::Withdrawal { id_loan })?;
                Ok(CancelResult {
                    status: CaseStatus::Withdrawn,
                    refund: None,
                    awaiting_approval: false,
                    message: Some(response.keterangan),
                    extensions: None,
                })
            }
        }
    }

    fn claim(claim: ClaimRequest) -> Result<ClaimReceipt, AdapterError> {
        // AAP's dates are Jakarta dates (UTC+7).
        let today = date::today(7);
        let wire = claim_registration(&claim, &today)?;
        let response = call("klaim/registrasi", &wire)?;
        Ok(claim_receipt(&wire, response))
    }

    fn handle_callback(callback: CallbackRequest) -> Result<CallbackOutcome, AdapterError> {
        Ok(callbacks::handle(&callback))
    }
}

export_adapter!(AapH2h);

#[cfg(test)]
mod tests;
