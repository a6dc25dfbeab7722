//! Android hardware key attestation and iOS App Attest, verified at the console.
//!
//! A phone generates a key in its Keystore with a challenge from the console; the
//! Keystore hands back a certificate chain whose leaf carries the KeyDescription
//! extension (OID 1.3.6.1.4.1.11129.2.1.17), signed by a key that only the phone's
//! TEE or StrongBox holds, certified up to a Google root. This crate checks such a
//! chain and turns it into a [`Verdict`]:
//!
//! 1. [`decode_pem_chain`] splits the PEM file into DER certificates;
//! 2. [`chain::validate`] checks the path: it ends in a trusted root ([`TrustAnchors`],
//!    the Google roots compiled in from `attest/roots/`), names chain, every signature
//!    verifies (RSA PKCS#1 v1.5, ECDSA P-256/P-384, with ring), every issuing
//!    certificate is valid at the time passed in, is a CA, and is not on the
//!    revocation status list ([`RevocationList`]); only the leaf carries the extension;
//! 3. [`parse_key_description`] parses the extension strictly (DER, tags in ascending
//!    order, no unknown tags);
//! 4. [`verify`] compares the challenge and the attesting app with what the console
//!    expects and reports what the record proves: hardware-backed key, StrongBox,
//!    verified boot, locked bootloader, patch levels.
//!
//! iOS has App Attest instead: [`app_attest`] checks an attestation object from
//! `DCAppAttestService` against Apple's App Attest root ([`verify_app_attest`]), with
//! the same certificate and signature code, into an [`AppAttestVerdict`].
//!
//! Nothing here reads a clock or the network: the time and the lists come in as
//! arguments, as in the core (docs/decisions/0001). Every failure is a [`Refusal`]
//! with a stable [`Reason`]; nothing panics on hostile input (fuzzed in fuzz/).
//! docs/attestation.md explains the flow and what each field proves.

#![forbid(unsafe_code)]

pub mod app_attest;
pub mod chain;
pub mod key_description;
mod pem;
pub mod revocation;
pub mod roots;
mod sig;
pub mod verdict;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use app_attest::{
    decode_attestation_object, verify_app_attest, AppAttestExpectations, AppAttestOptions,
    AppAttestVerdict,
};
pub use chain::{ValidatedChain, MAX_CHAIN_LEN, MIN_CHAIN_LEN};
pub use key_description::{parse_key_description, KeyDescription, ATTESTATION_EXTENSION_OID};
pub use pem::{decode_pem_chain, MAX_CHAIN_INPUT_BYTES};
pub use revocation::RevocationList;
pub use roots::TrustAnchors;
pub use verdict::{check_certification, verify, Expectations, Verdict, VerifyOptions};

