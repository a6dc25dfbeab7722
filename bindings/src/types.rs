//! Records and enums crossing the boundary, and their conversions to core types.
//! Conversions only: no decisions are made here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portcullis_core::{agent, alert, compliance, instruction, sim, Timestamp};

pub(crate) fn to_timestamp(t: SystemTime) -> Timestamp {
    let millis = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    Timestamp::from_unix_millis(millis)
}

pub(crate) fn to_system_time(t: Timestamp) -> SystemTime {
    let millis = t.as_unix_millis();
    if millis >= 0 {
        UNIX_EPOCH + Duration::from_millis(millis as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

/// Platform slot indices are `Int`s; anything outside `u8` becomes a value the core's
/// validation refuses with its usual message (slot range checks live only in the core).
fn core_slot(slot: i32) -> u8 {
    u8::try_from(slot).unwrap_or(u8::MAX)
}

macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident => $core:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v { $($name::$variant => <$core>::$variant),+ }
            }
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                match v { $(<$core>::$variant => $name::$variant),+ }
            }
        }
    };
}

/// Shared with the other record modules of this crate.
pub(crate) use mirror_enum;

mirror_enum!(
    /// SIM card state (Android `TelephonyManager.SIM_STATE_*`).
    SimState => sim::SimState {
        /// No SIM in the slot (or the eSIM profile is disabled).
        Absent,
        /// Present but initialising.
        NotReady,
        /// Waiting for PIN or PUK.
        Locked,
        /// Usable.
        Ready,
        /// The card failed.
        Error,
    }
);

mirror_enum!(
    /// Cellular registration state (Android `ServiceState`).
    ServiceState => sim::ServiceState {
        /// Registered.
        InService,
        /// Not registered.
        OutOfService,
        /// Emergency calls only: the network refuses this subscriber.
        EmergencyOnly,
        /// Radio off.
        PowerOff,
    }
);

mirror_enum!(
    /// Radio access technology of the serving cell.
    Rat => sim::Rat {
        /// 5G NR.
        Nr,
        /// 4G LTE.
        Lte,
        /// 3G UMTS.
        Umts,
        /// 3G HSPA.
        Hspa,
        /// 2G GSM.
        Gsm,
        /// 2G GPRS.
        Gprs,
        /// 2G EDGE.
        Edge,
        /// 2G CDMA.
        Cdma,
        /// 2G CDMA2000 1x.
        OneXRtt,
        /// Not reported.
        Unknown,
    }
);

mirror_enum!(
    /// How urgently the security team must act.
    Severity => alert::Severity {
        /// Audit trail only.
        Info,
        /// Routine review.
        Low,
        /// Investigate within the day.
        Medium,
        /// Investigate now.
        High,
        /// Act now.
        Critical,
    }
);

mirror_enum!(
    /// Alert kinds; `name()` on the Rust side gives the console's stable snake_case names.
    AlertKind => alert::AlertKind {
        /// A SIM went absent outside a reboot.
        SimRemoved,
        /// The ICCID differs from the baseline.
        SimReplaced,
        /// The IMSI differs while the ICCID does not.
        SubscriberChanged,
        /// The phone number differs.
        NumberChanged,
        /// The home network differs.
        CarrierChanged,
        /// Service lost for the policy window with the SIM unchanged and Wi-Fi up.
        PortOutSuspected,
        /// The carrier reports an unauthorised SIM change.
        CarrierReportedSwap,
        /// Service on 2G while the policy forbids it.
        Downgrade2g,
        /// A SIM change covered by an authorised window.
        SimChangeAuthorized,
        /// A policy bundle or trust-root update failed verification.
        PolicyRefused,
        /// A scheduled inspection is overdue past its grace period.
        InspectionOverdue,
        /// An inspection found evidence matching a spyware indicator.
        IndicatorMatch,
        /// A compliance rule became non-compliant.
        ComplianceViolation,
        /// A compliance rule cannot be judged on this platform.
        ComplianceUnobservable,
        /// A compliance rule complies again.
        ComplianceRestored,
        /// Access blocked by the escalation ladder.
        ComplianceBlocked,
        /// Access restored after a block.
        ComplianceUnblocked,
        /// Wipe requested by the escalation ladder.
        ComplianceWipe,
        /// The carrier reports the phone's SIM in another handset (Device Swap).
        CarrierReportedDeviceSwap,
        /// A signed instruction opened a SIM-change window.
        SimChangeWindowOpened,
        /// A console instruction failed verification (forged, replayed, expired, out of scope).
        InstructionRefused,
        /// What became of an action a signed instruction asked for.
        InstructionOutcome,
        /// A carrier-reported swap and a phone-side replacement or port-out on the same line.
        SimSwapConfirmed,
        /// An adb shell command outside an authorised maintenance window.
        AdbShellUsed,
        /// A file was pulled off the phone over adb.
        AdbFilePulled,
        /// A CA certificate the policy does not allow was installed.
        CaCertificateInstalled,
        /// Failed unlock attempts past the policy's threshold.
        KeyguardBruteforce,
        /// The OS started with a degraded verified-boot state.
        BootStateDegraded,
        /// External media mounted while the policy forbids USB storage.
        UsbMediaMounted,
        /// A process started whose APK hash or package is a spyware indicator.
        KnownBadProcess,
    }
);

/// Who carries out an action a signed instruction asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ActionRoute {
    /// The agent, through the platform's APIs.
    Agent,
    /// The MDM: publish the action where the MDM reads app state (keyed app states,
    /// managed-app feedback) and report the outcome the platform gives.
    Mdm,
    /// No one on this device can. The core reports such instruction actions itself
    /// and never hands them out; a platform that meets one reports it not possible.
    NotPossible,
}

impl From<compliance::Route> for ActionRoute {
    fn from(v: compliance::Route) -> Self {
        match v {
            compliance::Route::Agent => ActionRoute::Agent,
            compliance::Route::Mdm => ActionRoute::Mdm,
            compliance::Route::NotPossible(_) => ActionRoute::NotPossible,
        }
    }
}

