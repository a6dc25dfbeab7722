//! TUF-style verification: the trust root, the trusted state, and the pure
//! functions that move from one trusted state to the next.
//!
//! The trust root is installed at enrollment. It names up to three roles, each a set
//! of Ed25519 keys and a threshold: `root` keys (kept offline) sign root rotations,
//! `policy` keys sign policy bundles, and `operations` keys sign console instructions
//! (SIM-change authorisations, relayed carrier checks, the hygiene playbook), so the
//! people who run incidents never hold the policy keys. A root without an
//! `operations` role accepts no instructions. A policy bundle can never replace the root:
//! the payload type is covered by every signature, and rotations are checked
//! against the current root's `root` role only.
//!
//! Verification is a pure state machine. [`verify_bundle`] and [`rotate_root`] take
//! the current [`TrustedState`] by reference and return the next one; on any
//! failure nothing changes, because nothing was mutated. The `&mut self`
//! conveniences ([`TrustedState::apply_bundle`], [`TrustedState::apply_root`])
//! replace `self` only after a complete success.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::bundle::{
    Envelope, EnvelopeSignature, KeyId, PublicKey, SigningKey, MAX_BUNDLE_BYTES, MAX_ROOT_BYTES,
    POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};
use super::model::Policy;
use super::{sanitize, serde_hex32, PolicyError};
pub use crate::error::RoleName;
use crate::identity::hex;
use crate::time::Timestamp;

/// Most keys a trust root may list.
pub const MAX_ROOT_KEYS: usize = 32;

/// The `schema` of a trust-root document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootSchema {
    /// The first version of the root document.
    #[serde(rename = "portcullis/root/v1")]
    V1,
}

/// The only key type: Ed25519.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// Ed25519 (RFC 8032).
    #[serde(rename = "ed25519")]
    Ed25519,
}

/// One key listed by a trust root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RootKey {
    /// Always `ed25519`.
    pub keytype: KeyType,
    /// The public key, 64 hex digits.
    pub public: PublicKey,
    /// Who holds it (e.g. `security-lead-yubikey`), for people reading the root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
}

/// A set of keys and how many of them must sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Role {
    /// The keys of the role (ids into [`TrustRoot::keys`]).
    pub keyids: Vec<KeyId>,
    /// How many distinct keys of the role must sign.
    pub threshold: u32,
}

/// The roles of a trust root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Roles {
    /// Signs the next root (offline keys).
    pub root: Role,
    /// Signs policy bundles.
    pub policy: Role,
    /// Signs console instructions; absent in roots made before instructions existed,
    /// which therefore accept none until a rotation adds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Role>,
}

/// The trust root: which keys may sign what. Installed at enrollment; replaced only
/// by a rotation signed by this root's `root` threshold and the new root's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustRoot {
    /// Document format; `portcullis/root/v1`.
    pub schema: RootSchema,
    /// Starts at 1; each rotation adds exactly 1.
    pub version: u64,
    /// Whose root this is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Keys by id; each id must be the SHA-256 of its key.
    pub keys: BTreeMap<KeyId, RootKey>,
    /// Which keys sign roots and which sign policy bundles.
    pub roles: Roles,
}

impl TrustRoot {
    /// A version-1 root where one key holds every role with threshold 1: for a
    /// console that starts with a single key (`policy verify --trust KEY.pub`) and
    /// for the simulator.
    pub fn single_key(key: PublicKey, description: &str) -> TrustRoot {
        let id = key.key_id();
        let role = Role {
            keyids: vec![id],
            threshold: 1,
        };
        TrustRoot {
            schema: RootSchema::V1,
            version: 1,
            description: description.to_owned(),
            keys: BTreeMap::from([(
                id,
                RootKey {
                    keytype: KeyType::Ed25519,
                    public: key,
                    label: String::new(),
                },
            )]),
            roles: Roles {
                root: role.clone(),
                policy: role.clone(),
                operations: Some(role),
            },
        }
    }

    /// Parses and validates a root document (the payload of a signed root).
    pub fn from_json(bytes: &[u8]) -> crate::Result<TrustRoot> {
        let root: TrustRoot =
            crate::json::from_slice(bytes).map_err(|e| PolicyError::document("trust root", &e))?;
        root.validate()?;
        Ok(root)
    }

