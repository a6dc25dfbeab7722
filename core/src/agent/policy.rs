//! Policy on the agent: the trust root installed at enrollment, signed bundles applied
//! through it, and the refusals journaled and alerted. Verification itself lives in
//! `crate::policy`; this file decides what is persisted and what the console is told.

use serde::{Deserialize, Serialize};

use super::Agent;
use crate::alert::{AlertKind, Finding};
use crate::error::{Error, Result};
use crate::identity::hex;
use crate::policy::trust::valid_scope_name;
use crate::policy::{AppliedPolicy, DeviceScope, Policy, TrustedState, VerifiedPolicy};
use crate::store::{Commit, JournalEntry};
use crate::time::Timestamp;

pub(super) const POLICY_STATE: &str = "policy";

/// What the agent persists about policy, as one component.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PolicyComponent {
    pub(super) trust: TrustedState,
    pub(super) scope: DeviceScope,
    /// The applied bundle's bytes (a JSON envelope), re-checked against `trust` at start.
    bundle: Option<String>,
    /// SHA-256 of the last refused input, so a redelivered bad bundle alerts once.
    last_refused: Option<String>,
}

/// The policy side of the agent in memory.
#[derive(Debug, Default)]
pub(super) struct PolicySlot {
    pub(super) component: Option<PolicyComponent>,
    pub(super) active: Option<VerifiedPolicy>,
}

/// What applying a bundle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOutcome {
    /// The bundle passed every check and is now in force.
    Applied(AppliedPolicy),
    /// The bundle in force was delivered again; nothing changed.
    Unchanged(AppliedPolicy),
}

/// What offering a trust root to an enrolled device did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootOutcome {
    /// The root passed every rotation check and is now in force.
    Rotated {
        /// The version it replaced.
        from: u64,
        /// Its version.
        to: u64,
    },
    /// The root in force was offered again; nothing changed.
    Unchanged {
        /// The version in force.
        version: u64,
    },
}

const DETECTOR: &str = "policy_verifier";
const DETECTOR_VERSION: u32 = 1;

impl PolicySlot {
    /// Restores the policy state at open. A stored bundle that no longer matches the
    /// trusted state (a tampered file) is dropped: the agent falls back to the built-in
    /// rules, journals why, and the console sees no applied policy.
    pub(super) fn restore(json: Option<String>) -> Result<(PolicySlot, Option<JournalEntry>)> {
        let Some(json) = json else {
            return Ok((PolicySlot::default(), None));
        };
        let component: PolicyComponent = crate::json::from_str(&json)
            .map_err(|_| Error::Corrupt("the stored policy state is unreadable".into()))?;
        let mut note = None;
        let active = match &component.bundle {
            None => None,
            Some(bundle) => match component.trust.restore(bundle.as_bytes()) {
                Ok(v) => Some(v),
                Err(e) => {
                    log::error!(
                        "portcullis: the stored policy bundle does not match its record: {e}"
                    );
                    note = Some(JournalEntry {
                        kind: "policy_restore_failed".into(),
                        body: serde_json::json!({ "reason": e.to_string() }).to_string(),
                    });
                    None
                }
            },
        };
        Ok((
            PolicySlot {
                component: Some(component),
                active,
            },
            note,
        ))
    }
}

impl Agent {
    /// Installs the console's signed trust root at enrollment, with the device's scope
    /// (its enrollment id and groups). Refused once a root is installed: later roots
    /// arrive only as rotations signed by the current one ([`Agent::apply_root_update`]).
    pub fn install_trust_root(
        &mut self,
        signed_root: &[u8],
        scope: DeviceScope,
        now: Timestamp,
    ) -> Result<()> {
        if self.policy.component.is_some() {
            return Err(Error::invalid(
                "trust_root",
                "a trust root is already installed; rotate it with a root update signed by the current root",
            ));
        }
        for name in std::iter::once(&scope.device_id).chain(&scope.groups) {
            if !valid_scope_name(name) {
                return Err(Error::invalid(
                    "scope",
                    "device ids and groups are 1 to 128 characters of letters, digits, '.', '_', ':' or '-'",
                ));
            }
        }
        let trust = match TrustedState::enroll(signed_root) {
            Ok(t) => t,
            Err(e) => return Err(self.refuse("trust_root", signed_root, e, now)),
        };
        let component = PolicyComponent {
            trust,
            scope,
            bundle: None,
            last_refused: None,
        };
        let body = serde_json::json!({
            "root_version": component.trust.root().version,
            "device_id": component.scope.device_id,
            "groups": component.scope.groups,
        });
        self.commit_policy(component, "trust_root_installed", body, now)?;
        Ok(())
    }

    /// Applies a trust-root rotation signed by the current root's threshold and its own.
    /// The root already in force, offered again (managed configuration redelivers it),
    /// changes nothing and raises nothing.
    pub fn apply_root_update(&mut self, signed_root: &[u8], now: Timestamp) -> Result<RootOutcome> {
        let mut component = self.policy_component()?.clone();
        let from = component.trust.root().version;
        if component.trust.is_current_root(signed_root) {
            return Ok(RootOutcome::Unchanged { version: from });
        }
        if let Err(e) = component.trust.apply_root(signed_root) {
            return Err(self.refuse("trust_root", signed_root, e, now));
        }
        let to = component.trust.root().version;
        let body = serde_json::json!({ "from_version": from, "to_version": to });
        self.commit_policy(component, "trust_root_rotated", body, now)?;
        Ok(RootOutcome::Rotated { from, to })
    }