mirror_enum!(
    /// The kind of a signed console instruction; `kind_name` carries its wire name.
    InstructionKind => instruction::InstructionKind {
        /// Opens a planned SIM-change window.
        AuthorizeSimChange,
        /// A carrier's SIM Swap or Device Swap answer, relayed by the console.
        CarrierCheck,
        /// Lock the screen now.
        LockNow,
        /// Wipe the managed (work) data.
        WipeWorkData,
        /// Factory-reset the phone.
        WipeDevice,
        /// Collect evidence and submit an inspection now.
        StartInspection,
        /// Start a new journal epoch and rotate what platform keys can be rotated.
        RotateKeys,
        /// Show the person carrying the phone a notice.
        ShowNotice,
        /// Close every open SIM-change window.
        RevokeAuthorizations,
        /// Generate an attested key with the console's challenge and send its chain.
        Attest,
    }
);

/// One reading of a SIM slot. Identifiers are hashed inside the library at once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SimObservation {
    /// 0-based slot index, as Android's `SubscriptionInfo.getSimSlotIndex` gives it (an `Int`).
    pub slot: i32,
    /// Card state.
    pub state: SimState,
    /// ICCID, when the platform reveals it (device owner with READ_PHONE_STATE on Android 10+).
    #[uniffi(default = None)]
    pub iccid: Option<String>,
    /// IMSI, when revealed.
    #[uniffi(default = None)]
    pub imsi: Option<String>,
    /// Phone number (`SubscriptionManager.getPhoneNumber`), when known.
    #[uniffi(default = None)]
    pub msisdn: Option<String>,
    /// Home network MCC+MNC, 5 or 6 digits.
    #[uniffi(default = None)]
    pub mcc_mnc: Option<String>,
    /// Carrier display name.
    #[uniffi(default = None)]
    pub carrier_name: Option<String>,
    /// Whether the subscription is an eSIM.
    #[uniffi(default = None)]
    pub embedded: Option<bool>,
}

impl From<SimObservation> for sim::SimObservation {
    fn from(o: SimObservation) -> Self {
        sim::SimObservation {
            slot: core_slot(o.slot),
            state: Some(o.state.into()),
            iccid: o.iccid,
            imsi: o.imsi,
            msisdn: o.msisdn,
            mcc_mnc: o.mcc_mnc,
            carrier_name: o.carrier_name,
            embedded: o.embedded,
        }
        .normalized()
    }
}

/// One reading of a slot's cellular service.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServiceObservation {
    /// 0-based slot index.
    pub slot: i32,
    /// Registration state.
    pub state: ServiceState,
    /// Whether the phone is roaming: a foreign network is not a carrier change, and a 2G
    /// downgrade alert carries it so the security team can tell travel from an attack.
    #[uniffi(default = None)]
    pub roaming: Option<bool>,
    /// Serving radio technology.
    #[uniffi(default = None)]
    pub rat: Option<Rat>,
}

impl From<ServiceObservation> for sim::ServiceObservation {
    fn from(o: ServiceObservation) -> Self {
        sim::ServiceObservation {
            slot: core_slot(o.slot),
            state: o.state.into(),
            roaming: o.roaming,
            rat: o.rat.map(Into::into),
        }
    }
}

/// Device connectivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct Connectivity {
    /// Connected to Wi-Fi.
    pub wifi: bool,
    /// Mobile data up.
    pub cellular_data: bool,
    /// Airplane mode on.
    pub airplane_mode: bool,
}

impl From<Connectivity> for sim::Connectivity {
    fn from(c: Connectivity) -> Self {
        sim::Connectivity {
            wifi: c.wifi,
            cellular_data: c.cellular_data,
            airplane_mode: c.airplane_mode,
        }
    }
}

/// Something a verified instruction asks the app to do. Typed, so a new action is a
/// compile error in the apps rather than an unread string.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum InstructionAction {
    /// Lock the screen now.
    LockNow,
    /// Wipe the managed (work) data.
    WipeWorkData {
        /// Keep factory-reset protection data where the platform can.
        preserve_frp: bool,
    },
    /// Factory-reset the phone.
    WipeDevice {
        /// Keep factory-reset protection data where the platform can.
        preserve_frp: bool,
    },
    /// Collect evidence and submit it: the library has already opened an inspection window.
    StartInspection {
        /// The console's reason.
        reason: String,
    },
    /// Rotate the platform keys the platform can; the library has already started a new
    /// journal epoch with a signed checkpoint.
    RotateKeys,
    /// Show the person carrying the phone a short notice.
    ShowNotice {
        /// A short title.
        title: String,
        /// The text.
        body: String,
    },
    /// Generate an ECDSA P-256 signing key in the platform keystore with
    /// `setAttestationChallenge(challenge)` (StrongBox where present), sign `certify` with
    /// it (SHA256withECDSA), and hand the chain and signature to `submit_attestation`.
    Attest {
        /// The console's challenge, exactly these bytes.
        challenge: Vec<u8>,
        /// The statement certifying the checkpoint key, for the new key to sign.
        certify: Vec<u8>,
    },
}

impl From<agent::InstructionAction> for InstructionAction {
    fn from(a: agent::InstructionAction) -> Self {
        use agent::InstructionAction as A;
        match a {
            A::LockNow => InstructionAction::LockNow,
            A::WipeWorkData { preserve_frp } => InstructionAction::WipeWorkData { preserve_frp },
            A::WipeDevice { preserve_frp } => InstructionAction::WipeDevice { preserve_frp },
            A::StartInspection { reason } => InstructionAction::StartInspection { reason },
            A::RotateKeys => InstructionAction::RotateKeys,
            A::ShowNotice { title, body } => InstructionAction::ShowNotice { title, body },
            A::Attest { challenge, certify } => InstructionAction::Attest { challenge, certify },
        }
    }
}

/// An action handed to the app once: carry it out (route `AGENT`) or publish it for the
/// MDM (route `MDM`), then report what became of it with `report_action_outcome`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HandedAction {
    /// The instruction's id: report the outcome under it.
    pub action_id: String,
    /// The instruction's sequence.
    pub sequence: u64,
    /// What to do.
    pub action: InstructionAction,
    /// Who carries it out.
    pub route: ActionRoute,
}

