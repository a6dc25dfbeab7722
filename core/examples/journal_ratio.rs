//! The journal's append cost as a ratio to plain rusqlite inserts of the same rows,
//! measured by alternating the two commit by commit, so drift in fsync time on a shared
//! machine hits both sides alike (criterion measures one side for seconds, then the other).
//!
//!     cargo run --release -p portcullis-core --example journal_ratio [ROUNDS]
//!
//! For commits of 1, 10, 100 and 1,000 records, prints the median time of a chained commit
//! (SHA-256 chain, HMAC, the journal's columns) and of a plain commit (`seq, at, kind, body`
//! into a table with the same file settings), and the throughput ratio plain / chained,
//! with the interquartile range of the per-round ratios.

use std::time::Instant;

use portcullis_core::journal::EpochKey;
use portcullis_core::store::{Commit, JournalEntry, Store};
use portcullis_core::Timestamp;
use rusqlite::{params, Connection};

fn rows(n: usize) -> Vec<JournalEntry> {
    (0..n)
        .map(|i| JournalEntry {
            kind: "alert".into(),
            body: format!(
                r#"{{"at":"2026-03-02T02:16:30Z","kind":"sim_replaced","slot":0,"detector":"sim_identity","detector_version":1,"summary":"SIM in slot 0 was replaced","evidence":[["fields_changed","iccid,imsi"],["n","{i}"]]}}"#
            ),
        })
        .collect()
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROUNDS is a number"))
        .unwrap_or(300);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(&dir.path().join("journal.db")).expect("the store opens");
    store.set_journal_key(EpochKey::initial([7; 32]));
    let mut plain = Connection::open(dir.path().join("plain.db")).expect("the plain db opens");
    plain
        .query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .expect("WAL");
    plain
        .execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;
             CREATE TABLE plain (seq INTEGER PRIMARY KEY NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL) STRICT;",
        )
        .expect("the plain table");
    let mut next_plain = 0i64;
    let at = Timestamp::from_unix_millis(1_772_000_000_000);

    println!(
        "records/commit  chained (median)  plain (median)  ratio plain/chained  per-round IQR"
    );
    for size in [1usize, 10, 100, 1_000] {
        let batch = rows(size);
        let (mut chained, mut plain_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            let entries = batch.clone();
            let t = Instant::now();
            store
                .commit(Commit {
                    at: Some(at),
                    journal: entries,
                    ..Commit::default()
                })
                .expect("a chained commit");
            let c = t.elapsed().as_secs_f64();

            let entries = batch.clone();
            let t = Instant::now();
            let tx = plain.transaction().expect("a plain transaction");
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO plain(seq, at, kind, body) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .expect("the plain insert");
                for e in &entries {
                    next_plain += 1;
                    stmt.execute(params![next_plain, at.as_unix_millis(), e.kind, e.body])
                        .expect("a plain insert");
                }
            }
            tx.commit().expect("a plain commit");
            let p = t.elapsed().as_secs_f64();
            if round >= warmup {
                chained.push(c);
                plain_times.push(p);
                ratios.push(p / c);
            }
        }
        let (_, c, _) = quartiles(chained);
        let (_, p, _) = quartiles(plain_times);
        let (q1, _, q3) = quartiles(ratios);
        println!(
            "{size:>14}  {:>13.1} µs  {:>11.1} µs  {:>19.3}  {q1:.3}–{q3:.3}",
            c * 1e6,
            p * 1e6,
            p / c
        );
    }
}
