//! A fault-injecting proxy between the host and a partner simulator: the everyday faults of a
//! network and a partner, at the HTTP/1.1 message level, on the requests a rule picks.
//!
//! Each client connection gets its own connection to the partner, and each request on it is
//! read whole, given a [`Fault`], and forwarded (or not) as that fault says. The faults that act
//! "after forwarding" wait until the partner has answered, so the partner has certainly acted,
//! and then keep the answer from the host:
//! - [`Fault::Drop`] closes the host's connection without a byte of the answer;
//! - [`Fault::Reset`] resets it (TCP RST);
//! - [`Fault::Error`] answers a 5xx of the proxy's own instead of the partner's answer;
//! - [`Fault::Hold`] never answers (the host's read timeout decides);
//! - [`Fault::Delay`] answers, late;
//! - [`Fault::Refuse`] closes the connection before forwarding: the partner never sees it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded, and the answer passed back.
    Pass,
    /// Forwarded after this long.
    Delay(Duration),
    /// Forwarded at once; the answer passed back after this long (the partner has acted
    /// meanwhile, and may call back before the host hears it).
    Slow(Duration),
    /// Forwarded; the answer is never passed back and the connection stays open.
    Hold,
    /// Forwarded; the host's connection is closed once the partner has answered.
    Drop,
    /// Forwarded; the host's connection is reset once the partner has answered.
    Reset,
    /// Forwarded; once the partner has answered, the host gets this status instead.
    Error(u16),
    /// Not forwarded: the host's connection is closed before the partner sees anything.
    Refuse,
}

impl Fault {
    /// Every fault kind that leaves the partner having acted with the host not knowing it.
    pub const AFTER_FORWARDING: [Fault; 4] = [Fault::Hold, Fault::Drop, Fault::Reset, Fault::Error(502)];
}

/// Which requests a plan applies to, and what it does to them.
struct Plan {
    /// A request whose request line (`POST /path HTTP/1.1`) contains this is subject to faults.
    matching: String,
    /// Faults for the next matching requests, in order; then `random`, then [`Fault::Pass`].
    queued: VecDeque<Fault>,
    /// `(state, faults)`: a fault picked at random (a seeded xorshift) for each matching
    /// request, [`Fault::Pass`] among them if the caller wants some requests through.
    random: Option<(u64, Vec<Fault>)>,
}

impl Plan {
    fn next(&mut self, request_line: &str) -> Fault {
        if self.matching.is_empty() || !request_line.contains(&self.matching) {
            return Fault::Pass;
        }
        if let Some(fault) = self.queued.pop_front() {
            return fault;
        }
        match &mut self.random {
            Some((state, faults)) if !faults.is_empty() => {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                faults[(*state % faults.len() as u64) as usize]
            }
            _ => Fault::Pass,
        }
    }
}

/// The proxy: listening on a loopback port of its own, forwarding to `upstream`.
pub struct FaultProxy {
    addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    /// Requests seen, and those given a fault other than [`Fault::Pass`].
    seen: Arc<AtomicUsize>,
    faulted: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// A proxy in front of the partner at `upstream` (`http://HOST:PORT`, as a simulator's
    /// `base_url` gives it), passing everything until told otherwise.
    pub async fn start(upstream: &str) -> anyhow::Result<FaultProxy> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("`{upstream}` is not http://IP:PORT"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let plan = Arc::new(Mutex::new(Plan {
            matching: String::new(),
            queued: VecDeque::new(),
            random: None,
        }));
        let (seen, faulted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let proxy = FaultProxy {
            addr,
            plan: plan.clone(),
            seen: seen.clone(),
            faulted: faulted.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (plan, seen, faulted) = (plan.clone(), seen.clone(), faulted.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream, plan, seen, faulted).await;
                });
            }
        });
        Ok(proxy)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next requests whose request line contains `matching` get `faults`, in order;
    /// after them, requests pass.
    pub fn queue(&self, matching: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut plan = self.plan.lock().unwrap();
        plan.matching = matching.to_string();
        plan.queued = faults.into_iter().collect();
        plan.random = None;
    }

    /// Every request whose request line contains `matching` gets one of `faults` at random
    /// (seeded, so a failing run can be repeated).
    pub fn randomly(&self, matching: &str, seed: u64, faults: Vec<Fault>) {
        let mut plan = self.plan.lock().unwrap();
        plan.matching = matching.to_string();
        plan.queued.clear();
        plan.random = Some((seed.max(1), faults));
    }

    /// Everything passes again.
    pub fn heal(&self) {
        self.queue("", []);
    }

    /// Requests seen so far, and how many of them got a fault.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.seen.load(Ordering::SeqCst),
            self.faulted.load(Ordering::SeqCst),
        )
    }
}

