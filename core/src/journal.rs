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

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::identity::{hex, DeviceKey};
use crate::time::Timestamp;

/// Bytes of HMAC-SHA-256 kept per record: 128 bits, the truncation RFC 4868 uses,
/// which keeps forging infeasible while trimming every stored record.
pub const MAC_LEN: usize = 16;

/// The chain's anchor: the hash "before" the first record.
pub const GENESIS: [u8; 32] = [0u8; 32];

const EVOLVE_LABEL: &[u8] = b"portcullis/journal-key/evolve/v1";
const WRAP_LABEL: &[u8] = b"portcullis/journal-key/wrap/v1";
const SIGNING_LABEL: &[u8] = b"portcullis/checkpoint-signing/v1";
const CHECKPOINT_CONTEXT: &[u8] = b"portcullis-checkpoint-v1\0";
const REPORT_CONTEXT: &[u8] = b"portcullis-inspection-report-v1\0";
/// Context of the statement the attested platform key signs about the checkpoint key.
const KEY_CERTIFICATION_CONTEXT: &[u8] = b"portcullis/checkpoint-key-certification/v1\0";

/// Checks an inspection report signature made by [`CheckpointSigner::sign_report`].
pub fn verify_report_signature(public_key: &[u8; 32], digest: &[u8; 32], signature: &[u8]) -> bool {
    let mut message = REPORT_CONTEXT.to_vec();
    message.extend_from_slice(digest);
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(&message, signature)
        .is_ok()
}

/// A journal MAC key and the epoch it belongs to. Never written to disk unwrapped.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey {
    /// How many checkpoints preceded this key.
    pub epoch: u64,
    key: [u8; 32],
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKey(epoch {}, ..)", self.epoch)
    }
}

impl EpochKey {
    /// The epoch-0 key, from fresh randomness supplied by the platform at enrollment.
    pub fn initial(entropy: [u8; 32]) -> Self {
        EpochKey {
            epoch: 0,
            key: entropy,
        }
    }

    /// Rebuilds a key from its bytes (the console's copy of epoch 0, or an unwrapped key).
    pub fn from_bytes(epoch: u64, key: [u8; 32]) -> Self {
        EpochKey { epoch, key }
    }

    /// The key bytes, for the one-time export of epoch 0 to the console.
    pub fn bytes(&self) -> [u8; 32] {
        self.key
    }

    /// The next epoch's key: a one-way function of this one. The epoch count is checked:
    /// a key at `u64::MAX` has no successor (only a forged stored epoch gets there).
    pub fn evolve(&self) -> Result<EpochKey> {
        let epoch = self
            .epoch
            .checked_add(1)
            .ok_or_else(|| Error::Corrupt("the journal key's epoch is out of range".into()))?;
        let k = hmac::Key::new(hmac::HMAC_SHA256, &self.key);
        let tag = hmac::sign(&k, EVOLVE_LABEL);
        let mut key = [0u8; 32];
        key.copy_from_slice(tag.as_ref());
        Ok(EpochKey { epoch, key })
    }

    /// Evolves forward to `epoch` (for a verifier that starts from epoch 0).
    ///
    /// Each step is one HMAC, so callers bound `epoch` by the epochs actually recorded
    /// (one per stored checkpoint) before calling: a stored epoch is input like any other.
    pub fn evolve_to(&self, epoch: u64) -> Result<EpochKey> {
        if epoch < self.epoch {
            return Err(Error::invalid(
                "journal_key",
                "a key cannot be evolved backwards",
            ));
        }
        let mut k = self.clone();
        while k.epoch < epoch {
            k = k.evolve()?;
        }
        Ok(k)
    }

    /// Prepared form for MACing many records.
    pub fn mac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.key)
    }

    /// The key masked for storage: XOR with a device-key MAC bound to the epoch, so
    /// the database file alone does not reveal it.
    pub fn wrap(&self, device_key: &dyn DeviceKey) -> Result<[u8; 32]> {
        let mask = wrap_mask(device_key, self.epoch)?;
        Ok(xor(&self.key, &mask))
    }

    /// Reverses [`EpochKey::wrap`].
    pub fn unwrap(device_key: &dyn DeviceKey, epoch: u64, wrapped: &[u8]) -> Result<Self> {
        let wrapped: [u8; 32] = wrapped
            .try_into()
            .map_err(|_| Error::Corrupt("the stored journal key has the wrong length".into()))?;
        let mask = wrap_mask(device_key, epoch)?;
        Ok(EpochKey {
            epoch,
            key: xor(&wrapped, &mask),
        })
    }
}

fn wrap_mask(device_key: &dyn DeviceKey, epoch: u64) -> Result<[u8; 32]> {
    let mut msg = WRAP_LABEL.to_vec();
    msg.extend_from_slice(&epoch.to_be_bytes());
    device_key.hmac_sha256(&msg)
}

fn xor(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = a[i] ^ b[i];
    }
    out
}

/// The fields of one journal record that its hash covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Position in the journal, from 1, without gaps.
    pub seq: i64,
    /// When the agent wrote it (milliseconds since the epoch).
    pub at: i64,
    /// The MAC epoch it was written in.
    pub epoch: i64,
    /// Record kind.
    pub kind: &'a str,
    /// JSON body.
    pub body: &'a str,
}

/// The chained hash of a record.
pub fn record_hash(prev: &[u8; 32], r: &RecordRef<'_>) -> [u8; 32] {
    RecordHasher::default().hash(prev, r)
}

