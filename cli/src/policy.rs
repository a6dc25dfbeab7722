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
    Envelope, Policy, SigningKey, TrustRoot, TrustedState, VerifiedPolicy, MAX_BUNDLE_BYTES,
    MAX_ROOT_BYTES, POLICY_PAYLOAD_TYPE, ROOT_PAYLOAD_TYPE,
};
use portcullis_core::Timestamp;

use crate::keygen;

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
    mut_arg("version", |a| a.help("Bundle version; must exceed the one devices applied. Default: the current Unix time in seconds")),
    mut_arg("root", |a| a.help("The signed trust root the bundle is for: sets the root version and checks the keys are policy keys")),
    mut_arg("root_version", |a| a.help("Root version the bundle is signed under, when --root is not given. Default: 1")),
)]
pub(crate) struct SignArgs {
    /// A private key (PEM) of the root's policy role; repeat to add several signatures.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// The policy JSON to sign, or an existing bundle to add signatures to.
    #[arg(long = "in")]
    input: PathBuf,
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

/// The terms `policy sign` and `indicators sign` put in what they sign: version, root
/// version, signing time and expiry. Each command words the first three helps for its
/// own files (`mut_arg`).
#[derive(Args)]
pub(crate) struct SigningTerms {
    /// Version; must exceed the one devices hold. Default: the current Unix time in seconds.
    #[arg(long)]
    version: Option<u64>,
    /// The signed trust root to sign for: sets the root version and checks the keys are policy keys.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Root version to sign under, when --root is not given. Default: 1.
    #[arg(long, conflicts_with = "root")]
    root_version: Option<u64>,
    /// Lifetime, e.g. 30d, 12h, 90m. Default: 30d.
    #[arg(long, conflicts_with = "expires")]
    expires_in: Option<String>,
    /// Expiry as an RFC 3339 time.
    #[arg(long)]
    expires: Option<String>,
    /// Signing time as an RFC 3339 time. Default: now.
    #[arg(long)]
    issued_at: Option<String>,
}

/// Signing terms resolved to the values a payload carries.
pub(crate) struct Terms {
    pub(crate) version: u64,
    pub(crate) root_version: u64,
    pub(crate) issued_at: Timestamp,
    pub(crate) expires: Timestamp,
}

impl SigningTerms {
    /// Whether a term for a new payload was given (`--root` aside), which adding
    /// signatures to an already signed input refuses.
    pub(crate) fn any_given(&self) -> bool {
        self.version.is_some()
            || self.root_version.is_some()
            || self.expires.is_some()
            || self.expires_in.is_some()
            || self.issued_at.is_some()
    }

    /// Loads `--root`, if given, and checks every key (read from the matching path) is
    /// one of its policy keys.
    pub(crate) fn load_root(
        &self,
        keys: &[SigningKey],
        key_paths: &[PathBuf],
    ) -> Result<Option<TrustedState>, String> {
        let root = self.root.as_deref().map(load_trust).transpose()?;
        if let Some(state) = &root {
            let policy_role = &state.root().roles.policy.keyids;
            for (key, path) in keys.iter().zip(key_paths) {
                if !policy_role.contains(&key.key_id()) {
                    return Err(format!(
                        "{}: key {}… is not a policy key of root version {}",
                        path.display(),
                        key.key_id().short(),
                        state.root().version
                    ));
                }
            }
        }
        Ok(root)
    }

