//! Test inputs from `../shared/attestation/` (beside the repository): real Android
//! key-attestation chains, each `NAME.pem` with the reference verifier's parse `NAME.json`.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};

use base64::Engine as _;
use jiff::Timestamp;
use portcullis_attest::{decode_pem_chain, Expectations, TrustAnchors, VerifyOptions};
use serde_json::Value;

/// `../shared/attestation/`, relative to the repository root.
pub(crate) fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/attestation");
    assert!(
        dir.is_dir(),
        "the test chains live in ../shared/attestation/ beside the repository: {} is missing",
        dir.display()
    );
    dir
}

/// One chain with its reference record.
pub(crate) struct Case {
    /// `model/sdkNN/NAME`.
    pub name: String,
    pub chain: Vec<Vec<u8>>,
    pub reference: Value,
}

impl Case {
    /// The key's creation time: the reference verifier's tests verify each chain then.
    pub(crate) fn created(&self) -> Timestamp {
        let ms = self.reference["softwareEnforced"]["creationDateTime"]
            .as_str()
            .or_else(|| self.reference["hardwareEnforced"]["creationDateTime"].as_str())
            .expect("every reference record has a creation time");
        Timestamp::from_millisecond(ms.parse().unwrap()).unwrap()
    }

    /// The challenge the record holds (the one the collector app used).
    pub(crate) fn challenge(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(self.reference["attestationChallenge"].as_str().unwrap())
            .unwrap()
    }

    /// Software-attested chains (marlin, Android 10 userdebug) end in the Android
    /// software root.
    pub(crate) fn is_software(&self) -> bool {
        self.reference["attestationSecurityLevel"] == "SOFTWARE"
    }

    /// Options under which the chain must verify: the built-in roots, plus the software
    /// roots for software-attested chains (as the reference verifier's own test does).
    pub(crate) fn options(&self) -> VerifyOptions {
        let mut options = VerifyOptions::default();
        if self.is_software() {
            options.anchors.extend(TrustAnchors::software_roots());
            options.allow_software_root = true;
        }
        options
    }

    pub(crate) fn expectations(&self) -> Expectations {
        Expectations {
            challenge: self.challenge(),
            package: None,
            signer: None,
        }
    }
}

/// Every `model/sdkNN/NAME.pem` with its `NAME.json`, sorted by name.
pub(crate) fn cases() -> Vec<Case> {
    let root = shared();
    let mut out = Vec::new();
    for model in std::fs::read_dir(&root).unwrap() {
        let model = model.unwrap().path();
        if !model.is_dir() || model.file_name().unwrap() == "invalid" {
            continue;
        }
        for sdk in std::fs::read_dir(&model).unwrap() {
            let sdk = sdk.unwrap().path();
            if !sdk.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&sdk).unwrap() {
                let pem = file.unwrap().path();
                if pem.extension().and_then(|e| e.to_str()) != Some("pem") {
                    continue;
                }
                let json = pem.with_extension("json");
                let reference: Value =
                    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
                let chain = decode_pem_chain(&std::fs::read(&pem).unwrap()).unwrap();
                let name = pem
                    .strip_prefix(&root)
                    .unwrap()
                    .with_extension("")
                    .to_string_lossy()
                    .into_owned();
                out.push(Case {
                    name,
                    chain,
                    reference,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 14, "found only {} chains", out.len());
    out
}

/// A chain file from the shared folder, decoded.
pub(crate) fn chain(rel: &str) -> Vec<Vec<u8>> {
    decode_pem_chain(&std::fs::read(shared().join(rel)).unwrap()).unwrap()
}

/// Fields whose arrays are sets in the reference model (order does not matter).
const SET_FIELDS: &[&str] = &[
    "purposes",
    "blockModes",
    "digests",
    "paddings",
    "rsaOaepMgfDigests",
    "packages",
    "signatures",
];

/// Compares `ours` with `theirs` field by field; returns every difference by path.
pub(crate) fn diff(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&p, x, y, out),
                    (Some(x), None) => out.push(format!("{p}: ours {x}, absent in the reference")),
                    (None, Some(y)) => out.push(format!("{p}: absent in ours, reference {y}")),
                    (None, None) => unreachable!(),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let field = path.rsplit('.').next().unwrap_or_default();
            let (mut a, mut b) = (a.clone(), b.clone());
            if SET_FIELDS.contains(&field) {
                a.sort_by_key(std::string::ToString::to_string);
                b.sort_by_key(std::string::ToString::to_string);
            }
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: {} elements, reference {}",
                    a.len(),
                    b.len()
                ));
                return;
            }
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (x, y) if x == y => {}
        (x, y) => out.push(format!("{path}: ours {x}, reference {y}")),
    }
}
