//! The collector's one error type: what a caller (the CLI, a test) can act on.

/// Why a collector operation failed. Messages never carry key material, store
/// passwords or phone identifiers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad arguments or input files: fix the command line.
    #[error("{0}")]
    Usage(String),
    /// A key file is missing or malformed.
    #[error("{0}")]
    Key(String),
    /// The store could not be opened, migrated, read or written.
    #[error("store: {0}")]
    Store(String),
    /// An enrollment in the store does not verify under the collector key.
    #[error("{0}")]
    Enrollment(String),
    /// The listener or an alert destination failed.
    #[error("{0}")]
    Io(String),
}
