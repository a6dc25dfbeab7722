//! The one place the core touches the disk: a single SQLite file.
//!
//! Everything the agent decides is appended to a hash-chained journal, and every
//! alert is written to the outbox in the same transaction as its journal record,
//! so an alert is never lost between "decided" and "queued for delivery". The file
//! runs in WAL mode with `synchronous=FULL`: a commit that returned survives power loss.

use std::path::Path;

use ring::digest;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::alert::{Alert, AlertId, AlertKind, Finding};
use crate::error::{Error, Result, StorageContext};
use crate::time::Timestamp;

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: meta, component state, journal, outbox.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
     ) STRICT;
     CREATE TABLE component_state (
        component TEXT PRIMARY KEY NOT NULL,
        body      TEXT NOT NULL
     ) STRICT;
     CREATE TABLE journal (
        seq       INTEGER PRIMARY KEY NOT NULL,
        at        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        body      TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash      BLOB NOT NULL
     ) STRICT;
     CREATE TABLE outbox (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        journal_seq       INTEGER NOT NULL REFERENCES journal(seq),
        at                INTEGER NOT NULL,
        kind              TEXT NOT NULL,
        severity          TEXT NOT NULL,
        slot              INTEGER,
        detector          TEXT NOT NULL,
        detector_version  INTEGER NOT NULL,
        summary           TEXT NOT NULL,
        evidence          TEXT NOT NULL,
        delivery_attempts INTEGER NOT NULL DEFAULT 0,
        acked_at          INTEGER
     ) STRICT;
     CREATE INDEX outbox_pending ON outbox(id) WHERE acked_at IS NULL;",
];

/// The chain's anchor: the `prev_hash` of the first record.
const GENESIS: [u8; 32] = [0u8; 32];

/// One journal record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Record kind, e.g. `alert`, `policy_applied`, `enrolled`.
    pub kind: String,
    /// JSON body; never holds raw identifiers.
    pub body: String,
}

