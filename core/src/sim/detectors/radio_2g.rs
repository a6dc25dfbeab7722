//! `radio_2g` v1: raises `downgrade_2g` while a slot is served by a 2G radio and the
//! policy forbids 2G, since 2G lets a rogue base station in without mutual
//! authentication. docs/detectors.md describes its alerts and false positives.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Context, Detector, DetectorInfo};
use crate::alert::{AlertKind, Finding};
use crate::sim::{GuardEvent, ServiceState};

/// Raises service on a 2G radio when the policy forbids 2G.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Radio2gDetector {
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

    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, out: &mut Vec<Finding>) {
        let Context { policy, now, .. } = cx;
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
            out.push(Finding::raised(
                info.name,
                info.version,
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
