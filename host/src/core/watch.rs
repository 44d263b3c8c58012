//! Deploying by copying files: a watched folder of `.wasm` modules.
//!
//! A file is read once it has stayed the same (size and modification time) for one interval,
//! so a copy in progress is never taken half-written. A module that is new to the registry is
//! deployed to every panel serving an older version (by semver) of the same adapter; a module
//! already registered changes nothing, so a restart or an operator's rollback is not undone
//! by a file still lying in the folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::core::AppState;
use crate::core::deploy::Source;

type Seen = HashMap<PathBuf, (u64, Option<SystemTime>)>;

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
        let Ok(meta) = entry.metadata() else { continue };
        let stamp = (meta.len(), meta.modified().ok());
        if done.get(&path) == Some(&stamp) {
            continue;
        }
        if pending.insert(path.clone(), stamp) != Some(stamp) {
            // New or still changing: look again next interval.
            continue;
        }
        pending.remove(&path);
        done.insert(path.clone(), stamp);
        take(state, &path).await;
    }
}

async fn take(state: &AppState, path: &Path) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read a dropped module: {e}");
            return;
        }
    };
    // Its signature, if any, lies beside it (`x.wasm.sig`): copy that first.
    let signature = std::fs::read_to_string(crate::core::deploy::signature_path(path)).ok();
    let (info, created) = match state.push(&bytes, Source::Watch, signature.as_deref()).await {
        Ok(pushed) => (pushed.info, pushed.created),
        Err(e) => {
            tracing::warn!(file = %path.display(), "dropped module refused: {e}");
            return;
        }
    };
    if !created {
        return;
    }
    let Ok(version) = semver::Version::parse(&info.version) else {
        tracing::warn!(file = %path.display(), version = %info.version, "registered, but its version is not semver: switch panels with `panelgate panel set`");
        return;
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
}
