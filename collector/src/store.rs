//! The collector's store: SQLite (embedded default) or PostgreSQL, through one SQL text.
//!
//! Every statement below is written once, with `$N` placeholders, which both databases
//! accept, and only types both map the same way (`BIGINT`, `TEXT`, and a byte type whose
//! name is the one per-dialect word). SQLite runs through rusqlite (the workspace's
//! SQLite, on a blocking thread); PostgreSQL through sqlx's driver (docs/decisions/0010).
//! Migrations are numbered steps recorded in `collector_migrations`, each applied in its
//! own transaction, so a failed step leaves the store at the previous version.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Column, Row, TypeInfo};

use crate::error::Error;

/// Which database a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Dialect {
    fn bytes_type(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BLOB",
            Dialect::Postgres => "BYTEA",
        }
    }
}

/// A value bound to or read from a statement: the three types the schema uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    I(i64),
    T(String),
    B(Vec<u8>),
    Null,
}

impl Val {
    fn int(&self) -> Result<i64, Error> {
        match self {
            Val::I(v) => Ok(*v),
            _ => Err(Error::Store("a column is not an integer".into())),
        }
    }
    fn text(self) -> Result<String, Error> {
        match self {
            Val::T(v) => Ok(v),
            _ => Err(Error::Store("a column is not text".into())),
        }
    }
    fn bytes(self) -> Result<Vec<u8>, Error> {
        match self {
            Val::B(v) => Ok(v),
            _ => Err(Error::Store("a column is not bytes".into())),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::T(v.to_owned())
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Self {
        Val::T(v.clone())
    }
}
impl From<&Vec<u8>> for Val {
    fn from(v: &Vec<u8>) -> Self {
        Val::B(v.clone())
    }
}
impl From<&[u8]> for Val {
    fn from(v: &[u8]) -> Self {
        Val::B(v.to_vec())
    }
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::I(i) => ValueRef::Integer(*i),
            Val::T(t) => ValueRef::Text(t.as_bytes()),
            Val::B(b) => ValueRef::Blob(b),
            Val::Null => ValueRef::Null,
        }))
    }
}

macro_rules! vals {
    ($($v:expr),* $(,)?) => { vec![$(Val::from($v)),*] };
}

/// One statement of a transaction; `must_change` aborts the transaction (rolled back,
/// nothing written) when the statement changes no row.
struct Step {
    sql: Cow<'static, str>,
    params: Vec<Val>,
    must_change: bool,
}

impl Step {
    fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Val>) -> Step {
        Step {
            sql: sql.into(),
            params,
            must_change: false,
        }
    }
    fn guard(sql: &'static str, params: Vec<Val>) -> Step {
        Step {
            sql: sql.into(),
            params,
            must_change: true,
        }
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(Lite),
    Postgres(PgPool),
}

/// The one SQLite connection. Each call runs on tokio's blocking pool and takes the
/// connection's lock there (SQLite has one writer at a time anyway); verification keeps
/// running on the async workers meanwhile.
#[derive(Clone)]
struct Lite {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl Lite {
    fn start(conn: rusqlite::Connection) -> Lite {
        Lite {
            conn: Arc::new(Mutex::new(conn)),
        }
    }

    /// Runs `f` with the connection, on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|_| Error::Store("a store call panicked".into()))?
    }
}

/// The schema steps, in order; `{bytes}` is the dialect's byte-string type.
/// Never edit a released step: append a new one.
const MIGRATIONS: &[&[&str]] = &[&[
    // One row per enrolled device: the console-signed enrollment (JSON, no secrets), its
    // signature, and the journal's epoch-0 key sealed under the collector key.
    "CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        enrollment TEXT NOT NULL,
        signature {bytes} NOT NULL,
        journal_key_sealed {bytes} NOT NULL,
        enrolled_at BIGINT NOT NULL
    )",
    // Where each device's verified history ends (the core's cursor, JSON), and when it was
    // last heard from (collector clock, ms) for the silence alert.
    "CREATE TABLE cursors (
        device_id TEXT PRIMARY KEY,
        cursor TEXT NOT NULL,
        last_batch_seq BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        silent_alerted BIGINT NOT NULL
    )",
    "CREATE TABLE records (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        epoch BIGINT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        hash {bytes} NOT NULL,
        mac {bytes} NOT NULL,
        PRIMARY KEY (device_id, seq)
    )",
    "CREATE INDEX records_at ON records (at)",
    "CREATE TABLE checkpoints (
        device_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        checkpoint TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    )",
    "CREATE TABLE evidence (
        device_id TEXT NOT NULL,
        evidence_id BIGINT NOT NULL,
        bundle TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, evidence_id)
    )",
    // Every accepted batch: its digest (a resent batch is recognised and answered with
    // the same receipt) and the signed receipt.
    "CREATE TABLE batches (
        device_id TEXT NOT NULL,
        batch_seq BIGINT NOT NULL,
        digest {bytes} NOT NULL,
        receipt {bytes} NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, batch_seq)
    )",
]];

