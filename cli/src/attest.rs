//! `portcullis attest ...`: verify an Android key attestation chain, or an iOS App
//! Attest attestation object, at the console (device integrity, issue 19). The phone
//! cannot vouch for itself: what it sends is checked here, against the Google roots (or
//! Apple's App Attest root), the challenge the console issued, and the app the console
//! expects. docs/attestation.md describes the flow.
//!
//! Exit status: 0 verified, 1 refused (the verdict says why), 2 unreadable or
//! malformed input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use clap::{Args, Subcommand, ValueEnum};
use portcullis_attest::app_attest::MAX_ATTESTATION_OBJECT_BYTES;
use portcullis_attest::{
    check_certification, decode_pem_chain, verify, verify_app_attest, AppAttestExpectations,
    AppAttestOptions, AppAttestVerdict, Expectations, RevocationList, TrustAnchors, Verdict,
    VerifyOptions,
};

/// Exit status when the chain is refused.
const EXIT_REFUSED: u8 = 1;

/// `portcullis attest` subcommands.
#[derive(Subcommand)]
pub(crate) enum AttestAction {
    /// Verify an Android key attestation chain or an iOS App Attest object and print the verdict; exit 1 if refused, 2 on bad input.
    Verify(Box<VerifyArgs>),
    /// Print the verdict's JSON Schema (docs/attestation-verdict.schema.json, or docs/app-attest-verdict.schema.json with --platform ios).
    Schema(SchemaArgs),
    /// Reassemble an Android attestation's console messages (keys portcullis.attestation.N) into a PEM chain for `attest verify`.
    Assemble(AssembleArgs),
}

/// Arguments of `portcullis attest assemble`.
#[derive(Args)]
pub(crate) struct AssembleArgs {
    /// The console messages: a JSON array (or JSON lines) of objects with `key` and `data`, as the MDM reports keyed app states; other keys are skipped.
    #[arg(long, value_name = "MESSAGES.json")]
    messages: PathBuf,
    /// Where to write the certificate chain, PEM, leaf first.
    #[arg(long, value_name = "CHAIN.pem")]
    out: PathBuf,
}

/// The platform whose attestation is verified.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Platform {
    /// Android key attestation: a certificate chain (--chain).
    Android,
    /// iOS App Attest: an attestation object (--attestation).
    Ios,
}

/// Arguments of `portcullis attest schema`.
#[derive(Args)]
pub(crate) struct SchemaArgs {
    /// Whose verdict: the Android one, or the iOS App Attest one.
    #[arg(long, value_enum, default_value_t = Platform::Android)]
    platform: Platform,
}

/// Arguments of `portcullis attest verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// Android: a key attestation chain (--chain); iOS: an App Attest object (--attestation).
    #[arg(long, value_enum, default_value_t = Platform::Android)]
    platform: Platform,
    /// Android: the certificate chain the phone returned, PEM, leaf first.
    #[arg(long, value_name = "CHAIN.pem")]
    chain: Option<PathBuf>,
    /// iOS: the attestation object `attestKey` returned, CBOR (raw, or base64 text).
    #[arg(long, value_name = "FILE")]
    attestation: Option<PathBuf>,
    /// The challenge the console issued for this attestation, in hex. iOS: the app passed its SHA-256 to `attestKey`.
    #[arg(long, value_name = "HEX", conflicts_with = "client_data")]
    challenge: Option<String>,
    /// iOS: the client data whose SHA-256 the app passed to `attestKey`, when it is a document carrying the challenge.
    #[arg(long, value_name = "FILE")]
    client_data: Option<PathBuf>,
    /// iOS: the key id the app reported with the object (base64, as `generateKey` returns it).
    #[arg(long, value_name = "B64")]
    key_id: Option<String>,
    /// iOS: the App ID the key must belong to, TEAMID.bundle.id.
    #[arg(long, value_name = "TEAMID.BUNDLE")]
    expect_app_id: Option<String>,
    /// iOS: accept a key attested in Apple's development environment (refused by default).
    #[arg(long)]
    allow_development: bool,
    /// Extra trusted roots: a roots.json (JSON array of PEM strings) or a PEM file. Added to the built-in Google roots (iOS: Apple's App Attest root).
    #[arg(long, value_name = "ROOTS.json")]
    roots: Option<PathBuf>,
    /// Trust only the roots of --roots, not the built-in ones.
    #[arg(long, requires = "roots")]
    replace_roots: bool,
    /// The attestation revocation status list (JSON, serial numbers in hex or decimal).
    #[arg(long, value_name = "STATUS.json")]
    revocations: Option<PathBuf>,
    /// A package name the attesting app must have.
    #[arg(long, value_name = "ID")]
    expect_package: Option<String>,
    /// The SHA-256 of the attesting app's signing certificate (64 hex digits, colons allowed).
    #[arg(long, value_name = "SHA256")]
    expect_signer: Option<String>,
    /// The phone's checkpoint-signing public key (Ed25519, 64 hex digits) as pinned at
    /// enrollment: with --certification, check that the attested key certified it.
    #[arg(long, value_name = "HEX", requires = "certification")]
    checkpoint_key: Option<String>,
    /// The attested key's signature (DER, hex) over the checkpoint-key certification, as
    /// the phone sent it with the chain.
    #[arg(long, value_name = "HEX", requires = "checkpoint_key")]
    certification: Option<String>,
    /// The verification time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AttestFormat::Text)]
    format: AttestFormat,
}

