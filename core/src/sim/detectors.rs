//! The SIM guard's detectors: each a small state machine with a name and a version.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{
    CarrierApi, CarrierVerdict, Facts, GuardEvent, IdentityDiff, ServiceState, SimPolicy, SimState,
};
use crate::alert::{AlertKind, Finding};
use crate::time::{Timestamp, MINUTE_MS};

/// A detector's identity, reported with every alert it raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorInfo {
    /// Stable name.
    pub name: &'static str,
    /// Bumped whenever the detector's logic changes.
    pub version: u32,
    /// The alert kinds it can raise.
    pub kinds: &'static [AlertKind],
}

/// One detector. Detectors read the guard's facts and keep only their own state:
/// which conditions they have already raised, and their timers.
pub trait Detector {
    /// Name, version and kinds.
    fn info(&self) -> DetectorInfo;

    /// Reacts to a digested input; `facts` already include it.
    fn observe(
        &mut self,
        facts: &Facts,
        policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    );

    /// Fires timers that expired by `now`; `facts` are as they were before `now`.
    fn on_time(
        &mut self,
        _facts: &Facts,
        _policy: &SimPolicy,
        _now: Timestamp,
        _out: &mut Vec<Finding>,
    ) {
    }

    /// The earliest time this detector needs to run again.
    fn next_deadline(&self, _facts: &Facts, _policy: &SimPolicy) -> Option<Timestamp> {
        None
    }
}

fn finding(
    info: &DetectorInfo,
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
        detector: info.name.to_owned(),
        detector_version: info.version,
        summary,
        evidence: evidence
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        severity: None,
    }
}

/// The guard's detectors, held concretely so their state serialises with the guard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Detectors {
    identity: IdentityDetector,
    presence: PresenceDetector,
    port_out: PortOutDetector,
    carrier: CarrierCheckDetector,
    radio: Radio2gDetector,
}

impl Detectors {
    fn all(&self) -> [&dyn Detector; 5] {
        [
            &self.identity,
            &self.presence,
            &self.port_out,
            &self.carrier,
            &self.radio,
        ]
    }

    fn all_mut(&mut self) -> [&mut dyn Detector; 5] {
        [
            &mut self.identity,
            &mut self.presence,
            &mut self.port_out,
            &mut self.carrier,
            &mut self.radio,
        ]
    }

    pub(super) fn info(&self) -> Vec<DetectorInfo> {
        self.all().iter().map(|d| d.info()).collect()
    }

    pub(super) fn observe(
        &mut self,
        facts: &Facts,
        policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        for d in self.all_mut() {
            d.observe(facts, policy, event, now, out);
        }
    }

    pub(super) fn on_time(
        &mut self,
        facts: &Facts,
        policy: &SimPolicy,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        for d in self.all_mut() {
            d.on_time(facts, policy, now, out);
        }
    }

    pub(super) fn next_deadline(&self, facts: &Facts, policy: &SimPolicy) -> Option<Timestamp> {
        self.all()
            .iter()
            .filter_map(|d| d.next_deadline(facts, policy))
            .min()
    }
}

/// Compares each ready SIM's identity with the slot's baseline and the policy's pins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct IdentityDetector {
    /// Conditions raised per slot, kept until the baseline SIM returns or a change is authorised.
    active: BTreeMap<u8, BTreeSet<AlertKind>>,
}

