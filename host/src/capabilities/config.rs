//! `config.get`: the panel's own non-secret settings.

use crate::runtime::HostState;
use crate::runtime::bindings::panelgate::adapter::config::Host;

impl Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.panel.settings.get(&key).cloned())
    }
}