/// Output format of `attest verify`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum AttestFormat {
    /// A report for a person.
    Text,
    /// The verdict as JSON (docs/attestation-verdict.schema.json).
    Json,
}

/// Runs an `attest` subcommand and turns its outcome into the exit status.
pub(crate) fn run(action: AttestAction) -> ExitCode {
    match action {
        AttestAction::Schema(args) => {
            crate::out::raw(&match args.platform {
                Platform::Android => Verdict::json_schema_text(),
                Platform::Ios => AppAttestVerdict::json_schema_text(),
            });
            ExitCode::SUCCESS
        }
        AttestAction::Assemble(args) => match assemble(&args) {
            Ok(lines) => {
                for line in lines {
                    outln!("{line}");
                }
                ExitCode::SUCCESS
            }
            Err(message) => {
                crate::out::error(&message);
                ExitCode::from(crate::out::EXIT_BAD_INPUT)
            }
        },
        AttestAction::Verify(args) => {
            let verified = verify_args(&args).map(|verdict| {
                let (text, json, verified) = match &verdict {
                    Outcome::Android(v) => (v.to_text(), v.to_json_pretty(), v.verified),
                    Outcome::Ios(v) => (v.to_text(), v.to_json_pretty(), v.verified),
                };
                match args.format {
                    // Package names and other record fields come from the phone: escaped.
                    AttestFormat::Text => {
                        for line in text.lines() {
                            outln!("{line}");
                        }
                    }
                    AttestFormat::Json => crate::out::json(&json),
                }
                verified
            });
            crate::out::judged(verified, EXIT_REFUSED)
        }
    }
}

fn read(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!(
            "{} has {} bytes; at most {limit} are read",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn hex_bytes(flag: &str, text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(format!("{flag}: expected an even number of hex digits"));
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex"))
        .collect())
}

/// The largest messages file read: 64 parts of about 1 KiB, with room for other messages.
const MAX_MESSAGES_BYTES: usize = 4 * 1024 * 1024;

/// The `data` texts of the attestation parts among `messages`.
fn attestation_parts(text: &str) -> Result<Vec<String>, String> {
    let trimmed = text.trim_start();
    let items: Vec<serde_json::Value> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array of messages: {e}"))?
    } else {
        trimmed
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))
            })
            .collect::<Result<_, _>>()?
    };
    let prefix = portcullis_core::console::ATTESTATION_KEY_PREFIX;
    let mut parts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = item.get("key").and_then(serde_json::Value::as_str);
        if key.is_some_and(|k| !k.starts_with(prefix)) {
            continue;
        }
        match item.get("data") {
            Some(serde_json::Value::String(data)) => parts.push(data.clone()),
            _ => return Err(format!("message {}: no `data` string", i + 1)),
        }
    }
    if parts.is_empty() {
        return Err(format!("no message with a key {prefix}N"));
    }
    Ok(parts)
}

