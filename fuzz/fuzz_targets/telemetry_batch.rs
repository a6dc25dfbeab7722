//! Telemetry batches arrive from the platform's logs and, on a kiosk, from files pulled off
//! a phone. The decoder must never panic; whatever it accepts must validate, survive a
//! round trip through its JSON form, and ingest into an agent without panicking; and no
//! error may repeat an identifier-shaped run of ten digits or more from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::telemetry::TelemetryBatch;
use portcullis_core::{Agent, SoftwareDeviceKey, Timestamp};

const BUNDLE: &str = r#"{"type": "bundle", "objects": [
  {"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "pattern": "[domain-name:value='evil.example']"},
  {"type": "indicator", "id": "indicator--2", "pattern_type": "stix", "pattern": "[ipv4-addr:value='203.0.113.66']"},
  {"type": "indicator", "id": "indicator--3", "pattern_type": "stix", "pattern": "[app:id='com.spy.app']"}
]}"#;

fn digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= 10 {
                runs.push(run.clone());
            }
            run.clear();
        }
    }
    runs
}

fn check_error(input: &str, message: &str) {
    for run in digit_runs(input) {
        assert!(!message.contains(&run), "an error repeats input digits: {message}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut accepted = Vec::new();
    match TelemetryBatch::from_json(text) {
        Ok(batch) => accepted.push(batch),
        Err(e) => check_error(text, &e.to_string()),
    }
    match TelemetryBatch::from_jsonl_chunks(text, 64) {
        Ok(batches) => accepted.extend(batches),
        Err(e) => check_error(text, &e.to_string()),
    }
    if accepted.is_empty() {
        return;
    }
    let key = std::sync::Arc::new(SoftwareDeviceKey::new(b"fuzzing-device-secret").unwrap());
    let mut agent = Agent::open_in_memory(key, Timestamp::EPOCH, [0; 32]).unwrap();
    agent.load_indicators("fuzz", BUNDLE).unwrap();
    for batch in accepted {
        batch.validate().expect("an accepted batch validates");
        let json = serde_json::to_string(&batch).unwrap();
        assert_eq!(TelemetryBatch::from_json(&json).unwrap(), batch);
        let now = batch
            .events
            .iter()
            .map(|e| e.at())
            .max()
            .unwrap_or(Timestamp::EPOCH);
        agent.ingest_telemetry(&batch, now).unwrap();
    }
});
