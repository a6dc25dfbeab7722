//! Valid chains made wrong: a flipped byte anywhere, the wrong challenge, package or
//! signer, a revoked or suspended intermediate, an expired one, an algorithm this
//! verifier does not implement. Each is refused, with its reason.

mod support;

use base64::Engine as _;
use jiff::Timestamp;
use portcullis_attest::{verify, Expectations, Reason, RevocationList, VerifyOptions};
use proptest::prelude::*;
use support::{cases, Case};

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no chain {name}"))
}

/// The collector app's signing certificate digest in the shared records.
fn collector_signer() -> [u8; 32] {
    base64::engine::general_purpose::STANDARD
        .decode("EDk47kU35Z6O55L2VFBPuDRvxrNG0LvEQV/DOfz8jsE=")
        .unwrap()
        .try_into()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Flip one bit of one byte of one certificate of any chain: refused.
    #[test]
    fn a_flipped_byte_anywhere_is_refused(
        which in any::<prop::sample::Index>(),
        cert in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let cases = cases();
        let case = &cases[which.index(cases.len())];
        let mut chain = case.chain.clone();
        let c = cert.index(chain.len());
        let o = offset.index(chain[c].len());
        chain[c][o] ^= 1 << bit;
        let v = verify(&chain, &case.options(), &case.expectations(), case.created());
        prop_assert!(!v.verified, "{}: byte {o} of certificate {c} flipped, still verified", case.name);
        prop_assert!(v.device.is_none());
    }
}

#[test]
fn every_byte_of_a_remotely_provisioned_chain_matters() {
    // Exhaustively, for the smallest chain (mostly ECDSA): every byte of every
    // certificate, flipped in its lowest bit.
    let case = case("caiman/sdk36/TEE_EC_RKP");
    let options = case.options();
    let expect = case.expectations();
    let mut flips = 0;
    for c in 0..case.chain.len() {
        for o in 0..case.chain[c].len() {
            let mut chain = case.chain.clone();
            chain[c][o] ^= 1;
            let v = verify(&chain, &options, &expect, case.created());
            assert!(!v.verified, "byte {o} of certificate {c}");
            flips += 1;
        }
    }
    assert!(flips > 2000, "{flips}");
}

#[test]
fn the_wrong_challenge_is_refused_with_that_reason() {
    for case in cases() {
        let mut expect = case.expectations();
        expect.challenge.push(b'!');
        let v = verify(&case.chain, &case.options(), &expect, case.created());
        assert!(!v.verified);
        assert_eq!(
            v.first_reason(),
            Some(Reason::ChallengeMismatch),
            "{}",
            case.name
        );
        assert_eq!(v.challenge_matches, Some(false));
        assert!(
            v.device.is_none(),
            "no device facts from a replayable attestation"
        );
    }
}

#[test]
fn the_expected_app_is_accepted_and_another_is_refused_with_that_reason() {
    let case = case("caiman/sdk36/SB_EC_RKP");
    let good = Expectations {
        challenge: case.challenge(),
        package: Some("com.google.android.attestation".into()),
        signer: Some(collector_signer()),
    };
    let v = verify(&case.chain, &case.options(), &good, case.created());
    assert!(v.verified, "{:?}", v.reasons);
    let app = v.app.unwrap();
    assert_eq!(
        (app.package_matches, app.signer_matches),
        (Some(true), Some(true))
    );

    let wrong_package = Expectations {
        package: Some("org.portcullis.agent".into()),
        ..good.clone()
    };
    let v = verify(&case.chain, &case.options(), &wrong_package, case.created());
    let codes: Vec<Reason> = v.reasons.iter().map(|r| r.code).collect();
    assert_eq!(codes, [Reason::PackageMismatch]);
    assert!(v.reasons[0]
        .message
        .contains("com.google.android.attestation"));

    let mut other = collector_signer();
    other[0] ^= 0xFF;
    let wrong_signer = Expectations {
        signer: Some(other),
        ..good.clone()
    };
    let v = verify(&case.chain, &case.options(), &wrong_signer, case.created());
    let codes: Vec<Reason> = v.reasons.iter().map(|r| r.code).collect();
    assert_eq!(codes, [Reason::SignerMismatch]);

    // All three wrong: every reason is given.
    let all_wrong = Expectations {
        challenge: b"not it".to_vec(),
        package: wrong_package.package.clone(),
        signer: Some(other),
    };
    let v = verify(&case.chain, &case.options(), &all_wrong, case.created());
    let codes: Vec<Reason> = v.reasons.iter().map(|r| r.code).collect();
    assert_eq!(
        codes,
        [
            Reason::ChallengeMismatch,
            Reason::PackageMismatch,
            Reason::SignerMismatch
        ]
    );
}

