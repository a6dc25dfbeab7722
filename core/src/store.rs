//! The one place the core touches the disk: a single SQLite file.
//!
//! Everything the agent decides is appended to a hash-chained journal, and every
//! alert is written to the outbox in the same transaction as its journal record,
//! so an alert is never lost between "decided" and "queued for delivery". The file
//! runs in WAL mode with `synchronous=FULL`: a commit that returned survives power loss.

use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::alert::{Alert, AlertId, AlertKind, Finding, Severity};
use crate::error::{Error, Result, StorageContext};
use crate::identity::hex;
use crate::journal::MAC_LEN;
use crate::journal::{
    self, unhex32, Anchor, EpochKey, LinkBatch, RecordHasher, RecordRef, SignedCheckpoint,
    StoredRecord, Verdict, Verifier, VerifyOptions,
};
use crate::time::Timestamp;

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: meta, component state, journal with checkpoints and its wrapped MAC key, outbox.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
     ) STRICT;
     CREATE TABLE component_state (
        component TEXT PRIMARY KEY NOT NULL,
        body      TEXT NOT NULL
     ) STRICT;
     CREATE TABLE journal (
        seq   INTEGER PRIMARY KEY NOT NULL,
        at    INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        kind  TEXT NOT NULL,
        body  TEXT NOT NULL,
        hash  BLOB NOT NULL,
        mac   BLOB NOT NULL
     ) STRICT;
     CREATE TABLE checkpoint (
        seq       INTEGER PRIMARY KEY NOT NULL,
        epoch     INTEGER NOT NULL,
        at        INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        signature TEXT NOT NULL,
        public_key TEXT NOT NULL
     ) STRICT;
     CREATE TABLE journal_key (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        epoch   INTEGER NOT NULL,
        wrapped BLOB NOT NULL
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
    // 2: the rolling window of network events (device telemetry): one row per distinct
    // host or address with when it was last seen; no package, no per-event rows.
    "CREATE TABLE network_seen (
        kind      INTEGER NOT NULL,
        value     TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX network_seen_at ON network_seen(last_seen);",
    // 3: the agent keeps the window's values in memory and prunes by key, so the index on
    // `last_seen` only doubled the pages every refresh dirtied. A batch's new and refreshed
    // values go to `network_log` as one record (appended, so a commit writes a few pages
    // however scattered the values), folded into `network_seen` now and then.
    "DROP INDEX network_seen_at;
     CREATE TABLE network_log (
        seq     INTEGER PRIMARY KEY NOT NULL,
        entries INTEGER NOT NULL,
        newest  INTEGER NOT NULL,
        body    BLOB NOT NULL
     ) STRICT;",
];

/// What a telemetry step writes to the network window, in the step's transaction.
///
/// The window is the `network_seen` table (one row per value) plus the records of
/// `network_log`; [`Store::network_window`] reads both, newest time per value.
#[derive(Debug, Default)]
pub struct NetworkWindowWrite {
    /// Hosts and addresses seen, with when, upserted into the table (the newest time per
    /// value is kept, rewritten only past [`NETWORK_SEEN_RESOLUTION_MS`]).
    pub seen: Vec<(NetworkValue, String, Timestamp)>,
    /// Hosts and addresses appended to the log as one record, as given: the caller
    /// already left out what the window covers.
    pub logged: Vec<(NetworkValue, String, Timestamp)>,
    /// Fold every log record into the table first (newest time per value; entries before
    /// `prune_before` dropped) and empty the log.
    pub compact: bool,
    /// Forget what was last seen before this (and every log record whose newest entry is).
    pub prune_before: Option<Timestamp>,
    /// With `prune_before`: the only values that may have expired, when the caller knows
    /// the window's content (each is deleted by key if still last seen before the cutoff).
    /// `None` prunes by a scan of the whole window.
    pub prune_only: Option<Vec<(NetworkValue, String)>>,
}

/// Rows per multi-row upsert of the network window.
const NETWORK_UPSERT_ROWS: usize = 64;

/// How stale a network-window row's `last_seen` may get before a new sighting rewrites it.
/// Rewriting every row a batch touches would dirty most of the table's pages on every
/// commit; with this, a value seen again within the hour costs no write, and the window is
/// pruned at most an hour early for it.
pub const NETWORK_SEEN_RESOLUTION_MS: i64 = 60 * 60 * 1000;

/// What a row of the network window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetworkValue {
    /// A host name looked up.
    Host,
    /// An address resolved or connected to.
    Address,
}

impl NetworkValue {
    fn code(self) -> i64 {
        match self {
            NetworkValue::Host => 0,
            NetworkValue::Address => 1,
        }
    }

    fn from_code(code: i64) -> Result<Self> {
        match code {
            0 => Ok(NetworkValue::Host),
            1 => Ok(NetworkValue::Address),
            _ => Err(Error::Corrupt(
                "a network window row has an unknown kind".into(),
            )),
        }
    }
}

/// A network-log record: per entry the kind (one byte), the time (Unix milliseconds,
/// 8 bytes little-endian), the value's length (2 bytes little-endian) and the value.
fn encode_network_log(entries: &[(NetworkValue, String, Timestamp)]) -> rusqlite::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(entries.iter().map(|e| 11 + e.1.len()).sum());
    for (kind, value, at) in entries {
        let len = u16::try_from(value.len()).map_err(|_| {
            rusqlite::Error::ToSqlConversionFailure("a network value is too long".into())
        })?;
        body.push(kind.code() as u8);
        body.extend_from_slice(&at.as_unix_millis().to_le_bytes());
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(value.as_bytes());
    }
    Ok(body)
}

