//! The fast path from the phones: alerts the MDM collected (JSON Lines), of which
//! those with `"carrier_check_wanted": true` name lines to check at once.

use std::collections::BTreeSet;

use crate::roster::{valid_device_id, Roster};

/// The largest alerts file read at once.
pub const MAX_ALERTS_BYTES: usize = 16 * 1024 * 1024;

/// What an alerts file asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Roster devices to check now.
    pub devices: BTreeSet<String>,
    /// Problems, each naming the file line: unknown devices, malformed objects.
    pub skipped: Vec<String>,
}

/// Reads alerts (one JSON object per line, `device_id` or `device`, `kind`,
/// `carrier_check_wanted`); `first_line` numbers the first line for messages.
pub fn wanted(text: &str, first_line: usize, roster: &Roster) -> Wanted {
    let mut out = Wanted::default();
    for (i, raw) in text.lines().enumerate() {
        let n = first_line + i;
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let Ok(serde_json::Value::Object(alert)) = serde_json::from_str::<serde_json::Value>(raw)
        else {
            out.skipped
                .push(format!("alerts line {n}: not a JSON object"));
            continue;
        };
        if alert.get("carrier_check_wanted") != Some(&serde_json::Value::Bool(true)) {
            continue;
        }
        if !alert.get("kind").is_some_and(serde_json::Value::is_string) {
            out.skipped
                .push(format!("alerts line {n}: `kind` is missing"));
            continue;
        }
        let device = alert
            .get("device_id")
            .or_else(|| alert.get("device"))
            .and_then(serde_json::Value::as_str);
        match device {
            Some(d) if roster.line(d).is_some() => {
                out.devices.insert(d.to_owned());
            }
            Some(d) if valid_device_id(d) => {
                out.skipped
                    .push(format!("alerts line {n}: device {d} is not in the roster"));
            }
            Some(_) => out
                .skipped
                .push(format!("alerts line {n}: the device id is malformed")),
            None => out
                .skipped
                .push(format!("alerts line {n}: `device_id` is missing")),
        }
    }
    out
}
