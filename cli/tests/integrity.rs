//! Device integrity end to end, on the real chains in `../shared/attestation/`:
//! `portcullis attest verify --format json` gives a verdict, and
//! `portcullis evaluate --attestation VERDICT.json` judges the policy's
//! `deviceIntegrity` rules on it.

mod support;

use std::path::Path;
use std::process::Output;

use portcullis_attest::{verify, Expectations, TrustAnchors, VerifyOptions};
use serde_json::{json, Value};
use support::{attest_verify, hex, portcullis, repo, shared_attestation as shared};

/// A policy with every integrity rule, on top of the election-sensitive baseline.
fn policy(dir: &Path, integrity: Value) -> String {
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(repo("policies/election-sensitive.json")).unwrap())
            .unwrap();
    doc["deviceIntegrity"] = integrity;
    let path = dir.join("policy.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn all_rules() -> Value {
    json!({
        "requireHardwareBackedKey": true,
        "requireStrongBox": true,
        "requireVerifiedBoot": true,
        "requireLockedBootloader": true,
        "maxAttestedPatchAgeDays": 120,
        "requireAttestationWithinDays": 30
    })
}

/// Runs `attest verify` on a chain (a file of `../shared/attestation/`) with its
/// challenge and time, and EXTRA arguments.
fn attest_at((file, challenge, at): Chain, extra: &[&str]) -> Output {
    let args = [&["--now", at][..], extra].concat();
    attest_verify(file, &hex(challenge), &args)
}

/// Runs `attest verify --format json` on CHAIN, checks that it exits with CODE, and keeps
/// the verdict in DIR as NAME; returns the verdict's path.
fn attest(dir: &Path, name: &str, chain: Chain, code: i32) -> String {
    let out = attest_at(chain, &["--format", "json"]);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", chain.0);
    path.to_str().unwrap().to_owned()
}

/// Evaluates as `evaluate` does and checks the phone is found not compliant (exit 3).
fn not_compliant(policy: &str, attestation: Option<&str>, at: &str) -> Value {
    let (code, report) = evaluate(policy, attestation, at);
    assert_eq!(code, Some(3));
    report
}

fn evaluate(policy: &str, attestation: Option<&str>, at: &str) -> (Option<i32>, Value) {
    let snapshot = repo("core/tests/data/compliance/pixel-compliant.json");
    let mut args = vec![
        "evaluate",
        "--format",
        "json",
        "--policy",
        policy,
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--at",
        at,
    ];
    if let Some(a) = attestation {
        args.extend_from_slice(&["--attestation", a]);
    }
    let out = portcullis(&args);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

/// The integrity verdicts as `rule -> (status, reasons, unobserved)`.
fn integrity(report: &Value) -> Vec<(String, String, Vec<String>)> {
    report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["rule"].as_str().unwrap().starts_with("deviceIntegrity."))
        .map(|v| {
            let codes = |k: &str| {
                v[k].as_array()
                    .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default()
            };
            let mut detail: Vec<String> = codes("reasons");
            detail.extend(codes("unobserved"));
            (
                v["rule"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("deviceIntegrity.")
                    .to_owned(),
                v["status"].as_str().unwrap().to_owned(),
                detail,
            )
        })
        .collect()
}

fn broken(report: &Value) -> Vec<(String, Vec<String>)> {
    integrity(report)
        .into_iter()
        .filter(|(_, status, _)| status != "COMPLIANT")
        .map(|(rule, _, detail)| (rule, detail))
        .collect()
}

fn remediations(report: &Value) -> Vec<String> {
    report["mdmRemediations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["route"], "MDM");
            format!(
                "{} {}",
                r["remediation"].as_str().unwrap(),
                r["rule"].as_str().unwrap()
            )
        })
        .collect()
}

fn pair(rule: &str, codes: &[&str]) -> (String, Vec<String>) {
    (
        rule.to_owned(),
        codes.iter().map(|c| (*c).to_owned()).collect(),
    )
}

