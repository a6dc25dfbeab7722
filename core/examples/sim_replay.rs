//! Streams a synthetic trace through the SIM guard and reports events per second,
//! alerts raised and the process's peak resident memory.
//!
//!     cargo run --release -p portcullis-core --example sim_replay [EVENTS]

use std::time::Instant;

use portcullis_core::identity::{IdentityHasher, SoftwareDeviceKey};
use portcullis_core::sim::{SimGuard, SimPolicy};
use portcullis_core::Timestamp;

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("EVENTS must be a number"))
        .unwrap_or(1_000_000);
    let key = SoftwareDeviceKey::new(b"benchmark-device-secret").unwrap();
    let hasher = IdentityHasher::derive(&key).unwrap();
    let mut guard = SimGuard::new(
        Timestamp::from_unix_millis(1_772_000_000_000),
        SimPolicy::default(),
    );
    let mut findings = Vec::new();
    let mut alerts = 0usize;
    let started = Instant::now();
    for (at, event) in synthetic::Traffic::new(events, 0x5EED) {
        if let Some(wake) = guard.next_deadline().filter(|w| *w <= at) {
            guard.handle_timeout(wake, &mut findings);
        }
        guard.handle(&event, at, &hasher, &mut findings).unwrap();
        alerts += findings.len();
        findings.clear();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sim_replay: {events} events in {secs:.3} s = {:.0} events/s; {alerts} alerts; peak RSS {} KiB",
        events as f64 / secs,
        peak_rss_kib().map_or("unknown".into(), |k| k.to_string())
    );
}
