//! Property tests of the version and expiry rules: for any sequence of bundles and
//! any clock, a bundle is applied exactly when its version is above the applied
//! one (under the same root) and the time handed in is before its expiry, and a
//! refused bundle leaves the trusted state byte-for-byte unchanged.

mod policy_support;

use policy_support::*;
use portcullis_core::policy::PolicyError;
use portcullis_core::Error;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn versions_must_strictly_increase(versions in prop::collection::vec(1u64..20, 1..8)) {
        let mut state = enrolled(1);
        let mut highest: Option<u64> = None;
        for v in versions {
            let before = state.to_json();
            let result = state.apply_bundle(&bundle(v), now(), &device());
            let expected = highest.is_none_or(|h| v > h);
            prop_assert_eq!(result.is_ok(), expected, "version {} after {:?}", v, highest);
            if expected {
                highest = Some(v);
            } else {
                prop_assert_eq!(state.to_json(), before);
                let is_version_error = matches!(
                    result,
                    Err(Error::Policy(PolicyError::Rollback { .. } | PolicyError::AlreadyApplied { .. }))
                );
                prop_assert!(is_version_error);
            }
            prop_assert_eq!(state.applied().map(|a| a.version), highest);
        }
    }

    #[test]
    fn bundles_apply_only_before_they_expire(
        lifetime in 1i64..(400 * DAY),
        offset in -(10 * DAY)..(500 * DAY),
    ) {
        let mut p = payload(1);
        p.expires = p.issued_at.plus_millis(lifetime);
        let signed = p.sign(&[&key(10)]).unwrap();
        let at = p.issued_at.plus_millis(offset);
        let mut state = enrolled(1);
        let before = state.to_json();
        let result = state.apply_bundle(&signed, at, &device());
        if at < p.expires {
            prop_assert!(result.is_ok());
            prop_assert_eq!(state.applied().unwrap().expires, p.expires);
        } else {
            let expired = matches!(result, Err(Error::Policy(PolicyError::Expired { .. })));
            prop_assert!(expired);
            prop_assert_eq!(state.to_json(), before);
        }
    }

    #[test]
    fn arbitrary_bytes_never_change_the_state(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut state = enrolled(1);
        state.apply_bundle(&bundle(3), now(), &device()).unwrap();
        let before = state.to_json();
        prop_assert!(state.apply_bundle(&bytes, now(), &device()).is_err());
        prop_assert!(state.apply_root(&bytes).is_err());
        prop_assert_eq!(state.to_json(), before);
    }
}
