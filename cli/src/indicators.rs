//! `portcullis indicators ...`: sign STIX 2.1 indicator collections into separately
//! signed files for phones, co-sign them, and verify them as a phone would.
//!
//! The conventions are those of `portcullis policy`: the same keys (the trust root's
//! policy role), the same envelope, every failure one line naming the file and the
//! check, no key material ever printed. docs/policy-bundles.md describes the format.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis_core::inspection::{CollectionSummary, IndicatorSet};
use portcullis_core::policy::{
    Envelope, IndicatorsPayload, SignedIndicators, TrustedState, INDICATORS_PAYLOAD_TYPE,
    MAX_INDICATORS_BYTES,
};

use crate::common::{help_for, now, now_arg};
use crate::sign::{
    is_envelope, open_signed, print_signers, print_terms, sign_and_write, signable, SignInputs,
    Signed, SigningTerms, VerifyInputs,
};

/// `portcullis indicators` subcommands.
#[derive(Subcommand)]
pub(crate) enum IndicatorsAction {
    /// Sign a STIX 2.1 collection into a signed indicator file, or add signatures to one.
    Sign(SignArgs),
    /// Verify a signed indicator file as a phone would; exit 0 with a summary, or 1 with the reason.
    Verify(VerifyArgs),
}

/// Arguments of `portcullis indicators sign`.
#[derive(Args)]
#[command(
    mut_args(help_for("input", "The STIX 2.1 bundle to sign (`.stix2`), or a signed indicator file to add signatures to")),
    mut_arg("version", |a| a.help("Version; must exceed the one phones hold for this collection. Default: the current Unix time in seconds")),
    mut_arg("root", |a| a.help("The signed trust root the file is for: sets the root version and checks the keys are policy keys")),
    mut_arg("root_version", |a| a.help("Root version the file is signed under, when --root is not given. Default: 1")),
)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    files: SignInputs,
    /// The collection's label: findings name it, and a newer signing under the same label replaces it on phones (e.g. `predator`).
    #[arg(long)]
    collection: Option<String>,
    /// Where to write the signed file.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    terms: SigningTerms,
}

/// Arguments of `portcullis indicators verify`.
#[derive(Args)]
#[command(mut_args(help_for("input", "The signed indicator file")))]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    files: VerifyInputs,
    /// The time to judge expiry at (RFC 3339). Default: now.
    #[arg(long)]
    now: Option<String>,
}

/// Runs an `indicators` subcommand.
pub(crate) fn run(action: IndicatorsAction) -> Result<(), String> {
    match action {
        IndicatorsAction::Sign(args) => sign(&args).map_err(|e| format!("indicators sign: {e}")),
        IndicatorsAction::Verify(args) => {
            verify(&args).map_err(|e| format!("indicators verify: {e}"))
        }
    }
}

/// Loads a STIX bundle as the phone's inspection does; the error names the file.
fn load_stix(path: &Path, collection: &str, json: &str) -> Result<CollectionSummary, String> {
    IndicatorSet::new()
        .load_stix2(collection, json)
        .map_err(|e| format!("{}: {e}", path.display()))
}

signable!(IndicatorsPayload {
    file: "signed file",
    document: "collection",
    max_bytes: MAX_INDICATORS_BYTES,
    cosign: "indicators sign --in FILE",
    check: |state: &TrustedState, bytes, at| state.verify_indicators(bytes, at).map(drop),
});

fn sign(args: &SignArgs) -> Result<(), String> {
    let (keys, input) = args.files.read()?;
    let path = &args.files.input;
    let root = args.terms.load_root(&keys, &args.files.keys)?;
    let (envelope, summary) = if is_envelope(&input) {
        if args.collection.is_some() || args.terms.any_given() {
            return Err(format!(
                "{} is already signed: only --key may be given to add signatures",
                path.display()
            ));
        }
        let kind = "a signed indicator collection";
        let envelope = open_signed(
            &input,
            path,
            MAX_INDICATORS_BYTES,
            INDICATORS_PAYLOAD_TYPE,
            kind,
        )?;
        (envelope, None)
    } else {
        let collection = args.collection.as_deref().ok_or(
            "say which collection this is: --collection NAME (findings name it; e.g. the file's stem)",
        )?;
        let text = std::str::from_utf8(&input)
            .map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
        // Refuse what phones could not load, before signing it.
        let summary = load_stix(path, collection, text)?;
        let stix: serde_json::Value = portcullis_core::json::from_str(text).map_err(|e| {
            format!(
                "{}: {}",
                path.display(),
                portcullis_core::json::describe(&e)
            )
        })?;
        let terms = args.terms.resolve(root.as_ref(), now())?;
        let payload = IndicatorsPayload {
            collection: collection.to_owned(),
            version: terms.version,
            root_version: terms.root_version,
            issued_at: terms.issued_at,
            expires: terms.expires,
            stix,
        };
        payload.validate().map_err(|e| e.to_string())?;
        if summary.unparsed > 0 {
            outln!(
                "note: {} indicator(s) cannot be used by phones (`portcullis inspect` lists them)",
                summary.unparsed
            );
        }
        (
            Envelope::new(INDICATORS_PAYLOAD_TYPE, payload.to_bytes()),
            Some(summary),
        )
    };
    let signed: Signed<IndicatorsPayload> =
        sign_and_write(envelope, &keys, root.as_ref(), path, &args.out)?;
    let payload = signed.payload;
    let counts = summary
        .map(|s| format!(", {} indicator(s)", s.indicators))
        .unwrap_or_default();
    outln!(
        "wrote {} ({} bytes, {} signature(s); collection {} version {}{counts})",
        args.out.display(),
        signed.len,
        signed.signatures,
        payload.collection,
        payload.version
    );
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let (state, bytes) = args.files.read()?;
    let path = &args.files.input;
    let verified = state
        .verify_indicators(&bytes, now_arg(args.now.as_deref())?)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // The phone loads it next; a collection it cannot load is refused here too.
    let summary = load_stix(path, &verified.collection, &verified.stix_json)?;
    print_summary(path, &state, &verified, &summary);
    Ok(())
}

fn print_summary(path: &Path, state: &TrustedState, v: &SignedIndicators, s: &CollectionSummary) {
    outln!("{}: valid signed indicator collection", path.display());
    outln!("  collection:  {}", v.collection);
    print_terms(v.version, v.root_version, v.issued_at, v.expires);
    outln!(
        "  indicators:  {} usable, {} unparsed, {} note(s), {} malware object(s)",
        s.indicators,
        s.unparsed,
        s.notes,
        s.malware
    );
    print_signers(state, &v.signed_by, &v.payload_sha256);
}
