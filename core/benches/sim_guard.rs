//! Throughput of the SIM guard in memory (no durable writes): a 1,000,000-event replay.
//!
//!     cargo bench -p portcullis-core --bench sim_guard
//!
//! Peak memory of the same replay: `cargo run --release -p portcullis-core --example sim_replay`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis_core::identity::{IdentityHasher, SoftwareDeviceKey};
use portcullis_core::sim::{SimGuard, SimPolicy};
use portcullis_core::Timestamp;

#[path = "support/synthetic.rs"]
mod synthetic;

const EVENTS: u64 = 1_000_000;

fn replay(events: u64, hasher: &IdentityHasher) -> usize {
    let mut guard = SimGuard::new(
        Timestamp::from_unix_millis(1_772_000_000_000),
        SimPolicy::default(),
    );
    let mut findings = Vec::new();
    let mut alerts = 0;
    for (at, event) in synthetic::Traffic::new(events, 0x5EED) {
        if let Some(wake) = guard.next_deadline().filter(|w| *w <= at) {
            guard.handle_timeout(wake, &mut findings);
        }
        guard
            .handle(&event, at, hasher, &mut findings)
            .expect("synthetic input is valid");
        alerts += findings.len();
        findings.clear();
    }
    alerts
}

fn bench(c: &mut Criterion) {
    let key = SoftwareDeviceKey::new(b"benchmark-device-secret").unwrap();
    let hasher = IdentityHasher::derive(&key).unwrap();
    let mut group = c.benchmark_group("sim_guard");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("replay_1m_events", |b| b.iter(|| replay(EVENTS, &hasher)));
    // The generator alone, to subtract its share from the figure above.
    group.bench_function("generate_1m_events", |b| {
        b.iter(|| synthetic::Traffic::new(EVENTS, 0x5EED).count());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
