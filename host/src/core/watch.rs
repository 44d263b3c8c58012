//! Deploying by copying files: a watched folder of `.wasm` modules.
//!
//! A file is read once it has stayed the same (size and modification time, its signature's
//! too) for one interval, so a copy in progress is never taken half-written. A file refused is
//! looked at again when it or its signature changes (a `.sig` copied late, or fixed); one the
//! host failed to take (a store fault) at the next interval. A module that is new to the registry is
//! deployed to every panel serving an older version (by semver) of the same adapter; a module
//! already registered changes nothing, so a restart or an operator's rollback is not undone
//! by a file still lying in the folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::core::AppState;
use crate::core::deploy::Source;

/// A file's size and modification time.
type FileStamp = (u64, Option<SystemTime>);

/// What a dropped module was looked at as: its own stamp and its signature's, if any.
type Stamp = (FileStamp, Option<FileStamp>);

type Seen = HashMap<PathBuf, Stamp>;

/// Watches `dir` every `interval` until the host stops.
pub fn spawn(state: Arc<AppState>, dir: PathBuf, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pending = Seen::new();
        let mut done = Seen::new();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::error!(dir = %dir.display(), "cannot create the watched folder: {e}");
            return;
        }
        tracing::info!(dir = %dir.display(), "watching for adapter modules");
        loop {
            scan(&state, &dir, &mut pending, &mut done).await;
            tokio::time::sleep(interval).await;
        }
    })
}

async fn scan(state: &AppState, dir: &Path, pending: &mut Seen, done: &mut Seen) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let file_stamp = |meta: std::fs::Metadata| (meta.len(), meta.modified().ok());
        let Ok(meta) = entry.metadata() else { continue };
        let signature = std::fs::metadata(crate::core::deploy::signature_path(&path)).ok();
        let stamp = (file_stamp(meta), signature.map(file_stamp));
        if done.get(&path) == Some(&stamp) {
            continue;
        }
        if pending.insert(path.clone(), stamp) != Some(stamp) {
            // New or still changing: look again next interval.
            continue;
        }
        pending.remove(&path);
        if take(state, &path, stamp.0.0).await {
            done.insert(path.clone(), stamp);
        }
    }
}

/// Registers the module at `path` (`len` bytes) and deploys it where it is newer; whether
/// that is done with, taken or refused, rather than to be tried again.
async fn take(state: &AppState, path: &Path, len: u64) -> bool {
    let limit = crate::core::deploy::MAX_MODULE_BYTES;
    if len > limit as u64 {
        tracing::warn!(file = %path.display(), "dropped module refused: {len} bytes, more than a module may have ({limit})");
        return true;
    }
    let bytes = match tokio::fs::read(path).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read a dropped module: {e}");
            return false;
        }
    };
    // Its signature, if any, lies beside it (`x.wasm.sig`): copy that first.
    let signature = tokio::fs::read_to_string(crate::core::deploy::signature_path(path))
        .await
        .ok();
    let (info, created) = match state.push(&bytes, Source::Watch, signature.as_deref()).await {
        // A signature copied after its module lets a panel with a policy take a module it
        // refused unsigned.
        Ok(pushed) => (pushed.info, pushed.created || pushed.newly_signed),
        Err(e) => {
            tracing::warn!(file = %path.display(), "dropped module refused: {e}");
            return !matches!(e, crate::core::deploy::DeployError::Store(_));
        }
    };
    if !created {
        return true;
    }
    let Ok(version) = semver::Version::parse(&info.version) else {
        tracing::warn!(file = %path.display(), version = %info.version, "registered, but its version is not semver: switch panels with `panelgate panel set`");
        return true;
    };
    for panel in state.panels() {
        let older = semver::Version::parse(&panel.module.version).is_ok_and(|v| v < version);
        if panel.module.name != info.name || !older {
            continue;
        }
        match state.switch(&panel.id, &info.hash).await {
            Ok(_) => {
                tracing::info!(panel = %panel.id, adapter = %info.name, version = %info.version, "dropped module deployed")
            }
            Err(e) => {
                tracing::warn!(panel = %panel.id, file = %path.display(), "dropped module not deployed: {e}")
            }
        }
    }
    true
}
