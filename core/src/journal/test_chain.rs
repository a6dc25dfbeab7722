//! A valid journal built as the store builds it, for the unit tests of everything that
//! reads one (the verifiers here, the upload wire format).

use ring::hmac;

use super::{record_hash, CheckpointSigner, EpochKey, RecordRef, SignedCheckpoint, StoredRecord};
use super::{GENESIS, MAC_LEN};
use crate::identity::SoftwareDeviceKey;
use crate::time::Timestamp;

/// A journal, the signer of its checkpoints and the epoch-0 MAC key.
pub(crate) struct TestChain {
    pub(crate) signer: CheckpointSigner,
    pub(crate) k0: EpochKey,
    pub(crate) records: Vec<StoredRecord>,
    pub(crate) checkpoints: Vec<SignedCheckpoint>,
}

/// Records `1..=n` (kind `note`, body `{"n":seq}`, written at `at_step * seq`),
/// chained, MACed under a key evolving from `[key_seed; 32]`, with a checkpoint signed
/// by a key derived from `device_secret` after every `every` records.
pub(crate) fn chain(
    device_secret: &[u8],
    key_seed: u8,
    at_step: i64,
    n: i64,
    every: i64,
) -> TestChain {
    let device = SoftwareDeviceKey::new(device_secret).unwrap();
    let signer = CheckpointSigner::derive(&device).unwrap();
    let k0 = EpochKey::initial([key_seed; 32]);
    let mut key = k0.clone();
    let (mut records, mut checkpoints) = (Vec::new(), Vec::new());
    let mut prev = GENESIS;
    for seq in 1..=n {
        let body = format!("{{\"n\":{seq}}}");
        let r = RecordRef {
            seq,
            at: at_step * seq,
            epoch: key.epoch as i64,
            kind: "note",
            body: &body,
        };
        let hash = record_hash(&prev, &r);
        let mac = hmac::sign(&key.mac_key(), &hash).as_ref()[..MAC_LEN].to_vec();
        records.push(StoredRecord {
            seq,
            at: r.at,
            epoch: r.epoch,
            kind: "note".into(),
            body,
            hash: hash.to_vec(),
            mac,
        });
        if seq % every == 0 {
            checkpoints.push(signer.sign(seq, key.epoch, Timestamp::from_unix_millis(seq), &hash));
            key = key.evolve().unwrap();
        }
        prev = hash;
    }
    TestChain {
        signer,
        k0,
        records,
        checkpoints,
    }
}
