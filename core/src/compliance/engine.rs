//! The compliance engine: a pure state machine over verdicts.
//!
//! It remembers which rules are open (non-compliant or unknown), the escalation
//! ladder of each section, and the measures it asked the agent to keep in force, so
//! that each evaluation reports only what changed: an unchanged snapshot yields no
//! new action and no new alert. Its whole state is one serde struct the agent
//! persists ([`ComplianceEngine::to_json`]); time only ever comes in as an argument.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::actions::{
    setting_measures, Action, Capabilities, Measure, Notice, RequestedAction, Route,
};
use super::codes::{section_name, Code, Facts, Reason, Reasons, RuleId, SettingRule};
use super::critical::{is_critical, PackageRoles};
use super::rules::{
    evaluate_rules_ordered, Enforcement, LadderRule, PreparedPolicy, Status, Verdict,
};
use super::snapshot::{DeviceSnapshot, InstalledApp, Platform};
use crate::alert::{AlertKind, Severity};
use crate::error::{Error, Result};
use crate::policy::model::SettingName;
use crate::time::Timestamp;

/// Version of the persisted state format ([`ComplianceEngine::to_json`]).
pub const ENGINE_STATE_VERSION: u32 = 1;
/// The detector name compliance alerts carry in the journal and outbox.
pub const DETECTOR: &str = "compliance";
/// The detector version; bumped whenever the engine's logic changes.
pub const DETECTOR_VERSION: u32 = 1;

const DAY_MS: i64 = 86_400_000;
/// The sections whose ladders the engine runs.
const SECTIONS: [SettingName; 3] = [
    SettingName::Apps,
    SettingName::Configuration,
    SettingName::DeviceIntegrity,
];

/// An alert for the security team, ready to become a journal record and outbox
/// entry (detector [`DETECTOR`], version [`DETECTOR_VERSION`]). It names apps and
/// rules, never a phone identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceAlert {
    /// When the condition was established (the evaluation's or tick's time).
    pub at: Timestamp,
    /// What happened: one of the `Compliance*` kinds of the one alert-kind enum, so the
    /// journal, the outbox and the FFI carry it without a mapping.
    pub kind: AlertKind,
    /// How urgent it is.
    pub severity: Severity,
    /// The section (and ladder) concerned.
    pub section: SettingName,
    /// The rule concerned; absent for ladder steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    /// One line for the security team.
    pub summary: String,
    /// Supporting facts as key/value pairs.
    pub evidence: Vec<(String, String)>,
}

/// A rule that is open: non-compliant or unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Issue {
    /// `NON_COMPLIANT` or `UNKNOWN`.
    pub status: Status,
    /// The reasons last reported.
    #[serde(default, skip_serializing_if = "Reasons::is_empty")]
    pub reasons: Reasons,
    /// The facts last missing.
    #[serde(default, skip_serializing_if = "Facts::is_empty")]
    pub unobserved: Facts,
    /// What the policy asks for.
    pub enforcement: Enforcement,
    /// When the rule stopped being compliant.
    pub since: Timestamp,
    /// Whether it keeps its section non-compliant (and the ladder running). An unknown
    /// rule keeps the last judgement made of it: unknown after non-compliant still
    /// counts, so hiding a setting from the agent never resets the ladder.
    pub counts: bool,
    /// The suspension or hiding of the app, under `SUSPEND_APP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<Measure>,
}

/// One section's escalation ladder while the section is non-compliant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ladder {
    /// When the section became non-compliant (the staff member and console were notified then).
    pub since: Timestamp,
    /// The steps, as the policy last evaluated said.
    pub rule: LadderRule,
    /// Whether the block step was taken.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
    /// Whether the wipe step was requested.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wipe_requested: bool,
}

impl Ladder {
    fn block_at(&self) -> Option<Timestamp> {
        self.rule
            .block_after_days
            .map(|d| self.since.plus_millis(i64::from(d) * DAY_MS))
    }

    fn wipe_at(&self) -> Option<Timestamp> {
        self.rule
            .wipe_after_days
            .map(|d| self.since.plus_millis(i64::from(d) * DAY_MS))
    }

