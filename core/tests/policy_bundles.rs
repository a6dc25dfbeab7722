//! Each TUF-style defence of policy bundles, attacked: the attack must be refused
//! with the error naming that defence, and the trusted state must be byte-for-byte
//! what it was. Each test fails if its defence is removed.

mod policy_support;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use policy_support::*;
use portcullis_core::policy::bundle::EnvelopeSignature;
use portcullis_core::policy::{
    rotate_root, verify_bundle, DeviceScope, Envelope, PolicyError, RoleName, TrustedState,
    MAX_BUNDLE_BYTES, MAX_ROOT_BYTES, MAX_SIGNATURES, POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};
use portcullis_core::{Error, Timestamp};

/// Applies `bundle`, expects a refusal, checks the state is unchanged, returns the reason.
fn refused_at(
    state: &mut TrustedState,
    bundle: &[u8],
    at: Timestamp,
    dev: &DeviceScope,
) -> PolicyError {
    let before = state.to_json();
    let result = state.apply_bundle(bundle, at, dev);
    assert_eq!(
        state.to_json(),
        before,
        "a refused bundle changed the trusted state"
    );
    match result {
        Err(Error::Policy(e)) => e,
        Err(other) => panic!("expected a policy refusal, got {other}"),
        Ok(v) => panic!("the attack was accepted: version {}", v.payload.version),
    }
}

fn refused(state: &mut TrustedState, bundle: &[u8]) -> PolicyError {
    refused_at(state, bundle, now(), &device())
}

fn refused_root(state: &mut TrustedState, signed_root: &[u8]) -> PolicyError {
    let before = state.to_json();
    let result = state.apply_root(signed_root);
    assert_eq!(
        state.to_json(),
        before,
        "a refused root changed the trusted state"
    );
    match result {
        Err(Error::Policy(e)) => e,
        Err(other) => panic!("expected a policy refusal, got {other}"),
        Ok(()) => panic!("the root rotation was accepted"),
    }
}

#[test]
fn sign_then_verify_round_trips() {
    let state = enrolled(1);
    let (verified, next) = verify_bundle(&state, &bundle(7), now(), &device()).unwrap();
    assert_eq!(verified.payload, payload(7));
    assert_eq!(verified.policy().name, "minimal");
    assert_eq!(verified.signed_by, vec![key(10).key_id()]);
    let applied = next.applied().unwrap();
    assert_eq!((applied.version, applied.root_version), (7, 1));
    assert_eq!(applied.payload_sha256, verified.payload_sha256);
    assert_eq!(applied.applied_at, now());
    assert!(
        state.applied().is_none(),
        "verification never mutates its input"
    );
    assert_eq!(next.root(), state.root(), "a bundle never changes the root");
    // The state survives the store.
    assert_eq!(TrustedState::from_json(&next.to_json()).unwrap(), next);
    // After a restart the stored bundle is re-checked against the state.
    assert_eq!(next.restore(&bundle(7)).unwrap().payload, payload(7));
    assert!(matches!(
        next.restore(&bundle(8)),
        Err(Error::Policy(PolicyError::NotApplied))
    ));
    assert!(next.is_applied(&bundle(7)) && !next.is_applied(&bundle(8)));
    assert!(!state.is_applied(&bundle(7)));
}

#[test]
fn rollback_is_refused() {
    let mut state = enrolled(1);
    state.apply_bundle(&bundle(5), now(), &device()).unwrap();
    assert!(matches!(
        refused(&mut state, &bundle(4)),
        PolicyError::Rollback {
            offered: 4,
            applied: 5
        }
    ));
    // The same version with other content is a rollback too, not a redelivery.
    let mut other = payload(5);
    other.policy.name = "other".into();
    let other = other.sign(&[&key(10)]).unwrap();
    assert!(matches!(
        refused(&mut state, &other),
        PolicyError::Rollback {
            offered: 5,
            applied: 5
        }
    ));
    // The very bundle in force is reported as such.
    assert!(matches!(
        refused(&mut state, &bundle(5)),
        PolicyError::AlreadyApplied { version: 5 }
    ));
    state.apply_bundle(&bundle(6), now(), &device()).unwrap();
    assert_eq!(state.applied().unwrap().version, 6);
}

