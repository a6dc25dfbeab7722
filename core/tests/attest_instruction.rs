//! The `attest` instruction: a signed console challenge becomes a typed action for the
//! platform (generate an attested key, certify the checkpoint key with it), and the
//! platform's certificate chain comes back through the core into console messages.
//! Real chains from `../shared/attestation/` stand in for the platform's answer.

mod policy_support;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use policy_support::{device, key, root_with_operations, T0};
use portcullis_core::agent::{
    ActionOutcome, AttestationAnswer, InstructionAction, InstructionOutcome,
};
use portcullis_core::console::{self, assemble_attestation, MAX_DATA_UNITS, MAX_KEY_UNITS};
use portcullis_core::instruction::{InstructionBody, InstructionPayload};
use portcullis_core::journal::checkpoint_key_certification;
use portcullis_core::policy::{BundleScope, PolicyError};
use portcullis_core::{Agent, AlertKind, DeviceKey, Error, SoftwareDeviceKey, Timestamp};

const HOUR: i64 = 3_600_000;

fn at(hours: i64) -> Timestamp {
    T0.plus_millis(hours * HOUR)
}

fn agent() -> Agent {
    let device_key: Arc<dyn DeviceKey> =
        Arc::new(SoftwareDeviceKey::new(b"attest-test-secret!!").unwrap());
    let mut agent = Agent::open_in_memory(device_key, T0, [5; 32]).unwrap();
    let root = root_with_operations(1, 1)
        .sign(&[&key(1), &key(2)])
        .unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    agent
}

fn attest(sequence: u64, id: &str, challenge: &[u8]) -> InstructionPayload {
    InstructionPayload {
        instruction_id: id.into(),
        sequence,
        issued_at: at(2),
        expires: at(26),
        scope: BundleScope {
            devices: vec!["dev-0001".into()],
            groups: Vec::new(),
        },
        body: InstructionBody::Attest {
            challenge: challenge.to_vec(),
        },
    }
}

/// A real chain's certificates, DER, leaf first.
fn chain(name: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/attestation")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|block| {
            let body: String = block
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        })
        .collect()
}

const CHALLENGE: &[u8] = b"7ccac1ea-4845-482e-858d-f6fa9aa8";

fn answer() -> AttestationAnswer {
    AttestationAnswer {
        chain: chain("caiman/sdk36/SB_EC_RKP.pem"),
        certification: vec![0x30, 0x44, 1, 2, 3],
        strong_box: true,
        strong_box_fallback: false,
    }
}

#[test]
fn an_attest_instruction_hands_out_the_challenge_and_the_checkpoint_certification() {
    let mut agent = agent();
    let envelope = attest(1, "attest-1", CHALLENGE).sign(&[&key(20)]).unwrap();
    let InstructionOutcome::Applied(applied) = agent.apply_instruction(&envelope, at(3)).unwrap()
    else {
        panic!("not applied")
    };
    assert_eq!(applied.actions.len(), 1);
    let InstructionAction::Attest { challenge, certify } = &applied.actions[0].action else {
        panic!("{:?}", applied.actions[0].action)
    };
    assert_eq!(challenge, CHALLENGE);
    assert_eq!(
        certify,
        &checkpoint_key_certification(CHALLENGE, &agent.checkpoint_public_key())
    );
    // The statement names this device's checkpoint key and this challenge, nothing else.
    assert!(certify.ends_with(&agent.checkpoint_public_key()));
    assert_ne!(
        checkpoint_key_certification(b"another challenge!", &agent.checkpoint_public_key()),
        *certify
    );

    // Redelivered: no news; replayed under another id with the same sequence: refused.
    assert!(matches!(
        agent.apply_instruction(&envelope, at(4)).unwrap(),
        InstructionOutcome::Unchanged { .. }
    ));
    let replay = attest(1, "attest-1b", CHALLENGE).sign(&[&key(20)]).unwrap();
    let InstructionOutcome::Refused(r) = agent.apply_instruction(&replay, at(4)).unwrap() else {
        panic!("a replayed sequence applied")
    };
    assert_eq!(r.code, "replayed");
    // Expired: refused.
    let late = attest(2, "attest-2", CHALLENGE).sign(&[&key(20)]).unwrap();
    let InstructionOutcome::Refused(r) = agent.apply_instruction(&late, at(27)).unwrap() else {
        panic!("an expired attest applied")
    };
    assert_eq!(r.code, "expired");
}

