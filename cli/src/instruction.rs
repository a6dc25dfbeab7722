//! `portcullis instruction ...`: sign console instructions for phones (SIM-change
//! authorisations, relayed carrier checks, the hygiene playbook) with the trust
//! root's operations keys, and check them as a phone would.
//!
//! Identifiers never pass through the command line: a SIM the office is about to fit
//! is named by its pins (`--expected-pins`, the output of `portcullis sim pin`), a
//! checked line by its pin (`--line-pin`), and free text that looks like a phone
//! number or ICCID is refused. docs/instructions.md describes the format.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use portcullis_core::instruction::{
    self, AuthorizeSimChange, CarrierCheck, CarrierOperation, CarrierRequest, InstructionBody,
    InstructionPayload, VerifiedInstruction,
};
use portcullis_core::policy::model::{IdentityPin, InstructionRules, PinnedIdentity};
use portcullis_core::policy::{BundleScope, DeviceScope, TrustedState};
use portcullis_core::sim::{CarrierApi, CarrierVerdict};
use portcullis_core::Timestamp;

use crate::common::{now, now_arg, read, time_arg, write};
use crate::sign::{load_trust, read_keys};

/// `portcullis instruction` subcommands.
#[derive(Subcommand)]
pub(crate) enum InstructionAction {
    /// Sign an instruction for one device or group with the root's operations keys.
    Sign(Box<SignArgs>),
    /// Check an instruction as a phone would and print what it would do; exit 1 if a phone would refuse it.
    Verify(VerifyArgs),
}

/// What the instruction asks for.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Open a SIM-change window (`--until`, `--reason`, optional `--slot`, `--expected-pins`).
    AuthorizeSimChange,
    /// Relay a carrier's CAMARA answer (`--api`, `--operation`, `--response`, ...).
    CarrierCheck,
    /// Lock the screen now.
    LockNow,
    /// Wipe the managed (work) data.
    WipeWorkData,
    /// Factory-reset the phone.
    WipeDevice,
    /// Open an inspection window now (`--reason`).
    StartInspection,
    /// New journal epoch and checkpoint; rotate platform keys.
    RotateKeys,
    /// Show the person carrying the phone a notice (`--title`, `--body`).
    ShowNotice,
    /// Close every open SIM-change window.
    RevokeAuthorizations,
    /// Attest the device key with a fresh challenge (`--challenge`, or 32 random bytes, printed).
    Attest,
}

/// Arguments of `portcullis instruction sign`.
#[derive(Args)]
pub(crate) struct SignArgs {
    /// A private key (PEM) of the root's operations role; repeat to meet a threshold.
    #[arg(long = "key", required = true)]
    keys: Vec<PathBuf>,
    /// What to ask of the phone.
    #[arg(long, value_enum)]
    kind: Kind,
    /// A device id the instruction is for (repeatable).
    #[arg(long = "device", required_unless_present = "groups")]
    devices: Vec<String>,
    /// A group the instruction is for (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// Must exceed every sequence the device accepted before and may not exceed --issued-at in Unix milliseconds: use the signing time in milliseconds.
    #[arg(long)]
    sequence: u64,
    /// The instruction's id, which outcomes refer to. Default: `<kind>-<sequence>`.
    #[arg(long)]
    id: Option<String>,
    /// When it is issued (RFC 3339). Default: now.
    #[arg(long)]
    issued_at: Option<String>,
    /// When phones stop accepting it (RFC 3339; at most 7 days after --issued-at). Default: 24 hours after --issued-at.
    #[arg(long)]
    expires: Option<String>,
    /// authorize-sim-change: the end of the window (at most 72 hours after --issued-at).
    #[arg(long)]
    until: Option<String>,
    /// authorize-sim-change, start-inspection: why (a ticket number; never an identifier).
    #[arg(long)]
    reason: Option<String>,
    /// authorize-sim-change: the slot (0-based); every slot when absent.
    #[arg(long)]
    slot: Option<u8>,
    /// authorize-sim-change: the pins of the SIM about to be fitted, as `portcullis sim pin` prints them.
    #[arg(long)]
    expected_pins: Option<PathBuf>,
    /// carrier-check: which CAMARA API answered.
    #[arg(long, value_enum)]
    api: Option<Api>,
    /// carrier-check: which operation was called.
    #[arg(long, value_enum)]
    operation: Option<Operation>,
    /// carrier-check: the pin of the checked number (64 hex digits); the device's first SIM when absent.
    #[arg(long)]
    line_pin: Option<String>,
    /// carrier-check: when the console asked (RFC 3339). Default: --issued-at.
    #[arg(long)]
    checked_at: Option<String>,
    /// carrier-check with --operation check: the period asked about, in hours (1 to 2400).
    #[arg(long)]
    max_age: Option<u32>,
    /// carrier-check: the response body exactly as the API returned it, from a file or `-` for stdin.
    #[arg(long)]
    response: Option<PathBuf>,
    /// wipe-work-data, wipe-device: keep factory-reset protection data.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    preserve_frp: bool,
    /// attest: the challenge, 16 to 32 bytes in hex; default 32 fresh random bytes. Keep it:
    /// `portcullis attest verify --challenge` needs it.
    #[arg(long)]
    challenge: Option<String>,
    /// show-notice: a short title.
    #[arg(long)]
    title: Option<String>,
    /// show-notice: the text.
    #[arg(long)]
    body: Option<String>,
    /// A signed trust root to check the signature against before writing.
    #[arg(long)]
    trust: Option<PathBuf>,
    /// Where to write the signed instruction.
    #[arg(long)]
    out: PathBuf,
}

