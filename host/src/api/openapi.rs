//! `/openapi.json`, generated from the handlers and the canonical model.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::AppState;
use super::{admin, callbacks, console, error, portal, subscriptions};

#[derive(OpenApi)]
#[openapi(
    info(title = "panelgate", description = "One canonical API for a broker's portal; one sandboxed adapter per partner."),
    paths(
        portal::list_panels, portal::quote, portal::accept, portal::validate, portal::policy_status, portal::claim_status,
        portal::upload_policy_document, portal::upload_claim_document, portal::confirm, portal::cancel,
        portal::claim, portal::policy_document, portal::lookup, portal::worklist, portal::notify, portal::events,
        callbacks::callback,
        admin::panels, admin::journal, admin::verify, admin::callbacks, admin::attachment, admin::healthz, admin::readyz, admin::metrics,
        admin::adapters, admin::push_adapter, admin::pull_adapter, admin::deployments, admin::set_adapter, admin::rollback, admin::replay, admin::enable, admin::unknown_outcomes, admin::settle_unknown_outcome,
        subscriptions::create, subscriptions::list, subscriptions::one, subscriptions::delete, subscriptions::enable,
        subscriptions::deliveries, subscriptions::replay,
        admin::journal_entry, admin::find_cases, admin::case, admin::events, admin::last_hour,
        console::sign_in, console::session, console::sign_out,
        admin::panels::get_panel, admin::panels::put_panel, admin::panels::delete_panel,
    ),
    components(schemas(
        error::ErrorBody, crate::model::Quotation, crate::model::Acceptance, crate::model::ClaimReceipt,
        crate::model::ConfirmResult, crate::model::CancelResult, crate::model::StatusReport,
        crate::model::DocumentReceipt, crate::model::LookupItem, crate::model::WorkItem, crate::model::NotifyReceipt,
    )),
    modifiers(&Security),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn router() -> Router<Arc<AppState>> {
    let document = document();
    Router::new().route(
        "/openapi.json",
        get(move || std::future::ready(Json(document.clone()))),
    )
}

/// The document utoipa generates from the handlers, completed with what it cannot derive:
/// - every operation may answer an error in the API's one shape (`4XX`, `5XX`: `ErrorBody`);
/// - the bodies the portal sends lack the fields the host sets itself (an application's
///   `case_id`; a claim's `case_id` and `policy`, for which the portal gives `policy_case` or
///   `policy_reference`), so a client generated from the document sends what the host takes.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let error = json!({
        "description": "an error: `{\"error\": {\"code\", \"message\", \"issues\"?, \"partner_code\"?, \"journal_id\"?}}`",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } }
    });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for range in ["4XX", "5XX"] {
                        responses.entry(range).or_insert_with(|| error.clone());
                    }
                }
            }
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    let without = |schema: &Value, fields: &[&str]| {
        let mut s = schema.clone();
        for f in fields {
            if let Some(p) = s["properties"].as_object_mut() {
                p.remove(*f);
            }
            if let Some(r) = s["required"].as_array_mut() {
                r.retain(|v| v != f);
            }
        }
        s
    };
    let new_application = without(&schemas["Application"], &["case_id"]);
    let mut new_claim = without(&schemas["ClaimRequest"], &["case_id", "policy"]);
    new_claim["properties"]["policy_case"] =
        json!({ "type": "string", "description": "the policy's case id (or give `policy_reference`)" });
    new_claim["properties"]["policy_reference"] = json!({
        "$ref": "#/components/schemas/Reference",
        "description": "a partner reference of the policy, e.g. AAP's loan id (or give `policy_case`)"
    });
    schemas["NewApplication"] = new_application;
    schemas["NewClaim"] = new_claim;
    for (path, schema) in [
        ("/v1/panels/{panel}/policies", "NewApplication"),
        ("/v1/panels/{panel}/claims", "NewClaim"),
    ] {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"] =
            json!({ "$ref": format!("#/components/schemas/{schema}") });
    }
    doc
}
