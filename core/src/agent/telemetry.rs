//! Device telemetry on the agent: each batch of network and security-log events is
//! matched against the indicator collections in force as it arrives (with the index and
//! rules inspections use), fed to the living-off-the-land detectors, and its hosts and
//! addresses kept in a rolling window that scheduled inspections scan as `network_log`
//! evidence. One transaction per batch; the journal gets the decisions and the counts,
//! never the events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{inspection, Agent};
use crate::alert::{Alert, AlertKind, Finding};
use crate::error::{Error, Result};
use crate::inspection::evidence::Contact;
use crate::inspection::{EvidenceSnapshot, IndicatorFinding, MatchKind};
use crate::policy::model::UsbDataAccess;
use crate::policy::{Policy, TelemetryRules};
use crate::store::{Commit, JournalEntry, NetworkValue, NetworkWindowWrite};
use crate::telemetry::detectors::{Context, Detectors, Input, REPEAT_AFTER_MS};
use crate::telemetry::{
    package_of, BatchCounts, BatchEvidence, TelemetryBatch, TelemetryEvent, NETWORK_LOG_SOURCE,
};
use crate::time::{Timestamp, HOUR_MS};

pub(super) const TELEMETRY_STATE: &str = "telemetry";
const MATCH_DETECTOR: &str = "telemetry_match";
/// The most matches a batch's journal record lists (the count is always exact).
const MAX_JOURNALED_MATCHES: usize = 100;

/// The persisted part: detector state and which indicator hits were raised recently.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TelemetryComponent {
    detectors: Detectors,
    /// `indicator id` + ` ` + `package` → when it was last raised.
    raised: BTreeMap<String, Timestamp>,
}

/// One event of a batch that matched an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TelemetryMatch {
    /// The event's position in the batch.
    pub event: usize,
    /// When the event happened.
    pub at: Timestamp,
    /// The package that made it.
    pub package: String,
    /// The indicator, its collection and malware, and the matching value.
    pub finding: IndicatorFinding,
}

/// What a batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryOutcome {
    /// Alerts raised (also queued in the outbox).
    pub alerts: Vec<Alert>,
    /// Every indicator match, including those not raised again because the same
    /// indicator and package were raised within the last day.
    pub matches: Vec<TelemetryMatch>,
    /// Events per family.
    pub counts: BatchCounts,
}

fn window_days(policy: Option<&Policy>) -> u32 {
    policy.map_or_else(
        || TelemetryRules::default().network_window_days,
        |p| p.telemetry.network_window_days,
    )
}

