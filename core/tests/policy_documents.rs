//! The policy documents: the committed JSON Schema matches the Rust types, the
//! baseline policies in policies/ validate against it and load, and invalid
//! documents are refused with the field and the rule named.

mod compliance_support;
mod policy_support;

use std::path::{Path, PathBuf};

use compliance_support::{assert_each_mistake_refused, merge, schema_errors};
use policy_support::*;
use portcullis_core::identity::{IdentityKind, SoftwareDeviceKey};
use portcullis_core::policy::model::{AppMode, CellularTwoGState};
use portcullis_core::policy::{policy_schema, policy_schema_text, PinKey, Policy, PolicyError};
use portcullis_core::sim::SimPolicy;
use portcullis_core::Error;
use serde_json::{json, Value};

const BASELINES: [&str; 3] = ["baseline", "election-sensitive", "travel"];

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(policies_dir().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&read_json("policy.schema.json")).expect("the schema is valid")
}

#[test]
fn committed_schema_matches_the_rust_types() {
    let path = policies_dir().join("policy.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == policy_schema_text(),
        "policies/policy.schema.json is out of date with the Rust policy types; regenerate it with\n\n    cargo run -q -p portcullis-cli -- policy schema > policies/policy.schema.json\n"
    );
    assert_eq!(
        policy_schema()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

#[test]
fn baseline_policies_validate_against_the_schema_and_load() {
    let v = validator();
    for name in BASELINES {
        let doc = read_json(&format!("{name}.json"));
        let errors = schema_errors(&v, &doc);
        assert!(errors.is_empty(), "{name}.json: {errors:?}");
        let bytes = std::fs::read(policies_dir().join(format!("{name}.json"))).unwrap();
        let policy = Policy::from_json(&bytes).unwrap_or_else(|e| panic!("{name}.json: {e}"));
        assert_eq!(policy.name, name);
        assert!(!policy.description.is_empty() && !policy.notes.is_empty());
        // Every policy can be signed as-is and verified.
        let mut p = payload(1);
        p.policy = policy;
        let mut state = enrolled(1);
        state
            .apply_bundle(&p.sign(&[&key(10)]).unwrap(), now(), &device())
            .unwrap();
    }
}

#[test]
fn baselines_get_stricter_where_the_seeds_ask() {
    let load = |name: &str| {
        Policy::from_json(&std::fs::read(policies_dir().join(format!("{name}.json"))).unwrap())
            .unwrap()
    };
    let (base, election, travel) = (load("baseline"), load("election-sensitive"), load("travel"));
    assert_eq!(election.apps.mode, AppMode::Allowlist);
    assert!(election.inspection.cadence_days < base.inspection.cadence_days);
    assert!(election.sim.port_out_window_minutes < base.sim.port_out_window_minutes);
    for p in [&base, &election, &travel] {
        assert_eq!(
            p.configuration.device_radio_state.cellular_two_g_state,
            CellularTwoGState::CellularTwoGDisabled,
            "{}",
            p.name
        );
        assert!(p.sim_policy().forbid_2g);
    }
    for p in [&election, &travel] {
        let usb = p
            .configuration
            .device_connectivity_management
            .as_ref()
            .unwrap();
        assert_eq!(
            serde_json::to_value(usb.usb_data_access).unwrap(),
            "DISALLOW_USB_DATA_TRANSFER"
        );
        assert!(
            p.configuration
                .always_on_vpn_package
                .as_ref()
                .unwrap()
                .lockdown_enabled
        );
    }
}

#[test]
fn the_schema_and_the_parser_refuse_the_same_mistakes() {
    let v = validator();
    let base = serde_json::from_str::<Value>(MINIMAL_POLICY).unwrap();
    assert!(schema_errors(&v, &base).is_empty());
    let mistakes: Vec<(&str, Value)> = vec![
        (
            "unknown field",
            json!({"apps": {"mode": "AUDIT", "mdoe": 1}}),
        ),
        ("bad enum", json!({"apps": {"mode": "WHITELIST"}})),
        (
            "bad schema version",
            json!({"schema": "portcullis/policy/v9"}),
        ),
        ("missing section", json!({"sim": null})),
        (
            "slot out of range",
            json!({"sim": {"expectedSubscriptions": [{"slot": 9}]}}),
        ),
        (
            "bad fingerprint",
            json!({"apps": {"mode": "ALLOWLIST", "applications": [{"packageName": "a.b",
                "signingKeyCerts": [{"signingKeyCertFingerprintSha256": "12:34"}]}]}}),
        ),
        (
            "bad patch date",
            json!({"configuration": {"minimumSecurityPatchLevel": "March 2026"}}),
        ),
    ];
    assert_each_mistake_refused(&v, &base, mistakes, |bytes| {
        Policy::from_json(bytes).is_ok()
    });
}

fn refusal(patch: Value) -> PolicyError {
    let mut doc = serde_json::from_str::<Value>(MINIMAL_POLICY).unwrap();
    merge(&mut doc, &patch);
    match Policy::from_json(&serde_json::to_vec_pretty(&doc).unwrap()) {
        Err(Error::Policy(e)) => e,
        other => panic!("expected a refusal for {patch}, got {other:?}"),
    }
}

#[test]
fn semantic_errors_name_the_field_and_the_rule() {
    let cases = [
        (
            json!({"apps": {"mode": "ALLOWLIST", "applications": [{"packageName": "org.example.app"}, {"packageName": "com..bad"}]}}),
            "apps.applications[1].packageName",
        ),
        (
            json!({"apps": {"mode": "ALLOWLIST", "applications": [{"packageName": "a.b", "bundleId": "a.b"}]}}),
            "apps.applications[0]",
        ),
        (
            json!({"apps": {"mode": "ALLOWLIST", "applications": [{"packageName": "a.b"}, {"packageName": "a.b"}]}}),
            "apps.applications[1]",
        ),
        (
            json!({"policyEnforcementRules": [{"settingName": "apps", "wipeAction": {"wipeAfterDays": 3}}]}),
            "policyEnforcementRules[0].wipeAction",
        ),
        (
            json!({"policyEnforcementRules": [{"settingName": "apps", "blockAction": {"blockAfterDays": 5}, "wipeAction": {"wipeAfterDays": 5}}]}),
            "policyEnforcementRules[0].wipeAction.wipeAfterDays",
        ),
        (
            json!({"inspection": {"windowMinutes": 600}}),
            "inspection.windowMinutes",
        ),
        (
            json!({"sim": {"expectedSubscriptions": [{"slot": 0}, {"slot": 0}]}}),
            "sim.expectedSubscriptions[1].slot",
        ),
        (
            json!({"sim": {"portOutWindowMinutes": 0}}),
            "sim.portOutWindowMinutes",
        ),
    ];
    for (patch, path) in cases {
        match refusal(patch.clone()) {
            PolicyError::InvalidPolicy { path: p, .. } => assert_eq!(p, path, "{patch}"),
            other => panic!("{patch}: {other}"),
        }
    }
    // Serde errors name the field and the position.
    let e = refusal(json!({"configuration": {"usbDebugging": false}}));
    let text = e.to_string();
    assert!(
        text.contains("usbDebugging") && text.contains("line"),
        "{text}"
    );
}

#[test]
fn sim_rules_convert_to_the_guards_policy() {
    let p = minimal_policy();
    assert_eq!(p.sim.port_out_window_minutes, 10, "the default window");
    assert_eq!(SimPolicy::from(&p), SimPolicy::default());
    let mut doc = serde_json::from_str::<Value>(MINIMAL_POLICY).unwrap();
    merge(
        &mut doc,
        &json!({"sim": {"portOutWindowMinutes": 25},
                "configuration": {"deviceRadioState": {"cellularTwoGState": "CELLULAR_TWO_G_USER_CHOICE"}}}),
    );
    let p = Policy::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(
        p.sim_policy(),
        SimPolicy {
            port_out_window_ms: 25 * 60_000,
            forbid_2g: false,
            ..SimPolicy::default()
        }
    );
}

#[test]
fn identity_pins_are_keyed_normalised_hashes() {
    let device = SoftwareDeviceKey::new(b"pin test device secret").unwrap();
    let pin_key = PinKey::new(&PinKey::derive(&device).unwrap());
    let a = pin_key
        .pin(IdentityKind::PhoneNumber, "+1 202-555-0100")
        .unwrap();
    let b = pin_key
        .pin(IdentityKind::PhoneNumber, "12025550100")
        .unwrap();
    assert_eq!(a, b, "formatting does not change a pin");
    let other = PinKey::new(&[9; 32]);
    assert_ne!(
        other.pin(IdentityKind::PhoneNumber, "12025550100").unwrap(),
        a
    );
    assert!(!format!("{a:?}").contains("2025550100"));
    // A pin round-trips through a policy.
    let mut doc = serde_json::from_str::<Value>(MINIMAL_POLICY).unwrap();
    let hex = serde_json::to_value(a).unwrap();
    merge(
        &mut doc,
        &json!({"sim": {"expectedSubscriptions": [{"slot": 0, "pinned": {"msisdn": hex}}]}}),
    );
    let p = Policy::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert_eq!(
        p.sim.expected_subscriptions[0]
            .pinned
            .as_ref()
            .unwrap()
            .msisdn,
        Some(a)
    );
}
