//! The network window of device telemetry: the `network_seen` table and the
//! `network_log` records, written in a step's transaction.

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};

use super::Store;
use crate::error::{Error, Result, StorageContext};
use crate::time::Timestamp;

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

impl Store {
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
}

/// Writes a step's network-window rows inside its transaction.
pub(super) fn write(tx: &Connection, network: &NetworkWindowWrite) -> Result<()> {
    if network.compact {
        let mut newest: std::collections::BTreeMap<(NetworkValue, String), Timestamp> =
            std::collections::BTreeMap::new();
        for (kind, value, at) in network_log(tx)? {
            if network.prune_before.is_some_and(|before| at < before) {
                continue;
            }
            let slot = newest.entry((kind, value)).or_insert(at);
            *slot = (*slot).max(at);
        }
        let folded: Vec<_> = newest.into_iter().map(|((k, v), at)| (k, v, at)).collect();
        upsert_network(tx, &folded, 0)?;
        tx.execute("DELETE FROM network_log", [])
            .context("emptying the network log")?;
    }
    if !network.seen.is_empty() {
        upsert_network(tx, &network.seen, NETWORK_SEEN_RESOLUTION_MS)?;
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
    Ok(())
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
