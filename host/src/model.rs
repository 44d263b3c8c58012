//! The canonical model: the WIT `types` interface as Rust types.
//!
//! `build.rs` generates the types from `wit/2.0.0/types.wit`; the runtime's `bindgen!` maps the
//! WIT interface onto this module, so the portal's JSON and a 2.x adapter's values are one type.
//! [`v1`] holds the 1.x contracts' types, which the runtime reaches through their JSON.

// wasmtime's `ComponentType`/`Lift`/`Lower` derives expand to `unsafe impl`s whose layout
// they compute themselves; nothing here is hand-written unsafe code.
#![allow(unsafe_code)]

use wasmtime::component::{ComponentType, HasData, Lift, Linker, Lower};

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// The `types` interface has no functions; the generated linker code still asks for a `Host`.
pub trait Host {}

impl<T: ?Sized + Host> Host for &mut T {}

/// Mirror of the trait bindgen generates for interfaces, so `with` can point here.
pub trait HostWithStore<T>: HasData {}

impl<T, D: HasData> HostWithStore<T> for D {}

/// Defines the (function-less) `types` instance a component imports.
pub fn add_to_linker<T, D>(
    linker: &mut Linker<T>,
    _host_getter: fn(&mut T) -> D::Data<'_>,
) -> wasmtime::Result<()>
where
    D: HostWithStore<T>,
    for<'a> D::Data<'a>: Host,
    T: 'static + Send,
{
    linker.instance(INTERFACE)?;
    Ok(())
}

/// The types of `panelgate:adapter@1.1.0` (1.0.0's are a subset), for adapters built against
/// the 1.x contracts. They are reached only through the canonical model's JSON (see
/// `runtime::compat`): fields 1.x lacks are dropped on the way down, and absent on the way up.
pub mod v1 {
    #![allow(missing_docs)]

    use wasmtime::component::{ComponentType, HasData, Lift, Linker, Lower};

    include!(concat!(env!("OUT_DIR"), "/model_v1.rs"));

    /// The `types` interface has no functions; the generated linker code still asks for a `Host`.
    pub trait Host {}

    impl<T: ?Sized + Host> Host for &mut T {}

    /// Mirror of the trait bindgen generates for interfaces, so `with` can point here.
    pub trait HostWithStore<T>: HasData {}

    impl<T, D: HasData> HostWithStore<T> for D {}

    /// Defines the (function-less) `types` instance a 1.x component imports.
    pub fn add_to_linker<T, D>(
        linker: &mut Linker<T>,
        _host_getter: fn(&mut T) -> D::Data<'_>,
    ) -> wasmtime::Result<()>
    where
        D: HostWithStore<T>,
        for<'a> D::Data<'a>: Host,
        T: 'static + Send,
    {
        linker.instance(INTERFACE)?;
        Ok(())
    }
}

impl std::fmt::Display for AdapterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdapterError::InvalidRequest(issues) => {
                write!(f, "invalid request:")?;
                for issue in issues {
                    write!(f, " {}: {};", issue.path, issue.message)?;
                }
                Ok(())
            }
            AdapterError::Rejected(r) => write!(f, "rejected by partner ({}): {}", r.code, r.message),
            AdapterError::PartnerBadRequest(m) => write!(f, "partner refused the request as malformed: {m}"),
            AdapterError::Unauthorized(m) => write!(f, "partner refused the panel's credentials: {m}"),
            AdapterError::PartnerUnavailable(m) => write!(f, "partner unavailable: {m}"),
            AdapterError::PartnerTimeout(m) => write!(f, "partner timed out: {m}"),
            AdapterError::PartnerProtocol(m) => write!(f, "partner protocol error: {m}"),
            AdapterError::NotFound(m) => write!(f, "not found at partner: {m}"),
            AdapterError::Conflict(m) => write!(f, "conflict: {m}"),
            AdapterError::Unsupported(m) => write!(f, "unsupported: {m}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// Bytes as base64 text in JSON.
pub mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// `extensions`: a JSON object in the portal's JSON, its text across the WIT boundary.
pub mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match text {
            None => s.serialize_none(),
            Some(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
                value.serialize(s)
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None => Ok(None),
            Some(value @ serde_json::Value::Object(_)) => Ok(Some(value.to_string())),
            Some(_) => Err(serde::de::Error::custom("extensions must be a JSON object")),
        }
    }
}
