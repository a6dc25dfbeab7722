//! The one message format the console reads from a phone: `portcullis/console/v1`.
//!
//! Every message is a key, a two-level severity, one line of text and a compact JSON
//! `data` object, within the limits of an Android keyed app state (key ≤ 100,
//! message ≤ 1,000, data ≤ 1,000 UTF-16 units, as Java's `String.length()` counts);
//! iOS managed app feedback carries the same strings. The native layers only hand the
//! strings on. Content that would not fit is summarised here, deterministically: text
//! fields are cut at a character boundary with an ellipsis, lists are shortened from
//! the end and `left_out` counts what was dropped. The schema is
//! `docs/console-message.schema.json`.

use serde_json::{json, Map, Value};

use crate::agent::{
    BundleSync, HandedAction, IndicatorSync, InstructionAction, InstructionsSync,
    ManagedConfigSync, RootSync, SyncHeadline,
};
use crate::alert::{Alert, Severity};
use crate::compliance::Route;
use crate::policy::AppliedPolicy;
use crate::time::Timestamp;

/// The format's name, in every message's `data.format`.
pub const FORMAT: &str = "portcullis/console/v1";
/// Longest key, in UTF-16 units (`KeyedAppState.MAX_KEY_LENGTH`).
pub const MAX_KEY_UNITS: usize = 100;
/// Longest message, in UTF-16 units (`KeyedAppState.MAX_MESSAGE_LENGTH`).
pub const MAX_MESSAGE_UNITS: usize = 1000;
/// Longest `data`, in UTF-16 units (`KeyedAppState.MAX_DATA_LENGTH`).
pub const MAX_DATA_UNITS: usize = 1000;

/// Key of the managed-configuration sync state (one key: each sync replaces the last).
pub const POLICY_KEY: &str = "portcullis.policy";
/// Key of the compliance summary.
pub const COMPLIANCE_KEY: &str = "portcullis.compliance";
/// Key of the inspection summary.
pub const INSPECTION_KEY: &str = "portcullis.inspection";
/// Key of the last telemetry batch's outcome.
pub const TELEMETRY_KEY: &str = "portcullis.telemetry";
/// Key of the last instruction pass.
pub const INSTRUCTIONS_KEY: &str = "portcullis.instructions";
/// Prefix of alert keys: one key per alert, so alerts raised before the MDM collects
/// them do not overwrite each other.
pub const ALERT_KEY_PREFIX: &str = "portcullis.alert.";
/// Prefix of the keys of an attestation's parts, `portcullis.attestation.<part>` from 1:
/// a new attestation replaces the last one's.
pub const ATTESTATION_KEY_PREFIX: &str = "portcullis.attestation.";
/// Base64 characters of the chain per attestation part, so every part's data fits.
const ATTESTATION_CHUNK: usize = 480;
/// Most parts an attestation is sent in (8 certificates of 16 KiB would need more;
/// real chains need 5 to 12).
pub const MAX_ATTESTATION_PARTS: usize = 99;
/// Prefix of keys of actions handed to the MDM, one per action.
pub const ACTION_KEY_PREFIX: &str = "portcullis.instruction.";

const MAX_REASON_UNITS: usize = 240;
const MAX_NAME_UNITS: usize = 64;
const MAX_SUMMARY_UNITS: usize = 400;
const MAX_EVIDENCE_UNITS: usize = 200;
const ELLIPSIS: char = '\u{2026}';

/// The two severities a keyed app state has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleSeverity {
    /// Nothing for the security team to act on.
    Info,
    /// Something to act on.
    Error,
}

impl ConsoleSeverity {
    /// Medium and above are errors: the channel has only two levels.
    pub fn of(severity: Severity) -> Self {
        match severity {
            Severity::Info | Severity::Low => ConsoleSeverity::Info,
            Severity::Medium | Severity::High | Severity::Critical => ConsoleSeverity::Error,
        }
    }

    /// `info` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleSeverity::Info => "info",
            ConsoleSeverity::Error => "error",
        }
    }
}

/// One message for the console, every field within its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleMessage {
    /// The keyed app state's key (the feedback dictionary's key on iOS).
    pub key: String,
    /// Info or error.
    pub severity: ConsoleSeverity,
    /// One line for the console's screen.
    pub message: String,
    /// Compact JSON, `format` = [`FORMAT`].
    pub data: String,
}