/// Everything one agent step persists, written in a single transaction.
#[derive(Debug, Default)]
pub struct Commit {
    /// When the step happened.
    pub at: Option<Timestamp>,
    /// Component states to replace (`component`, JSON body).
    pub states: Vec<(&'static str, String)>,
    /// Journal records to append (before the alerts' own records).
    pub journal: Vec<JournalEntry>,
    /// Findings to journal and queue for delivery.
    pub findings: Vec<Finding>,
}

impl Commit {
    fn is_empty(&self) -> bool {
        self.states.is_empty() && self.journal.is_empty() && self.findings.is_empty()
    }
}

/// The SQLite store.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn chain_hash(prev: &[u8], seq: i64, at: i64, kind: &str, body: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&at.to_be_bytes());
    ctx.update(&(kind.len() as u64).to_be_bytes());
    ctx.update(kind.as_bytes());
    ctx.update(body.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).context("opening the database file")?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests and dry runs.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().context("opening an in-memory database")?;
        Self::init(conn)
    }

    fn init(conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .context("setting the busy timeout")?;
        // journal_mode answers with a row; in-memory databases answer "memory".
        let _mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .context("switching to WAL")?;
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")
            .context("setting durability pragmas")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .context("reading the schema version")?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(Error::Corrupt(format!(
                "database schema version {version} is newer than this library supports ({known}); upgrade the app"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context("starting a migration")?;
            tx.execute_batch(sql)
                .context("applying a schema migration")?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .context("recording the schema version")?;
            tx.commit().context("committing a migration")?;
        }
        Ok(())
    }

    /// Reads a metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .context("reading metadata")
    }

    /// Writes a metadata value, journaling nothing; for enrollment facts.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .context("writing metadata")?;
        Ok(())
    }

    /// The last persisted state of a component, as JSON.
    pub fn load_state(&self, component: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT body FROM component_state WHERE component = ?1",
                [component],
                |r| r.get(0),
            )
            .optional()
            .context("loading component state")
    }

    /// Writes one agent step atomically and returns the alerts it queued.
    pub fn commit(&mut self, commit: Commit) -> Result<Vec<Alert>> {
        if commit.is_empty() {
            return Ok(Vec::new());
        }
        let at = commit.at.unwrap_or(Timestamp::EPOCH).as_unix_millis();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a commit")?;
        for (component, body) in &commit.states {
            tx.execute(
                "INSERT INTO component_state(component, body) VALUES (?1, ?2)
                 ON CONFLICT(component) DO UPDATE SET body = excluded.body",
                params![component, body],
            )
            .context("saving component state")?;
        }
        let (mut seq, mut prev): (i64, Vec<u8>) = tx
            .query_row(
                "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .context("reading the journal head")?
            .unwrap_or((0, GENESIS.to_vec()));
        let mut append = |kind: &str, body: &str| -> Result<i64> {
            seq += 1;
            let hash = chain_hash(&prev, seq, at, kind, body);
            tx.execute(
                "INSERT INTO journal(seq, at, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![seq, at, kind, body, prev, hash.as_slice()],
            )
            .context("appending to the journal")?;
            prev = hash.to_vec();
            Ok(seq)
        };
        for entry in &commit.journal {
            append(&entry.kind, &entry.body)?;
        }
        let mut queued = Vec::with_capacity(commit.findings.len());
        for finding in commit.findings {
            let body = serde_json::to_string(&finding)
                .map_err(|e| Error::Corrupt(format!("cannot encode a finding: {e}")))?;
            let journal_seq = append("alert", &body)?;
            let evidence = serde_json::to_string(&finding.evidence)
                .map_err(|e| Error::Corrupt(format!("cannot encode evidence: {e}")))?;
            let severity = finding.kind.severity();
            tx.execute(
                "INSERT INTO outbox(journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    journal_seq,
                    finding.at.as_unix_millis(),
                    finding.kind.as_str(),
                    severity.as_str(),
                    finding.slot,
                    finding.detector,
                    finding.detector_version,
                    finding.summary,
                    evidence,
                ],
            )
            .context("queueing an alert")?;
            queued.push(Alert {
                id: tx.last_insert_rowid() as AlertId,
                finding,
                severity,
                delivery_attempts: 0,
            });
        }
        tx.commit().context("committing")?;
        Ok(queued)
    }

    /// Hands out up to `limit` unacknowledged alerts, oldest first, counting the attempt.
    pub fn pending_alerts(&mut self, limit: u32) -> Result<Vec<Alert>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to read pending alerts")?;
        let alerts = {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE outbox SET delivery_attempts = delivery_attempts + 1
                     WHERE id IN (SELECT id FROM outbox WHERE acked_at IS NULL ORDER BY id LIMIT ?1)
                     RETURNING id, at, kind, slot, detector, detector_version, summary, evidence, delivery_attempts",
                )
                .context("preparing the pending-alerts query")?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<u8>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, u32>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, u32>(8)?,
                    ))
                })
                .context("reading pending alerts")?;
            let mut alerts = Vec::new();
            for row in rows {
                let (id, at, kind, slot, detector, detector_version, summary, evidence, attempts) =
                    row.context("reading a pending alert")?;
                let kind: AlertKind = kind.parse().map_err(|()| {
                    Error::Corrupt(format!("outbox row {id} has an unknown alert kind"))
                })?;
                let evidence: Vec<(String, String)> =
                    serde_json::from_str(&evidence).map_err(|_| {
                        Error::Corrupt(format!("outbox row {id} has unreadable evidence"))
                    })?;
                alerts.push(Alert {
                    id: id as AlertId,
                    finding: Finding {
                        at: Timestamp::from_unix_millis(at),
                        kind,
                        slot,
                        detector,
                        detector_version,
                        summary,
                        evidence,
                    },
                    severity: kind.severity(),
                    delivery_attempts: attempts,
                });
            }
            alerts.sort_by_key(|a| a.id);
            alerts
        };
        tx.commit().context("recording delivery attempts")?;
        Ok(alerts)
    }

    /// Marks alerts delivered; unknown or already acknowledged ids are ignored. Returns how many changed.
    pub fn ack(&mut self, ids: &[AlertId], now: Timestamp) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting an acknowledgement")?;
        let mut changed = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE outbox SET acked_at = ?2 WHERE id = ?1 AND acked_at IS NULL",
                )
                .context("preparing an acknowledgement")?;
            for id in ids {
                let id =
                    i64::try_from(*id).map_err(|_| Error::invalid("alert_id", "out of range"))?;
                changed += stmt
                    .execute(params![id, now.as_unix_millis()])
                    .context("acknowledging an alert")?;
            }
        }
        tx.commit().context("committing acknowledgements")?;
        Ok(changed)
    }

    /// Counts unacknowledged alerts.
    pub fn pending_count(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM outbox WHERE acked_at IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .context("counting pending alerts")
            .map(|n| n.max(0) as u64)
    }

    /// Walks the journal's hash chain; returns the number of records, or the first broken sequence number.
    pub fn verify_chain(&self) -> Result<std::result::Result<u64, i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, kind, body, prev_hash, hash FROM journal ORDER BY seq")
            .context("preparing chain verification")?;
        let mut rows = stmt.query([]).context("reading the journal")?;
        let mut prev = GENESIS.to_vec();
        let mut expected_seq = 1i64;
        let mut count = 0u64;
        while let Some(row) = rows.next().context("reading a journal record")? {
            let seq: i64 = row.get(0).context("reading seq")?;
            let at: i64 = row.get(1).context("reading at")?;
            let kind: String = row.get(2).context("reading kind")?;
            let body: String = row.get(3).context("reading body")?;
            let prev_hash: Vec<u8> = row.get(4).context("reading prev_hash")?;
            let hash: Vec<u8> = row.get(5).context("reading hash")?;
            if seq != expected_seq
                || prev_hash != prev
                || hash != chain_hash(&prev, seq, at, &kind, &body)
            {
                return Ok(Err(expected_seq.min(seq)));
            }
            prev = hash;
            expected_seq += 1;
            count += 1;
        }
        Ok(Ok(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;

    fn finding(kind: AlertKind) -> Finding {
        Finding {
            at: Timestamp::from_unix_millis(1_000),
            kind,
            slot: Some(0),
            detector: "test".into(),
            detector_version: 1,
            summary: "s".into(),
            evidence: vec![("k".into(), "v".into())],
        }
    }

    #[test]
    fn alerts_are_redelivered_until_acknowledged() {
        let mut store = Store::open_in_memory().unwrap();
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
        assert_eq!(store.verify_chain().unwrap(), Ok(2));
    }

    #[test]
    fn chain_detects_an_edited_record() {
        let mut store = Store::open_in_memory().unwrap();
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
        assert_eq!(store.verify_chain().unwrap(), Ok(3));
        store
            .conn
            .execute("UPDATE journal SET body = '{\"x\":1}' WHERE seq = 2", [])
            .unwrap();
        assert_eq!(store.verify_chain().unwrap(), Err(2));
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
}
