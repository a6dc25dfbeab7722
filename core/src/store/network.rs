//! The network window of device telemetry, written in a step's transaction: the
//! `network_part` rows (the window split by value into [`NETWORK_PARTS`] parts, each
//! rewritten whole) and the `network_log` records (what each step saw since).

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};

use super::Store;
use crate::error::{Error, Result, StorageContext};
use crate::time::Timestamp;

/// What a telemetry step writes to the network window, in the step's transaction.
///
/// The window is the `network_part` rows plus the `network_log` records (and, in a
/// database written before parts existed, the `network_seen` rows until every part has
/// been written once); [`Store::network_window`] reads them all, newest time per value.
/// A step appends what it saw to the log and rewrites some parts whole from the caller's
/// copy of the window; a log record goes once every part has been written after it.
#[derive(Debug, Default)]
pub struct NetworkWindowWrite {
    /// Hosts and addresses appended to the log as one record, as given: the caller
    /// already left out what the window covers.
    pub logged: Vec<(NetworkValue, String, Timestamp)>,
    /// The same, already encoded as it came (telemetry ingest builds it value by value);
    /// appended after `logged`, in the same record.
    pub record: NetworkLogRecord,
    /// Parts rewritten whole (number below [`NETWORK_PARTS`], content): each then covers
    /// every log record up to this step's.
    pub parts: Vec<(u32, NetworkLogRecord)>,
    /// Forget every log record (and pre-part row) last seen before this. Values in parts
    /// are dropped by the caller when it rewrites their part; reads skip them meanwhile.
    pub prune_before: Option<Timestamp>,
}

/// How many parts the window is split into. A step rewrites at least one, so the log
/// holds at most this many steps' records, and each step writes about this fraction of
/// the window.
pub const NETWORK_PARTS: u32 = 32;

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

impl Store {
    /// The network window's values last seen at or after `since` (parts, log and any
    /// pre-part rows; the newest time per value), oldest first.
    pub fn network_window(
        &self,
        since: Timestamp,
    ) -> Result<Vec<(NetworkValue, String, Timestamp)>> {
        let mut newest = rustc_hash::FxHashMap::default();
        let mut keep = |(kind, value, at): (NetworkValue, String, Timestamp)| {
            let slot = newest.entry((kind, value)).or_insert(at);
            *slot = (*slot).max(at);
        };
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
        for row in rows {
            let (kind, value, at) = row.context("reading the network window")?;
            keep((
                NetworkValue::from_code(kind)?,
                value,
                Timestamp::from_unix_millis(at),
            ));
        }
        for sql in [
            "SELECT body FROM network_part ORDER BY part",
            "SELECT body FROM network_log ORDER BY seq",
        ] {
            bodies(&self.conn, sql)?.into_iter().for_each(&mut keep);
        }
        let mut out: Vec<_> = newest
            .into_iter()
            .filter(|(_, at)| *at >= since)
            .map(|((kind, value), at)| (kind, value, at))
            .collect();
        out.sort_unstable_by(|a, b| (a.2, a.0, &a.1).cmp(&(b.2, b.0, &b.1)));
        Ok(out)
    }

    /// When each part of the network window was last written (`None`: never), by number.
    pub fn network_parts_written(&self) -> Result<Vec<Option<Timestamp>>> {
        let mut out = vec![None; NETWORK_PARTS as usize];
        let mut stmt = self
            .conn
            .prepare_cached("SELECT part, written_at FROM network_part")
            .context("reading the network window")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
            .context("reading the network window")?;
        for row in rows {
            let (part, at) = row.context("reading the network window")?;
            let slot = usize::try_from(part)
                .ok()
                .and_then(|p| out.get_mut(p))
                .ok_or_else(|| {
                    Error::Corrupt("a network window part has no valid number".into())
                })?;
            *slot = Some(Timestamp::from_unix_millis(at));
        }
        Ok(out)
    }