/// Length as Java and the keyed-app-states limits count it.
pub fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` on one line, cut to at most `max` UTF-16 units at a character boundary,
/// ending in an ellipsis when cut (none when `ellipsis` is false).
pub fn fit_text(text: &str, max: usize, ellipsis: bool) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if utf16_len(&line) <= max {
        return line;
    }
    let budget = max.saturating_sub(usize::from(ellipsis));
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        out.push(c);
    }
    if ellipsis && max > 0 {
        out.push(ELLIPSIS);
    }
    out
}

fn s(text: &str, max: usize) -> Value {
    Value::String(fit_text(text, max, true))
}

fn ts(t: Timestamp) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn head(kind: &str, at: Timestamp) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("format".into(), FORMAT.into());
    m.insert("type".into(), kind.into());
    m.insert("at".into(), ts(at));
    m
}

/// `data` within [`MAX_DATA_UNITS`]: entries are dropped from the end of the `lists`
/// (in that order) and counted in `left_out`; if that is not enough, only `keep` and
/// the head fields remain, with `truncated`.
fn fit_data(mut data: Map<String, Value>, lists: &[&str], keep: &[&str]) -> String {
    let mut left_out = 0u64;
    loop {
        if left_out > 0 {
            data.insert("left_out".into(), left_out.into());
        }
        let text = Value::Object(data.clone()).to_string();
        if utf16_len(&text) <= MAX_DATA_UNITS {
            return text;
        }
        let popped = lists.iter().any(|name| {
            data.get_mut(*name)
                .and_then(Value::as_array_mut)
                .and_then(Vec::pop)
                .is_some()
        });
        if popped {
            left_out += 1;
            continue;
        }
        let mut small = Map::new();
        for name in ["format", "type", "at"].iter().chain(keep) {
            if let Some(v) = data.get(*name) {
                small.insert((*name).into(), v.clone());
            }
        }
        small.insert("truncated".into(), true.into());
        return Value::Object(small).to_string();
    }
}

fn message(key: String, severity: ConsoleSeverity, text: &str, data: String) -> ConsoleMessage {
    ConsoleMessage {
        key: fit_text(&key, MAX_KEY_UNITS, false),
        severity,
        message: fit_text(text, MAX_MESSAGE_UNITS, true),
        data,
    }
}

/// An alert: key `portcullis.alert.<id>.<kind>`; evidence is dropped from the end when
/// the data would not fit.
pub fn alert(alert: &Alert) -> ConsoleMessage {
    let f = &alert.finding;
    let kind = f.kind.as_str();
    let mut data = head("alert", f.at);
    data.insert("id".into(), alert.id.into());
    data.insert("kind".into(), kind.into());
    data.insert("severity".into(), alert.severity.as_str().into());
    data.insert("slot".into(), f.slot.map_or(Value::Null, Value::from));
    data.insert("detector".into(), s(&f.detector, MAX_NAME_UNITS));
    data.insert("detector_version".into(), f.detector_version.into());
    data.insert("attempts".into(), alert.delivery_attempts.into());
    data.insert("summary".into(), s(&f.summary, MAX_SUMMARY_UNITS));
    let evidence: Vec<Value> = f
        .evidence
        .iter()
        .map(|(k, v)| json!({ "key": fit_text(k, MAX_NAME_UNITS, true), "value": fit_text(v, MAX_EVIDENCE_UNITS, true) }))
        .collect();
    data.insert("evidence".into(), evidence.into());
    let slot = f.slot.map(|s| format!(" (slot {s})")).unwrap_or_default();
    let text = format!(
        "[{}] {kind}{slot}: {}",
        alert.severity.as_str().to_uppercase(),
        f.summary
    );
    message(
        format!("{ALERT_KEY_PREFIX}{}.{kind}", alert.id),
        ConsoleSeverity::of(alert.severity),
        &text,
        fit_data(data, &["evidence"], &["id", "kind", "severity"]),
    )
}

fn policy_value(p: &AppliedPolicy) -> Value {
    json!({
        "version": p.version,
        "root_version": p.root_version,
        "payload_sha256": p.payload_sha256.to_string(),
        "expires": ts(p.expires),
    })
}

fn refusal_value(outcome: &str, r: &crate::agent::Refusal) -> Value {
    json!({
        "outcome": outcome,
        "code": fit_text(&r.code, MAX_NAME_UNITS, true),
        "reason": fit_text(&r.reason, MAX_REASON_UNITS, true),
        "remembered": r.remembered,
    })
}

fn problem_value(outcome: &str, p: &crate::agent::ConfigProblem) -> Value {
    json!({ "outcome": outcome, "key": p.key, "reason": fit_text(&p.reason, MAX_REASON_UNITS, true) })
}

/// The managed-configuration sync, key `portcullis.policy`: what the headline says in the
/// message, every part in the data. Never carries a bundle, a root or an envelope.
pub fn policy_sync(sync: &ManagedConfigSync, at: Timestamp) -> ConsoleMessage {
    let headline = sync.headline();
    let installed = matches!(sync.trust_root, RootSync::Installed { .. });
    let rotated = match sync.trust_root {
        RootSync::Rotated { to, .. } => format!(" (trust root rotated to version {to})"),
        _ => String::new(),
    };
    let installed_note = if installed {
        " (trust root installed)"
    } else {
        ""
    };
    let (state, mut text) = match &headline {
        SyncHeadline::Applied | SyncHeadline::InForce => {
            let version = sync.in_force.as_ref().map_or(0, |p| p.version);
            if headline == SyncHeadline::Applied {
                (
                    "applied",
                    format!("policy version {version} applied{installed_note}{rotated}"),
                )
            } else {
                (
                    "in_force",
                    format!("policy version {version} in force{rotated}"),
                )
            }
        }
        SyncHeadline::NoBundle => (
            "no_bundle",
            format!("no policy_bundle configured{installed_note}{rotated}"),
        ),
        SyncHeadline::Rejected { input, refusal } => (
            "rejected",
            format!(
                "{input} refused: {}{}",
                refusal.code,
                sync.in_force
                    .as_ref()
                    .map(|p| format!(" (policy version {} stays in force)", p.version))
                    .unwrap_or_default()
            ),
        ),
        SyncHeadline::Problem(p) => (
            "problem",
            format!("managed configuration not applied: {} {}", p.key, p.reason),
        ),
    };
    let refused_collections = sync
        .indicators
        .iter()
        .filter(|i| matches!(i, IndicatorSync::Refused(_)))
        .count();
    let unloaded_collections = sync
        .indicators
        .iter()
        .filter(|i| matches!(i, IndicatorSync::NotLoaded(_)))
        .count();
    if refused_collections > 0 {
        text.push_str(&format!(
            "; {refused_collections} indicator collection(s) refused"
        ));
    }
    if unloaded_collections > 0 {
        text.push_str(&format!(
            "; {unloaded_collections} indicator collection(s) not loaded"
        ));
    }
    let instructions_not_applied = matches!(sync.instructions, InstructionsSync::NotApplied(_));
    if instructions_not_applied {
        text.push_str("; instructions not applied");
    }
    if !sync.problems.is_empty() {
        text.push_str(&format!(
            "; {} configuration problem(s)",
            sync.problems.len()
        ));
    }
    let mut refused_instructions = 0;
    let instructions = match &sync.instructions {
        InstructionsSync::NotConfigured => json!({ "outcome": "not_configured" }),
        InstructionsSync::NotApplied(p) => problem_value("not_applied", p),
        InstructionsSync::Applied(outcomes) => {
            let tally = tally(outcomes.iter().map(InstructionTally::from));
            refused_instructions = tally.refused;
            if tally.refused > 0 {
                text.push_str(&format!("; {} instruction(s) refused", tally.refused));
            }
            tally.value("applied")
        }
    };
    // Anything the console must fix makes the state an error, not only the headline.
    let error = sync.is_error()
        || refused_collections > 0
        || unloaded_collections > 0
        || refused_instructions > 0
        || instructions_not_applied
        || !sync.problems.is_empty();

    let mut data = head("policy_sync", at);
    data.insert("state".into(), state.into());
    if let SyncHeadline::Rejected { input, refusal } = &headline {
        data.insert("input".into(), (*input).into());
        data.insert("code".into(), s(&refusal.code, MAX_NAME_UNITS));
    }
    data.insert(
        "policy".into(),
        sync.in_force.as_ref().map_or(Value::Null, policy_value),
    );
    let root = match &sync.trust_root {
        RootSync::NotConfigured => json!({ "outcome": "not_configured" }),
        RootSync::Installed { version } => json!({ "outcome": "installed", "version": version }),
        RootSync::Rotated { from, to } => {
            json!({ "outcome": "rotated", "from": from, "version": to })
        }
        RootSync::Unchanged { version } => json!({ "outcome": "unchanged", "version": version }),
        RootSync::Refused(r) => refusal_value("refused", r),
        RootSync::NotInstalled(p) => problem_value("not_installed", p),
    };
    data.insert("trust_root".into(), root);
    let bundle = match &sync.policy {
        BundleSync::NotConfigured => json!({ "outcome": "not_configured" }),
        BundleSync::Applied(p) => json!({ "outcome": "applied", "version": p.version }),
        BundleSync::Unchanged(p) => json!({ "outcome": "unchanged", "version": p.version }),
        BundleSync::Refused(r) => refusal_value("refused", r),
        BundleSync::NotApplied(p) => problem_value("not_applied", p),
    };
    data.insert("bundle".into(), bundle);
    let indicators: Vec<Value> = sync
        .indicators
        .iter()
        .map(|i| match i {
            IndicatorSync::InUse {
                collection,
                version,
            } => json!({ "outcome": "in_use", "collection": fit_text(collection, MAX_NAME_UNITS, true), "version": version }),
            IndicatorSync::Refused(r) => refusal_value("refused", r),
            IndicatorSync::NotLoaded(p) => problem_value("not_loaded", p),
        })
        .collect();
    data.insert("indicators".into(), indicators.into());
    data.insert("instructions".into(), instructions);
    let problems: Vec<Value> = sync
        .problems
        .iter()
        .map(|p| json!({ "key": p.key, "reason": fit_text(&p.reason, MAX_REASON_UNITS, true) }))
        .collect();
    data.insert("problems".into(), problems.into());
    message(
        POLICY_KEY.into(),
        if error {
            ConsoleSeverity::Error
        } else {
            ConsoleSeverity::Info
        },
        &text,
        fit_data(
            data,
            &["indicators", "problems"],
            &["state", "input", "code"],
        ),
    )
}

/// A sync that failed for want of storage or the device key (nothing decided; the next
/// sync tries again), key `portcullis.policy`. `error` is the error's short name.
pub fn policy_sync_failed(error: &str, at: Timestamp) -> ConsoleMessage {
    let name = short_name(error);
    let mut data = head("policy_sync", at);
    data.insert("state".into(), "failed".into());
    data.insert("error".into(), name.clone().into());
    message(
        POLICY_KEY.into(),
        ConsoleSeverity::Error,
        &format!("policy not applied: {name} (retried at the next sync)"),
        fit_data(data, &[], &["state", "error"]),
    )
}

/// Letters, digits and `_` only, at most 64: an error's name, never its text.
fn short_name(text: &str) -> String {
    let name: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_NAME_UNITS)
        .collect();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// One instruction's outcome, as counted in a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionTally {
    /// Verified and carried out.
    Applied {
        /// Its sequence.
        sequence: u64,
    },
    /// Accepted before.
    Unchanged {
        /// Its sequence.
        sequence: u64,
    },
    /// Refused with this code.
    Refused {
        /// The refusal code.
        code: String,
    },
}

impl From<&crate::agent::InstructionOutcome> for InstructionTally {
    fn from(o: &crate::agent::InstructionOutcome) -> Self {
        use crate::agent::InstructionOutcome as O;
        match o {
            O::Applied(a) => InstructionTally::Applied {
                sequence: a.sequence,
            },
            O::Unchanged { sequence, .. } => InstructionTally::Unchanged {
                sequence: *sequence,
            },
            O::Refused(r) => InstructionTally::Refused {
                code: r.code.to_owned(),
            },
        }
    }
}

struct Tally {
    applied: usize,
    unchanged: usize,
    refused: usize,
    codes: Vec<String>,
    highest: Option<u64>,
}

fn tally(outcomes: impl Iterator<Item = InstructionTally>) -> Tally {
    let mut t = Tally {
        applied: 0,
        unchanged: 0,
        refused: 0,
        codes: Vec::new(),
        highest: None,
    };
    for o in outcomes {
        match o {
            InstructionTally::Applied { sequence } | InstructionTally::Unchanged { sequence } => {
                if matches!(o, InstructionTally::Applied { .. }) {
                    t.applied += 1;
                } else {
                    t.unchanged += 1;
                }
                t.highest = t.highest.max(Some(sequence));
            }
            InstructionTally::Refused { code } => {
                t.refused += 1;
                let code = fit_text(&code, MAX_NAME_UNITS, true);
                if !t.codes.contains(&code) {
                    t.codes.push(code);
                }
            }
        }
    }
    crate::sort::sort(&mut t.codes);
    t
}

impl Tally {
    fn value(&self, outcome: &str) -> Value {
        json!({
            "outcome": outcome,
            "applied": self.applied,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "refusal_codes": self.codes.iter().take(10).collect::<Vec<_>>(),
            "highest_sequence": self.highest,
        })
    }
}

/// One instruction pass (a push, or the actions still owed an outcome), key
/// `portcullis.instructions`: counts and refusal codes, never an envelope. `pending`:
/// actions not handled on this pass; `error`: the short name of the error that stopped it.
pub fn instructions(
    outcomes: &[InstructionTally],
    pending: u32,
    error: Option<&str>,
    at: Timestamp,
) -> ConsoleMessage {
    let t = tally(outcomes.iter().cloned());
    let mut data = head("instructions", at);
    if let Value::Object(fields) = t.value("applied") {
        for (k, v) in fields {
            if k != "outcome" {
                data.insert(k, v);
            }
        }
    }
    data.insert("actions_pending".into(), pending.into());
    let text = match error {
        Some(e) => {
            let name = short_name(e);
            data.insert("error".into(), name.clone().into());
            format!("instructions not applied: {name} (retried at the next sync)")
        }
        None => {
            let mut text = format!(
                "instructions: {} applied, {} unchanged, {} refused",
                t.applied, t.unchanged, t.refused
            );
            if !t.codes.is_empty() {
                text.push_str(&format!(" ({})", t.codes.join(", ")));
            }
            if pending > 0 {
                text.push_str(&format!(", {pending} action(s) pending"));
            }
            text
        }
    };
    let bad = error.is_some() || t.refused > 0 || pending > 0;
    message(
        INSTRUCTIONS_KEY.into(),
        if bad {
            ConsoleSeverity::Error
        } else {
            ConsoleSeverity::Info
        },
        &text,
        fit_data(data, &["refusal_codes"], &["applied", "refused"]),
    )
}

/// The action's stable name, as the journal and alerts spell it.
pub fn action_name(action: &InstructionAction) -> &'static str {
    crate::agent::action_name(action)
}

/// An action the core routed to the MDM (lock and wipe on iOS, or on an Android agent
/// without device-owner powers), key `portcullis.instruction.<action id>`, severity
/// error: the MDM's own command carries it out.
pub fn action_for_mdm(handed: &HandedAction, at: Timestamp) -> ConsoleMessage {
    let name = action_name(&handed.action);
    let mut data = head("action", at);
    data.insert("action_id".into(), s(&handed.action_id, 128));
    data.insert("sequence".into(), handed.sequence.into());
    data.insert("action".into(), name.into());
    data.insert(
        "route".into(),
        match handed.route {
            Route::Agent => "agent",
            Route::Mdm => "mdm",
            Route::NotPossible(_) => "not_possible",
        }
        .into(),
    );
    if let InstructionAction::WipeWorkData { preserve_frp }
    | InstructionAction::WipeDevice { preserve_frp } = handed.action
    {
        data.insert("preserve_frp".into(), preserve_frp.into());
    }
    message(
        format!("{ACTION_KEY_PREFIX}{}", handed.action_id),
        ConsoleSeverity::Error,
        &format!(
            "signed instruction {} asks the MDM to {name}",
            handed.action_id
        ),
        fit_data(data, &[], &["action_id", "action", "route"]),
    )
}

/// A remediation the phone did not carry out, or handed to the MDM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionNote {
    /// The rule that asked for it (none: the escalation ladder).
    pub rule: Option<String>,
    /// The action's short name, e.g. `LOCK_DEVICE`.
    pub action: String,
    /// Why it was not carried out (none for actions handed to the MDM).
    pub why: Option<String>,
}

/// A compliance pass as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceSummary {
    /// Whether every rule passed.
    pub compliant: bool,
    /// How many rules are open.
    pub open_rules: u32,
    /// Actions published for the MDM.
    pub for_mdm: Vec<ActionNote>,
    /// Actions the phone could not carry out.
    pub not_done: Vec<ActionNote>,
}

fn note_value(n: &ActionNote) -> Value {
    let mut v = json!({
        "rule": n.rule.as_deref().map(|r| fit_text(r, MAX_NAME_UNITS, true)),
        "action": fit_text(&n.action, MAX_NAME_UNITS * 2, true),
    });
    if let Some(why) = &n.why {
        v["why"] = Value::String(fit_text(why, 120, true));
    }
    v
}

/// A compliance pass, key `portcullis.compliance`; action lists are shortened from the
/// end (not-done first kept last) when they would not fit.
pub fn compliance(summary: &ComplianceSummary, at: Timestamp) -> ConsoleMessage {
    let mut data = head("compliance", at);
    data.insert("compliant".into(), summary.compliant.into());
    data.insert("open_rules".into(), summary.open_rules.into());
    data.insert(
        "for_mdm".into(),
        summary
            .for_mdm
            .iter()
            .map(note_value)
            .collect::<Vec<_>>()
            .into(),
    );
    data.insert(
        "not_done".into(),
        summary
            .not_done
            .iter()
            .map(note_value)
            .collect::<Vec<_>>()
            .into(),
    );
    let mut text = if summary.compliant {
        "compliant".to_owned()
    } else {
        format!("not compliant: {} open rule(s)", summary.open_rules)
    };
    if !summary.for_mdm.is_empty() {
        text.push_str(&format!(
            ", {} action(s) for the MDM",
            summary.for_mdm.len()
        ));
    }
    if !summary.not_done.is_empty() {
        text.push_str(&format!(", {} not carried out", summary.not_done.len()));
    }
    let fine = summary.compliant && summary.not_done.is_empty();
    message(
        COMPLIANCE_KEY.into(),
        if fine {
            ConsoleSeverity::Info
        } else {
            ConsoleSeverity::Error
        },
        &text,
        fit_data(data, &["not_done", "for_mdm"], &["compliant", "open_rules"]),
    )
}

/// A submitted inspection as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectionSummary {
    /// The window inspected.
    pub window: u64,
    /// Its kind (`routine`, `make_up`, `triggered`).
    pub kind: String,
    /// How many indicators matched.
    pub findings: u64,
    /// SHA-256 of the evidence (hex).
    pub evidence_sha256: String,
    /// SHA-256 of the signed report (hex).
    pub report_sha256: String,
}

/// A submitted inspection, key `portcullis.inspection`.
pub fn inspection(summary: &InspectionSummary, at: Timestamp) -> ConsoleMessage {
    let kind = fit_text(&summary.kind, MAX_NAME_UNITS, true);
    let mut data = head("inspection", at);
    data.insert("window".into(), summary.window.into());
    data.insert("kind".into(), kind.clone().into());
    data.insert("findings".into(), summary.findings.into());
    data.insert("evidence_sha256".into(), s(&summary.evidence_sha256, 64));
    data.insert("report_sha256".into(), s(&summary.report_sha256, 64));
    let result = if summary.findings > 0 {
        format!("{} indicator(s) matched", summary.findings)
    } else {
        "no indicator matched".into()
    };
    message(
        INSPECTION_KEY.into(),
        if summary.findings > 0 {
            ConsoleSeverity::Error
        } else {
            ConsoleSeverity::Info
        },
        &format!("inspection of window {} ({kind}): {result}", summary.window),
        fit_data(data, &[], &["window", "findings"]),
    )
}

/// One ingested batch of network and security-log events, for [`telemetry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySummary {
    /// DNS lookups in the batch.
    pub dns: u64,
    /// Connections in the batch.
    pub connect: u64,
    /// Security-log entries in the batch.
    pub security: u64,
    /// Indicator matches, repeats included.
    pub matches: u64,
    /// Alerts the batch raised.
    pub alerts: u64,
}

