//! Inspections on the agent: the unpredictable schedule (persisted, woken through
//! `next_wakeup`), windows triggered by alerts, overdue escalation, and the scan of an
//! evidence snapshot against the loaded indicator collections with a signed report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::persisted::{Persisted, State};
use super::Agent;
use crate::alert::{Alert, AlertKind, Finding};
use crate::error::{Error, Result};
use crate::identity::hex;
use crate::inspection::schedule::{Conditions, LocalClock, OpenWindow, UtcOffset, WindowId};
use crate::inspection::{
    CollectionSummary, EvidenceSnapshot, IndicatorSet, InspectionScheduler, ScanReport,
    ScheduleEvent, ScheduleKey, ScheduleRules,
};
use crate::policy::{AcceptedIndicators, Policy, PolicyError, SignedIndicators};
use crate::store::{Commit, JournalEntry};
use crate::time::Timestamp;

pub(super) const INSPECTION_STATE: &str = "inspection";
pub(super) const INDICATORS_STATE: &str = "indicators";

/// A signed indicator collection the agent accepted, kept to reload it at every start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredIndicators {
    accepted: AcceptedIndicators,
    /// The signed file as received (a JSON envelope).
    file: String,
}
const SCHEDULE_DETECTOR: &str = "inspection_schedule";
const SCAN_DETECTOR: &str = "indicator_scan";

/// The persisted part: the scheduler (no secrets; its key is derived each session).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct InspectionComponent {
    pub(super) scheduler: Option<InspectionScheduler>,
}

impl State for InspectionComponent {
    const WHAT: &'static str = "inspection schedule";
}

/// The inspection side of the agent in memory.
pub(super) struct InspectionSlot {
    pub(super) state: Persisted<InspectionComponent>,
    pub(super) key: ScheduleKey,
    pub(super) indicators: IndicatorSet,
    /// Signed collections, latest per label (persisted).
    signed: BTreeMap<String, StoredIndicators>,
    /// Collections loaded unsigned this session (kiosk use), re-added on every rebuild.
    unsigned: Vec<(String, String)>,
    /// The conditions last reported this session (charging, Wi-Fi, UTC offset), so the
    /// platform can report at every wake-up and only a change reaches the schedule.
    reported: Option<(bool, bool, i32)>,
}

impl InspectionSlot {
    pub(super) fn restore(
        json: Option<String>,
        signed: Option<String>,
        key: ScheduleKey,
    ) -> Result<Self> {
        let state = Persisted::restore(json, InspectionComponent::default)?;
        let signed: BTreeMap<String, StoredIndicators> = match signed {
            Some(json) => crate::json::from_str(&json).map_err(|_| {
                Error::Corrupt("the stored indicator collections are unreadable".into())
            })?,
            None => BTreeMap::new(),
        };
        let mut slot = InspectionSlot {
            state,
            key,
            indicators: IndicatorSet::new(),
            signed,
            unsigned: Vec::new(),
            reported: None,
        };
        slot.rebuild()?;
        Ok(slot)
    }

    /// Rebuilds the indicator index from the accepted signed collections (each re-checked
    /// against its recorded payload hash) and this session's unsigned ones.
    fn rebuild(&mut self) -> Result<()> {
        let mut set = IndicatorSet::new();
        for stored in self.signed.values() {
            let signed = SignedIndicators::restore(stored.file.as_bytes(), &stored.accepted)?;
            set.load_stix2(&signed.collection, &signed.stix_json)?;
        }
        for (name, json) in &self.unsigned {
            set.load_stix2(name, json)?;
        }
        self.indicators = set;
        Ok(())
    }

    /// Starts or re-plans the schedule for the policy's inspection rules.
    pub(super) fn apply_policy(
        &mut self,
        policy: &Policy,
        now: Timestamp,
    ) -> Result<Vec<ScheduleEvent>> {
        let rules = ScheduleRules::from_policy(&policy.inspection)?;
        match &mut self.state.scheduler {
            Some(s) => s.set_rules(rules, now, &self.key),
            None => {
                let clock = LocalClock::fixed(UtcOffset::from_minutes(0)?);
                self.state.scheduler =
                    Some(InspectionScheduler::new(rules, clock, now, &self.key)?);
                // A new schedule has heard no conditions yet: the next report reaches it.
                self.reported = None;
                Ok(Vec::new())
            }
        }
    }

