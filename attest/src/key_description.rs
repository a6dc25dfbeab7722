//! The attestation extension (OID 1.3.6.1.4.1.11129.2.1.17): the KeyDescription
//! record, decoded with the `der` crate and refused unless it is well formed.
//!
//! ```text
//! KeyDescription ::= SEQUENCE {
//!     attestationVersion         INTEGER,   -- 1 to 400 and later
//!     attestationSecurityLevel   SecurityLevel,
//!     keyMintVersion             INTEGER,
//!     keyMintSecurityLevel       SecurityLevel,
//!     attestationChallenge       OCTET STRING,
//!     uniqueId                   OCTET STRING,
//!     softwareEnforced           AuthorizationList,
//!     hardwareEnforced           AuthorizationList }
//! AuthorizationList ::= SEQUENCE { purpose [1] EXPLICIT SET OF INTEGER OPTIONAL, ... }
//! ```
//!
//! Every element of an authorization list is an explicitly tagged, context-specific
//! field; tags must be strictly ascending (DER's canonical order, which also refuses a
//! repeated tag), known to the schema, and of their declared type. Unlike the reference
//! verifier, which logs a field of the wrong type and drops it, a malformed field
//! refuses the whole record: a dropped field could be the one a policy asks about.
//! Patch levels are kept as the integers the phone sent; [`PatchLevel`] interprets them.
//!
//! The record serialises to exactly the JSON the reference verifier's test data uses
//! (`NAME.json` beside each chain): integers as decimal strings, byte strings as
//! base64, absent fields omitted.

use std::fmt;

use base64::Engine as _;
use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, Serializer};

use crate::{Reason, Refusal};

/// OID of the Android key attestation extension.
pub const ATTESTATION_EXTENSION_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.1.17");

/// An ASN.1 INTEGER of the record (at most 128 bits), serialised as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Int(pub i128);

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl JsonSchema for Int {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DecimalInteger".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An ASN.1 INTEGER of the record, as a decimal string.",
            "type": "string",
            "pattern": "^-?[0-9]+$"
        })
    }
}

/// An OCTET STRING of the record, serialised as standard padded base64.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({})", hex(&self.0))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl JsonSchema for Bytes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Base64Bytes".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An OCTET STRING of the record, as standard padded base64.",
            "type": "string",
            "pattern": "^[A-Za-z0-9+/]*={0,2}$"
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the key lives, as the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityLevel {
    /// Android's software Keystore: nothing hardware-backed.
    Software,
    /// The TEE (TrustZone or similar).
    TrustedEnvironment,
    /// A separate secure element (StrongBox).
    StrongBox,
}

/// The verified boot state the bootloader reported to the TEE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifiedBootState {
    /// Booted an image signed with the manufacturer's key, bootloader locked.
    Verified,
    /// Booted an image signed with a user-installed key (locked bootloader, custom root).
    SelfSigned,
    /// Bootloader unlocked: anything may have booted.
    Unverified,
    /// Verification failed.
    Failed,
}

/// Where the key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Origin {
    /// Generated inside the secure hardware.
    Generated,
    /// Derived inside the secure hardware.
    Derived,
    /// Imported from outside: its secrecy was never the hardware's.
    Imported,
    /// Reserved.
    Reserved,
    /// Imported wrapped for the secure hardware.
    SecurelyImported,
}

/// The root of trust: the boot state the bootloader passed to the TEE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RootOfTrust {
    /// The key (or its digest) that verified the boot image; all zeros when unlocked on many devices.
    pub verified_boot_key: Bytes,
    /// Whether the bootloader is locked.
    pub device_locked: bool,
    /// The verified boot state.
    pub verified_boot_state: VerifiedBootState,
    /// Digest of the verified boot images (attestation version 3 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_boot_hash: Option<Bytes>,
}

/// One package of the attesting application (several when they share a user id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct PackageInfo {
    /// The package name.
    pub name: String,
    /// Its version code.
    pub version: Int,
}

/// The application that asked for the key, as Android's Keystore reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct AttestationApplicationId {
    /// The packages running under the caller's user id.
    pub packages: Vec<PackageInfo>,
    /// SHA-256 digests of the signing certificates.
    pub signatures: Vec<Bytes>,
}

