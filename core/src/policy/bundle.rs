//! The signed envelope around a payload's exact bytes, and the keys that sign it.
//!
//! The envelope follows DSSE (Dead Simple Signing Envelope): compact JSON
//! `{"payloadType":...,"payload":<base64>,"signatures":[{"keyid":<hex>,"sig":<base64>}]}`,
//! each signature an Ed25519 signature over DSSE's pre-authentication encoding of the
//! payload type and the payload bytes. The payload is never re-serialised: what was
//! signed is exactly what is parsed, so no canonical-JSON scheme is needed. The
//! envelope itself must be byte-for-byte in the form [`Envelope::to_bytes`] writes
//! (no whitespace, fields in order, lower-case hex, canonical base64), so the bytes
//! that travel are the bytes that were checked and no byte can change unnoticed.
//! docs/policy-bundles.md describes the format and the threat each check answers.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::digest;
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use super::{serde_hex32, PolicyError};
use crate::identity::hex;

/// `payloadType` of a policy bundle.
pub const POLICY_PAYLOAD_TYPE: &str = "application/vnd.portcullis.policy+json";
/// `payloadType` of a signed trust root.
pub const ROOT_PAYLOAD_TYPE: &str = "application/vnd.portcullis.root+json";
/// Largest policy bundle accepted, checked before any parsing (about 1.5 MB of payload).
pub const MAX_BUNDLE_BYTES: usize = 2 * 1024 * 1024;
/// Largest signed trust root accepted, checked before any parsing.
pub const MAX_ROOT_BYTES: usize = 64 * 1024;
/// Most signatures an envelope may carry: bounds the verification work an attacker can cause.
pub const MAX_SIGNATURES: usize = 16;

/// An Ed25519 public key (32 bytes), written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(#[serde(with = "serde_hex32")] [u8; 32]);

impl PublicKey {
    /// Wraps the 32 raw bytes of an Ed25519 public key.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(PublicKey)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's identifier: SHA-256 of the raw key, so an id can never name two keys.
    pub fn key_id(&self) -> KeyId {
        let d = digest::digest(&digest::SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        KeyId(out)
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, sig)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex(&self.0))
    }
}

/// A key's identifier: SHA-256 of its raw public key, written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyId(#[serde(with = "serde_hex32")] [u8; 32]);

impl KeyId {
    /// The first 8 hex digits, enough for a person to tell keys apart in a message.
    pub fn short(&self) -> String {
        hex(&self.0[..4])
    }

    /// Parses 64 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        crate::identity::unhex32(text).map(KeyId)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

/// A private Ed25519 key that signs bundles and roots. Signing is deterministic:
/// no randomness is drawn. Its `Debug` never shows the key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Reads a PKCS#8 document (v1 as OpenSSL writes it, or v2 as `portcullis keygen` writes it).
    pub fn from_pkcs8(der: &[u8]) -> crate::Result<Self> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|pair| SigningKey { pair })
            .map_err(|_| {
                PolicyError::Key("not an Ed25519 private key in PKCS#8 form".into()).into()
            })
    }

    /// Builds a key from a 32-byte seed (tests, benchmarks, fuzz seeds).
    pub fn from_seed(seed: &[u8; 32]) -> crate::Result<Self> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|pair| SigningKey { pair })
            .map_err(|_| PolicyError::Key("unusable Ed25519 seed".into()).into())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(self.pair.public_key().as_ref()).expect("Ed25519 keys are 32 bytes")
    }

    /// The public key's identifier.
    pub fn key_id(&self) -> KeyId {
        self.public_key().key_id()
    }

    fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, ..)", self.key_id().short())
    }
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The signing key's identifier.
    pub keyid: KeyId,
    /// The Ed25519 signature over [`pae`] of the payload type and payload.
    pub sig: [u8; 64],
}

/// A parsed envelope: the payload bytes and the signatures claimed over them.
/// Parsing checks form only; [`super::trust`] decides whether the signatures count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What the payload is (policy bundle, trust root, indicator collection); covered by the signatures.
    pub payload_type: String,
    /// The exact signed bytes.
    pub payload: Vec<u8>,
    /// Signatures, in the order they were added.
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope<'a> {
    #[serde(rename = "payloadType", borrow)]
    payload_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(borrow)]
    signatures: Vec<WireSignature<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature<'a> {
    #[serde(borrow)]
    keyid: Cow<'a, str>,
    #[serde(borrow)]
    sig: Cow<'a, str>,
}

impl Envelope {
    /// An unsigned envelope around `payload`.
    pub fn new(payload_type: &str, payload: Vec<u8>) -> Self {
        Envelope {
            payload_type: payload_type.to_owned(),
            payload,
            signatures: Vec::new(),
        }
    }

