//! `portcullis keygen`: an Ed25519 key pair for signing policy bundles or roots,
//! and the PEM forms the other policy commands read.
//!
//! The private key is PKCS#8 v1 (RFC 8410) in PEM (`PRIVATE KEY`), written with mode 0600 and
//! never overwritten; the public key is SubjectPublicKeyInfo in PEM (`PUBLIC KEY`),
//! the forms OpenSSL reads too. Nothing here ever prints key material: messages
//! name the file and the problem only.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use clap::Args;
use portcullis_core::policy::{PublicKey, SigningKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Arguments of `portcullis keygen`.
#[derive(Args)]
pub(crate) struct KeygenArgs {
    /// Folder to write NAME.key (private, mode 0600) and NAME.pub into; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Base name of the two files.
    #[arg(long, default_value = "portcullis-signing")]
    name: String,
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The DER prefix of an Ed25519 PKCS#8 v1 private key (RFC 8410), the form OpenSSL
/// writes and reads; the 32-byte seed follows.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Generates a key pair and writes it; refuses to overwrite existing files.
pub(crate) fn run(args: &KeygenArgs) -> Result<(), String> {
    if args.name.is_empty()
        || !args
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("keygen: --name may use letters, digits, - _ and . only".into());
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("keygen: cannot create {}: {e}", args.out.display()))?;
    let private_path = args.out.join(format!("{}.key", args.name));
    let public_path = args.out.join(format!("{}.pub", args.name));
    for path in [&private_path, &public_path] {
        if path.exists() {
            return Err(format!(
                "keygen: {} already exists; keys are never overwritten",
                path.display()
            ));
        }
    }
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| "keygen: the system random source failed".to_string())?;
    let mut pkcs8 = ED25519_PKCS8_V1_PREFIX.to_vec();
    pkcs8.extend_from_slice(&seed);
    seed.fill(0);
    let key = SigningKey::from_pkcs8(&pkcs8).map_err(|e| format!("keygen: {e}"))?;
    let written = write_private(&private_path, &pem("PRIVATE KEY", &pkcs8));
    pkcs8.fill(0);
    written?;
    let public = key.public_key();
    std::fs::write(&public_path, public_pem(&public))
        .map_err(|e| format!("keygen: cannot write {}: {e}", public_path.display()))?;
    outln!(
        "private key: {} (mode 0600; keep it offline)",
        private_path.display()
    );
    outln!("public key:  {}", public_path.display());
    outln!("key id:      {}", public.key_id());
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("keygen: cannot create {}: {e}", path.display()))?;
    // The mode passed to open is masked by the umask; set it explicitly as well.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("keygen: cannot write {}: {e}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("keygen: cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("keygen: cannot write {}: {e}", path.display()))
}

/// A public key in PEM (SubjectPublicKeyInfo).
pub(crate) fn public_pem(key: &PublicKey) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    pem("PUBLIC KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside a PEM block with `label`, or None. Never echoes the content.
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

/// Whether a file's text looks like a PEM public key.
pub(crate) fn is_public_pem(text: &str) -> bool {
    text.trim_start().starts_with("-----BEGIN PUBLIC KEY-----")
}

/// Reads a public key file written by `keygen` (or `openssl pkey -pubout`).
pub(crate) fn read_public(path: &Path) -> Result<PublicKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the public key {}: {e}", path.display()))?;
    parse_public(&text).ok_or_else(|| {
        format!(
            "{}: not an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)",
            path.display()
        )
    })
}

/// Parses a PEM Ed25519 public key.
pub(crate) fn parse_public(text: &str) -> Option<PublicKey> {
    let der = pem_body(text, "PUBLIC KEY")?;
    let raw = der.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    PublicKey::from_bytes(raw)
}

/// Reads a private key file written by `keygen` (or OpenSSL's PKCS#8 Ed25519).
pub(crate) fn read_private(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the private key file ({})", e.kind()))?;
    let der = pem_body(&text, "PRIVATE KEY").ok_or_else(|| {
        format!(
            "{}: not a private key in PEM (-----BEGIN PRIVATE KEY-----)",
            path.display()
        )
    })?;
    SigningKey::from_pkcs8(&der).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_pem_round_trips() {
        let key = SigningKey::from_seed(&[7; 32]).unwrap().public_key();
        let text = public_pem(&key);
        assert!(is_public_pem(&text));
        assert_eq!(parse_public(&text), Some(key));
        assert_eq!(
            parse_public("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            None
        );
    }
}