#[test]
fn a_system_attestation_names_no_signer() {
    // IMEI attestations come from AndroidSystem, with no signing certificate.
    let case = case("akita/sdk34/TEE_RSA_BASE+IMEI");
    let expect = Expectations {
        signer: Some(collector_signer()),
        ..case.expectations()
    };
    let v = verify(&case.chain, &case.options(), &expect, case.created());
    assert_eq!(v.first_reason(), Some(Reason::SignerMismatch));
}

fn serial_of(case: &Case, index: usize) -> String {
    let v = verify(
        &case.chain,
        &case.options(),
        &case.expectations(),
        case.created(),
    );
    v.chain.unwrap().certificates[index].serial.clone()
}

fn hex_to_decimal(hex: &str) -> String {
    // Serial numbers of attestation intermediates fit in 128 bits.
    u128::from_str_radix(hex, 16).unwrap().to_string()
}

#[test]
fn a_revoked_intermediate_is_refused_in_either_spelling() {
    for name in ["akita/sdk34/TEE_EC_NONE", "blueline/sdk28/TEE_RSA_NONE"] {
        let case = case(name);
        // The intermediate below the root (Droid CA2, or the factory batch intermediate).
        let index = case.chain.len() - 2;
        let hex = serial_of(&case, index);
        for key in [
            hex.to_uppercase(),
            hex_to_decimal(&hex),
            format!("0x00{hex}"),
        ] {
            let list = format!(
                r#"{{"entries":{{"{key}":{{"status":"REVOKED","reason":"KEY_COMPROMISE"}}}}}}"#
            );
            let options = VerifyOptions {
                revocations: Some(RevocationList::from_json(list.as_bytes()).unwrap()),
                ..case.options()
            };
            let v = verify(&case.chain, &options, &case.expectations(), case.created());
            assert_eq!(
                v.first_reason(),
                Some(Reason::Revoked),
                "{name} {key}: {:?}",
                v.reasons
            );
            assert!(v.reasons[0]
                .message
                .contains(&format!("certificate {index}")));
            assert!(v.reasons[0].message.contains("KEY_COMPROMISE"));
        }
        // SUSPENDED is refused too; OK is not.
        for (status, outcome) in [("SUSPENDED", Some(Reason::Suspended)), ("OK", None)] {
            let list = format!(r#"{{"entries":{{"{hex}":{{"status":"{status}"}}}}}}"#);
            let options = VerifyOptions {
                revocations: Some(RevocationList::from_json(list.as_bytes()).unwrap()),
                ..case.options()
            };
            let v = verify(&case.chain, &options, &case.expectations(), case.created());
            assert_eq!(v.first_reason(), outcome, "{name} {status}");
        }
    }
}

#[test]
fn the_sample_status_list_revokes_none_of_the_shared_chains() {
    let list = RevocationList::from_json(
        &std::fs::read(support::shared().join("revocation-status-sample.json")).unwrap(),
    )
    .unwrap();
    for case in cases() {
        let options = VerifyOptions {
            revocations: Some(list.clone()),
            ..case.options()
        };
        let v = verify(&case.chain, &options, &case.expectations(), case.created());
        assert!(v.verified, "{}: {:?}", case.name, v.reasons);
        assert!(v.chain.unwrap().revocation_checked);
        assert!(!v
            .warnings
            .iter()
            .any(|w| w.contains("revocation not checked")));
    }
}

#[test]
fn validity_is_checked_against_the_time_passed_in() {
    // Remotely provisioned intermediates live for weeks: Droid CA3 of akita ended in
    // October 2024.
    let case = case("akita/sdk34/TEE_EC_NONE");
    let later: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let v = verify(&case.chain, &case.options(), &case.expectations(), later);
    assert_eq!(v.first_reason(), Some(Reason::Expired), "{:?}", v.reasons);
    let earlier: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let v = verify(&case.chain, &case.options(), &case.expectations(), earlier);
    assert_eq!(
        v.first_reason(),
        Some(Reason::NotYetValid),
        "{:?}",
        v.reasons
    );
}

/// Replaces every occurrence of `from` by `to` (same length) in `der`.
fn patch(der: &mut [u8], from: &[u8], to: &[u8]) -> usize {
    assert_eq!(from.len(), to.len());
    let mut n = 0;
    let mut i = 0;
    while i + from.len() <= der.len() {
        if &der[i..i + from.len()] == from {
            der[i..i + to.len()].copy_from_slice(to);
            n += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    n
}

#[test]
fn unsupported_algorithms_are_refused_as_such_never_passed() {
    // sha256WithRSAEncryption and ML-DSA-65 / RSASSA-PSS have OIDs of the same length.
    let sha256_rsa = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B,
    ];
    let ml_dsa_65 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12,
    ];
    let rsa_pss = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A,
    ];
    let case = case("blueline/sdk28/TEE_RSA_NONE");
    for (name, oid) in [("ML-DSA-65", ml_dsa_65), ("RSASSA-PSS", rsa_pss)] {
        let mut chain = case.chain.clone();
        // The leaf's signature algorithm, inside the signed part and outside it.
        assert_eq!(patch(&mut chain[0], &sha256_rsa, &oid), 2);
        let v = verify(
            &chain,
            &case.options(),
            &case.expectations(),
            case.created(),
        );
        assert!(!v.verified);
        assert_eq!(
            v.first_reason(),
            Some(Reason::UnsupportedAlgorithm),
            "{name}: {:?}",
            v.reasons
        );
        assert!(v.reasons[0].message.contains("unsupported algorithm"));
    }
    // A P-521 key in the leaf (the curve OID of P-384 and P-521 differ in one byte).
    let case = case_p384_leaf_issuer();
    let p384 = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
    let p521 = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23];
    let mut chain = case.chain.clone();
    let index = case.chain.len() - 2; // Droid CA2 has a P-384 key
    assert_eq!(patch(&mut chain[index], &p384, &p521), 1);
    let v = verify(
        &chain,
        &case.options(),
        &case.expectations(),
        case.created(),
    );
    assert_eq!(
        v.first_reason(),
        Some(Reason::UnsupportedAlgorithm),
        "{:?}",
        v.reasons
    );
}