    /// Verifies a signed policy bundle and puts it in force. A refused bundle changes
    /// nothing, is journaled, and raises one `policy_refused` alert per distinct input.
    pub fn apply_policy(&mut self, bundle: &[u8], now: Timestamp) -> Result<PolicyOutcome> {
        let mut component = self.policy_component()?.clone();
        if component.trust.is_applied(bundle) {
            if let Some(applied) = component.trust.applied() {
                return Ok(PolicyOutcome::Unchanged(applied.clone()));
            }
        }
        // A clock moved back must not make an expired bundle acceptable again.
        let now = now.max(self.guard.facts().last_seen);
        let scope = component.scope.clone();
        let verified = match component.trust.apply_bundle(bundle, now, &scope) {
            Ok(v) => v,
            Err(e) => return Err(self.refuse("policy_bundle", bundle, e, now)),
        };
        let text = std::str::from_utf8(bundle)
            .map_err(|_| Error::invalid("policy_bundle", "not UTF-8 text"))?
            .to_owned();
        component.bundle = Some(text);
        component.last_refused = None;
        let applied = component
            .trust
            .applied()
            .cloned()
            .ok_or_else(|| Error::Corrupt("a verified bundle left no applied record".into()))?;
        let body = serde_json::json!({
            "version": applied.version,
            "root_version": applied.root_version,
            "payload_sha256": applied.payload_sha256.to_string(),
            "expires": applied.expires,
            "signed_by": verified.signed_by.iter().map(std::string::ToString::to_string).collect::<Vec<_>>(),
        });
        let sim_policy = verified.policy().sim_policy();
        self.commit_policy(component, "policy_applied", body, now)?;
        let events = self.inspection.apply_policy(verified.policy(), now)?;
        self.compliance.prepared = Some(crate::compliance::PreparedPolicy::new(verified.policy()));
        self.policy.active = Some(verified);
        self.guard.set_policy(sim_policy);
        self.persist_with_events(now, Vec::new(), Vec::new(), events)?;
        log::info!("portcullis: policy version {} applied", applied.version);
        Ok(PolicyOutcome::Applied(applied))
    }

    /// Whether a trust root is installed (enrollment done).
    pub fn trust_root_installed(&self) -> bool {
        self.policy.component.is_some()
    }

    /// The applied bundle's metadata, if any.
    pub fn policy_status(&self) -> Option<&AppliedPolicy> {
        self.policy.component.as_ref()?.trust.applied()
    }

    /// The policy in force, if a bundle was applied.
    pub fn active_policy(&self) -> Option<&Policy> {
        self.policy.active.as_ref().map(VerifiedPolicy::policy)
    }

    pub(super) fn policy_component(&self) -> Result<&PolicyComponent> {
        self.policy.component.as_ref().ok_or(Error::NotEnrolled)
    }

    fn commit_policy(
        &mut self,
        component: PolicyComponent,
        kind: &str,
        body: serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        let state = serde_json::to_string(&component)
            .map_err(|e| Error::Corrupt(format!("cannot encode the policy state: {e}")))?;
        self.store.commit(Commit {
            at: Some(now),
            states: vec![(POLICY_STATE, state)],
            journal: vec![JournalEntry {
                kind: kind.into(),
                body: body.to_string(),
            }],
            findings: Vec::new(),
        })?;
        self.policy.component = Some(component);
        Ok(())
    }

    /// Journals a refusal and, for an input not refused before, raises `policy_refused`.
    /// Returns the verification error for the caller; a failure to record it wins.
    pub(super) fn refuse(
        &mut self,
        what: &'static str,
        input: &[u8],
        error: Error,
        now: Timestamp,
    ) -> Error {
        let digest = hex(ring::digest::digest(&ring::digest::SHA256, input).as_ref());
        let code = match &error {
            Error::Policy(p) => p.code(),
            _ => "invalid",
        };
        let reason = error.to_string();
        log::warn!("portcullis: {what} refused ({code})");
        let repeated = self
            .policy
            .component
            .as_ref()
            .is_some_and(|c| c.last_refused.as_deref() == Some(digest.as_str()));
        let mut states = Vec::new();
        let mut findings = Vec::new();
        // The component remembering this refusal replaces the one in memory only once
        // it is on disk: otherwise a failed write would silence the next alert.
        let mut remembered = None;
        if !repeated {
            findings.push(Finding {
                at: now,
                kind: AlertKind::PolicyRefused,
                slot: None,
                detector: DETECTOR.into(),
                detector_version: DETECTOR_VERSION,
                summary: format!("A {} was refused: {code}", what.replace('_', " ")),
                evidence: vec![
                    ("input".into(), what.into()),
                    ("code".into(), code.into()),
                    ("reason".into(), reason.clone()),
                    ("input_sha256".into(), digest[..16].into()),
                ],
                severity: None,
            });
            if let Some(mut c) = self.policy.component.clone() {
                c.last_refused = Some(digest.clone());
                match serde_json::to_string(&c) {
                    Ok(s) => {
                        states.push((POLICY_STATE, s));
                        remembered = Some(c);
                    }
                    Err(e) => {
                        return Error::Corrupt(format!("cannot encode the policy state: {e}"))
                    }
                }
            }
        }
        let record = Commit {
            at: Some(now),
            states,
            journal: vec![JournalEntry {
                kind: format!("{what}_refused"),
                body: serde_json::json!({ "code": code, "reason": reason, "input_sha256": digest })
                    .to_string(),
            }],
            findings,
        };
        match self.store.commit(record) {
            Ok(_) => {
                if remembered.is_some() {
                    self.policy.component = remembered;
                }
                error
            }
            Err(store_error) => store_error,
        }
    }
}