#[test]
fn freeze_expired_bundles_are_refused_using_the_time_passed_in() {
    let mut state = enrolled(1);
    let expires = payload(1).expires;
    for at in [
        expires,
        expires.plus_millis(1),
        expires.plus_millis(365 * DAY),
    ] {
        assert!(matches!(
            refused_at(&mut state, &bundle(1), at, &device()),
            PolicyError::Expired { .. }
        ));
    }
    state
        .apply_bundle(&bundle(1), expires.plus_millis(-1), &device())
        .unwrap();
    assert!(state.policy_expired(expires));
    assert!(!state.policy_expired(expires.plus_millis(-1)));
}

#[test]
fn bundles_for_another_device_or_group_are_refused() {
    let mut state = enrolled(1);
    let stranger = DeviceScope {
        device_id: "dev-0002".into(),
        groups: vec!["campaign-travel".into()],
    };
    assert!(matches!(
        refused_at(&mut state, &bundle(1), now(), &stranger),
        PolicyError::OutOfScope
    ));
    // A bundle for one device applies to that device only, whatever its groups.
    let mut for_device = payload(2);
    for_device.scope.groups.clear();
    for_device.scope.devices = vec!["dev-0002".into()];
    let for_device = for_device.sign(&[&key(10)]).unwrap();
    assert!(matches!(
        refused(&mut state, &for_device),
        PolicyError::OutOfScope
    ));
    state.apply_bundle(&for_device, now(), &stranger).unwrap();
}

#[test]
fn unsigned_payloads_are_refused() {
    let mut state = enrolled(1);
    let env = Envelope::new(
        POLICY_PAYLOAD_TYPE,
        serde_json::to_vec(&payload(1)).unwrap(),
    );
    assert!(matches!(
        refused(&mut state, &env.to_bytes()),
        PolicyError::Unsigned
    ));
}

#[test]
fn wrongly_signed_payloads_are_refused() {
    let mut state = enrolled(1);
    // Signed by a key the root does not know.
    let stranger = payload(1).sign(&[&key(99)]).unwrap();
    assert!(matches!(
        refused(&mut state, &stranger),
        PolicyError::UnknownKey {
            role: RoleName::Policy,
            ..
        }
    ));
    // Signed by a root key: root keys sign roots, not bundles.
    let by_root_key = payload(1).sign(&[&key(1)]).unwrap();
    assert!(matches!(
        refused(&mut state, &by_root_key),
        PolicyError::UnknownKey { .. }
    ));
    // A valid signature moved onto another payload.
    let good = Envelope::parse(&bundle(1), MAX_BUNDLE_BYTES).unwrap();
    let mut swapped = Envelope::new(
        POLICY_PAYLOAD_TYPE,
        serde_json::to_vec_pretty(&payload(9)).unwrap(),
    );
    swapped.signatures = good.signatures.clone();
    assert!(matches!(
        refused(&mut state, &swapped.to_bytes()),
        PolicyError::BadSignature { index: 0, .. }
    ));
    // A forged signature under a trusted key id.
    let mut forged = good.clone();
    forged.signatures[0].sig[10] ^= 0x40;
    assert!(matches!(
        refused(&mut state, &forged.to_bytes()),
        PolicyError::BadSignature { .. }
    ));
    // A valid signature plus an extra invalid one is refused whole.
    let mut padded = good;
    padded.signatures.push(EnvelopeSignature {
        keyid: key(11).key_id(),
        sig: [7; 64],
    });
    assert!(matches!(
        refused(&mut state, &padded.to_bytes()),
        PolicyError::BadSignature { index: 1, .. }
    ));
}

#[test]
fn fewer_signatures_than_the_threshold_are_refused() {
    let mut state = enrolled(2);
    assert!(matches!(
        refused(&mut state, &bundle(1)),
        PolicyError::Threshold {
            role: RoleName::Policy,
            valid: 1,
            required: 2
        }
    ));
    let both = payload(1).sign(&[&key(10), &key(11)]).unwrap();
    let verified = state.apply_bundle(&both, now(), &device()).unwrap();
    assert_eq!(verified.signed_by.len(), 2);
}

