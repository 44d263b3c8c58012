//! The HTTP API: portal (`/v1`), partner callbacks, admin, health and OpenAPI.

pub mod admin;
pub mod callbacks;
pub mod console;
pub mod openapi;
pub mod portal;
pub mod subscriptions;

pub use crate::core::error;
pub use crate::core::{AppState, Panel};

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::capabilities::credentials::constant_time_eq;
pub use error::ApiError;

/// `axum::extract::Query` whose refusal is the API's JSON error naming the parameter, not
/// axum's plain text.
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(Query).map_err(|e| {
            let path = e.path().to_string();
            ApiError::invalid(if path == "." { "query" } else { &path }, e.inner().to_string())
        })
    }
}

/// The whole router; tests drive it directly or over a socket.
pub fn router(state: Arc<AppState>) -> Router {
    let guard = |token: &str| {
        let token = token.to_string();
        axum::middleware::from_fn(move |request: Request, next: Next| {
            bearer_guard(token.clone(), request, next)
        })
    };
    let admin_guard = {
        let token = state.admin_token.clone();
        let state = state.clone();
        axum::middleware::from_fn(move |request: Request, next: Next| {
            console::admin_guard(token.clone(), state.clone(), request, next)
        })
    };
    let to_end = axum::middleware::from_fn(run_to_end);
    Router::new()
        .merge(portal::router().route_layer(guard(&state.portal_token)))
        .merge(
            admin::router()
                .route_layer(to_end.clone())
                .route_layer(admin_guard.clone()),
        )
        .merge(
            subscriptions::router()
                .route_layer(to_end)
                .route_layer(admin_guard),
        )
        .merge(console::router())
        .merge(admin::open_router())
        .merge(callbacks::router())
        .merge(openapi::router())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
        .layer(axum::middleware::from_fn(refuse_nul_in_url))
        .layer(axum::middleware::from_fn(body_too_large_in_json))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_oversized_head,
        ))
        .with_state(state)
}

/// Runs an admin request to its end on a task of its own, as a portal operation and a callback
/// run: a client that hangs up does not cut a change off midway, such as a switch between its
/// commit and its install (the store naming one module while the host serves another until a
/// restart).
async fn run_to_end(request: Request, next: Next) -> Response {
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => ApiError::Internal(anyhow::anyhow!("the request's task ended: {e}")).into_response(),
    }
}

/// The largest body a route takes unless it says otherwise (a module push takes
/// [`admin::MAX_MODULE_BYTES`]).
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;

async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_string(),
    }
}

/// axum answers a body over its route's limit (`DefaultBodyLimit`) with a line of plain text
/// from inside the `Bytes` extractor; this gives that answer the API's JSON shape. The limit
/// named is the route's: the module routes take more than the rest.
async fn body_too_large_in_json(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() != axum::http::StatusCode::PAYLOAD_TOO_LARGE || is_json {
        return response;
    }
    // The routes `admin::router` gives `MAX_MODULE_BYTES`: a push and a replay.
    let takes_a_module =
        path == "/admin/adapters" || (path.starts_with("/admin/panels/") && path.ends_with("/replay"));
    let limit = if takes_a_module {
        admin::MAX_MODULE_BYTES
    } else {
        BODY_LIMIT
    };
    ApiError::BodyTooLarge { limit }.into_response()
}

/// Refuses a request whose target or headers are longer than `[server]` allows, in the API's
/// JSON shape, before anything else reads them. hyper's own limits are higher (see `serve`),
/// so that these, not hyper's empty answers, are what a client meets.
async fn refuse_oversized_head(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let server = &state.config.server;
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > server.max_uri_bytes {
        return ApiError::UriTooLong {
            length: target,
            limit: server.max_uri_bytes,
        }
        .into_response();
    }
    // As the head spells them: `name: value` and its line end.
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > server.max_header_bytes {
        return ApiError::HeadersTooLarge {
            length: headers,
            limit: server.max_header_bytes,
        }
        .into_response();
    }
    next.run(request).await
}

/// Counts every answered request under its route's pattern.
async fn count_request(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let response = next.run(request).await;
    state
        .runtime
        .metrics
        .http(&route, method.as_str(), response.status().as_u16());
    response
}

/// The path of the first string (or key) in `value` that holds a NUL character.
fn nul_path(value: &serde_json::Value) -> Option<String> {
    /// Walks `value` at `path`, one buffer for the whole walk: a step is pushed on the way in
    /// and taken off on the way out, so only a hit keeps it.
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(v, path) || {
                    path.truncate(len);
                    false
                }
            }),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                k.contains('\0') || walk(v, path) || {
                    path.truncate(len);
                    false
                }
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then_some(path)
}

