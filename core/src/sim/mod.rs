//! The SIM-port guard: turns SIM, radio and carrier observations into alerts.
//!
//! The guard keeps the facts (per-slot baselines as keyed hashes, service state,
//! connectivity, reboots, authorised change windows) and hands each input, already
//! stripped of raw identifiers, to a set of small detectors. A slot's baseline is
//! the first identity seen after enrollment, unless the policy pins the identity it
//! expects there: then only a SIM matching the pins becomes the baseline. Each
//! detector is a named, versioned state machine that raises one alert per condition
//! until the condition clears. docs/detectors.md describes each one for users, with
//! its false positives.

mod detectors;
mod observation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use detectors::{Detector, DetectorInfo};
pub use observation::{
    CarrierCheck, Connectivity, Rat, ServiceObservation, ServiceState, SimChangeAuthorization,
    SimEvent, SimObservation, SimState, MAX_SLOT,
};

use crate::alert::Finding;
use crate::error::Result;
use crate::identity::{normalize, IdentityHash, IdentityHasher, IdentityKind};
use crate::policy::model::IdentityPin;
use crate::time::{Timestamp, MINUTE_MS};

/// The SIM rules the guard enforces; filled from the active policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPolicy {
    /// How long service may stay lost (with Wi-Fi up) before a port-out is suspected.
    pub port_out_window_ms: i64,
    /// Whether service on a 2G radio raises `downgrade_2g`.
    pub forbid_2g: bool,
    /// The subscriptions the policy expects, per slot index.
    pub expected: BTreeMap<u8, ExpectedSim>,
}

impl Default for SimPolicy {
    /// The bundled baseline: a 10-minute port-out window, 2G forbidden, no expectations.
    fn default() -> Self {
        SimPolicy {
            port_out_window_ms: 10 * MINUTE_MS,
            forbid_2g: true,
            expected: BTreeMap::new(),
        }
    }
}

impl SimPolicy {
    /// What the policy pins for `slot`, if it pins anything there.
    fn pins(&self, slot: u8) -> Option<&SimPins> {
        self.expected
            .get(&slot)
            .map(|e| &e.pins)
            .filter(|p| !p.is_empty())
    }

    /// Whether the policy requires a SIM in `slot`.
    pub fn requires(&self, slot: u8) -> bool {
        self.expected.get(&slot).is_some_and(|e| e.required)
    }
}

/// A subscription the policy expects in one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpectedSim {
    /// Whether the slot must hold a SIM: `absent` raises `sim_removed` even before a baseline exists.
    pub required: bool,
    /// The identity the SIM in this slot must have.
    pub pins: SimPins,
}

/// The identity a policy pins for a slot: keyed hashes under the device's pin key
/// (never raw identifiers) and the home network. Absent fields are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPins {
    /// Pin of the ICCID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iccid: Option<IdentityPin>,
    /// Pin of the IMSI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<IdentityPin>,
    /// Pin of the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<IdentityPin>,
    /// Expected home network, MCC-MNC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_network: Option<String>,
}

impl SimPins {
    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.iccid.is_none()
            && self.imsi.is_none()
            && self.msisdn.is_none()
            && self.home_network.is_none()
    }
}

/// A SIM's identity as the guard keeps it: keyed hashes and the home network only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Keyed hash of the ICCID.
    pub iccid: Option<IdentityHash>,
    /// Keyed hash of the IMSI.
    pub imsi: Option<IdentityHash>,
    /// Keyed hash of the phone number.
    pub msisdn: Option<IdentityHash>,
    /// Home network MCC-MNC (an operator code, not a personal identifier).
    pub home: Option<String>,
}

/// Which identity fields differ from the baseline (or the policy's pins); a field
/// counts only when both sides know it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdentityDiff {
    /// The card serial differs.
    pub iccid: bool,
    /// The subscriber identity differs.
    pub imsi: bool,
    /// The phone number differs.
    pub msisdn: bool,
    /// The home network differs.
    pub home: bool,
}

