//! The tamper-evident journal's cryptography, kept apart from SQL so it can be
//! verified anywhere (on the device, in the console tool, under a fuzzer).
//!
//! Three layers, each answering a different attacker:
//! - a SHA-256 **hash chain**: each record's hash covers the previous hash, so an
//!   edit, removal or reordering breaks every later link;
//! - a **forward-evolving MAC**: each record is authenticated with HMAC-SHA-256
//!   under the key of its epoch; at every checkpoint the key is replaced by a
//!   one-way function of itself and the old key is erased, so an intruder who
//!   takes the device later cannot forge records of earlier epochs (a rewritten
//!   chain with fresh hashes still fails the MAC);
//! - **signed checkpoints**: Ed25519 signatures over (sequence, epoch, head hash),
//!   made with a key derived from the platform's device key. The console stores
//!   them; a database truncated behind a checkpoint the console has seen is caught.
//!
//! The console verifies MACs with the epoch-0 key it received once at enrollment.

mod checkpoint;
mod export;
mod key;
mod record;
#[cfg(test)]
pub(crate) mod test_chain;
mod verify;
mod verify_batches;

pub use crate::identity::{unhex, unhex32};
pub(crate) use checkpoint::constant_time_eq;
pub use checkpoint::{
    checkpoint_key_certification, verify_report_signature, CheckpointSigner, SignedCheckpoint,
};
pub use export::{
    enrolled_device_id, finding_ocsf, ocsf_severity, record_json, record_ocsf, record_ocsf_events,
    OcsfDevice, OCSF_VERSION,
};
pub use key::EpochKey;
pub use record::{decode_record, record_hash, RecordBody, RecordHasher, RecordRef, StoredRecord};
pub use verify::{
    deferred_verdict, earliest, verify, Anchor, LinkBatch, StoredCheckpoint, Verdict, Verifier,
    VerifyOptions,
};
pub(crate) use verify_batches::verify_threaded;

/// Bytes of HMAC-SHA-256 kept per record: 128 bits, the truncation RFC 4868 uses,
/// which keeps forging infeasible while trimming every stored record.
pub const MAC_LEN: usize = 16;

/// The chain's anchor: the hash "before" the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];
