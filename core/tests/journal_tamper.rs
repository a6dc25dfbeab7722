//! Property test: random edits of an agent's database (journal rows, metadata, stored
//! checkpoints, outbox rows, the stored journal key), each verified with the console's
//! checkpoint and epoch-0 key. Every edit is detected, or belongs to a class that
//! verification cannot see, each named here with the reason (docs/journal.md lists them).

mod journal_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use portcullis_core::journal::{EpochKey, SignedCheckpoint, Verdict, VerifyOptions};
use portcullis_core::store::{Parallelism, Store};
use portcullis_core::{DeviceKey, SoftwareDeviceKey};
use proptest::prelude::*;
use rusqlite::{params, Connection, OptionalExtension};

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    initial_key: EpochKey,
    checkpoint: SignedCheckpoint,
    /// Kind of each record, by sequence number from 1.
    kinds: Vec<String>,
    checkpoints: Vec<i64>,
    /// (id, journal_seq, acknowledged) of each outbox row.
    outbox: Vec<(i64, i64, bool)>,
}

/// A journal with delivered and undelivered alerts, two stored checkpoints (the console
/// holds the second) and records after it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key: Arc<dyn DeviceKey> =
            Arc::new(SoftwareDeviceKey::new(b"journal-tamper-secret").unwrap());
        let mut journal = journal_support::build(key, [4; 32]);
        let pending = journal.agent.pending_alerts(100).unwrap();
        let last_at = journal.later.last().unwrap().at.plus_millis(1_000);
        journal.agent.ack_alerts(&[pending[1].id], last_at).unwrap();
        drop(journal.agent);
        let conn = Connection::open(&journal.db).unwrap();
        let kinds = conn
            .prepare("SELECT kind FROM journal ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let checkpoints = conn
            .prepare("SELECT seq FROM checkpoint ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let outbox = conn
            .prepare("SELECT id, journal_seq, acked_at IS NOT NULL FROM outbox ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        drop(conn);
        let f = Fixture {
            _dir: journal.dir,
            db: journal.db,
            initial_key: journal.initial_key,
            checkpoint: journal.checkpoint,
            kinds,
            checkpoints,
            outbox,
        };
        assert!(matches!(verify(&f, &f.db).0, Ok(Verdict::Intact { .. })));
        f
    })
}

/// Verifies inline and on worker threads, with the console's checkpoint and key; both
/// must agree on the first broken record.
fn verify(f: &Fixture, db: &Path) -> (Result<Verdict, String>, String) {
    let store = match Store::open_read_only(db) {
        Ok(s) => s,
        Err(e) => return (Err(e.to_string()), String::new()),
    };
    let options = VerifyOptions {
        initial_key: Some(f.initial_key.clone()),
        console_checkpoint: Some(f.checkpoint.clone()),
    };
    let run = |workers, batch| {
        store
            .verify_journal_with(options.clone(), Parallelism { workers, batch })
            .map_err(|e| e.to_string())
    };
    let inline = run(0, 1);
    let parallel = run(2, 3);
    let agree = match (&inline, &parallel) {
        (Ok(Verdict::Broken { seq: a, .. }), Ok(Verdict::Broken { seq: b, .. })) if a == b => {
            String::new()
        }
        (Ok(a), Ok(b)) if a == b => String::new(),
        (Err(_), Err(_)) => String::new(),
        _ => format!("inline {inline:?} but parallel {parallel:?}"),
    };
    (inline, agree)
}

#[derive(Debug, Clone)]
enum Edit {
    JournalDelete(usize),
    JournalColumn(usize, usize),
    JournalSwap(usize, usize),
    JournalAppend,
    JournalTruncate(usize),
    MetaDelete(usize),
    MetaGarble(usize),
    Anchor(usize, usize),
    CheckpointDelete(usize),
    CheckpointColumn(usize, usize),
    CheckpointForge(usize),
    OutboxDelete(usize),
    OutboxColumn(usize, usize),
    OutboxForge(usize),
    JournalKey(usize),
}

