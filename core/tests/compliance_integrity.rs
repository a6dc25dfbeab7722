//! Device-integrity rules: the policy section's validation, the console's judgement on
//! an attestation verdict (with its escalation ladder), and the agent's local hint,
//! which never counts. The end-to-end run on real chains is `cli/tests/integrity.rs`.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::{
    mdm_remediations, AttestationEvidence, ComplianceEngine, Enforcement, Fact, IntegrityHint,
    IntegrityInput, IntegrityRemediation, IntegrityRule, Measure, Reason, RuleId, Status,
};
use portcullis_core::policy::model::SettingName;
use portcullis_core::policy::{Policy, PolicyError};
use portcullis_core::{Error, Severity};
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

fn rule(r: IntegrityRule) -> RuleId {
    RuleId::Integrity(r)
}

fn integrity_policy(extra: Value) -> Value {
    let mut patch = json!({
        "deviceIntegrity": {
            "requireHardwareBackedKey": true,
            "requireVerifiedBoot": true,
            "requireLockedBootloader": true,
            "requireAttestationWithinDays": 7
        }
    });
    merge(&mut patch, &extra);
    patch
}

/// A verdict as `attest verify --format json` writes it (the fields the rules read).
fn evidence(verified_at: &str, locked: bool) -> Box<AttestationEvidence> {
    let verdict = json!({
        "verdictVersion": 1,
        "verified": true,
        "verifiedAt": verified_at,
        "reasons": [],
        "warnings": [],
        "device": {
            "hardwareBacked": true, "strongBox": false, "securityLevel": "TRUSTED_ENVIRONMENT",
            "bootVerified": true, "bootloaderLocked": locked, "osPatchLevel": "2026-02",
            "attestationVersion": "300"
        }
    });
    Box::new(
        AttestationEvidence::from_verdict_json(&serde_json::to_vec(&verdict).unwrap()).unwrap(),
    )
}

/// Why the base policy with `patch` merged in is refused.
fn invalid(patch: Value) -> Error {
    let mut doc = base_policy_json();
    merge(&mut doc, &patch);
    Policy::from_json(&serde_json::to_vec(&doc).unwrap()).expect_err("refused")
}

/// Whether `e` refuses the policy for the field at `path`.
fn names_field(e: &Error, path: &str) -> bool {
    matches!(e, Error::Policy(PolicyError::InvalidPolicy { path: p, .. }) if p == path)
}

#[test]
fn the_policy_section_is_validated_naming_the_field() {
    let p = policy(integrity_policy(json!({})));
    assert!(p.device_integrity.is_active());
    assert_eq!(
        p.device_integrity.on_violation,
        portcullis_core::policy::model::ViolationAction::MarkNonCompliant
    );
    // Round trip through the document form.
    let again = Policy::from_json(p.to_json_pretty().as_bytes()).unwrap();
    assert_eq!(again.device_integrity, p.device_integrity);

    let e = invalid(json!({"deviceIntegrity": {"requireStrongBox": true}}));
    assert!(names_field(&e, "deviceIntegrity.requireStrongBox"), "{e}");
    let e = invalid(json!({"deviceIntegrity": {"maxAttestedPatchAgeDays": 0}}));
    assert!(
        names_field(&e, "deviceIntegrity.maxAttestedPatchAgeDays"),
        "{e}"
    );
    let e = invalid(json!({"deviceIntegrity": {"requireAttestationWithinDays": 366}}));
    assert!(
        names_field(&e, "deviceIntegrity.requireAttestationWithinDays"),
        "{e}"
    );
    let e = invalid(json!({"deviceIntegrity": {"requireRoot": false}}));
    assert!(
        matches!(&e, Error::Policy(PolicyError::Document { problem, .. })
            if problem.starts_with("unknown field `requireRoot`")),
        "{e}"
    );
    let e = invalid(json!({"policyEnforcementRules": [
        {"settingName": "deviceIntegrity", "blockAction": {"blockAfterDays": 1}}
    ]}));
    assert!(names_field(&e, "policyEnforcementRules"), "{e}");
}

