//! `portcullis evaluate`: judge a device snapshot against a policy document offline,
//! exactly as the agent's compliance engine does on the phone, and print the verdicts
//! and the actions the engine would request.
//!
//! Exit status: 0 when the device complies, 3 when a rule is non-compliant or could
//! not be judged (unknown is never compliant), 2 when an input is unreadable or
//! malformed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use portcullis_core::compliance::{
    mdm_remediations, Action, AttestationEvidence, ComplianceEngine, DeviceSnapshot, Evaluation,
    IntegrityInput, Measure, PreparedPolicy, RequestedAction, Route, Status, Verdict,
};
use portcullis_core::policy::model::SettingName;
use portcullis_core::policy::Policy;
use portcullis_core::Timestamp;
use serde_json::json;

/// Exit status when the device is not proven compliant.
const EXIT_NOT_COMPLIANT: u8 = 3;

/// Arguments of `portcullis evaluate`.
#[derive(Args)]
pub(crate) struct EvaluateArgs {
    /// The policy document (JSON, as in policies/).
    #[arg(long, value_name = "FILE.json", required_unless_present = "schema")]
    policy: Option<PathBuf>,
    /// The device snapshot (JSON, see docs/compliance.md).
    #[arg(long, value_name = "FILE.json", required_unless_present = "schema")]
    snapshot: Option<PathBuf>,
    /// Evaluation time, RFC 3339 (default: the snapshot's `collectedAt`, else now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// The attestation verdict (`portcullis attest verify --format json`) the policy's
    /// `deviceIntegrity` rules are judged on. Without it those rules are unknown: the
    /// phone cannot vouch for itself, so its own integrity hint is not used here.
    #[arg(long, value_name = "VERDICT.json")]
    attestation: Option<PathBuf>,
    /// Engine state to continue from and write back (created when missing): shows
    /// what a phone would report after its previous evaluations.
    #[arg(long, value_name = "FILE.json")]
    state: Option<PathBuf>,
    /// In text output, list every verdict, not only those needing attention.
    #[arg(long)]
    all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvaluateFormat::Text)]
    format: EvaluateFormat,
    /// Print the snapshot format's JSON Schema (policies/snapshot.schema.json) and exit.
    #[arg(long, exclusive = true)]
    schema: bool,
}

/// Output format of `evaluate`.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum EvaluateFormat {
    /// A report for a person.
    Text,
    /// One JSON object: sections, verdicts, actions, alerts.
    Json,
}

