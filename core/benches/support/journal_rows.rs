//! The rows both journal measurements append (`benches/journal.rs`,
//! `examples/journal_ratio.rs`): alert-sized records, and the same rows as plain rusqlite
//! inserts into a table with the journal's file settings.

use portcullis_core::store::JournalEntry;
use rusqlite::{params, Connection};

/// `n` alert-sized records with 201-byte JSON bodies. Their kind is not `alert`: the
/// store writes that kind only with its outbox row (as a finding), and these measure the
/// journal alone.
pub(crate) fn rows(n: usize) -> Vec<JournalEntry> {
    (0..n)
        .map(|i| JournalEntry {
            kind: "event".into(),
            body: format!(
                r#"{{"at":"2026-03-02T02:16:30Z","kind":"sim_replaced","slot":0,"detector":"sim_identity","detector_version":1,"summary":"SIM in slot 0 was replaced","evidence":[["fields_changed","iccid,imsi"],["n","{i}"]]}}"#
            ),
        })
        .collect()
}

/// Plain inserts of the same rows: `seq, at, kind, body`, WAL, `synchronous=FULL`.
pub(crate) struct Plain {
    conn: Connection,
    next: i64,
}

impl Plain {
    pub(crate) fn open(dir: &std::path::Path) -> Plain {
        let conn = Connection::open(dir.join("plain.db")).expect("the plain database opens");
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .expect("WAL");
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;
             CREATE TABLE plain (seq INTEGER PRIMARY KEY NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL) STRICT;",
        )
        .expect("the plain table");
        Plain { conn, next: 0 }
    }

    /// One transaction, one prepared statement, one insert per row.
    pub(crate) fn commit(&mut self, at: i64, entries: &[JournalEntry]) {
        let tx = self.conn.transaction().expect("a plain transaction");
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO plain(seq, at, kind, body) VALUES (?1, ?2, ?3, ?4)")
                .expect("the plain insert");
            for e in entries {
                self.next += 1;
                stmt.execute(params![self.next, at, e.kind, e.body])
                    .expect("a plain insert");
            }
        }
        tx.commit().expect("a plain commit");
    }
}
