//! Policy on the agent: enrollment with a signed root, bundles applied and refused,
//! the policy surviving restarts and steering the SIM guard.

mod policy_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use policy_support::{bundle, device, key, payload, standard_root, DAY, T0};
use portcullis_core::agent::{PolicyOutcome, RootOutcome};
use portcullis_core::policy::Policy;
use portcullis_core::sim::{
    Connectivity, ServiceObservation, ServiceState, SimEvent, SimObservation, SimState,
};
use portcullis_core::{Agent, AlertKind, DeviceKey, Error, SoftwareDeviceKey};

fn device_key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(b"agent-policy-test-secret").unwrap())
}

fn open(db: &Path) -> Agent {
    Agent::open(db, device_key(), T0, [4; 32]).unwrap()
}

fn enrolled(dir: &tempfile::TempDir) -> (PathBuf, Agent) {
    let db = dir.path().join("agent.db");
    let mut agent = open(&db);
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    (db, agent)
}

fn baseline_bundle(name: &str, version: u64) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(format!("{name}.json"));
    let policy = Policy::from_json(&std::fs::read(path).unwrap()).unwrap();
    let mut p = payload(version);
    p.policy = policy;
    p.sign(&[&key(10)]).unwrap()
}

/// An enrolled device that applied election-sensitive as bundle 1 a day after
/// enrollment and was then closed; returns its database.
fn closed_with_election_sensitive(dir: &tempfile::TempDir) -> PathBuf {
    let (db, mut agent) = enrolled(dir);
    agent
        .apply_policy(
            &baseline_bundle("election-sensitive", 1),
            T0.plus_millis(DAY),
        )
        .unwrap();
    db
}

fn kinds(agent: &mut Agent) -> Vec<AlertKind> {
    agent
        .pending_alerts(100)
        .unwrap()
        .iter()
        .map(|a| a.finding.kind)
        .collect()
}

#[test]
fn every_baseline_policy_loads_in_the_agent() {
    for (version, name) in ["baseline", "election-sensitive", "travel"]
        .iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut agent) = enrolled(&dir);
        let outcome = agent
            .apply_policy(
                &baseline_bundle(name, version as u64 + 1),
                T0.plus_millis(DAY),
            )
            .unwrap();
        assert!(matches!(outcome, PolicyOutcome::Applied(_)), "{name}");
        assert!(agent.active_policy().is_some(), "{name}");
    }
}

#[test]
fn the_applied_policy_steers_the_sim_guard_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // election-sensitive shortens the port-out window to 5 minutes.
    let db = closed_with_election_sensitive(&dir);
    let mut agent = open(&db);
    assert_eq!(
        agent.policy_status().unwrap().version,
        1,
        "restored after restart"
    );
    let t = T0.plus_millis(2 * DAY);
    agent
        .handle(
            &SimEvent::Connectivity(Connectivity {
                wifi: true,
                cellular_data: false,
                airplane_mode: false,
            }),
            t,
        )
        .unwrap();
    agent
        .handle(
            &SimEvent::Sim(SimObservation {
                slot: 0,
                state: Some(SimState::Ready),
                iccid: Some("8944110012345678901".into()),
                ..SimObservation::default()
            }),
            t,
        )
        .unwrap();
    agent
        .handle(
            &SimEvent::Service(ServiceObservation {
                slot: 0,
                state: ServiceState::EmergencyOnly,
                roaming: None,
                rat: None,
            }),
            t,
        )
        .unwrap();
    // Woken (and the radio re-read) at `t`: the next re-read is an hour away, the
    // port-out timer five minutes.
    agent.wake(t, None).unwrap();
    assert_eq!(agent.next_wakeup(), Some(t.plus_millis(5 * 60_000)));
}

#[test]
fn a_redelivered_bundle_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut agent) = enrolled(&dir);
    let b = bundle(7);
    assert!(matches!(
        agent.apply_policy(&b, T0.plus_millis(DAY)).unwrap(),
        PolicyOutcome::Applied(_)
    ));
    let records = journal_len(&agent);
    assert!(matches!(
        agent.apply_policy(&b, T0.plus_millis(DAY)).unwrap(),
        PolicyOutcome::Unchanged(_)
    ));
    assert_eq!(journal_len(&agent), records);
}