/// An open store.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    dialect: Dialect,
}

/// A device's enrollment row as stored.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// The enrollment id.
    pub device_id: String,
    /// The signed enrollment document (JSON).
    pub enrollment: String,
    /// The console's signature over it.
    pub signature: Vec<u8>,
    /// The epoch-0 journal key, sealed.
    pub journal_key_sealed: Vec<u8>,
}

/// A device's cursor row.
#[derive(Debug, Clone)]
pub struct CursorRow {
    /// The core's cursor (JSON).
    pub cursor: String,
    /// The last accepted batch sequence.
    pub last_batch_seq: i64,
    /// When the device was last heard from (ms).
    pub last_seen_at: i64,
    /// Whether a silence alert was already raised for the current silence.
    pub silent_alerted: bool,
}

/// One journal record as the collector keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Sequence number.
    pub seq: i64,
    /// Record time (ms).
    pub at: i64,
    /// MAC epoch.
    pub epoch: i64,
    /// Kind.
    pub kind: String,
    /// JSON body.
    pub body: String,
    /// Chain hash.
    pub hash: Vec<u8>,
    /// MAC.
    pub mac: Vec<u8>,
}

/// Everything one accepted batch adds, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct BatchWrite {
    /// The device.
    pub device_id: String,
    /// Its batch sequence.
    pub batch_seq: i64,
    /// SHA-256 of the batch bytes.
    pub digest: Vec<u8>,
    /// The signed receipt sent back.
    pub receipt: Vec<u8>,
    /// The cursor after the batch (JSON).
    pub cursor: String,
    /// Records.
    pub records: Vec<RecordRow>,
    /// Checkpoints: (covered sequence, JSON).
    pub checkpoints: Vec<(i64, String)>,
    /// Evidence bundles: (the phone's id, the bundle JSON).
    pub evidence: Vec<(i64, String)>,
    /// Collector time (ms).
    pub received_at: i64,
}

/// Where a `--store` argument points.
pub fn parse_store_url(arg: &str) -> Result<(Dialect, String), Error> {
    if let Some(path) = arg.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(Error::Usage("--store sqlite:PATH needs a file path".into()));
        }
        return Ok((Dialect::Sqlite, path.to_owned()));
    }
    if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
        return Ok((Dialect::Postgres, arg.to_owned()));
    }
    if let Some(url) = arg.strip_prefix("postgres:") {
        return Ok((Dialect::Postgres, url.to_owned()));
    }
    Err(Error::Usage(
        "--store must be sqlite:PATH or postgres:URL (postgres://user@host:port/db)".into(),
    ))
}

fn device_row(mut r: Vec<Val>) -> Result<DeviceRow, Error> {
    let mut take = |i: usize| std::mem::replace(&mut r[i], Val::Null);
    Ok(DeviceRow {
        device_id: take(0).text()?,
        enrollment: take(1).text()?,
        signature: take(2).bytes()?,
        journal_key_sealed: take(3).bytes()?,
    })
}

fn record_row(r: &mut [Val]) -> Result<RecordRow, Error> {
    let mut take = |i: usize| std::mem::replace(&mut r[i], Val::Null);
    Ok(RecordRow {
        seq: take(0).int()?,
        at: take(1).int()?,
        epoch: take(2).int()?,
        kind: take(3).text()?,
        body: take(4).text()?,
        hash: take(5).bytes()?,
        mac: take(6).bytes()?,
    })
}

