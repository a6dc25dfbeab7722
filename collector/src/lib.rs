//! The Portcullis collector: the console-side endpoint phones upload their journal,
//! checkpoints and evidence to.
//!
//! All network and database code lives here, never in the core (decision record 0001):
//! the core decodes and verifies batches and signs receipts; this crate serves HTTP
//! (axum on tokio), keeps what was accepted in SQLite (rusqlite) or PostgreSQL (sqlx) through one SQL
//! text (decision record 0010), and raises alerts.

#![forbid(unsafe_code)]

pub mod alerts;
pub mod enroll;
pub mod error;
pub mod history;
pub mod keys;
pub mod server;
pub mod store;
pub mod synthetic;

pub use error::Error;

/// The collector's clock, in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A device id as written in logs and messages: enrollment ids are console-assigned
/// names, never phone identifiers, but they are still cut to a readable length and
/// stripped of anything but the characters enrollment allows.
pub fn label(device_id: &str) -> String {
    device_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        .take(64)
        .collect()
}