impl From<agent::HandedAction> for HandedAction {
    fn from(a: agent::HandedAction) -> Self {
        HandedAction {
            action_id: a.action_id,
            sequence: a.sequence,
            action: a.action.into(),
            route: a.route.into(),
        }
    }
}

/// What became of a handed action, as the platform reports it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ActionOutcome {
    /// Done.
    CarriedOut,
    /// Routed to the MDM and received by it; the MDM's own command carries it out.
    HandedToMdm,
    /// This platform or deployment cannot do it.
    NotPossible {
        /// Why, in a short phrase without identifiers.
        reason: String,
    },
    /// Tried, and it failed.
    Failed {
        /// Why, in a short phrase without identifiers.
        reason: String,
    },
}

impl From<agent::ActionOutcome> for ActionOutcome {
    fn from(o: agent::ActionOutcome) -> Self {
        match o {
            agent::ActionOutcome::CarriedOut => ActionOutcome::CarriedOut,
            agent::ActionOutcome::HandedToMdm => ActionOutcome::HandedToMdm,
            agent::ActionOutcome::NotPossible { reason } => ActionOutcome::NotPossible { reason },
            agent::ActionOutcome::Failed { reason } => ActionOutcome::Failed { reason },
        }
    }
}

impl From<ActionOutcome> for agent::ActionOutcome {
    fn from(o: ActionOutcome) -> Self {
        match o {
            ActionOutcome::CarriedOut => agent::ActionOutcome::CarriedOut,
            ActionOutcome::HandedToMdm => agent::ActionOutcome::HandedToMdm,
            ActionOutcome::NotPossible { reason } => agent::ActionOutcome::NotPossible { reason },
            ActionOutcome::Failed { reason } => agent::ActionOutcome::Failed { reason },
        }
    }
}

/// What applying a signed console instruction did. A refusal is a result, not an
/// error: a forged or replayed instruction is news for the console, not a bug.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum InstructionResult {
    /// Verified and carried out.
    Applied {
        /// The console's id for the instruction.
        instruction_id: String,
        /// Its sequence.
        sequence: u64,
        /// Its kind.
        kind: InstructionKind,
        /// The kind's wire name, e.g. `authorize_sim_change`.
        kind_name: String,
        /// What the app must now do, handed out this once.
        actions: Vec<HandedAction>,
        /// The alerts it raised.
        alerts: Vec<Alert>,
    },
    /// Accepted before and delivered again (a managed configuration redelivers its
    /// list): nothing changed.
    Unchanged {
        /// The console's id for the instruction.
        instruction_id: String,
        /// Its sequence.
        sequence: u64,
    },
    /// Refused: nothing changed.
    Refused {
        /// Stable short name of the failed check (`bad_signature`, `unknown_key`,
        /// `expired`, `out_of_scope`, ...): report it to the console.
        code: String,
        /// What failed, naming the check or field, never a value.
        reason: String,
        /// The `instruction_refused` alert, when this input was not refused before.
        alerts: Vec<Alert>,
    },
}

impl From<agent::InstructionOutcome> for InstructionResult {
    fn from(o: agent::InstructionOutcome) -> Self {
        match o {
            agent::InstructionOutcome::Applied(a) => InstructionResult::Applied {
                instruction_id: a.instruction_id,
                sequence: a.sequence,
                kind: a.kind.into(),
                kind_name: a.kind.as_str().to_owned(),
                actions: a.actions.into_iter().map(Into::into).collect(),
                alerts: a.alerts.into_iter().map(Into::into).collect(),
            },
            agent::InstructionOutcome::Unchanged {
                instruction_id,
                sequence,
            } => InstructionResult::Unchanged {
                instruction_id,
                sequence,
            },
            agent::InstructionOutcome::Refused(r) => InstructionResult::Refused {
                code: r.code.to_owned(),
                reason: r.reason,
                alerts: r.alerts.into_iter().map(Into::into).collect(),
            },
        }
    }
}

/// One piece of supporting evidence.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EvidenceItem {
    /// What the value is.
    pub key: String,
    /// The value; identifiers appear only as short keyed-hash prefixes.
    pub value: String,
}

/// An alert waiting for delivery to the console.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Alert {
    /// Stable id: acknowledge with it; the console drops duplicates by it.
    pub id: u64,
    /// When the agent raised it.
    pub at: SystemTime,
    /// What was detected.
    pub kind: AlertKind,
    /// The console's stable name for the kind, e.g. `sim_replaced`.
    pub kind_name: String,
    /// How urgent.
    pub severity: Severity,
    /// The SIM slot concerned.
    pub slot: Option<i32>,
    /// The detector that raised it.
    pub detector: String,
    /// That detector's version.
    pub detector_version: u32,
    /// One line for the security team.
    pub summary: String,
    /// Supporting facts.
    pub evidence: Vec<EvidenceItem>,
    /// How many times it has been handed out for delivery.
    pub delivery_attempts: u32,
}

impl From<portcullis_core::Alert> for Alert {
    fn from(a: portcullis_core::Alert) -> Self {
        Alert {
            id: a.id,
            at: to_system_time(a.finding.at),
            kind: a.finding.kind.into(),
            kind_name: a.finding.kind.as_str().to_owned(),
            severity: a.severity.into(),
            slot: a.finding.slot.map(i32::from),
            detector: a.finding.detector,
            detector_version: a.finding.detector_version,
            summary: a.finding.summary,
            evidence: a
                .finding
                .evidence
                .into_iter()
                .map(|(key, value)| EvidenceItem { key, value })
                .collect(),
            delivery_attempts: a.delivery_attempts,
        }
    }
}

/// A signed journal checkpoint, for the console to store and later pass to
/// `portcullis journal verify --checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JournalCheckpoint {
    /// The last journal record it covers.
    pub seq: i64,
    /// The MAC epoch it closes.
    pub epoch: u64,
    /// When it was made.
    pub at: SystemTime,
    /// The checkpoint as JSON: what the console stores.
    pub json: String,
}