/// Most records one `INSERT` statement writes: a batch's records go in a few multi-row
/// statements instead of one statement each (8 parameters a row, far under both
/// databases' parameter limits).
const RECORDS_PER_INSERT: usize = 32;

/// The `INSERT` of `rows` records (1 to [`RECORDS_PER_INSERT`]), built once per size.
fn record_insert(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        (1..=RECORDS_PER_INSERT)
            .map(|n| {
                let values: Vec<String> = (0..n)
                    .map(|i| {
                        let p: Vec<String> = (1..=8).map(|k| format!("${}", i * 8 + k)).collect();
                        format!("({})", p.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO records (device_id, seq, at, epoch, kind, body, hash, mac) VALUES {} ON CONFLICT DO NOTHING",
                    values.join(", ")
                )
            })
            .collect()
    });
    &all[rows - 1]
}

/// The statements that insert an accepted batch's `records`.
fn record_steps(device_id: &str, records: Vec<RecordRow>, steps: &mut Vec<Step>) {
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let chunk: Vec<RecordRow> = records.by_ref().take(RECORDS_PER_INSERT).collect();
        let mut params = Vec::with_capacity(chunk.len() * 8);
        let rows = chunk.len();
        for r in chunk {
            params.extend([
                Val::from(device_id),
                Val::I(r.seq),
                Val::I(r.at),
                Val::I(r.epoch),
                Val::T(r.kind),
                Val::T(r.body),
                Val::B(r.hash),
                Val::B(r.mac),
            ]);
        }
        steps.push(Step::new(record_insert(rows), params));
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates to the current schema.
    pub async fn open(arg: &str) -> Result<Store, Error> {
        let (dialect, target) = parse_store_url(arg)?;
        let backend = match dialect {
            Dialect::Sqlite => {
                let conn = blocking(move || {
                    let conn = rusqlite::Connection::open(&target)
                        .map_err(|e| Error::Store(format!("cannot open the SQLite store: {e}")))?;
                    conn.busy_timeout(Duration::from_secs(30)).map_err(lite)?;
                    conn.pragma_update(None, "journal_mode", "WAL")
                        .map_err(lite)?;
                    conn.pragma_update(None, "synchronous", "NORMAL")
                        .map_err(lite)?;
                    conn.set_prepared_statement_cache_capacity(64);
                    Ok(conn)
                })
                .await?;
                Backend::Sqlite(Lite::start(conn))
            }
            Dialect::Postgres => Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(&target)
                    .await
                    .map_err(|e| Error::Store(format!("cannot open the store: {}", redact(&e))))?,
            ),
        };
        let store = Store { backend, dialect };
        store.migrate().await?;
        Ok(store)
    }

    /// The database behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The schema version (number of migration steps applied).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        let rows = self
            .query(
                "SELECT COALESCE(MAX(version), 0) FROM collector_migrations",
                vec![],
            )
            .await?;
        rows.first()
            .and_then(|r| r.first())
            .ok_or_else(|| Error::Store("no schema version".into()))?
            .int()
    }

    async fn migrate(&self) -> Result<(), Error> {
        self.execute(
            "CREATE TABLE IF NOT EXISTS collector_migrations (
                version BIGINT PRIMARY KEY,
                applied_at BIGINT NOT NULL
            )",
            vec![],
        )
        .await?;
        let current = self.schema_version().await?;
        if current > MIGRATIONS.len() as i64 {
            return Err(Error::Store(format!(
                "the store is at schema version {current}, newer than this collector knows ({}); upgrade the collector",
                MIGRATIONS.len()
            )));
        }
        for (index, steps) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = index as i64 + 1;
            let mut tx: Vec<Step> = steps
                .iter()
                .map(|sql| Step::new(sql.replace("{bytes}", self.dialect.bytes_type()), vec![]))
                .collect();
            // Guarded, so two collectors starting at once apply a step once.
            tx.push(Step::guard(
                "INSERT INTO collector_migrations (version, applied_at) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                vals![version, crate::now_millis()],
            ));
            self.transaction(tx)
                .await
                .map_err(|e| Error::Store(format!("migration {version} failed: {e}")))?;
        }
        Ok(())
    }

    /// Adds an enrollment; refuses a device id already enrolled (re-enrolling is a
    /// deliberate act: remove the device first).
    pub async fn insert_device(&self, row: &DeviceRow, enrolled_at: i64) -> Result<(), Error> {
        let inserted = self
            .transaction(vec![Step::guard(
                "INSERT INTO devices (device_id, enrollment, signature, journal_key_sealed, enrolled_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                vals![
                    &row.device_id,
                    &row.enrollment,
                    &row.signature,
                    &row.journal_key_sealed,
                    enrolled_at
                ],
            )])
            .await?;
        match inserted {
            Some(_) => Ok(()),
            None => Err(Error::Usage(format!(
                "device {} is already enrolled",
                crate::label(&row.device_id)
            ))),
        }
    }

    /// One enrolled device, if any.
    pub async fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, Error> {
        let rows = self
            .query(
                "SELECT device_id, enrollment, signature, journal_key_sealed FROM devices WHERE device_id = $1",
                vals![device_id],
            )
            .await?;
        rows.into_iter().next().map(device_row).transpose()
    }

    /// Every enrolled device, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>, Error> {
        let rows = self
            .query(
                "SELECT device_id, enrollment, signature, journal_key_sealed FROM devices ORDER BY device_id",
                vec![],
            )
            .await?;
        rows.into_iter().map(device_row).collect()
    }

    /// A device's cursor, if it ever uploaded.
    pub async fn cursor(&self, device_id: &str) -> Result<Option<CursorRow>, Error> {
        let rows = self
            .query(
                "SELECT cursor, last_batch_seq, last_seen_at, silent_alerted FROM cursors WHERE device_id = $1",
                vals![device_id],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|r| {
                let [cursor, batch, seen, alerted]: [Val; 4] = r
                    .try_into()
                    .map_err(|_| Error::Store("bad cursor row".into()))?;
                Ok(CursorRow {
                    cursor: cursor.text()?,
                    last_batch_seq: batch.int()?,
                    last_seen_at: seen.int()?,
                    silent_alerted: alerted.int()? != 0,
                })
            })
            .transpose()
    }

    /// The receipt of an accepted batch whose digest is `digest`, if this exact batch
    /// was accepted before; `Err` names a different batch stored under the same sequence.
    pub async fn stored_receipt(
        &self,
        device_id: &str,
        batch_seq: i64,
        digest: &[u8],
    ) -> Result<Option<Result<Vec<u8>, ()>>, Error> {
        let rows = self
            .query(
                "SELECT digest, receipt FROM batches WHERE device_id = $1 AND batch_seq = $2",
                vals![device_id, batch_seq],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let [stored, receipt]: [Val; 2] = row
            .try_into()
            .map_err(|_| Error::Store("bad batch row".into()))?;
        if stored.bytes()? == digest {
            Ok(Some(Ok(receipt.bytes()?)))
        } else {
            Ok(Some(Err(())))
        }
    }

    /// Stores an accepted batch in one transaction. Rows already present are kept as
    /// they are (`ON CONFLICT DO NOTHING`), so a retried write stores nothing twice.
    /// `expected_batch_seq` is the cursor's batch sequence the batch was verified
    /// against (`None`: no cursor row yet): if another writer moved it meanwhile, nothing
    /// is written and `Ok(false)` says so.
    pub async fn write_batch(
        &self,
        w: BatchWrite,
        expected_batch_seq: Option<i64>,
    ) -> Result<bool, Error> {
        let mut steps = Vec::with_capacity(w.records.len() + w.checkpoints.len() + 3);
        // The cursor first, guarded by the value the batch was verified against.
        steps.push(match expected_batch_seq {
            Some(expected) => Step::guard(
                "UPDATE cursors SET cursor = $1, last_batch_seq = $2, last_seen_at = $3, silent_alerted = 0
                 WHERE device_id = $4 AND last_batch_seq = $5",
                vals![&w.cursor, w.batch_seq, w.received_at, &w.device_id, expected],
            ),
            None => Step::guard(
                "INSERT INTO cursors (device_id, cursor, last_batch_seq, last_seen_at, silent_alerted)
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING",
                vals![&w.device_id, &w.cursor, w.batch_seq, w.received_at],
            ),
        });
        steps.push(Step::guard(
            "INSERT INTO batches (device_id, batch_seq, digest, receipt, received_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            vec![
                Val::from(&w.device_id),
                Val::I(w.batch_seq),
                Val::B(w.digest),
                Val::B(w.receipt),
                Val::I(w.received_at),
            ],
        ));
        record_steps(&w.device_id, w.records, &mut steps);
        for (seq, json) in w.checkpoints {
            steps.push(Step::new(
                "INSERT INTO checkpoints (device_id, seq, checkpoint) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                vec![Val::from(&w.device_id), Val::I(seq), Val::T(json)],
            ));
        }
        for (id, bundle) in w.evidence {
            steps.push(Step::new(
                "INSERT INTO evidence (device_id, evidence_id, bundle, received_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                vec![Val::from(&w.device_id), Val::I(id), Val::T(bundle), Val::I(w.received_at)],
            ));
        }
        Ok(self.transaction(steps).await?.is_some())
    }

    /// Marks a device's current silence as alerted (cleared by its next accepted batch).
    pub async fn mark_silent_alerted(&self, device_id: &str) -> Result<(), Error> {
        self.execute(
            "UPDATE cursors SET silent_alerted = 1 WHERE device_id = $1",
            vals![device_id],
        )
        .await?;
        Ok(())
    }

    /// Records a silence alert for a device that never uploaded (so it is raised once).
    pub async fn mark_never_seen_alerted(
        &self,
        device_id: &str,
        cursor: &str,
        enrolled_at: i64,
    ) -> Result<(), Error> {
        self.execute(
            "INSERT INTO cursors (device_id, cursor, last_batch_seq, last_seen_at, silent_alerted)
             VALUES ($1, $2, 0, $3, 1) ON CONFLICT DO NOTHING",
            vals![device_id, cursor, enrolled_at],
        )
        .await?;
        Ok(())
    }

    /// A device's records from `from_seq` on, in order, at most `limit`.
    pub async fn records(
        &self,
        device_id: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, Error> {
        let rows = self
            .query(
                "SELECT seq, at, epoch, kind, body, hash, mac FROM records
                 WHERE device_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                vals![device_id, from_seq, limit],
            )
            .await?;
        rows.into_iter().map(|mut r| record_row(&mut r)).collect()
    }

    /// Records of every device made at or after `since_ms`, by device then sequence,
    /// after the position `(device, seq)` (exclusive), at most `limit`.
    pub async fn records_since(
        &self,
        since_ms: i64,
        after: Option<(&str, i64)>,
        limit: i64,
    ) -> Result<Vec<(String, RecordRow)>, Error> {
        let (device, seq) = after.unwrap_or(("", i64::MIN));
        let rows = self
            .query(
                "SELECT seq, at, epoch, kind, body, hash, mac, device_id FROM records
                 WHERE at >= $1 AND (device_id > $2 OR (device_id = $3 AND seq > $4))
                 ORDER BY device_id, seq LIMIT $5",
                vals![since_ms, device, device, seq, limit],
            )
            .await?;
        rows.into_iter()
            .map(|mut r| {
                let device = std::mem::replace(&mut r[7], Val::Null).text()?;
                Ok((device, record_row(&mut r)?))
            })
            .collect()
    }

    /// A device's stored checkpoints (JSON), by sequence.
    pub async fn checkpoints(&self, device_id: &str) -> Result<Vec<String>, Error> {
        let rows = self
            .query(
                "SELECT checkpoint FROM checkpoints WHERE device_id = $1 ORDER BY seq",
                vals![device_id],
            )
            .await?;
        rows.into_iter()
            .map(|mut r| std::mem::replace(&mut r[0], Val::Null).text())
            .collect()
    }

    /// A device's stored evidence bundles, by id.
    pub async fn evidence(&self, device_id: &str) -> Result<Vec<(i64, String)>, Error> {
        let rows = self
            .query(
                "SELECT evidence_id, bundle FROM evidence WHERE device_id = $1 ORDER BY evidence_id",
                vals![device_id],
            )
            .await?;
        rows.into_iter()
            .map(|r| {
                let [id, bundle]: [Val; 2] = r
                    .try_into()
                    .map_err(|_| Error::Store("bad evidence row".into()))?;
                Ok((id.int()?, bundle.text()?))
            })
            .collect()
    }

    /// Row counts of (records, checkpoints, evidence, batches): what tests and the load
    /// measurement compare.
    pub async fn counts(&self) -> Result<[i64; 4], Error> {
        let mut out = [0; 4];
        for (slot, sql) in [
            "SELECT COUNT(*) FROM records",
            "SELECT COUNT(*) FROM checkpoints",
            "SELECT COUNT(*) FROM evidence",
            "SELECT COUNT(*) FROM batches",
        ]
        .into_iter()
        .enumerate()
        {
            let rows = self.query(sql, vec![]).await?;
            out[slot] = rows
                .first()
                .and_then(|r| r.first())
                .ok_or_else(|| Error::Store("no count".into()))?
                .int()?;
        }
        Ok(out)
    }

    /// Plain `INSERT`s of records, one statement a row, one transaction per call, with no
    /// verification: the baseline the load measurement compares uploads with, through the
    /// same connection with the same settings.
    pub async fn insert_records_plain(
        &self,
        device_id: &str,
        records: &[RecordRow],
    ) -> Result<(), Error> {
        let steps = records
            .iter()
            .map(|r| {
                Step::new(
                    record_insert(1),
                    vals![device_id, r.seq, r.at, r.epoch, &r.kind, &r.body, &r.hash, &r.mac],
                )
            })
            .collect();
        self.transaction(steps).await.map(|_| ())
    }

    /// Closes the store (PostgreSQL: waits for the pool's connections to finish).
    pub async fn close(&self) {
        if let Backend::Postgres(pool) = &self.backend {
            pool.close().await;
        }
    }
}