/// The CAMARA API a carrier check came from.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Api {
    /// SIM Swap.
    #[value(name = "sim_swap", alias = "sim-swap")]
    SimSwap,
    /// Device Swap.
    #[value(name = "device_swap", alias = "device-swap")]
    DeviceSwap,
}

/// The CAMARA operation called.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Operation {
    /// `check` with `maxAge`.
    Check,
    /// `retrieve-date`.
    #[value(name = "retrieve_date", alias = "retrieve-date")]
    RetrieveDate,
}

/// Arguments of `portcullis instruction verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    /// What the device trusts: a signed trust root (or a public key PEM).
    #[arg(long)]
    trust: PathBuf,
    /// The device's id.
    #[arg(long)]
    device: String,
    /// A group the device belongs to (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The time to judge at (RFC 3339). Default: now.
    #[arg(long)]
    now: Option<String>,
    /// The signed instruction.
    #[arg(long = "in")]
    input: PathBuf,
}

/// Runs an `instruction` subcommand.
pub(crate) fn run(action: InstructionAction) -> Result<(), String> {
    match action {
        InstructionAction::Sign(args) => sign(&args).map_err(|e| format!("instruction sign: {e}")),
        InstructionAction::Verify(args) => {
            verify(&args).map_err(|e| format!("instruction verify: {e}"))
        }
    }
}

fn need<'a, T>(value: &'a Option<T>, flag: &str, kind: &str) -> Result<&'a T, String> {
    value
        .as_ref()
        .ok_or_else(|| format!("{flag} is required with --kind {kind}"))
}

fn sign(args: &SignArgs) -> Result<(), String> {
    let keys = read_keys(&args.keys)?;
    let issued_at = match &args.issued_at {
        Some(t) => time_arg("--issued-at", t)?,
        None => now(),
    };
    let expires = match &args.expires {
        Some(t) => time_arg("--expires", t)?,
        None => issued_at.plus_millis(24 * 3_600_000),
    };
    let body = body(args, issued_at)?;
    let id = args.id.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            body.kind().as_str().replace('_', "-"),
            args.sequence
        )
    });
    let payload = InstructionPayload {
        instruction_id: id,
        sequence: args.sequence,
        issued_at,
        expires,
        scope: BundleScope {
            devices: args.devices.clone(),
            groups: args.groups.clone(),
        },
        body,
    };
    let key_refs: Vec<_> = keys.iter().collect();
    let signed = payload.sign(&key_refs).map_err(|e| e.to_string())?;
    if let Some(trust) = &args.trust {
        let state = load_trust(trust)?;
        if let Err(e) = instruction::check(
            &state,
            &signed,
            issued_at,
            None,
            &InstructionRules::default(),
        ) {
            return Err(format!(
                "a phone trusting {} would refuse it: {e}",
                trust.display()
            ));
        }
    }
    write(&args.out, &signed)?;
    outln!(
        "wrote {} ({} {}, sequence {}, {} signature(s), expires {})",
        args.out.display(),
        payload.body.kind(),
        payload.instruction_id,
        payload.sequence,
        keys.len(),
        payload.expires
    );
    if let InstructionBody::Attest { challenge } = &payload.body {
        let hex: String = challenge.iter().map(|b| format!("{b:02x}")).collect();
        outln!("challenge {hex}");
    }
    Ok(())
}