/// Computes chained record hashes in one pass over a reused buffer.
///
/// Appending and verifying hash every record, so this is the journal's hottest code: the
/// fixed-size header (previous hash, sequence, time, epoch, kind length) is exactly one
/// SHA-256 block, and hashing header, kind and body as one contiguous message costs a
/// third less than feeding the digest field by field. The bytes hashed are the same.
#[derive(Debug, Default)]
pub struct RecordHasher {
    buf: Vec<u8>,
}

impl RecordHasher {
    /// The chained hash of `r` after `prev`.
    pub fn hash(&mut self, prev: &[u8; 32], r: &RecordRef<'_>) -> [u8; 32] {
        self.hash_fields(
            prev,
            [r.seq, r.at, r.epoch],
            r.kind.as_bytes(),
            r.body.as_bytes(),
        )
    }

    /// [`RecordHasher::hash`] on the fields as bytes (`[seq, at, epoch]`), for records
    /// already checked to be text when they were read.
    fn hash_fields(
        &mut self,
        prev: &[u8; 32],
        [seq, at, epoch]: [i64; 3],
        kind: &[u8],
        body: &[u8],
    ) -> [u8; 32] {
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(prev);
        buf.extend_from_slice(&seq.to_be_bytes());
        buf.extend_from_slice(&at.to_be_bytes());
        buf.extend_from_slice(&epoch.to_be_bytes());
        buf.extend_from_slice(&(kind.len() as u64).to_be_bytes());
        buf.extend_from_slice(kind);
        buf.extend_from_slice(body);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, buf).as_ref());
        out
    }
}

/// The device's checkpoint-signing key, derived from the platform's device key so no
/// extra secret is stored; only its public half ever leaves the device.
pub struct CheckpointSigner {
    pair: Ed25519KeyPair,
}

impl CheckpointSigner {
    /// Derives the signer from the device key.
    pub fn derive(device_key: &dyn DeviceKey) -> Result<Self> {
        let seed = device_key.hmac_sha256(SIGNING_LABEL)?;
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| Error::DeviceKey("cannot derive the checkpoint key".into()))?;
        Ok(CheckpointSigner { pair })
    }

    /// The public key the console pins at enrollment.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// Signs the digest of an inspection report, so the console can check that the
    /// evidence and findings it fetched are what this device produced.
    pub fn sign_report(&self, digest: &[u8; 32]) -> [u8; 64] {
        let mut message = REPORT_CONTEXT.to_vec();
        message.extend_from_slice(digest);
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(&message).as_ref());
        out
    }

    /// Signs `message` as it is; callers put their own context label in front, so a
    /// signature made for one purpose never verifies for another.
    pub(crate) fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// Signs a checkpoint.
    pub fn sign(&self, seq: i64, epoch: u64, at: Timestamp, head: &[u8; 32]) -> SignedCheckpoint {
        let message = checkpoint_message(seq, epoch, at, head);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(self.pair.sign(&message).as_ref());
        SignedCheckpoint {
            seq,
            epoch,
            at,
            head_hash: hex(head),
            signature: hex(&signature),
            public_key: hex(&self.public_key()),
        }
    }
}

fn checkpoint_message(seq: i64, epoch: u64, at: Timestamp, head: &[u8; 32]) -> Vec<u8> {
    let mut m = CHECKPOINT_CONTEXT.to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&epoch.to_be_bytes());
    m.extend_from_slice(&at.as_unix_millis().to_be_bytes());
    m.extend_from_slice(head);
    m
}

/// A checkpoint as the console stores it: JSON, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCheckpoint {
    /// The last record the checkpoint covers.
    pub seq: i64,
    /// The MAC epoch of the records it covers; later records use `epoch + 1`.
    pub epoch: u64,
    /// When it was made.
    pub at: Timestamp,
    /// Hash of record `seq` (hex).
    pub head_hash: String,
    /// Ed25519 signature (hex).
    pub signature: String,
    /// The device's checkpoint public key (hex).
    pub public_key: String,
}

impl SignedCheckpoint {
    /// Checks the signature under `public_key` (the console's pinned key) and returns the head hash.
    pub fn verify(&self, public_key: &[u8; 32]) -> std::result::Result<[u8; 32], String> {
        let head = unhex32(&self.head_hash).ok_or("head_hash is not 64 hex digits")?;
        let sig = unhex(&self.signature).ok_or("signature is not hex")?;
        let message = checkpoint_message(self.seq, self.epoch, self.at, &head);
        signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
            .verify(&message, &sig)
            .map_err(|_| format!("checkpoint {} has a bad signature", self.seq))?;
        Ok(head)
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The statement the phone's attested platform key signs (ECDSA, SHA-256) to certify
/// the checkpoint-signing key: the context, the attestation challenge (length byte,
/// then the bytes) and the 32-byte Ed25519 checkpoint public key. The console rebuilds
/// it from the challenge it issued and the key it pinned at enrollment, and checks the
/// signature under the attested chain's leaf key: the journal's checkpoints are then
/// tied to the key the secure hardware attested.
pub fn checkpoint_key_certification(challenge: &[u8], checkpoint_key: &[u8; 32]) -> Vec<u8> {
    let len = u8::try_from(challenge.len()).unwrap_or(u8::MAX);
    let mut out = KEY_CERTIFICATION_CONTEXT.to_vec();
    out.push(len);
    out.extend_from_slice(&challenge[..usize::from(len)]);
    out.extend_from_slice(checkpoint_key);
    out
}

/// Decodes lower- or upper-case hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Decodes exactly 32 bytes of hex.
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    unhex(text)?.try_into().ok()
}

/// One stored record as read back for verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The hashed fields.
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// MAC epoch.
    pub epoch: i64,
    /// Kind.
    pub kind: String,
    /// JSON body.
    pub body: String,
    /// Stored hash.
    pub hash: Vec<u8>,
    /// Stored MAC.
    pub mac: Vec<u8>,
}