#[test]
fn on_the_phone_the_hint_is_judged_but_never_counts_and_says_so() {
    let policy = prepared(integrity_policy(json!({})));
    let mut engine = ComplianceEngine::new();
    // No hint: the phone judges nothing of its integrity.
    let e = engine.evaluate(&policy, &android(), at(0));
    assert!(!e
        .verdicts
        .iter()
        .any(|v| v.rule.section() == SettingName::DeviceIntegrity));

    let mut snapshot = android();
    snapshot.integrity_hint = Some(IntegrityHint {
        key_hardware_backed: Some(true),
        bootloader_locked: Some(false),
        ..IntegrityHint::default()
    });
    let e = engine.evaluate(&policy, &snapshot, at(DAY));
    let v = verdict(&e, &rule(IntegrityRule::RequireLockedBootloader)).unwrap();
    assert_eq!(v.status, Status::NonCompliant);
    assert!(v.hint);
    assert_eq!(v.enforcement, Enforcement::Report);
    assert_eq!(
        verdict(&e, &rule(IntegrityRule::RequireHardwareBackedKey))
            .unwrap()
            .status,
        Status::Compliant
    );
    let boot = verdict(&e, &rule(IntegrityRule::RequireVerifiedBoot)).unwrap();
    assert_eq!(boot.status, Status::Unknown);
    assert!(boot.unobserved.contains(Fact::Attestation));
    // What only an attestation can say is not judged on the phone at all.
    assert!(verdict(&e, &rule(IntegrityRule::AttestationVerified)).is_none());
    assert!(verdict(&e, &rule(IntegrityRule::RequireAttestationWithinDays)).is_none());
    assert_eq!(
        e.section_status(SettingName::DeviceIntegrity),
        Status::Compliant
    );
    assert!(mdm_remediations(&e.verdicts).is_empty());
    let alert = e
        .new_alerts
        .iter()
        .find(|a| a.rule == Some(rule(IntegrityRule::RequireLockedBootloader)))
        .unwrap();
    assert!(alert.summary.contains("hint"), "{}", alert.summary);
    assert!(alert
        .evidence
        .contains(&("basis".to_owned(), "agent_hint".to_owned())));
    // A ladder never starts on a hint.
    assert!(!engine.ladders().contains_key(&SettingName::DeviceIntegrity));
}

#[test]
fn at_the_console_a_broken_rule_runs_the_integrity_ladder_to_an_access_block() {
    let policy = prepared(integrity_policy(json!({"policyEnforcementRules": [
        {"settingName": "apps", "blockAction": {"blockAfterDays": 2}},
        {"settingName": "configuration", "blockAction": {"blockAfterDays": 1}},
        {"settingName": "deviceIntegrity", "blockAction": {"blockAfterDays": 1}}
    ]})));
    let mut engine = ComplianceEngine::new();
    let mut snapshot = android();
    snapshot.integrity_input =
        IntegrityInput::Console(Some(evidence("2026-03-01T00:00:00Z", false)));
    let e = engine.evaluate(&policy, &snapshot, at(0));
    let v = verdict(&e, &rule(IntegrityRule::RequireLockedBootloader)).unwrap();
    assert_eq!(
        v.reasons.iter().collect::<Vec<_>>(),
        [Reason::BootloaderUnlocked]
    );
    assert!(!v.hint);
    assert_eq!(
        e.section_status(SettingName::DeviceIntegrity),
        Status::NonCompliant
    );
    assert_eq!(
        mdm_remediations(&e.verdicts),
        [(
            rule(IntegrityRule::RequireLockedBootloader),
            IntegrityRemediation::RestoreStockFirmware
        )]
    );
    assert_eq!(Reason::BootloaderUnlocked.severity(), Severity::Critical);
    assert!(engine.ladders().contains_key(&SettingName::DeviceIntegrity));
    // A day later the ladder blocks access.
    let e = engine.evaluate(&policy, &snapshot, at(DAY + 1));
    assert!(
        applied(&e.new_actions).contains(&Measure::AccessBlocked),
        "{:?}",
        e.new_actions
    );

    // A fresh attestation of a relocked phone lifts the block.
    snapshot.integrity_input =
        IntegrityInput::Console(Some(evidence("2026-03-02T00:00:00Z", true)));
    let e = engine.evaluate(&policy, &snapshot, at(DAY + 2));
    assert_eq!(
        e.section_status(SettingName::DeviceIntegrity),
        Status::Compliant
    );
    assert!(
        lifted(&e.new_actions).contains(&Measure::AccessBlocked),
        "{:?}",
        e.new_actions
    );
}

#[test]
fn report_only_integrity_rules_alert_without_making_the_phone_non_compliant() {
    let policy = prepared(integrity_policy(
        json!({"deviceIntegrity": {"onViolation": "REPORT"}}),
    ));
    let mut snapshot = android();
    snapshot.integrity_input = IntegrityInput::Console(None);
    let e = ComplianceEngine::new().evaluate(&policy, &snapshot, at(0));
    let v = verdict(&e, &rule(IntegrityRule::AttestationVerified)).unwrap();
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(
        e.section_status(SettingName::DeviceIntegrity),
        Status::Compliant
    );
    assert!(mdm_remediations(&e.verdicts).is_empty());
}

#[test]
fn a_verdict_file_must_be_a_verdict() {
    for bad in [
        &b"not json"[..],
        br#"{"verified": true, "verifiedAt": "2026-03-01T00:00:00Z"}"#,
        br#"{"verified": false, "verifiedAt": "yesterday"}"#,
    ] {
        assert!(AttestationEvidence::from_verdict_json(bad).is_err());
    }
    let refused = AttestationEvidence::from_verdict_json(
        br#"{"verified": false, "verifiedAt": "2026-03-01T00:00:00Z", "reasons": [{"code": "challenge_mismatch", "detail": "x"}]}"#,
    )
    .unwrap();
    assert_eq!(refused.reasons[0].code, "challenge_mismatch");
}
