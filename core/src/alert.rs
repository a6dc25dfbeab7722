//! Alerts: what the agent tells the security team.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// How urgently the security team must act; ordered so detectors and filters can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Recorded for the audit trail; no action needed.
    Info,
    /// Worth a look during routine review.
    Low,
    /// Investigate within the day.
    Medium,
    /// Investigate now; the device may be exposed.
    High,
    /// Act now: the phone number or SIM is likely in an attacker's hands.
    Critical,
}

impl Severity {
    /// The stable lower-case name used by the console.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl FromStr for Severity {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or(())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of alert. Their `snake_case` names are stable: the console keys on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A SIM went absent outside a reboot.
    SimRemoved,
    /// The ICCID differs from the baseline.
    SimReplaced,
    /// The IMSI differs while the ICCID does not.
    SubscriberChanged,
    /// The phone number differs from the baseline.
    NumberChanged,
    /// The SIM's home network (MCC-MNC) differs from the baseline.
    CarrierChanged,
    /// Service lost for the policy window while the SIM is unchanged and Wi-Fi is up.
    PortOutSuspected,
    /// A carrier-side check reports a swap no authorised window covers.
    CarrierReportedSwap,
    /// Service on a 2G radio while the policy forbids 2G.
    Downgrade2g,
    /// A SIM change covered by an authorised window: the new SIM became the baseline.
    SimChangeAuthorized,
    /// A policy bundle or trust-root update failed verification: someone may be pushing
    /// a weaker policy through the MDM channel.
    PolicyRefused,
    /// A scheduled forensic inspection is still not done after the grace period.
    InspectionOverdue,
    /// A compliance rule became non-compliant (severity depends on the rule).
    ComplianceViolation,
    /// A compliance rule cannot be judged: the platform did not observe what it needs.
    ComplianceUnobservable,
    /// A rule that was open complies again.
    ComplianceRestored,
    /// A section stayed non-compliant until its ladder's block step.
    ComplianceBlocked,
    /// A blocked section complies again.
    ComplianceUnblocked,
    /// A section stayed non-compliant until its ladder's wipe step: wipe requested.
    ComplianceWipe,
    /// An inspection found evidence matching a spyware indicator.
    IndicatorMatch,
    /// The carrier reports the phone's SIM in another handset (CAMARA Device Swap).
    CarrierReportedDeviceSwap,
    /// A signed instruction opened a SIM-change window: the security team sees every
    /// window, including one opened with a stolen operations key.
    SimChangeWindowOpened,
    /// A console instruction failed verification (forged, replayed, expired, out of
    /// scope): someone may be trying to silence the SIM guard or trigger a wipe.
    InstructionRefused,
    /// What became of an action a signed instruction asked for (carried out, not
    /// possible on this platform, failed).
    InstructionOutcome,
    /// A carrier-reported swap and a phone-side port-out or replacement on the same
    /// line within two hours of each other: the incident.
    SimSwapConfirmed,
    /// An adb shell command outside an authorised maintenance window.
    AdbShellUsed,
    /// A file was pulled off the phone over adb.
    AdbFilePulled,
    /// A CA certificate the policy does not allow was installed.
    CaCertificateInstalled,
    /// Failed unlock attempts past the policy's threshold within its window.
    KeyguardBruteforce,
    /// The OS started with a verified-boot state other than green, or dm-verity off.
    BootStateDegraded,
    /// External media was mounted while the policy forbids USB storage.
    UsbMediaMounted,
    /// A process started whose APK hash or package is a spyware indicator.
    KnownBadProcess,
}

impl AlertKind {
    /// Every kind, in a stable order.
    pub const ALL: [AlertKind; 30] = [
        AlertKind::SimRemoved,
        AlertKind::SimReplaced,
        AlertKind::SubscriberChanged,
        AlertKind::NumberChanged,
        AlertKind::CarrierChanged,
        AlertKind::PortOutSuspected,
        AlertKind::CarrierReportedSwap,
        AlertKind::Downgrade2g,
        AlertKind::SimChangeAuthorized,
        AlertKind::PolicyRefused,
        AlertKind::InspectionOverdue,
        AlertKind::IndicatorMatch,
        AlertKind::ComplianceViolation,
        AlertKind::ComplianceUnobservable,
        AlertKind::ComplianceRestored,
        AlertKind::ComplianceBlocked,
        AlertKind::ComplianceUnblocked,
        AlertKind::ComplianceWipe,
        AlertKind::CarrierReportedDeviceSwap,
        AlertKind::SimChangeWindowOpened,
        AlertKind::InstructionRefused,
        AlertKind::InstructionOutcome,
        AlertKind::SimSwapConfirmed,
        AlertKind::AdbShellUsed,
        AlertKind::AdbFilePulled,
        AlertKind::CaCertificateInstalled,
        AlertKind::KeyguardBruteforce,
        AlertKind::BootStateDegraded,
        AlertKind::UsbMediaMounted,
        AlertKind::KnownBadProcess,
    ];