    /// Checks what serde cannot: ids match keys, roles name listed keys once, thresholds are reachable.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let bad = |path: String, problem: &str| PolicyError::InvalidRoot {
            path,
            problem: problem.to_owned(),
        };
        if self.version == 0 {
            return Err(bad("version".into(), "starts at 1"));
        }
        if self.keys.is_empty() || self.keys.len() > MAX_ROOT_KEYS {
            return Err(bad(
                "keys".into(),
                &format!("must list 1 to {MAX_ROOT_KEYS} keys"),
            ));
        }
        for (id, key) in &self.keys {
            if key.public.key_id() != *id {
                return Err(bad(
                    format!("keys.{}", id.short()),
                    "the key id is not the SHA-256 of the public key",
                ));
            }
        }
        let roles = [
            ("root", Some(&self.roles.root)),
            ("policy", Some(&self.roles.policy)),
            ("operations", self.roles.operations.as_ref()),
        ];
        for (name, role) in roles.into_iter().filter_map(|(n, r)| Some((n, r?))) {
            let mut seen = BTreeSet::new();
            for id in &role.keyids {
                if !self.keys.contains_key(id) {
                    return Err(bad(
                        format!("roles.{name}.keyids"),
                        "names a key that is not in keys",
                    ));
                }
                if !seen.insert(*id) {
                    return Err(bad(
                        format!("roles.{name}.keyids"),
                        "lists the same key twice",
                    ));
                }
            }
            if role.threshold == 0 || role.threshold as usize > role.keyids.len() {
                return Err(bad(
                    format!("roles.{name}.threshold"),
                    "must be at least 1 and at most the number of keyids",
                ));
            }
        }
        Ok(())
    }

    /// Signs this root into a signed root (the form [`TrustedState::enroll`] and
    /// [`rotate_root`] read). A rotation needs the old root's keys and the new one's.
    pub fn sign(&self, keys: &[&SigningKey]) -> crate::Result<Vec<u8>> {
        self.validate()?;
        let payload = serde_json::to_vec_pretty(self).expect("a root always serialises");
        let mut envelope = Envelope::new(ROOT_PAYLOAD_TYPE, payload);
        for key in keys {
            envelope.sign(key);
        }
        Ok(envelope.to_bytes())
    }

    /// The keys of a role, by id.
    fn role_keys(&self, role: &Role) -> BTreeMap<KeyId, PublicKey> {
        role.keyids
            .iter()
            .filter_map(|id| self.keys.get(id).map(|k| (*id, k.public)))
            .collect()
    }
}

