//! The end-to-end suite, one test binary: the host, the partner simulators and the real compiled
//! adapters on loopback ports each test picks itself. One binary links wasmtime once, where a
//! file per suite linked it nine times.

mod common;

mod aagi;
mod aap;
mod bad_input;
mod bcs;
mod cluster;
mod crash;
mod deploy;
mod deskcoll;
mod examples;
mod fuzz;
mod hostile;
mod julo;
mod limits;
mod metrics;
mod partners;
mod sandbox;
mod soak;
mod store;
