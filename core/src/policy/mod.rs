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

pub use crate::error::PolicyError;
pub(crate) use crate::redact::sanitize;

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

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::identity::hex(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(D::Error::custom("expected 64 lower-case hex digits"));
        }
        crate::identity::unhex32(&text)
            .ok_or_else(|| D::Error::custom("expected 64 lower-case hex digits"))
    }
}
