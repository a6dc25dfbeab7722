//! `portcullis/console/v1`: every message kind the core builds validates against
//! docs/console-message.schema.json and fits an Android keyed app state, also when the
//! content is far too long or multi-byte.

use portcullis_core::agent::{
    BundleSync, ConfigProblem, IndicatorSync, InstructionsSync, ManagedConfigSync, Refusal,
    RootSync,
};
use portcullis_core::agent::{HandedAction, InstructionAction};
use portcullis_core::compliance::Route;
use portcullis_core::console::{
    self, utf16_len, ActionNote, ComplianceSummary, ConsoleMessage, ConsoleSeverity,
    InspectionSummary, InstructionTally, MAX_DATA_UNITS, MAX_KEY_UNITS, MAX_MESSAGE_UNITS,
};
use portcullis_core::policy::{AppliedPolicy, PayloadHash};
use portcullis_core::{Alert, AlertKind, Finding, Severity, Timestamp};
use serde_json::{json, Value};

const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
/// Two UTF-16 units each (a surrogate pair in Java), four bytes in UTF-8.
const LOCK: &str = "\u{1F512}";

fn validator() -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/console-message.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is valid")
}

/// Checks the limits and the schema; returns the parsed data.
fn check(m: &ConsoleMessage) -> Value {
    assert!(utf16_len(&m.key) <= MAX_KEY_UNITS, "key {}", m.key);
    assert!(utf16_len(&m.message) <= MAX_MESSAGE_UNITS, "message");
    assert!(
        utf16_len(&m.data) <= MAX_DATA_UNITS,
        "data {}",
        utf16_len(&m.data)
    );
    assert!(!m.message.contains('\n'));
    let data: Value = serde_json::from_str(&m.data).expect("data is JSON");
    let doc = json!({
        "key": m.key, "severity": m.severity.as_str(), "message": m.message, "data": data,
    });
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{doc:#}");
    assert_eq!(data["format"], "portcullis/console/v1");
    data
}

/// [`check`], after checking the key, severity and message `m` should have.
fn check_as(m: &ConsoleMessage, key: &str, severity: ConsoleSeverity, message: &str) -> Value {
    assert_eq!(m.key, key);
    assert_eq!((m.message.as_str(), m.severity), (message, severity));
    check(m)
}

fn alert(evidence: usize, value: &str) -> Alert {
    Alert {
        id: 42,
        finding: Finding {
            at: T0,
            kind: AlertKind::SimReplaced,
            slot: Some(0),
            detector: "sim_identity".into(),
            detector_version: 3,
            summary: "The SIM in slot 0 was replaced".into(),
            evidence: (0..evidence)
                .map(|i| (format!("fact_{i}"), value.to_owned()))
                .collect(),
            severity: None,
        },
        severity: Severity::Critical,
        delivery_attempts: 2,
    }
}

#[test]
fn an_alert_keeps_its_fields_and_severity() {
    let data = check_as(
        &console::alert(&alert(2, "abc")),
        "portcullis.alert.42.sim_replaced",
        ConsoleSeverity::Error,
        "[CRITICAL] sim_replaced (slot 0): The SIM in slot 0 was replaced",
    );
    assert_eq!(data["type"], "alert");
    assert_eq!(data["detector_version"], 3);
    assert_eq!(data["severity"], "critical");
    assert_eq!(
        data["evidence"][1],
        json!({"key": "fact_1", "value": "abc"})
    );
    assert!(data.get("left_out").is_none());
    let mut low = alert(0, "");
    low.severity = Severity::Low;
    assert_eq!(console::alert(&low).severity, ConsoleSeverity::Info);
}

#[test]
fn an_alert_too_large_drops_evidence_from_the_end_and_counts_it() {
    // Multi-byte evidence: 100 locks are 200 UTF-16 units but 400 UTF-8 bytes.
    let m = console::alert(&alert(12, &LOCK.repeat(100)));
    let data = check(&m);
    let kept = data["evidence"].as_array().unwrap().len();
    assert!(kept > 0 && kept < 12, "{kept}");
    assert_eq!(data["left_out"], 12 - kept as u64);
    assert_eq!(data["evidence"][0]["key"], "fact_0");
    // Deterministic: the same alert gives the same message.
    assert_eq!(m, console::alert(&alert(12, &LOCK.repeat(100))));
    // Values longer than their own limit are cut without splitting a surrogate pair.
    let m = console::alert(&alert(1, &LOCK.repeat(500)));
    let value = check(&m)["evidence"][0]["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(utf16_len(&value), 199);
    assert!(value.ends_with('\u{2026}'));
}

#[test]
fn a_summary_at_the_message_limit_is_cut_there() {
    let mut a = alert(0, "");
    let prefix = "[CRITICAL] sim_replaced (slot 0): ";
    a.finding.summary = "x".repeat(MAX_MESSAGE_UNITS - prefix.len());
    let m = console::alert(&a);
    assert_eq!(utf16_len(&m.message), MAX_MESSAGE_UNITS);
    assert!(
        !m.message.ends_with('\u{2026}'),
        "exactly at the limit: not cut"
    );
    a.finding.summary.push('x');
    let m = console::alert(&a);
    assert_eq!(utf16_len(&m.message), MAX_MESSAGE_UNITS);
    assert!(m.message.ends_with('\u{2026}'));
    a.finding.summary = LOCK.repeat(600);
    let m = console::alert(&a);
    assert!(utf16_len(&m.message) <= MAX_MESSAGE_UNITS);
    assert!(m.message.ends_with('\u{2026}'));
    check(&m);
}

fn applied(version: u64) -> AppliedPolicy {
    AppliedPolicy {
        version,
        root_version: 1,
        payload_sha256: PayloadHash([0xab; 32]),
        issued_at: T0,
        expires: T0.plus_millis(86_400_000),
        applied_at: T0,
    }
}

fn refusal(code: &str, reason: &str, remembered: bool) -> Refusal {
    Refusal {
        code: code.into(),
        reason: reason.into(),
        remembered,
    }
}

fn sync(trust_root: RootSync, policy: BundleSync) -> ManagedConfigSync {
    let in_force = match &policy {
        BundleSync::Applied(p) | BundleSync::Unchanged(p) => Some(p.clone()),
        _ => None,
    };
    ManagedConfigSync {
        trust_root,
        policy,
        indicators: Vec::new(),
        instructions: InstructionsSync::NotConfigured,
        problems: Vec::new(),
        enrolled: true,
        in_force,
    }
}

#[test]
fn every_policy_sync_state_has_its_message() {
    let cases = [
        (
            sync(
                RootSync::Installed { version: 1 },
                BundleSync::Applied(applied(2)),
            ),
            "policy version 2 applied (trust root installed)",
            "applied",
            ConsoleSeverity::Info,
        ),
        (
            sync(
                RootSync::Rotated { from: 1, to: 2 },
                BundleSync::Unchanged(applied(3)),
            ),
            "policy version 3 in force (trust root rotated to version 2)",
            "in_force",
            ConsoleSeverity::Info,
        ),
        (
            sync(
                RootSync::Unchanged { version: 1 },
                BundleSync::NotConfigured,
            ),
            "no policy_bundle configured",
            "no_bundle",
            ConsoleSeverity::Info,
        ),
        (
            sync(
                RootSync::Refused(refusal("threshold", "too few signatures", true)),
                BundleSync::Unchanged(applied(2)),
            ),
            "trust_root refused: threshold (policy version 2 stays in force)",
            "rejected",
            ConsoleSeverity::Error,
        ),
        (
            sync(
                RootSync::NotInstalled(ConfigProblem {
                    key: "device_id",
                    reason: "not set".into(),
                }),
                BundleSync::NotApplied(ConfigProblem {
                    key: "policy_bundle",
                    reason: "not applied: no trust root is installed".into(),
                }),
            ),
            "managed configuration not applied: device_id not set",
            "problem",
            ConsoleSeverity::Error,
        ),
    ];
    for (mut s, text, state, severity) in cases {
        if state == "problem" {
            s.enrolled = false;
        }
        let data = check_as(
            &console::policy_sync(&s, T0),
            "portcullis.policy",
            severity,
            text,
        );
        assert_eq!(data["state"], state, "{text}");
    }
    let m = console::policy_sync_failed("Storage\"<x>", T0);
    assert_eq!(
        m.message,
        "policy not applied: Storagex (retried at the next sync)"
    );
    assert_eq!(check(&m)["state"], "failed");
}

#[test]
fn a_part_the_console_must_fix_makes_the_state_an_error() {
    let mut s = sync(RootSync::NotConfigured, BundleSync::NotConfigured);
    s.enrolled = false;
    assert_eq!(console::policy_sync(&s, T0).severity, ConsoleSeverity::Info);
    s.instructions = InstructionsSync::NotApplied(ConfigProblem {
        key: "instructions",
        reason: "not applied: no trust root is installed".into(),
    });
    let m = console::policy_sync(&s, T0);
    assert_eq!(m.severity, ConsoleSeverity::Error);
    assert_eq!(
        m.message,
        "no policy_bundle configured; instructions not applied"
    );
    check(&m);
    let mut s = sync(
        RootSync::Unchanged { version: 1 },
        BundleSync::Unchanged(applied(2)),
    );
    s.problems = vec![ConfigProblem {
        key: "console_endpoint",
        reason: "expected an https URL".into(),
    }];
    assert_eq!(
        console::policy_sync(&s, T0).severity,
        ConsoleSeverity::Error
    );
}

#[test]
fn a_sync_with_many_refused_parts_is_summarised_within_the_limit() {
    let mut s = sync(
        RootSync::Unchanged { version: 1 },
        BundleSync::Refused(refusal("rollback", &"é".repeat(300), false)),
    );
    s.indicators = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                IndicatorSync::InUse {
                    collection: format!("collection-{i}-{}", LOCK.repeat(40)),
                    version: i,
                }
            } else {
                IndicatorSync::Refused(refusal("expired", &LOCK.repeat(200), i % 4 == 1))
            }
        })
        .collect();
    s.problems = vec![ConfigProblem {
        key: "console_endpoint",
        reason: "expected an https URL".into(),
    }];
    s.instructions = InstructionsSync::NotApplied(ConfigProblem {
        key: "instructions",
        reason: "x".into(),
    });
    let m = console::policy_sync(&s, T0);
    assert_eq!(
        m.message,
        "policy_bundle refused: rollback; 20 indicator collection(s) refused; instructions not applied; 1 configuration problem(s)"
    );
    let data = check(&m);
    let kept = data["indicators"].as_array().map_or(0, Vec::len);
    assert!(data["left_out"].as_u64().unwrap() >= 40 - kept as u64);
    assert_eq!(data["bundle"]["code"], "rollback");
    assert_eq!(m, console::policy_sync(&s, T0), "deterministic");
}

