//! End-to-end checks of `portcullis indicators sign` and `indicators verify` with a
//! real public collection: signing, verification, co-signing under a root, and
//! refusals of altered, expired, mistyped or wrongly signed files.

use std::path::{Path, PathBuf};

mod support;

use support::{
    console_keys, contains_all, fails, flipped_bits_fail, keygen, ok, p, pem_body, role,
    root_create, root_sign, sign_args, signed_file, verify_args, SignedFile, CHECKED,
};

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

/// `indicators verify` of INPUT trusting TRUST at NOW, which must fail; its one-line reason.
fn verify_fails(trust: &str, input: &str, now: &str) -> String {
    fails(&verify_args("indicators", trust, input, now))
}

#[test]
fn a_public_collection_signs_and_verifies_and_a_flipped_byte_fails() {
    let (dir, key, public) = console_keys();
    let signed = p(dir.path(), "predator.signed");
    let out = sign(
        &key,
        &collection("predator"),
        &signed,
        &["--collection", "predator", "--version", "7"],
    );
    assert!(out.contains("collection predator version 7"), "{out}");
    assert!(out.contains("585 indicator(s)"), "{out}");
    let key_body = pem_body(&std::fs::read_to_string(&key).unwrap());
    assert!(
        !out.contains(&key_body[16..]),
        "sign printed the private key"
    );

    let out = ok(&verify_args("indicators", &public, &signed, CHECKED));
    contains_all(
        &out,
        &[
            "valid signed indicator collection",
            "collection:  predator",
            "version:     7 (root version 1)",
            // The default lifetime: 30 days.
            "expires:     2026-03-31T00:00:00Z",
            "585 usable, 0 unparsed",
            "(1 of 1 required)",
        ],
    );

    // Flipping one bit anywhere in the file makes verify fail, with one line.
    flipped_bits_fail("indicators", &public, &signed);
}

#[test]
fn verify_fails_with_one_line_naming_the_check() {
    let SignedFile {
        dir,
        key,
        public,
        other_public,
        signed,
    } = signed_file(
        "indicators",
        &collection("cellebrite"),
        "cellebrite.signed",
        &["--collection", "cellebrite", "--expires-in", "14d"],
    );
    let e = verify_fails(&public, &signed, "2026-03-15T00:00:00Z");
    assert!(
        e.contains("indicators verify") && e.contains("expired"),
        "{e}"
    );
    let e = verify_fails(&other_public, &signed, CHECKED);
    assert!(e.contains("not a policy key"), "{e}");
    // A policy bundle is not an indicator collection, nor the reverse.
    let bundle = p(dir.path(), "b.bundle");
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/baseline.json");
    support::sign(
        "policy",
        &key,
        policy.to_str().unwrap(),
        &bundle,
        &["--group", "all-staff"],
    );
    let e = verify_fails(&public, &bundle, CHECKED);
    assert!(e.contains("wrong payload type"), "{e}");
    let e = fails(&verify_args("policy", &public, &signed, CHECKED));
    assert!(e.contains("wrong payload type"), "{e}");
    let e = fails(&sign_args(
        "indicators",
        &key,
        &bundle,
        &p(dir.path(), "x"),
        &[],
    ));
    assert!(e.contains("not a signed indicator collection"), "{e}");
}

#[test]
fn signing_refuses_what_phones_could_not_load() {
    let (dir, key, _) = console_keys();
    let out = p(dir.path(), "x.signed");
    let sign_fails =
        |input: &str, extra: &[&str]| fails(&sign_args("indicators", &key, input, &out, extra));
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
    let policy_role = role("policy", &[&pol_pub, &pol2_pub], "2");
    let args = [&["--root-key", &r1_pub][..], &policy_role].concat();
    let root_json = root_create(d, "root.json", &args);
    let root = p(d, "root.signed");
    root_sign(&[&r1], &root_json, &root);

    // A root key is not a policy key.
    let signed = p(d, "rcs.signed");
    let e = fails(&sign_args(
        "indicators",
        &r1,
        &collection("rcs"),
        &signed,
        &["--collection", "rcs", "--root", &root],
    ));
    assert!(e.contains("is not a policy key"), "{e}");

    let out = sign(
        &pol,
        &collection("rcs"),
        &signed,
        &["--collection", "rcs", "--root", &root, "--version", "1"],
    );
    assert!(out.contains("threshold not met"), "{out}");
    let e = verify_fails(&root, &signed, CHECKED);
    assert!(e.contains("threshold not met"), "{e}");
    // Co-signing takes only --key; the second holder adds theirs.
    let e = fails(&sign_args(
        "indicators",
        &pol2,
        &signed,
        &signed,
        &["--version", "2"],
    ));
    assert!(e.contains("only --key"), "{e}");
    let out = ok(&sign_args(
        "indicators",
        &pol2,
        &signed,
        &signed,
        &["--root", &root],
    ));
    assert!(out.contains("2 signature(s)"), "{out}");
    assert!(!out.contains("threshold not met"), "{out}");
    let out = ok(&verify_args("indicators", &root, &signed, CHECKED));
    assert!(out.contains("(2 of 2 required)"), "{out}");
    assert!(out.contains("40 usable"), "{out}");
}
