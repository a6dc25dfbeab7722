//! Signed policy bundles: the policy model, TUF-style verification, and the JSON Schema.
//!
//! A compromised carrier or MDM channel must not be able to push a weaker policy.
//! So the console signs each policy into a bundle (an envelope around the exact
//! payload bytes, [`bundle`]), and the device accepts it only after the checks of
//! [`trust`]: size, form, type, threshold of valid signatures from the trust root's
//! policy keys, root version, expiry, scope and a strictly increasing version.
//! Verification is pure: the next [`TrustedState`] is returned, never written, so
//! a refused bundle leaves the trusted state exactly as it was.
//!
//! - [`model`]: the policy document ([`Policy`]) and its validation.
//! - [`bundle`]: the envelope format, keys and signing.
//! - [`trust`]: the trust root, [`TrustedState`], [`verify_bundle`], [`rotate_root`].
//! - [`amapi`]: import from and export to the Android Management API's Policy resource.
//! - [`indicators`]: separately signed indicator collections,
//!   [`TrustedState::verify_indicators`].
//!
//! docs/policy-bundles.md documents the format and the threat each check answers.

pub mod amapi;
pub mod bundle;
pub mod indicators;
pub mod model;
pub mod trust;

use thiserror::Error;

pub use bundle::{
    Envelope, KeyId, PublicKey, SigningKey, MAX_BUNDLE_BYTES, MAX_ROOT_BYTES, MAX_SIGNATURES,
    POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};
pub use indicators::{
    AcceptedIndicators, IndicatorsPayload, SignedIndicators, INDICATORS_PAYLOAD_TYPE,
    MAX_INDICATORS_BYTES,
};
pub use model::{
    MaintenanceWindow, PinKey, Policy, Sha256Fingerprint, TelemetryRules, POLICY_SCHEMA_V1,
};
pub use trust::{
    check_bundle, rotate_root, verify_bundle, AppliedPolicy, BundlePayload, BundleScope,
    DeviceScope, PayloadHash, RoleName, TrustRoot, TrustedState, VerifiedPolicy,
};

use crate::time::Timestamp;

