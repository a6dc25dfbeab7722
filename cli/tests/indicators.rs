//! End-to-end checks of `portcullis indicators sign` and `indicators verify` with a
//! real public collection: signing, verification, co-signing under a root, and
//! refusals of altered, expired, mistyped or wrongly signed files.

use std::path::{Path, PathBuf};
use std::process::Output;

mod support;

use support::{fails, keygen, ok, p, portcullis, CHECKED, ISSUED};

/// A real public collection; fails (rather than skips) when the folder is missing.
fn collection(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators");
    let path = dir.join(format!("{name}.stix2"));
    assert!(
        path.is_file(),
        "the public indicator collections are needed at {} ({} is missing)",
        dir.display(),
        path.display()
    );
    path.to_string_lossy().into_owned()
}

fn sign(key: &str, input: &str, out: &str, extra: &[&str]) -> String {
    support::sign("indicators", key, input, out, extra)
}

fn verify(trust: &str, input: &str, now: &str) -> Output {
    portcullis(&[
        "indicators",
        "verify",
        "--trust",
        trust,
        "--in",
        input,
        "--now",
        now,
    ])
}

#[test]
fn a_public_collection_signs_and_verifies_and_a_flipped_byte_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "console");
    let signed = p(dir.path(), "predator.signed");
    let out = sign(
        &key,
        &collection("predator"),
        &signed,
        &["--collection", "predator", "--version", "7"],
    );
    assert!(out.contains("collection predator version 7"), "{out}");
    assert!(out.contains("585 indicator(s)"), "{out}");
    let key_body: String = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(
        !out.contains(&key_body[16..]),
        "sign printed the private key"
    );

    let result = verify(&public, &signed, CHECKED);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let out = String::from_utf8(result.stdout).unwrap();
    assert!(out.contains("valid signed indicator collection"), "{out}");
    assert!(out.contains("collection:  predator"), "{out}");
    assert!(out.contains("version:     7 (root version 1)"), "{out}");
    assert!(
        out.contains("expires:     2026-03-31T00:00:00Z"),
        "default lifetime 30 days: {out}"
    );
    assert!(out.contains("585 usable, 0 unparsed"), "{out}");
    assert!(out.contains("(1 of 1 required)"), "{out}");

    // Flipping one bit anywhere in the file makes verify fail, with one line.
    let good = std::fs::read(&signed).unwrap();
    let flipped = p(dir.path(), "flipped.signed");
    for pos in [
        0,
        20,
        good.len() / 3,
        good.len() / 2,
        good.len() - 40,
        good.len() - 1,
    ] {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        std::fs::write(&flipped, &bad).unwrap();
        fails(&[
            "indicators",
            "verify",
            "--trust",
            &public,
            "--in",
            &flipped,
            "--now",
            CHECKED,
        ]);
    }
}

#[test]
fn verify_fails_with_one_line_naming_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "console");
    let (_, other_public) = keygen(dir.path(), "other");
    let signed = p(dir.path(), "cellebrite.signed");
    sign(
        &key,
        &collection("cellebrite"),
        &signed,
        &["--collection", "cellebrite", "--expires-in", "14d"],
    );
    let check = |trust: &str, now: &str| {
        fails(&[
            "indicators",
            "verify",
            "--trust",
            trust,
            "--in",
            &signed,
            "--now",
            now,
        ])
    };
    let e = check(&public, "2026-03-15T00:00:00Z");
    assert!(
        e.contains("indicators verify") && e.contains("expired"),
        "{e}"
    );
    let e = check(&other_public, CHECKED);
    assert!(e.contains("not a policy key"), "{e}");
    // A policy bundle is not an indicator collection, nor the reverse.
    let bundle = p(dir.path(), "b.bundle");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/baseline.json");
    ok(&[
        "policy",
        "sign",
        "--key",
        &key,
        "--in",
        policy.to_str().unwrap(),
        "--out",
        &bundle,
        "--group",
        "all-staff",
        "--issued-at",
        ISSUED,
    ]);
    let e = fails(&[
        "indicators",
        "verify",
        "--trust",
        &public,
        "--in",
        &bundle,
        "--now",
        CHECKED,
    ]);
    assert!(e.contains("wrong payload type"), "{e}");
    let e = fails(&[
        "policy", "verify", "--trust", &public, "--in", &signed, "--now", CHECKED,
    ]);
    assert!(e.contains("wrong payload type"), "{e}");
    let e = fails(&[
        "indicators",
        "sign",
        "--key",
        &key,
        "--in",
        &bundle,
        "--out",
        &p(dir.path(), "x"),
    ]);
    assert!(e.contains("not a signed indicator collection"), "{e}");
}

