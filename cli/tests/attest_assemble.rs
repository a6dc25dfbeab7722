//! `portcullis attest assemble`: an attestation's console messages, as the MDM reports
//! the keyed app states, back into the PEM chain that `attest verify` reads. The chain
//! is a real one from `../shared/attestation/`, cut into parts by the core.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use portcullis_core::console::{self, AttestationSubmission};
use portcullis_core::Timestamp;
use serde_json::{json, Value};
use support::{contains_all, hex, portcullis, stdout_of};

fn shared(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/attestation")
        .join(rel);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// caiman SB_EC_RKP and the challenge its record holds.
const CHALLENGE: &str = "7ccac1ea-4845-482e-858d-f6fa9aa8c295";

fn der_chain(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    pem.split("-----BEGIN CERTIFICATE-----")
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

fn messages() -> (String, Vec<Value>) {
    let pem = std::fs::read_to_string(shared("caiman/sdk36/SB_EC_RKP.pem")).unwrap();
    let sub = AttestationSubmission {
        instruction_id: "attest-7".into(),
        challenge: CHALLENGE.as_bytes().to_vec(),
        chain: der_chain(&pem),
        certification: vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02],
        strong_box: true,
        strong_box_fallback: false,
    };
    let at = Timestamp::from_unix_millis(1_758_931_200_000);
    let mut out: Vec<Value> = console::attestation(&sub, at)
        .into_iter()
        .map(|m| json!({"key": m.key, "severity": m.severity.as_str(), "message": m.message, "data": m.data}))
        .collect();
    assert!(out.len() > 1, "a chain takes several parts");
    // Reported in another order, among the device's other keyed app states.
    out.reverse();
    out.insert(
        1,
        json!({"key": "portcullis.status", "severity": "info", "message": "ok", "data": "{}"}),
    );
    (pem, out)
}

/// Runs `attest assemble` on the MESSAGES file, writing the chain to OUT.
fn assemble(messages: &Path, out: &Path) -> Output {
    portcullis(&[
        "attest",
        "assemble",
        "--messages",
        messages.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn strip(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn the_parts_become_the_chain_and_it_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, list) = messages();
    let file = dir.path().join("messages.json");
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let out_pem = dir.path().join("chain.pem");
    let out = assemble(&file, &out_pem);
    let text = stdout_of(&out, 0);
    assert_eq!(
        strip(&std::fs::read_to_string(&out_pem).unwrap()),
        strip(&pem)
    );
    let challenge_hex = hex(CHALLENGE);
    contains_all(
        &text,
        &[
            &format!("challenge:      {challenge_hex}"),
            "5 certificate(s)",
            "certification:  3006020101020102",
        ],
    );

    // What it wrote is what `attest verify` reads.
    let verify = portcullis(&[
        "attest",
        "verify",
        "--chain",
        out_pem.to_str().unwrap(),
        "--challenge",
        &challenge_hex,
        "--now",
        "2025-09-27T00:00:00Z",
    ]);
    assert_eq!(verify.status.code(), Some(0));

    // JSON lines read the same.
    let lines: String = list.iter().map(|m| format!("{m}\n")).collect();
    std::fs::write(&file, lines).unwrap();
    assert_eq!(assemble(&file, &out_pem).status.code(), Some(0));
}

#[test]
fn a_missing_or_altered_part_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, list) = messages();
    let file = dir.path().join("messages.json");
    let out_pem = dir.path().join("chain.pem");
    let run = |list: &[Value]| {
        std::fs::write(&file, serde_json::to_vec(list).unwrap()).unwrap();
        assemble(&file, &out_pem)
    };
    let mut missing = list.clone();
    missing.remove(0);
    let out = run(&missing);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("attestation parts"));

    let mut altered = list.clone();
    let data = altered[0]["data"]
        .as_str()
        .unwrap()
        .replacen("\"chunk\":\"", "\"chunk\":\"A", 1);
    altered[0]["data"] = Value::from(data);
    assert_eq!(run(&altered).status.code(), Some(2));

    let none: Vec<Value> = vec![json!({"key": "portcullis.status", "data": "{}"})];
    let out = run(&none);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no message with a key"));
    assert!(!out_pem.exists(), "nothing is written on a refusal");
}