/// Every entry of the network log, in the order written.
fn network_log(conn: &Connection) -> Result<Vec<(NetworkValue, String, Timestamp)>> {
    let corrupt = || Error::Corrupt("a network log record is unreadable".into());
    let mut stmt = conn
        .prepare_cached("SELECT body FROM network_log ORDER BY seq")
        .context("reading the network log")?;
    let mut rows = stmt.query([]).context("reading the network log")?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().context("reading the network log")? {
        let mut body: &[u8] = match row.get_ref(0).context("reading the network log")? {
            ValueRef::Blob(b) => b,
            _ => return Err(corrupt()),
        };
        while !body.is_empty() {
            let (head, rest) = body.split_at_checked(11).ok_or_else(corrupt)?;
            let kind = NetworkValue::from_code(i64::from(head[0]))?;
            let at = i64::from_le_bytes(head[1..9].try_into().expect("eight bytes"));
            let len = usize::from(u16::from_le_bytes([head[9], head[10]]));
            let (value, rest) = rest.split_at_checked(len).ok_or_else(corrupt)?;
            let value = std::str::from_utf8(value).map_err(|_| corrupt())?;
            out.push((kind, value.to_owned(), Timestamp::from_unix_millis(at)));
            body = rest;
        }
    }
    Ok(out)
}

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
    /// The current MAC key; set by the agent after unwrapping it with the device key.
    key: Option<EpochKey>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).context("opening the database file")?;
        Self::init(conn)
    }

    /// Opens an existing database without writing to it: for verification and export
    /// of a device's journal on the console or a forensic kiosk.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .context("opening the database file read-only")?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .context("reading the schema version")?;
        if version != MIGRATIONS.len() as i64 {
            return Err(Error::Corrupt(format!(
                "database schema version {version} is not the one this tool reads ({})",
                MIGRATIONS.len()
            )));
        }
        Ok(Store { conn, key: None })
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
        // secure_delete overwrites pruned records and erased journal keys instead of leaving them in free pages.
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;",
        )
        .context("setting durability pragmas")?;
        let mut store = Store { conn, key: None };
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

    /// Makes every later write fail, as a full or locked disk would (failure-path tests).
    #[cfg(test)]
    pub(crate) fn refuse_writes_for_test(&self) {
        self.conn
            .execute_batch("PRAGMA query_only = ON")
            .expect("query_only is a plain pragma");
    }

    /// Lets writes through again after [`Store::refuse_writes_for_test`].
    #[cfg(test)]
    pub(crate) fn allow_writes_for_test(&self) {
        self.conn
            .execute_batch("PRAGMA query_only = OFF")
            .expect("query_only is a plain pragma");
    }

    /// Writes one agent step atomically and returns the alerts it queued.
    pub fn commit(&mut self, commit: Commit) -> Result<Vec<Alert>> {
        self.commit_with_network(commit, NetworkWindowWrite::default())
    }

    /// The network window's values last seen at or after `since` (the table and the log,
    /// the newest time per value), oldest first.
    pub fn network_window(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(NetworkValue, String, Timestamp)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, value, last_seen FROM network_seen")
            .context("reading the network window")?;
        let rows = stmt
            .query_map([], |r| {
                let kind: i64 = r.get(0)?;
                Ok((kind, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .context("reading the network window")?;
        let mut newest = rustc_hash::FxHashMap::default();
        for row in rows {
            let (kind, value, at) = row.context("reading the network window")?;
            let kind = NetworkValue::from_code(kind)?;
            newest.insert((kind, value), Timestamp::from_unix_millis(at));
        }
        for (kind, value, at) in network_log(&self.conn)? {
            let slot = newest.entry((kind, value)).or_insert(at);
            *slot = (*slot).max(at);
        }
        let mut out: Vec<_> = newest
            .into_iter()
            .filter(|(_, at)| *at >= since)
            .map(|((kind, value), at)| (kind, value, at))
            .collect();
        out.sort_unstable_by(|a, b| (a.2, a.0, &a.1).cmp(&(b.2, b.0, &b.1)));
        Ok(out)
    }

    /// How many entries the network log holds (folded into the table by a compaction).
    pub fn network_log_entries(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(entries), 0) FROM network_log",
                [],
                |r| r.get(0),
            )
            .context("reading the network log")?;
        u64::try_from(n).map_err(|_| Error::Corrupt("the network log's size is negative".into()))
    }

    /// Writes one agent step and its network-window rows atomically (telemetry ingest).
    pub fn commit_with_network(
        &mut self,
        commit: Commit,
        network: NetworkWindowWrite,
    ) -> Result<Vec<Alert>> {
        if commit.is_empty()
            && network.seen.is_empty()
            && network.logged.is_empty()
            && !network.compact
            && network.prune_before.is_none()
        {
            return Ok(Vec::new());
        }
        if commit.journal.iter().any(|e| e.kind == ALERT_KIND) {
            // Verification binds every alert record to its outbox row.
            return Err(Error::invalid(
                "journal.kind",
                "`alert` records are written only as findings, with their outbox row",
            ));
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
        if network.compact {
            let mut newest: std::collections::BTreeMap<(NetworkValue, String), Timestamp> =
                std::collections::BTreeMap::new();
            for (kind, value, at) in network_log(&tx)? {
                if network.prune_before.is_some_and(|before| at < before) {
                    continue;
                }
                let slot = newest.entry((kind, value)).or_insert(at);
                *slot = (*slot).max(at);
            }
            let folded: Vec<_> = newest.into_iter().map(|((k, v), at)| (k, v, at)).collect();
            upsert_network(&tx, &folded, 0)?;
            tx.execute("DELETE FROM network_log", [])
                .context("emptying the network log")?;
        }
        if !network.seen.is_empty() {
            upsert_network(&tx, &network.seen, NETWORK_SEEN_RESOLUTION_MS)?;
        }
        if !network.logged.is_empty() {
            let newest = network.logged.iter().map(|e| e.2).max();
            tx.prepare_cached("INSERT INTO network_log(entries, newest, body) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        network.logged.len() as i64,
                        newest.map_or(i64::MIN, Timestamp::as_unix_millis),
                        encode_network_log(&network.logged)?
                    ])
                })
                .context("saving network events")?;
        }
        if let Some(before) = network.prune_before {
            let before = before.as_unix_millis();
            // A log record goes once everything in it has left the window.
            tx.prepare_cached("DELETE FROM network_log WHERE newest < ?1")
                .and_then(|mut stmt| stmt.execute([before]))
                .context("pruning the network log")?;
            match &network.prune_only {
                None => {
                    tx.execute("DELETE FROM network_seen WHERE last_seen < ?1", [before])
                        .context("pruning the network window")?;
                }
                Some(values) => {
                    let mut delete = tx
                        .prepare_cached(
                            "DELETE FROM network_seen
                             WHERE kind = ?1 AND value = ?2 AND last_seen < ?3",
                        )
                        .context("pruning the network window")?;
                    for (kind, value) in values {
                        delete
                            .execute(params![kind.code(), value, before])
                            .context("pruning the network window")?;
                    }
                }
            }
        }
        let mut journal = Appender::start(&tx, self.key.as_ref(), at)?;
        for entry in &commit.journal {
            journal.append(&entry.kind, &entry.body)?;
        }
        let mut queued = Vec::with_capacity(commit.findings.len());
        for finding in commit.findings {
            let body = serde_json::to_string(&finding)
                .map_err(|e| Error::Corrupt(format!("cannot encode a finding: {e}")))?;
            let journal_seq = journal.append(ALERT_KIND, &body)?;
            let evidence = serde_json::to_string(&finding.evidence)
                .map_err(|e| Error::Corrupt(format!("cannot encode evidence: {e}")))?;
            let severity = finding.severity();
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
                id: AlertId::try_from(tx.last_insert_rowid())
                    .map_err(|_| Error::Corrupt("an outbox row id is out of range".into()))?,
                finding,
                severity,
                delivery_attempts: 0,
            });
        }
        drop(journal);
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
                     RETURNING id, at, kind, slot, detector, detector_version, summary, evidence, delivery_attempts, severity",
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
                        r.get::<_, String>(9)?,
                    ))
                })
                .context("reading pending alerts")?;
            let mut alerts = Vec::new();
            for row in rows {
                let (
                    id,
                    at,
                    kind,
                    slot,
                    detector,
                    detector_version,
                    summary,
                    evidence,
                    attempts,
                    severity,
                ) = row.context("reading a pending alert")?;
                let severity: Severity = severity.parse().map_err(|()| {
                    Error::Corrupt(format!("outbox row {id} has an unknown severity"))
                })?;
                let kind: AlertKind = kind.parse().map_err(|()| {
                    Error::Corrupt(format!("outbox row {id} has an unknown alert kind"))
                })?;
                let evidence: Vec<(String, String)> =
                    crate::json::from_str(&evidence).map_err(|_| {
                        Error::Corrupt(format!("outbox row {id} has unreadable evidence"))
                    })?;
                alerts.push(Alert {
                    id: AlertId::try_from(id)
                        .map_err(|_| Error::Corrupt("an outbox row id is out of range".into()))?,
                    finding: Finding {
                        at: Timestamp::from_unix_millis(at),
                        kind,
                        slot,
                        detector,
                        detector_version,
                        summary,
                        evidence,
                        severity: Some(severity),
                    },
                    severity,
                    delivery_attempts: attempts,
                });
            }
            crate::sort::sort_by_key(&mut alerts, |a| a.id);
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
        let mut acked = Vec::new();
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE outbox SET acked_at = ?2 WHERE id = ?1 AND acked_at IS NULL",
                )
                .context("preparing an acknowledgement")?;
            for id in ids {
                let row =
                    i64::try_from(*id).map_err(|_| Error::invalid("alert_id", "out of range"))?;
                if stmt
                    .execute(params![row, now.as_unix_millis()])
                    .context("acknowledging an alert")?
                    > 0
                {
                    acked.push(*id);
                }
            }
        }
        if !acked.is_empty() {
            let body = serde_json::json!({ "alert_ids": acked }).to_string();
            Appender::start(&tx, self.key.as_ref(), now.as_unix_millis())?
                .append("alerts_acknowledged", &body)?;
        }
        tx.commit().context("committing acknowledgements")?;
        Ok(acked.len())
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

    /// Sets the MAC key new records are authenticated with.
    pub fn set_journal_key(&mut self, key: EpochKey) {
        self.key = Some(key);
    }

    /// The stored (wrapped) journal key and its epoch, if the journal was initialised.
    pub fn wrapped_journal_key(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let stored: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT epoch, wrapped FROM journal_key WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .context("reading the journal key")?;
        stored
            .map(|(epoch, wrapped)| Ok((stored_epoch(epoch, "the journal key")?, wrapped)))
            .transpose()
    }

    /// How many checkpoints are stored: one per epoch the journal key has moved through.
    pub fn checkpoint_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM checkpoint", [], |r| r.get(0))
            .context("counting checkpoints")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Initialises the journal at enrollment: the wrapped epoch-0 key, the checkpoint public key,
    /// the one-time export copy of the epoch-0 key for the console, and the first record.
    pub fn enroll(&mut self, setup: Enrollment) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting enrollment")?;
        tx.execute(
            "INSERT INTO journal_key(id, epoch, wrapped) VALUES (1, ?1, ?2)",
            params![epoch_column(setup.key.epoch)?, setup.wrapped_key.as_slice()],
        )
        .context("storing the journal key")?;
        for (k, v) in [
            (META_PUBLIC_KEY, hex(&setup.public_key)),
            (META_KEY_EXPORT, hex(&setup.wrapped_export)),
            (META_ENROLLED_AT, setup.at.to_string()),
            (META_KEY_CHECK, setup.key_check),
        ] {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .context("writing enrollment metadata")?;
        }
        // Record 1 commits with the facts it names: a database is enrolled with its first
        // record or not at all, whenever the process dies.
        let body =
            serde_json::json!({ "at": setup.at, "public_key": hex(&setup.public_key) }).to_string();
        Appender::start(&tx, Some(&setup.key), setup.at.as_unix_millis())?
            .append("enrolled", &body)?;
        tx.commit().context("committing enrollment")?;
        self.key = Some(setup.key);
        Ok(())
    }

    /// Removes the one-time export copy of the epoch-0 key once the console has it.
    pub fn forget_key_export(&mut self) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM meta WHERE key = ?1", [META_KEY_EXPORT])
            .context("erasing the journal key export")?;
        Ok(n > 0)
    }

    /// The last record's sequence number and hash (0 and the anchor hash when empty).
    pub fn journal_head(&self) -> Result<(i64, [u8; 32])> {
        head(&self.conn)
    }

    /// Stores a checkpoint and moves the MAC key to the next epoch in one transaction;
    /// the previous key is overwritten.
    pub fn record_checkpoint(
        &mut self,
        cp: &SignedCheckpoint,
        next: EpochKey,
        next_wrapped: [u8; 32],
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting a checkpoint")?;
        tx.execute(
            "INSERT INTO checkpoint(seq, epoch, at, head_hash, signature, public_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![cp.seq, epoch_column(cp.epoch)?, cp.at.as_unix_millis(), cp.head_hash, cp.signature, cp.public_key],
        )
        .context("storing a checkpoint")?;
        tx.execute(
            "UPDATE journal_key SET epoch = ?1, wrapped = ?2 WHERE id = 1",
            params![epoch_column(next.epoch)?, next_wrapped.as_slice()],
        )
        .context("evolving the journal key")?;
        tx.commit().context("committing a checkpoint")?;
        self.key = Some(next);
        Ok(())
    }

    /// The stored checkpoints, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, epoch, at, head_hash, signature, public_key FROM checkpoint ORDER BY seq")
            .context("reading checkpoints")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(1)?,
                    SignedCheckpoint {
                        seq: r.get(0)?,
                        epoch: 0,
                        at: Timestamp::from_unix_millis(r.get(2)?),
                        head_hash: r.get(3)?,
                        signature: r.get(4)?,
                        public_key: r.get(5)?,
                    },
                ))
            })
            .context("reading checkpoints")?;
        let mut out = Vec::new();
        for row in rows {
            let (epoch, mut cp) = row.context("reading a checkpoint")?;
            cp.epoch = stored_epoch(epoch, "a checkpoint")?;
            out.push(cp);
        }
        Ok(out)
    }

    /// Where verification starts: genesis, or the checkpoint the journal was pruned at.
    pub fn anchor(&self) -> Result<Anchor> {
        anchor_of(&self.conn)
    }

    /// Verifies the journal: hash chain, MACs (with the console's epoch-0 key), checkpoints,
    /// the pruning anchor, the enrollment facts and the outbox's binding to the journal.
    pub fn verify_journal(&self, options: VerifyOptions) -> Result<Verdict> {
        // Sized by sequence numbers alone: a damaged record must be reported by the walk,
        // not fail the sizing.
        let last: Option<i64> = self
            .conn
            .query_row("SELECT max(seq) FROM journal", [], |r| r.get(0))
            .context("sizing the journal")?;
        let records = last.map_or(0, |last| {
            last.saturating_sub(self.anchor().map_or(0, |a| a.seq))
        });
        self.verify_journal_with(options, Parallelism::for_records(records))
    }

    /// [`Store::verify_journal`] with the thread count and batch size chosen by the caller.
    pub fn verify_journal_with(
        &self,
        options: VerifyOptions,
        parallelism: Parallelism,
    ) -> Result<Verdict> {
        // One read transaction: the journal, checkpoints and outbox are read as of one moment.
        let _snapshot = self
            .conn
            .unchecked_transaction()
            .context("starting to read the journal")?;
        let anchor = self.anchor()?;
        let checkpoints = self.checkpoints()?;
        // Enrollment stores the checkpoint public key; without it stored checkpoints could
        // not be checked, so its absence is tampering, never a reason to skip the check.
        let stored_key = self.meta(META_PUBLIC_KEY)?;
        let Some(public_key) = stored_key.as_deref().and_then(unhex32) else {
            return Ok(Verdict::Broken {
                seq: 1,
                reason: "the checkpoint public key enrollment stores (meta checkpoint_public_key) is missing or malformed (deleted or edited)".into(),
            });
        };
        if let Some(console) = &options.console_checkpoint {
            if unhex32(&console.public_key).is_some_and(|k| k != public_key) {
                return Ok(Verdict::Broken {
                    seq: 1,
                    reason: "the stored checkpoint public key is not the one the console pinned (replaced)".into(),
                });
            }
        }
        let mut verifier = match Verifier::new(anchor, checkpoints, Some(public_key), options) {
            Ok(v) => v,
            Err((seq, reason)) => return Ok(Verdict::Broken { seq, reason }),
        };
        let mut outbox = self
            .conn
            .prepare(
                "SELECT id, journal_seq, at, kind, severity, slot, detector, detector_version, summary, evidence, acked_at
                 FROM outbox ORDER BY journal_seq, id",
            )
            .context("preparing the outbox check")?;
        let mut bindings = Bindings::start(
            outbox.query([]).context("reading the outbox")?,
            anchor,
            hex(&public_key),
            self.meta(META_ENROLLED_AT)?,
        );
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, epoch, kind, body, hash, mac FROM journal ORDER BY seq")
            .context("preparing journal verification")?;
        let mut rows = stmt.query([]).context("reading the journal")?;
        if parallelism.workers == 0 {
            while let Some(row) = rows.next().context("reading a journal record")? {
                let expected = verifier.expected_seq();
                if let Err((seq, reason)) = with_row(row, expected, |r, hash, mac| {
                    verifier.push_parts(r, hash, mac)?;
                    bindings.record(r)
                }) {
                    return Ok(Verdict::Broken { seq, reason });
                }
            }
            let tail = bindings.finish();
            return Ok(with_failure(verifier.finish(), tail));
        }
        // SQLite is read on this thread, in order, with the checks that need order; the
        // hashes and MACs of whole batches are checked by the workers meanwhile.
        let batch_len = parallelism.batch.max(1);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<LinkBatch>(parallelism.workers * 2);
        let queue = std::sync::Mutex::new(queue);
        let (outcome, link_failure) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..parallelism.workers)
                .map(|_| {
                    let queue = &queue;
                    scope.spawn(move || {
                        let mut first = None;
                        loop {
                            let job = queue.lock().map(|q| q.recv());
                            let Ok(Ok(batch)) = job else { break };
                            first = journal::earliest(first, batch.check());
                        }
                        first
                    })
                })
                .collect();
            let outcome = (|| -> Result<Option<(i64, String)>> {
                while let Some(row) = rows.next().context("reading a journal record")? {
                    let expected = verifier.expected_seq();
                    match with_row(row, expected, |r, hash, mac| {
                        let batch = verifier.push_deferred(r, hash, mac, batch_len)?;
                        Ok((batch, bindings.record(r)))
                    }) {
                        Ok((batch, bound)) => {
                            // A full batch goes to the workers even when the record fails
                            // its binding: it may hold an earlier failure.
                            if let Some(batch) = batch {
                                if jobs.send(batch).is_err() {
                                    break;
                                }
                            }
                            if let Err(failure) = bound {
                                return Ok(Some(failure));
                            }
                        }
                        Err(failure) => return Ok(Some(failure)),
                    }
                }
                Ok(None)
            })();
            // Records gathered before the walk ended (or stopped) are checked too: one of
            // them may hold the earliest failure.
            if let Some(batch) = verifier.take_batch() {
                let _ = jobs.send(batch);
            }
            drop(jobs);
            let mut link_failure = None;
            for worker in workers {
                let found = worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                link_failure = journal::earliest(link_failure, found);
            }
            (outcome, link_failure)
        });
        let in_order = match outcome {
            Ok(found) => found,
            // Every record the workers checked comes before the unreadable row: a failure
            // among them is the verdict (as the one-thread walk, which stops there, finds).
            Err(e) if link_failure.is_none() => return Err(e),
            Err(_) => None,
        };
        // What the outbox holds beyond the records read counts only after a complete walk
        // over intact records, as in the one-thread walk, which stops at the first failure.
        let tail = if in_order.is_none() && link_failure.is_none() {
            bindings.finish()
        } else {
            None
        };
        Ok(with_failure(
            journal::deferred_verdict(verifier, link_failure, in_order),
            tail,
        ))
    }

    /// Records in sequence order, for export.
    pub fn journal_records(&self) -> Result<Vec<StoredRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, at, epoch, kind, body, hash, mac FROM journal ORDER BY seq")
            .context("preparing the journal export")?;
        let mut rows = stmt.query([]).context("reading the journal")?;
        collect_records(&mut rows)
    }

    /// Records after `after` up to `through` (inclusive), in sequence order, at most
    /// `limit` of them: what an upload batch carries.
    pub fn journal_range(
        &self,
        after: i64,
        through: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, at, epoch, kind, body, hash, mac FROM journal WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
            )
            .context("preparing an upload read")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt
            .query(params![after, through, limit])
            .context("reading journal records to upload")?;
        collect_records(&mut rows)
    }

    /// When the first high or critical alert journalled after record `after` was raised:
    /// an upload is due at once after one.
    pub fn severe_alert_after(&self, after: i64) -> Result<Option<Timestamp>> {
        let at: Option<i64> = self
            .conn
            .query_row(
                "SELECT min(at) FROM outbox WHERE journal_seq > ?1 AND severity IN ('high', 'critical')",
                [after],
                |r| r.get(0),
            )
            .context("looking for severe alerts")?;
        Ok(at.map(Timestamp::from_unix_millis))
    }

    /// Drops records up to the newest checkpoint made before `before`, keeping the chain
    /// verifiable from that checkpoint and never dropping an unacknowledged alert.
    /// Returns how many records were removed.
    pub fn prune(&mut self, before: Timestamp) -> Result<u64> {
        self.prune_through(before, i64::MAX)
    }

    /// [`Store::prune`], dropping no record after `through` (the last record the
    /// collector acknowledged, when the journal is shipped).
    pub fn prune_through(&mut self, before: Timestamp, through: i64) -> Result<u64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context("starting to prune")?;
        let oldest_unacked: Option<i64> = tx
            .query_row(
                "SELECT min(journal_seq) FROM outbox WHERE acked_at IS NULL",
                [],
                |r| r.get(0),
            )
            .context("finding undelivered alerts")?;
        let limit = oldest_unacked
            .map_or(i64::MAX, |s| s.saturating_sub(1))
            .min(through);
        let cp: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT seq, epoch, head_hash FROM checkpoint WHERE at < ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1",
                params![before.as_unix_millis(), limit],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .context("choosing the pruning checkpoint")?;
        let Some((seq, epoch, head_hash)) = cp else {
            return Ok(0);
        };
        if anchor_of(&tx)?.seq >= seq {
            return Ok(0);
        }
        tx.execute(
            "DELETE FROM outbox WHERE journal_seq <= ?1 AND acked_at IS NOT NULL",
            [seq],
        )
        .context("pruning delivered alerts")?;
        let removed = tx
            .execute("DELETE FROM journal WHERE seq <= ?1", [seq])
            .context("pruning journal records")?;
        let next_epoch = stored_epoch(epoch, "the pruning checkpoint")?
            .checked_add(1)
            .ok_or_else(|| {
                Error::Corrupt("the pruning checkpoint's epoch is out of range".into())
            })?;
        let anchor = serde_json::json!({ "seq": seq, "hash": head_hash, "next_epoch": next_epoch })
            .to_string();
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![META_ANCHOR, anchor],
        )
        .context("recording the pruning anchor")?;
        // The journal names its own anchor, under the MAC: an anchor written by someone
        // without the journal key (to prune past an undelivered alert) names no record.
        let at: i64 = tx
            .query_row("SELECT max(at) FROM journal", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .context("reading the journal's last time")?
            .unwrap_or_else(|| before.as_unix_millis());
        let body = serde_json::json!({ "seq": seq, "hash": head_hash }).to_string();
        Appender::start(&tx, self.key.as_ref(), at)?.append(PRUNED_KIND, &body)?;
        tx.commit().context("committing the prune")?;
        Ok(removed as u64)
    }

    /// Checks SQLite's own consistency (`PRAGMA integrity_check`).
    pub fn integrity_check(&self) -> Result<bool> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .context("running the integrity check")?;
        Ok(result == "ok")
    }
}

