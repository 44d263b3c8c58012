//! The `panelgate` binary: the command line of [`panelgate::cli`].

#[tokio::main]
async fn main() {
    panelgate::cli::main().await
}
