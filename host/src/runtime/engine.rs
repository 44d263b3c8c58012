//! The engine: component model, async, epoch interruption and the pooling allocator.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use wasmtime::Result;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::error::Context as _;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::Adapter;
use super::state::HostState;
use crate::config::SandboxConfig;

/// How often the epoch advances: the granularity of CPU deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each pooled memory and table reset in place instead of returned to the kernel. What
/// an instance wrote past it goes back to the kernel when the instance ends, so a slot that a
/// burst used and that then sits unused holds at most this much (and a host after a burst of
/// thousands of calls holds that many times this).
const KEEP_RESIDENT: usize = 128 << 10;

/// Bytes of each pooled fiber stack (the native stack an instance runs on, its host calls
/// included) zeroed in place when the instance ends; what it used deeper goes back to the kernel.
/// Without it a stack keeps every page it ever touched.
const STACK_KEEP_RESIDENT: usize = 64 << 10;

/// The versions of the `panelgate:adapter` contract this host runs, oldest first.
pub const SUPPORTED_WIT: [&str; 3] = ["1.0.0", "1.1.0", "2.0.0"];

const OPERATIONS_EXPORT: &str = "panelgate:adapter/operations@";

/// The engine and the linker every panel shares, and the host's sandbox settings.
///
/// The engine can be renewed ([`Runtime::renew`]): after a burst of calls the instance pool
/// keeps every slot the burst used resident (a fiber stack's top, the pages of a memory the
/// instance wrote), and wasmtime has no call that gives them back. A new engine has a fresh,
/// empty pool; the adapters move onto it ([`Runtime::rehome`]), calls already running finish
/// on the old one, and the old pool is unmapped when the last of them ends.
#[derive(Clone)]
pub struct Runtime {
    current: Arc<RwLock<Arc<Generation>>>,
    config: Arc<Config>,
    /// Faults in a row that quarantine an adapter (0: never).
    pub quarantine_after: u32,
    /// Operations that may wait for a panel's slot, and for how long (admission control).
    pub admission: Admission,
    /// The host's metrics: every panel and every request count here.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The memory each pooled instance slot holds: no panel may ask for more.
    pub max_memory_mib: u64,
}

/// What moves onto a renewed engine ([`Runtime::renew`]), each component once: a panel's
/// adapter and the registered module it runs share one compiled copy, as they did before.
pub struct Carrying {
    pub generation: Arc<Generation>,
    /// Each component carried, with what it became. Holding the old one keeps its code where
    /// it is, so that no other component can take its address while this lives.
    carried: Mutex<Vec<(Component, Component)>>,
}

impl Carrying {
    /// `component` on the new engine, carried over once however often it is asked for.
    pub fn carry(&self, component: &Component) -> Result<Component> {
        let mut carried = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        let code = component.image_range().start;
        if let Some((_, new)) = carried.iter().find(|(old, _)| old.image_range().start == code) {
            return Ok(new.clone());
        }
        let new = self.generation.adopt(component)?;
        carried.push((component.clone(), new.clone()));
        Ok(new)
    }
}

/// One engine, its instance pool and the linker built for it. A component, an instance and a
/// store belong to one engine and cannot be used with another.
pub struct Generation {
    pub engine: Engine,
    pub linker: Linker<HostState>,
}

impl Generation {
    fn new(config: &Config) -> Result<Generation> {
        let engine = Engine::new(config).context("creating the wasmtime engine")?;
        spawn_epoch_ticker(&engine);
        let mut linker = Linker::<HostState>::new(&engine);
        link_granted_wasi(&mut linker).context("linking WASI")?;
        Adapter::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .context("linking panelgate capabilities")?;
        // The 1.x contracts' imports, converted to the 2.0 capabilities (`runtime::compat`).
        super::bindings::v1_1::Adapter::add_to_linker::<HostState, HasSelf<HostState>>(
            &mut linker,
            |state| state,
        )
        .context("linking the 1.x capabilities")?;
        Ok(Generation { engine, linker })
    }

