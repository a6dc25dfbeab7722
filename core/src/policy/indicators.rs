//! Separately signed indicator collections.
//!
//! An indicator collection (a STIX 2.1 bundle, see docs/inspection.md) decides what an
//! inspection looks for: a collection swapped or emptied on the way to the phone
//! hides the spyware it should find. So collections travel in the same signed
//! envelope as policy bundles ([`super::bundle`]), with their own payload type
//! ([`INDICATORS_PAYLOAD_TYPE`]), signed by the trust root's `policy` role with its
//! threshold. [`TrustedState::verify_indicators`] checks one as the phone would:
//! size (before parsing), envelope form, payload type, signatures (the same code
//! as for bundles: every signature from a policy key and valid, distinct keys at
//! or above the threshold), payload parse and validation, root version, expiry.
//! It is pure and changes nothing.
//!
//! The device keeps only the latest collection per label; whether an offered
//! collection may replace the one it holds is the separate, equally pure
//! [`SignedIndicators::check_update`], given what the device recorded
//! ([`AcceptedIndicators`]) when it accepted the previous one.
//!
//! docs/policy-bundles.md ("Signed indicator collections") documents the format and
//! the threat each check answers.

use serde::{Deserialize, Serialize};

use super::bundle::{Envelope, KeyId, SigningKey};
use super::trust::{
    check_not_expired, check_root_version, valid_scope_name, PayloadHash, TrustedState,
};
use super::PolicyError;
use crate::time::Timestamp;

/// `payloadType` of a signed indicator collection.
pub const INDICATORS_PAYLOAD_TYPE: &str = "application/vnd.portcullis.indicators+json";
/// Largest signed indicator collection accepted, checked before any parsing (about 6 MB
/// of payload; the largest public collection, predator, is under 0.6 MB).
pub const MAX_INDICATORS_BYTES: usize = 8 * 1024 * 1024;

/// The signed content of an indicator collection: a label, the metadata that make
/// rollback and freeze checks possible, and the STIX 2.1 bundle itself.
///
/// ```json
/// {"collection":"predator","version":1772323200,"rootVersion":1,
///  "issuedAt":"2026-03-01T00:00:00Z","expires":"2026-03-31T00:00:00Z",
///  "stix":{"type":"bundle","id":"bundle--…","objects":[…]}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndicatorsPayload {
    /// The collection's label: findings name it, and a newer collection with the same
    /// label replaces it. 1 to 128 of `A-Z a-z 0-9 . _ : -` (e.g. `predator`).
    pub collection: String,
    /// Increases with every signing of this collection under one root version.
    pub version: u64,
    /// The root version it was signed under; must equal the device's.
    pub root_version: u64,
    /// When the console signed it.
    pub issued_at: Timestamp,
    /// After this it is refused (a withheld update cannot be hidden for long).
    pub expires: Timestamp,
    /// The STIX 2.1 bundle, as a JSON value (`{"type": "bundle", "objects": [...]}`).
    pub stix: serde_json::Value,
}

impl IndicatorsPayload {
    /// Checks the metadata and the outer shape of the STIX bundle. Its objects are
    /// judged when the collection is loaded (`IndicatorSet::load_stix2`).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |path: &str, problem: &str| PolicyError::InvalidBundle {
            path: path.to_owned(),
            problem: problem.to_owned(),
        };
        validate_terms(&self.collection, self.version, self.issued_at, self.expires)?;
        let Some(stix) = self.stix.as_object() else {
            return Err(bad("stix", "must be a STIX 2.1 bundle (a JSON object)"));
        };
        if stix.get("type").and_then(serde_json::Value::as_str) != Some("bundle") {
            return Err(bad("stix.type", "must be \"bundle\""));
        }
        if stix.get("objects").is_some_and(|o| !o.is_array()) {
            return Err(bad("stix.objects", "must be a list"));
        }
        Ok(())
    }

    /// The payload bytes: compact JSON (collections are large; nothing is gained by
    /// indenting what is carried in base64).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payload always serialises")
    }

    /// Signs this payload into a signed indicator collection, after validating it.
    pub fn sign(&self, keys: &[&SigningKey]) -> crate::Result<Vec<u8>> {
        self.validate()?;
        let mut envelope = Envelope::new(INDICATORS_PAYLOAD_TYPE, self.to_bytes());
        for key in keys {
            envelope.sign(key);
        }
        Ok(envelope.to_bytes())
    }
}

