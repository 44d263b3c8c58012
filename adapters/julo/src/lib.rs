//! panelgate adapter for the JULO partnership API: a customer applies for a credit limit.
//! `accept` checks and registers the customer; `upload-document`, `confirm` (OTP, supporting
//! data, the full application) and `look-up` carry the application through. Decisions are in
//! this crate's README.

pub mod mapping;
pub mod partner;

use mapping::*;
use panelgate_adapter_sdk::bindings::panelgate::adapter::http::{Method, RequestBody, Response};
use panelgate_adapter_sdk::{errors, form, http, *};
use partner::{BANK_SCRAPES, BASE, Envelope, IMAGE_TYPES, ImportStarted};

/// JULO's `secret-key` and `username` headers, applied by the host (kind `api-key`).
const CREDENTIAL: &str = "partner";

/// The adapter; exported as the component's `operations`.
pub struct Julo;

fn url(path: &str) -> Result<String, AdapterError> {
    Ok(http::url(&required_setting("base-url")?, path))
}

fn call(method: Method, path: &str, body: RequestBody) -> Result<Response, AdapterError> {
    http::send(method, &url(path)?, body, Some(CREDENTIAL))
}

fn json_body(value: &impl serde::Serialize) -> Result<RequestBody, AdapterError> {
    serde_json::to_string(value)
        .map(RequestBody::Json)
        .map_err(|e| errors::protocol(e.to_string()))
}

/// The envelope's `data` on `success: true`, else the typed failure.
fn data(response: &Response) -> Result<serde_json::Value, AdapterError> {
    let envelope: Option<Envelope> = serde_json::from_slice(&response.body).ok();
    match envelope {
        Some(e) if (200..300).contains(&response.status) && e.success => Ok(e.data),
        _ => Err(failure(response.status, &response.body)),
    }
}

fn xid(case: &CaseRef) -> Result<String, AdapterError> {
    case.references
        .iter()
        .find(|r| r.kind == APPLICATION_XID)
        .map(|r| r.value.clone())
        .ok_or_else(|| AdapterError::Conflict(format!("case `{}` has no JULO application", case.id)))
}

fn invalid(path: &str, message: &str) -> AdapterError {
    AdapterError::InvalidRequest(vec![FieldIssue {
        path: path.into(),
        message: message.into(),
    }])
}

fn result(status: CaseStatus, link: Option<String>, message: &str) -> ConfirmResult {
    ConfirmResult {
        status,
        policy: None,
        references: Vec::new(),
        link,
        message: Some(message.into()),
        payment_due: None,
        extensions: None,
    }
}

impl Adapter for Julo {
    fn describe() -> Description {
        use Operation::*;
        Description {
            name: "julo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: "JULO partnership API (credit limit application)".into(),
            operations: vec![Accept, UploadDocument, Confirm, Lookup],
            config_keys: vec![ConfigKey {
                name: "base-url".into(),
                description: "JULO's API root, e.g. https://api-staging.julo.co.id".into(),
                required: true,
            }],
            credentials: vec![CredentialNeed {
                name: CREDENTIAL.into(),
                kind: CredentialKind::ApiKey,
                description: "headers `secret-key` and `username` from JULO's integration team".into(),
            }],
            callbacks: Vec::new(),
            lookups: lookup_kinds(),
            extensions: Vec::new(),
        }
    }

    /// Pre-register check (#5), strong-PIN check (#6), then registration (#1).
    fn accept(application: Application) -> Result<Acceptance, AdapterError> {
        if application.mode != AcceptanceMode::Underwrite {
            return Err(invalid(
                "mode",
                "a JULO credit-limit application is `underwrite`: JULO decides later",
            ));
        }
        let r = registrant(&application)?;
        let check = serde_json::json!({ "nik": r.nik, "email": r.email });
        let response = call(
            Method::Post,
            &format!("{BASE}/preregister-check"),
            json_body(&check)?,
        )?;
        data(&response)?;
        let pin = serde_json::json!({ "nik": r.nik, "pin": r.pin });
        let response = call(
            Method::Post,
            &format!("{BASE}/check-strong-pin"),
            json_body(&pin)?,
        )?;
        pin_verdict(data(&response))?;
        let response = call(
            Method::Post,
            &format!("{BASE}/customer/"),
            json_body(&registration(&r))?,
        )?;
        registered(&data(&response)?)
    }

    /// Image upload (#3): the requirement code is JULO's `image_type`.
    fn upload_document(document: Document) -> Result<DocumentReceipt, AdapterError> {
        if !IMAGE_TYPES.contains(&document.code.as_str()) {
            return Err(invalid(
                "code",
                &format!("JULO's image types are {}", IMAGE_TYPES.join(", ")),
            ));
        }
        check_image(&document.data)?;
        let parts = vec![
            form::text("image_type", &document.code),
            form::file(
                "upload",
                &document.filename,
                &document.content_type,
                document.data.clone(),
            ),
        ];
        let path = format!("{BASE}/applications/{}/images", xid(&document.case)?);
        data(&call(Method::Post, &path, RequestBody::Form(parts))?)?;
        Ok(DocumentReceipt {
            status: document.case.status,
            message: Some(format!("{} uploaded", document.code)),
            extensions: None,
        })
    }