/// Upserts network-window rows: full chunks of [`NETWORK_UPSERT_ROWS`] through one
/// statement, the rest one by one (two cached statements in all). A row is rewritten
/// only when its new time is more than `resolution_ms` after the stored one.
fn upsert_network(
    tx: &Connection,
    rows: &[(NetworkValue, String, Timestamp)],
    resolution_ms: i64,
) -> Result<()> {
    fn statement(rows: usize) -> String {
        let values: Vec<String> = (0..rows)
            .map(|i| format!("(?{}, ?{}, ?{})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        format!(
            "INSERT INTO network_seen(kind, value, last_seen) VALUES {}
             ON CONFLICT(kind, value) DO UPDATE SET last_seen = excluded.last_seen
             WHERE excluded.last_seen > network_seen.last_seen + ?1",
            values.join(", ")
        )
    }
    static SQL: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (many, one) = SQL.get_or_init(|| (statement(NETWORK_UPSERT_ROWS), statement(1)));
    let full = rows.len() - rows.len() % NETWORK_UPSERT_ROWS;
    for (sql, chunks) in [
        (many, rows[..full].chunks(NETWORK_UPSERT_ROWS)),
        (one, rows[full..].chunks(1)),
    ] {
        let mut stmt = tx.prepare_cached(sql).context("saving network events")?;
        for chunk in chunks {
            stmt.raw_bind_parameter(1, resolution_ms)
                .context("saving network events")?;
            for (i, (kind, value, seen)) in chunk.iter().enumerate() {
                let n = 3 * i + 2;
                stmt.raw_bind_parameter(n, kind.code())
                    .and_then(|()| stmt.raw_bind_parameter(n + 1, value.as_str()))
                    .and_then(|()| stmt.raw_bind_parameter(n + 2, seen.as_unix_millis()))
                    .context("saving network events")?;
            }
            stmt.raw_execute().context("saving network events")?;
        }
    }
    Ok(())
}

/// Appends chained, MACed records inside a transaction.
struct Appender<'c> {
    stmt: rusqlite::CachedStatement<'c>,
    mac: ring::hmac::Key,
    epoch: i64,
    at: i64,
    seq: i64,
    prev: [u8; 32],
    hasher: RecordHasher,
}

