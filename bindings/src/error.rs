//! The one public error of the FFI boundary.

use portcullis_core::Error as CoreError;

/// What went wrong, in variants an app can act on. Messages never contain phone
/// identifiers, keys or policy secrets.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PortcullisError {
    /// An argument was rejected and nothing changed; fix the caller. `field` names it (a
    /// record field or its place, e.g. `apps[3].signingCertsSha256`), `reason` says why.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which field.
        field: String,
        /// Why, never repeating the value.
        reason: String,
    },
    /// The device is not enrolled: install the console's trust root first (managed
    /// configuration), then retry.
    #[error("not enrolled: no trust root is installed")]
    NotEnrolled,
    /// No policy is in force yet: wait for a signed bundle, then retry.
    #[error("no policy is in force")]
    NoPolicy,
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
    /// Every core variant is matched by name (no catch-all): a new core error does not
    /// compile until it is given a public meaning here.
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::InvalidInput { field, problem } => PortcullisError::InvalidInput {
                field: field.into_owned(),
                reason: problem,
            },
            CoreError::Trace { line, problem } => PortcullisError::InvalidInput {
                field: format!("trace line {line}"),
                reason: problem,
            },
            CoreError::NotEnrolled => PortcullisError::NotEnrolled,
            CoreError::NoPolicy => PortcullisError::NoPolicy,
            e @ CoreError::Storage { .. } => PortcullisError::Storage {
                reason: e.to_string(),
            },
            CoreError::Corrupt(reason) => PortcullisError::Corrupt { reason },
            CoreError::DeviceKey(reason) => PortcullisError::DeviceKey { reason },
            CoreError::Policy(p) => PortcullisError::PolicyRejected {
                code: p.code().to_owned(),
                reason: p.to_string(),
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_variants_an_app_can_act_on() {
        assert!(matches!(
            PortcullisError::from(CoreError::NotEnrolled),
            PortcullisError::NotEnrolled
        ));
        assert!(matches!(
            PortcullisError::from(CoreError::NoPolicy),
            PortcullisError::NoPolicy
        ));
        let e = PortcullisError::from(CoreError::invalid(
            format!("apps[{}].signingCertsSha256", 3),
            "lists more than 16 certificates",
        ));
        let PortcullisError::InvalidInput { field, reason } = &e else {
            panic!("not InvalidInput: {e:?}");
        };
        assert_eq!(field, "apps[3].signingCertsSha256");
        assert_eq!(reason, "lists more than 16 certificates");
        assert_eq!(
            e.to_string(),
            "invalid apps[3].signingCertsSha256: lists more than 16 certificates"
        );
        let e = PortcullisError::from(CoreError::Corrupt("the stored SIM guard state".into()));
        assert!(
            matches!(e, PortcullisError::Corrupt { ref reason } if reason == "the stored SIM guard state")
        );
    }
}
