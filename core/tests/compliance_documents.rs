//! The snapshot format: the committed JSON Schema matches the Rust types, the sample
//! snapshots validate against it and parse, and the schema and the parser refuse the
//! same mistakes.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::DeviceSnapshot;
use serde_json::{json, Value};

const SAMPLES: [&str; 3] = [
    "pixel-compliant.json",
    "pixel-violations.json",
    "iphone.json",
];

fn read_json(path: std::path::PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&read_json(policies_dir().join("snapshot.schema.json")))
        .expect("the schema is valid")
}

#[test]
fn committed_schema_matches_the_rust_types() {
    let committed =
        std::fs::read_to_string(policies_dir().join("snapshot.schema.json")).unwrap_or_default();
    assert!(
        committed == DeviceSnapshot::json_schema_text(),
        "policies/snapshot.schema.json is out of date with the Rust snapshot types; regenerate it with\n\n    cargo run -q -p portcullis-cli -- evaluate --schema > policies/snapshot.schema.json\n"
    );
    assert_eq!(
        DeviceSnapshot::json_schema()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn sample_snapshots_validate_against_the_schema_and_parse() {
    let v = validator();
    for name in SAMPLES {
        let doc = read_json(data_dir().join(name));
        let errors = schema_errors(&v, &doc);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let parsed = load_snapshot(name);
        // The parsed form round-trips through its own JSON.
        assert_eq!(
            DeviceSnapshot::from_json(parsed.to_json().as_bytes()).unwrap(),
            parsed
        );
    }
    // So does a snapshot built in code.
    let doc: Value = serde_json::from_str(&android().to_json()).unwrap();
    assert!(schema_errors(&v, &doc).is_empty());
}

#[test]
fn the_schema_and_the_parser_refuse_the_same_mistakes() {
    let v = validator();
    let base = read_json(data_dir().join("pixel-compliant.json"));
    let mistakes: Vec<(&str, Value)> = vec![
        ("unknown field", json!({"settings": {"usbDebuging": true}})),
        ("bad enum", json!({"settings": {"encryption": "YES"}})),
        (
            "bad schema version",
            json!({"schema": "portcullis/snapshot/v2"}),
        ),
        ("missing platform", json!({"platform": null})),
        (
            "bad fingerprint",
            json!({"settings": {"userCaCertsSha256": ["12:34"]}}),
        ),
        (
            "bad patch date",
            json!({"os": {"securityPatchLevel": "March 2026"}}),
        ),
        ("bad app id", json!({"apps": [{"id": "com.example app"}]})),
        (
            "negative version code",
            json!({"apps": [{"id": "a.b", "versionCode": -1}]}),
        ),
        ("wrong type", json!({"deviceOwner": "yes"})),
    ];
    assert_each_mistake_refused(&v, &base, mistakes, |bytes| {
        DeviceSnapshot::from_json(bytes).is_ok()
    });
}