impl<'c> Appender<'c> {
    fn start(conn: &'c Connection, key: Option<&EpochKey>, at: i64) -> Result<Self> {
        let key = key.ok_or_else(|| Error::Corrupt("the journal key was not loaded".into()))?;
        let epoch = epoch_column(key.epoch)?;
        let (seq, prev) = head(conn)?;
        let stmt = conn
            .prepare_cached(
                "INSERT INTO journal(seq, at, epoch, kind, body, hash, mac) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .context("preparing a journal append")?;
        Ok(Appender {
            stmt,
            mac: key.mac_key(),
            epoch,
            at,
            seq,
            prev,
            hasher: RecordHasher::default(),
        })
    }

    fn append(&mut self, kind: &str, body: &str) -> Result<i64> {
        let seq = self.seq.checked_add(1).ok_or_else(|| {
            Error::Corrupt("the journal's sequence number is out of range".into())
        })?;
        let hash = self.hasher.hash(
            &self.prev,
            &RecordRef {
                seq,
                at: self.at,
                epoch: self.epoch,
                kind,
                body,
            },
        );
        let mac = ring::hmac::sign(&self.mac, &hash);
        self.stmt
            .execute(params![
                seq,
                self.at,
                self.epoch,
                kind,
                body,
                hash.as_slice(),
                &mac.as_ref()[..MAC_LEN]
            ])
            .context("appending to the journal")?;
        self.seq = seq;
        self.prev = hash;
        Ok(seq)
    }
}

/// What enrollment writes.
pub struct Enrollment {
    /// Enrollment time.
    pub at: Timestamp,
    /// The epoch-0 MAC key.
    pub key: EpochKey,
    /// The same key wrapped with the device key, for storage.
    pub wrapped_key: [u8; 32],
    /// The epoch-0 key wrapped for its one-time export to the console.
    pub wrapped_export: [u8; 32],
    /// The checkpoint-signing public key.
    pub public_key: [u8; 32],
    /// A check value recognising the device key.
    pub key_check: String,
}

/// Metadata keys.
pub(crate) const META_ENROLLED_AT: &str = "enrolled_at";
pub(crate) const META_KEY_CHECK: &str = "device_key_check";
pub(crate) const META_PUBLIC_KEY: &str = "checkpoint_public_key";
pub(crate) const META_KEY_EXPORT: &str = "journal_key0_export";
const META_ANCHOR: &str = "journal_anchor";
/// The kind of a journal record that queued an alert; each has exactly one outbox row.
const ALERT_KIND: &str = "alert";
const ACK_KIND: &str = "alerts_acknowledged";
/// The record a prune appends, naming the anchor it left.
const PRUNED_KIND: &str = "journal_pruned";

/// An epoch read from the database: a negative one was written by someone else.
fn stored_epoch(epoch: i64, what: &str) -> Result<u64> {
    u64::try_from(epoch).map_err(|_| Error::Corrupt(format!("{what} has an epoch out of range")))
}

/// An epoch as SQLite stores it (a signed 64-bit integer).
fn epoch_column(epoch: u64) -> Result<i64> {
    i64::try_from(epoch).map_err(|_| Error::Corrupt("a journal epoch is out of range".into()))
}

fn head(conn: &Connection) -> Result<(i64, [u8; 32])> {
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .context("reading the journal head")?;
    match last {
        Some((seq, hash)) => {
            let hash: [u8; 32] = hash.try_into().map_err(|_| {
                Error::Corrupt(format!("journal record {seq} has a malformed hash"))
            })?;
            Ok((seq, hash))
        }
        None => {
            let a = anchor_of(conn)?;
            Ok((a.seq, a.hash))
        }
    }
}

fn anchor_of(conn: &Connection) -> Result<Anchor> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_ANCHOR],
            |r| r.get(0),
        )
        .optional()
        .context("reading the pruning anchor")?;
    match text {
        None => Ok(Anchor::GENESIS),
        Some(text) => {
            let v: serde_json::Value = crate::json::from_str(&text)
                .map_err(|_| Error::Corrupt("the pruning anchor is unreadable".into()))?;
            match (
                v["seq"].as_i64(),
                v["hash"].as_str().and_then(unhex32),
                v["next_epoch"].as_u64(),
            ) {
                (Some(seq), Some(hash), Some(next_epoch)) => Ok(Anchor {
                    seq,
                    hash,
                    next_epoch,
                }),
                _ => Err(Error::Corrupt("the pruning anchor is incomplete".into())),
            }
        }
    }
}

