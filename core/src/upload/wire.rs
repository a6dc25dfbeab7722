//! The upload wire format, `portcullis/upload/v1`, and its receipt,
//! `portcullis/upload-receipt/v1`: JSON documents with binary fields in lower-case hex.
//!
//! A **batch** carries a device's journal records from the position the collector last
//! acknowledged, every checkpoint among them, the newest checkpoint (covering the
//! journal's head when the batch was made), the evidence bundles waiting to be
//! collected, and an Ed25519 signature by the device's checkpoint key over
//! [`batch_digest`], a length-prefixed transcript of every field (so JSON formatting
//! does not matter to the signature).
//!
//! A **receipt** is the collector's signed answer: the batch it took (sequence and
//! digest), the chain position it now holds and the evidence bundles it stored. The
//! phone moves its cursor, and may prune, only on a receipt that verifies.
//!
//! Everything here is pure: no clock, no I/O. The collector calls [`decode_batch`],
//! [`verify_batch`] and [`sign_receipt`]; the phone calls [`sign_batch`] and
//! [`verify_receipt`].

use std::fmt;

use ring::digest;
use ring::signature::{self, Ed25519KeyPair};
use serde::{Deserialize, Serialize};

use crate::identity::hex;
use crate::journal::{
    constant_time_eq, unhex, unhex32, verify_report_signature, CheckpointSigner, EpochKey,
    RecordHasher, RecordRef, SignedCheckpoint, StoredRecord, GENESIS, MAC_LEN,
};
use crate::time::Timestamp;

/// The batch format this version writes and reads.
pub const BATCH_FORMAT: &str = "portcullis/upload/v1";
/// The receipt format this version writes and reads.
pub const RECEIPT_FORMAT: &str = "portcullis/upload-receipt/v1";
/// The path, under the policy's collector URL, that batches are posted to (the receipt
/// comes back as the body of a 200).
pub const UPLOAD_PATH: &str = "/v1/upload";
/// The evidence bundle format a batch may carry (made by `Agent::submit_inspection`).
pub const EVIDENCE_BUNDLE_FORMAT: &str = "portcullis-evidence-bundle-v1";

const BATCH_CONTEXT: &[u8] = b"portcullis-upload-batch-v1\0";
const RECEIPT_CONTEXT: &[u8] = b"portcullis-upload-receipt-v1\0";
const DEVICE_ID_LABEL: &[u8] = b"portcullis/device-id/v1\0";

/// The most MAC-key evolutions one verification may do: a signed checkpoint claiming a
/// far epoch must not make the collector hash for hours.
pub const MAX_EPOCH_STEPS: u64 = 1_000_000;

/// The collector's name for a device: 32 hex digits of a hash of its checkpoint public
/// key. Derived, so it needs no configuration on the phone, and it names no phone
/// identifier.
pub fn device_id(checkpoint_public_key: &[u8; 32]) -> String {
    let mut m = DEVICE_ID_LABEL.to_vec();
    m.extend_from_slice(checkpoint_public_key);
    hex(&digest::digest(&digest::SHA256, &m).as_ref()[..16])
}

/// A place in a device's hash chain: the last record held, its hash, and the MAC epoch
/// of the record after it. [`ChainPosition::GENESIS`] is "nothing held yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainPosition {
    /// The last record's sequence number (0 before the first record).
    pub seq: i64,
    /// Its hash (the genesis anchor before the first record).
    #[serde(with = "hex_array")]
    pub hash: [u8; 32],
    /// The epoch the next record is written in.
    pub next_epoch: u64,
}

impl ChainPosition {
    /// Before the first record.
    pub const GENESIS: ChainPosition = ChainPosition {
        seq: 0,
        hash: GENESIS,
        next_epoch: 0,
    };
}

/// One journal record as shipped: the fields its hash covers, the hash and the MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRecord {
    /// Position in the journal.
    pub seq: i64,
    /// When it was written (milliseconds since the Unix epoch, as hashed).
    pub at: i64,
    /// Its MAC epoch.
    pub epoch: i64,
    /// Record kind.
    pub kind: String,
    /// JSON body, exactly as hashed.
    pub body: String,
    /// Chained SHA-256.
    #[serde(with = "hex_array")]
    pub hash: [u8; 32],
    /// Truncated HMAC-SHA-256 under the epoch's key.
    #[serde(with = "hex_array")]
    pub mac: [u8; MAC_LEN],
}

