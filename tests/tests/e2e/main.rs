//! The end-to-end suite, one test binary: the host, the partner simulators and the real compiled
//! adapters on loopback ports each test picks itself. One binary links wasmtime once, where a
//! file per suite linked it nine times.

mod common;

mod aagi;
mod aap;
mod auth;
mod authoring;
mod bad_input;
mod bcs;
mod callbacks;
mod cluster;
mod console;
mod contract;
mod crash;
mod credentials;
mod deploy;
mod deskcoll;
mod examples;
mod faults;
mod fuzz;
mod hostile;
mod http_errors;
mod julo;
mod legacy;
mod limits;
mod listener;
mod metrics;
mod oci;
mod partners;
mod paths;
mod runtime_panels;
mod sandbox;
mod signatures;
mod soak;
mod store;
mod twins;
mod webhooks;