impl IdentityDiff {
    fn between(baseline: &Identity, observed: &Identity) -> Self {
        fn differs<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            matches!((a, b), (Some(a), Some(b)) if a != b)
        }
        IdentityDiff {
            iccid: differs(&baseline.iccid, &observed.iccid),
            imsi: differs(&baseline.imsi, &observed.imsi),
            msisdn: differs(&baseline.msisdn, &observed.msisdn),
            home: differs(&baseline.home, &observed.home),
        }
    }

    /// Whether anything differs.
    pub fn any(self) -> bool {
        self.iccid || self.imsi || self.msisdn || self.home
    }

    /// The names of the differing fields, for evidence.
    pub fn fields(self) -> String {
        let names = [
            (self.iccid, "iccid"),
            (self.imsi, "imsi"),
            (self.msisdn, "msisdn"),
            (self.home, "mcc_mnc"),
        ];
        names
            .iter()
            .filter(|(set, _)| *set)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// How an identified SIM compares with its slot's references.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Differences from the baseline (none while the slot has no baseline).
    pub baseline: IdentityDiff,
    /// Differences from the policy's pins (none when the slot is not pinned, or when
    /// the SIM is the authorised baseline accepted despite these pins).
    pub pins: IdentityDiff,
}

impl Comparison {
    /// Every field that differs from either reference.
    pub fn combined(self) -> IdentityDiff {
        let (b, p) = (self.baseline, self.pins);
        IdentityDiff {
            iccid: b.iccid || p.iccid,
            imsi: b.imsi || p.imsi,
            msisdn: b.msisdn || p.msisdn,
            home: b.home || p.home,
        }
    }

    /// Whether anything differs.
    pub fn any(self) -> bool {
        self.baseline.any() || self.pins.any()
    }
}

/// What the guard knows about one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotFacts {
    /// The identity alerts compare against: the first seen after enrollment (on a
    /// pinned slot, the first matching the pins), or the last authorised one.
    pub baseline: Option<Identity>,
    /// The last identity seen while the SIM was ready.
    pub current: Option<Identity>,
    /// Whether the current SIM differs from the baseline or the pins without authorisation.
    pub mismatch: bool,
    /// The pins an authorised baseline was accepted against although it differs from
    /// them; while the policy pins exactly these, that baseline is not held against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived_pins: Option<SimPins>,
    /// Last reported card state.
    pub sim_state: Option<SimState>,
    /// Last reported service state.
    pub service: Option<ServiceState>,
    /// Last reported radio technology.
    pub rat: Option<Rat>,
    /// Last reported roaming flag.
    pub roaming: Option<bool>,
}

/// A planned-change window received from the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// When the agent received it (start of the window).
    pub from: Timestamp,
    /// End of the window.
    pub until: Timestamp,
    /// The console's reason, for the audit trail.
    pub reason: String,
}

/// How many past authorisation windows are kept to judge carrier-reported change dates.
const KEPT_AUTHORIZATIONS: usize = 16;

/// Everything the guard knows; detectors read it, only the guard writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// When the agent was enrolled: baselines and carrier checks are judged from here.
    pub enrolled_at: Timestamp,
    /// The latest time handed in (later inputs with an earlier time are clamped to it).
    pub last_seen: Timestamp,
    /// Per-slot facts.
    pub slots: BTreeMap<u8, SlotFacts>,
    /// Last reported connectivity.
    pub connectivity: Option<Connectivity>,
    /// When the device last booted, if reported.
    pub booted_at: Option<Timestamp>,
    /// Recent authorisation windows, oldest first.
    pub authorizations: Vec<Authorization>,
}

impl Facts {
    fn new(enrolled_at: Timestamp) -> Self {
        Facts {
            enrolled_at,
            last_seen: enrolled_at,
            slots: BTreeMap::new(),
            connectivity: None,
            booted_at: None,
            authorizations: Vec::new(),
        }
    }

    /// The authorisation window covering `at`, if any.
    pub fn authorization_at(&self, at: Timestamp) -> Option<&Authorization> {
        self.authorizations
            .iter()
            .rev()
            .find(|a| a.from <= at && at <= a.until)
    }

