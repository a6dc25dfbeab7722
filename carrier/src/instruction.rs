//! The signed `carrier_check` instruction: what the console tells the phone a carrier
//! answered, signed under the trust root's operations role, for the MDM to deliver.
//! The phone's core verifies it and decides what the answer means.

use serde::Serialize;
use serde_json::value::RawValue;

use portcullis_core::policy::{Envelope, SigningKey};
use portcullis_core::Timestamp;

use crate::camara::{Api, Operation};

/// The DSSE payload type phones accept instructions under.
pub const INSTRUCTION_PAYLOAD_TYPE: &str = "application/vnd.portcullis.instruction+json";

/// The largest signed instruction a phone accepts.
pub const MAX_INSTRUCTION_BYTES: usize = 64 * 1024;

/// How long an instruction stays valid: the MDM may take a while to reach a phone that
/// is off, but a carrier answer older than this says little. The format allows 7 days.
pub const VALIDITY_MS: i64 = 3 * 24 * 3_600_000;

/// The payload, field for field as the phone parses it (camelCase, nothing else).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    instruction_id: String,
    sequence: u64,
    issued_at: Timestamp,
    expires: Timestamp,
    scope: Scope<'a>,
    kind: &'static str,
    body: Body<'a>,
}

#[derive(Serialize)]
struct Scope<'a> {
    devices: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    api: &'static str,
    operation: &'static str,
    line: &'a str,
    checked_at: Timestamp,
    request: serde_json::Value,
    response: &'a RawValue,
}

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

/// The instruction's id: unique per device and sequence, in the allowed alphabet.
pub fn instruction_id(device: &str, api: Api, sequence: u64) -> String {
    format!("carrier_check:{}:{device}:{sequence}", api.as_str())
}

/// Builds and signs the instruction; returns the envelope's bytes.
pub fn sign(
    check: &CarrierCheck<'_>,
    sequence: u64,
    issued_at: Timestamp,
    key: &SigningKey,
) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(check.response)
        .map_err(|_| "the response body is not UTF-8".to_owned())?;
    let response: &RawValue =
        serde_json::from_str(text).map_err(|_| "the response body is not JSON".to_owned())?;
    let request = match check.operation {
        Operation::Check { max_age } => serde_json::json!({ "maxAge": max_age }),
        Operation::RetrieveDate => serde_json::json!({}),
    };
    let payload = Payload {
        instruction_id: instruction_id(check.device, check.api, sequence),
        sequence,
        issued_at,
        expires: issued_at.plus_millis(VALIDITY_MS),
        scope: Scope {
            devices: [check.device],
        },
        kind: "carrier_check",
        body: Body {
            api: check.api.as_str(),
            operation: check.operation.as_str(),
            line: check.line_pin,
            checked_at: check.checked_at,
            request,
            response,
        },
    };
    let bytes =
        serde_json::to_vec(&payload).map_err(|_| "cannot encode the instruction".to_owned())?;
    let mut envelope = Envelope::new(INSTRUCTION_PAYLOAD_TYPE, bytes);
    envelope.sign(key);
    let bytes = envelope.to_bytes();
    if bytes.len() > MAX_INSTRUCTION_BYTES {
        return Err("the response is too large to relay to the phone".to_owned());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            line_pin: "00",
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
}
