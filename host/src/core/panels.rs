//! Panels at run time: defined in the store, seeded from the config file, added, changed and
//! removed through the admin API without a restart, and followed by every host on the store.
//!
//! **Config file and store.** The config file seeds the store: at first start each of its
//! panels is written there. After that the store's definition serves, so a change made through
//! the admin API survives a restart, except where the config file's entry itself was edited
//! since it was last written (its definition differs from the `seed` the store kept): an edit
//! of the file is a deliberate change too, and it replaces the store's definition, with a
//! warning in the log. That is how deployments already behaved (the config's adapter applies
//! when it changes, an operator's switch survives restarts otherwise), and it is what a broker's
//! IT team expects from a file under configuration management and an API beside it: neither
//! silently undoes the other. A panel removed through the API stays removed while its config
//! entry is unchanged; a panel taken out of the config file keeps serving until it is removed
//! through the API.
//!
//! **Secrets.** The store and the API hold references only (`env`, `file`); a value written
//! inline in the config file (the demo) is stored as `{ config = "panels.ID.credentials...." }`,
//! which only a host whose config file gives that value can resolve. The API refuses inline
//! values, naming the field.
//!
//! **Removal.** The panel leaves every host's table of panels: a new operation on it is
//! `404 panel_not_found`, while operations already running finish on the panel they started
//! with. Its cases, events, callbacks and journal stay, and its cases stay readable as stored
//! (`GET /v1/panels/{panel}/policies/{case}`). A panel with operations in doubt is not removed
//! (409): reconciling them needs its adapter, so an operator settles them first.

use std::sync::Arc;

use serde::Serialize;

use crate::config::{PanelConfig, check_panel_id};
use anyhow::Context as _;

use crate::core::deploy::{DeployError, config_signature_hint, deploy_entry};
use crate::core::{ApiError, AppState, Panel};
use crate::model::FieldIssue;
use crate::store::{DeployAction, JournalEntry, ModuleInfo, PanelWrite, Seed, StoredPanel, active_stack};

/// A panel as `GET /admin/panels/{panel}` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PanelRecord {
    pub id: String,
    /// 1 when created; one more at every change.
    pub version: i64,
    pub updated_at: String,
    /// The definition, secrets as references; `PUT` it back (changed) to change the panel.
    pub definition: PanelConfig,
    /// The module this host serves the panel with; `null` when this host could not load it
    /// (its log says why).
    pub serving: Option<ModuleInfo>,
    /// Whether the config file wrote this panel (at first start, or when its entry changed).
    pub seeded_from_config: bool,
}

impl AppState {
    /// Writes the config file's panels to the store where it has none of them yet, or where
    /// the file's entry changed since it was last written; records a `config` deployment where
    /// the file's adapter module changed. See the module's documentation for why.
    pub(crate) async fn seed_panels(
        &self,
        modules: &std::collections::BTreeMap<String, ModuleInfo>,
    ) -> anyhow::Result<()> {
        for (id, entry) in &self.config.panels {
            let module = &modules[&entry.adapter];
            let definition = seeded(id, entry, &module.name);
            let seed = serde_json::to_string(&definition)?;
            let stored = self.store.stored_panel(id).await?;
            let history = self.store.deployments(id).await?;
            let config_changed = history
                .iter()
                .rev()
                .find(|d| d.action == DeployAction::Config)
                .is_none_or(|d| d.module != module.hash);
            let deploy = config_changed.then_some((module.hash.as_str(), DeployAction::Config));
            match &stored {
                Some(stored) if stored.seed.as_deref() == Some(seed.as_str()) => {
                    // The store's definition serves; the config's module still applies when
                    // it changed, to a panel that still runs that adapter.
                    if stored.removed_at.is_none()
                        && stored.definition.adapter == module.name
                        && config_changed
                    {
                        let signature = self
                            .policy_signature(id, &stored.definition, module)
                            .await
                            .with_context(|| {
                                config_signature_hint(entry, &self.config.adapters[&entry.adapter].path)
                            })?;
                        self.record(id, module, signature.as_ref(), DeployAction::Config, None)
                            .await?;
                    }
                    if stored.removed_at.is_none() && stored.definition != definition {
                        tracing::info!(panel = %id, version = stored.version, "serving the store's definition of the panel, changed through the admin API; the config file's entry is unchanged since it was written to the store");
                    }
                    continue;
                }
                Some(stored) => {
                    tracing::warn!(panel = %id, replaced_version = stored.version, "the config file's entry for the panel changed since it was last written to the store (or the panel was added through the admin API): the config file's definition replaces the store's")
                }
                None => tracing::info!(panel = %id, "panel written to the store from the config file"),
            }
            let mut journal = vec![journal_entry(id, "seed", Some(&definition))];
            let mut signed = None;
            if config_changed {
                signed = self
                    .policy_signature(id, &definition, module)
                    .await
                    .with_context(|| {
                        config_signature_hint(entry, &self.config.adapters[&entry.adapter].path)
                    })?;
                journal.push(deploy_entry(
                    id,
                    module,
                    signed.as_ref(),
                    DeployAction::Config,
                    None,
                ));
            }
            self.store
                .write_panel(PanelWrite {
                    id,
                    definition: &definition,
                    seed: Seed::Set(seed),
                    deploy,
                    signed: signed.as_ref(),
                    journal,
                })
                .await?;
        }
        Ok(())
    }