    /// The slot whose baseline phone number has this hash.
    pub fn slot_with_number(&self, number: &IdentityHash) -> Option<u8> {
        self.slots.iter().find_map(|(slot, f)| {
            let baseline = f.baseline.as_ref()?;
            (baseline.msisdn.as_ref() == Some(number)).then_some(*slot)
        })
    }
}

/// An input after the guard digested it: identifiers replaced by comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardEvent {
    /// A slot's card state changed or was re-read.
    Sim {
        /// Slot index.
        slot: u8,
        /// Card state.
        state: SimState,
        /// The comparison with the baseline and the pins, when the SIM was ready and identified.
        diff: Option<Comparison>,
        /// The authorisation that turned a difference into the new baseline.
        authorized: Option<Authorization>,
        /// Short hash prefixes of the baseline ICCID (when there is a baseline) and the
        /// observed ICCID, for evidence.
        iccid_prefixes: Option<(Option<String>, String)>,
    },
    /// A slot's service reading.
    Service(ServiceObservation),
    /// A connectivity reading.
    Connectivity(Connectivity),
    /// A carrier-side check result.
    CarrierCheck {
        /// Keyed hash of the checked number.
        number: IdentityHash,
        /// The slot carrying that number, if the guard knows it.
        slot: Option<u8>,
        /// The carrier's verdict.
        swapped: bool,
        /// The carrier's latest SIM change time.
        latest_sim_change: Option<Timestamp>,
        /// Whether an authorisation window covers the change.
        authorized: bool,
        /// Whether the reported change predates enrollment (the SIM the phone was issued with).
        predates_enrollment: bool,
    },
    /// A planned-change window opened.
    Authorized(Authorization),
    /// The device booted.
    Reboot,
    /// Time passed.
    Tick,
}

/// The SIM-port guard: facts plus detectors, serialisable as one state blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGuard {
    facts: Facts,
    detectors: detectors::Detectors,
    #[serde(skip)]
    policy: SimPolicy,
}

impl SimGuard {
    /// A fresh guard for a device enrolled at `enrolled_at`.
    pub fn new(enrolled_at: Timestamp, policy: SimPolicy) -> Self {
        SimGuard {
            facts: Facts::new(enrolled_at),
            detectors: detectors::Detectors::default(),
            policy,
        }
    }

    /// Replaces the SIM rules (after a policy update); state is kept.
    pub fn set_policy(&mut self, policy: SimPolicy) {
        self.policy = policy;
    }

    /// The rules in force.
    pub fn policy(&self) -> &SimPolicy {
        &self.policy
    }

    /// What the guard knows.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Name and version of every detector, for evidence and docs.
    pub fn detectors(&self) -> Vec<DetectorInfo> {
        self.detectors.info()
    }

    /// Feeds one input. Deadlines that passed before `now` fire first, then the input is applied.
    /// Invalid input is refused before any state changes.
    pub fn handle(
        &mut self,
        event: &SimEvent,
        now: Timestamp,
        hasher: &IdentityHasher,
        out: &mut Vec<Finding>,
    ) -> Result<()> {
        event.validate()?;
        // Digest first: a malformed identifier must not leave half-applied state behind.
        let now = now.max(self.facts.last_seen);
        let digested = self.digest(event, now, hasher)?;
        self.advance(now, out);
        let gev = self.apply(digested, now);
        self.detectors
            .observe(&self.facts, &self.policy, &gev, now, out);
        Ok(())
    }

    /// Lets time pass to `now`, firing any deadline that expired.
    pub fn handle_timeout(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let now = now.max(self.facts.last_seen);
        self.advance(now, out);
    }