impl UploadRecord {
    /// From a stored record; `None` when its hash or MAC has the wrong length (a
    /// damaged row, which the journal's own verification reports).
    pub fn from_stored(r: &StoredRecord) -> Option<Self> {
        Some(UploadRecord {
            seq: r.seq,
            at: r.at,
            epoch: r.epoch,
            kind: r.kind.clone(),
            body: r.body.clone(),
            hash: r.hash.as_slice().try_into().ok()?,
            mac: r.mac.as_slice().try_into().ok()?,
        })
    }

    /// The fields its hash covers.
    pub(crate) fn fields(&self) -> RecordRef<'_> {
        let UploadRecord {
            seq,
            at,
            epoch,
            kind,
            body,
            ..
        } = self;
        RecordRef {
            seq: *seq,
            at: *at,
            epoch: *epoch,
            kind,
            body,
        }
    }

    /// The record in the form the journal verifier and exports take.
    pub fn to_stored(&self) -> StoredRecord {
        StoredRecord {
            seq: self.seq,
            at: self.at,
            epoch: self.epoch,
            kind: self.kind.clone(),
            body: self.body.clone(),
            hash: self.hash.to_vec(),
            mac: self.mac.to_vec(),
        }
    }
}

/// An evidence bundle waiting for collection, with the phone's number for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadEvidence {
    /// The phone's id for the bundle, increasing; the receipt names the ids stored.
    pub id: u64,
    /// The `portcullis-evidence-bundle-v1` JSON, exactly as the inspection produced it.
    pub bundle: String,
}

/// One upload batch (`portcullis/upload/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Always [`BATCH_FORMAT`].
    pub format: String,
    /// [`device_id`] of the signing key.
    pub device_id: String,
    /// The device's count of batches, from 1; a batch is re-sent with the same number
    /// and the same bytes until a receipt acknowledges it.
    pub batch_seq: u64,
    /// When the phone made the batch.
    pub created_at: Timestamp,
    /// The position the records continue from: the collector's last acknowledged one.
    pub start: ChainPosition,
    /// The signed checkpoint at `start`, when the phone's journal was pruned there
    /// before anything was ever acknowledged (a device enrolled with the collector late).
    pub start_checkpoint: Option<SignedCheckpoint>,
    /// Consecutive records from `start.seq + 1`.
    pub records: Vec<UploadRecord>,
    /// Every checkpoint at one of `records`, oldest first: each closes an epoch.
    pub checkpoints: Vec<SignedCheckpoint>,
    /// The newest checkpoint when the batch was made; it covers the last record.
    pub head_checkpoint: SignedCheckpoint,
    /// Evidence bundles waiting for collection, by increasing id.
    pub evidence: Vec<UploadEvidence>,
    /// Ed25519 over [`batch_digest`] by the device's checkpoint key.
    #[serde(with = "hex_array")]
    pub signature: [u8; 64],
}

impl Batch {
    /// The position the collector holds once it has taken this batch.
    pub fn end(&self) -> ChainPosition {
        let mut end = self.start;
        if let Some(last) = self.records.last() {
            end.seq = last.seq;
            end.hash = last.hash;
            end.next_epoch = u64::try_from(last.epoch).unwrap_or(0);
            if self.checkpoints.last().is_some_and(|c| c.seq == last.seq) {
                end.next_epoch = end.next_epoch.saturating_add(1);
            }
        }
        end
    }
}

/// The caps a decoder applies before and while reading a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest document accepted, in bytes (the policy's `maxBatchBytes` is the phone's
    /// own target; a collector sets its cap at or above it).
    pub max_bytes: usize,
    /// Most records in one batch.
    pub max_records: usize,
    /// Most checkpoints in one batch.
    pub max_checkpoints: usize,
    /// Most evidence bundles in one batch.
    pub max_evidence: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_bytes: 8 * 1024 * 1024,
            max_records: 100_000,
            max_checkpoints: 10_000,
            max_evidence: 64,
        }
    }
}

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Larger than the cap; refused before parsing.
    #[error("the document is {bytes} bytes, over the cap of {limit}")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The cap.
        limit: usize,
    },
    /// More items of one kind than the cap allows.
    #[error("the batch holds {count} {what}, over the cap of {limit}")]
    TooMany {
        /// Which list.
        what: &'static str,
        /// How many it holds.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// Another format or version than this code reads.
    #[error("unsupported format (expected {expected})")]
    UnsupportedFormat {
        /// The format this code reads.
        expected: &'static str,
    },
    /// Not a well-formed document of the format; the reason names the place, not the input.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A receipt whose signature does not verify under the collector's key.
    #[error("the receipt's signature does not verify under the collector's key")]
    BadReceiptSignature,
}