/// The last telemetry batch's outcome, key `portcullis.telemetry`: an error while it
/// matched an indicator or raised an alert, so the console sees it beside the alerts.
pub fn telemetry(summary: &TelemetrySummary, at: Timestamp) -> ConsoleMessage {
    let mut data = head("telemetry", at);
    data.insert("dns".into(), summary.dns.into());
    data.insert("connect".into(), summary.connect.into());
    data.insert("security".into(), summary.security.into());
    data.insert("matches".into(), summary.matches.into());
    data.insert("alerts".into(), summary.alerts.into());
    let attention = summary.matches > 0 || summary.alerts > 0;
    let mut text = format!(
        "telemetry batch: {} DNS, {} connection(s), {} security event(s)",
        summary.dns, summary.connect, summary.security
    );
    if attention {
        text.push_str(&format!(
            "; {} indicator match(es), {} alert(s)",
            summary.matches, summary.alerts
        ));
    }
    message(
        TELEMETRY_KEY.into(),
        if attention {
            ConsoleSeverity::Error
        } else {
            ConsoleSeverity::Info
        },
        &text,
        fit_data(data, &[], &["matches", "alerts"]),
    )
}

/// Key of the deployment state (owner or companion, delegated scopes).
pub const DEPLOYMENT_KEY: &str = "portcullis.deployment";