/// An authorization list: the key's properties, as enforced by one party.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)] // the KeyMint tag names; docs/attestation.md explains them
pub struct AuthorizationList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<Int>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_size: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_modes: Option<Vec<Int>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digests: Option<Vec<Int>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paddings: Option<Vec<Int>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec_curve: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ml_dsa_variant: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsa_public_exponent: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rsa_oaep_mgf_digests: Option<Vec<Int>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_date_time: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origination_expire_date_time: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_expire_date_time: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_count_limit: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_auth_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_auth_type: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_timeout: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_while_on_body: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_user_presence_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_confirmation_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unlocked_device_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date_time: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback_resistant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_of_trust: Option<RootOfTrust>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_patch_level: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_application_id: Option<AttestationApplicationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_product: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_imei: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_meid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_manufacturer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_patch_level: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_patch_level: Option<Int>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_id_second_imei: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module_hash: Option<Bytes>,
}

/// The KeyDescription record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyDescription {
    /// The attestation schema version (1, 2, 3, 4, 100, 200, 300, 400, ...).
    pub attestation_version: Int,
    /// Who produced the attestation.
    pub attestation_security_level: SecurityLevel,
    /// The Keymaster/KeyMint version.
    pub key_mint_version: Int,
    /// Where the key lives.
    pub key_mint_security_level: SecurityLevel,
    /// The challenge the app passed to `setAttestationChallenge`.
    pub attestation_challenge: Bytes,
    /// A device-unique, app-scoped id; empty unless a system app asked for it.
    pub unique_id: Bytes,
    /// Properties Android's Keystore enforces (as trustworthy as the OS).
    pub software_enforced: AuthorizationList,
    /// Properties the secure hardware enforces.
    pub hardware_enforced: AuthorizationList,
}

/// A patch level as `YYYYMM` or `YYYYMMDD`, interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PatchLevel {
    /// Year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day, 1 to 31, when given.
    pub day: Option<u8>,
}

impl PatchLevel {
    /// Interprets a patch level integer; `None` when it is not a date (the reference
    /// verifier drops such values; this record keeps the integer and the verdict says
    /// the level is unknown).
    pub fn from_int(value: Int) -> Option<PatchLevel> {
        let text = value.0.to_string();
        let (year, month, day) = match text.len() {
            6 => (&text[..4], &text[4..6], None),
            8 => (&text[..4], &text[4..6], Some(&text[6..8])),
            _ => return None,
        };
        let year: u16 = year.parse().ok()?;
        let month: u8 = month.parse().ok()?;
        let day: Option<u8> = match day {
            Some(d) => Some(d.parse().ok()?),
            None => None,
        };
        if !(1..=12).contains(&month) || day.is_some_and(|d| !(1..=31).contains(&d)) {
            return None;
        }
        if jiff::civil::Date::new(year as i16, month as i8, day.unwrap_or(1) as i8).is_err() {
            return None;
        }
        Some(PatchLevel { year, month, day })
    }

    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub fn to_iso(self) -> String {
        match self.day {
            Some(d) => format!("{:04}-{:02}-{:02}", self.year, self.month, d),
            None => format!("{:04}-{:02}", self.year, self.month),
        }
    }

    /// The first day the level stands for (the 1st when no day is given).
    pub fn date(self) -> Option<jiff::civil::Date> {
        jiff::civil::Date::new(
            self.year as i16,
            self.month as i8,
            self.day.unwrap_or(1) as i8,
        )
        .ok()
    }
}

// ---------------------------------------------------------------------------------
// Decoding

fn bad(message: impl Into<String>) -> Refusal {
    Refusal::new(Reason::MalformedExtension, message)
}

fn der_err(at: &str, e: der::Error) -> Refusal {
    bad(format!("{at}: {e}"))
}

fn tag_name(tag: Tag) -> String {
    match tag {
        Tag::ContextSpecific { number, .. } => format!("[{}]", number.value()),
        other => other.to_string(),
    }
}

fn expect_tag(at: &str, any: AnyRef<'_>, tag: Tag) -> Result<(), Refusal> {
    if any.tag() == tag {
        Ok(())
    } else {
        Err(bad(format!(
            "{at}: expected {}, found {}",
            tag_name(tag),
            tag_name(any.tag())
        )))
    }
}