impl UploadError {
    /// A stable short code for logs and HTTP reasons.
    pub fn code(&self) -> &'static str {
        match self {
            UploadError::TooLarge { .. } => "too_large",
            UploadError::TooMany { .. } => "too_many",
            UploadError::UnsupportedFormat { .. } => "unsupported_format",
            UploadError::Malformed(_) => "malformed",
            UploadError::BadReceiptSignature => "bad_receipt_signature",
        }
    }
}

/// Reads a batch strictly: size cap first, then JSON with no key named twice and no
/// unknown field, the format, the device id's shape and the list caps.
pub fn decode_batch(bytes: &[u8], limits: &DecodeLimits) -> Result<Batch, UploadError> {
    if bytes.len() > limits.max_bytes {
        return Err(UploadError::TooLarge {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let batch: Batch = crate::json::from_slice(bytes)
        .map_err(|e| UploadError::Malformed(crate::json::describe(&e)))?;
    if batch.format != BATCH_FORMAT {
        return Err(UploadError::UnsupportedFormat {
            expected: BATCH_FORMAT,
        });
    }
    if batch.device_id.len() != 32
        || !batch
            .device_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(UploadError::Malformed(
            "device_id is not 32 lower-case hex digits".into(),
        ));
    }
    for (what, count, limit) in [
        ("records", batch.records.len(), limits.max_records),
        (
            "checkpoints",
            batch.checkpoints.len(),
            limits.max_checkpoints,
        ),
        (
            "evidence bundles",
            batch.evidence.len(),
            limits.max_evidence,
        ),
    ] {
        if count > limit {
            return Err(UploadError::TooMany { what, count, limit });
        }
    }
    Ok(batch)
}

/// The batch as sent: compact JSON.
pub fn encode_batch(batch: &Batch) -> Vec<u8> {
    serde_json::to_vec(batch).expect("a batch always encodes")
}

/// SHA-256 of the batch's transcript: every field but the signature, each
/// length-prefixed or fixed-size, in declaration order. The batch signature covers it
/// and the receipt names it; a collector stores it to answer a re-sent batch.
pub fn batch_digest(batch: &Batch) -> [u8; 32] {
    let mut t = Transcript::new(BATCH_CONTEXT);
    t.text(&batch.format);
    t.text(&batch.device_id);
    t.u64(batch.batch_seq);
    t.i64(batch.created_at.as_unix_millis());
    t.position(&batch.start);
    match &batch.start_checkpoint {
        Some(cp) => {
            t.u64(1);
            t.checkpoint(cp);
        }
        None => t.u64(0),
    }
    t.u64(batch.records.len() as u64);
    for r in &batch.records {
        t.i64(r.seq);
        t.i64(r.at);
        t.i64(r.epoch);
        t.text(&r.kind);
        t.text(&r.body);
        t.bytes(&r.hash);
        t.bytes(&r.mac);
    }
    t.u64(batch.checkpoints.len() as u64);
    for cp in &batch.checkpoints {
        t.checkpoint(cp);
    }
    t.checkpoint(&batch.head_checkpoint);
    t.u64(batch.evidence.len() as u64);
    for e in &batch.evidence {
        t.u64(e.id);
        t.text(&e.bundle);
    }
    t.finish()
}

/// Signs `batch` in place with the device's checkpoint key.
pub fn sign_batch(batch: &mut Batch, signer: &CheckpointSigner) {
    let mut message = BATCH_CONTEXT.to_vec();
    message.extend_from_slice(&batch_digest(batch));
    batch.signature = signer.sign_message(&message);
}

/// What the collector knows about an enrolled device (from the console's enrollment).
#[derive(Debug, Clone)]
pub struct EnrolledDevice {
    /// The device's checkpoint public key.
    pub checkpoint_public_key: [u8; 32],
    /// A journal MAC key the collector holds: the epoch-0 key from the enrollment
    /// hand-off, or that key evolved to a later epoch. Without it MACs are not checked.
    pub journal_key: Option<EpochKey>,
}

/// Where the collector's copy of a device's chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorCursor {
    /// The last record held (0: none).
    pub last_seq: i64,
    /// Its hash.
    #[serde(with = "hex_array")]
    pub last_hash: [u8; 32],
    /// The epoch of the record after it.
    pub next_epoch: u64,
    /// The last batch taken (0: none).
    pub last_batch_seq: u64,
}

impl CollectorCursor {
    /// A newly enrolled device: nothing held.
    pub const NEW: CollectorCursor = CollectorCursor {
        last_seq: 0,
        last_hash: GENESIS,
        next_epoch: 0,
        last_batch_seq: 0,
    };

    /// The chain position part.
    pub fn position(&self) -> ChainPosition {
        ChainPosition {
            seq: self.last_seq,
            hash: self.last_hash,
            next_epoch: self.next_epoch,
        }
    }

    fn is_new(&self) -> bool {
        self.last_seq == 0 && self.last_batch_seq == 0
    }
}

/// A batch that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The device.
    pub device_id: String,
    /// The batch's number.
    pub batch_seq: u64,
    /// [`batch_digest`], for the receipt and to recognise a re-sent batch.
    pub digest: [u8; 32],
    /// The cursor to store once the batch is stored.
    pub cursor: CollectorCursor,
    /// Records taken.
    pub records: usize,
    /// Records whose MAC was checked.
    pub macs_checked: usize,
    /// Checkpoints whose signature and head matched (the head checkpoint included).
    pub checkpoints: usize,
    /// Evidence bundles whose signature and evidence digest matched.
    pub evidence_ids: Vec<u64>,
    /// The batch started past records the collector never received, at a signed
    /// checkpoint: a device whose journal was pruned before its first upload. The
    /// collector records the skipped range.
    pub skipped_before: Option<i64>,
}

