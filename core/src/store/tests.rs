use rusqlite::Connection;

use super::{Commit, Enrollment, JournalEntry, Store};
use crate::alert::{AlertKind, Finding, Severity};
use crate::error::Error;
use crate::journal::{self, EpochKey, Verdict, VerifyOptions};
use crate::time::Timestamp;

/// An enrolled in-memory store: record 1 and the checkpoint public key, as on a device.
fn store() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let device = crate::identity::SoftwareDeviceKey::new(b"store unit test device key").unwrap();
    let key = EpochKey::initial([7; 32]);
    let wrapped = key.wrap(&device).unwrap();
    store
        .enroll(Enrollment {
            at: Timestamp::from_unix_millis(500),
            key,
            wrapped_key: wrapped,
            wrapped_export: wrapped,
            public_key: journal::CheckpointSigner::derive(&device)
                .unwrap()
                .public_key(),
            key_check: "check".into(),
        })
        .unwrap();
    store
}

fn finding(kind: AlertKind) -> Finding {
    Finding {
        at: Timestamp::from_unix_millis(1_000),
        kind,
        slot: Some(0),
        detector: "test".into(),
        detector_version: 1,
        summary: "s".into(),
        evidence: vec![("k".into(), "v".into())],
        severity: None,
    }
}

#[test]
fn alerts_are_redelivered_until_acknowledged() {
    let mut store = store();
    let queued = store
        .commit(Commit {
            at: Some(Timestamp::from_unix_millis(1_000)),
            findings: vec![
                finding(AlertKind::SimReplaced),
                finding(AlertKind::SimRemoved),
            ],
            ..Commit::default()
        })
        .unwrap();
    assert_eq!(queued.len(), 2);
    let first = store.pending_alerts(10).unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].delivery_attempts, 1);
    assert_eq!(first[0].severity, Severity::Critical);
    assert_eq!(
        store
            .ack(&[first[0].id, 999], Timestamp::from_unix_millis(2_000))
            .unwrap(),
        1
    );
    let again = store.pending_alerts(10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[1].id);
    assert_eq!(again[0].delivery_attempts, 2);
    assert_eq!(again[0].finding, first[1].finding);
    assert!(matches!(
        store.verify_journal(VerifyOptions::default()).unwrap(),
        Verdict::Intact { records: 4, .. }
    ));
}

#[test]
fn chain_detects_an_edited_record() {
    let mut store = store();
    for _ in 0..3 {
        store
            .commit(Commit {
                at: Some(Timestamp::from_unix_millis(5)),
                journal: vec![JournalEntry {
                    kind: "note".into(),
                    body: "{}".into(),
                }],
                ..Commit::default()
            })
            .unwrap();
    }
    assert!(matches!(
        store.verify_journal(VerifyOptions::default()).unwrap(),
        Verdict::Intact { records: 4, .. }
    ));
    store
        .conn
        .execute("UPDATE journal SET body = '{\"x\":1}' WHERE seq = 2", [])
        .unwrap();
    assert!(matches!(
        store.verify_journal(VerifyOptions::default()).unwrap(),
        Verdict::Broken { seq: 2, .. }
    ));
}

#[test]
fn a_newer_schema_is_refused_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.db");
    drop(Store::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    let conn = Connection::open(&path).unwrap();
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
}
