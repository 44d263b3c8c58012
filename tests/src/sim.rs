//! One simulator per partner spec.
pub mod aagi;
pub mod aap;
pub mod auth;
pub mod bcs;
pub mod deskcoll;
pub mod julo;
