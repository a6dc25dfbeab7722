//! The attestation revocation status list, in the published format:
//!
//! ```json
//! { "entries": { "<serial>": { "status": "REVOKED", "reason": "KEY_COMPROMISE" }, ... } }
//! ```
//!
//! Serial numbers are written in hex (Google's list) or decimal (the sample in
//! `../shared/attestation/` has both). A key of digits only can be read either way, so
//! it is matched both ways: a certificate is caught if its hex *or* its decimal serial
//! is listed. That can only refuse more, never less (fail closed). A key with `a`-`f`
//! (or a `0x` prefix) is hex. Leading zeros and case do not matter.
//!
//! `REVOKED` is refused as `revoked`; every other status except `OK` (`SUSPENDED`, or a
//! status this verifier does not know) is refused as `suspended`. The reference verifier
//! refuses only `REVOKED`; a suspended attestation key is not one to trust a leader's
//! phone on.

use std::collections::HashMap;

use serde::Deserialize;

use crate::chain::Cert;
use crate::{Reason, Refusal};

/// The largest status list accepted (Google's is a few hundred KB).
pub const MAX_STATUS_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    status: String,
    reason: Option<String>,
}

/// A parsed status list, indexed by normalised serial number.
#[derive(Debug, Clone, Default)]
pub struct RevocationList {
    /// Serial (lower-case hex without leading zeros) → entry.
    by_hex: HashMap<String, Entry>,
}

#[derive(Deserialize)]
struct File {
    entries: HashMap<String, FileEntry>,
}

#[derive(Deserialize)]
struct FileEntry {
    status: String,
    reason: Option<String>,
}

/// `digits` (decimal) as lower-case hex without leading zeros, for any length.
fn decimal_to_hex(digits: &str) -> Option<String> {
    // Little-endian base-2^32 limbs.
    let mut limbs: Vec<u32> = vec![0];
    for c in digits.chars() {
        let mut carry = u64::from(c.to_digit(10)?);
        for limb in &mut limbs {
            let v = u64::from(*limb) * 10 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let hex: String = limbs.iter().rev().map(|l| format!("{l:08x}")).collect();
    Some(normalise_hex(&hex))
}

fn normalise_hex(hex: &str) -> String {
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

impl RevocationList {
    /// Parses the status list JSON. Refuses a file that is not the published shape or
    /// has a key that is neither hex nor decimal: a list that cannot be read in full
    /// must not be half-applied.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_STATUS_BYTES {
            return Err(format!(
                "the status list has {} bytes; at most {MAX_STATUS_BYTES}",
                bytes.len()
            ));
        }
        let file: File = serde_json::from_slice(bytes)
            .map_err(|e| format!("not an attestation status list: {e}"))?;
        let mut list = RevocationList::default();
        for (key, entry) in file.entries {
            let entry = Entry {
                status: entry.status,
                reason: entry.reason,
            };
            let text = key.trim();
            let (hex_only, body) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
            {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            if body.is_empty() || !body.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "status list entry {key:?} is neither a hex nor a decimal serial number"
                ));
            }
            list.insert(normalise_hex(body), &entry);
            if !hex_only && body.chars().all(|c| c.is_ascii_digit()) {
                if let Some(hex) = decimal_to_hex(body) {
                    list.insert(hex, &entry);
                }
            }
        }
        Ok(list)
    }

    fn insert(&mut self, hex: String, entry: &Entry) {
        // When two spellings collide, keep the more severe status.
        let severity = |e: &Entry| match e.status.as_str() {
            "OK" => 0,
            "REVOKED" => 2,
            _ => 1,
        };
        match self.by_hex.get(&hex) {
            Some(existing) if severity(existing) >= severity(entry) => {}
            _ => {
                self.by_hex.insert(hex, entry.clone());
            }
        }
    }

    /// The number of distinct serial spellings indexed.
    pub fn len(&self) -> usize {
        self.by_hex.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.by_hex.is_empty()
    }

    /// The status of a serial number given in hex, if listed.
    pub fn status_of_hex(&self, serial_hex: &str) -> Option<&str> {
        self.by_hex
            .get(&normalise_hex(serial_hex))
            .map(|e| e.status.as_str())
    }

    /// Refuses certificate `index` if its serial number is listed with a status other than `OK`.
    pub(crate) fn check(&self, index: usize, cert: &Cert) -> Result<(), Refusal> {
        let serial = cert.serial_hex();
        let Some(entry) = self.by_hex.get(&serial) else {
            return Ok(());
        };
        let reason = entry
            .reason
            .as_deref()
            .map(|r| format!(", reason {r}"))
            .unwrap_or_default();
        match entry.status.as_str() {
            "OK" => Ok(()),
            "REVOKED" => Err(Refusal::new(
                Reason::Revoked,
                format!(
                    "certificate {index} ({}, serial {serial}) is REVOKED on the status list{reason}",
                    cert.subject
                ),
            )),
            other => Err(Refusal::new(
                Reason::Suspended,
                format!(
                    "certificate {index} ({}, serial {serial}) has status {other} on the status list{reason}",
                    cert.subject
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_converts_to_hex() {
        assert_eq!(decimal_to_hex("0").unwrap(), "0");
        assert_eq!(decimal_to_hex("255").unwrap(), "ff");
        assert_eq!(
            decimal_to_hex("11244410301401252959").unwrap(),
            format!("{:x}", 11_244_410_301_401_252_959_u64)
        );
        assert_eq!(
            decimal_to_hex("340282366920938463463374607431768211455").unwrap(),
            "f".repeat(32)
        );
    }

    #[test]
    fn the_sample_list_parses_both_spellings() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/attestation/revocation-status-sample.json"
        ))
        .expect("../shared/attestation/ beside the repository");
        let list = RevocationList::from_json(&text).unwrap();
        // Decimal key, read as decimal.
        let hex = format!("{:x}", 6_681_152_659_205_225_093_u64);
        assert_eq!(list.status_of_hex(&hex), Some("REVOKED"));
        // The same key read as hex.
        assert_eq!(list.status_of_hex("6681152659205225093"), Some("REVOKED"));
        assert_eq!(
            list.status_of_hex("CC66E9A93713B6E643B26C15879786F7"),
            Some("SUSPENDED")
        );
        assert_eq!(list.status_of_hex("1"), None);
    }

    #[test]
    fn bad_keys_and_shapes_are_refused() {
        assert!(RevocationList::from_json(br#"{"entries":{"xyz":{"status":"REVOKED"}}}"#).is_err());
        assert!(RevocationList::from_json(br#"{"entries":{"":{"status":"REVOKED"}}}"#).is_err());
        assert!(RevocationList::from_json(br#"{"entries":{"12":{}}}"#).is_err());
        assert!(RevocationList::from_json(br#"[]"#).is_err());
        let ok = RevocationList::from_json(br#"{"entries":{"0x00AB":{"status":"OK"}}}"#).unwrap();
        assert_eq!(ok.status_of_hex("ab"), Some("OK"));
    }
}