    /// How many entries the network log holds (those no part covers yet).
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

/// Every entry of the records `sql` selects (one blob column), in the order selected.
fn bodies(conn: &Connection, sql: &str) -> Result<Vec<(NetworkValue, String, Timestamp)>> {
    let corrupt = || Error::Corrupt("a network log record is unreadable".into());
    let mut stmt = conn
        .prepare_cached(sql)
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

/// Writes a step's network-window rows inside its transaction (`at`: the step's time).
pub(super) fn write(tx: &Connection, network: &NetworkWindowWrite, at: i64) -> Result<()> {
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
        insert_checked(
            tx,
            record,
            "INSERT INTO network_log(entries, newest, body) VALUES (?1, ?2, ?3)",
            params![
                record.entries as i64,
                record.newest.unwrap_or(i64::MIN),
                record.body
            ],
        )?;
    }
    if !network.parts.is_empty() {
        for (part, content) in &network.parts {
            if *part >= NETWORK_PARTS {
                return Err(Error::invalid(
                    "network window part",
                    "is beyond the number of parts",
                ));
            }
            insert_checked(
                tx,
                content,
                "INSERT OR REPLACE INTO network_part(part, covers, written_at, body)
                 VALUES (?1, (SELECT coalesce(max(seq), 0) FROM network_log), ?2, ?3)",
                params![part, at, content.body],
            )?;
        }
        // Once every part is written, what they all cover (and the rows of the table the
        // parts replaced) goes.
        tx.prepare_cached(
            "DELETE FROM network_log WHERE seq <= (SELECT CASE WHEN count(*) = ?1
             THEN min(covers) ELSE 0 END FROM network_part)",
        )
        .and_then(|mut stmt| stmt.execute([NETWORK_PARTS]))
        .context("pruning the network log")?;
        tx.prepare_cached(
            "DELETE FROM network_seen WHERE (SELECT count(*) FROM network_part) = ?1",
        )
        .and_then(|mut stmt| stmt.execute([NETWORK_PARTS]))
        .context("pruning the network window")?;
    }
    if let Some(before) = network.prune_before {
        let before = before.as_unix_millis();
        // A log record goes once everything in it has left the window.
        tx.prepare_cached("DELETE FROM network_log WHERE newest < ?1")
            .and_then(|mut stmt| stmt.execute([before]))
            .context("pruning the network log")?;
        tx.prepare_cached("DELETE FROM network_seen WHERE last_seen < ?1")
            .and_then(|mut stmt| stmt.execute([before]))
            .context("pruning the network window")?;
    }
    Ok(())
}

