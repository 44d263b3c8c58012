//! An adapter's stdout and stderr: the first bytes kept for the host's log, the rest counted and
//! dropped. Printing never fails, so an adapter that prints more than its panel's log cap is
//! not faulted by it (a full pipe's error would trap the guest's `println!`, after its partner
//! may have acted); one that prints without end meets its deadline, as one logging without end.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What one write may carry at most (the permit `check-write` gives), as WASI's own streams.
const PERMIT: usize = 64 << 10;

#[derive(Clone)]
pub struct KeptOutput {
    capacity: usize,
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    bytes: BytesMut,
    dropped: u64,
}

impl KeptOutput {
    pub fn new(capacity: usize) -> KeptOutput {
        KeptOutput {
            capacity,
            kept: Default::default(),
        }
    }

    /// The bytes kept, and how many were dropped after them.
    pub fn contents(&self) -> (Bytes, u64) {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        (kept.bytes.clone().freeze(), kept.dropped)
    }

    /// How many bytes were dropped past the capacity.
    pub fn dropped(&self) -> u64 {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).dropped
    }

    fn keep(&self, bytes: &[u8]) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.capacity.saturating_sub(kept.bytes.len()).min(bytes.len());
        kept.bytes.extend_from_slice(&bytes[..room]);
        kept.dropped += (bytes.len() - room) as u64;
    }
}

#[async_trait::async_trait]
impl Pollable for KeptOutput {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for KeptOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

impl AsyncWrite for KeptOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for KeptOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for KeptOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_counts_the_rest_without_failing() {
        let out = KeptOutput::new(10);
        let mut stream = out.p2_stream();
        for _ in 0..3 {
            assert_eq!(stream.check_write().unwrap(), PERMIT);
            stream.write(Bytes::from_static(b"abcdefg")).unwrap();
        }
        let (kept, dropped) = out.contents();
        assert_eq!(&kept[..], b"abcdefgabc");
        assert_eq!(dropped, 11);
    }
}
