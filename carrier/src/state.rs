//! The watch's memory between passes and restarts: per line and API the last change
//! date and `swapped` answer seen, and per device the last instruction sequence.
//! It holds device ids and dates only: no number, no token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use portcullis_core::Timestamp;

use crate::error::Error;

/// What was last seen for one line and API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    /// The latest change date the carrier reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_change: Option<Timestamp>,
    /// The last `check` answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swapped: Option<bool>,
    /// The last answer relayed to the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<Relayed>,
}

/// What was last relayed for a line and API: enough to skip relaying the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relayed {
    /// The first 16 bytes of the SHA-256 of the response body, in hex.
    pub digest: String,
    /// When that answer was asked for.
    pub at: Timestamp,
    /// The instruction's sequence.
    pub sequence: u64,
}

/// The whole state file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Format version (1).
    pub version: u32,
    /// Per device, per API name (`sim_swap`, `device_swap`).
    #[serde(default)]
    pub lines: BTreeMap<String, BTreeMap<String, Seen>>,
    /// Per device, the last instruction sequence used.
    #[serde(default)]
    pub sequences: BTreeMap<String, u64>,
}

impl State {
    /// Reads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, Error> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(State {
                    version: 1,
                    ..State::default()
                })
            }
            Err(e) => return Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            Error::State(format!(
                "{} is malformed (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        if state.version != 1 {
            return Err(Error::State(format!(
                "{} has unknown version {}",
                path.display(),
                state.version
            )));
        }
        Ok(state)
    }

    /// Writes the state atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        write_atomically(path, &bytes)
    }

    /// The next instruction sequence for `device`: greater than every one used, and at
    /// least the current Unix milliseconds so a lost state file cannot make it go back.
    pub fn next_sequence(&mut self, device: &str, now: Timestamp) -> u64 {
        let last = self.sequences.get(device).copied().unwrap_or(0);
        let next = last
            .saturating_add(1)
            .max(now.as_unix_millis().max(1) as u64);
        self.sequences.insert(device.to_owned(), next);
        next
    }

    /// The sequence [`State::next_sequence`] would give, without using it up: a pass
    /// numbers its requests from it and records only the ones it used
    /// ([`State::used_sequence`]), so a pass with nothing new leaves the state unchanged.
    pub fn peek_sequence(&self, device: &str, now: Timestamp) -> u64 {
        let last = self.sequences.get(device).copied().unwrap_or(0);
        last.saturating_add(1)
            .max(now.as_unix_millis().max(1) as u64)
    }

    /// Records that `sequence` was used for `device`.
    pub fn used_sequence(&mut self, device: &str, sequence: u64) {
        let last = self.sequences.entry(device.to_owned()).or_insert(0);
        *last = (*last).max(sequence);
    }

    /// What was last seen for `device`'s `api`.
    pub fn seen(&self, device: &str, api: &str) -> Option<&Seen> {
        self.lines.get(device)?.get(api)
    }

    /// Records what was seen.
    pub fn record(&mut self, device: &str, api: &str, seen: Seen) {
        self.lines
            .entry(device.to_owned())
            .or_default()
            .insert(api.to_owned(), seen);
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename,
/// so a reader (or the MDM) never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp: PathBuf = {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        path.with_file_name(name)
    };
    std::fs::write(&tmp, bytes)
        .map_err(|e| Error::Io(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::Io(format!("cannot replace {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_increase_and_follow_the_clock() {
        let mut s = State::default();
        let t = Timestamp::from_unix_millis(1_000);
        assert_eq!(s.next_sequence("d", t), 1_000);
        assert_eq!(s.next_sequence("d", t), 1_001);
        assert_eq!(s.next_sequence("d", Timestamp::from_unix_millis(5)), 1_002);
        assert_eq!(s.next_sequence("e", Timestamp::EPOCH), 1);
        assert_eq!(s.peek_sequence("d", t), 1_003);
        assert_eq!(s.peek_sequence("d", t), 1_003);
        s.used_sequence("d", 1_004);
        assert_eq!(s.peek_sequence("d", t), 1_005);
        s.used_sequence("d", 7);
        assert_eq!(s.peek_sequence("d", t), 1_005);
    }

    #[test]
    fn state_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = State::load(&path).unwrap();
        s.record(
            "d",
            "sim_swap",
            Seen {
                latest_change: Timestamp::parse_rfc3339("2026-01-01T00:00:00Z"),
                ..Seen::default()
            },
        );
        s.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), s);
        std::fs::write(&path, "{").unwrap();
        assert!(State::load(&path)
            .unwrap_err()
            .to_string()
            .contains("malformed"));
    }
}
