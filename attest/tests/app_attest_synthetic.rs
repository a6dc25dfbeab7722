//! iOS App Attest checks in isolation, on SYNTHETIC attestation objects: a test root,
//! intermediate and credential certificate made here with fresh keys, and an object
//! built around them with its nonce computed for whatever the test changes. They are not
//! Apple's: they verify only when the test root is the trust anchor, and the built-in
//! App Attest root refuses them. The real objects are checked in `app_attest.rs`.
//!
//! What only synthetic objects can show: a production-environment key accepted under
//! the default policy (no real one is published), and each authenticator-data check
//! refusing on its own, with the nonce still right.

use ciborium::value::Value;
use jiff::Timestamp;
use portcullis_attest::app_attest::{AppAttestEnvironment, AAGUID_DEVELOPMENT, AAGUID_PRODUCTION};
use portcullis_attest::{
    verify_app_attest, AppAttestExpectations, AppAttestOptions, AppAttestVerdict, Reason,
    TrustAnchors,
};
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};

const APP_ID: &str = "TESTTEAM01.org.example.synthetic";
const CLIENT_DATA: &[u8] = b"synthetic challenge";

// ---- A minimal DER writer, for test certificates only. ----

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    tlv(
        0x06,
        const_oid::ObjectIdentifier::new_unwrap(dotted).as_bytes(),
    )
}

fn name(cn: &str) -> Vec<u8> {
    seq(&[tlv(0x31, &seq(&[oid("2.5.4.3"), tlv(0x0c, cn.as_bytes())]))])
}

fn extension(id: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xff]);
    }
    parts.push(tlv(0x04, value));
    seq(&parts)
}

const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const NONCE_OID: &str = "1.2.840.113635.100.8.2";

fn spki(point: &[u8]) -> Vec<u8> {
    let curve = if point.len() == 65 {
        "1.2.840.10045.3.1.7"
    } else {
        "1.3.132.0.34"
    };
    let mut bits = vec![0];
    bits.extend_from_slice(point);
    seq(&[
        seq(&[oid("1.2.840.10045.2.1"), oid(curve)]),
        tlv(0x03, &bits),
    ])
}

struct Key {
    pair: EcdsaKeyPair,
    /// ecdsa-with-SHA256 for P-256, SHA384 for P-384.
    sig_oid: &'static str,
}

fn key(alg: &'static EcdsaSigningAlgorithm) -> Key {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let sig_oid = if std::ptr::eq(alg, &ECDSA_P256_SHA256_ASN1_SIGNING) {
        ECDSA_SHA256
    } else {
        ECDSA_SHA384
    };
    Key {
        pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
        sig_oid,
    }
}

