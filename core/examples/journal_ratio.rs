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
use portcullis_core::store::internals::StoreWrites;
use portcullis_core::store::{Commit, Store};
use portcullis_core::Timestamp;

#[path = "../benches/support/journal_rows.rs"]
mod journal_rows;
use journal_rows::{rows, Plain};

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
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
    let mut plain = Plain::open(dir.path());
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
            plain.commit(at.as_unix_millis(), &entries);
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
