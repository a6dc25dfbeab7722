//! Tamper tests of the journal: every kind of edit an intruder could make to the
//! database file is caught by verification, each as its own test.

mod journal_support;
mod policy_support;

use std::path::Path;
use std::sync::Arc;

use policy_support::pending_ids;
use portcullis_core::journal::{EpochKey, SignedCheckpoint, Verdict, VerifyOptions};
use portcullis_core::store::{Parallelism, Store};
use portcullis_core::{Agent, DeviceKey, Error, SoftwareDeviceKey, Timestamp};
use rusqlite::{params, Connection};

const SECRET: &[u8] = b"journal-test-device-secret";

/// Invalidates the UTF-8 of a record's body: SQLite stores such text as is.
const GARBLE_BODY: &str =
    "UPDATE journal SET body = CAST(CAST(body AS BLOB) || x'ff' AS TEXT) WHERE seq = ?1";

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

/// A journal with alerts, acknowledgements, two checkpoints and records after the last
/// one; the device has forgotten its epoch-0 key.
fn fixture() -> Fixture {
    let mut journal = journal_support::build(key(), [9; 32]);
    let agent = &mut journal.agent;
    assert!(agent.confirm_journal_key_export().unwrap());
    assert_eq!(
        agent.journal_key_export().unwrap(),
        None,
        "the device forgets the epoch-0 key"
    );
    let last_seq = match agent.verify_journal(VerifyOptions::default()).unwrap() {
        Verdict::Intact { last_seq, .. } => last_seq,
        other @ Verdict::Broken { .. } => panic!("fresh journal must verify: {other:?}"),
    };
    assert!(
        last_seq >= 6 && journal.checkpoint.seq < last_seq,
        "last {last_seq}, checkpoint {}",
        journal.checkpoint.seq
    );
    Fixture {
        _dir: journal.dir,
        db: journal.db,
        initial_key: journal.initial_key,
        checkpoint: journal.checkpoint,
        last_seq,
    }
}

fn parallelism(workers: usize, batch: usize) -> Parallelism {
    Parallelism { workers, batch }
}

