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
    /// The same, already encoded as it came (telemetry ingest builds it value by value);
    /// appended after `logged`, in the same record.
    pub record: NetworkLogRecord,
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
/// Built entry by entry, so a batch's values are never each held as a string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkLogRecord {
    body: Vec<u8>,
    entries: usize,
    newest: Option<i64>,
    /// A value did not fit its 2-byte length: the commit is refused.
    too_long: bool,
}

impl NetworkLogRecord {
    /// Appends an entry whose value `write` appends to the buffer it is given; returns
    /// the entry's position, for [`NetworkLogRecord::raise`].
    pub fn push_with(
        &mut self,
        kind: NetworkValue,
        at: Timestamp,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> usize {
        let position = self.body.len();
        self.body.push(kind.code() as u8);
        self.body
            .extend_from_slice(&at.as_unix_millis().to_le_bytes());
        self.body.extend_from_slice(&[0, 0]);
        write(&mut self.body);
        let len = self.body.len() - position - 11;
        match u16::try_from(len) {
            Ok(len) => self.body[position + 9..position + 11].copy_from_slice(&len.to_le_bytes()),
            Err(_) => self.too_long = true,
        }
        self.entries += 1;
        self.newest = Some(
            self.newest
                .map_or(at.as_unix_millis(), |n| n.max(at.as_unix_millis())),
        );
        position
    }

    /// Appends an entry; returns its position, for [`NetworkLogRecord::raise`].
    pub fn push(&mut self, kind: NetworkValue, value: &str, at: Timestamp) -> usize {
        self.push_with(kind, at, |body| body.extend_from_slice(value.as_bytes()))
    }

    /// Moves the time of the entry at `position` (from a push) to `at` if that is later.
    pub fn raise(&mut self, position: usize, at: Timestamp) {
        let field = &mut self.body[position + 1..position + 9];
        let stored = i64::from_le_bytes(field.try_into().expect("eight bytes"));
        let at = at.as_unix_millis().max(stored);
        field.copy_from_slice(&at.to_le_bytes());
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
    }

    /// How many entries the record holds.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True when the record holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn push_record(&mut self, other: &NetworkLogRecord) {
        self.body.extend_from_slice(&other.body);
        self.entries += other.entries;
        self.newest = self.newest.max(other.newest);
        self.too_long |= other.too_long;
    }

    /// The entries, in the order pushed.
    pub fn entries(&self) -> Result<Vec<(NetworkValue, String, Timestamp)>> {
        let mut out = Vec::with_capacity(self.entries);
        decode_network_log(&self.body, &mut out)?;
        Ok(out)
    }
}

/// Decodes one network-log record into `out`.
fn decode_network_log(
    mut body: &[u8],
    out: &mut Vec<(NetworkValue, String, Timestamp)>,
) -> Result<()> {
    let corrupt = || Error::Corrupt("a network log record is unreadable".into());
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
    Ok(())
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
        let body: &[u8] = match row.get_ref(0).context("reading the network log")? {
            ValueRef::Blob(b) => b,
            _ => return Err(corrupt()),
        };
        decode_network_log(body, &mut out)?;
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
    if !network.logged.is_empty() || !network.record.is_empty() {
        let mut joined;
        let record = if network.logged.is_empty() {
            &network.record
        } else {
            joined = NetworkLogRecord::default();
            for (kind, value, at) in &network.logged {
                joined.push(*kind, value, *at);
            }
            joined.push_record(&network.record);
            &joined
        };
        if record.too_long {
            return Err(Error::invalid(
                "network value",
                "is longer than a network log entry holds",
            ));
        }
        tx.prepare_cached("INSERT INTO network_log(entries, newest, body) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| {
                stmt.execute(params![
                    record.entries as i64,
                    record.newest.unwrap_or(i64::MIN),
                    record.body
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

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_777_593_600_000);

    #[test]
    fn a_record_built_entry_by_entry_is_stored_with_the_listed_entries_and_its_raised_times() {
        let mut store = Store::open_in_memory().unwrap();
        store.set_journal_key(crate::journal::EpochKey::initial([9; 32]));
        let mut record = NetworkLogRecord::default();
        let host = record.push(NetworkValue::Host, "a.example", T0);
        record.push_with(NetworkValue::Address, T0, |out| {
            out.extend_from_slice(b"192.0.2.7");
        });
        record.raise(host, T0.plus_millis(5));
        record.raise(host, T0.plus_millis(2));
        assert_eq!(record.len(), 2);
        assert_eq!(
            record.entries().unwrap(),
            [
                (NetworkValue::Host, "a.example".into(), T0.plus_millis(5)),
                (NetworkValue::Address, "192.0.2.7".into(), T0),
            ]
        );
        store
            .commit_with_network(
                crate::store::Commit::default(),
                NetworkWindowWrite {
                    logged: vec![(NetworkValue::Host, "b.example".into(), T0)],
                    record,
                    ..NetworkWindowWrite::default()
                },
            )
            .unwrap();
        assert_eq!(
            store.network_log_entries().unwrap(),
            3,
            "one record of three"
        );
        let newest: i64 = store
            .conn
            .query_row("SELECT newest FROM network_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(newest, T0.plus_millis(5).as_unix_millis());
        let mut window = store.network_window(T0).unwrap();
        window.sort();
        assert_eq!(
            window,
            [
                (NetworkValue::Host, "a.example".into(), T0.plus_millis(5)),
                (NetworkValue::Host, "b.example".into(), T0),
                (NetworkValue::Address, "192.0.2.7".into(), T0),
            ]
        );
    }

    #[test]
    fn a_value_too_long_for_its_entry_is_refused_and_nothing_is_stored() {
        let mut store = Store::open_in_memory().unwrap();
        store.set_journal_key(crate::journal::EpochKey::initial([9; 32]));
        let mut record = NetworkLogRecord::default();
        record.push(NetworkValue::Host, &"a".repeat(70_000), T0);
        let err = store
            .commit_with_network(
                crate::store::Commit::default(),
                NetworkWindowWrite {
                    record,
                    ..NetworkWindowWrite::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("network value"), "{err}");
        assert_eq!(store.network_log_entries().unwrap(), 0);
    }
}