/// A chain of `../shared/attestation/`, the challenge it was made with, and a time to
/// verify it at.
type Chain = (&'static str, &'static str, &'static str);

/// A chain made with the challenge "challenge", verified at AT.
const fn chain(file: &'static str, at: &'static str) -> Chain {
    (file, "challenge", at)
}

/// caiman SB_EC_RKP: StrongBox, locked, verified, patch 2025-11, made 2025-09-26.
const CAIMAN: Chain = (
    "caiman/sdk36/SB_EC_RKP.pem",
    "7ccac1ea-4845-482e-858d-f6fa9aa8c295",
    "2025-09-27T00:00:00Z",
);
/// akita TEE_EC_NONE: a Pixel 8a with its bootloader unlocked, a TEE key, patch 2024-08.
const AKITA: Chain = chain("akita/sdk34/TEE_EC_NONE.pem", "2024-09-27T00:00:00Z");
/// blueline SB_RSA_NONE: made 2020-08-29 on a phone at patch level 2019-08.
const BLUELINE: Chain = chain("blueline/sdk28/SB_RSA_NONE.pem", "2020-08-30T00:00:00Z");
/// marlin TEE_EC_NONE: software attestation (Android 10 fell back to its software keystore).
const MARLIN: Chain = chain("marlin/sdk29/TEE_EC_NONE.pem", "2019-10-29T00:00:00Z");

#[test]
fn a_strongbox_pixel_complies_and_a_month_later_its_attestation_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), all_rules());
    let verdict = attest(dir.path(), "caiman", CAIMAN, 0);

    let (_, report) = evaluate(&policy, Some(&verdict), "2025-09-28T00:00:00Z");
    assert_eq!(
        report["sections"]["deviceIntegrity"], "COMPLIANT",
        "{report:#}"
    );
    let rules: Vec<String> = integrity(&report).into_iter().map(|v| v.0).collect();
    assert_eq!(
        rules,
        [
            "attestation",
            "requireAttestationWithinDays",
            "requireHardwareBackedKey",
            "requireStrongBox",
            "requireVerifiedBoot",
            "requireLockedBootloader",
            "maxAttestedPatchAgeDays"
        ]
    );
    assert!(remediations(&report).is_empty());

    // 30 days after verification it still counts; a day later it is stale.
    let (_, report) = evaluate(&policy, Some(&verdict), "2025-10-27T00:00:00Z");
    assert_eq!(report["sections"]["deviceIntegrity"], "COMPLIANT");
    let report = not_compliant(&policy, Some(&verdict), "2025-10-28T00:00:01Z");
    assert_eq!(report["sections"]["deviceIntegrity"], "NON_COMPLIANT");
    assert_eq!(
        broken(&report),
        [pair("requireAttestationWithinDays", &["ATTESTATION_STALE"])]
    );
    assert_eq!(
        remediations(&report),
        ["REATTEST deviceIntegrity.requireAttestationWithinDays"]
    );
    let alert = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "deviceIntegrity.requireAttestationWithinDays")
        .expect("a violation alert");
    assert_eq!(alert["kind"], "compliance_violation");
}

#[test]
fn an_unlocked_pixel_with_a_tee_key_breaks_boot_bootloader_and_strongbox_rules() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), all_rules());
    // The chain itself verifies.
    let verdict = attest(dir.path(), "akita", AKITA, 0);
    let report = not_compliant(&policy, Some(&verdict), "2024-09-28T00:00:00Z");
    assert_eq!(
        broken(&report),
        [
            pair("requireStrongBox", &["KEY_NOT_IN_STRONG_BOX"]),
            pair("requireVerifiedBoot", &["BOOT_NOT_VERIFIED"]),
            pair("requireLockedBootloader", &["BOOTLOADER_UNLOCKED"]),
        ]
    );
    assert_eq!(
        remediations(&report),
        [
            "REPLACE_DEVICE deviceIntegrity.requireStrongBox",
            "RESTORE_STOCK_FIRMWARE deviceIntegrity.requireVerifiedBoot",
            "RESTORE_STOCK_FIRMWARE deviceIntegrity.requireLockedBootloader",
        ]
    );
    let critical = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["rule"] == "deviceIntegrity.requireLockedBootloader")
        .unwrap();
    assert_eq!(critical["severity"], "critical");
}

#[test]
fn an_old_attested_patch_level_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(
        dir.path(),
        json!({"requireHardwareBackedKey": true, "maxAttestedPatchAgeDays": 90}),
    );
    let verdict = attest(dir.path(), "blueline", BLUELINE, 0);
    let report = not_compliant(&policy, Some(&verdict), "2020-08-30T00:00:00Z");
    assert_eq!(
        broken(&report),
        [pair(
            "maxAttestedPatchAgeDays",
            &["ATTESTED_PATCH_LEVEL_TOO_OLD"]
        )]
    );
    assert_eq!(
        remediations(&report),
        ["UPDATE_SYSTEM deviceIntegrity.maxAttestedPatchAgeDays"]
    );
    // Within 90 days of 2019-08-01 the same evidence passes.
    let (_, report) = evaluate(&policy, Some(&verdict), "2019-10-01T00:00:00Z");
    assert!(broken(&report).is_empty(), "{:?}", broken(&report));
}

