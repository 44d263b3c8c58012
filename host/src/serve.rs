//! The portal's listener: accepts connections and serves the router on each over HTTP/1.1, with
//! the limits that keep one client's slow or idle sockets from starving every other client
//! (issue 17: 300 idle sockets under a 300 open-files limit once stopped all service,
//! `/healthz` included).
//!
//! - **A head has [`ServerConfig::header_read_timeout_ms`] to arrive**, from its first byte: a
//!   client that trickles its headers, or never ends them, is disconnected.
//! - **A connection waits [`ServerConfig::idle_timeout_ms`] for its next request**, from its
//!   opening or its last answer, and is then closed.
//! - **At most [`ServerConfig::max_connections`] are open**, fewer if the process's open-files
//!   limit is lower. A new connection past the cap closes the open connection that has waited
//!   longest for a request (idle, or still sending its head): a waiting socket costs its client
//!   nothing to reopen, while a new client is served at once. Only when every connection is in
//!   the middle of a request is the new one refused, with `503 too_many_connections`. The same
//!   reclaiming happens when the process runs out of file descriptors while accepting.
//!
//! A connection is *serving* from the moment its request's head is complete until its answer's
//! last byte is handed to the socket; a request's body being read and the handler running both
//! count. Those connections are never closed by these limits (the operation's own deadline
//! bounds them).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::api::ApiError;
use crate::config::ServerConfig;

/// Ten thousand connections: a portal whose partner answers in 200 ms to 2 s keeps one connection
/// per quote in flight, thousands of them (BENCHMARKS.md: the slow partner, 5,000 connections);
/// the cap is there for the clients that open more. Each idle connection costs a file
/// descriptor and 10-12 KiB of the host's memory (measured: 2,000 idle connections added 20 MiB
/// of RSS, docs/operating.md), so the cap costs at most ~120 MiB. The open-files limit lowers it
/// (see [`RESERVED_FILES`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Ten seconds for a head, from its first byte. A head is one or two TCP segments; TCP resends a
/// lost segment after 1 s, then 2 s, then 4 s, so a head that lost three segments in a row still
/// arrives in 7 s. A client slower than that is not a client.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Two minutes between requests, longer than the idle limits of the common clients' pools (.NET
/// 60 s, Go and reqwest 90 s): the client lets an idle connection go first, rather than sending a
/// request on one the host is closing (which a client retries only for some methods).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// 8 KiB for the request target, as nginx and most servers allow; the portal's longest route is
/// a few hundred bytes.
pub const DEFAULT_MAX_URI_BYTES: usize = 8 * 1024;
/// 32 KiB of headers (nginx's default buffers hold as much); a portal sends under 1 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper answers `414` with an empty body past a target of this length (`MAX_URI_LEN`), before
/// the router can answer in JSON; `max_uri_bytes` stays at or under it.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;
/// hyper answers `431` with an empty body when a head fills its read buffer (8 KiB + 400 KiB by
/// default), before the router can answer in JSON; `max_header_bytes` stays well under it, so
/// that a head at the limits (the longest target and the most headers) still fits.
pub const MAX_HEADER_BYTES_LIMIT: usize = 256 * 1024;
/// File descriptors left to the host itself when the open-files limit lowers the connection cap:
/// the store, the adapters' cache, the partners' connections, the log. A host at rest holds 18
/// (measured, SQLite store), and one more per partner connection in flight.
pub const RESERVED_FILES: usize = 64;
/// How long a connection past the cap waits for the one it displaced to close.
const RECLAIM_WAIT: Duration = Duration::from_secs(1);
/// How long refusing a connection may take: its request's arrival and the answer's writing.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);
/// Connections being refused at once.
const REFUSALS: usize = 64;

/// Serves `router` on `listener` until `shutdown` completes, then lets every request in flight
/// finish and returns once all connections are closed. `panelgate serve` and the tests use it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let connections = Arc::new(Connections::new(config));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let connections = connections.clone();
                let router = router.clone();
                let stopping = stopping.clone();
                tokio::spawn(async move {
                    match connections.admit().await {
                        Some(connection) => connection.run(stream, router, stopping).await,
                        None => refuse(stream, &connections).await,
                    }
                });
            }
            Err(e) if out_of_files(&e) => {
                // The descriptors the idle connections hold are the only ones the listener can
                // free; without this, a full table of idle sockets stops the host for good.
                tracing::warn!("accepting a connection: {e}; closing the longest-waiting idle one");
                let closed = connections.closed.notified();
                if connections.reclaim_one() {
                    let _ = tokio::time::timeout(RECLAIM_WAIT, closed).await;
                } else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            // A connection reset before it was accepted, and the like: that client's loss only.
            Err(e) => tracing::debug!("accepting a connection: {e}"),
        }
    }
    drop(listener);
    let _ = stop.send(true);
    connections.drained().await;
    Ok(())
}