/// Runs an insert of `record`, refused if one of its values did not fit its entry.
fn insert_checked(
    tx: &Connection,
    record: &NetworkLogRecord,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<()> {
    if record.too_long {
        return Err(Error::invalid(
            "network value",
            "is longer than a network log entry holds",
        ));
    }
    tx.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .context("saving network events")?;
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

    fn host(value: &str, at: Timestamp) -> (NetworkValue, String, Timestamp) {
        (NetworkValue::Host, value.to_owned(), at)
    }

    fn part(entries: &[(NetworkValue, String, Timestamp)]) -> NetworkLogRecord {
        let mut record = NetworkLogRecord::default();
        for (kind, value, at) in entries {
            record.push(*kind, value, *at);
        }
        record
    }

    fn step(store: &mut Store, at: Timestamp, network: NetworkWindowWrite) {
        store
            .commit_with_network(
                crate::store::Commit {
                    at: Some(at),
                    ..crate::store::Commit::default()
                },
                network,
            )
            .unwrap();
    }

    #[test]
    fn a_log_record_goes_once_every_part_is_written_after_it_and_numbers_are_not_reused() {
        let mut store = Store::open_in_memory().unwrap();
        store.set_journal_key(crate::journal::EpochKey::initial([9; 32]));
        let t1 = T0.plus_millis(1_000);
        step(
            &mut store,
            T0,
            NetworkWindowWrite {
                logged: vec![host("a.example", T0)],
                ..NetworkWindowWrite::default()
            },
        );
        // Every part but the last written: the log stays.
        let all: Vec<(u32, NetworkLogRecord)> = (0..NETWORK_PARTS)
            .map(|p| (p, part(&[host(&format!("p{p}.example"), T0)])))
            .collect();
        let mut first = all;
        let last = first.pop().unwrap();
        step(
            &mut store,
            T0,
            NetworkWindowWrite {
                parts: first,
                ..NetworkWindowWrite::default()
            },
        );
        assert_eq!(store.network_log_entries().unwrap(), 1);
        assert_eq!(
            store.network_parts_written().unwrap()[..2],
            [Some(T0), Some(T0)]
        );
        assert_eq!(store.network_parts_written().unwrap()[31], None);
        step(
            &mut store,
            t1,
            NetworkWindowWrite {
                parts: vec![last],
                ..NetworkWindowWrite::default()
            },
        );
        assert_eq!(store.network_log_entries().unwrap(), 0, "covered by all");
        // A record written after the parts is not covered, though the log was emptied.
        step(
            &mut store,
            t1,
            NetworkWindowWrite {
                logged: vec![host("b.example", t1)],
                parts: vec![(0, part(&[host("p0.example", t1)]))],
                ..NetworkWindowWrite::default()
            },
        );
        step(
            &mut store,
            t1,
            NetworkWindowWrite {
                parts: vec![(1, part(&[]))],
                ..NetworkWindowWrite::default()
            },
        );
        assert_eq!(store.network_log_entries().unwrap(), 1);
        let window = store.network_window(t1).unwrap();
        assert_eq!(window, [host("b.example", t1), host("p0.example", t1)]);
        let all = store.network_window(T0).unwrap();
        assert_eq!(
            all.len(),
            2 + 30,
            "part 1 is empty now, a is covered and gone"
        );
        assert!(!all.iter().any(|(_, v, _)| v == "a.example"));
    }

    #[test]
    fn a_part_beyond_the_count_or_a_value_too_long_is_refused_and_nothing_is_stored() {
        let mut store = Store::open_in_memory().unwrap();
        store.set_journal_key(crate::journal::EpochKey::initial([9; 32]));
        let err = store
            .commit_with_network(
                crate::store::Commit::default(),
                NetworkWindowWrite {
                    logged: vec![host("a.example", T0)],
                    parts: vec![(NETWORK_PARTS, part(&[host("b.example", T0)]))],
                    ..NetworkWindowWrite::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("network window part"), "{err}");
        let err = store
            .commit_with_network(
                crate::store::Commit::default(),
                NetworkWindowWrite {
                    parts: vec![(0, part(&[host(&"a".repeat(70_000), T0)]))],
                    ..NetworkWindowWrite::default()
                },
            )
            .unwrap_err();
        assert!(err.to_string().contains("network value"), "{err}");
        assert!(store.network_window(T0).unwrap().is_empty());
        assert_eq!(store.network_parts_written().unwrap()[0], None);
    }

    #[test]
    fn a_database_from_before_parts_keeps_its_window_until_every_part_holds_it() {
        use crate::store::schema::MIGRATIONS;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.db");
        {
            let conn = Connection::open(&path).unwrap();
            for sql in &MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO network_seen(kind, value, last_seen) VALUES (0, 'old.example', ?1), (0, 'gone.example', ?2)",
                params![T0.as_unix_millis(), T0.as_unix_millis() - 10],
            )
            .unwrap();
            let record = part(&[host("logged.example", T0)]);
            conn.execute(
                "INSERT INTO network_log(seq, entries, newest, body) VALUES (7, 1, ?1, ?2)",
                params![T0.as_unix_millis(), record.body],
            )
            .unwrap();
        }
        let mut store = Store::open(&path).unwrap();
        store.set_journal_key(crate::journal::EpochKey::initial([9; 32]));
        assert_eq!(
            store.network_window(T0).unwrap(),
            [host("logged.example", T0), host("old.example", T0)]
        );
        step(
            &mut store,
            T0,
            NetworkWindowWrite {
                logged: vec![host("new.example", T0)],
                ..NetworkWindowWrite::default()
            },
        );
        let seq: i64 = store
            .conn
            .query_row("SELECT max(seq) FROM network_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seq, 8, "numbering goes on from the old log");
        // The caller's copy (all four values but the expired one) written as parts.
        let window = store.network_window(T0).unwrap();
        let parts = (0..NETWORK_PARTS)
            .map(|p| {
                let mine: Vec<_> = window
                    .iter()
                    .filter(|(_, v, _)| v.len() as u32 % NETWORK_PARTS == p)
                    .cloned()
                    .collect();
                (p, part(&mine))
            })
            .collect();
        step(
            &mut store,
            T0,
            NetworkWindowWrite {
                parts,
                ..NetworkWindowWrite::default()
            },
        );
        assert_eq!(store.network_log_entries().unwrap(), 0);
        let legacy: i64 = store
            .conn
            .query_row("SELECT count(*) FROM network_seen", [], |r| r.get(0))
            .unwrap();
        assert_eq!(legacy, 0, "the old table is emptied");
        assert_eq!(store.network_window(Timestamp::EPOCH).unwrap(), window);
    }
}
