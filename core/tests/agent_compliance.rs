//! Compliance on the agent: snapshots judged against the applied policy, alerts in the
//! outbox with the rule's severity, actions handed out once, state across restarts.

mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::{device, key, payload, standard_root, DAY, T0};
use portcullis_core::policy::Policy;
use portcullis_core::{Agent, AlertKind, DeviceKey, SoftwareDeviceKey};

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"agent-compliance-test-secret").unwrap())
}

fn snapshot(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/compliance")
            .join(name),
    )
    .unwrap()
}

fn open(db: &Path) -> Agent {
    Agent::open(db, device_key(), T0, [6; 32]).unwrap()
}

fn enrolled_with_baseline(db: &Path) -> Agent {
    let mut agent = open(db);
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    let policy = Policy::from_json(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/baseline.json"))
            .unwrap(),
    )
    .unwrap();
    let mut p = payload(1);
    p.policy = policy;
    agent
        .apply_policy(&p.sign(&[&key(10)]).unwrap(), T0.plus_millis(DAY))
        .unwrap();
    agent
}

#[test]
fn violations_alert_once_request_actions_once_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = enrolled_with_baseline(&db);
    let t = T0.plus_millis(2 * DAY);
    let first = agent
        .evaluate_compliance(&snapshot("pixel-violations.json"), t)
        .unwrap();
    assert!(!first.evaluation.is_compliant());
    assert!(
        first
            .alerts
            .iter()
            .any(|a| a.finding.kind == AlertKind::ComplianceViolation),
        "{:?}",
        first.alerts
    );
    for a in &first.alerts {
        assert_eq!(
            a.severity,
            a.finding.severity(),
            "the rule's severity reaches the outbox"
        );
    }
    let pending = agent.pending_alerts(1000).unwrap();
    assert_eq!(pending.len(), first.alerts.len());
    for (p, a) in pending.iter().zip(&first.alerts) {
        assert_eq!(
            p.severity, a.severity,
            "severity survives the outbox round trip"
        );
    }
    let actions = agent.take_actions(t).unwrap();
    assert!(
        !actions.is_empty(),
        "a device-owner snapshot with violations gets remediation"
    );
    assert!(
        agent.take_actions(t).unwrap().is_empty(),
        "actions are handed out once"
    );

    // The same snapshot again, after a restart: nothing new.
    drop(agent);
    let mut agent = open(&db);
    let again = agent
        .evaluate_compliance(&snapshot("pixel-violations.json"), t.plus_millis(60_000))
        .unwrap();
    assert!(again.alerts.is_empty(), "{:?}", again.alerts);
    assert!(again.evaluation.new_actions.is_empty());
    assert!(agent.take_actions(t).unwrap().is_empty());

    // Fixing the device restores compliance.
    let fixed = agent
        .evaluate_compliance(&snapshot("pixel-compliant.json"), t.plus_millis(120_000))
        .unwrap();
    assert!(
        fixed
            .alerts
            .iter()
            .any(|a| a.finding.kind == AlertKind::ComplianceRestored),
        "{:?}",
        fixed.alerts
    );
}

#[test]
fn the_escalation_ladder_wakes_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = enrolled_with_baseline(&dir.path().join("agent.db"));
    let t = T0.plus_millis(2 * DAY);
    agent
        .evaluate_compliance(&snapshot("pixel-violations.json"), t)
        .unwrap();
    let ladder = agent
        .compliance()
        .next_deadline()
        .expect("a violation starts the ladder");
    assert!(agent.next_wakeup().unwrap() <= ladder);
    // Wake the agent as the platform would until the ladder's step came due.
    let mut kinds = Vec::new();
    while let Some(w) = agent.next_wakeup().filter(|w| *w <= ladder) {
        kinds.extend(
            agent
                .handle_timeout(w)
                .unwrap()
                .into_iter()
                .map(|a| a.finding.kind),
        );
    }
    assert!(
        kinds.contains(&AlertKind::ComplianceBlocked) || kinds.contains(&AlertKind::ComplianceWipe),
        "{kinds:?}"
    );
}

#[test]
fn judging_needs_a_policy_and_a_well_formed_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db"));
    let err = agent
        .evaluate_compliance(&snapshot("pixel-compliant.json"), T0)
        .unwrap_err();
    assert!(matches!(err, portcullis_core::Error::NoPolicy), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let mut agent = enrolled_with_baseline(&dir.path().join("agent.db"));
    assert!(agent
        .evaluate_compliance(b"{\"platform\": 7", T0.plus_millis(2 * DAY))
        .is_err());
}

/// A snapshot filled field by field (as the bindings do) meets the same limits as the JSON
/// form, and one over a limit is refused naming its field, with nothing stored.
#[test]
fn a_typed_snapshot_over_a_limit_names_the_field_and_changes_nothing() {
    use portcullis_core::compliance::{DeviceSnapshot, InstalledApp, Platform};
    use portcullis_core::policy::model::Sha256Fingerprint;
    let dir = tempfile::tempdir().unwrap();
    let mut agent = enrolled_with_baseline(&dir.path().join("agent.db"));
    let t = T0.plus_millis(2 * DAY);
    let pending_before = agent.pending_alerts(100).unwrap().len();
    let mut s = DeviceSnapshot::new(Platform::Android);
    let mut ok = InstalledApp::new("org.example.ok");
    ok.signing_certs_sha256 = vec![Sha256Fingerprint([1; 32])];
    let mut many = InstalledApp::new("org.example.many");
    many.signing_certs_sha256 = (0..17u8).map(|i| Sha256Fingerprint([i; 32])).collect();
    s.apps = Some(vec![ok, many]);
    let err = agent.evaluate_compliance_snapshot(s, t).unwrap_err();
    match &err {
        portcullis_core::Error::InvalidInput { field, problem } => {
            assert_eq!(field, "apps[1].signingCertsSha256");
            assert!(problem.contains("more than 16"), "{problem}");
        }
        other => panic!("not InvalidInput: {other}"),
    }
    assert!(agent.take_actions(t).unwrap().is_empty());
    assert_eq!(agent.pending_alerts(100).unwrap().len(), pending_before);
    assert!(
        agent.compliance().last_seen().is_none(),
        "nothing was judged"
    );
}