/// Why a collector refuses a batch; every variant means nothing may be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    /// The fields are inconsistent in a way no honest device produces.
    #[error("malformed batch: {0}")]
    Malformed(String),
    /// The batch names another device than the enrolled key's.
    #[error("the batch names another device than the enrolled key's")]
    WrongDevice,
    /// The batch signature does not verify under the enrolled checkpoint key.
    #[error("the batch signature does not verify under the enrolled checkpoint key")]
    BadBatchSignature,
    /// A batch number the collector has already taken.
    #[error("batch {batch_seq} was already taken (the collector is at batch {last_batch_seq})")]
    Replay {
        /// The batch's number.
        batch_seq: u64,
        /// The collector's last.
        last_batch_seq: u64,
    },
    /// The batch starts before the collector's position: the phone's journal went back.
    #[error(
        "the batch starts at record {start_seq}, behind the collector's {collector_seq} (rollback)"
    )]
    Rollback {
        /// Where the batch starts.
        start_seq: i64,
        /// Where the collector is.
        collector_seq: i64,
    },
    /// Records are missing between the collector's position and the batch, or inside it.
    #[error("records are missing after record {after_seq} (the batch has {found_seq} next)")]
    Gap {
        /// The last record held before the gap.
        after_seq: i64,
        /// The next record the batch has.
        found_seq: i64,
    },
    /// The chain does not continue the collector's (or its own) history.
    #[error("the chain forks at record {seq}: {reason}")]
    Fork {
        /// The first record that does not continue the chain.
        seq: i64,
        /// What differs.
        reason: String,
    },
    /// A record's MAC does not verify under the key for its epoch.
    #[error("record {seq}'s MAC does not verify (rewritten without the journal key)")]
    MacFailure {
        /// The record.
        seq: i64,
    },
    /// A checkpoint's signature, key or head does not match.
    #[error("checkpoint {seq} does not verify: {reason}")]
    BadCheckpointSignature {
        /// The checkpoint's record.
        seq: i64,
        /// What failed.
        reason: String,
    },
    /// An evidence bundle's signature or evidence digest does not match.
    #[error("evidence bundle {id} does not verify: {reason}")]
    BadEvidenceSignature {
        /// The bundle's id.
        id: u64,
        /// What failed.
        reason: String,
    },
}

