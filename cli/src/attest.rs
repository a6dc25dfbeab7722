//! `portcullis attest ...`: verify an Android key attestation chain at the console
//! (device integrity, issue 19). The phone cannot vouch for itself: the chain it sends
//! is checked here, against the Google roots, the challenge the console issued, and the
//! app the console expects. docs/attestation.md describes the flow.
//!
//! Exit status: 0 verified, 1 refused (the verdict says why), 2 unreadable or
//! malformed input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use portcullis_attest::{
    check_certification, decode_pem_chain, verify, Expectations, RevocationList, TrustAnchors,
    Verdict, VerifyOptions,
};

/// Exit status when the chain is refused.
const EXIT_REFUSED: u8 = 1;
/// Exit status when an input is unreadable or malformed.
const EXIT_BAD_INPUT: u8 = 2;

/// `portcullis attest` subcommands.
#[derive(Subcommand)]
pub(crate) enum AttestAction {
    /// Verify an Android key attestation chain and print the verdict; exit 1 if refused, 2 on bad input.
    Verify(Box<VerifyArgs>),
    /// Print the verdict's JSON Schema (docs/attestation-verdict.schema.json).
    Schema,
}

/// Arguments of `portcullis attest verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// The certificate chain the phone returned, PEM, leaf first.
    #[arg(long, value_name = "CHAIN.pem")]
    chain: PathBuf,
    /// The challenge the console issued for this attestation, in hex.
    #[arg(long, value_name = "HEX")]
    challenge: String,
    /// Extra trusted roots: a roots.json (JSON array of PEM strings) or a PEM file. Added to the built-in Google roots.
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
        AttestAction::Schema => {
            crate::out::raw(&Verdict::json_schema_text());
            ExitCode::SUCCESS
        }
        AttestAction::Verify(args) => match verify_args(&args) {
            Ok(verdict) => {
                match args.format {
                    // Package names and other record fields come from the phone: escaped.
                    AttestFormat::Text => {
                        for line in verdict.to_text().lines() {
                            outln!("{line}");
                        }
                    }
                    AttestFormat::Json => crate::out::json(&verdict.to_json_pretty()),
                }
                if verdict.verified {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_REFUSED)
                }
            }
            Err(message) => {
                crate::out::error(&message);
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
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
    if digits.is_empty() || digits.len() % 2 != 0 || !digits.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(format!("{flag}: expected an even number of hex digits"));
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex"))
        .collect())
}

fn verify_args(args: &VerifyArgs) -> Result<Verdict, String> {
    let chain_bytes = read(&args.chain, portcullis_attest::MAX_CHAIN_INPUT_BYTES)?;
    let chain = decode_pem_chain(&chain_bytes)
        .map_err(|e| format!("{}: {}", args.chain.display(), e.message))?;
    let challenge = hex_bytes("--challenge", &args.challenge)?;
    let signer = match &args.expect_signer {
        None => None,
        Some(text) => {
            let bytes = hex_bytes("--expect-signer", text)?;
            Some(<[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                "--expect-signer: a SHA-256 digest is 32 bytes (64 hex digits)".to_string()
            })?)
        }
    };
    let mut anchors = if args.replace_roots {
        TrustAnchors::empty()
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
    let now = match &args.now {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| format!("--now: not an RFC 3339 time: {text:?}"))?,
        None => jiff::Timestamp::from_millisecond(crate::common::now().as_unix_millis())
            .map_err(|e| format!("the clock: {e}"))?,
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