    fn next_deadline(&self) -> Option<Timestamp> {
        if !self.blocked {
            if let Some(at) = self.block_at() {
                return Some(at);
            }
        }
        if !self.wipe_requested {
            return self.wipe_at();
        }
        None
    }
}

/// The result of evaluating one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The time the evaluation ran at (the caller's, never earlier than a time already seen).
    pub at: Timestamp,
    /// One verdict per rule, in [`RuleId`] order.
    pub verdicts: Vec<Verdict>,
    /// Actions not requested before: measures to apply or lift, notices, lock, wipe.
    pub new_actions: Vec<RequestedAction>,
    /// Alerts not raised before.
    pub new_alerts: Vec<ComplianceAlert>,
}

impl Evaluation {
    /// A section's state from its verdicts: non-compliant if a counting rule is
    /// broken, else unknown if a counting rule could not be judged, else compliant.
    /// `REPORT` rules never make a section non-compliant.
    pub fn section_status(&self, section: SettingName) -> Status {
        let mut status = Status::Compliant;
        for v in &self.verdicts {
            if v.rule.section() == section && v.enforcement.counts() && v.status.is_open() {
                status = status.max(v.status);
            }
        }
        status
    }

    /// Whether every section complies (nothing broken, nothing unknown).
    pub fn is_compliant(&self) -> bool {
        SECTIONS
            .iter()
            .all(|s| self.section_status(*s) == Status::Compliant)
    }

    /// The verdicts that need attention (non-compliant or unknown).
    pub fn open_verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.status.is_open())
    }
}

/// What time alone brought: ladder steps that came due.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// Actions not requested before.
    pub new_actions: Vec<RequestedAction>,
    /// Alerts not raised before.
    pub new_alerts: Vec<ComplianceAlert>,
}

#[derive(Default)]
struct Out {
    actions: Vec<RequestedAction>,
    notices: Vec<Notice>,
    wipe: Option<RequestedAction>,
    alerts: Vec<ComplianceAlert>,
}

impl Out {
    fn push(&mut self, action: Action, route: Route, rule: Option<RuleId>) {
        self.actions.push(RequestedAction {
            action,
            route,
            rule,
        });
    }

    fn finish(mut self) -> (Vec<RequestedAction>, Vec<ComplianceAlert>) {
        if !self.notices.is_empty() {
            self.actions.push(RequestedAction {
                action: Action::NotifyUser {
                    notices: self.notices,
                },
                route: Route::Agent,
                rule: None,
            });
        }
        self.actions.extend(self.wipe);
        (self.actions, self.alerts)
    }
}

/// The compliance engine's state machine; see the module documentation.
///
/// ```
/// use portcullis_core::compliance::{ComplianceEngine, DeviceSnapshot, PreparedPolicy};
/// # let policy = portcullis_core::policy::Policy::from_json(
/// #     &std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/baseline.json")).unwrap())?;
/// # let now = portcullis_core::Timestamp::from_unix_millis(1_772_323_200_000);
/// let prepared = PreparedPolicy::new(&policy); // once per applied policy
/// let mut engine = ComplianceEngine::new();    // or ComplianceEngine::from_json(&saved)?
/// let snapshot = DeviceSnapshot::from_json(br#"{"schema": "portcullis/snapshot/v1",
///     "platform": "android", "deviceOwner": true, "os": {"apiLevel": 35}}"#)?;
/// let first = engine.evaluate(&prepared, &snapshot, now);
/// assert!(!first.is_compliant());            // most settings were not observed
/// let again = engine.evaluate(&prepared, &snapshot, now);
/// assert!(again.new_actions.is_empty() && again.new_alerts.is_empty());
/// let saved = engine.to_json();               // persist; wake up at engine.next_deadline()
/// # Ok::<(), portcullis_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ComplianceEngine {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capabilities: Option<Capabilities>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    issues: BTreeMap<RuleId, Issue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    ladders: BTreeMap<SettingName, Ladder>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    in_force: BTreeSet<Measure>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    reported: BTreeSet<Measure>,
}

impl Default for ComplianceEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl ComplianceEngine {
    /// A fresh engine: nothing open, nothing in force.
    pub fn new() -> Self {
        ComplianceEngine {
            version: ENGINE_STATE_VERSION,
            last_seen: None,
            capabilities: None,
            issues: BTreeMap::new(),
            ladders: BTreeMap::new(),
            in_force: BTreeSet::new(),
            reported: BTreeSet::new(),
        }
    }

