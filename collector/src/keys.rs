//! The collector key: one Ed25519 key (PKCS#8 PEM, as `portcullis keygen` writes it)
//! that signs enrollments and receipts, and from which the key sealing each device's
//! journal key in the store is derived.
//!
//! The journal's epoch-0 key lets anyone holding it forge MACs for that device, so it is
//! never kept in clear text: it is sealed with ChaCha20-Poly1305 under
//! HKDF-SHA256(collector key), bound to the device id. A stolen store without the key file
//! reveals no journal key, and an enrollment row copied to another device id does not open.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::aead::{self, LessSafeKey, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use ring::{hkdf, hmac};

use crate::error::Error;

const SEAL_SALT: &[u8] = b"portcullis collector journal-key seal v1";

/// The collector's private key and what is derived from it. Its `Debug` shows nothing secret.
pub struct CollectorKey {
    pair: Ed25519KeyPair,
    seal: LessSafeKey,
}

impl std::fmt::Debug for CollectorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CollectorKey({}, ..)", hex(&self.public_key()[..4]))
    }
}

impl CollectorKey {
    /// Reads a `PRIVATE KEY` PEM file. Errors name the file, never its content.
    pub fn read(path: &std::path::Path) -> Result<CollectorKey, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Key(format!(
                "cannot read the collector key {}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        CollectorKey::from_pem(&text).map_err(|e| Error::Key(format!("{}: {e}", path.display())))
    }

    /// Parses a PKCS#8 Ed25519 private key in PEM.
    pub fn from_pem(text: &str) -> Result<CollectorKey, String> {
        let der = pem_body(text, "PRIVATE KEY")
            .ok_or("not a private key in PEM (-----BEGIN PRIVATE KEY-----)")?;
        CollectorKey::from_pkcs8(der)
    }

    /// Builds the key from PKCS#8 DER.
    pub fn from_pkcs8(der: Vec<u8>) -> Result<CollectorKey, String> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| "not an Ed25519 private key in PKCS#8 form".to_owned())?;
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT).extract(&der);
        let mut bytes = [0u8; 32];
        prk.expand(&[b"seal"], &CHACHA20_POLY1305)
            .and_then(|okm| okm.fill(&mut bytes))
            .map_err(|_| "cannot derive the sealing key".to_owned())?;
        let seal = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| "bad sealing key")?,
        );
        bytes.fill(0);
        Ok(CollectorKey { pair, seal })
    }

    /// The public key (what phones pin to check receipts).
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// The key pair, for the core's receipt signing.
    pub fn pair(&self) -> &Ed25519KeyPair {
        &self.pair
    }

    /// Signs with the collector key.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }

    /// Checks a signature made by [`CollectorKey::sign`].
    pub fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, self.public_key())
            .verify(message, sig)
            .is_ok()
    }

    /// Seals a journal key for `device_id`: nonce || ciphertext || tag.
    pub fn seal(&self, device_id: &str, key: &[u8; 32]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Key("the system random source failed".into()))?;
        let mut buf = key.to_vec();
        self.seal
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(device_id.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Key("cannot seal the journal key".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        buf.fill(0);
        Ok(out)
    }

    /// Opens a sealed journal key; fails if it was sealed for another device or another key.
    pub fn open(&self, device_id: &str, sealed: &[u8]) -> Result<[u8; 32], Error> {
        let bad = || {
            Error::Enrollment(format!(
                "the journal key of device {} does not open under this collector key",
                crate::label(device_id)
            ))
        };
        if sealed.len() != NONCE_LEN + 32 + CHACHA20_POLY1305.tag_len() {
            return Err(bad());
        }
        let nonce =
            aead::Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).map_err(|_| bad())?;
        let mut buf = sealed[NONCE_LEN..].to_vec();
        let plain = self
            .seal
            .open_in_place(nonce, aead::Aad::from(device_id.as_bytes()), &mut buf)
            .map_err(|_| bad())?;
        let mut out = [0u8; 32];
        out.copy_from_slice(plain);
        buf.fill(0);
        Ok(out)
    }
}

/// A short check value of a journal key: lets an operator compare what was enrolled
/// with what the phone exported, without revealing the key.
pub fn journal_key_check(key: &[u8; 32]) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        b"portcullis collector journal key check",
    );
    hex(&tag.as_ref()[..8])
}

/// Reads a journal key file: 64 hex digits (what the phone's export hands over).
pub fn read_journal_key(path: &std::path::Path) -> Result<[u8; 32], Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Key(format!(
            "cannot read the journal key file {}: {}",
            path.display(),
            e.kind()
        ))
    })?;
    portcullis_core::journal::unhex32(text.trim()).ok_or_else(|| {
        Error::Key(format!(
            "{}: the journal key must be 64 hex digits",
            path.display()
        ))
    })
}

/// Reads a checkpoint public key: 64 hex digits, or a `PUBLIC KEY` PEM, given inline or
/// as a file.
pub fn read_checkpoint_key(arg: &str) -> Result<[u8; 32], Error> {
    let parse = |text: &str| -> Option<[u8; 32]> {
        let text = text.trim();
        if let Some(key) = portcullis_core::journal::unhex32(text) {
            return Some(key);
        }
        let der = pem_body(text, "PUBLIC KEY")?;
        der.strip_prefix(&ED25519_SPKI_PREFIX[..])?.try_into().ok()
    };
    if let Some(key) = parse(arg) {
        return Ok(key);
    }
    let path = std::path::Path::new(arg);
    let text = std::fs::read_to_string(path).map_err(|_| {
        Error::Key(
            "--checkpoint-key must be 64 hex digits, or a file holding them or a PUBLIC KEY PEM"
                .into(),
        )
    })?;
    parse(&text).ok_or_else(|| {
        Error::Key(format!(
            "{}: not a checkpoint public key (64 hex digits or an Ed25519 PUBLIC KEY PEM)",
            path.display()
        ))
    })
}

const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let body: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    BASE64.decode(body).ok()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A PKCS#8 v1 key from a fixed seed, as `portcullis keygen` writes it.
    pub(crate) fn test_key(seed: u8) -> CollectorKey {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(&[seed; 32]);
        CollectorKey::from_pkcs8(der).unwrap()
    }

    #[test]
    fn sealed_keys_open_only_for_their_device_and_collector() {
        let key = test_key(1);
        let sealed = key.seal("dev-1", &[9; 32]).unwrap();
        assert_eq!(key.open("dev-1", &sealed).unwrap(), [9; 32]);
        assert!(key.open("dev-2", &sealed).is_err());
        assert!(test_key(2).open("dev-1", &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert!(key.open("dev-1", &flipped).is_err());
        // Two seals of one key differ (fresh nonces), so equal keys are not visible as equal rows.
        assert_ne!(sealed, key.seal("dev-1", &[9; 32]).unwrap());
    }

    #[test]
    fn checkpoint_keys_are_read_as_hex_or_pem() {
        let hex_key = "ab".repeat(32);
        assert_eq!(read_checkpoint_key(&hex_key).unwrap(), [0xab; 32]);
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&[0xcd; 32]);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(der)
        );
        assert_eq!(read_checkpoint_key(&pem).unwrap(), [0xcd; 32]);
        assert!(read_checkpoint_key("not-a-key").is_err());
    }
}