const JOURNAL_COLUMNS: [(&str, &str); 6] = [
    ("at", "at + 1"),
    ("epoch", "epoch + 1"),
    ("kind", "kind || 'x'"),
    ("body", "body || ' '"),
    ("hash", "zeroblob(32)"),
    ("mac", "zeroblob(16)"),
];
const META_KEYS: [&str; 5] = [
    "checkpoint_public_key",
    "enrolled_at",
    "device_key_check",
    "journal_key0_export",
    "journal_anchor",
];
const CHECKPOINT_COLUMNS: [(&str, &str); 5] = [
    ("epoch", "epoch + 1"),
    ("at", "at + 1"),
    ("head_hash", "'00' || substr(head_hash, 3)"),
    ("signature", "'00' || substr(signature, 3)"),
    ("public_key", "'00' || substr(public_key, 3)"),
];
const OUTBOX_COLUMNS: [(&str, &str); 12] = [
    ("at", "at + 1"),
    (
        "kind",
        "CASE kind WHEN 'sim_removed' THEN 'sim_replaced' ELSE 'sim_removed' END",
    ),
    (
        "severity",
        "CASE severity WHEN 'low' THEN 'info' ELSE 'low' END",
    ),
    ("slot", "CASE WHEN slot IS NULL THEN 3 ELSE NULL END"),
    ("detector", "detector || 'x'"),
    ("detector_version", "detector_version + 1"),
    ("summary", "summary || '.'"),
    ("evidence", "evidence || ' '"),
    (
        "acked_at",
        "CASE WHEN acked_at IS NULL THEN 5 ELSE NULL END",
    ),
    (
        "acked_at",
        "CASE WHEN acked_at IS NULL THEN NULL ELSE acked_at + 1 END",
    ),
    ("journal_seq", "journal_seq + 1"),
    ("delivery_attempts", "delivery_attempts + 1"),
];

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<usize>;
    prop_oneof![
        i().prop_map(Edit::JournalDelete),
        (i(), 0..JOURNAL_COLUMNS.len()).prop_map(|(a, b)| Edit::JournalColumn(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::JournalSwap(a, b)),
        Just(Edit::JournalAppend),
        i().prop_map(Edit::JournalTruncate),
        (0..META_KEYS.len()).prop_map(Edit::MetaDelete),
        (0..META_KEYS.len()).prop_map(Edit::MetaGarble),
        (i(), 0usize..4).prop_map(|(a, b)| Edit::Anchor(a, b)),
        i().prop_map(Edit::CheckpointDelete),
        (i(), 0..CHECKPOINT_COLUMNS.len()).prop_map(|(a, b)| Edit::CheckpointColumn(a, b)),
        i().prop_map(Edit::CheckpointForge),
        i().prop_map(Edit::OutboxDelete),
        (i(), 0..OUTBOX_COLUMNS.len()).prop_map(|(a, b)| Edit::OutboxColumn(a, b)),
        i().prop_map(Edit::OutboxForge),
        (0usize..2).prop_map(Edit::JournalKey),
    ]
}