    /// Creates or changes panel `id` (`PUT /admin/panels/{panel}`). Everything is checked
    /// before anything is written: the definition's fields, the adapter (registered, and its
    /// `describe` needs met), every credential resolvable on this host, the adapter loaded.
    /// Then the definition, the deployment when the module changes, and the journal entry are
    /// written in one transaction, and the panel is swapped in: requests already running
    /// finish on the panel they started with. `true` with the panel when it was added.
    pub async fn put_panel(
        &self,
        id: &str,
        mut definition: PanelConfig,
    ) -> Result<(Arc<Panel>, bool), ApiError> {
        check_panel_id(id).map_err(|e| ApiError::invalid("panel", e))?;
        let (name, pinned) = match definition.adapter.split_once('@') {
            Some((name, version)) => (name.to_string(), Some(version.to_string())),
            None => (definition.adapter.clone(), None),
        };
        definition.adapter = name.clone();
        let issues = definition_issues(&definition, self.runtime.max_memory_mib);
        if !issues.is_empty() {
            return Err(ApiError::Invalid(issues));
        }
        if let Some(issue) = self.config.signers_issue(&definition) {
            return Err(ApiError::invalid("signers", issue));
        }
        for (path, secret) in definition.clone().secrets_mut() {
            secret
                .resolve_with(&path, &self.inline)
                .map_err(|e| ApiError::invalid(&path, format!("{e:#}")))?;
        }
        let _turn = self.deploying.lock().await;
        let stored = self
            .store
            .stored_panel(id)
            .await?
            .filter(|s| s.removed_at.is_none());
        let active = match &stored {
            Some(_) => active_stack(&self.store.deployments(id).await?).pop(),
            None => None,
        };
        // The module the panel serves now, when it is of the adapter the definition names: the
        // same adapter as before keeps the version its deployments chose. (One switched to
        // another adapter's module through `PUT .../adapter` is not: the definition's adapter
        // is served, as it says.)
        let serving = match (&stored, &active) {
            (Some(stored), Some(active)) if stored.definition.adapter == name => {
                Some(self.store.module(active).await?.ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("module `{active}` is not registered"))
                })?)
                .filter(|m| m.name == name)
            }
            _ => None,
        };
        let module = match (pinned, serving) {
            (Some(version), _) => self.store.module_by_name(&name, &version).await?.ok_or_else(|| {
                ApiError::invalid(
                    "adapter",
                    format!(
                        "no module `{name}@{version}` is registered; push it first (`panelgate adapter push`)"
                    ),
                )
            })?,
            (None, Some(serving)) => serving,
            (None, None) => newest(self.store.modules_named(&name).await?).ok_or_else(|| {
                ApiError::invalid(
                    "adapter",
                    format!(
                        "no adapter `{name}` is registered; push its module first (`panelgate adapter push`)"
                    ),
                )
            })?,
        };
        let definition = Arc::new(definition);
        let mut panel = self
            .build_panel(id, definition.clone(), 0, &module.hash, false)
            .await
            .map_err(|e| match e {
                DeployError::Store(e) => e.into(),
                other => ApiError::AdapterRefused(other.to_string()),
            })?;
        let deploy = (active.as_deref() != Some(module.hash.as_str()))
            .then_some((module.hash.as_str(), DeployAction::Set));
        let action = if stored.is_some() { "change" } else { "add" };
        let mut journal = vec![journal_entry(id, action, Some(&definition))];
        if deploy.is_some() {
            let previous = match &active {
                Some(hash) => self.store.module(hash).await?,
                None => None,
            };
            journal.push(deploy_entry(
                id,
                &module,
                panel.signature.as_ref(),
                DeployAction::Set,
                previous.as_ref(),
            ));
        }
        let signed = panel.signature.clone();
        panel.version = self
            .store
            .write_panel(PanelWrite {
                id,
                definition: &definition,
                seed: Seed::Keep,
                deploy,
                signed: signed.as_ref(),
                journal,
            })
            .await?;
        tracing::info!(panel = %id, version = panel.version, adapter = %module.name, adapter_version = %module.version, action, "panel defined through the admin API");
        Ok((self.install(panel), stored.is_none()))
    }

    /// Removes panel `id` (`DELETE /admin/panels/{panel}`): see the module's documentation.
    pub async fn remove_panel(&self, id: &str) -> Result<i64, ApiError> {
        let _turn = self.deploying.lock().await;
        let in_doubt = self.store.unknown_outcomes_of(id).await?;
        if in_doubt > 0 {
            return Err(ApiError::Conflict(format!(
                "panel `{id}` has {in_doubt} operation(s) in doubt, which only its adapter can reconcile; \
                 settle them first (`GET /admin/unknown-outcomes`), then remove the panel"
            )));
        }
        let version = self
            .store
            .remove_panel(id, journal_entry(id, "remove", None))
            .await?
            .ok_or_else(|| ApiError::PanelNotFound(id.to_string()))?;
        self.uninstall(id);
        tracing::info!(panel = %id, version, "panel removed through the admin API");
        Ok(version)
    }

    /// The panel's definition as the store holds it, and what this host serves it with.
    pub async fn panel_view(&self, id: &str) -> Result<PanelRecord, ApiError> {
        let stored = self
            .store
            .stored_panel(id)
            .await?
            .filter(|s| s.removed_at.is_none())
            .ok_or_else(|| ApiError::PanelNotFound(id.to_string()))?;
        Ok(self.view(stored))
    }

    fn view(&self, stored: StoredPanel) -> PanelRecord {
        PanelRecord {
            serving: self.panel(&stored.id).ok().map(|p| p.module.clone()),
            id: stored.id,
            version: stored.version,
            updated_at: stored.updated_at,
            definition: stored.definition,
            seeded_from_config: stored.seed.is_some(),
        }
    }
}

