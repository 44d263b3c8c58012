//! `log`: adapter messages into the host's log, capped per operation.

use crate::runtime::HostState;
use crate::runtime::bindings::panelgate::adapter::log::{Host, Level};

impl Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let before = self.log_bytes;
        self.log_bytes = self.log_bytes.saturating_add(message.len());
        if self.log_bytes > self.panel.max_log_bytes {
            // Over the cap the adapter's messages are dropped, not the operation; said once.
            if before <= self.panel.max_log_bytes {
                tracing::warn!(panel = %self.panel.id, operation = self.operation, "adapter log capped at {} bytes for this operation", self.panel.max_log_bytes);
            }
            return Ok(());
        }
        let message = self.panel.redact(&message);
        let (panel, operation) = (&self.panel.id, self.operation);
        match level {
            Level::Trace => tracing::trace!(panel = %panel, operation, "adapter: {message}"),
            Level::Debug => tracing::debug!(panel = %panel, operation, "adapter: {message}"),
            Level::Info => tracing::info!(panel = %panel, operation, "adapter: {message}"),
            Level::Warn => tracing::warn!(panel = %panel, operation, "adapter: {message}"),
            Level::Error => tracing::error!(panel = %panel, operation, "adapter: {message}"),
        }
        Ok(())
    }
}
