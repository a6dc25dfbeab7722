//! `carrier_check` v2: raises the SIM swaps that relayed CAMARA answers report and no
//! authorised window covers, and the device swaps they report after enrollment; each
//! change date is alerted once per line and API. docs/detectors.md describes its alerts
//! and false positives.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Context, Detector, DetectorInfo};
use crate::alert::{AlertKind, Finding};
use crate::sim::{CarrierApi, CarrierVerdict, GuardEvent};
use crate::time::Timestamp;

/// Raises carrier-reported SIM swaps that no authorised window covers, and
/// carrier-reported device swaps (the SIM moved into another handset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct CarrierCheckDetector {
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

    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, out: &mut Vec<Finding>) {
        let Context { now, .. } = cx;
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
        out.push(Finding::raised(
            info.name,
            info.version,
            kind,
            now,
            *slot,
            summary.to_owned(),
            evidence,
        ));
    }
}
