//! `portcullis sim pin`: the keyed hashes a policy pins a phone's SIM with.
//!
//! A policy names the SIM a phone must carry (`simRules.expectedSubscriptions[].pinned`)
//! by HMAC-SHA-256 pins under that phone's pin key, which the phone hands to the console
//! once at enrollment (`pinKeyExport`). This command computes those pins from the
//! identifiers the carrier issued. The identifiers are read from a file or standard
//! input, never from the command line (shell history, process lists), and no error
//! repeats them.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis_core::identity::IdentityKind;
use portcullis_core::journal::unhex32;
use portcullis_core::policy::model::PinnedIdentity;
use portcullis_core::policy::PinKey;

#[derive(Subcommand)]
pub(crate) enum SimAction {
    /// Print the `pinned` object for a policy's expected subscription, from the SIM's
    /// identifiers (JSON: any of "iccid", "imsi", "msisdn") read from --identity or stdin.
    Pin(PinArgs),
}

#[derive(Args)]
pub(crate) struct PinArgs {
    /// The phone's pin key: 64 hex digits, as exported at enrollment.
    #[arg(long)]
    pin_key: PathBuf,
    /// JSON file with the SIM's identifiers, e.g. {"iccid": "8944…", "msisdn": "+44…"};
    /// standard input when absent or `-`.
    #[arg(long)]
    identity: Option<PathBuf>,
}

pub(crate) fn run(action: SimAction) -> Result<(), String> {
    match action {
        SimAction::Pin(args) => {
            let key = read_pin_key(&args.pin_key)?;
            let text = read_identity(args.identity.as_deref())?;
            let pinned = pin(&key, &text)?;
            let json = serde_json::to_string_pretty(&pinned)
                .map_err(|e| format!("cannot encode the pins: {e}"))?;
            crate::out::json(&json);
            Ok(())
        }
    }
}

/// Reads the pin key file. The argument is never repeated: someone who passes the key
/// itself instead of a file's name must not find it in an error (or a log of errors).
fn read_pin_key(path: &Path) -> Result<PinKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the --pin-key file ({})", e.kind()))?;
    let bytes =
        unhex32(text.trim()).ok_or("the --pin-key file must hold the pin key as 64 hex digits")?;
    Ok(PinKey::new(&bytes))
}

/// Reads the identity file, never repeating the argument (it may be the identity itself).
fn read_identity(path: Option<&Path>) -> Result<String, String> {
    match path {
        Some(p) if p != Path::new("-") => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the --identity file ({})", e.kind())),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(text)
        }
    }
}

/// Pins every identifier the JSON object gives. Errors name the field and the problem,
/// never the value.
fn pin(key: &PinKey, text: &str) -> Result<PinnedIdentity, String> {
    let value: serde_json::Value = portcullis_core::json::from_str(text).map_err(|e| {
        format!(
            "the identity is not valid JSON (line {}, column {}){}",
            e.line(),
            e.column(),
            if e.is_data() {
                ": a key is given twice"
            } else {
                ""
            }
        )
    })?;
    let object = value
        .as_object()
        .ok_or("the identity must be a JSON object with \"iccid\", \"imsi\" or \"msisdn\"")?;
    let mut pinned = PinnedIdentity {
        iccid: None,
        imsi: None,
        msisdn: None,
    };
    for (field, value) in object {
        let (kind, slot) = match field.as_str() {
            "iccid" => (IdentityKind::Iccid, &mut pinned.iccid),
            "imsi" => (IdentityKind::Imsi, &mut pinned.imsi),
            "msisdn" => (IdentityKind::PhoneNumber, &mut pinned.msisdn),
            // The key itself could be an identifier pasted in the wrong place.
            _ => return Err("the identity has an unknown field; expected only \"iccid\", \"imsi\" and \"msisdn\"".into()),
        };
        let raw = value
            .as_str()
            .ok_or_else(|| format!("\"{field}\" must be a string"))?;
        *slot = Some(key.pin(kind, raw).map_err(|e| e.to_string())?);
    }
    if pinned.iccid.is_none() && pinned.imsi.is_none() && pinned.msisdn.is_none() {
        return Err("the identity gives none of \"iccid\", \"imsi\" and \"msisdn\"".into());
    }
    Ok(pinned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::identity::{DeviceKey, IdentityHasher, SoftwareDeviceKey};

    const ICCID: &str = "8944501234567890123";
    const IMSI: &str = "234150123456789";
    const NUMBER: &str = "+447700900123";

    fn device() -> SoftwareDeviceKey {
        SoftwareDeviceKey::new(b"a test device secret, 32 bytes..").unwrap()
    }

    fn console_key(device: &dyn DeviceKey) -> PinKey {
        PinKey::new(&PinKey::derive(device).unwrap())
    }

    #[test]
    fn pins_are_what_the_phone_computes_for_the_same_sim() {
        let device = device();
        let text = format!(r#"{{"iccid": "{ICCID}", "imsi": "{IMSI}", "msisdn": "{NUMBER}"}}"#);
        let pinned = pin(&console_key(&device), &text).unwrap();
        let phone = IdentityHasher::derive(&device).unwrap();
        assert_eq!(
            pinned.iccid,
            Some(phone.pin(IdentityKind::Iccid, ICCID).unwrap())
        );
        assert_eq!(
            pinned.imsi,
            Some(phone.pin(IdentityKind::Imsi, IMSI).unwrap())
        );
        assert_eq!(
            pinned.msisdn,
            Some(
                phone
                    .pin(IdentityKind::PhoneNumber, "+44 7700 900123")
                    .unwrap()
            )
        );
        // Another phone's key gives other pins for the same SIM.
        let other = SoftwareDeviceKey::new(b"another device secret, 32 bytes.").unwrap();
        assert_ne!(pin(&console_key(&other), &text).unwrap(), pinned);
    }

    #[test]
    fn a_subset_is_pinned_alone() {
        let pinned = pin(
            &console_key(&device()),
            &format!(r#"{{"msisdn": "{NUMBER}"}}"#),
        )
        .unwrap();
        assert!(pinned.iccid.is_none() && pinned.imsi.is_none() && pinned.msisdn.is_some());
    }

    #[test]
    fn bad_input_is_refused_without_repeating_identifiers() {
        let key = console_key(&device());
        for (text, expected) in [
            (format!(r#"{{"iccid": "{ICCID}x"}}"#), "iccid"),
            (
                format!(r#"{{"imsi": {}}}"#, &IMSI[..12]),
                "\"imsi\" must be a string",
            ),
            (format!(r#"{{"{ICCID}": "{IMSI}"}}"#), "unknown field"),
            (format!(r#"["{ICCID}"]"#), "JSON object"),
            (format!(r#"{{"msisdn": "{NUMBER}""#), "not valid JSON"),
            ("{}".to_owned(), "none of"),
        ] {
            let err = pin(&key, &text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
            for secret in [ICCID, IMSI, NUMBER, &IMSI[..12], &NUMBER[1..]] {
                assert!(!err.contains(secret), "{err} repeats an identifier");
            }
        }
    }
}
