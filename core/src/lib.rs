//! Portcullis core: the deterministic heart of the device-policy agent and SIM-port guard.
//!
//! The core never reads a clock, the radio or the network. The native layers
//! (Android, iOS) hand in observations and the current time; the core decides,
//! persists its decisions in one SQLite file (the `store` module, the only I/O),
//! and hands back alerts and the time it next wants to be woken. The same code
//! runs on a phone, in the console's simulator, and under tests on a fake clock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod alert;
pub mod android;
pub mod compliance;
pub mod console;
pub mod error;
pub mod identity;
pub mod inspection;
pub mod instruction;
pub mod ios;
pub mod journal;
pub mod json;
pub mod platform;
pub mod policy;
mod redact;
pub mod sim;
mod sort;
pub mod store;
mod tagged;
pub mod telemetry;
pub mod time;
pub mod trace;
pub mod upload;
pub mod urgent;

pub use agent::Agent;
pub use alert::{Alert, AlertId, AlertKind, Finding, Severity};
pub use error::{Error, Result};
pub use identity::{DeviceKey, SoftwareDeviceKey};
pub use time::Timestamp;
