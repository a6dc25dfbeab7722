//! The batched verifier against the in-order one, on valid and tampered journals.

use proptest::prelude::*;

use super::*;

/// A valid journal of `n` records with a checkpoint after every `every` records, MACs
/// under an evolving key; returns records, checkpoints, public key and options.
fn chain(
    n: i64,
    every: i64,
) -> (
    Vec<StoredRecord>,
    Vec<SignedCheckpoint>,
    [u8; 32],
    VerifyOptions,
) {
    let c = crate::journal::test_chain::chain(b"0123456789abcdef0123", 5, 10, n, every);
    let options = VerifyOptions {
        initial_key: Some(c.k0),
        console_checkpoint: c.checkpoints.last().cloned(),
    };
    (c.records, c.checkpoints, c.signer.public_key(), options)
}

/// The in-order verdict on `records` from the genesis anchor.
fn in_order(
    records: &[StoredRecord],
    checkpoints: &[SignedCheckpoint],
    pk: [u8; 32],
    options: &VerifyOptions,
) -> Verdict {
    verify(
        Anchor::GENESIS,
        records,
        checkpoints.to_vec(),
        Some(pk),
        options.clone(),
    )
}

#[derive(Debug, Clone)]
enum Tamper {
    None,
    Edit(usize, u8),
    Delete(usize),
    Swap(usize, usize),
    Truncate(usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        Just(Tamper::None),
        (any::<usize>(), 0u8..6).prop_map(|(i, f)| Tamper::Edit(i, f)),
        any::<usize>().prop_map(Tamper::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap(a, b)),
        any::<usize>().prop_map(Tamper::Truncate),
    ]
}

proptest! {
    /// Checking hashes and MACs in batches, apart from the in-order walk, finds the same
    /// first broken record as checking each record as it comes, whatever was tampered.
    #[test]
    fn batched_links_give_the_same_verdict(
        n in 1i64..40,
        every in 1i64..12,
        tampers in proptest::collection::vec(tamper(), 1..3),
        batch_len in 1usize..9,
        with_console in any::<bool>(),
        with_key in any::<bool>(),
    ) {
        let (mut records, checkpoints, pk, mut options) = chain(n, every);
        if !with_console { options.console_checkpoint = None; }
        if !with_key { options.initial_key = None; }
        for t in tampers {
            let len = records.len();
            if len == 0 { break; }
            match t {
                Tamper::None => {}
                Tamper::Edit(i, field) => {
                    let r = &mut records[i % len];
                    match field {
                        0 => r.at += 1,
                        1 => r.epoch += 1,
                        2 => r.kind.push('x'),
                        3 => r.body.push(' '),
                        4 => r.hash[0] ^= 1,
                        _ => r.mac[0] ^= 1,
                    }
                }
                Tamper::Delete(i) => { records.remove(i % len); }
                Tamper::Swap(a, b) => records.swap(a % len, b % len),
                Tamper::Truncate(i) => records.truncate(i % len),
            }
        }
        let inline = in_order(&records, &checkpoints, pk, &options);
        let batched = Verifier::new(Anchor::GENESIS, checkpoints, Some(pk), options)
            .map_or_else(Verdict::broken, |v| v.walk_batched(&records, batch_len));
        match (&inline, &batched) {
            (Verdict::Broken { seq: a, .. }, Verdict::Broken { seq: b, .. }) => prop_assert_eq!(a, b),
            _ => prop_assert_eq!(&inline, &batched),
        }
    }
}

#[test]
fn an_untampered_chain_verifies_both_ways() {
    let (records, checkpoints, pk, options) = chain(25, 7);
    let inline = in_order(&records, &checkpoints, pk, &options);
    assert!(
        matches!(
            inline,
            Verdict::Intact {
                records: 25,
                checkpoints: 3,
                macs_checked: true,
                last_seq: 25
            }
        ),
        "{inline:?}"
    );
    assert_eq!(
        Verifier::new(Anchor::GENESIS, checkpoints, Some(pk), options)
            .map_or_else(Verdict::broken, |v| v.walk_batched(&records, 4)),
        inline
    );
}

/// Walks `records` for [`crate::journal::verify_threaded`] in batches of `batch_len`,
/// failing with a read error at record index `unreadable`, if given.
fn threaded(
    records: &[StoredRecord],
    checkpoints: Vec<SignedCheckpoint>,
    pk: [u8; 32],
    options: VerifyOptions,
    unreadable: Option<usize>,
) -> Result<(Verdict, bool), &'static str> {
    let verifier = Verifier::new(Anchor::GENESIS, checkpoints, Some(pk), options)
        .expect("the checkpoints are valid");
    crate::journal::verify_threaded(verifier, 2, |v, send| {
        for (i, r) in records.iter().enumerate() {
            if unreadable == Some(i) {
                return Err("unreadable");
            }
            match v.push_deferred(&r.fields(), &r.hash, &r.mac, 16) {
                Ok(Some(batch)) => {
                    if !send(batch) {
                        break;
                    }
                }
                Ok(None) => {}
                Err(failure) => return Ok(Some(failure)),
            }
        }
        Ok(None)
    })
}

#[test]
fn worker_threads_find_the_record_the_in_order_walk_finds() {
    let (records, checkpoints, pk, options) = chain(300, 40);
    for edited in [None, Some(37), Some(250), Some(299)] {
        let mut records = records.clone();
        if let Some(i) = edited {
            records[i].body.push(' ');
        }
        let inline = in_order(&records, &checkpoints, pk, &options);
        let (verdict, complete) =
            threaded(&records, checkpoints.clone(), pk, options.clone(), None).unwrap();
        assert_eq!(complete, edited.is_none(), "{edited:?}");
        match (&inline, &verdict) {
            (Verdict::Broken { seq: a, .. }, Verdict::Broken { seq: b, .. }) => {
                assert_eq!(a, b, "{edited:?}");
            }
            _ => assert_eq!(inline, verdict, "{edited:?}"),
        }
    }
}

#[test]
fn a_read_error_is_returned_unless_a_worker_found_an_earlier_failure() {
    let (mut records, checkpoints, pk, options) = chain(300, 40);
    let intact = threaded(
        &records,
        checkpoints.clone(),
        pk,
        options.clone(),
        Some(200),
    );
    assert_eq!(intact, Err("unreadable"));
    records[20].mac[0] ^= 1;
    let (verdict, complete) = threaded(&records, checkpoints, pk, options, Some(200)).unwrap();
    assert!(
        matches!(verdict, Verdict::Broken { seq: 21, .. }),
        "{verdict:?}"
    );
    assert!(!complete);
}
