//! Fusion of the carrier's word with the phone's: a carrier-reported SIM swap and a
//! phone-side port-out or SIM replacement on the same line within two hours of each
//! other are one incident, raised once as `sim_swap_confirmed` naming both alerts.
//!
//! Alert ids exist only once the store has committed the alerts, so fusion runs after
//! the step that raised them and commits its memory and its finding in a second
//! transaction. docs/detectors.md describes it for users.

use serde::{Deserialize, Serialize};

use super::persisted::{Persisted, State};
use super::Agent;
use crate::alert::{Alert, AlertId, AlertKind, Finding};
use crate::error::Result;
use crate::store::Commit;
use crate::time::{Timestamp, HOUR_MS};

pub(super) const FUSION_STATE: &str = "swap_fusion";
/// The detector's name, reported with every alert it raises.
pub(super) const DETECTOR: &str = "swap_fusion";
/// Bumped whenever the fusion rule changes.
pub(super) const DETECTOR_VERSION: u32 = 1;
/// How far apart the carrier's and the phone's evidence may be to count as one incident.
pub(super) const FUSION_WINDOW_MS: i64 = 2 * HOUR_MS;
/// How long evidence is kept for a partner to arrive: a carrier report can come
/// hours after the change it dates.
const RETENTION_MS: i64 = 7 * 24 * HOUR_MS;
/// Entries kept, whatever their age: bounds the state a flood of alerts can grow.
const KEPT: usize = 64;

/// Which side saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Side {
    Carrier,
    Phone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    id: AlertId,
    kind: AlertKind,
    side: Side,
    slot: Option<u8>,
    /// When it happened: the carrier's change date when it gave one, else the alert's time.
    at: Timestamp,
    /// Whether it is already part of a confirmed incident.
    #[serde(default)]
    fused: bool,
}

/// What fusion remembers between steps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct FusionState {
    recent: Vec<Entry>,
}

impl State for FusionState {
    const WHAT: &'static str = "swap-fusion state";
}

/// The fusion side of the agent in memory, with its last committed form.
pub(super) struct FusionSlot {
    state: Persisted<FusionState>,
}

impl FusionSlot {
    pub(super) fn restore(json: Option<String>) -> Result<Self> {
        Ok(FusionSlot {
            state: Persisted::restore(json, FusionState::default)?,
        })
    }
}

fn entry(alert: &Alert) -> Option<Entry> {
    let f = &alert.finding;
    let side = match f.kind {
        AlertKind::CarrierReportedSwap => Side::Carrier,
        AlertKind::PortOutSuspected | AlertKind::SimReplaced => Side::Phone,
        _ => return None,
    };
    let at = f
        .evidence
        .iter()
        .find(|(k, _)| k == "latest_sim_change")
        .and_then(|(_, v)| Timestamp::parse_rfc3339(v))
        .unwrap_or(f.at);
    Some(Entry {
        id: alert.id,
        kind: f.kind,
        side,
        slot: f.slot,
        at,
        fused: false,
    })
}

