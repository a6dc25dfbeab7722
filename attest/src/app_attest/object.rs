//! The App Attest attestation object, decoded strictly: a CBOR map with exactly
//! `fmt`, `attStmt` (`x5c`, `receipt`) and `authData`, and the authenticator data
//! inside it (WebAuthn layout, with a COSE EC2 P-256 credential key).
//!
//! Decoding says nothing about trust: it only refuses what is not an attestation
//! object, with `malformed_attestation_object` and a message naming the field.
//! [`super::verify_app_attest`] judges what decodes.

use std::io::Cursor;

use ciborium::value::Value;

use crate::{Reason, Refusal};

/// The largest attestation object read (a real one, receipt included, is about 5.3 KiB).
pub const MAX_ATTESTATION_OBJECT_BYTES: usize = 64 * 1024;

/// The attestation statement format App Attest uses.
pub const APP_ATTEST_FORMAT: &str = "apple-appattest";

/// CBOR nesting an attestation object needs is 4 deep; anything deeper is refused early.
const MAX_CBOR_DEPTH: usize = 16;

/// The flag that says attested credential data follows (bit 6, `AT`).
const FLAG_ATTESTED_CREDENTIAL: u8 = 0x40;
/// The flag that says extensions follow the credential (bit 7, `ED`).
const FLAG_EXTENSIONS: u8 = 0x80;

/// An attestation object as decoded, before any check of trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationObject {
    /// The statement format (`apple-appattest` for App Attest).
    pub fmt: String,
    /// `attStmt.x5c`: the certificates, DER, credential certificate first.
    pub x5c: Vec<Vec<u8>>,
    /// `attStmt.receipt`: Apple's signed receipt (PKCS#7), carried but not verified here.
    pub receipt: Vec<u8>,
    /// `authData`, the exact bytes (they enter the nonce).
    pub auth_data_bytes: Vec<u8>,
    /// `authData`, decoded.
    pub auth_data: AuthenticatorData,
}

/// The authenticator data of an attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatorData {
    /// SHA-256 of the App ID (`TEAMID.bundle.id`).
    pub rp_id_hash: [u8; 32],
    /// The flags byte.
    pub flags: u8,
    /// The signature counter: 0 in an attestation.
    pub counter: u32,
    /// `appattestdevelop` or `appattest` followed by seven zero bytes.
    pub aaguid: [u8; 16],
    /// The credential id: the key id (SHA-256 of the public key).
    pub credential_id: Vec<u8>,
    /// The credential public key from the COSE key: an uncompressed P-256 point (65 bytes).
    pub credential_public_key: Vec<u8>,
}

fn malformed(what: impl Into<String>) -> Refusal {
    Refusal::new(
        Reason::MalformedAttestationObject,
        format!("attestation object: {}", what.into()),
    )
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        Value::Tag(_, inner) => 1 + depth(inner),
        _ => 0,
    }
}

/// One CBOR item filling `bytes` exactly.
fn decode_one(bytes: &[u8], what: &str) -> Result<Value, Refusal> {
    let mut cursor = Cursor::new(bytes);
    let value: Value = ciborium::de::from_reader(&mut cursor)
        .map_err(|e| malformed(format!("{what} is not CBOR: {e}")))?;
    if usize::try_from(cursor.position()).ok() != Some(bytes.len()) {
        return Err(malformed(format!("bytes follow the {what}")));
    }
    if depth(&value) > MAX_CBOR_DEPTH {
        return Err(malformed(format!("{what} is nested too deeply")));
    }
    Ok(value)
}

/// The entries of a map whose keys are all text, each key once, each one of `allowed`.
fn text_map<'a>(
    value: &'a Value,
    what: &str,
    allowed: &[&str],
) -> Result<Vec<(&'a str, &'a Value)>, Refusal> {
    let Value::Map(entries) = value else {
        return Err(malformed(format!("{what} is not a map")));
    };
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Value::Text(key) = k else {
            return Err(malformed(format!("{what} has a key that is not text")));
        };
        if !allowed.contains(&key.as_str()) {
            return Err(malformed(format!("{what} has an unexpected field {key:?}")));
        }
        if out.iter().any(|(seen, _)| *seen == key) {
            return Err(malformed(format!("{what} has the field {key:?} twice")));
        }
        out.push((key.as_str(), v));
    }
    Ok(out)
}

fn field<'a>(entries: &[(&str, &'a Value)], key: &str, what: &str) -> Result<&'a Value, Refusal> {
    entries
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| malformed(format!("{what} has no {key:?}")))
}

fn bytes<'a>(value: &'a Value, what: &str) -> Result<&'a [u8], Refusal> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(malformed(format!("{what} is not a byte string"))),
    }
}