/// A verdict with a further failure found beside the walk: the earlier one is reported.
fn with_failure(verdict: Verdict, failure: Option<(i64, String)>) -> Verdict {
    let Some((seq, reason)) = failure else {
        return verdict;
    };
    match verdict {
        Verdict::Broken { seq: first, .. } if first <= seq => verdict,
        _ => Verdict::Broken { seq, reason },
    }
}

/// One outbox row as verification compares it with its alert record.
struct OutboxRow {
    id: i64,
    journal_seq: i64,
    at: i64,
    kind: String,
    severity: String,
    slot: Option<i64>,
    detector: String,
    detector_version: i64,
    summary: String,
    evidence: String,
    acked_at: Option<i64>,
}

impl OutboxRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(OutboxRow {
            id: row.get(0)?,
            journal_seq: row.get(1)?,
            at: row.get(2)?,
            kind: row.get(3)?,
            severity: row.get(4)?,
            slot: row.get(5)?,
            detector: row.get(6)?,
            detector_version: row.get(7)?,
            summary: row.get(8)?,
            evidence: row.get(9)?,
            acked_at: row.get(10)?,
        })
    }

    /// Whether the row holds exactly what its alert record queued.
    fn matches(&self, record: &RecordRef<'_>) -> bool {
        let Ok(journal::RecordBody::Alert(f)) = journal::decode_record(record.kind, record.body)
        else {
            return false;
        };
        let evidence = serde_json::to_string(&f.evidence).unwrap_or_default();
        self.at == f.at.as_unix_millis()
            && self.kind == f.kind.as_str()
            && self.severity == f.severity().as_str()
            && self.slot == f.slot.map(i64::from)
            && self.detector == f.detector
            && self.detector_version == i64::from(f.detector_version)
            && self.summary == f.summary
            && self.evidence == evidence
    }
}