/// Which devices a bundle is for: a device matches when its id is listed or it
/// belongs to a listed group. A bundle must name at least one of either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleScope {
    /// Device ids (assigned at enrollment; never a phone identifier).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Group names (e.g. `all-staff`, `campaign-travel`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl BundleScope {
    /// Whether the bundle applies to `device`.
    pub fn covers(&self, device: &DeviceScope) -> bool {
        self.devices.contains(&device.device_id)
            || self
                .groups
                .iter()
                .any(|g| device.groups.iter().any(|dg| dg == g))
    }

    /// Refuses a document whose scope leaves out `device`; the console, checking
    /// before it ships (no device), passes `None`.
    pub(crate) fn check_covers(&self, device: Option<&DeviceScope>) -> crate::Result<()> {
        match device {
            Some(device) if !self.covers(device) => Err(PolicyError::OutOfScope.into()),
            _ => Ok(()),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), PolicyError> {
        if self.devices.is_empty() && self.groups.is_empty() {
            return Err(PolicyError::InvalidBundle {
                path: "scope".into(),
                problem: "names no device and no group".into(),
            });
        }
        for (field, list) in [("devices", &self.devices), ("groups", &self.groups)] {
            for (i, name) in list.iter().enumerate() {
                if !valid_scope_name(name) {
                    return Err(PolicyError::InvalidBundle {
                        path: format!("scope.{field}[{i}]"),
                        problem: "must be 1 to 128 of A-Z a-z 0-9 . _ : -".into(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Refuses a signed document (policy bundle, indicator collection, instruction) at
/// or past its expiry.
pub(crate) fn check_not_expired(expires: Timestamp, now: Timestamp) -> crate::Result<()> {
    if now >= expires {
        return Err(PolicyError::Expired { expires, now }.into());
    }
    Ok(())
}

/// Refuses a signed document made for another root version than the one trusted.
pub(crate) fn check_root_version(bundle: u64, trusted: u64) -> crate::Result<()> {
    if bundle != trusted {
        return Err(PolicyError::RootVersionMismatch { bundle, trusted }.into());
    }
    Ok(())
}

/// Whether a device id or group name has the allowed form.
pub fn valid_scope_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Who this device is, as bundles address it: its enrollment id and its groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceScope {
    /// The id assigned at enrollment.
    pub device_id: String,
    /// The groups it was enrolled in.
    pub groups: Vec<String>,
}

/// The signed content of a policy bundle: the policy and the metadata that make
/// rollback, freeze and scope checks possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundlePayload {
    /// Increases with every bundle signed under one root version.
    pub version: u64,
    /// The root version the bundle was signed under; must equal the device's.
    pub root_version: u64,
    /// When the console signed it.
    pub issued_at: Timestamp,
    /// After this the bundle is refused (a withheld update cannot be hidden for long).
    pub expires: Timestamp,
    /// Which devices it is for.
    pub scope: BundleScope,
    /// The policy itself.
    pub policy: Policy,
}

impl BundlePayload {
    /// Signs this payload into a policy bundle, after validating it.
    pub fn sign(&self, keys: &[&SigningKey]) -> crate::Result<Vec<u8>> {
        self.validate()?;
        let payload = serde_json::to_vec_pretty(self).expect("a payload always serialises");
        let mut envelope = Envelope::new(POLICY_PAYLOAD_TYPE, payload);
        for key in keys {
            envelope.sign(key);
        }
        Ok(envelope.to_bytes())
    }

    /// Checks the metadata and the policy.
    pub fn validate(&self) -> crate::Result<()> {
        if self.version == 0 {
            return Err(PolicyError::InvalidBundle {
                path: "version".into(),
                problem: "starts at 1".into(),
            }
            .into());
        }
        if self.expires <= self.issued_at {
            return Err(PolicyError::InvalidBundle {
                path: "expires".into(),
                problem: "must be after issuedAt".into(),
            }
            .into());
        }
        self.scope.validate()?;
        self.policy.validate()
    }
}

/// SHA-256 of a bundle's payload, written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayloadHash(#[serde(with = "serde_hex32")] pub [u8; 32]);

impl std::fmt::Debug for PayloadHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PayloadHash({})", hex(&self.0))
    }
}

impl std::fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// What the device last applied: enough to refuse rollbacks and to re-check the
/// stored bundle after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppliedPolicy {
    /// The bundle's version.
    pub version: u64,
    /// The root version it was signed under.
    pub root_version: u64,
    /// SHA-256 of its payload.
    pub payload_sha256: PayloadHash,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When it expires (it stays in force after; the device reports it stale).
    pub expires: Timestamp,
    /// When the device applied it.
    pub applied_at: Timestamp,
}

/// Everything verification depends on: the trust root and the applied bundle's
/// metadata. Serialisable; the store keeps it as one JSON blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustedState {
    root: TrustRoot,
    applied: Option<AppliedPolicy>,
}

/// A bundle that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPolicy {
    /// The signed content.
    pub payload: BundlePayload,
    /// SHA-256 of the payload bytes.
    pub payload_sha256: PayloadHash,
    /// The distinct policy keys whose signatures counted.
    pub signed_by: Vec<KeyId>,
}

impl VerifiedPolicy {
    /// The policy to enforce.
    pub fn policy(&self) -> &Policy {
        &self.payload.policy
    }
}

impl TrustedState {
    /// Trust at enrollment, from a signed root received over the enrollment
    /// channel. The root must carry its own `root` threshold of valid signatures;
    /// signatures by keys it does not list (an earlier root's) are not judged.
    pub fn enroll(signed_root: &[u8]) -> crate::Result<TrustedState> {
        let envelope = Envelope::parse(signed_root, MAX_ROOT_BYTES)?;
        expect_type(&envelope, ROOT_PAYLOAD_TYPE)?;
        let root = TrustRoot::from_json(&envelope.payload)?;
        if envelope.signatures.is_empty() {
            return Err(PolicyError::Unsigned.into());
        }
        let own = root.role_keys(&root.roles.root);
        count_signatures(
            envelope
                .signatures
                .iter()
                .enumerate()
                .filter(|(_, s)| own.contains_key(&s.keyid)),
            &envelope.signing_input(),
            &own,
            root.roles.root.threshold,
            RoleName::Root,
        )?;
        Ok(TrustedState {
            root,
            applied: None,
        })
    }

    /// Trust from a root already trusted out of band (e.g. a single console key).
    pub fn from_root(root: TrustRoot) -> crate::Result<TrustedState> {
        root.validate()?;
        Ok(TrustedState {
            root,
            applied: None,
        })
    }

    /// The trust root in force.
    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// Whether `signed_root` carries the root already in force: managed configuration
    /// keeps offering the root it last set, and that redelivery is neither a rotation
    /// nor an attack. Signatures are not checked; nothing would change either way.
    pub fn is_current_root(&self, signed_root: &[u8]) -> bool {
        Envelope::parse(signed_root, MAX_ROOT_BYTES).is_ok_and(|e| {
            e.payload_type == ROOT_PAYLOAD_TYPE
                && TrustRoot::from_json(&e.payload).is_ok_and(|root| root == self.root)
        })
    }

    /// The applied bundle's metadata, if any bundle was applied.
    pub fn applied(&self) -> Option<&AppliedPolicy> {
        self.applied.as_ref()
    }

    /// Whether the applied bundle has expired at `now` (it stays in force; the
    /// console should be told the device's policy is stale).
    pub fn policy_expired(&self, now: Timestamp) -> bool {
        self.applied.as_ref().is_some_and(|a| now >= a.expires)
    }

    /// The state as JSON, for the store.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a trusted state always serialises")
    }

    /// Restores a stored state; a state that does not parse or validate is corrupt.
    pub fn from_json(bytes: &[u8]) -> crate::Result<TrustedState> {
        let state: TrustedState = crate::json::from_slice(bytes).map_err(|e| {
            crate::Error::Corrupt(format!("policy trust state: {}", sanitize(&e.to_string())))
        })?;
        state
            .root
            .validate()
            .map_err(|e| crate::Error::Corrupt(format!("policy trust state: {e}")))?;
        Ok(state)
    }

    /// Verifies a bundle and, only if it passes, moves to the state after it.
    pub fn apply_bundle(
        &mut self,
        bundle: &[u8],
        now: Timestamp,
        device: &DeviceScope,
    ) -> crate::Result<VerifiedPolicy> {
        let (verified, next) = verify_bundle(self, bundle, now, device)?;
        *self = next;
        Ok(verified)
    }

    /// Applies a root rotation, only if it passes.
    pub fn apply_root(&mut self, signed_root: &[u8]) -> crate::Result<()> {
        *self = rotate_root(self, signed_root)?;
        Ok(())
    }

    /// Whether `bundle` is the one applied (same payload hash): a redelivery the
    /// caller can skip without verifying or alerting, even after a root rotation.
    pub fn is_applied(&self, bundle: &[u8]) -> bool {
        let Some(applied) = &self.applied else {
            return false;
        };
        Envelope::parse(bundle, MAX_BUNDLE_BYTES)
            .is_ok_and(|e| PayloadHash(e.payload_sha256()) == applied.payload_sha256)
    }

    /// Reloads the bundle the device applied (kept by the caller, e.g. in the store)
    /// after a restart. It must be the bundle whose payload hash the state recorded
    /// when it was verified; its signatures are not checked again (after a root
    /// rotation its keys may no longer be trusted, yet the policy stays in force until
    /// replaced), nor its expiry.
    pub fn restore(&self, bundle: &[u8]) -> crate::Result<VerifiedPolicy> {
        let Some(applied) = &self.applied else {
            return Err(PolicyError::NotApplied.into());
        };
        let envelope = Envelope::parse(bundle, MAX_BUNDLE_BYTES)?;
        expect_type(&envelope, POLICY_PAYLOAD_TYPE)?;
        if PayloadHash(envelope.payload_sha256()) != applied.payload_sha256 {
            return Err(PolicyError::NotApplied.into());
        }
        let payload: BundlePayload = crate::json::from_slice(&envelope.payload)
            .map_err(|e| PolicyError::document("bundle payload", &e))?;
        payload.validate()?;
        let signed_by: BTreeSet<KeyId> = envelope.signatures.iter().map(|s| s.keyid).collect();
        Ok(VerifiedPolicy {
            payload,
            payload_sha256: applied.payload_sha256,
            signed_by: signed_by.into_iter().collect(),
        })
    }

    /// Steps 3-5 of verification, for any payload the `policy` role signs (policy
    /// bundles, signed indicator collections): the payload type, at least one
    /// signature, every signature from a policy key and valid, distinct signing
    /// keys at or above the policy threshold. Returns those keys.
    pub(super) fn authenticate_policy_role(
        &self,
        envelope: &Envelope,
        payload_type: &'static str,
    ) -> Result<Vec<KeyId>, PolicyError> {
        expect_type(envelope, payload_type)?;
        if envelope.signatures.is_empty() {
            return Err(PolicyError::Unsigned);
        }
        let keys = self.root.role_keys(&self.root.roles.policy);
        count_signatures(
            envelope.signatures.iter().enumerate(),
            &envelope.signing_input(),
            &keys,
            self.root.roles.policy.threshold,
            RoleName::Policy,
        )
    }

    /// The same checks for payloads the `operations` role signs (console instructions).
    /// A root without that role accepts none.
    pub(crate) fn authenticate_operations_role(
        &self,
        envelope: &Envelope,
        payload_type: &'static str,
    ) -> Result<Vec<KeyId>, PolicyError> {
        expect_type(envelope, payload_type)?;
        let Some(role) = &self.root.roles.operations else {
            return Err(PolicyError::NoOperationsRole {
                root_version: self.root.version,
            });
        };
        if envelope.signatures.is_empty() {
            return Err(PolicyError::Unsigned);
        }
        let keys = self.root.role_keys(role);
        count_signatures(
            envelope.signatures.iter().enumerate(),
            &envelope.signing_input(),
            &keys,
            role.threshold,
            RoleName::Operations,
        )
    }

    /// Steps 3-6 of verification: type, signatures, then the payload parse.
    fn authenticate_policy(
        &self,
        envelope: &Envelope,
    ) -> crate::Result<(BundlePayload, Vec<KeyId>)> {
        let signed_by = self.authenticate_policy_role(envelope, POLICY_PAYLOAD_TYPE)?;
        // Only now, with the signers authenticated, is the payload parsed.
        let payload: BundlePayload = crate::json::from_slice(&envelope.payload)
            .map_err(|e| PolicyError::document("bundle payload", &e))?;
        payload.validate()?;
        Ok((payload, signed_by))
    }
}

/// Verifies a policy bundle against the trusted state at `now` for `device`, and
/// returns the verified policy with the state after applying it. Pure: `state` is
/// never changed, and on error there is no next state.
///
/// Checks, in order: size (before parsing), envelope form, payload type,
/// signatures (every one from a policy key and valid; distinct keys meet the
/// threshold), payload parse and validation, root version, expiry, scope,
/// version increase.
pub fn verify_bundle(
    state: &TrustedState,
    bundle: &[u8],
    now: Timestamp,
    device: &DeviceScope,
) -> crate::Result<(VerifiedPolicy, TrustedState)> {
    let (verified, next) = verify(state, bundle, now, Some(device))?;
    Ok((verified, next))
}

/// The console's check of a bundle it is about to ship: every check of
/// [`verify_bundle`] except the device's scope.
pub fn check_bundle(
    state: &TrustedState,
    bundle: &[u8],
    now: Timestamp,
) -> crate::Result<VerifiedPolicy> {
    verify(state, bundle, now, None).map(|(v, _)| v)
}

fn verify(
    state: &TrustedState,
    bundle: &[u8],
    now: Timestamp,
    device: Option<&DeviceScope>,
) -> crate::Result<(VerifiedPolicy, TrustedState)> {
    let envelope = Envelope::parse(bundle, MAX_BUNDLE_BYTES)?;
    let (payload, signed_by) = state.authenticate_policy(&envelope)?;
    let root_version = state.root.version;
    check_root_version(payload.root_version, root_version)?;
    check_not_expired(payload.expires, now)?;
    payload.scope.check_covers(device)?;
    let hash = PayloadHash(envelope.payload_sha256());
    if let Some(applied) = &state.applied {
        // Versions are compared within one root version; a rotation starts a new
        // sequence (and bundles of the old root no longer match `root_version`).
        if applied.root_version == root_version && payload.version <= applied.version {
            return Err(
                if payload.version == applied.version && hash == applied.payload_sha256 {
                    PolicyError::AlreadyApplied {
                        version: payload.version,
                    }
                } else {
                    PolicyError::Rollback {
                        offered: payload.version,
                        applied: applied.version,
                    }
                }
                .into(),
            );
        }
    }
    let next = TrustedState {
        root: state.root.clone(),
        applied: Some(AppliedPolicy {
            version: payload.version,
            root_version,
            payload_sha256: hash,
            issued_at: payload.issued_at,
            expires: payload.expires,
            applied_at: now,
        }),
    };
    Ok((
        VerifiedPolicy {
            payload,
            payload_sha256: hash,
            signed_by,
        },
        next,
    ))
}

/// Verifies a root rotation and returns the state under the new root. The new
/// root must be exactly one version up, signed by the current root's `root`
/// threshold and by its own; every signature must be from a key of either and
/// valid. The applied bundle's metadata is kept; its version sequence ends with
/// the old root.
pub fn rotate_root(state: &TrustedState, signed_root: &[u8]) -> crate::Result<TrustedState> {
    let envelope = Envelope::parse(signed_root, MAX_ROOT_BYTES)?;
    expect_type(&envelope, ROOT_PAYLOAD_TYPE)?;
    if envelope.signatures.is_empty() {
        return Err(PolicyError::Unsigned.into());
    }
    let signing_input = envelope.signing_input();
    let old = &state.root;
    let old_keys = old.role_keys(&old.roles.root);
    // The current root vouches first; only then is the payload parsed.
    count_signatures(
        envelope
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| old_keys.contains_key(&s.keyid)),
        &signing_input,
        &old_keys,
        old.roles.root.threshold,
        RoleName::Root,
    )?;
    let new = TrustRoot::from_json(&envelope.payload)?;
    // A root at the highest version can never be rotated from: a wrapping or
    // saturating step would let the same version be "rotated" to and back.
    let expected = old.version.checked_add(1).ok_or(PolicyError::RootVersion {
        offered: new.version,
        expected: u64::MAX,
    })?;
    if new.version != expected {
        return Err(PolicyError::RootVersion {
            offered: new.version,
            expected,
        }
        .into());
    }
    let new_keys = new.role_keys(&new.roles.root);
    for (i, s) in envelope.signatures.iter().enumerate() {
        if !old_keys.contains_key(&s.keyid) && !new_keys.contains_key(&s.keyid) {
            return Err(PolicyError::UnknownKey {
                index: i,
                keyid: s.keyid.short(),
                role: RoleName::NewRoot,
            }
            .into());
        }
    }
    count_signatures(
        envelope
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| new_keys.contains_key(&s.keyid)),
        &signing_input,
        &new_keys,
        new.roles.root.threshold,
        RoleName::NewRoot,
    )?;
    Ok(TrustedState {
        root: new,
        applied: state.applied.clone(),
    })
}

