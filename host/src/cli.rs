//! The `panelgate` command line: run the host, or operate a running one through its admin API.
//! In the library so the tests drive it as an operator would.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "panelgate",
    version,
    about = "One canonical API, one sandboxed adapter per partner"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Adapter modules in a running host's registry.
    Adapter {
        #[command(subcommand)]
        command: AdapterCommand,
        #[command(flatten)]
        host: HostArgs,
    },
    /// A running host's panels: add, change, remove them, and which module each serves.
    Panel {
        #[command(subcommand)]
        command: PanelCommand,
        #[command(flatten)]
        host: HostArgs,
    },
    /// The audit journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
}

#[derive(Subcommand)]
enum AdapterCommand {
    /// Register a component: checked, compiled and described by the host; changes no panel.
    Push { file: PathBuf },
    /// Registered modules and the panels serving each.
    List,
    /// Run a candidate module against a panel's recorded operations, serving the recorded
    /// partner responses, and report what it would have done differently.
    Replay {
        file: PathBuf,
        #[arg(long)]
        panel: String,
        /// How many of the panel's most recent operations to replay.
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
}

#[derive(Subcommand)]
enum PanelCommand {
    /// Panels and the module each serves.
    List,
    /// A panel's definition (secrets as references) and version, as JSON.
    Show { panel: String },
    /// Add a panel to the running host, no restart: its definition from a file (TOML or JSON,
    /// what a `[panels.ID]` table of the config holds; secrets as `{ env = "VAR" }` or
    /// `{ file = "/path" }`), and/or the options below.
    Add {
        panel: String,
        #[command(flatten)]
        definition: DefinitionArgs,
    },
    /// Change a panel: the options given replace those parts of its definition. `--adapter
    /// name@version` alone switches the module it serves (running requests finish on the old
    /// one).
    Set {
        panel: String,
        #[command(flatten)]
        definition: DefinitionArgs,
    },
    /// Remove a panel: new operations on it are refused (404); its cases stay readable.
    Remove { panel: String },
    /// Switch a panel back to the module it served before.
    Rollback { panel: String },
    /// A panel's deployment history.
    History { panel: String },
    /// Lift a panel's quarantine: its adapter is called again.
    Enable { panel: String },
}

/// A panel's definition, or the parts of it to change.
#[derive(Args)]
struct DefinitionArgs {
    /// A file with the whole definition (TOML or, by its `.json` extension, JSON).
    #[arg(long)]
    from: Option<PathBuf>,
    /// The adapter's name (its newest registered version), or `name@version`.
    #[arg(long)]
    adapter: Option<String>,
    /// The partner's base URL.
    #[arg(long)]
    base_url: Option<String>,
    /// A setting `NAME=VALUE` (repeat it); `NAME=` removes one.
    #[arg(long = "setting", value_name = "NAME=VALUE")]
    settings: Vec<String>,
}

impl DefinitionArgs {
    /// Only `--adapter name@version`: a switch of the module, not of the definition.
    fn is_switch(&self) -> Option<&str> {
        let only_adapter = self.from.is_none() && self.base_url.is_none() && self.settings.is_empty();
        self.adapter
            .as_deref()
            .filter(|a| only_adapter && a.contains('@'))
    }

    /// `base` (the panel's definition now, or an empty one) with these changes.
    fn apply(&self, mut base: Value) -> Result<Value> {
        if let Some(file) = &self.from {
            let text =
                std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            base = if file.extension().is_some_and(|e| e == "json") {
                serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?
            } else {
                toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?
            };
        }
        if !base.is_object() {
            bail!("a panel's definition is a table (an object)");
        }
        if let Some(adapter) = &self.adapter {
            base["adapter"] = json!(adapter);
        }
        if let Some(url) = &self.base_url {
            base["base_url"] = json!(url);
        }
        for setting in &self.settings {
            let Some((name, value)) = setting.split_once('=') else {
                bail!("--setting `{setting}`: give NAME=VALUE");
            };
            if !base["settings"].is_object() {
                base["settings"] = json!({});
            }
            let settings = base["settings"].as_object_mut().context("settings")?;
            if value.is_empty() {
                settings.remove(name);
            } else {
                settings.insert(name.to_string(), json!(value));
            }
        }
        Ok(base)
    }
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check the journal's hash chain in the store the config names; exits 1 and names the
    /// first altered or missing entry when it is broken.
    Verify {
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Args)]
struct HostArgs {
    /// The running host's address.
    #[arg(
        long,
        env = "PANELGATE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The host's admin token.
    #[arg(long, env = "PANELGATE_ADMIN_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
}

impl HostArgs {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Body>) -> Result<Value> {
        let token = self
            .token
            .as_deref()
            .context("give the admin token with --token or PANELGATE_ADMIN_TOKEN")?;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut request = reqwest::Client::new().request(method, &url).bearer_auth(token);
        let mut module_bytes = None;
        request = match body {
            Some(Body::Json(v)) => request.json(&v),
            Some(Body::Wasm(bytes)) => {
                module_bytes = Some(bytes.len());
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/wasm")
                    .body(bytes)
            }
            None => request,
        };
        let response = match request.send().await {
            Ok(response) => response,
            // A host refuses a body over its limit as soon as it reads the length, and closes
            // the connection while the module is still being sent: the client sees a broken
            // pipe or a reset, not the host's 413.
            Err(e) if module_bytes.is_some_and(|n| n > crate::api::admin::MAX_MODULE_BYTES / 2) => {
                bail!(
                    "reaching {url}: {e:#}; the host closed the connection while the module ({} \
                     bytes) was being sent: it may be larger than that host takes",
                    module_bytes.unwrap_or_default()
                )
            }
            Err(e) => return Err(e).with_context(|| format!("reaching {url}")),
        };
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            bail!("{status}: {message}");
        }
        Ok(value)
    }
}

