//! Phone identifiers (ICCID, IMSI, phone number) are kept only as keyed hashes.
//!
//! The agent must not become a metadata trove: a stolen database or a log line
//! must not reveal which SIM or number a leader's phone carries. Identifiers are
//! normalised, then hashed with HMAC-SHA-256 under an identity key derived once
//! per session from the platform's device key (Android Keystore / iOS Keychain),
//! so the key itself is never written to disk.

use std::borrow::Cow;
use std::fmt;

use ring::hmac;
#[cfg(feature = "schema")]
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A secret the platform keeps for this device and can compute HMAC-SHA-256 with.
///
/// On Android it is a Keystore HMAC key, on iOS a Keychain item; tests and the
/// simulator use [`SoftwareDeviceKey`].
pub trait DeviceKey: Send + Sync {
    /// HMAC-SHA-256 of `message` under the device's secret key.
    fn hmac_sha256(&self, message: &[u8]) -> Result<[u8; 32]>;
}

/// A device key held in memory: for tests, the simulator and the forensic kiosk.
pub struct SoftwareDeviceKey {
    key: hmac::Key,
}

impl SoftwareDeviceKey {
    /// Wraps a secret; at least 16 bytes are required so the key is not guessable.
    pub fn new(secret: &[u8]) -> Result<Self> {
        if secret.len() < 16 {
            return Err(Error::invalid(
                "device_key",
                "a software device key needs at least 16 bytes of secret",
            ));
        }
        Ok(SoftwareDeviceKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        })
    }
}

impl fmt::Debug for SoftwareDeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SoftwareDeviceKey(..)")
    }
}

impl DeviceKey for SoftwareDeviceKey {
    fn hmac_sha256(&self, message: &[u8]) -> Result<[u8; 32]> {
        let tag = hmac::sign(&self.key, message);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }
}

/// Which identifier a hash stands for; part of the hashed message so that an
/// ICCID hash can never equal a phone-number hash of the same digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// The SIM card's serial number.
    Iccid,
    /// The subscriber identity on the SIM.
    Imsi,
    /// The phone number (MSISDN).
    PhoneNumber,
}

impl IdentityKind {
    fn label(self) -> &'static [u8] {
        match self {
            IdentityKind::Iccid => b"iccid",
            IdentityKind::Imsi => b"imsi",
            IdentityKind::PhoneNumber => b"msisdn",
        }
    }
}

/// The keyed hash of one identifier. Displays as a short prefix only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdentityHash(#[serde(with = "hex32")] [u8; 32]);

impl IdentityHash {
    /// The first 8 hex digits: enough for a person to compare two evidence entries.
    pub fn short(&self) -> String {
        hex(&self.0[..4])
    }
}

impl fmt::Debug for IdentityHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityHash({}…)", self.short())
    }
}

/// Hashes identifiers under a key derived from the device key, and computes the
/// pins of observed identifiers under the device's pin key (see [`PinKey`]) so the
/// SIM guard can compare them with the identities a policy pins.
pub struct IdentityHasher {
    key: hmac::Key,
    pin_key: PinKey,
}

const DERIVATION_LABEL: &[u8] = b"portcullis/identity-key/v1";

impl IdentityHasher {
    /// Derives the identity key and the pin key: two calls into the platform key
    /// store per agent session. The pin key is derived exactly as
    /// [`PinKey::derive`] does, so pins the console computes with the key the
    /// device handed it at enrollment match the ones computed here.
    pub fn derive(device_key: &dyn DeviceKey) -> Result<Self> {
        let derived = device_key.hmac_sha256(DERIVATION_LABEL)?;
        let pin_key = PinKey::new(&PinKey::derive(device_key)?);
        Ok(IdentityHasher {
            key: hmac::Key::new(hmac::HMAC_SHA256, &derived),
            pin_key,
        })
    }

    /// The pin of an identifier under the device's pin key, as [`PinKey::pin`]
    /// computes it (the identifier is normalised first; normalising twice changes
    /// nothing). Errors name the kind, never the value.
    pub fn pin(&self, kind: IdentityKind, identifier: &str) -> Result<IdentityPin> {
        self.pin_key.pin(kind, identifier)
    }

    /// The keyed hash of a phone number's pin: how the guard recognises the line a
    /// relayed carrier check names, without storing the pin itself (which anyone
    /// holding the console's pin key could test guesses against).
    pub fn line_hash(&self, pin: &IdentityPin) -> IdentityHash {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(b"line-pin");
        ctx.update(&[0]);
        ctx.update(&pin.0);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        IdentityHash(out)
    }