/// Whether `next` says something `previous` (the last message published under its key)
/// did not: a different key, severity, text or data. The time a message was built
/// (`data.at`) is not news, so a pass that finds the device as before publishes nothing.
pub fn supersedes(previous: Option<&ConsoleMessage>, next: &ConsoleMessage) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    fn without_at(data: &str) -> Option<Value> {
        let mut value: Value = serde_json::from_str(data).ok()?;
        value.as_object_mut()?.remove("at");
        Some(value)
    }
    previous.key != next.key
        || previous.severity != next.severity
        || previous.message != next.message
        || match (without_at(&previous.data), without_at(&next.data)) {
            (Some(a), Some(b)) => a != b,
            _ => previous.data != next.data,
        }
}

/// How the agent is deployed, key `portcullis.deployment`: the mode the core read from
/// the platform's facts, the scopes the EMM delegated, and the OS API level.
pub fn deployment(mode: &str, scopes: &[String], api_level: u32, at: Timestamp) -> ConsoleMessage {
    let mut data = head("deployment", at);
    data.insert("mode".into(), s(mode, MAX_NAME_UNITS));
    data.insert(
        "delegated_scopes".into(),
        scopes
            .iter()
            .map(|scope| s(scope, MAX_NAME_UNITS))
            .collect::<Vec<_>>()
            .into(),
    );
    data.insert("api_level".into(), api_level.into());
    let delegated = if scopes.is_empty() {
        String::new()
    } else {
        format!(": delegated {}", scopes.join(", "))
    };
    message(
        DEPLOYMENT_KEY.into(),
        ConsoleSeverity::Info,
        &format!("{mode}{delegated} (API {api_level})"),
        fit_data(data, &["delegated_scopes"], &["mode", "api_level"]),
    )
}