impl VerifyFailure {
    /// A stable short code, for the HTTP reason, logs and the console alert.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyFailure::Malformed(_) => "malformed",
            VerifyFailure::WrongDevice => "wrong_device",
            VerifyFailure::BadBatchSignature => "bad_batch_signature",
            VerifyFailure::Replay { .. } => "replay",
            VerifyFailure::Rollback { .. } => "rollback",
            VerifyFailure::Gap { .. } => "gap",
            VerifyFailure::Fork { .. } => "fork",
            VerifyFailure::MacFailure { .. } => "mac_failure",
            VerifyFailure::BadCheckpointSignature { .. } => "bad_checkpoint_signature",
            VerifyFailure::BadEvidenceSignature { .. } => "bad_evidence_signature",
        }
    }
}

/// Verifies a decoded batch against the enrolled device and the collector's cursor:
/// device and batch signature first (nothing unauthenticated is judged further), then
/// the batch number, continuity with the cursor, every record's hash chain, epoch and
/// MAC (for epochs the collector holds a key for), every checkpoint, and every
/// evidence bundle. A batch whose [`batch_digest`] the collector already stored is a
/// re-send: answer it with the stored receipt before calling this.
pub fn verify_batch(
    batch: &Batch,
    device: &EnrolledDevice,
    cursor: &CollectorCursor,
) -> Result<Verified, VerifyFailure> {
    let pk = &device.checkpoint_public_key;
    if batch.format != BATCH_FORMAT {
        return Err(VerifyFailure::Malformed("unsupported format".into()));
    }
    if batch.device_id != device_id(pk) {
        return Err(VerifyFailure::WrongDevice);
    }
    let digest = batch_digest(batch);
    let mut message = BATCH_CONTEXT.to_vec();
    message.extend_from_slice(&digest);
    signature::UnparsedPublicKey::new(&signature::ED25519, pk)
        .verify(&message, &batch.signature)
        .map_err(|_| VerifyFailure::BadBatchSignature)?;
    if batch.batch_seq <= cursor.last_batch_seq {
        return Err(VerifyFailure::Replay {
            batch_seq: batch.batch_seq,
            last_batch_seq: cursor.last_batch_seq,
        });
    }
    let mut skipped_before = None;
    let start = batch.start;
    if let Some(cp) = &batch.start_checkpoint {
        check_start_checkpoint(cp, &start, pk)?;
    }
    if start.seq < cursor.last_seq {
        return Err(VerifyFailure::Rollback {
            start_seq: start.seq,
            collector_seq: cursor.last_seq,
        });
    } else if start.seq > cursor.last_seq {
        if !(cursor.is_new() && batch.start_checkpoint.is_some()) {
            return Err(VerifyFailure::Gap {
                after_seq: cursor.last_seq,
                found_seq: start.seq.saturating_add(1),
            });
        }
        skipped_before = Some(start.seq.saturating_add(1));
    } else {
        if batch.start_checkpoint.is_some() {
            return Err(VerifyFailure::Malformed(
                "a start checkpoint is only sent after a prune the collector never saw".into(),
            ));
        }
        if start.hash != cursor.last_hash {
            return Err(VerifyFailure::Fork {
                seq: start.seq,
                reason: "the batch continues from another hash than the collector holds".into(),
            });
        }
        if start.next_epoch != cursor.next_epoch {
            return Err(VerifyFailure::Fork {
                seq: start.seq,
                reason: "the batch continues in another epoch than the collector holds".into(),
            });
        }
    }

    let mut mac_key = match &device.journal_key {
        Some(k) if k.epoch <= start.next_epoch => {
            if start.next_epoch - k.epoch > MAX_EPOCH_STEPS {
                return Err(VerifyFailure::Malformed(
                    "the batch's epoch is too far beyond the collector's key".into(),
                ));
            }
            let k = k
                .evolve_to(start.next_epoch)
                .map_err(|_| VerifyFailure::Malformed("the epoch is out of range".into()))?;
            Some((k.mac_key(), k))
        }
        // The collector's key is past this epoch: these MACs cannot be checked.
        _ => None,
    };
    let mut macs_checked = 0;
    let mut verified_checkpoints = 0;
    let mut prev = start.hash;
    let mut expected = start.seq;
    let mut epoch = start.next_epoch;
    let mut checkpoints = batch.checkpoints.iter().peekable();
    let mut hasher = RecordHasher::default();
    for r in &batch.records {
        let want = expected
            .checked_add(1)
            .ok_or_else(|| VerifyFailure::Malformed("sequence number out of range".into()))?;
        if r.seq != want {
            return Err(if r.seq > want {
                VerifyFailure::Gap {
                    after_seq: expected,
                    found_seq: r.seq,
                }
            } else {
                VerifyFailure::Malformed(format!(
                    "record {} comes after record {expected} (out of order)",
                    r.seq
                ))
            });
        }
        if i64::try_from(epoch).ok() != Some(r.epoch) {
            return Err(VerifyFailure::Fork {
                seq: r.seq,
                reason: format!("the record is in epoch {}, expected {epoch}", r.epoch),
            });
        }
        let hash = hasher.hash(&prev, &r.fields());
        if hash != r.hash {
            return Err(VerifyFailure::Fork {
                seq: r.seq,
                reason: "the hash does not match the record and its predecessor".into(),
            });
        }
        if let Some((key, _)) = &mac_key {
            let tag = ring::hmac::sign(key, &hash);
            if !constant_time_eq(&tag.as_ref()[..MAC_LEN], &r.mac) {
                return Err(VerifyFailure::MacFailure { seq: r.seq });
            }
            macs_checked += 1;
        }
        // A checkpoint at this record closes the epoch.
        while let Some(cp) = checkpoints.peek() {
            if cp.seq < r.seq {
                return Err(VerifyFailure::Malformed(format!(
                    "checkpoint {} is out of order or names no record of the batch",
                    cp.seq
                )));
            }
            if cp.seq > r.seq {
                break;
            }
            check_checkpoint(cp, pk, epoch, &hash)?;
            verified_checkpoints += 1;
            checkpoints.next();
            epoch = epoch.checked_add(1).ok_or_else(|| {
                VerifyFailure::Malformed("the epoch after a checkpoint is out of range".into())
            })?;
            if let Some((_, k)) = &mac_key {
                let next = k
                    .evolve()
                    .map_err(|_| VerifyFailure::Malformed("the epoch is out of range".into()))?;
                mac_key = Some((next.mac_key(), next));
            }
        }
        prev = hash;
        expected = r.seq;
    }
    if let Some(cp) = checkpoints.next() {
        return Err(VerifyFailure::Malformed(format!(
            "checkpoint {} names no record of the batch",
            cp.seq
        )));
    }

    let head = &batch.head_checkpoint;
    if head.seq < expected {
        return Err(VerifyFailure::Malformed(format!(
            "the head checkpoint {} does not cover the batch's last record {expected}",
            head.seq
        )));
    }
    if head.seq == expected && expected > start.seq {
        // At the last record: it must be the checkpoint the walk already matched.
        if batch.checkpoints.last() != Some(head) {
            return Err(VerifyFailure::Fork {
                seq: head.seq,
                reason: "the head checkpoint differs from the batch's checkpoint at that record"
                    .into(),
            });
        }
    } else {
        let head_hash = verify_checkpoint_signature(head, pk)?;
        if head.seq == start.seq && head_hash != start.hash {
            return Err(VerifyFailure::Fork {
                seq: head.seq,
                reason: "the head checkpoint does not match the start position".into(),
            });
        }
        let closed = if head.seq == start.seq {
            start.next_epoch.checked_sub(1)
        } else {
            Some(epoch)
        };
        if closed.is_some_and(|e| head.epoch < e) {
            return Err(VerifyFailure::Fork {
                seq: head.seq,
                reason: "the head checkpoint claims an epoch already closed".into(),
            });
        }
        verified_checkpoints += 1;
    }

    let mut evidence_ids = Vec::with_capacity(batch.evidence.len());
    for e in &batch.evidence {
        if evidence_ids.last().is_some_and(|last| *last >= e.id) {
            return Err(VerifyFailure::Malformed(
                "evidence ids are not increasing".into(),
            ));
        }
        check_evidence(e, pk)?;
        evidence_ids.push(e.id);
    }

    Ok(Verified {
        device_id: batch.device_id.clone(),
        batch_seq: batch.batch_seq,
        digest,
        cursor: CollectorCursor {
            last_seq: expected,
            last_hash: prev,
            next_epoch: epoch,
            last_batch_seq: batch.batch_seq,
        },
        records: batch.records.len(),
        macs_checked,
        checkpoints: verified_checkpoints,
        evidence_ids,
        skipped_before,
    })
}

