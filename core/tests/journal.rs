//! Tamper tests of the journal: every kind of edit an intruder could make to the
//! database file is caught by verification, each as its own test.

use std::path::Path;
use std::sync::Arc;

use portcullis_core::journal::{EpochKey, SignedCheckpoint, Verdict, VerifyOptions};
use portcullis_core::store::{Parallelism, Store};
use portcullis_core::{trace, Agent, DeviceKey, SoftwareDeviceKey, Timestamp};
use rusqlite::{params, Connection};

const SECRET: &[u8] = b"journal-test-device-secret";

fn key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(SECRET).unwrap())
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    initial_key: EpochKey,
    checkpoint: SignedCheckpoint,
    last_seq: i64,
}

/// A journal with alerts, acknowledgements, two checkpoints and records after the last one.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let swap =
        trace::parse(&std::fs::read_to_string(scenarios.join("sim-swap-at-night.jsonl")).unwrap())
            .unwrap();
    let g2 = trace::parse(&std::fs::read_to_string(scenarios.join("downgrade-2g.jsonl")).unwrap())
        .unwrap();
    let mut agent = Agent::open(&db, key(), swap[0].at, [9; 32]).unwrap();
    let initial_key = EpochKey::from_bytes(
        0,
        agent
            .journal_key_export()
            .unwrap()
            .expect("export until confirmed"),
    );
    trace::replay(&mut agent, &swap, &mut trace::refuse_shorthands).unwrap();
    let pending = agent.pending_alerts(10).unwrap();
    agent
        .ack_alerts(&[pending[0].id], swap.last().unwrap().at)
        .unwrap();
    agent.checkpoint(swap.last().unwrap().at).unwrap();
    trace::replay(&mut agent, &g2, &mut trace::refuse_shorthands).unwrap();
    let checkpoint = agent.checkpoint(g2.last().unwrap().at).unwrap();
    // Records written after the console's checkpoint.
    let mut later = g2.clone();
    for ev in &mut later {
        ev.at = ev.at.plus_millis(86_400_000);
    }
    trace::replay(&mut agent, &later, &mut trace::refuse_shorthands).unwrap();
    assert!(agent.confirm_journal_key_export().unwrap());
    assert_eq!(
        agent.journal_key_export().unwrap(),
        None,
        "the device forgets the epoch-0 key"
    );
    let last_seq = match agent.verify_journal(VerifyOptions::default()).unwrap() {
        Verdict::Intact { last_seq, .. } => last_seq,
        other => panic!("fresh journal must verify: {other:?}"),
    };
    assert!(
        last_seq >= 6 && checkpoint.seq < last_seq,
        "last {last_seq}, checkpoint {}",
        checkpoint.seq
    );
    Fixture {
        _dir: dir,
        db,
        initial_key,
        checkpoint,
        last_seq,
    }
}

impl Fixture {
    /// Verifies inline and, with small batches, on worker threads; both must agree on
    /// the verdict and on the first broken record.
    fn verify(&self) -> Verdict {
        let store = Store::open_read_only(&self.db).unwrap();
        let options = VerifyOptions {
            initial_key: Some(self.initial_key.clone()),
            console_checkpoint: Some(self.checkpoint.clone()),
        };
        let inline = store
            .verify_journal_with(
                options.clone(),
                Parallelism {
                    workers: 0,
                    batch: 1,
                },
            )
            .unwrap();
        assert_eq!(store.verify_journal(options.clone()).unwrap(), inline);
        for (workers, batch) in [(1, 1), (2, 3), (1, 1_000)] {
            let parallel = store
                .verify_journal_with(options.clone(), Parallelism { workers, batch })
                .unwrap();
            match (&inline, &parallel) {
                (Verdict::Intact { .. }, _) => assert_eq!(parallel, inline),
                (Verdict::Broken { seq: a, .. }, Verdict::Broken { seq: b, .. }) => assert_eq!(
                    a, b,
                    "{workers} workers, batches of {batch}: {parallel:?} but inline {inline:?}"
                ),
                _ => panic!(
                    "{workers} workers, batches of {batch}: {parallel:?} but inline {inline:?}"
                ),
            }
        }
        inline
    }

