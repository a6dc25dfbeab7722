//! The device key the platform supplies (Android Keystore, iOS Keychain).

use std::sync::Arc;

use crate::error::PortcullisError;

/// A secret HMAC-SHA-256 key the platform keeps for this device and never exports.
///
/// Android: a Keystore key of algorithm `HmacSHA256` (`KeyProperties.PURPOSE_SIGN`).
/// iOS: a 32-byte Keychain item (`kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly`)
/// used with CryptoKit's `HMAC<SHA256>`. The same key must come back on every start:
/// identifiers stored as keyed hashes are compared under it.
#[uniffi::export(with_foreign)]
pub trait DeviceKey: Send + Sync {
    /// HMAC-SHA-256 of `message`; must return exactly 32 bytes.
    fn hmac_sha256(&self, message: Vec<u8>) -> Result<Vec<u8>, PortcullisError>;
}

/// A device key held in memory, for tests, simulators and kiosks without a key store.
#[derive(uniffi::Object)]
pub struct SoftwareDeviceKey {
    inner: portcullis_core::SoftwareDeviceKey,
}

#[uniffi::export]
impl SoftwareDeviceKey {
    /// Wraps `secret` (at least 16 bytes).
    #[uniffi::constructor]
    pub fn new(secret: Vec<u8>) -> Result<Arc<Self>, PortcullisError> {
        Ok(Arc::new(SoftwareDeviceKey {
            inner: portcullis_core::SoftwareDeviceKey::new(&secret)?,
        }))
    }
}

// Exported so the generated SoftwareDeviceKey class implements the foreign DeviceKey
// interface and can be handed to `Agent.open` from Kotlin, Swift and Python.
#[uniffi::export]
impl DeviceKey for SoftwareDeviceKey {
    fn hmac_sha256(&self, message: Vec<u8>) -> Result<Vec<u8>, PortcullisError> {
        use portcullis_core::DeviceKey as _;
        Ok(self.inner.hmac_sha256(&message)?.to_vec())
    }
}

/// Adapts the foreign key to the core's trait, checking what the platform returns.
pub(crate) struct ForeignKey(pub(crate) Arc<dyn DeviceKey>);

impl portcullis_core::DeviceKey for ForeignKey {
    fn hmac_sha256(&self, message: &[u8]) -> portcullis_core::Result<[u8; 32]> {
        let mac = self.0.hmac_sha256(message.to_vec()).map_err(|e| {
            portcullis_core::Error::DeviceKey(match e {
                PortcullisError::DeviceKey { reason } => reason,
                other => other.to_string(),
            })
        })?;
        <[u8; 32]>::try_from(mac.as_slice()).map_err(|_| {
            portcullis_core::Error::DeviceKey(format!(
                "the platform key returned {} bytes; HMAC-SHA-256 gives 32",
                mac.len()
            ))
        })
    }
}