fn body(args: &SignArgs, issued_at: Timestamp) -> Result<InstructionBody, String> {
    let kind_name = args
        .kind
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    let k = kind_name.as_str();
    Ok(match args.kind {
        Kind::AuthorizeSimChange => {
            let expected = match &args.expected_pins {
                Some(path) => {
                    let bytes = read(path)?;
                    Some(
                        portcullis_core::json::from_slice::<PinnedIdentity>(&bytes).map_err(
                            |e| {
                                format!(
                                "{}: not the pins `portcullis sim pin` prints (line {}, column {})",
                                path.display(),
                                e.line(),
                                e.column()
                            )
                            },
                        )?,
                    )
                }
                None => None,
            };
            InstructionBody::AuthorizeSimChange(AuthorizeSimChange {
                slot: args.slot,
                until: time_arg("--until", need(&args.until, "--until", k)?)?,
                reason: need(&args.reason, "--reason", k)?.clone(),
                expected,
            })
        }
        Kind::CarrierCheck => {
            let api = match need(&args.api, "--api", k)? {
                Api::SimSwap => CarrierApi::SimSwap,
                Api::DeviceSwap => CarrierApi::DeviceSwap,
            };
            let operation = match need(&args.operation, "--operation", k)? {
                Operation::Check => CarrierOperation::Check,
                Operation::RetrieveDate => CarrierOperation::RetrieveDate,
            };
            let line = match &args.line_pin {
                Some(text) => Some(parse_pin(text)?),
                None => None,
            };
            let response = read_response(need(&args.response, "--response", k)?)?;
            InstructionBody::CarrierCheck(CarrierCheck {
                api,
                operation,
                line,
                checked_at: match &args.checked_at {
                    Some(t) => time_arg("--checked-at", t)?,
                    None => issued_at,
                },
                request: CarrierRequest {
                    max_age: args.max_age,
                },
                response,
            })
        }
        Kind::LockNow => InstructionBody::LockNow,
        Kind::WipeWorkData => InstructionBody::WipeWorkData {
            preserve_frp: args.preserve_frp,
        },
        Kind::WipeDevice => InstructionBody::WipeDevice {
            preserve_frp: args.preserve_frp,
        },
        Kind::StartInspection => InstructionBody::StartInspection {
            reason: need(&args.reason, "--reason", k)?.clone(),
        },
        Kind::RotateKeys => InstructionBody::RotateKeys,
        Kind::ShowNotice => InstructionBody::ShowNotice {
            title: need(&args.title, "--title", k)?.clone(),
            body: need(&args.body, "--body", k)?.clone(),
        },
        Kind::RevokeAuthorizations => InstructionBody::RevokeAuthorizations,
        Kind::Attest => InstructionBody::Attest {
            challenge: match &args.challenge {
                Some(text) => Some(text.trim())
                    .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(portcullis_core::journal::unhex)
                    .ok_or("--challenge: expected hex digits")?,
                None => {
                    let mut bytes = [0u8; 32];
                    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
                        .map_err(|_| "no randomness for the challenge".to_owned())?;
                    bytes.to_vec()
                }
            },
        },
    })
}

