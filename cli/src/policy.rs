//! `portcullis policy ...` and `portcullis root ...`: sign, co-sign and verify policy
//! bundles, create and sign trust roots, check policy documents, print the schema.
//!
//! Every failure is one line naming the file and the check that failed; no key
//! material is ever printed. Verification runs the same core code as the phone.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use portcullis_core::policy::trust::{KeyType, Role, Roles, RootKey, RootSchema};
use portcullis_core::policy::{
    check_bundle, policy_schema_text, verify_bundle, BundlePayload, BundleScope, DeviceScope,
    Envelope, Policy, TrustRoot, TrustedState, VerifiedPolicy, MAX_BUNDLE_BYTES, MAX_ROOT_BYTES,
    POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};

use crate::common::{help_for, now, now_arg, read, write};
use crate::keygen;
use crate::sign::{
    is_envelope, open_signed, print_signers, print_terms, sign_and_write, signable, SignInputs,
    Signed, SigningTerms, VerifyInputs,
};

/// `portcullis policy` subcommands.
#[derive(Subcommand)]
pub(crate) enum PolicyAction {
    /// Sign a policy document into a bundle, or add signatures to an existing bundle.
    Sign(SignArgs),
    /// Verify a bundle as a phone would; exit 0 with a summary, or 1 with the reason.
    Verify(VerifyArgs),
    /// Validate a policy document (unsigned) and summarise it.
    Check {
        /// The policy JSON file.
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Print the policy document's JSON Schema (the text of policies/policy.schema.json).
    Schema,
    /// Read a policy in another format into a Portcullis policy document; the fields it
    /// cannot apply are listed on standard error.
    Import(ImportArgs),
    /// Write a Portcullis policy in another format; the fields it cannot carry are listed
    /// on standard error.
    Export(ExportArgs),
}

/// Formats `policy import` reads.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ImportFormat {
    /// An Android Management API Policy resource (JSON).
    Amapi,
}

/// Formats `policy export` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    /// An Android Management API Policy resource (JSON): the Android half.
    Amapi,
    /// An Apple configuration profile (.mobileconfig, XML plist, unsigned): the iOS half.
    AppleProfile,
}

/// Arguments of `portcullis policy import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The format of the input.
    #[arg(long = "from")]
    from: ImportFormat,
    /// The policy file to read.
    input: PathBuf,
    /// The Portcullis policy the sections the format cannot express (SIM, inspection,
    /// telemetry, ...) are taken from. Default: the shipped baseline.
    #[arg(long)]
    base: Option<PathBuf>,
    /// Where to write the Portcullis policy. Default: standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `portcullis policy export`.
#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The format to write.
    #[arg(long = "to")]
    to: ExportFormat,
    /// The Portcullis policy file to read.
    input: PathBuf,
    /// Where to write the result. Default: standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    app_config: crate::apple::AppConfigArgs,
}

/// Arguments of `portcullis policy sign`.
#[derive(Args)]
#[command(
    mut_args(help_for("input", "The policy JSON to sign, or an existing bundle to add signatures to")),
    mut_arg("version", |a| a.help("Bundle version; must exceed the one devices applied. Default: the current Unix time in seconds")),
    mut_arg("root", |a| a.help("The signed trust root the bundle is for: sets the root version and checks the keys are policy keys")),
    mut_arg("root_version", |a| a.help("Root version the bundle is signed under, when --root is not given. Default: 1")),
)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    files: SignInputs,
    /// Where to write the bundle.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    terms: SigningTerms,
    /// A device id the bundle is for (repeatable).
    #[arg(long = "device")]
    devices: Vec<String>,
    /// A group the bundle is for (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
}

/// Arguments of `portcullis policy verify`.
#[derive(Args)]
#[command(mut_args(help_for("input", "The bundle")))]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    files: VerifyInputs,
    /// Check the scope for this device id.
    #[arg(long)]
    device: Option<String>,
    /// Check the scope for a device in this group (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The time to judge expiry at (RFC 3339). Default: now.
    #[arg(long)]
    now: Option<String>,
}

