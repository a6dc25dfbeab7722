//! The journal verifier: hash links, MACs, epochs, checkpoints and the pruning anchor,
//! checked in sequence order or with the hash and MAC checks batched apart.

use ring::hmac;

use super::checkpoint::SignedCheckpoint;
use super::key::EpochKey;
use super::record::{RecordHasher, RecordRef, StoredRecord};
use super::{constant_time_eq, unhex32, GENESIS, MAC_LEN};

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

impl Verdict {
    /// The verdict for a failure found: its sequence number and reason.
    pub fn broken((seq, reason): (i64, String)) -> Self {
        Verdict::Broken { seq, reason }
    }
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
    /// Walks a whole journal given in sequence order through every check, in order.
    pub fn walk<'a>(mut self, records: impl IntoIterator<Item = &'a StoredRecord>) -> Verdict {
        for r in records {
            if let Err(failure) = self.push(r) {
                return Verdict::broken(failure);
            }
        }
        self.finish()
    }

    /// Walks a whole journal as [`Verifier::walk`] does, but checks hashes and MACs in
    /// batches of `batch_len` records after the in-order checks, as the multi-threaded
    /// verifier does; the verdict must be the same.
    pub fn walk_batched<'a>(
        mut self,
        records: impl IntoIterator<Item = &'a StoredRecord>,
        batch_len: usize,
    ) -> Verdict {
        let mut links = None;
        let mut in_order = None;
        for r in records {
            match self.push_deferred(&r.fields(), &r.hash, &r.mac, batch_len) {
                Ok(Some(batch)) => links = earliest(links, batch.check()),
                Ok(None) => {}
                Err(failure) => {
                    in_order = Some(failure);
                    break;
                }
            }
        }
        if let Some(batch) = self.take_batch() {
            links = earliest(links, batch.check());
        }
        deferred_verdict(self, links, in_order)
    }

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
        self.push_parts(&r.fields(), &r.hash, &r.mac)
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
            intact @ Verdict::Intact { .. } => return intact,
        },
        _ => None,
    };
    Verdict::broken(earliest(earliest(links, in_order), finished).expect("one failure is set"))
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
    match Verifier::new(anchor, checkpoints, public_key, options) {
        Ok(v) => v.walk(records),
        Err(failure) => Verdict::broken(failure),
    }
}

#[cfg(test)]
mod tests;