    /// The payload's terms: signing time `now` and a 30-day lifetime unless given, the
    /// version the signing time in Unix seconds unless given, the root version that of
    /// `root` (or `--root-version`, or 1).
    pub(crate) fn resolve(
        &self,
        root: Option<&TrustedState>,
        now: Timestamp,
    ) -> Result<Terms, String> {
        let issued_at = match &self.issued_at {
            Some(t) => time_arg("--issued-at", t)?,
            None => now,
        };
        let expires = match (&self.expires, &self.expires_in) {
            (Some(t), _) => time_arg("--expires", t)?,
            (None, Some(d)) => issued_at.plus_millis(duration_ms(d)?),
            (None, None) => issued_at.plus_millis(30 * DAY_MS),
        };
        let version = match self.version {
            Some(v) => v,
            None => u64::try_from(issued_at.as_unix_millis() / 1000)
                .map_err(|_| "--issued-at is before 1970: give --version".to_string())?,
        };
        let root_version = match root {
            Some(state) => state.root().version,
            None => self.root_version.unwrap_or(1),
        };
        Ok(Terms {
            version,
            root_version,
            issued_at,
            expires,
        })
    }
}

/// Arguments of `portcullis policy verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// What the device trusts: a public key (PEM) or a signed trust root.
    #[arg(long)]
    trust: PathBuf,
    /// The bundle.
    #[arg(long = "in")]
    input: PathBuf,
    /// Signed root rotations to apply first, in order (repeatable).
    #[arg(long = "root-update")]
    root_updates: Vec<PathBuf>,
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
    Sign {
        /// A private key (PEM); repeat for several. A rotation needs the old root's keys and the new one's.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// The root JSON from `root create`, or a signed root.
        #[arg(long = "in")]
        input: PathBuf,
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

pub(crate) const DAY_MS: i64 = 24 * 60 * 60 * 1000;

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
        RootAction::Sign { keys, input, out } => {
            sign_root(&keys, &input, &out).map_err(|e| format!("root sign: {e}"))
        }
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) fn now() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_unix_millis(millis)
}

pub(crate) fn time_arg(flag: &str, text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
        .ok_or_else(|| format!("{flag}: expected an RFC 3339 time such as 2026-03-01T09:30:00Z"))
}

/// Parses `30d`, `12h`, `90m` or `3600s` into milliseconds.
pub(crate) fn duration_ms(text: &str) -> Result<i64, String> {
    let err = || "--expires-in: expected a duration such as 30d, 12h, 90m or 3600s".to_string();
    let unit_ms = match text.chars().last() {
        Some('d') => DAY_MS,
        Some('h') => 60 * 60 * 1000,
        Some('m') => 60 * 1000,
        Some('s') => 1000,
        _ => return Err(err()),
    };
    let n: i64 = text[..text.len() - 1].parse().map_err(|_| err())?;
    if n <= 0 {
        return Err(err());
    }
    n.checked_mul(unit_ms).ok_or_else(err)
}

pub(crate) fn read_keys(paths: &[PathBuf]) -> Result<Vec<SigningKey>, String> {
    paths.iter().map(|p| keygen::read_private(p)).collect()
}

pub(crate) fn is_envelope(bytes: &[u8]) -> bool {
    bytes.starts_with(b"{\"payloadType\":")
}