    /// Runs SQL as an intruder would: with foreign-key enforcement switched off.
    fn sql(&self, sql: &str, p: impl rusqlite::Params) {
        let conn = Connection::open(&self.db).unwrap();
        conn.execute_batch("PRAGMA foreign_keys=OFF").unwrap();
        conn.execute(sql, p).unwrap();
    }

    fn broken_at(&self) -> i64 {
        match self.verify() {
            Verdict::Broken { seq, .. } => seq,
            Verdict::Intact { .. } => panic!("tampering went unnoticed"),
        }
    }
}

#[test]
fn an_untouched_journal_verifies_with_macs_and_checkpoints() {
    let f = fixture();
    match f.verify() {
        Verdict::Intact {
            records,
            checkpoints,
            macs_checked,
            last_seq,
        } => {
            assert_eq!(last_seq, f.last_seq);
            assert_eq!(records as i64, f.last_seq);
            assert_eq!(checkpoints, 2);
            assert!(macs_checked);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn editing_any_field_of_any_record_is_detected() {
    let f = fixture();
    let columns = [
        ("at", "at + 1"),
        ("epoch", "epoch + 1"),
        ("kind", "kind || 'x'"),
        ("body", "body || ' '"),
        ("hash", "zeroblob(32)"),
        ("mac", "zeroblob(32)"),
    ];
    for seq in 1..=f.last_seq {
        for (column, expr) in columns {
            let g = fixture_copy(&f);
            g.sql(
                &format!("UPDATE journal SET {column} = {expr} WHERE seq = ?1"),
                params![seq],
            );
            assert_eq!(g.broken_at(), seq, "editing {column} of record {seq}");
        }
    }
}

#[test]
fn a_body_that_is_not_utf8_is_detected_even_without_keys() {
    let f = fixture();
    let g = fixture_copy(&f);
    // The same bytes as the body with one made invalid: SQLite stores such text as is.
    g.sql(
        "UPDATE journal SET body = CAST(CAST(body AS BLOB) || x'ff' AS TEXT) WHERE seq = 2",
        [],
    );
    let verdict = Store::open_read_only(&g.db)
        .unwrap()
        .verify_journal(VerifyOptions::default())
        .unwrap();
    match verdict {
        Verdict::Broken { seq, reason } => {
            assert_eq!(seq, 2);
            assert!(reason.contains("UTF-8"), "{reason}");
        }
        other => panic!("an invalid body went unnoticed: {other:?}"),
    }
}

#[test]
fn a_damaged_last_record_does_not_hide_an_earlier_edit() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.sql("UPDATE journal SET body = body || ' ' WHERE seq = 1", []);
    g.sql(
        "UPDATE journal SET hash = x'00' WHERE seq = (SELECT max(seq) FROM journal)",
        [],
    );
    assert_eq!(g.broken_at(), 1);
}

#[test]
fn a_gap_is_reported_before_a_malformed_record_after_it() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.sql("DELETE FROM journal WHERE seq = 2", []);
    g.sql(
        "UPDATE journal SET body = CAST(CAST(body AS BLOB) || x'ff' AS TEXT) WHERE seq = 4",
        [],
    );
    assert_eq!(g.broken_at(), 2);
}

#[test]
fn an_unreadable_page_after_an_edit_still_names_the_edit() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.sql("UPDATE journal SET body = body || ' ' WHERE seq = 1", []);
    // Enough rows in the current epoch (the in-order walk goes on past the edit, whose
    // hash a worker checks) that the journal's last pages are the file's last pages.
    let conn = Connection::open(&g.db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys=OFF").unwrap();
    for i in 0..400 {
        conn.execute(
            "INSERT INTO journal(seq, at, epoch, kind, body, hash, mac)
             VALUES ((SELECT max(seq) + 1 FROM journal), 0,
                     (SELECT epoch FROM journal ORDER BY seq DESC LIMIT 1),
                     'note', ?1, zeroblob(32), zeroblob(16))",
            params![format!("{{\"padding\":\"{}\"}}", "x".repeat(200 + i % 7))],
        )
        .unwrap();
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&g.db).unwrap();
    let len = bytes.len();
    bytes[len - 4096..].fill(0xa5);
    std::fs::write(&g.db, bytes).unwrap();
    let store = Store::open_read_only(&g.db).unwrap();
    let options = VerifyOptions {
        initial_key: Some(g.initial_key.clone()),
        console_checkpoint: Some(g.checkpoint.clone()),
    };
    for parallelism in [
        Parallelism {
            workers: 0,
            batch: 1,
        },
        Parallelism {
            workers: 1,
            batch: 1,
        },
        Parallelism {
            workers: 2,
            batch: 3,
        },
    ] {
        match store.verify_journal_with(options.clone(), parallelism) {
            Ok(Verdict::Broken { seq, .. }) => assert_eq!(seq, 1, "{parallelism:?}"),
            other => panic!("{parallelism:?}: {other:?}"),
        }
    }
}

#[test]
fn deleting_a_record_is_detected() {
    let f = fixture();
    for seq in 1..f.last_seq {
        let g = fixture_copy(&f);
        g.sql("DELETE FROM journal WHERE seq = ?1", params![seq]);
        assert_eq!(g.broken_at(), seq, "deleting record {seq}");
    }
}

#[test]
fn reordering_records_is_detected() {
    let f = fixture();
    let g = fixture_copy(&f);
    // Swap the contents of records 3 and 4, keeping their positions.
    let conn = Connection::open(&g.db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys=OFF;
         UPDATE journal SET seq = -3 WHERE seq = 3;
         UPDATE journal SET seq = 3 WHERE seq = 4;
         UPDATE journal SET seq = 4 WHERE seq = -3;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(g.broken_at(), 3);
}

#[test]
fn truncating_the_tail_behind_the_consoles_checkpoint_is_detected() {
    let f = fixture();
    let g = fixture_copy(&f);
    // The intruder removes the tail, the stored checkpoints and the key evidence of them.
    g.sql(
        "DELETE FROM journal WHERE seq >= ?1",
        params![f.checkpoint.seq - 1],
    );
    g.sql("DELETE FROM checkpoint", []);
    assert_eq!(g.broken_at(), f.checkpoint.seq - 1);
}

#[test]
fn truncating_behind_a_stored_checkpoint_is_detected_without_the_console() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.sql(
        "DELETE FROM journal WHERE seq >= ?1",
        params![f.checkpoint.seq],
    );
    let verdict = Store::open_read_only(&g.db)
        .unwrap()
        .verify_journal(VerifyOptions::default())
        .unwrap();
    assert!(
        matches!(verdict, Verdict::Broken { seq, .. } if seq == f.checkpoint.seq),
        "{verdict:?}"
    );
}

#[test]
fn a_rewritten_chain_fails_the_mac_and_the_checkpoints() {
    let f = fixture();
    let g = fixture_copy(&f);
    // The intruder edits record 2 and recomputes every later hash, as anyone can with SHA-256.
    rewrite_chain_from(&g.db, 2);
    let without_keys = Store::open_read_only(&g.db)
        .unwrap()
        .verify_journal(VerifyOptions::default())
        .unwrap();
    assert!(
        matches!(without_keys, Verdict::Broken { .. }),
        "stored signed checkpoints catch a recomputed chain: {without_keys:?}"
    );
    assert_eq!(
        g.broken_at(),
        2,
        "the MAC catches the first rewritten record"
    );
}

#[test]
fn pruning_never_drops_an_undelivered_alert() {
    let f = fixture();
    let g = fixture_copy(&f);
    let mut agent = Agent::open(&g.db, key(), Timestamp::from_unix_millis(0), [0; 32]).unwrap();
    let oldest_pending = agent.pending_alerts(1).unwrap()[0].id;
    agent.prune_journal(far_future()).unwrap();
    let still = agent.pending_alerts(100).unwrap();
    assert_eq!(
        still[0].id, oldest_pending,
        "the undelivered alert survived pruning"
    );
    drop(agent);
    assert!(matches!(g.verify(), Verdict::Intact { .. }));
}

#[test]
fn pruning_after_delivery_keeps_the_rest_verifiable() {
    let f = fixture();
    let g = fixture_copy(&f);
    let mut agent = Agent::open(&g.db, key(), Timestamp::from_unix_millis(0), [0; 32]).unwrap();
    let ids: Vec<u64> = agent
        .pending_alerts(100)
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(agent.ack_alerts(&ids, far_future()).unwrap(), ids.len());
    let removed = agent.prune_journal(far_future()).unwrap();
    assert_eq!(
        removed as i64, f.checkpoint.seq,
        "pruned up to the newest checkpoint"
    );
    drop(agent);
    match g.verify() {
        Verdict::Intact {
            records,
            macs_checked,
            ..
        } => {
            assert_eq!(
                records as i64,
                g.last_seq + 1 - f.checkpoint.seq,
                "the rest, plus the acknowledgement"
            );
            assert!(macs_checked);
        }
        other => panic!("{other:?}"),
    }
    // Tampering with what remains is still caught.
    g.sql(
        "UPDATE journal SET body = body || ' ' WHERE seq = ?1",
        params![f.checkpoint.seq + 1],
    );
    assert_eq!(g.broken_at(), f.checkpoint.seq + 1);
}

fn far_future() -> Timestamp {
    Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap()
}

#[test]
fn a_different_device_key_is_refused() {
    let f = fixture();
    let other: Arc<dyn DeviceKey> =
        Arc::new(SoftwareDeviceKey::new(b"another-device-secret").unwrap());
    let err = Agent::open(&f.db, other, Timestamp::from_unix_millis(0), [0; 32]).unwrap_err();
    assert!(err.to_string().contains("different device key"), "{err}");
}

/// Copies the fixture's database so each tamper starts from the same journal.
fn fixture_copy(f: &Fixture) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    Connection::open(&f.db)
        .unwrap()
        .execute("VACUUM INTO ?1", [db.to_str().unwrap()])
        .unwrap();
    Fixture {
        _dir: dir,
        db,
        initial_key: f.initial_key.clone(),
        checkpoint: f.checkpoint.clone(),
        last_seq: f.last_seq,
    }
}

fn rewrite_chain_from(db: &Path, from: i64) {
    use portcullis_core::journal::{record_hash, RecordRef};
    let conn = Connection::open(db).unwrap();
    conn.execute(
        "UPDATE journal SET body = body || ' ' WHERE seq = ?1",
        [from],
    )
    .unwrap();
    let mut prev: [u8; 32] = if from == 1 {
        [0; 32]
    } else {
        conn.query_row("SELECT hash FROM journal WHERE seq = ?1", [from - 1], |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap()
        .try_into()
        .unwrap()
    };
    let rows: Vec<(i64, i64, i64, String, String)> = conn
        .prepare("SELECT seq, at, epoch, kind, body FROM journal WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([from], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (seq, at, epoch, kind, body) in rows {
        let hash = record_hash(
            &prev,
            &RecordRef {
                seq,
                at,
                epoch,
                kind: &kind,
                body: &body,
            },
        );
        conn.execute(
            "UPDATE journal SET hash = ?2 WHERE seq = ?1",
            params![seq, hash.as_slice()],
        )
        .unwrap();
        prev = hash;
    }
}