    /// `component` on this engine: itself if it is built for it, else its compiled code carried
    /// over (serialized and loaded again, without compiling).
    #[allow(unsafe_code)]
    pub fn adopt(&self, component: &Component) -> Result<Component> {
        if Engine::same(component.engine(), &self.engine) {
            return Ok(component.clone());
        }
        let code = component.serialize().context("serializing a compiled adapter")?;
        // SAFETY: `code` is what `serialize` just produced, in this process, from an engine of
        // the very configuration this one has: it is no untrusted input.
        unsafe { Component::deserialize(&self.engine, &code) }.context("loading a compiled adapter")
    }
}

impl Runtime {
    /// `max_memory_mib` sizes the pool's memory slots: the largest limit of any panel.
    pub fn new(sandbox: &SandboxConfig, max_memory_mib: u64) -> Result<Runtime> {
        let mut config = Config::new();
        if let Some(dir) = &sandbox.cache_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| wasmtime::format_err!("creating the cache folder {}: {e}", dir.display()))?;
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            config.cache(Some(
                wasmtime::Cache::new(cache).context("opening the compiled-adapter cache")?,
            ));
        }
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        let instances = sandbox.pool_instances.max(1);
        pool.total_component_instances(instances);
        pool.total_core_instances(instances * 8);
        pool.total_memories(instances * 2);
        pool.total_tables(instances * 4);
        // One fiber stack per instance running (the default, 1,000, capped the calls in flight).
        pool.total_stacks(instances);
        config.async_stack_zeroing(true);
        pool.async_stack_keep_resident(STACK_KEEP_RESIDENT);
        let max_memory = (max_memory_mib.max(sandbox.memory_mib) as usize) << 20;
        pool.max_memory_size(max_memory);
        // Each memory slot reserves its limit (and a guard), not the 4 GiB that lets compiled
        // code skip bounds checks: thousands of slots at 4 GiB each would take tens of TiB of
        // address space, more than a process has room for when several hosts share one (the
        // tests). Bounds are checked in the compiled code instead.
        config.memory_reservation(max_memory as u64);
        // An instance's memory and tables go back to the pool reset in place: the kernel's
        // `PAGEMAP_SCAN` (Linux 6.7+) finds the pages the instance wrote, and those up to the
        // limits below are restored with `memset` rather than dropped with `madvise`. Dropping
        // them cost a TLB shootdown on every core per instance, and a page fault per page on
        // the next use (BENCHMARKS.md: instantiate + call 31-44 µs before, 15 µs after).
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.linear_memory_keep_resident(KEEP_RESIDENT);
        pool.table_keep_resident(KEEP_RESIDENT);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let generation = Generation::new(&config)?;
        Ok(Runtime {
            current: Arc::new(RwLock::new(Arc::new(generation))),
            config: Arc::new(config),
            quarantine_after: sandbox.quarantine_after,
            admission: Admission {
                queue: sandbox.panel_queue,
                wait: std::time::Duration::from_millis(sandbox.queue_wait_ms),
            },
            metrics: Arc::new(crate::metrics::Metrics::new(instances)),
            max_memory_mib: max_memory_mib.max(sandbox.memory_mib),
        })
    }

    /// The engine and linker new instances are made with now. Whoever starts with it keeps it
    /// to the end: a renewal never changes the engine under a running call.
    pub fn current(&self) -> Arc<Generation> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The current engine.
    pub fn engine(&self) -> Engine {
        self.current().engine.clone()
    }

    /// Replaces the engine with a new one of the same configuration, and so its instance pool
    /// with an empty one. What was built on the old engine keeps working on it; what is to
    /// move is carried over with the answer, and the old engine goes once nothing holds it.
    pub fn renew(&self) -> Result<Carrying> {
        let generation = Arc::new(Generation::new(&self.config)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = generation.clone();
        Ok(Carrying {
            generation,
            carried: Mutex::default(),
        })
    }

    /// `component` on the current engine ([`Generation::adopt`]).
    pub fn rehome(&self, component: &Component) -> Result<Component> {
        self.current().adopt(component)
    }

    /// Compiles an adapter from its bytes and tells which contract version it targets, or
    /// says in plain words why the bytes are not an adapter this host can run.
    pub fn compile_adapter(&self, bytes: &[u8]) -> std::result::Result<(Component, &'static str), String> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err("not a WebAssembly file (it lacks the `\\0asm` header)".into());
        }
        if bytes[4..8] == [1, 0, 0, 0] {
            return Err(
                "a core WebAssembly module, not a component: build the adapter for \
                        `wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
                    .into(),
            );
        }
        let engine = self.engine();
        let component =
            Component::new(&engine, bytes).map_err(|e| format!("not a valid component: {e:#}"))?;
        refuse_ungranted_imports(&engine, &component)?;
        let version = exported_version(&engine, &component).ok_or_else(|| {
            format!(
                "the component exports no `{OPERATIONS_EXPORT}...` interface: it is not a panelgate adapter"
            )
        })?;
        let wit = SUPPORTED_WIT.iter().find(|v| **v == version).ok_or_else(|| {
            format!(
                "the component targets `panelgate:adapter@{version}`; this host runs adapters for {}",
                SUPPORTED_WIT
                    .map(|v| format!("`panelgate:adapter@{v}`"))
                    .join(" and ")
            )
        })?;
        Ok((component, wit))
    }

    /// Compiles a component from a file.
    pub fn compile_file(&self, path: &Path) -> Result<Component> {
        Component::from_file(&self.engine(), path).with_context(|| format!("compiling {}", path.display()))
    }
}

