//! The host's `bindgen!`s: one per supported version of the `panelgate:adapter` contract.
//!
//! 2.0.0 maps the `types` interface onto [`crate::model`], the canonical model; its import
//! traits are the ones the capabilities implement. The 1.x contracts map `types` onto
//! [`crate::model::v1`]; `runtime::compat` implements their imports by converting to the
//! 2.0 ones, and converts their operations' values through JSON. A 1.0.0 component's imports
//! resolve to the semver-compatible 1.1.0 definitions; what differs is its exports.

/// `panelgate:adapter@2.0.0`, the current contract.
pub mod v2_0 {
    wasmtime::component::bindgen!({
        path: "../wit/2.0.0",
        world: "adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "panelgate:adapter/types": crate::model,
        },
    });
}

/// `panelgate:adapter@1.1.0`, frozen.
pub mod v1_1 {
    wasmtime::component::bindgen!({
        path: "../wit/1.1.0",
        world: "adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "panelgate:adapter/types": crate::model::v1,
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
            "panelgate:adapter/types": crate::model::v1,
            "panelgate:adapter/http": super::v1_1::panelgate::adapter::http,
            "panelgate:adapter/credentials": super::v1_1::panelgate::adapter::credentials,
            "panelgate:adapter/config": super::v1_1::panelgate::adapter::config,
            "panelgate:adapter/log": super::v1_1::panelgate::adapter::log,
        },
    });
}

pub use v2_0::*;