/// A stored checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The signed checkpoint.
    pub checkpoint: SignedCheckpoint,
}

/// Where verification starts: genesis, or the checkpoint below which records were pruned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The last pruned sequence number (0 for genesis).
    pub seq: i64,
    /// Its hash.
    pub hash: [u8; 32],
    /// The epoch of the records after it.
    pub next_epoch: u64,
}

impl Anchor {
    /// The start of an unpruned journal.
    pub const GENESIS: Anchor = Anchor {
        seq: 0,
        hash: GENESIS,
        next_epoch: 0,
    };
}

/// What a verifier is given besides the database.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The console's epoch-0 MAC key; without it MACs are not checked.
    pub initial_key: Option<EpochKey>,
    /// A checkpoint the console stored, with the public key it pinned at enrollment.
    pub console_checkpoint: Option<SignedCheckpoint>,
}

/// The verdict on a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every check passed.
    Intact {
        /// Records checked.
        records: u64,
        /// Checkpoints whose signature and head matched.
        checkpoints: u64,
        /// Whether MACs were checked (an epoch-0 key was given).
        macs_checked: bool,
        /// The last sequence number.
        last_seq: i64,
    },
    /// The first record that fails, and why.
    Broken {
        /// Sequence number of the first broken (or missing) record.
        seq: i64,
        /// What failed.
        reason: String,
    },
}

/// Streams records in sequence order through every check.
pub struct Verifier {
    /// Whether verification starts at genesis: then the journal is never empty.
    from_genesis: bool,
    expected_seq: i64,
    prev: [u8; 32],
    epoch: u64,
    checkpoints: Vec<SignedCheckpoint>,
    next_checkpoint: usize,
    mac_key: Option<(u64, hmac::Key, EpochKey)>,
    public_key: Option<[u8; 32]>,
    records: u64,
    verified_checkpoints: u64,
    console: Option<(SignedCheckpoint, [u8; 32])>,
    console_verified: bool,
    hasher: RecordHasher,
    pending: Option<LinkBatch>,
}

impl Verifier {
    /// Starts at `anchor`; `checkpoints` are the stored ones, in any order; `public_key`
    /// is the device key stored at enrollment (the console's checkpoint key takes precedence).
    ///
    /// An anchor other than [`Anchor::GENESIS`] must be covered by a stored checkpoint at
    /// its record, signed under that key, whose head hash and epoch it repeats; and its
    /// epoch must be the number of checkpoints stored up to it, which also bounds how far
    /// the epoch-0 key is evolved. Otherwise the anchor is refused as forged.
    pub fn new(
        anchor: Anchor,
        mut checkpoints: Vec<SignedCheckpoint>,
        public_key: Option<[u8; 32]>,
        options: VerifyOptions,
    ) -> std::result::Result<Self, (i64, String)> {
        crate::sort::sort_by_key(&mut checkpoints, |c| c.seq);
        let console = match options.console_checkpoint {
            Some(c) => {
                let key = unhex32(&c.public_key).ok_or((
                    c.seq,
                    "the console checkpoint's public key is not 64 hex digits".to_owned(),
                ))?;
                Some((c, key))
            }
            None => None,
        };
        // The key the console pinned at enrollment outranks the one stored on the device.
        let pinned = console.as_ref().map(|(_, k)| *k).or(public_key);
        let from_genesis = anchor == Anchor::GENESIS;
        let up_to_anchor = checkpoints.partition_point(|c| c.seq <= anchor.seq);
        if !from_genesis {
            check_anchor(&anchor, &checkpoints[..up_to_anchor], pinned.as_ref())?;
        }
        let expected_seq = anchor.seq.checked_add(1).ok_or((
            anchor.seq,
            "the pruning anchor's sequence number is out of range".to_owned(),
        ))?;
        let mac_key = match &options.initial_key {
            Some(k0) => {
                let k = k0
                    .evolve_to(anchor.next_epoch)
                    .map_err(|e| (expected_seq, e.to_string()))?;
                Some((k.epoch, k.mac_key(), k))
            }
            None => None,
        };
        Ok(Verifier {
            from_genesis,
            expected_seq,
            prev: anchor.hash,
            epoch: anchor.next_epoch,
            next_checkpoint: up_to_anchor,
            checkpoints,
            mac_key,
            public_key: pinned,
            records: 0,
            verified_checkpoints: 0,
            console,
            console_verified: false,
            hasher: RecordHasher::default(),
            pending: None,
        })
    }

    /// Checks the next record. Returns the failing sequence number and reason on the first problem.
    pub fn push(&mut self, r: &StoredRecord) -> std::result::Result<(), (i64, String)> {
        self.push_parts(
            &RecordRef {
                seq: r.seq,
                at: r.at,
                epoch: r.epoch,
                kind: &r.kind,
                body: &r.body,
            },
            &r.hash,
            &r.mac,
        )
    }

    /// [`Verifier::push`] on borrowed fields, so a store can verify rows in place without
    /// copying each one.
    pub fn push_parts(
        &mut self,
        r: &RecordRef<'_>,
        stored_hash: &[u8],
        stored_mac: &[u8],
    ) -> std::result::Result<(), (i64, String)> {
        self.check_position(r)?;
        let key = self.mac_key.as_ref().map(|(_, k, _)| k);
        let hash = self.hasher.hash(&self.prev, r);
        let hash =
            check_link(hash, stored_hash, stored_mac, key).map_err(|reason| (r.seq, reason))?;
        self.advance(r.seq, hash)
    }

