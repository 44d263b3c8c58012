//! The `panelgate` binary: the command line of [`panelgate::cli`].

/// mimalloc: under load glibc's `malloc` and `free` took 13-14 % of the host's CPU (issue 6,
/// BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    match panelgate::memory::runtime(None) {
        Ok(runtime) => runtime.block_on(panelgate::cli::main()),
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            std::process::exit(1);
        }
    }
}
