//! Adapters built against the 1.x contracts, run by a 2.0 host.
//!
//! Their imports are the 2.0 capabilities, reached by converting a handful of small values.
//! Their operations take and return 1.1.0's types ([`crate::model::v1`]): the host converts
//! the canonical value through its JSON, which 2.0 keeps a superset of 1.1's. On the way down
//! fields 1.x lacks are dropped (a 1.x adapter never read them); a value 1.x cannot say (a role
//! or a kind 2.0 added, say) is refused as an invalid request naming its path. On the way up
//! fields 2.0 added are absent.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::bindings::{v1_1, v2_0};
use crate::model::{AdapterError, FieldIssue};
use crate::runtime::HostState;

/// A canonical value as a 1.x adapter takes it, or the invalid request that says why it cannot.
pub fn down<T: Serialize, U: DeserializeOwned>(value: &T, wit: &str) -> Result<U, AdapterError> {
    let json = serde_json::to_value(value).map_err(|e| {
        AdapterError::InvalidRequest(vec![FieldIssue {
            path: String::new(),
            message: format!("cannot be rendered for the adapter: {e}"),
        }])
    })?;
    serde_path_to_error::deserialize(json).map_err(|e| {
        AdapterError::InvalidRequest(vec![FieldIssue {
            path: e.path().to_string(),
            message: format!(
                "this panel's adapter is built against panelgate:adapter@{wit}, which cannot carry it: {}",
                e.inner()
            ),
        }])
    })
}

/// A 1.x adapter's value as the canonical model holds it; an error is the adapter's fault.
pub fn up<T: Serialize, U: DeserializeOwned>(value: &T) -> Result<U, String> {
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize(json).map_err(|e| {
        format!(
            "a 1.x result the host cannot read at `{}`: {}",
            e.path(),
            e.inner()
        )
    })
}

mod imports {
    use super::*;
    use v1_1::panelgate::adapter as old;
    use v2_0::panelgate::adapter as new;

    fn pair(p: crate::model::v1::Pair) -> crate::model::Pair {
        crate::model::Pair {
            name: p.name,
            value: p.value,
        }
    }

    fn pair_back(p: crate::model::Pair) -> crate::model::v1::Pair {
        crate::model::v1::Pair {
            name: p.name,
            value: p.value,
        }
    }

    fn request(r: old::http::Request) -> new::http::Request {
        use new::http::{Method, RequestBody};
        new::http::Request {
            method: match r.method {
                old::http::Method::Get => Method::Get,
                old::http::Method::Post => Method::Post,
                old::http::Method::Put => Method::Put,
                old::http::Method::Patch => Method::Patch,
                old::http::Method::Delete => Method::Delete,
            },
            url: r.url,
            headers: r.headers.into_iter().map(pair).collect(),
            body: match r.body {
                old::http::RequestBody::Empty => RequestBody::Empty,
                old::http::RequestBody::Json(text) => RequestBody::Json(text),
                old::http::RequestBody::Bytes(bytes) => RequestBody::Bytes(bytes),
                old::http::RequestBody::Form(parts) => RequestBody::Form(
                    parts
                        .into_iter()
                        .map(|p| crate::model::FormPart {
                            name: p.name,
                            filename: p.filename,
                            content_type: p.content_type,
                            data: p.data,
                        })
                        .collect(),
                ),
            },
            credential: r.credential,
        }
    }

    fn http_error(e: new::http::HttpError) -> old::http::HttpError {
        use old::http::HttpError as Old;
        match e {
            new::http::HttpError::Denied(m) => Old::Denied(m),
            new::http::HttpError::UnknownCredential(m) => Old::UnknownCredential(m),
            new::http::HttpError::Timeout(m) => Old::Timeout(m),
            new::http::HttpError::Connect(m) => Old::Connect(m),
            new::http::HttpError::TooLarge(n) => Old::TooLarge(n),
            new::http::HttpError::Protocol(m) => Old::Protocol(m),
        }
    }

    impl old::http::Host for HostState {
        async fn send(
            &mut self,
            request: old::http::Request,
        ) -> wasmtime::Result<Result<old::http::Response, old::http::HttpError>> {
            let result = new::http::Host::send(self, super::imports::request(request)).await?;
            Ok(result
                .map(|r| old::http::Response {
                    status: r.status,
                    headers: r.headers.into_iter().map(pair_back).collect(),
                    body: r.body,
                })
                .map_err(http_error))
        }
    }

