//! The agent's failure paths that no scenario reaches from outside: writes refused by
//! the store, and stored rows that no longer read. Each must change nothing on disk and
//! leave memory as the disk says.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use super::*;
use crate::alert::AlertKind;
use crate::identity::SoftwareDeviceKey;
use crate::policy::{DeviceScope, SigningKey, TrustRoot};

/// 2026-03-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);

fn open(db: &Path) -> Result<Agent> {
    let key = Arc::new(SoftwareDeviceKey::new(b"agent-unit-test-secret").unwrap());
    Agent::open(db, key, T0, [9; 32])
}

/// An agent with a one-key trust root installed and no policy applied.
fn enrolled(db: &Path) -> Agent {
    let mut agent = open(db).unwrap();
    let key = SigningKey::from_seed(&[1; 32]).unwrap();
    let root = TrustRoot::single_key(key.public_key(), "unit test")
        .sign(&[&key])
        .unwrap();
    let scope = DeviceScope {
        device_id: "dev-0001".into(),
        groups: Vec::new(),
    };
    agent.install_trust_root(&root, scope, T0).unwrap();
    agent
}

/// Every row of `table` as text, sorted: what must not change.
fn rows(db: &Path, table: &str) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut rows = conn
        .prepare(&format!("SELECT * FROM {table}"))
        .unwrap()
        .query_map([], |r| {
            let mut cells = Vec::new();
            for i in 0..r.as_ref().column_count() {
                let v: rusqlite::types::Value = r.get(i)?;
                cells.push(format!("{v:?}"));
            }
            Ok(cells.join("|"))
        })
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    rows.sort();
    rows
}

/// A database enrolled and closed, then edited with `sql` (one parameter, `param`), as
/// damage or an intruder would leave it.
fn edited(sql: &str, param: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    drop(open(&db).unwrap());
    Connection::open(&db)
        .unwrap()
        .execute(sql, [param])
        .unwrap();
    (dir, db)
}

fn refused_alerts(agent: &mut Agent) -> usize {
    agent
        .pending_alerts(100)
        .unwrap()
        .iter()
        .filter(|a| a.finding.kind == AlertKind::PolicyRefused)
        .count()
}

#[test]
fn a_refusal_that_could_not_be_written_is_alerted_when_it_comes_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = enrolled(&db);
    let policy_row = rows(&db, "component_state");
    agent.store.refuse_writes_for_test();
    let err = agent.apply_policy(b"not a bundle", T0).unwrap_err();
    assert!(
        matches!(err, Error::Storage { .. }),
        "the failed write wins: {err}"
    );
    agent.store.allow_writes_for_test();
    assert_eq!(
        rows(&db, "component_state"),
        policy_row,
        "nothing was stored"
    );
    assert_eq!(refused_alerts(&mut agent), 0);
    // Delivered again: memory must not believe the first refusal was recorded.
    let err = agent.apply_policy(b"not a bundle", T0).unwrap_err();
    assert!(matches!(err, Error::Policy(_)), "{err}");
    assert_eq!(refused_alerts(&mut agent), 1, "the refusal is alerted once");
    // And a third delivery is the repeat it now is.
    agent.apply_policy(b"not a bundle", T0).unwrap_err();
    assert_eq!(refused_alerts(&mut agent), 1);
}

#[test]
fn an_incomplete_enrollment_record_is_corrupt_and_left_as_it_is() {
    let (_dir, db) = edited("DELETE FROM meta WHERE key = ?1", META_KEY_CHECK);
    let before = (rows(&db, "meta"), rows(&db, "journal"));
    let err = open(&db).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert_eq!(
        (rows(&db, "meta"), rows(&db, "journal")),
        before,
        "no enrollment was started over"
    );
}

#[test]
fn an_unreadable_enrollment_time_is_corrupt() {
    let (_dir, db) = edited(
        "UPDATE meta SET value = 'yesterday' WHERE key = ?1",
        META_ENROLLED_AT,
    );
    assert!(matches!(open(&db).unwrap_err(), Error::Corrupt(_)));
}

#[test]
fn an_unreadable_managed_configuration_memory_is_corrupt_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = open(&db).unwrap();
    Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO component_state (component, body) VALUES ('managed_config', '{\"root\":')",
            [],
        )
        .unwrap();
    let before = rows(&db, "component_state");
    let config = ManagedConfig {
        device_id: Some("dev-0001".into()),
        trust_root: Some("{}".into()),
        ..ManagedConfig::default()
    };
    let err = agent.sync_managed_config(&config, T0).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert_eq!(rows(&db, "component_state"), before);
    assert!(agent.policy.component.is_none(), "no root was installed");
}

#[test]
fn the_debug_form_shows_none_of_the_agent_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut agent = open(&dir.path().join("agent.db")).unwrap();
    agent.handle(&ready("8944110012345678901"), T0).unwrap();
    assert_eq!(format!("{agent:?}"), "Agent { .. }");
}

fn ready(iccid: &str) -> SimEvent {
    SimEvent::Sim(crate::sim::SimObservation {
        slot: 0,
        state: Some(crate::sim::SimState::Ready),
        iccid: Some(iccid.into()),
        ..Default::default()
    })
}

