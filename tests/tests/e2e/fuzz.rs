//! Property tests of the canonical request parsing and the callback path: random JSON and
//! random mutations of every real example, posted to the real host, never get a 500, never
//! crash it, and always get an answer in the API's one JSON shape.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::common::*;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!("2024-02-30")),
        Just(json!("-1")),
        Just(json!("1e309")),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Every leaf's path in `value`, e.g. `["parties", 0, "detail"]`.
fn paths(value: &Value, prefix: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = prefix.clone();
                p.push(json!(k));
                out.push(p.clone());
                paths(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(json!(i));
                out.push(p.clone());
                paths(v, p, out);
            }
        }
        _ => {}
    }
}

/// `value` with the node at `path` replaced by `with`, or removed when `with` is `None`.
fn mutate(mut value: Value, path: &[Value], with: Option<Value>) -> Value {
    let Some((last, parents)) = path.split_last() else {
        return with.unwrap_or(Value::Null);
    };
    let mut node = &mut value;
    for step in parents {
        node = match (node, step) {
            (Value::Object(m), Value::String(k)) => m.get_mut(k.as_str()).unwrap(),
            (Value::Array(a), Value::Number(i)) => &mut a[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    match (node, last, with) {
        (Value::Object(m), Value::String(k), Some(v)) => {
            m.insert(k.clone(), v);
        }
        (Value::Object(m), Value::String(k), None) => {
            m.remove(k.as_str());
        }
        (Value::Array(a), Value::Number(i), Some(v)) => a[i.as_u64().unwrap() as usize] = v,
        (Value::Array(a), Value::Number(i), None) => {
            a.remove(i.as_u64().unwrap() as usize);
        }
        _ => {}
    }
    value
}

/// (route, example) pairs: each example under the route it belongs to.
fn targets() -> Vec<(&'static str, Value)> {
    vec![
        ("/v1/panels/A03/quotes", example("A03", "quote")),
        ("/v1/panels/A03/policies", example("A03", "accept-cac")),
        ("/v1/panels/A03/policies", example("A03", "accept-cbc")),
        ("/v1/panels/A03/claims", example("A03", "claim")),
        ("/v1/panels/aagi-motor/quotes", example("aagi-motor", "quote")),
        ("/v1/panels/aagi-motor/policies", example("aagi-motor", "accept")),
        ("/v1/panels/bcs/quotes", example("bcs", "quote-life")),
        (
            "/v1/panels/bcs/notifications",
            example("bcs", "notify-status-submit"),
        ),
        ("/v1/panels/julo/policies", example("julo", "accept")),
        (
            "/v1/panels/A03/validations",
            json!({ "quote": example("A03", "quote") }),
        ),
    ]
}

/// The answer is one of the API's shapes and not a server error of the host's own.
fn check(route: &str, sent: &Value, status: StatusCode, body: &Value) -> Result<(), TestCaseError> {
    prop_assert!(
        status != StatusCode::INTERNAL_SERVER_ERROR,
        "{route} answered 500 to {sent}: {body}"
    );
    if status.is_success() {
        prop_assert!(body["journal_id"].is_string(), "{route}: {body}");
    } else {
        prop_assert!(
            body["error"]["code"].is_string() && body["error"]["message"].is_string(),
            "{route} answered {status} outside the error shape: {body}"
        );
    }
    Ok(())
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    })
}

#[test]
fn mutated_examples_never_get_a_500() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(start());
    let targets = targets();
    let strategy = (
        0..targets.len(),
        any::<prop::sample::Index>(),
        prop::option::of(any_json()),
    );
    runner()
        .run(&strategy, |(t, at, with)| {
            let (route, example) = &targets[t];
            let mut all = Vec::new();
            paths(example, Vec::new(), &mut all);
            let path = &all[at.index(all.len())];
            let sent = mutate(example.clone(), path, with);
            let (status, body) = rt.block_on(h.post(route, &sent));
            check(route, &sent, status, &body)
        })
        .unwrap();
}

#[test]
fn random_bodies_and_callbacks_never_get_a_500() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(start());
    let routes = [
        "/v1/panels/A03/quotes",
        "/v1/panels/A03/policies",
        "/v1/panels/julo/policies",
        "/v1/panels/bcs/notifications",
        "/v1/panels/A03/validations",
    ];
    runner()
        .run(&(0..routes.len(), any_json()), |(r, sent)| {
            let (status, body) = rt.block_on(h.post(routes[r], &sent));
            check(routes[r], &sent, status, &body)
        })
        .unwrap();
    // The callback path: random JSON to each of AAP's callbacks, with the panel's credentials.
    let callbacks = [
        "post-status-pertanggung-cbc",
        "post-status-pembatalan",
        "post-status",
    ];
    runner()
        .run(&(0..callbacks.len(), any_json()), |(c, sent)| {
            let response = rt.block_on(
                h.client
                    .post(h.url(&format!("/callbacks/A03/{}", callbacks[c])))
                    .basic_auth(CALLBACK_USER, Some(CALLBACK_PASSWORD))
                    .json(&sent)
                    .send(),
            );
            let status = response.unwrap().status();
            prop_assert!(
                status.as_u16() < 500,
                "callback {} answered {status} to {sent}",
                callbacks[c]
            );
            Ok(())
        })
        .unwrap();
    let (_, verify) = rt.block_on(h.admin_get("/admin/journal/verify"));
    assert_eq!(verify["intact"], true);
}
