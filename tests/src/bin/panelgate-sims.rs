//! Starts partner simulators for the demo: `panelgate-sims --aap A03=127.0.0.1:9101 ...`.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use clap::Parser;
use panelgate_tests::sim::aagi::{AagiSimConfig, AagiSimulator};
use panelgate_tests::sim::aap::{AapSimConfig, AapSimulator};
use panelgate_tests::sim::bcs::{BcsSimConfig, BcsSimulator};
use panelgate_tests::sim::deskcoll::{DeskCollSimConfig, DeskCollSimulator};
use panelgate_tests::sim::julo::{JuloSimConfig, JuloSimulator};

#[derive(Parser)]
#[command(about = "Strict partner simulators for panelgate's demo")]
struct Args {
    /// An AAP insurer panel: `CODE=ADDR`, e.g. `A03=127.0.0.1:9101`. A* codes are life panels.
    #[arg(long = "aap")]
    aap: Vec<String>,
    /// The AAGI motor web service at this address, e.g. `127.0.0.1:9103`.
    #[arg(long)]
    aagi: Option<SocketAddr>,
    #[arg(
        long,
        env = "AAGI_TOKEN",
        default_value = "aagi-demo-token",
        hide_env_values = true
    )]
    aagi_token: String,
    /// MNC Desk Coll at this address (results at /deskcoll/result, tasks at /deskcoll/tasks).
    #[arg(long)]
    deskcoll: Option<SocketAddr>,
    /// Desk Coll's Basic Auth and HashKey; the defaults are the spec's published test values.
    #[arg(long, env = "DESKCOLL_USER", default_value = "SERVICEMNC")]
    deskcoll_user: String,
    #[arg(
        long,
        env = "DESKCOLL_PASSWORD",
        default_value = "Mnc%^21",
        hide_env_values = true
    )]
    deskcoll_password: String,
    #[arg(
        long,
        env = "DESKCOLL_HASH_KEY",
        default_value = "8de3ef10fec04f05adb8631f9186a437",
        hide_env_values = true
    )]
    deskcoll_hash_key: String,
    /// The JULO partnership API at this address.
    #[arg(long)]
    julo: Option<SocketAddr>,
    #[arg(
        long,
        env = "JULO_SECRET_KEY",
        default_value = "julo-demo-secret",
        hide_env_values = true
    )]
    julo_secret_key: String,
    #[arg(long, env = "JULO_USERNAME", default_value = "partner")]
    julo_username: String,
    /// BCS policy management at this address.
    #[arg(long)]
    bcs: Option<SocketAddr>,
    #[arg(long, env = "BCS_CLIENT_ID", default_value = "panelgate-demo")]
    bcs_client_id: String,
    #[arg(
        long,
        env = "BCS_CLIENT_SECRET",
        default_value = "bcs-demo-secret",
        hide_env_values = true
    )]
    bcs_client_secret: String,
    /// Where panels post callbacks; `/{CODE}` is appended.
    #[arg(long, default_value = "http://127.0.0.1:8080/callbacks")]
    callback_base: String,
    #[arg(long, env = "AAP_PANEL_USER", default_value = "aap-demo")]
    panel_user: String,
    #[arg(
        long,
        env = "AAP_PANEL_PASSWORD",
        default_value = "aap-demo-secret",
        hide_env_values = true
    )]
    panel_password: String,
    #[arg(long, env = "AAP_CALLBACK_USER", default_value = "panel-demo")]
    callback_user: String,
    #[arg(
        long,
        env = "AAP_CALLBACK_PASSWORD",
        default_value = "panel-demo-secret",
        hide_env_values = true
    )]
    callback_password: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let args = Args::parse();
    if args.aap.is_empty()
        && args.aagi.is_none()
        && args.deskcoll.is_none()
        && args.julo.is_none()
        && args.bcs.is_none()
    {
        bail!("nothing to simulate: give --aap CODE=ADDR, --aagi ADDR or --deskcoll ADDR");
    }
    let _bcs = match args.bcs {
        Some(addr) => {
            let config = BcsSimConfig {
                client_id: args.bcs_client_id.clone(),
                client_secret: args.bcs_client_secret.clone(),
            };
            let sim = BcsSimulator::start(config, addr).await?;
            tracing::info!("BCS simulated at {}", sim.base_url());
            Some(sim)
        }
        None => None,
    };
    let _julo = match args.julo {
        Some(addr) => {
            let config = JuloSimConfig {
                secret_key: args.julo_secret_key.clone(),
                username: args.julo_username.clone(),
            };
            let sim = JuloSimulator::start(config, addr).await?;
            tracing::info!("JULO simulated at {}", sim.base_url());
            Some(sim)
        }
        None => None,
    };
    let _deskcoll = match args.deskcoll {
        Some(addr) => {
            let config = DeskCollSimConfig {
                username: args.deskcoll_user.clone(),
                password: args.deskcoll_password.clone(),
                hash_key: args.deskcoll_hash_key.clone(),
                results_path: "/deskcoll/result".into(),
                tasks_path: "/deskcoll/tasks".into(),
            };
            let sim = DeskCollSimulator::start(config, addr).await?;
            tracing::info!("MNC Desk Coll simulated at {}", sim.base_url());
            Some(sim)
        }
        None => None,
    };
    let _aagi = match args.aagi {
        Some(addr) => {
            let sim = AagiSimulator::start(
                AagiSimConfig {
                    token: Some(args.aagi_token.clone()),
                },
                addr,
            )
            .await?;
            tracing::info!("AAGI motor simulated at {}", sim.base_url());
            Some(sim)
        }
        None => None,
    };
    let mut sims = Vec::new();
    for spec in &args.aap {
        let (code, addr) = spec
            .split_once('=')
            .with_context(|| format!("`{spec}`: expected CODE=ADDR"))?;
        let addr: SocketAddr = addr.parse().with_context(|| format!("`{spec}`: bad address"))?;
        let config = AapSimConfig {
            panel_code: code.to_string(),
            life: code.starts_with('A'),
            username: args.panel_user.clone(),
            password: args.panel_password.clone(),
            callback_base: Some(format!("{}/{code}", args.callback_base.trim_end_matches('/'))),
            callback_username: args.callback_user.clone(),
            callback_password: args.callback_password.clone(),
        };
        let sim = AapSimulator::start(config, addr).await?;
        tracing::info!("AAP panel {code} simulated at {}", sim.base_url());
        sims.push(sim);
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