/// An indicator collection that passed every check of
/// [`TrustedState::verify_indicators`]. Hand `stix_json` to
/// `IndicatorSet::load_stix2` under the label `collection` (the signed one, never a
/// label from elsewhere).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedIndicators {
    /// The signed label.
    pub collection: String,
    /// The signed version.
    pub version: u64,
    /// The root version it was signed under (the trusted one).
    pub root_version: u64,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When it expires.
    pub expires: Timestamp,
    /// The STIX 2.1 bundle as JSON text (compact; the signed value re-serialised).
    pub stix_json: String,
    /// SHA-256 of the payload bytes: the identity of what was signed.
    pub payload_sha256: PayloadHash,
    /// The distinct policy keys whose signatures counted (empty after
    /// [`SignedIndicators::restore`], which does not judge signatures).
    pub signed_by: Vec<KeyId>,
}

impl std::fmt::Debug for SignedIndicators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIndicators")
            .field("collection", &self.collection)
            .field("version", &self.version)
            .field("root_version", &self.root_version)
            .field("issued_at", &self.issued_at)
            .field("expires", &self.expires)
            .field(
                "stix_json",
                &format_args!("<{} bytes>", self.stix_json.len()),
            )
            .field("payload_sha256", &self.payload_sha256)
            .field("signed_by", &self.signed_by)
            .finish()
    }
}

/// What the device records about the collection it holds under a label: enough to
/// refuse rollbacks ([`SignedIndicators::check_update`]), recognise redeliveries,
/// report staleness and re-check the stored file after a restart
/// ([`SignedIndicators::restore`]). Serialisable for the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptedIndicators {
    /// The label.
    pub collection: String,
    /// The accepted version.
    pub version: u64,
    /// The root version it was signed under.
    pub root_version: u64,
    /// SHA-256 of its payload.
    pub payload_sha256: PayloadHash,
    /// When it expires (it may stay loaded after; the device reports it stale).
    pub expires: Timestamp,
}

impl AcceptedIndicators {
    /// Whether the collection has expired at `now` (the console should be told the
    /// device's indicators are stale).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires
    }
}

impl SignedIndicators {
    /// What the device should record once it has loaded this collection.
    pub fn accepted(&self) -> AcceptedIndicators {
        AcceptedIndicators {
            collection: self.collection.clone(),
            version: self.version,
            root_version: self.root_version,
            payload_sha256: self.payload_sha256,
            expires: self.expires,
        }
    }

    /// Whether this collection may replace `previous`, the record of the collection the
    /// device holds under the same label (`None`: it holds none). Pure.
    ///
    /// Within one root version the version must increase: an older (or different
    /// same-version) collection is a `rollback`, the same payload again is
    /// `already_loaded` (a redelivery the caller can skip). A collection signed under a
    /// newer root version than `previous` starts a new sequence (as bundles do after a
    /// rotation, so a huge version signed by a key since rotated away cannot lock the
    /// label); one signed under an older root version is refused.
    pub fn check_update(&self, previous: Option<&AcceptedIndicators>) -> Result<(), PolicyError> {
        let Some(previous) = previous else {
            return Ok(());
        };
        if previous.collection != self.collection {
            return Err(PolicyError::InvalidBundle {
                path: "collection".into(),
                problem: "is not the label of the collection it would replace".into(),
            });
        }
        if self.root_version < previous.root_version {
            return Err(PolicyError::RootVersionMismatch {
                bundle: self.root_version,
                trusted: previous.root_version,
            });
        }
        if self.root_version == previous.root_version && self.version <= previous.version {
            return Err(
                if self.version == previous.version
                    && self.payload_sha256 == previous.payload_sha256
                {
                    PolicyError::AlreadyLoaded {
                        version: self.version,
                    }
                } else {
                    PolicyError::Rollback {
                        offered: self.version,
                        applied: previous.version,
                    }
                },
            );
        }
        Ok(())
    }