#[test]
fn instruction_passes_and_actions_for_the_mdm() {
    let outcomes = [
        InstructionTally::Applied { sequence: 5 },
        InstructionTally::Unchanged { sequence: 2 },
        InstructionTally::Refused {
            code: "replayed".into(),
        },
        InstructionTally::Refused {
            code: "bad_signature".into(),
        },
        InstructionTally::Refused {
            code: "replayed".into(),
        },
    ];
    let m = console::instructions(&outcomes, 1, None, T0);
    assert_eq!(
        m.message,
        "instructions: 1 applied, 1 unchanged, 3 refused (bad_signature, replayed), 1 action(s) pending"
    );
    assert_eq!(m.severity, ConsoleSeverity::Error);
    let data = check(&m);
    assert_eq!(data["highest_sequence"], 5);
    assert_eq!(data["refusal_codes"], json!(["bad_signature", "replayed"]));
    let quiet = console::instructions(&outcomes[..2], 0, None, T0);
    assert_eq!(quiet.severity, ConsoleSeverity::Info);
    check(&quiet);
    let failed = console::instructions(&[], 0, Some("NotEnrolled"), T0);
    assert_eq!(check(&failed)["error"], "NotEnrolled");

    let handed = HandedAction {
        action_id: format!("wipe-{}", "7".repeat(120)),
        sequence: 6,
        action: InstructionAction::WipeDevice { preserve_frp: true },
        route: Route::Mdm,
    };
    let m = console::action_for_mdm(&handed, T0);
    assert_eq!(utf16_len(&m.key), MAX_KEY_UNITS);
    assert!(m.key.starts_with("portcullis.instruction.wipe-"));
    let data = check(&m);
    assert_eq!(
        (&data["action"], &data["route"], &data["preserve_frp"]),
        (&json!("wipe_device"), &json!("mdm"), &json!(true))
    );
}