    /// The state as JSON, for the agent to persist (deterministic: equal states give equal text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the engine state always serialises")
    }

    /// Restores a state saved with [`ComplianceEngine::to_json`].
    pub fn from_json(json: &str) -> Result<Self> {
        let engine: ComplianceEngine = crate::json::from_str(json).map_err(|e| {
            Error::Corrupt(format!(
                "compliance state does not parse (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if engine.version != ENGINE_STATE_VERSION {
            return Err(Error::Corrupt(format!(
                "compliance state version {} is not {ENGINE_STATE_VERSION}",
                engine.version
            )));
        }
        Ok(engine)
    }

    /// Evaluates a snapshot at `now` (clamped to the latest time already seen): ladder
    /// steps that came due before `now` are taken first, as if the platform had woken
    /// the agent on time; then the snapshot's verdicts are diffed against the open
    /// rules, the ladders started or reset, and the measures in force reconciled.
    pub fn evaluate(
        &mut self,
        policy: &PreparedPolicy,
        snapshot: &DeviceSnapshot,
        now: Timestamp,
    ) -> Evaluation {
        let now = self.clamp(now);
        let caps = Capabilities::of(snapshot);
        self.capabilities = Some(caps);
        let mut out = Out::default();
        self.fire_deadlines(now, &mut out);
        let (verdicts, sorted) = evaluate_rules_ordered(policy, snapshot, now);
        let apps = Apps {
            apps: snapshot.apps.as_deref(),
            sorted,
        };
        let counting = self.update_issues(policy, snapshot, &apps, &verdicts, caps, now, &mut out);
        self.update_ladders(policy, counting, now, &mut out);
        self.fire_deadlines(now, &mut out);
        self.sync_measures(policy, snapshot, &apps, caps, &mut out);
        let (new_actions, new_alerts) = out.finish();
        Evaluation {
            at: now,
            verdicts,
            new_actions,
            new_alerts,
        }
    }

    /// Lets time pass to `now` without a new snapshot: takes the ladder steps that came due.
    pub fn tick(&mut self, now: Timestamp) -> Escalation {
        let now = self.clamp(now);
        let mut out = Out::default();
        self.fire_deadlines(now, &mut out);
        let (new_actions, new_alerts) = out.finish();
        Escalation {
            new_actions,
            new_alerts,
        }
    }

    /// When the next ladder step comes due, if any: the agent asks to be woken then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.ladders
            .values()
            .filter_map(Ladder::next_deadline)
            .min()
    }

    /// The open rules (non-compliant or unknown).
    pub fn issues(&self) -> &BTreeMap<RuleId, Issue> {
        &self.issues
    }

    /// The running ladders, per section.
    pub fn ladders(&self) -> &BTreeMap<SettingName, Ladder> {
        &self.ladders
    }

    /// Whether the ladder's block step is in force.
    pub fn is_blocked(&self) -> bool {
        self.ladders.values().any(|l| l.blocked)
    }

    /// Every measure the engine asked for and has not lifted, with its route: the
    /// native layer re-applies the agent's ones after a restart or a failed call.
    pub fn measures_in_force(&self) -> impl Iterator<Item = (&Measure, Route)> {
        let caps = self.caps();
        self.in_force
            .iter()
            .map(|m| (m, Route::Agent))
            .chain(self.reported.iter().map(move |m| {
                let route = match caps.route_measure(m) {
                    Route::Agent => Route::Mdm,
                    other => other,
                };
                (m, route)
            }))
    }

    /// The latest time seen.
    pub fn last_seen(&self) -> Option<Timestamp> {
        self.last_seen
    }

    fn clamp(&mut self, now: Timestamp) -> Timestamp {
        let now = self.last_seen.map_or(now, |seen| seen.max(now));
        self.last_seen = Some(now);
        now
    }

    /// What the last snapshot showed the agent can do, if a snapshot was judged.
    pub fn capabilities(&self) -> Option<Capabilities> {
        self.capabilities
    }

    fn caps(&self) -> Capabilities {
        self.capabilities
            .unwrap_or(Capabilities::android_companion([], None))
    }

    fn fire_deadlines(&mut self, now: Timestamp, out: &mut Out) {
        let caps = self.caps();
        let mut newly_blocked = false;
        for (&section, ladder) in &mut self.ladders {
            if !ladder.blocked && ladder.block_at().is_some_and(|at| at <= now) {
                ladder.blocked = true;
                newly_blocked = true;
                out.alerts.push(rung_alert(
                    now,
                    AlertKind::ComplianceBlocked,
                    section,
                    ladder,
                ));
            }
            if !ladder.wipe_requested && ladder.wipe_at().is_some_and(|at| at <= now) {
                ladder.wipe_requested = true;
                out.alerts
                    .push(rung_alert(now, AlertKind::ComplianceWipe, section, ladder));
                if out.wipe.is_none() {
                    out.wipe = Some(RequestedAction {
                        action: Action::WipeDevice {
                            preserve_frp: ladder.rule.preserve_frp,
                        },
                        route: caps.route_owner_power(),
                        rule: None,
                    });
                }
            }
        }
        if newly_blocked {
            let measure = Measure::AccessBlocked;
            let route = caps.route_measure(&measure);
            let set = if route.is_agent() {
                &mut self.in_force
            } else {
                &mut self.reported
            };
            if set.insert(measure.clone()) {
                out.push(Action::Apply { measure }, route, None);
                out.push(Action::LockDevice, caps.route_owner_power(), None);
            }
        }
    }

    /// Diffs the verdicts against the open issues; returns whether each section has a
    /// counting issue. Only open rules are looked up, so a healthy device costs a scan.
    #[allow(clippy::too_many_arguments)]
    fn update_issues(
        &mut self,
        policy: &PreparedPolicy,
        snapshot: &DeviceSnapshot,
        apps: &Apps<'_>,
        verdicts: &[Verdict],
        caps: Capabilities,
        now: Timestamp,
        out: &mut Out,
    ) -> [bool; 3] {
        debug_assert!(verdicts.is_sorted_by(|a, b| a.rule < b.rule));
        let agent = snapshot.agent.as_ref().map(|a| a.package_name.as_str());
        let roles = snapshot.package_roles.as_ref();
        let mut old = std::mem::take(&mut self.issues);
        let first_alert = out.alerts.len();
        let mut open: Vec<(RuleId, Issue)> = Vec::new();
        for v in verdicts {
            if v.status.is_open() {
                let prev = if old.is_empty() {
                    None
                } else {
                    old.remove(&v.rule)
                };
                let issue = self.open_issue(
                    policy,
                    snapshot,
                    apps,
                    v,
                    prev,
                    caps,
                    (agent, roles),
                    now,
                    out,
                );
                open.push((v.rule.clone(), issue));
            }
        }
        // What remains was open and is not any more, unless it is an app issue while the
        // inventory cannot be observed: those stay as they are.
        for (rule, issue) in old {
            if rule.app().is_some() && snapshot.apps.is_none() {
                open.push((rule, issue));
                continue;
            }
            let now_status = verdicts
                .binary_search_by(|v| v.rule.cmp(&rule))
                .ok()
                .map(|i| verdicts[i].status);
            out.alerts
                .push(restored_alert(now, &rule, &issue, now_status));
        }
        crate::sort::sort_by(&mut out.alerts[first_alert..], |a, b| a.rule.cmp(&b.rule));
        let mut counting = [false; 3];
        for (rule, issue) in &open {
            if issue.counts {
                let i = SECTIONS
                    .iter()
                    .position(|s| *s == rule.section())
                    .expect("every rule belongs to a laddered section");
                counting[i] = true;
            }
        }
        self.issues = open.into_iter().collect();
        counting
    }

    #[allow(clippy::too_many_arguments)]
    fn open_issue(
        &self,
        policy: &PreparedPolicy,
        snapshot: &DeviceSnapshot,
        apps: &Apps<'_>,
        v: &Verdict,
        prev: Option<Issue>,
        caps: Capabilities,
        (agent, roles): (Option<&str>, Option<&PackageRoles>),
        now: Timestamp,
        out: &mut Out,
    ) -> Issue {
        let broken = v.status == Status::NonCompliant;
        let counts = v.enforcement.counts() && (broken || prev.as_ref().is_some_and(|p| p.counts));
        let measure = match v.rule.app() {
            Some(id)
                if broken
                    && v.enforcement == Enforcement::SuspendApp
                    && v.reasons != Reasons::of(Reason::AppNotInstalled)
                    && !is_critical(id, roles, agent) =>
            {
                let package = id.to_owned();
                Some(if apps.get(id).is_some_and(|a| a.system) {
                    Measure::PackageHidden { package }
                } else {
                    Measure::PackageSuspended { package }
                })
            }
            _ if !broken && counts => prev.as_ref().and_then(|p| p.measure.clone()),
            _ => None,
        };
        let changed = prev.as_ref().is_none_or(|p| {
            p.status != v.status
                || p.reasons != v.reasons
                || p.unobserved != v.unobserved
                || p.enforcement != v.enforcement
        });
        if changed {
            out.alerts.push(open_alert(now, v));
            let newly_broken = broken
                && prev.as_ref().is_none_or(|p| {
                    p.status != Status::NonCompliant || !v.reasons.is_subset(p.reasons)
                });
            if newly_broken && v.enforcement.counts() {
                out.notices.push(Notice {
                    rule: v.rule.clone(),
                    reasons: v.reasons,
                });
                if let RuleId::Setting(rule) = v.rule {
                    // Enforced already, yet broken: apply the measures again.
                    for m in setting_measures(policy, rule, agent) {
                        if self.in_force.contains(&m) {
                            out.push(
                                Action::Apply { measure: m },
                                Route::Agent,
                                Some(v.rule.clone()),
                            );
                        }
                    }
                    if rule == SettingRule::UserInstalledCaCerts {
                        let allowed = &policy
                            .config
                            .user_installed_ca_certs
                            .allowed_fingerprints_sha256;
                        let certs = snapshot.settings.user_ca_certs_sha256.iter().flatten();
                        let mut unwanted: Vec<_> =
                            certs.filter(|c| !allowed.contains(c)).copied().collect();
                        crate::sort::sort(&mut unwanted);
                        unwanted.dedup();
                        for sha256 in unwanted {
                            let action = Action::RemoveCaCert { sha256 };
                            let route = caps.route_action(&action);
                            out.push(action, route, Some(v.rule.clone()));
                        }
                    }
                }
            }
        }
        Issue {
            status: v.status,
            reasons: v.reasons,
            unobserved: v.unobserved,
            enforcement: v.enforcement,
            since: prev.as_ref().map_or(now, |p| p.since),
            counts,
            measure,
        }
    }

    fn update_ladders(
        &mut self,
        policy: &PreparedPolicy,
        counting: [bool; 3],
        now: Timestamp,
        out: &mut Out,
    ) {
        for (i, section) in SECTIONS.into_iter().enumerate() {
            let rule = policy.ladder(section);
            if counting[i] {
                let ladder = self.ladders.entry(section).or_insert(Ladder {
                    since: now,
                    rule,
                    blocked: false,
                    wipe_requested: false,
                });
                ladder.rule = rule;
                if ladder.blocked && ladder.block_at().is_none_or(|at| at > now) {
                    // The policy no longer blocks this soon.
                    ladder.blocked = false;
                    out.alerts.push(ladder_alert(
                        now,
                        AlertKind::ComplianceUnblocked,
                        section,
                        format!(
                            "{}: the policy no longer blocks access",
                            section_name(section)
                        ),
                        ladder,
                    ));
                }
            } else if let Some(ladder) = self.ladders.remove(&section) {
                if ladder.blocked {
                    out.alerts.push(ladder_alert(
                        now,
                        AlertKind::ComplianceUnblocked,
                        section,
                        format!("{} complies again: access restored", section_name(section)),
                        &ladder,
                    ));
                }
            }
        }
    }

    /// Reconciles the measures in force with those the policy, the open issues and the
    /// ladders call for, emitting only the differences.
    fn sync_measures(
        &mut self,
        policy: &PreparedPolicy,
        snapshot: &DeviceSnapshot,
        apps: &Apps<'_>,
        caps: Capabilities,
        out: &mut Out,
    ) {
        let agent = snapshot.agent.as_ref().map(|a| a.package_name.as_str());
        let mut desired: BTreeMap<Measure, (Route, Option<RuleId>)> = BTreeMap::new();
        if caps.platform == Platform::Android {
            for &rule in SettingRule::ALL {
                if rule != SettingRule::AgentUninstallBlocked
                    && !policy.config_enforcement().counts()
                {
                    continue;
                }
                for m in setting_measures(policy, rule, agent) {
                    // What the agent can do, it does. A device owner also reports what no
                    // one can (an OS too old); a companion leaves the rest to the EMM's
                    // own policy, which carries the same settings.
                    let route = caps.route_measure(&m);
                    let wanted = match route {
                        Route::Agent => true,
                        Route::NotPossible(_) => caps.is_device_owner(),
                        Route::Mdm => false,
                    };
                    if wanted {
                        desired
                            .entry(m)
                            .or_insert((route, Some(RuleId::Setting(rule))));
                    }
                }
            }
        }
        for (rule, issue) in &self.issues {
            if let (true, Some(m)) = (issue.counts, &issue.measure) {
                desired
                    .entry(m.clone())
                    .or_insert((caps.route_measure(m), Some(rule.clone())));
            }
        }
        if self.is_blocked() {
            desired.insert(
                Measure::AccessBlocked,
                (caps.route_measure(&Measure::AccessBlocked), None),
            );
        }
        let gone = |m: &Measure| {
            m.package()
                .is_some_and(|p| apps.apps.is_some() && apps.get(p).is_none())
        };
        // Two sets: what the agent keeps in force, and what it reported to the MDM or as
        // not possible here.
        for by_agent in [true, false] {
            let set = if by_agent {
                &mut self.in_force
            } else {
                &mut self.reported
            };
            let lifted: Vec<Measure> = set
                .iter()
                .filter(|m| desired.get(*m).map(|d| d.0.is_agent()) != Some(by_agent))
                .cloned()
                .collect();
            for m in lifted {
                set.remove(&m);
                let replaced = desired
                    .iter()
                    .any(|(d, (r, _))| r.is_agent() == by_agent && d.same_slot(&m));
                // Reported before, and the agent's own now (an OS update, a new scope):
                // it moves to the agent, nothing is lifted.
                let moved_to_agent = !by_agent && desired.get(&m).is_some_and(|d| d.0.is_agent());
                if !replaced && !moved_to_agent && !gone(&m) {
                    let route = match (by_agent, caps.route_measure(&m)) {
                        (true, _) => Route::Agent,
                        // Reported before and now the agent's: the MDM lifts its own.
                        (false, Route::Agent) => Route::Mdm,
                        (false, other) => other,
                    };
                    out.push(Action::Lift { measure: m }, route, None);
                }
            }
        }
        for (m, (route, rule)) in desired {
            let set = if route.is_agent() {
                &mut self.in_force
            } else {
                &mut self.reported
            };
            if !set.contains(&m) {
                set.insert(m.clone());
                out.push(Action::Apply { measure: m }, route, rule);
            }
        }
    }
}

/// The snapshot's apps, looked up by binary search when they came sorted.
struct Apps<'a> {
    apps: Option<&'a [InstalledApp]>,
    sorted: bool,
}

