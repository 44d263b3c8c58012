//! Broker IT's console at `/console`: plain HTML, CSS and JavaScript compiled into the binary
//! (no build step, no Node at run time), over the admin API.
//!
//! Signing in trades the admin token for a session cookie (`HttpOnly`, `SameSite=Strict`,
//! `Path=/`, `Secure` unless the console is reached on a loopback address). The cookie is
//! accepted in place of the bearer token on `/admin/*`; a request that changes state must also
//! carry the session's CSRF token in `X-CSRF-Token` and, when the browser names an `Origin`, come
//! from the host's own. docs/security.md#the-console has the design.
//!
//! A session is stateless: `v1.<expiry>.<nonce>.<mac>`, its MAC keyed by a key derived from the
//! admin token, so every host sharing that token accepts it and rotating the token ends every
//! session. Signing out revokes the session on the host that signed it out (and clears the
//! cookie); the revocation list lives in memory until the session would have expired anyway.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::capabilities::credentials::constant_time_eq;
use crate::core::sessions::{COOKIE, SESSION_SECONDS, Session, Sessions};

/// The header a cookie-authenticated request that changes state carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Whether a request may change state under a cookie session: its CSRF token matches and, when
/// the browser says where the request comes from, it is this host.
fn same_origin_with_token(
    sessions: &Sessions,
    session: &Session,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest);
        if host.is_none() || origin_host != host {
            return Err(ApiError::Forbidden(
                "a console request must come from the console's own origin".into(),
            ));
        }
    }
    let given = headers
        .get(CSRF_HEADER)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !constant_time_eq(given, sessions.csrf(session).as_bytes()) {
        return Err(ApiError::Forbidden(format!(
            "a console request that changes state needs the session's CSRF token in `{CSRF_HEADER}`"
        )));
    }
    Ok(())
}

/// The admin routes' guard: `Authorization: Bearer <admin token>`, or a console session cookie
/// (with the CSRF token and the same origin for any method but GET and HEAD). A request that
/// names a bearer token is judged by it alone.
pub async fn admin_guard(token: String, state: Arc<AppState>, request: Request, next: Next) -> Response {
    let sessions = &state.console;
    let headers = request.headers();
    if headers.contains_key(header::AUTHORIZATION) {
        return super::bearer_guard(token, request, next).await;
    }
    let Some(session) = sessions.of(headers) else {
        return ApiError::Unauthenticated.into_response();
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && let Err(e) = same_origin_with_token(sessions, &session, headers) {
        return e.into_response();
    }
    next.run(request).await
}

static INDEX_HTML: &str = include_str!("../../console/index.html");
static SIGN_IN_HTML: &str = include_str!("../../console/sign-in.html");
static CONSOLE_JS: &str = include_str!("../../console/console.js");
static SIGN_IN_JS: &str = include_str!("../../console/sign-in.js");
static CONSOLE_CSS: &str = include_str!("../../console/console.css");

/// What every console answer carries: no caching of pages or data, no framing, scripts and
/// styles only from the console itself.
fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/sign-in", get(sign_in_page))
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/console/sign-in.js",
            get(|| async { asset("text/javascript; charset=utf-8", SIGN_IN_JS) }),
        )
        .route("/console/console.js", get(console_js))
        .route("/console/session", get(session).post(sign_in).delete(sign_out))
        // Every console answer, its refusals included (a wrong token's 401, a sign-out's 403).
        .layer(axum::middleware::map_response(|response: Response| async move {
            hardened(response)
        }))
}

/// The console itself: only to a signed-in session; anyone else is sent to the sign-in page.
async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match state.console.of(&headers) {
        Some(_) => asset("text/html; charset=utf-8", INDEX_HTML),
        None => Redirect::to("/console/sign-in").into_response(),
    }
}

async fn sign_in_page() -> Response {
    asset("text/html; charset=utf-8", SIGN_IN_HTML)
}

async fn console_js(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match state.console.of(&headers) {
        Some(_) => asset("text/javascript; charset=utf-8", CONSOLE_JS),
        None => ApiError::Unauthenticated.into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The admin token.
    pub token: String,
}

/// A console session: what its pages need to call the admin API.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    /// Send it as `X-CSRF-Token` with every request that changes state.
    pub csrf_token: String,
    /// When the session ends (RFC 3339); sign in again then.
    pub expires_at: String,
}

fn info(sessions: &Sessions, session: &Session) -> SessionInfo {
    let expires_at = time::OffsetDateTime::from_unix_timestamp(session.expires)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default();
    SessionInfo {
        csrf_token: sessions.csrf(session),
        expires_at,
    }
}

/// Whether the console is reached on a loopback address, where browsers take a cookie over
/// plain HTTP only without `Secure`.
fn on_loopback(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn set_cookie(headers: &HeaderMap, value: &str, max_age: i64) -> HeaderValue {
    let secure = if on_loopback(headers) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("a cookie of hex, digits and dots is a header value")
}

/// Signs in with the admin token: sets the session cookie and answers the session's CSRF token.
#[utoipa::path(post, path = "/console/session", tag = "admin", request_body = SignIn,
    responses((status = 201, body = SessionInfo, description = "signed in; the session cookie is set"),
        (status = 400), (status = 401), (status = 422)),
    security(()))]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SignIn = super::parse_json(&body)?;
    if !constant_time_eq(request.token.as_bytes(), state.admin_token.as_bytes()) {
        return Err(ApiError::Unauthenticated);
    }
    let sessions = &state.console;
    let (value, _) = sessions.issue();
    let session = sessions
        .check(&value)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a session just issued does not check")))?;
    let mut response = (StatusCode::CREATED, Json(info(sessions, &session))).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&headers, &value, SESSION_SECONDS));
    Ok(response)
}

/// The signed-in session (its CSRF token, its end); 401 without one.
#[utoipa::path(get, path = "/console/session", tag = "admin",
    responses((status = 200, body = SessionInfo), (status = 401)),
    security(()))]
pub async fn session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sessions = &state.console;
    let session = sessions.of(&headers).ok_or(ApiError::Unauthenticated)?;
    Ok(Json(info(sessions, &session)).into_response())
}

/// Signs out: the session is revoked (with its CSRF token, from the same origin) and the cookie
/// cleared. Without a session there is nothing to end: the cookie is cleared all the same.
#[utoipa::path(delete, path = "/console/session", tag = "admin",
    responses((status = 204, description = "signed out; the cookie is cleared"), (status = 403)),
    security(()))]
pub async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let sessions = &state.console;
    if let Some(session) = sessions.of(&headers) {
        same_origin_with_token(sessions, &session, &headers)?;
        sessions.revoke(&session);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&headers, "", 0));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_except_on_loopback() {
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            set_cookie(&headers, "v", 60).to_str().unwrap().to_string()
        };
        for host in ["127.0.0.1:8080", "localhost:1", "[::1]:80", "localhost"] {
            let cookie = with_host(host);
            assert!(!cookie.contains("Secure"), "{host}: {cookie}");
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        }
        for host in ["broker.example:443", "10.0.0.1:8080", "console.example"] {
            assert!(with_host(host).ends_with("; Secure"), "{host}");
        }
    }
}
