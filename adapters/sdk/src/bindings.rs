//! The guest bindings of the `adapter` world; nothing else lives here.
#![allow(unsafe_code, clippy::all)]

wit_bindgen::generate!({
    path: "wit",
    world: "adapter",
    pub_export_macro: true,
    export_macro_name: "export_operations",
    default_bindings_module: "panelgate_adapter_sdk::bindings",
    additional_derives: [PartialEq],
});
