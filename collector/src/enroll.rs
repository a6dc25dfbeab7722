//! Enrollment: the console's signed statement that a device id exists, which keys its
//! journal is verified with, and how long it may stay silent.
//!
//! The collector never trusts a device id by itself: an upload is considered only if
//! the id has an enrollment row whose signature verifies under the collector key. A row
//! written into the store by anyone without that key is refused as not enrolled.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keys::{hex, journal_key_check, CollectorKey};
use crate::store::{DeviceRow, Store};

const SIGNATURE_CONTEXT: &[u8] = b"portcullis-collector-enrollment-v1\0";

/// The enrollment document (stored as JSON; holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    /// The device's enrollment id (never a phone identifier).
    pub device_id: String,
    /// The journal's checkpoint public key (hex), pinned from the enrollment hand-off.
    pub checkpoint_public_key: String,
    /// A check value of the journal's epoch-0 key (the key itself is sealed apart).
    pub journal_key_check: String,
    /// How long the device may stay silent before the collector raises an alert.
    pub heartbeat_seconds: u64,
    /// When the console enrolled it (ms since the epoch).
    pub enrolled_at: i64,
}

/// A verified enrollment: what the upload path needs to check a device's batches.
#[derive(Clone)]
pub struct EnrolledDevice {
    /// The document.
    pub enrollment: Enrollment,
    /// The checkpoint public key.
    pub checkpoint_key: [u8; 32],
    /// The journal's epoch-0 MAC key.
    pub journal_key: [u8; 32],
}

impl std::fmt::Debug for EnrolledDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolledDevice")
            .field("enrollment", &self.enrollment)
            .finish_non_exhaustive()
    }
}

impl EnrolledDevice {
    /// The core's view of the device, for batch verification: MACs are checked from
    /// epoch 0 with the key from the enrollment hand-off.
    pub fn core(&self) -> portcullis_core::upload::EnrolledDevice {
        portcullis_core::upload::EnrolledDevice {
            checkpoint_public_key: self.checkpoint_key,
            journal_key: Some(portcullis_core::journal::EpochKey::from_bytes(
                0,
                self.journal_key,
            )),
        }
    }
}

fn signed_message(enrollment_json: &str, sealed: &[u8]) -> Vec<u8> {
    let mut m = SIGNATURE_CONTEXT.to_vec();
    m.extend_from_slice(&(enrollment_json.len() as u64).to_be_bytes());
    m.extend_from_slice(enrollment_json.as_bytes());
    m.extend_from_slice(sealed);
    m
}

/// Validates a device id: what the CLI accepts and the store keys rows with.
pub fn check_device_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err(Error::Usage(
            "--device must be 1-128 letters, digits, - _ . or :".into(),
        ));
    }
    Ok(())
}

/// Enrolls a device: signs the enrollment, seals the journal key, stores both.
pub async fn enroll(
    store: &Store,
    key: &CollectorKey,
    device_id: &str,
    checkpoint_key: [u8; 32],
    journal_key: [u8; 32],
    heartbeat_seconds: u64,
    now_ms: i64,
) -> Result<Enrollment, Error> {
    check_device_id(device_id)?;
    let derived = portcullis_core::upload::device_id(&checkpoint_key);
    if device_id != derived {
        return Err(Error::Usage(format!(
            "--device {} does not match the checkpoint key: a phone with that key uploads as {derived}",
            crate::label(device_id)
        )));
    }
    if heartbeat_seconds == 0 {
        return Err(Error::Usage(
            "--heartbeat-minutes must be at least 1".into(),
        ));
    }
    let enrollment = Enrollment {
        device_id: device_id.to_owned(),
        checkpoint_public_key: hex(&checkpoint_key),
        journal_key_check: journal_key_check(&journal_key),
        heartbeat_seconds,
        enrolled_at: now_ms,
    };
    let json = serde_json::to_string(&enrollment).expect("plain fields serialize");
    let sealed = key.seal(device_id, &journal_key)?;
    let signature = key.sign(&signed_message(&json, &sealed)).to_vec();
    store
        .insert_device(
            &DeviceRow {
                device_id: device_id.to_owned(),
                enrollment: json,
                signature,
                journal_key_sealed: sealed,
            },
            now_ms,
        )
        .await?;
    Ok(enrollment)
}

