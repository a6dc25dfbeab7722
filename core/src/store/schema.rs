//! The schema: its migrations, opening a database and bringing it up to date.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::Store;
use crate::error::{Error, Result, StorageContext};

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 4: folding the log into `network_seen` rewrote thousands of rows in one commit now
    // and then (22 ms where a batch takes under 1). The window is now `network_part`: the
    // agent's copy of it split by value into a fixed number of parts, one or more
    // rewritten whole by each ingest, so the log records every part covers can go.
    // `network_seen` is read until every part has been written once, then emptied. A
    // part records the last log record it covers, so log numbers are never reused.
    "CREATE TABLE network_log_numbered (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        entries INTEGER NOT NULL,
        newest  INTEGER NOT NULL,
        body    BLOB NOT NULL
     ) STRICT;
     INSERT INTO network_log_numbered SELECT seq, entries, newest, body FROM network_log;
     DROP TABLE network_log;
     ALTER TABLE network_log_numbered RENAME TO network_log;
     CREATE TABLE network_part (
        part       INTEGER PRIMARY KEY NOT NULL,
        covers     INTEGER NOT NULL,
        written_at INTEGER NOT NULL,
        body       BLOB NOT NULL
     ) STRICT;",
];

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

    /// Checks SQLite's own consistency (`PRAGMA integrity_check`).
    pub fn integrity_check(&self) -> Result<bool> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .context("running the integrity check")?;
        Ok(result == "ok")
    }
}
