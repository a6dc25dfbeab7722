//! The signed `carrier_check` instruction: what the console tells the phone a carrier
//! answered, signed under the trust root's operations role, for the MDM to deliver.
//! The phone's core verifies it and decides what the answer means.

use portcullis_core::instruction::{
    CarrierCheck as RelayedCheck, CarrierOperation, CarrierRequest, InstructionBody,
    InstructionPayload,
};
use portcullis_core::journal::unhex32;
use portcullis_core::policy::model::IdentityPin;
use portcullis_core::policy::{BundleScope, PolicyError, SigningKey};
use portcullis_core::sim::CarrierApi;
use portcullis_core::Timestamp;

use crate::camara::{Api, Operation};

pub use portcullis_core::instruction::{INSTRUCTION_PAYLOAD_TYPE, MAX_INSTRUCTION_BYTES};

/// How long an instruction stays valid: the MDM may take a while to reach a phone that
/// is off, but a carrier answer older than this says little. The format allows 7 days.
pub const VALIDITY_MS: i64 = 3 * 24 * 3_600_000;

/// One carrier answer to relay.
pub struct CarrierCheck<'a> {
    /// The device the instruction is for.
    pub device: &'a str,
    /// The keyed pin of the line's number (64 hex).
    pub line_pin: &'a str,
    /// Which API answered.
    pub api: Api,
    /// Which operation, with the `maxAge` actually sent.
    pub operation: Operation,
    /// When the console asked.
    pub checked_at: Timestamp,
    /// The answer's body, exactly as received (already checked to be JSON).
    pub response: &'a [u8],
}

/// Why an answer cannot be relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayError {
    /// The signed instruction would exceed what a phone accepts.
    TooLarge,
    /// The phone's own checks would refuse it (the reason names the field, never a value).
    Refused(String),
}

/// The instruction's id: unique per device and sequence, in the allowed alphabet.
pub fn instruction_id(device: &str, api: Api, sequence: u64) -> String {
    format!("carrier_check:{}:{device}:{sequence}", api.as_str())
}