/// Standard base64 with padding, as the console's tools read it.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The attestation the platform answered with; the agent builds it, this module turns
/// it into messages.
pub use crate::agent::AttestationSubmission;

impl crate::agent::AttestationReceipt {
    /// The console messages carrying the chain, in order; publish every one.
    pub fn messages(&self) -> Vec<ConsoleMessage> {
        attestation(&self.submission, self.at)
    }
}

/// An attestation in as many parts as its chain needs, keys `portcullis.attestation.1`,
/// `.2`, ...: a keyed app state's data holds 1,000 characters and a chain is several
/// thousand. Each part carries a slice of the stream `cert0 . cert1 ... . certification`
/// (base64 of each, joined by `.`), the part number and count, and the digest that ties
/// the parts together; the first also the challenge and the StrongBox facts. The console
/// puts them back together with [`assemble_attestation`].
pub fn attestation(sub: &AttestationSubmission, at: Timestamp) -> Vec<ConsoleMessage> {
    let mut stream: Vec<String> = sub.chain.iter().map(|c| base64(c)).collect();
    stream.push(base64(&sub.certification));
    let stream = stream.join(".");
    let chunks: Vec<&str> = stream
        .as_bytes()
        .chunks(ATTESTATION_CHUNK)
        .map(|c| std::str::from_utf8(c).expect("base64 and dots are ASCII"))
        .collect();
    let parts = chunks.len();
    let digest = crate::identity::hex(&sub.chain_sha256());
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let part = i + 1;
            let mut data = head("attestation", at);
            data.insert("instruction_id".into(), s(&sub.instruction_id, 128));
            data.insert("part".into(), part.into());
            data.insert("parts".into(), parts.into());
            data.insert("chain_sha256".into(), digest.clone().into());
            if part == 1 {
                data.insert(
                    "challenge".into(),
                    crate::identity::hex(&sub.challenge).into(),
                );
                data.insert("certificates".into(), sub.chain.len().into());
                data.insert("strong_box".into(), sub.strong_box.into());
                data.insert("strong_box_fallback".into(), sub.strong_box_fallback.into());
            }
            data.insert("chunk".into(), chunk.into());
            let severity = if sub.strong_box_fallback {
                ConsoleSeverity::Error
            } else {
                ConsoleSeverity::Info
            };
            ConsoleMessage {
                key: format!("{ATTESTATION_KEY_PREFIX}{part}"),
                severity,
                message: fit_text(
                    &format!(
                        "attestation for instruction {} (part {part} of {parts}){}",
                        sub.instruction_id,
                        if sub.strong_box_fallback {
                            ": StrongBox unavailable, the TEE made the key"
                        } else {
                            ""
                        }
                    ),
                    MAX_MESSAGE_UNITS,
                    true,
                ),
                data: Value::Object(data).to_string(),
            }
        })
        .collect()
}

