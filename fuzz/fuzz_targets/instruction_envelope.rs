//! Console instructions arrive through managed configuration and push channels, which
//! the threat model assumes hostile: parsing and verification must never panic, a
//! refusal must change nothing, and whatever is accepted must obey every rule of the
//! attack matrix (docs/instructions.md).
//!
//! The first byte picks the mode: even, the rest is an instruction envelope as
//! received (the fuzzer cannot forge signatures, so this explores the envelope and the
//! checks before the signature); odd, the rest is a payload that the target signs with
//! the trusted operations key, so payload parsing, the CAMARA response reading and the
//! limits are explored too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::instruction::{
    self, InstructionBody, Ledger, Verification, INSTRUCTION_PAYLOAD_TYPE, MAX_INSTRUCTION_BYTES,
};
use portcullis_core::policy::model::InstructionRules;
use portcullis_core::policy::{DeviceScope, Envelope, SigningKey, TrustRoot, TrustedState};
use portcullis_core::Timestamp;

/// The operations key: seed [20; 32], as in fuzz/seeds/instruction_envelope.
fn operations_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed(&[20; 32]).unwrap())
}

/// One key holding every role, threshold 1.
fn state() -> &'static TrustedState {
    static STATE: OnceLock<TrustedState> = OnceLock::new();
    STATE.get_or_init(|| {
        TrustedState::from_root(TrustRoot::single_key(
            operations_key().public_key(),
            "fuzz",
        ))
        .unwrap()
    })
}

const HOUR: i64 = 3_600_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // 2026-03-02T00:00:00Z; the seeds are valid at this time.
    let now = Timestamp::from_unix_millis(1_772_409_600_000);
    let device = DeviceScope {
        device_id: "dev-0001".into(),
        groups: vec!["all-staff".into()],
    };
    let limits = InstructionRules::default();
    let ledger = Ledger {
        highest_sequence: u64::from(mode >> 4),
        ..Ledger::default()
    };
    let envelope = if mode % 2 == 0 {
        // Whatever parses as an envelope must be in the one canonical form.
        if let Ok(env) = Envelope::parse(rest, MAX_INSTRUCTION_BYTES) {
            assert_eq!(env.to_bytes(), rest);
        }
        rest.to_vec()
    } else {
        let mut env = Envelope::new(INSTRUCTION_PAYLOAD_TYPE, rest.to_vec());
        env.sign(operations_key());
        env.to_bytes()
    };
    let before = ledger.clone();
    match instruction::verify(state(), &ledger, &envelope, now, &device, &limits) {
        Ok(Verification::Accepted(v)) => {
            let p = &v.payload;
            assert!(now < p.expires && p.scope.covers(&device));
            assert!(p.sequence > ledger.highest_sequence);
            assert!(p.expires.millis_since(p.issued_at) <= 168 * HOUR);
            assert!(p.issued_at <= now.plus_millis(HOUR));
            if let InstructionBody::AuthorizeSimChange(a) = &p.body {
                assert!(a.until > p.issued_at && a.until.millis_since(p.issued_at) <= 72 * HOUR);
            }
            assert_eq!(
                v.carrier.is_some(),
                matches!(p.body, InstructionBody::CarrierCheck(_))
            );
            // Accepted once, the same payload is a redelivery; re-serialised, it parses to the same.
            let mut next = ledger.clone();
            next.accept(&v);
            assert!(matches!(
                instruction::verify(state(), &next, &envelope, now, &device, &limits),
                Ok(Verification::Redelivered { .. })
            ));
            let again = instruction::InstructionPayload::from_json(&p.to_json()).unwrap();
            assert_eq!(&again, p);
        }
        Ok(Verification::Redelivered { .. }) => panic!("an empty ledger has nothing to redeliver"),
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "one-line errors: {message}");
        }
    }
    assert_eq!(ledger, before);
});