/// What ties the journal to the rest of the database, checked as the walk passes each
/// record: record 1 is the enrollment and names the stored checkpoint public key; every
/// `alert` record has exactly one outbox row holding the same alert, and no row exists
/// without one; a row marked delivered is named by a later acknowledgement record at
/// the same time, and no acknowledgement names a row still marked undelivered.
///
/// Both tables are read in journal order, so memory holds only the rows marked delivered
/// whose acknowledgement record has not been reached yet, and the undelivered ones.
struct Bindings<'s> {
    rows: rusqlite::Rows<'s>,
    next: Option<OutboxRow>,
    /// Whether the next row was read (`next` may be `None` at the end).
    peeked: bool,
    anchor_seq: i64,
    anchor: Anchor,
    /// The anchor the last `journal_pruned` record names.
    last_pruned: Option<(i64, String)>,
    public_key: String,
    enrolled_at: Option<String>,
    /// Rows marked delivered, by id: their alert's record and the delivery time.
    awaiting_ack: std::collections::HashMap<i64, (i64, i64)>,
    undelivered: std::collections::HashSet<i64>,
}

type Failure = (i64, String);

impl<'s> Bindings<'s> {
    fn start(
        rows: rusqlite::Rows<'s>,
        anchor: Anchor,
        public_key: String,
        enrolled_at: Option<String>,
    ) -> Self {
        Bindings {
            rows,
            next: None,
            peeked: false,
            anchor_seq: anchor.seq,
            anchor,
            last_pruned: None,
            public_key,
            enrolled_at,
            awaiting_ack: Default::default(),
            undelivered: Default::default(),
        }
    }