/// Applies `edit` to the database at `db` as an intruder with SQLite would. Returns why
/// verification cannot detect it, when it belongs to a documented class; `None` when it
/// must be detected.
fn apply(f: &Fixture, db: &Path, edit: &Edit) -> Option<&'static str> {
    let conn = Connection::open(db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys=OFF").unwrap();
    let sql = |sql: &str, p: &[&dyn rusqlite::ToSql]| conn.execute(sql, p).unwrap();
    let last = f.kinds.len() as i64;
    let seq_of = |i: usize| (i % f.kinds.len()) as i64 + 1;
    // Records after every checkpoint the console or the device holds can be removed
    // unseen, unless the outbox still holds the alert one queued or the delivery one
    // acknowledged (docs/journal.md, "what verification cannot see").
    let tail_only = |from: i64| {
        let covered = f.checkpoints.iter().any(|&c| c >= from) || f.checkpoint.seq >= from;
        let bound = (from..=last).any(|s| {
            matches!(
                f.kinds[(s - 1) as usize].as_str(),
                "alert" | "alerts_acknowledged"
            )
        });
        (!covered && !bound).then_some(
            "records after the newest checkpoint, with no alert or acknowledgement among them, can be removed",
        )
    };
    match *edit {
        Edit::JournalDelete(i) => {
            let seq = seq_of(i);
            if sql("DELETE FROM journal WHERE seq = ?1", &[&seq]) == 0 {
                return Some("the record was already gone");
            }
            if seq == last {
                return tail_only(seq);
            }
        }
        Edit::JournalColumn(i, c) => {
            let (column, expr) = JOURNAL_COLUMNS[c];
            sql(
                &format!("UPDATE journal SET {column} = {expr} WHERE seq = ?1"),
                &[&seq_of(i)],
            );
        }
        Edit::JournalSwap(a, b) => {
            let (a, b) = (seq_of(a), seq_of(b));
            if a == b {
                return Some("swapping a record with itself changes nothing");
            }
            conn.execute_batch(&format!(
                "UPDATE journal SET seq = -1 WHERE seq = {a};
                 UPDATE journal SET seq = {a} WHERE seq = {b};
                 UPDATE journal SET seq = {b} WHERE seq = -1;"
            ))
            .unwrap();
        }
        Edit::JournalAppend => {
            // A record forged at the head, chained correctly but MACed without the key.
            let head: Option<(i64, Vec<u8>, i64, i64)> = conn
                .query_row(
                    "SELECT seq, hash, epoch, at FROM journal ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .unwrap();
            let (head_seq, hash, epoch, at) = head.unwrap_or((0, vec![0; 32], 0, 0));
            let last = head_seq;
            let prev: [u8; 32] = hash.try_into().unwrap_or([0; 32]);
            let body = r#"{"note":"forged"}"#;
            let new = portcullis_core::journal::record_hash(
                &prev,
                &portcullis_core::journal::RecordRef {
                    seq: last + 1,
                    at,
                    epoch,
                    kind: "note",
                    body,
                },
            );
            sql(
                "INSERT INTO journal(seq, at, epoch, kind, body, hash, mac) VALUES (?1, ?2, ?3, 'note', ?4, ?5, zeroblob(16))",
                &[&(last + 1), &at, &epoch, &body, &new.as_slice()],
            );
        }
        Edit::JournalTruncate(i) => {
            let from = seq_of(i);
            sql("DELETE FROM journal WHERE seq >= ?1", &[&from]);
            return tail_only(from);
        }
        Edit::MetaDelete(k) => {
            let key = META_KEYS[k];
            if sql("DELETE FROM meta WHERE key = ?1", &[&key]) == 0 {
                return Some("nothing was stored under that key");
            }
            return meta_unseen(key);
        }
        Edit::MetaGarble(k) => {
            let key = META_KEYS[k];
            sql(
                "INSERT INTO meta(key, value) VALUES (?1, 'garbled')
                 ON CONFLICT(key) DO UPDATE SET value = value || 'x'",
                &[&key],
            );
            return meta_unseen(key);
        }
        Edit::Anchor(i, variant) => {
            // An anchor at a record, with or without the records before it, with its
            // hash, and the epoch a genuine prune at a checkpoint would give.
            let seq = seq_of(i);
            let (hash, epoch): (String, i64) = conn
                .query_row(
                    "SELECT lower(hex(hash)), epoch FROM journal WHERE seq = ?1",
                    [seq],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .unwrap()
                .unwrap_or_else(|| ("00".repeat(32), 0));
            let next_epoch = if f.checkpoints.contains(&seq) {
                epoch + 1
            } else {
                epoch
            };
            sql(
                "INSERT INTO meta(key, value) VALUES ('journal_anchor', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                &[&format!(
                    r#"{{"seq":{seq},"hash":"{hash}","next_epoch":{next_epoch}}}"#
                )],
            );
            if variant > 0 {
                sql("DELETE FROM journal WHERE seq <= ?1", &[&seq]);
            }
            if variant > 1 {
                sql("DELETE FROM outbox WHERE journal_seq <= ?1", &[&seq]);
            }
        }
        Edit::CheckpointDelete(i) => {
            let seq = f.checkpoints[i % f.checkpoints.len()];
            sql("DELETE FROM checkpoint WHERE seq = ?1", &[&seq]);
        }
        Edit::CheckpointColumn(i, c) => {
            let (column, expr) = CHECKPOINT_COLUMNS[c];
            let seq = f.checkpoints[i % f.checkpoints.len()];
            sql(
                &format!("UPDATE checkpoint SET {column} = {expr} WHERE seq = ?1"),
                &[&seq],
            );
        }
        Edit::CheckpointForge(i) => {
            let seq = seq_of(i);
            if f.checkpoints.contains(&seq) {
                return Some("a checkpoint row already stored at that record is not forged");
            }
            sql(
                "INSERT OR IGNORE INTO checkpoint(seq, epoch, at, head_hash, signature, public_key)
                 SELECT ?1, epoch, at, lower(hex(hash)), (SELECT signature FROM checkpoint LIMIT 1),
                        (SELECT public_key FROM checkpoint LIMIT 1)
                 FROM journal WHERE seq = ?1",
                &[&seq],
            );
        }
        Edit::OutboxDelete(i) => {
            let (id, _, _) = f.outbox[i % f.outbox.len()];
            sql("DELETE FROM outbox WHERE id = ?1", &[&id]);
        }
        Edit::OutboxColumn(i, c) => {
            let (column, expr) = OUTBOX_COLUMNS[c];
            let (id, _, acked) = f.outbox[i % f.outbox.len()];
            if column == "delivery_attempts" {
                sql(
                    &format!("UPDATE outbox SET {column} = {expr} WHERE id = ?1"),
                    &[&id],
                );
                return Some("delivery attempts are counted without a journal record");
            }
            if column == "acked_at" && c == 9 && !acked {
                return Some("the edit leaves an undelivered row as it was");
            }
            sql(
                &format!("UPDATE outbox SET {column} = {expr} WHERE id = ?1"),
                &[&id],
            );
        }
        Edit::OutboxForge(i) => {
            let journal_seq = seq_of(i);
            sql(
                "INSERT INTO outbox(journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence)
                 VALUES (?1, 0, 'sim_removed', 'high', 0, 'sim_presence', 1, 'forged', '[]')",
                &[&journal_seq],
            );
        }
        Edit::JournalKey(which) => {
            sql(
                if which == 0 {
                    "UPDATE journal_key SET epoch = epoch + 1"
                } else {
                    "UPDATE journal_key SET wrapped = zeroblob(32)"
                },
                &[],
            );
            return Some(
                "the stored current key only MACs future records, which then fail at the console",
            );
        }
    }
    None
}