/// Whether two entries can be the same line: the same slot, or a carrier report that
/// names no slot the phone knows (the console scoped it to this device).
fn same_line(a: &Entry, b: &Entry) -> bool {
    match (a.slot, b.slot) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

impl FusionState {
    /// Takes in newly committed alerts; returns the incidents they complete.
    fn observe(&mut self, alerts: &[Alert], now: Timestamp) -> Vec<Finding> {
        let mut findings = Vec::new();
        for new in alerts.iter().filter_map(entry) {
            let partner = self.recent.iter_mut().find(|old| {
                !old.fused
                    && old.side != new.side
                    && same_line(old, &new)
                    && (old.at.millis_since(new.at)).abs() <= FUSION_WINDOW_MS
            });
            let mut new = new;
            if let Some(old) = partner {
                old.fused = true;
                new.fused = true;
                let (carrier, phone) = if new.side == Side::Carrier {
                    (&new, &*old)
                } else {
                    (&*old, &new)
                };
                findings.push(incident(carrier, phone, now));
            }
            self.recent.push(new);
        }
        let horizon = now.plus_millis(-RETENTION_MS);
        self.recent.retain(|e| e.at >= horizon);
        let excess = self.recent.len().saturating_sub(KEPT);
        self.recent.drain(..excess);
        findings
    }
}

fn incident(carrier: &Entry, phone: &Entry, now: Timestamp) -> Finding {
    let minutes = carrier.at.millis_since(phone.at).abs() / 60_000;
    Finding {
        at: now,
        kind: AlertKind::SimSwapConfirmed,
        slot: phone.slot.or(carrier.slot),
        detector: DETECTOR.into(),
        detector_version: DETECTOR_VERSION,
        summary: format!(
            "The carrier confirms what the phone saw: a SIM swap reported by the carrier and {} on the phone, {minutes} minutes apart",
            match phone.kind {
                AlertKind::PortOutSuspected => "a suspected port-out",
                _ => "a SIM replacement",
            }
        ),
        evidence: vec![
            ("carrier_alert_id".into(), carrier.id.to_string()),
            ("phone_alert_id".into(), phone.id.to_string()),
            ("phone_alert".into(), phone.kind.as_str().into()),
            ("minutes_apart".into(), minutes.to_string()),
        ],
        severity: None,
    }
}

impl Agent {
    /// Runs fusion over alerts a step committed; commits its memory and any incident.
    pub(super) fn fuse(&mut self, alerts: &mut Vec<Alert>, now: Timestamp) -> Result<()> {
        if !alerts.iter().any(|a| entry(a).is_some()) {
            return Ok(());
        }
        let findings = self.fusion.state.observe(alerts, now);
        let json = self.fusion.state.changed()?;
        if json.is_none() && findings.is_empty() {
            return Ok(());
        }
        let commit = Commit {
            at: Some(now),
            states: json.iter().map(|j| (FUSION_STATE, j.clone())).collect(),
            journal: Vec::new(),
            findings,
        };
        match self.store.commit(commit) {
            Ok(fused) => {
                if let Some(json) = json {
                    self.fusion.state.committed(json);
                }
                alerts.extend(fused);
                Ok(())
            }
            Err(e) => {
                // Memory goes back to what is on disk; an unreadable committed form is Corrupt.
                self.fusion.state.rollback(FusionState::default)?;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: AlertId, kind: AlertKind, slot: Option<u8>, minutes: i64) -> Alert {
        Alert {
            id,
            finding: Finding {
                at: Timestamp::from_unix_millis(minutes * 60_000),
                kind,
                slot,
                detector: "d".into(),
                detector_version: 1,
                summary: String::new(),
                evidence: Vec::new(),
                severity: None,
            },
            severity: kind.severity(),
            delivery_attempts: 0,
        }
    }

    fn now(minutes: i64) -> Timestamp {
        Timestamp::from_unix_millis(minutes * 60_000)
    }

    #[test]
    fn a_carrier_swap_and_a_port_out_within_two_hours_are_one_incident() {
        let mut s = FusionState::default();
        assert!(s
            .observe(
                &[alert(1, AlertKind::PortOutSuspected, Some(0), 600)],
                now(600)
            )
            .is_empty());
        let found = s.observe(
            &[alert(2, AlertKind::CarrierReportedSwap, Some(0), 700)],
            now(700),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AlertKind::SimSwapConfirmed);
        let ev = format!("{:?}", found[0].evidence);
        assert!(
            ev.contains("\"carrier_alert_id\", \"2\"") && ev.contains("\"phone_alert_id\", \"1\""),
            "{ev}"
        );
        // Once: a further replacement on the same line is not a second incident with the same carrier report.
        assert!(s
            .observe(&[alert(3, AlertKind::SimReplaced, Some(0), 710)], now(710))
            .is_empty());
    }

    #[test]
    fn far_apart_other_slots_and_same_side_pairs_are_not_fused() {
        let mut s = FusionState::default();
        s.observe(&[alert(1, AlertKind::SimReplaced, Some(0), 0)], now(0));
        assert!(s
            .observe(
                &[alert(2, AlertKind::CarrierReportedSwap, Some(0), 121)],
                now(121)
            )
            .is_empty());
        assert!(s
            .observe(
                &[alert(3, AlertKind::PortOutSuspected, Some(1), 130)],
                now(130)
            )
            .is_empty());
        assert!(s
            .observe(
                &[alert(4, AlertKind::PortOutSuspected, Some(1), 131)],
                now(131)
            )
            .is_empty());
        // A carrier report naming no slot matches the phone's evidence on any slot.
        let found = s.observe(
            &[alert(5, AlertKind::CarrierReportedSwap, None, 140)],
            now(140),
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn the_carriers_change_date_is_the_time_that_counts() {
        let mut s = FusionState::default();
        s.observe(&[alert(1, AlertKind::SimReplaced, Some(0), 0)], now(0));
        // Reported ten hours later, dated 30 minutes after the phone's alert: one incident.
        let mut late = alert(2, AlertKind::CarrierReportedSwap, Some(0), 600);
        late.finding
            .evidence
            .push(("latest_sim_change".into(), now(30).to_string()));
        assert_eq!(s.observe(&[late], now(600)).len(), 1);
        // Dated three hours after it: two separate events.
        let mut s = FusionState::default();
        s.observe(&[alert(1, AlertKind::SimReplaced, Some(0), 0)], now(0));
        let mut apart = alert(2, AlertKind::CarrierReportedSwap, Some(0), 200);
        apart
            .finding
            .evidence
            .push(("latest_sim_change".into(), now(180).to_string()));
        assert!(s.observe(&[apart], now(200)).is_empty());
        let mut s = FusionState::default();
        s.observe(&[alert(1, AlertKind::SimReplaced, Some(0), 0)], now(0));
        let mut prompt = alert(2, AlertKind::CarrierReportedSwap, Some(0), 90);
        prompt
            .finding
            .evidence
            .push(("latest_sim_change".into(), now(-20).to_string()));
        assert_eq!(s.observe(&[prompt], now(90)).len(), 1);
    }
}