fn assemble(args: &AssembleArgs) -> Result<Vec<String>, String> {
    let bytes = read(&args.messages, MAX_MESSAGES_BYTES)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| format!("{}: not UTF-8", args.messages.display()))?;
    let parts = attestation_parts(text).map_err(|e| format!("{}: {e}", args.messages.display()))?;
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let sub = portcullis_core::console::assemble_attestation(&refs)
        .map_err(|e| format!("{}: {e}", args.messages.display()))?;
    std::fs::write(&args.out, sub.chain_pem())
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok(vec![
        format!(
            "chain:          {} certificate(s), written to {}",
            sub.chain.len(),
            args.out.display()
        ),
        format!("instruction:    {}", sub.instruction_id),
        format!("challenge:      {}", hex(&sub.challenge)),
        format!("certification:  {}", hex(&sub.certification)),
        format!(
            "StrongBox:      {}",
            if sub.strong_box {
                "yes"
            } else if sub.strong_box_fallback {
                "no (unavailable, the TEE made the key)"
            } else {
                "no"
            }
        ),
    ])
}

/// The verdict of either platform.
enum Outcome {
    Android(Box<Verdict>),
    Ios(Box<AppAttestVerdict>),
}

/// Refuses the options of the other platform, naming the first one given.
fn refuse_options(platform: &str, given: &[(&str, bool)]) -> Result<(), String> {
    match given.iter().find(|(_, present)| *present) {
        Some((flag, _)) => Err(format!("{flag} does not apply to --platform {platform}")),
        None => Ok(()),
    }
}

fn verify_args(args: &VerifyArgs) -> Result<Outcome, String> {
    let now = match &args.now {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| format!("--now: not an RFC 3339 time: {text:?}"))?,
        None => jiff::Timestamp::from_millisecond(crate::common::now().as_unix_millis())
            .map_err(|e| format!("the clock: {e}"))?,
    };
    let mut anchors = if args.replace_roots {
        TrustAnchors::empty()
    } else if args.platform == Platform::Ios {
        TrustAnchors::app_attest()
    } else {
        TrustAnchors::builtin()
    };
    if let Some(path) = &args.roots {
        let bytes = read(path, 1024 * 1024)?;
        let added = if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            TrustAnchors::from_roots_json(&bytes)
        } else {
            TrustAnchors::from_pem(&bytes)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        anchors.extend(added);
    }
    match args.platform {
        Platform::Android => {
            verify_android(args, anchors, now).map(|v| Outcome::Android(Box::new(v)))
        }
        Platform::Ios => verify_ios(args, anchors, now).map(|v| Outcome::Ios(Box::new(v))),
    }
}

/// The attestation object: raw CBOR, or base64 text of it (as apps usually send it).
fn attestation_object(path: &Path) -> Result<Vec<u8>, String> {
    // Base64 of the largest object is a third longer.
    let bytes = read(path, MAX_ATTESTATION_OBJECT_BYTES / 3 * 4 + 1024)?;
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let base64_text = !text.is_empty()
        && text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=-_".contains(b));
    if !base64_text {
        return Ok(bytes);
    }
    let engine = if text.iter().any(|b| b"-_".contains(b)) {
        &base64::engine::general_purpose::URL_SAFE
    } else {
        &base64::engine::general_purpose::STANDARD
    };
    // Padding is optional in what apps send: strip it, then pad as the engine wants.
    let mut padded: Vec<u8> = text.into_iter().filter(|b| *b != b'=').collect();
    while !padded.len().is_multiple_of(4) {
        padded.push(b'=');
    }
    engine
        .decode(&padded)
        .map_err(|e| format!("{}: neither CBOR nor base64: {e}", path.display()))
}

