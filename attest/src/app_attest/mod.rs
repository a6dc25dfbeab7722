//! iOS App Attest, verified at the console.
//!
//! An iOS agent makes a key in the Secure Enclave with `DCAppAttestService.generateKey`,
//! then asks Apple to attest it with `attestKey(keyId, clientDataHash:)`, where the
//! client data hash is the SHA-256 of the console's challenge. Apple answers with an
//! attestation object: the credential certificate for the key, issued by the App Attest
//! CA under Apple's App Attest root, whose extension 1.2.840.113635.100.8.2 holds the
//! nonce `SHA-256(authData || clientDataHash)`. [`verify_app_attest`] checks, in Apple's
//! order:
//!
//! 1. the object decodes ([`decode_attestation_object`]) and its format is `apple-appattest`;
//! 2. `x5c` is the credential certificate and the intermediate, which chain to a trusted
//!    root ([`TrustAnchors::app_attest`]), every signature and validity period at the
//!    time passed in;
//! 3. the nonce in the credential certificate is `SHA-256(authData || clientDataHash)`;
//! 4. the key id given is the SHA-256 of the certificate's public key (uncompressed point);
//! 5. the RP ID hash is the SHA-256 of the expected App ID (`TEAMID.bundle.id`);
//! 6. the counter is 0; the AAGUID names the production or the development environment
//!    (development accepted only when the options say so); the credential id is the key
//!    id; and the credential key in `authData` is the certificate's key.
//!
//! Steps 1 and 2 stop at the first failure (a chain that fails is evidence of nothing);
//! the checks of step 3 on are all reported. The receipt is carried, not verified: it is
//! for Apple's fraud-metric service. Nothing here reads a clock or the network.

mod object;

use std::fmt::Write as _;

use base64::Engine as _;
use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Tag, TagNumber, Tagged};
use jiff::Timestamp;
use ring::digest;
use schemars::JsonSchema;
use serde::Serialize;

use crate::chain::{check_issuer_is_ca, check_validity, Cert};
use crate::key_description::hex;
use crate::roots::{Anchor, TrustAnchors};
use crate::sig::{self, KeyPolicy, PublicKey};
use crate::verdict::{CertificateSummary, RootSummary};
use crate::{Reason, Refusal};

pub use object::{
    decode_attestation_object, AttestationObject, AuthenticatorData, APP_ATTEST_FORMAT,
    MAX_ATTESTATION_OBJECT_BYTES,
};

/// The version of the App Attest verdict's JSON shape (docs/app-attest-verdict.schema.json).
pub const APP_ATTEST_VERDICT_VERSION: u32 = 1;

/// The credential certificate's nonce extension.
pub const NONCE_EXTENSION_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113635.100.8.2");

/// The AAGUID of keys attested in the production environment.
pub const AAGUID_PRODUCTION: [u8; 16] = *b"appattest\0\0\0\0\0\0\0";
/// The AAGUID of keys attested in the development (sandbox) environment.
pub const AAGUID_DEVELOPMENT: [u8; 16] = *b"appattestdevelop";

/// The App Attest environment the key was attested in, from the AAGUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppAttestEnvironment {
    /// An App Store, TestFlight or enterprise build: `appattest` and seven zero bytes.
    Production,
    /// A development build (`com.apple.developer.devicecheck.appattest-environment` =
    /// `development`): `appattestdevelop`. Apple attests such keys without the
    /// production service's guarantees; accept them only for testing.
    Development,
}

/// The platform an App Attest verdict is about: always iOS (it is not the Android verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictPlatform {
    /// iOS App Attest.
    Ios,
}

/// What the console trusts when it verifies an App Attest object.
#[derive(Debug, Clone)]
pub struct AppAttestOptions {
    /// The roots the intermediate must chain to (default: Apple's App Attest root).
    pub anchors: TrustAnchors,
    /// Accept keys attested in the development environment (refused by default).
    pub allow_development: bool,
}

impl Default for AppAttestOptions {
    fn default() -> Self {
        AppAttestOptions {
            anchors: TrustAnchors::app_attest(),
            allow_development: false,
        }
    }
}

/// What the console expects the object to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAttestExpectations {
    /// The App ID: the team identifier, a dot, and the bundle identifier.
    pub app_id: String,
    /// SHA-256 of the client data the app passed to `attestKey` (the console's challenge,
    /// or the document that carries it).
    pub client_data_hash: [u8; 32],
    /// The key id the app reported with the object (SHA-256 of the public key).
    pub key_id: [u8; 32],
}

