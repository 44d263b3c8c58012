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
    /// An OCI registry could not give the module (down, refused, tampered with, not an adapter).
    #[error(transparent)]
    Registry(#[from] crate::oci::OciError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a module came from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Push,
    Config,
    Watch,
    /// Pulled from an OCI registry.
    Oci,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Push => "push",
            Source::Config => "config",
            Source::Watch => "watch",
            Source::Oci => "oci",
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
    /// True when the push brought a signer the module was registered without: a panel with a
    /// signature policy may take it now.
    pub newly_signed: bool,
    /// The signature that came with the push, verified, and whose key made it.
    pub signature: Option<ModuleSignature>,
}

/// The largest module the registry takes (a Python adapter is about 18 MB).
pub const MAX_MODULE_BYTES: usize = 64 * 1024 * 1024;

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
                origin: None,
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
        self.push_from(bytes, source, signature, None).await
    }

    /// [`push`](Self::push), recording `origin`, the OCI reference (pinned by digest) the bytes
    /// were pulled by.
    pub(crate) async fn push_from(
        &self,
        bytes: &[u8],
        source: Source,
        signature: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Pushed, DeployError> {
        let signature = match signature {
            Some(text) => Some(self.verify_push(&module_hash(bytes), text)?),
            None => None,
        };
        let candidate = self.inspect(bytes, source).await?;
        let mut info = candidate.info;
        info.origin = origin.map(str::to_string);
        let keep = |info: &ModuleInfo| self.compiled_put(&info.hash, &candidate.component, candidate.wit);
        let _turn = self.registering.lock().await;
        if let Some(mut existing) = self.store.module(&info.hash).await? {
            keep(&existing);
            let newly_signed = match &signature {
                Some(new) => !self
                    .store
                    .module_signatures(&existing.hash)
                    .await?
                    .iter()
                    .any(|s| s.signer == new.signer),
                None => false,
            };
            if signature.is_some() || (origin.is_some() && existing.origin.is_none()) {
                existing.origin = existing.origin.or(info.origin);
                self.store
                    .register_module(&existing, bytes, signature.as_ref())
                    .await?;
            }
            return Ok(Pushed {
                info: existing,
                created: false,
                newly_signed,
                signature,
            });
        }
        if let (Source::Push | Source::Oci, Some(other)) = (
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
            if panel.module.name == info.name {
                check_description(&panel.id, &panel.definition, &description)
                    .map_err(DeployError::Refused)?;
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
            newly_signed: signature.is_some(),
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
    pub(crate) async fn policy_signature(
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
        self.switch_from(panel, hash, None).await
    }

    /// [`switch`](Self::switch), recording `origin`, the OCI reference pinned by digest the
    /// switch was made by, rather than the one the module was first pulled by.
    pub(crate) async fn switch_from(
        &self,
        panel: &str,
        hash: &str,
        origin: Option<&str>,
    ) -> Result<Arc<Panel>, DeployError> {
        let _turn = self.deploying.lock().await;
        let current = self
            .panel(panel)
            .map_err(|_| DeployError::NotFound(format!("no panel `{panel}`")))?;
        // Nothing to do only when the store says so too: on a shared store another host may
        // have switched the panel since this one last followed it, and this switch must undo
        // that, not be lost to it.
        let active = active_stack(&self.store.deployments(panel).await?).pop();
        if current.module.hash == hash && active.as_deref() == Some(hash) {
            return Ok(current);
        }
        let mut next = self
            .build_panel(panel, current.definition.clone(), current.version, hash, true)
            .await?;
        if let Some(origin) = origin {
            next.module.origin = Some(origin.to_string());
        }
        self.record(
            panel,
            &next.module,
            next.signature.as_ref(),
            DeployAction::Set,
            Some(&current.module),
        )
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
        let next = self
            .build_panel(
                panel,
                current.definition.clone(),
                current.version,
                &previous,
                true,
            )
            .await?;
        self.record(
            panel,
            &next.module,
            next.signature.as_ref(),
            DeployAction::Rollback,
            Some(&current.module),
        )
        .await?;
        Ok(self.install(next))
    }

    /// At start: registers the config's adapters, seeds the store with the config's panels
    /// ([`AppState::seed_panels`]), and loads every panel the store defines with its active
    /// module. A panel of the config file that cannot load stops the start, as it always has;
    /// one only the store defines is logged and left out, so that one bad panel added at run
    /// time cannot keep the host from starting.
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
        self.seed_panels(&config_modules).await?;
        for stored in self.store.stored_panels().await? {
            if stored.removed_at.is_some() {
                if self.config.panels.contains_key(&stored.id) {
                    tracing::info!(panel = %stored.id, "panel removed through the admin API; the config file's entry is unchanged since it was seeded, so it stays removed");
                }
                continue;
            }
            if !self.config.panels.contains_key(&stored.id) {
                tracing::info!(panel = %stored.id, version = stored.version, "panel defined in the store only (added through the admin API, or since taken out of the config file)");
            }
            match self.load_stored(&stored).await {
                Ok(built) => {
                    tracing::info!(panel = %built.id, adapter = %built.module.name, version = %built.module.version, wit = %built.module.wit, "panel loaded");
                    self.install(built);
                }
                Err(e) if self.config.panels.contains_key(&stored.id) => {
                    return Err(anyhow::Error::new(e).context(format!("loading panel `{}`", stored.id)));
                }
                Err(e) => tracing::error!(panel = %stored.id, "panel not loaded: {e}"),
            }
        }
        Ok(())
    }

    /// A panel as the store defines it, serving the module its deployment history makes
    /// active.
    pub(crate) async fn load_stored(&self, stored: &crate::store::StoredPanel) -> Result<Panel, DeployError> {
        let history = self.store.deployments(&stored.id).await?;
        let Some(active) = active_stack(&history).pop() else {
            return Err(DeployError::NotFound(format!(
                "panel `{}` has no deployment: no module to serve",
                stored.id
            )));
        };
        // Another host's switch or rollback leaves the definition's version as it was.
        let same_definition = self
            .panel(&stored.id)
            .is_ok_and(|current| current.version == stored.version);
        self.build_panel(
            &stored.id,
            Arc::new(stored.definition.clone()),
            stored.version,
            &active,
            same_definition,
        )
        .await
    }

    /// Brings this host's panels in line with the store: a panel another host added, changed,
    /// switched, rolled back or removed is loaded, rebuilt or dropped here. `false` when a
    /// panel could not be loaded (it keeps what it served, and is tried again).
    pub async fn follow(&self) -> anyhow::Result<bool> {
        let _turn = self.deploying.lock().await;
        let mut all_loaded = true;
        let stored = self.store.stored_panels().await?;
        for row in &stored {
            let current = self.panel(&row.id).ok();
            if row.removed_at.is_some() {
                if current.is_some() {
                    self.uninstall(&row.id);
                    tracing::info!(panel = %row.id, "panel removed by another host");
                }
                continue;
            }
            let history = self.store.deployments(&row.id).await?;
            let active = active_stack(&history).pop();
            if current
                .as_ref()
                .is_some_and(|p| p.version == row.version && Some(&p.module.hash) == active.as_ref())
            {
                continue;
            }
            match self.load_stored(row).await {
                Ok(panel) => {
                    tracing::info!(panel = %row.id, version = row.version, adapter = %panel.module.name, adapter_version = %panel.module.version, "panel changed by another host");
                    self.install(panel);
                }
                Err(e) => {
                    all_loaded = false;
                    tracing::error!(panel = %row.id, version = row.version, "another host changed the panel to something this host cannot load (it keeps serving what it served, and tries again): {e}")
                }
            }
        }
        Ok(all_loaded)
    }

    /// On a shared store, watches the panels and their deployment history, and follows what
    /// other hosts change, within [`FOLLOW_INTERVAL`].
    pub fn spawn_deployment_follower(self: &Arc<Self>) {
        if self.store.backend() != crate::store::Backend::Postgres {
            return;
        }
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut seen = None;
            // A panel that failed to load (a secret not yet on this host, a store fault while
            // reading its module) is tried again, 1 s after, doubling to a minute, though
            // nothing else changes.
            let mut again: Option<(tokio::time::Instant, std::time::Duration)> = None;
            let mut tick = tokio::time::interval(FOLLOW_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = state.upgrade() else { return };
                let head = match state.store.panels_head().await {
                    Ok(head) => head,
                    Err(e) => {
                        tracing::warn!("reading the panels and their deployments: {e}");
                        continue;
                    }
                };
                let due = again.is_some_and(|(at, _)| tokio::time::Instant::now() >= at);
                if seen.as_ref().is_some_and(|seen| *seen == head) && !due {
                    continue;
                }
                match state.follow().await {
                    Ok(all_loaded) => {
                        seen = Some(head);
                        again = (!all_loaded).then(|| {
                            let wait = again.map_or(std::time::Duration::from_secs(1), |(_, wait)| {
                                (wait * 2).min(std::time::Duration::from_secs(60))
                            });
                            (tokio::time::Instant::now() + wait, wait)
                        });
                    }
                    Err(e) => tracing::warn!("following other hosts: {e:#}"),
                }
            }
        });
    }

    /// A ready panel with `definition` at `version`, serving module `hash`, not yet installed;
    /// `same_definition` when the panel serving now has that definition (its credentials are
    /// kept then, and resolved afresh otherwise).
    pub(crate) async fn build_panel(
        &self,
        id: &str,
        definition: Arc<crate::config::PanelConfig>,
        version: i64,
        hash: &str,
        same_definition: bool,
    ) -> Result<Panel, DeployError> {
        let config = &*definition;
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
        // The breaker belongs to the panel, not to a version: a switch keeps what it knows,
        // unless the panel's own breaker limits changed.
        let breaker = self
            .panel(id)
            .ok()
            .filter(|p| {
                (
                    p.definition.limits.breaker_failures,
                    p.definition.limits.breaker_cooldown_ms,
                ) == (config.limits.breaker_failures, config.limits.breaker_cooldown_ms)
            })
            .map(|p| p.context.breaker.clone())
            .unwrap_or_else(|| Arc::new(crate::breaker(config, &self.config)));
        let mut context = crate::panel_context(id, config, &self.config, breaker, &self.inline)
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?;
        // So is the panel's last good request: a new version that faults on it is quarantined.
        // And its credentials when the definition is the one they were resolved from (a switch,
        // a rollback): OAuth2 tokens stay cached. A definition changed or sent again resolves
        // them afresh: that is how a rotated secret, or a credential changed, is taken up.
        if let Ok(current) = self.panel(id) {
            context.known_good = current.context.known_good.clone();
            if same_definition {
                context.credentials = current.context.credentials.clone();
            }
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
        let mut callback_auth = match &config.callback_auth {
            Some(c) => super::callback_auth::CallbackAuth::resolve(
                &format!("panel `{id}` callback_auth"),
                c,
                &self.inline,
            )
            .map_err(|e| DeployError::Refused(format!("{e:#}")))?,
            None => None,
        };
        // The signatures the panel took stay taken across a switch.
        if let (Some(auth), Ok(current)) = (callback_auth.as_mut(), self.panel(id))
            && let Some(before) = &current.callback_auth
        {
            auth.carry_over(before);
        }
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
            definition,
            version,
        })
    }

    /// The warning `/admin/panels` shows for a panel that takes callbacks unauthenticated.
    pub fn callback_warning(&self, panel: &Panel) -> Option<String> {
        unauthenticated_callbacks(&panel.id, &panel.definition, panel.adapter.description())
    }

    pub(crate) fn install(&self, panel: Panel) -> Arc<Panel> {
        let panel = Arc::new(panel);
        self.panels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(panel.id.clone(), panel.clone());
        panel
    }

    /// Takes a panel out: the next request for it is `404 panel_not_found`; requests holding
    /// it finish on it.
    pub(crate) fn uninstall(&self, id: &str) -> Option<Arc<Panel>> {
        self.panels.write().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    pub(crate) async fn record(
        &self,
        panel: &str,
        module: &ModuleInfo,
        signature: Option<&ModuleSignature>,
        action: DeployAction,
        previous: Option<&ModuleInfo>,
    ) -> Result<(), DeployError> {
        let journal = deploy_entry(panel, module, signature, action, previous);
        self.store
            .deploy(
                panel,
                &module.hash,
                action,
                signature,
                module.origin.as_deref(),
                journal,
            )
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

pub(crate) fn config_signature_hint(panel: &PanelConfig, module: &std::path::Path) -> String {
    format!(
        "adapter `{}` of the config: a panel with `signers` takes it only signed, its signature beside it as {}",
        panel.adapter,
        signature_path(module).display()
    )
}

/// The journal entry of a deployment (`operation: deploy`): every switch has one.
pub(crate) fn deploy_entry(
    panel: &str,
    module: &ModuleInfo,
    signature: Option<&ModuleSignature>,
    action: DeployAction,
    previous: Option<&ModuleInfo>,
) -> JournalEntry {
    JournalEntry {
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
            "origin": module.origin,
            "previous": previous.map(|p| serde_json::json!({
                "module": p.hash,
                "adapter": format!("{}@{}", p.name, p.version),
            })),
        })
        .to_string(),
    }
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