fn expect_type(envelope: &Envelope, expected: &'static str) -> Result<(), PolicyError> {
    if envelope.payload_type == expected {
        Ok(())
    } else {
        Err(PolicyError::WrongPayloadType {
            expected,
            found: sanitize(&envelope.payload_type),
        })
    }
}

/// Checks every signature against `keys` and returns the distinct keys that
/// signed. A signature by a key outside the role, or one that does not verify,
/// refuses the whole envelope; a key that signs several times counts once.
fn count_signatures<'a>(
    signatures: impl Iterator<Item = (usize, &'a EnvelopeSignature)>,
    signing_input: &[u8],
    keys: &BTreeMap<KeyId, PublicKey>,
    threshold: u32,
    role: RoleName,
) -> Result<Vec<KeyId>, PolicyError> {
    let mut signers = BTreeSet::new();
    for (i, s) in signatures {
        let Some(key) = keys.get(&s.keyid) else {
            return Err(PolicyError::UnknownKey {
                index: i,
                keyid: s.keyid.short(),
                role,
            });
        };
        if !key.verifies(signing_input, &s.sig) {
            return Err(PolicyError::BadSignature {
                index: i,
                keyid: s.keyid.short(),
            });
        }
        signers.insert(s.keyid);
    }
    if signers.len() < threshold as usize {
        return Err(PolicyError::Threshold {
            role,
            valid: signers.len(),
            required: threshold,
        });
    }
    Ok(signers.into_iter().collect())
}
