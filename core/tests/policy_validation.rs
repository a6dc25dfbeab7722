//! Each rule of `Policy::validate` that serde cannot express, broken one at a time in the
//! baseline policy: the document is refused with `InvalidPolicy` naming the field's path.

mod policy_support;

use policy_support::repo;
use portcullis_core::policy::{Policy, PolicyError};
use portcullis_core::Error;
use serde_json::{json, Value};

fn baseline() -> Value {
    serde_json::from_slice(&std::fs::read(repo("policies/baseline.json")).unwrap()).unwrap()
}

/// The path `Policy::from_json` names for the baseline with `pointer` set to `value`.
fn refused_path(pointer: &str, value: Value) -> String {
    let mut doc = baseline();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent} is not in the baseline"));
    match target {
        Value::Object(map) => {
            map.insert(key.into(), value);
        }
        Value::Array(list) => list[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{parent} holds no fields"),
    }
    match Policy::from_json(&serde_json::to_vec(&doc).unwrap()) {
        Err(Error::Policy(PolicyError::InvalidPolicy { path, .. })) => path,
        Err(other) => panic!("{pointer}: expected InvalidPolicy, got {other}"),
        Ok(_) => panic!("{pointer}: the broken document was accepted"),
    }
}

#[test]
fn the_baseline_itself_is_valid() {
    Policy::from_json(&serde_json::to_vec(&baseline()).unwrap()).unwrap();
}

#[test]
fn every_range_and_shape_rule_names_its_field() {
    let cases = [
        ("/name", json!(" "), "name"),
        ("/name", json!("n".repeat(65)), "name"),
        (
            "/configuration/minimumApiLevel",
            json!(20),
            "configuration.minimumApiLevel",
        ),
        (
            "/configuration/minimumIosVersion",
            json!("18.x"),
            "configuration.minimumIosVersion",
        ),
        (
            "/configuration/minimumIosVersion",
            json!("1234.1"),
            "configuration.minimumIosVersion",
        ),
        (
            "/configuration/maximumSecurityPatchAgeDays",
            json!(0),
            "configuration.maximumSecurityPatchAgeDays",
        ),
        (
            "/configuration/passwordRequirements/maximumFailedPasswordsForWipe",
            json!(3),
            "configuration.passwordRequirements.maximumFailedPasswordsForWipe",
        ),
        (
            "/configuration/maximumTimeToLock",
            json!(999),
            "configuration.maximumTimeToLock",
        ),
        (
            "/sim/expectedSubscriptions/0/homeNetwork",
            json!("2341"),
            "sim.expectedSubscriptions[0].homeNetwork",
        ),
        (
            "/sim/expectedSubscriptions/0/pinned",
            json!({}),
            "sim.expectedSubscriptions[0].pinned",
        ),
        (
            "/sim/onChange",
            json!(["NOTIFY_USER", "NOTIFY_USER"]),
            "sim.onChange[1]",
        ),
        (
            "/inspection/cadenceDays",
            json!(0),
            "inspection.cadenceDays",
        ),
        (
            "/inspection/cadenceDays",
            json!(366),
            "inspection.cadenceDays",
        ),
        (
            "/inspection/windowMinutes",
            json!(4),
            "inspection.windowMinutes",
        ),
        (
            "/inspection/allowedLocalHours",
            json!({"from": 3, "until": 3}),
            "inspection.allowedLocalHours",
        ),
        (
            "/inspection/allowedLocalHours",
            json!({"from": 24, "until": 5}),
            "inspection.allowedLocalHours",
        ),
        (
            "/inspection/triggeredInspectionDelayMinutes",
            json!(10_081),
            "inspection.triggeredInspectionDelayMinutes",
        ),
        (
            "/inspection/gracePeriodHours",
            json!(721),
            "inspection.gracePeriodHours",
        ),
        (
            "/policyEnforcementRules/1/settingName",
            json!("apps"),
            "policyEnforcementRules[1].settingName",
        ),
        (
            "/policyEnforcementRules/0/blockAction/blockAfterDays",
            json!(366),
            "policyEnforcementRules[0].blockAction.blockAfterDays",
        ),
    ];
    for (pointer, value, path) in cases {
        assert_eq!(
            refused_path(pointer, value.clone()),
            path,
            "{pointer} = {value}"
        );
    }
}

#[test]
fn the_limits_themselves_are_accepted() {
    for (pointer, value) in [
        ("/configuration/minimumApiLevel", json!(21)),
        ("/configuration/maximumSecurityPatchAgeDays", json!(3650)),
        ("/configuration/maximumTimeToLock", json!(86_400_000)),
        ("/inspection/cadenceDays", json!(365)),
        ("/inspection/gracePeriodHours", json!(720)),
        (
            "/inspection/allowedLocalHours",
            json!({"from": 0, "until": 24}),
        ),
    ] {
        let mut doc = baseline();
        *doc.pointer_mut(pointer).unwrap() = value.clone();
        Policy::from_json(&serde_json::to_vec(&doc).unwrap())
            .unwrap_or_else(|e| panic!("{pointer} = {value}: {e}"));
    }
}
