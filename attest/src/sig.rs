//! Signature algorithms: which certificate signatures this verifier checks, with ring
//! (docs/decisions/0007). Everything else is refused as `unsupported_algorithm`.

use const_oid::ObjectIdentifier;
use der::asn1::UintRef;
use der::{Decode, Reader, SliceReader};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::{Reason, Refusal};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The smallest RSA modulus accepted, except under a software root (see [`KeyPolicy`]).
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The smallest RSA modulus accepted at all (the Android software attestation roots).
const MIN_LEGACY_RSA_BITS: usize = 1024;
/// ring's upper bound for RSA moduli.
const MAX_RSA_BITS: usize = 8192;

/// A certificate signature algorithm this verifier implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigAlg {
    RsaPkcs1Sha256,
    RsaPkcs1Sha384,
    RsaPkcs1Sha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SigAlg {
    /// The algorithm's usual name, for verdicts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SigAlg::RsaPkcs1Sha256 => "sha256WithRSAEncryption",
            SigAlg::RsaPkcs1Sha384 => "sha384WithRSAEncryption",
            SigAlg::RsaPkcs1Sha512 => "sha512WithRSAEncryption",
            SigAlg::EcdsaSha256 => "ecdsa-with-SHA256",
            SigAlg::EcdsaSha384 => "ecdsa-with-SHA384",
        }
    }
}

/// A public key this verifier can check signatures with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// RSA: the RSAPublicKey DER and the modulus length in bits.
    Rsa { der: Vec<u8>, bits: usize },
    /// ECDSA P-256: the uncompressed point.
    P256(Vec<u8>),
    /// ECDSA P-384: the uncompressed point.
    P384(Vec<u8>),
}

impl PublicKey {
    /// A short description such as `RSA-4096` or `EC P-256`.
    pub(crate) fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { bits, .. } => format!("RSA-{bits}"),
            PublicKey::P256(_) => "EC P-256".into(),
            PublicKey::P384(_) => "EC P-384".into(),
        }
    }
}

/// Whether 1024-bit RSA is tolerated: only on the way to a software root, whose
/// verdict is "not hardware-backed" whatever the signatures say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyPolicy {
    Strict,
    SoftwareRootLegacy,
}

fn oid_name(oid: &ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

fn unsupported(what: &str, oid: &ObjectIdentifier) -> Refusal {
    Refusal::new(
        Reason::UnsupportedAlgorithm,
        format!("unsupported algorithm: {what} {}", oid_name(oid)),
    )
}

/// The certificate signature algorithm, or `unsupported_algorithm`.
pub(crate) fn signature_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<SigAlg, Refusal> {
    let rsa = |a| {
        // RFC 4055: the parameters are NULL; some encoders omit them.
        match &alg.parameters {
            None => Ok(a),
            Some(p) if p.is_null() => Ok(a),
            Some(_) => Err(Refusal::new(
                Reason::MalformedCertificate,
                "RSA signature algorithm with parameters other than NULL",
            )),
        }
    };
    let ecdsa = |a| match &alg.parameters {
        None => Ok(a),
        Some(_) => Err(Refusal::new(
            Reason::MalformedCertificate,
            "ECDSA signature algorithm with parameters",
        )),
    };
    match alg.oid {
        SHA256_WITH_RSA => rsa(SigAlg::RsaPkcs1Sha256),
        SHA384_WITH_RSA => rsa(SigAlg::RsaPkcs1Sha384),
        SHA512_WITH_RSA => rsa(SigAlg::RsaPkcs1Sha512),
        ECDSA_WITH_SHA256 => ecdsa(SigAlg::EcdsaSha256),
        ECDSA_WITH_SHA384 => ecdsa(SigAlg::EcdsaSha384),
        other => Err(unsupported("signature", &other)),
    }
}

/// The subject public key, or `unsupported_algorithm` / `malformed_certificate`.
pub(crate) fn public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey, Refusal> {
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        Refusal::new(
            Reason::MalformedCertificate,
            "public key bit string has unused bits",
        )
    })?;
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            let modulus_bits = rsa_modulus_bits(bits).ok_or_else(|| {
                Refusal::new(
                    Reason::MalformedCertificate,
                    "RSA public key is not RSAPublicKey DER",
                )
            })?;
            Ok(PublicKey::Rsa {
                der: bits.to_vec(),
                bits: modulus_bits,
            })
        }
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| {
                    Refusal::new(
                        Reason::UnsupportedAlgorithm,
                        "unsupported algorithm: EC key without a named curve",
                    )
                })?;
            match curve {
                P256 => Ok(PublicKey::P256(bits.to_vec())),
                P384 => Ok(PublicKey::P384(bits.to_vec())),
                other => Err(unsupported("EC curve", &other)),
            }
        }
        other => Err(unsupported("public key", &other)),
    }
}

