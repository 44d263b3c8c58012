//! The wasmtime side: one engine, one linker, a pre-instantiated adapter per panel, and a
//! fresh store and instance for every operation.

pub mod bindings;
mod compat;
mod engine;
mod output;
mod panel;
mod state;

pub use engine::{Carrying, Runtime, SUPPORTED_WIT};
pub use panel::WasmAdapter;
pub use state::{Exchange, HostState, KnownGood, PanelContext, Recording};
