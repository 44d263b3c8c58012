//! The app core, below the routes: the state every route works with, the panel registry, the
//! one operation pipeline, deploying and replaying modules, recovery, the watched folder and webhook deliveries.
//! Routes parse, call the core and answer; nothing here imports the API.

pub mod callback_auth;
pub mod deploy;
pub mod error;
pub mod events;
pub mod oci;
pub(crate) mod operations;
pub mod panels;
pub mod recovery;
pub mod renewal;
pub mod replay;
pub mod sessions;
pub mod terms;
pub mod watch;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use wasmtime::component::Component;

use crate::adapter::Adapter;
use crate::config::{Config, InlineSecrets, PanelConfig};
use crate::runtime::Runtime;
use crate::store::{ModuleInfo, Store};
pub use error::ApiError;

/// A configured panel as the API serves it: the adapter of one registered module. A request
/// holds its `Arc<Panel>` from start to end, so a switch never changes a running request.
pub struct Panel {
    pub id: String,
    pub adapter: Arc<dyn Adapter>,
    /// What the panel's capabilities work with (settings, credentials, its circuit breaker).
    pub context: Arc<crate::runtime::PanelContext>,
    pub callback_auth: Option<callback_auth::CallbackAuth>,
    pub module: ModuleInfo,
    /// Where the panel has a signature policy: the allowed key's signature of `module`.
    pub signature: Option<crate::store::ModuleSignature>,
    /// The definition it was built from (secrets as references).
    pub definition: Arc<PanelConfig>,
    /// The definition's version in the store.
    pub version: i64,
}

pub struct AppState {
    pub store: Store,
    pub runtime: Runtime,
    pub config: Config,
    pub portal_token: String,
    pub admin_token: String,
    /// The console's sessions, signed with a key derived from the admin token.
    pub console: sessions::Sessions,
    /// The config file's inline secret values, which the store names by path only.
    pub(crate) inline: InlineSecrets,
    pub(crate) panels: RwLock<BTreeMap<String, Arc<Panel>>>,
    /// Compiled components of registered modules by hash, with the contract version each
    /// targets. Only registered modules: a refused push leaves nothing here.
    compiled: Mutex<HashMap<String, (Component, &'static str)>>,
    /// Switches take turns, so a rollback always sees the history the last switch left.
    pub(crate) deploying: tokio::sync::Mutex<()>,
    /// Registrations take turns, from the look for a module of the same name and version to
    /// its insert: of two builds pushed at once both claiming `x@1.0.0`, one is registered and
    /// the other refused, never both.
    pub(crate) registering: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(
        store: Store,
        runtime: Runtime,
        config: Config,
        portal_token: String,
        admin_token: String,
    ) -> Self {
        AppState {
            store,
            runtime,
            inline: config.inline_secrets(),
            config,
            portal_token,
            console: sessions::Sessions::new(&admin_token),
            admin_token,
            panels: RwLock::default(),
            compiled: Mutex::default(),
            deploying: tokio::sync::Mutex::new(()),
            registering: tokio::sync::Mutex::new(()),
        }
    }

    /// The panel as it is now; the caller keeps this version for the whole request.
    pub fn panel(&self, id: &str) -> Result<Arc<Panel>, ApiError> {
        self.panels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::PanelNotFound(id.to_string()))
    }

    /// Every panel, ordered by id.
    pub fn panels(&self) -> Vec<Arc<Panel>> {
        self.panels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn compiled(&self, hash: &str) -> Option<(Component, &'static str)> {
        self.compiled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned()
    }

    /// Keeps a registered module's compiled component; `/metrics` shows how many are held. One
    /// compiled on an engine renewed meanwhile is kept on the current one, so that nothing here
    /// holds an old engine (and its instance pool) alive.
    pub(crate) fn compiled_put(&self, hash: &str, component: &Component, wit: &'static str) {
        let component = match self.runtime.rehome(component) {
            Ok(component) => component,
            Err(e) => {
                tracing::warn!("module {hash}: not kept compiled: {e:#}");
                return;
            }
        };
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        compiled.insert(hash.to_string(), (component, wit));
        self.runtime.metrics.compiled_modules(compiled.len());
    }

    /// Moves every kept compiled component onto a renewed engine ([`renewal`]); one that
    /// cannot move is dropped, to be compiled again when a deploy asks for it. How many moved.
    fn rehome_compiled(&self, carrying: &crate::runtime::Carrying) -> usize {
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        compiled.retain(|hash, (component, _)| match carrying.carry(component) {
            Ok(moved) => {
                *component = moved;
                true
            }
            Err(e) => {
                tracing::warn!("module {hash}: dropped from the compiled modules: {e:#}");
                false
            }
        });
        self.runtime.metrics.compiled_modules(compiled.len());
        compiled.len()
    }
}
