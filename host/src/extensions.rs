//! Typed extensions: the JSON Schemas an adapter declares in `describe`, per operation, for the
//! `extensions` object it takes and returns.
//!
//! The host compiles them when it loads the adapter (a schema that does not compile refuses the
//! adapter), checks the portal's `extensions` against the input schema before the adapter runs
//! (422, one issue per path), checks the adapter's returned `extensions` against the output
//! schema (a mismatch is the adapter's fault), and publishes both in the panel's OpenAPI. An
//! adapter of the 2.x contract that declares no schema for an operation takes no extensions
//! there; a 1.x adapter, which cannot declare any, keeps taking any JSON object.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{Description, FieldIssue, Operation};

/// One direction's schema: its text as declared, and compiled.
struct Schema {
    value: Value,
    validator: jsonschema::Validator,
}

impl Schema {
    fn compile(text: &str, what: &str) -> Result<Schema, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("{what} is not JSON: {e}"))?;
        let validator = jsonschema::validator_for(&value)
            .map_err(|e| format!("{what} is not a valid JSON Schema: {e}"))?;
        Ok(Schema { value, validator })
    }

    /// Every place `instance` breaks the schema, with its path below `extensions`.
    fn issues(&self, instance: &Value) -> Vec<FieldIssue> {
        self.validator
            .iter_errors(instance)
            .map(|error| FieldIssue {
                path: dotted("extensions", error.instance_path().as_str()),
                message: error.to_string(),
            })
            .collect()
    }
}

/// A JSON pointer (`/driver/licences/0`) as the API spells a path (`driver.licences[0]`).
fn dotted(root: &str, pointer: &str) -> String {
    let mut path = root.to_string();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path.push('.');
            path.push_str(&segment);
        }
    }
    path
}

#[derive(Default)]
struct Pair {
    input: Option<Schema>,
    output: Option<Schema>,
}

/// An adapter's extension schemas, compiled.
#[derive(Default)]
pub struct ExtensionSchemas {
    by_operation: HashMap<Operation, Pair>,
    /// The adapter can declare schemas (2.x): an operation without one takes no extensions.
    declares: bool,
}

impl ExtensionSchemas {
    /// Compiles what `description` declares; `declares` is whether its contract lets it.
    pub fn compile(description: &Description, declares: bool) -> Result<ExtensionSchemas, String> {
        let mut by_operation: HashMap<Operation, Pair> = HashMap::new();
        for declared in &description.extensions {
            let operation = declared.operation;
            let name = operation.wit_name();
            if by_operation.contains_key(&operation) {
                return Err(format!("`describe` declares the extensions of `{name}` twice"));
            }
            let compile = |text: &Option<String>, direction: &str| {
                text.as_deref()
                    .map(|t| Schema::compile(t, &format!("the {direction} extension schema of `{name}`")))
                    .transpose()
            };
            by_operation.insert(
                operation,
                Pair {
                    input: compile(&declared.input, "input")?,
                    output: compile(&declared.output, "output")?,
                },
            );
        }
        Ok(ExtensionSchemas {
            by_operation,
            declares,
        })
    }

    /// Checks the portal's `extensions` (JSON text, or none) for `operation`.
    pub fn check_input(&self, operation: Operation, extensions: Option<&str>) -> Result<(), Vec<FieldIssue>> {
        let schema = self.by_operation.get(&operation).and_then(|p| p.input.as_ref());
        let Some(text) = extensions else {
            // An absent object is checked as an empty one: a schema may require fields.
            return match schema {
                Some(schema) => none_or(schema.issues(&Value::Object(Default::default()))),
                None => Ok(()),
            };
        };
        match schema {
            Some(schema) => {
                let value: Value = serde_json::from_str(text).map_err(|e| {
                    vec![FieldIssue {
                        path: "extensions".into(),
                        message: format!("is not JSON: {e}"),
                    }]
                })?;
                none_or(schema.issues(&value))
            }
            None if self.declares => Err(vec![FieldIssue {
                path: "extensions".into(),
                message: format!(
                    "this panel's adapter takes no extensions on `{}` (its `describe` declares none)",
                    operation.wit_name()
                ),
            }]),
            None => Ok(()),
        }
    }