/// Puts an attestation's parts (their `data` strings, in any order) back together, for
/// the console: every part present once, all of one attestation, the digest matching.
pub fn assemble_attestation(parts: &[&str]) -> crate::Result<AttestationSubmission> {
    use base64::Engine;
    let bad = |problem: &str| crate::Error::invalid("attestation parts", problem);
    let mut read: Vec<Map<String, Value>> = Vec::with_capacity(parts.len());
    for text in parts {
        let value: Value = serde_json::from_str(text).map_err(|_| bad("a part is not JSON"))?;
        match value {
            Value::Object(m) if m.get("type") == Some(&Value::from("attestation")) => read.push(m),
            _ => return Err(bad("a part is not an attestation message")),
        }
    }
    let number = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_u64);
    read.sort_by_key(|m| number(m, "part"));
    let count = read.len();
    if count == 0 || count > MAX_ATTESTATION_PARTS {
        return Err(bad("no parts, or too many"));
    }
    let first = &read[0];
    let field = |k: &str| first.get(k).cloned().unwrap_or(Value::Null);
    for (i, m) in read.iter().enumerate() {
        if number(m, "part") != Some(i as u64 + 1) || number(m, "parts") != Some(count as u64) {
            return Err(bad("a part is missing or repeated"));
        }
        if m.get("chain_sha256") != first.get("chain_sha256")
            || m.get("instruction_id") != first.get("instruction_id")
        {
            return Err(bad("the parts belong to different attestations"));
        }
    }
    let stream: String = read
        .iter()
        .map(|m| m.get("chunk").and_then(Value::as_str).unwrap_or_default())
        .collect();
    let mut items: Vec<Vec<u8>> = stream
        .split('.')
        .map(|b| base64::engine::general_purpose::STANDARD.decode(b))
        .collect::<Result<_, _>>()
        .map_err(|_| bad("a chunk is not base64"))?;
    let certification = items.pop().unwrap_or_default();
    let sub = AttestationSubmission {
        instruction_id: field("instruction_id")
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        challenge: field("challenge")
            .as_str()
            .and_then(crate::journal::unhex)
            .ok_or_else(|| bad("the first part has no challenge"))?,
        chain: items,
        certification,
        strong_box: field("strong_box").as_bool().unwrap_or(false),
        strong_box_fallback: field("strong_box_fallback").as_bool().unwrap_or(false),
    };
    if Some(sub.chain.len() as u64) != number(first, "certificates")
        || field("chain_sha256").as_str() != Some(&crate::identity::hex(&sub.chain_sha256()))
    {
        return Err(bad("the chain does not match its digest"));
    }
    Ok(sub)
}