    /// Like [`Verifier::push_parts`], but leaves the record's hash and MAC to be checked
    /// later, in a [`LinkBatch`], possibly on another thread. Returns a batch once
    /// `batch_len` records have gathered; [`Verifier::take_batch`] returns the rest.
    ///
    /// This is sound because every record stores its chained hash: checking each record
    /// against its own stored hash and its predecessor's proves the whole chain, in any
    /// order. Until its batch is checked a record counts as intact only provisionally; a
    /// caller reports the earliest failure found by either side ([`earliest`]).
    pub fn push_deferred(
        &mut self,
        r: &RecordRef<'_>,
        stored_hash: &[u8],
        stored_mac: &[u8],
        batch_len: usize,
    ) -> std::result::Result<Option<LinkBatch>, (i64, String)> {
        self.check_position(r)?;
        let hash: [u8; 32] = stored_hash
            .try_into()
            .map_err(|_| (r.seq, HASH_MISMATCH.to_owned()))?;
        let batch = self.pending.get_or_insert_with(|| LinkBatch {
            prev: self.prev,
            ..LinkBatch::default()
        });
        if let Some((epoch, key, _)) = &self.mac_key {
            if batch.keys.last().map(|(e, _)| *e) != Some(*epoch) {
                batch.keys.push((*epoch, key.clone()));
            }
        }
        batch.push(r, &hash, stored_mac);
        let full = batch.records.len() >= batch_len.max(1);
        self.advance(r.seq, hash)?;
        Ok(if full { self.pending.take() } else { None })
    }

    /// The records pushed with [`Verifier::push_deferred`] that no batch returned yet.
    pub fn take_batch(&mut self) -> Option<LinkBatch> {
        self.pending.take()
    }

    /// The sequence number the next record must have.
    pub fn expected_seq(&self) -> i64 {
        self.expected_seq
    }

    /// Sequence and epoch: what must be checked in order.
    fn check_position(&self, r: &RecordRef<'_>) -> std::result::Result<(), (i64, String)> {
        let seq = self.expected_seq;
        if r.seq != seq {
            // Reported at the position: whatever comes later, the first broken record is
            // the one that should have been here.
            return Err((
                seq,
                format!(
                    "expected record {seq}, found {} (removed or reordered)",
                    r.seq
                ),
            ));
        }
        if i64::try_from(self.epoch).ok() != Some(r.epoch) {
            return Err((
                seq,
                format!("record is in epoch {}, expected {}", r.epoch, self.epoch),
            ));
        }
        Ok(())
    }

    /// Moves past a record whose hash is `hash`: checkpoints at it, the next epoch.
    fn advance(&mut self, seq: i64, hash: [u8; 32]) -> std::result::Result<(), (i64, String)> {
        if let Some((cp, key)) = &self.console {
            if cp.seq == seq {
                let head = cp.verify(key).map_err(|e| (seq, e))?;
                if head != hash {
                    return Err((
                        seq,
                        format!("record {seq} differs from the console's checkpoint"),
                    ));
                }
                self.console_verified = true;
            }
        }
        self.prev = hash;
        self.expected_seq = self
            .expected_seq
            .checked_add(1)
            .ok_or((seq, "sequence number out of range".to_owned()))?;
        self.records += 1;
        // A checkpoint at this record closes the epoch.
        while let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            if cp.seq != seq {
                if cp.seq < seq {
                    return Err((
                        cp.seq,
                        format!("checkpoint {} points at a missing record", cp.seq),
                    ));
                }
                break;
            }
            self.check_checkpoint(cp.clone(), &hash)?;
            self.next_checkpoint += 1;
            let out_of_range = || {
                (
                    seq,
                    "the epoch after this checkpoint is out of range".to_owned(),
                )
            };
            self.epoch = self.epoch.checked_add(1).ok_or_else(out_of_range)?;
            if let Some((_, _, k)) = &self.mac_key {
                let next = k.evolve().map_err(|_| out_of_range())?;
                self.mac_key = Some((next.epoch, next.mac_key(), next));
            }
        }
        Ok(())
    }

    fn check_checkpoint(
        &mut self,
        cp: SignedCheckpoint,
        hash: &[u8; 32],
    ) -> std::result::Result<(), (i64, String)> {
        if cp.epoch != self.epoch {
            return Err((
                cp.seq,
                format!(
                    "checkpoint {} claims epoch {}, expected {}",
                    cp.seq, cp.epoch, self.epoch
                ),
            ));
        }
        if let Some(pk) = &self.public_key {
            if unhex32(&cp.public_key).as_ref() != Some(pk) {
                return Err((
                    cp.seq,
                    format!("checkpoint {} names another public key (edited)", cp.seq),
                ));
            }
            let head = cp.verify(pk).map_err(|e| (cp.seq, e))?;
            if &head != hash {
                return Err((
                    cp.seq,
                    format!("checkpoint {} does not match record {}", cp.seq, cp.seq),
                ));
            }
        }
        self.verified_checkpoints += 1;
        Ok(())
    }

    /// Ends the walk: stored checkpoints beyond the last record, or the console's checkpoint,
    /// reveal a truncated tail.
    pub fn finish(self) -> Verdict {
        let last = self.expected_seq - 1;
        if self.from_genesis && self.records == 0 {
            return Verdict::Broken {
                seq: 1,
                reason: "the journal is empty, but enrollment always writes record 1 (deleted)"
                    .to_owned(),
            };
        }
        if let Some(cp) = self.checkpoints.get(self.next_checkpoint) {
            return Verdict::Broken {
                seq: self.expected_seq,
                reason: format!("a stored checkpoint covers record {} but the journal ends at {last} (truncated)", cp.seq),
            };
        }
        if let Some((cp, _)) = &self.console {
            if cp.seq > last {
                return Verdict::Broken {
                    seq: self.expected_seq,
                    reason: format!("the console's checkpoint covers record {} but the journal ends at {last} (truncated)", cp.seq),
                };
            }
            // A checkpoint below the pruning anchor can only be matched against the stored copy.
            if !self.console_verified && !self.checkpoints.iter().any(|c| c == cp) {
                return Verdict::Broken {
                    seq: cp.seq,
                    reason: format!("the console's checkpoint {} is not in the journal", cp.seq),
                };
            }
        }
        Verdict::Intact {
            records: self.records,
            checkpoints: self.verified_checkpoints,
            macs_checked: self.mac_key.is_some(),
            last_seq: last,
        }
    }
}

