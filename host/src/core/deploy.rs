//! Shipping adapters into the running host: the registry, the atomic switch, rollback.
//!
//! A module is registered by the SHA-256 of its bytes, after the host has checked that it is a
//! component for a contract version it runs, compiled it, and asked it to `describe` itself.
//! A panel serves one module at a time; switching builds the new adapter completely (linked,
//! described, its needs checked against the panel's config) before it replaces the old one in
//! one pointer swap, so a request runs start to end on the version it began with.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::adapter::Adapter as _;
use crate::capabilities::credentials::Credential;
use crate::config::{CallbackAuthConfig, PanelConfig};
use crate::core::{AppState, Panel};
use crate::model::Description;
use crate::runtime::{PanelContext, WasmAdapter};
use crate::store::{DeployAction, JournalEntry, ModuleInfo, ModuleSignature, StoreError, active_stack};

/// Why a module was not registered or a panel not switched. Nothing changed in either case.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The module is not an adapter this host can run, or does not fit the panel.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A signature that came with a push is malformed or verifies with no configured key.
    #[error("{0}")]
    BadSignature(String),
    /// A panel's signature policy refuses the module.
    #[error("{0}")]
    Unsigned(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a module came from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Push,
    Config,
    Watch,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Config => "config",
            Source::Watch => "watch",
        }
    }
}

/// A module checked, compiled and described, not yet registered.
pub struct Candidate {
    pub info: ModuleInfo,
    pub component: Component,
    /// The contract version the component targets.
    pub wit: &'static str,
}

/// What a push registered.
pub struct Pushed {
    pub info: ModuleInfo,
    /// False when the same bytes were registered before.
    pub created: bool,
    /// The signature that came with the push, verified, and whose key made it.
    pub signature: Option<ModuleSignature>,
}