    /// Checks the adapter's returned `extensions` for `operation`: the adapter's fault when
    /// they break its own declaration.
    pub fn check_output(&self, operation: Operation, extensions: Option<&str>) -> Result<(), String> {
        let Some(text) = extensions else {
            return Ok(());
        };
        let schema = self.by_operation.get(&operation).and_then(|p| p.output.as_ref());
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("its `extensions` are not JSON: {e}"))?;
        if !value.is_object() {
            return Err("its `extensions` are not a JSON object".into());
        }
        match schema {
            Some(schema) => match schema.issues(&value).first() {
                Some(issue) => Err(format!(
                    "its `extensions` break the output schema it declares for `{}`: {}: {}",
                    operation.wit_name(),
                    issue.path,
                    issue.message
                )),
                None => Ok(()),
            },
            None if self.declares => Err(format!(
                "it returned `extensions` on `{}`, for which it declares no output schema",
                operation.wit_name()
            )),
            None => Ok(()),
        }
    }

    /// The input schema of `operation`, as declared.
    pub fn input(&self, operation: Operation) -> Option<&Value> {
        self.by_operation
            .get(&operation)?
            .input
            .as_ref()
            .map(|s| &s.value)
    }

    /// The output schema of `operation`, as declared.
    pub fn output(&self, operation: Operation) -> Option<&Value> {
        self.by_operation
            .get(&operation)?
            .output
            .as_ref()
            .map(|s| &s.value)
    }

    /// Whether the adapter declares its extensions (a 2.x adapter).
    pub fn declares(&self) -> bool {
        self.declares
    }
}

fn none_or(issues: Vec<FieldIssue>) -> Result<(), Vec<FieldIssue>> {
    if issues.is_empty() { Ok(()) } else { Err(issues) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExtensionSchema;

    fn description(extensions: Vec<ExtensionSchema>) -> Description {
        Description {
            name: "t".into(),
            version: "1.0.0".into(),
            spec: "t".into(),
            operations: vec![Operation::Quote],
            config_keys: vec![],
            credentials: vec![],
            callbacks: vec![],
            lookups: vec![],
            extensions,
        }
    }

    const DRIVER: &str = r#"{"type": "object", "additionalProperties": false,
        "properties": {"licences": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z]{2}[0-9]+$"}}},
        "required": ["licences"]}"#;

    #[test]
    fn input_is_checked_by_path_and_an_undeclared_operation_takes_none() {
        let schemas = ExtensionSchemas::compile(
            &description(vec![ExtensionSchema {
                operation: Operation::Quote,
                input: Some(DRIVER.into()),
                output: None,
            }]),
            true,
        )
        .unwrap();
        assert!(
            schemas
                .check_input(Operation::Quote, Some(r#"{"licences": ["SI123"]}"#))
                .is_ok()
        );
        let issues = schemas
            .check_input(
                Operation::Quote,
                Some(r#"{"licences": ["SI123", "x"], "more": 1}"#),
            )
            .unwrap_err();
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"extensions.licences[1]"), "{issues:?}");
        assert!(paths.contains(&"extensions"), "{issues:?}");
        // Absent is checked as `{}`: `licences` is required.
        assert!(schemas.check_input(Operation::Quote, None).is_err());
        assert!(schemas.check_input(Operation::Accept, Some("{}")).is_err());
        assert!(schemas.check_input(Operation::Accept, None).is_ok());
        // A 1.x adapter declares nothing and takes any object.
        let old = ExtensionSchemas::compile(&description(vec![]), false).unwrap();
        assert!(old.check_input(Operation::Accept, Some(r#"{"x": 1}"#)).is_ok());
    }

    #[test]
    fn a_schema_that_does_not_compile_refuses_the_adapter() {
        let error = ExtensionSchemas::compile(
            &description(vec![ExtensionSchema {
                operation: Operation::Quote,
                input: Some(r#"{"type": "no-such-type"}"#.into()),
                output: None,
            }]),
            true,
        )
        .err()
        .unwrap();
        assert!(error.contains("input extension schema of `quote`"), "{error}");
    }

    #[test]
    fn output_that_breaks_the_declaration_is_the_adapters_fault() {
        let schemas = ExtensionSchemas::compile(
            &description(vec![ExtensionSchema {
                operation: Operation::Quote,
                input: None,
                output: Some(r#"{"type": "object", "properties": {"ncd": {"type": "integer"}}}"#.into()),
            }]),
            true,
        )
        .unwrap();
        assert!(
            schemas
                .check_output(Operation::Quote, Some(r#"{"ncd": 20}"#))
                .is_ok()
        );
        assert!(
            schemas
                .check_output(Operation::Quote, Some(r#"{"ncd": "20"}"#))
                .is_err()
        );
        assert!(schemas.check_output(Operation::Accept, Some("{}")).is_err());
    }
}