    /// Feeds alerts to the scheduler (high or critical ones bring an inspection forward).
    pub(super) fn on_alerts(&mut self, findings: &[Finding], now: Timestamp) -> Vec<ScheduleEvent> {
        let Some(s) = &mut self.state.scheduler else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for f in findings {
            events.extend(s.on_alert(f.severity(), now, &self.key));
        }
        events
    }

    pub(super) fn on_time(&mut self, now: Timestamp) -> Vec<ScheduleEvent> {
        match &mut self.state.scheduler {
            Some(s) => s.on_time(now, &self.key),
            None => Vec::new(),
        }
    }

    /// Opens a triggered window now, when inspections are scheduled at all.
    pub(super) fn trigger_now(&mut self, now: Timestamp) -> Vec<ScheduleEvent> {
        match &mut self.state.scheduler {
            Some(s) => s.trigger_now(now, &self.key),
            None => Vec::new(),
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        self.state.scheduler.as_ref()?.next_deadline()
    }
}

/// Turns scheduler outputs into journal records and, for an overdue inspection, an alert.
pub(super) fn record(
    events: &[ScheduleEvent],
    journal: &mut Vec<JournalEntry>,
    findings: &mut Vec<Finding>,
) {
    for event in events {
        let body = serde_json::to_value(event).unwrap_or_default();
        let kind = body["event"].as_str().unwrap_or("event").to_owned();
        journal.push(JournalEntry {
            kind: format!("inspection_{kind}"),
            body: body.to_string(),
        });
        if let ScheduleEvent::InspectionOverdue {
            window,
            missed_at,
            at,
        } = event
        {
            findings.push(Finding {
                at: *at,
                kind: AlertKind::InspectionOverdue,
                slot: None,
                detector: SCHEDULE_DETECTOR.into(),
                detector_version: 1,
                summary: "A scheduled forensic inspection is overdue past its grace period".into(),
                evidence: vec![
                    ("window".into(), window.to_string()),
                    ("missed_at".into(), missed_at.to_string()),
                ],
                severity: None,
            });
        }
    }
}

/// What an inspection produced, signed so the console can trust what it fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectionReceipt {
    /// The report as JSON: evidence digest, counts and findings.
    pub report_json: String,
    /// SHA-256 of the evidence bytes as submitted (hex).
    pub evidence_sha256: String,
    /// SHA-256 of `report_json` (hex): what the signature covers.
    pub report_sha256: String,
    /// The evidence bundle the console fetches: the report, its signature, the device's
    /// public key and the evidence exactly as submitted (its SHA-256 is in the report),
    /// as one JSON object of format `portcullis-evidence-bundle-v1`.
    pub evidence_bundle: String,
    /// Ed25519 signature by the device's checkpoint key (hex).
    pub signature: String,
    /// How many indicators matched.
    pub findings: usize,
    /// Alerts this inspection raised (an `indicator_match` when anything matched).
    pub alerts: Vec<Alert>,
}

impl Agent {
    /// Loads a STIX 2.1 indicator collection for the next inspections (held in memory;
    /// the native layer loads its collections after every start).
    pub fn load_indicators(
        &mut self,
        collection: &str,
        stix_json: &str,
    ) -> Result<CollectionSummary> {
        let summary = self
            .inspection
            .indicators
            .load_stix2(collection, stix_json)?;
        self.inspection
            .unsigned
            .push((collection.to_owned(), stix_json.to_owned()));
        Ok(summary)
    }