#[test]
fn compliance_and_inspection_summaries() {
    let note = |i: usize| ActionNote {
        rule: Some(format!("rule-{i}")),
        action: "APPLY USER_RESTRICTION no_install_unknown_sources".into(),
        why: Some(format!("{} not permitted", LOCK.repeat(30))),
    };
    let summary = ComplianceSummary {
        compliant: false,
        open_rules: 3,
        for_mdm: (0..10).map(note).collect(),
        not_done: (0..10).map(note).collect(),
    };
    let m = console::compliance(&summary, T0);
    assert_eq!(
        m.message,
        "not compliant: 3 open rule(s), 10 action(s) for the MDM, 10 not carried out"
    );
    let data = check(&m);
    assert!(data["left_out"].as_u64().unwrap() > 0);
    let fine = ComplianceSummary {
        compliant: true,
        open_rules: 0,
        for_mdm: vec![],
        not_done: vec![],
    };
    let m = console::compliance(&fine, T0);
    assert_eq!(
        (m.message.as_str(), m.severity),
        ("compliant", ConsoleSeverity::Info)
    );
    check(&m);

    let m = console::inspection(
        &InspectionSummary {
            window: 7,
            kind: "triggered".into(),
            findings: 2,
            evidence_sha256: "a".repeat(64),
            report_sha256: "b".repeat(64),
        },
        T0,
    );
    assert_eq!(
        m.message,
        "inspection of window 7 (triggered): 2 indicator(s) matched"
    );
    assert_eq!(m.severity, ConsoleSeverity::Error);
    assert_eq!(check(&m)["findings"], 2);
}