impl AppAttestExpectations {
    /// Expectations for an app that passed `SHA-256(client_data)` to `attestKey`.
    pub fn new(app_id: impl Into<String>, client_data: &[u8], key_id: [u8; 32]) -> Self {
        AppAttestExpectations {
            app_id: app_id.into(),
            client_data_hash: sha256(client_data),
            key_id,
        }
    }
}

/// The chain of an App Attest object as decoded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppAttestChain {
    /// The credential certificate (0) and the intermediate (1).
    pub certificates: Vec<CertificateSummary>,
    /// The trusted root the intermediate chained to (when it did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<RootSummary>,
}

/// The attested key, when the object verified: what the console keeps to check the
/// key's later assertions.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestedKey {
    /// The key id, base64 (as `generateKey` returns it).
    pub key_id: String,
    /// The public key: the uncompressed P-256 point, hex.
    pub public_key: String,
    /// The App ID the key belongs to.
    pub app_id: String,
    /// Where Apple attested the key.
    pub environment: AppAttestEnvironment,
}

/// The outcome of verifying one App Attest attestation object.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "Portcullis App Attest verdict")]
pub struct AppAttestVerdict {
    /// The verdict format's version: 1.
    pub verdict_version: u32,
    /// Always `ios`: this is not the Android verdict, and has no `device` section.
    pub platform: VerdictPlatform,
    /// True only when the chain verified and every check of the object passed. Only
    /// then does `key` appear.
    pub verified: bool,
    /// The time the chain was checked against, RFC 3339.
    pub verified_at: String,
    /// Why the object was refused: empty exactly when `verified`.
    pub reasons: Vec<Refusal>,
    /// Things worth knowing that do not refuse the object.
    pub warnings: Vec<String>,
    /// The chain as decoded (absent when the object does not decode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<AppAttestChain>,
    /// Whether the nonce is `SHA-256(authData || clientDataHash)` for the expected client
    /// data (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_matches: Option<bool>,
    /// Whether the certificate's key has the expected key id (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id_matches: Option<bool>,
    /// Whether the RP ID hash is that of the expected App ID (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id_matches: Option<bool>,
    /// The environment the AAGUID names (absent when it names neither).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<AppAttestEnvironment>,
    /// The authenticator data's counter: 0 in an attestation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<u32>,
    /// The size of Apple's receipt, which is carried but not verified here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_bytes: Option<usize>,
    /// The attested key (only when verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<AttestedKey>,
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn summarise(certs: &[Cert]) -> Vec<CertificateSummary> {
    crate::verdict::summarise(certs)
}

/// Validates `x5c` (credential certificate, intermediate) up to one of `anchors` at `now`.
fn validate_chain(x5c: &[Cert], anchors: &TrustAnchors, now: Timestamp) -> Result<Anchor, Refusal> {
    let [cred, intermediate] = x5c else {
        let code = if x5c.len() < 2 {
            Reason::ChainTooShort
        } else {
            Reason::ChainTooLong
        };
        return Err(Refusal::new(
            code,
            format!(
                "x5c has {} certificate(s); App Attest sends two (credential certificate, intermediate)",
                x5c.len()
            ),
        ));
    };
    // Decode every key and algorithm first: an unsupported one is named as such.
    let cred_alg = sig::signature_algorithm(&cred.signature_algorithm)
        .map_err(|e| Refusal::new(e.code, format!("certificate 0: {}", e.message)))?;
    let inter_alg = sig::signature_algorithm(&intermediate.signature_algorithm)
        .map_err(|e| Refusal::new(e.code, format!("certificate 1: {}", e.message)))?;
    let inter_key = sig::public_key(&intermediate.spki)
        .map_err(|e| Refusal::new(e.code, format!("certificate 1: {}", e.message)))?;

    // The intermediate, under a trusted root of the name it gives as issuer.
    let mut candidates = anchors.with_subject(&intermediate.issuer).peekable();
    if candidates.peek().is_none() {
        return Err(Refusal::new(
            Reason::UntrustedRoot,
            format!(
                "the intermediate's issuer ({}) is not one of the trusted roots",
                intermediate.issuer
            ),
        ));
    }
    let mut anchor = None;
    let mut refusal = None;
    for candidate in candidates {
        match sig::verify(
            "certificate 1",
            inter_alg,
            &candidate.key,
            KeyPolicy::Strict,
            &intermediate.tbs,
            &intermediate.signature,
        ) {
            Ok(()) => {
                anchor = Some(candidate.clone());
                break;
            }
            // A root of that name whose key did not sign it: not this chain's root.
            Err(e) if e.code == Reason::BadSignature => {
                refusal = Some(Refusal::new(
                    Reason::UntrustedRoot,
                    format!(
                        "the intermediate is not signed by a trusted root named {}: {}",
                        intermediate.issuer, e.message
                    ),
                ));
            }
            Err(e) => refusal = Some(e),
        }
    }
    let Some(anchor) = anchor else {
        return Err(refusal.unwrap_or_else(|| {
            Refusal::new(
                Reason::UntrustedRoot,
                "no trusted root signed the intermediate",
            )
        }));
    };
    check_issuer_is_ca(1, intermediate, 0, false)?;

    // The credential certificate, under the intermediate.
    if cred.issuer != intermediate.subject {
        return Err(Refusal::new(
            Reason::NameChaining,
            format!(
                "certificate 0's issuer ({}) is not certificate 1's subject ({})",
                cred.issuer, intermediate.subject
            ),
        ));
    }
    sig::verify(
        "certificate 0",
        cred_alg,
        &inter_key,
        KeyPolicy::Strict,
        &cred.tbs,
        &cred.signature,
    )?;

    // Both are Apple-issued with Apple's clock: both must be valid now.
    for (i, cert) in [cred, intermediate].into_iter().enumerate() {
        check_validity(i, cert, now)?;
        if let Some(oid) = cert.unknown_critical.first() {
            return Err(Refusal::new(
                Reason::UnsupportedCriticalExtension,
                format!("certificate {i} has a critical extension this verifier does not process: {oid}"),
            ));
        }
    }
    Ok(anchor)
}

/// The 32-byte nonce of the credential certificate: extension 1.2.840.113635.100.8.2,
/// `SEQUENCE { [1] EXPLICIT OCTET STRING }` (marked critical, it was already refused by
/// the chain check as a critical extension this verifier does not process).
fn nonce(cred_der: &[u8]) -> Result<[u8; 32], Refusal> {
    let bad = |why: &str| {
        Refusal::new(
            Reason::MalformedExtension,
            format!("the credential certificate's nonce extension ({NONCE_EXTENSION_OID}) {why}"),
        )
    };
    let cert = x509_cert::Certificate::from_der(cred_der)
        .map_err(|_| bad("cannot be read: the certificate does not decode"))?;
    let extensions = cert.tbs_certificate().extensions();
    let ext = extensions
        .map(std::vec::Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == NONCE_EXTENSION_OID)
        .ok_or_else(|| {
            Refusal::new(
                Reason::MissingAttestationExtension,
                format!(
                    "the credential certificate has no nonce extension ({NONCE_EXTENSION_OID})"
                ),
            )
        })?;
    let seq = AnyRef::from_der(ext.extn_value.as_bytes()).map_err(|_| bad("is not DER"))?;
    if seq.tag() != Tag::Sequence {
        return Err(bad("is not a SEQUENCE"));
    }
    let tagged = AnyRef::from_der(seq.value()).map_err(|_| bad("does not hold one element"))?;
    let expected = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(1),
    };
    if tagged.tag() != expected {
        return Err(bad("does not hold a [1] element"));
    }
    let octets = AnyRef::from_der(tagged.value()).map_err(|_| bad("[1] is not DER"))?;
    if octets.tag() != Tag::OctetString {
        return Err(bad("[1] is not an OCTET STRING"));
    }
    <[u8; 32]>::try_from(octets.value()).map_err(|_| bad("is not 32 bytes"))
}

