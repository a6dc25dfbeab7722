//! Shared fixtures for the policy tests: deterministic keys, roots, payloads and bundles.
#![allow(dead_code)]

use portcullis_core::policy::trust::{KeyType, Role, Roles, RootKey, RootSchema};
use portcullis_core::policy::{
    BundlePayload, BundleScope, DeviceScope, Policy, SigningKey, TrustRoot, TrustedState,
};
use portcullis_core::sim::{SimEvent, SimObservation, SimState};
use portcullis_core::{Agent, DeviceKey, SoftwareDeviceKey, Timestamp};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A policy small enough that a bundle of it can be flipped byte by byte.
pub(crate) const MINIMAL_POLICY: &str = r#"{
  "schema": "portcullis/policy/v1",
  "name": "minimal",
  "apps": { "mode": "AUDIT" },
  "configuration": {},
  "sim": {},
  "inspection": { "cadenceDays": 30, "windowMinutes": 60,
    "allowedLocalHours": { "from": 1, "until": 5 }, "gracePeriodHours": 72 }
}"#;

/// 2026-03-01T00:00:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
pub(crate) const DAY: i64 = 24 * 60 * 60 * 1000;
pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;

/// A file of the repository, by its path from the repository root.
pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A software device key from `secret`; each test file passes its own.
pub(crate) fn software_key(secret: &[u8]) -> Arc<dyn DeviceKey> {
    Arc::new(SoftwareDeviceKey::new(secret).unwrap())
}

/// A ready SIM in slot 0 with `iccid` and nothing else observed.
pub(crate) fn sim_ready(iccid: &str) -> SimEvent {
    SimEvent::Sim(SimObservation {
        slot: 0,
        state: Some(SimState::Ready),
        iccid: Some(iccid.into()),
        ..SimObservation::default()
    })
}

/// The ids of the oldest `limit` undelivered alerts.
pub(crate) fn pending_ids(agent: &mut Agent, limit: u32) -> Vec<u64> {
    agent
        .pending_alerts(limit)
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect()
}

pub(crate) fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32]).unwrap()
}

pub(crate) fn minimal_policy() -> Policy {
    Policy::from_json(MINIMAL_POLICY.as_bytes()).unwrap()
}

pub(crate) fn role(keys: &[&SigningKey], threshold: u32) -> Role {
    Role {
        keyids: keys.iter().map(|k| k.key_id()).collect(),
        threshold,
    }
}

/// The entry a root lists for `key`, unlabelled.
pub(crate) fn root_key(key: &SigningKey) -> RootKey {
    RootKey {
        keytype: KeyType::Ed25519,
        public: key.public_key(),
        label: String::new(),
    }
}

/// A root listing `root_keys` (root role) and `policy_keys` (policy role).
pub(crate) fn root(
    version: u64,
    root_keys: &[&SigningKey],
    root_threshold: u32,
    policy_keys: &[&SigningKey],
    policy_threshold: u32,
) -> TrustRoot {
    let keys = root_keys
        .iter()
        .chain(policy_keys)
        .map(|k| (k.key_id(), root_key(k)))
        .collect();
    TrustRoot {
        schema: RootSchema::V1,
        version,
        description: "test root".into(),
        keys,
        roles: Roles {
            root: role(root_keys, root_threshold),
            policy: role(policy_keys, policy_threshold),
            operations: None,
        },
    }
}

/// [`standard_root`] at `version` with an operations role: keys 20, 21 and 22 with
/// `threshold`.
pub(crate) fn root_with_operations(version: u64, threshold: u32) -> TrustRoot {
    let mut root = standard_root(1);
    root.version = version;
    for k in [key(20), key(21), key(22)] {
        root.keys.insert(k.key_id(), root_key(&k));
    }
    root.roles.operations = Some(role(&[&key(20), &key(21), &key(22)], threshold));
    root
}

/// Root keys 1, 2, 3 (threshold 2); policy keys 10, 11 (threshold `policy_threshold`).
pub(crate) fn standard_root(policy_threshold: u32) -> TrustRoot {
    root(
        1,
        &[&key(1), &key(2), &key(3)],
        2,
        &[&key(10), &key(11)],
        policy_threshold,
    )
}

/// A device enrolled with [`standard_root`], threshold 1, via a signed root.
pub(crate) fn enrolled(policy_threshold: u32) -> TrustedState {
    let signed = standard_root(policy_threshold)
        .sign(&[&key(1), &key(2)])
        .unwrap();
    TrustedState::enroll(&signed).unwrap()
}

pub(crate) fn device() -> DeviceScope {
    DeviceScope {
        device_id: "dev-0001".into(),
        groups: vec!["all-staff".into()],
    }
}

pub(crate) fn payload(version: u64) -> BundlePayload {
    BundlePayload {
        version,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * DAY),
        scope: BundleScope {
            devices: vec![],
            groups: vec!["all-staff".into()],
        },
        policy: minimal_policy(),
    }
}

/// A bundle of [`payload`] signed by policy key 10.
pub(crate) fn bundle(version: u64) -> Vec<u8> {
    payload(version).sign(&[&key(10)]).unwrap()
}

/// The time bundles are checked at: a day after issue.
pub(crate) fn now() -> Timestamp {
    T0.plus_millis(DAY)
}

/// Enrolls `agent` under [`standard_root`] with [`device`] at `T0` and puts `policy` in
/// force as bundle 1, valid for a year.
pub(crate) fn enroll_with_policy(agent: &mut Agent, policy: Policy) {
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    agent.install_trust_root(&root, device(), T0).unwrap();
    let mut p = payload(1);
    p.expires = T0.plus_millis(365 * DAY);
    p.policy = policy;
    agent
        .apply_policy(&p.sign(&[&key(10)]).unwrap(), T0)
        .unwrap();
}