fn int(at: &str, any: AnyRef<'_>) -> Result<Int, Refusal> {
    expect_tag(at, any, Tag::Integer)?;
    any.decode_as::<i128>().map(Int).map_err(|e| der_err(at, e))
}

fn enumerated(at: &str, any: AnyRef<'_>) -> Result<i128, Refusal> {
    expect_tag(at, any, Tag::Enumerated)?;
    // ENUMERATED has INTEGER's content encoding.
    AnyRef::new(Tag::Integer, any.value())
        .and_then(der::AnyRef::decode_as::<i128>)
        .map_err(|e| der_err(at, e))
}

fn octets<'a>(at: &str, any: AnyRef<'a>) -> Result<&'a [u8], Refusal> {
    expect_tag(at, any, Tag::OctetString)?;
    Ok(any.value())
}

fn utf8(at: &str, any: AnyRef<'_>) -> Result<String, Refusal> {
    let bytes = octets(at, any)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| bad(format!("{at}: not UTF-8")))
}

fn null(at: &str, any: AnyRef<'_>) -> Result<bool, Refusal> {
    expect_tag(at, any, Tag::Null)?;
    if any.value().is_empty() {
        Ok(true)
    } else {
        Err(bad(format!("{at}: NULL with content")))
    }
}

/// A BOOLEAN. DER says TRUE is 0xFF; some TEEs write 0x01 in the root of trust (the
/// reference verifier accepts it, testdata/invalid/malformed_rot_device_locked.pem), so
/// any non-zero octet is TRUE. The value is unambiguous either way.
fn boolean(at: &str, any: AnyRef<'_>) -> Result<bool, Refusal> {
    expect_tag(at, any, Tag::Boolean)?;
    match any.value() {
        [0] => Ok(false),
        [_] => Ok(true),
        _ => Err(bad(format!(
            "{at}: BOOLEAN of {} octets",
            any.value().len()
        ))),
    }
}

/// The elements of a constructed value, each as an [`AnyRef`].
fn elements<'a>(at: &str, any: AnyRef<'a>, tag: Tag) -> Result<Vec<AnyRef<'a>>, Refusal> {
    expect_tag(at, any, tag)?;
    let mut reader = SliceReader::new(any.value()).map_err(|e| der_err(at, e))?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        out.push(AnyRef::decode(&mut reader).map_err(|e| der_err(at, e))?);
    }
    Ok(out)
}

fn int_set(at: &str, any: AnyRef<'_>) -> Result<Vec<Int>, Refusal> {
    elements(at, any, Tag::Set)?
        .into_iter()
        .map(|e| int(at, e))
        .collect()
}

fn security_level(at: &str, any: AnyRef<'_>) -> Result<SecurityLevel, Refusal> {
    match enumerated(at, any)? {
        0 => Ok(SecurityLevel::Software),
        1 => Ok(SecurityLevel::TrustedEnvironment),
        2 => Ok(SecurityLevel::StrongBox),
        other => Err(bad(format!("{at}: unknown security level {other}"))),
    }
}

fn origin(at: &str, any: AnyRef<'_>) -> Result<Origin, Refusal> {
    match int(at, any)?.0 {
        0 => Ok(Origin::Generated),
        1 => Ok(Origin::Derived),
        2 => Ok(Origin::Imported),
        3 => Ok(Origin::Reserved),
        4 => Ok(Origin::SecurelyImported),
        other => Err(bad(format!("{at}: unknown origin {other}"))),
    }
}

fn root_of_trust(at: &str, any: AnyRef<'_>) -> Result<RootOfTrust, Refusal> {
    let parts = elements(at, any, Tag::Sequence)?;
    if !(3..=4).contains(&parts.len()) {
        return Err(bad(format!(
            "{at}: {} elements, expected 3 or 4",
            parts.len()
        )));
    }
    let state = match enumerated(&format!("{at}.verifiedBootState"), parts[2])? {
        0 => VerifiedBootState::Verified,
        1 => VerifiedBootState::SelfSigned,
        2 => VerifiedBootState::Unverified,
        3 => VerifiedBootState::Failed,
        other => return Err(bad(format!("{at}: unknown verified boot state {other}"))),
    };
    Ok(RootOfTrust {
        verified_boot_key: Bytes(octets(&format!("{at}.verifiedBootKey"), parts[0])?.to_vec()),
        device_locked: boolean(&format!("{at}.deviceLocked"), parts[1])?,
        verified_boot_state: state,
        verified_boot_hash: match parts.get(3) {
            Some(h) => Some(Bytes(
                octets(&format!("{at}.verifiedBootHash"), *h)?.to_vec(),
            )),
            None => None,
        },
    })
}

