//! iOS App Attest attestation objects arrive from phones through the console channel,
//! which the threat model assumes hostile: decoding (CBOR, authenticator data, COSE key)
//! and verification must never panic, and a refusal is a verdict, never a crash. An
//! accepted object must name Apple's root and carry the attested key.
//!
//! The input is the object itself; the seeds are the real objects of
//! attest/tests/vectors/appattest/, verified with their own expectations so that the
//! fuzzer reaches the checks past the chain.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_attest::app_attest::decode_attestation_object;
use portcullis_attest::{verify_app_attest, AppAttestExpectations, AppAttestOptions};

/// The iOS 14.4 seed's key id, YmbJO4x5nEHUvncp9zdWuVZjNBEMgJn3cdSToAXQe3M=.
const KEY_ID: [u8; 32] = [
    0x62, 0x66, 0xc9, 0x3b, 0x8c, 0x79, 0x9c, 0x41, 0xd4, 0xbe, 0x77, 0x29, 0xf7, 0x37, 0x56,
    0xb9, 0x56, 0x63, 0x34, 0x11, 0x0c, 0x80, 0x99, 0xf7, 0x71, 0xd4, 0x93, 0xa0, 0x05, 0xd0,
    0x7b, 0x73,
];

fuzz_target!(|data: &[u8]| {
    if let Err(e) = decode_attestation_object(data) {
        assert!(!e.message.contains('\n'));
    }
    // 2021-01-23T12:13:33Z: the iOS 14.4 seed's credential certificate is valid then.
    let now = jiff::Timestamp::from_second(1_611_404_013).unwrap();
    let expect = AppAttestExpectations::new(
        "6MURL8TA57.de.vincent-haupert.apple-appattest-poc",
        b"wurzelpfropf",
        KEY_ID,
    );
    let options = AppAttestOptions {
        allow_development: true,
        ..AppAttestOptions::default()
    };
    let verdict = verify_app_attest(data, &options, &expect, now);
    assert_eq!(verdict.verified, verdict.reasons.is_empty());
    assert_eq!(verdict.verified, verdict.key.is_some());
    if verdict.verified {
        assert!(verdict.chain.as_ref().and_then(|c| c.root.as_ref()).is_some());
    }
    for r in &verdict.reasons {
        assert!(!r.message.contains('\n'));
    }
    let text = verdict.to_json_pretty();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    let _ = verdict.to_text();
});
