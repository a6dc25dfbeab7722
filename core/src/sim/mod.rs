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

pub use detectors::{Context as DetectorContext, Detector, DetectorInfo};
pub use observation::{
    Connectivity, Rat, ServiceObservation, ServiceState, SimEvent, SimObservation, SimState,
    MAX_SLOT,
};

use crate::alert::{AlertKind, Finding};
use crate::error::Result;
use crate::identity::{normalize, IdentityHash, IdentityHasher, IdentityKind};
use crate::identity::{IdentityPin, PinnedIdentity};
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
    /// The keyed hashes pinned (the policy's, or an authorisation's).
    #[serde(flatten)]
    pub identity: PinnedIdentity,
    /// Expected home network, MCC-MNC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_network: Option<String>,
}

impl SimPins {
    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.identity.is_empty() && self.home_network.is_none()
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
    /// Keyed hash (under the identity key) of the phone number's pin: a relayed
    /// carrier check names its line by pin, and this tells which slot it spoke of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<IdentityHash>,
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

/// A planned-change window opened by a verified console instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// When the agent received it (start of the window).
    pub from: Timestamp,
    /// End of the window.
    pub until: Timestamp,
    /// The console's reason, for the audit trail.
    pub reason: String,
    /// The slot the window is for; `None` covers every slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u8>,
    /// The SIM the office is about to fit: only a SIM matching these pins becomes the
    /// baseline. Without them any SIM seen in the window does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<SimPins>,
    /// The instruction that opened the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_id: Option<String>,
    /// Whether the expected SIM was seen and became the baseline: until then a
    /// carrier-reported change is not covered by a window that names its SIM.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fulfilled: bool,
}

impl Authorization {
    fn covers_slot(&self, slot: u8) -> bool {
        self.slot.is_none_or(|s| s == slot)
    }
}

/// A SIM-change window as a verified instruction asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimChangeWindow {
    /// The instruction's id, for the audit trail.
    pub instruction_id: String,
    /// The slot; `None` for every slot.
    pub slot: Option<u8>,
    /// End of the window.
    pub until: Timestamp,
    /// Why, for the audit trail.
    pub reason: String,
    /// The pins of the SIM about to be fitted.
    pub expected: Option<SimPins>,
}

/// Which CAMARA API a carrier result came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierApi {
    /// SIM Swap: the SIM behind the number changed.
    SimSwap,
    /// Device Swap: the SIM was moved into another handset.
    DeviceSwap,
}

impl CarrierApi {
    /// The name used in instructions and evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierApi::SimSwap => "sim_swap",
            CarrierApi::DeviceSwap => "device_swap",
        }
    }
}

/// What a carrier's answer says, once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierVerdict {
    /// A change happened: at this time (`retrieve-date`), or within the checked
    /// period (`check` answering `swapped: true`).
    Changed {
        /// The change date, when the carrier gave one.
        at: Option<Timestamp>,
    },
    /// No change in the period the carrier monitors.
    NoChange,
    /// The carrier could not say (a `null` date without a monitored period).
    Unknown,
}

/// A carrier-side result from a verified instruction, already interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierResult {
    /// The instruction's id, for evidence.
    pub instruction_id: String,
    /// Which API answered.
    pub api: CarrierApi,
    /// The checked number's pin; `None` means the device's first slot holding a SIM.
    pub line: Option<IdentityPin>,
    /// When the console asked.
    pub checked_at: Timestamp,
    /// For `check`: the start of the checked period (`checkedAt - maxAge`).
    pub period_start: Option<Timestamp>,
    /// The answer.
    pub verdict: CarrierVerdict,
}