/// The WASI interfaces an adapter may import, by package: clocks, randomness, the streams the
/// others hand out, and the CLI's stdio, environment (empty: the host grants none) and exit,
/// which every `wasm32-wasip2` build imports. No filesystem, no sockets: a partner is reached
/// only through `panelgate:adapter/http`, where the allow-list and the credentials are applied.
const GRANTED_WASI: [&str; 4] = ["wasi:clocks/", "wasi:random/", "wasi:io/", "wasi:cli/"];

/// Links [`GRANTED_WASI`] and nothing else of WASI, so that even a module that slipped past
/// [`refuse_ungranted_imports`] could not be instantiated with a socket or a file.
fn link_granted_wasi(linker: &mut Linker<HostState>) -> Result<()> {
    use wasmtime_wasi::WasiView as _;
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::p2::bindings::{cli, random};
    use wasmtime_wasi::random::WasiRandom;
    // Streams, polls, clocks, `random`, stdin, stdout and stderr.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    let l = linker;
    random::insecure::add_to_linker::<HostState, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    Ok(())
}

/// Refuses a component that imports anything but the adapter contract and [`GRANTED_WASI`],
/// naming the import: the sandbox grants no files and no sockets, and says so at push rather
/// than when a panel first loads the module.
fn refuse_ungranted_imports(engine: &Engine, component: &Component) -> std::result::Result<(), String> {
    let ungranted: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| {
            !name.starts_with("panelgate:adapter/") && !GRANTED_WASI.iter().any(|p| name.starts_with(p))
        })
        .collect();
    let Some(first) = ungranted.first() else {
        return Ok(());
    };
    let why = if first.starts_with("wasi:sockets/") {
        "adapters get no sockets: a partner is reached only through `panelgate:adapter/http`"
    } else if first.starts_with("wasi:filesystem/") {
        "adapters get no filesystem: what an adapter needs is built into it or read with `config.get`"
    } else {
        "the sandbox grants only `panelgate:adapter` and WASI clocks, random, io and cli"
    };
    Err(format!(
        "the component imports `{first}`{}; {why} (build Python adapters with \
         `componentize-py componentize --stub-wasi`)",
        match ungranted.len() {
            1 => String::new(),
            n => format!(" and {} more ({})", n - 1, ungranted[1..].join(", ")),
        }
    ))
}

/// The version of `panelgate:adapter/operations` a component exports, whatever it is.
fn exported_version(engine: &Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .exports(engine)
        .find_map(|(name, _)| name.strip_prefix(OPERATIONS_EXPORT).map(str::to_string))
}

/// The supported contract version a component targets, if any.
pub fn contract_version(engine: &Engine, component: &Component) -> Option<&'static str> {
    let version = exported_version(engine, component)?;
    SUPPORTED_WIT.iter().find(|v| **v == version).copied()
}

/// Advances the epoch on a thread of its own until the engine is dropped.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("panelgate-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

/// How many operations may wait for one of a panel's `panel_concurrency` slots, and for how
/// long: past either, the operation is refused at once (`503 overloaded`, `Retry-After`) rather
/// than queued for longer than a portal would wait.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    pub queue: usize,
    pub wait: std::time::Duration,
}
