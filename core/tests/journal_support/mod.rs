//! The journal the tamper tests start from: a device that lived through a SIM swap at
//! night (one alert acknowledged, then a checkpoint) and a 2G downgrade (then the
//! checkpoint the console holds), and a day later the same downgrade again, so records
//! follow the console's checkpoint.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::journal::{EpochKey, SignedCheckpoint};
use portcullis_core::trace::{self, TraceEvent};
use portcullis_core::{Agent, DeviceKey};

/// The device after [`build`], still open, with what the console keeps of it.
pub(crate) struct Journal {
    /// Holds the database; removed when dropped.
    pub(crate) dir: tempfile::TempDir,
    pub(crate) db: PathBuf,
    pub(crate) agent: Agent,
    /// The epoch-0 journal key, exported before the first record was written.
    pub(crate) initial_key: EpochKey,
    /// The second checkpoint, the one handed to the console.
    pub(crate) checkpoint: SignedCheckpoint,
    /// The events replayed after that checkpoint.
    pub(crate) later: Vec<TraceEvent>,
}

fn scenario(name: &str) -> Vec<TraceEvent> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(name);
    trace::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Enrolls a device with `key` and `seed` in a new folder and writes the journal
/// described above.
pub(crate) fn build(key: Arc<dyn DeviceKey>, seed: [u8; 32]) -> Journal {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let swap = scenario("sim-swap-at-night.jsonl");
    let g2 = scenario("downgrade-2g.jsonl");
    let mut agent = Agent::open(&db, key, swap[0].at, seed).unwrap();
    let initial_key = EpochKey::from_bytes(
        0,
        agent
            .journal_key_export()
            .unwrap()
            .expect("export until confirmed"),
    );
    trace::replay(&mut agent, &swap, &mut trace::refuse_shorthands).unwrap();
    let end = swap.last().unwrap().at;
    let first = agent.pending_alerts(1).unwrap()[0].id;
    agent.ack_alerts(&[first], end).unwrap();
    agent.checkpoint(end).unwrap();
    trace::replay(&mut agent, &g2, &mut trace::refuse_shorthands).unwrap();
    let checkpoint = agent.checkpoint(g2.last().unwrap().at).unwrap();
    let mut later = g2;
    for ev in &mut later {
        ev.at = ev.at.plus_millis(86_400_000);
    }
    trace::replay(&mut agent, &later, &mut trace::refuse_shorthands).unwrap();
    Journal {
        dir,
        db,
        agent,
        initial_key,
        checkpoint,
        later,
    }
}
