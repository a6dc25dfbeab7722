//! iOS App Attest: real attestation objects (attest/tests/vectors/appattest/, see its
//! README for their source) verify under Apple's App Attest root, and every way of
//! getting one wrong is refused with its reason.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use portcullis_attest::app_attest::{
    decode_attestation_object, AppAttestEnvironment, AAGUID_DEVELOPMENT, AAGUID_PRODUCTION,
};
use portcullis_attest::{
    verify_app_attest, AppAttestExpectations, AppAttestOptions, AppAttestVerdict, Reason,
    TrustAnchors,
};
use proptest::prelude::*;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/appattest")
}

/// One real attestation object with what it must be verified against.
#[derive(Clone)]
struct Vector {
    file: String,
    object: Vec<u8>,
    app_id: String,
    client_data: Vec<u8>,
    key_id: [u8; 32],
    at: Timestamp,
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<Vector> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir().join("vectors.json")).unwrap()).unwrap();
    let list = manifest.as_array().unwrap();
    assert!(list.len() >= 7, "the seven iOS 14 objects");
    list.iter()
        .map(|v| {
            let file = v["file"].as_str().unwrap().to_owned();
            let object = std::fs::read(dir().join(&file)).unwrap();
            let digest = ring::digest::digest(&ring::digest::SHA256, &object);
            let digest: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(digest, v["sha256"].as_str().unwrap(), "{file} changed");
            let key_id = base64::engine::general_purpose::STANDARD
                .decode(v["keyId"].as_str().unwrap())
                .unwrap();
            Vector {
                file,
                object,
                app_id: v["appId"].as_str().unwrap().to_owned(),
                client_data: unhex(v["clientDataHex"].as_str().unwrap()),
                key_id: key_id.try_into().unwrap(),
                at: v["at"].as_str().unwrap().parse().unwrap(),
            }
        })
        .collect()
}

fn vector() -> Vector {
    vectors().pop().unwrap()
}

impl Vector {
    fn expect(&self) -> AppAttestExpectations {
        AppAttestExpectations::new(self.app_id.clone(), &self.client_data, self.key_id)
    }

    fn verify_with(
        &self,
        object: &[u8],
        options: &AppAttestOptions,
        expect: &AppAttestExpectations,
        now: Timestamp,
    ) -> AppAttestVerdict {
        let verdict = verify_app_attest(object, options, expect, now);
        assert_eq!(verdict.verified, verdict.reasons.is_empty());
        assert_eq!(verdict.verified, verdict.key.is_some());
        verdict
    }

    /// Verified as published: development keys allowed (every vector is one).
    fn verify(&self, object: &[u8]) -> AppAttestVerdict {
        self.verify_with(object, &development(), &self.expect(), self.at)
    }

    /// Where the receipt's content lies in the object (it is carried, not verified).
    fn receipt_range(&self) -> std::ops::Range<usize> {
        let decoded = decode_attestation_object(&self.object).unwrap();
        let start = self
            .object
            .windows(decoded.receipt.len())
            .position(|w| w == decoded.receipt.as_slice())
            .unwrap();
        start..start + decoded.receipt.len()
    }

    /// Where authData's content lies in the object.
    fn auth_data_start(&self) -> usize {
        let decoded = decode_attestation_object(&self.object).unwrap();
        self.object
            .windows(decoded.auth_data_bytes.len())
            .position(|w| w == decoded.auth_data_bytes.as_slice())
            .unwrap()
    }
}

fn development() -> AppAttestOptions {
    AppAttestOptions {
        allow_development: true,
        ..AppAttestOptions::default()
    }
}