impl From<portcullis_core::journal::SignedCheckpoint> for JournalCheckpoint {
    fn from(cp: portcullis_core::journal::SignedCheckpoint) -> Self {
        JournalCheckpoint {
            seq: cp.seq,
            epoch: cp.epoch,
            at: to_system_time(cp.at),
            json: serde_json::to_string(&cp).expect("a checkpoint always serialises"),
        }
    }
}

/// What offering a trust root to an enrolled device did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TrustRootUpdate {
    /// The trust-root version now in force.
    pub version: u64,
    /// Whether this call rotated to it (false: it was already in force).
    pub changed: bool,
}

impl From<portcullis_core::agent::RootOutcome> for TrustRootUpdate {
    fn from(outcome: portcullis_core::agent::RootOutcome) -> Self {
        use portcullis_core::agent::RootOutcome;
        match outcome {
            RootOutcome::Rotated { to, .. } => TrustRootUpdate {
                version: to,
                changed: true,
            },
            RootOutcome::Unchanged { version } => TrustRootUpdate {
                version,
                changed: false,
            },
        }
    }
}

/// The policy bundle in force.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PolicyStatus {
    /// The bundle's version.
    pub version: u64,
    /// The trust-root version it was signed under.
    pub root_version: u64,
    /// SHA-256 of its payload (hex): what the console compares.
    pub payload_sha256: String,
    /// When it was signed.
    pub issued_at: SystemTime,
    /// When it expires; it stays in force after, and the console should send a new one.
    pub expires: SystemTime,
    /// When this device applied it.
    pub applied_at: SystemTime,
    /// Whether this call put it in force (false when it was already in force).
    pub changed: bool,
}

impl PolicyStatus {
    pub(crate) fn from_applied(a: portcullis_core::policy::AppliedPolicy, changed: bool) -> Self {
        PolicyStatus {
            version: a.version,
            root_version: a.root_version,
            payload_sha256: a.payload_sha256.to_string(),
            issued_at: to_system_time(a.issued_at),
            expires: to_system_time(a.expires),
            applied_at: to_system_time(a.applied_at),
            changed,
        }
    }
}

impl From<portcullis_core::agent::PolicyOutcome> for PolicyStatus {
    fn from(o: portcullis_core::agent::PolicyOutcome) -> Self {
        match o {
            portcullis_core::agent::PolicyOutcome::Applied(a) => {
                PolicyStatus::from_applied(a, true)
            }
            portcullis_core::agent::PolicyOutcome::Unchanged(a) => {
                PolicyStatus::from_applied(a, false)
            }
        }
    }
}

/// A loaded indicator collection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IndicatorCollection {
    /// The label it was loaded under.
    pub name: String,
    /// Usable indicators.
    pub indicators: u64,
    /// Indicators whose pattern could not be used (reported, never silently dropped).
    pub unparsed: u64,
}

/// An open inspection window.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InspectionWindow {
    /// Its id, to hand back with the evidence.
    pub id: u64,
    /// `routine`, `make_up` or `triggered`.
    pub kind: String,
    /// When it opened.
    pub opened_at: SystemTime,
    /// When it closes.
    pub closes_at: SystemTime,
}

impl From<portcullis_core::inspection::schedule::OpenWindow> for InspectionWindow {
    fn from(w: portcullis_core::inspection::schedule::OpenWindow) -> Self {
        InspectionWindow {
            id: w.id,
            kind: w.kind.as_str().to_owned(),
            opened_at: to_system_time(w.opened_at),
            closes_at: to_system_time(w.closes_at),
        }
    }
}

/// The signed outcome of an inspection, for the console to fetch.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InspectionReport {
    /// The report (JSON): evidence digest, counts, findings.
    pub report_json: String,
    /// SHA-256 of the submitted evidence (hex).
    pub evidence_sha256: String,
    /// SHA-256 of `report_json` (hex), which the signature covers.
    pub report_sha256: String,
    /// Ed25519 signature by the device's checkpoint key (hex).
    pub signature: String,
    /// The evidence bundle for the console: report, signature, public key and the evidence
    /// as submitted (JSON, format `portcullis-evidence-bundle-v1`).
    pub evidence_bundle: String,
    /// How many indicators matched.
    pub findings: u32,
    /// Alerts raised (an `indicator_match` when anything matched).
    pub alerts: Vec<Alert>,
}