impl Key {
    fn point(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

struct CertSpec<'a> {
    serial: u8,
    issuer: &'a str,
    subject: &'a str,
    not_before: &'a str,
    not_after: &'a str,
    public_point: Vec<u8>,
    extensions: Vec<Vec<u8>>,
}

fn certificate(spec: &CertSpec<'_>, signer: &Key) -> Vec<u8> {
    let alg = seq(&[oid(signer.sig_oid)]);
    let mut tbs_parts = vec![
        tlv(0xa0, &[0x02, 0x01, 0x02]),
        tlv(0x02, &[spec.serial]),
        alg.clone(),
        name(spec.issuer),
        seq(&[
            tlv(0x17, spec.not_before.as_bytes()),
            tlv(0x17, spec.not_after.as_bytes()),
        ]),
        name(spec.subject),
        spki(&spec.public_point),
    ];
    if !spec.extensions.is_empty() {
        tbs_parts.push(tlv(0xa3, &seq(&spec.extensions)));
    }
    let tbs = seq(&tbs_parts);
    let signature = signer.pair.sign(&SystemRandom::new(), &tbs).unwrap();
    let mut bits = vec![0];
    bits.extend_from_slice(signature.as_ref());
    seq(&[tbs, alg, tlv(0x03, &bits)])
}

fn ca_extensions() -> Vec<Vec<u8>> {
    vec![
        extension("2.5.29.19", true, &seq(&[vec![0x01, 0x01, 0xff]])),
        extension("2.5.29.15", true, &[0x03, 0x02, 0x01, 0x06]),
    ]
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn sha256(data: &[u8]) -> [u8; 32] {
    digest(&SHA256, data).as_ref().try_into().unwrap()
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn int(i: i64) -> Value {
    Value::Integer(i.into())
}

fn cose_key(point: &[u8]) -> Vec<u8> {
    cbor(&Value::Map(vec![
        (int(1), int(2)),
        (int(3), int(-7)),
        (int(-1), int(1)),
        (int(-2), Value::Bytes(point[1..33].to_vec())),
        (int(-3), Value::Bytes(point[33..65].to_vec())),
    ]))
}

/// What a synthetic object is made of; each test changes one thing.
struct Synthetic {
    app_id: String,
    counter: u32,
    aaguid: [u8; 16],
    /// Replaces the credential id (default: the key id).
    credential_id: Option<Vec<u8>>,
    /// Replaces the COSE key's point (default: the credential key's).
    cose_point: Option<Vec<u8>>,
    /// `None`: no nonce extension; `Some(critical)`.
    nonce_extension: Option<bool>,
    /// Replaces the nonce extension's DER value.
    nonce_value: Option<Vec<u8>>,
    intermediate_is_ca: bool,
    /// Sign the credential certificate with another key than the intermediate's.
    wrong_signer: bool,
    /// Extra certificates after the intermediate (or none at all when `cut`).
    extra_cert: bool,
    cut: bool,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic {
            app_id: APP_ID.into(),
            counter: 0,
            aaguid: AAGUID_PRODUCTION,
            credential_id: None,
            cose_point: None,
            nonce_extension: Some(false),
            nonce_value: None,
            intermediate_is_ca: true,
            wrong_signer: false,
            extra_cert: false,
            cut: false,
        }
    }
}

/// An object, the test root as trust anchors, and the key id.
struct Made {
    object: Vec<u8>,
    anchors: TrustAnchors,
    key_id: [u8; 32],
}

/// 2026-06-01: inside every test certificate's validity.
fn now() -> Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

fn make(s: &Synthetic) -> Made {
    let root = key(&ECDSA_P384_SHA384_ASN1_SIGNING);
    let inter = key(&ECDSA_P384_SHA384_ASN1_SIGNING);
    let cred = key(&ECDSA_P256_SHA256_ASN1_SIGNING);
    let root_der = certificate(
        &CertSpec {
            serial: 1,
            issuer: "Synthetic App Attest Test Root",
            subject: "Synthetic App Attest Test Root",
            not_before: "200101000000Z",
            not_after: "450101000000Z",
            public_point: root.point(),
            extensions: ca_extensions(),
        },
        &root,
    );
    let inter_der = certificate(
        &CertSpec {
            serial: 2,
            issuer: "Synthetic App Attest Test Root",
            subject: "Synthetic App Attest Test CA",
            not_before: "200101000000Z",
            not_after: "300101000000Z",
            public_point: inter.point(),
            extensions: if s.intermediate_is_ca {
                ca_extensions()
            } else {
                vec![extension("2.5.29.19", true, &seq(&[]))]
            },
        },
        &root,
    );

    let point = cred.point();
    let key_id = sha256(&point);
    let mut auth = sha256(s.app_id.as_bytes()).to_vec();
    auth.push(0x40);
    auth.extend_from_slice(&s.counter.to_be_bytes());
    auth.extend_from_slice(&s.aaguid);
    let credential_id = s.credential_id.clone().unwrap_or(key_id.to_vec());
    auth.extend_from_slice(&(credential_id.len() as u16).to_be_bytes());
    auth.extend_from_slice(&credential_id);
    auth.extend_from_slice(&cose_key(s.cose_point.as_deref().unwrap_or(&point)));

    let mut signed = auth.clone();
    signed.extend_from_slice(&sha256(CLIENT_DATA));
    let nonce = sha256(&signed);
    let mut cred_extensions = vec![
        extension("2.5.29.19", true, &seq(&[])),
        extension("2.5.29.15", true, &[0x03, 0x02, 0x04, 0xf0]),
    ];
    if let Some(critical) = s.nonce_extension {
        let value = s
            .nonce_value
            .clone()
            .unwrap_or_else(|| seq(&[tlv(0xa1, &tlv(0x04, &nonce))]));
        cred_extensions.push(extension(NONCE_OID, critical, &value));
    }
    let other = key(&ECDSA_P384_SHA384_ASN1_SIGNING);
    let cred_der = certificate(
        &CertSpec {
            serial: 3,
            issuer: "Synthetic App Attest Test CA",
            subject: "synthetic credential",
            not_before: "260501000000Z",
            not_after: "260701000000Z",
            public_point: point,
            extensions: cred_extensions,
        },
        if s.wrong_signer { &other } else { &inter },
    );

    let mut x5c = vec![Value::Bytes(cred_der), Value::Bytes(inter_der)];
    if s.extra_cert {
        x5c.push(Value::Bytes(root_der.clone()));
    }
    if s.cut {
        x5c.truncate(1);
    }
    let object = cbor(&Value::Map(vec![
        (
            Value::Text("fmt".into()),
            Value::Text("apple-appattest".into()),
        ),
        (
            Value::Text("attStmt".into()),
            Value::Map(vec![
                (Value::Text("x5c".into()), Value::Array(x5c)),
                (
                    Value::Text("receipt".into()),
                    Value::Bytes(vec![0x30, 0x00]),
                ),
            ]),
        ),
        (Value::Text("authData".into()), Value::Bytes(auth)),
    ]));
    Made {
        object,
        anchors: TrustAnchors::from_pem(pem(&root_der).as_bytes()).unwrap(),
        key_id,
    }
}

fn verify(made: &Made, allow_development: bool) -> AppAttestVerdict {
    let options = AppAttestOptions {
        anchors: made.anchors.clone(),
        allow_development,
    };
    let expect = AppAttestExpectations::new(APP_ID, CLIENT_DATA, made.key_id);
    let verdict = verify_app_attest(&made.object, &options, &expect, now());
    assert_eq!(verdict.verified, verdict.reasons.is_empty());
    verdict
}

fn codes(v: &AppAttestVerdict) -> Vec<Reason> {
    v.reasons.iter().map(|r| r.code).collect()
}

#[test]
fn a_synthetic_production_object_verifies_under_its_test_root_only() {
    let made = make(&Synthetic::default());
    let verdict = verify(&made, false);
    assert!(verdict.verified, "{:#?}", verdict.reasons);
    assert_eq!(verdict.environment, Some(AppAttestEnvironment::Production));
    assert_eq!(
        verdict.key.as_ref().unwrap().environment,
        AppAttestEnvironment::Production
    );
    // Apple's root, built in, does not vouch for it.
    let expect = AppAttestExpectations::new(APP_ID, CLIENT_DATA, made.key_id);
    let real = verify_app_attest(&made.object, &AppAttestOptions::default(), &expect, now());
    assert_eq!(codes(&real), [Reason::UntrustedRoot]);
}

#[test]
fn development_is_a_policy_choice() {
    let made = make(&Synthetic {
        aaguid: AAGUID_DEVELOPMENT,
        ..Synthetic::default()
    });
    assert_eq!(
        codes(&verify(&made, false)),
        [Reason::DevelopmentEnvironment]
    );
    assert!(verify(&made, true).verified);
}

#[test]
fn each_authenticator_data_check_refuses_on_its_own() {
    let cases: Vec<(Synthetic, Reason)> = vec![
        (
            Synthetic {
                counter: 5,
                ..Synthetic::default()
            },
            Reason::CounterNotZero,
        ),
        (
            Synthetic {
                aaguid: *b"appattestother\0\0",
                ..Synthetic::default()
            },
            Reason::UnknownEnvironment,
        ),
        (
            Synthetic {
                credential_id: Some(vec![7; 32]),
                ..Synthetic::default()
            },
            Reason::CredentialIdMismatch,
        ),
        (
            Synthetic {
                cose_point: Some(key(&ECDSA_P256_SHA256_ASN1_SIGNING).point()),
                ..Synthetic::default()
            },
            Reason::CredentialKeyMismatch,
        ),
        (
            Synthetic {
                app_id: "TESTTEAM01.org.example.other".into(),
                ..Synthetic::default()
            },
            Reason::AppIdMismatch,
        ),
    ];
    for (spec, reason) in cases {
        let verdict = verify(&make(&spec), false);
        assert_eq!(codes(&verdict), [reason]);
        // The nonce was computed for the changed authData: the challenge still matches.
        assert_eq!(verdict.challenge_matches, Some(true), "{reason}");
    }
}

#[test]
fn the_certificates_are_checked() {
    let cases: Vec<(Synthetic, Reason)> = vec![
        (
            Synthetic {
                nonce_extension: None,
                ..Synthetic::default()
            },
            Reason::MissingAttestationExtension,
        ),
        (
            Synthetic {
                nonce_extension: Some(true),
                ..Synthetic::default()
            },
            Reason::UnsupportedCriticalExtension,
        ),
        (
            Synthetic {
                nonce_value: Some(seq(&[tlv(0xa1, &tlv(0x04, &[0; 31]))])),
                ..Synthetic::default()
            },
            Reason::MalformedExtension,
        ),
        (
            Synthetic {
                nonce_value: Some(seq(&[tlv(0xa2, &tlv(0x04, &[0; 32]))])),
                ..Synthetic::default()
            },
            Reason::MalformedExtension,
        ),
        (
            Synthetic {
                nonce_value: Some(tlv(0x04, &[0; 32])),
                ..Synthetic::default()
            },
            Reason::MalformedExtension,
        ),
        (
            Synthetic {
                intermediate_is_ca: false,
                ..Synthetic::default()
            },
            Reason::NotACa,
        ),
        (
            Synthetic {
                wrong_signer: true,
                ..Synthetic::default()
            },
            Reason::BadSignature,
        ),
        (
            Synthetic {
                extra_cert: true,
                ..Synthetic::default()
            },
            Reason::ChainTooLong,
        ),
        (
            Synthetic {
                cut: true,
                ..Synthetic::default()
            },
            Reason::ChainTooShort,
        ),
    ];
    for (spec, reason) in cases {
        let verdict = verify(&make(&spec), false);
        assert_eq!(codes(&verdict), [reason]);
    }
}

#[test]
fn a_root_of_the_same_name_with_another_key_is_not_trusted() {
    let made = make(&Synthetic::default());
    let impostor = make(&Synthetic::default());
    let options = AppAttestOptions {
        anchors: impostor.anchors,
        allow_development: false,
    };
    let expect = AppAttestExpectations::new(APP_ID, CLIENT_DATA, made.key_id);
    let verdict = verify_app_attest(&made.object, &options, &expect, now());
    assert_eq!(codes(&verdict), [Reason::UntrustedRoot]);
}
