//! `port_out` v1: raises `port_out_suspected` when a present, ready, unchanged SIM has
//! no service for the policy's window while Wi-Fi is up and airplane mode is off, what
//! a phone sees when its number was ported or its SIM swapped elsewhere.
//! docs/detectors.md describes its alerts and false positives.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Context, Detector, DetectorInfo};
use crate::alert::{AlertKind, Finding};
use crate::sim::{Facts, GuardEvent, ServiceState, SimPolicy, SimState};
use crate::time::{Timestamp, MINUTE_MS};

/// Notices service lost for the policy window while the SIM is unchanged and Wi-Fi works:
/// what a phone sees when its number has been ported or its SIM swapped away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct PortOutDetector {
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

    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, _out: &mut Vec<Finding>) {
        let Context { facts, now, .. } = cx;
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

    fn on_time(&mut self, cx: Context<'_>, out: &mut Vec<Finding>) {
        let Context { policy, now, .. } = cx;
        let info = self.info();
        for (slot, since) in &self.outage_since {
            if self.active.contains(slot) || now < since.plus_millis(policy.port_out_window_ms) {
                continue;
            }
            self.active.insert(*slot);
            out.push(Finding::raised(
                info.name,
                info.version,
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