/// One client connection: its requests in turn, each with its fault.
async fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    seen: Arc<AtomicUsize>,
    faulted: Arc<AtomicUsize>,
) -> anyhow::Result<()> {
    let mut partner: Option<TcpStream> = None;
    let mut from_client = Vec::new();
    let mut from_partner = Vec::new();
    loop {
        let Some(request) = read_message(&mut client, &mut from_client, Kind::Request).await? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&request[..request.iter().position(|&b| b == b'\r').unwrap_or(0)])
            .into_owned();
        let fault = plan.lock().unwrap().next(&line);
        seen.fetch_add(1, Ordering::SeqCst);
        if fault != Fault::Pass {
            faulted.fetch_add(1, Ordering::SeqCst);
        }
        match fault {
            Fault::Refuse => return Ok(()),
            Fault::Delay(by) => tokio::time::sleep(by).await,
            _ => {}
        }
        if partner.is_none() {
            partner = Some(TcpStream::connect(upstream).await?);
            from_partner.clear();
        }
        let Some(upstream_conn) = partner.as_mut() else {
            unreachable!()
        };
        upstream_conn.write_all(&request).await?;
        let Some(response) = read_message(upstream_conn, &mut from_partner, Kind::Response).await? else {
            bail!("the partner closed the connection without answering");
        };
        match fault {
            Fault::Pass | Fault::Delay(_) => client.write_all(&response).await?,
            Fault::Slow(by) => {
                tokio::time::sleep(by).await;
                client.write_all(&response).await?;
            }
            Fault::Hold => {
                // Until the host gives up and closes its side.
                let mut byte = [0u8; 1];
                let _ = client.read(&mut byte).await;
                return Ok(());
            }
            Fault::Drop => return Ok(()),
            Fault::Reset => {
                // A zero linger does not block on drop (the deprecation's concern): it resets.
                #[allow(deprecated)]
                client.set_linger(Some(Duration::ZERO))?;
                return Ok(());
            }
            Fault::Error(status) => {
                let answer = format!(
                    "HTTP/1.1 {status} Injected\r\ncontent-type: text/plain\r\ncontent-length: 8\r\nconnection: close\r\n\r\ninjected"
                );
                client.write_all(answer.as_bytes()).await?;
                return Ok(());
            }
            Fault::Refuse => unreachable!(),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Request,
    Response,
}

/// Reads one whole HTTP/1.1 message from `stream` (with what `buffer` already holds of it),
/// by its `content-length` or its chunks; what follows it stays in `buffer`. `None` on a clean
/// end of the stream before a message started.
async fn read_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    kind: Kind,
) -> anyhow::Result<Option<Vec<u8>>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(length) = message_length(buffer, kind)? {
            return Ok(Some(buffer.drain(..length).collect()));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buffer.is_empty() {
                return Ok(None);
            }
            bail!("the stream ended inside a message");
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the whole message at the start of `buffer`, once it is all there.
fn message_length(buffer: &[u8], kind: Kind) -> anyhow::Result<Option<usize>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let head = match kind {
        Kind::Request => httparse::Request::new(&mut headers).parse(buffer)?,
        Kind::Response => httparse::Response::new(&mut headers).parse(buffer)?,
    };
    let httparse::Status::Complete(head) = head else {
        return Ok(None);
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        return Ok(chunked_end(&buffer[head..])?.map(|end| head + end));
    }
    let length: usize = header("content-length")
        .map(|l| l.trim().parse())
        .transpose()?
        .unwrap_or(0);
    Ok((buffer.len() >= head + length).then_some(head + length))
}

/// Where a chunked body ends in `body`, once its last chunk and trailer are there.
fn chunked_end(body: &[u8]) -> anyhow::Result<Option<usize>> {
    let mut at = 0;
    loop {
        let Some(line) = body[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&body[at..at + line]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("chunk size `{size_text}`"))?;
        at += line + 2;
        if size == 0 {
            // The trailer: header lines up to an empty one.
            loop {
                let Some(line) = body[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += line + 2;
                if line == 0 {
                    return Ok(Some(at));
                }
            }
        }
        if body.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_complete_by_its_length_or_its_last_chunk() {
        let request = b"POST /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET";
        assert_eq!(
            message_length(request, Kind::Request).unwrap(),
            Some(request.len() - 3)
        );
        assert_eq!(message_length(&request[..20], Kind::Request).unwrap(), None);
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(
            message_length(chunked, Kind::Response).unwrap(),
            Some(chunked.len())
        );
        assert_eq!(
            message_length(&chunked[..chunked.len() - 2], Kind::Response).unwrap(),
            None
        );
    }

    #[test]
    fn a_plan_faults_only_matching_requests_in_order_then_passes() {
        let mut plan = Plan {
            matching: "POST /contracts".into(),
            queued: [Fault::Drop, Fault::Error(502)].into(),
            random: None,
        };
        assert_eq!(plan.next("GET /contracts/1 HTTP/1.1"), Fault::Pass);
        assert_eq!(plan.next("POST /contracts HTTP/1.1"), Fault::Drop);
        assert_eq!(plan.next("POST /contracts HTTP/1.1"), Fault::Error(502));
        assert_eq!(plan.next("POST /contracts HTTP/1.1"), Fault::Pass);
    }
}
