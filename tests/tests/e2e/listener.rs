//! The listener's limits (issue 17, finding 7): one client's slow or idle sockets cannot starve
//! the others. A head has a time limit from its first byte, a connection between requests has
//! an idle limit, and past the connection cap (or the open-files limit) the connection that has
//! waited longest for a request makes room for the new one.

use std::time::{Duration, Instant};

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the host closes the connection; what it sent, or `None` if it is still open
/// after `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_closed_after_the_header_timeout() {
    let (addr, _dir) = bare_host("header_read_timeout_ms = 300\nidle_timeout_ms = 60000").await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    // A head without its closing blank line, then nothing.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: panelgate\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let closed = closed_within(&mut slow, Duration::from_secs(10)).await;
    assert!(
        closed.is_some(),
        "the host still holds a head unfinished for 10 s"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before the timeout",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_connection_idle_between_requests_is_closed_after_the_idle_timeout_not_the_header_one() {
    let (addr, _dir) = bare_host("header_read_timeout_ms = 200\nidle_timeout_ms = 1500").await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: panelgate\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 1024];
    let n = client.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    let answered = Instant::now();
    let closed = closed_within(&mut client, Duration::from_secs(10)).await;
    assert_eq!(
        closed,
        Some(vec![]),
        "the idle connection is closed, without a word"
    );
    let idle = answered.elapsed();
    assert!(
        idle >= Duration::from_millis(1400) && idle < Duration::from_secs(5),
        "closed after {idle:?} idle: the idle timeout is 1.5 s, the header timeout 0.2 s"
    );
}

#[tokio::test]
async fn idle_sockets_past_the_cap_make_room_for_a_new_client() {
    let (addr, _dir) = bare_host("max_connections = 20").await;
    // Fifty sockets that say nothing, and ten that start a head and stop.
    let mut idle = Vec::new();
    for i in 0..60 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if i % 6 == 0 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        }
        idle.push(stream);
    }
    let start = Instant::now();
    let health = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("/healthz answers a new client");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    // The host holds no more than its cap: the rest were closed to make room.
    let mut closed = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(50)).await.is_some() {
            closed += 1;
        }
    }
    assert!(
        closed >= 40,
        "only {closed} of 60 idle sockets were closed under a cap of 20"
    );
}

#[tokio::test]
async fn when_every_connection_is_serving_a_request_a_new_one_is_refused_in_json() {
    let (addr, _dir) = bare_host("max_connections = 3").await;
    // Three requests whose bodies never come: each connection is serving, none is idle.
    let mut serving = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /admin/adapters HTTP/1.1\r\nhost: panelgate\r\nauthorization: Bearer {ADMIN}\r\n\
             content-type: application/wasm\r\ncontent-length: 1000\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        serving.push(stream);
    }
    // Each head is read and its request started before the next client arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    // The requests in flight were not cut off to make room.
    for stream in &mut serving {
        assert_eq!(closed_within(stream, Duration::from_millis(50)).await, None);
    }
}

/// The finding as it was found: a process allowed few files, more idle sockets than
/// that, and then a health check.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn idle_sockets_past_the_open_files_limit_do_not_stop_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let (port, _held) = free_port();
    let path = dir.path().join("panelgate.toml");
    std::fs::write(&path, bare_config(dir.path(), &format!("127.0.0.1:{port}"), "")).unwrap();
    let log = std::fs::File::create(dir.path().join("host.log")).unwrap();
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 200 && exec '{}' serve --config '{}'",
            env!("CARGO_BIN_EXE_panelgate-host"),
            path.display()
        ))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let host = HostProcess { child };
    host.ready(&base).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let health = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let log = std::fs::read_to_string(dir.path().join("host.log")).unwrap();
    let health = health.unwrap_or_else(|e| panic!("/healthz behind 300 idle sockets: {e}\n{log}"));
    assert_eq!(health.status(), StatusCode::OK);
    drop(idle);
}