/// The config file's panel as the store keeps it: the adapter by its module's name, and each
/// inline value replaced by a reference to where the config file gives it.
fn seeded(id: &str, entry: &PanelConfig, adapter: &str) -> PanelConfig {
    let mut definition = entry.clone();
    definition.adapter = adapter.to_string();
    for (path, secret) in definition.secrets_mut() {
        if secret.value.take().is_some() {
            secret.config = Some(format!("panels.{id}.{path}"));
        }
    }
    definition
}

/// The newest of `modules` by semantic version (a version that is not semver counts as the
/// oldest), the latest registered among equals.
fn newest(modules: Vec<ModuleInfo>) -> Option<ModuleInfo> {
    modules.into_iter().max_by(|a, b| {
        let version = |m: &ModuleInfo| semver::Version::parse(&m.version).ok();
        version(a)
            .cmp(&version(b))
            .then_with(|| a.pushed_at.cmp(&b.pushed_at))
    })
}

fn journal_entry(id: &str, action: &str, definition: Option<&PanelConfig>) -> JournalEntry {
    JournalEntry {
        id: uuid::Uuid::now_v7().to_string(),
        panel: Some(id.to_string()),
        operation: "panel".into(),
        kind: "admin",
        case_id: None,
        outcome: "ok".into(),
        // References only: a definition never holds a secret's value.
        detail: serde_json::json!({ "action": action, "definition": definition }).to_string(),
    }
}

