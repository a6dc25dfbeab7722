//! End-to-end checks of `portcullis keygen`, `policy ...` and `root ...` as a
//! security team runs them: keys, signing, verification, roots and rotation.

use std::path::{Path, PathBuf};

mod support;

use portcullis_core::policy::Policy;
use support::{
    console_keys, contains_all, fails, flipped_bits_fail, keygen, ok, p, pem_body, role,
    root_create, root_sign, sign_args, signed_file, verify_args, CHECKED,
};

fn policy(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(format!("{name}.json"))
        .to_string_lossy()
        .into_owned()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn sign(key: &str, input: &str, out: &str, extra: &[&str]) -> String {
    support::sign("policy", key, input, out, extra)
}

#[test]
fn keygen_writes_an_owner_only_private_key_and_prints_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = ok(&["keygen", "--out", keys.to_str().unwrap()]);
    let private = keys.join("portcullis-signing.key");
    let public = keys.join("portcullis-signing.pub");
    let private_text = std::fs::read_to_string(&private).unwrap();
    assert!(private_text.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&private).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let body = pem_body(&private_text);
    assert!(!out.contains(&body[16..]), "keygen printed the private key");
    assert!(out.contains("key id:"));
    // Keys are never overwritten.
    let again = fails(&["keygen", "--out", keys.to_str().unwrap()]);
    assert!(again.contains("already exists"), "{again}");
    assert_eq!(std::fs::read_to_string(&private).unwrap(), private_text);
}

#[test]
fn sign_then_verify_round_trips_and_the_summary_names_the_policy() {
    let (dir, key, public) = console_keys();
    let bundle = p(dir.path(), "baseline.bundle");
    sign(
        &key,
        &policy("baseline"),
        &bundle,
        &["--group", "all-staff", "--version", "7"],
    );
    let out = ok(&[
        &verify_args("policy", &public, &bundle, CHECKED)[..],
        &["--device", "dev-1", "--group", "all-staff"],
    ]
    .concat());
    contains_all(
        &out,
        &[
            "valid policy bundle",
            "baseline",
            "version:     7 (root version 1)",
            // The default lifetime: 30 days.
            "expires:     2026-03-31T00:00:00Z",
            "(matches)",
        ],
    );
}

#[test]
fn verify_fails_with_one_line_naming_the_check() {
    let file = signed_file(
        "policy",
        &policy("travel"),
        "b.bundle",
        &["--group", "trip-1", "--expires-in", "14d"],
    );
    let (public, other_public, bundle) = (
        file.public.as_str(),
        file.other_public.as_str(),
        file.signed.as_str(),
    );
    let verify = |trust: &str, now: &str, extra: &[&str]| {
        fails(&[&verify_args("policy", trust, bundle, now)[..], extra].concat())
    };
    let e = verify(public, "2026-03-20T00:00:00Z", &[]);
    assert!(e.contains("expired"), "{e}");
    let e = verify(public, CHECKED, &["--group", "all-staff"]);
    assert!(e.contains("out of scope"), "{e}");
    let e = verify(other_public, CHECKED, &[]);
    assert!(e.contains("not a policy key"), "{e}");
    // Flipping a byte anywhere in the bundle makes verify fail.
    flipped_bits_fail("policy", public, bundle);
}

#[test]
fn signing_refuses_invalid_input_and_never_prints_keys() {
    let (dir, key, _) = console_keys();
    let out = p(dir.path(), "x.bundle");
    let e = fails(&sign_args("policy", &key, &policy("baseline"), &out, &[]));
    assert!(e.contains("--group"), "scope is required: {e}");
    let broken = p(dir.path(), "broken.json");
    std::fs::write(&broken, r#"{"schema": "portcullis/policy/v1", "name": "x", "apps": {"mode": "ALLOWLIST", "colour": 1}}"#).unwrap();
    let e = fails(&sign_args("policy", &key, &broken, &out, &["--group", "g"]));
    assert!(e.contains("colour"), "names the field: {e}");
    // A damaged key file: the message names the file, not its content.
    let damaged = p(dir.path(), "damaged.key");
    let mut text = std::fs::read_to_string(&key).unwrap();
    text = text.replace("-----END PRIVATE KEY-----", "");
    std::fs::write(&damaged, &text).unwrap();
    let e = fails(&sign_args(
        "policy",
        &damaged,
        &policy("baseline"),
        &out,
        &["--group", "g"],
    ));
    assert!(e.contains("damaged.key"), "{e}");
    let body = pem_body(&text);
    assert!(!e.contains(&body[16..]));
    assert!(!Path::new(&out).exists());
}

#[test]
fn schema_command_prints_the_committed_schema_and_baselines_check() {
    let printed = ok(&["policy", "schema"]);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/policy.schema.json"),
    )
    .unwrap();
    assert!(
        printed == committed,
        "policies/policy.schema.json is stale: run `cargo run -q -p portcullis-cli -- policy schema > policies/policy.schema.json`"
    );
    for name in ["baseline", "election-sensitive", "travel"] {
        let out = ok(&["policy", "check", "--in", &policy(name)]);
        assert!(out.contains(&format!("valid policy \"{name}\"")), "{out}");
    }
}