pub fn module_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl AppState {
    /// Checks that `bytes` are an adapter this host runs, compiles them and asks the adapter
    /// to describe itself. Touches nothing.
    pub async fn inspect(&self, bytes: &[u8], source: Source) -> Result<Candidate, DeployError> {
        let hash = module_hash(bytes);
        // Not cached here: a module refused below, or only replayed, is dropped with its
        // compiled code when this returns (a compiled adapter holds megabytes). `push` caches
        // what it registers.
        let (component, wit) = match self.compiled(&hash) {
            Some(c) => c,
            None => {
                let runtime = self.runtime.clone();
                let owned = bytes.to_vec();
                tokio::task::spawn_blocking(move || runtime.compile_adapter(&owned))
                    .await
                    .map_err(|e| DeployError::Refused(format!("compiling: {e}")))?
                    .map_err(DeployError::Refused)?
            }
        };
        let context = Arc::new(PanelContext::detached(&self.config.sandbox));
        let adapter = WasmAdapter::load(&self.runtime, &component, context, 1)
            .await
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        let description = adapter.description().clone();
        if description.name.trim().is_empty() || description.version.trim().is_empty() {
            return Err(DeployError::Refused(
                "`describe` gave no name or no version".into(),
            ));
        }
        Ok(Candidate {
            info: ModuleInfo {
                hash,
                name: description.name.clone(),
                version: description.version.clone(),
                wit: wit.to_string(),
                size: bytes.len() as i64,
                source: source.as_str().into(),
                pushed_at: String::new(),
                description: serde_json::to_value(&description).unwrap_or_default(),
            },
            component,
            wit,
        })
    }

    /// Registers a module after [`inspect`](Self::inspect), refusing one that a panel now
    /// serving an adapter of the same name could not run, and one whose `signature` (base64)
    /// no configured signer's key made for these bytes. Pushing registered bytes again with a
    /// signature adds the signature.
    pub async fn push(
        &self,
        bytes: &[u8],
        source: Source,
        signature: Option<&str>,
    ) -> Result<Pushed, DeployError> {
        let signature = match signature {
            Some(text) => Some(self.verify_push(&module_hash(bytes), text)?),
            None => None,
        };
        let candidate = self.inspect(bytes, source).await?;
        let info = candidate.info;
        let keep = |info: &ModuleInfo| self.compiled_put(&info.hash, &candidate.component, candidate.wit);
        if let Some(existing) = self.store.module(&info.hash).await? {
            keep(&existing);
            if signature.is_some() {
                self.store
                    .register_module(&existing, bytes, signature.as_ref())
                    .await?;
            }
            return Ok(Pushed {
                info: existing,
                created: false,
                signature,
            });
        }
        if let (Source::Push, Some(other)) = (
            source,
            self.store.module_by_name(&info.name, &info.version).await?,
        ) {
            return Err(DeployError::Conflict(format!(
                "`{}@{}` is already registered with other content (sha256 {}); give the new build a new version",
                info.name, info.version, other.hash
            )));
        }
        let description: Description = serde_json::from_value(info.description.clone())
            .map_err(|e| DeployError::Refused(format!("description: {e}")))?;
        for panel in self.panels() {
            if panel.module.name == info.name
                && let Some(config) = self.config.panels.get(&panel.id)
            {
                check_description(&panel.id, config, &description).map_err(DeployError::Refused)?;
            }
        }
        self.store
            .register_module(&info, bytes, signature.as_ref())
            .await?;
        keep(&info);
        let info = self.store.module(&info.hash).await?.unwrap_or(info);
        let signer = signature.as_ref().map(|s| s.signer.as_str());
        tracing::info!(adapter = %info.name, version = %info.version, wit = %info.wit, hash = %info.hash, signer, "module registered");
        Ok(Pushed {
            info,
            created: true,
            signature,
        })
    }

    /// The configured signer whose key made `text` (a base64 signature) for module `hash`.
    fn verify_push(&self, hash: &str, text: &str) -> Result<ModuleSignature, DeployError> {
        let sig = crate::signing::signature(text)
            .map_err(|e| DeployError::BadSignature(format!("signature: {e}")))?;
        for (name, signer) in &self.config.signers {
            let Ok(key) = crate::signing::public_key(&signer.public_key) else {
                continue;
            };
            if crate::signing::verifies(&key, hash, &sig) {
                return Ok(ModuleSignature {
                    signature: text.trim().to_string(),
                    signer: name.clone(),
                    public_key: signer.public_key.trim().to_string(),
                    added_at: String::new(),
                });
            }
        }
        let names: Vec<_> = self.config.signers.keys().map(|n| format!("`{n}`")).collect();
        Err(DeployError::BadSignature(format!(
            "signature: made by none of the configured signers ({}) for this module (sha256 {hash}): \
             the module changed after it was signed, or another key signed it",
            if names.is_empty() {
                "none configured".to_string()
            } else {
                names.join(", ")
            }
        )))
    }

    /// Where panel `id` has a signature policy, the signature of one of its signers among the
    /// module's own; refuses the module if there is none. Checked offline, against the keys
    /// the config names now, each time the panel loads a module.
    async fn policy_signature(
        &self,
        id: &str,
        config: &PanelConfig,
        module: &ModuleInfo,
    ) -> Result<Option<ModuleSignature>, DeployError> {
        let Some(allowed) = &config.signers else {
            return Ok(None);
        };
        let signatures = self.store.module_signatures(&module.hash).await?;
        for stored in &signatures {
            let Ok(sig) = crate::signing::signature(&stored.signature) else {
                continue;
            };
            for name in allowed {
                let Some(key) = self
                    .config
                    .signers
                    .get(name)
                    .and_then(|s| crate::signing::public_key(&s.public_key).ok())
                else {
                    continue;
                };
                if crate::signing::verifies(&key, &module.hash, &sig) {
                    return Ok(Some(ModuleSignature {
                        signer: name.clone(),
                        public_key: crate::signing::public_key_of_verifying(&key),
                        ..stored.clone()
                    }));
                }
            }
        }
        let allowed = allowed
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let found = if signatures.is_empty() {
            "is unsigned".to_string()
        } else {
            let by: Vec<_> = signatures.iter().map(|s| format!("`{}`", s.signer)).collect();
            format!("is signed only by {}", by.join(", "))
        };
        Err(DeployError::Unsigned(format!(
            "panel `{id}` serves only adapters signed by one of its signers ({allowed}); `{}@{}` (sha256 {}) {found}",
            module.name, module.version, module.hash
        )))
    }

    /// Switches `panel` to the registered module `hash`. Requests already running finish on
    /// the module they started with; the next request is served by the new one.
    pub async fn switch(&self, panel: &str, hash: &str) -> Result<Arc<Panel>, DeployError> {
        let _turn = self.deploying.lock().await;
        let current = self
            .panel(panel)
            .map_err(|_| DeployError::NotFound(format!("no panel `{panel}`")))?;
        if current.module.hash == hash {
            return Ok(current);
        }
        let next = self.build_panel(panel, hash).await?;
        self.record(&next, DeployAction::Set, Some(&current.module))
            .await?;
        Ok(self.install(next))
    }

    /// Goes back to the module the panel served before its current one.
    pub async fn rollback(&self, panel: &str) -> Result<Arc<Panel>, DeployError> {
        let _turn = self.deploying.lock().await;
        let current = self
            .panel(panel)
            .map_err(|_| DeployError::NotFound(format!("no panel `{panel}`")))?;
        let history = self.store.deployments(panel).await?;
        let stack = active_stack(&history);
        let Some(previous) = stack.len().checked_sub(2).map(|i| stack[i].clone()) else {
            return Err(DeployError::Conflict(format!(
                "panel `{panel}` has no earlier version to roll back to"
            )));
        };
        let next = self.build_panel(panel, &previous).await?;
        self.record(&next, DeployAction::Rollback, Some(&current.module))
            .await?;
        Ok(self.install(next))
    }

    /// At start: registers the config's adapters, records a `config` deployment for each
    /// panel whose configured adapter changed, and loads every panel's active module.
    pub async fn boot(&self) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let mut config_modules = std::collections::BTreeMap::new();
        for (name, adapter) in &self.config.adapters {
            let bytes = std::fs::read(&adapter.path)
                .with_context(|| format!("adapter `{name}`: reading {}", adapter.path.display()))?;
            // A config adapter's signature lies beside it: `aap.wasm` is signed by `aap.wasm.sig`.
            let sig_path = signature_path(&adapter.path);
            let signature = match std::fs::read_to_string(&sig_path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("adapter `{name}`: reading {}", sig_path.display()));
                }
            };
            let pushed = self
                .push(&bytes, Source::Config, signature.as_deref())
                .await
                .with_context(|| format!("adapter `{name}` ({})", adapter.path.display()))?;
            config_modules.insert(name.clone(), pushed.info);
        }
        for (id, panel) in &self.config.panels {
            let configured = &config_modules[&panel.adapter];
            let history = self.store.deployments(id).await?;
            let last_config = history.iter().rev().find(|d| d.action == DeployAction::Config);
            if last_config.is_none_or(|d| d.module != configured.hash) {
                let signature = self
                    .policy_signature(id, panel, configured)
                    .await
                    .with_context(|| {
                        config_signature_hint(panel, &self.config.adapters[&panel.adapter].path)
                    })?;
                self.record_module(id, configured, signature.as_ref(), DeployAction::Config, None)
                    .await?;
            }
            let history = self.store.deployments(id).await?;
            let active = active_stack(&history)
                .pop()
                .unwrap_or_else(|| configured.hash.clone());
            let built = self
                .build_panel(id, &active)
                .await
                .with_context(|| format!("loading panel `{id}`"))?;
            if let Some(signature) = &built.signature {
                tracing::info!(panel = %id, signer = %signature.signer, "panel's module signed by an allowed key");
            }
            tracing::info!(panel = %id, adapter = %built.module.name, version = %built.module.version, wit = %built.module.wit, "panel loaded");
            self.install(built);
        }
        Ok(())
    }

    /// Loads, for each panel, the module the shared deployment history makes active where this
    /// host serves another: how a push, switch or rollback made on one host reaches the others.
    pub async fn follow_deployments(&self) -> anyhow::Result<()> {
        let _turn = self.deploying.lock().await;
        for id in self.config.panels.keys() {
            let history = self.store.deployments(id).await?;
            let Some(active) = active_stack(&history).pop() else {
                continue;
            };
            if self.panel(id).is_ok_and(|p| p.module.hash == active) {
                continue;
            }
            match self.build_panel(id, &active).await {
                Ok(panel) => {
                    tracing::info!(panel = %id, adapter = %panel.module.name, version = %panel.module.version, "panel switched by another host");
                    self.install(panel);
                }
                Err(e) => {
                    tracing::error!(panel = %id, "another host switched the panel to a module this host cannot load: {e}")
                }
            }
        }
        Ok(())
    }

    /// On a shared store, watches the deployment history and follows what other hosts deploy,
    /// within [`FOLLOW_INTERVAL`].
    pub fn spawn_deployment_follower(self: &Arc<Self>) {
        if self.store.backend() != crate::store::Backend::Postgres {
            return;
        }
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut seen = None;
            let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { return };
                let head = match state.store.deployments_head().await {
                    Ok(head) => head,
                    Err(e) => {
                        tracing::warn!("reading the deployment history: {e}");
                        continue;
                    }
                };
                if seen.is_some_and(|seen| seen == head) {
                    continue;
                }
                match state.follow_deployments().await {
                    Ok(()) => seen = Some(head),
                    Err(e) => tracing::warn!("following deployments: {e:#}"),
                }
            }
        });
    }

    /// A ready panel serving module `hash`, not yet installed.
    async fn build_panel(&self, id: &str, hash: &str) -> Result<Panel, DeployError> {
        let config = self
            .config
            .panels
            .get(id)
            .ok_or_else(|| DeployError::NotFound(format!("no panel `{id}`")))?;
        let module = self
            .store
            .module(hash)
            .await?
            .ok_or_else(|| DeployError::NotFound(format!("no registered module with hash `{hash}`")))?;
        // Before anything runs of it: an unsigned module never serves a panel with a policy.
        let signature = self.policy_signature(id, config, &module).await?;
        let component = match self.compiled(hash) {
            Some((c, _)) => c,
            None => {
                let bytes = self
                    .store
                    .module_bytes(hash)
                    .await?
                    .ok_or_else(|| DeployError::NotFound(format!("module `{hash}` has no bytes")))?;
                // The signature vouches for the hash; the bytes must still be what it names.
                if module_hash(&bytes) != hash {
                    return Err(DeployError::Refused(format!(
                        "module `{hash}`: its bytes in the store no longer hash to its name; refusing to load them"
                    )));
                }
                let runtime = self.runtime.clone();
                let (component, wit) = tokio::task::spawn_blocking(move || runtime.compile_adapter(&bytes))
                    .await
                    .map_err(|e| DeployError::Refused(format!("compiling: {e}")))?
                    .map_err(DeployError::Refused)?;
                self.compiled_put(hash, &component, wit);
                component
            }
        };
        // The breaker belongs to the panel, not to a version: a switch keeps what it knows.
        let breaker = self
            .panel(id)
            .map(|p| p.context.breaker.clone())
            .unwrap_or_else(|_| Arc::new(crate::breaker(config, &self.config)));
        let mut context = crate::panel_context(id, config, &self.config, breaker)
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        // So is the panel's last good request: a new version that faults on it is quarantined.
        if let Ok(current) = self.panel(id) {
            context.known_good = current.context.known_good.clone();
        }
        let adapter = WasmAdapter::load(
            &self.runtime,
            &component,
            Arc::new(context),
            self.config.sandbox.panel_concurrency,
        )
        .await
        .map_err(|e| DeployError::Refused(format!("panel `{id}`: {e:#}")))?;
        check_description(id, config, adapter.description()).map_err(DeployError::Refused)?;
        let callback_auth = config
            .callback_auth
            .as_ref()
            .and_then(|c| c.credential())
            .map(|c| Credential::resolve(&format!("{id}.callback_auth"), &c))
            .transpose()
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        if let Some(warning) = unauthenticated_callbacks(id, config, adapter.description()) {
            // At start and at every switch to such a module: the operator chose this, and
            // should keep seeing it.
            tracing::warn!(panel = %id, "{warning}");
        }
        let context = adapter.context().clone();
        Ok(Panel {
            id: id.to_string(),
            context,
            adapter: Arc::new(adapter),
            callback_auth,
            module,
            signature,
        })
    }

    /// The warning `/admin/panels` shows for a panel that takes callbacks unauthenticated.
    pub fn callback_warning(&self, panel: &Panel) -> Option<String> {
        let config = self.config.panels.get(&panel.id)?;
        unauthenticated_callbacks(&panel.id, config, panel.adapter.description())
    }

    fn install(&self, panel: Panel) -> Arc<Panel> {
        let panel = Arc::new(panel);
        self.panels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(panel.id.clone(), panel.clone());
        panel
    }

    async fn record(
        &self,
        next: &Panel,
        action: DeployAction,
        previous: Option<&ModuleInfo>,
    ) -> Result<(), DeployError> {
        self.record_module(&next.id, &next.module, next.signature.as_ref(), action, previous)
            .await
    }

    async fn record_module(
        &self,
        panel: &str,
        module: &ModuleInfo,
        signature: Option<&ModuleSignature>,
        action: DeployAction,
        previous: Option<&ModuleInfo>,
    ) -> Result<(), DeployError> {
        let journal = JournalEntry {
            id: uuid::Uuid::now_v7().to_string(),
            panel: Some(panel.to_string()),
            operation: "deploy".into(),
            kind: "admin",
            case_id: None,
            outcome: "ok".into(),
            detail: serde_json::json!({
                "action": action,
                "module": module.hash,
                "adapter": format!("{}@{}", module.name, module.version),
                "wit": module.wit,
                "signer": signature.map(|s| &s.signer),
                "signature": signature.map(|s| &s.signature),
                "previous": previous.map(|p| serde_json::json!({
                    "module": p.hash,
                    "adapter": format!("{}@{}", p.name, p.version),
                })),
            })
            .to_string(),
        };
        self.store
            .deploy(panel, &module.hash, action, signature, journal)
            .await?;
        tracing::info!(panel, adapter = %module.name, version = %module.version, ?action, "panel switched");
        Ok(())
    }
}