#[test]
fn the_schema_refuses_what_the_format_does_not_allow() {
    let v = validator();
    let good = json!({"key": "portcullis.policy", "severity": "info", "message": "x",
        "data": {"format": "portcullis/console/v1", "type": "policy_sync", "at": "2026-03-01T00:00:00Z", "state": "applied"}});
    assert!(v.is_valid(&good));
    for (path, bad) in [
        ("/severity", json!("warning")),
        ("/data/format", json!("portcullis/console/v2")),
        ("/data/state", json!("maybe")),
        ("/key", json!("other.key")),
    ] {
        let mut doc = good.clone();
        *doc.pointer_mut(path).unwrap() = bad;
        assert!(!v.is_valid(&doc), "{path}");
    }
}

#[test]
fn a_telemetry_batch_is_an_error_only_when_it_matched_or_alerted() {
    let quiet = console::TelemetrySummary {
        dns: 1_100,
        connect: 95,
        security: 5,
        matches: 0,
        alerts: 0,
    };
    let data = check_as(
        &console::telemetry(&quiet, T0),
        "portcullis.telemetry",
        ConsoleSeverity::Info,
        "telemetry batch: 1100 DNS, 95 connection(s), 5 security event(s)",
    );
    assert_eq!(
        (data["type"].as_str(), data["dns"].as_u64()),
        (Some("telemetry"), Some(1_100))
    );

    let hit = console::TelemetrySummary {
        matches: 3,
        alerts: 1,
        ..quiet
    };
    let m = console::telemetry(&hit, T0);
    assert_eq!(m.severity, ConsoleSeverity::Error);
    assert!(
        m.message.ends_with("; 3 indicator match(es), 1 alert(s)"),
        "{}",
        m.message
    );
    assert_eq!(check(&m)["matches"], 3);
}

#[test]
fn the_deployment_state_validates_and_many_scopes_are_cut_within_the_limit() {
    let scopes = vec!["PACKAGE_ACCESS".to_owned(), "BLOCK_UNINSTALL".to_owned()];
    let data = check(&console::deployment("companion", &scopes, 34, T0));
    assert_eq!(data["mode"], "companion");
    let many: Vec<String> = (0..200).map(|i| format!("SCOPE_{i}_{LOCK}")).collect();
    let m = console::deployment("companion", &many, 34, T0);
    let data = check(&m);
    assert!(data["left_out"].as_u64().unwrap() > 0, "{data}");
}

#[test]
fn an_attestation_is_sent_in_parts_that_each_fit_and_validate() {
    let sub = console::AttestationSubmission {
        instruction_id: "i".repeat(128),
        challenge: vec![0xab; 32],
        chain: (0..8u8)
            .map(|i| vec![0x30; 1200 + usize::from(i)])
            .collect(),
        certification: vec![0x30; 72],
        strong_box: false,
        strong_box_fallback: true,
    };
    let messages = console::attestation(&sub, T0);
    assert!(messages.len() > 20);
    for (i, m) in messages.iter().enumerate() {
        let data = check(m);
        assert_eq!(data["type"], "attestation");
        assert_eq!(data["part"], i + 1);
        assert_eq!(
            m.severity,
            ConsoleSeverity::Error,
            "a StrongBox fallback is for the team"
        );
        assert_eq!(data.get("challenge").is_some(), i == 0);
    }
    let datas: Vec<&str> = messages.iter().map(|m| m.data.as_str()).collect();
    assert_eq!(console::assemble_attestation(&datas).unwrap(), sub);
}