impl<'a> Apps<'a> {
    fn get(&self, id: &str) -> Option<&'a InstalledApp> {
        let apps = self.apps?;
        if self.sorted {
            apps.binary_search_by(|a| (*a.id).cmp(id))
                .ok()
                .map(|i| &apps[i])
        } else {
            apps.iter().find(|a| &*a.id == id)
        }
    }
}

fn open_alert(at: Timestamp, v: &Verdict) -> ComplianceAlert {
    let mut evidence = vec![("rule".to_owned(), v.rule.to_string())];
    let (kind, severity, summary) = if v.status == Status::NonCompliant {
        evidence.push(("reasons".to_owned(), v.reasons.joined()));
        let severity = v
            .reasons
            .iter()
            .map(Reason::severity)
            .max()
            .unwrap_or(Severity::Medium);
        (
            AlertKind::ComplianceViolation,
            severity,
            format!("{} is not compliant: {}", v.rule, v.reasons.joined()),
        )
    } else {
        evidence.push(("unobserved".to_owned(), v.unobserved.joined()));
        (
            AlertKind::ComplianceUnobservable,
            if v.enforcement.counts() {
                Severity::Medium
            } else {
                Severity::Low
            },
            format!(
                "{} cannot be checked: the device did not report {}",
                v.rule,
                v.unobserved.joined()
            ),
        )
    };
    evidence.push(("enforcement".to_owned(), v.enforcement.as_str().to_owned()));
    let summary = if v.hint {
        evidence.push(("basis".to_owned(), "agent_hint".to_owned()));
        format!("{summary} (hint from the phone's own report; the console's attestation check is the one that counts)")
    } else {
        summary
    };
    ComplianceAlert {
        at,
        kind,
        severity,
        section: v.rule.section(),
        rule: Some(v.rule.clone()),
        summary,
        evidence,
    }
}

