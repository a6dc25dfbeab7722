//! Separately signed indicator collections: each defence of
//! `TrustedState::verify_indicators` attacked (the refusal must name it), the
//! rollback rule of `SignedIndicators::check_update`, and a real public collection
//! signed, verified and loaded.

mod policy_support;

use std::path::PathBuf;

use policy_support::*;
use portcullis_core::inspection::IndicatorSet;
use portcullis_core::policy::bundle::EnvelopeSignature;
use portcullis_core::policy::{
    AcceptedIndicators, Envelope, IndicatorsPayload, PayloadHash, PolicyError, RoleName,
    SignedIndicators, TrustedState, INDICATORS_PAYLOAD_TYPE, MAX_BUNDLE_BYTES,
    MAX_INDICATORS_BYTES, MAX_SIGNATURES, POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};
use portcullis_core::{Error, Timestamp};
use serde_json::json;

/// A small STIX 2.1 bundle: one indicator linked to one malware object.
fn stix() -> serde_json::Value {
    json!({
        "type": "bundle",
        "id": "bundle--00000000-0000-4000-8000-000000000001",
        "objects": [
            {"type": "malware", "spec_version": "2.1",
             "id": "malware--00000000-0000-4000-8000-000000000002",
             "name": "Testware", "is_family": true},
            {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--00000000-0000-4000-8000-000000000003",
             "pattern_type": "stix", "pattern": "[domain-name:value='evil.example']",
             "valid_from": "2026-01-01T00:00:00Z"},
            {"type": "relationship", "spec_version": "2.1",
             "id": "relationship--00000000-0000-4000-8000-000000000004",
             "relationship_type": "indicates",
             "source_ref": "indicator--00000000-0000-4000-8000-000000000003",
             "target_ref": "malware--00000000-0000-4000-8000-000000000002"}
        ]
    })
}

fn indicators_payload(version: u64) -> IndicatorsPayload {
    IndicatorsPayload {
        collection: "testware".into(),
        version,
        root_version: 1,
        issued_at: T0,
        expires: T0.plus_millis(30 * DAY),
        stix: stix(),
    }
}

/// [`indicators_payload`] signed by policy key 10.
fn signed(version: u64) -> Vec<u8> {
    indicators_payload(version).sign(&[&key(10)]).unwrap()
}

/// Verifies `bytes`, expects a refusal, checks the state is unchanged, returns the reason.
fn refused_at(state: &TrustedState, bytes: &[u8], at: Timestamp) -> PolicyError {
    let before = state.to_json();
    let result = state.verify_indicators(bytes, at);
    assert_eq!(state.to_json(), before, "verification changed the state");
    match result {
        Err(Error::Policy(e)) => e,
        Err(other) => panic!("expected a policy refusal, got {other}"),
        Ok(v) => panic!("the attack was accepted: {v:?}"),
    }
}

fn refused(state: &TrustedState, bytes: &[u8]) -> PolicyError {
    refused_at(state, bytes, now())
}

#[test]
fn sign_then_verify_round_trips_and_the_stix_loads() {
    let state = enrolled(1);
    let before = state.to_json();
    let bytes = signed(7);
    let v = state.verify_indicators(&bytes, now()).unwrap();
    assert_eq!(state.to_json(), before, "verification never mutates");
    assert_eq!(
        (v.collection.as_str(), v.version, v.root_version),
        ("testware", 7, 1)
    );
    assert_eq!((v.issued_at, v.expires), (T0, T0.plus_millis(30 * DAY)));
    assert_eq!(v.signed_by, vec![key(10).key_id()]);
    let env = Envelope::parse(&bytes, MAX_INDICATORS_BYTES).unwrap();
    assert_eq!(env.payload_type, INDICATORS_PAYLOAD_TYPE);
    assert_eq!(v.payload_sha256, PayloadHash(env.payload_sha256()));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&v.stix_json).unwrap(),
        stix()
    );
    let mut set = IndicatorSet::new();
    let summary = set.load_stix2(&v.collection, &v.stix_json).unwrap();
    assert_eq!((summary.indicators, summary.unparsed), (1, 0));
    // The record the device keeps survives the store.
    let accepted = v.accepted();
    let text = serde_json::to_string(&accepted).unwrap();
    assert_eq!(
        serde_json::from_str::<AcceptedIndicators>(&text).unwrap(),
        accepted
    );
    // Debug does not dump the collection.
    assert!(!format!("{v:?}").contains("evil.example"));
}

