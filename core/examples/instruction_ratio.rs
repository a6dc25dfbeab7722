//! The cost of verifying and applying one console instruction, as a ratio to the bare
//! Ed25519 verifications it contains, measured by alternating the two batch by batch so
//! drift on a shared machine hits both sides alike.
//!
//!     cargo run --release -p portcullis-core --example instruction_ratio [ROUNDS]
//!
//! Each round takes 100 fresh signed instructions (threshold 1 and 2) and times, on the
//! same envelopes: the bare `ring` Ed25519 verifications of their signatures; the pure
//! verification (`instruction::verify`: parse, signatures, payload, limits, scope,
//! sequence); and `Agent::apply_instruction` on an in-memory database, which adds the
//! SIM guard, the ledger and the journal record but no durable commit (no fsync). It
//! prints the medians per instruction and the ratios, with the per-round IQR.

use std::sync::Arc;
use std::time::Instant;

use portcullis_core::instruction::{
    self, CarrierCheck, CarrierOperation, CarrierRequest, InstructionBody, InstructionPayload,
    Ledger, MAX_INSTRUCTION_BYTES,
};
use portcullis_core::policy::model::InstructionRules;
use portcullis_core::policy::trust::Role;
use portcullis_core::policy::{
    BundleScope, DeviceScope, Envelope, PublicKey, SigningKey, TrustRoot, TrustedState,
};
use portcullis_core::sim::CarrierApi;
use portcullis_core::{Agent, SoftwareDeviceKey, Timestamp};

#[path = "../tests/policy_support/mod.rs"]
mod policy_support;

const BATCH: usize = 100;

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// A root whose operations role is keys 20 and 21 at `threshold`.
fn root(threshold: u32, ops: &[SigningKey]) -> TrustRoot {
    let mut root = TrustRoot::single_key(ops[0].public_key(), "bench");
    for k in ops {
        root.keys.insert(k.key_id(), policy_support::root_key(k));
    }
    root.roles.operations = Some(Role {
        keyids: ops.iter().map(SigningKey::key_id).collect(),
        threshold,
    });
    root
}

fn instruction(sequence: u64, now: Timestamp, keys: &[&SigningKey]) -> Vec<u8> {
    InstructionPayload {
        instruction_id: format!("bench-{sequence}"),
        sequence,
        issued_at: now,
        expires: now.plus_millis(3_600_000),
        scope: BundleScope {
            devices: vec!["bench-device".into()],
            groups: Vec::new(),
        },
        body: InstructionBody::CarrierCheck(CarrierCheck {
            api: CarrierApi::SimSwap,
            operation: CarrierOperation::RetrieveDate,
            line: None,
            checked_at: now,
            request: CarrierRequest::default(),
            response: r#"{"latestSimChange":null,"monitoredPeriod":120}"#.into(),
        }),
    }
    .sign(keys)
    .expect("the benchmark instruction signs")
}

fn bare_verify(envelopes: &[Vec<u8>], keys: &[PublicKey]) -> usize {
    let mut ok = 0;
    for bytes in envelopes {
        let e = Envelope::parse(bytes, MAX_INSTRUCTION_BYTES).expect("parses");
        let input = e.signing_input();
        for (s, k) in e.signatures.iter().zip(keys) {
            ok += usize::from(k.verifies(&input, &s.sig));
        }
    }
    ok
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROUNDS is a number"))
        .unwrap_or(200);
    let ops = [
        SigningKey::from_seed(&[20; 32]).expect("seed"),
        SigningKey::from_seed(&[21; 32]).expect("seed"),
    ];
    let now = Timestamp::from_unix_millis(1_772_409_600_000);
    let device = DeviceScope {
        device_id: "bench-device".into(),
        groups: Vec::new(),
    };
    println!("signatures  bare Ed25519 (median)  verify (median)  verify+apply (median)  verify/bare (IQR)  apply/bare (IQR)");
    for threshold in [1u32, 2] {
        let root = root(threshold, &ops);
        let trust = TrustedState::from_root(root.clone()).expect("root");
        let signed_root = root.sign(&[&ops[0]]).expect("root signs");
        let mut agent = Agent::open_in_memory(
            Arc::new(SoftwareDeviceKey::new(b"instruction bench key").expect("key")),
            now,
            [1; 32],
        )
        .expect("agent");
        agent
            .install_trust_root(&signed_root, device.clone(), now)
            .expect("enrolls");
        let keys: Vec<&SigningKey> = ops.iter().take(threshold as usize).collect();
        let public: Vec<PublicKey> = keys.iter().map(|k| k.public_key()).collect();
        let limits = InstructionRules::default();
        let ledger = Ledger::default();
        let (mut bare, mut pure, mut applied) = (Vec::new(), Vec::new(), Vec::new());
        let (mut r_pure, mut r_apply) = (Vec::new(), Vec::new());
        let mut sequence = 0u64;
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            let envelopes: Vec<Vec<u8>> = (0..BATCH)
                .map(|_| {
                    sequence += 1;
                    instruction(sequence, now, &keys)
                })
                .collect();
            let t = Instant::now();
            let ok = bare_verify(&envelopes, &public);
            let b = t.elapsed().as_secs_f64() / BATCH as f64;
            assert_eq!(ok, BATCH * keys.len());

            let t = Instant::now();
            for e in &envelopes {
                instruction::verify(&trust, &ledger, e, now, &device, &limits).expect("verifies");
            }
            let v = t.elapsed().as_secs_f64() / BATCH as f64;

            let t = Instant::now();
            for e in &envelopes {
                let outcome = agent.apply_instruction(e, now).expect("applies");
                assert!(matches!(
                    outcome,
                    portcullis_core::agent::InstructionOutcome::Applied(_)
                ));
            }
            let a = t.elapsed().as_secs_f64() / BATCH as f64;
            if round >= warmup {
                bare.push(b);
                pure.push(v);
                applied.push(a);
                r_pure.push(v / b);
                r_apply.push(a / b);
            }
        }
        let med = |v: &Vec<f64>| quartiles(v.clone()).1 * 1e6;
        let (p1, p2, p3) = quartiles(r_pure);
        let (a1, a2, a3) = quartiles(r_apply);
        println!(
            "{threshold:>10}  {:>17.1} µs  {:>12.1} µs  {:>18.1} µs  {p2:.2} ({p1:.2}-{p3:.2})  {a2:.2} ({a1:.2}-{a3:.2})",
            med(&bare),
            med(&pure),
            med(&applied),
        );
    }
}
