//! Errors. Messages name the problem, the device and the last two digits of the
//! number at most: never a phone number, a token or a secret.

use std::fmt;

/// A failure that stops a command (bad roster, unreadable key, unwritable folder).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The roster is malformed; the message names the entry and the field.
    #[error("roster: {0}")]
    Roster(String),
    /// A file could not be read or written; the message names the file.
    #[error("{0}")]
    Io(String),
    /// The state file is unusable.
    #[error("state: {0}")]
    State(String),
    /// Something else the operator must fix (bad argument, unusable key).
    #[error("{0}")]
    Config(String),
}

/// Why one request to a carrier failed. Reported per line; never ends a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierError {
    /// The carrier answered with a documented error (status and CAMARA code).
    Status {
        /// HTTP status.
        status: u16,
        /// The CAMARA error code, when the body carried a well-formed one.
        code: Option<String>,
    },
    /// The response body is not what the contract allows.
    Malformed(String),
    /// The body was larger than the client accepts.
    TooLarge,
    /// No answer within the configured time.
    Timeout,
    /// The connection failed.
    Network(String),
    /// No access token could be obtained.
    Auth(String),
    /// The carrier kept asking to retry later beyond what the client waits.
    GaveUp {
        /// The last status seen (429 or 503).
        status: u16,
    },
}

impl fmt::Display for CarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CarrierError::Status {
                status,
                code: Some(code),
            } => write!(f, "HTTP {status} {code}"),
            CarrierError::Status { status, code: None } => write!(f, "HTTP {status}"),
            CarrierError::Malformed(why) => write!(f, "malformed response: {why}"),
            CarrierError::TooLarge => f.write_str("response body too large"),
            CarrierError::Timeout => f.write_str("timed out"),
            CarrierError::Network(why) => write!(f, "network error: {why}"),
            CarrierError::Auth(why) => write!(f, "authorization failed: {why}"),
            CarrierError::GaveUp { status } => {
                write!(f, "HTTP {status} persisted after the allowed retries")
            }
        }
    }
}

impl std::error::Error for CarrierError {}

/// A CAMARA error code, kept only when it looks like one (upper-case words), so a
/// hostile body cannot smuggle text (a number, a token) into logs and reports.
pub(crate) fn safe_code(code: &str) -> Option<String> {
    (!code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()))
    .then(|| code.to_owned())
}

/// The description of a reqwest error without its URL (which may carry query text).
pub(crate) fn describe(e: &reqwest::Error) -> CarrierError {
    if e.is_timeout() {
        CarrierError::Timeout
    } else if e.is_connect() {
        CarrierError::Network("cannot connect".into())
    } else if e.is_body() || e.is_decode() {
        CarrierError::Network("the response body broke off".into())
    } else {
        CarrierError::Network("request failed".into())
    }
}