/// What the console decides for the guard, from verified instructions only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleInput {
    /// Open a planned SIM-change window.
    Authorize(SimChangeWindow),
    /// A carrier-side result.
    Carrier(CarrierResult),
    /// Close every open window now.
    RevokeAuthorizations,
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

    /// Whether an authorisation covers a carrier-reported SIM change on `slot` at
    /// `at` (or, with no date, anywhere in `period`). A window naming the expected SIM
    /// covers it only once that SIM was seen.
    pub fn carrier_change_authorized(
        &self,
        slot: Option<u8>,
        at: Option<Timestamp>,
        period: (Timestamp, Timestamp),
    ) -> bool {
        self.authorizations.iter().any(|a| {
            let in_time = match at {
                Some(t) => a.from <= t && t <= a.until,
                None => a.from <= period.1 && period.0 <= a.until,
            };
            in_time
                && slot.is_none_or(|s| a.covers_slot(s))
                && (a.expected.is_none() || a.fulfilled)
        })
    }

    /// The windows open at `at`.
    pub fn open_authorizations(&self, at: Timestamp) -> impl Iterator<Item = &Authorization> {
        self.authorizations
            .iter()
            .filter(move |a| a.from <= at && at <= a.until)
    }

    /// The slot whose baseline phone number has this line hash.
    pub fn slot_with_line(&self, line: &IdentityHash) -> Option<u8> {
        self.slots.iter().find_map(|(slot, f)| {
            let baseline = f.baseline.as_ref()?;
            (baseline.line.as_ref() == Some(line)).then_some(*slot)
        })
    }

    /// The first slot that holds a SIM (a baseline, or a SIM seen now).
    pub fn first_slot_with_sim(&self) -> Option<u8> {
        self.slots
            .iter()
            .find(|(_, f)| f.baseline.is_some() || f.current.is_some())
            .map(|(slot, _)| *slot)
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
    /// A carrier-side result.
    CarrierCheck {
        /// Which line it concerns: `line:` and the pin's first 16 hex digits, or
        /// `slot:N` when the console named no line.
        line: String,
        /// The slot carrying that line, if the guard knows it.
        slot: Option<u8>,
        /// The result.
        result: CarrierResult,
        /// Whether an authorisation window covers the change (SIM swaps only).
        authorized: bool,
        /// Whether the reported change predates enrollment (the SIM or handset the
        /// phone was issued with).
        predates_enrollment: bool,
    },
    /// A planned-change window opened.
    Authorized(Authorization),
    /// Every open window was closed.
    Revoked,
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
        self.show_detectors(&gev, now, out);
        Ok(())
    }

    /// Applies a console decision from a verified instruction. Deadlines that passed
    /// before `now` fire first.
    pub fn handle_console(
        &mut self,
        input: &ConsoleInput,
        now: Timestamp,
        hasher: &IdentityHasher,
        out: &mut Vec<Finding>,
    ) {
        let now = now.max(self.facts.last_seen);
        self.advance(now, out);
        let gev = match input {
            ConsoleInput::Authorize(w) => {
                let auth = Authorization {
                    from: now,
                    until: w.until,
                    reason: w.reason.clone(),
                    slot: w.slot,
                    expected: w.expected.clone(),
                    instruction_id: Some(w.instruction_id.clone()),
                    fulfilled: false,
                };
                self.facts.authorizations.push(auth.clone());
                let excess = self
                    .facts
                    .authorizations
                    .len()
                    .saturating_sub(KEPT_AUTHORIZATIONS);
                self.facts.authorizations.drain(..excess);
                GuardEvent::Authorized(auth)
            }
            ConsoleInput::RevokeAuthorizations => {
                for a in &mut self.facts.authorizations {
                    if a.until > now {
                        a.until = now.max(a.from);
                    }
                }
                GuardEvent::Revoked
            }
            ConsoleInput::Carrier(result) => {
                let line_hash = result.line.as_ref().map(|pin| hasher.line_hash(pin));
                let slot = match &line_hash {
                    Some(line) => self.facts.slot_with_line(line),
                    None => self.facts.first_slot_with_sim(),
                };
                let line = match (&line_hash, slot) {
                    (Some(hash), _) => format!("line:{}", hash.short()),
                    (None, Some(s)) => format!("slot:{s}"),
                    (None, None) => "device".to_owned(),
                };
                let predates_enrollment = matches!(
                    result.verdict,
                    CarrierVerdict::Changed { at: Some(t) } if t < self.facts.enrolled_at
                );
                let authorized = result.api == CarrierApi::SimSwap
                    && match result.verdict {
                        CarrierVerdict::Changed { at } => self.facts.carrier_change_authorized(
                            slot,
                            at,
                            (
                                result.period_start.unwrap_or(result.checked_at),
                                result.checked_at,
                            ),
                        ),
                        _ => false,
                    };
                GuardEvent::CarrierCheck {
                    line,
                    slot,
                    result: result.clone(),
                    authorized,
                    predates_enrollment,
                }
            }
        };
        self.show_detectors(&gev, now, out);
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

    /// Shows `event` to every detector; what they raise is marked for a carrier check
    /// where one is wanted.
    fn show_detectors(&mut self, event: &GuardEvent, now: Timestamp, out: &mut Vec<Finding>) {
        let first = out.len();
        let cx = detectors::Context {
            facts: &self.facts,
            policy: &self.policy,
            now,
        };
        self.detectors.each(|d| d.observe(cx, event, out));
        mark_carrier_check_wanted(&mut out[first..]);
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Finding>) {
        let first = out.len();
        let cx = detectors::Context {
            facts: &self.facts,
            policy: &self.policy,
            now,
        };
        self.detectors.each(|d| d.on_time(cx, out));
        mark_carrier_check_wanted(&mut out[first..]);
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
                    line: obs
                        .msisdn
                        .as_deref()
                        .map(|m| hasher.pin(IdentityKind::PhoneNumber, m))
                        .transpose()?
                        .map(|pin| hasher.line_hash(&pin)),
                },
                pin_diff: match self.policy.pins(obs.slot) {
                    Some(pins) => compare_with_pins(pins, obs, hasher)?,
                    None => IdentityDiff::default(),
                },
                authorization: self.authorization_for(obs, now, hasher)?,
            },
            SimEvent::Service(obs) => Digested::Ready(GuardEvent::Service(*obs)),
            SimEvent::Connectivity(c) => Digested::Ready(GuardEvent::Connectivity(*c)),
            SimEvent::Reboot => Digested::Ready(GuardEvent::Reboot),
            SimEvent::Tick => Digested::Ready(GuardEvent::Tick),
        })
    }

    /// The open window, newest first, that lets this observed SIM become the slot's
    /// baseline: one for its slot (or every slot) that names no SIM, or names this one.
    fn authorization_for(
        &self,
        obs: &SimObservation,
        now: Timestamp,
        hasher: &IdentityHasher,
    ) -> Result<Option<usize>> {
        for (i, a) in self.facts.authorizations.iter().enumerate().rev() {
            if !(a.from <= now && now <= a.until && a.covers_slot(obs.slot)) {
                continue;
            }
            match &a.expected {
                None => return Ok(Some(i)),
                Some(expected) if matches_expected(expected, obs, hasher)? => return Ok(Some(i)),
                Some(_) => {}
            }
        }
        Ok(None)
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
                    GuardEvent::Reboot => self.facts.booted_at = Some(now),
                    GuardEvent::Authorized(_)
                    | GuardEvent::Revoked
                    | GuardEvent::CarrierCheck { .. }
                    | GuardEvent::Tick
                    | GuardEvent::Sim { .. } => {}
                }
                gev
            }
            Digested::Sim {
                slot,
                state,
                identity,
                pin_diff,
                authorization,
            } => self.apply_sim(slot, state, identity, pin_diff, authorization),
        }
    }

    fn apply_sim(
        &mut self,
        slot: u8,
        state: SimState,
        observed: Identity,
        pin_diff: IdentityDiff,
        authorization_index: Option<usize>,
    ) -> GuardEvent {
        let authorization =
            authorization_index.and_then(|i| self.facts.authorizations.get(i).cloned());
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
                self.fulfil(authorization_index);
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
            baseline.line = baseline.line.or(observed.line);
            if baseline.home.is_none() {
                baseline.home = observed.home;
            }
            facts.mismatch = false;
        } else if let Some(auth) = authorization {
            *baseline = observed;
            facts.waived_pins = if pin_diff.any() { pins.cloned() } else { None };
            facts.mismatch = false;
            authorized = Some(auth);
            self.fulfil(authorization_index);
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

impl SimGuard {
    fn fulfil(&mut self, index: Option<usize>) {
        if let Some(a) = index.and_then(|i| self.facts.authorizations.get_mut(i)) {
            a.fulfilled = true;
        }
    }
}

/// The alerts after which the console should ask the carrier at once (`carrier watch
/// --alerts`): what a phone sees of a port-out or a swap.
fn mark_carrier_check_wanted(findings: &mut [Finding]) {
    for f in findings {
        if matches!(
            f.kind,
            AlertKind::PortOutSuspected | AlertKind::SimRemoved | AlertKind::SimReplaced
        ) && !f.evidence.iter().any(|(k, _)| k == "carrier_check_wanted")
        {
            // First, so a console message that must drop evidence to fit keeps it.
            f.evidence
                .insert(0, ("carrier_check_wanted".to_owned(), "true".to_owned()));
        }
    }
}

/// Whether an observed SIM is the one an authorisation names: every pinned field the
/// platform observed matches, and at least one was observed (a SIM the platform
/// cannot identify by any pinned field is never taken for the expected one).
fn matches_expected(
    expected: &SimPins,
    obs: &SimObservation,
    hasher: &IdentityHasher,
) -> Result<bool> {
    let overlap = (expected.identity.iccid.is_some() && obs.iccid.is_some())
        || (expected.identity.imsi.is_some() && obs.imsi.is_some())
        || (expected.identity.msisdn.is_some() && obs.msisdn.is_some())
        || (expected.home_network.is_some() && obs.mcc_mnc.is_some());
    Ok(overlap && !compare_with_pins(expected, obs, hasher)?.any())
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
        iccid: differs(IdentityKind::Iccid, &pins.identity.iccid, &obs.iccid)?,
        imsi: differs(IdentityKind::Imsi, &pins.identity.imsi, &obs.imsi)?,
        msisdn: differs(
            IdentityKind::PhoneNumber,
            &pins.identity.msisdn,
            &obs.msisdn,
        )?,
        home: matches!((&pins.home_network, &obs.mcc_mnc), (Some(p), Some(o)) if p != o),
    })
}

enum Digested {
    Sim {
        slot: u8,
        state: SimState,
        identity: Identity,
        pin_diff: IdentityDiff,
        authorization: Option<usize>,
    },
    Ready(GuardEvent),
}

#[cfg(test)]
mod tests;
