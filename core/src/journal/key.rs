//! The forward-evolving MAC key: one key per epoch, replaced by a one-way function
//! of itself at every checkpoint, and stored only wrapped under the device key.

use ring::hmac;

use crate::error::{Error, Result};
use crate::identity::DeviceKey;

const EVOLVE_LABEL: &[u8] = b"portcullis/journal-key/evolve/v1";
const WRAP_LABEL: &[u8] = b"portcullis/journal-key/wrap/v1";

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