impl AttestationSubmission {
    /// The chain as PEM, leaf first: what `portcullis attest verify --chain` reads.
    pub fn chain_pem(&self) -> String {
        let mut out = String::new();
        for cert in &self.chain {
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = base64(cert);
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_character_boundaries_counting_utf16_units() {
        assert_eq!(fit_text("abc", 3, true), "abc");
        assert_eq!(fit_text("abcd", 3, true), "ab\u{2026}");
        assert_eq!(fit_text("abcd", 3, false), "abc");
        // U+1F512 is two UTF-16 units: never split in half.
        let lock = "\u{1F512}";
        assert_eq!(utf16_len(&fit_text(&lock.repeat(10), 6, true)), 5);
        assert_eq!(
            fit_text(&lock.repeat(10), 6, true),
            format!("{}\u{2026}", lock.repeat(2))
        );
        assert_eq!(fit_text("a\nb\tc", 10, true), "a b c");
    }

    #[test]
    fn error_names_keep_only_name_characters() {
        assert_eq!(short_name("StorageException"), "StorageException");
        assert_eq!(short_name("a b\"c"), "abc");
        assert_eq!(short_name("\u{1F512}"), "unknown");
    }
    fn compliance_at(compliant: bool, at: i64) -> ConsoleMessage {
        compliance(
            &ComplianceSummary {
                compliant,
                open_rules: u32::from(!compliant),
                for_mdm: Vec::new(),
                not_done: Vec::new(),
            },
            Timestamp::from_unix_millis(at),
        )
    }

    #[test]
    fn a_message_that_differs_only_in_its_time_is_not_published_again() {
        let first = compliance_at(false, 1_000);
        let later = compliance_at(false, 90_000_000);
        assert_ne!(first, later, "the data carries the time");
        assert!(supersedes(None, &first));
        assert!(!supersedes(Some(&first), &later));
        assert!(supersedes(Some(&first), &compliance_at(true, 90_000_000)));
    }

    #[test]
    fn the_deployment_names_mode_scopes_and_api_level() {
        let m = deployment(
            "companion",
            &["PACKAGE_ACCESS".into(), "BLOCK_UNINSTALL".into()],
            34,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(m.key, DEPLOYMENT_KEY);
        assert_eq!(m.severity, ConsoleSeverity::Info);
        assert_eq!(
            m.message,
            "companion: delegated PACKAGE_ACCESS, BLOCK_UNINSTALL (API 34)"
        );
        let data: Value = serde_json::from_str(&m.data).unwrap();
        assert_eq!(data["type"], "deployment");
        assert_eq!(data["delegated_scopes"][1], "BLOCK_UNINSTALL");
        assert_eq!(data["api_level"], 34);
        assert_eq!(
            deployment("owner", &[], 30, Timestamp::EPOCH).message,
            "owner (API 30)"
        );
    }
}
