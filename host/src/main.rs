//! The `panelgate` binary: the command line of [`panelgate::cli`].

/// mimalloc: under load glibc's `malloc` and `free` took 13-14 % of the host's CPU (issue 6,
/// BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    panelgate::cli::main().await
}