/// Builds the instruction with the core's own type (the one the phone parses),
/// validates it as the phone will and signs it; returns the envelope's bytes.
pub fn sign(
    check: &CarrierCheck<'_>,
    sequence: u64,
    issued_at: Timestamp,
    key: &SigningKey,
) -> Result<Vec<u8>, RelayError> {
    let response = std::str::from_utf8(check.response)
        .map_err(|_| RelayError::Refused("the response body is not UTF-8".into()))?
        .to_owned();
    let line = unhex32(check.line_pin)
        .map(IdentityPin)
        .ok_or_else(|| RelayError::Refused("the line pin is not 64 hex digits".into()))?;
    let (operation, max_age) = match check.operation {
        Operation::Check { max_age } => (CarrierOperation::Check, Some(max_age)),
        Operation::RetrieveDate => (CarrierOperation::RetrieveDate, None),
    };
    // The phone requires the sequence not to exceed `issuedAt` in Unix milliseconds;
    // sequences are taken from the clock, so this moves `issuedAt` by a few ms at most.
    let issued_at = issued_at.max(Timestamp::from_unix_millis(
        i64::try_from(sequence).unwrap_or(i64::MAX),
    ));
    let payload = InstructionPayload {
        instruction_id: instruction_id(check.device, check.api, sequence),
        sequence,
        issued_at,
        expires: issued_at.plus_millis(VALIDITY_MS),
        scope: BundleScope {
            devices: vec![check.device.to_owned()],
            groups: Vec::new(),
        },
        body: InstructionBody::CarrierCheck(RelayedCheck {
            api: match check.api {
                Api::SimSwap => CarrierApi::SimSwap,
                Api::DeviceSwap => CarrierApi::DeviceSwap,
            },
            operation,
            line: Some(line),
            checked_at: check.checked_at,
            request: CarrierRequest { max_age },
            response,
        }),
    };
    payload.sign(&[key]).map_err(|e| match e {
        portcullis_core::Error::Policy(PolicyError::TooLarge { .. }) => RelayError::TooLarge,
        other => RelayError::Refused(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::policy::Envelope;

    #[test]
    fn the_payload_has_exactly_the_phone_side_fields_and_the_raw_response() {
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let raw = br#"{ "latestSimChange" : "2024-09-18T07:37:53.471829447Z", "x": [1] }"#;
        let at = Timestamp::parse_rfc3339("2026-03-01T10:00:00Z").unwrap();
        let check = CarrierCheck {
            device: "minister-01",
            line_pin: &"ab".repeat(32),
            api: Api::SimSwap,
            operation: Operation::RetrieveDate,
            checked_at: at,
            response: raw,
        };
        let bytes = sign(&check, 42, at, &key).unwrap();
        let env = Envelope::parse(&bytes, 1 << 20).unwrap();
        assert_eq!(env.payload_type, INSTRUCTION_PAYLOAD_TYPE);
        assert_eq!(env.signatures.len(), 1);
        assert_eq!(env.signatures[0].keyid, key.key_id());
        assert!(key
            .public_key()
            .verifies(&env.signing_input(), &env.signatures[0].sig));
        let text = String::from_utf8(env.payload.clone()).unwrap();
        // The response is embedded byte for byte.
        assert!(text.contains(std::str::from_utf8(raw).unwrap()), "{text}");
        let v: serde_json::Value = serde_json::from_slice(&env.payload).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 7);
        assert_eq!(v["instructionId"], "carrier_check:sim_swap:minister-01:42");
        assert_eq!(v["sequence"], 42);
        assert_eq!(v["issuedAt"], "2026-03-01T10:00:00Z");
        assert!(v["sequence"].as_u64().unwrap() <= 1_772_359_200_000);
        assert_eq!(v["expires"], "2026-03-04T10:00:00Z");
        assert_eq!(v["scope"], serde_json::json!({"devices": ["minister-01"]}));
        assert_eq!(v["kind"], "carrier_check");
        assert_eq!(v["body"]["api"], "sim_swap");
        assert_eq!(v["body"]["operation"], "retrieve_date");
        assert_eq!(v["body"]["request"], serde_json::json!({}));
        assert_eq!(v["body"]["line"], "ab".repeat(32));
        assert_eq!(v["body"]["checkedAt"], "2026-03-01T10:00:00Z");
        let id = v["instructionId"].as_str().unwrap();
        assert!(
            id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        );
    }

    #[test]
    fn check_requests_carry_max_age() {
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let check = CarrierCheck {
            device: "d",
            line_pin: &"cd".repeat(32),
            api: Api::DeviceSwap,
            operation: Operation::Check { max_age: 12 },
            checked_at: Timestamp::EPOCH,
            response: br#"{"swapped":false}"#,
        };
        let env =
            Envelope::parse(&sign(&check, 1, Timestamp::EPOCH, &key).unwrap(), 1 << 20).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&env.payload).unwrap();
        assert_eq!(v["body"]["request"], serde_json::json!({"maxAge": 12}));
        assert_eq!(v["body"]["operation"], "check");
        assert_eq!(v["body"]["api"], "device_swap");
    }

    #[test]
    fn what_a_phone_would_refuse_is_not_signed() {
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let pin = "cd".repeat(32);
        let check = |response: &'static [u8], line_pin: &'static str| CarrierCheck {
            device: "d",
            line_pin,
            api: Api::SimSwap,
            operation: Operation::RetrieveDate,
            checked_at: Timestamp::EPOCH,
            response,
        };
        let pin: &'static str = Box::leak(pin.into_boxed_str());
        let no_zone = check(br#"{"latestSimChange":"2024-01-01T00:00:00"}"#, pin);
        assert!(matches!(
            sign(&no_zone, 1, Timestamp::EPOCH, &key),
            Err(RelayError::Refused(_))
        ));
        let bad_pin = check(br#"{"latestSimChange":null}"#, "00");
        assert!(matches!(
            sign(&bad_pin, 1, Timestamp::EPOCH, &key),
            Err(RelayError::Refused(_))
        ));
        let huge: &'static [u8] = Box::leak(
            format!(r#"{{"latestSimChange":null,"x":"{}"}}"#, "y".repeat(60_000))
                .into_bytes()
                .into_boxed_slice(),
        );
        assert_eq!(
            sign(&check(huge, pin), 1, Timestamp::EPOCH, &key),
            Err(RelayError::TooLarge)
        );
    }
}