#[test]
fn one_key_counts_once_however_many_times_it_signs() {
    let mut state = enrolled(2);
    let mut env = Envelope::parse(&bundle(1), MAX_BUNDLE_BYTES).unwrap();
    let same = env.signatures[0].clone();
    for _ in 0..5 {
        env.signatures.push(same.clone());
    }
    assert!(matches!(
        refused(&mut state, &env.to_bytes()),
        PolicyError::Threshold {
            valid: 1,
            required: 2,
            ..
        }
    ));
}

#[test]
fn oversize_input_is_refused_before_parsing() {
    let mut state = enrolled(1);
    // Not even JSON: only a size check that runs first can name the size.
    let huge = vec![b'{'; MAX_BUNDLE_BYTES + 1];
    assert!(matches!(
        refused(&mut state, &huge),
        PolicyError::TooLarge {
            limit: MAX_BUNDLE_BYTES,
            ..
        }
    ));
    let huge_root = vec![b'['; MAX_ROOT_BYTES + 1];
    assert!(matches!(
        refused_root(&mut state, &huge_root),
        PolicyError::TooLarge {
            limit: MAX_ROOT_BYTES,
            ..
        }
    ));
    assert!(matches!(
        TrustedState::enroll(&huge_root),
        Err(Error::Policy(PolicyError::TooLarge { .. }))
    ));
    // A signature flood is refused before any signature is checked.
    let mut env = Envelope::parse(&bundle(1), MAX_BUNDLE_BYTES).unwrap();
    let sig = env.signatures[0].clone();
    env.signatures = vec![sig; MAX_SIGNATURES + 1];
    assert!(matches!(
        refused(&mut state, &env.to_bytes()),
        PolicyError::TooManySignatures { .. }
    ));
}

#[test]
fn truncated_or_garbled_envelopes_are_refused() {
    let mut state = enrolled(1);
    let good = bundle(1);
    for len in 0..good.len() {
        let e = refused(&mut state, &good[..len]);
        assert!(matches!(e, PolicyError::Envelope(_)), "prefix {len}: {e}");
    }
    let text = String::from_utf8(good.clone()).unwrap();
    let garbled = [
        text.replacen("\"payload\":\"", "\"payload\":\"!!", 1),
        text.replacen("{\"payloadType\"", "{\"payloadtype\"", 1),
        text.replacen(
            "\"signatures\":[",
            "\"signatures\":[{\"keyid\":\"00\",\"sig\":\"\"},",
            1,
        ),
        text.replacen("}]}", "}],\"extra\":1}", 1),
        format!(" {text}"),
        format!("{text}\n"),
        text.replace(':', ": "),
        String::new(),
        "null".into(),
        "[]".into(),
    ];
    for g in &garbled {
        let e = refused(&mut state, g.as_bytes());
        assert!(matches!(e, PolicyError::Envelope(_)), "{g:.60}: {e}");
    }
    // Re-encoding the payload in another base64 alphabet changes no signed byte but is refused.
    let env = Envelope::parse(&good, MAX_BUNDLE_BYTES).unwrap();
    let url_safe = text.replace(
        &BASE64.encode(&env.payload),
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&env.payload),
    );
    if url_safe != text {
        assert!(matches!(
            refused(&mut state, url_safe.as_bytes()),
            PolicyError::Envelope(_)
        ));
    }
}

#[test]
fn flipping_any_byte_of_a_signed_bundle_is_refused() {
    let mut state = enrolled(1);
    let good = bundle(1);
    assert!(
        good.len() < 2_000,
        "keep the bundle small: {} bytes",
        good.len()
    );
    for pos in 0..good.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut bad = good.clone();
            bad[pos] ^= mask;
            let before = state.to_json();
            let result = state.apply_bundle(&bad, now(), &device());
            assert!(
                result.is_err(),
                "flipping byte {pos} with {mask:#04x} was accepted"
            );
            assert_eq!(state.to_json(), before);
        }
    }
    state.apply_bundle(&good, now(), &device()).unwrap();
}

