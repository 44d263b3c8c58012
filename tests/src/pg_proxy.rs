//! A proxy between a host and PostgreSQL that cuts one transaction's connection at its `COMMIT`:
//! the fault of a network (or a server's failover) that leaves the host not knowing whether its
//! transaction committed.
//!
//! Bytes pass both ways untouched until [`CommitCutter::arm`]: then the next `COMMIT` sent on a
//! connection that sent the marker since its previous `COMMIT` is cut as [`Cut`] says. The host
//! must connect without TLS (`sslmode=disable`), so that the proxy can read what it sends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where a cut falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The server gets the `COMMIT` and commits; its answer never reaches the host.
    AfterCommit,
    /// The server never gets the `COMMIT`: it rolls the transaction back when the connection
    /// closes.
    BeforeCommit,
}

/// The armed cut: the marker a transaction must have sent, and the cut its `COMMIT` gets.
type Armed = Arc<Mutex<Option<(Vec<u8>, Cut)>>>;

/// A simple-query `COMMIT` (`Q`, its length, the text), as sqlx sends it.
const COMMIT: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

pub struct CommitCutter {
    addr: SocketAddr,
    armed: Armed,
    cuts: Arc<AtomicUsize>,
    hiding: Arc<AtomicBool>,
}

impl CommitCutter {
    /// A proxy on a loopback port of its own in front of the server at `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<CommitCutter> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let cutter = CommitCutter {
            addr: listener.local_addr()?,
            armed: Arc::default(),
            cuts: Arc::default(),
            hiding: Arc::default(),
        };
        let (armed, cuts, hiding) = (cutter.armed.clone(), cutter.cuts.clone(), cutter.hiding.clone());
        tokio::spawn(async move {
            while let Ok((host, _)) = listener.accept().await {
                let (armed, cuts, hiding) = (armed.clone(), cuts.clone(), hiding.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = relay(host, server, armed, cuts, hiding).await;
                    }
                });
            }
        });
        Ok(cutter)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next `COMMIT` of a transaction that sent `marker` (a value bound in one of its
    /// statements, say) is cut as `cut` says; then everything passes again.
    pub fn arm(&self, marker: &str, cut: Cut) {
        *self.armed.lock().unwrap() = Some((marker.as_bytes().to_vec(), cut));
    }

    /// While `hide` holds, a connection that asks a transaction's status (`txid_status`) is
    /// closed before the server sees the question: whether a cut `COMMIT` landed cannot be
    /// learnt.
    pub fn hide_outcomes(&self, hide: bool) {
        self.hiding.store(hide, Ordering::SeqCst);
    }

    /// How many `COMMIT`s were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::SeqCst)
    }
}

/// One connection: the server's bytes go back as they come (until a cut mutes them), the host's
/// are read chunk by chunk, looking for the armed transaction's `COMMIT`.
async fn relay(
    mut host: TcpStream,
    server: TcpStream,
    armed: Armed,
    cuts: Arc<AtomicUsize>,
    hiding: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_host, to_host) = host.split();
    let muted = Arc::new(AtomicBool::new(false));
    let back = {
        let muted = muted.clone();
        let mut to_host = to_host;
        async move {
            let mut buf = vec![0; 64 * 1024];
            loop {
                let n = from_server.read(&mut buf).await?;
                if n == 0 {
                    return anyhow::Ok(());
                }
                if !muted.load(Ordering::SeqCst) {
                    to_host.write_all(&buf[..n]).await?;
                }
            }
        }
    };
    let forth = async {
        let mut buf = vec![0; 64 * 1024];
        // What the host sent since its last `COMMIT`: the current transaction's statements.
        let mut transaction = Vec::new();
        loop {
            let n = from_host.read(&mut buf).await?;
            if n == 0 {
                return anyhow::Ok(());
            }
            let chunk = &buf[..n];
            if hiding.load(Ordering::SeqCst) && contains(chunk, b"txid_status") {
                return Ok(());
            }
            if armed.lock().unwrap().is_some() {
                transaction.extend_from_slice(chunk);
            }
            if contains(chunk, COMMIT) {
                let cut = {
                    let mut armed = armed.lock().unwrap();
                    match armed.as_ref() {
                        Some((marker, cut)) if contains(&transaction, marker) => {
                            let cut = *cut;
                            *armed = None;
                            Some(cut)
                        }
                        _ => None,
                    }
                };
                transaction.clear();
                match cut {
                    Some(Cut::AfterCommit) => {
                        cuts.fetch_add(1, Ordering::SeqCst);
                        muted.store(true, Ordering::SeqCst);
                        to_server.write_all(chunk).await?;
                        // Time for the server to commit before the connection goes.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return Ok(());
                    }
                    Some(Cut::BeforeCommit) => {
                        cuts.fetch_add(1, Ordering::SeqCst);
                        return Ok(());
                    }
                    None => {}
                }
            }
            to_server.write_all(chunk).await?;
        }
    };
    // Whichever side ends first ends the connection, both ways.
    tokio::select! {
        r = back => r,
        r = forth => r,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
