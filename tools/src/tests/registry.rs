//! The registry: every tool with its schema, and name dispatch.

use serde_json::{Value, json};

use super::{check_invalid_parameters, check_rejected};
use crate::{Tool, registry, registry_json};

#[test]
fn the_registry_lists_every_tool_once_in_order() {
    let names: Vec<&str> = registry().iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "execute",
            "process_output",
            "process_list",
            "process_signal",
            "read_file",
            "edit_files",
            "write_file"
        ]
    );
    for tool in Tool::ALL {
        assert_eq!(tool.name().parse::<Tool>(), Ok(tool));
    }
}

/// Checks that `schema` is an object schema whose required keys exist,
/// recursively through arrays of objects.
fn check_object_schema(path: &str, schema: &Value) {
    assert_eq!(schema["type"], json!("object"), "{path}");
    let properties = schema["properties"].as_object().expect(path);
    for required in schema["required"].as_array().expect(path) {
        let key = required.as_str().expect(path);
        assert!(
            properties.contains_key(key),
            "{path}: required {key} missing"
        );
    }
    for (key, property) in properties {
        let where_ = format!("{path}.{key}");
        assert!(property["type"].is_string(), "{where_}");
        assert!(
            property["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{where_} needs a description"
        );
        if property["type"] == json!("array") {
            check_object_schema(&where_, &property["items"]);
        }
    }
}

#[test]
fn every_schema_is_an_object_schema_with_described_properties() {
    for spec in registry() {
        assert!(!spec.description.is_empty(), "{}", spec.name);
        check_object_schema(spec.name, &spec.parameters);
    }
}

#[test]
fn registry_json_is_the_registry_pretty_printed() {
    let text = registry_json();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, serde_json::to_value(registry()).unwrap());
    assert!(
        text.starts_with("[\n  {\n    \"name\": \"execute\""),
        "{text}"
    );
    let _guard = crate::testing::snapshot_settings().bind_to_scope();
    insta::assert_snapshot!("registry", text);
}

#[tokio::test]
async fn an_unknown_tool_is_an_error_response() {
    check_rejected("rm_rf", json!({}), r#"unknown tool "rm_rf""#).await;
}

#[tokio::test]
async fn process_list_rejects_non_object_arguments() {
    check_invalid_parameters("process_list", json!("now")).await;
}