impl Detector for IdentityDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo {
            name: "sim_identity",
            version: 2,
            kinds: &[
                AlertKind::SimReplaced,
                AlertKind::SubscriberChanged,
                AlertKind::NumberChanged,
                AlertKind::CarrierChanged,
                AlertKind::SimChangeAuthorized,
            ],
        }
    }

    fn observe(
        &mut self,
        _facts: &Facts,
        _policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let GuardEvent::Sim {
            slot,
            diff: Some(comparison),
            authorized,
            iccid_prefixes,
            ..
        } = event
        else {
            return;
        };
        let info = self.info();
        let diff = comparison.combined();
        let mut evidence = vec![("fields_changed", diff.fields())];
        if comparison.pins.any() {
            evidence.push(("fields_differing_from_pins", comparison.pins.fields()));
        }
        if let Some((baseline, observed)) = iccid_prefixes {
            if let Some(baseline) = baseline {
                evidence.push(("baseline_iccid_hash", baseline.clone()));
            }
            evidence.push(("observed_iccid_hash", observed.clone()));
        }
        // What the SIM was found to differ from, for the summaries.
        let reference = |field_differs: fn(IdentityDiff) -> bool| match (
            field_differs(comparison.baseline),
            field_differs(comparison.pins),
        ) {
            (true, true) => "the baseline and the identity the policy pins",
            (false, true) => "the identity the policy pins",
            _ => "the baseline",
        };
        if let Some(auth) = authorized {
            self.active.remove(slot);
            evidence.push(("authorized_until", auth.until.to_string()));
            evidence.push(("authorization_reason", auth.reason.clone()));
            out.push(finding(
                &info,
                AlertKind::SimChangeAuthorized,
                now,
                Some(*slot),
                format!("Authorised SIM change in slot {slot} became the new baseline"),
                evidence,
            ));
            return;
        }
        if !diff.any() {
            self.active.remove(slot);
            return;
        }
        // The most specific explanation wins: a new card explains every other difference.
        let mut kinds = BTreeSet::new();
        if diff.iccid {
            kinds.insert(AlertKind::SimReplaced);
        } else {
            if diff.imsi {
                kinds.insert(AlertKind::SubscriberChanged);
            }
            if diff.msisdn {
                kinds.insert(AlertKind::NumberChanged);
            }
            if diff.home && !diff.imsi {
                kinds.insert(AlertKind::CarrierChanged);
            }
        }
        let active = self.active.entry(*slot).or_default();
        for kind in &kinds {
            if active.contains(kind) {
                continue;
            }
            let summary = match kind {
                AlertKind::SimReplaced => format!(
                    "SIM in slot {slot} was replaced: its card serial differs from {}",
                    reference(|d| d.iccid)
                ),
                AlertKind::SubscriberChanged if !comparison.baseline.imsi => format!(
                    "Subscriber identity in slot {slot} differs from {}",
                    reference(|d| d.imsi)
                ),
                AlertKind::SubscriberChanged => format!(
                    "Subscriber identity in slot {slot} changed while the card stayed the same"
                ),
                AlertKind::NumberChanged => format!(
                    "Phone number in slot {slot} differs from {}",
                    reference(|d| d.msisdn)
                ),
                _ => format!(
                    "Home network of the SIM in slot {slot} differs from {}",
                    reference(|d| d.home)
                ),
            };
            out.push(finding(
                &info,
                *kind,
                now,
                Some(*slot),
                summary,
                evidence.clone(),
            ));
        }
        *active = kinds;
    }
}

/// How long after a reboot a missing SIM is given to come back.
pub(super) const REBOOT_GRACE_MS: i64 = 3 * MINUTE_MS;

/// Notices a SIM going absent outside a reboot, and a required slot found empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PresenceDetector {
    /// Slots whose removal has been raised.
    active: BTreeSet<u8>,
    /// Slots seen absent during a reboot's grace period, with the grace deadline.
    pending: BTreeMap<u8, Timestamp>,
}

impl PresenceDetector {
    fn raise(&mut self, slot: u8, now: Timestamp, out: &mut Vec<Finding>) {
        if self.active.insert(slot) {
            let info = self.info();
            out.push(finding(
                &info,
                AlertKind::SimRemoved,
                now,
                Some(slot),
                format!("SIM in slot {slot} is absent"),
                vec![("sim_state", "absent".to_owned())],
            ));
        }
    }
}

