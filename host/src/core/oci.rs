//! Pulling adapters from OCI registries into the module registry.
//!
//! A reference is resolved to its manifest's digest once, at pull: the module is registered
//! with that pinned reference as its origin, and panels switch to the module by its content
//! hash, so a tag that moves later changes nothing that runs. The manifest's and the layer's
//! digests are checked against what the registry served; the panelgate signature the manifest
//! carries goes through the same verification as a push's, and a panel's policy is checked
//! against it offline whenever the panel loads the module.

use crate::core::AppState;
use crate::core::deploy::{DeployError, Pushed, Source};
use crate::oci::{Client, Credentials, OciError, Reference, SIGNATURE_ANNOTATION};

/// What a pull registered, and the reference pinned by digest it came by.
pub struct PulledModule {
    pub pushed: Pushed,
    /// `oci://REGISTRY/REPO@sha256:...`, the manifest's digest.
    pub reference: String,
}

impl AppState {
    /// The client for `registry`, with the credentials the config holds for it, resolved now
    /// (a rotated secret is taken up at the next pull).
    fn registry_client(&self, registry: &str) -> Result<Client, DeployError> {
        let access = self.config.registries.get(registry).cloned().unwrap_or_default();
        let resolve = |secret: &Option<crate::config::Secret>, field: &str| {
            secret
                .as_ref()
                .map(|s| s.resolve(&format!("registries.\"{registry}\".{field}")))
                .transpose()
                .map_err(|e| DeployError::Refused(format!("{e:#}")))
        };
        let credentials = match (
            resolve(&access.username, "username")?,
            resolve(&access.password, "password")?,
        ) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            _ => None,
        };
        Ok(Client::new(registry, credentials, access.insecure)?)
    }

    /// Pulls the adapter `reference` names and registers it, pinned by its manifest's digest.
    /// A reference by digest already pulled is not fetched again: its content cannot differ.
    /// Nothing changes when any check fails.
    pub async fn pull(&self, reference: &str) -> Result<PulledModule, DeployError> {
        let parsed =
            Reference::parse(reference).map_err(|e| DeployError::Registry(OciError::NotAnAdapter(e)))?;
        if let Some(digest) = &parsed.digest
            && let Some(info) = self.store.module_by_origin(&parsed.pinned(digest)).await?
        {
            return Ok(PulledModule {
                reference: parsed.pinned(digest),
                pushed: Pushed {
                    info,
                    created: false,
                    newly_signed: false,
                    signature: None,
                },
            });
        }
        let client = self.registry_client(&parsed.registry)?;
        let pulled = client
            .pull(&parsed, crate::core::deploy::MAX_MODULE_BYTES)
            .await?;
        let pinned = parsed.pinned(&pulled.digest);
        let pushed = self
            .push_from(
                &pulled.module,
                Source::Oci,
                pulled.signature.as_deref(),
                Some(&pinned),
            )
            .await
            .map_err(|e| match e {
                DeployError::BadSignature(m) => DeployError::Refused(format!(
                    "{pinned}: the signature in its annotation `{SIGNATURE_ANNOTATION}`: {}",
                    m.trim_start_matches("signature: ")
                )),
                other => other,
            })?;
        tracing::info!(reference = %parsed, pinned = %pinned, adapter = %pushed.info.name, version = %pushed.info.version, hash = %pushed.info.hash, created = pushed.created, "module pulled");
        Ok(PulledModule {
            pushed,
            reference: pinned,
        })
    }
}