fn out_of_files(e: &io::Error) -> bool {
    // EMFILE (24) and ENFILE (23) on Linux and the BSDs; the standard library names neither.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Answers a connection the host has no room for, and closes it. The request's head is read
/// first (within [`REFUSAL_WAIT`]): an HTTP client takes an answer that comes before its request
/// is sent for a broken connection. At most [`REFUSALS`] connections are being refused at once;
/// past that, a connection is closed without an answer, so that refusing cannot itself hold an
/// unbounded number of sockets.
async fn refuse(stream: TcpStream, connections: &Connections) {
    let Ok(_refusing) = connections.refusing.try_acquire() else {
        tracing::warn!(
            "closed a connection unanswered: all {} are serving requests",
            connections.max
        );
        return;
    };
    let error = ApiError::TooManyConnections { max: connections.max };
    let body = serde_json::to_vec(&error.body()).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: {}\r\nconnection: close\r\n\r\n",
        error.status(),
        body.len(),
        error.retry_after().unwrap_or(1),
    );
    let answer = async {
        // Up to the end of the head (a body, if any, is not waited for).
        let mut request = Vec::with_capacity(8192);
        let mut stream = stream;
        while request.len() < 8192 && memchr::memmem::find(&request, b"\r\n\r\n").is_none() {
            if stream.read_buf(&mut request).await? == 0 {
                break;
            }
        }
        stream.write_all(&[head.as_bytes(), &body].concat()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WAIT, answer).await;
    tracing::warn!(
        "refused a connection: all {} are serving requests",
        connections.max
    );
}

/// The open connections, for the cap and for finding the one to close.
struct Connections {
    max: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    open: Mutex<Open>,
    /// Woken each time a connection closes.
    closed: Notify,
    /// Bounds the connections being refused at once ([`REFUSALS`]).
    refusing: tokio::sync::Semaphore,
}

#[derive(Default)]
struct Open {
    next: u64,
    by_id: HashMap<u64, Arc<Connection>>,
}

impl Connections {
    fn new(config: &ServerConfig) -> Connections {
        let max = match open_files_limit() {
            Some(files) if files.saturating_sub(RESERVED_FILES) < config.max_connections => {
                let max = files.saturating_sub(RESERVED_FILES).max(1);
                tracing::warn!(
                    "server.max_connections is {}, but the process may open only {files} files: \
                     holding at most {max} connections (raise `ulimit -n`, or LimitNOFILE= under \
                     systemd, to hold more)",
                    config.max_connections
                );
                max
            }
            _ => config.max_connections,
        };
        Connections {
            max,
            header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(config.idle_timeout_ms),
            open: Mutex::default(),
            closed: Notify::new(),
            refusing: tokio::sync::Semaphore::new(REFUSALS),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection: at once under the cap; past it, once the connection that
    /// has waited longest for a request has closed to make room. `None` when every connection
    /// is serving a request.
    async fn admit(self: &Arc<Self>) -> Option<Arc<Connection>> {
        let deadline = Instant::now() + RECLAIM_WAIT;
        loop {
            let closed = self.closed.notified();
            if let Some(connection) = self.register() {
                return Some(connection);
            }
            if !self.reclaim_one() || tokio::time::timeout_at(deadline, closed).await.is_err() {
                return None;
            }
        }
    }

    fn register(self: &Arc<Self>) -> Option<Arc<Connection>> {
        let mut open = self.open();
        if open.by_id.len() >= self.max {
            return None;
        }
        open.next += 1;
        let connection = Arc::new(Connection {
            id: open.next,
            connections: self.clone(),
            phase: Mutex::new(Phase::Idle {
                since: Instant::now(),
            }),
            wake: Notify::new(),
            reclaimed: AtomicBool::new(false),
        });
        open.by_id.insert(connection.id, connection.clone());
        Some(connection)
    }

    /// Asks the connection that has waited longest for a request (and is not already closing)
    /// to close; false when every connection is serving one.
    fn reclaim_one(&self) -> bool {
        let open = self.open();
        let longest = open
            .by_id
            .values()
            .filter(|c| !c.reclaimed.load(Ordering::Relaxed))
            .filter_map(|c| c.phase().waiting_since().map(|since| (since, c)))
            .min_by_key(|(since, _)| *since);
        match longest {
            Some((_, connection)) => {
                connection.reclaimed.store(true, Ordering::Relaxed);
                connection.wake.notify_one();
                true
            }
            None => false,
        }
    }

    fn remove(&self, id: u64) {
        self.open().by_id.remove(&id);
        self.closed.notify_waiters();
    }

    /// Returns once every connection has closed.
    async fn drained(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open().by_id.is_empty() {
                return;
            }
            closed.await;
        }
    }
}

/// What a connection is doing, for its timeouts and for choosing the one to close.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request, since it opened or its last answer went out.
    Idle { since: Instant },
    /// A request's first bytes arrived at `since`; its head is not complete yet.
    Reading { since: Instant },
    /// Serving this many requests: from a complete head to the answer's last byte.
    Serving(usize),
}

impl Phase {
    /// Since when the connection has been waiting for a request; `None` while it serves one.
    fn waiting_since(self) -> Option<Instant> {
        match self {
            Phase::Idle { since } | Phase::Reading { since } => Some(since),
            Phase::Serving(_) => None,
        }
    }
}

struct Connection {
    id: u64,
    connections: Arc<Connections>,
    phase: Mutex<Phase>,
    /// Wakes the connection's task: its phase changed (so did its deadline), or it is asked to
    /// close.
    wake: Notify,
    /// Chosen to make room for a new connection: closes unless it is serving a request.
    reclaimed: AtomicBool,
}

impl Connection {
    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_phase(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = change(*phase);
        drop(phase);
        self.wake.notify_one();
    }

    /// When the connection is to be closed if nothing changes; `None` while it serves.
    fn deadline(&self) -> Option<Instant> {
        match self.phase() {
            Phase::Idle { since } => Some(since + self.connections.idle_timeout),
            Phase::Reading { since } => Some(since + self.connections.header_read_timeout),
            Phase::Serving(_) => None,
        }
    }

    /// Serves requests on `stream` until the client closes it, a limit closes it, or the host
    /// stops (then after the request in flight, if any).
    async fn run(self: Arc<Self>, stream: TcpStream, router: Router, mut stopping: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let connection = self.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let serving = Serving::begin(connection.clone());
            let router = router.clone();
            async move {
                let Ok(response) = router.oneshot(request.map(Body::new)).await;
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(Answer {
                        body,
                        _serving: serving,
                    })
                }))
            }
        });
        let io = TokioIo::new(Watched {
            stream,
            connection: self.clone(),
        });
        // No header timeout of hyper's: its timer runs from the end of the last answer, so it
        // would also be the idle timeout; the two are kept apart here.
        let serving = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        let mut serving = std::pin::pin!(serving);
        let mut stop_requested = false;
        loop {
            let deadline = self.deadline();
            let sleep = tokio::time::sleep_until(deadline.unwrap_or_else(far_future));
            tokio::select! {
                result = serving.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection {}: {e}", self.id);
                    }
                    break;
                }
                () = sleep, if deadline.is_some() => {
                    if self.deadline().is_some_and(|d| d <= Instant::now()) {
                        tracing::debug!("connection {}: closed at its timeout ({:?})", self.id, self.phase());
                        break;
                    }
                }
                () = self.wake.notified() => {
                    if self.reclaimed.load(Ordering::Relaxed) && self.phase().waiting_since().is_some() {
                        tracing::debug!("connection {}: closed to make room for a new one", self.id);
                        break;
                    }
                }
                changed = stopping.changed(), if !stop_requested => {
                    stop_requested = true;
                    if changed.is_ok() {
                        // Closes at once if idle, after the answer in flight otherwise.
                        serving.as_mut().graceful_shutdown();
                    }
                }
            }
        }
        self.connections.remove(self.id);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Marks a connection serving while held: from a request's complete head until its answer's
/// body is dropped (written out, or abandoned with the connection).
struct Serving(Arc<Connection>);

impl Serving {
    fn begin(connection: Arc<Connection>) -> Serving {
        connection.set_phase(|phase| match phase {
            Phase::Serving(n) => Phase::Serving(n + 1),
            _ => Phase::Serving(1),
        });
        Serving(connection)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.set_phase(|phase| match phase {
            Phase::Serving(n) if n > 1 => Phase::Serving(n - 1),
            _ => Phase::Idle {
                since: Instant::now(),
            },
        });
    }
}

/// An answer's body, holding its connection serving until the body is done.
struct Answer {
    body: Body,
    _serving: Serving,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The connection's socket, noting when a request's first bytes arrive: the header timeout
/// runs from there.
struct Watched {
    stream: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before && matches!(self.connection.phase(), Phase::Idle { .. }) {
            self.connection.set_phase(|phase| match phase {
                Phase::Idle { .. } => Phase::Reading {
                    since: Instant::now(),
                },
                other => other,
            });
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The process's soft limit on open files, where the system tells it (Linux's `/proc`).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