impl From<portcullis_core::agent::InspectionReceipt> for InspectionReport {
    fn from(r: portcullis_core::agent::InspectionReceipt) -> Self {
        InspectionReport {
            report_json: r.report_json,
            evidence_sha256: r.evidence_sha256,
            report_sha256: r.report_sha256,
            signature: r.signature,
            evidence_bundle: r.evidence_bundle,
            findings: u32::try_from(r.findings).unwrap_or(u32::MAX),
            alerts: r.alerts.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_and_instruction_kinds_round_trip() {
        for kind in alert::AlertKind::ALL {
            assert_eq!(alert::AlertKind::from(AlertKind::from(kind)), kind);
        }
        for kind in instruction::InstructionKind::ALL {
            assert_eq!(
                instruction::InstructionKind::from(InstructionKind::from(kind)),
                kind
            );
        }
    }

    #[test]
    fn instruction_outcomes_cross_typed() {
        let handed = agent::HandedAction {
            action_id: "ins-5".into(),
            sequence: 5,
            action: agent::InstructionAction::WipeDevice { preserve_frp: true },
            route: compliance::Route::Mdm,
        };
        let applied = InstructionResult::from(agent::InstructionOutcome::Applied(
            agent::AppliedInstruction {
                instruction_id: "ins-5".into(),
                sequence: 5,
                kind: instruction::InstructionKind::WipeDevice,
                actions: vec![handed],
                alerts: Vec::new(),
            },
        ));
        let InstructionResult::Applied {
            kind_name, actions, ..
        } = applied
        else {
            panic!("not applied: {applied:?}");
        };
        assert_eq!(kind_name, "wipe_device");
        assert_eq!(
            actions,
            vec![HandedAction {
                action_id: "ins-5".into(),
                sequence: 5,
                action: InstructionAction::WipeDevice { preserve_frp: true },
                route: ActionRoute::Mdm,
            }]
        );
        let refused = InstructionResult::from(agent::InstructionOutcome::Refused(
            agent::RefusedInstruction {
                code: "unknown_key",
                reason: "signed by a key the root does not list".into(),
                alerts: Vec::new(),
            },
        ));
        assert!(
            matches!(refused, InstructionResult::Refused { ref code, .. } if code == "unknown_key")
        );
        assert_eq!(
            agent::ActionOutcome::from(ActionOutcome::NotPossible {
                reason: "no MDM".into()
            }),
            agent::ActionOutcome::NotPossible {
                reason: "no MDM".into()
            }
        );
    }

    #[test]
    fn times_round_trip_on_both_sides_of_the_epoch() {
        for millis in [0, 1, 1_772_356_200_000, -86_400_000] {
            let t = Timestamp::from_unix_millis(millis);
            assert_eq!(to_timestamp(to_system_time(t)), t);
        }
    }
}

// ---- Managed configuration and console messages -------------------------------------

/// The managed configuration as the platform read it (Android restrictions bundle, iOS
/// `com.apple.configuration.managed`): values as delivered, absent keys `None` or empty.
/// The library trims, splits and validates; the app decides nothing about them.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct ManagedConfigValues {
    /// `trust_root`.
    pub trust_root: Option<String>,
    /// `device_id`.
    pub device_id: Option<String>,
    /// `device_groups` (comma-separated).
    pub device_groups: Option<String>,
    /// `policy_bundle`.
    pub policy_bundle: Option<String>,
    /// `indicator_collections`: the string, or each element of an array; one signed file per line.
    pub indicator_collections: Vec<String>,
    /// `instructions`: the string, or each element of an array; one envelope per line.
    pub instructions: Vec<String>,
    /// `console_endpoint`.
    pub console_endpoint: Option<String>,
    /// Keys whose value was not text (the key only, never the value).
    pub not_text: Vec<String>,
}

impl From<ManagedConfigValues> for agent::ManagedConfig {
    fn from(v: ManagedConfigValues) -> Self {
        agent::ManagedConfig {
            trust_root: v.trust_root,
            device_id: v.device_id,
            device_groups: v.device_groups,
            policy_bundle: v.policy_bundle,
            indicator_collections: v.indicator_collections,
            instructions: v.instructions,
            console_endpoint: v.console_endpoint,
            not_text: v.not_text,
        }
    }
}

/// A configuration value that cannot be used as it is; names the key, never the value.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConfigProblem {
    /// The managed-configuration key.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl From<agent::ConfigProblem> for ConfigProblem {
    fn from(p: agent::ConfigProblem) -> Self {
        ConfigProblem {
            key: p.key.to_owned(),
            reason: p.reason,
        }
    }
}

/// The library refused an input; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Refusal {
    /// Stable short code (`rollback`, `expired`, `threshold`, `bad_signature`, ...).
    pub code: String,
    /// What failed, naming the check or field, never a value.
    pub reason: String,
    /// Refused before and not offered again: no new alert was raised.
    pub remembered: bool,
}

impl From<agent::Refusal> for Refusal {
    fn from(r: agent::Refusal) -> Self {
        Refusal {
            code: r.code,
            reason: r.reason,
            remembered: r.remembered,
        }
    }
}

/// What became of `trust_root`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RootSync {
    /// No `trust_root` configured.
    NotConfigured,
    /// Installed at enrollment.
    Installed {
        /// The root's version.
        version: u64,
    },
    /// A rotation put it in force.
    Rotated {
        /// The version it replaced.
        from_version: u64,
        /// Its version.
        to_version: u64,
    },
    /// The root in force, delivered again.
    Unchanged {
        /// Its version.
        version: u64,
    },
    /// Refused: nothing changed, and the refusal is journaled and alerted.
    Refused {
        /// The code and message the app logs or shows; the code is stable.
        refusal: Refusal,
    },
    /// Not installed: the configuration is incomplete or names the device wrongly.
    NotInstalled {
        /// What to fix.
        problem: ConfigProblem,
    },
}

impl From<agent::RootSync> for RootSync {
    fn from(r: agent::RootSync) -> Self {
        use agent::RootSync as R;
        match r {
            R::NotConfigured => RootSync::NotConfigured,
            R::Installed { version } => RootSync::Installed { version },
            R::Rotated { from, to } => RootSync::Rotated {
                from_version: from,
                to_version: to,
            },
            R::Unchanged { version } => RootSync::Unchanged { version },
            R::Refused(r) => RootSync::Refused { refusal: r.into() },
            R::NotInstalled(p) => RootSync::NotInstalled { problem: p.into() },
        }
    }
}

/// What became of `policy_bundle`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum BundleSync {
    /// No `policy_bundle` configured.
    NotConfigured,
    /// Verified and now in force.
    Applied {
        /// The bundle.
        policy: PolicyStatus,
    },
    /// The bundle in force, delivered again.
    Unchanged {
        /// The bundle.
        policy: PolicyStatus,
    },
    /// Refused; the policy in force stays.
    Refused {
        /// The code and message the app logs or shows; the code is stable.
        refusal: Refusal,
    },
    /// Not applied (no trust root yet).
    NotApplied {
        /// What to fix.
        problem: ConfigProblem,
    },
}

impl From<agent::BundleSync> for BundleSync {
    fn from(b: agent::BundleSync) -> Self {
        use agent::BundleSync as B;
        match b {
            B::NotConfigured => BundleSync::NotConfigured,
            B::Applied(a) => BundleSync::Applied {
                policy: PolicyStatus::from_applied(a, true),
            },
            B::Unchanged(a) => BundleSync::Unchanged {
                policy: PolicyStatus::from_applied(a, false),
            },
            B::Refused(r) => BundleSync::Refused { refusal: r.into() },
            B::NotApplied(p) => BundleSync::NotApplied { problem: p.into() },
        }
    }
}

/// What became of one signed indicator collection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum IndicatorSync {
    /// In use (newly loaded, or the one already loaded).
    InUse {
        /// Its label.
        collection: String,
        /// Its version.
        version: u64,
    },
    /// Refused: nothing changed, and the refusal is journaled and alerted.
    Refused {
        /// The code and message the app logs or shows; the code is stable.
        refusal: Refusal,
    },
    /// Not loaded (no trust root yet); offered again at the next sync.
    NotLoaded {
        /// What to fix.
        problem: ConfigProblem,
    },
}