    /// The keyed hash of an identifier, after normalisation (see [`normalize`]).
    pub fn hash(&self, kind: IdentityKind, normalized: &str) -> IdentityHash {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(kind.label());
        ctx.update(&[0]);
        ctx.update(normalized.as_bytes());
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        IdentityHash(out)
    }
}

/// Validates and normalises an identifier so equal identities hash equally
/// whatever formatting the platform used. Errors name the kind, never the value.
pub fn normalize(kind: IdentityKind, raw: &str) -> Result<String> {
    let field = match kind {
        IdentityKind::Iccid => "iccid",
        IdentityKind::Imsi => "imsi",
        IdentityKind::PhoneNumber => "msisdn",
    };
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    match kind {
        IdentityKind::Iccid => {
            // ITU-T E.118: up to 19 digits plus a Luhn digit; some platforms pad with 'F'.
            let digits = compact.trim_end_matches(['F', 'f']);
            if !(18..=22).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(field, "expected 18 to 22 decimal digits"));
            }
            Ok(digits.to_owned())
        }
        IdentityKind::Imsi => {
            if !(6..=15).contains(&compact.len()) || !compact.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(field, "expected 6 to 15 decimal digits"));
            }
            Ok(compact)
        }
        IdentityKind::PhoneNumber => {
            let digits = compact.strip_prefix('+').unwrap_or(&compact);
            if !(3..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    field,
                    "expected a phone number of 3 to 15 digits, optionally with a leading +",
                ));
            }
            Ok(digits.to_owned())
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Decodes hex, lower- or upper-case; `None` for an odd length or any other character
/// (a sign included, which `u8::from_str_radix` would let through).
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    bytes
        .chunks(2)
        .map(|pair| Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

/// Decodes exactly 32 bytes of hex (keys, hashes, pins).
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    unhex(text)?.try_into().ok()
}

/// A SIM identity pinned by keyed hashes: each is HMAC-SHA-256 under the device's
/// pin key (see [`PinKey`]), so the policy reveals no ICCID, IMSI or number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinnedIdentity {
    /// Keyed hash of the ICCID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<IdentityPin>,
    /// Keyed hash of the IMSI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<IdentityPin>,
    /// Keyed hash of the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<IdentityPin>,
}

impl PinnedIdentity {
    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.iccid.is_none() && self.imsi.is_none() && self.msisdn.is_none()
    }
}

/// A keyed hash of one identifier: 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityPin(pub [u8; 32]);

impl fmt::Debug for IdentityPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityPin({}…)", hex(&self.0[..4]))
    }
}

impl Serialize for IdentityPin {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for IdentityPin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "an identity pin is 64 lower-case hex digits",
            ));
        }
        unhex32(&text)
            .map(IdentityPin)
            .ok_or_else(|| serde::de::Error::custom("an identity pin is 64 lower-case hex digits"))
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for IdentityPin {
    fn schema_name() -> Cow<'static, str> {
        "IdentityPin".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "HMAC-SHA-256 of the normalised identifier under the device's pin key: 64 lower-case hex digits.",
            "type": "string",
            "pattern": "^[0-9a-f]{64}$"
        })
    }
}

const PIN_KEY_LABEL: &[u8] = b"portcullis/identity-pin-key/v1";

/// The key identity pins are computed under.
///
/// Derived on the device from its [`DeviceKey`] and handed to the console once, at
/// enrollment, so the console can pin the SIM it issued without the policy (which
/// travels through MDM channels) revealing enumerable identifiers. It is distinct
/// from the key the device hashes its own stored identifiers with.
pub struct PinKey {
    key: hmac::Key,
}

impl PinKey {
    /// Derives the device's pin key (one call into the platform key store).
    pub fn derive(device_key: &dyn DeviceKey) -> Result<[u8; 32]> {
        device_key.hmac_sha256(PIN_KEY_LABEL)
    }

    /// Wraps pin-key bytes (from [`PinKey::derive`] on the device, or the console's record).
    pub fn new(key: &[u8; 32]) -> Self {
        PinKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The pin of a raw identifier: normalised as the SIM guard does, then
    /// HMAC-SHA-256 over `label || 0x00 || normalised` (labels `iccid`, `imsi`, `msisdn`).
    pub fn pin(&self, kind: IdentityKind, raw: &str) -> Result<IdentityPin> {
        let normalized = normalize(kind, raw)?;
        let label: &[u8] = match kind {
            IdentityKind::Iccid => b"iccid",
            IdentityKind::Imsi => b"imsi",
            IdentityKind::PhoneNumber => b"msisdn",
        };
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(label);
        ctx.update(&[0]);
        ctx.update(normalized.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        Ok(IdentityPin(out))
    }
}

impl fmt::Debug for PinKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinKey(..)")
    }
}

