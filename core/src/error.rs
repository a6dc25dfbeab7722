//! The core's internal error type.
//!
//! Every variant carries enough context to act on, and none carries a phone
//! identifier, a key or a policy secret: messages name the *field* that was wrong,
//! never its value. The bindings convert this type into their one public error.

use std::borrow::Cow;

use thiserror::Error;

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong inside the core.
///
/// Deliberately not `#[non_exhaustive]`: the bindings match every variant, so a new one
/// fails to compile there until it is given a public meaning.
#[derive(Debug, Error)]
pub enum Error {
    /// The caller passed a value the core refuses; `field` names it, the value is never echoed.
    #[error("invalid {field}: {problem}")]
    InvalidInput {
        /// Which input field was rejected (e.g. `sim.slot`, `apps[3].signingCertsSha256`).
        field: Cow<'static, str>,
        /// Why, in words that never include the value.
        problem: String,
    },

    /// The device has no trust root yet: enrollment with the console must come first.
    #[error("not enrolled: no trust root is installed; enroll the device with the console's signed root first")]
    NotEnrolled,

    /// The call needs a policy in force and no signed bundle has been applied yet.
    #[error("no policy is in force; apply a signed bundle first")]
    NoPolicy,

    /// The SQLite store failed; `context` says which operation.
    #[error("storage failed while {context}: {source}")]
    Storage {
        /// The operation under way, e.g. "committing alerts".
        context: &'static str,
        /// The underlying SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The store holds something this version cannot read (a newer schema, a broken record).
    #[error("stored state is unusable: {0}")]
    Corrupt(String),

    /// The platform's device key (Android Keystore, iOS Keychain) failed.
    #[error("device key unavailable: {0}")]
    DeviceKey(String),

    /// A policy bundle, trust root or policy document was refused; the reason names
    /// the check or field (see [`crate::policy::PolicyError::code`]).
    #[error("policy refused: {0}")]
    Policy(#[from] crate::policy::PolicyError),

    /// A scenario trace line could not be read.
    #[error("trace line {line}: {problem}")]
    Trace {
        /// 1-based line number in the trace file.
        line: usize,
        /// What is wrong with it; never includes identifier values.
        problem: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<Cow<'static, str>>, problem: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Attaches an operation description to SQLite errors.
pub(crate) trait StorageContext<T> {
    fn context(self, context: &'static str) -> Result<T>;
}

impl<T> StorageContext<T> for std::result::Result<T, rusqlite::Error> {
    fn context(self, context: &'static str) -> Result<T> {
        self.map_err(|source| Error::Storage { context, source })
    }
}