/// One of the real public collections (fails, rather than skips, when missing).
fn public_collection(name: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators");
    let path = dir.join(format!("{name}.stix2"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the public indicator collections are needed at {}: {e}",
            dir.display()
        )
    })
}

#[test]
fn a_real_public_collection_signs_verifies_and_loads_the_same() {
    let text = public_collection("predator");
    let mut direct = IndicatorSet::new();
    let expected = direct.load_stix2("predator", &text).unwrap();
    let payload = IndicatorsPayload {
        collection: "predator".into(),
        stix: serde_json::from_str(&text).unwrap(),
        ..indicators_payload(1)
    };
    let bytes = payload.sign(&[&key(10), &key(11)]).unwrap();
    let state = enrolled(2);
    let v = state.verify_indicators(&bytes, now()).unwrap();
    assert_eq!(v.signed_by.len(), 2);
    let mut set = IndicatorSet::new();
    let summary = set.load_stix2(&v.collection, &v.stix_json).unwrap();
    assert_eq!(summary, expected);
    assert_eq!(summary.indicators, 585);
}

#[test]
fn unsigned_collections_are_refused() {
    let state = enrolled(1);
    let env = Envelope::new(INDICATORS_PAYLOAD_TYPE, indicators_payload(1).to_bytes());
    assert!(matches!(
        refused(&state, &env.to_bytes()),
        PolicyError::Unsigned
    ));
}

#[test]
fn collections_signed_by_an_unknown_key_or_wrongly_are_refused() {
    let state = enrolled(1);
    let stranger = indicators_payload(1).sign(&[&key(99)]).unwrap();
    assert!(matches!(
        refused(&state, &stranger),
        PolicyError::UnknownKey {
            role: RoleName::Policy,
            index: 0,
            ..
        }
    ));
    // Root keys sign roots, not indicators.
    let by_root_key = indicators_payload(1).sign(&[&key(1)]).unwrap();
    assert!(matches!(
        refused(&state, &by_root_key),
        PolicyError::UnknownKey { .. }
    ));
    // A valid signature moved onto another payload (an emptied collection).
    let good = Envelope::parse(&signed(1), MAX_INDICATORS_BYTES).unwrap();
    let emptied = IndicatorsPayload {
        stix: json!({"type": "bundle", "objects": []}),
        ..indicators_payload(1)
    };
    let mut swapped = Envelope::new(INDICATORS_PAYLOAD_TYPE, emptied.to_bytes());
    swapped.signatures = good.signatures.clone();
    assert!(matches!(
        refused(&state, &swapped.to_bytes()),
        PolicyError::BadSignature { index: 0, .. }
    ));
    // A forged signature under a trusted key id.
    let mut forged = good.clone();
    forged.signatures[0].sig[3] ^= 0x01;
    assert!(matches!(
        refused(&state, &forged.to_bytes()),
        PolicyError::BadSignature { .. }
    ));
    // Every signature counts: a valid one plus an invalid one is refused whole,
    // and so is a valid one plus one by a stranger.
    let mut padded = good.clone();
    padded.signatures.push(EnvelopeSignature {
        keyid: key(11).key_id(),
        sig: [7; 64],
    });
    assert!(matches!(
        refused(&state, &padded.to_bytes()),
        PolicyError::BadSignature { index: 1, .. }
    ));
    let mut extra = good;
    extra.sign(&key(99));
    assert!(matches!(
        refused(&state, &extra.to_bytes()),
        PolicyError::UnknownKey { index: 1, .. }
    ));
}