mod hex32 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = <&str>::deserialize(d)?;
        super::unhex32(text).ok_or_else(|| D::Error::custom("identity hash must be 64 hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(secret: &[u8]) -> IdentityHasher {
        IdentityHasher::derive(&SoftwareDeviceKey::new(secret).unwrap()).unwrap()
    }

    #[test]
    fn formatting_does_not_change_the_hash() {
        let h = hasher(b"0123456789abcdef0123");
        let a = normalize(IdentityKind::PhoneNumber, "+44 20 7946-0018").unwrap();
        let b = normalize(IdentityKind::PhoneNumber, "442079460018").unwrap();
        assert_eq!(
            h.hash(IdentityKind::PhoneNumber, &a),
            h.hash(IdentityKind::PhoneNumber, &b)
        );
        let padded = normalize(IdentityKind::Iccid, "8944110012345678901F").unwrap();
        assert_eq!(padded, "8944110012345678901");
    }

    #[test]
    fn kind_and_key_separate_hashes() {
        let h1 = hasher(b"0123456789abcdef0123");
        let h2 = hasher(b"another-device-secret");
        let digits = "234150123456789";
        assert_ne!(
            h1.hash(IdentityKind::Imsi, digits),
            h1.hash(IdentityKind::PhoneNumber, digits)
        );
        assert_ne!(
            h1.hash(IdentityKind::Imsi, digits),
            h2.hash(IdentityKind::Imsi, digits)
        );
    }

    #[test]
    fn errors_never_echo_the_identifier() {
        let err = normalize(IdentityKind::Imsi, "23415012345678999999").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("imsi"), "{text}");
        assert!(!text.contains("2341501234"), "{text}");
        assert!(SoftwareDeviceKey::new(b"short").is_err());
    }

    #[test]
    fn pins_match_the_consoles_pin_key_and_differ_from_hashes() {
        let device = SoftwareDeviceKey::new(b"0123456789abcdef0123").unwrap();
        let h = IdentityHasher::derive(&device).unwrap();
        let console = PinKey::new(&PinKey::derive(&device).unwrap());
        let raw = "+44 20 7946-0018";
        let normalized = normalize(IdentityKind::PhoneNumber, raw).unwrap();
        let pin = h.pin(IdentityKind::PhoneNumber, &normalized).unwrap();
        assert_eq!(pin, console.pin(IdentityKind::PhoneNumber, raw).unwrap());
        assert_eq!(pin, h.pin(IdentityKind::PhoneNumber, raw).unwrap());
        // The pin key is not the identity key.
        let hash = h.hash(IdentityKind::PhoneNumber, &normalized);
        assert_ne!(
            serde_json::to_string(&hash).unwrap(),
            serde_json::to_string(&pin).unwrap()
        );
        let err = h
            .pin(IdentityKind::Imsi, "23415012345678999999")
            .unwrap_err();
        assert!(!err.to_string().contains("2341501234"));
    }

    #[test]
    fn hash_serde_round_trip_and_short_display() {
        let h = hasher(b"0123456789abcdef0123").hash(IdentityKind::Iccid, "8944110012345678901");
        let json = serde_json::to_string(&h).unwrap();
        let back: IdentityHash = serde_json::from_str(&json).unwrap();
        assert_eq!(h, back);
        assert_eq!(h.short().len(), 8);
        assert!(serde_json::from_str::<IdentityHash>("\"abc\"").is_err());
    }

    #[test]
    fn hex_decoding_takes_either_case_and_nothing_else() {
        assert_eq!(unhex("00aB"), Some(vec![0x00, 0xab]));
        assert_eq!(unhex(""), Some(vec![]));
        // `u8::from_str_radix` would read "+f" as 15.
        assert_eq!(unhex("+f"), None);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é0"), None);
        let key = "Ab".repeat(32);
        assert_eq!(unhex32(&key), Some([0xab; 32]));
        assert_eq!(unhex32(&key[..62]), None);
        assert_eq!(unhex32(&format!("+{}", &key[1..])), None);
        // The stored identity hashes read the same strict form.
        let quoted = format!("\"+{}\"", &"a".repeat(63));
        assert!(serde_json::from_str::<IdentityHash>(&quoted).is_err());
    }
}