fn new_verdict(now: Timestamp) -> AppAttestVerdict {
    AppAttestVerdict {
        verdict_version: APP_ATTEST_VERDICT_VERSION,
        platform: VerdictPlatform::Ios,
        verified: false,
        verified_at: now.to_string(),
        reasons: Vec::new(),
        warnings: Vec::new(),
        chain: None,
        challenge_matches: None,
        key_id_matches: None,
        app_id_matches: None,
        environment: None,
        counter: None,
        receipt_bytes: None,
        key: None,
    }
}

/// Verifies an App Attest attestation object (the bytes `attestKey` returned) at time
/// `now` against what the console expects.
pub fn verify_app_attest(
    input: &[u8],
    options: &AppAttestOptions,
    expect: &AppAttestExpectations,
    now: Timestamp,
) -> AppAttestVerdict {
    let mut verdict = new_verdict(now);
    let object = match decode_attestation_object(input) {
        Ok(o) => o,
        Err(refusal) => {
            verdict.reasons.push(refusal);
            return verdict;
        }
    };
    verdict.receipt_bytes = Some(object.receipt.len());
    if object.fmt != APP_ATTEST_FORMAT {
        verdict.reasons.push(Refusal::new(
            Reason::UnsupportedFormat,
            format!(
                "the attestation format is {:?}, not {APP_ATTEST_FORMAT:?}",
                object.fmt
            ),
        ));
        return verdict;
    }

    let certs = match object
        .x5c
        .iter()
        .take(crate::MAX_CHAIN_LEN)
        .enumerate()
        .map(|(i, der)| Cert::parse(i, der))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(c) => c,
        Err(refusal) => {
            verdict.reasons.push(refusal);
            return verdict;
        }
    };
    verdict.chain = Some(AppAttestChain {
        certificates: summarise(&certs),
        root: None,
    });
    let anchor = if object.x5c.len() > certs.len() {
        Err(Refusal::new(
            Reason::ChainTooLong,
            format!(
                "x5c has {} certificates; App Attest sends two",
                object.x5c.len()
            ),
        ))
    } else {
        validate_chain(&certs, &options.anchors, now)
    };
    let anchor = match anchor {
        Ok(a) => a,
        Err(refusal) => {
            verdict.reasons.push(refusal);
            return verdict;
        }
    };
    if let Some(chain) = &mut verdict.chain {
        chain.root = Some(RootSummary {
            name: anchor.name.clone(),
            subject: anchor.subject.clone(),
            fingerprint: anchor.fingerprint.clone(),
        });
    }
    verdict
        .warnings
        .push("the receipt is not verified here (it serves Apple's fraud metric)".into());

    let cred = &certs[0];
    let point = match sig::public_key(&cred.spki) {
        Ok(PublicKey::P256(point)) => point,
        Ok(other) => {
            verdict.reasons.push(Refusal::new(
                Reason::UnsupportedAlgorithm,
                format!(
                    "unsupported algorithm: the credential certificate's key is {}, not EC P-256",
                    other.describe()
                ),
            ));
            return verdict;
        }
        Err(e) => {
            verdict.reasons.push(e);
            return verdict;
        }
    };
    let auth = &object.auth_data;

    // The nonce: the challenge, bound to this authData.
    match nonce(&cred.der) {
        Ok(found) => {
            let mut signed = object.auth_data_bytes.clone();
            signed.extend_from_slice(&expect.client_data_hash);
            let ok = found == sha256(&signed);
            verdict.challenge_matches = Some(ok);
            if !ok {
                verdict.reasons.push(Refusal::new(
                    Reason::ChallengeMismatch,
                    "the certificate's nonce is not SHA-256(authData || SHA-256(client data)): another challenge, or altered authData",
                ));
            }
        }
        Err(refusal) => verdict.reasons.push(refusal),
    }

    // The key id.
    let key_id = sha256(&point);
    let key_id_ok = key_id == expect.key_id;
    verdict.key_id_matches = Some(key_id_ok);
    if !key_id_ok {
        verdict.reasons.push(Refusal::new(
            Reason::KeyIdMismatch,
            format!(
                "the certificate's key has key id {}, not {}",
                b64(&key_id),
                b64(&expect.key_id)
            ),
        ));
    }

    // The App ID.
    let app_ok = auth.rp_id_hash == sha256(expect.app_id.as_bytes());
    verdict.app_id_matches = Some(app_ok);
    if !app_ok {
        verdict.reasons.push(Refusal::new(
            Reason::AppIdMismatch,
            format!(
                "the RP ID hash ({}) is not SHA-256 of the expected App ID {}",
                hex(&auth.rp_id_hash),
                expect.app_id
            ),
        ));
    }

    // The counter, the environment, the credential.
    verdict.counter = Some(auth.counter);
    if auth.counter != 0 {
        verdict.reasons.push(Refusal::new(
            Reason::CounterNotZero,
            format!("the counter is {}; an attestation's is 0", auth.counter),
        ));
    }
    let environment = if auth.aaguid == AAGUID_PRODUCTION {
        Some(AppAttestEnvironment::Production)
    } else if auth.aaguid == AAGUID_DEVELOPMENT {
        Some(AppAttestEnvironment::Development)
    } else {
        None
    };
    verdict.environment = environment;
    match environment {
        None => verdict.reasons.push(Refusal::new(
            Reason::UnknownEnvironment,
            format!(
                "the AAGUID {} names neither the production nor the development environment",
                hex(&auth.aaguid)
            ),
        )),
        Some(AppAttestEnvironment::Development) if !options.allow_development => {
            verdict.reasons.push(Refusal::new(
                Reason::DevelopmentEnvironment,
                "the key was attested in the development environment, which this policy does not accept",
            ));
        }
        Some(AppAttestEnvironment::Development) => verdict.warnings.push(
            "the key was attested in the development environment (accepted by option)".into(),
        ),
        Some(AppAttestEnvironment::Production) => {}
    }
    if auth.credential_id != key_id {
        verdict.reasons.push(Refusal::new(
            Reason::CredentialIdMismatch,
            format!(
                "the credential id ({} bytes) is not the certificate key's id",
                auth.credential_id.len()
            ),
        ));
    }
    if auth.credential_public_key != point {
        verdict.reasons.push(Refusal::new(
            Reason::CredentialKeyMismatch,
            "the credential public key in authData is not the credential certificate's key",
        ));
    }

    verdict.verified = verdict.reasons.is_empty();
    if verdict.verified {
        verdict.key = environment.map(|environment| AttestedKey {
            key_id: b64(&key_id),
            public_key: hex(&point),
            app_id: expect.app_id.clone(),
            environment,
        });
    }
    verdict
}