#[test]
fn a_wake_up_that_cannot_be_committed_hands_its_duties_out_later() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = open(&db).unwrap();
    let due = agent
        .next_wakeup()
        .expect("the re-read cadence always names a time");
    let before = rows(&db, "component_state");
    agent.store.refuse_writes_for_test();
    let err = agent.wake(due, None).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    agent.store.allow_writes_for_test();
    assert_eq!(rows(&db, "component_state"), before);
    assert_eq!(
        agent.next_wakeup(),
        Some(due),
        "the deadline is still armed"
    );
    let woken = agent.wake(due, None).unwrap();
    assert!(
        woken.duties.reread_radio,
        "the failed wake-up did not use the duty"
    );
    assert!(woken.next_wakeup.is_some_and(|next| next > due));
    assert!(
        !agent.wake(due, None).unwrap().duties.reread_radio,
        "handed out once"
    );
}

#[test]
fn a_delivery_run_that_cannot_reach_the_outbox_fails_and_keeps_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = open(&db).unwrap();
    agent.handle(&ready("8944110012345678901"), T0).unwrap();
    let raised = agent
        .handle(&ready("8944110098765432109"), T0.plus_millis(60_000))
        .unwrap();
    assert_eq!(raised.len(), 1);
    let now = T0.plus_millis(120_000);
    agent.store.refuse_writes_for_test();
    let err = agent.next_delivery(now).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    agent.store.allow_writes_for_test();
    let batch = agent
        .next_delivery(now)
        .unwrap()
        .expect("the alert is still queued");
    assert_eq!(
        batch.alerts.iter().map(|a| a.id).collect::<Vec<_>>(),
        [raised[0].id]
    );
}

/// The public spyware fixture as collection `fixture` at `version`, signed with the key
/// of [`enrolled`]'s root.
fn signed_collection(version: u64) -> Vec<u8> {
    let stix = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/spyware-fixture.stix2"),
    )
    .unwrap();
    crate::policy::IndicatorsPayload {
        collection: "fixture".into(),
        version,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * 24 * 3_600_000),
        stix: serde_json::from_str(&stix).unwrap(),
    }
    .sign(&[&SigningKey::from_seed(&[1; 32]).unwrap()])
    .unwrap()
}

#[test]
fn a_collection_whose_load_cannot_be_written_is_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = enrolled(&db);
    let now = T0.plus_millis(60_000);
    let (v1, v2) = (signed_collection(1), signed_collection(2));
    assert_eq!(agent.load_signed_indicators(&v1, now).unwrap().version, 1);
    agent.store.refuse_writes_for_test();
    let err = agent.load_signed_indicators(&v2, now).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    agent.store.allow_writes_for_test();
    // Version 1 is still the one held: delivered again it is no news (were version 2
    // held, it would be refused as a rollback).
    assert_eq!(agent.load_signed_indicators(&v1, now).unwrap().version, 1);
    // Version 2 was never taken: offered again, it is an update.
    assert_eq!(agent.load_signed_indicators(&v2, now).unwrap().version, 2);
    drop(agent);
    let mut agent = open(&db).unwrap();
    assert_eq!(agent.load_signed_indicators(&v2, now).unwrap().version, 2);
    let err = agent.load_signed_indicators(&v1, now).unwrap_err();
    assert!(
        matches!(err, Error::Policy(_)),
        "a rollback after the restart: {err}"
    );
}

#[test]
fn unreadable_stored_collections_fail_the_open_and_are_kept() {
    let (_dir, db) = edited(
        "INSERT INTO component_state (component, body) VALUES (?1, '{\"fixture\":')",
        inspection::INDICATORS_STATE,
    );
    let before = rows(&db, "component_state");
    let err = open(&db).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert_eq!(rows(&db, "component_state"), before);
}

#[test]
fn remediation_actions_whose_hand_out_cannot_be_written_are_handed_out_later() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut agent = enrolled(&db);
    let day = 24 * 3_600_000;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let policy = crate::policy::Policy::from_json(
        &std::fs::read(manifest.join("../policies/baseline.json")).unwrap(),
    )
    .unwrap();
    let bundle = crate::policy::BundlePayload {
        version: 1,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * day),
        scope: crate::policy::BundleScope {
            devices: vec!["dev-0001".into()],
            groups: Vec::new(),
        },
        policy,
    }
    .sign(&[&SigningKey::from_seed(&[1; 32]).unwrap()])
    .unwrap();
    agent.apply_policy(&bundle, T0.plus_millis(day)).unwrap();
    let t = T0.plus_millis(2 * day);
    let snapshot =
        std::fs::read(manifest.join("tests/data/compliance/pixel-violations.json")).unwrap();
    agent.evaluate_compliance(&snapshot, t).unwrap();
    agent.store.refuse_writes_for_test();
    let err = agent.take_actions(t).unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    agent.store.allow_writes_for_test();
    let actions = agent.take_actions(t).unwrap();
    assert!(!actions.is_empty(), "the failed hand-out kept them");
    assert!(agent.take_actions(t).unwrap().is_empty(), "handed out once");
    drop(agent);
    let mut agent = open(&db).unwrap();
    assert!(
        agent.take_actions(t).unwrap().is_empty(),
        "the hand-out was stored"
    );
}