    /// The stable name used by the console and in exports.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::SimRemoved => "sim_removed",
            AlertKind::SimReplaced => "sim_replaced",
            AlertKind::SubscriberChanged => "subscriber_changed",
            AlertKind::NumberChanged => "number_changed",
            AlertKind::CarrierChanged => "carrier_changed",
            AlertKind::PortOutSuspected => "port_out_suspected",
            AlertKind::CarrierReportedSwap => "carrier_reported_swap",
            AlertKind::Downgrade2g => "downgrade_2g",
            AlertKind::SimChangeAuthorized => "sim_change_authorized",
            AlertKind::PolicyRefused => "policy_refused",
            AlertKind::InspectionOverdue => "inspection_overdue",
            AlertKind::IndicatorMatch => "indicator_match",
            AlertKind::ComplianceViolation => "compliance_violation",
            AlertKind::ComplianceUnobservable => "compliance_unobservable",
            AlertKind::ComplianceRestored => "compliance_restored",
            AlertKind::ComplianceBlocked => "compliance_blocked",
            AlertKind::ComplianceUnblocked => "compliance_unblocked",
            AlertKind::ComplianceWipe => "compliance_wipe",
            AlertKind::CarrierReportedDeviceSwap => "carrier_reported_device_swap",
            AlertKind::SimChangeWindowOpened => "sim_change_window_opened",
            AlertKind::InstructionRefused => "instruction_refused",
            AlertKind::InstructionOutcome => "instruction_outcome",
            AlertKind::SimSwapConfirmed => "sim_swap_confirmed",
            AlertKind::AdbShellUsed => "adb_shell_used",
            AlertKind::AdbFilePulled => "adb_file_pulled",
            AlertKind::CaCertificateInstalled => "ca_certificate_installed",
            AlertKind::KeyguardBruteforce => "keyguard_bruteforce",
            AlertKind::BootStateDegraded => "boot_state_degraded",
            AlertKind::UsbMediaMounted => "usb_media_mounted",
            AlertKind::KnownBadProcess => "known_bad_process",
        }
    }

    /// The severity every alert of this kind carries.
    pub fn severity(self) -> Severity {
        match self {
            AlertKind::SimReplaced
            | AlertKind::SubscriberChanged
            | AlertKind::NumberChanged
            | AlertKind::PortOutSuspected
            | AlertKind::CarrierReportedSwap
            | AlertKind::IndicatorMatch
            | AlertKind::ComplianceWipe
            | AlertKind::CarrierReportedDeviceSwap
            | AlertKind::SimSwapConfirmed
            | AlertKind::KnownBadProcess => Severity::Critical,
            AlertKind::AdbShellUsed
            | AlertKind::AdbFilePulled
            | AlertKind::CaCertificateInstalled
            | AlertKind::KeyguardBruteforce
            | AlertKind::BootStateDegraded
            | AlertKind::UsbMediaMounted => Severity::High,
            AlertKind::ComplianceViolation => Severity::Medium,
            AlertKind::ComplianceUnobservable => Severity::Low,
            AlertKind::ComplianceRestored | AlertKind::ComplianceUnblocked => Severity::Info,
            AlertKind::ComplianceBlocked => Severity::High,
            AlertKind::SimRemoved
            | AlertKind::CarrierChanged
            | AlertKind::PolicyRefused
            | AlertKind::InstructionRefused
            | AlertKind::InspectionOverdue => Severity::High,
            AlertKind::Downgrade2g => Severity::Medium,
            AlertKind::SimChangeAuthorized
            | AlertKind::SimChangeWindowOpened
            | AlertKind::InstructionOutcome => Severity::Info,
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AlertKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// Identifies an alert in the outbox; stable across redeliveries so the console can drop duplicates.
pub type AlertId = u64;

/// A finding a detector raised, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// When the condition was established.
    pub at: Timestamp,
    /// What was detected.
    pub kind: AlertKind,
    /// The SIM slot concerned, if any.
    pub slot: Option<u8>,
    /// The detector's stable name.
    pub detector: String,
    /// The detector's version; bumped whenever its logic changes.
    pub detector_version: u32,
    /// A one-line explanation for the security team; never contains raw identifiers.
    pub summary: String,
    /// Supporting facts as key/value pairs; identifiers appear only as short keyed-hash prefixes.
    pub evidence: Vec<(String, String)>,
    /// A severity other than the kind's usual one, for kinds whose urgency depends on
    /// the rule broken (compliance violations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

impl Finding {
    /// A finding as a SIM or telemetry detector raises it: evidence keyed by static
    /// names, and the kind's usual severity.
    pub(crate) fn raised(
        detector: &str,
        detector_version: u32,
        kind: AlertKind,
        at: Timestamp,
        slot: Option<u8>,
        summary: String,
        evidence: Vec<(&str, String)>,
    ) -> Finding {
        Finding {
            at,
            kind,
            slot,
            detector: detector.to_owned(),
            detector_version,
            summary,
            evidence: evidence
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            severity: None,
        }
    }

    /// The severity the alert carries.
    pub fn severity(&self) -> Severity {
        self.severity.unwrap_or_else(|| self.kind.severity())
    }
}

/// An alert as stored in the outbox and handed to the native layer for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Outbox id, stable across redeliveries.
    pub id: AlertId,
    /// The finding the alert carries.
    #[serde(flatten)]
    pub finding: Finding,
    /// The alert's severity (derived from its kind).
    pub severity: Severity,
    /// How many times the alert has been handed out for delivery.
    pub delivery_attempts: u32,
}