#[test]
fn fewer_signatures_than_the_policy_threshold_are_refused() {
    let state = enrolled(2);
    assert!(matches!(
        refused(&state, &signed(1)),
        PolicyError::Threshold {
            role: RoleName::Policy,
            valid: 1,
            required: 2
        }
    ));
    // One key signing many times counts once.
    let mut env = Envelope::parse(&signed(1), MAX_INDICATORS_BYTES).unwrap();
    let same = env.signatures[0].clone();
    for _ in 0..5 {
        env.signatures.push(same.clone());
    }
    assert!(matches!(
        refused(&state, &env.to_bytes()),
        PolicyError::Threshold { valid: 1, .. }
    ));
    // Co-signing later (as `indicators sign --in FILE.signed` does) meets it.
    let mut cosigned = Envelope::parse(&signed(1), MAX_INDICATORS_BYTES).unwrap();
    cosigned.sign(&key(11));
    let v = state
        .verify_indicators(&cosigned.to_bytes(), now())
        .unwrap();
    assert_eq!(v.signed_by.len(), 2);
}

#[test]
fn expired_collections_are_refused_using_the_time_passed_in() {
    let state = enrolled(1);
    let expires = T0.plus_millis(30 * DAY);
    state
        .verify_indicators(&signed(1), expires.plus_millis(-1))
        .unwrap();
    for at in [expires, expires.plus_millis(365 * DAY)] {
        assert!(matches!(
            refused_at(&state, &signed(1), at),
            PolicyError::Expired { expires: e, now: n } if e == expires && n == at
        ));
    }
}

#[test]
fn collections_signed_under_another_root_version_are_refused() {
    let state = enrolled(1);
    let stale = IndicatorsPayload {
        root_version: 2,
        ..indicators_payload(1)
    }
    .sign(&[&key(10)])
    .unwrap();
    assert!(matches!(
        refused(&state, &stale),
        PolicyError::RootVersionMismatch {
            bundle: 2,
            trusted: 1
        }
    ));
}

#[test]
fn a_policy_bundle_cannot_pass_as_indicators_nor_indicators_as_a_bundle_or_root() {
    let mut state = enrolled(1);
    // A policy bundle, validly signed by the same policy key, offered as indicators.
    assert!(matches!(
        refused(&state, &bundle(1)),
        PolicyError::WrongPayloadType {
            expected: INDICATORS_PAYLOAD_TYPE,
            ..
        }
    ));
    // A signed root offered as indicators.
    let root = standard_root(1).sign(&[&key(1), &key(2)]).unwrap();
    assert!(matches!(
        refused(&state, &root),
        PolicyError::WrongPayloadType { .. }
    ));
    // Indicators offered as a policy bundle and as a root rotation.
    let before = state.to_json();
    assert!(matches!(
        state.apply_bundle(&signed(1), now(), &device()),
        Err(Error::Policy(PolicyError::WrongPayloadType {
            expected: POLICY_PAYLOAD_TYPE,
            ..
        }))
    ));
    assert!(matches!(
        state.apply_root(&signed(1)),
        Err(Error::Policy(PolicyError::WrongPayloadType {
            expected: ROOT_PAYLOAD_TYPE,
            ..
        }))
    ));
    assert_eq!(state.to_json(), before);
    // Relabelling the envelope breaks the signature: the type is signed.
    let mut relabelled = Envelope::parse(&bundle(1), MAX_BUNDLE_BYTES).unwrap();
    relabelled.payload_type = INDICATORS_PAYLOAD_TYPE.into();
    assert!(matches!(
        refused(&state, &relabelled.to_bytes()),
        PolicyError::BadSignature { .. }
    ));
    // A policy payload smuggled under the indicators type, signed by the policy key.
    let mut smuggled = Envelope::new(
        INDICATORS_PAYLOAD_TYPE,
        serde_json::to_vec(&payload(1)).unwrap(),
    );
    smuggled.sign(&key(10));
    assert!(matches!(
        refused(&state, &smuggled.to_bytes()),
        PolicyError::Document { .. }
    ));
}