fn verify_ios(
    args: &VerifyArgs,
    anchors: TrustAnchors,
    now: jiff::Timestamp,
) -> Result<AppAttestVerdict, String> {
    refuse_options(
        "ios",
        &[
            ("--chain", args.chain.is_some()),
            ("--revocations", args.revocations.is_some()),
            ("--expect-package", args.expect_package.is_some()),
            ("--expect-signer", args.expect_signer.is_some()),
            ("--checkpoint-key", args.checkpoint_key.is_some()),
        ],
    )?;
    let path = args
        .attestation
        .as_ref()
        .ok_or("--platform ios needs --attestation FILE")?;
    let object = attestation_object(path)?;
    let client_data = match (&args.challenge, &args.client_data) {
        (Some(hex), None) => hex_bytes("--challenge", hex)?,
        (None, Some(file)) => read(file, 1024 * 1024)?,
        _ => return Err("--platform ios needs --challenge HEX or --client-data FILE".into()),
    };
    let key_id_text = args
        .key_id
        .as_deref()
        .ok_or("--platform ios needs --key-id B64")?;
    let key_id = base64::engine::general_purpose::STANDARD
        .decode(key_id_text.trim())
        .ok()
        .and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
        .ok_or("--key-id: expected the base64 of 32 bytes (a SHA-256 key id)")?;
    let app_id = args
        .expect_app_id
        .as_deref()
        .ok_or("--platform ios needs --expect-app-id TEAMID.BUNDLE")?;
    match app_id.split_once('.') {
        Some((team, bundle)) if !team.is_empty() && !bundle.is_empty() => {}
        _ => {
            return Err(format!(
                "--expect-app-id: {app_id:?} is not TEAMID.bundle.id"
            ))
        }
    }
    let options = AppAttestOptions {
        anchors,
        allow_development: args.allow_development,
    };
    let expect = AppAttestExpectations::new(app_id, &client_data, key_id);
    Ok(verify_app_attest(&object, &options, &expect, now))
}

fn verify_android(
    args: &VerifyArgs,
    anchors: TrustAnchors,
    now: jiff::Timestamp,
) -> Result<Verdict, String> {
    refuse_options(
        "android",
        &[
            ("--attestation", args.attestation.is_some()),
            ("--client-data", args.client_data.is_some()),
            ("--key-id", args.key_id.is_some()),
            ("--expect-app-id", args.expect_app_id.is_some()),
            ("--allow-development", args.allow_development),
        ],
    )?;
    let chain_path = args
        .chain
        .as_ref()
        .ok_or("--platform android needs --chain CHAIN.pem")?;
    let chain_bytes = read(chain_path, portcullis_attest::MAX_CHAIN_INPUT_BYTES)?;
    let chain = decode_pem_chain(&chain_bytes)
        .map_err(|e| format!("{}: {}", chain_path.display(), e.message))?;
    let challenge = hex_bytes(
        "--challenge",
        args.challenge
            .as_deref()
            .ok_or("--platform android needs --challenge HEX")?,
    )?;
    let signer = match &args.expect_signer {
        None => None,
        Some(text) => {
            let bytes = hex_bytes("--expect-signer", text)?;
            Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                "--expect-signer: a SHA-256 digest is 32 bytes (64 hex digits)".to_string()
            })?)
        }
    };
    let revocations = match &args.revocations {
        None => None,
        Some(path) => Some(
            RevocationList::from_json(&read(
                path,
                portcullis_attest::revocation::MAX_STATUS_BYTES,
            )?)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
    };
    let options = VerifyOptions {
        anchors,
        revocations,
        allow_software_root: false,
    };
    let certification = match (&args.checkpoint_key, &args.certification) {
        (Some(key), Some(sig)) => {
            let key = <[u8; 32]>::try_from(hex_bytes("--checkpoint-key", key)?.as_slice())
                .map_err(|_| "--checkpoint-key: an Ed25519 key is 32 bytes (64 hex digits)")?;
            Some((key, hex_bytes("--certification", sig)?))
        }
        _ => None,
    };
    let expect = Expectations {
        challenge,
        package: args.expect_package.clone(),
        signer,
    };
    let mut verdict = verify(&chain, &options, &expect, now);
    if let (Some((key, signature)), true) = (certification, verdict.verified) {
        let statement =
            portcullis_core::journal::checkpoint_key_certification(&expect.challenge, &key);
        check_certification(&mut verdict, &chain[0], &statement, &signature);
    }
    Ok(verdict)
}
