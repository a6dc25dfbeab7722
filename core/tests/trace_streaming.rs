//! Issue 14, item 16: a trace replayed line by line (`TraceReader` and `replay_event`, as
//! `portcullis simulate` does) needs memory independent of the trace's length. Measured
//! by counting every allocation of this test binary while a generated trace, produced on
//! demand and never held whole, is replayed into an agent on a real database.

use std::io::{BufRead, Read};
use std::sync::Arc;

use portcullis_core::{trace, Agent, SoftwareDeviceKey, Timestamp};

#[path = "../benches/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{peak_of, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A trace of `lines` lines, written as it is read: connectivity flips and SIM
/// observations a minute apart, with a SIM removal now and then, so the agent decides,
/// journals and alerts all along.
struct Generated {
    lines: usize,
    next: usize,
    line: Vec<u8>,
    at: usize,
}

impl Generated {
    fn new(lines: usize) -> Self {
        Generated {
            lines,
            next: 0,
            line: Vec::new(),
            at: 0,
        }
    }

    fn fill(&mut self) {
        if self.at < self.line.len() || self.next >= self.lines {
            return;
        }
        let i = self.next;
        self.next += 1;
        let at = Timestamp::from_unix_millis(1_772_323_200_000 + i as i64 * 60_000);
        let event = match i % 4 {
            0 => format!(r#""connectivity":{{"wifi":{},"cellular_data":true,"airplane_mode":false}}"#, i.is_multiple_of(8)),
            1 => r#""sim":{"slot":0,"state":"ready","iccid":"8944110012345678901","mcc_mnc":"23415"}"#.to_owned(),
            2 if i % 40 == 2 => r#""sim":{"slot":0,"state":"absent"}"#.to_owned(),
            _ => r#""tick":{}"#.to_owned(),
        };
        self.line = format!("{{\"at\":\"{at}\",{event}}}\n").into_bytes();
        self.at = 0;
    }
}

impl Read for Generated {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Generated {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.fill();
        Ok(&self.line[self.at..])
    }
    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

/// Replays `lines` generated lines; returns the peak heap while doing so and the alerts.
fn replay(lines: usize) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(SoftwareDeviceKey::new(b"streaming-test-device").unwrap());
    let start = Timestamp::from_unix_millis(1_772_323_200_000);
    let mut agent = Agent::open(&dir.path().join("agent.db"), key, start, [3; 32]).unwrap();
    peak_of(|| {
        let mut alerts = Vec::new();
        let mut raised = 0;
        for event in trace::TraceReader::new(Generated::new(lines)) {
            let event = event.unwrap();
            alerts.clear();
            trace::replay_event(
                &mut agent,
                &event,
                &mut trace::refuse_shorthands,
                &mut alerts,
            )
            .unwrap();
            raised += alerts.len();
        }
        raised
    })
}

#[test]
fn memory_does_not_grow_with_the_trace() {
    let (short_peak, short_alerts) = replay(400);
    let (long_peak, long_alerts) = replay(4_000);
    assert!(
        long_alerts > short_alerts * 5,
        "{short_alerts} then {long_alerts} alerts"
    );
    // SQLite's page cache (2 MB by default) fills as the database grows; nothing else may.
    assert!(
        long_peak <= short_peak + 3 * 1024 * 1024,
        "peak heap {short_peak} bytes for 400 lines, {long_peak} for 4,000"
    );
}
