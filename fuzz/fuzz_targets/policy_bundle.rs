//! Policy bundles and trust roots arrive from the MDM channel, which the threat model
//! assumes hostile: parsing and verification must never panic, a refusal must leave
//! the trusted state untouched, and whatever is accepted must obey the rules.
//!
//! The first byte picks the mode: even, the rest is a bundle or root as received
//! (the fuzzer cannot forge signatures, so this explores the envelope and the checks
//! before the signature); odd, the rest is a payload that the fuzz target signs with
//! the trusted policy key, so payload parsing and the metadata checks are explored too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::policy::trust::{KeyType, Role, Roles, RootKey, RootSchema};
use portcullis_core::policy::{
    rotate_root, verify_bundle, DeviceScope, Envelope, Policy, PolicyError, SigningKey, TrustRoot,
    TrustedState, MAX_BUNDLE_BYTES, POLICY_PAYLOAD_TYPE,
};
use portcullis_core::{Error, Timestamp};

/// The policy key: seed [10; 32], as in fuzz/seeds/policy_bundle.
fn policy_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed(&[10; 32]).unwrap())
}

/// Root key 1 signs roots; key 10 signs bundles; both threshold 1; root version 1.
fn state() -> &'static TrustedState {
    static STATE: OnceLock<TrustedState> = OnceLock::new();
    STATE.get_or_init(|| {
        let root_key = SigningKey::from_seed(&[1; 32]).unwrap();
        let entry = |k: &SigningKey| {
            (
                k.key_id(),
                RootKey {
                    keytype: KeyType::Ed25519,
                    public: k.public_key(),
                    label: String::new(),
                },
            )
        };
        let root = TrustRoot {
            schema: RootSchema::V1,
            version: 1,
            description: String::new(),
            keys: [entry(&root_key), entry(policy_key())]
                .into_iter()
                .collect(),
            roles: Roles {
                root: Role {
                    keyids: vec![root_key.key_id()],
                    threshold: 1,
                },
                policy: Role {
                    keyids: vec![policy_key().key_id()],
                    threshold: 1,
                },
                operations: None,
            },
        };
        TrustedState::from_root(root).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // 2026-03-02T00:00:00Z; the seeds are valid at this time.
    let now = Timestamp::from_unix_millis(1_772_409_600_000);
    let device = DeviceScope {
        device_id: "dev-0001".into(),
        groups: vec!["all-staff".into()],
    };
    let state = state();
    let before = state.to_json();
    let bundle = if mode % 2 == 0 {
        // Whatever parses as an envelope must be in the one canonical form.
        if let Ok(env) = Envelope::parse(rest, MAX_BUNDLE_BYTES) {
            assert_eq!(env.to_bytes(), rest);
        }
        let _ = Policy::from_json(rest);
        let _ = TrustedState::enroll(rest);
        let _ = rotate_root(state, rest);
        rest.to_vec()
    } else {
        let mut env = Envelope::new(POLICY_PAYLOAD_TYPE, rest.to_vec());
        env.sign(policy_key());
        env.to_bytes()
    };
    match verify_bundle(state, &bundle, now, &device) {
        Ok((verified, next)) => {
            let p = &verified.payload;
            assert!(now < p.expires && p.root_version == 1 && p.scope.covers(&device));
            assert_eq!(next.applied().unwrap().version, p.version);
            // The same bundle again is a redelivery, and refused without change.
            let again = verify_bundle(&next, &bundle, now, &device);
            assert!(matches!(
                again,
                Err(Error::Policy(PolicyError::AlreadyApplied { .. }))
            ));
            // What was accepted re-serialises into a policy that parses again.
            let text = verified.policy().to_json_pretty();
            Policy::from_json(text.as_bytes()).unwrap();
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n'), "one-line errors: {message}");
        }
    }
    assert_eq!(state.to_json(), before);
});
