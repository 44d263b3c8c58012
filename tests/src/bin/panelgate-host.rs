//! `panelgate`, built in the test package: end-to-end tests start it as a process of its own
//! (`CARGO_BIN_EXE_panelgate-host`) to kill it with SIGKILL mid-operation.

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let code = match panelgate::cli::run(std::env::args_os()).await {
        Ok(code) => code,
        Err(e) => {
            // The causes, one line, not a backtrace: this is what an operator reads.
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