fn parse_pin(text: &str) -> Result<IdentityPin, String> {
    serde_json::from_value::<IdentityPin>(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|_| "--line-pin: expected 64 lower-case hex digits (the output of `portcullis sim pin` for the msisdn)".to_owned())
}

/// Reads the carrier's response as-is: only surrounding white space is trimmed, and it
/// must be one JSON value.
fn read_response(path: &Path) -> Result<String, String> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .take(instruction::MAX_INSTRUCTION_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        text
    } else {
        String::from_utf8(read(path)?)
            .map_err(|_| format!("{}: the response is not UTF-8", path.display()))?
    };
    let text = text.trim().to_owned();
    portcullis_core::json::from_str::<&serde_json::value::RawValue>(&text).map_err(|e| {
        format!(
            "--response: not one JSON value (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    Ok(text)
}

fn verify(args: &VerifyArgs) -> Result<(), String> {
    let state: TrustedState = load_trust(&args.trust)?;
    let bytes = read(&args.input)?;
    let at = now_arg(args.now.as_deref())?;
    let device = DeviceScope {
        device_id: args.device.clone(),
        groups: args.groups.clone(),
    };
    let verified = instruction::check(
        &state,
        &bytes,
        at,
        Some(&device),
        &InstructionRules::default(),
    )
    .map_err(|e| format!("{}: a phone would refuse it: {e}", args.input.display()))?;
    print_plan(&args.input, &verified);
    Ok(())
}

fn print_plan(path: &Path, v: &VerifiedInstruction) {
    let p = &v.payload;
    outln!("{}: a phone would accept it", path.display());
    outln!("  instruction  {} ({})", p.instruction_id, p.body.kind());
    outln!(
        "  sequence     {} (accepted only above the device's highest)",
        p.sequence
    );
    outln!("  valid        {} to {}", p.issued_at, p.expires);
    outln!(
        "  signed by    {}",
        v.signed_by
            .iter()
            .map(|k| format!("{}…", k.short()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let plan = match &p.body {
        InstructionBody::AuthorizeSimChange(a) => format!(
            "open a SIM-change window until {} in {} for {}; raise sim_change_window_opened (info)",
            a.until,
            a.slot
                .map_or("every slot".to_owned(), |s| format!("slot {s}")),
            if a.expected.is_some() {
                "the SIM whose pins it names only"
            } else {
                "any SIM"
            }
        ),
        InstructionBody::CarrierCheck(c) => {
            let line = c
                .line
                .map_or("the first slot holding a SIM".to_owned(), |_| {
                    "the line whose pin it names".to_owned()
                });
            let verdict = match &v.carrier {
                Some(r) => match r.verdict {
                    CarrierVerdict::Changed { at: Some(t) } => format!("a change at {t}"),
                    CarrierVerdict::Changed { at: None } => "a change in the checked period".into(),
                    CarrierVerdict::NoChange => "no change".into(),
                    CarrierVerdict::Unknown => "nothing (the carrier did not say)".into(),
                },
                None => "nothing".into(),
            };
            format!(
                "judge a {} {} answer for {line}: the carrier reports {verdict}",
                c.api.as_str(),
                c.operation.as_str()
            )
        }
        InstructionBody::LockNow => "lock the screen now".into(),
        InstructionBody::WipeWorkData { preserve_frp } => {
            format!("wipe the managed data (factory-reset protection kept: {preserve_frp})")
        }
        InstructionBody::WipeDevice { preserve_frp } => {
            format!("factory-reset the phone (factory-reset protection kept: {preserve_frp})")
        }
        InstructionBody::StartInspection { reason } => {
            format!("open an inspection window now ({reason})")
        }
        InstructionBody::RotateKeys => {
            "start a new journal epoch with a signed checkpoint; rotate platform keys".into()
        }
        InstructionBody::ShowNotice { title, .. } => format!("show the notice \"{title}\""),
        InstructionBody::RevokeAuthorizations => "close every open SIM-change window".into(),
        InstructionBody::Attest { challenge } => format!(
            "generate an attested key with a {}-byte challenge, certify the checkpoint key with it, and send its chain",
            challenge.len()
        ),
    };
    outln!("  would        {plan}");
}