/// The checkpoint's signature under the enrolled key (which it must name); its head.
fn verify_checkpoint_signature(
    cp: &SignedCheckpoint,
    pk: &[u8; 32],
) -> Result<[u8; 32], VerifyFailure> {
    let bad = |reason: &str| VerifyFailure::BadCheckpointSignature {
        seq: cp.seq,
        reason: reason.into(),
    };
    if unhex32(&cp.public_key).as_ref() != Some(pk) {
        return Err(bad("it names another public key than the enrolled one"));
    }
    cp.verify(pk)
        .map_err(|_| bad("the signature does not verify under the enrolled key"))
}

fn check_checkpoint(
    cp: &SignedCheckpoint,
    pk: &[u8; 32],
    epoch: u64,
    hash: &[u8; 32],
) -> Result<(), VerifyFailure> {
    let head = verify_checkpoint_signature(cp, pk)?;
    if cp.epoch != epoch {
        return Err(VerifyFailure::Fork {
            seq: cp.seq,
            reason: format!("the checkpoint claims epoch {}, expected {epoch}", cp.epoch),
        });
    }
    if &head != hash {
        return Err(VerifyFailure::Fork {
            seq: cp.seq,
            reason: "the checkpoint's head differs from the record's hash".into(),
        });
    }
    Ok(())
}