impl AppAttestVerdict {
    /// The verdict's JSON Schema (docs/app-attest-verdict.schema.json).
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(AppAttestVerdict)).expect("a schema serialises")
    }

    /// The JSON Schema as committed: pretty-printed, with a final newline.
    pub fn json_schema_text() -> String {
        crate::verdict::committed_schema_text(&Self::json_schema())
    }

    /// The verdict as pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a verdict serialises")
    }

    /// The first reason code, if refused.
    pub fn first_reason(&self) -> Option<Reason> {
        self.reasons.first().map(|r| r.code)
    }

    /// Whether `code` is among the reasons.
    pub fn refused_for(&self, code: Reason) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// A report for a person.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let matches = |m: bool| if m { "matches" } else { "DOES NOT MATCH" };
        if self.verified {
            let _ = writeln!(out, "VERIFIED (iOS App Attest) at {}", self.verified_at);
        } else {
            let _ = writeln!(out, "REFUSED (iOS App Attest) at {}", self.verified_at);
            for r in &self.reasons {
                let _ = writeln!(out, "  {}: {}", r.code, r.message);
            }
        }
        if let Some(chain) = &self.chain {
            let root = chain
                .root
                .as_ref()
                .map(|r| format!("{} ({})", r.name, r.subject))
                .unwrap_or_else(|| "not validated".into());
            let _ = writeln!(
                out,
                "chain:            {} certificate(s), root {root}",
                chain.certificates.len()
            );
        }
        if let Some(m) = self.challenge_matches {
            let _ = writeln!(out, "challenge:        {}", matches(m));
        }
        if let Some(m) = self.key_id_matches {
            let _ = writeln!(out, "key id:           {}", matches(m));
        }
        if let Some(m) = self.app_id_matches {
            let _ = writeln!(out, "app id:           {}", matches(m));
        }
        if let Some(e) = self.environment {
            let _ = writeln!(
                out,
                "environment:      {}",
                match e {
                    AppAttestEnvironment::Production => "production",
                    AppAttestEnvironment::Development => "development",
                }
            );
        }
        if let Some(c) = self.counter {
            let _ = writeln!(out, "counter:          {c}");
        }
        if let Some(key) = &self.key {
            let _ = writeln!(out, "attested key id:  {}", key.key_id);
            let _ = writeln!(out, "public key:       {}", key.public_key);
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}