/// Where a config adapter's signature lies: beside it, its name plus `.sig`.
pub fn signature_path(module: &std::path::Path) -> std::path::PathBuf {
    let mut name = module.as_os_str().to_owned();
    name.push(".sig");
    name.into()
}

fn config_signature_hint(panel: &PanelConfig, module: &std::path::Path) -> String {
    format!(
        "adapter `{}` of the config: a panel with `signers` takes it only signed, its signature beside it as {}",
        panel.adapter,
        signature_path(module).display()
    )
}

/// How often a host on a shared store looks for deployments made by the others.
pub const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Refuses a panel whose config lacks what its adapter declares it needs.
pub fn check_description(id: &str, panel: &PanelConfig, description: &Description) -> Result<(), String> {
    for key in description.config_keys.iter().filter(|k| k.required) {
        if key.name != "base-url" && !panel.settings.contains_key(&key.name) {
            return Err(format!(
                "panel `{id}`: adapter `{}@{}` needs setting `{}` ({}), which the panel's config lacks",
                description.name, description.version, key.name, key.description
            ));
        }
    }
    for need in &description.credentials {
        if !panel.credentials.contains_key(&need.name) {
            return Err(format!(
                "panel `{id}`: adapter `{}@{}` needs credential `{}` ({}), which the panel's config lacks",
                description.name, description.version, need.name, need.description
            ));
        }
    }
    // A callback moves cases: one nobody authenticates is a forged decision waiting to happen,
    // so taking them unauthenticated must be the config's explicit choice.
    if !description.callbacks.is_empty() && panel.callback_auth.is_none() {
        return Err(format!(
            "panel `{id}`: adapter `{}@{}` serves callbacks ({}), and the panel's config has no `callback_auth`; \
             give the credential partners call back with, or `callback_auth = {{ kind = \"none\" }}` to take them unauthenticated",
            description.name,
            description.version,
            callback_paths(description)
        ));
    }
    Ok(())
}

/// The warning for a panel whose adapter serves callbacks that its config lets in
/// unauthenticated (`callback_auth = { kind = "none" }`); `None` for every other panel.
pub fn unauthenticated_callbacks(id: &str, panel: &PanelConfig, description: &Description) -> Option<String> {
    let open = matches!(panel.callback_auth, Some(CallbackAuthConfig::None));
    (open && !description.callbacks.is_empty()).then(|| {
        format!(
            "panel `{id}` takes callbacks ({}) unauthenticated (`callback_auth = {{ kind = \"none\" }}`): anyone who reaches the host can move its cases",
            callback_paths(description)
        )
    })
}

fn callback_paths(description: &Description) -> String {
    description
        .callbacks
        .iter()
        .map(|c| format!("`{}`", c.path))
        .collect::<Vec<_>>()
        .join(", ")
}