fn case_p384_leaf_issuer() -> Case {
    case("caiman/sdk36/TEE_EC_RKP")
}

#[test]
fn chains_cut_short_or_reordered_are_refused() {
    let case = case("akita/sdk34/TEE_RSA_NONE");
    let now = case.created();
    let expect = case.expectations();
    let options = case.options();
    // Without the root.
    let v = verify(&case.chain[..case.chain.len() - 1], &options, &expect, now);
    assert!(!v.verified);
    assert_eq!(v.first_reason(), Some(Reason::UntrustedRoot));
    // An intermediate left out.
    let mut gap = case.chain.clone();
    gap.remove(2);
    let v = verify(&gap, &options, &expect, now);
    assert_eq!(v.first_reason(), Some(Reason::NameChaining));
    // The leaf twice: only the leaf may carry the extension.
    let mut doubled = case.chain.clone();
    doubled.insert(0, case.chain[0].clone());
    let v = verify(&doubled, &options, &expect, now);
    assert!(!v.verified);
    // Only a root.
    let v = verify(&case.chain[case.chain.len() - 1..], &options, &expect, now);
    assert_eq!(v.first_reason(), Some(Reason::ChainTooShort));
    // No anchors at all.
    let none = VerifyOptions {
        anchors: portcullis_attest::TrustAnchors::empty(),
        ..options
    };
    let v = verify(&case.chain, &none, &expect, now);
    assert_eq!(v.first_reason(), Some(Reason::UntrustedRoot));
}