/// Refuses a URL that carries an encoded NUL character (`%00`), or a path that is no UTF-8
/// text once decoded (`%FF`), before any handler sees it: the API's JSON error rather than the
/// plain text a path parameter's extractor answers.
async fn refuse_nul_in_url(request: Request, next: Next) -> Response {
    let uri = request.uri().to_string();
    if uri.to_ascii_lowercase().contains("%00") {
        return ApiError::invalid("url", "must not contain the NUL character (%00)").into_response();
    }
    if percent_encoding::percent_decode_str(request.uri().path())
        .decode_utf8()
        .is_err()
    {
        return ApiError::invalid("url", "the path must be UTF-8 text once percent-decoded").into_response();
    }
    next.run(request).await
}

/// Parses a `multipart/form-data` body already read into memory; `None` when the content type
/// is not multipart, `Err` with multer's reason when the body is malformed.
pub async fn parse_multipart(
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Result<Vec<crate::model::FormPart>, multer::Error>> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(body.clone())));
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    let result = async {
        while let Some(field) = form.next_field().await? {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(|m| m.to_string());
            let data = field.bytes().await?.to_vec();
            parts.push(crate::model::FormPart {
                name,
                filename,
                content_type,
                data,
            });
        }
        Ok(())
    }
    .await;
    Some(result.map(|()| parts))
}

/// Lets a request through only with `Authorization: Bearer <token>`.
pub async fn bearer_guard(token: String, request: Request, next: Next) -> Response {
    match require_bearer(request.headers(), &token) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Checks `Authorization: Bearer <token>` in constant time, the token exactly as configured:
/// whitespace around it is not trimmed, so a token has one spelling. The scheme's name is
/// case-insensitive (RFC 9110 11.1): `bearer` and `BEARER` are the same scheme.
pub fn require_bearer(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    const SCHEME: &str = "Bearer ";
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            v.get(..SCHEME.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
        })
        .map(|v| &v[SCHEME.len()..])
        .ok_or(ApiError::Unauthenticated)?;
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthenticated)
    }
}

/// Parses a JSON body into `T`, naming the field path of whatever is wrong.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // A body that cannot hold a NUL character (JSON text spells it only as `\u0000`) and that
    // parses straight into `T` is done in one pass. Anything else, every bad body among it,
    // goes through the tree, so that an error names its field and reads the same whichever
    // path the body took. (A body that parses both ways gives the same value both ways.)
    if memchr::memmem::find(body, br"\u0000").is_none()
        && let Ok(parsed) = serde_json::from_slice(body)
    {
        return Ok(parsed);
    }
    parse_json_through_the_tree(body)
}

/// Parses a JSON body into a tree, then into `T`: the path that names whatever is wrong.
fn parse_json_through_the_tree<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    from_value(value)
}

/// Deserializes a JSON value into `T` with field paths in errors. No text the host keeps may
/// hold the NUL character (PostgreSQL cannot store it, and no partner field means it).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if let Some(path) = nul_path(&value) {
        return Err(ApiError::invalid(
            &path,
            "must not contain the NUL character (U+0000)",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        // A missing field's error stands at its object: the path names the field itself.
        let path = match missing_field(&message) {
            Some(field) => join_path(&path, field),
            None => path,
        };
        ApiError::invalid(&path, message)
    })
}

