//! Partner simulators, strict to each partner's spec, and helpers for end-to-end tests.
pub mod faults;
pub mod pg_proxy;
pub mod registry;
pub mod sim;
pub mod webhook_receiver;

/// Paths of the compiled adapters and test guests (built by `build.rs`).
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}
