//! `sim_presence` v2: raises `sim_removed` when a slot that had a SIM, or that the
//! policy marks `required`, reports absent outside a reboot; a SIM missing after a
//! reboot gets a grace period to come back. docs/detectors.md describes its alerts and
//! false positives.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Context, Detector, DetectorInfo};
use crate::alert::{AlertKind, Finding};
use crate::sim::{Facts, GuardEvent, SimPolicy, SimState};
use crate::time::{Timestamp, MINUTE_MS};

/// How long after a reboot a missing SIM is given to come back.
const REBOOT_GRACE_MS: i64 = 3 * MINUTE_MS;

/// Notices a SIM going absent outside a reboot, and a required slot found empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PresenceDetector {
    /// Slots whose removal has been raised.
    active: BTreeSet<u8>,
    /// Slots seen absent during a reboot's grace period, with the grace deadline.
    pending: BTreeMap<u8, Timestamp>,
}

impl PresenceDetector {
    fn raise(&mut self, slot: u8, now: Timestamp, out: &mut Vec<Finding>) {
        if self.active.insert(slot) {
            let info = self.info();
            out.push(Finding::raised(
                info.name,
                info.version,
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

    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, out: &mut Vec<Finding>) {
        let Context {
            facts, policy, now, ..
        } = cx;
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

    fn on_time(&mut self, cx: Context<'_>, out: &mut Vec<Finding>) {
        let Context { facts, now, .. } = cx;
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
