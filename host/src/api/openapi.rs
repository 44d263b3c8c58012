//! `/openapi.json`, generated from the handlers and the canonical model.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::{ApiError, AppState};
use super::{admin, callbacks, console, error, portal, subscriptions};
use crate::model::Operation;

#[derive(OpenApi)]
#[openapi(
    info(title = "panelgate", description = "One canonical API for a broker's portal; one sandboxed adapter per partner."),
    paths(
        portal::list_panels, portal::quote, portal::accept, portal::validate, portal::policy_status, portal::claim_status,
        portal::upload_policy_document, portal::upload_claim_document, portal::confirm, portal::cancel,
        portal::claim, portal::policy_document, portal::lookup, portal::worklist, portal::notify, portal::events,
        portal::quote_cancellation, portal::quote_change, portal::change, portal::decline_quote,
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
        crate::model::ChangeQuote, crate::model::ChangeResult, crate::model::CancellationQuote,
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
    let document = Arc::new(document());
    let global = document.clone();
    Router::new()
        .route(
            "/openapi.json",
            get(move |State(state): State<Arc<AppState>>| {
                std::future::ready(Json(with_extensions(&global, &state)))
            }),
        )
        .route(
            "/v1/panels/{panel}/openapi.json",
            get(
                move |State(state): State<Arc<AppState>>, Path(panel): Path<String>| {
                    std::future::ready(panel_document(&document, &state, &panel).map(Json))
                },
            ),
        )
}

/// Where each operation's portal route is: its path, method and success status.
const ROUTES: &[(Operation, &str, &str, &str)] = &[
    (Operation::Quote, "/v1/panels/{panel}/quotes", "post", "200"),
    (Operation::Accept, "/v1/panels/{panel}/policies", "post", "201"),
    (
        Operation::Validate,
        "/v1/panels/{panel}/validations",
        "post",
        "200",
    ),
    (
        Operation::Status,
        "/v1/panels/{panel}/policies/{case}",
        "get",
        "200",
    ),
    (
        Operation::Status,
        "/v1/panels/{panel}/claims/{case}",
        "get",
        "200",
    ),
    (
        Operation::UploadDocument,
        "/v1/panels/{panel}/policies/{case}/documents",
        "post",
        "200",
    ),
    (
        Operation::UploadDocument,
        "/v1/panels/{panel}/claims/{case}/documents",
        "post",
        "200",
    ),
    (
        Operation::Confirm,
        "/v1/panels/{panel}/policies/{case}/confirm",
        "post",
        "200",
    ),
    (
        Operation::Cancel,
        "/v1/panels/{panel}/policies/{case}/cancel",
        "post",
        "200",
    ),
    (
        Operation::QuoteCancellation,
        "/v1/panels/{panel}/policies/{case}/cancellation-quote",
        "post",
        "200",
    ),
    (
        Operation::QuoteChange,
        "/v1/panels/{panel}/policies/{case}/change-quotes",
        "post",
        "200",
    ),
    (
        Operation::Change,
        "/v1/panels/{panel}/policies/{case}/changes",
        "post",
        "200",
    ),
    (
        Operation::DeclineQuote,
        "/v1/panels/{panel}/quote-declines",
        "post",
        "200",
    ),
    (
        Operation::PolicyDocument,
        "/v1/panels/{panel}/policies/{case}/document",
        "get",
        "200",
    ),
    (Operation::Claim, "/v1/panels/{panel}/claims", "post", "201"),
    (
        Operation::Lookup,
        "/v1/panels/{panel}/lookups/{kind}",
        "get",
        "200",
    ),
    (
        Operation::Notify,
        "/v1/panels/{panel}/notifications",
        "post",
        "200",
    ),
    (Operation::Poll, "/v1/panels/{panel}/worklist", "get", "200"),
];

/// The `result` an operation's answer carries (`AnswerBody` in `core::operations`); `None`
/// where the route answers something else (a case, a document, a validation).
fn result_schema(operation: Operation) -> Option<Value> {
    let named = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    Some(match operation {
        Operation::Quote => named("Quotation"),
        Operation::Accept => named("Acceptance"),
        Operation::UploadDocument => named("DocumentReceipt"),
        Operation::Confirm => named("ConfirmResult"),
        Operation::Cancel => named("CancelResult"),
        Operation::QuoteCancellation => named("CancellationQuote"),
        Operation::QuoteChange => named("ChangeQuote"),
        Operation::Change => named("ChangeResult"),
        Operation::DeclineQuote | Operation::Notify => named("NotifyReceipt"),
        Operation::Claim => named("ClaimReceipt"),
        Operation::Lookup => json!({ "type": "array", "items": named("LookupItem") }),
        Operation::Poll => json!({ "type": "array", "items": named("WorkItem") }),
        _ => return None,
    })
}

/// What an operation that reached its adapter answers, around its `result`.
fn answer_schema(result: Value) -> Value {
    json!({
        "type": "object",
        "required": ["adapter", "journal_id", "result"],
        "properties": {
            "adapter": { "type": "string", "description": "the adapter that served it, `name@version`" },
            "case_id": { "type": "string", "description": "the case the operation opened or acted on" },
            "journal_id": { "type": "string", "description": "the operation's journal entry" },
            "result": result,
        }
    })
}

/// `schema` narrowed by an extension schema: `extensions` must also satisfy `extension`.
fn narrowed(schema: &Value, extension: &Value) -> Value {
    json!({ "allOf": [schema, { "type": "object", "properties": { "extensions": extension } }] })
}

