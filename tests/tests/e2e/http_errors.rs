//! Every answer the HTTP layer gives is in the API's one JSON error shape (issue 17, finding 11):
//! no route, a wrong method, a body over the route's limit, a target or headers over the
//! listener's limits. And `panelgate adapter push` says a module is too large instead of
//! "Broken pipe".

use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status and the JSON body of an answer.
async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: `{text}` is not JSON: {e}"));
    (status, body)
}

#[tokio::test]
async fn no_route_a_wrong_method_a_long_target_and_large_headers_answer_in_the_json_shape() {
    let (addr, _dir) = bare_host("max_uri_bytes = 1024\nmax_header_bytes = 4096").await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(PORTAL);

    let (status, body) = answer(get("/v1/nowhere").send().await.unwrap()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &"not_found".into())
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("/v1/nowhere"),
        "{body}"
    );

    let response = client
        .delete(format!("{base}/v1/panels"))
        .bearer_auth(PORTAL)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["allow"],
        "GET,HEAD",
        "the methods it takes are named"
    );
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let long = format!("/v1/panels?filter={}", "x".repeat(1100));
    let (status, body) = answer(get(&long).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG, "{body}");
    assert_eq!(body["error"]["code"], "uri_too_long");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.max_uri_bytes"),
        "{body}"
    );

    let response = get("/v1/panels")
        .header("x-padding", "p".repeat(5000))
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "headers_too_large");

    // Within the limits, the same requests are served.
    let (status, _) = answer(
        get("/v1/panels?filter=x")
            .header("x-padding", "p")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_routes_limit_answers_413_in_the_json_shape() {
    let (addr, _dir) = bare_host("").await;
    let limit = panelgate::api::BODY_LIMIT;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Declares more than the limit and sends one byte past it: all the host reads before it
    // answers, so the answer is not lost to a reset.
    let head = format!(
        "POST /v1/panels/A03/quotes HTTP/1.1\r\nhost: panelgate\r\nauthorization: Bearer {PORTAL}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        limit * 2
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b' '; limit + 1]).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let received = String::from_utf8_lossy(&received);
    let (head, body) = received.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("`{body}`: {e}"));
    assert_eq!(body["error"]["code"], "body_too_large", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "the limit is named: {body}"
    );
}

#[tokio::test]
async fn pushing_a_module_over_the_hosts_limit_says_it_is_too_large() {
    let (addr, dir) = bare_host("").await;
    let module = dir.path().join("huge.wasm");
    // Sparse: 1 MiB past the limit without writing it.
    let file = std::fs::File::create(&module).unwrap();
    file.set_len((panelgate::api::admin::MAX_MODULE_BYTES + (1 << 20)) as u64)
        .unwrap();
    let argv = [
        "panelgate",
        "adapter",
        "push",
        module.to_str().unwrap(),
        "--url",
        &format!("http://{addr}"),
        "--token",
        ADMIN,
    ]
    .map(String::from);
    let error = panelgate::cli::run(argv).await.unwrap_err();
    let error = format!("{error:#}");
    assert!(
        error.contains("the module is too large") && error.contains("67108864"),
        "{error}"
    );
}

/// A host that takes the connection and never answers: the CLI gives up after `--timeout`
/// seconds, saying so, rather than hanging the operator's shell.
#[tokio::test]
async fn the_cli_gives_up_on_a_host_that_never_answers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    let argv = [
        "panelgate",
        "adapter",
        "list",
        "--url",
        &format!("http://{addr}"),
        "--token",
        ADMIN,
        "--timeout",
        "1",
    ]
    .map(String::from);
    let started = std::time::Instant::now();
    let error = format!("{:#}", panelgate::cli::run(argv).await.unwrap_err());
    assert!(
        error.contains("did not answer within 1 s") && error.contains("--timeout"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
