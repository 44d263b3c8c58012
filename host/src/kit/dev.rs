//! `panelgate dev DIR --base-url URL`: the adapter project in DIR built and served by a
//! one-panel host (panel `dev`, a store in a temporary folder), rebuilt and switched to on every
//! change of its sources. A build that fails is reported and the last good build keeps serving.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::core::deploy::Source;

/// What `panelgate dev` runs.
pub struct DevOptions {
    pub dir: PathBuf,
    pub base_url: String,
    pub listen: String,
    pub settings: Vec<(String, String)>,
    pub target_dir: Option<PathBuf>,
}

/// The tokens of the dev host: printed at start, for local use only.
pub const DEV_PORTAL_TOKEN: &str = "dev-portal-token";
pub const DEV_ADMIN_TOKEN: &str = "dev-admin-token";

/// Builds, serves, and rebuilds on change until `stop` resolves.
pub async fn run(options: DevOptions, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    let wasm = super::build(&options.dir, options.target_dir.as_deref())?;
    let bytes = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let description = super::fixtures::describe(&bytes).await?;
    let work = tempfile::tempdir().context("a folder for the dev host's store")?;
    let config_file = work.path().join("panelgate.toml");
    std::fs::write(&config_file, config(&options, &wasm, &description, work.path())?)?;
    let config = crate::config::Config::load(&config_file)?;
    let app = crate::App::start(&config).await?;
    let state = app.state.clone();
    let listener = crate::listen(&config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    println!(
        "serving {}@{} as panel `dev` on http://{} (portal token `{DEV_PORTAL_TOKEN}`, admin token `{DEV_ADMIN_TOKEN}`); watching {}",
        description.name,
        description.version,
        listener.local_addr()?,
        options.dir.display()
    );
    let watcher = tokio::spawn(async move {
        let mut seen = newest_change(&options.dir);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = newest_change(&options.dir);
            if now <= seen {
                continue;
            }
            seen = now;
            match reload(&state, &options).await {
                Ok(module) => println!("rebuilt: panel `dev` now serves {module}"),
                Err(e) => eprintln!("rebuild failed, the last good build keeps serving: {e:#}"),
            }
        }
    });
    let served = crate::serve(listener, app.router(), &config.server, stop).await;
    watcher.abort();
    served.context("serving")
}

async fn reload(state: &std::sync::Arc<crate::core::AppState>, options: &DevOptions) -> Result<String> {
    let dir = options.dir.clone();
    let target = options.target_dir.clone();
    let wasm = tokio::task::spawn_blocking(move || super::build(&dir, target.as_deref())).await??;
    let bytes = std::fs::read(&wasm)?;
    // As the watched folder does: a rebuild of the same version replaces it. A dev host's
    // panel has no signature policy, so the module goes unsigned.
    let module = state
        .push(&bytes, Source::Watch, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .info;
    state
        .switch("dev", &module.hash)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(format!(
        "{}@{} (sha256 {})",
        module.name,
        module.version,
        &module.hash[..12]
    ))
}

/// The one-panel config: the module's declared credentials as `kind = "none"` (a dev host
/// holds no secrets), the settings given.
fn config(
    options: &DevOptions,
    wasm: &Path,
    description: &crate::model::Description,
    work: &Path,
) -> Result<String> {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut text = format!(
        "[server]\nlisten = {}\nportal_token = {{ value = \"{DEV_PORTAL_TOKEN}\" }}\nadmin_token = {{ value = \"{DEV_ADMIN_TOKEN}\" }}\n\
         [store]\nurl = {}\n[sandbox]\ncache_dir = {}\n\
         [adapters.{name}]\npath = {}\n[panels.dev]\nadapter = {}\nbase_url = {}\n",
        quote(&options.listen),
        quote(&format!("sqlite://{}", work.join("dev.db").display())),
        quote(&work.join("cache").display().to_string()),
        quote(&std::path::absolute(wasm)?.display().to_string()),
        quote(&description.name),
        quote(&options.base_url),
        name = quote(&description.name),
    );
    if !options.settings.is_empty() {
        let pairs: Vec<String> = options
            .settings
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        text.push_str(&format!("settings = {{ {} }}\n", pairs.join(", ")));
    }
    for need in &description.credentials {
        text.push_str(&format!(
            "[panels.dev.credentials.{}]\nkind = \"none\"\n",
            quote(&need.name)
        ));
    }
    if !description.callbacks.is_empty() {
        text.push_str("[panels.dev.callback_auth]\nkind = \"none\"\n");
    }
    Ok(text)
}

/// The newest modification time under `dir`, build output and dependencies aside.
fn newest_change(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if matches!(
                name.to_str(),
                Some("target" | "node_modules" | ".git" | "__pycache__" | "fixtures")
            ) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(modified) = meta.modified() {
                newest = newest.max(modified);
            }
        }
    }
    newest
}