#[test]
fn a_root_cannot_pass_as_a_bundle_nor_a_bundle_as_a_root() {
    let mut state = enrolled(1);
    // A root signed by the policy key, offered as a policy bundle: the type is signed.
    let root_by_policy_key = standard_root(1).sign(&[&key(10)]).unwrap();
    assert!(matches!(
        refused(&mut state, &root_by_policy_key),
        PolicyError::WrongPayloadType {
            expected: POLICY_PAYLOAD_TYPE,
            ..
        }
    ));
    // A policy bundle offered as a root rotation.
    assert!(matches!(
        refused_root(&mut state, &bundle(1)),
        PolicyError::WrongPayloadType {
            expected: ROOT_PAYLOAD_TYPE,
            ..
        }
    ));
    // Relabelling the envelope breaks the signatures.
    let mut relabelled = Envelope::parse(&bundle(1), MAX_BUNDLE_BYTES).unwrap();
    relabelled.payload_type = ROOT_PAYLOAD_TYPE.into();
    assert!(matches!(
        refused_root(&mut state, &relabelled.to_bytes()),
        PolicyError::Threshold {
            role: RoleName::Root,
            ..
        }
    ));
    // A new root smuggled inside a policy-typed envelope signed by the policy key.
    let mut smuggled = Envelope::new(
        POLICY_PAYLOAD_TYPE,
        serde_json::to_vec(&standard_root(1)).unwrap(),
    );
    smuggled.sign(&key(10));
    assert!(matches!(
        refused(&mut state, &smuggled.to_bytes()),
        PolicyError::Document { .. }
    ));
    // A rotation signed by the policy keys only (not the root role).
    let hijack = root(2, &[&key(10)], 1, &[&key(10)], 1)
        .sign(&[&key(10)])
        .unwrap();
    assert!(matches!(
        refused_root(&mut state, &hijack),
        PolicyError::Threshold {
            role: RoleName::Root,
            valid: 0,
            required: 2
        }
    ));
}

/// Root v2 moves the root role to keys 4, 5 (threshold 2) and the policy role to key 12.
fn root_v2() -> portcullis_core::policy::TrustRoot {
    root(2, &[&key(4), &key(5)], 2, &[&key(12)], 1)
}

#[test]
fn root_rotation_needs_the_old_threshold_and_its_own() {
    let mut state = enrolled(1);
    state.apply_bundle(&bundle(5), now(), &device()).unwrap();

    let new_only = root_v2().sign(&[&key(4), &key(5)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &new_only),
        PolicyError::Threshold {
            role: RoleName::Root,
            valid: 0,
            required: 2
        }
    ));
    let one_old = root_v2().sign(&[&key(1), &key(4), &key(5)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &one_old),
        PolicyError::Threshold {
            role: RoleName::Root,
            valid: 1,
            required: 2
        }
    ));
    let old_only = root_v2().sign(&[&key(1), &key(2)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &old_only),
        PolicyError::Threshold {
            role: RoleName::NewRoot,
            valid: 0,
            required: 2
        }
    ));
    let one_new = root_v2().sign(&[&key(1), &key(2), &key(4)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &one_new),
        PolicyError::Threshold {
            role: RoleName::NewRoot,
            valid: 1,
            required: 2
        }
    ));
    let outsider = root_v2()
        .sign(&[&key(1), &key(2), &key(4), &key(5), &key(77)])
        .unwrap();
    assert!(matches!(
        refused_root(&mut state, &outsider),
        PolicyError::UnknownKey {
            role: RoleName::NewRoot,
            ..
        }
    ));

    let good = root_v2()
        .sign(&[&key(1), &key(2), &key(4), &key(5)])
        .unwrap();
    let next = rotate_root(&state, &good).unwrap();
    // The applied bundle, signed by a key the new root drops, still restores after a restart.
    assert!(next.is_applied(&bundle(5)));
    assert_eq!(next.restore(&bundle(5)).unwrap().payload.version, 5);
    assert_eq!(next.root().version, 2);
    assert_eq!(
        next.applied(),
        state.applied(),
        "the applied policy stays in force"
    );
    state.apply_root(&good).unwrap();
    assert_eq!(state, next);

    // Bundles of the old root no longer verify; the new policy key's do, and its
    // version sequence starts afresh (recovery from a compromised policy key).
    assert!(matches!(
        refused(&mut state, &bundle(6)),
        PolicyError::UnknownKey { .. }
    ));
    let mut under_v1 = payload(6);
    under_v1.root_version = 1;
    assert!(matches!(
        refused(&mut state, &under_v1.sign(&[&key(12)]).unwrap()),
        PolicyError::RootVersionMismatch {
            bundle: 1,
            trusted: 2
        }
    ));
    let mut under_v2 = payload(1);
    under_v2.root_version = 2;
    state
        .apply_bundle(&under_v2.sign(&[&key(12)]).unwrap(), now(), &device())
        .unwrap();
    assert_eq!(state.applied().unwrap().version, 1);
}