/// Checks a pruning anchor against the checkpoints stored up to it (`covering`, sorted):
/// the last must be at the anchor's record, signed under `public_key`, with the anchor's
/// hash and the epoch before the anchor's; and the anchor's epoch must equal the number of
/// those checkpoints, since every checkpoint closes one epoch.
fn check_anchor(
    anchor: &Anchor,
    covering: &[SignedCheckpoint],
    public_key: Option<&[u8; 32]>,
) -> std::result::Result<(), (i64, String)> {
    let seq = anchor.seq;
    let forged = |why: &str| {
        Err((
            seq,
            format!("the pruning anchor at record {seq} {why} (forged or edited)"),
        ))
    };
    if seq < 1 {
        return forged("names no record");
    }
    let Some(cp) = covering.last().filter(|c| c.seq == seq) else {
        return forged("is not covered by a stored signed checkpoint");
    };
    let Some(key) = public_key else {
        return forged("cannot be checked without the checkpoint public key");
    };
    if unhex32(&cp.public_key).as_ref() != Some(key) {
        return forged("is covered by a checkpoint that names another public key");
    }
    let head = cp.verify(key).map_err(|e| (seq, e))?;
    if head != anchor.hash {
        return forged("does not repeat its checkpoint's head hash");
    }
    if cp.epoch.checked_add(1) != Some(anchor.next_epoch) {
        return forged("does not start the epoch after its checkpoint's");
    }
    if u64::try_from(covering.len()).ok() != Some(anchor.next_epoch) {
        return forged(&format!(
            "starts epoch {}, but {} checkpoints are stored up to it",
            anchor.next_epoch,
            covering.len()
        ));
    }
    Ok(())
}

const HASH_MISMATCH: &str = "hash does not match its contents and predecessor (edited)";

/// Checks one record's stored hash against `hash` (its contents chained to its
/// predecessor), and its MAC when a key is given; returns the hash.
fn check_link(
    hash: [u8; 32],
    stored_hash: &[u8],
    stored_mac: &[u8],
    key: Option<&hmac::Key>,
) -> std::result::Result<[u8; 32], String> {
    if stored_hash != hash {
        return Err(HASH_MISMATCH.into());
    }
    if let Some(key) = key {
        let expected = hmac::sign(key, &hash);
        if stored_mac.len() != MAC_LEN
            || !constant_time_eq(&expected.as_ref()[..MAC_LEN], stored_mac)
        {
            return Err("MAC does not verify (record rewritten without the key)".into());
        }
    }
    Ok(hash)
}

/// Consecutive records whose hashes and MACs are checked together, apart from the
/// in-order checks; owns copies of their bytes so it can move to another thread.
#[derive(Default)]
pub struct LinkBatch {
    prev: [u8; 32],
    bytes: Vec<u8>,
    records: Vec<BatchedRecord>,
    /// The MAC key of each epoch the batch spans, in order.
    keys: Vec<(u64, hmac::Key)>,
}

struct BatchedRecord {
    seq: i64,
    at: i64,
    epoch: i64,
    kind: std::ops::Range<usize>,
    body: std::ops::Range<usize>,
    mac: std::ops::Range<usize>,
    hash: [u8; 32],
}

impl LinkBatch {
    fn push(&mut self, r: &RecordRef<'_>, hash: &[u8; 32], mac: &[u8]) {
        let mut put = |b: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(b);
            start..self.bytes.len()
        };
        let kind = put(r.kind.as_bytes());
        let body = put(r.body.as_bytes());
        let mac = put(mac);
        self.records.push(BatchedRecord {
            seq: r.seq,
            at: r.at,
            epoch: r.epoch,
            kind,
            body,
            mac,
            hash: *hash,
        });
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The first record whose hash or MAC fails, and why.
    pub fn check(&self) -> Option<(i64, String)> {
        let mut hasher = RecordHasher::default();
        let mut prev = self.prev;
        for r in &self.records {
            let key = match self
                .keys
                .iter()
                .find(|(e, _)| i64::try_from(*e).ok() == Some(r.epoch))
            {
                Some((_, k)) => Some(k),
                None if self.keys.is_empty() => None,
                None => return Some((r.seq, "no MAC key for the record's epoch".into())),
            };
            let hash = hasher.hash_fields(
                &prev,
                [r.seq, r.at, r.epoch],
                &self.bytes[r.kind.clone()],
                &self.bytes[r.body.clone()],
            );
            if let Err(reason) = check_link(hash, &r.hash, &self.bytes[r.mac.clone()], key) {
                return Some((r.seq, reason));
            }
            prev = r.hash;
        }
        None
    }
}