    /// Accepts a signed indicator collection (`portcullis indicators sign`): verified under
    /// the trust root's policy role, refused if older than the one held; replaces the
    /// collection of the same label and is reloaded at every start. A refusal changes
    /// nothing and raises `policy_refused` once per distinct input.
    pub fn load_signed_indicators(
        &mut self,
        signed_file: &[u8],
        now: Timestamp,
    ) -> Result<AcceptedIndicators> {
        let now = now.max(self.guard.facts().last_seen);
        let signed = match self
            .policy_component()?
            .trust
            .verify_indicators(signed_file, now)
        {
            Ok(s) => s,
            Err(e) => return Err(self.refuse("indicators", signed_file, e, now)),
        };
        let held = self
            .inspection
            .signed
            .get(&signed.collection)
            .map(|x| x.accepted.clone());
        if let Err(e) = signed.check_update(held.as_ref()) {
            // The collection in use, delivered again (at every start, every sync): no news.
            if let (PolicyError::AlreadyLoaded { .. }, Some(held)) = (&e, held) {
                return Ok(held);
            }
            return Err(self.refuse("indicators", signed_file, e.into(), now));
        }
        let accepted = signed.accepted();
        let file = std::str::from_utf8(signed_file)
            .map_err(|_| Error::invalid("indicators", "not UTF-8 text"))?
            .to_owned();
        let previous = self.inspection.signed.insert(
            signed.collection.clone(),
            StoredIndicators {
                accepted: accepted.clone(),
                file,
            },
        );
        let state = serde_json::to_string(&self.inspection.signed)
            .map_err(|e| Error::Corrupt(format!("cannot encode indicator collections: {e}")));
        let result = state.and_then(|state| {
            self.inspection.rebuild()?;
            self.store.commit(Commit {
                at: Some(now),
                states: vec![(INDICATORS_STATE, state)],
                journal: vec![JournalEntry {
                    kind: "indicators_loaded".into(),
                    body: serde_json::json!({
                        "collection": accepted.collection,
                        "version": accepted.version,
                        "payload_sha256": accepted.payload_sha256.to_string(),
                        "indicators": self.inspection.indicators.len(),
                    })
                    .to_string(),
                }],
                findings: Vec::new(),
            })
        });
        if let Err(e) = result {
            // Put back what was held: the collection did not change.
            match previous {
                Some(p) => self.inspection.signed.insert(signed.collection, p),
                None => self.inspection.signed.remove(&signed.collection),
            };
            let _ = self.inspection.rebuild();
            return Err(e);
        }
        Ok(accepted)
    }

    /// The inspection window open now, if any: collect evidence and call
    /// [`Agent::submit_inspection`] before it closes.
    pub fn open_inspection_window(&self) -> Option<OpenWindow> {
        self.inspection
            .state
            .scheduler
            .as_ref()?
            .open_window()
            .copied()
    }

    /// Reports power, network and the local clock's UTC offset (it changes with travel
    /// and daylight saving), which the schedule's windows follow. The platform may report
    /// at every wake-up: conditions equal to the last ones reported this session change
    /// nothing and store nothing.
    pub fn report_conditions(
        &mut self,
        charging: bool,
        on_wifi: bool,
        utc_offset_minutes: i32,
        now: Timestamp,
    ) -> Result<Vec<Alert>> {
        let conditions = (charging, on_wifi, utc_offset_minutes);
        if self.inspection.reported == Some(conditions) {
            return Ok(Vec::new());
        }
        let alerts = self.plan_for_conditions(conditions, now)?;
        self.inspection.reported = Some(conditions);
        Ok(alerts)
    }

    /// Re-plans the schedule for `(charging, on_wifi, utc_offset_minutes)`.
    fn plan_for_conditions(
        &mut self,
        (charging, on_wifi, utc_offset_minutes): (bool, bool, i32),
        now: Timestamp,
    ) -> Result<Vec<Alert>> {
        let clock = LocalClock::fixed(UtcOffset::from_minutes(utc_offset_minutes)?);
        let events = match &mut self.inspection.state.scheduler {
            Some(s) => s.on_conditions(
                Conditions {
                    charging,
                    on_wifi,
                    clock,
                },
                now,
                &self.inspection.key,
            ),
            None => Vec::new(),
        };
        self.persist_with_events(now, Vec::new(), Vec::new(), events)
    }

    /// Scans an evidence snapshot (JSON, docs/inspection.md) against the loaded indicators,
    /// journals the report, raises `indicator_match` when anything matched, and completes
    /// `window` (or the window open now). Returns the signed report for the console.
    pub fn submit_inspection(
        &mut self,
        window: Option<WindowId>,
        evidence_json: &str,
        now: Timestamp,
    ) -> Result<InspectionReceipt> {
        let evidence = EvidenceSnapshot::from_json(evidence_json)?;
        self.submit_evidence(window, &evidence, evidence_json, now)
    }