    /// Parses an envelope of at most `limit` bytes. The size is checked before any
    /// parsing; the envelope must be exactly in canonical form.
    pub fn parse(bytes: &[u8], limit: usize) -> Result<Envelope, PolicyError> {
        if bytes.len() > limit {
            return Err(PolicyError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        let wire: WireEnvelope<'_> = crate::json::from_slice(bytes).map_err(|e| {
            PolicyError::Envelope(format!(
                "not a valid envelope (line {}, column {}): {}",
                e.line(),
                e.column(),
                crate::json::describe_data(&e.to_string())
            ))
        })?;
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(PolicyError::TooManySignatures {
                count: wire.signatures.len(),
                limit: MAX_SIGNATURES,
            });
        }
        let payload = BASE64
            .decode(wire.payload.as_bytes())
            .map_err(|_| PolicyError::Envelope("payload is not canonical base64".into()))?;
        let mut signatures = Vec::with_capacity(wire.signatures.len());
        for (i, s) in wire.signatures.iter().enumerate() {
            let keyid = KeyId::parse(&s.keyid).ok_or_else(|| {
                PolicyError::Envelope(format!("signatures[{i}].keyid is not 64 hex digits"))
            })?;
            let sig: [u8; 64] = BASE64
                .decode(s.sig.as_bytes())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    PolicyError::Envelope(format!(
                        "signatures[{i}].sig is not a base64 Ed25519 signature (64 bytes)"
                    ))
                })?;
            signatures.push(EnvelopeSignature { keyid, sig });
        }
        let envelope = Envelope {
            payload_type: wire.payload_type.into_owned(),
            payload,
            signatures,
        };
        if envelope.to_bytes() != bytes {
            return Err(PolicyError::Envelope(
                "not in canonical form (it was edited or re-encoded after signing)".into(),
            ));
        }
        Ok(envelope)
    }

    /// The canonical bytes: compact JSON, fields in order, lower-case hex, padded base64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = BASE64.encode(&self.payload);
        let sigs: Vec<(String, String)> = self
            .signatures
            .iter()
            .map(|s| (s.keyid.to_string(), BASE64.encode(s.sig)))
            .collect();
        let wire = WireEnvelope {
            payload_type: Cow::Borrowed(&self.payload_type),
            payload: Cow::Owned(payload),
            signatures: sigs
                .iter()
                .map(|(k, s)| WireSignature {
                    keyid: Cow::Borrowed(k),
                    sig: Cow::Borrowed(s),
                })
                .collect(),
        };
        serde_json::to_vec(&wire).expect("an envelope always serialises")
    }

    /// The bytes each signature covers.
    pub fn signing_input(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// Adds `key`'s signature; a key that already signed is not added twice.
    pub fn sign(&mut self, key: &SigningKey) {
        let keyid = key.key_id();
        if self.signatures.iter().any(|s| s.keyid == keyid) {
            return;
        }
        let sig = key.sign(&self.signing_input());
        self.signatures.push(EnvelopeSignature { keyid, sig });
    }

    /// SHA-256 of the payload: the identity of what was signed.
    pub fn payload_sha256(&self) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, &self.payload);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
/// Binding the type into what is signed means a signed root can never pass as a
/// policy bundle, nor the reverse.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let header = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    let mut out = Vec::with_capacity(header.len() + payload.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32]).unwrap()
    }

    #[test]
    fn envelope_round_trips_and_is_canonical() {
        let mut env = Envelope::new(POLICY_PAYLOAD_TYPE, b"{\"a\":1}".to_vec());
        env.sign(&key(1));
        env.sign(&key(2));
        env.sign(&key(1));
        assert_eq!(env.signatures.len(), 2, "a key signs once");
        let bytes = env.to_bytes();
        assert_eq!(Envelope::parse(&bytes, MAX_BUNDLE_BYTES).unwrap(), env);
        let mut spaced = bytes.clone();
        spaced.push(b'\n');
        assert!(matches!(
            Envelope::parse(&spaced, MAX_BUNDLE_BYTES),
            Err(PolicyError::Envelope(_))
        ));
        let upper = String::from_utf8(bytes.clone()).unwrap().replace(
            &env.signatures[0].keyid.to_string(),
            &env.signatures[0].keyid.to_string().to_uppercase(),
        );
        assert!(Envelope::parse(upper.as_bytes(), MAX_BUNDLE_BYTES).is_err());
    }

    #[test]
    fn pae_matches_the_dsse_specification() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn signatures_verify_with_the_public_key_only() {
        let k = key(3);
        let mut env = Envelope::new(ROOT_PAYLOAD_TYPE, b"x".to_vec());
        env.sign(&k);
        let s = &env.signatures[0];
        assert!(k.public_key().verifies(&env.signing_input(), &s.sig));
        assert!(!key(4).public_key().verifies(&env.signing_input(), &s.sig));
        assert!(!format!("{k:?}").contains(&hex(&[3; 32])));
    }
}
