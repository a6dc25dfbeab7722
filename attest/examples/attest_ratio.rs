//! The cost of verifying an attestation chain and parsing its record, as a ratio to
//! the bare signature verifications the chain contains, measured by alternating the two
//! batch by batch so that drift on a shared machine hits both sides alike.
//!
//!     cargo run --profile bench -p portcullis-attest --example attest_ratio [ROUNDS]
//!
//! The chains are real ones from `../shared/attestation/` (beside the repository): two
//! four-certificate factory-provisioned chains (Pixel 3: RSA-2048/3072/4096 all the way,
//! and P-256/P-384 under the RSA-4096 root) and a five-certificate remotely provisioned
//! one (Pixel 9 Pro). The bare side is ring's `verify` of every signature the verifier
//! checks (each certificate under its issuer's key, and the root's self-signature, since
//! these chains carry an older issue of the root than the built-in one), with the keys,
//! signed bytes and signatures extracted beforehand. The full side is
//! `portcullis_attest::verify` from DER certificates: decoding, path checks, signatures,
//! the KeyDescription parse, the challenge, and the verdict with its summaries.
//!
//! Each round alternates the sides five times (four chains each) and keeps each side's
//! fastest time; the ratio is taken per round, and the median and interquartile range
//! of the per-round ratios are printed.

use std::time::Instant;

use der::asn1::AnyRef;
use der::{Decode, Encode, SliceReader};
use jiff::Timestamp;
use portcullis_attest::{decode_pem_chain, verify, Expectations, VerifyOptions};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::Certificate;

const BATCH: usize = 4;
const REPEATS: usize = 5;

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// One signature to check: algorithm, issuer key bytes, signed bytes, signature.
struct Bare {
    alg: &'static dyn VerificationAlgorithm,
    key: Vec<u8>,
    tbs: Vec<u8>,
    sig: Vec<u8>,
}

fn tbs_bytes(der: &[u8]) -> Vec<u8> {
    let outer = AnyRef::from_der(der).unwrap();
    let mut r = SliceReader::new(outer.value()).unwrap();
    let tbs = AnyRef::decode(&mut r).unwrap();
    tbs.to_der().unwrap()
}

fn algorithm(
    sig_oid: &str,
    key_der: &[u8],
    curve: Option<String>,
) -> &'static dyn VerificationAlgorithm {
    let _ = key_der;
    match (sig_oid, curve.as_deref()) {
        ("1.2.840.113549.1.1.11", None) => &signature::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.10045.4.3.2", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.2.840.10045.3.1.7")) => &signature::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.2", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", Some("1.3.132.0.34")) => &signature::ECDSA_P384_SHA384_ASN1,
        other => panic!("not in these chains: {other:?}"),
    }
}

/// Every signature of `chain`: certificate i under certificate i+1's key, and the root
/// under its own.
fn bare_signatures(chain: &[Vec<u8>]) -> Vec<Bare> {
    let certs: Vec<Certificate> = chain
        .iter()
        .map(|d| Certificate::from_der(d).unwrap())
        .collect();
    (0..certs.len())
        .map(|i| {
            let issuer = &certs[(i + 1).min(certs.len() - 1)];
            let spki = issuer.tbs_certificate().subject_public_key_info();
            let key = spki.subject_public_key.as_bytes().unwrap().to_vec();
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok())
                .map(|o| o.to_string());
            Bare {
                alg: algorithm(&certs[i].signature_algorithm().oid.to_string(), &key, curve),
                key,
                tbs: tbs_bytes(&chain[i]),
                sig: certs[i].signature().as_bytes().unwrap().to_vec(),
            }
        })
        .collect()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("ROUNDS is a number"))
        .unwrap_or(200);
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/attestation");
    let cases = [
        ("blueline/sdk28/TEE_RSA_NONE", "2018-09-28T23:40:28Z"),
        ("blueline/sdk28/TEE_EC_NONE", "2018-09-28T23:40:35Z"),
        ("caiman/sdk36/TEE_EC_RKP", "2025-09-26T15:31:21Z"),
    ];
    println!("chain                          certs  bare sigs (median)  verify+parse (median)  ratio (IQR)");
    for (name, at) in cases {
        let pem = std::fs::read(shared.join(format!("{name}.pem"))).expect("the shared chains");
        let chain = decode_pem_chain(&pem).unwrap();
        let now: Timestamp = at.parse().unwrap();
        let record = serde_json::from_slice::<serde_json::Value>(
            &std::fs::read(shared.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let challenge = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            record["attestationChallenge"].as_str().unwrap(),
        )
        .unwrap();
        let options = VerifyOptions::default();
        let expect = Expectations {
            challenge,
            ..Expectations::default()
        };
        assert!(verify(&chain, &options, &expect, now).verified);
        let bare = bare_signatures(&chain);
        let (mut b_times, mut v_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let warmup = rounds / 10;
        for round in 0..rounds + warmup {
            // Each round alternates the two sides REPEATS times and keeps each side's
            // fastest batch: on a shared machine preemption only ever adds time, so the
            // minimum is the estimate least disturbed by other processes.
            let (mut b, mut v) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..REPEATS {
                let t = Instant::now();
                for _ in 0..BATCH {
                    for s in &bare {
                        UnparsedPublicKey::new(s.alg, &s.key)
                            .verify(&s.tbs, &s.sig)
                            .expect("verifies");
                    }
                }
                b = b.min(t.elapsed().as_secs_f64() / BATCH as f64);
                let t = Instant::now();
                for _ in 0..BATCH {
                    let verdict = verify(&chain, &options, &expect, now);
                    assert!(verdict.verified);
                }
                v = v.min(t.elapsed().as_secs_f64() / BATCH as f64);
            }
            if round >= warmup {
                b_times.push(b);
                v_times.push(v);
                ratios.push(v / b);
            }
        }
        let (_, b, _) = quartiles(b_times);
        let (_, v, _) = quartiles(v_times);
        let (q1, r, q3) = quartiles(ratios);
        println!(
            "{name:<30} {:>5}  {:>15.1} µs  {:>18.1} µs  {r:.3} ({q1:.3}–{q3:.3})",
            chain.len(),
            b * 1e6,
            v * 1e6
        );
    }
}