impl Store {
    async fn query(&self, sql: &str, params: Vec<Val>) -> Result<Vec<Vec<Val>>, Error> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let sql = sql.to_owned();
                conn.run(move |conn| {
                    let mut stmt = conn.prepare_cached(&sql).map_err(lite)?;
                    let columns = stmt.column_count();
                    let mut rows = stmt
                        .query(rusqlite::params_from_iter(params.iter()))
                        .map_err(lite)?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next().map_err(lite)? {
                        let mut values = Vec::with_capacity(columns);
                        for i in 0..columns {
                            values.push(from_lite(row.get_ref(i).map_err(lite)?)?);
                        }
                        out.push(values);
                    }
                    Ok(out)
                })
                .await
            }
            Backend::Postgres(pool) => {
                let rows = bind_pg(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), params)
                    .fetch_all(pool)
                    .await
                    .map_err(pg)?;
                rows.iter().map(from_pg).collect()
            }
        }
    }

    async fn execute(&self, sql: &'static str, params: Vec<Val>) -> Result<u64, Error> {
        self.transaction(vec![Step::new(sql, params)])
            .await
            .map(|changed| changed.unwrap_or(0))
    }

    /// Runs the steps in one transaction. `Ok(None)` if a guard changed no row (then
    /// nothing was written); otherwise the rows the last step changed.
    async fn transaction(&self, steps: Vec<Step>) -> Result<Option<u64>, Error> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                conn.run(move |conn| {
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(lite)?;
                    let mut last = 0;
                    for step in &steps {
                        let changed = tx
                            .prepare_cached(&step.sql)
                            .and_then(|mut s| {
                                s.execute(rusqlite::params_from_iter(step.params.iter()))
                            })
                            .map_err(lite)?;
                        if step.must_change && changed == 0 {
                            return Ok(None); // dropping `tx` rolls back
                        }
                        last = changed as u64;
                    }
                    tx.commit().map_err(lite)?;
                    Ok(Some(last))
                })
                .await
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(pg)?;
                let mut last = 0;
                for step in steps {
                    let changed = bind_pg(sqlx::query(sqlx::AssertSqlSafe(step.sql)), step.params)
                        .execute(&mut *tx)
                        .await
                        .map_err(pg)?
                        .rows_affected();
                    if step.must_change && changed == 0 {
                        tx.rollback().await.map_err(pg)?;
                        return Ok(None);
                    }
                    last = changed;
                }
                tx.commit().await.map_err(pg)?;
                Ok(Some(last))
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| Error::Store("a store call panicked".into()))?
}

