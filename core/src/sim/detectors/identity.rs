//! `sim_identity` v2: compares each ready SIM's identity (ICCID, IMSI, number, home
//! network) with the slot's baseline and, on a pinned slot, with the policy's pins, and
//! raises one alert per difference until a matching SIM is seen again. Inside an
//! authorised window the new SIM becomes the baseline instead (`sim_change_authorized`).
//! docs/detectors.md describes its alerts and false positives.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Context, Detector, DetectorInfo};
use crate::alert::{AlertKind, Finding};
use crate::sim::{GuardEvent, IdentityDiff};

/// Compares each ready SIM's identity with the slot's baseline and the policy's pins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct IdentityDetector {
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

    fn observe(&mut self, cx: Context<'_>, event: &GuardEvent, out: &mut Vec<Finding>) {
        let Context { now, .. } = cx;
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
            out.push(Finding::raised(
                info.name,
                info.version,
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
            out.push(Finding::raised(
                info.name,
                info.version,
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