impl Agent {
    /// Takes one batch of network and security-log events (what one platform callback
    /// delivered): matches each event against the indicators in force, raising
    /// `indicator_match` (network events) or `known_bad_process` (process starts) at
    /// the event's time, runs the living-off-the-land detectors, and keeps the batch's
    /// hosts and addresses in the rolling window, pruned to the policy's length. High
    /// alerts bring the next inspection forward, in the same transaction.
    ///
    /// Invalid input is refused with [`Error::InvalidInput`] naming the event and field;
    /// nothing is stored.
    pub fn ingest_telemetry(
        &mut self,
        batch: &TelemetryBatch,
        now: Timestamp,
    ) -> Result<TelemetryOutcome> {
        batch.validate()?;
        let now = now.max(self.guard.facts().last_seen);
        let persisted = self.store.load_state(TELEMETRY_STATE)?.unwrap_or_default();
        let mut state: TelemetryComponent = if persisted.is_empty() {
            TelemetryComponent::default()
        } else {
            crate::json::from_str(&persisted)
                .map_err(|_| Error::Corrupt("the stored telemetry state is unreadable".into()))?
        };

        let evidence = BatchEvidence::of(batch);
        let report = self.inspection.indicators.scan(&evidence.snapshot);
        let mut by_event: BTreeMap<usize, Vec<&IndicatorFinding>> = BTreeMap::new();
        for f in &report.findings {
            if let Some(event) = evidence.event_of(f.evidence.section, f.evidence.index) {
                by_event.entry(event).or_default().push(f);
            }
        }

        let default_rules = TelemetryRules::default();
        let policy = self.active_policy();
        let ctx = Context {
            rules: policy.map_or(&default_rules, |p| &p.telemetry),
            any_ca_allowed: policy.is_some_and(|p| p.configuration.user_installed_ca_certs.allowed),
            allowed_cas: policy.map_or(&[], |p| {
                &p.configuration
                    .user_installed_ca_certs
                    .allowed_fingerprints_sha256
            }),
            usb_storage_forbidden: policy.is_some_and(|p| {
                p.configuration
                    .device_connectivity_management
                    .as_ref()
                    .is_some_and(|d| d.usb_data_access != UsbDataAccess::AllowUsbDataTransfer)
            }),
        };
        let window_ms = i64::from(window_days(policy)) * 24 * HOUR_MS;
        let cutoff = now.plus_millis(-window_ms);

        let mut findings = Vec::new();
        let mut matches = Vec::new();
        let mut seen: BTreeMap<(NetworkValue, String), Timestamp> = BTreeMap::new();
        state
            .raised
            .retain(|_, when| now.millis_since(*when) < REPEAT_AFTER_MS);
        for (i, event) in batch.events.iter().enumerate() {
            let hits = by_event.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            let package = package_of(event).unwrap_or_default();
            match event {
                TelemetryEvent::Dns(e) => {
                    if e.at >= cutoff {
                        let host = e.host.trim().trim_end_matches('.').to_ascii_lowercase();
                        remember(&mut seen, NetworkValue::Host, host, e.at);
                        for a in &e.addresses {
                            remember(&mut seen, NetworkValue::Address, a.to_string(), e.at);
                        }
                    }
                }
                TelemetryEvent::Connect(e) => {
                    if e.at >= cutoff {
                        remember(
                            &mut seen,
                            NetworkValue::Address,
                            e.address.to_string(),
                            e.at,
                        );
                    }
                }
                TelemetryEvent::Security(s) => {
                    state
                        .detectors
                        .observe(&ctx, &Input::Security(s), &mut findings);
                    if !hits.is_empty() {
                        let input = Input::BadProcess {
                            at: s.at,
                            package,
                            matches: hits,
                        };
                        state.detectors.observe(&ctx, &input, &mut findings);
                    }
                }
            }
            let network = !matches!(event, TelemetryEvent::Security(_));
            let mut raised_here = BTreeSet::new();
            for hit in hits {
                matches.push(TelemetryMatch {
                    event: i,
                    at: event.at(),
                    package: package.to_owned(),
                    finding: (*hit).clone(),
                });
                if !network || !raised_here.insert(hit.indicator_id.as_str()) {
                    continue;
                }
                let key = format!("{} {package}", hit.indicator_id);
                let recent = state.raised.get(&key).is_some_and(|when| {
                    event.at() >= *when && event.at().millis_since(*when) < REPEAT_AFTER_MS
                });
                if recent {
                    continue;
                }
                state.raised.insert(key, event.at());
                findings.push(match_finding(event, package, hit));
            }
        }

        let counts = batch.counts();
        let listed: Vec<serde_json::Value> = matches
            .iter()
            .take(MAX_JOURNALED_MATCHES)
            .map(|m| {
                serde_json::json!({
                    "at": m.at,
                    "package": crate::policy::sanitize(&m.package),
                    "indicator": m.finding.indicator_id,
                    "collection": m.finding.collection,
                    "section": m.finding.evidence.section,
                })
            })
            .collect();
        let mut journal = vec![JournalEntry {
            kind: "telemetry_batch".into(),
            body: serde_json::json!({
                "dns": counts.dns,
                "connect": counts.connect,
                "security": counts.security,
                "matches": matches.len(),
                "alerts": findings.len(),
                "window_values": seen.len(),
                "listed_matches": listed,
            })
            .to_string(),
        }];

        let events = self.inspection.on_alerts(&findings, now);
        inspection::record(&events, &mut journal, &mut findings);
        let mut states = Vec::new();
        let schedule_json = self.inspection.state.changed()?;
        if let Some(json) = &schedule_json {
            states.push((inspection::INSPECTION_STATE, json.clone()));
        }
        let state_json = serde_json::to_string(&state)
            .map_err(|e| Error::Corrupt(format!("cannot encode the telemetry state: {e}")))?;
        if state_json != persisted {
            states.push((TELEMETRY_STATE, state_json));
        }
        for f in &findings {
            log::warn!(
                "portcullis: alert {} (severity {}, detector {})",
                f.kind,
                f.severity(),
                f.detector
            );
        }
        let network = NetworkWindowWrite {
            seen: seen.into_iter().map(|((k, v), at)| (k, v, at)).collect(),
            prune_before: Some(cutoff),
        };
        let commit = Commit {
            at: Some(now),
            states,
            journal,
            findings,
        };
        match self.store.commit_with_network(commit, network) {
            Ok(alerts) => {
                if let Some(json) = schedule_json {
                    self.inspection.state.committed(json);
                }
                Ok(TelemetryOutcome {
                    alerts,
                    matches,
                    counts,
                })
            }
            Err(e) => {
                // Memory goes back to what is on disk; an unreadable committed form is Corrupt.
                self.inspection
                    .state
                    .rollback(inspection::InspectionComponent::default)?;
                Err(e)
            }
        }
    }

