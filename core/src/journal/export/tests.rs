use super::*;
use crate::alert::{AlertKind, Finding, Severity};
use crate::error::Error;

fn record(seq: i64, kind: &str, body: &str) -> StoredRecord {
    StoredRecord {
        seq,
        at: 1_772_323_200_000 + seq,
        epoch: 0,
        kind: kind.into(),
        body: body.into(),
        hash: vec![0xab; 32],
        mac: vec![0; 16],
    }
}

fn alert(slot: Option<u8>) -> String {
    serde_json::to_string(&Finding {
        at: Timestamp::from_unix_millis(1_772_323_200_000),
        kind: AlertKind::SimReplaced,
        slot,
        detector: "sim_identity".into(),
        detector_version: 1,
        summary: "The SIM in slot 0 was replaced".into(),
        evidence: vec![("iccid_hash".into(), "1a2b3c4d".into())],
        severity: None,
    })
    .unwrap()
}

#[test]
fn a_jsonl_line_keeps_a_json_body_as_json_and_anything_else_as_text() {
    let line = record_json(&record(3, "note", r#"{"n":3}"#));
    assert_eq!(line["seq"], 3);
    assert_eq!(line["body"]["n"], 3);
    assert_eq!(line["hash"], "ab".repeat(32));
    assert_eq!(line["at"], "2026-03-01T00:00:00.003Z");
    let text = record_json(&record(4, "note", "not json"));
    assert_eq!(text["body"], "not json");
}

#[test]
fn the_enrolled_device_id_is_the_last_installed_roots() {
    let records = [
        record(1, "enrolled", "{}"),
        record(2, "trust_root_installed", r#"{"device_id":"dev-0001"}"#),
        record(3, "trust_root_installed", r#"{"device_id":"dev-0002"}"#),
        record(4, "trust_root_installed", "{broken"),
        record(5, "note", r#"{"device_id":"dev-9999"}"#),
    ];
    assert_eq!(enrolled_device_id(&records).as_deref(), Some("dev-0002"));
    assert_eq!(enrolled_device_id(&records[..1]), None);
}

#[test]
fn severities_map_to_the_ocsf_id_and_caption_pairs() {
    let pairs = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .map(ocsf_severity);
    assert_eq!(
        pairs,
        [
            (1, "Informational"),
            (2, "Low"),
            (3, "Medium"),
            (4, "High"),
            (5, "Critical")
        ]
    );
}

#[test]
fn an_alert_record_becomes_a_detection_finding_with_its_slot_as_a_resource() {
    let device = OcsfDevice::enrolled("dev-0001");
    let finding = record_ocsf(&record(7, "alert", &alert(Some(1))), &device)
        .unwrap()
        .expect("an alert has an OCSF form");
    assert_eq!(finding["class_uid"], 2004);
    let resources = finding["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[1]["uid"], "dev-0001:sim-slot-1");
    let unslotted = record_ocsf(&record(8, "alert", &alert(None)), &device)
        .unwrap()
        .unwrap();
    assert_eq!(unslotted["resources"].as_array().unwrap().len(), 1);
    assert_eq!(
        record_ocsf(&record(9, "note", "{}"), &device).unwrap(),
        None
    );
}

#[test]
fn a_malformed_alert_body_is_corrupt_and_the_error_names_no_identifier() {
    let device = OcsfDevice::enrolled("dev-0001");
    let err = record_ocsf(
        &record(7, "alert", r#"{"summary":"8944110012345678901""#),
        &device,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(!err.to_string().contains("8944110012345678901"), "{err}");
}