    fn confirm(confirmation: Confirmation) -> Result<ConfirmResult, AdapterError> {
        let case = &confirmation.case;
        let xid = xid(case)?;
        match &confirmation.step {
            ConfirmStep::SendOtp(phone) => {
                let body = json_body(&serde_json::json!({ "phone": phone }))?;
                data(&call(
                    Method::Post,
                    &format!("{BASE}/application/otp/{xid}"),
                    body,
                )?)?;
                Ok(result(case.status, None, "OTP sent"))
            }
            ConfirmStep::VerifyOtp(code) => {
                let body = json_body(&serde_json::json!({ "otp_token": code }))?;
                data(&call(
                    Method::Post,
                    &format!("{BASE}/application/otp/validate/{xid}"),
                    body,
                )?)?;
                let mut confirmed = result(case.status, None, "phone confirmed");
                confirmed.references.push(Reference {
                    kind: OTP_VERIFIED.into(),
                    value: xid,
                });
                Ok(confirmed)
            }
            ConfirmStep::CompleteApplication(details) => {
                otp_verified(case)?;
                let body = json_body(&customer_data(details)?)?;
                // The table's PATCH /applications/{xid}, not the curl's POST /application/{xid}.
                data(&call(Method::Patch, &format!("{BASE}/applications/{xid}"), body)?)?;
                Ok(result(
                    CaseStatus::PendingUnderwriting,
                    None,
                    "application complete; JULO reviews it",
                ))
            }
            ConfirmStep::LinkDataSource(source) => link_data_source(case, &xid, source),
            ConfirmStep::OfferDecision(_) => Err(invalid("step", "JULO makes no offer to take up")),
            ConfirmStep::AnswerQuestionnaire(_) => Err(invalid("step", "JULO asks no questionnaire")),
            ConfirmStep::PaymentMade(_) => Err(invalid("step", "JULO takes no payment from the customer")),
        }
    }

    fn lookup(request: LookupRequest) -> Result<Vec<LookupItem>, AdapterError> {
        let query = lookup_query(&request)?;
        let parent = request.filters.last().map(|f| f.value.clone());
        lookup_items(&data(&call(Method::Get, &query, RequestBody::Empty)?)?, parent)
    }
}

/// BPJS login link (#4) or a bank-data import (#11).
fn link_data_source(case: &CaseRef, xid: &str, source: &DataSource) -> Result<ConfirmResult, AdapterError> {
    match &source.kind {
        DataSourceKind::Other(kind) => Err(invalid(
            "step.link_data_source.kind",
            &format!("JULO imports social security (BPJS) or bank data, not `{kind}`"),
        )),
        DataSourceKind::SocialSecurity => {
            let app_type = source.channel.as_deref().unwrap_or("web");
            if !matches!(app_type, "web" | "android") {
                return Err(invalid("step.link_data_source.channel", "is `web` or `android`"));
            }
            let answer = data(&call(
                Method::Get,
                &format!("{BASE}/bpjs/login/{xid}/{app_type}"),
                RequestBody::Empty,
            )?)?;
            let link = answer["url"].as_str().map(str::to_string);
            if link.is_none() {
                return Err(errors::protocol("the BPJS answer has no url"));
            }
            Ok(result(
                case.status,
                link,
                "the customer logs in to BPJS at the link",
            ))
        }
        DataSourceKind::BankAccount => {
            let bank = source.provider.as_deref().unwrap_or_default();
            if !BANK_SCRAPES.contains(&bank) {
                return Err(invalid(
                    "step.link_data_source.provider",
                    "JULO imports from bri, bca, mandiri or bni",
                ));
            }
            let Some(login) = &source.login else {
                return Err(invalid(
                    "step.link_data_source.login",
                    "the customer's bank login is required",
                ));
            };
            // The spec's own form: a Python-style dict in a text field (spec 5.11).
            let credentials = format!(
                "{{'username': '{}', 'password': '{}'}}",
                login.name.replace('\'', "\\'"),
                login.value.replace('\'', "\\'")
            );
            let parts = vec![
                form::text("data_type", bank),
                form::text("credentials", &credentials),
            ];
            let response = call(
                Method::Post,
                &format!("{BASE}/external-data-imports/{xid}"),
                RequestBody::Form(parts),
            )?;
            // This answer has no envelope (spec 5.11).
            let started: ImportStarted = match (200..300).contains(&response.status) {
                true => http::json(&response)?,
                false => return Err(failure(response.status, &response.body)),
            };
            let id = started.id.map(|i| i.to_string()).unwrap_or_default();
            Ok(result(
                case.status,
                None,
                &format!("bank import {id} {}", started.status),
            ))
        }
    }
}

export_adapter!(Julo);