    fn peek(&mut self) -> std::result::Result<Option<&OutboxRow>, Failure> {
        if !self.peeked {
            let first = self.anchor_seq.saturating_add(1);
            let row = self
                .rows
                .next()
                .map_err(|_| (first, "the outbox cannot be read".to_owned()))?;
            self.next = match row {
                Some(row) => Some(
                    OutboxRow::read(row)
                        .map_err(|_| (first, "an outbox row is malformed (edited)".to_owned()))?,
                ),
                None => None,
            };
            self.peeked = true;
        }
        Ok(self.next.as_ref())
    }

    fn take(&mut self) -> Option<OutboxRow> {
        self.peeked = false;
        self.next.take()
    }

    /// Rows before record `seq` that no alert record claimed.
    fn unclaimed_before(&mut self, seq: i64) -> std::result::Result<(), Failure> {
        let first = self.anchor_seq.saturating_add(1);
        if let Some(row) = self.peek()? {
            if row.journal_seq < seq {
                let at = row.journal_seq.max(first);
                return Err((
                    at,
                    format!(
                        "outbox row {} names record {}, which queued no alert (forged or edited)",
                        row.id, row.journal_seq
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks one record (already checked in order by the verifier) and the outbox rows
    /// that name it; a row that names it without being claimed is reported here, at it.
    fn record(&mut self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        self.unclaimed_before(r.seq)?;
        self.claim(r)?;
        self.unclaimed_before(r.seq.saturating_add(1))
    }

    fn claim(&mut self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        if r.seq == 1 {
            self.enrollment(r)?;
        }
        match r.kind {
            ALERT_KIND => {
                if self.peek()?.map(|row| row.journal_seq) != Some(r.seq) {
                    return Err((
                        r.seq,
                        "the alert's outbox row is missing (deleted)".to_owned(),
                    ));
                }
                let row = self.take().expect("peeked above");
                if !row.matches(r) {
                    return Err((
                        r.seq,
                        format!(
                            "outbox row {} does not hold the alert its record queued (edited)",
                            row.id
                        ),
                    ));
                }
                match row.acked_at {
                    Some(at) => {
                        self.awaiting_ack.insert(row.id, (r.seq, at));
                    }
                    None => {
                        self.undelivered.insert(row.id);
                    }
                }
                Ok(())
            }
            ACK_KIND => {
                #[derive(serde::Deserialize)]
                struct Acked {
                    alert_ids: Vec<i64>,
                }
                let acked: Acked = crate::json::from_str(r.body).map_err(|_| {
                    (
                        r.seq,
                        "the acknowledgement record is unreadable (edited)".to_owned(),
                    )
                })?;
                for id in acked.alert_ids {
                    match self.awaiting_ack.remove(&id) {
                        Some((_, at)) if at != r.at => {
                            return Err((
                                r.seq,
                                format!("outbox row {id} records another delivery time than its acknowledgement (edited)"),
                            ))
                        }
                        Some(_) => {}
                        // Acknowledged rows are pruned with their alert's record.
                        None if self.undelivered.contains(&id) => {
                            return Err((
                                r.seq,
                                format!("outbox row {id} is acknowledged here but marked undelivered (edited)"),
                            ))
                        }
                        None => {}
                    }
                }
                Ok(())
            }
            PRUNED_KIND => {
                #[derive(serde::Deserialize)]
                struct Pruned {
                    seq: i64,
                    hash: String,
                }
                let pruned: Pruned = crate::json::from_str(r.body).map_err(|_| {
                    (
                        r.seq,
                        "the pruning record is unreadable (edited)".to_owned(),
                    )
                })?;
                self.last_pruned = Some((pruned.seq, pruned.hash.to_ascii_lowercase()));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Record 1 is the enrollment, naming the checkpoint public key and the enrollment
    /// time stored beside it.
    fn enrollment(&self, r: &RecordRef<'_>) -> std::result::Result<(), Failure> {
        let Ok(journal::RecordBody::Enrolled { public_key, at }) =
            journal::decode_record(r.kind, r.body)
        else {
            return Err((1, "record 1 is not the enrollment (edited)".to_owned()));
        };
        if !public_key.eq_ignore_ascii_case(&self.public_key) {
            return Err((
                1,
                "the enrollment record names another checkpoint public key than the one stored (replaced)".to_owned(),
            ));
        }
        if self
            .enrolled_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339)
            != Some(at)
        {
            return Err((
                1,
                "the stored enrollment time (meta enrolled_at) is missing or differs from record 1 (edited)".to_owned(),
            ));
        }
        Ok(())
    }

    /// After a complete walk: rows beyond the last record, and rows marked delivered that
    /// no acknowledgement record names.
    fn finish(mut self) -> Option<Failure> {
        let first = self.anchor_seq.saturating_add(1);
        if self.anchor != Anchor::GENESIS
            && self.last_pruned != Some((self.anchor.seq, hex(&self.anchor.hash)))
        {
            return Some((
                self.anchor.seq,
                format!(
                    "the pruning anchor at record {} is not the one the journal's last pruning record names (forged)",
                    self.anchor.seq
                ),
            ));
        }
        let mut failure = match self.peek() {
            Err(failure) => Some(failure),
            Ok(Some(row)) => Some((
                row.journal_seq.max(first),
                format!(
                    "outbox row {} names record {}, which the journal does not hold (removed)",
                    row.id, row.journal_seq
                ),
            )),
            Ok(None) => None,
        };
        if let Some((&id, &(seq, _))) = self.awaiting_ack.iter().min_by_key(|(_, (seq, _))| *seq) {
            failure = journal::earliest(
                failure,
                Some((
                    seq,
                    format!("outbox row {id} is marked delivered, but no acknowledgement record names it (edited)"),
                )),
            );
        }
        failure
    }
}

/// How journal verification spreads over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parallelism {
    /// Threads checking hashes and MACs beside the one reading SQLite; 0 checks inline.
    pub workers: usize,
    /// Records per batch handed to a worker.
    pub batch: usize,
}

impl Parallelism {
    /// Journals shorter than this verify inline: starting threads would cost more.
    const MIN_RECORDS: i64 = 16_384;

    /// Inline for short journals; otherwise one worker per spare core, at most three
    /// (beyond that the reading thread is the bottleneck).
    pub fn for_records(records: i64) -> Self {
        let spare = std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(0);
        Parallelism {
            workers: if records < Self::MIN_RECORDS {
                0
            } else {
                spare.clamp(1, 3)
            },
            batch: 1_024,
        }
    }
}

/// Hands `f` one journal row, borrowed from SQLite's buffer; a field of the wrong type or
/// text that is not UTF-8 is a broken record.
/// `expected` is the sequence number the walk expects: a malformed row elsewhere means
/// records are missing before it, which is reported first, as for a well-formed row.
fn with_row<T>(
    row: &rusqlite::Row<'_>,
    expected: i64,
    f: impl FnOnce(&RecordRef<'_>, &[u8], &[u8]) -> std::result::Result<T, (i64, String)>,
) -> std::result::Result<T, (i64, String)> {
    // Verification touches every record; copying each into owned strings cost more
    // than hashing it.
    let seq: i64 = row.get(0).map_err(|_| {
        (
            0,
            "a record has a malformed sequence number (edited)".to_owned(),
        )
    })?;
    let edited = |what: &str| {
        if seq != expected {
            (
                expected,
                format!("expected record {expected}, found {seq} (removed or reordered)"),
            )
        } else {
            (seq, format!("record has a malformed {what} (edited)"))
        }
    };
    let text = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Text(t)) => std::str::from_utf8(t).map_err(|_| {
            let (at, reason) = edited("text");
            if at == seq {
                (seq, "record is not valid UTF-8 (edited)".to_owned())
            } else {
                (at, reason)
            }
        }),
        _ => Err(edited(if i == 3 { "kind" } else { "body" })),
    };
    let blob = |i: usize| match row.get_ref(i) {
        Ok(ValueRef::Blob(b)) => Ok(b),
        _ => Err(edited(if i == 5 { "hash" } else { "MAC" })),
    };
    let record = RecordRef {
        seq,
        at: row.get(1).map_err(|_| edited("time"))?,
        epoch: row.get(2).map_err(|_| edited("epoch"))?,
        kind: text(3)?,
        body: text(4)?,
    };
    f(&record, blob(5)?, blob(6)?)
}

/// Every record a journal query returns, in its order.
fn collect_records(rows: &mut rusqlite::Rows<'_>) -> Result<Vec<StoredRecord>> {
    let mut out = Vec::new();
    while let Some(row) = rows.next().context("reading a journal record")? {
        let mut r = StoredRecord {
            seq: 0,
            at: 0,
            epoch: 0,
            kind: String::new(),
            body: String::new(),
            hash: Vec::new(),
            mac: Vec::new(),
        };
        read_record(row, &mut r).context("decoding a journal record")?;
        out.push(r);
    }
    Ok(out)
}

fn read_record(row: &rusqlite::Row<'_>, r: &mut StoredRecord) -> rusqlite::Result<()> {
    use rusqlite::types::ValueRef;
    r.seq = row.get(0)?;
    r.at = row.get(1)?;
    r.epoch = row.get(2)?;
    let text = |i: usize, out: &mut String| -> rusqlite::Result<()> {
        out.clear();
        match row.get_ref(i)? {
            ValueRef::Text(t) => out.push_str(&String::from_utf8_lossy(t)),
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    i,
                    "text".into(),
                    other.data_type(),
                ))
            }
        }
        Ok(())
    };
    text(3, &mut r.kind)?;
    text(4, &mut r.body)?;
    let blob = |i: usize, out: &mut Vec<u8>| -> rusqlite::Result<()> {
        out.clear();
        match row.get_ref(i)? {
            ValueRef::Blob(b) => out.extend_from_slice(b),
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    i,
                    "blob".into(),
                    other.data_type(),
                ))
            }
        }
        Ok(())
    };
    blob(5, &mut r.hash)?;
    blob(6, &mut r.mac)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An enrolled in-memory store: record 1 and the checkpoint public key, as on a device.
    fn store() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        let device =
            crate::identity::SoftwareDeviceKey::new(b"store unit test device key").unwrap();
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
}
