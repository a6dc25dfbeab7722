//! The one public error of the FFI boundary.

use portcullis_core::Error as CoreError;

/// What went wrong, in variants an app can act on. Messages never contain phone
/// identifiers, keys or policy secrets.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PortcullisError {
    /// An argument was rejected; fix the caller. `reason` names the field.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// Which field and why.
        reason: String,
    },
    /// A policy bundle or trust root failed verification and nothing changed. `code` is
    /// stable (`rollback`, `expired`, `out_of_scope`, `bad_signature`, `threshold`, ...):
    /// report it to the console, which must send a correctly signed, newer bundle.
    #[error("policy rejected ({code}): {reason}")]
    PolicyRejected {
        /// Stable short name of the failed check.
        code: String,
        /// What failed, naming the field or rule.
        reason: String,
    },
    /// The database could not be read or written (disk full, file locked, permissions).
    /// Retry later; nothing already stored was lost.
    #[error("storage failure: {reason}")]
    Storage {
        /// The operation that failed.
        reason: String,
    },
    /// The stored state cannot be used by this version (newer schema, damaged file).
    /// Update the app or re-enroll; the file is left untouched for forensics.
    #[error("stored state unusable: {reason}")]
    Corrupt {
        /// What is unreadable.
        reason: String,
    },
    /// The platform key store failed or holds a different key than at enrollment.
    #[error("device key problem: {reason}")]
    DeviceKey {
        /// What failed.
        reason: String,
    },
    /// A bug inside the library (including a caught panic). Report it; reopening the agent recovers.
    #[error("internal error: {reason}")]
    Internal {
        /// Diagnostic text.
        reason: String,
    },
}

impl From<CoreError> for PortcullisError {
    fn from(e: CoreError) -> Self {
        // The variant already says what kind of failure it is; keep only the detail.
        let reason = match &e {
            CoreError::Corrupt(detail) | CoreError::DeviceKey(detail) => detail.clone(),
            _ => e.to_string(),
        };
        match e {
            CoreError::InvalidInput { .. } | CoreError::Trace { .. } => {
                PortcullisError::InvalidInput { reason }
            }
            CoreError::Storage { .. } => PortcullisError::Storage { reason },
            CoreError::Corrupt(_) => PortcullisError::Corrupt { reason },
            CoreError::DeviceKey(_) => PortcullisError::DeviceKey { reason },
            CoreError::Policy(p) => PortcullisError::PolicyRejected {
                code: p.code().to_owned(),
                reason: p.to_string(),
            },
            _ => PortcullisError::Internal { reason },
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for PortcullisError {
    /// A foreign callback (device key, logger) threw something it should not have.
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        PortcullisError::DeviceKey {
            reason: format!("platform callback failed unexpectedly: {}", e.reason),
        }
    }
}