fn codes(verdict: &AppAttestVerdict) -> Vec<Reason> {
    verdict.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn every_real_object_verifies_under_apples_root() {
    for v in vectors() {
        let verdict = v.verify(&v.object);
        assert!(verdict.verified, "{}: {:#?}", v.file, verdict.reasons);
        assert_eq!(verdict.challenge_matches, Some(true));
        assert_eq!(verdict.key_id_matches, Some(true));
        assert_eq!(verdict.app_id_matches, Some(true));
        assert_eq!(verdict.counter, Some(0));
        assert_eq!(verdict.environment, Some(AppAttestEnvironment::Development));
        let key = verdict.key.as_ref().unwrap();
        assert_eq!(key.app_id, v.app_id);
        assert_eq!(
            key.key_id,
            base64::engine::general_purpose::STANDARD.encode(v.key_id)
        );
        // The public key is the one whose SHA-256 is the key id.
        let point = unhex(&key.public_key);
        assert_eq!(point.len(), 65);
        assert_eq!(
            ring::digest::digest(&ring::digest::SHA256, &point).as_ref(),
            v.key_id
        );
        let chain = verdict.chain.as_ref().unwrap();
        assert_eq!(chain.certificates.len(), 2);
        assert_eq!(
            chain.root.as_ref().unwrap().name,
            "apple-app-attestation-root-ca"
        );
        assert!(verdict.warnings.iter().any(|w| w.contains("development")));
        assert!(verdict.warnings.iter().any(|w| w.contains("receipt")));
        let text = verdict.to_text();
        assert!(text.starts_with("VERIFIED (iOS App Attest)"), "{text}");
    }
}

#[test]
fn a_development_key_is_refused_unless_the_policy_accepts_it() {
    let v = vector();
    let verdict = v.verify_with(&v.object, &AppAttestOptions::default(), &v.expect(), v.at);
    assert_eq!(codes(&verdict), [Reason::DevelopmentEnvironment]);
    assert_eq!(verdict.environment, Some(AppAttestEnvironment::Development));
}

#[test]
fn the_wrong_app_id_is_refused_with_that_reason() {
    let v = vector();
    for other in [
        "6MURL8TA57.de.vincent-haupert.apple-appattest-poc2",
        "ABCDE12345.de.vincent-haupert.apple-appattest-poc",
        "de.vincent-haupert.apple-appattest-poc",
    ] {
        let mut expect = v.expect();
        expect.app_id = other.into();
        let verdict = v.verify_with(&v.object, &development(), &expect, v.at);
        assert_eq!(codes(&verdict), [Reason::AppIdMismatch], "{other}");
        assert_eq!(verdict.app_id_matches, Some(false));
    }
}

#[test]
fn the_wrong_challenge_is_refused_with_that_reason() {
    let v = vector();
    let expect = AppAttestExpectations::new(v.app_id.clone(), b"wurzelpfropg", v.key_id);
    let verdict = v.verify_with(&v.object, &development(), &expect, v.at);
    assert_eq!(codes(&verdict), [Reason::ChallengeMismatch]);
    assert_eq!(verdict.challenge_matches, Some(false));
    // The hash of the client data, not the client data itself, goes into the nonce.
    let mut expect = v.expect();
    expect.client_data_hash.copy_from_slice(&{
        let mut raw = [0u8; 32];
        raw[..v.client_data.len()].copy_from_slice(&v.client_data);
        raw
    });
    let verdict = v.verify_with(&v.object, &development(), &expect, v.at);
    assert_eq!(codes(&verdict), [Reason::ChallengeMismatch]);
}

#[test]
fn the_wrong_key_id_is_refused_with_that_reason() {
    let v = vector();
    // Another real object's key id.
    let other = vectors()[0].key_id;
    assert_ne!(other, v.key_id);
    let expect = AppAttestExpectations::new(v.app_id.clone(), &v.client_data, other);
    let verdict = v.verify_with(&v.object, &development(), &expect, v.at);
    assert_eq!(codes(&verdict), [Reason::KeyIdMismatch]);
    assert_eq!(verdict.key_id_matches, Some(false));
}

#[test]
fn a_non_zero_counter_is_refused_with_that_reason() {
    let v = vector();
    let mut object = v.object.clone();
    // rpIdHash (32), flags (1), then the big-endian counter: its last byte.
    object[v.auth_data_start() + 36] = 1;
    let verdict = v.verify(&object);
    assert_eq!(verdict.counter, Some(1));
    // The counter is inside authData, which the nonce covers: both are reported.
    assert!(
        verdict.refused_for(Reason::CounterNotZero),
        "{:?}",
        codes(&verdict)
    );
    assert!(verdict.refused_for(Reason::ChallengeMismatch));
    assert_eq!(verdict.reasons.len(), 2);
}

#[test]
fn the_aaguid_and_credential_id_are_checked() {
    let v = vector();
    let start = v.auth_data_start() + 37;
    assert_eq!(&v.object[start..start + 16], AAGUID_DEVELOPMENT);
    // Production AAGUID in place of development: the nonce no longer matches.
    let mut object = v.object.clone();
    object[start..start + 16].copy_from_slice(&AAGUID_PRODUCTION);
    let verdict = v.verify(&object);
    assert_eq!(verdict.environment, Some(AppAttestEnvironment::Production));
    assert_eq!(codes(&verdict), [Reason::ChallengeMismatch]);
    // An AAGUID naming neither environment.
    let mut object = v.object.clone();
    object[start] = b'A';
    let verdict = v.verify(&object);
    assert_eq!(verdict.environment, None);
    assert!(verdict.refused_for(Reason::UnknownEnvironment));
    // The credential id (after its two-byte length) is the key id.
    let mut object = v.object.clone();
    object[start + 18] ^= 0x80;
    let verdict = v.verify(&object);
    assert!(verdict.refused_for(Reason::CredentialIdMismatch));
    // The COSE key's x coordinate: not the certificate's key.
    let mut object = v.object.clone();
    let last = v.auth_data_start()
        + decode_attestation_object(&v.object)
            .unwrap()
            .auth_data_bytes
            .len()
        - 1;
    object[last] ^= 0x01;
    let verdict = v.verify(&object);
    assert!(
        verdict.refused_for(Reason::CredentialKeyMismatch),
        "{:?}",
        codes(&verdict)
    );
}

#[test]
fn the_wrong_root_is_refused() {
    let v = vector();
    // The Google roots: no root of the intermediate's issuer name.
    let options = AppAttestOptions {
        anchors: TrustAnchors::builtin(),
        allow_development: true,
    };
    let verdict = v.verify_with(&v.object, &options, &v.expect(), v.at);
    assert_eq!(codes(&verdict), [Reason::UntrustedRoot]);
    assert!(verdict.chain.as_ref().unwrap().root.is_none());
    // No roots at all.
    let options = AppAttestOptions {
        anchors: TrustAnchors::empty(),
        allow_development: true,
    };
    let verdict = v.verify_with(&v.object, &options, &v.expect(), v.at);
    assert_eq!(codes(&verdict), [Reason::UntrustedRoot]);
}

#[test]
fn validity_is_checked_against_the_time_passed_in() {
    let v = vector();
    // The credential certificate lives three days; the intermediate until 2030.
    let expect = v.expect();
    let at = |t: Timestamp| v.verify_with(&v.object, &development(), &expect, t);
    assert!(at(v.at).verified);
    assert_eq!(
        codes(&at(v.at + SignedDuration::from_hours(24 * 4))),
        [Reason::Expired]
    );
    assert_eq!(
        codes(&at(v.at - SignedDuration::from_hours(24 * 2))),
        [Reason::NotYetValid]
    );
    assert_eq!(
        codes(&at("2031-01-01T00:00:00Z".parse().unwrap())),
        [Reason::Expired]
    );
}

#[test]
fn malformed_input_is_refused_never_a_panic() {
    let v = vector();
    let expect = v.expect();
    let refused = |bytes: &[u8]| {
        let verdict = v.verify_with(bytes, &development(), &expect, v.at);
        assert!(!verdict.verified);
        verdict.first_reason().unwrap()
    };
    assert_eq!(refused(b""), Reason::MalformedAttestationObject);
    assert_eq!(refused(b"\xa0"), Reason::MalformedAttestationObject);
    assert_eq!(
        refused(&v.object[..100]),
        Reason::MalformedAttestationObject
    );
    let mut trailing = v.object.clone();
    trailing.push(0);
    assert_eq!(refused(&trailing), Reason::MalformedAttestationObject);
    assert_eq!(
        refused(&vec![0x81; 10_000]),
        Reason::MalformedAttestationObject
    );
    // A format other than apple-appattest.
    let mut packed = v.object.clone();
    let at = packed
        .windows(15)
        .position(|w| w == b"apple-appattest")
        .unwrap();
    packed[at..at + 15].copy_from_slice(b"apple-appattesX");
    assert_eq!(refused(&packed), Reason::UnsupportedFormat);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any byte outside the receipt, changed in any way, refuses the object.
    #[test]
    fn a_flipped_byte_anywhere_is_refused(
        which in 0usize..7,
        position in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let all = vectors();
        let v = &all[which % all.len()];
        let receipt = v.receipt_range();
        let outside: Vec<usize> = (0..v.object.len()).filter(|i| !receipt.contains(i)).collect();
        let i = outside[position.index(outside.len())];
        let mut object = v.object.clone();
        object[i] ^= mask;
        let verdict = v.verify(&object);
        prop_assert!(!verdict.verified, "{}: byte {i} ^ {mask:#04x} verified", v.file);
    }
}

#[test]
fn every_byte_outside_the_receipt_matters() {
    let v = vector();
    let receipt = v.receipt_range();
    let mut accepted = Vec::new();
    for i in (0..v.object.len()).filter(|i| !receipt.contains(i)) {
        let mut object = v.object.clone();
        object[i] ^= 0x01;
        if v.verify(&object).verified {
            accepted.push(i);
        }
    }
    assert!(accepted.is_empty(), "flips accepted at {accepted:?}");
}
