//! Compliance: app allowlists and configuration policies, judged on a device
//! snapshot, with remediation actions and the escalation ladder.
//!
//! The native layer collects a [`DeviceSnapshot`] (installed apps with signing
//! certificates, version codes and installers; OS facts; settings) and hands it in
//! with the current time. The agent keeps a [`PreparedPolicy`] (the applied policy,
//! indexed once) and a [`ComplianceEngine`] (a serde state machine it persists).
//!
//! - [`evaluate_rules`] is the pure judgement: one [`Verdict`] per rule —
//!   `COMPLIANT`, `NON_COMPLIANT` with [`Reason`] codes in the spirit of AMAPI's
//!   non-compliance reasons, `NOT_APPLICABLE`, or `UNKNOWN` naming the unobserved
//!   [`Fact`]s. Unknown is never counted as compliant.
//! - [`ComplianceEngine::evaluate`] diffs the verdicts against what it already
//!   reported, so an unchanged snapshot yields no new action and no new alert;
//!   requests [`Measure`]s (suspend or hide an app, user restrictions, the agent's
//!   uninstall block, ...) and one-shot [`Action`]s (notices, certificate removal,
//!   lock, wipe), each routed by the device's [`Capabilities`] (device owner or not,
//!   delegated scopes, API level, supervision) to the agent, to the MDM, or to
//!   "not possible here" with a [`NotPossibleReason`]; and
//!   runs each section's escalation ladder (notify now, block after N days, wipe
//!   after M days) on the time passed in. [`ComplianceEngine::tick`] and
//!   [`ComplianceEngine::next_deadline`] carry the ladder between snapshots.
//!
//! Nothing here reads a clock or does I/O. `docs/compliance.md` documents the
//! snapshot format, the codes, the actions and the ladder.

pub mod actions;
pub mod codes;
pub mod critical;
pub mod engine;
pub mod integrity;
pub mod rules;
pub mod snapshot;

pub use actions::{
    Action, Capabilities, DelegatedScope, DelegatedScopes, DeploymentMode, Measure,
    NotPossibleReason, Notice, RequestedAction, Route, UserRestriction,
};
pub use codes::{Code, CodeSet, Fact, Facts, IntegrityRule, Reason, Reasons, RuleId, SettingRule};
pub use critical::{access_block_targets, critical_packages, is_critical, PackageRoles};
pub use engine::{
    ComplianceAlert, ComplianceEngine, Escalation, Evaluation, Issue, Ladder, DETECTOR,
    DETECTOR_VERSION, ENGINE_STATE_VERSION,
};
pub use integrity::{
    mdm_remediations, AttestationEvidence, IntegrityHint, IntegrityInput, IntegrityRemediation,
};
pub use rules::{evaluate_rules, Enforcement, LadderRule, PreparedPolicy, Status, Verdict};
pub use snapshot::{
    AccessibilityService, AgentFacts, AlwaysOnVpnState, DeviceSettings, DeviceSnapshot,
    EncryptionStatus, InstallSource, InstalledApp, OsFacts, PasswordComplexity, Platform,
    SNAPSHOT_SCHEMA_V1,
};