fn restored_alert(
    at: Timestamp,
    rule: &RuleId,
    issue: &Issue,
    now_status: Option<Status>,
) -> ComplianceAlert {
    let how = match now_status {
        Some(Status::Compliant) => "complies again",
        _ if rule.app().is_some() && issue.reasons != Reasons::of(Reason::AppNotInstalled) => {
            "is no longer installed"
        }
        Some(_) | None => "no longer applies",
    };
    ComplianceAlert {
        at,
        kind: AlertKind::ComplianceRestored,
        severity: Severity::Info,
        section: rule.section(),
        rule: Some(rule.clone()),
        summary: format!("{rule} {how}"),
        evidence: vec![
            ("rule".to_owned(), rule.to_string()),
            ("open_since".to_owned(), issue.since.to_string()),
        ],
    }
}

/// The alert of a ladder rung reached: access blocked, or a wipe requested.
fn rung_alert(
    at: Timestamp,
    kind: AlertKind,
    section: SettingName,
    ladder: &Ladder,
) -> ComplianceAlert {
    let (days, outcome) = match kind {
        AlertKind::ComplianceWipe => (ladder.rule.wipe_after_days, "wipe requested"),
        _ => (ladder.rule.block_after_days, "access blocked"),
    };
    let summary = format!(
        "{} non-compliant for {} day(s): {outcome}",
        section_name(section),
        days.unwrap_or(0)
    );
    ladder_alert(at, kind, section, summary, ladder)
}

