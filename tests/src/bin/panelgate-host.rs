//! `panelgate`, built in the test package: end-to-end tests start it as a process of its own
//! (`CARGO_BIN_EXE_panelgate-host`) to kill it with SIGKILL mid-operation, and `./dev test` runs
//! schemathesis against it, as `cargo test` builds it.

#[tokio::main]
async fn main() {
    panelgate::cli::main().await
}