/// A journal anchor as the store writes it after pruning.
fn anchor(seq: impl std::fmt::Display, hash: &str, next_epoch: impl std::fmt::Display) -> String {
    format!(r#"{{"seq":{seq},"hash":"{hash}","next_epoch":{next_epoch}}}"#)
}

/// Acknowledges every pending alert at `at`; returns how many there were.
fn ack_all(agent: &mut Agent, at: Timestamp) -> usize {
    let ids = pending_ids(agent, 100);
    assert_eq!(agent.ack_alerts(&ids, at).unwrap(), ids.len());
    ids.len()
}

/// `verdict` names record `seq` as broken, for a reason that mentions `reason_part`.
fn assert_broken_at(verdict: Verdict, seq: i64, reason_part: &str) {
    match verdict {
        Verdict::Broken { seq: at, reason } => {
            assert_eq!(at, seq);
            assert!(reason.contains(reason_part), "{reason}");
        }
        other @ Verdict::Intact { .. } => panic!("record {seq} went unnoticed: {other:?}"),
    }
}

impl Fixture {
    /// The console's material: the epoch-0 key and its checkpoint.
    fn options(&self) -> VerifyOptions {
        VerifyOptions {
            initial_key: Some(self.initial_key.clone()),
            console_checkpoint: Some(self.checkpoint.clone()),
        }
    }

    /// Verifies inline and, with small batches, on worker threads; both must agree on
    /// the verdict and on the first broken record.
    fn verify(&self) -> Verdict {
        let store = Store::open_read_only(&self.db).unwrap();
        let options = self.options();
        let inline = store
            .verify_journal_with(options.clone(), parallelism(0, 1))
            .unwrap();
        assert_eq!(store.verify_journal(options.clone()).unwrap(), inline);
        for (workers, batch) in [(1, 1), (2, 3), (1, 1_000)] {
            let parallel = store
                .verify_journal_with(options.clone(), parallelism(workers, batch))
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

    /// Appends a space to the body of record `seq`.
    fn edit_body(&self, seq: i64) {
        self.sql(
            "UPDATE journal SET body = body || ' ' WHERE seq = ?1",
            [seq],
        );
    }

    /// Deletes record `from` and every later one.
    fn truncate_from(&self, from: i64) {
        self.sql("DELETE FROM journal WHERE seq >= ?1", [from]);
    }

    /// Deletes every record and every alert.
    fn wipe(&self) {
        self.sql("DELETE FROM outbox", []);
        self.sql("DELETE FROM journal", []);
    }

    fn set_anchor(&self, anchor: &str) {
        self.sql(
            "INSERT INTO meta(key, value) VALUES ('journal_anchor', ?1)",
            [anchor],
        );
    }

    /// Removes the records through `seq` and their alerts, and writes `anchor` in their
    /// place, as pruning would.
    fn prune_by_hand(&self, seq: i64, anchor: &str) {
        self.sql("DELETE FROM outbox WHERE journal_seq <= ?1", [seq]);
        self.sql("DELETE FROM journal WHERE seq <= ?1", [seq]);
        self.set_anchor(anchor);
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
        other @ Verdict::Broken { .. } => panic!("{other:?}"),
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
    g.sql(GARBLE_BODY, [2]);
    assert_broken_at(g.verify_alone(), 2, "UTF-8");
}

#[test]
fn a_damaged_last_record_does_not_hide_an_earlier_edit() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.edit_body(1);
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
    g.sql(GARBLE_BODY, [4]);
    assert_eq!(g.broken_at(), 2);
}

#[test]
fn an_unreadable_page_after_an_edit_still_names_the_edit() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.edit_body(1);
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
    for parallelism in [parallelism(0, 1), parallelism(1, 1), parallelism(2, 3)] {
        match store.verify_journal_with(g.options(), parallelism) {
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
    g.truncate_from(f.checkpoint.seq - 1);
    g.sql("DELETE FROM checkpoint", []);
    assert_eq!(g.broken_at(), f.checkpoint.seq - 1);
}

#[test]
fn truncating_behind_a_stored_checkpoint_is_detected_without_the_console() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.truncate_from(f.checkpoint.seq);
    let verdict = g.verify_alone();
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
    let without_keys = g.verify_alone();
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
    ack_all(&mut agent, far_future());
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
                g.last_seq + 2 - f.checkpoint.seq,
                "the rest, plus the acknowledgement and the pruning record"
            );
            assert!(macs_checked);
        }
        other @ Verdict::Broken { .. } => panic!("{other:?}"),
    }
    // Tampering with what remains is still caught.
    g.edit_body(f.checkpoint.seq + 1);
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
    assert!(matches!(err, Error::DeviceKey(_)), "{err}");
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

// Issue 14, journal items 1 to 5: each repro of the adversarial pass, as a test.

impl Fixture {
    /// Verifies with no console material at all: only what the file itself holds.
    fn verify_alone(&self) -> Verdict {
        Store::open_read_only(&self.db)
            .unwrap()
            .verify_journal(VerifyOptions::default())
            .unwrap()
    }

    fn hash_of(&self, seq: i64) -> String {
        let conn = Connection::open(&self.db).unwrap();
        conn.query_row(
            "SELECT lower(hex(hash)) FROM journal WHERE seq = ?1",
            [seq],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn stored_checkpoints(&self) -> Vec<(i64, i64)> {
        let conn = Connection::open(&self.db).unwrap();
        let mut stmt = conn
            .prepare("SELECT seq, epoch FROM checkpoint ORDER BY seq")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// The outbox row of an undelivered alert: (id, journal_seq).
    fn undelivered(&self) -> (i64, i64) {
        let conn = Connection::open(&self.db).unwrap();
        conn.query_row(
            "SELECT id, journal_seq FROM outbox WHERE acked_at IS NULL ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }
}

fn assert_broken(verdict: &Verdict, what: &str) {
    assert!(
        matches!(verdict, Verdict::Broken { .. }),
        "{what} went unnoticed: {verdict:?}"
    );
}

/// Item 1: every record and alert deleted, and an anchor naming a real earlier hash
/// inserted. No signed checkpoint covers it, so it is refused, with the console's
/// material and without.
#[test]
fn a_wiped_journal_behind_a_forged_anchor_is_not_intact() {
    let f = fixture();
    let g = fixture_copy(&f);
    let anchor = anchor(3, &g.hash_of(3), 0);
    g.wipe();
    g.set_anchor(&anchor);
    assert_eq!(g.broken_at(), 3);
    let alone = g.verify_alone();
    assert_broken(&alone, "a forged anchor");
    assert!(format!("{alone:?}").contains("anchor"), "{alone:?}");
    // The same anchor with the stored checkpoints deleted too.
    g.sql("DELETE FROM checkpoint", []);
    assert_broken(&g.verify_alone(), "a forged anchor without checkpoints");
}

/// An anchor at a genuine checkpoint, but claiming another epoch or hash, is refused.
#[test]
fn an_anchor_must_repeat_its_checkpoint() {
    let f = fixture();
    let (cp_seq, cp_epoch) = fixture_copy(&f).stored_checkpoints()[0];
    for (hash_seq, next_epoch) in [
        (cp_seq, cp_epoch),
        (cp_seq, cp_epoch + 2),
        (cp_seq - 1, cp_epoch + 1),
    ] {
        let g = fixture_copy(&f);
        g.prune_by_hand(cp_seq, &anchor(cp_seq, &g.hash_of(hash_seq), next_epoch));
        assert_broken(&g.verify(), "an anchor that differs from its checkpoint");
    }
}

/// Item 2: an anchor whose epoch is 9e18 is refused at once instead of evolving the
/// epoch-0 key nine quintillion times.
#[test]
fn an_anchor_with_a_huge_epoch_does_not_hang_verification() {
    let f = fixture();
    let g = fixture_copy(&f);
    let (cp_seq, _) = g.stored_checkpoints()[0];
    let anchor = anchor(cp_seq, &g.hash_of(cp_seq), 9_000_000_000_000_000_000_u64);
    g.sql("DELETE FROM journal WHERE seq <= ?1", params![cp_seq]);
    g.set_anchor(&anchor);
    let (done, verdict) = std::sync::mpsc::channel();
    let db = g.db.clone();
    let key = g.initial_key.clone();
    std::thread::spawn(move || {
        let store = Store::open_read_only(&db).unwrap();
        let _ = done.send(
            store
                .verify_journal(VerifyOptions {
                    initial_key: Some(key),
                    console_checkpoint: None,
                })
                .unwrap(),
        );
    });
    let verdict = verdict
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("verification returns");
    assert_broken(&verdict, "an anchor with a huge epoch");
}

/// Item 3: a journal deleted whole, with no checkpoints stored, is not "intact: 0
/// records": enrollment always writes record 1.
#[test]
fn a_deleted_journal_without_checkpoints_is_not_intact() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.wipe();
    g.sql("DELETE FROM checkpoint", []);
    assert_broken_at(g.verify_alone(), 1, "record 1");
    assert_eq!(g.broken_at(), 1);
}

/// Item 3: without the stored checkpoint public key, stored checkpoints could not be
/// checked; its absence is reported instead of "2 signed checkpoints".
#[test]
fn a_deleted_checkpoint_public_key_is_reported() {
    let f = fixture();
    let g = fixture_copy(&f);
    g.sql("DELETE FROM meta WHERE key = 'checkpoint_public_key'", []);
    let alone = g.verify_alone();
    assert_broken(&alone, "a deleted checkpoint public key");
    assert!(format!("{alone:?}").contains("public key"), "{alone:?}");
    assert_broken(&g.verify(), "a deleted checkpoint public key");
    // Replaced by another key: record 1 names the real one.
    let g = fixture_copy(&f);
    g.sql(
        "UPDATE meta SET value = ?1 WHERE key = 'checkpoint_public_key'",
        params!["11".repeat(32)],
    );
    assert_broken(&g.verify_alone(), "a replaced checkpoint public key");
    assert_eq!(g.broken_at(), 1);
}

/// Item 4: an undelivered alert's outbox row deleted, edited, marked delivered, or a
/// row forged: each is caught, with the console's material and without.
#[test]
fn the_outbox_is_bound_to_the_journal() {
    let f = fixture();
    let (id, seq) = fixture_copy(&f).undelivered();
    let edits: &[(&str, &str)] = &[
        ("deleted", "DELETE FROM outbox WHERE id = ?1"),
        (
            "downgraded",
            "UPDATE outbox SET severity = 'low' WHERE id = ?1",
        ),
        (
            "reworded",
            "UPDATE outbox SET summary = 'nothing happened' WHERE id = ?1",
        ),
        ("re-dated", "UPDATE outbox SET at = at + 1 WHERE id = ?1"),
        ("moved", "UPDATE outbox SET slot = 1 WHERE id = ?1"),
        ("emptied", "UPDATE outbox SET evidence = '[]' WHERE id = ?1"),
        (
            "marked delivered",
            "UPDATE outbox SET acked_at = 1 WHERE id = ?1",
        ),
        (
            "re-pointed",
            "UPDATE outbox SET journal_seq = journal_seq - 1 WHERE id = ?1",
        ),
    ];
    for (what, sql) in edits {
        let g = fixture_copy(&f);
        g.sql(sql, params![id]);
        let alone = g.verify_alone();
        assert_broken(&alone, what);
        let with_console = g.broken_at();
        assert!(
            with_console <= seq,
            "{what}: reported at {with_console}, after {seq}"
        );
    }
    // A row forged for a record that queued no alert, or for no record at all.
    for journal_seq in [1, f.last_seq + 5] {
        let g = fixture_copy(&f);
        g.sql(
            "INSERT INTO outbox(journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence)
             VALUES (?1, 0, 'sim_removed', 'high', 0, 'sim_presence', 1, 'forged', '[]')",
            params![journal_seq],
        );
        assert_broken(&g.verify_alone(), "a forged outbox row");
    }
    // A delivered alert un-delivered, or acknowledged at another time.
    let conn = Connection::open(&f.db).unwrap();
    let acked: i64 = conn
        .query_row(
            "SELECT id FROM outbox WHERE acked_at IS NOT NULL LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for sql in [
        "UPDATE outbox SET acked_at = NULL WHERE id = ?1",
        "UPDATE outbox SET acked_at = acked_at + 1 WHERE id = ?1",
    ] {
        let g = fixture_copy(&f);
        g.sql(sql, params![acked]);
        assert_broken(&g.verify_alone(), sql);
    }
}

/// Item 5: stored values out of range are refused as corrupt or broken, never wrapped
/// (a debug build would panic on the old `+ 1` and `as` arithmetic).
#[test]
fn out_of_range_stored_values_are_reported_not_wrapped() {
    let f = fixture();
    // A negative checkpoint epoch is corrupt.
    let g = fixture_copy(&f);
    g.sql("UPDATE checkpoint SET epoch = -1", []);
    let err = Store::open_read_only(&g.db)
        .unwrap()
        .verify_journal(VerifyOptions::default())
        .unwrap_err();
    assert!(matches!(err, portcullis_core::Error::Corrupt(_)), "{err}");
    // So is a negative journal-key epoch, when the device opens the database.
    let g = fixture_copy(&f);
    g.sql("UPDATE journal_key SET epoch = -1", []);
    let err = Agent::open(&g.db, key(), far_future(), [0; 32]).unwrap_err();
    assert!(matches!(err, portcullis_core::Error::Corrupt(_)), "{err}");
    // Anchors at the edge of the ranges.
    for (seq, next_epoch) in [(i64::MAX, u64::MAX), (i64::MAX, 1), (-1, 0), (0, u64::MAX)] {
        let g = fixture_copy(&f);
        g.set_anchor(&anchor(seq, &"00".repeat(32), next_epoch));
        assert_broken(&g.verify_alone(), "an anchor at the edge of the range");
    }
    // Records whose sequence numbers or epochs are at the edges.
    for sql in [
        "UPDATE journal SET seq = 9223372036854775807 WHERE seq = (SELECT max(seq) FROM journal)",
        "UPDATE journal SET epoch = 9223372036854775807 WHERE seq = 2",
        "UPDATE journal SET epoch = -1 WHERE seq = 2",
    ] {
        let g = fixture_copy(&f);
        g.sql(sql, []);
        assert_broken(&g.verify(), sql);
    }
}

/// A journal-key epoch far beyond the stored checkpoints is refused before the export
/// check evolves the epoch-0 key that far.
#[test]
fn a_forged_journal_key_epoch_does_not_hang_the_pin_key_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    drop(Agent::open(&db, key(), far_future(), [1; 32]).unwrap());
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE journal_key SET epoch = 9000000000000000000", [])
        .unwrap();
    let agent = Agent::open(&db, key(), far_future(), [1; 32]).unwrap();
    let err = agent.pin_key_export().unwrap_err();
    assert!(matches!(err, portcullis_core::Error::Corrupt(_)), "{err}");
}

/// Pruning keeps the checkpoint that covers its anchor, so a pruned journal still
/// verifies without the console, and the anchor is refused once that checkpoint is gone.
#[test]
fn a_pruned_journal_keeps_the_checkpoint_that_signs_its_anchor() {
    let f = fixture();
    let g = fixture_copy(&f);
    let mut agent = Agent::open(&g.db, key(), far_future(), [0; 32]).unwrap();
    ack_all(&mut agent, far_future());
    assert!(agent.prune_journal(far_future()).unwrap() > 0);
    drop(agent);
    assert!(matches!(g.verify_alone(), Verdict::Intact { .. }));
    assert!(matches!(g.verify(), Verdict::Intact { .. }));
    g.sql(
        "DELETE FROM checkpoint WHERE seq = ?1",
        params![f.checkpoint.seq],
    );
    assert_broken(&g.verify_alone(), "an anchor whose checkpoint was deleted");
}

/// An intruder "prunes" by hand past an undelivered alert, at a genuine checkpoint: the
/// anchor is signed, but no pruning record (under the journal's MAC) names it.
#[test]
fn pruning_by_hand_past_an_undelivered_alert_is_detected() {
    let f = fixture();
    let g = fixture_copy(&f);
    let (cp_seq, cp_epoch) = g.stored_checkpoints()[0];
    let (_, undelivered_seq) = g.undelivered();
    assert!(
        undelivered_seq <= cp_seq,
        "the fixture has an undelivered alert before its first checkpoint"
    );
    g.prune_by_hand(cp_seq, &anchor(cp_seq, &g.hash_of(cp_seq), cp_epoch + 1));
    assert_broken(&g.verify_alone(), "pruning by hand");
    assert_eq!(g.broken_at(), cp_seq);
}