    /// Reloads a stored signed collection after a restart. It must be the one whose
    /// payload hash `accepted` recorded when it was verified; its signatures and
    /// expiry are not judged again (after a root rotation its keys may no longer be
    /// trusted, yet it stays loaded until replaced). Pure.
    pub fn restore(bytes: &[u8], accepted: &AcceptedIndicators) -> crate::Result<SignedIndicators> {
        let envelope = Envelope::parse(bytes, MAX_INDICATORS_BYTES)?;
        if envelope.payload_type != INDICATORS_PAYLOAD_TYPE {
            return Err(PolicyError::WrongPayloadType {
                expected: INDICATORS_PAYLOAD_TYPE,
                found: super::sanitize(&envelope.payload_type),
            }
            .into());
        }
        if PayloadHash(envelope.payload_sha256()) != accepted.payload_sha256 {
            return Err(PolicyError::NotApplied.into());
        }
        let payload = parse_payload(&envelope)?;
        if payload.collection != accepted.collection {
            return Err(PolicyError::NotApplied.into());
        }
        Ok(signed(payload, &envelope, Vec::new()))
    }
}

impl TrustedState {
    /// Verifies a signed indicator collection at `now`, as the phone does before
    /// loading it. Pure: the trusted state is not changed (indicators never touch it).
    ///
    /// Checks, in order: size ≤ [`MAX_INDICATORS_BYTES`] (before parsing), envelope
    /// form, payload type ([`INDICATORS_PAYLOAD_TYPE`]), at least one signature, every
    /// signature from a key of the root's `policy` role and valid, distinct keys ≥ the
    /// policy threshold, payload parse and validation, `rootVersion` equal to the
    /// trusted root's, `now` before `expires`. Whether it may replace the collection
    /// the device holds is [`SignedIndicators::check_update`].
    pub fn verify_indicators(
        &self,
        bytes: &[u8],
        now: Timestamp,
    ) -> crate::Result<SignedIndicators> {
        let envelope = Envelope::parse(bytes, MAX_INDICATORS_BYTES)?;
        let signed_by = self.authenticate_policy_role(&envelope, INDICATORS_PAYLOAD_TYPE)?;
        // Only now, with the signers authenticated, is the payload parsed.
        let payload = parse_payload(&envelope)?;
        check_root_version(payload.root_version, self.root().version)?;
        check_not_expired(payload.expires, now)?;
        Ok(signed(payload, &envelope, signed_by))
    }
}

fn validate_terms(
    collection: &str,
    version: u64,
    issued_at: Timestamp,
    expires: Timestamp,
) -> Result<(), PolicyError> {
    let bad = |path: &str, problem: &str| PolicyError::InvalidBundle {
        path: path.to_owned(),
        problem: problem.to_owned(),
    };
    if !valid_scope_name(collection) {
        return Err(bad("collection", "must be 1 to 128 of A-Z a-z 0-9 . _ : -"));
    }
    if version == 0 {
        return Err(bad("version", "starts at 1"));
    }
    if expires <= issued_at {
        return Err(bad("expires", "must be after issuedAt"));
    }
    Ok(())
}

/// A payload as the phone reads it: the STIX bundle kept as the exact text that was
/// signed, never built into a tree (collections are large, and a tree of a hostile one
/// can cost dozens of times its size).
struct ParsedPayload {
    collection: String,
    version: u64,
    root_version: u64,
    issued_at: Timestamp,
    expires: Timestamp,
    stix_json: String,
}

fn parse_payload(envelope: &Envelope) -> Result<ParsedPayload, PolicyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Wire<'a> {
        collection: String,
        version: u64,
        root_version: u64,
        issued_at: Timestamp,
        expires: Timestamp,
        #[serde(borrow)]
        stix: &'a serde_json::value::RawValue,
    }
    let wire: Wire<'_> = crate::json::from_slice(&envelope.payload)
        .map_err(|e| PolicyError::document("indicators payload", &e))?;
    validate_terms(&wire.collection, wire.version, wire.issued_at, wire.expires)?;
    crate::inspection::stix::check_bundle_shape(wire.stix.get()).map_err(|(path, problem)| {
        PolicyError::InvalidBundle {
            path: path.to_owned(),
            problem: problem.to_owned(),
        }
    })?;
    Ok(ParsedPayload {
        collection: wire.collection,
        version: wire.version,
        root_version: wire.root_version,
        issued_at: wire.issued_at,
        expires: wire.expires,
        stix_json: wire.stix.get().to_owned(),
    })
}

fn signed(payload: ParsedPayload, envelope: &Envelope, signed_by: Vec<KeyId>) -> SignedIndicators {
    SignedIndicators {
        stix_json: payload.stix_json,
        collection: payload.collection,
        version: payload.version,
        root_version: payload.root_version,
        issued_at: payload.issued_at,
        expires: payload.expires,
        payload_sha256: PayloadHash(envelope.payload_sha256()),
        signed_by,
    }
}