fn root_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[test]
fn roots_threshold_signing_and_rotation() {
    let (_guard, d) = root_dir();
    let (r1, r1_pub) = keygen(&d, "root-1");
    let (r2, r2_pub) = keygen(&d, "root-2");
    let (pol, pol_pub) = keygen(&d, "policy-1");
    let (pol2, pol2_pub) = keygen(&d, "policy-2");
    let args = [
        role("root", &[&r1_pub, &r2_pub], "2"),
        role("policy", &[&pol_pub, &pol2_pub], "2"),
        vec!["--description", "Test office"],
    ]
    .concat();
    let root_json = root_create(&d, "root.json", &args);
    // Signed by one root key: not yet usable; the second signature completes it.
    let half = p(&d, "root.half");
    let out = root_sign(&[&r1], &root_json, &half);
    assert!(out.contains("not yet usable"), "{out}");
    let signed = p(&d, "root.signed");
    let out = root_sign(&[&r2], &half, &signed);
    assert!(out.contains("threshold is met"), "{out}");

    // A bundle needs both policy keys: co-signing adds the second.
    let bundle = p(&d, "b1");
    let out = sign(
        &pol,
        &policy("election-sensitive"),
        &bundle,
        &["--root", &signed, "--device", "dev-7", "--version", "1"],
    );
    assert!(out.contains("threshold not met"), "{out}");
    let e = fails(&verify_args("policy", &signed, &bundle, CHECKED));
    assert!(e.contains("threshold not met"), "{e}");
    let both = p(&d, "b2");
    ok(&sign_args("policy", &pol2, &bundle, &both, &[]));
    let out = ok(&[
        &verify_args("policy", &signed, &both, CHECKED)[..],
        &["--device", "dev-7"],
    ]
    .concat());
    assert!(out.contains("2 of 2 required"), "{out}");
    // A root key is not a policy key.
    let e = fails(&sign_args(
        "policy",
        &r1,
        &policy("baseline"),
        &p(&d, "x"),
        &["--root", &signed, "--group", "g"],
    ));
    assert!(e.contains("not a policy key"), "{e}");

    // Rotation to version 2: a new root key; signed by the old threshold and the new.
    let (r3, r3_pub) = keygen(&d, "root-3");
    let root2 = root_create(
        &d,
        "root2.json",
        &[
            "--version",
            "2",
            "--root-key",
            &r3_pub,
            "--policy-key",
            &pol_pub,
        ],
    );
    let root2_signed = p(&d, "root2.signed");
    root_sign(&[&r1, &r2, &r3], &root2, &root2_signed);
    let b3 = p(&d, "b3");
    sign(
        &pol,
        &policy("election-sensitive"),
        &b3,
        &[
            "--root",
            &root2_signed,
            "--device",
            "dev-7",
            "--version",
            "1",
        ],
    );
    let with_update = |update: &str| -> Vec<String> {
        [
            &verify_args("policy", &signed, &b3, CHECKED)[..],
            &["--root-update", update],
        ]
        .concat()
        .into_iter()
        .map(String::from)
        .collect()
    };
    let out = ok(&strs(&with_update(&root2_signed)));
    assert!(out.contains("(root version 2)"), "{out}");
    // Without the rotation the device refuses it; a rotation signed by the new key alone is refused.
    let e = fails(&verify_args("policy", &signed, &b3, CHECKED));
    assert!(
        e.contains("root version 2") || e.contains("threshold"),
        "{e}"
    );
    let rogue = p(&d, "rogue.signed");
    root_sign(&[&r3], &root2, &rogue);
    let e = fails(&strs(&with_update(&rogue)));
    assert!(e.contains("rogue.signed") && e.contains("threshold"), "{e}");
}

/// Google's "Managed configurations" sample policy (google/android-management-api-samples,
/// notebooks/managed_configurations.ipynb, Option 1), the notebook's variables filled in.
const GOOGLE_SAMPLE: &str = r#"{
    "applications": [
        {
            "installType": "FORCE_INSTALLED",
            "packageName": "com.google.samples.apps.iosched",
            "managedConfigurationTemplate": {
                "templateId": "mcm-example"
            }
        }
    ],
    "debuggingFeaturesAllowed": true
}"#;

#[test]
fn amapi_policies_import_with_a_report_and_export_back() {
    let dir = tempfile::tempdir().unwrap();
    let amapi = p(dir.path(), "amapi.json");
    std::fs::write(&amapi, GOOGLE_SAMPLE).unwrap();
    let imported = p(dir.path(), "imported.json");
    let out = support::portcullis(&[
        "policy", "import", "--from", "amapi", &amapi, "--out", &imported,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stderr).unwrap();
    assert!(
        report.contains("not applied: applications[0].managedConfigurationTemplate: "),
        "{report}"
    );
    assert!(report.contains("1 AMAPI field(s) not applied"), "{report}");
    assert!(ok(&["policy", "check", "--in", &imported]).contains("valid policy \"baseline\""));

    // The shipped policies go to AMAPI and come back the same with themselves as the base.
    for name in ["baseline", "election-sensitive", "travel"] {
        let exported = p(dir.path(), &format!("{name}.amapi.json"));
        let out = support::portcullis(&[
            "policy",
            "export",
            "--to",
            "amapi",
            &policy(name),
            "--out",
            &exported,
        ]);
        assert!(out.status.success());
        assert!(String::from_utf8(out.stderr)
            .unwrap()
            .contains("not exported: sim: "));
        let back = ok(&[
            "policy",
            "import",
            "--from",
            "amapi",
            &exported,
            "--base",
            &policy(name),
        ]);
        let original = Policy::from_json(&std::fs::read(policy(name)).unwrap()).unwrap();
        assert_eq!(
            Policy::from_json(back.as_bytes()).unwrap(),
            original,
            "{name}"
        );
    }
    let bad = p(dir.path(), "bad.json");
    std::fs::write(
        &bad,
        r#"{"applications": [{"packageName": "a.b", "installType": "SIDELOADED"}]}"#,
    )
    .unwrap();
    let err = fails(&["policy", "import", "--from", "amapi", &bad]);
    assert!(err.contains("applications[0].installType"), "{err}");
}
