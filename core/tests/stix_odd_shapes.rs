//! Collections in the wild carry objects and fields of shapes the scanner has no use for.
//! A field of an unexpected type is read as absent, so the indicators that do read load
//! as they would without it; an element of `objects` that is no object refuses the
//! collection, naming its index.

use portcullis_core::inspection::{CollectionSummary, IndicatorSet};
use portcullis_core::Error;
use serde_json::{json, Value};

/// One malware, one indicator naming it, and the relationship between them.
fn objects() -> Vec<Value> {
    vec![
        json!({"type": "malware", "spec_version": "2.1",
               "id": "malware--00000000-0000-4000-8000-000000000002",
               "name": "Testware", "is_family": true}),
        json!({"type": "indicator", "spec_version": "2.1",
               "id": "indicator--00000000-0000-4000-8000-000000000003",
               "pattern_type": "stix", "pattern": "[domain-name:value='evil.example']",
               "valid_from": "2026-01-01T00:00:00Z"}),
        json!({"type": "relationship", "spec_version": "2.1",
               "id": "relationship--00000000-0000-4000-8000-000000000004",
               "relationship_type": "indicates",
               "source_ref": "indicator--00000000-0000-4000-8000-000000000003",
               "target_ref": "malware--00000000-0000-4000-8000-000000000002"}),
    ]
}

fn load(objects: Vec<Value>) -> CollectionSummary {
    let bundle = json!({
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000001",
        "objects": objects,
    });
    IndicatorSet::new()
        .load_stix2("odd", &bundle.to_string())
        .expect("odd shapes do not refuse the collection")
}

#[test]
fn an_element_of_objects_that_is_no_object_refuses_the_collection_by_index() {
    for odd in [
        json!(5),
        json!(-5),
        json!(1.5),
        json!("an indicator"),
        json!(true),
        json!(null),
        json!([1, [2]]),
    ] {
        let mut list = objects();
        list.insert(1, odd.clone());
        let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": list}).to_string();
        let mut set = IndicatorSet::new();
        match set.load_stix2("odd", &bundle) {
            Err(Error::InvalidInput { field, problem }) => {
                assert_eq!(field, "indicators", "{odd}");
                assert!(problem.starts_with("objects[1] "), "{odd}: {problem}");
            }
            other => panic!("{odd}: expected a refusal, got {other:?}"),
        }
        assert!(
            set.collections().is_empty() && set.is_empty(),
            "{odd}: nothing was loaded"
        );
    }
}

#[test]
fn fields_of_unexpected_types_are_read_as_absent() {
    let plain = load(objects());
    let mut odd = objects();
    // The indicator with its optional fields in other shapes: still one indicator.
    odd[1]["labels"] = json!({"a": 1});
    odd[1]["revoked"] = json!("no");
    odd[1]["name"] = json!(7);
    odd[1]["description"] = json!(1.5);
    odd[1]["x_mitre_platforms"] = json!(true);
    odd[1]["kill_chain_phases"] = json!(-3);
    odd[0]["aliases"] = json!({"x": [1]});
    odd[0]["labels"] = json!([1, true, null, "spyware"]);
    let loaded = load(odd);
    assert_eq!(loaded.indicators, plain.indicators);
    assert_eq!(loaded.malware, plain.malware);
}
