//! Inspections on the agent: the schedule planned from the applied policy and woken
//! through `next_wakeup`, evidence scanned against indicators with a signed report,
//! windows triggered by alerts, and escalation when inspections are skipped.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{device, key, payload, sim_ready, standard_root, DAY, T0};
use portcullis_core::journal::verify_report_signature;
use portcullis_core::{Agent, AlertKind, DeviceKey, SoftwareDeviceKey, Timestamp};

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"agent-inspection-test-secret").unwrap())
}

fn data(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

/// An enrolled agent with the minimal policy (30-day cadence, 60-minute windows, 01-05 local, 72 h grace).
fn agent(db: &Path) -> Agent {
    let mut agent = Agent::open(db, device_key(), T0, [8; 32]).unwrap();
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    agent
        .apply_policy(&payload(1).sign(&[&key(10)]).unwrap(), T0.plus_millis(DAY))
        .unwrap();
    agent
}

/// Wakes the agent at each `next_wakeup` until a window is open (or `limit` passes).
fn run_until_open(agent: &mut Agent, limit: Timestamp) -> Vec<AlertKind> {
    let mut kinds = Vec::new();
    while agent.open_inspection_window().is_none() {
        let wake = agent
            .next_wakeup()
            .expect("an inspection schedule always has a next deadline");
        assert!(wake <= limit, "no window opened before {limit}");
        kinds.extend(
            agent
                .handle_timeout(wake)
                .unwrap()
                .iter()
                .map(|a| a.finding.kind),
        );
    }
    kinds
}

#[test]
fn a_window_opens_on_schedule_and_a_scan_completes_it_with_a_signed_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent(&dir.path().join("agent.db"));
    assert!(
        agent.next_wakeup().is_some(),
        "the policy planned a schedule"
    );
    run_until_open(&mut agent, T0.plus_millis(62 * DAY));
    let window = agent.open_inspection_window().unwrap();
    agent
        .load_indicators("fixture", &data("spyware-fixture.stix2"))
        .unwrap();
    let receipt = agent
        .submit_inspection(
            None,
            &data("spyware-evidence.json"),
            window.opened_at.plus_millis(60_000),
        )
        .unwrap();
    assert_eq!(receipt.findings, 14);
    assert_eq!(receipt.alerts.len(), 1);
    assert_eq!(receipt.alerts[0].finding.kind, AlertKind::IndicatorMatch);
    assert!(
        agent.open_inspection_window().is_none(),
        "the window was completed"
    );
    // The console checks the report against the device's pinned checkpoint key.
    let digest = ring::digest::digest(&ring::digest::SHA256, receipt.report_json.as_bytes());
    let sig = portcullis_core::journal::unhex(&receipt.signature).unwrap();
    let pk = agent.checkpoint_public_key();
    assert!(verify_report_signature(
        &pk,
        digest.as_ref().try_into().unwrap(),
        &sig
    ));
    // The evidence bundle carries everything the console needs to check it offline.
    let bundle: serde_json::Value = serde_json::from_str(&receipt.evidence_bundle).unwrap();
    assert_eq!(bundle["format"], "portcullis-evidence-bundle-v1");
    assert_eq!(bundle["report"], receipt.report_json.as_str());
    assert_eq!(bundle["report_signature"], receipt.signature.as_str());
    let evidence = bundle["evidence"].as_str().unwrap();
    let evidence_digest = ring::digest::digest(&ring::digest::SHA256, evidence.as_bytes());
    let report: serde_json::Value = serde_json::from_str(&receipt.report_json).unwrap();
    let evidence_hex: String = evidence_digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        report["evidence_sha256"],
        evidence_hex.as_str(),
        "the report pins the evidence"
    );
    let mut forged = receipt.report_json.clone().into_bytes();
    forged[10] ^= 1;
    let forged = ring::digest::digest(&ring::digest::SHA256, &forged);
    assert!(!verify_report_signature(
        &pk,
        forged.as_ref().try_into().unwrap(),
        &sig
    ));
}

#[test]
fn a_sim_swap_brings_an_inspection_forward_and_the_schedule_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent(&db);
    let t = T0.plus_millis(DAY + 3_600_000);
    let sim = sim_ready;
    agent.handle(&sim("8944110012345678901"), t).unwrap();
    let alerts = agent
        .handle(&sim("8944110012345670000"), t.plus_millis(60_000))
        .unwrap();
    assert_eq!(alerts[0].finding.kind, AlertKind::SimReplaced);
    let wake = agent.next_wakeup().unwrap();
    drop(agent);
    let mut agent = Agent::open(&db, device_key(), t, [8; 32]).unwrap();
    assert_eq!(
        agent.next_wakeup(),
        Some(wake),
        "the schedule was persisted"
    );
    // The minimal policy's triggered delay (30 minutes by default) bounds the wait.
    run_until_open(&mut agent, t.plus_millis(60_000 + 30 * 60_000));
}

