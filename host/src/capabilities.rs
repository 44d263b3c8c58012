//! The host capabilities an adapter imports: the only doors out of the sandbox.
pub mod breaker;
pub mod config;
pub mod credentials;
pub mod http;
pub mod log;
pub mod oauth2;
pub mod signature;
