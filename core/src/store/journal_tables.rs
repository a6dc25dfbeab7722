//! The journal's tables: appending chained, MACed records, enrollment, checkpoints
//! with the evolving key, reading records and pruning.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    Enrollment, Store, META_ANCHOR, META_ENROLLED_AT, META_KEY_CHECK, META_KEY_EXPORT,
    META_PUBLIC_KEY, PRUNED_KIND,
};
use crate::error::{Error, Result, StorageContext};
use crate::identity::hex;
use crate::journal::{
    unhex32, Anchor, EpochKey, RecordHasher, RecordRef, SignedCheckpoint, StoredRecord, MAC_LEN,
};
use crate::time::Timestamp;

impl Store {
    /// Sets the MAC key new records are authenticated with.
    pub(crate) fn set_journal_key(&mut self, key: EpochKey) {
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
    pub(crate) fn enroll(&mut self, setup: Enrollment) -> Result<()> {
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
    pub(crate) fn forget_key_export(&mut self) -> Result<bool> {
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
    pub(crate) fn record_checkpoint(
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
    /// Drops records up to the newest checkpoint made before `before`, keeping the chain
    /// verifiable from that checkpoint and never dropping an unacknowledged alert nor a
    /// record after `through` (the last record the collector acknowledged, when the
    /// journal is shipped; `i64::MAX` otherwise). Returns how many records were removed.
    pub(crate) fn prune_through(&mut self, before: Timestamp, through: i64) -> Result<u64> {
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
}

/// Appends chained, MACed records inside a transaction.
pub(super) struct Appender<'c> {
    stmt: rusqlite::CachedStatement<'c>,
    mac: ring::hmac::Key,
    epoch: i64,
    at: i64,
    seq: i64,
    prev: [u8; 32],
    hasher: RecordHasher,
}

impl<'c> Appender<'c> {
    pub(super) fn start(conn: &'c Connection, key: Option<&EpochKey>, at: i64) -> Result<Self> {
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

    pub(super) fn append(&mut self, kind: &str, body: &str) -> Result<i64> {
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
