//! Journal costs: batched appends with chaining and MAC against plain rusqlite inserts of
//! the same rows in the same run, and chain verification speed.
//!
//!     cargo bench -p portcullis-core --bench journal

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use portcullis_core::journal::{CheckpointSigner, EpochKey, Verdict, VerifyOptions};
use portcullis_core::store::internals::StoreWrites;
use portcullis_core::store::{Commit, Enrollment, Parallelism, Store};
use portcullis_core::{SoftwareDeviceKey, Timestamp};

#[path = "support/journal_rows.rs"]
mod journal_rows;
use journal_rows::{rows, Plain};

const BATCH: usize = 1_000;
const VERIFY_RECORDS: usize = 200_000;

/// An enrolled store, as on a device: record 1 and the checkpoint public key, which
/// verification requires.
fn journal_store(dir: &std::path::Path) -> Store {
    let mut store = Store::open(&dir.join("journal.db")).unwrap();
    let device = SoftwareDeviceKey::new(b"journal bench device key").unwrap();
    let key = EpochKey::initial([7; 32]);
    let wrapped = key.wrap(&device).unwrap();
    store
        .enroll(Enrollment {
            at: Timestamp::from_unix_millis(1_772_000_000_000),
            key,
            wrapped_key: wrapped,
            wrapped_export: wrapped,
            public_key: CheckpointSigner::derive(&device).unwrap().public_key(),
            key_check: "bench".into(),
        })
        .unwrap();
    store
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = journal_store(dir.path());
    let mut plain = Plain::open(dir.path());

    // One commit of BATCH rows is the bulk case (and the headline ratio); the
    // smaller batches are what the agent commits in practice, where the fsync dominates.
    for size in [1, 10, 100, BATCH] {
        let batch = rows(size);
        let mut group = c.benchmark_group(format!("journal_append_{size}"));
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function("chained_mac", |b| {
            b.iter_batched(
                || batch.clone(),
                |entries| {
                    store
                        .commit(Commit {
                            at: Some(Timestamp::from_unix_millis(1_772_000_000_000)),
                            journal: entries,
                            ..Commit::default()
                        })
                        .unwrap()
                },
                BatchSize::LargeInput,
            );
        });
        group.bench_function("plain_rusqlite", |b| {
            b.iter_batched(
                || batch.clone(),
                |entries| plain.commit(1_772_000_000_000, &entries),
                BatchSize::LargeInput,
            );
        });
        group.finish();
    }

    // Verification over a journal of VERIFY_RECORDS records, MACs included.
    let vdir = tempfile::tempdir().unwrap();
    let mut vstore = journal_store(vdir.path());
    for _ in 0..VERIFY_RECORDS / BATCH {
        vstore
            .commit(Commit {
                at: Some(Timestamp::from_unix_millis(1_772_000_000_000)),
                journal: rows(BATCH),
                ..Commit::default()
            })
            .unwrap();
    }
    let mut group = c.benchmark_group("journal_verify");
    group.sample_size(10);
    group.throughput(Throughput::Elements(VERIFY_RECORDS as u64));
    let options = VerifyOptions {
        initial_key: Some(EpochKey::initial([7; 32])),
        console_checkpoint: None,
    };
    assert!(
        matches!(
            vstore.verify_journal(options.clone()).unwrap(),
            Verdict::Intact { .. }
        ),
        "the benchmark journal verifies"
    );
    // As shipped: one thread reads SQLite, spare cores check hashes and MACs.
    group.bench_function("verify_200k_with_macs", |b| {
        b.iter(|| vstore.verify_journal(options.clone()).unwrap());
    });
    // One thread, record by record: what a single-core device gets.
    group.bench_function("verify_200k_with_macs_inline", |b| {
        b.iter(|| {
            vstore
                .verify_journal_with(
                    options.clone(),
                    Parallelism {
                        workers: 0,
                        batch: 1,
                    },
                )
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