/// Runs the evaluation and turns its outcome into the exit status.
pub(crate) fn run(args: &EvaluateArgs) -> ExitCode {
    if args.schema {
        crate::out::raw(&DeviceSnapshot::json_schema_text());
        return ExitCode::SUCCESS;
    }
    let compliant = evaluate(args).map(|(policy, snapshot, evaluation, next)| {
        match args.format {
            EvaluateFormat::Text => print_text(&policy, &snapshot, &evaluation, next, args.all),
            EvaluateFormat::Json => {
                crate::out::json(&json_report(&policy, &snapshot, &evaluation, next));
            }
        }
        evaluation.is_compliant()
    });
    crate::out::judged(compliant, EXIT_NOT_COMPLIANT)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

type Outcome = (Policy, DeviceSnapshot, Evaluation, Option<Timestamp>);

fn evaluate(args: &EvaluateArgs) -> Result<Outcome, String> {
    let (Some(policy_path), Some(snapshot_path)) = (&args.policy, &args.snapshot) else {
        return Err("--policy and --snapshot are required".to_owned());
    };
    let policy = Policy::from_json(&read(policy_path)?)
        .map_err(|e| format!("{}: {e}", policy_path.display()))?;
    let mut snapshot = DeviceSnapshot::from_json(&read(snapshot_path)?)
        .map_err(|e| format!("{}: {e}", snapshot_path.display()))?;
    let evidence = match &args.attestation {
        Some(path) => Some(Box::new(
            AttestationEvidence::from_verdict_json(&read(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };
    snapshot.integrity_input = IntegrityInput::Console(evidence);
    let at = match &args.at {
        Some(text) => Timestamp::parse_rfc3339(text)
            .ok_or("--at: expected an RFC 3339 time such as 2026-03-01T09:30:00Z")?,
        None => snapshot.collected_at.unwrap_or_else(crate::common::now),
    };
    let mut engine = match &args.state {
        Some(path) if path.exists() => {
            let text = String::from_utf8(read(path)?)
                .map_err(|_| format!("{}: not UTF-8", path.display()))?;
            ComplianceEngine::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        _ => ComplianceEngine::new(),
    };
    let prepared = PreparedPolicy::new(&policy);
    let evaluation = engine.evaluate(&prepared, &snapshot, at);
    if let Some(path) = &args.state {
        std::fs::write(path, engine.to_json())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok((policy, snapshot, evaluation, engine.next_deadline()))
}

fn platform_name(snapshot: &DeviceSnapshot) -> &'static str {
    match snapshot.platform {
        portcullis_core::compliance::Platform::Android => "android",
        portcullis_core::compliance::Platform::Ios => "ios",
    }
}

const SECTIONS: [(SettingName, &str); 3] = [
    (SettingName::Apps, "apps"),
    (SettingName::Configuration, "configuration"),
    (SettingName::DeviceIntegrity, "deviceIntegrity"),
];

/// The sections shown: device integrity only when the policy sets a rule there.
fn sections_of(policy: &Policy) -> impl Iterator<Item = &'static (SettingName, &'static str)> {
    let integrity = policy.device_integrity.is_active();
    SECTIONS
        .iter()
        .filter(move |(s, _)| integrity || *s != SettingName::DeviceIntegrity)
}

fn json_report(
    policy: &Policy,
    snapshot: &DeviceSnapshot,
    evaluation: &Evaluation,
    next: Option<Timestamp>,
) -> serde_json::Value {
    let sections: serde_json::Map<String, serde_json::Value> = sections_of(policy)
        .map(|(s, name)| ((*name).to_owned(), json!(evaluation.section_status(*s))))
        .collect();
    json!({
        "policy": policy.name,
        "platform": platform_name(snapshot),
        "at": evaluation.at,
        "compliant": evaluation.is_compliant(),
        "sections": sections,
        "verdicts": evaluation.verdicts,
        "actions": evaluation.new_actions,
        "mdmRemediations": mdm_remediations(&evaluation.verdicts)
            .into_iter()
            .map(|(rule, r)| json!({"rule": rule, "remediation": r, "route": "MDM"}))
            .collect::<Vec<_>>(),
        "alerts": evaluation.new_alerts,
        "nextDeadline": next,
    })
}

/// One line describing a measure, e.g. `USER_RESTRICTION DISALLOW_CELLULAR_2G`.
fn describe_measure(m: &Measure) -> String {
    match m {
        Measure::UserRestriction { restriction } => {
            format!("USER_RESTRICTION {}", restriction.as_str())
        }
        Measure::UsbDataSignalingDisabled => "USB_DATA_SIGNALING_DISABLED".to_owned(),
        Measure::MaximumTimeToLock { millis } => format!("MAXIMUM_TIME_TO_LOCK {millis} ms"),
        Measure::MaximumFailedPasswordsForWipe { attempts } => {
            format!("MAXIMUM_FAILED_PASSWORDS_FOR_WIPE {attempts}")
        }
        Measure::RequiredPasswordComplexity { complexity } => format!(
            "REQUIRED_PASSWORD_COMPLEXITY {}",
            json!(complexity).as_str().unwrap_or_default()
        ),
        Measure::AlwaysOnVpn { package, lockdown } => format!(
            "ALWAYS_ON_VPN {package}{}",
            if *lockdown { " (lockdown)" } else { "" }
        ),
        Measure::PermittedAccessibilityServices { packages } => {
            if packages.is_empty() {
                "PERMITTED_ACCESSIBILITY_SERVICES system only".to_owned()
            } else {
                format!("PERMITTED_ACCESSIBILITY_SERVICES {}", packages.join(", "))
            }
        }
        Measure::UninstallBlocked { package } => format!("UNINSTALL_BLOCKED {package}"),
        Measure::PackageSuspended { package } => format!("PACKAGE_SUSPENDED {package}"),
        Measure::PackageHidden { package } => format!("PACKAGE_HIDDEN {package}"),
        Measure::AccessBlocked => "ACCESS_BLOCKED".to_owned(),
    }
}

fn describe_action(a: &RequestedAction) -> String {
    let what = match &a.action {
        Action::Apply { measure } => format!("APPLY  {}", describe_measure(measure)),
        Action::Lift { measure } => format!("LIFT   {}", describe_measure(measure)),
        Action::NotifyUser { notices } => format!("NOTIFY_USER  {} notice(s)", notices.len()),
        Action::RemoveCaCert { sha256 } => format!("REMOVE_CA_CERT  {sha256}"),
        Action::LockDevice => "LOCK_DEVICE".to_owned(),
        Action::WipeDevice { preserve_frp } => format!(
            "WIPE_DEVICE{}",
            if *preserve_frp {
                "  (factory-reset protection kept)"
            } else {
                ""
            }
        ),
    };
    let route = match a.route {
        Route::Agent => "agent",
        Route::Mdm => "mdm  ",
        Route::NotPossible(_) => "none ",
    };
    let why = a.route.not_possible_reason().map_or(String::new(), |r| {
        format!("  [not possible: {}]", r.as_str())
    });
    match &a.rule {
        Some(rule) => format!("{route}  {what}  ({rule}){why}"),
        None => format!("{route}  {what}{why}"),
    }
}

fn describe_verdict(v: &Verdict) -> String {
    let detail = match v.status {
        Status::NonCompliant => v.reasons.joined(),
        Status::Unknown => format!("not observed: {}", v.unobserved.joined()),
        _ => String::new(),
    };
    format!(
        "{:<15} {:<70} {}  [{}]",
        v.status.as_str(),
        v.rule.to_string(),
        detail,
        v.enforcement.as_str()
    )
}

fn print_text(
    policy: &Policy,
    snapshot: &DeviceSnapshot,
    evaluation: &Evaluation,
    next: Option<Timestamp>,
    all: bool,
) {
    outln!(
        "Policy \"{}\", {} snapshot, evaluated at {}",
        policy.name,
        platform_name(snapshot),
        evaluation.at
    );
    let sections: Vec<String> = sections_of(policy)
        .map(|(s, name)| format!("{name}: {}", evaluation.section_status(*s).as_str()))
        .collect();
    outln!(
        "Device: {}  ({})",
        if evaluation.is_compliant() {
            "COMPLIANT"
        } else {
            "NOT COMPLIANT"
        },
        sections.join(", ")
    );
    let apps = evaluation
        .verdicts
        .iter()
        .filter(|v| v.rule.app().is_some())
        .count();
    let open = evaluation.open_verdicts().count();
    outln!();
    outln!(
        "Verdicts: {} ({apps} app(s)), {open} need attention{}",
        evaluation.verdicts.len(),
        if all { "" } else { "; --all lists every one" }
    );
    for v in &evaluation.verdicts {
        if all || v.status.is_open() {
            outln!("  {}", describe_verdict(v).trim_end());
        }
    }
    outln!();
    outln!("Actions requested ({}):", evaluation.new_actions.len());
    for a in &evaluation.new_actions {
        outln!("  {}", describe_action(a));
        if let Action::NotifyUser { notices } = &a.action {
            for n in notices {
                outln!("           {}: {}", n.rule, n.reasons.joined());
            }
        }
    }
    let remediations = mdm_remediations(&evaluation.verdicts);
    if !remediations.is_empty() {
        outln!();
        outln!("Device integrity, for the MDM ({}):", remediations.len());
        for (rule, r) in &remediations {
            outln!("  mdm    {:<24} ({rule})", r.as_str());
        }
    }
    outln!();
    outln!("Alerts ({}):", evaluation.new_alerts.len());
    for alert in &evaluation.new_alerts {
        outln!(
            "  {:<9} {:<24} {}",
            alert.severity.as_str().to_uppercase(),
            alert.kind.as_str(),
            alert.summary
        );
    }
    if let Some(at) = next {
        outln!();
        outln!("Next escalation step due at {at}.");
    }
}