fn check_start_checkpoint(
    cp: &SignedCheckpoint,
    start: &ChainPosition,
    pk: &[u8; 32],
) -> Result<(), VerifyFailure> {
    let head = verify_checkpoint_signature(cp, pk)?;
    if cp.seq != start.seq
        || head != start.hash
        || cp.epoch.checked_add(1) != Some(start.next_epoch)
    {
        return Err(VerifyFailure::Malformed(
            "the start checkpoint does not match the start position".into(),
        ));
    }
    // Every epoch was closed by a checkpoint at a record: no more epochs than records.
    if i64::try_from(start.next_epoch).map_or(true, |e| e > start.seq) {
        return Err(VerifyFailure::Malformed(
            "the start position claims more epochs than records".into(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceBundle {
    format: String,
    report: String,
    report_signature: String,
    public_key: String,
    evidence: String,
}

#[derive(Deserialize)]
struct ReportDigest {
    evidence_sha256: String,
}

fn check_evidence(e: &UploadEvidence, pk: &[u8; 32]) -> Result<(), VerifyFailure> {
    let bad = |reason: &str| VerifyFailure::BadEvidenceSignature {
        id: e.id,
        reason: reason.into(),
    };
    let bundle: EvidenceBundle = crate::json::from_str(&e.bundle)
        .map_err(|_| bad("the bundle is not a portcullis-evidence-bundle-v1 document"))?;
    if bundle.format != EVIDENCE_BUNDLE_FORMAT {
        return Err(bad(
            "the bundle is not a portcullis-evidence-bundle-v1 document",
        ));
    }
    if unhex32(&bundle.public_key).as_ref() != Some(pk) {
        return Err(bad("it names another public key than the enrolled one"));
    }
    let report_digest: [u8; 32] = digest::digest(&digest::SHA256, bundle.report.as_bytes())
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    let sig = unhex(&bundle.report_signature).ok_or_else(|| bad("the signature is not hex"))?;
    if !verify_report_signature(pk, &report_digest, &sig) {
        return Err(bad(
            "the report signature does not verify under the enrolled key",
        ));
    }
    let report: ReportDigest = crate::json::from_str(&bundle.report)
        .map_err(|_| bad("the signed report names no evidence digest"))?;
    let evidence = hex(digest::digest(&digest::SHA256, bundle.evidence.as_bytes()).as_ref());
    if !report.evidence_sha256.eq_ignore_ascii_case(&evidence) {
        return Err(bad("the evidence differs from the digest the report signs"));
    }
    Ok(())
}

/// The collector's signed answer to a batch (`portcullis/upload-receipt/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The device the batch came from.
    pub device_id: String,
    /// The batch taken.
    pub batch_seq: u64,
    /// Its [`batch_digest`].
    #[serde(with = "hex_array")]
    pub batch_digest: [u8; 32],
    /// The position the collector holds now (the batch's end).
    pub acknowledged: ChainPosition,
    /// The evidence bundles it stored.
    pub evidence_ids: Vec<u64>,
    /// When the collector took it (the collector's clock).
    pub at: Timestamp,
    /// Ed25519 by the collector's key over the receipt's transcript.
    #[serde(with = "hex_array")]
    pub signature: [u8; 64],
}

impl Receipt {
    /// The receipt for a verified batch, unsigned; pass it to [`sign_receipt`].
    pub fn for_batch(verified: &Verified, at: Timestamp) -> Receipt {
        Receipt {
            format: RECEIPT_FORMAT.into(),
            device_id: verified.device_id.clone(),
            batch_seq: verified.batch_seq,
            batch_digest: verified.digest,
            acknowledged: verified.cursor.position(),
            evidence_ids: verified.evidence_ids.clone(),
            at,
            signature: [0; 64],
        }
    }
}

fn receipt_message(r: &Receipt) -> Vec<u8> {
    let mut t = Transcript::new(RECEIPT_CONTEXT);
    t.text(&r.format);
    t.text(&r.device_id);
    t.u64(r.batch_seq);
    t.bytes(&r.batch_digest);
    t.position(&r.acknowledged);
    t.u64(r.evidence_ids.len() as u64);
    for id in &r.evidence_ids {
        t.u64(*id);
    }
    t.i64(r.at.as_unix_millis());
    let mut message = RECEIPT_CONTEXT.to_vec();
    message.extend_from_slice(&t.finish());
    message
}

/// Signs a receipt with the collector's Ed25519 key.
pub fn sign_receipt(mut receipt: Receipt, key: &Ed25519KeyPair) -> Receipt {
    let signature = key.sign(&receipt_message(&receipt));
    receipt.signature.copy_from_slice(signature.as_ref());
    receipt
}

/// The receipt as sent: compact JSON.
pub fn encode_receipt(receipt: &Receipt) -> Vec<u8> {
    serde_json::to_vec(receipt).expect("a receipt always encodes")
}

/// The largest receipt read: a receipt names ids, not contents.
pub const MAX_RECEIPT_BYTES: usize = 64 * 1024;

/// Reads a receipt strictly, without checking its signature.
pub fn decode_receipt(bytes: &[u8]) -> Result<Receipt, UploadError> {
    if bytes.len() > MAX_RECEIPT_BYTES {
        return Err(UploadError::TooLarge {
            bytes: bytes.len(),
            limit: MAX_RECEIPT_BYTES,
        });
    }
    let r: Receipt = crate::json::from_slice(bytes)
        .map_err(|e| UploadError::Malformed(crate::json::describe(&e)))?;
    if r.format != RECEIPT_FORMAT {
        return Err(UploadError::UnsupportedFormat {
            expected: RECEIPT_FORMAT,
        });
    }
    Ok(r)
}

/// Reads a receipt and checks its signature under the collector's public key (from
/// the policy). Whether it answers the batch in flight is the phone's check.
pub fn verify_receipt(
    bytes: &[u8],
    collector_public_key: &[u8; 32],
) -> Result<Receipt, UploadError> {
    let r = decode_receipt(bytes)?;
    signature::UnparsedPublicKey::new(&signature::ED25519, collector_public_key)
        .verify(&receipt_message(&r), &r.signature)
        .map_err(|_| UploadError::BadReceiptSignature)?;
    Ok(r)
}

/// A length-prefixed transcript hashed with SHA-256.
struct Transcript(digest::Context);

impl Transcript {
    fn new(context: &[u8]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(context);
        Transcript(ctx)
    }
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.update(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    fn text(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    fn position(&mut self, p: &ChainPosition) {
        self.i64(p.seq);
        self.bytes(&p.hash);
        self.u64(p.next_epoch);
    }
    fn checkpoint(&mut self, cp: &SignedCheckpoint) {
        self.i64(cp.seq);
        self.u64(cp.epoch);
        self.i64(cp.at.as_unix_millis());
        self.text(&cp.head_hash);
        self.text(&cp.signature);
        self.text(&cp.public_key);
    }
    fn finish(self) -> [u8; 32] {
        self.0
            .finish()
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes")
    }
}

impl fmt::Display for ChainPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {} (next epoch {})", self.seq, self.next_epoch)
    }
}

/// Fixed-size byte arrays as lower-case hex; reading accepts either case and refuses
/// any other length.
mod hex_array {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        b: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::identity::hex(b))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        crate::journal::unhex(&text)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| de::Error::custom(format!("expected {} hex digits", 2 * N)))
    }
}

#[cfg(test)]
mod tests;