    impl old::credentials::Host for HostState {
        async fn digest(
            &mut self,
            credential: String,
            algorithm: old::credentials::DigestAlgorithm,
            data: String,
        ) -> wasmtime::Result<Result<String, String>> {
            use new::credentials::DigestAlgorithm as New;
            let algorithm = match algorithm {
                old::credentials::DigestAlgorithm::Sha256DataThenKey => New::Sha256DataThenKey,
                old::credentials::DigestAlgorithm::HmacSha256 => New::HmacSha256,
            };
            new::credentials::Host::digest(self, credential, algorithm, data).await
        }
    }

    impl old::config::Host for HostState {
        async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
            new::config::Host::get(self, key).await
        }
    }

    impl old::log::Host for HostState {
        async fn log(&mut self, level: old::log::Level, message: String) -> wasmtime::Result<()> {
            use new::log::Level as New;
            let level = match level {
                old::log::Level::Trace => New::Trace,
                old::log::Level::Debug => New::Debug,
                old::log::Level::Info => New::Info,
                old::log::Level::Warn => New::Warn,
                old::log::Level::Error => New::Error,
            };
            new::log::Host::log(self, level, message).await
        }
    }

    impl crate::model::v1::Host for HostState {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, v1};

    fn person_party(role: model::PartyRole, identity: model::IdentityKind) -> model::Party {
        model::Party {
            role,
            detail: model::PartyDetail::Person(model::Person {
                full_name: "Budi".into(),
                title: None,
                given_name: None,
                middle_name: None,
                family_name: None,
                second_family_name: None,
                birth_date: None,
                birth_place: None,
                gender: None,
                nationality: None,
                marital_status: None,
                occupation: None,
                education: None,
                mother_maiden_name: None,
                identities: vec![model::Identity {
                    kind: identity,
                    number: "1".into(),
                    issuing_country: None,
                }],
                addresses: vec![],
                email: None,
                phones: vec![],
            }),
            relationship: None,
            share_percent: None,
        }
    }

    #[test]
    fn a_value_1x_knows_goes_down_and_what_it_does_not_is_refused_by_path() {
        let national = model::IdentityKind::NationalId;
        let insured: v1::Party = down(
            &person_party(model::PartyRole::Insured, national.clone()),
            "1.1.0",
        )
        .unwrap();
        assert_eq!(insured.role, v1::PartyRole::Insured);
        let refused = |party: model::Party| {
            let error = down::<_, v1::Party>(&party, "1.1.0").unwrap_err();
            let AdapterError::InvalidRequest(issues) = error else {
                panic!("not an invalid request: {error:?}")
            };
            assert!(
                issues[0].message.contains("panelgate:adapter@1.1.0"),
                "{}",
                issues[0].message
            );
            issues[0].path.clone()
        };
        // `driver` came in 2.0.
        assert_eq!(refused(person_party(model::PartyRole::Driver, national)), "role");
        // 1.1's closed `identity-kind` has `other`; 2.0's `other("kitas")` is not it.
        let kitas = model::IdentityKind::Other("kitas".into());
        assert_eq!(
            refused(person_party(model::PartyRole::Insured, kitas)),
            "detail.person.identities[0].kind"
        );
    }

    #[test]
    fn a_1x_result_comes_up_with_the_fields_2_0_added_absent() {
        let old = v1::Policy {
            number: "P-1".into(),
            certificate: None,
            start_date: Some("2026-01-01".into()),
            end_date: None,
            premium: None,
            document_link: None,
        };
        let new: model::Policy = up(&old).unwrap();
        assert_eq!(new.number, "P-1");
        assert!(new.breakdown.is_empty() && new.option_id.is_none() && new.extensions.is_none());
        // An `other` a 1.x adapter returned is 2.0's `other("other")`, and goes back as `other`.
        let kind: model::IdentityKind = up(&v1::IdentityKind::Other).unwrap();
        assert_eq!(kind, model::IdentityKind::Other("other".into()));
        assert_eq!(
            down::<_, v1::IdentityKind>(&kind, "1.1.0").unwrap(),
            v1::IdentityKind::Other
        );
    }
}