/// One panel's API: the routes of the operations its adapter implements, below its own path,
/// with each operation's `extensions` typed by the schemas the adapter declares, as a FHIR
/// profile narrows a core resource.
fn panel_document(global: &Value, state: &AppState, id: &str) -> Result<Value, ApiError> {
    let panel = state.panel(id)?;
    let description = panel.adapter.description();
    let schemas = panel.adapter.extensions();
    let mut doc = global.clone();
    let mut paths = serde_json::Map::new();
    for (operation, path, method, status) in ROUTES {
        let implemented = description.operations.contains(operation)
            || (*operation == Operation::Validate && panel.adapter.extensions().declares());
        if !implemented {
            continue;
        }
        let Some(mut op) = global["paths"][*path][*method].as_object().cloned() else {
            continue;
        };
        if let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            parameters.retain(|p| p["name"] != "panel");
        }
        if let Some(input) = schemas.input(*operation) {
            let body = &mut op["requestBody"]["content"]["application/json"]["schema"];
            if !body.is_null() {
                *body = narrowed(body, input);
            }
        }
        if let Some(output) = schemas.output(*operation) {
            // The extensions are the result's, inside the answer.
            let mut body = &mut op["responses"][*status]["content"]["application/json"]["schema"]["properties"]
                ["result"];
            if body["type"] == "array" {
                body = &mut body["items"];
            }
            if body.is_object() {
                *body = narrowed(body, output);
            }
        }
        let concrete = path.replace("{panel}", id);
        let item = paths.entry(concrete).or_insert_with(|| json!({}));
        item[*method] = Value::Object(op);
    }
    doc["paths"] = Value::Object(paths);
    doc["info"]["title"] = json!(format!("panelgate: panel {id}"));
    doc["info"]["description"] = json!(format!(
        "Panel `{id}`, served by {}@{} ({}). Each operation's `extensions` are typed by the schemas the adapter declares.",
        description.name, description.version, description.spec
    ));
    Ok(doc)
}

/// The document, with every panel's declared extension schemas among its components
/// (`{panel}.{operation}.extensions.input` and `.output`).
fn with_extensions(global: &Value, state: &AppState) -> Value {
    let mut doc = global.clone();
    for panel in state.panels() {
        let schemas = panel.adapter.extensions();
        for operation in Operation::ALL {
            for (direction, schema) in [
                ("input", schemas.input(operation)),
                ("output", schemas.output(operation)),
            ] {
                if let Some(schema) = schema {
                    let name = format!("{}.{}.extensions.{direction}", panel.id, operation.wit_name());
                    doc["components"]["schemas"][name] = schema.clone();
                }
            }
        }
    }
    doc
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
    // Every call takes `Authorization: Bearer` (the portal's token on the portal's routes,
    // the admin token on the rest), but for the open ones: health, readiness and metrics for
    // load balancers, callbacks (each panel's own authentication), and the console's session
    // (its sign-in takes the token in the body, the rest the session cookie).
    doc["security"] = json!([{ "bearer": [] }]);
    for (path, methods) in OPEN_ROUTES {
        for method in *methods {
            let op = &mut doc["paths"][*path][*method];
            if op.is_object() {
                op["security"] = json!([]);
            }
        }
    }
    // What an operation answers: its result inside the answer (one generic body utoipa
    // cannot name per route).
    for (operation, path, method, status) in ROUTES {
        let Some(result) = result_schema(*operation) else {
            continue;
        };
        let response = &mut doc["paths"][*path][*method]["responses"][*status];
        if response["description"].is_null() {
            response["description"] = json!("the operation's answer");
        }
        response["content"] = json!({ "application/json": { "schema": answer_schema(result) } });
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
    // The portal's `Idempotency-Key`: required where the request changes state at the
    // partner, taken where it reads (a quote), and its first answer replayed.
    for (path, required) in IDEMPOTENT_ROUTES {
        let key = json!({
            "name": "Idempotency-Key",
            "in": "header",
            "required": required,
            "description": "a key of the portal's own (a UUID), the same on every retry of one request: the first answer is replayed, and the operation never acts twice; the same key with another request is `422`",
            "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
        });
        let op = &mut doc["paths"][path]["post"];
        match op["parameters"].as_array_mut() {
            Some(parameters) => parameters.push(key),
            None => op["parameters"] = json!([key]),
        }
    }
    doc
}

/// Routes that take no bearer token, with their methods.
const OPEN_ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/callbacks/{panel}/{path}", &["post"]),
    ("/console/session", &["post", "get", "delete"]),
];

/// The portal's routes that take an `Idempotency-Key`, and whether they require it (they
/// change state at the partner).
const IDEMPOTENT_ROUTES: [(&str, bool); 12] = [
    ("/v1/panels/{panel}/quotes", false),
    ("/v1/panels/{panel}/policies", true),
    ("/v1/panels/{panel}/policies/{case}/documents", true),
    ("/v1/panels/{panel}/claims/{case}/documents", true),
    ("/v1/panels/{panel}/policies/{case}/confirm", true),
    ("/v1/panels/{panel}/policies/{case}/cancel", true),
    ("/v1/panels/{panel}/policies/{case}/cancellation-quote", false),
    ("/v1/panels/{panel}/policies/{case}/change-quotes", false),
    ("/v1/panels/{panel}/policies/{case}/changes", true),
    ("/v1/panels/{panel}/quote-declines", true),
    ("/v1/panels/{panel}/claims", true),
    ("/v1/panels/{panel}/notifications", true),
];