fn sign(args: &SignArgs) -> Result<(), String> {
    let keys = read_keys(&args.keys)?;
    let input = read(&args.input)?;
    let root = args.terms.load_root(&keys, &args.keys)?;
    let mut envelope = if is_envelope(&input) {
        if args.terms.any_given() || !args.devices.is_empty() || !args.groups.is_empty() {
            return Err(format!(
                "{} is already a bundle: only --key may be given to add signatures",
                args.input.display()
            ));
        }
        let envelope = Envelope::parse(&input, MAX_BUNDLE_BYTES)
            .map_err(|e| format!("{}: {e}", args.input.display()))?;
        if envelope.payload_type != POLICY_PAYLOAD_TYPE {
            return Err(format!("{} is not a policy bundle", args.input.display()));
        }
        envelope
    } else {
        let policy =
            Policy::from_json(&input).map_err(|e| format!("{}: {e}", args.input.display()))?;
        if args.devices.is_empty() && args.groups.is_empty() {
            return Err(
                "say which devices the bundle is for: --group NAME and/or --device ID (repeatable)"
                    .into(),
            );
        }
        let Terms {
            version,
            root_version,
            issued_at,
            expires,
        } = args.terms.resolve(root.as_ref(), now())?;
        let payload = BundlePayload {
            version,
            root_version,
            issued_at,
            expires,
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
    for key in &keys {
        envelope.sign(key);
    }
    let bytes = envelope.to_bytes();
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(format!(
            "the bundle would be {} bytes, over the {MAX_BUNDLE_BYTES}-byte limit phones accept",
            bytes.len()
        ));
    }
    let payload: BundlePayload = portcullis_core::json::from_slice(&envelope.payload)
        .map_err(|e| format!("{}: unreadable payload: {e}", args.input.display()))?;
    if payload.expires <= now() {
        outln!(
            "note: the bundle expired at {} by this machine's clock",
            payload.expires
        );
    }
    if let Some(state) = &root {
        // Check as a phone would at signing time (except scope), so a bundle that
        // would be refused is never shipped.
        check_as_phone(
            check_bundle(state, &bytes, payload.issued_at),
            "policy sign --in BUNDLE",
        )?;
    }
    write(&args.out, &bytes)?;
    outln!(
        "wrote {} ({} bytes, {} signature(s))",
        args.out.display(),
        bytes.len(),
        envelope.signatures.len()
    );
    Ok(())
}

/// Reads what a device trusts: a PEM public key (a single-key root) or a signed root.
pub(crate) fn load_trust(path: &Path) -> Result<TrustedState, String> {
    let bytes = read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    if keygen::is_public_pem(&text) {
        let key = keygen::parse_public(&text)
            .ok_or_else(|| format!("{}: not an Ed25519 public key in PEM", path.display()))?;
        TrustedState::from_root(TrustRoot::single_key(key, "single console key"))
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        TrustedState::enroll(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Checks what was just signed as a phone would, so a file that would be refused is
/// never shipped; too few signatures is only a note, as another signer may add theirs
/// with `portcullis {cosign}`.
pub(crate) fn check_as_phone<T>(
    result: Result<T, portcullis_core::Error>,
    cosign: &str,
) -> Result<(), String> {
    if let Err(e) = result {
        if !matches!(
            e,
            portcullis_core::Error::Policy(portcullis_core::policy::PolicyError::Threshold { .. })
        ) {
            return Err(e.to_string());
        }
        outln!("note: {e} (add signatures with another `{cosign}`)");
    }
    Ok(())
}

/// What a device trusts (`--trust`) after the signed root rotations (`--root-update`).
pub(crate) fn load_trust_updated(
    trust: &Path,
    updates: &[PathBuf],
) -> Result<TrustedState, String> {
    let mut state = load_trust(trust)?;
    for update in updates {
        let bytes = read(update)?;
        state
            .apply_root(&bytes)
            .map_err(|e| format!("{}: {e}", update.display()))?;
    }
    Ok(state)
}

/// The time to judge at: `--now`, or this machine's clock.
pub(crate) fn now_arg(text: Option<&str>) -> Result<Timestamp, String> {
    match text {
        Some(t) => time_arg("--now", t),
        None => Ok(now()),
    }
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let state = load_trust_updated(&args.trust, &args.root_updates)?;
    let bytes = read(&args.input)?;
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
    .map_err(|e| format!("{}: {e}", args.input.display()))?;
    print_summary(&args.input, &state, &verified, scoped);
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
    let signers: Vec<String> = v
        .signed_by
        .iter()
        .map(|k| format!("{}…", k.short()))
        .collect();
    outln!("{}: valid policy bundle", path.display());
    outln!("  policy:      {}", p.policy.name);
    outln!(
        "  version:     {} (root version {})",
        p.version,
        p.root_version
    );
    outln!("  issued at:   {}", p.issued_at);
    outln!("  expires:     {}", p.expires);
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
    outln!(
        "  signed by:   {} ({} of {} required)",
        signers.join(", "),
        v.signed_by.len(),
        state.root().roles.policy.threshold
    );
    outln!("  payload:     sha256 {}", v.payload_sha256);
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

fn sign_root(key_paths: &[PathBuf], input: &Path, out: &Path) -> Result<(), String> {
    let keys = read_keys(key_paths)?;
    let bytes = read(input)?;
    let mut envelope = if is_envelope(&bytes) {
        let envelope = Envelope::parse(&bytes, MAX_ROOT_BYTES)
            .map_err(|e| format!("{}: {e}", input.display()))?;
        if envelope.payload_type != ROOT_PAYLOAD_TYPE {
            return Err(format!("{} is not a signed root", input.display()));
        }
        envelope
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_or_fail_without_panicking() {
        assert_eq!(duration_ms("30d"), Ok(30 * DAY_MS));
        assert_eq!(duration_ms("90m"), Ok(90 * 60_000));
        for bad in ["", "d", "0d", "-1d", "3w", "3é", "é", "99999999999999999d"] {
            assert!(duration_ms(bad).is_err(), "{bad}");
        }
    }
}