/// Checks a stored enrollment row under the collector key and opens its journal key.
pub fn verify_row(key: &CollectorKey, row: &DeviceRow) -> Result<EnrolledDevice, Error> {
    let refused = |why: &str| {
        Error::Enrollment(format!(
            "the enrollment of device {} is refused: {why}",
            crate::label(&row.device_id)
        ))
    };
    if !key.verifies(
        &signed_message(&row.enrollment, &row.journal_key_sealed),
        &row.signature,
    ) {
        return Err(refused(
            "its signature does not verify under the collector key",
        ));
    }
    let enrollment: Enrollment =
        serde_json::from_str(&row.enrollment).map_err(|_| refused("its document is malformed"))?;
    if enrollment.device_id != row.device_id {
        return Err(refused("it names another device id"));
    }
    let checkpoint_key = portcullis_core::journal::unhex32(&enrollment.checkpoint_public_key)
        .ok_or_else(|| refused("its checkpoint key is not 64 hex digits"))?;
    let journal_key = key.open(&row.device_id, &row.journal_key_sealed)?;
    if journal_key_check(&journal_key) != enrollment.journal_key_check {
        return Err(refused("its journal key does not match its check value"));
    }
    Ok(EnrolledDevice {
        enrollment,
        checkpoint_key,
        journal_key,
    })
}

/// Loads and verifies one device's enrollment; `Ok(None)` if it is not enrolled.
pub async fn load(
    store: &Store,
    key: &CollectorKey,
    device_id: &str,
) -> Result<Option<EnrolledDevice>, Error> {
    match store.device(device_id).await? {
        Some(row) => verify_row(key, &row).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::test_key;

    #[tokio::test]
    async fn enrollments_verify_only_under_the_collector_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
            .await
            .unwrap();
        let key = test_key(3);
        let id = portcullis_core::upload::device_id(&[1; 32]);
        // The id must be the one the phone derives from its checkpoint key.
        assert!(
            enroll(&store, &key, "phone-1", [1; 32], [2; 32], 3600, 1_000)
                .await
                .is_err()
        );
        enroll(&store, &key, &id, [1; 32], [2; 32], 3600, 1_000)
            .await
            .unwrap();
        let device = load(&store, &key, &id).await.unwrap().unwrap();
        assert_eq!(device.checkpoint_key, [1; 32]);
        assert_eq!(device.journal_key, [2; 32]);
        let other = portcullis_core::upload::device_id(&[7; 32]);
        assert!(load(&store, &key, &other).await.unwrap().is_none());
        // Another console's key does not vouch for this row.
        assert!(load(&store, &test_key(4), &id).await.is_err());
        // Enrolling the same id twice is refused and leaves the first enrollment.
        assert!(enroll(&store, &key, &id, [1; 32], [6; 32], 60, 2_000)
            .await
            .is_err());
        assert_eq!(
            load(&store, &key, &id).await.unwrap().unwrap().journal_key,
            [2; 32]
        );
    }

    #[test]
    fn an_edited_enrollment_is_refused() {
        let key = test_key(3);
        let json = serde_json::to_string(&Enrollment {
            device_id: "phone-1".into(),
            checkpoint_public_key: hex(&[1; 32]),
            journal_key_check: journal_key_check(&[2; 32]),
            heartbeat_seconds: 60,
            enrolled_at: 0,
        })
        .unwrap();
        let sealed = key.seal("phone-1", &[2; 32]).unwrap();
        let signature = key.sign(&signed_message(&json, &sealed)).to_vec();
        let row = DeviceRow {
            device_id: "phone-1".into(),
            enrollment: json.clone(),
            signature: signature.clone(),
            journal_key_sealed: sealed.clone(),
        };
        assert!(verify_row(&key, &row).is_ok());
        let edited = DeviceRow {
            enrollment: json.replace("\"heartbeat_seconds\":60", "\"heartbeat_seconds\":6000000"),
            ..row.clone()
        };
        assert!(verify_row(&key, &edited).is_err());
        let moved = DeviceRow {
            device_id: "phone-2".into(),
            ..row
        };
        assert!(verify_row(&key, &moved).is_err());
    }
}