#[test]
fn skipped_inspections_escalate_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = agent(&dir.path().join("agent.db"));
    let mut kinds = Vec::new();
    let mut now = T0.plus_millis(DAY);
    // Never submit evidence: windows open, close and are missed.
    while now < T0.plus_millis(100 * DAY) && !kinds.contains(&AlertKind::InspectionOverdue) {
        now = agent.next_wakeup().unwrap();
        kinds.extend(
            agent
                .handle_timeout(now)
                .unwrap()
                .iter()
                .map(|a| a.finding.kind),
        );
    }
    assert!(kinds.contains(&AlertKind::InspectionOverdue), "{kinds:?}");
    let overdue = kinds
        .iter()
        .filter(|k| **k == AlertKind::InspectionOverdue)
        .count();
    assert_eq!(overdue, 1, "one escalation per debt");
}

fn signed_fixture(version: u64) -> Vec<u8> {
    portcullis_core::policy::IndicatorsPayload {
        collection: "fixture".into(),
        version,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * DAY),
        stix: serde_json::from_str(&data("spyware-fixture.stix2")).unwrap(),
    }
    .sign(&[&key(10)])
    .unwrap()
}

#[test]
fn signed_indicator_collections_are_kept_across_restarts_and_never_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = agent(&db);
    let t = T0.plus_millis(2 * DAY);
    let accepted = agent.load_signed_indicators(&signed_fixture(2), t).unwrap();
    assert_eq!(accepted.version, 2);
    drop(agent);
    let mut agent = Agent::open(&db, device_key(), t, [8; 32]).unwrap();
    // The platform offers the configured collection again at every start: no news, no alert.
    assert_eq!(
        agent
            .load_signed_indicators(&signed_fixture(2), t.plus_millis(1_000))
            .unwrap(),
        accepted
    );
    // Reloaded from the store at open: no unsigned load needed.
    let receipt = agent
        .submit_inspection(None, &data("spyware-evidence.json"), t.plus_millis(60_000))
        .unwrap();
    assert_eq!(receipt.findings, 14);
    let err = agent
        .load_signed_indicators(&signed_fixture(1), t.plus_millis(120_000))
        .unwrap_err();
    assert!(
        matches!(
            err,
            portcullis_core::Error::Policy(portcullis_core::policy::PolicyError::Rollback {
                offered: 1,
                applied: 2
            })
        ),
        "{err}"
    );
    let mut forged = signed_fixture(3);
    let mid = forged.len() / 2;
    forged[mid] ^= 1;
    assert!(agent
        .load_signed_indicators(&forged, t.plus_millis(180_000))
        .is_err());
    let refused = agent
        .pending_alerts(100)
        .unwrap()
        .iter()
        .filter(|a| a.finding.kind == AlertKind::PolicyRefused)
        .count();
    assert_eq!(refused, 2);
}

/// The platform reports its conditions at every wake-up and the core keeps only changes,
/// but a schedule made after a report (the first policy) still hears them: its windows
/// follow the phone's local hours, not UTC.
#[test]
fn conditions_reported_at_every_wake_reach_a_schedule_made_after_them() {
    const HOUR: i64 = 60 * 60 * 1000;
    const UTC_PLUS_10: i32 = 600;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::open(&dir.path().join("agent.db"), device_key(), T0, [8; 32]).unwrap();
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    assert!(agent
        .report_conditions(true, true, UTC_PLUS_10, T0)
        .unwrap()
        .is_empty());
    agent
        .apply_policy(&payload(1).sign(&[&key(10)]).unwrap(), T0.plus_millis(DAY))
        .unwrap();
    let mut now = T0.plus_millis(DAY + 1);
    while agent.open_inspection_window().is_none() {
        agent
            .report_conditions(true, true, UTC_PLUS_10, now)
            .unwrap();
        if agent.open_inspection_window().is_some() {
            break;
        }
        now = agent.next_wakeup().expect("a schedule has a next deadline");
        assert!(now <= T0.plus_millis(62 * DAY), "no window opened");
        agent.handle_timeout(now).unwrap();
    }
    let opened = agent.open_inspection_window().unwrap().opened_at;
    let local_hour =
        (opened.as_unix_millis() + i64::from(UTC_PLUS_10) * 60_000).rem_euclid(DAY) / HOUR;
    assert!(
        (1..5).contains(&local_hour),
        "the window opened at {local_hour}:00 local, outside 01-05"
    );
}
