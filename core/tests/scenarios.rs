//! Replays every trace in tests/scenarios/ and compares the alerts with its `.expected.jsonl`.
//!
//! Each scenario runs twice: once on one agent, and once with the agent closed and
//! reopened from its database after every event, as a phone whose app process is
//! killed between callbacks. Both runs must raise exactly the expected alerts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::journal::{Verdict, VerifyOptions};
use portcullis_core::policy::{DeviceScope, PinKey, SigningKey, TrustRoot};
use portcullis_core::trace::{Shorthand, SimulatorSigner};
use portcullis_core::{trace, Agent, AlertKind, DeviceKey, SoftwareDeviceKey, Timestamp};
use serde_json::Value;

const SECRET: &[u8] = b"scenario-test-device-secret";
const DEVICE: &str = "simulated-device";

fn key() -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(SECRET).unwrap())
}

fn console_key() -> SigningKey {
    SigningKey::from_seed(&[7; 32]).unwrap()
}

/// Enrolls the agent with a console root whose one key holds every role (once), as a
/// simulator does, so the traces' shorthand instructions are signed and verified.
fn enroll(agent: &mut Agent, at: Timestamp) {
    if agent.trust_root_installed() {
        return;
    }
    let key = console_key();
    let root = TrustRoot::single_key(key.public_key(), "scenario console")
        .sign(&[&key])
        .unwrap();
    let scope = DeviceScope {
        device_id: DEVICE.into(),
        groups: Vec::new(),
    };
    agent.install_trust_root(&root, scope, at).unwrap();
}

/// Replays events as the simulator does: shorthands signed by the console key.
fn replay(agent: &mut Agent, events: &[trace::TraceEvent]) -> Vec<portcullis_core::Alert> {
    enroll(agent, events[0].at);
    let pin_key = PinKey::new(&PinKey::derive(key().as_ref()).unwrap());
    let signer = SimulatorSigner::new(console_key(), pin_key, DEVICE);
    let mut sign = |s: Shorthand<'_>, at: Timestamp| signer.sign(s, at);
    trace::replay(agent, events, &mut sign).unwrap()
}

fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios")
}

fn scenarios() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".jsonl") && !name.ends_with(".expected.jsonl")
        })
        .collect();
    paths.sort();
    paths
}

type Expected = Vec<(Timestamp, AlertKind, Option<u8>)>;

fn expected(path: &Path) -> Expected {
    let expected_path = path.with_extension("expected.jsonl");
    let text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|_| panic!("{} needs {}", path.display(), expected_path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                Timestamp::parse_rfc3339(v["at"].as_str().unwrap()).unwrap(),
                v["kind"].as_str().unwrap().parse().unwrap(),
                v["slot"].as_u64().map(|s| s as u8),
            )
        })
        .collect()
}

fn replay_once(events: &[trace::TraceEvent]) -> Expected {
    let mut agent = Agent::open_in_memory(key(), events[0].at, [1; 32]).unwrap();
    let alerts = replay(&mut agent, events);
    for a in &alerts {
        assert_eq!(a.severity, a.finding.kind.severity());
    }
    let pending = agent.pending_alerts(1000).unwrap();
    assert_eq!(
        pending.len(),
        alerts.len(),
        "every alert reaches the outbox"
    );
    assert!(matches!(
        agent.verify_journal(VerifyOptions::default()).unwrap(),
        Verdict::Intact { .. }
    ));
    alerts
        .iter()
        .map(|a| (a.finding.at, a.finding.kind, a.finding.slot))
        .collect()
}

fn replay_with_restarts(events: &[trace::TraceEvent]) -> Expected {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let mut got = Vec::new();
    for ev in events {
        let mut agent = Agent::open(&db, key(), ev.at, [1; 32]).unwrap();
        let alerts = replay(&mut agent, std::slice::from_ref(ev));
        got.extend(
            alerts
                .iter()
                .map(|a| (a.finding.at, a.finding.kind, a.finding.slot)),
        );
    }
    got
}

#[test]
fn every_scenario_raises_exactly_its_expected_alerts() {
    let paths = scenarios();
    assert!(paths.len() >= 10, "the scenario library went missing");
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let events = trace::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = expected(&path);
        assert_eq!(replay_once(&events), want, "{}", path.display());
        assert_eq!(
            replay_with_restarts(&events),
            want,
            "{} (restarting after every event)",
            path.display()
        );
    }
}

#[test]
fn no_identifier_reaches_the_database_file_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let text = std::fs::read_to_string(scenario_dir().join("sim-swap-at-night.jsonl")).unwrap();
    let events = trace::parse(&text).unwrap();
    {
        let mut agent = Agent::open(&db, key(), events[0].at, [1; 32]).unwrap();
        replay(&mut agent, &events);
    }
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("agent.db-wal")) {
        bytes.extend(wal);
    }
    for needle in [
        "8944110012345678901",
        "8944200098765432109",
        "234150123456789",
        "234209876543210",
        "447700900123",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the database holds an identifier in clear text"
        );
    }
}
