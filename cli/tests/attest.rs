//! End-to-end checks of `portcullis attest verify` on the real chains in
//! `../shared/attestation/` (beside the repository), and of the verdict's JSON Schema.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{
    attest_verify, contains_all, hex, json_of, portcullis, repo, shared_attestation as shared,
    stdout_of,
};

/// caiman SB_EC_RKP: a StrongBox key, remotely provisioned, bootloader locked, verified boot.
const CAIMAN_SB_CHALLENGE: &str = "7ccac1ea-4845-482e-858d-f6fa9aa8c295";
/// Its creation time: its Droid CA3 intermediate lived from 2025-09-24 to 2025-10-03.
const CAIMAN_SB_AT: &str = "2025-09-27T00:00:00Z";
/// The collector app's signing certificate.
const COLLECTOR_SIGNER: &str = "103938ee4537e59e8ee792f654504fb8346fc6b346d0bbc4415fc339fcfc8ec1";

fn caiman(extra: &[&str]) -> Output {
    caiman_with(&hex(CAIMAN_SB_CHALLENGE), extra)
}

fn caiman_with(challenge: &str, extra: &[&str]) -> Output {
    let args = [&["--now", CAIMAN_SB_AT][..], extra].concat();
    attest_verify("caiman/sdk36/SB_EC_RKP.pem", challenge, &args)
}

/// Checks OUT is a refusal (exit 1) whose first reason is REASON; returns the verdict.
fn refused(out: &Output, reason: &str) -> Value {
    let v = json_of(out, 1);
    assert_eq!(v["reasons"][0]["code"], reason, "{v:#}");
    v
}

fn schema_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(repo("docs/attestation-verdict.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid(verdict: &Value) {
    let validator = schema_validator();
    let errors: Vec<String> = validator
        .iter_errors(verdict)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{verdict:#}");
}

#[test]
fn a_strongbox_chain_verifies_with_its_app_and_says_what_it_proves() {
    let out = caiman(&[
        "--expect-package",
        "com.google.android.attestation",
        "--expect-signer",
        COLLECTOR_SIGNER,
        "--revocations",
        &shared("revocation-status-sample.json"),
        "--roots",
        &shared("roots.json"),
        "--format",
        "json",
    ]);
    let v = json_of(&out, 0);
    assert_valid(&v);
    assert_eq!(v["verified"], true);
    let d = &v["device"];
    assert_eq!(d["hardwareBacked"], true);
    assert_eq!(d["strongBox"], true);
    assert_eq!(d["bootVerified"], true);
    assert_eq!(d["bootloaderLocked"], true);
    assert_eq!(d["osVersion"], "16.0.0");
    assert_eq!(d["osPatchLevel"], "2025-11");
    assert_eq!(d["vendorPatchLevel"], "2025-11-05");
    assert_eq!(v["app"]["packageMatches"], true);
    assert_eq!(v["app"]["signerMatches"], true);
    assert_eq!(v["chain"]["provisioning"], "remote");
    assert_eq!(v["chain"]["revocationChecked"], true);
    assert_eq!(v["record"]["keyMintSecurityLevel"], "STRONG_BOX");

    // The text report says the same for a person.
    let text = stdout_of(&caiman(&[]), 0);
    assert!(
        text.starts_with("VERIFIED at 2025-09-27T00:00:00Z"),
        "{text}"
    );
    contains_all(
        &text,
        &["StrongBox:        yes", "revocation:       NOT checked"],
    );
}

#[test]
fn wrong_challenge_package_or_signer_is_refused_with_exit_1_and_the_reason() {
    let right = hex(CAIMAN_SB_CHALLENGE);
    let other_signer = "ab".repeat(32);
    for (challenge, extra, code) in [
        ("00", vec![], "challenge_mismatch"),
        (
            right.as_str(),
            vec!["--expect-package", "org.portcullis.agent"],
            "package_mismatch",
        ),
        (
            right.as_str(),
            vec!["--expect-signer", other_signer.as_str()],
            "signer_mismatch",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(["--format", "json"]);
        let v = refused(&caiman_with(challenge, &args), code);
        assert_valid(&v);
        assert_eq!(v["verified"], false, "{extra:?}");
        assert!(v.get("device").is_none(), "no device facts when refused");
    }
}

#[test]
fn an_expired_intermediate_or_an_untrusted_root_is_refused() {
    // Verified now (after 2025), the remotely provisioned intermediates have expired.
    let out = attest_verify(
        "akita/sdk34/TEE_EC_NONE.pem",
        &hex("challenge"),
        &["--format", "json"],
    );
    assert_valid(&refused(&out, "expired"));

    // Only the ECDSA 2026 root trusted: the RSA-rooted chains do not chain to it.
    let roots = repo("attest/roots/google-root-ec-p384-key-attestation-ca1-2025.pem");
    let out = caiman(&[
        "--roots",
        roots.to_str().unwrap(),
        "--replace-roots",
        "--format",
        "json",
    ]);
    refused(&out, "untrusted_root");
}

#[test]
fn software_attestation_is_refused() {
    let out = attest_verify(
        "marlin/sdk29/TEE_EC_NONE.pem",
        &hex("challenge"),
        &["--now", "2019-10-29T00:00:00Z", "--format", "json"],
    );
    refused(&out, "software_root");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let chain = shared("caiman/sdk36/SB_EC_RKP.pem");
    let not_pem = repo("README.md");
    let not_pem = not_pem.to_str().unwrap();
    for (chain, challenge, extra) in [
        (chain.as_str(), "abc", vec![]),
        (&chain, "zz", vec![]),
        (&chain, "00", vec!["--expect-signer", "abcd"]),
        (&chain, "00", vec!["--now", "yesterday"]),
        (not_pem, "00", vec![]),
        (&chain, "00", vec!["--revocations", not_pem]),
    ] {
        let mut args = vec![
            "attest",
            "verify",
            "--chain",
            chain,
            "--challenge",
            challenge,
        ];
        args.extend(extra);
        let out = portcullis(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("portcullis: "), "{stderr}");
    }
}

#[test]
fn the_committed_verdict_schema_is_the_generated_one() {
    let out = portcullis(&["attest", "schema"]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(repo("docs/attestation-verdict.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "regenerate: cargo run -q -p portcullis-cli -- attest schema > docs/attestation-verdict.schema.json"
    );
}