/// The field serde's "missing field `name`" names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// `field` under the object at `path` (`""`: the body itself).
pub fn join_path(path: &str, field: &str) -> String {
    match (path.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => path.to_string(),
        (false, false) if field.starts_with('[') => format!("{path}{field}"),
        (false, false) => format!("{path}.{field}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::QuoteRequest;

    /// A request under [`run_to_end`] whose client hangs up (its future dropped) still runs to
    /// its end; without it, the handler stops where it was.
    #[tokio::test]
    async fn an_admin_request_runs_to_its_end_when_its_client_hangs_up() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tower::ServiceExt as _;
        let ran = |to_end: bool| async move {
            let done = Arc::new(AtomicBool::new(false));
            let flag = done.clone();
            let handler = move || async move {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                flag.store(true, Ordering::SeqCst);
            };
            let mut router = Router::new().route("/change", axum::routing::post(handler));
            if to_end {
                router = router.route_layer(axum::middleware::from_fn(run_to_end));
            }
            let request = Request::post("/change").body(axum::body::Body::empty()).unwrap();
            let hung_up =
                tokio::time::timeout(std::time::Duration::from_millis(20), router.oneshot(request)).await;
            assert!(hung_up.is_err(), "the client hung up first");
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            done.load(Ordering::SeqCst)
        };
        assert!(ran(true).await, "run to its end");
        assert!(!ran(false).await, "the test would see a request cut off");
    }

    fn issues(error: ApiError) -> Vec<(String, String)> {
        match error {
            ApiError::Invalid(issues) => issues.into_iter().map(|i| (i.path, i.message)).collect(),
            other => vec![(String::new(), other.to_string())],
        }
    }

    #[test]
    fn a_body_parses_to_the_same_request_or_the_same_error_on_either_path() {
        let quote =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/A03/quote.json")).unwrap();
        let mut bodies = vec![quote.clone()];
        let text = String::from_utf8(quote).unwrap();
        // A duplicate field: one pass refuses it, the tree keeps the last; the tree's answer stands.
        bodies.push(text.replacen("{", r#"{"product": "ignored", "#, 1).into_bytes());
        // A NUL in a field the request has, an unknown field, a wrong type, a missing field, not
        // JSON at all.
        assert!(text.contains(r#""product": "01""#) && text.contains(r#""binding": false"#));
        bodies.push(
            text.replacen(r#""product": "01""#, r#""product": "0\u00001""#, 1)
                .into_bytes(),
        );
        bodies.push(text.replacen("{", r#"{"surprise": 1, "#, 1).into_bytes());
        bodies.push(
            text.replacen(r#""binding": false"#, r#""binding": "no""#, 1)
                .into_bytes(),
        );
        bodies.push(br#"{"product": "x"}"#.to_vec());
        bodies.push(b"{not json".to_vec());
        for body in &bodies {
            let fast = parse_json::<QuoteRequest>(body).map(|q| serde_json::to_value(q).unwrap());
            // The tree alone: the path every body took before the one-pass parse.
            let tree =
                parse_json_through_the_tree::<QuoteRequest>(body).map(|q| serde_json::to_value(q).unwrap());
            match (fast, tree) {
                (Ok(fast), Ok(tree)) => assert_eq!(fast, tree),
                (Err(fast), Err(tree)) => assert_eq!(issues(fast), issues(tree)),
                (fast, tree) => panic!(
                    "the paths disagree on {}: {:?} against {:?}",
                    String::from_utf8_lossy(body),
                    fast.map_err(issues),
                    tree.map_err(issues)
                ),
            }
        }
        let refused = |body: &[u8]| issues(parse_json::<QuoteRequest>(body).unwrap_err())[0].0.clone();
        assert_eq!(refused(&bodies[2]), "product", "the NUL is named");
        assert_eq!(refused(&bodies[4]), "binding", "the wrong type is named");
        let (path, message) = issues(parse_json::<QuoteRequest>(&bodies[5]).unwrap_err()).remove(0);
        assert!(
            !path.is_empty() && message == format!("missing field `{path}`"),
            "a missing field is named, not its object: {path} {message}"
        );
        let mut nested: serde_json::Value = serde_json::from_str(&text).unwrap();
        nested["parties"][0].as_object_mut().unwrap().remove("role");
        let (path, message) = issues(from_value::<QuoteRequest>(nested).unwrap_err()).remove(0);
        assert_eq!(path, "parties[0].role", "{message}");
    }

    #[test]
    fn a_bearer_token_with_whitespace_around_it_is_refused() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                axum::http::HeaderValue::from_str(value).unwrap(),
            );
            require_bearer(&headers, "portal-token")
        };
        assert!(with("Bearer portal-token").is_ok());
        assert!(
            with("bearer portal-token").is_ok(),
            "the scheme is case-insensitive"
        );
        assert!(
            with("BEARER portal-token").is_ok(),
            "the scheme is case-insensitive"
        );
        assert!(with("Basic portal-token").is_err());
        for spelled in [
            "Bearer portal-token ",
            "Bearer  portal-token",
            "Bearer portal-token\t",
        ] {
            assert!(
                matches!(with(spelled), Err(ApiError::Unauthenticated)),
                "`{spelled}` was accepted"
            );
        }
    }

    #[test]
    fn a_nul_is_named_by_its_path() {
        let body = br#"{"a": [{"b": "ok"}, {"c": "x\u0000"}], "d": "fine"}"#;
        let error = parse_json::<serde_json::Value>(body).unwrap_err();
        assert_eq!(issues(error)[0].0, "a[1].c");
        let error = parse_json::<serde_json::Value>(br#"["", {"k\u0000": 1}]"#).unwrap_err();
        assert_eq!(issues(error)[0].0, "[1].k\u{0}");
        let error = parse_json::<serde_json::Value>(br#"{"top": "\u0000"}"#).unwrap_err();
        assert_eq!(issues(error)[0].0, "top");
        // An empty key names nothing, as it always has.
        let error = parse_json::<serde_json::Value>(br#"{"": {"b": "\u0000"}}"#).unwrap_err();
        assert_eq!(issues(error)[0].0, "b");
        assert!(parse_json::<serde_json::Value>(br#"{"escaped": "\\u0000"}"#).is_ok());
    }
}