enum Body {
    Json(Value),
    Wasm(Vec<u8>),
}

/// A panel as `GET /admin/panels/{panel}` shows it, on one line.
fn view_line(view: &Value) -> String {
    format!(
        "version {}, {}, serving {}",
        view["version"],
        view["definition"]["base_url"].as_str().unwrap_or("?"),
        module_line(&view["serving"])
    )
}

fn module_line(m: &Value) -> String {
    format!(
        "{}@{}  wit {}  {} bytes  sha256 {}",
        m["name"].as_str().unwrap_or("?"),
        m["version"].as_str().unwrap_or("?"),
        m["wit"].as_str().unwrap_or("?"),
        m["size"],
        m["hash"].as_str().unwrap_or("?"),
    )
}

async fn adapter(command: AdapterCommand, host: HostArgs) -> Result<i32> {
    use reqwest::Method;
    match command {
        AdapterCommand::Push { file } => {
            let bytes = read_module(&file)?;
            let m = host
                .send(Method::POST, "/admin/adapters", Some(Body::Wasm(bytes)))
                .await?;
            println!("registered {}", module_line(&m));
        }
        AdapterCommand::List => {
            let list = host.send(Method::GET, "/admin/adapters", None).await?;
            for entry in list.as_array().into_iter().flatten() {
                let serving: Vec<&str> = entry["serving"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "{}  serving: {}",
                    module_line(&entry["module"]),
                    if serving.is_empty() {
                        "-".into()
                    } else {
                        serving.join(", ")
                    }
                );
            }
        }
        AdapterCommand::Replay { file, panel, last } => {
            let bytes = read_module(&file)?;
            let report = host
                .send(
                    Method::POST,
                    &format!("/admin/panels/{panel}/replay?last={last}"),
                    Some(Body::Wasm(bytes)),
                )
                .await?;
            print_replay(&report);
            if report["changed"].as_u64().unwrap_or(0) > 0 {
                return Ok(3);
            }
        }
    }
    Ok(0)
}