/// Decodes an attestation object as `DCAppAttestService.attestKey` returns it.
pub fn decode_attestation_object(input: &[u8]) -> Result<AttestationObject, Refusal> {
    if input.is_empty() {
        return Err(malformed("empty input"));
    }
    if input.len() > MAX_ATTESTATION_OBJECT_BYTES {
        return Err(malformed(format!(
            "{} bytes; at most {MAX_ATTESTATION_OBJECT_BYTES}",
            input.len()
        )));
    }
    let top = decode_one(input, "object")?;
    let entries = text_map(&top, "the object", &["fmt", "attStmt", "authData"])?;
    let fmt = match field(&entries, "fmt", "the object")? {
        Value::Text(t) => t.clone(),
        _ => return Err(malformed("fmt is not text")),
    };
    let statement = text_map(
        field(&entries, "attStmt", "the object")?,
        "attStmt",
        &["x5c", "receipt"],
    )?;
    let x5c = match field(&statement, "x5c", "attStmt")? {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| bytes(v, &format!("x5c[{i}]")).map(<[u8]>::to_vec))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(malformed("x5c is not an array")),
    };
    let receipt = bytes(field(&statement, "receipt", "attStmt")?, "receipt")?.to_vec();
    let auth_data_bytes = bytes(field(&entries, "authData", "the object")?, "authData")?.to_vec();
    let auth_data = AuthenticatorData::parse(&auth_data_bytes)?;
    Ok(AttestationObject {
        fmt,
        x5c,
        receipt,
        auth_data_bytes,
        auth_data,
    })
}

fn take<'a>(rest: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], Refusal> {
    if rest.len() < n {
        return Err(malformed(format!("authData ends inside the {what}")));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

impl AuthenticatorData {
    /// Parses the authenticator data of an attestation: it must carry attested
    /// credential data, no extensions, and nothing after the credential key.
    pub fn parse(bytes: &[u8]) -> Result<AuthenticatorData, Refusal> {
        let mut rest = bytes;
        let rp_id_hash: [u8; 32] = take(&mut rest, 32, "RP ID hash")?
            .try_into()
            .map_err(|_| malformed("RP ID hash"))?;
        let flags = take(&mut rest, 1, "flags")?[0];
        let counter_bytes: [u8; 4] = take(&mut rest, 4, "counter")?
            .try_into()
            .map_err(|_| malformed("counter"))?;
        let counter = u32::from_be_bytes(counter_bytes);
        if flags & FLAG_ATTESTED_CREDENTIAL == 0 {
            return Err(malformed(
                "authData flags say no attested credential data follows",
            ));
        }
        if flags & FLAG_EXTENSIONS != 0 {
            return Err(malformed(
                "authData flags announce extensions, which App Attest does not use",
            ));
        }
        let aaguid: [u8; 16] = take(&mut rest, 16, "AAGUID")?
            .try_into()
            .map_err(|_| malformed("AAGUID"))?;
        let len_bytes = take(&mut rest, 2, "credential id length")?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let credential_id = take(&mut rest, len, "credential id")?.to_vec();
        if rest.is_empty() {
            return Err(malformed("authData has no credential public key"));
        }
        let key = decode_one(rest, "credential public key")?;
        let credential_public_key = cose_p256_point(&key)?;
        Ok(AuthenticatorData {
            rp_id_hash,
            flags,
            counter,
            aaguid,
            credential_id,
            credential_public_key,
        })
    }
}

fn int(value: &Value) -> Option<i128> {
    match value {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}

/// The uncompressed point of a COSE_Key that is EC2 (kty 2), ES256 (alg -7), P-256
/// (crv 1), with 32-byte coordinates; any other key is refused.
fn cose_p256_point(key: &Value) -> Result<Vec<u8>, Refusal> {
    let Value::Map(entries) = key else {
        return Err(malformed("the credential public key is not a COSE key map"));
    };
    let mut seen: Vec<i128> = Vec::with_capacity(entries.len());
    let (mut kty, mut alg, mut crv, mut x, mut y) = (None, None, None, None, None);
    for (k, v) in entries {
        let label = int(k).ok_or_else(|| {
            malformed("the credential public key has a label that is not an integer")
        })?;
        if seen.contains(&label) {
            return Err(malformed(format!(
                "the credential public key has the label {label} twice"
            )));
        }
        seen.push(label);
        match label {
            1 => kty = int(v),
            3 => alg = int(v),
            -1 => crv = int(v),
            -2 => x = bytes(v, "the credential key's x").ok(),
            -3 => y = bytes(v, "the credential key's y").ok(),
            other => {
                return Err(malformed(format!(
                    "the credential public key has an unexpected label {other}"
                )))
            }
        }
    }
    if kty != Some(2) || alg != Some(-7) || crv != Some(1) {
        return Err(malformed(
            "the credential public key is not an EC2 P-256 ES256 COSE key",
        ));
    }
    match (x, y) {
        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            Ok(point)
        }
        _ => Err(malformed(
            "the credential public key's coordinates are not two 32-byte strings",
        )),
    }
}