    /// The telemetry rules in force (the defaults without a policy): the native layer
    /// turns the platform's network and security logs on or off from them.
    pub fn telemetry_rules(&self) -> TelemetryRules {
        self.active_policy()
            .map_or_else(TelemetryRules::default, |p| p.telemetry.clone())
    }

    /// The rolling window of network events as evidence (`domains` and `ip_addresses`
    /// with source `network_log`), as scheduled inspections scan it.
    pub fn network_window_evidence(&self, now: Timestamp) -> Result<EvidenceSnapshot> {
        let mut snapshot = EvidenceSnapshot {
            version: crate::inspection::EVIDENCE_VERSION,
            ..EvidenceSnapshot::default()
        };
        self.add_network_window(&mut snapshot, now)?;
        Ok(snapshot)
    }

    /// Appends the network window to an inspection's evidence.
    pub(super) fn add_network_window(
        &self,
        evidence: &mut EvidenceSnapshot,
        now: Timestamp,
    ) -> Result<()> {
        let window_ms = i64::from(window_days(self.active_policy())) * 24 * HOUR_MS;
        for (kind, value, at) in self.store.network_window(now.plus_millis(-window_ms))? {
            let contact = Contact {
                value,
                source: Some(NETWORK_LOG_SOURCE.to_owned()),
                seen_at: Some(at),
            };
            match kind {
                NetworkValue::Host => evidence.domains.push(contact),
                NetworkValue::Address => evidence.ip_addresses.push(contact),
            }
        }
        Ok(())
    }
}

fn remember(
    seen: &mut BTreeMap<(NetworkValue, String), Timestamp>,
    kind: NetworkValue,
    value: String,
    at: Timestamp,
) {
    let slot = seen.entry((kind, value)).or_insert(at);
    *slot = (*slot).max(at);
}

fn match_finding(event: &TelemetryEvent, package: &str, hit: &IndicatorFinding) -> Finding {
    let at = event.at();
    let malware = hit.malware.join(", ");
    // What the SIEM export needs to rebuild the network event (OCSF 4003 / 4001).
    let detail: Vec<(String, String)> = match event {
        TelemetryEvent::Dns(e) => vec![
            ("event".into(), "dns".into()),
            ("query".into(), crate::policy::sanitize(&e.host)),
            (
                "answers".into(),
                e.addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
        TelemetryEvent::Connect(e) => vec![
            ("event".into(), "connect".into()),
            ("address".into(), e.address.to_string()),
            ("port".into(), e.port.to_string()),
        ],
        TelemetryEvent::Security(_) => Vec::new(),
    };
    let what = match hit.matched {
        MatchKind::Subdomain => "a subdomain of an indicator domain",
        _ if hit.evidence.section == "ip_addresses" => "an indicator address",
        _ => "an indicator domain",
    };
    Finding {
        at,
        kind: AlertKind::IndicatorMatch,
        slot: None,
        detector: MATCH_DETECTOR.into(),
        detector_version: 1,
        summary: format!(
            "{} contacted {what} ({})",
            crate::policy::sanitize(package),
            if malware.is_empty() {
                "unnamed malware"
            } else {
                &malware
            }
        ),
        evidence: vec![
            ("indicator".into(), hit.indicator_id.clone()),
            ("collection".into(), hit.collection.clone()),
            ("malware".into(), malware.clone()),
            ("package".into(), crate::policy::sanitize(package)),
            ("value".into(), crate::policy::sanitize(&hit.evidence.value)),
            ("matched".into(), hit.matched.as_str().into()),
            ("source".into(), NETWORK_LOG_SOURCE.into()),
        ]
        .into_iter()
        .chain(detail)
        .collect(),
        severity: None,
    }
}
