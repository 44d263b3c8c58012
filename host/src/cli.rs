//! The `panelgate` command line: run the host, or operate a running one through its admin API.
//! In the library so the tests drive it as an operator would.

use std::path::{Path, PathBuf};

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
    /// Webhook subscriptions of a running host, their delivery logs and replays.
    Subscription {
        #[command(subcommand)]
        command: SubscriptionCommand,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Build the adapter project in DIR and serve it as panel `dev` of a one-panel host on a
    /// temporary store, against the partner at --base-url; rebuild and switch on every change.
    Dev {
        dir: PathBuf,
        #[arg(long)]
        base_url: String,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// A panel setting, `KEY=VALUE` (repeat for more).
        #[arg(long = "setting", value_parser = parse_setting)]
        settings: Vec<(String, String)>,
        /// Where cargo builds a Rust project (its `target/` by default).
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// The audit journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
}

#[derive(Subcommand)]
enum AdapterCommand {
    /// Register a component with a running host (`push FILE.wasm`): checked, compiled and
    /// described by the host; changes no panel. Or publish it to an OCI registry (`push
    /// oci://REGISTRY/NAMESPACE/NAME:TAG FILE.wasm`), the partner's release step, which needs no
    /// host: credentials from PANELGATE_REGISTRY_USERNAME and PANELGATE_REGISTRY_PASSWORD.
    Push {
        /// The `.wasm`, or the OCI reference to publish FILE to.
        target: String,
        /// The `.wasm`, when TARGET is an OCI reference.
        file: Option<PathBuf>,
        /// Its detached signature (`panelgate adapter sign` writes FILE.sig); it must verify
        /// with a key under the host's `[signers]`. Pushed to a registry, it travels in the
        /// manifest's `dev.panelgate.signature` annotation.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// The registry's user name (OCI pushes only). Its password or token comes from
        /// PANELGATE_REGISTRY_PASSWORD, never a flag: it stays out of shell history and `ps`.
        #[arg(long, env = "PANELGATE_REGISTRY_USERNAME")]
        registry_username: Option<String>,
        /// Plain http to a registry that is not on loopback (one on loopback always is).
        #[arg(long)]
        insecure: bool,
    },
    /// Have a running host pull a component from an OCI registry and register it, pinned by
    /// the digest its tag names now; changes no panel.
    Pull {
        /// `oci://REGISTRY/NAMESPACE/NAME:TAG` or `oci://REGISTRY/NAMESPACE/NAME@sha256:DIGEST`.
        reference: String,
    },
    /// Sign a component for release: writes the detached signature of its SHA-256 (base64)
    /// to FILE.sig, or --out. Needs no running host.
    Sign {
        file: PathBuf,
        /// The Ed25519 private key, PKCS#8 PEM (`panelgate adapter keygen` or
        /// `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a signing key pair: writes the private key (PKCS#8 PEM, mode 0600) to --out and
    /// prints the public key for the host's `[signers]`. Needs no running host.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Registered modules and the panels serving each.
    List,
    /// Run a candidate module against a panel's recorded operations, serving the recorded
    /// partner responses, and report what it would have done differently.
    Replay {
        /// The `.wasm`, or an OCI reference (`oci://...`) this command pulls it from, its digests
        /// checked (registry credentials from PANELGATE_REGISTRY_USERNAME and _PASSWORD).
        file: String,
        #[arg(long, value_parser = panel_id)]
        panel: String,
        /// How many of the panel's most recent operations to replay.
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
    /// Write a new adapter project (the SDK and contract inside it, one fixture, a README):
    /// builds and tests outside this repository. Needs no running host.
    New {
        name: String,
        #[arg(long, value_enum, default_value_t = crate::kit::scaffold::Lang::Rust)]
        lang: crate::kit::scaffold::Lang,
        /// The folder to write `NAME/` into.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Build a project (or take a `.wasm`) and run its fixtures in the host's sandbox, the
    /// partner's answers served from the fixtures. Needs no running host. Exits 1 on a mismatch.
    Test {
        path: PathBuf,
        /// A fixture file or folder; PATH/fixtures (or fixtures/ beside the .wasm) by default.
        fixtures: Option<PathBuf>,
        /// Where cargo builds a Rust project (its `target/` by default).
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Turn a panel's journaled operations into fixtures (secrets already redacted), read from
    /// the store the config names.
    Record {
        #[arg(long)]
        panel: String,
        #[arg(long, default_value_t = 20)]
        last: u32,
        #[arg(long, short)]
        config: PathBuf,
        /// The folder the fixtures and panel.json are written to.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum PanelCommand {
    /// Panels and the module each serves.
    List,
    /// A panel's definition (secrets as references) and version, as JSON.
    Show {
        #[arg(value_parser = panel_id)]
        panel: String,
    },
    /// Add a panel to the running host, no restart: its definition from a file (TOML or JSON,
    /// what a `[panels.ID]` table of the config holds; secrets as `{ env = "VAR" }` or
    /// `{ file = "/path" }`), and/or the options below.
    Add {
        #[arg(value_parser = panel_id)]
        panel: String,
        #[command(flatten)]
        definition: DefinitionArgs,
    },
    /// Change a panel: the options given replace those parts of its definition. `--adapter
    /// name@version` alone switches the module it serves (running requests finish on the old
    /// one).
    Set {
        #[arg(value_parser = panel_id)]
        panel: String,
        #[command(flatten)]
        definition: DefinitionArgs,
    },
    /// Remove a panel: new operations on it are refused (404); its cases stay readable.
    Remove {
        #[arg(value_parser = panel_id)]
        panel: String,
    },
    /// Switch a panel back to the module it served before.
    Rollback {
        #[arg(value_parser = panel_id)]
        panel: String,
    },
    /// A panel's deployment history.
    History {
        #[arg(value_parser = panel_id)]
        panel: String,
    },
    /// Lift a panel's quarantine: its adapter is called again.
    Enable {
        #[arg(value_parser = panel_id)]
        panel: String,
    },
}

/// A panel id as the command line takes it: one the host could have (letters, digits, `-`,
/// `_`), since it goes into the URL as typed. (`A03#old` was sent as `/admin/panels/A03`, the
/// fragment dropped, and `panel remove` removed A03.)
fn panel_id(text: &str) -> Result<String, String> {
    crate::config::check_panel_id(text).map(|()| text.to_string())
}

/// A panel's definition, or the parts of it to change.
#[derive(Args)]
struct DefinitionArgs {
    /// A file with the whole definition (TOML or, by its `.json` extension, JSON).
    #[arg(long)]
    from: Option<PathBuf>,
    /// The adapter's name (its newest registered version), `name@version`, or an OCI reference
    /// (`oci://REGISTRY/NAMESPACE/NAME@sha256:DIGEST`: the host pulls it unless registered).
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
            .filter(|a| only_adapter && (a.contains('@') || a.starts_with(crate::oci::SCHEME)))
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
enum SubscriptionCommand {
    /// Subscriptions, their state and why any is disabled.
    List,
    /// Subscribe an endpoint; prints the signing secret, which is shown this once.
    Create {
        /// The portal's endpoint (`--url` is the host's address).
        #[arg(long)]
        endpoint: String,
        /// An event kind to receive (repeat for more; none: every kind).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// A panel whose events to receive (repeat for more; none: every panel).
        #[arg(long = "panel")]
        panels: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a subscription and its delivery log.
    Delete { id: String },
    /// Enable a subscription a give-up disabled: its failed deliveries are sent again first.
    Enable { id: String },
    /// A subscription's delivery log, newest first.
    Deliveries {
        id: String,
        /// `pending`, `delivered` or `failed`.
        #[arg(long)]
        state: Option<String>,
        /// At most this many (1 to 1,000), as the API.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Only deliveries older than this `seq` (each line starts with it): the next page.
        #[arg(long)]
        before: Option<i64>,
    },
    /// Send deliveries again: one event's (`--event`), or those taken from `--since` (RFC 3339)
    /// until `--until` (default now).
    Replay {
        id: String,
        #[arg(long, conflicts_with_all = ["since", "until"], required_unless_present = "since")]
        event: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long, requires = "since")]
        until: Option<String>,
    },
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
    /// Seconds to wait for the host's answer, the module's upload included (a push waits for
    /// the host to compile the module: minutes for a large one on a debug build).
    #[arg(long, env = "PANELGATE_TIMEOUT", default_value_t = 300, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
}

/// How long the CLI waits to connect to the host.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl HostArgs {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Body>) -> Result<Value> {
        let token = self
            .token
            .as_deref()
            .context("give the admin token with --token or PANELGATE_ADMIN_TOKEN")?;
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(std::time::Duration::from_secs(self.timeout))
            .build()
            .context("the HTTP client")?;
        let mut request = client.request(method, &url).bearer_auth(token);
        let mut module_bytes = None;
        request = match body {
            Some(Body::Json(v)) => request.json(&v),
            Some(Body::Wasm(bytes)) => {
                module_bytes = Some(bytes.len());
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/wasm")
                    .body(bytes)
            }
            Some(Body::SignedWasm(bytes, signature)) => {
                module_bytes = Some(bytes.len());
                request
                    .header(reqwest::header::CONTENT_TYPE, "application/wasm")
                    .header(crate::signing::HEADER, signature.trim())
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
            Err(e) if e.is_timeout() => bail!(
                "{url} did not answer within {} s (--timeout or PANELGATE_TIMEOUT)",
                self.timeout
            ),
            Err(e) => return Err(e).with_context(|| format!("reaching {url}")),
        };
        let status = response.status();
        let value: Value = match response.bytes().await {
            Ok(body) => serde_json::from_slice(&body).unwrap_or(Value::Null),
            Err(e) if e.is_timeout() => bail!(
                "{url} did not finish its answer within {} s (--timeout or PANELGATE_TIMEOUT)",
                self.timeout
            ),
            Err(e) => return Err(e).with_context(|| format!("reading {url}'s answer")),
        };
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
    /// A module with its detached signature (base64), sent as `X-Panelgate-Signature`.
    SignedWasm(Vec<u8>, String),
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
        AdapterCommand::New { name, lang, dir } => {
            let made = crate::kit::scaffold::new(&name, lang, &dir)?;
            println!(
                "wrote {}; next: panelgate adapter test {}",
                made.display(),
                made.display()
            );
        }
        AdapterCommand::Test {
            path,
            fixtures,
            target_dir,
        } => {
            return crate::kit::test(&path, fixtures.as_deref(), target_dir.as_deref()).await;
        }
        AdapterCommand::Record {
            panel,
            last,
            config,
            out,
        } => {
            let written = crate::kit::record::record(&config, &panel, last, &out).await?;
            println!("{} fixtures written to {}", written.len(), out.display());
        }
        AdapterCommand::Push {
            target,
            file,
            signature,
            registry_username,
            insecure,
        } => {
            let signature = match signature {
                Some(path) => Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading the signature {}", path.display()))?,
                ),
                None => None,
            };
            if target.starts_with(crate::oci::SCHEME) {
                let file = file.context("give the .wasm to push after the reference")?;
                push_oci(&target, &file, signature.as_deref(), registry_username, insecure).await?;
                return Ok(0);
            }
            if file.is_some() {
                bail!("`{target}` is not an OCI reference (oci://...): give one .wasm to push to the host");
            }
            let bytes = read_module(Path::new(&target))?;
            let body = match signature {
                Some(text) => Body::SignedWasm(bytes, text),
                None => Body::Wasm(bytes),
            };
            let m = host.send(Method::POST, "/admin/adapters", Some(body)).await?;
            match m["signer"].as_str() {
                Some(signer) => println!("registered {}, signed by {signer}", module_line(&m)),
                None => println!("registered {} (unsigned)", module_line(&m)),
            }
        }
        AdapterCommand::Pull { reference } => {
            let m = host
                .send(
                    Method::POST,
                    "/admin/adapters/pull",
                    Some(Body::Json(json!({ "reference": reference }))),
                )
                .await?;
            let signed = m["signer"]
                .as_str()
                .map(|s| format!(", signed by {s}"))
                .unwrap_or_else(|| " (unsigned)".into());
            println!(
                "pulled {} as {}{signed}",
                m["reference"].as_str().unwrap_or("?"),
                module_line(&m)
            );
        }
        AdapterCommand::Sign { file, key, out } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let pem = std::fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?;
            let key =
                crate::signing::private_key(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let hash = crate::core::deploy::module_hash(&bytes);
            let out = out.unwrap_or_else(|| crate::core::deploy::signature_path(&file));
            std::fs::write(&out, format!("{}\n", crate::signing::sign(&key, &hash)))
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "signed sha256 {hash} with public key {}; signature in {}",
                crate::signing::public_key_of(&key),
                out.display()
            );
        }
        AdapterCommand::Keygen { out } => {
            let (pem, public) = crate::signing::keygen().map_err(|e| anyhow::anyhow!(e))?;
            write_private(&out, &pem)?;
            println!("private key in {} (keep it secret)", out.display());
            println!("for the host's config:\n[signers.NAME]\npublic_key = \"{public}\"");
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
            let bytes = if file.starts_with(crate::oci::SCHEME) {
                pull_oci(&file).await?
            } else {
                read_module(Path::new(&file))?
            };
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

/// Publishes a component to an OCI registry in the component tooling's layout, its signature
/// (if any) in the manifest; prints the reference pinned by digest.
async fn push_oci(
    target: &str,
    file: &Path,
    signature: Option<&str>,
    username: Option<String>,
    insecure: bool,
) -> Result<()> {
    let reference = crate::oci::Reference::parse(target).map_err(|e| anyhow::anyhow!(e))?;
    if reference.digest.is_some() {
        bail!(
            "{target}: push to a tag (oci://REGISTRY/NAMESPACE/NAME:TAG); the digest is the registry's answer"
        );
    }
    let bytes = read_module(file)?;
    if !bytes.starts_with(b"\0asm") {
        bail!(
            "{}: not WebAssembly (build the component for wasm32-wasip2)",
            file.display()
        );
    }
    if let Some(text) = signature {
        crate::signing::signature(text).map_err(|e| anyhow::anyhow!("the signature: {e}"))?;
    }
    let credentials = registry_credentials(username)?;
    let client = crate::oci::Client::new(&reference.registry, credentials, insecure)?;
    let digest = client.push(&reference, &bytes, signature).await?;
    println!(
        "pushed {} ({} bytes, sha256 {}{}) as {}",
        reference,
        bytes.len(),
        crate::core::deploy::module_hash(&bytes),
        if signature.is_some() {
            ", signed"
        } else {
            ", unsigned"
        },
        reference.pinned(&digest)
    );
    Ok(())
}

/// The registry credentials the CLI was given, from the environment.
fn registry_credentials(username: Option<String>) -> Result<Option<crate::oci::Credentials>> {
    let password = std::env::var("PANELGATE_REGISTRY_PASSWORD").ok();
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some(crate::oci::Credentials { username, password })),
        (None, None) => Ok(None),
        _ => bail!(
            "give both PANELGATE_REGISTRY_USERNAME (or --registry-username) and PANELGATE_REGISTRY_PASSWORD, or neither"
        ),
    }
}

/// A component pulled by this command (for a replay), its digests checked as the host checks them.
async fn pull_oci(target: &str) -> Result<Vec<u8>> {
    let reference = crate::oci::Reference::parse(target).map_err(|e| anyhow::anyhow!(e))?;
    let credentials = registry_credentials(std::env::var("PANELGATE_REGISTRY_USERNAME").ok())?;
    let client = crate::oci::Client::new(&reference.registry, credentials, false)?;
    let pulled = client
        .pull(&reference, crate::core::deploy::MAX_MODULE_BYTES)
        .await?;
    println!("pulled {}", reference.pinned(&pulled.digest));
    Ok(pulled.module)
}

/// Writes a private key readable by its owner only, refusing to replace a file.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {} (an existing key is never replaced)", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
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
                let signed = d["signer"]
                    .as_str()
                    .map(|s| format!("  signed by {s}"))
                    .unwrap_or_default();
                println!(
                    "{}  {:<8}  {}{signed}",
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

async fn subscription(command: SubscriptionCommand, host: HostArgs) -> Result<()> {
    use reqwest::Method;
    let line = |s: &Value| {
        format!(
            "{}  {}  {}{}",
            s["id"].as_str().unwrap_or("?"),
            s["state"].as_str().unwrap_or("?"),
            s["url"].as_str().unwrap_or("?"),
            s["disabled_reason"]
                .as_str()
                .map(|r| format!("  ({r})"))
                .unwrap_or_default()
        )
    };
    // Path segments and query values as the user typed them, encoded.
    let enc = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    match command {
        SubscriptionCommand::List => {
            let list = host.send(Method::GET, "/admin/subscriptions", None).await?;
            for s in list.as_array().into_iter().flatten() {
                println!("{}", line(s));
            }
        }
        SubscriptionCommand::Create {
            endpoint,
            kinds,
            panels,
            description,
        } => {
            let body =
                json!({ "url": endpoint, "kinds": kinds, "panels": panels, "description": description });
            let s = host
                .send(Method::POST, "/admin/subscriptions", Some(Body::Json(body)))
                .await?;
            println!("{}", line(&s));
            println!("secret {}", s["secret"].as_str().unwrap_or("?"));
        }
        SubscriptionCommand::Delete { id } => {
            host.send(
                Method::DELETE,
                &format!("/admin/subscriptions/{}", enc(&id)),
                None,
            )
            .await?;
            println!("subscription {id} deleted");
        }
        SubscriptionCommand::Enable { id } => {
            let answer = host
                .send(
                    Method::POST,
                    &format!("/admin/subscriptions/{}/enable", enc(&id)),
                    None,
                )
                .await?;
            println!(
                "{}; {} failed deliveries queued again",
                line(&answer["subscription"]),
                answer["requeued"]
            );
        }
        SubscriptionCommand::Deliveries {
            id,
            state,
            limit,
            before,
        } => {
            let mut path = format!("/admin/subscriptions/{}/deliveries?limit={limit}", enc(&id));
            if let Some(state) = state {
                path.push_str(&format!("&state={}", enc(&state)));
            }
            if let Some(before) = before {
                path.push_str(&format!("&before={before}"));
            }
            let log = host.send(Method::GET, &path, None).await?;
            for d in log.as_array().into_iter().flatten() {
                println!(
                    "{}  {}  {:<9}  attempts {}  status {}  {} ms  {}{}",
                    d["seq"],
                    d["created_at"].as_str().unwrap_or("?"),
                    d["state"].as_str().unwrap_or("?"),
                    d["attempts"],
                    d["last_status"],
                    d["last_latency_ms"],
                    d["event_id"].as_str().unwrap_or("?"),
                    d["last_error"]
                        .as_str()
                        .map(|e| format!("  ({e})"))
                        .unwrap_or_default()
                );
            }
        }
        SubscriptionCommand::Replay {
            id,
            event,
            since,
            until,
        } => {
            let body = match event {
                Some(event) => json!({ "event_id": event }),
                None => json!({ "since": since, "until": until }),
            };
            let answer = host
                .send(
                    Method::POST,
                    &format!("/admin/subscriptions/{}/replay", enc(&id)),
                    Some(Body::Json(body)),
                )
                .await?;
            println!("{} deliveries queued again", answer["replayed"]);
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

/// Ctrl-C (SIGINT), or SIGTERM as systemd, Docker and Kubernetes stop a process: either ends
/// serving the same way, in-flight requests answered and queued journal entries written.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                return;
            }
            Err(e) => tracing::warn!("cannot listen for SIGTERM ({e}); stop the host with SIGINT"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
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
            // Held until the process ends, and taken before the start's recovery touches the store.
            let _sole = crate::store::lock_sole_host(&config.store.url()?)?;
            let app = crate::App::start(&config).await?;
            let listener = crate::listen(&config.server.listen)
                .await
                .with_context(|| format!("binding {}", config.server.listen))?;
            tracing::info!("panelgate listening on http://{}", listener.local_addr()?);
            crate::serve(listener, app.router(), &config.server, stop_signal()).await?;
            // Read-only operations answered before their records were committed: those still
            // queued are written before the process ends.
            if let Err(e) = app.state.store.flush().await {
                tracing::error!("committing the last queued journal entries: {e}");
            }
            Ok(0)
        }
        Command::Adapter { command, host } => adapter(command, host).await,
        Command::Dev {
            dir,
            base_url,
            listen,
            settings,
            target_dir,
        } => {
            let options = crate::kit::dev::DevOptions {
                dir,
                base_url,
                listen,
                settings,
                target_dir,
            };
            crate::kit::dev::run(options, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(0)
        }
        Command::Panel { command, host } => panel(command, host).await.map(|()| 0),
        Command::Subscription { command, host } => subscription(command, host).await.map(|()| 0),
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

fn parse_setting(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panel id that could not be a panel's is refused before any request: it would go into
    /// the URL as typed, and `A03#old` (the fragment dropped) or `x/../A03` (the path
    /// normalised) named A03.
    #[test]
    fn a_panel_id_with_url_syntax_is_refused_before_anything_is_sent() {
        for id in ["A03#old", "A03?", "x/../A03", "A03 B", ""] {
            for args in [
                vec!["panelgate", "panel", "remove", id],
                vec!["panelgate", "panel", "rollback", id],
                vec!["panelgate", "adapter", "replay", "m.wasm", "--panel", id],
            ] {
                let parsed = Cli::try_parse_from(&args);
                assert!(parsed.is_err(), "{args:?} was taken");
            }
        }
        assert!(Cli::try_parse_from(["panelgate", "panel", "remove", "A03_old-2"]).is_ok());
        assert!(Cli::try_parse_from(["panelgate", "panel", "rollback", "A03"]).is_ok());
        assert!(Cli::try_parse_from(["panelgate", "adapter", "replay", "m.wasm", "--panel", "A03"]).is_ok());
    }
}