#[test]
fn root_versions_are_applied_one_by_one() {
    let mut state = enrolled(1);
    let v3 = root(3, &[&key(4), &key(5)], 2, &[&key(12)], 1)
        .sign(&[&key(1), &key(2), &key(4), &key(5)])
        .unwrap();
    assert!(matches!(
        refused_root(&mut state, &v3),
        PolicyError::RootVersion {
            offered: 3,
            expected: 2
        }
    ));
    let replay_v1 = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &replay_v1),
        PolicyError::RootVersion {
            offered: 1,
            expected: 2
        }
    ));
    let v2 = root_v2()
        .sign(&[&key(1), &key(2), &key(4), &key(5)])
        .unwrap();
    state.apply_root(&v2).unwrap();
    // v3 is signed by v2's root keys (4, 5) and its own (the same keys here).
    let v3 = root(3, &[&key(4), &key(5)], 2, &[&key(13)], 1)
        .sign(&[&key(4), &key(5)])
        .unwrap();
    state.apply_root(&v3).unwrap();
    assert_eq!(state.root().version, 3);
    assert!(matches!(
        refused_root(&mut state, &v2),
        PolicyError::RootVersion {
            offered: 2,
            expected: 4
        }
    ));
}

#[test]
fn enrollment_requires_a_self_signed_valid_root() {
    let unsigned = Envelope::new(
        ROOT_PAYLOAD_TYPE,
        serde_json::to_vec(&standard_root(1)).unwrap(),
    );
    assert!(matches!(
        TrustedState::enroll(&unsigned.to_bytes()),
        Err(Error::Policy(PolicyError::Unsigned))
    ));
    let below = standard_root(1).sign(&[&key(1)]).unwrap();
    assert!(matches!(
        TrustedState::enroll(&below),
        Err(Error::Policy(PolicyError::Threshold { required: 2, .. }))
    ));
    let mut bad_threshold = standard_root(1);
    bad_threshold.roles.policy.threshold = 3;
    assert!(matches!(
        bad_threshold.sign(&[&key(1), &key(2)]),
        Err(Error::Policy(PolicyError::InvalidRoot { .. }))
    ));
    // A rotated root handed to a new device enrolls it (old keys' signatures are not judged).
    let v2 = root_v2()
        .sign(&[&key(1), &key(2), &key(4), &key(5)])
        .unwrap();
    assert_eq!(TrustedState::enroll(&v2).unwrap().root().version, 2);
}

#[test]
fn errors_name_the_check_and_never_the_keys() {
    let mut state = enrolled(2);
    let e = refused(&mut state, &bundle(1));
    let text = Error::from(e.clone()).to_string();
    assert!(text.contains("threshold"), "{text}");
    assert_eq!(e.code(), "threshold");
    assert!(!text.contains('\n'));
    let seed_hex = "0a".repeat(32);
    assert!(!text.contains(&seed_hex));
    assert!(!format!("{:?}", key(10)).contains(&seed_hex));
}