/// Verifies a whole journal as [`verify`] does, but checks hashes and MACs in batches
/// of `batch_len` records after the in-order walk, as a multi-threaded verifier would;
/// the verdict must be the same.
pub fn verify_batched<'a>(
    anchor: Anchor,
    records: impl IntoIterator<Item = &'a StoredRecord>,
    checkpoints: Vec<SignedCheckpoint>,
    public_key: Option<[u8; 32]>,
    options: VerifyOptions,
    batch_len: usize,
) -> Verdict {
    let mut v = match Verifier::new(anchor, checkpoints, public_key, options) {
        Ok(v) => v,
        Err((seq, reason)) => return Verdict::Broken { seq, reason },
    };
    let mut links = None;
    let mut in_order = None;
    for r in records {
        let fields = RecordRef {
            seq: r.seq,
            at: r.at,
            epoch: r.epoch,
            kind: &r.kind,
            body: &r.body,
        };
        match v.push_deferred(&fields, &r.hash, &r.mac, batch_len) {
            Ok(Some(batch)) => links = earliest(links, batch.check()),
            Ok(None) => {}
            Err(failure) => {
                in_order = Some(failure);
                break;
            }
        }
    }
    if let Some(batch) = v.take_batch() {
        links = earliest(links, batch.check());
    }
    deferred_verdict(v, links, in_order)
}

/// The verdict of a walk made with [`Verifier::push_deferred`]: the earliest of the
/// batches' failures (`links`), the in-order failure that stopped the walk, and what
/// [`Verifier::finish`] finds.
pub fn deferred_verdict(
    verifier: Verifier,
    links: Option<(i64, String)>,
    in_order: Option<(i64, String)>,
) -> Verdict {
    // On the same record, the hash or MAC failure is the more telling reason.
    let finished = match (&links, &in_order) {
        (None, None) => match verifier.finish() {
            Verdict::Broken { seq, reason } => Some((seq, reason)),
            intact => return intact,
        },
        _ => None,
    };
    let (seq, reason) = earliest(earliest(links, in_order), finished).expect("one failure is set");
    Verdict::Broken { seq, reason }
}

/// The failure to report of two: the lower sequence number, and `a` on a tie.
pub fn earliest(a: Option<(i64, String)>, b: Option<(i64, String)>) -> Option<(i64, String)> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Verifies a whole journal given in sequence order.
pub fn verify<'a>(
    anchor: Anchor,
    records: impl IntoIterator<Item = &'a StoredRecord>,
    checkpoints: Vec<SignedCheckpoint>,
    public_key: Option<[u8; 32]>,
    options: VerifyOptions,
) -> Verdict {
    let mut v = match Verifier::new(anchor, checkpoints, public_key, options) {
        Ok(v) => v,
        Err((seq, reason)) => return Verdict::Broken { seq, reason },
    };
    for r in records {
        if let Err((seq, reason)) = v.push(r) {
            return Verdict::Broken { seq, reason };
        }
    }
    v.finish()
}

/// A journal record's body, decoded by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordBody {
    /// The device was enrolled; carries the checkpoint public key.
    Enrolled {
        /// Enrollment time.
        at: Timestamp,
        /// Checkpoint public key (hex).
        public_key: String,
    },
    /// An alert was raised and queued.
    Alert(crate::alert::Finding),
    /// Alerts were delivered and acknowledged.
    AlertsAcknowledged {
        /// Their outbox ids.
        alert_ids: Vec<u64>,
    },
    /// A kind this version does not know; kept as JSON so exports lose nothing.
    Other(serde_json::Value),
}

/// Decodes a record body. Unknown kinds decode as [`RecordBody::Other`]; a known kind
/// whose body does not match is an error naming the kind.
pub fn decode_record(kind: &str, body: &str) -> Result<RecordBody> {
    let bad = |e: serde_json::Error| {
        Error::Corrupt(format!(
            "a `{}` record body is malformed: {}",
            crate::instruction::redact_identifiers(&crate::policy::sanitize(kind)),
            crate::json::describe(&e)
        ))
    };
    #[derive(Deserialize)]
    struct Enrolled {
        at: Timestamp,
        public_key: String,
    }
    #[derive(Deserialize)]
    struct Acked {
        alert_ids: Vec<u64>,
    }
    Ok(match kind {
        "enrolled" => {
            let e: Enrolled = crate::json::from_str(body).map_err(bad)?;
            RecordBody::Enrolled {
                at: e.at,
                public_key: e.public_key,
            }
        }
        "alert" => RecordBody::Alert(crate::json::from_str(body).map_err(bad)?),
        "alerts_acknowledged" => {
            let a: Acked = crate::json::from_str(body).map_err(bad)?;
            RecordBody::AlertsAcknowledged {
                alert_ids: a.alert_ids,
            }
        }
        _ => RecordBody::Other(crate::json::from_str(body).map_err(bad)?),
    })
}

/// A record as one JSON line of `journal export --format jsonl`.
pub fn record_json(r: &StoredRecord) -> serde_json::Value {
    let body: serde_json::Value = crate::json::from_str(&r.body)
        .unwrap_or_else(|_| serde_json::Value::String(r.body.clone()));
    serde_json::json!({
        "seq": r.seq,
        "at": Timestamp::from_unix_millis(r.at),
        "epoch": r.epoch,
        "kind": r.kind,
        "body": body,
        "hash": hex(&r.hash),
    })
}

/// The OCSF schema version every export declares.
pub const OCSF_VERSION: &str = "1.1.0";

/// The device an OCSF event is about: `uid` is the enrolled device id (the MDM's name of
/// the phone, as bundles and instructions address it), so a SIEM joins a phone's
/// findings from the journal export and from the console's carrier watch on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcsfDevice {
    /// The enrolled device id.
    pub uid: String,
    /// A display name; the enrolled id when nothing better is known.
    pub name: String,
}

