//! Synthetic devices: journals built with the core's own hashing, MAC and signing
//! primitives and shipped as real `portcullis/upload/v1` batches, without an agent
//! database. The load measurement uses them to stand in for hundreds of phones, and the
//! collector's tests use them to make batches no honest phone would send (forks, gaps,
//! rewritten MACs) under a genuine device signature.

use portcullis_core::journal::{
    record_hash, CheckpointSigner, EpochKey, RecordRef, SignedCheckpoint,
};
use portcullis_core::upload::{
    sign_batch, Batch, ChainPosition, Receipt, UploadRecord, BATCH_FORMAT,
};
use portcullis_core::{SoftwareDeviceKey, Timestamp};

/// One simulated phone's journal and upload state.
pub struct SyntheticDevice {
    signer: CheckpointSigner,
    journal_key: [u8; 32],
    key: EpochKey,
    epoch: u64,
    prev: [u8; 32],
    seq: i64,
    /// Records not yet acknowledged.
    pending: Vec<UploadRecord>,
    /// Checkpoints among the pending records.
    pending_checkpoints: Vec<SignedCheckpoint>,
    head_checkpoint: Option<SignedCheckpoint>,
    acknowledged: ChainPosition,
    /// The checkpoint the first batch starts at after a prune the collector never saw.
    start_checkpoint: Option<SignedCheckpoint>,
    batch_seq: u64,
}

impl SyntheticDevice {
    /// A device from a secret (at least 16 bytes) and its journal's epoch-0 key. Like a
    /// real agent, its journal starts with an `enrolled` record.
    pub fn new(secret: &[u8], journal_key: [u8; 32], enrolled_at_ms: i64) -> SyntheticDevice {
        let device_key = SoftwareDeviceKey::new(secret).expect("secrets are 16 bytes or more");
        let signer = CheckpointSigner::derive(&device_key).expect("software keys derive");
        let mut d = SyntheticDevice {
            signer,
            journal_key,
            key: EpochKey::from_bytes(0, journal_key),
            epoch: 0,
            prev: portcullis_core::journal::GENESIS,
            seq: 0,
            pending: Vec::new(),
            pending_checkpoints: Vec::new(),
            head_checkpoint: None,
            acknowledged: ChainPosition::GENESIS,
            start_checkpoint: None,
            batch_seq: 1,
        };
        let body = serde_json::json!({
            "at": Timestamp::from_unix_millis(enrolled_at_ms),
            "public_key": crate::keys::hex(&d.checkpoint_public_key()),
        })
        .to_string();
        d.append(enrolled_at_ms, "enrolled", &body);
        d
    }

    /// The checkpoint public key the console enrolls.
    pub fn checkpoint_public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// The journal's epoch-0 key (the enrollment hand-off).
    pub fn journal_key(&self) -> [u8; 32] {
        self.journal_key
    }

    /// The id the device uploads as.
    pub fn device_id(&self) -> String {
        portcullis_core::upload::device_id(&self.checkpoint_public_key())
    }

    /// Appends a record, hashed and MACed as the agent does.
    pub fn append(&mut self, at_ms: i64, kind: &str, body: &str) {
        let seq = self.seq + 1;
        let epoch = self.epoch as i64;
        let hash = record_hash(
            &self.prev,
            &RecordRef {
                seq,
                at: at_ms,
                epoch,
                kind,
                body,
            },
        );
        let tag = ring::hmac::sign(&self.key.mac_key(), &hash);
        let mut mac = [0u8; portcullis_core::journal::MAC_LEN];
        mac.copy_from_slice(&tag.as_ref()[..portcullis_core::journal::MAC_LEN]);
        self.pending.push(UploadRecord {
            seq,
            at: at_ms,
            epoch,
            kind: kind.to_owned(),
            body: body.to_owned(),
            hash,
            mac,
        });
        self.prev = hash;
        self.seq = seq;
    }

    /// Signs a checkpoint at the head, closing the epoch, as `Agent::checkpoint` does.
    pub fn checkpoint(&mut self, at_ms: i64) {
        if self
            .head_checkpoint
            .as_ref()
            .is_some_and(|c| c.seq == self.seq)
        {
            return;
        }
        let cp = self.signer.sign(
            self.seq,
            self.epoch,
            Timestamp::from_unix_millis(at_ms),
            &self.prev,
        );
        self.pending_checkpoints.push(cp.clone());
        self.head_checkpoint = Some(cp);
        self.epoch += 1;
        self.key = self.key.evolve().expect("epochs stay small");
    }

    /// The next batch: every record since the last acknowledged position, checkpointed at
    /// the head first. The same batch is made again until [`SyntheticDevice::acknowledge`].
    pub fn batch(&mut self, at_ms: i64) -> Batch {
        self.checkpoint(at_ms);
        let mut batch = Batch {
            format: BATCH_FORMAT.to_owned(),
            device_id: self.device_id(),
            batch_seq: self.batch_seq,
            created_at: Timestamp::from_unix_millis(at_ms),
            start: self.acknowledged,
            start_checkpoint: self.start_checkpoint.clone(),
            records: self.pending.clone(),
            checkpoints: self.pending_checkpoints.clone(),
            head_checkpoint: self.head_checkpoint.clone().expect("checkpointed above"),
            evidence: Vec::new(),
            signature: [0; 64],
        };
        sign_batch(&mut batch, &self.signer);
        batch
    }

    /// Prunes the journal at a checkpoint at its head before anything was uploaded, as an
    /// agent does under retention when it ships nowhere yet: the first batch then starts at
    /// that signed checkpoint.
    pub fn prune_before_first_upload(&mut self, at_ms: i64) {
        assert_eq!(self.batch_seq, 1, "only before the first upload");
        self.checkpoint(at_ms);
        let cp = self.head_checkpoint.clone().expect("checkpointed above");
        self.acknowledged = ChainPosition {
            seq: self.seq,
            hash: self.prev,
            next_epoch: self.epoch,
        };
        self.pending.clear();
        self.pending_checkpoints.clear();
        self.start_checkpoint = Some(cp);
    }

    /// Re-signs a batch after a test changed it: a batch the device's key vouches for.
    pub fn resign(&self, batch: &mut Batch) {
        sign_batch(batch, &self.signer);
    }

    /// Takes a receipt: the acknowledged records leave the pending list.
    pub fn acknowledge(&mut self, receipt: &Receipt) {
        self.acknowledged = receipt.acknowledged;
        self.pending.retain(|r| r.seq > receipt.acknowledged.seq);
        self.pending_checkpoints
            .retain(|c| c.seq > receipt.acknowledged.seq);
        self.batch_seq = receipt.batch_seq + 1;
        self.start_checkpoint = None;
    }
}