impl From<agent::IndicatorSync> for IndicatorSync {
    fn from(i: agent::IndicatorSync) -> Self {
        use agent::IndicatorSync as I;
        match i {
            I::InUse {
                collection,
                version,
            } => IndicatorSync::InUse {
                collection,
                version,
            },
            I::Refused(r) => IndicatorSync::Refused { refusal: r.into() },
            I::NotLoaded(p) => IndicatorSync::NotLoaded { problem: p.into() },
        }
    }
}

/// What became of `instructions`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum InstructionsSync {
    /// No `instructions` configured.
    NotConfigured,
    /// One result per envelope, oldest sequence first; carry out the actions awaiting an
    /// outcome (`actions_awaiting_outcome`) afterwards.
    Applied {
        /// The results.
        results: Vec<InstructionResult>,
    },
    /// Not applied (no trust root yet).
    NotApplied {
        /// What to fix.
        problem: ConfigProblem,
    },
}

impl From<agent::InstructionsSync> for InstructionsSync {
    fn from(i: agent::InstructionsSync) -> Self {
        use agent::InstructionsSync as I;
        match i {
            I::NotConfigured => InstructionsSync::NotConfigured,
            I::Applied(outcomes) => InstructionsSync::Applied {
                results: outcomes.into_iter().map(Into::into).collect(),
            },
            I::NotApplied(p) => InstructionsSync::NotApplied { problem: p.into() },
        }
    }
}

/// The two severities of a console message (an Android keyed app state has two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsoleSeverity {
    /// Nothing to act on (`KeyedAppState.SEVERITY_INFO`).
    Info,
    /// Something to act on (`KeyedAppState.SEVERITY_ERROR`).
    Error,
}

/// One `portcullis/console/v1` message, every field within the keyed-app-state limits:
/// hand the strings to the keyed-app-states reporter or managed app feedback unchanged.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsoleMessage {
    /// The key (≤ 100 UTF-16 units).
    pub key: String,
    /// Info or error.
    pub severity: ConsoleSeverity,
    /// One line (≤ 1,000 UTF-16 units).
    pub message: String,
    /// Compact JSON (≤ 1,000 UTF-16 units), schema `docs/console-message.schema.json`.
    pub data: String,
}

impl From<portcullis_core::console::ConsoleMessage> for ConsoleMessage {
    fn from(m: portcullis_core::console::ConsoleMessage) -> Self {
        ConsoleMessage {
            key: m.key,
            severity: match m.severity {
                portcullis_core::console::ConsoleSeverity::Info => ConsoleSeverity::Info,
                portcullis_core::console::ConsoleSeverity::Error => ConsoleSeverity::Error,
            },
            message: m.message,
            data: m.data,
        }
    }
}

/// The one answer to `sync_managed_config`: each part's outcome, and the console
/// message to publish (key `portcullis.policy`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ManagedConfigSync {
    /// `trust_root`.
    pub trust_root: RootSync,
    /// `policy_bundle`.
    pub policy: BundleSync,
    /// `indicator_collections`, one per configured collection.
    pub indicators: Vec<IndicatorSync>,
    /// `instructions`.
    pub instructions: InstructionsSync,
    /// Values that cannot be used as they are.
    pub problems: Vec<ConfigProblem>,
    /// Whether a trust root is installed after this sync.
    pub enrolled: bool,
    /// The policy in force after this sync.
    pub in_force: Option<PolicyStatus>,
    /// Whether the console should see this sync as a fault (a refusal or a problem).
    pub is_error: bool,
    /// The sync for the console: publish it as it is.
    pub console: ConsoleMessage,
}

impl ManagedConfigSync {
    pub(crate) fn from_core(s: agent::ManagedConfigSync, now: Timestamp) -> Self {
        let console = portcullis_core::console::policy_sync(&s, now).into();
        ManagedConfigSync {
            is_error: s.is_error(),
            enrolled: s.enrolled,
            in_force: s.in_force.map(|a| PolicyStatus::from_applied(a, false)),
            trust_root: s.trust_root.into(),
            policy: s.policy.into(),
            indicators: s.indicators.into_iter().map(Into::into).collect(),
            instructions: s.instructions.into(),
            problems: s.problems.into_iter().map(Into::into).collect(),
            console,
        }
    }
}

impl From<Alert> for portcullis_core::Alert {
    fn from(a: Alert) -> Self {
        portcullis_core::Alert {
            id: a.id,
            finding: alert::Finding {
                at: to_timestamp(a.at),
                kind: a.kind.into(),
                slot: a.slot.and_then(|s| u8::try_from(s).ok()),
                detector: a.detector,
                detector_version: a.detector_version,
                summary: a.summary,
                evidence: a.evidence.into_iter().map(|e| (e.key, e.value)).collect(),
                severity: Some(a.severity.into()),
            },
            severity: a.severity.into(),
            delivery_attempts: a.delivery_attempts,
        }
    }
}

impl From<InstructionAction> for agent::InstructionAction {
    fn from(a: InstructionAction) -> Self {
        use agent::InstructionAction as A;
        match a {
            InstructionAction::LockNow => A::LockNow,
            InstructionAction::WipeWorkData { preserve_frp } => A::WipeWorkData { preserve_frp },
            InstructionAction::WipeDevice { preserve_frp } => A::WipeDevice { preserve_frp },
            InstructionAction::StartInspection { reason } => A::StartInspection { reason },
            InstructionAction::RotateKeys => A::RotateKeys,
            InstructionAction::ShowNotice { title, body } => A::ShowNotice { title, body },
            InstructionAction::Attest { challenge, certify } => A::Attest { challenge, certify },
        }
    }
}

impl From<HandedAction> for agent::HandedAction {
    fn from(a: HandedAction) -> Self {
        agent::HandedAction {
            action_id: a.action_id,
            sequence: a.sequence,
            action: a.action.into(),
            route: match a.route {
                ActionRoute::Agent => compliance::Route::Agent,
                ActionRoute::Mdm => compliance::Route::Mdm,
                // The core never hands such an action out (it reports it itself), and the
                // console message names only the route; the reason does not cross back.
                ActionRoute::NotPossible => {
                    compliance::Route::NotPossible(compliance::NotPossibleReason::NotOnPlatform)
                }
            },
        }
    }
}

