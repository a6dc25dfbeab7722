//! Attestation chains arrive from phones through the console message, which the
//! threat model assumes hostile: decoding and verification must never panic, and a
//! refusal is a verdict, never a crash. An accepted chain must name a trusted root.
//!
//! The first byte picks the form: even, the rest is a PEM file as `--chain` reads it;
//! odd, the rest is DER certificates, each behind a two-byte big-endian length (so the
//! fuzzer works on certificate structure rather than on base64).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_attest::{decode_pem_chain, verify, Expectations, VerifyOptions, MAX_CHAIN_LEN};

fn framed(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut certs = Vec::new();
    while rest.len() >= 2 && certs.len() <= MAX_CHAIN_LEN {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let body = &rest[2..];
        let take = len.min(body.len());
        certs.push(body[..take].to_vec());
        rest = &body[take..];
    }
    certs
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let chain = if mode % 2 == 0 {
        match decode_pem_chain(rest) {
            Ok(chain) => chain,
            Err(e) => {
                assert!(!e.message.contains('\n'));
                return;
            }
        }
    } else {
        framed(rest)
    };
    // 2025-09-27: the seeds' remotely provisioned intermediates are valid then.
    let now = jiff::Timestamp::from_second(1_758_931_200).unwrap();
    let expect = Expectations {
        challenge: b"challenge".to_vec(),
        ..Expectations::default()
    };
    let verdict = verify(&chain, &VerifyOptions::default(), &expect, now);
    assert_eq!(verdict.verified, verdict.reasons.is_empty());
    if verdict.verified {
        let chain = verdict.chain.as_ref().unwrap();
        assert!(chain.root.is_some());
        assert!(verdict.device.is_some());
    } else {
        assert!(verdict.device.is_none() && verdict.app.is_none());
    }
    for r in &verdict.reasons {
        assert!(!r.message.contains('\n'));
    }
    let text = verdict.to_json_pretty();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    let _ = verdict.to_text();
});