/// Whether `e` refuses an instruction for the field at `path`.
fn refuses_instruction_field(e: &Error, path: &str) -> bool {
    matches!(e, Error::Policy(PolicyError::InvalidInstruction { path: p, .. }) if p == path)
}

#[test]
fn a_challenge_outside_16_to_32_bytes_or_not_hex_is_refused() {
    for len in [0, 15, 33] {
        let e = attest(1, "a", &vec![7; len]).sign(&[&key(20)]).unwrap_err();
        assert!(refuses_instruction_field(&e, "body.challenge"), "{e}");
    }
    let ok = attest(1, "a", &[7; 16]).to_json();
    let text = String::from_utf8(ok).unwrap();
    let bad = text.replace(&"07".repeat(16), &format!("+7{}", "07".repeat(15)));
    assert_ne!(bad, text);
    let e = InstructionPayload::from_json(bad.as_bytes()).unwrap_err();
    assert!(refuses_instruction_field(&e, "body.challenge"), "{e}");
    assert!(InstructionPayload::from_json(text.as_bytes()).is_ok());
}

#[test]
fn the_chain_comes_back_as_console_messages_the_console_reassembles() {
    let mut agent = agent();
    let long_id = "a".repeat(128);
    let envelope = attest(1, &long_id, CHALLENGE).sign(&[&key(20)]).unwrap();
    agent.apply_instruction(&envelope, at(3)).unwrap();

    // What is not an answer is refused, and the action still awaits one.
    let mut short = answer();
    short.chain.truncate(1);
    let mut garbage = answer();
    garbage.chain[2] = b"not der".to_vec();
    let mut unsigned = answer();
    unsigned.certification.clear();
    let mut both = answer();
    both.strong_box_fallback = true;
    for (bad, field) in [
        (short, "chain"),
        (garbage, "chain[2]"),
        (unsigned, "certification"),
        (both, "strong_box_fallback"),
    ] {
        let e = agent.submit_attestation(&long_id, bad, at(4)).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
            "{e}"
        );
    }
    assert!(agent
        .submit_attestation("attest-unknown", answer(), at(4))
        .is_err());
    // Carried out only by its chain.
    assert!(agent
        .report_action_outcome(&long_id, ActionOutcome::CarriedOut, at(4))
        .is_err());
    assert_eq!(agent.actions_awaiting_outcome().len(), 1);

    let receipt = agent.submit_attestation(&long_id, answer(), at(4)).unwrap();
    assert_eq!(receipt.alerts.len(), 1);
    assert_eq!(
        receipt.alerts[0].finding.kind,
        AlertKind::InstructionOutcome
    );
    assert!(agent.actions_awaiting_outcome().is_empty());
    // Answered once.
    assert!(agent.submit_attestation(&long_id, answer(), at(5)).is_err());

    let messages = &receipt.messages();
    assert!(messages.len() > 1, "a chain needs several parts");
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(
            m.key,
            format!("{}{}", console::ATTESTATION_KEY_PREFIX, i + 1)
        );
        assert!(console::utf16_len(&m.key) <= MAX_KEY_UNITS);
        assert!(
            console::utf16_len(&m.data) <= MAX_DATA_UNITS,
            "part {} is {} units",
            i + 1,
            console::utf16_len(&m.data)
        );
    }
    // In any order, the console gets the chain back exactly.
    let mut datas: Vec<&str> = messages.iter().map(|m| m.data.as_str()).collect();
    datas.reverse();
    let back = assemble_attestation(&datas).unwrap();
    assert_eq!(back.chain, answer().chain);
    assert_eq!(back.certification, answer().certification);
    assert_eq!(back.challenge, CHALLENGE);
    assert_eq!(back.instruction_id, long_id);
    assert!(back.strong_box && !back.strong_box_fallback);
    let pem = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/attestation/caiman/sdk36/SB_EC_RKP.pem"),
    )
    .unwrap();
    let strip = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(strip(&back.chain_pem()), strip(&pem));

    // A missing part, a part of another attestation, or an altered chunk is refused.
    assert!(assemble_attestation(&datas[1..]).is_err());
    let tampered = datas[0].replacen("\"chunk\":\"", "\"chunk\":\"A", 1);
    let mut altered = datas.clone();
    altered[0] = &tampered;
    assert!(assemble_attestation(&altered).is_err());
}