impl OcsfDevice {
    /// A device known only by its enrolled id.
    pub fn enrolled(uid: &str) -> Self {
        OcsfDevice {
            uid: uid.to_owned(),
            name: uid.to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        // type_id 5 is OCSF's "Mobile" (device.type_id enum, OCSF 1.1).
        serde_json::json!({ "uid": self.uid, "name": self.name, "type_id": 5, "type": "Mobile" })
    }
}

/// The enrolled device id a journal names: the `device_id` of its last
/// `trust_root_installed` record, `None` for a journal that never installed a root.
pub fn enrolled_device_id(records: &[StoredRecord]) -> Option<String> {
    records
        .iter()
        .rev()
        .filter(|r| r.kind == "trust_root_installed")
        .find_map(|r| {
            let body: serde_json::Value = crate::json::from_str(&r.body).ok()?;
            body.get("device_id")?.as_str().map(str::to_owned)
        })
}

/// OCSF's caption for a severity (`severity_id` 1..5: Informational, Low, Medium, High,
/// Critical); OCSF validators check the pair.
pub fn ocsf_severity(severity: crate::alert::Severity) -> (u8, &'static str) {
    match severity {
        crate::alert::Severity::Info => (1, "Informational"),
        crate::alert::Severity::Low => (2, "Low"),
        crate::alert::Severity::Medium => (3, "Medium"),
        crate::alert::Severity::High => (4, "High"),
        crate::alert::Severity::Critical => (5, "Critical"),
    }
}

fn ocsf_metadata(uid: String) -> serde_json::Value {
    serde_json::json!({
        "version": OCSF_VERSION,
        "uid": uid,
        "product": {
            "name": "Portcullis",
            "vendor_name": "Portcullis",
            "version": env!("CARGO_PKG_VERSION"),
        },
    })
}

/// Maps an alert record to an OCSF 1.1 Detection Finding (class 2004) so a SIEM can
/// ingest it; other records have no OCSF form and give `None`.
pub fn record_ocsf(r: &StoredRecord, device: &OcsfDevice) -> Result<Option<serde_json::Value>> {
    let RecordBody::Alert(f) = decode_record(&r.kind, &r.body)? else {
        return Ok(None);
    };
    Ok(Some(finding_ocsf(&f, device, r.seq)))
}

/// Maps a finding to an OCSF 1.1 Detection Finding (class 2004). Shared by the journal
/// export and the console's carrier watch, so a SIEM sees one shape whichever side
/// raised the alert; `sequence` numbers the finding for its device (`finding_info.uid`).
/// The finding's evidence goes to `evidences[0].data`; `resources` names the device and,
/// for a SIM alert, the slot.
pub fn finding_ocsf(
    f: &crate::alert::Finding,
    device: &OcsfDevice,
    sequence: i64,
) -> serde_json::Value {
    let (severity_id, severity) = ocsf_severity(f.severity());
    let evidence: serde_json::Map<String, serde_json::Value> = f
        .evidence
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let uid = format!("{}:{sequence}", device.uid);
    let mut resources = vec![serde_json::json!({
        "uid": device.uid, "name": device.name, "type": "Device",
    })];
    if let Some(slot) = f.slot {
        resources.push(serde_json::json!({
            "uid": format!("{}:sim-slot-{slot}", device.uid),
            "name": format!("SIM slot {slot}"),
            "type": "SIM slot",
        }));
    }
    let mut metadata = ocsf_metadata(uid.clone());
    metadata["sequence"] = sequence.into();
    serde_json::json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": f.at.as_unix_millis(),
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "message": f.summary,
        "finding_info": {
            "uid": uid,
            "title": f.kind.as_str(),
            "desc": f.summary,
            "types": [f.kind.as_str()],
            "analytic": { "name": f.detector, "version": f.detector_version.to_string(), "type_id": 1, "type": "Rule" },
        },
        "device": device.json(),
        "evidences": [{ "data": evidence }],
        "resources": resources,
        "metadata": metadata,
        "unmapped": { "slot": f.slot },
    })
}

/// Maps an alert record to its OCSF 1.1 events: for an indicator match found in device
/// telemetry, the network event it matched (DNS Activity, class 4003, or Network
/// Activity, class 4001) followed by the Detection Finding, whose
/// `finding_info.related_events` names it; for any other alert, the finding alone.
pub fn record_ocsf_events(r: &StoredRecord, device: &OcsfDevice) -> Result<Vec<serde_json::Value>> {
    let RecordBody::Alert(f) = decode_record(&r.kind, &r.body)? else {
        return Ok(Vec::new());
    };
    let mut finding = finding_ocsf(&f, device, r.seq);
    let Some(activity) = telemetry_activity_ocsf(&f, device, r.seq) else {
        return Ok(vec![finding]);
    };
    finding["finding_info"]["related_events"] = serde_json::json!([{
        "uid": activity["metadata"]["uid"],
        "type_uid": activity["type_uid"],
        "type": activity["type_name"],
    }]);
    Ok(vec![activity, finding])
}

