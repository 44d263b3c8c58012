//! The console at `/console`: without the admin token no console page or data is served; a
//! sign-in sets a session cookie (HttpOnly, SameSite=Strict) that the admin API takes in place
//! of the token, with the session's CSRF token and the host's own origin for what changes state;
//! signing out ends it. Also the admin endpoints the console added: cases by a partner
//! reference, a case's events, the journal's filters and an entry's exchanges, the last hour.

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

/// A client that neither follows redirects nor keeps cookies: each request says what it sends.
fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get(SET_COOKIE).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn without_the_admin_token_no_console_page_or_data_is_served() {
    let h = start().await;
    let client = bare_client();
    // The console's page and script go only to a session; the sign-in page names nothing.
    let response = client.get(h.url("/console")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/console/sign-in");
    assert!(response.text().await.unwrap().is_empty());
    let response = client.get(h.url("/console/console.js")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client.get(h.url("/console/sign-in")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("Admin token") && !page.contains("A03"), "{page}");

    // No data without a session or the token: a forged, a foreign-token or no cookie.
    // A session that another admin token signed (another host's, or before a rotation).
    let (value, _) = panelgate::core::sessions::Sessions::new("another-admin-token").issue();
    let foreign = format!("panelgate_console={value}");
    for cookie in [
        None,
        Some("panelgate_console=v1.99999999999.00.00".to_string()),
        Some(foreign),
    ] {
        for path in [
            "/admin/panels",
            "/admin/journal",
            "/admin/cases",
            "/admin/events",
            "/admin/operations/last-hour",
            "/console/session",
        ] {
            let mut request = client.get(h.url(path));
            if let Some(cookie) = &cookie {
                request = request.header("cookie", cookie);
            }
            let response = request.send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {cookie:?}"
            );
        }
    }

    // A wrong token signs nobody in and sets no cookie.
    let response = client
        .post(h.url("/console/session"))
        .json(&json!({ "token": PORTAL }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(response.headers()).is_none());
    // A refusal is a console answer too: never cached, never framed.
    for (name, value) in [("cache-control", "no-store"), ("x-frame-options", "DENY")] {
        assert_eq!(response.headers()[name], value, "{name}");
    }
    let response = client
        .post(h.url("/console/session"))
        .json(&json!({ "password": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_session_cookie_is_httponly_strict_and_its_unsafe_requests_need_the_csrf_token() {
    let h = start().await;
    let client = bare_client();
    let response = client
        .post(h.url("/console/session"))
        .json(&json!({ "token": ADMIN }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let cookie = set_cookie(response.headers()).unwrap();
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attributes[0].starts_with("panelgate_console="), "{cookie}");
    for wanted in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {cookie}");
    }
    // The test reaches the host on 127.0.0.1, where browsers drop a `Secure` cookie sent over
    // HTTP; anywhere else the cookie is `Secure` (the unit test of `set_cookie`).
    assert!(!attributes.contains(&"Secure"), "{cookie}");
    // Neither the token nor the session value is in the body.
    let body: Value = response.json().await.unwrap();
    let pair = attributes[0].to_string();
    let value = pair.split_once('=').unwrap().1;
    assert!(!body.to_string().contains(ADMIN) && !body.to_string().contains(value));
    let csrf = body["csrf_token"].as_str().unwrap().to_string();

    // The session reads the console and the admin API.
    let page = client
        .get(h.url("/console"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("/console/console.js"));
    let response = client
        .get(h.url("/admin/panels"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = client
        .get(h.url("/console/session"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["csrf_token"], csrf.as_str());

    // What changes state needs the CSRF token, and the host's own origin when one is named.
    let enable = h.url("/admin/panels/A03/enable");
    let host = h.base.trim_start_matches("http://").to_string();
    let attempts: [(Option<&str>, Option<String>, StatusCode); 5] = [
        (None, None, StatusCode::FORBIDDEN),
        (Some("0".repeat(64).leak()), None, StatusCode::FORBIDDEN),
        (
            Some(csrf.as_str()),
            Some("http://evil.example".into()),
            StatusCode::FORBIDDEN,
        ),
        (
            Some(csrf.as_str()),
            Some(format!("http://{host}")),
            StatusCode::OK,
        ),
        (Some(csrf.as_str()), None, StatusCode::OK),
    ];
    for (token, origin, expected) in attempts {
        let mut request = client.post(&enable).header("cookie", &pair);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        if let Some(origin) = &origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "token {token:?}, origin {origin:?}: {body}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(body["error"]["code"], "forbidden", "{body}");
        }
    }
    // A bearer token is judged alone, as before: a wrong one is not rescued by the cookie.
    let response = client
        .get(h.url("/admin/panels"))
        .header("cookie", &pair)
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Signing out needs the token too, clears the cookie and ends the session.
    let response = client
        .delete(h.url("/console/session"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = client
        .delete(h.url("/console/session"))
        .header("cookie", &pair)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared = set_cookie(response.headers()).unwrap();
    assert!(
        cleared.starts_with("panelgate_console=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    for path in ["/admin/panels", "/console/session", "/console/console.js"] {
        let response = client
            .get(h.url(path))
            .header("cookie", &pair)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path} after signing out"
        );
    }
    let response = client
        .get(h.url("/console"))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_console_finds_a_case_by_its_loan_id_and_reads_the_journal_and_the_last_hour() {
    let h = start().await;
    let loan = "CONSOLE-LOAN-0001";
    let mut accept = example("A03", "accept-cac");
    accept["interest"]["credit_life"]["account"] = json!(loan);
    let (status, body) = h.post("/v1/panels/A03/policies", &accept).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().unwrap().to_string();
    // AAP takes a loan id once: the same application again gets AAP's "already registered"
    // status, which leaves it in doubt; journaled as not ok.
    let (status, body) = h.post("/v1/panels/A03/policies", &accept).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");
    let in_doubt = body["error"]["journal_id"].as_str().unwrap().to_string();

    // By the loan id, by the case id, by panel; nothing for another reference.
    let (status, cases) = h.admin_get(&format!("/admin/cases?reference={loan}")).await;
    assert_eq!(status, StatusCode::OK, "{cases}");
    assert_eq!(cases.as_array().unwrap().len(), 1, "{cases}");
    assert_eq!(cases[0]["id"], case_id.as_str());
    assert!(!cases[0]["history"].as_array().unwrap().is_empty());
    let (_, cases) = h.admin_get(&format!("/admin/cases?id={case_id}&panel=A03")).await;
    assert_eq!(cases.as_array().unwrap().len(), 1);
    let (_, cases) = h.admin_get(&format!("/admin/cases?id={case_id}&panel=B03")).await;
    assert!(cases.as_array().unwrap().is_empty());
    let (_, cases) = h.admin_get("/admin/cases?reference=NO-SUCH-LOAN").await;
    assert!(cases.as_array().unwrap().is_empty());
    let (status, detail) = h.admin_get(&format!("/admin/cases/{case_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["case"]["status"], "in_force", "{detail}");
    let events = detail["events"].as_array().unwrap();
    assert!(events.iter().all(|e| e["case_id"] == case_id.as_str()) && !events.is_empty());
    let (status, _) = h.admin_get("/admin/cases/no-such-case").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, feed) = h.admin_get("/admin/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(feed["events"].as_array().unwrap().len() >= events.len());

    // The journal by operation and status; an entry with its partner exchanges.
    let (status, accepts) = h
        .admin_get("/admin/journal?panel=A03&operation=accept&kind=portal&status=ok")
        .await;
    assert_eq!(status, StatusCode::OK, "{accepts}");
    let accepts = accepts.as_array().unwrap();
    assert_eq!(accepts.len(), 1, "{accepts:?}");
    let (_, errors) = h
        .admin_get("/admin/journal?operation=accept&kind=portal&status=error")
        .await;
    let errors = errors.as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_ne!(errors[0]["outcome"], "ok");
    let (status, entry) = h
        .admin_get(&format!("/admin/journal/{}", accepts[0]["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let exchanges = entry["exchanges"].as_array().unwrap();
    assert!(!exchanges.is_empty(), "{entry}");
    assert!(exchanges.iter().all(|x| x["kind"] == "partner"));
    // An operation in doubt: its exchange once, under `exchanges`, not again among what came
    // later on its case.
    let (status, doubt) = h.admin_get(&format!("/admin/journal/{in_doubt}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doubt["exchanges"].as_array().unwrap().len(), 1, "{doubt}");
    assert!(
        doubt["later_on_the_case"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["detail"]["of"] != in_doubt.as_str()),
        "{doubt}"
    );
    // The partner's credentials are not in what the console shows.
    assert!(!entry.to_string().contains(PANEL_PASSWORD));
    // By time: nothing before the year 2000, everything since; a bad time names its field.
    let (_, none) = h.admin_get("/admin/journal?until=2000-01-01T00:00:00Z").await;
    assert!(none.as_array().unwrap().is_empty());
    let (_, all) = h
        .admin_get("/admin/journal?since=2000-01-01T00:00:00%2B07:00&limit=10000")
        .await;
    assert!(all.as_array().unwrap().len() >= 3);
    let (status, body) = h.admin_get("/admin/journal?since=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["issues"][0]["path"], "since", "{body}");
    let (status, body) = h.admin_get("/admin/journal?status=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["issues"][0]["path"], "status", "{body}");

    // The last hour: the two applications, one refused.
    let (status, hour) = h.admin_get("/admin/operations/last-hour").await;
    assert_eq!(status, StatusCode::OK);
    let quote = hour
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["panel"] == "A03" && o["operation"] == "accept")
        .unwrap_or_else(|| panic!("no A03 accept in {hour}"));
    assert_eq!(quote["requests"], 2, "{quote}");
    assert_eq!(quote["errors"], 1, "{quote}");
    assert_eq!(quote["server_errors"], 0, "{quote}");
    assert!(quote["p95_ms"].as_f64().unwrap() > 0.0);
}
