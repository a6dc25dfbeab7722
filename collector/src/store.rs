//! The collector's store: SQLite (embedded default) or PostgreSQL, through one code path.
//!
//! Both go through sqlx's `Any` driver (docs/decisions/0010-collector-store-sqlx.md): every
//! query below is written once, with `$N` placeholders, which both databases accept, and
//! types both map the same way (`BIGINT`, `TEXT`, and a byte type named per dialect).
//! Migrations are numbered steps recorded in `collector_migrations`, each applied in its
//! own transaction, so a failed step leaves the store at the previous version.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

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
    pool: AnyPool,
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
        return Ok((Dialect::Sqlite, format!("sqlite://{path}?mode=rwc")));
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

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates to the current schema.
    pub async fn open(arg: &str) -> Result<Store, Error> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = parse_store_url(arg)?;
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match dialect {
            // One writer at a time is all SQLite allows; a single connection avoids
            // `database is locked` under concurrent uploads.
            Dialect::Sqlite => options.max_connections(1),
            Dialect::Postgres => options.max_connections(8),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| Error::Store(format!("cannot open the store: {}", redact(&e))))?;
        let store = Store { pool, dialect };
        if dialect == Dialect::Sqlite {
            for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"] {
                sqlx::query(pragma).execute(&store.pool).await.map_err(db)?;
            }
        }
        store.migrate().await?;
        Ok(store)
    }

    /// The database behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The schema version (number of migration steps applied).
    pub async fn schema_version(&self) -> Result<i64, Error> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM collector_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        row.try_get::<i64, _>(0).map_err(db)
    }

    async fn migrate(&self) -> Result<(), Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS collector_migrations (
                version BIGINT PRIMARY KEY,
                applied_at BIGINT NOT NULL
            )",
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        let current = self.schema_version().await?;
        if current > MIGRATIONS.len() as i64 {
            return Err(Error::Store(format!(
                "the store is at schema version {current}, newer than this collector knows ({}); upgrade the collector",
                MIGRATIONS.len()
            )));
        }
        for (index, steps) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = index as i64 + 1;
            let mut tx = self.pool.begin().await.map_err(db)?;
            for step in *steps {
                let sql = step.replace("{bytes}", self.dialect.bytes_type());
                // The only dynamic part is the dialect's type name, from the constant above.
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.map_err(|e| {
                    Error::Store(format!("migration {version} failed: {}", redact(&e)))
                })?;
            }
            sqlx::query("INSERT INTO collector_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(crate::now_millis())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }

    /// Adds an enrollment; refuses a device id already enrolled (re-enrolling is a
    /// deliberate act: remove the device first).
    pub async fn insert_device(&self, row: &DeviceRow, enrolled_at: i64) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let exists = sqlx::query("SELECT 1 FROM devices WHERE device_id = $1")
            .bind(&row.device_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_some() {
            return Err(Error::Usage(format!(
                "device {} is already enrolled",
                crate::label(&row.device_id)
            )));
        }
        sqlx::query(
            "INSERT INTO devices (device_id, enrollment, signature, journal_key_sealed, enrolled_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.device_id)
        .bind(&row.enrollment)
        .bind(&row.signature)
        .bind(&row.journal_key_sealed)
        .bind(enrolled_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    /// One enrolled device, if any.
    pub async fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, Error> {
        let row = sqlx::query(
            "SELECT device_id, enrollment, signature, journal_key_sealed FROM devices WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| device_row(&r)).transpose()
    }

    /// Every enrolled device, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>, Error> {
        let rows = sqlx::query(
            "SELECT device_id, enrollment, signature, journal_key_sealed FROM devices ORDER BY device_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(device_row).collect()
    }

    /// A device's cursor, if it ever uploaded.
    pub async fn cursor(&self, device_id: &str) -> Result<Option<CursorRow>, Error> {
        let row = sqlx::query(
            "SELECT cursor, last_batch_seq, last_seen_at, silent_alerted FROM cursors WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(|r| {
            Ok(CursorRow {
                cursor: r.try_get(0).map_err(db)?,
                last_batch_seq: r.try_get(1).map_err(db)?,
                last_seen_at: r.try_get(2).map_err(db)?,
                silent_alerted: r.try_get::<i64, _>(3).map_err(db)? != 0,
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
        let row =
            sqlx::query("SELECT digest, receipt FROM batches WHERE device_id = $1 AND batch_seq = $2")
                .bind(device_id)
                .bind(batch_seq)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.try_get(0).map_err(db)?;
        if stored == digest {
            Ok(Some(Ok(row.try_get(1).map_err(db)?)))
        } else {
            Ok(Some(Err(())))
        }
    }

    /// Stores an accepted batch in one transaction. Rows already present are kept as
    /// they are (`ON CONFLICT DO NOTHING`), so a retried write stores nothing twice.
    /// `expected_batch_seq` is the cursor's batch sequence the batch was verified
    /// against: if another writer moved it meanwhile, nothing is written.
    pub async fn write_batch(
        &self,
        w: &BatchWrite,
        expected_batch_seq: Option<i64>,
    ) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let current = sqlx::query("SELECT last_batch_seq FROM cursors WHERE device_id = $1")
            .bind(&w.device_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()
            .map_err(db)?;
        if current != expected_batch_seq {
            return Ok(false);
        }
        for r in &w.records {
            sqlx::query(
                "INSERT INTO records (device_id, seq, at, epoch, kind, body, hash, mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(&w.device_id)
            .bind(r.seq)
            .bind(r.at)
            .bind(r.epoch)
            .bind(&r.kind)
            .bind(&r.body)
            .bind(&r.hash)
            .bind(&r.mac)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for (seq, json) in &w.checkpoints {
            sqlx::query(
                "INSERT INTO checkpoints (device_id, seq, checkpoint) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&w.device_id)
            .bind(*seq)
            .bind(json)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for (id, bundle) in &w.evidence {
            sqlx::query(
                "INSERT INTO evidence (device_id, evidence_id, bundle, received_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(&w.device_id)
            .bind(*id)
            .bind(bundle)
            .bind(w.received_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        sqlx::query(
            "INSERT INTO batches (device_id, batch_seq, digest, receipt, received_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&w.device_id)
        .bind(w.batch_seq)
        .bind(&w.digest)
        .bind(&w.receipt)
        .bind(w.received_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let updated = if current.is_some() {
            sqlx::query(
                "UPDATE cursors SET cursor = $1, last_batch_seq = $2, last_seen_at = $3, silent_alerted = 0
                 WHERE device_id = $4",
            )
            .bind(&w.cursor)
            .bind(w.batch_seq)
            .bind(w.received_at)
            .bind(&w.device_id)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "INSERT INTO cursors (device_id, cursor, last_batch_seq, last_seen_at, silent_alerted)
                 VALUES ($1, $2, $3, $4, 0)",
            )
            .bind(&w.device_id)
            .bind(&w.cursor)
            .bind(w.batch_seq)
            .bind(w.received_at)
            .execute(&mut *tx)
            .await
        };
        updated.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    /// Marks a device's current silence as alerted (cleared by its next accepted batch).
    pub async fn mark_silent_alerted(&self, device_id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE cursors SET silent_alerted = 1 WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Records a silence alert for a device that never uploaded (so it is raised once).
    pub async fn mark_never_seen_alerted(
        &self,
        device_id: &str,
        cursor: &str,
        enrolled_at: i64,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO cursors (device_id, cursor, last_batch_seq, last_seen_at, silent_alerted)
             VALUES ($1, $2, 0, $3, 1) ON CONFLICT DO NOTHING",
        )
        .bind(device_id)
        .bind(cursor)
        .bind(enrolled_at)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// When a device was enrolled (ms), if it is.
    pub async fn enrolled_at(&self, device_id: &str) -> Result<Option<i64>, Error> {
        let row = sqlx::query("SELECT enrolled_at FROM devices WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|r| r.try_get::<i64, _>(0).map_err(db)).transpose()
    }

    /// A device's records from `from_seq` on, in order, at most `limit`.
    pub async fn records(
        &self,
        device_id: &str,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, Error> {
        let rows = sqlx::query(
            "SELECT seq, at, epoch, kind, body, hash, mac FROM records
             WHERE device_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
        )
        .bind(device_id)
        .bind(from_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(record_row).collect()
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
        let rows = sqlx::query(
            "SELECT seq, at, epoch, kind, body, hash, mac, device_id FROM records
             WHERE at >= $1 AND (device_id > $2 OR (device_id = $3 AND seq > $4))
             ORDER BY device_id, seq LIMIT $5",
        )
        .bind(since_ms)
        .bind(device)
        .bind(device)
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(7).map_err(db)?, record_row(r)?)))
            .collect()
    }

    /// A device's stored checkpoints (JSON), by sequence.
    pub async fn checkpoints(&self, device_id: &str) -> Result<Vec<String>, Error> {
        let rows =
            sqlx::query("SELECT checkpoint FROM checkpoints WHERE device_id = $1 ORDER BY seq")
                .bind(device_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(db))
            .collect()
    }

    /// A device's stored evidence bundles, by id.
    pub async fn evidence(&self, device_id: &str) -> Result<Vec<(i64, String)>, Error> {
        let rows = sqlx::query(
            "SELECT evidence_id, bundle FROM evidence WHERE device_id = $1 ORDER BY evidence_id",
        )
        .bind(device_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
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
            let row = sqlx::query(sql)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
            out[slot] = row.try_get::<i64, _>(0).map_err(db)?;
        }
        Ok(out)
    }

    /// Plain `INSERT`s of records, one transaction per call, with no verification: the
    /// baseline the load measurement compares uploads with.
    pub async fn insert_records_plain(
        &self,
        device_id: &str,
        records: &[RecordRow],
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for r in records {
            sqlx::query(
                "INSERT INTO records (device_id, seq, at, epoch, kind, body, hash, mac)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(device_id)
            .bind(r.seq)
            .bind(r.at)
            .bind(r.epoch)
            .bind(&r.kind)
            .bind(&r.body)
            .bind(&r.hash)
            .bind(&r.mac)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn device_row(r: &AnyRow) -> Result<DeviceRow, Error> {
    Ok(DeviceRow {
        device_id: r.try_get(0).map_err(db)?,
        enrollment: r.try_get(1).map_err(db)?,
        signature: r.try_get(2).map_err(db)?,
        journal_key_sealed: r.try_get(3).map_err(db)?,
    })
}

fn record_row(r: &AnyRow) -> Result<RecordRow, Error> {
    Ok(RecordRow {
        seq: r.try_get(0).map_err(db)?,
        at: r.try_get(1).map_err(db)?,
        epoch: r.try_get(2).map_err(db)?,
        kind: r.try_get(3).map_err(db)?,
        body: r.try_get(4).map_err(db)?,
        hash: r.try_get(5).map_err(db)?,
        mac: r.try_get(6).map_err(db)?,
    })
}

fn db(e: sqlx::Error) -> Error {
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
            (Dialect::Sqlite, "sqlite:///tmp/c.db?mode=rwc".to_owned())
        );
        assert_eq!(
            parse_store_url("postgres:postgres://u@127.0.0.1:5/db").unwrap().0,
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
    async fn migrations_apply_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let arg = format!("sqlite:{}", dir.path().join("c.db").display());
        let store = Store::open(&arg).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
        store.close().await;
        let store = Store::open(&arg).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), MIGRATIONS.len() as i64);
        assert_eq!(store.counts().await.unwrap(), [0; 4]);
    }
}
