//! Device-integrity rules (`deviceIntegrity` in the policy), judged on hardware key
//! attestation.
//!
//! The phone cannot vouch for itself: a rooted phone reports whatever it likes. The
//! rules count only when judged at the console on an [`AttestationEvidence`], the
//! facts of a chain that `portcullis attest verify` verified up to a Google root. On
//! the phone the agent judges its own [`IntegrityHint`] (what the platform tells it
//! locally), and those verdicts are marked `hint` and never count: they are for the
//! staff member's and the console's information only.
//!
//! Every broken rule names an [`IntegrityRemediation`] for the MDM: nothing on the
//! phone can repair its own boot chain or keystore.

use serde::{Deserialize, Serialize};

use super::codes::{Fact, Facts, IntegrityRule, Reason, Reasons, RuleId};
use super::rules::{Enforcement, Verdict};
use super::snapshot::parse_date;
use crate::policy::model::DeviceIntegrityRules;
use crate::time::Timestamp;

const DAY_MS: i64 = 86_400_000;
/// The largest attestation verdict file read (a verdict with a 6-certificate chain is ~20 KiB).
pub const MAX_VERDICT_BYTES: usize = 1 << 20;

/// The facts of a verified attestation, as the console's verifier reported them in
/// its verdict (`docs/attestation-verdict.schema.json`). Only the fields the rules
/// need are read; the rest of the verdict is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationEvidence {
    /// Whether the chain verified (every other field is trusted only when true).
    pub verified: bool,
    /// When the console verified it: the attestation's age is counted from here.
    pub verified_at: Timestamp,
    /// The refusal codes, when not verified.
    #[serde(default)]
    pub reasons: Vec<AttestationRefusal>,
    /// The device facts; present only when verified.
    #[serde(default)]
    pub device: Option<AttestedDevice>,
}

/// One refusal of the verifier (only its code is read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationRefusal {
    /// The stable refusal code, e.g. `challenge_mismatch`.
    pub code: String,
}

/// The device facts of a verified attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestedDevice {
    /// Made and kept in TEE or StrongBox, generated inside.
    pub hardware_backed: bool,
    /// In a StrongBox secure element.
    pub strong_box: bool,
    /// Verified boot state `VERIFIED`.
    pub boot_verified: bool,
    /// Bootloader locked.
    pub bootloader_locked: bool,
    /// OS patch level, `YYYY-MM` or `YYYY-MM-DD`; absent when not a date.
    #[serde(default)]
    pub os_patch_level: Option<String>,
}

impl AttestationEvidence {
    /// Reads the JSON verdict of `portcullis attest verify --format json`. A verdict
    /// that claims `verified` without device facts is refused, as is any unreadable one.
    pub fn from_verdict_json(bytes: &[u8]) -> crate::Result<Self> {
        if bytes.len() > MAX_VERDICT_BYTES {
            return Err(crate::Error::invalid(
                "attestation verdict",
                format!("over the {MAX_VERDICT_BYTES}-byte limit"),
            ));
        }
        let evidence: AttestationEvidence = serde_json::from_slice(bytes)
            .map_err(|e| crate::Error::invalid("attestation verdict", crate::json::describe(&e)))?;
        if evidence.verified && evidence.device.is_none() {
            return Err(crate::Error::invalid(
                "attestation verdict",
                "`verified` is true but `device` is missing",
            ));
        }
        Ok(evidence)
    }
}

/// What the agent can see of the phone's integrity by itself (its key's
/// `KeyInfo.securityLevel`, the boot properties the OS reports). A rooted phone can
/// fake every field, so verdicts on it are hints that never count.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntegrityHint {
    /// Whether the agent's signing key is in secure hardware, as the OS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hardware_backed: Option<bool>,
    /// Whether it is in StrongBox, as the OS says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_strong_box: Option<bool>,
    /// Whether the OS says the boot was verified (`ro.boot.verifiedbootstate` = green).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_verified: Option<bool>,
    /// Whether the OS says the bootloader is locked (`ro.boot.flash.locked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootloader_locked: Option<bool>,
}