#[test]
fn a_software_only_key_is_not_hardware_backed_and_a_refused_chain_is_not_verified() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(
        dir.path(),
        json!({"requireHardwareBackedKey": true, "requireLockedBootloader": true}),
    );
    // Under the Google roots the console refuses the software attestation outright...
    let refused = attest(dir.path(), "marlin", MARLIN, 1);
    let report = not_compliant(&policy, Some(&refused), "2019-10-29T00:00:00Z");
    assert_eq!(
        broken(&report),
        [
            pair("attestation", &["ATTESTATION_NOT_VERIFIED"]),
            pair("requireHardwareBackedKey", &["attestation"]),
            pair("requireLockedBootloader", &["attestation"]),
        ]
    );

    // ...and a console that trusts the software roots (a development setup) gets a
    // verified verdict that still says the key is not hardware-backed.
    let pem = std::fs::read(shared("marlin/sdk29/TEE_EC_NONE.pem")).unwrap();
    let chain = portcullis_attest::decode_pem_chain(&pem).unwrap();
    let mut options = VerifyOptions {
        allow_software_root: true,
        ..VerifyOptions::default()
    };
    options.anchors.extend(TrustAnchors::software_roots());
    let expect = Expectations {
        challenge: b"challenge".to_vec(),
        ..Expectations::default()
    };
    let at = jiff::Timestamp::from_second(1_572_308_512).unwrap();
    let v = verify(&chain, &options, &expect, at);
    assert!(v.verified, "{:?}", v.reasons);
    let path = dir.path().join("software.json");
    std::fs::write(&path, v.to_json_pretty()).unwrap();
    let report = not_compliant(&policy, path.to_str(), "2019-10-30T00:00:00Z");
    let broken = broken(&report);
    assert!(
        broken.contains(&pair(
            "requireHardwareBackedKey",
            &["KEY_NOT_HARDWARE_BACKED"]
        )),
        "{broken:?}"
    );
    assert!(!broken.iter().any(|(rule, _)| rule == "attestation"));
    assert!(remediations(&report)
        .contains(&"REPLACE_DEVICE deviceIntegrity.requireHardwareBackedKey".to_owned()));
}

#[test]
fn without_a_verdict_the_rules_are_unknown_and_a_bad_verdict_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), all_rules());
    let report = not_compliant(&policy, None, "2025-09-28T00:00:00Z");
    assert_eq!(report["sections"]["deviceIntegrity"], "UNKNOWN");
    assert!(integrity(&report)
        .iter()
        .all(|(_, status, detail)| status == "UNKNOWN" && detail == &["attestation"]));
    assert!(remediations(&report)
        .iter()
        .all(|r| r.starts_with("REATTEST ")));

    // A policy without integrity rules shows no such section.
    let plain = repo("policies/election-sensitive.json");
    let (_, report) = evaluate(plain.to_str().unwrap(), None, "2025-09-28T00:00:00Z");
    assert!(report["sections"].get("deviceIntegrity").is_none());

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        br#"{"verified": true, "verifiedAt": "2025-09-27T00:00:00Z"}"#,
    )
    .unwrap();
    let snapshot = repo("core/tests/data/compliance/pixel-compliant.json");
    let out = portcullis(&[
        "evaluate",
        "--policy",
        &policy,
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--attestation",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`device` is missing"), "{err}");
}

#[test]
fn the_checkpoint_key_link_is_checked_against_the_real_leaf_and_refused_when_forged() {
    // The caiman leaf is a real P-256 key; no one here holds its private half, so every
    // certification offered for it is a forgery and must be refused. (The accepting path
    // is the attest crate's unit test, with a key made for it.)
    let key = "11".repeat(32);
    let forged = "3044022011111111111111111111111111111111111111111111111111111111111111110220222222222222222222222222222222222222222222222222222222222222222222";
    let out = attest_at(
        CAIMAN,
        &[
            "--format",
            "json",
            "--checkpoint-key",
            &key,
            "--certification",
            forged,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let verdict: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["checkpointKeyCertified"], false);
    assert_eq!(
        verdict["reasons"][0]["code"],
        "checkpoint_key_not_certified"
    );
    assert!(verdict.get("device").is_none());
    // Without the link, the same chain verifies; a key that is not 32 bytes is bad input.
    attest(tempfile::tempdir().unwrap().path(), "c", CAIMAN, 0);
    let out = attest_at(
        CAIMAN,
        &["--checkpoint-key", "1111", "--certification", forged],
    );
    assert_eq!(out.status.code(), Some(2));
}