impl Detector for PresenceDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo {
            name: "sim_presence",
            version: 2,
            kinds: &[AlertKind::SimRemoved],
        }
    }

    fn observe(
        &mut self,
        facts: &Facts,
        policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let GuardEvent::Sim { slot, state, .. } = event else {
            return;
        };
        if *state != SimState::Absent {
            self.pending.remove(slot);
            self.active.remove(slot);
            return;
        }
        let had_sim = facts.slots.get(slot).is_some_and(|f| f.baseline.is_some());
        if !(had_sim || policy.requires(*slot)) || self.active.contains(slot) {
            return;
        }
        match facts.booted_at {
            Some(boot) if now < boot.plus_millis(REBOOT_GRACE_MS) => {
                self.pending
                    .insert(*slot, boot.plus_millis(REBOOT_GRACE_MS));
            }
            _ => self.raise(*slot, now, out),
        }
    }

    fn on_time(
        &mut self,
        facts: &Facts,
        _policy: &SimPolicy,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let due: Vec<u8> = self
            .pending
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(slot, _)| *slot)
            .collect();
        for slot in due {
            self.pending.remove(&slot);
            let still_absent = facts
                .slots
                .get(&slot)
                .is_some_and(|f| f.sim_state == Some(SimState::Absent));
            if still_absent {
                self.raise(slot, now, out);
            }
        }
    }

    fn next_deadline(&self, _facts: &Facts, _policy: &SimPolicy) -> Option<Timestamp> {
        self.pending.values().min().copied()
    }
}

/// Notices service lost for the policy window while the SIM is unchanged and Wi-Fi works:
/// what a phone sees when its number has been ported or its SIM swapped away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PortOutDetector {
    /// Per slot, since when the suspicious outage has lasted.
    outage_since: BTreeMap<u8, Timestamp>,
    /// Slots whose port-out has been raised (until service returns).
    active: BTreeSet<u8>,
}

impl PortOutDetector {
    fn suspicious(facts: &Facts, slot: u8) -> bool {
        let Some(f) = facts.slots.get(&slot) else {
            return false;
        };
        let conn = facts.connectivity.unwrap_or_default();
        f.sim_state == Some(SimState::Ready)
            && f.baseline.is_some()
            && !f.mismatch
            && matches!(
                f.service,
                Some(ServiceState::EmergencyOnly | ServiceState::OutOfService)
            )
            && conn.wifi
            && !conn.airplane_mode
    }
}

impl Detector for PortOutDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo {
            name: "port_out",
            version: 1,
            kinds: &[AlertKind::PortOutSuspected],
        }
    }

    fn observe(
        &mut self,
        facts: &Facts,
        _policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        _out: &mut Vec<Finding>,
    ) {
        if matches!(event, GuardEvent::Reboot) {
            // What happened while the phone was off is unknown: start counting afresh.
            self.outage_since.clear();
        }
        for (slot, f) in &facts.slots {
            if f.service == Some(ServiceState::InService) {
                self.active.remove(slot);
            }
            if Self::suspicious(facts, *slot) {
                self.outage_since.entry(*slot).or_insert(now);
            } else {
                self.outage_since.remove(slot);
            }
        }
    }

    fn on_time(
        &mut self,
        _facts: &Facts,
        policy: &SimPolicy,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let info = self.info();
        for (slot, since) in &self.outage_since {
            if self.active.contains(slot) || now < since.plus_millis(policy.port_out_window_ms) {
                continue;
            }
            self.active.insert(*slot);
            out.push(finding(
                &info,
                AlertKind::PortOutSuspected,
                now,
                Some(*slot),
                format!(
                    "Slot {slot} has had no cellular service for {} minutes while its SIM is unchanged and Wi-Fi works: the number may have been ported or swapped away",
                    now.millis_since(*since) / MINUTE_MS
                ),
                vec![
                    ("outage_since", since.to_string()),
                    ("window_minutes", (policy.port_out_window_ms / MINUTE_MS).to_string()),
                ],
            ));
        }
    }

    fn next_deadline(&self, _facts: &Facts, policy: &SimPolicy) -> Option<Timestamp> {
        self.outage_since
            .iter()
            .filter(|(slot, _)| !self.active.contains(slot))
            .map(|(_, since)| since.plus_millis(policy.port_out_window_ms))
            .min()
    }
}