/// Issue 14, item 6 (fixed on main with `checked_add`; kept as a regression test): a
/// root at version `u64::MAX` can never be rotated from, neither to another root at the
/// same version nor back to itself.
#[test]
fn a_root_at_the_highest_version_is_never_rotated_from() {
    let top = root(u64::MAX, &[&key(1), &key(2)], 2, &[&key(11)], 1);
    let mut state = TrustedState::enroll(&top.sign(&[&key(1), &key(2)]).unwrap()).unwrap();
    let other = root(u64::MAX, &[&key(4), &key(5)], 2, &[&key(12)], 1)
        .sign(&[&key(1), &key(2), &key(4), &key(5)])
        .unwrap();
    assert!(matches!(
        refused_root(&mut state, &other),
        PolicyError::RootVersion {
            offered: u64::MAX,
            ..
        }
    ));
    let again = top.sign(&[&key(1), &key(2)]).unwrap();
    assert!(matches!(
        refused_root(&mut state, &again),
        PolicyError::RootVersion { .. }
    ));
    let wrapped = root(0, &[&key(4), &key(5)], 2, &[&key(12)], 1);
    let mut payload = serde_json::to_value(&wrapped).unwrap();
    payload["version"] = 0.into();
    let mut envelope = Envelope::new(ROOT_PAYLOAD_TYPE, serde_json::to_vec(&payload).unwrap());
    for k in [key(1), key(2), key(4), key(5)] {
        envelope.sign(&k);
    }
    assert!(state.apply_root(&envelope.to_bytes()).is_err());
    assert_eq!(state.root().version, u64::MAX);
}

/// A root document with `keys` naming `key(1)`'s id twice, the second entry labelled
/// differently: the text of the payload as the signers signed it.
fn root_with_a_repeated_key_id() -> Vec<u8> {
    let text = serde_json::to_string(&standard_root(1)).unwrap();
    let id = key(1).key_id();
    let entry_start = text.find(&format!("\"{}\":", hex_id(&id))).unwrap();
    let entry_end = entry_start + text[entry_start..].find('}').unwrap() + 1;
    let entry = &text[entry_start..entry_end];
    let twice = format!(
        "{entry},{}",
        entry.replace("\"public\"", "\"label\":\"second\",\"public\"")
    );
    text.replacen(entry, &twice, 1).into_bytes()
}

fn hex_id(id: &portcullis_core::policy::KeyId) -> String {
    serde_json::to_value(id)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Issue 14, item 7: a root whose `keys` map names the same key id twice is refused,
/// at enrollment and as a rotation, rather than keeping the last entry.
#[test]
fn a_root_naming_a_key_id_twice_is_refused() {
    let payload = root_with_a_repeated_key_id();
    let mut envelope = Envelope::new(ROOT_PAYLOAD_TYPE, payload.clone());
    envelope.sign(&key(1));
    envelope.sign(&key(2));
    match TrustedState::enroll(&envelope.to_bytes()) {
        Err(Error::Policy(PolicyError::Document { problem, .. })) => {
            assert!(problem.contains("duplicate key"), "{problem}");
        }
        other => panic!("a root with a repeated key id was accepted: {other:?}"),
    }
    let mut state = enrolled(1);
    let v2 = String::from_utf8(payload)
        .unwrap()
        .replacen("\"version\":1", "\"version\":2", 1);
    let mut envelope = Envelope::new(ROOT_PAYLOAD_TYPE, v2.into_bytes());
    envelope.sign(&key(1));
    envelope.sign(&key(2));
    assert!(matches!(
        refused_root(&mut state, &envelope.to_bytes()),
        PolicyError::Document { .. }
    ));
}

/// Duplicate keys are refused in a bundle's payload and envelope alike.
#[test]
fn a_bundle_naming_a_key_twice_is_refused() {
    let mut state = enrolled(1);
    let text = serde_json::to_string(&payload(7)).unwrap();
    let twice = text.replacen("\"version\":7", "\"version\":7,\"version\":8", 1);
    assert_ne!(text, twice);
    let mut envelope = Envelope::new(POLICY_PAYLOAD_TYPE, twice.into_bytes());
    envelope.sign(&key(11));
    assert!(matches!(
        refused(&mut state, &envelope.to_bytes()),
        PolicyError::Document { .. }
    ));
    let good = String::from_utf8(bundle(7)).unwrap();
    let doubled = good.replacen("{", "{\"payloadType\":\"x\",", 1);
    assert!(matches!(
        refused(&mut state, doubled.as_bytes()),
        PolicyError::Envelope(_)
    ));
}
