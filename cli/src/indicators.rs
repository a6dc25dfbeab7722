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
use portcullis_core::Timestamp;

use crate::common::{now, now_arg, read};
use crate::sign::{
    is_envelope, load_trust_updated, read_keys, sign_and_write, Signable, Signed, SigningTerms,
    Terms,
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
    mut_arg("version", |a| a.help("Version; must exceed the one phones hold for this collection. Default: the current Unix time in seconds")),
    mut_arg("root", |a| a.help("The signed trust root the file is for: sets the root version and checks the keys are policy keys")),
    mut_arg("root_version", |a| a.help("Root version the file is signed under, when --root is not given. Default: 1")),
)]
pub(crate) struct SignArgs {
    /// A private key (PEM) of the root's policy role; repeat to add several signatures.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// The STIX 2.1 bundle to sign (`.stix2`), or a signed indicator file to add signatures to.
    #[arg(long = "in")]
    input: PathBuf,
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
pub(crate) struct VerifyArgs {
    /// What the device trusts: a public key (PEM) or a signed trust root.
    #[arg(long)]
    trust: PathBuf,
    /// The signed indicator file.
    #[arg(long = "in")]
    input: PathBuf,
    /// Signed root rotations to apply first, in order (repeatable).
    #[arg(long = "root-update")]
    root_updates: Vec<PathBuf>,
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

impl Signable for IndicatorsPayload {
    const FILE: &'static str = "signed file";
    const DOCUMENT: &'static str = "collection";
    const MAX_BYTES: usize = MAX_INDICATORS_BYTES;
    const COSIGN: &'static str = "indicators sign --in FILE";

    fn decode(payload: &[u8]) -> serde_json::Result<Self> {
        portcullis_core::json::from_slice(payload)
    }
    fn issued_at(&self) -> Timestamp {
        self.issued_at
    }
    fn expires(&self) -> Timestamp {
        self.expires
    }
    fn check_as_phone(
        state: &TrustedState,
        bytes: &[u8],
        at: Timestamp,
    ) -> Result<(), portcullis_core::Error> {
        state.verify_indicators(bytes, at).map(drop)
    }
}

fn sign(args: &SignArgs) -> Result<(), String> {
    let keys = read_keys(&args.keys)?;
    let input = read(&args.input)?;
    let root = args.terms.load_root(&keys, &args.keys)?;
    let (envelope, summary) = if is_envelope(&input) {
        if args.collection.is_some() || args.terms.any_given() {
            return Err(format!(
                "{} is already signed: only --key may be given to add signatures",
                args.input.display()
            ));
        }
        let envelope = Envelope::parse(&input, MAX_INDICATORS_BYTES)
            .map_err(|e| format!("{}: {e}", args.input.display()))?;
        if envelope.payload_type != INDICATORS_PAYLOAD_TYPE {
            return Err(format!(
                "{} is not a signed indicator collection",
                args.input.display()
            ));
        }
        (envelope, None)
    } else {
        let collection = args.collection.as_deref().ok_or(
            "say which collection this is: --collection NAME (findings name it; e.g. the file's stem)",
        )?;
        let text = std::str::from_utf8(&input)
            .map_err(|_| format!("{}: not UTF-8 text", args.input.display()))?;
        // Refuse what phones could not load, before signing it.
        let summary = load_stix(&args.input, collection, text)?;
        let stix: serde_json::Value = portcullis_core::json::from_str(text).map_err(|e| {
            format!(
                "{}: {}",
                args.input.display(),
                portcullis_core::json::describe(&e)
            )
        })?;
        let Terms {
            version,
            root_version,
            issued_at,
            expires,
        } = args.terms.resolve(root.as_ref(), now())?;
        let payload = IndicatorsPayload {
            collection: collection.to_owned(),
            version,
            root_version,
            issued_at,
            expires,
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
        sign_and_write(envelope, &keys, root.as_ref(), &args.input, &args.out)?;
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
    let state = load_trust_updated(&args.trust, &args.root_updates)?;
    let bytes = read(&args.input)?;
    let at = now_arg(args.now.as_deref())?;
    let verified = state
        .verify_indicators(&bytes, at)
        .map_err(|e| format!("{}: {e}", args.input.display()))?;
    // The phone loads it next; a collection it cannot load is refused here too.
    let summary = load_stix(&args.input, &verified.collection, &verified.stix_json)?;
    print_summary(&args.input, &state, &verified, &summary);
    Ok(())
}

fn print_summary(path: &Path, state: &TrustedState, v: &SignedIndicators, s: &CollectionSummary) {
    let signers: Vec<String> = v
        .signed_by
        .iter()
        .map(|k| format!("{}…", k.short()))
        .collect();
    outln!("{}: valid signed indicator collection", path.display());
    outln!("  collection:  {}", v.collection);
    outln!(
        "  version:     {} (root version {})",
        v.version,
        v.root_version
    );
    outln!("  issued at:   {}", v.issued_at);
    outln!("  expires:     {}", v.expires);
    outln!(
        "  indicators:  {} usable, {} unparsed, {} note(s), {} malware object(s)",
        s.indicators,
        s.unparsed,
        s.notes,
        s.malware
    );
    outln!(
        "  signed by:   {} ({} of {} required)",
        signers.join(", "),
        v.signed_by.len(),
        state.root().roles.policy.threshold
    );
    outln!("  payload:     sha256 {}", v.payload_sha256);
}