/// Length in bits of the modulus of an RSAPublicKey (`SEQUENCE { n INTEGER, e INTEGER }`).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let any = der::asn1::AnyRef::from_der(der).ok()?;
    any.sequence(|r: &mut SliceReader<'_>| {
        let n: UintRef<'_> = r.decode()?;
        let _e: UintRef<'_> = r.decode()?;
        let bytes = n.as_bytes();
        let bits = match bytes.first() {
            None => 0,
            Some(&first) => bytes.len() * 8 - first.leading_zeros() as usize,
        };
        Ok::<_, der::Error>(bits)
    })
    .ok()
}

/// Checks `signature` over `message` by `key` with `alg`.
///
/// `what` names the certificate in messages, e.g. `certificate 1`.
pub(crate) fn verify(
    what: &str,
    alg: SigAlg,
    key: &PublicKey,
    policy: KeyPolicy,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Refusal> {
    let mismatch = || {
        Refusal::new(
            Reason::BadSignature,
            format!(
                "{what}: signature algorithm {} does not fit the issuer's {} key",
                alg.name(),
                key.describe()
            ),
        )
    };
    let (algorithm, key_bytes): (&'static dyn VerificationAlgorithm, &[u8]) = match key {
        PublicKey::Rsa { der, bits } => {
            let bits = *bits;
            if bits > MAX_RSA_BITS {
                return Err(Refusal::new(
                    Reason::UnsupportedAlgorithm,
                    format!("unsupported algorithm: {what} is signed by an RSA-{bits} key (at most {MAX_RSA_BITS} bits)"),
                ));
            }
            let legacy = policy == KeyPolicy::SoftwareRootLegacy && bits >= MIN_LEGACY_RSA_BITS;
            if bits < MIN_RSA_BITS && !legacy {
                return Err(Refusal::new(
                    Reason::WeakKey,
                    format!("{what} is signed by an RSA-{bits} key (at least {MIN_RSA_BITS} bits)"),
                ));
            }
            let a: &'static dyn VerificationAlgorithm = match (alg, legacy && bits < MIN_RSA_BITS) {
                (SigAlg::RsaPkcs1Sha256, false) => &signature::RSA_PKCS1_2048_8192_SHA256,
                (SigAlg::RsaPkcs1Sha384, false) => &signature::RSA_PKCS1_2048_8192_SHA384,
                (SigAlg::RsaPkcs1Sha512, false) => &signature::RSA_PKCS1_2048_8192_SHA512,
                (SigAlg::RsaPkcs1Sha256, true) => {
                    &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                }
                (SigAlg::RsaPkcs1Sha512, true) => {
                    &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
                }
                (SigAlg::RsaPkcs1Sha384, true) => {
                    return Err(Refusal::new(
                        Reason::WeakKey,
                        format!("{what} is signed by an RSA-{bits} key with SHA-384"),
                    ))
                }
                _ => return Err(mismatch()),
            };
            (a, der)
        }
        PublicKey::P256(point) => match alg {
            SigAlg::EcdsaSha256 => (&signature::ECDSA_P256_SHA256_ASN1, point),
            SigAlg::EcdsaSha384 => (&signature::ECDSA_P256_SHA384_ASN1, point),
            _ => return Err(mismatch()),
        },
        PublicKey::P384(point) => match alg {
            SigAlg::EcdsaSha256 => (&signature::ECDSA_P384_SHA256_ASN1, point),
            SigAlg::EcdsaSha384 => (&signature::ECDSA_P384_SHA384_ASN1, point),
            _ => return Err(mismatch()),
        },
    };
    UnparsedPublicKey::new(algorithm, key_bytes)
        .verify(message, signature)
        .map_err(|_| {
            Refusal::new(
                Reason::BadSignature,
                format!(
                    "{what}: the {} signature does not verify under the issuer's {} key",
                    alg.name(),
                    key.describe()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_cert::spki::AlgorithmIdentifierOwned;

    #[test]
    fn ml_dsa_and_pss_are_unsupported_not_errors_of_another_kind() {
        for oid in [
            "2.16.840.1.101.3.4.3.17", // ML-DSA-44
            "2.16.840.1.101.3.4.3.18", // ML-DSA-65
            "1.2.840.113549.1.1.10",   // RSASSA-PSS
            "1.3.101.112",             // Ed25519
            "1.2.840.113549.1.1.5",    // SHA-1 with RSA
            "1.2.840.10045.4.3.4",     // ECDSA with SHA-512
        ] {
            let alg = AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new(oid).unwrap(),
                parameters: None,
            };
            let e = signature_algorithm(&alg).unwrap_err();
            assert_eq!(e.code, Reason::UnsupportedAlgorithm, "{oid}: {e}");
            assert!(e.message.starts_with("unsupported algorithm"), "{e}");
        }
    }
}
