//! The host's `bindgen!`s: one per supported version of the `panelgate:adapter` contract.
//!
//! Both map the `types` interface onto [`crate::model`] (a minor version only adds types, so
//! the 1.0.0 types are the 1.1.0 ones), and only the newest version's imports are put in the
//! linker: wasmtime resolves a 1.0.0 component's imports to the semver-compatible 1.1.0
//! definitions. What differs is the exports: each version has its own `operations`.

/// `panelgate:adapter@1.1.0`, the current contract; its import traits are the ones the
/// capabilities implement.
pub mod v1_1 {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        world: "adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "panelgate:adapter/types": crate::model,
        },
    });
}

/// `panelgate:adapter@1.0.0`, frozen: used for its exports only.
pub mod v1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/1.0.0",
        world: "adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "panelgate:adapter/types": crate::model,
            "panelgate:adapter/http": super::v1_1::panelgate::adapter::http,
            "panelgate:adapter/credentials": super::v1_1::panelgate::adapter::credentials,
            "panelgate:adapter/config": super::v1_1::panelgate::adapter::config,
            "panelgate:adapter/log": super::v1_1::panelgate::adapter::log,
        },
    });
}

pub use v1_1::*;
