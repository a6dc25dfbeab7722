//! Journal records are read back from a database an intruder may have edited: decoding a
//! record body, mapping it to OCSF and verifying a chain of arbitrary records and
//! checkpoints must never panic, whatever the bytes, and batched verification must agree
//! with record-by-record verification.
//!
//! Input: lines. `seq|at|epoch|kind|body|hash-hex|mac-hex` is a record; a line starting
//! with `{` is a signed checkpoint in its JSON form; a line `key:HEX` is an epoch-0 key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::journal::{self, Anchor, EpochKey, SignedCheckpoint, StoredRecord, VerifyOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut records = Vec::new();
    let mut checkpoints = Vec::new();
    let mut options = VerifyOptions::default();
    for line in text.lines() {
        if line.starts_with('{') {
            if let Ok(cp) = portcullis_core::json::from_str::<SignedCheckpoint>(line) {
                checkpoints.push(cp.clone());
                options.console_checkpoint = Some(cp);
            }
            continue;
        }
        if let Some(hex) = line.strip_prefix("key:") {
            if let Some(k) = journal::unhex32(hex) {
                options.initial_key = Some(EpochKey::from_bytes(0, k));
            }
            continue;
        }
        let f: Vec<&str> = line.splitn(7, '|').collect();
        if f.len() != 7 {
            continue;
        }
        let record = StoredRecord {
            seq: f[0].parse().unwrap_or(0),
            at: f[1].parse().unwrap_or(0),
            epoch: f[2].parse().unwrap_or(0),
            kind: f[3].to_owned(),
            body: f[4].to_owned(),
            hash: journal::unhex(f[5]).unwrap_or_default(),
            mac: journal::unhex(f[6]).unwrap_or_default(),
        };
        let _ = journal::decode_record(&record.kind, &record.body);
        let _ = journal::record_ocsf(&record, &journal::OcsfDevice::enrolled("fuzz"));
        let _ = journal::record_json(&record);
        records.push(record);
    }
    let inline = journal::verify(
        Anchor::GENESIS,
        &records,
        checkpoints.clone(),
        None,
        options.clone(),
    );
    // Checking hashes and MACs in batches (as the multi-threaded verifier does) must
    // find the same first broken record.
    let batch_len = 1 + data.len() % 5;
    let batched = journal::Verifier::new(Anchor::GENESIS, checkpoints, None, options)
        .map_or_else(journal::Verdict::broken, |v| v.walk_batched(&records, batch_len));
    match (&inline, &batched) {
        (journal::Verdict::Broken { seq: a, .. }, journal::Verdict::Broken { seq: b, .. }) => {
            assert_eq!(a, b, "inline {inline:?}, batched {batched:?}")
        }
        _ => assert_eq!(inline, batched),
    }
});