/// Where the integrity facts of an evaluation come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IntegrityInput {
    /// On the phone: only the snapshot's [`IntegrityHint`], judged as a hint.
    #[default]
    OnDevice,
    /// At the console: the verified attestation, or none (then the rules are unknown,
    /// and unknown is never compliant).
    Console(Option<Box<AttestationEvidence>>),
}

/// What the MDM is asked to do about a broken integrity rule. Nothing on the phone
/// can repair its own boot chain or keystore, so every one is routed to the MDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IntegrityRemediation {
    /// Send the phone a fresh `attest` instruction and verify its answer.
    Reattest,
    /// Install the pending system update (the MDM's system-update policy).
    UpdateSystem,
    /// Reflash the manufacturer's firmware and relock the bootloader (this wipes the phone).
    RestoreStockFirmware,
    /// The hardware cannot meet the rule: replace the phone.
    ReplaceDevice,
}

impl IntegrityRemediation {
    /// The remediation for a non-compliance reason of an integrity rule.
    pub fn for_reason(reason: Reason) -> Option<Self> {
        match reason {
            Reason::AttestationNotVerified | Reason::AttestationStale => Some(Self::Reattest),
            Reason::AttestedPatchLevelTooOld => Some(Self::UpdateSystem),
            Reason::BootNotVerified | Reason::BootloaderUnlocked => {
                Some(Self::RestoreStockFirmware)
            }
            Reason::KeyNotHardwareBacked | Reason::KeyNotInStrongBox => Some(Self::ReplaceDevice),
            _ => None,
        }
    }

    /// The remediation for an unknown integrity rule: no attestation to judge, so ask for one.
    pub fn for_unknown() -> Self {
        Self::Reattest
    }

    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reattest => "REATTEST",
            Self::UpdateSystem => "UPDATE_SYSTEM",
            Self::RestoreStockFirmware => "RESTORE_STOCK_FIRMWARE",
            Self::ReplaceDevice => "REPLACE_DEVICE",
        }
    }
}

/// The facts the rules judge, from either source; `None` is not observed.
#[derive(Default)]
struct Observed {
    verified: Option<bool>,
    verified_at: Option<Timestamp>,
    hardware_backed: Option<bool>,
    strong_box: Option<bool>,
    boot_verified: Option<bool>,
    bootloader_locked: Option<bool>,
    patch: Option<Option<crate::time::Date>>,
}

/// The first day of an attested patch level (`YYYY-MM` counts from the 1st: the
/// oldest day it may stand for).
fn patch_date(text: &str) -> Option<crate::time::Date> {
    if text.len() == 7 {
        parse_date(&format!("{text}-01"))
    } else {
        parse_date(text)
    }
}