    /// [`Agent::submit_inspection`] for a snapshot the platform filled field by field (the
    /// bindings' typed evidence): validated as the JSON form is, with errors naming the
    /// field, and signed over its compact JSON form, which the evidence bundle carries.
    pub fn submit_inspection_snapshot(
        &mut self,
        window: Option<WindowId>,
        evidence: &EvidenceSnapshot,
        now: Timestamp,
    ) -> Result<InspectionReceipt> {
        evidence.validate()?;
        let json = serde_json::to_string(evidence)
            .map_err(|e| Error::invalid("evidence", format!("cannot be encoded: {e}")))?;
        self.submit_evidence(window, evidence, &json, now)
    }

    fn submit_evidence(
        &mut self,
        window: Option<WindowId>,
        evidence: &EvidenceSnapshot,
        evidence_json: &str,
        now: Timestamp,
    ) -> Result<InspectionReceipt> {
        // The rolling window of network events the phone saw (source `network_log`) joins
        // what the platform collected.
        let mut evidence = evidence.clone();
        self.add_network_window(&mut evidence, now)?;
        let evidence = &evidence;
        let report: ScanReport = self.inspection.indicators.scan(evidence);
        let evidence_sha256 =
            hex(ring::digest::digest(&ring::digest::SHA256, evidence_json.as_bytes()).as_ref());
        let window = window.or_else(|| self.open_inspection_window().map(|w| w.id));
        let report_json = serde_json::json!({
            "at": now,
            "window": window,
            "evidence_sha256": evidence_sha256,
            "evidence_items": report.evidence_items,
            "indicators": report.indicators,
            "unparsed_patterns": report.unparsed_patterns,
            "findings": report.findings,
        })
        .to_string();
        let digest = ring::digest::digest(&ring::digest::SHA256, report_json.as_bytes());
        let mut digest32 = [0u8; 32];
        digest32.copy_from_slice(digest.as_ref());
        let signature = hex(&self.signer.sign_report(&digest32));
        let mut findings = Vec::new();
        if !report.is_clean() {
            let mut malware: Vec<&str> = report
                .findings
                .iter()
                .flat_map(|f| f.malware.iter().map(|m| &**m))
                .collect();
            crate::sort::sort(&mut malware);
            malware.dedup();
            let mut collections: Vec<&str> = report
                .findings
                .iter()
                .map(|f| f.collection.as_str())
                .collect();
            crate::sort::sort(&mut collections);
            collections.dedup();
            findings.push(Finding {
                at: now,
                kind: AlertKind::IndicatorMatch,
                slot: None,
                detector: SCAN_DETECTOR.into(),
                detector_version: 1,
                summary: format!(
                    "Inspection found {} match(es) against spyware indicators ({})",
                    report.findings.len(),
                    if malware.is_empty() {
                        "unnamed malware".to_owned()
                    } else {
                        malware.join(", ")
                    }
                ),
                evidence: vec![
                    ("matches".into(), report.findings.len().to_string()),
                    ("collections".into(), collections.join(",")),
                    ("report_sha256".into(), hex(&digest32)),
                ],
                severity: None,
            });
        }
        let mut events = Vec::new();
        if let (Some(id), Some(s)) = (window, self.inspection.state.scheduler.as_mut()) {
            events = s.inspection_completed(id, now, &self.inspection.key)?;
        }
        let journal = vec![JournalEntry {
            kind: "inspection".into(),
            body: report_json.clone(),
        }];
        let evidence_bundle = serde_json::json!({
            "format": "portcullis-evidence-bundle-v1",
            "report": report_json,
            "report_signature": signature,
            "public_key": hex(&self.signer.public_key()),
            "evidence": evidence_json,
        })
        .to_string();
        // Queued for the collector in the same commit as the report's record.
        if self.upload_ships() {
            self.upload.queue_evidence(evidence_bundle.clone());
        }
        let alerts = self.persist_with_events(now, findings, journal, events)?;
        Ok(InspectionReceipt {
            evidence_bundle,
            report_json,
            evidence_sha256,
            report_sha256: hex(&digest32),
            signature,
            findings: report.findings.len(),
            alerts,
        })
    }
}