/// What is wrong with a definition given through the admin API, each with its field path;
/// `max_memory_mib` is the most the host's instance pool gives an instance.
pub fn definition_issues(definition: &PanelConfig, max_memory_mib: u64) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    let mut issue = |path: &str, message: String| {
        issues.push(FieldIssue {
            path: path.into(),
            message,
        })
    };
    if definition.adapter.trim().is_empty() {
        issue(
            "adapter",
            "give the adapter's name (`aap-h2h`) or `name@version`".into(),
        );
    }
    match url::Url::parse(&definition.base_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {}
        Ok(_) => issue("base_url", "must be an http or https URL with a host".into()),
        Err(e) => issue("base_url", format!("is not a URL: {e}")),
    }
    for (i, entry) in definition.allowed_hosts.iter().enumerate() {
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (entry.as_str(), None),
        };
        if host.is_empty()
            || url::Host::parse(host).is_err()
            || port.is_some_and(|p| p.parse::<u16>().is_err())
        {
            issue(
                &format!("allowed_hosts[{i}]"),
                "give `host` or `host:port`".into(),
            );
        }
    }
    for key in definition.settings.keys() {
        if key.trim().is_empty() {
            issue("settings", "a setting's name must not be empty".into());
        }
    }
    for (name, credential) in &definition.credentials {
        if let crate::config::CredentialConfig::ApiKey { headers } = credential {
            for header in headers.keys() {
                if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    issue(
                        &format!("credentials.{name}.headers.{header}"),
                        "is not a valid HTTP header name".into(),
                    );
                }
            }
        }
    }
    let mut definition = definition.clone();
    for (path, secret) in definition.secrets_mut() {
        if secret.value.is_some() {
            issue(
                &path,
                "an inline secret value is refused: name an environment variable of the host \
                 (`{\"env\": \"VAR\"}`) or a file on it (`{\"file\": \"/run/secrets/name\"}`)"
                    .into(),
            );
            continue;
        }
        let given = [&secret.env, &secret.file, &secret.config]
            .iter()
            .filter(|s| s.is_some())
            .count();
        if given != 1 {
            issue(&path, "give exactly one of `env` or `file`".into());
        } else if secret
            .env
            .as_ref()
            .is_some_and(|v| v.is_empty() || v.contains('='))
        {
            issue(&path, "`env` must name an environment variable".into());
        } else if secret
            .file
            .as_ref()
            .is_some_and(|f| !std::path::Path::new(f).is_absolute())
        {
            issue(&path, "`file` must be an absolute path on the host".into());
        }
    }
    for (field, message) in definition.limits.issues(max_memory_mib) {
        issue(&format!("limits.{field}"), message);
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CredentialConfig, Secret};

    fn definition() -> PanelConfig {
        serde_json::from_value(serde_json::json!({
            "adapter": "aap-h2h",
            "base_url": "http://127.0.0.1:9101",
            "settings": { "line": "life" },
            "credentials": { "partner": { "kind": "basic", "username": { "env": "U" }, "password": { "file": "/run/secrets/p" } } },
            "callback_auth": { "kind": "none" }
        }))
        .unwrap()
    }

    fn paths(issues: Vec<FieldIssue>) -> Vec<String> {
        issues.into_iter().map(|i| i.path).collect::<Vec<_>>()
    }

    #[test]
    fn a_definition_by_reference_passes() {
        assert!(definition_issues(&definition(), 64).is_empty());
    }

    #[test]
    fn an_inline_secret_is_refused_naming_its_field() {
        let mut d = definition();
        d.credentials.insert(
            "api".into(),
            CredentialConfig::ApiKey {
                headers: [(
                    "x-key".to_string(),
                    Secret {
                        value: Some("s3cret".into()),
                        ..Secret::default()
                    },
                )]
                .into(),
            },
        );
        let issues = definition_issues(&d, 64);
        assert!(issues.iter().all(|i| !i.message.contains("s3cret")));
        assert_eq!(paths(issues), ["credentials.api.headers.x-key"]);
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut d = definition();
        d.base_url = "ftp://x".into();
        d.allowed_hosts = vec!["ok.example".into(), "bad:port".into()];
        d.limits.memory_mib = Some(65);
        d.limits.operation_timeout_ms = Some(0);
        if let Some(CredentialConfig::Basic { password, .. }) = d.credentials.get_mut("partner") {
            password.file = Some("relative/p".into());
        }
        assert_eq!(
            paths(definition_issues(&d, 64)),
            [
                "base_url",
                "allowed_hosts[1]",
                "credentials.partner.password",
                "limits.memory_mib",
                "limits.operation_timeout_ms"
            ]
        );
    }

    #[test]
    fn a_config_panel_is_stored_with_references_to_its_inline_values() {
        let mut entry = definition();
        entry.adapter = "aap".into();
        if let Some(CredentialConfig::Basic { password, .. }) = entry.credentials.get_mut("partner") {
            *password = Secret {
                value: Some("s3cret".into()),
                ..Secret::default()
            };
        }
        let stored = seeded("A03", &entry, "aap-h2h");
        assert_eq!(stored.adapter, "aap-h2h");
        let json = serde_json::to_string(&stored).unwrap();
        assert!(!json.contains("s3cret"), "{json}");
        assert!(
            json.contains(r#""config":"panels.A03.credentials.partner.password""#),
            "{json}"
        );
    }
}