/// Judges the policy's integrity rules, appending one verdict per rule set (none
/// when the policy sets none, or on a phone that offered no hint).
pub(crate) fn evaluate_integrity(
    rules: &DeviceIntegrityRules,
    input: &IntegrityInput,
    hint: Option<&IntegrityHint>,
    now: Timestamp,
    out: &mut Vec<Verdict>,
) {
    if !rules.is_active() {
        return;
    }
    let (observed, is_hint) = match input {
        IntegrityInput::OnDevice => {
            let Some(h) = hint else { return };
            let observed = Observed {
                hardware_backed: h.key_hardware_backed,
                strong_box: h.key_strong_box,
                boot_verified: h.boot_verified,
                bootloader_locked: h.bootloader_locked,
                ..Observed::default()
            };
            (observed, true)
        }
        IntegrityInput::Console(None) => (Observed::default(), false),
        IntegrityInput::Console(Some(e)) => {
            let mut observed = Observed {
                verified: Some(e.verified),
                verified_at: Some(e.verified_at),
                ..Observed::default()
            };
            if let (true, Some(d)) = (e.verified, &e.device) {
                observed.hardware_backed = Some(d.hardware_backed);
                observed.strong_box = Some(d.strong_box);
                observed.boot_verified = Some(d.boot_verified);
                observed.bootloader_locked = Some(d.bootloader_locked);
                observed.patch = Some(d.os_patch_level.as_deref().and_then(patch_date));
            }
            (observed, false)
        }
    };
    let enforcement = if is_hint {
        Enforcement::Report
    } else {
        rules.on_violation.into()
    };
    let mut push = |rule: IntegrityRule, judged: Judged| {
        let (reasons, unobserved) = match judged {
            Judged::Ok => (Reasons::EMPTY, Facts::EMPTY),
            Judged::Broken(r) => (Reasons::of(r), Facts::EMPTY),
            Judged::Unobserved(f) => (Reasons::EMPTY, Facts::of(f)),
            Judged::Skip => return,
        };
        let mut v = Verdict::new(RuleId::Integrity(rule), reasons, unobserved, enforcement);
        v.hint = is_hint;
        out.push(v);
    };
    let flag = |value: Option<bool>, reason: Reason| match value {
        Some(true) => Judged::Ok,
        Some(false) => Judged::Broken(reason),
        None => Judged::Unobserved(Fact::Attestation),
    };
    let today = crate::time::Date::of(now);

    // The verdict itself: on the phone there is none to judge.
    push(
        IntegrityRule::AttestationVerified,
        if is_hint {
            Judged::Skip
        } else {
            flag(observed.verified, Reason::AttestationNotVerified)
        },
    );
    push(
        IntegrityRule::RequireAttestationWithinDays,
        match (rules.require_attestation_within_days, is_hint) {
            (None, _) | (_, true) => Judged::Skip,
            (Some(days), false) => match (observed.verified, observed.verified_at) {
                (Some(true), Some(at)) => {
                    let age = now.as_unix_millis() - at.as_unix_millis();
                    if age <= i64::from(days) * DAY_MS {
                        Judged::Ok
                    } else {
                        Judged::Broken(Reason::AttestationStale)
                    }
                }
                _ => Judged::Unobserved(Fact::Attestation),
            },
        },
    );
    // The key and boot flags, each required or not by the policy.
    for (required, rule, value, reason) in [
        (
            rules.require_hardware_backed_key,
            IntegrityRule::RequireHardwareBackedKey,
            observed.hardware_backed,
            Reason::KeyNotHardwareBacked,
        ),
        (
            rules.require_strong_box,
            IntegrityRule::RequireStrongBox,
            observed.strong_box,
            Reason::KeyNotInStrongBox,
        ),
        (
            rules.require_verified_boot,
            IntegrityRule::RequireVerifiedBoot,
            observed.boot_verified,
            Reason::BootNotVerified,
        ),
        (
            rules.require_locked_bootloader,
            IntegrityRule::RequireLockedBootloader,
            observed.bootloader_locked,
            Reason::BootloaderUnlocked,
        ),
    ] {
        if required {
            push(rule, flag(value, reason));
        }
    }
    if let Some(days) = rules.max_attested_patch_age_days {
        let judged = match (observed.patch, today) {
            // The phone cannot attest its own patch level.
            _ if is_hint => Judged::Skip,
            (None, _) | (_, None) => Judged::Unobserved(Fact::Attestation),
            (Some(None), _) => Judged::Unobserved(Fact::AttestedPatchLevel),
            (Some(Some(patch)), Some(today)) => {
                let floor = today.minus_days(days);
                if patch >= floor {
                    Judged::Ok
                } else {
                    Judged::Broken(Reason::AttestedPatchLevelTooOld)
                }
            }
        };
        push(IntegrityRule::MaxAttestedPatchAgeDays, judged);
    }
}

enum Judged {
    Ok,
    Broken(Reason),
    Unobserved(Fact),
    Skip,
}

/// The MDM remediations the open integrity verdicts call for, each once, in a stable order.
pub fn mdm_remediations(verdicts: &[Verdict]) -> Vec<(RuleId, IntegrityRemediation)> {
    let mut out = Vec::new();
    for v in verdicts {
        if !matches!(v.rule, RuleId::Integrity(_)) || v.hint || !v.enforcement.counts() {
            continue;
        }
        let remediation = if let Some(r) = v.reasons.iter().next() {
            IntegrityRemediation::for_reason(r)
        } else if !v.unobserved.is_empty() {
            Some(IntegrityRemediation::for_unknown())
        } else {
            None
        };
        if let Some(r) = remediation {
            out.push((v.rule.clone(), r));
        }
    }
    out
}