#[test]
fn a_refused_bundle_changes_nothing_and_alerts_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut agent) = enrolled(&dir);
    agent.apply_policy(&bundle(5), T0.plus_millis(DAY)).unwrap();
    let before = agent.policy_status().cloned();
    // Rollback to an older version, and a bundle signed by a key the root does not list.
    let older = bundle(4);
    let forged = payload(9).sign(&[&key(99)]).unwrap();
    for bad in [&older, &forged] {
        for _ in 0..2 {
            let err = agent.apply_policy(bad, T0.plus_millis(DAY)).unwrap_err();
            assert!(matches!(err, Error::Policy(_)), "{err}");
            assert_eq!(agent.policy_status().cloned(), before);
        }
    }
    let refused = kinds(&mut agent)
        .into_iter()
        .filter(|k| *k == AlertKind::PolicyRefused)
        .count();
    assert_eq!(refused, 2, "one alert per distinct refused input");
}

#[test]
fn a_root_rotation_applies_once_and_the_root_in_force_is_no_news() {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut agent) = enrolled(&dir);
    let v1 = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    // Managed configuration keeps offering the root it set at enrollment.
    assert_eq!(
        agent.apply_root_update(&v1, T0).unwrap(),
        RootOutcome::Unchanged { version: 1 }
    );
    let mut next = standard_root(1);
    next.version = 2;
    let v2 = next.sign(&[&key(1), &key(2)]).unwrap();
    assert_eq!(
        agent.apply_root_update(&v2, T0.plus_millis(DAY)).unwrap(),
        RootOutcome::Rotated { from: 1, to: 2 }
    );
    assert_eq!(
        agent.apply_root_update(&v2, T0.plus_millis(DAY)).unwrap(),
        RootOutcome::Unchanged { version: 2 }
    );
    // The old root is now a rollback: refused, alerted once however often it comes.
    for _ in 0..2 {
        let err = agent
            .apply_root_update(&v1, T0.plus_millis(DAY))
            .unwrap_err();
        assert!(matches!(err, Error::Policy(_)), "{err}");
    }
    assert_eq!(kinds(&mut agent), [AlertKind::PolicyRefused]);
    // The rotation is durable and journaled; bundles now need the new root version.
    drop(agent);
    let mut agent = open(&db);
    assert_eq!(
        agent.apply_root_update(&v2, T0.plus_millis(DAY)).unwrap(),
        RootOutcome::Unchanged { version: 2 }
    );
    assert!(agent_records(&db).iter().any(|k| k == "trust_root_rotated"));
    let mut p = payload(1);
    p.root_version = 2;
    let bundle_v2 = p.sign(&[&key(10)]).unwrap();
    assert!(matches!(
        agent.apply_policy(&bundle_v2, T0.plus_millis(DAY)).unwrap(),
        PolicyOutcome::Applied(_)
    ));
}

#[test]
fn the_trust_root_is_installed_once_and_needed_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = open(&db);
    let err = agent.apply_policy(&bundle(1), T0).unwrap_err();
    assert!(matches!(err, portcullis_core::Error::NotEnrolled), "{err}");
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    let err = agent.install_trust_root(&root, device(), T0).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "trust_root"),
        "{err}"
    );
    // A root signed below its own threshold is refused and alerted.
    let dir2 = tempfile::tempdir().unwrap();
    let mut fresh = open(&dir2.path().join("agent.db"));
    let weak = standard_root(1).sign(&[&key(1)]).unwrap();
    assert!(fresh.install_trust_root(&weak, device(), T0).is_err());
    assert_eq!(kinds(&mut fresh), [AlertKind::PolicyRefused]);
}

#[test]
fn a_tampered_stored_bundle_falls_back_to_the_built_in_rules() {
    let dir = tempfile::tempdir().unwrap();
    let db = closed_with_election_sensitive(&dir);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM component_state WHERE component = 'policy'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&body).unwrap();
    state["bundle"] = serde_json::Value::String(String::from_utf8(bundle(1)).unwrap());
    conn.execute(
        "UPDATE component_state SET body = ?1 WHERE component = 'policy'",
        [state.to_string()],
    )
    .unwrap();
    drop(conn);
    let agent = open(&db);
    assert!(agent.active_policy().is_none());
    let exported = agent_records(&db);
    assert!(
        exported.iter().any(|k| k == "policy_restore_failed"),
        "{exported:?}"
    );
}

fn journal_len(agent: &Agent) -> u64 {
    match agent.verify_journal(Default::default()).unwrap() {
        portcullis_core::journal::Verdict::Intact { records, .. } => records,
        other @ portcullis_core::journal::Verdict::Broken { .. } => panic!("{other:?}"),
    }
}

fn agent_records(db: &Path) -> Vec<String> {
    portcullis_core::store::Store::open_read_only(db)
        .unwrap()
        .journal_records()
        .unwrap()
        .into_iter()
        .map(|r| r.kind)
        .collect()
}