/// Why a chain was refused: stable codes for scripts and the compliance engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The input holds no certificate, or a PEM block is damaged.
    MalformedPem,
    /// A certificate is not valid DER X.509 v3.
    MalformedCertificate,
    /// Fewer certificates than an attestation chain has (leaf, attestation key, root).
    ChainTooShort,
    /// More certificates than any attestation chain has.
    ChainTooLong,
    /// The chain does not end in one of the trusted roots.
    UntrustedRoot,
    /// The chain ends in the Android *software* attestation root: no hardware vouches for it.
    SoftwareRoot,
    /// A certificate's issuer is not the subject of the next certificate.
    NameChaining,
    /// A signature does not verify under the issuer's key.
    BadSignature,
    /// A signature or key algorithm this verifier does not implement (RSA-PSS, ML-DSA, Ed25519, P-521, ...).
    UnsupportedAlgorithm,
    /// An RSA key shorter than 2048 bits.
    WeakKey,
    /// An issuing certificate is not yet valid at the verification time.
    NotYetValid,
    /// An issuing certificate has expired at the verification time.
    Expired,
    /// A certificate that issues another is not a CA (basic constraints, key usage).
    NotACa,
    /// An issuing certificate's path length constraint is exceeded.
    PathLengthExceeded,
    /// A certificate carries a critical extension this verifier does not process.
    UnsupportedCriticalExtension,
    /// A certificate's serial number is REVOKED on the status list.
    Revoked,
    /// A certificate's serial number is SUSPENDED (or has another non-OK status) on the status list.
    Suspended,
    /// The leaf has no attestation extension.
    MissingAttestationExtension,
    /// A certificate other than the leaf carries an attestation extension (chain extension attack).
    ExtensionOutsideLeaf,
    /// The attestation extension is not valid KeyDescription DER.
    MalformedExtension,
    /// An authorization list's tags are not in strictly ascending order.
    TagsOutOfOrder,
    /// An authorization list holds a tag the KeyDescription schema does not define.
    UnknownTag,
    /// The record claims StrongBox but the certificates do not say StrongBox.
    SecurityLevelMismatch,
    /// The attestation challenge is not the one the console issued.
    ChallengeMismatch,
    /// No attesting package has the expected name.
    PackageMismatch,
    /// No signing-certificate digest of the attesting app is the expected one.
    SignerMismatch,
    /// The attested key's signature over the checkpoint-key certification does not verify.
    CheckpointKeyNotCertified,
    /// An App Attest attestation object that is not the CBOR structure Apple sends.
    MalformedAttestationObject,
    /// An attestation statement format other than `apple-appattest`.
    UnsupportedFormat,
    /// The App Attest key is not the one the app reported (key id).
    KeyIdMismatch,
    /// The App Attest object was made for another App ID (team and bundle identifier).
    AppIdMismatch,
    /// The App Attest authenticator data's counter is not 0, as an attestation's is.
    CounterNotZero,
    /// The key was attested in Apple's development environment, which the policy refuses.
    DevelopmentEnvironment,
    /// The AAGUID names neither App Attest environment.
    UnknownEnvironment,
    /// The App Attest credential id is not the key id.
    CredentialIdMismatch,
    /// The credential key in the authenticator data is not the credential certificate's key.
    CredentialKeyMismatch,
}

impl Reason {
    /// The stable code, as in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedPem => "malformed_pem",
            Reason::MalformedCertificate => "malformed_certificate",
            Reason::ChainTooShort => "chain_too_short",
            Reason::ChainTooLong => "chain_too_long",
            Reason::UntrustedRoot => "untrusted_root",
            Reason::SoftwareRoot => "software_root",
            Reason::NameChaining => "name_chaining",
            Reason::BadSignature => "bad_signature",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::WeakKey => "weak_key",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::NotACa => "not_a_ca",
            Reason::PathLengthExceeded => "path_length_exceeded",
            Reason::UnsupportedCriticalExtension => "unsupported_critical_extension",
            Reason::Revoked => "revoked",
            Reason::Suspended => "suspended",
            Reason::MissingAttestationExtension => "missing_attestation_extension",
            Reason::ExtensionOutsideLeaf => "extension_outside_leaf",
            Reason::MalformedExtension => "malformed_extension",
            Reason::TagsOutOfOrder => "tags_out_of_order",
            Reason::UnknownTag => "unknown_tag",
            Reason::SecurityLevelMismatch => "security_level_mismatch",
            Reason::ChallengeMismatch => "challenge_mismatch",
            Reason::PackageMismatch => "package_mismatch",
            Reason::SignerMismatch => "signer_mismatch",
            Reason::CheckpointKeyNotCertified => "checkpoint_key_not_certified",
            Reason::MalformedAttestationObject => "malformed_attestation_object",
            Reason::UnsupportedFormat => "unsupported_format",
            Reason::KeyIdMismatch => "key_id_mismatch",
            Reason::AppIdMismatch => "app_id_mismatch",
            Reason::CounterNotZero => "counter_not_zero",
            Reason::DevelopmentEnvironment => "development_environment",
            Reason::UnknownEnvironment => "unknown_environment",
            Reason::CredentialIdMismatch => "credential_id_mismatch",
            Reason::CredentialKeyMismatch => "credential_key_mismatch",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the reason code and a one-line explanation for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Refusal {
    /// The stable code.
    pub code: Reason,
    /// What was wrong, naming the certificate (0 = leaf) or field; one line.
    pub message: String,
}

impl Refusal {
    pub(crate) fn new(code: Reason, message: impl Into<String>) -> Self {
        let mut message = message.into();
        // One line, whatever a library error said.
        message.retain(|c| c != '\n' && c != '\r');
        Refusal { code, message }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Refusal {}