/// A module file, refused here if it is larger than a host takes: sending it would only end in
/// the host closing the connection halfway.
fn read_module(file: &std::path::Path) -> Result<Vec<u8>> {
    let limit = crate::api::admin::MAX_MODULE_BYTES;
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > limit as u64 {
        bail!(
            "{}: the module is too large: {size} bytes, and a host takes modules of at most {limit} \
             bytes ({} MiB)",
            file.display(),
            limit >> 20
        );
    }
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

fn print_replay(report: &Value) {
    println!(
        "replayed {} operation(s) of panel {} through {} (serving: {})",
        report["replayed"],
        report["panel"].as_str().unwrap_or("?"),
        report["candidate"].as_str().unwrap_or("?"),
        report["current"].as_str().unwrap_or("?"),
    );
    for op in report["operations"].as_array().into_iter().flatten() {
        let same = op["same_result"].as_bool() == Some(true) && op["same_requests"].as_bool() == Some(true);
        println!(
            "  {} {} {}",
            if same { "same   " } else { "CHANGED" },
            op["operation"].as_str().unwrap_or("?"),
            op["journal_id"].as_str().unwrap_or("?"),
        );
        for d in op["differences"].as_array().into_iter().flatten() {
            println!("      {}", d.as_str().unwrap_or_default());
        }
    }
    println!("{} same, {} changed", report["same"], report["changed"]);
}

async fn panel(command: PanelCommand, host: HostArgs) -> Result<()> {
    use reqwest::Method;
    match command {
        PanelCommand::List => {
            let panels = host.send(Method::GET, "/admin/panels", None).await?;
            for p in panels.as_array().into_iter().flatten() {
                println!(
                    "{}  {}",
                    p["id"].as_str().unwrap_or("?"),
                    module_line(&p["module"])
                );
            }
        }
        PanelCommand::Set { panel, definition } => {
            if let Some(adapter) = definition.is_switch() {
                let m = host
                    .send(
                        Method::PUT,
                        &format!("/admin/panels/{panel}/adapter"),
                        Some(Body::Json(json!({ "adapter": adapter }))),
                    )
                    .await?;
                println!("panel {panel} now serves {}", module_line(&m));
                return Ok(());
            }
            let now = host
                .send(Method::GET, &format!("/admin/panels/{panel}"), None)
                .await?;
            let changed = definition.apply(now["definition"].clone())?;
            let view = host
                .send(
                    Method::PUT,
                    &format!("/admin/panels/{panel}"),
                    Some(Body::Json(changed)),
                )
                .await?;
            println!("panel {panel} changed: {}", view_line(&view));
        }
        PanelCommand::Add { panel, definition } => {
            if host
                .send(Method::GET, &format!("/admin/panels/{panel}"), None)
                .await
                .is_ok()
            {
                bail!("panel {panel} exists; change it with `panelgate panel set {panel} ...`");
            }
            let body = definition.apply(json!({}))?;
            let view = host
                .send(
                    Method::PUT,
                    &format!("/admin/panels/{panel}"),
                    Some(Body::Json(body)),
                )
                .await?;
            println!("panel {panel} added: {}", view_line(&view));
        }
        PanelCommand::Remove { panel } => {
            let removed = host
                .send(Method::DELETE, &format!("/admin/panels/{panel}"), None)
                .await?;
            println!("panel {panel} removed (version {})", removed["version"]);
        }
        PanelCommand::Show { panel } => {
            let view = host
                .send(Method::GET, &format!("/admin/panels/{panel}"), None)
                .await?;
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
        PanelCommand::Rollback { panel } => {
            let m = host
                .send(Method::POST, &format!("/admin/panels/{panel}/rollback"), None)
                .await?;
            println!("panel {panel} rolled back to {}", module_line(&m));
        }
        PanelCommand::Enable { panel } => {
            let answer = host
                .send(Method::POST, &format!("/admin/panels/{panel}/enable"), None)
                .await?;
            match answer["was_quarantined"].as_str() {
                Some(reason) => println!("panel {panel} re-enabled (it was quarantined: {reason})"),
                None => println!("panel {panel} was not quarantined"),
            }
        }
        PanelCommand::History { panel } => {
            let h = host
                .send(Method::GET, &format!("/admin/panels/{panel}/deployments"), None)
                .await?;
            for d in h["history"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<8}  {}",
                    d["at"].as_str().unwrap_or("?"),
                    d["action"].as_str().unwrap_or("?"),
                    d["module"].as_str().unwrap_or("?")
                );
            }
            println!("serving {}", module_line(&h["serving"]));
        }
    }
    Ok(())
}

/// The whole `panelgate` process: logs and traces ([`crate::telemetry`]), the command line, and
/// the exit code. Errors are printed as one line of causes, not a backtrace: this is what an
/// operator reads.
pub async fn main() -> ! {
    let telemetry = match crate::telemetry::Telemetry::init() {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1)
        }
    };
    let code = match run(std::env::args_os()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .ok();
    std::process::exit(code)
}

/// Runs the command line `args` (the program name first); the process exit code.
pub async fn run<I, T>(args: I) -> Result<i32>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return Ok(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cli.command {
        Command::Serve { config } => {
            let config = crate::config::Config::load(&config)?;
            let app = crate::App::start(&config).await?;
            let listener = crate::listen(&config.server.listen)
                .await
                .with_context(|| format!("binding {}", config.server.listen))?;
            tracing::info!("panelgate listening on http://{}", listener.local_addr()?);
            crate::serve(listener, app.router(), &config.server, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(0)
        }
        Command::Adapter { command, host } => adapter(command, host).await,
        Command::Panel { command, host } => panel(command, host).await.map(|()| 0),
        Command::Journal {
            command: JournalCommand::Verify { config },
        } => {
            let file = config;
            let config = crate::config::Config::load(&file)?;
            // Opening a store creates it: verifying a missing one would find an empty journal
            // intact, which says nothing of the journal the operator meant.
            if let Some(db) = config.store.sqlite_file()?
                && !db.exists()
            {
                bail!(
                    "no store at {} (store.url in {}): nothing to verify",
                    db.display(),
                    file.display()
                );
            }
            let store = crate::store::Store::open(&config.store.url()?, config.store.durability).await?;
            match store.verify_journal().await? {
                None => {
                    println!("journal intact");
                    Ok(0)
                }
                Some(id) => {
                    println!("journal broken: the first altered or missing entry is {id}");
                    Ok(1)
                }
            }
        }
    }
}
