//! Portcullis carrier watch: the console side of the carrier checks.
//!
//! A phone cannot see a SIM swap made at the carrier until its own SIM stops working;
//! the carrier can. This crate asks the carriers' CAMARA endpoints (SIM Swap 2.1.0,
//! Device Swap 1.0.0, SIM Swap Subscriptions 0.3.0) about every line in a roster,
//! raises an OCSF Detection Finding for every new change, and writes a signed
//! `carrier_check` instruction per device that the MDM relays to the phone, whose
//! core decides what the result means.
//!
//! All network code of the project lives here; the core stays sans-IO.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod camara;
pub mod error;
pub mod fusion;
pub mod http;
pub mod instruction;
pub mod listen;
pub mod output;
pub mod roster;
pub mod run;
pub mod state;
pub mod subscribe;
pub mod token;
pub mod watch;

pub use error::{CarrierError, Error};
pub use roster::Roster;
pub use watch::{PassReport, Watch, WatchConfig};

/// Lower-case hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
