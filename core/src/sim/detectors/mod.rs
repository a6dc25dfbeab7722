//! The SIM guard's detectors: each a small state machine with a name and a version,
//! one file per detector, each described for users in docs/detectors.md.

mod carrier_check;
mod identity;
mod port_out;
mod presence;
mod radio_2g;

use serde::{Deserialize, Serialize};

use self::carrier_check::CarrierCheckDetector;
use self::identity::IdentityDetector;
use self::port_out::PortOutDetector;
use self::presence::PresenceDetector;
use self::radio_2g::Radio2gDetector;
use super::{Facts, GuardEvent, SimPolicy};
use crate::alert::{AlertKind, Finding};
use crate::time::Timestamp;

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

/// What every detector reads at a step, passed as one value: the guard's facts, the
/// SIM policy in force and the step's time.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The guard's facts.
    pub facts: &'a Facts,
    /// The SIM policy in force.
    pub policy: &'a SimPolicy,
    /// The step's time.
    pub now: Timestamp,
}

/// One detector. Detectors read the guard's facts and keep only their own state:
/// which conditions they have already raised, and their timers.
pub trait Detector {
    /// Name, version and kinds.
    fn info(&self) -> DetectorInfo;

    /// Reacts to a digested input; `cx.facts` already include it.
    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, out: &mut Vec<Finding>);

    /// Fires timers that expired by `cx.now`; `cx.facts` are as they were before it.
    fn on_time(&mut self, _cx: Context<'_>, _out: &mut Vec<Finding>) {}

    /// The earliest time this detector needs to run again.
    fn next_deadline(&self, _facts: &Facts, _policy: &SimPolicy) -> Option<Timestamp> {
        None
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

    /// Runs `f` on every detector, in their fixed order.
    pub(super) fn each(&mut self, f: impl FnMut(&mut dyn Detector)) {
        self.all_mut().into_iter().for_each(f);
    }

    pub(super) fn next_deadline(&self, facts: &Facts, policy: &SimPolicy) -> Option<Timestamp> {
        self.all()
            .iter()
            .filter_map(|d| d.next_deadline(facts, policy))
            .min()
    }
}