fn meta_unseen(key: &str) -> Option<&'static str> {
    match key {
        "device_key_check" => Some(
            "the console holds no device key to check it; the device refuses to open without it",
        ),
        "journal_key0_export" => Some(
            "a one-time copy for the console, erased once confirmed; the pin-key export checks it",
        ),
        _ => None,
    }
}

/// Every row of the tables an edit touches, as text.
fn dump(db: &Path) -> String {
    let conn = Connection::open(db).unwrap();
    let mut out = String::new();
    for table in ["meta", "journal", "checkpoint", "outbox", "journal_key"] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                let value: rusqlite::types::Value = row.get(i).unwrap();
                out.push_str(&format!("{value:?}|"));
            }
            out.push('\n');
        }
    }
    out
}

fn copy(f: &Fixture) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    Connection::open(&f.db)
        .unwrap()
        .execute("VACUUM INTO ?1", params![db.to_str().unwrap()])
        .unwrap();
    (dir, db)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Every edit is detected (a broken record, or a stored value refused as corrupt),
    /// or is of a class verification cannot see, which then verifies as intact.
    #[test]
    fn every_edit_is_detected_or_documented(edits in proptest::collection::vec(edit(), 1..3)) {
        let f = fixture();
        let (_dir, db) = copy(f);
        let before = dump(&db);
        let mut unseen = Vec::new();
        for e in &edits {
            unseen.push(apply(f, &db, e));
        }
        if dump(&db) == before {
            // The edits undid each other.
            unseen = vec![Some("nothing changed")];
        }
        let (verdict, disagreement) = verify(f, &db);
        prop_assert!(disagreement.is_empty(), "{:?}: {}", edits, disagreement);
        if unseen.iter().all(Option::is_some) {
            prop_assert!(
                matches!(verdict, Ok(Verdict::Intact { .. })),
                "{:?} is documented as unseen ({:?}), yet: {:?}", edits, unseen, verdict
            );
        } else {
            prop_assert!(
                !matches!(verdict, Ok(Verdict::Intact { .. })),
                "{:?} went unnoticed", edits
            );
        }
    }
}