    /// When the guard next needs to run even if nothing is observed.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.detectors.next_deadline(&self.facts, &self.policy)
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        self.detectors.on_time(&self.facts, &self.policy, now, out);
        self.facts.last_seen = now;
    }

    fn digest(
        &self,
        event: &SimEvent,
        now: Timestamp,
        hasher: &IdentityHasher,
    ) -> Result<Digested> {
        let hash = |kind, raw: &Option<String>| -> Result<Option<IdentityHash>> {
            raw.as_deref()
                .map(|r| Ok(hasher.hash(kind, &normalize(kind, r)?)))
                .transpose()
        };
        Ok(match event {
            SimEvent::Sim(obs) => Digested::Sim {
                slot: obs.slot,
                state: obs.state.unwrap_or(SimState::Error),
                identity: Identity {
                    iccid: hash(IdentityKind::Iccid, &obs.iccid)?,
                    imsi: hash(IdentityKind::Imsi, &obs.imsi)?,
                    msisdn: hash(IdentityKind::PhoneNumber, &obs.msisdn)?,
                    home: obs.mcc_mnc.clone(),
                },
                pin_diff: match self.policy.pins(obs.slot) {
                    Some(pins) => compare_with_pins(pins, obs, hasher)?,
                    None => IdentityDiff::default(),
                },
            },
            SimEvent::CarrierCheck(check) => {
                let number = hasher.hash(
                    IdentityKind::PhoneNumber,
                    &normalize(IdentityKind::PhoneNumber, &check.phone_number)?,
                );
                let change_at = check.latest_sim_change.unwrap_or(now);
                Digested::Ready(GuardEvent::CarrierCheck {
                    slot: self.facts.slot_with_number(&number),
                    number,
                    swapped: check.swapped,
                    latest_sim_change: check.latest_sim_change,
                    authorized: self.facts.authorization_at(change_at).is_some(),
                    predates_enrollment: check
                        .latest_sim_change
                        .is_some_and(|t| t < self.facts.enrolled_at),
                })
            }
            SimEvent::Service(obs) => Digested::Ready(GuardEvent::Service(*obs)),
            SimEvent::Connectivity(c) => Digested::Ready(GuardEvent::Connectivity(*c)),
            SimEvent::AuthorizeSimChange(a) => {
                Digested::Ready(GuardEvent::Authorized(Authorization {
                    from: now,
                    until: a.until,
                    reason: a.reason.clone(),
                }))
            }
            SimEvent::Reboot => Digested::Ready(GuardEvent::Reboot),
            SimEvent::Tick => Digested::Ready(GuardEvent::Tick),
        })
    }

    fn apply(&mut self, digested: Digested, now: Timestamp) -> GuardEvent {
        match digested {
            Digested::Ready(gev) => {
                match &gev {
                    GuardEvent::Service(obs) => {
                        let slot = self.facts.slots.entry(obs.slot).or_default();
                        slot.service = Some(obs.state);
                        slot.rat = obs.rat.or(slot.rat);
                        slot.roaming = obs.roaming.or(slot.roaming);
                    }
                    GuardEvent::Connectivity(c) => self.facts.connectivity = Some(*c),
                    GuardEvent::Authorized(a) => {
                        self.facts.authorizations.push(a.clone());
                        let excess = self
                            .facts
                            .authorizations
                            .len()
                            .saturating_sub(KEPT_AUTHORIZATIONS);
                        self.facts.authorizations.drain(..excess);
                    }
                    GuardEvent::Reboot => self.facts.booted_at = Some(now),
                    GuardEvent::CarrierCheck { .. } | GuardEvent::Tick | GuardEvent::Sim { .. } => {
                    }
                }
                gev
            }
            Digested::Sim {
                slot,
                state,
                identity,
                pin_diff,
            } => self.apply_sim(slot, state, identity, pin_diff, now),
        }
    }

    fn apply_sim(
        &mut self,
        slot: u8,
        state: SimState,
        observed: Identity,
        pin_diff: IdentityDiff,
        now: Timestamp,
    ) -> GuardEvent {
        let authorization = self.facts.authorization_at(now).cloned();
        let pins = self.policy.pins(slot);
        let facts = self.facts.slots.entry(slot).or_default();
        facts.sim_state = Some(state);
        let identified = observed.iccid.is_some()
            || observed.imsi.is_some()
            || observed.msisdn.is_some()
            || observed.home.is_some();
        if state != SimState::Ready || !identified {
            return GuardEvent::Sim {
                slot,
                state,
                diff: None,
                authorized: None,
                iccid_prefixes: None,
            };
        }
        facts.current = Some(observed.clone());
        // A waiver holds only while the policy pins what it was granted against.
        if facts.waived_pins.is_some() && facts.waived_pins.as_ref() != pins {
            facts.waived_pins = None;
        }
        let Some(baseline) = facts.baseline.as_mut() else {
            // Nothing learned yet: the pins, if any, are the reference.
            let iccid_prefixes = observed.iccid.map(|o| (None, o.short()));
            let mut authorized = None;
            if !pin_diff.any() {
                facts.baseline = Some(observed);
                facts.mismatch = false;
            } else if let Some(auth) = authorization {
                facts.baseline = Some(observed);
                facts.waived_pins = pins.cloned();
                facts.mismatch = false;
                authorized = Some(auth);
            } else {
                // A SIM differing from the pins never becomes the baseline.
                facts.mismatch = true;
            }
            return GuardEvent::Sim {
                slot,
                state,
                diff: Some(Comparison {
                    baseline: IdentityDiff::default(),
                    pins: pin_diff,
                }),
                authorized,
                iccid_prefixes: pin_diff.any().then_some(iccid_prefixes).flatten(),
            };
        };
        let baseline_diff = IdentityDiff::between(baseline, &observed);
        // The authorised baseline is not held against the pins it was accepted despite.
        let pin_diff = if baseline_diff.any() || facts.waived_pins.is_none() {
            pin_diff
        } else {
            IdentityDiff::default()
        };
        let diff = Comparison {
            baseline: baseline_diff,
            pins: pin_diff,
        };
        let iccid_prefixes = match (&baseline.iccid, &observed.iccid) {
            (Some(b), Some(o)) => Some((Some(b.short()), o.short())),
            _ => None,
        };
        let mut authorized = None;
        if !diff.any() {
            // Same SIM: learn fields the baseline did not know yet.
            baseline.iccid = baseline.iccid.or(observed.iccid);
            baseline.imsi = baseline.imsi.or(observed.imsi);
            baseline.msisdn = baseline.msisdn.or(observed.msisdn);
            if baseline.home.is_none() {
                baseline.home = observed.home;
            }
            facts.mismatch = false;
        } else if let Some(auth) = authorization {
            *baseline = observed;
            facts.waived_pins = if pin_diff.any() { pins.cloned() } else { None };
            facts.mismatch = false;
            authorized = Some(auth);
        } else {
            facts.mismatch = true;
        }
        GuardEvent::Sim {
            slot,
            state,
            diff: Some(diff),
            authorized,
            iccid_prefixes,
        }
    }
}

/// Compares an observation with the policy's pins, computing pins (under the pin
/// key) only for fields that are both pinned and observed.
fn compare_with_pins(
    pins: &SimPins,
    obs: &SimObservation,
    hasher: &IdentityHasher,
) -> Result<IdentityDiff> {
    let differs = |kind, pin: &Option<IdentityPin>, raw: &Option<String>| -> Result<bool> {
        match (pin, raw) {
            (Some(pin), Some(raw)) => Ok(hasher.pin(kind, raw)? != *pin),
            _ => Ok(false),
        }
    };
    Ok(IdentityDiff {
        iccid: differs(IdentityKind::Iccid, &pins.iccid, &obs.iccid)?,
        imsi: differs(IdentityKind::Imsi, &pins.imsi, &obs.imsi)?,
        msisdn: differs(IdentityKind::PhoneNumber, &pins.msisdn, &obs.msisdn)?,
        home: matches!((&pins.home_network, &obs.mcc_mnc), (Some(p), Some(o)) if p != o),
    })
}

enum Digested {
    Sim {
        slot: u8,
        state: SimState,
        identity: Identity,
        pin_diff: IdentityDiff,
    },
    Ready(GuardEvent),
}