/// Why a policy document, bundle or trust root was refused. Each message names
/// the check or the field; none contains key material or identifier values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The input is larger than allowed; refused before any parsing.
    #[error("refused: {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// Input size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The envelope is truncated, garbled or not in canonical form.
    #[error("garbled envelope: {0}")]
    Envelope(String),
    /// The envelope carries more signatures than any root could need.
    #[error("refused: {count} signatures is over the limit of {limit}")]
    TooManySignatures {
        /// Signatures present.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The envelope holds another kind of payload (e.g. a root offered as a policy).
    #[error("wrong payload type: expected {expected}, found {found:?}")]
    WrongPayloadType {
        /// The type this operation accepts.
        expected: &'static str,
        /// The type found (sanitised).
        found: String,
    },
    /// The envelope carries no signature.
    #[error("unsigned: the envelope carries no signature")]
    Unsigned,
    /// A signature names a key the role does not list.
    #[error("signature {index} is by key {keyid}…, which is not a {role} key of the trust root")]
    UnknownKey {
        /// Position of the signature in the envelope.
        index: usize,
        /// First 8 hex digits of the key id.
        keyid: String,
        /// The role checked.
        role: RoleName,
    },
    /// A signature does not verify: the payload or the signature was altered.
    #[error("signature {index} by key {keyid}… does not verify (payload or signature altered)")]
    BadSignature {
        /// Position of the signature in the envelope.
        index: usize,
        /// First 8 hex digits of the key id.
        keyid: String,
    },
    /// Too few distinct keys signed.
    #[error("threshold not met: {valid} distinct {role} key(s) signed, {required} required")]
    Threshold {
        /// The role checked.
        role: RoleName,
        /// Distinct keys with valid signatures.
        valid: usize,
        /// The role's threshold.
        required: u32,
    },
    /// A JSON document (policy, payload, root) does not parse; names the line, column and field.
    #[error("{what} does not parse (line {line}, column {column}): {problem}")]
    Document {
        /// Which document.
        what: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's description: the field and what was expected.
        problem: String,
    },
    /// The policy breaks a rule; `path` names the field.
    #[error("invalid policy at {path}: {problem}")]
    InvalidPolicy {
        /// Path of the field, e.g. `apps.applications[2].packageName`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// An AMAPI Policy document holds a value of the wrong type or an enum value AMAPI
    /// does not define; `path` names the AMAPI field.
    #[error("invalid AMAPI policy at {path}: {problem}")]
    InvalidAmapi {
        /// Path of the AMAPI field, e.g. `applications[0].installType`.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The bundle metadata breaks a rule.
    #[error("invalid bundle at {path}: {problem}")]
    InvalidBundle {
        /// Path of the field, e.g. `scope`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The trust root breaks a rule.
    #[error("invalid trust root at {path}: {problem}")]
    InvalidRoot {
        /// Path of the field, e.g. `roles.policy.threshold`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The bundle was signed under another root version than the device trusts.
    #[error(
        "bundle was signed under root version {bundle}, this device trusts root version {trusted}"
    )]
    RootVersionMismatch {
        /// The bundle's `rootVersion`.
        bundle: u64,
        /// The trusted root's version.
        trusted: u64,
    },
    /// The bundle has expired (freeze attack, or a stale bundle).
    #[error("expired: it expired at {expires}, it is now {now}")]
    Expired {
        /// The bundle's expiry.
        expires: Timestamp,
        /// The time handed in.
        now: Timestamp,
    },
    /// The bundle is for other devices or groups.
    #[error("out of scope: it names neither this device nor any of its groups")]
    OutOfScope,
    /// The bundle is older than the applied one.
    #[error("rollback: version {offered} is not newer than the applied version {applied}")]
    Rollback {
        /// The bundle's version.
        offered: u64,
        /// The applied version.
        applied: u64,
    },
    /// The bundle is the one already applied (not an attack: a redelivery).
    #[error("already applied: version {version} is the policy in force")]
    AlreadyApplied {
        /// The version.
        version: u64,
    },
    /// The indicator collection is the one already loaded under its label (not an
    /// attack: a redelivery).
    #[error("already loaded: version {version} is the collection in use")]
    AlreadyLoaded {
        /// The version.
        version: u64,
    },
    /// A root rotation does not follow the current root by exactly one version.
    #[error("root rotation refused: version {offered} offered, {expected} expected (versions are applied one by one)")]
    RootVersion {
        /// The new root's version.
        offered: u64,
        /// The only version acceptable next.
        expected: u64,
    },
    /// The bundle handed to `restore` is not the applied one, or none was applied.
    #[error("not the applied bundle: its hash differs from the trusted state's (or nothing was applied)")]
    NotApplied,
    /// A key file or key bytes are unusable; never includes the key.
    #[error("key: {0}")]
    Key(String),
    /// The trust root names no `operations` role, so no instruction can be trusted.
    #[error("refused: trust root version {root_version} has no operations role; rotate to a root that adds one")]
    NoOperationsRole {
        /// The version of the root in force.
        root_version: u64,
    },
    /// The instruction breaks a rule; `path` names the field.
    #[error("invalid instruction at {path}: {problem}")]
    InvalidInstruction {
        /// Path of the field, e.g. `body.until`.
        path: String,
        /// The rule broken.
        problem: String,
    },
    /// The instruction names a kind this agent does not know.
    #[error("unknown instruction kind (expected one of: {expected})")]
    UnknownKind {
        /// The kinds this agent accepts.
        expected: &'static str,
    },
    /// The instruction's sequence does not exceed the highest accepted one: a replay or
    /// a rollback.
    #[error("replayed or rolled back: sequence {offered} is not above the highest accepted sequence {accepted}")]
    SequenceNotNewer {
        /// The instruction's sequence.
        offered: u64,
        /// The highest sequence this device accepted.
        accepted: u64,
    },
}

impl PolicyError {
    /// A stable short code for journals, alerts and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::TooLarge { .. } => "too_large",
            PolicyError::Envelope(_) => "garbled",
            PolicyError::TooManySignatures { .. } => "too_many_signatures",
            PolicyError::WrongPayloadType { .. } => "wrong_type",
            PolicyError::Unsigned => "unsigned",
            PolicyError::UnknownKey { .. } => "unknown_key",
            PolicyError::BadSignature { .. } => "bad_signature",
            PolicyError::Threshold { .. } => "threshold",
            PolicyError::Document { .. } => "unparsable",
            PolicyError::InvalidPolicy { .. } => "invalid_policy",
            PolicyError::InvalidAmapi { .. } => "invalid_amapi",
            PolicyError::InvalidBundle { .. } => "invalid_bundle",
            PolicyError::InvalidRoot { .. } => "invalid_root",
            PolicyError::RootVersionMismatch { .. } => "root_version_mismatch",
            PolicyError::Expired { .. } => "expired",
            PolicyError::OutOfScope => "out_of_scope",
            PolicyError::Rollback { .. } => "rollback",
            PolicyError::AlreadyApplied { .. } => "already_applied",
            PolicyError::AlreadyLoaded { .. } => "already_loaded",
            PolicyError::RootVersion { .. } => "root_version",
            PolicyError::NotApplied => "not_applied",
            PolicyError::Key(_) => "key",
            PolicyError::NoOperationsRole { .. } => "no_operations_role",
            PolicyError::InvalidInstruction { .. } => "invalid_instruction",
            PolicyError::UnknownKind { .. } => "unknown_kind",
            PolicyError::SequenceNotNewer { .. } => "replayed",
        }
    }

    pub(crate) fn document(what: &'static str, e: &serde_json::Error) -> Self {
        PolicyError::Document {
            what,
            line: e.line(),
            column: e.column(),
            problem: crate::json::describe_data(&e.to_string()),
        }
    }
}

/// Makes text from an untrusted input safe for one log line: control characters
/// replaced, length bounded, identifier-shaped digit runs redacted.
pub(crate) fn sanitize(text: &str) -> String {
    const MAX: usize = 160;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    crate::instruction::redact_identifiers(&out).into_owned()
}

#[cfg(feature = "schema")]
/// The policy document's JSON Schema (draft 2020-12), generated from the Rust
/// types; `policies/policy.schema.json` is this text, kept in sync by a test.
pub fn policy_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<Policy>();
    serde_json::to_value(schema).expect("a schema always serialises")
}

#[cfg(feature = "schema")]
/// [`policy_schema`] as the exact text committed in `policies/policy.schema.json`.
pub fn policy_schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&policy_schema()).expect("a schema always serialises");
    text.push('\n');
    text
}

/// Serde helpers for 32-byte values written as 64 lower-case hex digits.
pub(crate) mod serde_hex32 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::identity::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(D::Error::custom("expected 64 lower-case hex digits"));
        }
        crate::identity::unhex32(&text)
            .ok_or_else(|| D::Error::custom("expected 64 lower-case hex digits"))
    }
}