/// The network event behind a telemetry `indicator_match`, from the evidence the match
/// recorded (`event`, `query`/`answers` or `address`/`port`, `package`).
fn telemetry_activity_ocsf(
    f: &crate::alert::Finding,
    device: &OcsfDevice,
    sequence: i64,
) -> Option<serde_json::Value> {
    if f.kind != crate::alert::AlertKind::IndicatorMatch {
        return None;
    }
    let field = |k: &str| {
        f.evidence
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if field("source") != Some("network_log") {
        return None;
    }
    let mut metadata = ocsf_metadata(format!("{}:{sequence}:event", device.uid));
    metadata["log_name"] = "network_log".into();
    // `actor` and `device` come from OCSF's host profile on network classes.
    metadata["profiles"] = serde_json::json!(["host"]);
    let common = |class_uid: u32, class_name: &str, activity: (u32, &str)| {
        serde_json::json!({
            "class_uid": class_uid,
            "class_name": class_name,
            "category_uid": 4,
            "category_name": "Network Activity",
            "activity_id": activity.0,
            "activity_name": activity.1,
            "type_uid": class_uid * 100 + activity.0,
            "type_name": format!("{class_name}: {}", activity.1),
            "time": f.at.as_unix_millis(),
            "severity_id": 1,
            "severity": "Informational",
            // OCSF 1.1 has no `actor.app_name`: an Android app runs as a process named after its package.
            "actor": { "process": { "name": field("package").unwrap_or_default() } },
            // The phone made the lookup or the connection.
            "src_endpoint": { "uid": device.uid, "name": device.name },
            "device": device.json(),
            "metadata": metadata.clone(),
        })
    };
    match field("event")? {
        "dns" => {
            let mut v = common(4003, "DNS Activity", (1, "Query"));
            v["query"] = serde_json::json!({ "hostname": field("query")? });
            let answers: Vec<serde_json::Value> = field("answers")
                .unwrap_or_default()
                .split(',')
                .filter(|a| !a.is_empty())
                .map(|a| serde_json::json!({ "rdata": a }))
                .collect();
            v["answers"] = serde_json::Value::Array(answers);
            Some(v)
        }
        "connect" => {
            let mut v = common(4001, "Network Activity", (1, "Open"));
            let port: u16 = field("port")?.parse().ok()?;
            v["dst_endpoint"] = serde_json::json!({ "ip": field("address")?, "port": port });
            v["connection_info"] = serde_json::json!({
                "direction_id": 2, "direction": "Outbound", "protocol_name": "tcp",
            });
            Some(v)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The record hash as docs/journal.md defines it, field by field.
    fn reference_hash(prev: &[u8; 32], r: &RecordRef<'_>) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(prev);
        ctx.update(&r.seq.to_be_bytes());
        ctx.update(&r.at.to_be_bytes());
        ctx.update(&r.epoch.to_be_bytes());
        ctx.update(&(r.kind.len() as u64).to_be_bytes());
        ctx.update(r.kind.as_bytes());
        ctx.update(r.body.as_bytes());
        ctx.finish().as_ref().try_into().unwrap()
    }

    proptest! {
        /// Reusing one hasher across records of any shape gives exactly the defined hash,
        /// so stored journals keep verifying.
        #[test]
        fn one_pass_hash_matches_the_definition(
            records in proptest::collection::vec(
                (any::<i64>(), any::<i64>(), any::<i64>(), ".{0,12}", ".{0,300}"),
                1..8,
            ),
            first in any::<[u8; 32]>(),
        ) {
            let mut hasher = RecordHasher::default();
            let mut prev = first;
            for (seq, at, epoch, kind, body) in &records {
                let r = RecordRef { seq: *seq, at: *at, epoch: *epoch, kind, body };
                let got = hasher.hash(&prev, &r);
                prop_assert_eq!(got, reference_hash(&prev, &r));
                prev = got;
            }
        }
    }

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
        let device = crate::identity::SoftwareDeviceKey::new(b"0123456789abcdef0123").unwrap();
        let signer = CheckpointSigner::derive(&device).unwrap();
        let k0 = EpochKey::initial([5; 32]);
        let mut key = k0.clone();
        let (mut records, mut checkpoints) = (Vec::new(), Vec::new());
        let mut prev = GENESIS;
        for seq in 1..=n {
            let body = format!("{{\"n\":{seq}}}");
            let r = RecordRef {
                seq,
                at: seq * 10,
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
                checkpoints.push(signer.sign(
                    seq,
                    key.epoch,
                    Timestamp::from_unix_millis(seq),
                    &hash,
                ));
                key = key.evolve().unwrap();
            }
            prev = hash;
        }
        let options = VerifyOptions {
            initial_key: Some(k0),
            console_checkpoint: checkpoints.last().cloned(),
        };
        (records, checkpoints, signer.public_key(), options)
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
            let inline = verify(Anchor::GENESIS, &records, checkpoints.clone(), Some(pk), options.clone());
            let batched = verify_batched(Anchor::GENESIS, &records, checkpoints, Some(pk), options, batch_len);
            match (&inline, &batched) {
                (Verdict::Broken { seq: a, .. }, Verdict::Broken { seq: b, .. }) => prop_assert_eq!(a, b),
                _ => prop_assert_eq!(&inline, &batched),
            }
        }
    }

    #[test]
    fn an_untampered_chain_verifies_both_ways() {
        let (records, checkpoints, pk, options) = chain(25, 7);
        let inline = verify(
            Anchor::GENESIS,
            &records,
            checkpoints.clone(),
            Some(pk),
            options.clone(),
        );
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
            verify_batched(Anchor::GENESIS, &records, checkpoints, Some(pk), options, 4),
            inline
        );
    }

    #[test]
    fn known_answer() {
        // SHA-256 of 32 zero bytes, seq 1, at 2, epoch 0, kind "a" (length 1), body "{}".
        let r = RecordRef {
            seq: 1,
            at: 2,
            epoch: 0,
            kind: "a",
            body: "{}",
        };
        let mut msg = vec![0u8; 32];
        for v in [1u64, 2, 0, 1] {
            msg.extend_from_slice(&v.to_be_bytes());
        }
        msg.extend_from_slice(b"a{}");
        let expected = digest::digest(&digest::SHA256, &msg);
        assert_eq!(record_hash(&GENESIS, &r).as_slice(), expected.as_ref());
    }
}
