//! End-to-end checks of `portcullis attest verify --platform ios` on the real App Attest
//! objects in attest/tests/vectors/appattest/, and of its verdict's JSON Schema.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{portcullis, repo};

fn vector(name: &str) -> String {
    let path = repo("attest/tests/vectors/appattest").join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path.to_str().unwrap().to_owned()
}

/// The iOS 14.4 object: its key id, App ID, client data (`wurzelpfropf`) and time.
const KEY_ID: &str = "YmbJO4x5nEHUvncp9zdWuVZjNBEMgJn3cdSToAXQe3M=";
const APP_ID: &str = "6MURL8TA57.de.vincent-haupert.apple-appattest-poc";
const CHALLENGE: &str = "7775727a656c7066726f7066";
const AT: &str = "2021-01-23T12:13:33Z";

/// Verifies the iOS 14.4 object with `replace` substituted for any flag's value.
fn ios(replace: &[(&str, &str)], extra: &[&str]) -> Output {
    let object = vector("ios-14.4-attestation.cbor");
    let mut pairs: Vec<(&str, String)> = vec![
        ("--attestation", object),
        ("--key-id", KEY_ID.into()),
        ("--challenge", CHALLENGE.into()),
        ("--expect-app-id", APP_ID.into()),
        ("--now", AT.into()),
    ];
    for (flag, value) in replace {
        match pairs.iter_mut().find(|(f, _)| f == flag) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => pairs.push((flag, (*value).to_owned())),
        }
    }
    let mut args: Vec<&str> = vec!["attest", "verify", "--platform", "ios"];
    for (flag, value) in &pairs {
        if !value.is_empty() {
            args.push(flag);
            args.push(value);
        }
    }
    args.extend_from_slice(extra);
    portcullis(&args)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn assert_valid(verdict: &Value) {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(repo("docs/app-attest-verdict.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(verdict)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{verdict:#}");
}

fn codes(verdict: &Value) -> Vec<String> {
    verdict["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_real_development_object_verifies_when_development_is_accepted() {
    let out = ios(&[], &["--allow-development", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let verdict = json(&out);
    assert_valid(&verdict);
    assert_eq!(verdict["platform"], "ios");
    assert_eq!(verdict["verified"], true);
    assert_eq!(verdict["environment"], "development");
    assert_eq!(verdict["key"]["keyId"], KEY_ID);
    assert_eq!(verdict["key"]["appId"], APP_ID);
    assert_eq!(
        verdict["chain"]["root"]["name"],
        "apple-app-attestation-root-ca"
    );
    // An iOS verdict is never Android evidence: it has no `device` section.
    assert!(verdict.get("device").is_none());

    let text = ios(&[], &["--allow-development"]);
    assert_eq!(text.status.code(), Some(0));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("VERIFIED (iOS App Attest) at 2021-01-23T12:13:33Z"),
        "{text}"
    );
    assert!(text.contains("environment:      development"), "{text}");
}

#[test]
fn the_same_object_is_refused_by_default_as_a_development_key() {
    let out = ios(&[], &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let verdict = json(&out);
    assert_valid(&verdict);
    assert_eq!(codes(&verdict), ["development_environment"]);
    assert!(verdict.get("key").is_none());
}

#[test]
fn client_data_from_a_file_and_base64_objects_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let client_data = dir.path().join("client-data");
    std::fs::write(&client_data, b"wurzelpfropf").unwrap();
    let object = std::fs::read(vector("ios-14.4-attestation.cbor")).unwrap();
    let b64 = dir.path().join("object.b64");
    use base64::Engine as _;
    std::fs::write(
        &b64,
        base64::engine::general_purpose::STANDARD.encode(&object) + "\n",
    )
    .unwrap();
    let out = ios(
        &[
            ("--challenge", ""),
            ("--client-data", client_data.to_str().unwrap()),
            ("--attestation", b64.to_str().unwrap()),
        ],
        &["--allow-development"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // URL-safe base64 without padding, as some apps send it.
    std::fs::write(
        &b64,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&object),
    )
    .unwrap();
    let out = ios(
        &[("--attestation", b64.to_str().unwrap())],
        &["--allow-development"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn each_wrong_expectation_is_refused_with_its_reason() {
    let cases: [(&str, &str, &str); 4] = [
        (
            "--expect-app-id",
            "6MURL8TA57.de.example.other",
            "app_id_mismatch",
        ),
        (
            "--challenge",
            "7775727a656c7066726f7067",
            "challenge_mismatch",
        ),
        (
            "--key-id",
            "2o0syRGn1HDKDv85d522XBC9nLqrHWHGnt/mJ5hWMQM=",
            "key_id_mismatch",
        ),
        ("--now", "2021-01-27T00:00:00Z", "expired"),
    ];
    for (flag, value, code) in cases {
        let out = ios(
            &[(flag, value)],
            &["--allow-development", "--format", "json"],
        );
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let verdict = json(&out);
        assert_valid(&verdict);
        assert_eq!(codes(&verdict), [code], "{flag}");
    }
}

#[test]
fn replacing_the_root_refuses_the_object() {
    let roots = repo("attest/roots/google-root-rsa4096-f92009e853b6b045-2022.pem");
    let out = ios(
        &[],
        &[
            "--allow-development",
            "--roots",
            roots.to_str().unwrap(),
            "--replace-roots",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(codes(&json(&out)), ["untrusted_root"]);
    // Adding a root keeps Apple's.
    let out = ios(
        &[],
        &["--allow-development", "--roots", roots.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    for (replace, extra, says) in [
        (vec![("--key-id", "not base64!")], vec![], "--key-id"),
        (vec![("--key-id", "AAAA")], vec![], "--key-id"),
        (
            vec![("--expect-app-id", "nodot")],
            vec![],
            "--expect-app-id",
        ),
        (vec![("--challenge", "abc")], vec![], "--challenge"),
        (vec![("--key-id", "")], vec![], "--key-id"),
        (
            vec![],
            vec!["--expect-package", "com.example"],
            "--expect-package",
        ),
        (
            vec![("--attestation", "/nonexistent/object")],
            vec![],
            "cannot read",
        ),
    ] {
        let out = ios(&replace, &extra);
        assert_eq!(out.status.code(), Some(2), "{replace:?} {extra:?}");
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
    }
    // An object that is not one: a refusal (exit 1), not a crash.
    let junk = dir.path().join("junk.cbor");
    std::fs::write(&junk, [0xa1, 0x63, b'f', b'm', b't']).unwrap();
    let out = ios(
        &[("--attestation", junk.to_str().unwrap())],
        &["--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let verdict = json(&out);
    assert_valid(&verdict);
    assert_eq!(codes(&verdict), ["malformed_attestation_object"]);
    // The Android path is unchanged, and refuses iOS options.
    let out = portcullis(&[
        "attest",
        "verify",
        "--chain",
        "x.pem",
        "--challenge",
        "00",
        "--key-id",
        KEY_ID,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--key-id does not apply to --platform android"));
}

#[test]
fn the_committed_ios_verdict_schema_is_the_generated_one() {
    let out = portcullis(&["attest", "schema", "--platform", "ios"]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(repo("docs/app-attest-verdict.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        committed,
        "regenerate: cargo run -q -p portcullis-cli -- attest schema --platform ios > docs/app-attest-verdict.schema.json"
    );
}