#[test]
fn oversize_input_is_refused_before_parsing_and_the_limit_suits_collections() {
    let state = enrolled(1);
    // Not even JSON: only a size check that runs first can name the size.
    let huge = vec![b'{'; MAX_INDICATORS_BYTES + 1];
    assert!(matches!(
        refused(&state, &huge),
        PolicyError::TooLarge {
            limit: MAX_INDICATORS_BYTES,
            size,
        } if size == MAX_INDICATORS_BYTES + 1
    ));
    // A collection over the policy-bundle limit but within its own is accepted.
    let objects: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            json!({"type": "indicator", "spec_version": "2.1",
                   "id": format!("indicator--00000000-0000-4000-8000-{i:012}"),
                   "pattern_type": "stix",
                   "pattern": format!("[domain-name:value='host-{i}.evil.example']"),
                   "valid_from": "2026-01-01T00:00:00Z"})
        })
        .collect();
    let big = IndicatorsPayload {
        stix: json!({"type": "bundle", "objects": objects}),
        ..indicators_payload(1)
    }
    .sign(&[&key(10)])
    .unwrap();
    assert!(
        (MAX_BUNDLE_BYTES..MAX_INDICATORS_BYTES).contains(&big.len()),
        "{} bytes",
        big.len()
    );
    let v = state.verify_indicators(&big, now()).unwrap();
    let mut set = IndicatorSet::new();
    assert_eq!(
        set.load_stix2(&v.collection, &v.stix_json)
            .unwrap()
            .indicators,
        20_000
    );
    // A signature flood is refused before any signature is checked.
    let mut env = Envelope::parse(&signed(1), MAX_INDICATORS_BYTES).unwrap();
    let sig = env.signatures[0].clone();
    env.signatures = vec![sig; MAX_SIGNATURES + 1];
    assert!(matches!(
        refused(&state, &env.to_bytes()),
        PolicyError::TooManySignatures { .. }
    ));
}

#[test]
fn truncated_or_garbled_envelopes_are_refused() {
    let state = enrolled(1);
    let good = signed(1);
    for len in 0..good.len() {
        let e = refused(&state, &good[..len]);
        assert!(matches!(e, PolicyError::Envelope(_)), "prefix {len}: {e}");
    }
    let text = String::from_utf8(good.clone()).unwrap();
    let garbled = [
        text.replacen("\"payload\":\"", "\"payload\":\"!!", 1),
        text.replacen("}]}", "}],\"extra\":1}", 1),
        format!("{text}\n"),
        text.replace(':', ": "),
        String::new(),
        "null".into(),
        "{}".into(),
    ];
    for g in &garbled {
        let e = refused(&state, g.as_bytes());
        assert!(matches!(e, PolicyError::Envelope(_)), "{g:.60}: {e}");
    }
}

#[test]
fn flipping_any_byte_of_a_signed_collection_is_refused() {
    let state = enrolled(1);
    let good = signed(1);
    assert!(good.len() < 3_000, "keep it small: {} bytes", good.len());
    for pos in 0..good.len() {
        for mask in [0x01u8, 0x20, 0x80] {
            let mut bad = good.clone();
            bad[pos] ^= mask;
            assert!(
                state.verify_indicators(&bad, now()).is_err(),
                "flipping byte {pos} with {mask:#04x} was accepted"
            );
        }
    }
    state.verify_indicators(&good, now()).unwrap();
}

#[test]
fn signed_but_unusable_payloads_are_refused() {
    let state = enrolled(1);
    let cases: [(IndicatorsPayload, &str); 6] = [
        (
            IndicatorsPayload {
                collection: "../predator".into(),
                ..indicators_payload(1)
            },
            "collection",
        ),
        (
            IndicatorsPayload {
                collection: String::new(),
                ..indicators_payload(1)
            },
            "collection",
        ),
        (indicators_payload(0), "version"),
        (
            IndicatorsPayload {
                expires: T0,
                ..indicators_payload(1)
            },
            "expires",
        ),
        (
            IndicatorsPayload {
                stix: json!([1, 2]),
                ..indicators_payload(1)
            },
            "stix",
        ),
        (
            IndicatorsPayload {
                stix: json!({"type": "report", "objects": []}),
                ..indicators_payload(1)
            },
            "stix.type",
        ),
    ];
    for (payload, field) in cases {
        assert!(
            payload.sign(&[&key(10)]).is_err(),
            "{field}: sign validates"
        );
        // Signed anyway (a console bug): the phone refuses it too.
        let mut env = Envelope::new(INDICATORS_PAYLOAD_TYPE, payload.to_bytes());
        env.sign(&key(10));
        match refused(&state, &env.to_bytes()) {
            PolicyError::InvalidBundle { path, .. } => assert_eq!(path, field),
            other => panic!("{field}: {other}"),
        }
    }
    // Not an indicators payload at all, or an unknown field.
    for body in [&b"not json"[..], b"{\"collection\":\"x\",\"extra\":1}"] {
        let mut env = Envelope::new(INDICATORS_PAYLOAD_TYPE, body.to_vec());
        env.sign(&key(10));
        assert!(matches!(
            refused(&state, &env.to_bytes()),
            PolicyError::Document { .. }
        ));
    }
}