/// Raises carrier-reported SIM swaps that no authorised window covers, and
/// carrier-reported device swaps (the SIM moved into another handset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CarrierCheckDetector {
    /// Per API and line (`sim|line:…`, `device|slot:0`), the change date already
    /// alerted (`None` when the carrier gave none).
    active: BTreeMap<String, Option<Timestamp>>,
}

impl Detector for CarrierCheckDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo {
            name: "carrier_check",
            version: 2,
            kinds: &[
                AlertKind::CarrierReportedSwap,
                AlertKind::CarrierReportedDeviceSwap,
            ],
        }
    }

    fn observe(
        &mut self,
        _facts: &Facts,
        _policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let GuardEvent::CarrierCheck {
            line,
            slot,
            result,
            authorized,
            predates_enrollment,
        } = event
        else {
            return;
        };
        let key = match result.api {
            CarrierApi::SimSwap => format!("sim|{line}"),
            CarrierApi::DeviceSwap => format!("device|{line}"),
        };
        let at = match result.verdict {
            CarrierVerdict::Unknown => return,
            // The latest change predating enrollment is the SIM or handset the phone
            // was issued with: no change since.
            CarrierVerdict::NoChange => {
                self.active.remove(&key);
                return;
            }
            CarrierVerdict::Changed { .. } if *predates_enrollment => {
                self.active.remove(&key);
                return;
            }
            CarrierVerdict::Changed { at } => at,
        };
        if *authorized || self.active.get(&key) == Some(&at) {
            return;
        }
        self.active.insert(key, at);
        let info = self.info();
        let mut evidence = vec![
            ("api", result.api.as_str().to_owned()),
            ("line", line.clone()),
            ("checked_at", result.checked_at.to_string()),
            ("instruction_id", result.instruction_id.clone()),
        ];
        let (kind, summary) = match result.api {
            CarrierApi::SimSwap => {
                if let Some(t) = at {
                    evidence.push(("latest_sim_change", t.to_string()));
                }
                (
                    AlertKind::CarrierReportedSwap,
                    "The carrier reports a SIM change for this phone's number that no authorised window covers",
                )
            }
            CarrierApi::DeviceSwap => {
                if let Some(t) = at {
                    evidence.push(("latest_device_change", t.to_string()));
                }
                (
                    AlertKind::CarrierReportedDeviceSwap,
                    "The carrier reports that this phone's SIM is now used in another handset",
                )
            }
        };
        if let Some(start) = result.period_start {
            evidence.push(("checked_since", start.to_string()));
        }
        out.push(finding(
            &info,
            kind,
            now,
            *slot,
            summary.to_owned(),
            evidence,
        ));
    }
}

/// Raises service on a 2G radio when the policy forbids 2G.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Radio2gDetector {
    /// Slots whose downgrade has been raised (until a non-2G radio serves again).
    active: BTreeSet<u8>,
}

impl Detector for Radio2gDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo {
            name: "radio_2g",
            version: 1,
            kinds: &[AlertKind::Downgrade2g],
        }
    }

    fn observe(
        &mut self,
        _facts: &Facts,
        policy: &SimPolicy,
        event: &GuardEvent,
        now: Timestamp,
        out: &mut Vec<Finding>,
    ) {
        let GuardEvent::Service(obs) = event else {
            return;
        };
        if obs.state != ServiceState::InService {
            return;
        }
        let Some(rat) = obs.rat else {
            return;
        };
        if !rat.is_2g() {
            self.active.remove(&obs.slot);
            return;
        }
        if policy.forbid_2g && self.active.insert(obs.slot) {
            let info = self.info();
            out.push(finding(
                &info,
                AlertKind::Downgrade2g,
                now,
                Some(obs.slot),
                format!(
                    "Slot {} is served over 2G ({}), which the policy forbids",
                    obs.slot,
                    rat.as_str()
                ),
                vec![
                    ("rat", rat.as_str().to_owned()),
                    (
                        "roaming",
                        obs.roaming.map_or("unknown".to_owned(), |r| r.to_string()),
                    ),
                ],
            ));
        }
    }
}
