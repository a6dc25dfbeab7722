//! Checkpoint and inspection-report signing with the device's Ed25519 key, and the
//! statement that ties that key to the attested platform key.

use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use super::{unhex, unhex32};
use crate::error::{Error, Result};
use crate::identity::{hex, DeviceKey};
use crate::time::Timestamp;

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