impl From<&InstructionResult> for portcullis_core::console::InstructionTally {
    fn from(r: &InstructionResult) -> Self {
        use portcullis_core::console::InstructionTally as T;
        match r {
            InstructionResult::Applied { sequence, .. } => T::Applied {
                sequence: *sequence,
            },
            InstructionResult::Unchanged { sequence, .. } => T::Unchanged {
                sequence: *sequence,
            },
            InstructionResult::Refused { code, .. } => T::Refused { code: code.clone() },
        }
    }
}

// ---------------------------------------------------------------------------------
// Device telemetry (network and security logs)

/// A DNS lookup from the platform's network log (Android `DnsEvent`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DnsLogEvent {
    /// When the lookup happened.
    pub at: SystemTime,
    /// The package that made it.
    pub package: String,
    /// The host name looked up.
    pub host: String,
    /// The addresses it resolved to, as text (`192.0.2.1`, `2001:db8::1`).
    pub addresses: Vec<String>,
}

/// An outgoing connection from the platform's network log (Android `ConnectEvent`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConnectLogEvent {
    /// When the connection was made.
    pub at: SystemTime,
    /// The package that made it.
    pub package: String,
    /// The remote address, as text.
    pub address: String,
    /// The remote port.
    pub port: u16,
}

/// Android's verified-boot states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum VerifiedBootState {
    /// Locked bootloader, OEM-signed OS.
    Green,
    /// Locked bootloader, OS signed by a user-installed key.
    Yellow,
    /// Unlocked bootloader.
    Orange,
    /// Verification failed.
    Red,
}

/// dm-verity's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DmVerityMode {
    /// Corruption refused.
    Enforcing,
    /// Corruption returns I/O errors.
    Eio,
    /// Off: a modified system partition would go unnoticed.
    Disabled,
}

/// A security-log entry (Android `SecurityEvent`), by tag.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SecurityLogEvent {
    /// `TAG_ADB_SHELL_CMD`; the command is read for its length only.
    AdbShellCommand {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// The command line.
        command: String,
    },
    /// `TAG_ADB_SHELL_INTERACTIVE`.
    AdbShellInteractive {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
    },
    /// `TAG_SYNC_RECV_FILE`: a file pulled over adb.
    AdbFilePulled {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// The file's path.
        path: String,
    },
    /// `TAG_APP_PROCESS_START`.
    AppProcessStart {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// The process name.
        process: String,
        /// The package, where known.
        package: Option<String>,
        /// SHA-256 of the APK (hex).
        apk_sha256: Option<String>,
    },
    /// `TAG_CERT_AUTHORITY_INSTALLED`.
    CertAuthorityInstalled {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// Whether the install succeeded.
        success: bool,
        /// The certificate's subject.
        subject: String,
        /// SHA-256 of the certificate, when the app could read it.
        sha256: Option<String>,
    },
    /// `TAG_KEYGUARD_DISMISS_AUTH_ATTEMPT`.
    KeyguardAuthAttempt {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// Whether it unlocked.
        success: bool,
    },
    /// `TAG_OS_STARTUP`.
    OsStartup {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// The verified-boot state.
        verified_boot_state: VerifiedBootState,
        /// dm-verity's mode.
        dm_verity: DmVerityMode,
    },
    /// `TAG_MEDIA_MOUNT`.
    MediaMount {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// The mount point.
        mount_point: String,
    },
    /// `TAG_WIFI_CONNECTION`.
    WifiConnection {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
    },
    /// `TAG_BLUETOOTH_CONNECTION`.
    BluetoothConnection {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
        /// Whether it connected.
        success: bool,
    },
    /// `TAG_WIPE_FAILURE`.
    WipeFailure {
        /// When the OS logged it; the detectors count events within their windows by it.
        at: SystemTime,
    },
}

/// One logged event, in the order the platform delivered them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TelemetryLogEvent {
    /// A DNS lookup.
    Dns {
        /// The lookup.
        event: DnsLogEvent,
    },
    /// A connection.
    Connect {
        /// The connection.
        event: ConnectLogEvent,
    },
    /// A security-log entry.
    Security {
        /// The entry.
        event: SecurityLogEvent,
    },
}

/// What ingesting one batch did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TelemetryResult {
    /// Alerts raised (also queued for delivery).
    pub alerts: Vec<Alert>,
    /// Indicator matches, including repeats not raised again.
    pub matches: u32,
    /// DNS lookups in the batch.
    pub dns_events: u32,
    /// Connections in the batch.
    pub connect_events: u32,
    /// Security-log entries in the batch.
    pub security_events: u32,
    /// The batch's outcome as the console message `portcullis.telemetry`, to publish.
    pub console: ConsoleMessage,
}

impl TelemetryResult {
    /// The answer to one ingested batch, with its console message dated `at`.
    pub(crate) fn new(o: agent::TelemetryOutcome, at: portcullis_core::Timestamp) -> Self {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let wide = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let console = portcullis_core::console::telemetry(
            &portcullis_core::console::TelemetrySummary {
                dns: wide(o.counts.dns),
                connect: wide(o.counts.connect),
                security: wide(o.counts.security),
                matches: wide(o.matches.len()),
                alerts: wide(o.alerts.len()),
            },
            at,
        );
        TelemetryResult {
            matches: count(o.matches.len()),
            dns_events: count(o.counts.dns),
            connect_events: count(o.counts.connect),
            security_events: count(o.counts.security),
            alerts: o.alerts.into_iter().map(Into::into).collect(),
            console: console.into(),
        }
    }
}

/// Which platform logs the policy in force asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct TelemetryLogging {
    /// Turn on the network log (Android `setNetworkLoggingEnabled`).
    pub network_logging: bool,
    /// Turn on the security log (Android `setSecurityLoggingEnabled`).
    pub security_logging: bool,
}

