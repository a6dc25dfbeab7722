//! Compliance on the agent: device snapshots judged against the policy in force, the
//! escalation ladder persisted and woken through `next_wakeup`, alerts queued, and the
//! remediation actions handed to the native layer.

use super::persisted::{Persisted, State};
use super::Agent;
use crate::alert::{Alert, Finding};
use crate::compliance::codes::section_name;
use crate::compliance::{
    ComplianceAlert, ComplianceEngine, DeviceSnapshot, Evaluation, PreparedPolicy, RequestedAction,
    DETECTOR, DETECTOR_VERSION,
};
use crate::error::{Error, Result};
use crate::policy::Policy;
use crate::time::Timestamp;

pub(super) const COMPLIANCE_STATE: &str = "compliance";
pub(super) const ACTIONS_STATE: &str = "requested_actions";

/// The compliance side of the agent.
pub(super) struct ComplianceSlot {
    pub(super) engine: Persisted<ComplianceEngine>,
    /// Actions requested and not yet taken by the native layer.
    pub(super) pending: Persisted<Vec<RequestedAction>>,
    /// The policy in force, indexed for evaluation (rebuilt when a policy is applied).
    pub(super) prepared: Option<PreparedPolicy>,
}

impl State for ComplianceEngine {
    const WHAT: &'static str = "compliance state";

    fn decode(json: &str) -> Result<Self> {
        ComplianceEngine::from_json(json)
    }
}

impl State for Vec<RequestedAction> {
    const WHAT: &'static str = "pending remediation actions";
}

impl ComplianceSlot {
    pub(super) fn restore(
        state: Option<String>,
        pending: Option<String>,
        policy: Option<&Policy>,
    ) -> Result<Self> {
        Ok(ComplianceSlot {
            engine: Persisted::restore(state, ComplianceEngine::new)?,
            pending: Persisted::restore(pending, Vec::new)?,
            prepared: policy.map(PreparedPolicy::new),
        })
    }

    /// Back to the committed state; `Corrupt` if that does not read (nothing is reset).
    pub(super) fn rollback(&mut self) -> Result<()> {
        self.engine.rollback(ComplianceEngine::new)?;
        self.pending.rollback(Vec::new)
    }
}

/// A compliance alert as an outbox finding, keeping its rule-dependent severity.
pub(super) fn finding(a: ComplianceAlert) -> Finding {
    let mut evidence = vec![("section".to_owned(), section_name(a.section).to_owned())];
    if let Some(rule) = &a.rule {
        evidence.push(("rule".to_owned(), rule.to_string()));
    }
    evidence.extend(a.evidence);
    Finding {
        at: a.at,
        kind: a.kind,
        slot: None,
        detector: DETECTOR.into(),
        detector_version: DETECTOR_VERSION,
        summary: a.summary,
        evidence,
        severity: Some(a.severity),
    }
}

/// What judging one snapshot produced.
#[derive(Debug, Clone)]
pub struct ComplianceOutcome {
    /// Verdicts per rule, and the actions and alerts new with this snapshot.
    pub evaluation: Evaluation,
    /// The alerts queued for the console.
    pub alerts: Vec<Alert>,
}

impl Agent {
    /// Judges a device snapshot (JSON, docs/compliance.md) against the policy in force.
    /// Actions it requests are queued for [`Agent::take_actions`]; alerts go to the outbox.
    /// An unchanged snapshot requests and raises nothing new.
    pub fn evaluate_compliance(
        &mut self,
        snapshot_json: &[u8],
        now: Timestamp,
    ) -> Result<ComplianceOutcome> {
        let snapshot = DeviceSnapshot::from_json(snapshot_json)?;
        self.evaluate_normalized(&snapshot, now)
    }

    /// [`Agent::evaluate_compliance`] for a snapshot the platform filled field by field
    /// (the bindings' typed snapshot): validated and normalised as the JSON form is, so a
    /// value over a limit is one `InvalidInput` naming its field.
    pub fn evaluate_compliance_snapshot(
        &mut self,
        mut snapshot: DeviceSnapshot,
        now: Timestamp,
    ) -> Result<ComplianceOutcome> {
        snapshot.normalize()?;
        self.evaluate_normalized(&snapshot, now)
    }

    fn evaluate_normalized(
        &mut self,
        snapshot: &DeviceSnapshot,
        now: Timestamp,
    ) -> Result<ComplianceOutcome> {
        let prepared = self.compliance.prepared.as_ref().ok_or(Error::NoPolicy)?;
        let mut evaluation = self.compliance.engine.evaluate(prepared, snapshot, now);
        self.wakeup.compliance_judged(now);
        self.compliance
            .pending
            .extend(evaluation.new_actions.iter().cloned());
        let findings = std::mem::take(&mut evaluation.new_alerts)
            .into_iter()
            .map(finding)
            .collect();
        let alerts = self.persist(now, findings)?;
        Ok(ComplianceOutcome { evaluation, alerts })
    }

    /// Remediation actions requested since the last call, oldest first; each is handed
    /// out once. After a restart, re-apply what [`crate::compliance::ComplianceEngine::measures_in_force`] lists.
    pub fn take_actions(&mut self, now: Timestamp) -> Result<Vec<RequestedAction>> {
        let taken = std::mem::take(&mut *self.compliance.pending);
        if taken.is_empty() {
            return Ok(taken);
        }
        match self.persist(now, Vec::new()) {
            Ok(_) => Ok(taken),
            Err(e) => {
                *self.compliance.pending = taken;
                Err(e)
            }
        }
    }

    /// The compliance engine (open issues, ladders, measures in force), read-only.
    pub fn compliance(&self) -> &ComplianceEngine {
        &self.compliance.engine
    }
}