fn ladder_alert(
    at: Timestamp,
    kind: AlertKind,
    section: SettingName,
    summary: String,
    ladder: &Ladder,
) -> ComplianceAlert {
    let severity = match kind {
        AlertKind::ComplianceWipe => Severity::Critical,
        AlertKind::ComplianceBlocked => Severity::High,
        _ => Severity::Info,
    };
    ComplianceAlert {
        at,
        kind,
        severity,
        section,
        rule: None,
        summary,
        evidence: vec![
            ("section".to_owned(), section_name(section).to_owned()),
            ("non_compliant_since".to_owned(), ladder.since.to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rung_alert_names_the_section_its_days_and_what_was_done() {
        let ladder = Ladder {
            since: Timestamp::from_unix_millis(1_772_323_200_000),
            rule: LadderRule {
                block_after_days: Some(3),
                wipe_after_days: Some(10),
                preserve_frp: false,
            },
            blocked: false,
            wipe_requested: false,
        };
        let at = ladder.since.plus_millis(10 * DAY_MS);
        let blocked = rung_alert(at, AlertKind::ComplianceBlocked, SettingName::Sim, &ladder);
        assert_eq!(
            blocked.summary,
            "sim non-compliant for 3 day(s): access blocked"
        );
        assert_eq!(blocked.severity, Severity::High);
        let wipe = rung_alert(at, AlertKind::ComplianceWipe, SettingName::Apps, &ladder);
        assert_eq!(
            wipe.summary,
            "apps non-compliant for 10 day(s): wipe requested"
        );
        assert_eq!(wipe.severity, Severity::Critical);
        assert!(wipe
            .evidence
            .contains(&("non_compliant_since".into(), ladder.since.to_string())));
    }
}