/// The core's batch from the typed records; an unreadable address is refused naming
/// the event and field.
pub(crate) fn telemetry_batch(
    events: Vec<TelemetryLogEvent>,
) -> portcullis_core::Result<portcullis_core::telemetry::TelemetryBatch> {
    use portcullis_core::telemetry as t;
    let address = |i: usize, field: String, text: &str| {
        text.trim().parse::<std::net::IpAddr>().map_err(|_| {
            portcullis_core::Error::invalid(
                "telemetry",
                format!("events[{i}].{field} is not an IP address"),
            )
        })
    };
    let mut out = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        out.push(match event {
            TelemetryLogEvent::Dns { event } => t::TelemetryEvent::Dns(t::DnsEvent {
                at: to_timestamp(event.at),
                package: event.package,
                host: event.host,
                addresses: event
                    .addresses
                    .iter()
                    .enumerate()
                    .map(|(j, a)| address(i, format!("addresses[{j}]"), a))
                    .collect::<portcullis_core::Result<_>>()?,
            }),
            TelemetryLogEvent::Connect { event } => t::TelemetryEvent::Connect(t::ConnectEvent {
                at: to_timestamp(event.at),
                package: event.package,
                address: address(i, "address".into(), &event.address)?,
                port: event.port,
            }),
            TelemetryLogEvent::Security { event } => {
                t::TelemetryEvent::Security(security_event(event))
            }
        });
    }
    Ok(t::TelemetryBatch { events: out })
}

fn security_event(event: SecurityLogEvent) -> portcullis_core::telemetry::SecurityEvent {
    use portcullis_core::telemetry::{BootState, DmVerity, SecurityEvent, SecurityEventKind as K};
    let (at, event) = match event {
        SecurityLogEvent::AdbShellCommand { at, command } => (at, K::AdbShellCommand { command }),
        SecurityLogEvent::AdbShellInteractive { at } => (at, K::AdbShellInteractive),
        SecurityLogEvent::AdbFilePulled { at, path } => (at, K::AdbFilePulled { path }),
        SecurityLogEvent::AppProcessStart {
            at,
            process,
            package,
            apk_sha256,
        } => (
            at,
            K::AppProcessStart {
                process,
                package,
                apk_sha256,
            },
        ),
        SecurityLogEvent::CertAuthorityInstalled {
            at,
            success,
            subject,
            sha256,
        } => (
            at,
            K::CertAuthorityInstalled {
                success,
                subject,
                sha256,
            },
        ),
        SecurityLogEvent::KeyguardAuthAttempt { at, success } => {
            (at, K::KeyguardAuthAttempt { success })
        }
        SecurityLogEvent::OsStartup {
            at,
            verified_boot_state,
            dm_verity,
        } => (
            at,
            K::OsStartup {
                verified_boot_state: match verified_boot_state {
                    VerifiedBootState::Green => BootState::Green,
                    VerifiedBootState::Yellow => BootState::Yellow,
                    VerifiedBootState::Orange => BootState::Orange,
                    VerifiedBootState::Red => BootState::Red,
                },
                dm_verity: match dm_verity {
                    DmVerityMode::Enforcing => DmVerity::Enforcing,
                    DmVerityMode::Eio => DmVerity::Eio,
                    DmVerityMode::Disabled => DmVerity::Disabled,
                },
            },
        ),
        SecurityLogEvent::MediaMount { at, mount_point } => (at, K::MediaMount { mount_point }),
        SecurityLogEvent::WifiConnection { at } => (at, K::WifiConnection),
        SecurityLogEvent::BluetoothConnection { at, success } => {
            (at, K::BluetoothConnection { success })
        }
        SecurityLogEvent::WipeFailure { at } => (at, K::WipeFailure),
    };
    SecurityEvent {
        at: to_timestamp(at),
        event,
    }
}

#[cfg(test)]
mod telemetry_tests {
    use super::*;

    #[test]
    fn records_become_the_core_batch_and_bad_addresses_are_named() {
        let at = to_system_time(Timestamp::from_unix_millis(1_777_593_600_000));
        let batch = telemetry_batch(vec![
            TelemetryLogEvent::Dns {
                event: DnsLogEvent {
                    at,
                    package: "com.x".into(),
                    host: "a.example".into(),
                    addresses: vec!["192.0.2.1".into()],
                },
            },
            TelemetryLogEvent::Security {
                event: SecurityLogEvent::OsStartup {
                    at,
                    verified_boot_state: VerifiedBootState::Orange,
                    dm_verity: DmVerityMode::Eio,
                },
            },
        ])
        .unwrap();
        assert_eq!(batch.counts().dns, 1);
        assert_eq!(batch.counts().security, 1);
        let err = telemetry_batch(vec![TelemetryLogEvent::Connect {
            event: ConnectLogEvent {
                at,
                package: "com.x".into(),
                address: "+4915112345678".into(),
                port: 1,
            },
        }])
        .unwrap_err()
        .to_string();
        assert!(err.contains("events[0].address"), "{err}");
        assert!(!err.contains("4915112345678"), "{err}");
    }
}

/// The platform's answer to an `Attest` action.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttestationAnswer {
    /// The new key's certificate chain, DER, leaf first (`KeyStore.getCertificateChain`).
    pub chain: Vec<Vec<u8>>,
    /// The new key's SHA256withECDSA signature over the action's `certify` bytes (DER).
    pub certification: Vec<u8>,
    /// Whether StrongBox made the key.
    pub strong_box: bool,
    /// Whether StrongBox was asked for and unavailable, so the TEE made the key.
    pub strong_box_fallback: bool,
}

impl From<AttestationAnswer> for agent::AttestationAnswer {
    fn from(a: AttestationAnswer) -> Self {
        agent::AttestationAnswer {
            chain: a.chain,
            certification: a.certification,
            strong_box: a.strong_box,
            strong_box_fallback: a.strong_box_fallback,
        }
    }
}

/// What submitting an attestation produced.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttestationReceipt {
    /// The console messages carrying the chain: publish every one.
    pub messages: Vec<ConsoleMessage>,
    /// The `instruction_outcome` alert.
    pub alerts: Vec<Alert>,
}