#[test]
fn only_a_newer_version_replaces_the_collection_held() {
    let state = enrolled(1);
    let v5 = state.verify_indicators(&signed(5), now()).unwrap();
    let held = v5.accepted();
    assert_eq!(v5.check_update(None), Ok(()));
    let v6 = state.verify_indicators(&signed(6), now()).unwrap();
    assert_eq!(v6.check_update(Some(&held)), Ok(()));
    // Rollback to an older collection.
    let v4 = state.verify_indicators(&signed(4), now()).unwrap();
    assert_eq!(
        v4.check_update(Some(&held)),
        Err(PolicyError::Rollback {
            offered: 4,
            applied: 5
        })
    );
    // The same payload again is a redelivery, not an attack.
    let again = v5.check_update(Some(&held)).unwrap_err();
    assert_eq!(again, PolicyError::AlreadyLoaded { version: 5 });
    assert_eq!(again.code(), "already_loaded");
    // Another payload under the same version is a rollback.
    let other5 = IndicatorsPayload {
        stix: json!({"type": "bundle", "objects": []}),
        ..indicators_payload(5)
    }
    .sign(&[&key(10)])
    .unwrap();
    let other5 = state.verify_indicators(&other5, now()).unwrap();
    assert!(matches!(
        other5.check_update(Some(&held)),
        Err(PolicyError::Rollback { .. })
    ));
    // After a root rotation the sequence starts afresh; an older root's is refused.
    let mut after_rotation = v4.clone();
    after_rotation.root_version = 2;
    assert_eq!(after_rotation.check_update(Some(&held)), Ok(()));
    let held_v2 = after_rotation.accepted();
    assert!(matches!(
        v6.check_update(Some(&held_v2)),
        Err(PolicyError::RootVersionMismatch {
            bundle: 1,
            trusted: 2
        })
    ));
    // A record for another label is a caller bug, refused.
    let mut other_label = held.clone();
    other_label.collection = "predator".into();
    assert!(matches!(
        v6.check_update(Some(&other_label)),
        Err(PolicyError::InvalidBundle { .. })
    ));
}

#[test]
fn the_stored_collection_restores_after_expiry_but_no_other_does() {
    let state = enrolled(1);
    let bytes = signed(5);
    let held = state.verify_indicators(&bytes, now()).unwrap().accepted();
    let expired_at = T0.plus_millis(60 * DAY);
    assert!(held.is_expired(expired_at) && !held.is_expired(now()));
    let restored = SignedIndicators::restore(&bytes, &held).unwrap();
    assert_eq!(
        (restored.collection.as_str(), restored.version),
        ("testware", 5)
    );
    assert!(restored.signed_by.is_empty());
    assert!(matches!(
        SignedIndicators::restore(&signed(6), &held),
        Err(Error::Policy(PolicyError::NotApplied))
    ));
    assert!(matches!(
        SignedIndicators::restore(&bundle(1), &held),
        Err(Error::Policy(PolicyError::WrongPayloadType { .. }))
    ));
}

#[test]
fn errors_name_the_check_and_never_the_keys() {
    let state = enrolled(2);
    let full = key(10).key_id().to_string();
    let errors = [
        refused(&state, &signed(1)),
        refused(
            &enrolled(1),
            &indicators_payload(1).sign(&[&key(99)]).unwrap(),
        ),
        refused(&state, b"{}"),
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.contains(&full), "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert!(!e.code().is_empty());
    }
}