fn from_lite(v: rusqlite::types::ValueRef<'_>) -> Result<Val, Error> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::I(i),
        ValueRef::Text(t) => Val::T(
            std::str::from_utf8(t)
                .map_err(|_| Error::Store("a text column is not UTF-8".into()))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Val::B(b.to_vec()),
        ValueRef::Real(_) => return Err(Error::Store("unexpected REAL column".into())),
    })
}

fn bind_pg<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    params: Vec<Val>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for v in params {
        q = match v {
            Val::I(i) => q.bind(i),
            Val::T(t) => q.bind(t),
            Val::B(b) => q.bind(b),
            Val::Null => q.bind(Option::<i64>::None),
        };
    }
    q
}

fn from_pg(row: &PgRow) -> Result<Vec<Val>, Error> {
    let mut out = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match column.type_info().name() {
            "INT8" => row.try_get::<Option<i64>, _>(i).map_err(pg)?.map(Val::I),
            "INT4" => row
                .try_get::<Option<i32>, _>(i)
                .map_err(pg)?
                .map(|v| Val::I(v.into())),
            "TEXT" | "VARCHAR" => row.try_get::<Option<String>, _>(i).map_err(pg)?.map(Val::T),
            "BYTEA" => row
                .try_get::<Option<Vec<u8>>, _>(i)
                .map_err(pg)?
                .map(Val::B),
            other => {
                return Err(Error::Store(format!(
                    "unexpected column type {other} from PostgreSQL"
                )))
            }
        };
        out.push(value.unwrap_or(Val::Null));
    }
    Ok(out)
}

