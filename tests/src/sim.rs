//! One simulator per partner spec.
pub mod aagi;
pub mod aap;
pub mod bcs;
pub mod deskcoll;
pub mod julo;