#[test]
fn signing_refuses_what_phones_could_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path(), "console");
    let out = p(dir.path(), "x.signed");
    let sign_fails = |input: &str, extra: &[&str]| {
        let mut args = vec![
            "indicators",
            "sign",
            "--key",
            &key,
            "--in",
            input,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let e = sign_fails(&collection("cellebrite"), &[]);
    assert!(e.contains("--collection"), "a label is required: {e}");
    let e = sign_fails(&collection("cellebrite"), &["--collection", "a/b"]);
    assert!(e.contains("collection"), "{e}");
    let not_stix = p(dir.path(), "policy.json");
    std::fs::write(&not_stix, r#"{"type": "report", "objects": []}"#).unwrap();
    let e = sign_fails(&not_stix, &["--collection", "x"]);
    assert!(e.contains("not a STIX bundle"), "{e}");
    let e = sign_fails(
        &collection("cellebrite"),
        &["--collection", "x", "--expires-in", "3w"],
    );
    assert!(e.contains("--expires-in"), "{e}");
    assert!(!Path::new(&out).exists(), "nothing is written on a refusal");
}

#[test]
fn a_root_with_a_threshold_of_two_needs_a_co_signature() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (r1, r1_pub) = keygen(d, "root-1");
    let (pol, pol_pub) = keygen(d, "policy-1");
    let (pol2, pol2_pub) = keygen(d, "policy-2");
    let root_json = p(d, "root.json");
    ok(&[
        "root",
        "create",
        "--root-key",
        &r1_pub,
        "--policy-key",
        &pol_pub,
        "--policy-key",
        &pol2_pub,
        "--policy-threshold",
        "2",
        "--out",
        &root_json,
    ]);
    let root = p(d, "root.signed");
    ok(&[
        "root", "sign", "--key", &r1, "--in", &root_json, "--out", &root,
    ]);

    // A root key is not a policy key.
    let signed = p(d, "rcs.signed");
    let e = fails(&[
        "indicators",
        "sign",
        "--key",
        &r1,
        "--in",
        &collection("rcs"),
        "--collection",
        "rcs",
        "--root",
        &root,
        "--out",
        &signed,
    ]);
    assert!(e.contains("is not a policy key"), "{e}");

    let out = sign(
        &pol,
        &collection("rcs"),
        &signed,
        &["--collection", "rcs", "--root", &root, "--version", "1"],
    );
    assert!(out.contains("threshold not met"), "{out}");
    let e = fails(&[
        "indicators",
        "verify",
        "--trust",
        &root,
        "--in",
        &signed,
        "--now",
        CHECKED,
    ]);
    assert!(e.contains("threshold not met"), "{e}");
    // Co-signing takes only --key; the second holder adds theirs.
    let e = fails(&[
        "indicators",
        "sign",
        "--key",
        &pol2,
        "--in",
        &signed,
        "--out",
        &signed,
        "--version",
        "2",
    ]);
    assert!(e.contains("only --key"), "{e}");
    let out = ok(&[
        "indicators",
        "sign",
        "--key",
        &pol2,
        "--root",
        &root,
        "--in",
        &signed,
        "--out",
        &signed,
    ]);
    assert!(out.contains("2 signature(s)"), "{out}");
    assert!(!out.contains("threshold not met"), "{out}");
    let out = ok(&[
        "indicators",
        "verify",
        "--trust",
        &root,
        "--in",
        &signed,
        "--now",
        CHECKED,
    ]);
    assert!(out.contains("(2 of 2 required)"), "{out}");
    assert!(out.contains("40 usable"), "{out}");
}