fn lite(e: rusqlite::Error) -> Error {
    Error::Store(e.to_string())
}

fn pg(e: sqlx::Error) -> Error {
    Error::Store(redact(&e))
}

/// A database error as text without connection strings (which may hold a password).
fn redact(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(_) => "the store URL is invalid".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_name_their_database() {
        assert_eq!(
            parse_store_url("sqlite:/tmp/c.db").unwrap(),
            (Dialect::Sqlite, "/tmp/c.db".to_owned())
        );
        assert_eq!(
            parse_store_url("postgres:postgres://u@127.0.0.1:5/db")
                .unwrap()
                .0,
            Dialect::Postgres
        );
        assert_eq!(
            parse_store_url("postgresql://u@h/db").unwrap().0,
            Dialect::Postgres
        );
        assert!(parse_store_url("mysql://x").is_err());
        assert!(parse_store_url("sqlite:").is_err());
    }

    #[tokio::test]
    async fn a_batch_of_many_records_is_written_in_chunks_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        let records: Vec<RecordRow> = (1..=70)
            .map(|seq| RecordRow {
                seq,
                at: 1_000 + seq,
                epoch: 0,
                kind: "alert".into(),
                body: format!("{{\"n\":{seq}}}"),
                hash: vec![seq as u8; 32],
                mac: vec![1; 16],
            })
            .collect();
        let write = BatchWrite {
            device_id: "d".into(),
            batch_seq: 1,
            digest: vec![0; 32],
            receipt: vec![1],
            cursor: "{}".into(),
            records: records.clone(),
            checkpoints: vec![(70, "{}".into())],
            evidence: Vec::new(),
            received_at: 5,
        };
        assert!(store.write_batch(write.clone(), None).await.unwrap());
        assert_eq!(store.counts().await.unwrap(), [70, 1, 0, 1]);
        assert_eq!(store.records("d", 1, 100).await.unwrap(), records);
        // The same write again: the cursor guard refuses it and nothing changes.
        assert!(!store.write_batch(write, None).await.unwrap());
        assert_eq!(store.counts().await.unwrap(), [70, 1, 0, 1]);
    }

    #[tokio::test]
    async fn migrations_apply_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let arg = format!("sqlite:{}", dir.path().join("c.db").display());
        let store = Store::open(&arg).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            MIGRATIONS.len() as i64
        );
        store.close().await;
        let store = Store::open(&arg).await.unwrap();
        assert_eq!(
            store.schema_version().await.unwrap(),
            MIGRATIONS.len() as i64
        );
        assert_eq!(store.counts().await.unwrap(), [0; 4]);
    }
}
