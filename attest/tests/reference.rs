//! The real chains in `../shared/attestation/`: every one verifies, and its parsed
//! record equals the reference verifier's `NAME.json` field by field; the invalid ones
//! are refused with their reason.

mod support;

use jiff::Timestamp;
use portcullis_attest::chain::{self, PathOptions};
use portcullis_attest::{
    parse_key_description, verify, Expectations, Reason, TrustAnchors, VerifyOptions,
};
use support::{cases, chain, diff};

#[test]
fn every_chain_verifies_and_its_record_equals_the_reference_field_by_field() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let verdict = verify(
            &case.chain,
            &case.options(),
            &case.expectations(),
            case.created(),
        );
        if !verdict.verified {
            failures.push(format!("{}: refused: {:?}", case.name, verdict.reasons));
            continue;
        }
        let ours = serde_json::to_value(verdict.record.as_ref().unwrap()).unwrap();
        let mut diffs = Vec::new();
        diff("", &ours, &case.reference, &mut diffs);
        for d in diffs {
            failures.push(format!("{}: {d}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} chains:\n{}",
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn verdicts_state_what_the_records_prove() {
    for case in cases() {
        let v = verify(
            &case.chain,
            &case.options(),
            &case.expectations(),
            case.created(),
        );
        let d = v.device.as_ref().unwrap();
        let r = &case.reference;
        let rot = &r["hardwareEnforced"]["rootOfTrust"];
        assert_eq!(
            d.boot_verified,
            rot["verifiedBootState"] == "VERIFIED",
            "{}",
            case.name
        );
        assert_eq!(
            d.bootloader_locked,
            rot["deviceLocked"] == true,
            "{}",
            case.name
        );
        assert_eq!(d.hardware_backed, !case.is_software(), "{}", case.name);
        let sb = r["keyMintSecurityLevel"] == "STRONG_BOX";
        assert_eq!(d.strong_box, sb, "{}", case.name);
        assert_eq!(v.challenge_matches, Some(true));
        let chain = v.chain.as_ref().unwrap();
        assert_eq!(chain.certificates.len(), case.chain.len());
        assert!(chain.root.is_some());
        // The JSON output is valid against the committed schema (checked in schema.rs).
    }
}

#[test]
fn software_attested_chains_are_refused_under_the_builtin_roots() {
    let software: Vec<_> = cases()
        .into_iter()
        .filter(support::Case::is_software)
        .collect();
    assert_eq!(software.len(), 2);
    for case in software {
        let v = verify(
            &case.chain,
            &VerifyOptions::default(),
            &case.expectations(),
            case.created(),
        );
        assert!(!v.verified);
        assert_eq!(
            v.first_reason(),
            Some(Reason::SoftwareRoot),
            "{}: {:?}",
            case.name,
            v.reasons
        );
        // Adding the software roots is not enough: it must be asked for.
        let mut options = VerifyOptions::default();
        options.anchors.extend(TrustAnchors::software_roots());
        let v = verify(&case.chain, &options, &case.expectations(), case.created());
        assert_eq!(v.first_reason(), Some(Reason::SoftwareRoot));
    }
}

#[test]
fn the_shared_roots_json_holds_the_builtin_roots_including_the_2026_root() {
    let bytes = std::fs::read(support::shared().join("roots.json")).unwrap();
    let shared = TrustAnchors::from_roots_json(&bytes).unwrap();
    let builtin = TrustAnchors::builtin();
    let fps = |t: &TrustAnchors| t.iter().map(|a| a.fingerprint.clone()).collect::<Vec<_>>();
    assert_eq!(fps(&shared), fps(&builtin));
    assert!(shared
        .iter()
        .any(|a| a.subject.contains("Key Attestation CA1")));
    // Replacing the built-in roots with the file verifies the same chains.
    for case in cases().iter().filter(|c| !c.is_software()) {
        let options = VerifyOptions {
            anchors: TrustAnchors::from_roots_json(&bytes).unwrap(),
            ..VerifyOptions::default()
        };
        let v = verify(&case.chain, &options, &case.expectations(), case.created());
        assert!(v.verified, "{}: {:?}", case.name, v.reasons);
    }
}

#[test]
fn invalid_chains_are_refused_with_their_reason() {
    // Each file in invalid/ with the reasons it is refused for, in order.
    // tags_not_in_ascending_order.pem: its leaf's authorization list was reordered
    // after signing, so the leaf's signature fails first (`openssl verify` agrees), and
    // the record itself is refused for its tag order.
    let expected = [(
        "tags_not_in_ascending_order.pem",
        vec![Reason::BadSignature, Reason::TagsOutOfOrder],
    )];
    let dir = support::shared().join("invalid");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        files, names,
        "a new invalid chain needs its expected reasons here"
    );
    for (file, reasons) in expected {
        let chain = chain(&format!("invalid/{file}"));
        // Valid in time: the intermediates run from 2022-09-17 to 2032.
        let now: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let v = verify(
            &chain,
            &VerifyOptions::default(),
            &Expectations {
                challenge: b"challenge".to_vec(),
                ..Expectations::default()
            },
            now,
        );
        assert!(!v.verified, "{file}");
        let codes: Vec<Reason> = v.reasons.iter().map(|r| r.code).collect();
        assert_eq!(codes, reasons, "{file}: {:?}", v.reasons);
        assert!(v.device.is_none() && v.app.is_none() && v.record.is_none());
    }
    // The record alone, as the parser sees it.
    let chain = chain("invalid/tags_not_in_ascending_order.pem");
    let leaf = x509_leaf_extension(&chain[0]);
    let e = parse_key_description(&leaf).unwrap_err();
    assert_eq!(e.code, Reason::TagsOutOfOrder, "{e}");
}

/// The attestation extension's content from a leaf certificate, via path validation
/// that does not check signatures: a chain of one certificate is refused before that,
/// so take it from the verdict's diagnosis instead.
fn x509_leaf_extension(leaf_der: &[u8]) -> Vec<u8> {
    // The extension is the OCTET STRING after the OID 1.3.6.1.4.1.11129.2.1.17.
    let oid = [
        0x06, 0x0A, 0x2B, 0x06, 0x01, 0x04, 0x01, 0xD6, 0x79, 0x02, 0x01, 0x11,
    ];
    let at = leaf_der
        .windows(oid.len())
        .position(|w| w == oid)
        .expect("the leaf has the extension")
        + oid.len();
    let rest = &leaf_der[at..];
    assert_eq!(
        rest[0], 0x04,
        "non-critical extension: OCTET STRING follows the OID"
    );
    let (len, header) = match rest[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (rest[2] as usize, 3),
        0x82 => (((rest[2] as usize) << 8) | rest[3] as usize, 4),
        _ => panic!("unexpected length"),
    };
    rest[header..header + len].to_vec()
}

#[test]
fn a_root_of_trust_with_a_ber_boolean_parses_as_the_reference_does() {
    // From android/keyattestation testdata/invalid/ (Apache-2.0): deviceLocked is
    // encoded 0x01 rather than DER's 0xFF; the reference reads it as true.
    let text = include_bytes!("data/malformed_rot_device_locked.pem");
    let chain = portcullis_attest::decode_pem_chain(text).unwrap();
    let path = chain::validate(
        &chain,
        &TrustAnchors::builtin(),
        None,
        "2024-01-01T00:00:00Z".parse().unwrap(),
        PathOptions::default(),
    );
    let der = match &path {
        Ok(p) => p.key_description_der().to_vec(),
        Err(e) => panic!("{e}"),
    };
    let kd = parse_key_description(&der).unwrap();
    assert!(kd.hardware_enforced.root_of_trust.unwrap().device_locked);
}

#[test]
fn a_p256_chain_signed_with_sha384_verifies() {
    // Leaf, intermediate and root all P-256 with ecdsa-with-SHA384; the leaf's
    // "attestation extension" is a stub, so this is a test of the path alone.
    let chain = chain("p256_sha384_intermediate.pem");
    let root = TrustAnchors::from_pem(
        &std::fs::read(support::shared().join("p256_sha384_intermediate.pem")).unwrap(),
    )
    .unwrap();
    let now: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let path = chain::validate(&chain, &root, None, now, PathOptions::default());
    let path = path.unwrap_or_else(|e| panic!("{e}"));
    let e = parse_key_description(path.key_description_der()).unwrap_err();
    assert_eq!(e.code, Reason::MalformedExtension);
    // It does not chain to a Google root.
    let e = chain::validate(
        &chain,
        &TrustAnchors::builtin(),
        None,
        now,
        PathOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.code, Reason::UntrustedRoot);
    // And not before its intermediate's validity.
    let early: Timestamp = "2023-12-31T00:00:00Z".parse().unwrap();
    let e = chain::validate(&chain, &root, None, early, PathOptions::default()).unwrap_err();
    assert_eq!(e.code, Reason::NotYetValid);
}

#[test]
fn the_allow_while_on_body_leaf_parses() {
    let leaf = chain("allow_while_on_body.pem");
    assert_eq!(leaf.len(), 1);
    // A lone leaf is no chain.
    let v = verify(
        &leaf,
        &VerifyOptions::default(),
        &Expectations::default(),
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(v.first_reason(), Some(Reason::ChainTooShort));
    // Its record has tag 506 (allowWhileOnBody).
    let record = v.record.expect("the leaf's record is shown for diagnosis");
    assert!(
        record.software_enforced.allow_while_on_body == Some(true)
            || record.hardware_enforced.allow_while_on_body == Some(true)
    );
}