fn application_id(at: &str, any: AnyRef<'_>) -> Result<AttestationApplicationId, Refusal> {
    let inner = octets(at, any)?;
    let seq = AnyRef::from_der(inner).map_err(|e| der_err(at, e))?;
    let parts = elements(at, seq, Tag::Sequence)?;
    if parts.len() != 2 {
        return Err(bad(format!("{at}: {} elements, expected 2", parts.len())));
    }
    let packages = elements(&format!("{at}.packages"), parts[0], Tag::Set)?
        .into_iter()
        .map(|p| {
            let fields = elements(&format!("{at}.packages"), p, Tag::Sequence)?;
            if fields.len() != 2 {
                return Err(bad(format!(
                    "{at}.packages: a package has {} fields, expected 2",
                    fields.len()
                )));
            }
            Ok(PackageInfo {
                name: utf8(&format!("{at}.packages.name"), fields[0])?,
                version: int(&format!("{at}.packages.version"), fields[1])?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signatures = elements(&format!("{at}.signatures"), parts[1], Tag::Set)?
        .into_iter()
        .map(|s| Ok(Bytes(octets(&format!("{at}.signatures"), s)?.to_vec())))
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(AttestationApplicationId {
        packages,
        signatures,
    })
}

/// The tags the KeyDescription schema defines (those the reference verifier knows).
fn tag_field(number: u32) -> Option<&'static str> {
    Some(match number {
        1 => "purposes",
        2 => "algorithms",
        3 => "keySize",
        4 => "blockModes",
        5 => "digests",
        6 => "paddings",
        10 => "ecCurve",
        11 => "mlDsaVariant",
        200 => "rsaPublicExponent",
        203 => "rsaOaepMgfDigests",
        400 => "activeDateTime",
        401 => "originationExpireDateTime",
        402 => "usageExpireDateTime",
        405 => "usageCountLimit",
        503 => "noAuthRequired",
        504 => "userAuthType",
        505 => "authTimeout",
        506 => "allowWhileOnBody",
        507 => "trustedUserPresenceRequired",
        508 => "trustedConfirmationRequired",
        509 => "unlockedDeviceRequired",
        701 => "creationDateTime",
        702 => "origin",
        703 => "rollbackResistant",
        704 => "rootOfTrust",
        705 => "osVersion",
        706 => "osPatchLevel",
        709 => "attestationApplicationId",
        710 => "attestationIdBrand",
        711 => "attestationIdDevice",
        712 => "attestationIdProduct",
        713 => "attestationIdSerial",
        714 => "attestationIdImei",
        715 => "attestationIdMeid",
        716 => "attestationIdManufacturer",
        717 => "attestationIdModel",
        718 => "vendorPatchLevel",
        719 => "bootPatchLevel",
        723 => "attestationIdSecondImei",
        724 => "moduleHash",
        _ => return None,
    })
}

fn authorization_list(list: &str, any: AnyRef<'_>) -> Result<AuthorizationList, Refusal> {
    let mut out = AuthorizationList::default();
    let mut previous: Option<u32> = None;
    for element in elements(list, any, Tag::Sequence)? {
        let number = match element.tag() {
            Tag::ContextSpecific {
                constructed: true,
                number,
            } => number.value(),
            other => {
                return Err(bad(format!(
                    "{list}: element {} is not an explicitly tagged field",
                    tag_name(other)
                )))
            }
        };
        if let Some(p) = previous {
            if number <= p {
                return Err(Refusal::new(
                    Reason::TagsOutOfOrder,
                    format!(
                        "{list}: tag [{number}] follows tag [{p}]; tags must be in ascending order, each once"
                    ),
                ));
            }
        }
        previous = Some(number);
        let Some(field) = tag_field(number) else {
            return Err(Refusal::new(
                Reason::UnknownTag,
                format!("{list}: unknown tag [{number}]"),
            ));
        };
        let at = format!("{list}.{field} [{number}]");
        let value = AnyRef::from_der(element.value()).map_err(|e| der_err(&at, e))?;
        match number {
            1 => out.purposes = Some(int_set(&at, value)?),
            2 => out.algorithms = Some(int(&at, value)?),
            3 => out.key_size = Some(int(&at, value)?),
            4 => out.block_modes = Some(int_set(&at, value)?),
            5 => out.digests = Some(int_set(&at, value)?),
            6 => out.paddings = Some(int_set(&at, value)?),
            10 => out.ec_curve = Some(int(&at, value)?),
            11 => out.ml_dsa_variant = Some(int(&at, value)?),
            200 => out.rsa_public_exponent = Some(int(&at, value)?),
            203 => out.rsa_oaep_mgf_digests = Some(int_set(&at, value)?),
            400 => out.active_date_time = Some(int(&at, value)?),
            401 => out.origination_expire_date_time = Some(int(&at, value)?),
            402 => out.usage_expire_date_time = Some(int(&at, value)?),
            405 => out.usage_count_limit = Some(int(&at, value)?),
            503 => out.no_auth_required = Some(null(&at, value)?),
            504 => out.user_auth_type = Some(int(&at, value)?),
            505 => out.auth_timeout = Some(int(&at, value)?),
            506 => out.allow_while_on_body = Some(null(&at, value)?),
            507 => out.trusted_user_presence_required = Some(null(&at, value)?),
            508 => out.trusted_confirmation_required = Some(null(&at, value)?),
            509 => out.unlocked_device_required = Some(null(&at, value)?),
            701 => out.creation_date_time = Some(int(&at, value)?),
            702 => out.origin = Some(origin(&at, value)?),
            703 => out.rollback_resistant = Some(null(&at, value)?),
            704 => out.root_of_trust = Some(root_of_trust(&at, value)?),
            705 => out.os_version = Some(int(&at, value)?),
            706 => out.os_patch_level = Some(int(&at, value)?),
            709 => out.attestation_application_id = Some(application_id(&at, value)?),
            710 => out.attestation_id_brand = Some(utf8(&at, value)?),
            711 => out.attestation_id_device = Some(utf8(&at, value)?),
            712 => out.attestation_id_product = Some(utf8(&at, value)?),
            713 => out.attestation_id_serial = Some(utf8(&at, value)?),
            714 => out.attestation_id_imei = Some(utf8(&at, value)?),
            715 => out.attestation_id_meid = Some(utf8(&at, value)?),
            716 => out.attestation_id_manufacturer = Some(utf8(&at, value)?),
            717 => out.attestation_id_model = Some(utf8(&at, value)?),
            718 => out.vendor_patch_level = Some(int(&at, value)?),
            719 => out.boot_patch_level = Some(int(&at, value)?),
            723 => out.attestation_id_second_imei = Some(utf8(&at, value)?),
            724 => out.module_hash = Some(Bytes(octets(&at, value)?.to_vec())),
            _ => unreachable!("tag_field lists exactly these tags"),
        }
    }
    Ok(out)
}

/// Parses the attestation extension's content (the KeyDescription DER).
///
/// Refuses (`malformed_extension`, `tags_out_of_order`, `unknown_tag`) anything that is
/// not exactly one well-formed KeyDescription; never panics.
pub fn parse_key_description(der: &[u8]) -> Result<KeyDescription, Refusal> {
    let top = AnyRef::from_der(der).map_err(|e| der_err("KeyDescription", e))?;
    let parts = elements("KeyDescription", top, Tag::Sequence)?;
    if parts.len() != 8 {
        return Err(bad(format!(
            "KeyDescription: {} elements, expected 8",
            parts.len()
        )));
    }
    Ok(KeyDescription {
        attestation_version: int("attestationVersion", parts[0])?,
        attestation_security_level: security_level("attestationSecurityLevel", parts[1])?,
        key_mint_version: int("keyMintVersion", parts[2])?,
        key_mint_security_level: security_level("keyMintSecurityLevel", parts[3])?,
        attestation_challenge: Bytes(octets("attestationChallenge", parts[4])?.to_vec()),
        unique_id: Bytes(octets("uniqueId", parts[5])?.to_vec()),
        software_enforced: authorization_list("softwareEnforced", parts[6])?,
        hardware_enforced: authorization_list("hardwareEnforced", parts[7])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        assert!(body.len() < 128);
        let mut v = vec![tag, body.len() as u8];
        v.extend_from_slice(body);
        v
    }

    /// A KeyDescription with the given hardware-enforced list body.
    fn record(hw: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(tlv(0x02, &[3])); // version 3
        body.extend(tlv(0x0A, &[1])); // TEE
        body.extend(tlv(0x02, &[4]));
        body.extend(tlv(0x0A, &[1]));
        body.extend(tlv(0x04, b"challenge"));
        body.extend(tlv(0x04, b""));
        body.extend(tlv(0x30, &[]));
        body.extend(tlv(0x30, hw));
        tlv(0x30, &body)
    }

    /// `[number] EXPLICIT inner` for a tag number above 30 (two-byte form for < 16384).
    fn field(number: u16, inner: &[u8]) -> Vec<u8> {
        let mut v = vec![0xBF];
        if number >= 128 {
            v.push(0x80 | (number >> 7) as u8);
        }
        v.push((number & 0x7F) as u8);
        v.push(inner.len() as u8);
        v.extend_from_slice(inner);
        v
    }

    #[test]
    fn a_minimal_record_parses() {
        let hw = [field(702, &tlv(0x02, &[0])), field(705, &tlv(0x02, &[1]))].concat();
        let kd = parse_key_description(&record(&hw)).unwrap();
        assert_eq!(kd.hardware_enforced.origin, Some(Origin::Generated));
        assert_eq!(kd.hardware_enforced.os_version, Some(Int(1)));
        assert_eq!(kd.attestation_challenge.0, b"challenge");
    }

    #[test]
    fn out_of_order_and_repeated_tags_are_refused() {
        let hw = [field(705, &tlv(0x02, &[1])), field(702, &tlv(0x02, &[0]))].concat();
        let e = parse_key_description(&record(&hw)).unwrap_err();
        assert_eq!(e.code, Reason::TagsOutOfOrder, "{e}");
        let hw = [field(705, &tlv(0x02, &[1])), field(705, &tlv(0x02, &[1]))].concat();
        let e = parse_key_description(&record(&hw)).unwrap_err();
        assert_eq!(e.code, Reason::TagsOutOfOrder, "{e}");
    }

    #[test]
    fn unknown_tags_and_wrong_types_are_refused() {
        let e = parse_key_description(&record(&field(720, &tlv(0x05, &[])))).unwrap_err();
        assert_eq!(e.code, Reason::UnknownTag, "{e}");
        // osVersion as an OCTET STRING.
        let e = parse_key_description(&record(&field(705, &tlv(0x04, &[1])))).unwrap_err();
        assert_eq!(e.code, Reason::MalformedExtension, "{e}");
        assert!(e.message.contains("osVersion"), "{e}");
        // Non-minimal INTEGER.
        let e = parse_key_description(&record(&field(705, &tlv(0x02, &[0, 1])))).unwrap_err();
        assert_eq!(e.code, Reason::MalformedExtension, "{e}");
        // A NULL flag with content.
        let e = parse_key_description(&record(&field(503, &tlv(0x05, &[0])))).unwrap_err();
        assert_eq!(e.code, Reason::MalformedExtension, "{e}");
        // Trailing bytes after the record.
        let mut r = record(&[]);
        r.push(0);
        assert_eq!(
            parse_key_description(&r).unwrap_err().code,
            Reason::MalformedExtension
        );
    }

    #[test]
    fn patch_levels() {
        assert_eq!(
            PatchLevel::from_int(Int(202408)).unwrap().to_iso(),
            "2024-08"
        );
        assert_eq!(
            PatchLevel::from_int(Int(20240805)).unwrap().to_iso(),
            "2024-08-05"
        );
        for bad in [0, 202400, 2000231, 20240231, 202413] {
            assert_eq!(PatchLevel::from_int(Int(bad)), None, "{bad}");
        }
    }
}