/// `portcullis root` subcommands.
#[derive(Subcommand)]
pub(crate) enum RootAction {
    /// Write an unsigned trust-root document naming the root and policy keys.
    Create(CreateRootArgs),
    /// Sign a root document into a signed root, or add signatures to a signed root.
    #[command(
        mut_args(help_for("keys", "A private key (PEM); repeat for several. A rotation needs the old root's keys and the new one's")),
        mut_args(help_for("input", "The root JSON from `root create`, or a signed root")),
    )]
    Sign {
        #[command(flatten)]
        files: SignInputs,
        /// Where to write the signed root.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `portcullis root create`.
#[derive(Args)]
pub(crate) struct CreateRootArgs {
    /// A public key (PEM) of the root role, which signs root rotations (repeatable; keep these offline).
    #[arg(long = "root-key", required = true)]
    root_keys: Vec<PathBuf>,
    /// How many root keys must sign a rotation.
    #[arg(long, default_value_t = 1)]
    root_threshold: u32,
    /// A public key (PEM) of the policy role, which signs bundles (repeatable).
    #[arg(long = "policy-key", required = true)]
    policy_keys: Vec<PathBuf>,
    /// How many policy keys must sign a bundle.
    #[arg(long, default_value_t = 1)]
    policy_threshold: u32,
    /// A public key (PEM) of the operations role, which signs console instructions:
    /// SIM-change authorisations, relayed carrier checks, lock and wipe (repeatable).
    /// A root without one accepts no instructions.
    #[arg(long = "operations-key")]
    operations_keys: Vec<PathBuf>,
    /// How many operations keys must sign an instruction.
    #[arg(long, default_value_t = 1, requires = "operations_keys")]
    operations_threshold: u32,
    /// Root version: 1 for the first, previous + 1 for a rotation.
    #[arg(long, default_value_t = 1)]
    version: u64,
    /// Whose root this is.
    #[arg(long, default_value = "")]
    description: String,
    /// Where to write the root document (JSON).
    #[arg(long)]
    out: PathBuf,
}

/// Runs a `policy` subcommand.
pub(crate) fn run(action: PolicyAction) -> Result<(), String> {
    match action {
        PolicyAction::Sign(args) => sign(&args).map_err(|e| format!("policy sign: {e}")),
        PolicyAction::Verify(args) => verify(&args).map_err(|e| format!("policy verify: {e}")),
        PolicyAction::Check { input } => check(&input).map_err(|e| format!("policy check: {e}")),
        PolicyAction::Schema => {
            crate::out::raw(&policy_schema_text());
            Ok(())
        }
        PolicyAction::Import(args) => import(&args).map_err(|e| format!("policy import: {e}")),
        PolicyAction::Export(args) => export(&args).map_err(|e| format!("policy export: {e}")),
    }
}

/// The shipped baseline, the default base of an import.
const BASELINE: &str = include_str!("../../policies/baseline.json");

fn emit(out: Option<&Path>, text: &str) -> Result<(), String> {
    match out {
        Some(path) => write(path, text.as_bytes()),
        None => {
            crate::out::raw(text);
            Ok(())
        }
    }
}

fn import(args: &ImportArgs) -> Result<(), String> {
    let bytes = read(&args.input)?;
    let base = match &args.base {
        Some(path) => {
            Policy::from_json(&read(path)?).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Policy::from_json(BASELINE.as_bytes())
            .map_err(|e| format!("the shipped baseline: {e}"))?,
    };
    let ImportFormat::Amapi = args.from;
    let imported = portcullis_core::policy::amapi::import(&bytes, &base)
        .map_err(|e| format!("{}: {e}", args.input.display()))?;
    let mut text = imported.policy.to_json_pretty();
    text.push('\n');
    emit(args.out.as_deref(), &text)?;
    for n in &imported.not_applied {
        eprintln!("not applied: {}: {}", n.path, n.why);
    }
    eprintln!(
        "{}: imported as \"{}\", {} AMAPI field(s) not applied",
        args.input.display(),
        imported.policy.name,
        imported.not_applied.len()
    );
    Ok(())
}

fn export(args: &ExportArgs) -> Result<(), String> {
    let bytes = read(&args.input)?;
    let policy = Policy::from_json(&bytes).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let (text, left_out) = match args.to {
        ExportFormat::Amapi => {
            let out = portcullis_core::policy::amapi::export(&policy);
            let mut text = serde_json::to_string_pretty(&out.document)
                .map_err(|e| format!("cannot write JSON: {e}"))?;
            text.push('\n');
            let left: Vec<(String, String)> = out
                .not_exported
                .into_iter()
                .map(|n| (n.path, n.why))
                .collect();
            (text, left)
        }
        ExportFormat::AppleProfile => crate::apple::profile(&policy)?,
    };
    if args.app_config.app_config.is_some() {
        if !matches!(args.to, ExportFormat::AppleProfile) {
            return Err("--app-config goes with --to apple-profile".into());
        }
        crate::apple::write_app_config(&args.app_config)?;
    }
    emit(args.out.as_deref(), &text)?;
    for (path, why) in &left_out {
        eprintln!("not exported: {path}: {why}");
    }
    eprintln!(
        "{}: exported, {} field(s) not exported",
        args.input.display(),
        left_out.len()
    );
    Ok(())
}

/// Runs a `root` subcommand.
pub(crate) fn run_root(action: RootAction) -> Result<(), String> {
    match action {
        RootAction::Create(args) => create_root(&args).map_err(|e| format!("root create: {e}")),
        RootAction::Sign { files, out } => {
            sign_root(&files, &out).map_err(|e| format!("root sign: {e}"))
        }
    }
}

signable!(BundlePayload {
    file: "bundle",
    document: "bundle",
    max_bytes: MAX_BUNDLE_BYTES,
    cosign: "policy sign --in BUNDLE",
    // Everything a phone checks but the scope, which names devices the console has.
    check: |state, bytes, at| check_bundle(state, bytes, at).map(drop),
});

fn sign(args: &SignArgs) -> Result<(), String> {
    let (keys, input) = args.files.read()?;
    let path = &args.files.input;
    let root = args.terms.load_root(&keys, &args.files.keys)?;
    let envelope = if is_envelope(&input) {
        if args.terms.any_given() || !args.devices.is_empty() || !args.groups.is_empty() {
            return Err(format!(
                "{} is already a bundle: only --key may be given to add signatures",
                path.display()
            ));
        }
        open_signed(
            &input,
            path,
            MAX_BUNDLE_BYTES,
            POLICY_PAYLOAD_TYPE,
            "a policy bundle",
        )?
    } else {
        let policy = Policy::from_json(&input).map_err(|e| format!("{}: {e}", path.display()))?;
        if args.devices.is_empty() && args.groups.is_empty() {
            return Err(
                "say which devices the bundle is for: --group NAME and/or --device ID (repeatable)"
                    .into(),
            );
        }
        let terms = args.terms.resolve(root.as_ref(), now())?;
        let payload = BundlePayload {
            version: terms.version,
            root_version: terms.root_version,
            issued_at: terms.issued_at,
            expires: terms.expires,
            scope: BundleScope {
                devices: args.devices.clone(),
                groups: args.groups.clone(),
            },
            policy,
        };
        payload.validate().map_err(|e| e.to_string())?;
        let bytes = serde_json::to_vec_pretty(&payload).map_err(|e| e.to_string())?;
        Envelope::new(POLICY_PAYLOAD_TYPE, bytes)
    };
    let signed: Signed<BundlePayload> =
        sign_and_write(envelope, &keys, root.as_ref(), path, &args.out)?;
    outln!(
        "wrote {} ({} bytes, {} signature(s))",
        args.out.display(),
        signed.len,
        signed.signatures
    );
    Ok(())
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let (state, bytes) = args.files.read()?;
    let at = now_arg(args.now.as_deref())?;
    let scoped = args.device.is_some() || !args.groups.is_empty();
    let verified = if scoped {
        let device = DeviceScope {
            device_id: args.device.clone().unwrap_or_default(),
            groups: args.groups.clone(),
        };
        verify_bundle(&state, &bytes, at, &device).map(|(v, _)| v)
    } else {
        check_bundle(&state, &bytes, at)
    }
    .map_err(|e| format!("{}: {e}", args.files.input.display()))?;
    print_summary(&args.files.input, &state, &verified, scoped);
    Ok(())
}

fn print_summary(path: &Path, state: &TrustedState, v: &VerifiedPolicy, scoped: bool) {
    let p = &v.payload;
    let list = |items: &[String]| {
        if items.is_empty() {
            "-".to_string()
        } else {
            items.join(", ")
        }
    };
    outln!("{}: valid policy bundle", path.display());
    outln!("  policy:      {}", p.policy.name);
    print_terms(p.version, p.root_version, p.issued_at, p.expires);
    outln!(
        "  scope:       groups {}; devices {}{}",
        list(&p.scope.groups),
        list(&p.scope.devices),
        if scoped {
            " (matches)"
        } else {
            " (not checked)"
        }
    );
    print_signers(state, &v.signed_by, &v.payload_sha256);
}

fn check(input: &Path) -> Result<(), String> {
    let bytes = read(input)?;
    let policy = Policy::from_json(&bytes).map_err(|e| format!("{}: {e}", input.display()))?;
    let sim = policy.sim_policy();
    outln!("{}: valid policy \"{}\"", input.display(), policy.name);
    outln!(
        "  apps:        {:?} mode, {} app rule(s)",
        policy.apps.mode,
        policy.apps.applications.len()
    );
    outln!(
        "  sim:         port-out window {} min, 2G {}",
        policy.sim.port_out_window_minutes,
        if sim.forbid_2g {
            "forbidden"
        } else {
            "allowed"
        }
    );
    outln!(
        "  inspection:  every {} day(s), {}-minute window",
        policy.inspection.cadence_days,
        policy.inspection.window_minutes
    );
    outln!(
        "  escalation:  {} rule(s)",
        policy.policy_enforcement_rules.len()
    );
    Ok(())
}

fn create_root(args: &CreateRootArgs) -> Result<(), String> {
    let mut keys = std::collections::BTreeMap::new();
    let mut role = |paths: &[PathBuf], threshold: u32| -> Result<Role, String> {
        let mut keyids = Vec::new();
        for path in paths {
            let public = keygen::read_public(path)?;
            let id = public.key_id();
            keys.insert(
                id,
                RootKey {
                    keytype: KeyType::Ed25519,
                    public,
                    label: path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                },
            );
            if !keyids.contains(&id) {
                keyids.push(id);
            }
        }
        Ok(Role { keyids, threshold })
    };
    let root_role = role(&args.root_keys, args.root_threshold)?;
    let policy_role = role(&args.policy_keys, args.policy_threshold)?;
    let operations_role = if args.operations_keys.is_empty() {
        None
    } else {
        Some(role(&args.operations_keys, args.operations_threshold)?)
    };
    let root = TrustRoot {
        schema: RootSchema::V1,
        version: args.version,
        description: args.description.clone(),
        keys,
        roles: Roles {
            root: root_role,
            policy: policy_role,
            operations: operations_role,
        },
    };
    root.validate().map_err(|e| e.to_string())?;
    let mut text = serde_json::to_string_pretty(&root).map_err(|e| e.to_string())?;
    text.push('\n');
    write(&args.out, text.as_bytes())?;
    outln!(
        "wrote {} (root version {}; sign it with `portcullis root sign`)",
        args.out.display(),
        root.version
    );
    Ok(())
}

fn sign_root(files: &SignInputs, out: &Path) -> Result<(), String> {
    let (keys, bytes) = files.read()?;
    let input = &files.input;
    let mut envelope = if is_envelope(&bytes) {
        open_signed(
            &bytes,
            input,
            MAX_ROOT_BYTES,
            ROOT_PAYLOAD_TYPE,
            "a signed root",
        )?
    } else {
        let root = TrustRoot::from_json(&bytes).map_err(|e| format!("{}: {e}", input.display()))?;
        let payload = serde_json::to_vec_pretty(&root).map_err(|e| e.to_string())?;
        Envelope::new(ROOT_PAYLOAD_TYPE, payload)
    };
    for key in &keys {
        envelope.sign(key);
    }
    let signed = envelope.to_bytes();
    write(out, &signed)?;
    let own = match TrustedState::enroll(&signed) {
        Ok(_) => "its own root threshold is met".to_string(),
        Err(e) => format!("not yet usable: {e}"),
    };
    outln!(
        "wrote {} ({} signature(s); {own})",
        out.display(),
        envelope.signatures.len()
    );
    Ok(())
}
