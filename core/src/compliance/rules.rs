//! The rules of a policy prepared for fast evaluation, and the pure evaluation of a
//! snapshot against them: one [`Verdict`] per rule, no state, no clock.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use super::codes::{Code, Fact, Facts, Reason, Reasons, RuleId, SettingRule};
use super::snapshot::{parse_date, DeviceSnapshot, InstalledApp, Platform};
use crate::policy::model::{
    AppMode, AppViolationAction, CellularTwoGState, ConfigurationRules, DeveloperSettings,
    DeviceIntegrityRules, EncryptionPolicy, GooglePlayProtectVerifyApps, InstallType,
    PolicyEnforcementRule, SettingName, UntrustedAppsPolicy, UsbDataAccess,
    UserInitiatedAddEsimSettings, ViolationAction,
};
use crate::policy::Policy;
use crate::time::Timestamp;

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// The rule is met.
    Compliant,
    /// The rule does not concern this device (not set by the policy, or another platform's).
    NotApplicable,
    /// The platform did not observe what the rule needs; never counted as compliant.
    Unknown,
    /// The rule is broken; the verdict's `reasons` say how.
    NonCompliant,
}

impl Status {
    /// Whether the rule needs attention (non-compliant or unknown).
    pub fn is_open(self) -> bool {
        matches!(self, Status::NonCompliant | Status::Unknown)
    }

    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Compliant => "COMPLIANT",
            Status::NotApplicable => "NOT_APPLICABLE",
            Status::Unknown => "UNKNOWN",
            Status::NonCompliant => "NON_COMPLIANT",
        }
    }
}

/// What the policy asks for when a rule is broken (`onViolation`, per app or section;
/// `AUDIT` mode makes every app rule `REPORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Enforcement {
    /// Alert the console only; the device stays compliant and nothing on it is changed.
    Report,
    /// Alert, notify the staff member, enforce the setting, and run the section's escalation ladder.
    MarkNonCompliant,
    /// As `MARK_NON_COMPLIANT`, and suspend (or, for system apps, hide) the app.
    SuspendApp,
}

impl Enforcement {
    /// Whether a violation makes the device non-compliant (and runs the ladder).
    pub fn counts(self) -> bool {
        self >= Enforcement::MarkNonCompliant
    }

    /// The stable text form (the policy's `onViolation` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcement::Report => "REPORT",
            Enforcement::MarkNonCompliant => "MARK_NON_COMPLIANT",
            Enforcement::SuspendApp => "SUSPEND_APP",
        }
    }
}

impl From<AppViolationAction> for Enforcement {
    fn from(a: AppViolationAction) -> Self {
        match a {
            AppViolationAction::Report => Enforcement::Report,
            AppViolationAction::MarkNonCompliant => Enforcement::MarkNonCompliant,
            AppViolationAction::SuspendApp => Enforcement::SuspendApp,
        }
    }
}

impl From<ViolationAction> for Enforcement {
    fn from(a: ViolationAction) -> Self {
        match a {
            ViolationAction::Report => Enforcement::Report,
            ViolationAction::MarkNonCompliant => Enforcement::MarkNonCompliant,
        }
    }
}

/// The judgement of one rule on one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// The rule judged.
    pub rule: RuleId,
    /// Its outcome.
    pub status: Status,
    /// Why it is non-compliant (empty otherwise).
    #[serde(default, skip_serializing_if = "Reasons::is_empty")]
    pub reasons: Reasons,
    /// What the platform did not observe; for `UNKNOWN`, why the rule could not be judged.
    #[serde(default, skip_serializing_if = "Facts::is_empty")]
    pub unobserved: Facts,
    /// What the policy asks for when this rule is broken.
    pub enforcement: Enforcement,
    /// Judged by the agent on what the phone reports of itself (a device-integrity
    /// hint): informational only, never counted; the console's judgement counts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hint: bool,
}

impl Verdict {
    pub(crate) fn new(
        rule: RuleId,
        reasons: Reasons,
        unobserved: Facts,
        enforcement: Enforcement,
    ) -> Self {
        let status = if !reasons.is_empty() {
            Status::NonCompliant
        } else if !unobserved.is_empty() {
            Status::Unknown
        } else {
            Status::Compliant
        };
        Verdict {
            rule,
            status,
            reasons,
            unobserved,
            enforcement,
            hint: false,
        }
    }

    fn not_applicable(rule: RuleId, enforcement: Enforcement) -> Self {
        Verdict {
            rule,
            status: Status::NotApplicable,
            reasons: Reasons::EMPTY,
            unobserved: Facts::EMPTY,
            enforcement,
            hint: false,
        }
    }
}

/// The escalation ladder of one section, as the engine keeps it (AMAPI `policyEnforcementRules`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LadderRule {
    /// Days of non-compliance before access is blocked; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_after_days: Option<u32>,
    /// Days of non-compliance before the device is wiped; absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe_after_days: Option<u32>,
    /// Whether factory-reset protection survives the wipe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_frp: bool,
}

impl From<&PolicyEnforcementRule> for LadderRule {
    fn from(rule: &PolicyEnforcementRule) -> Self {
        LadderRule {
            block_after_days: rule.block_action.as_ref().map(|b| b.block_after_days),
            wipe_after_days: rule.wipe_action.as_ref().map(|w| w.wipe_after_days),
            preserve_frp: rule.wipe_action.as_ref().is_some_and(|w| w.preserve_frp),
        }
    }
}

#[derive(Debug)]
struct AppEntry {
    id: Arc<str>,
    install_type: InstallType,
    certs: Box<[[u8; 32]]>,
    min_version: Option<u64>,
    installers: Option<Box<[Box<str>]>>,
    enforcement: Enforcement,
    /// Position among the platform's `FORCE_INSTALLED` rules, if it is one.
    forced: Option<u32>,
}

#[derive(Debug, Default)]
struct AppIndex {
    by_id: HashMap<Arc<str>, u32, FxBuildHasher>,
    entries: Vec<AppEntry>,
    /// `FORCE_INSTALLED` rules, by entry index, sorted by id.
    forced: Vec<u32>,
}

/// A policy prepared for evaluation: app rules indexed by id, dates and versions parsed.
///
/// Preparing a 10,000-rule allowlist takes about a millisecond; evaluating a snapshot
/// against the prepared rules, microseconds. The agent prepares the policy once when
/// it is applied (or restored) and evaluates every snapshot against it.
#[derive(Debug)]
pub struct PreparedPolicy {
    name: String,
    mode: AppMode,
    app_enforcement: Enforcement,
    config_enforcement: Enforcement,
    installers: Box<[Box<str>]>,
    android: AppIndex,
    ios: AppIndex,
    pub(crate) config: ConfigurationRules,
    min_patch: Option<crate::time::Date>,
    min_ios: Option<[u16; 3]>,
    ladders: [LadderRule; 3],
    integrity: DeviceIntegrityRules,
}

impl PreparedPolicy {
    /// Prepares a (validated) policy.
    pub fn new(policy: &Policy) -> Self {
        let apps = &policy.apps;
        let app_enforcement = if apps.mode == AppMode::Audit {
            Enforcement::Report
        } else {
            apps.on_violation.into()
        };
        let mut android = AppIndex::default();
        let mut ios = AppIndex::default();
        for rule in &apps.applications {
            let (index, id) = match (&rule.package_name, &rule.bundle_id) {
                (Some(p), _) => (&mut android, p),
                (None, Some(b)) => (&mut ios, b),
                (None, None) => continue,
            };
            let id: Arc<str> = Arc::from(id.as_str());
            let enforcement = if apps.mode == AppMode::Audit {
                Enforcement::Report
            } else {
                rule.on_violation.map_or(app_enforcement, Enforcement::from)
            };
            let at = index.entries.len() as u32;
            if index.by_id.insert(id.clone(), at).is_some() {
                continue; // validation refuses duplicates; keep the first if it was skipped
            }
            index.entries.push(AppEntry {
                id,
                install_type: rule.install_type,
                certs: rule
                    .signing_key_certs
                    .iter()
                    .map(|c| c.signing_key_cert_fingerprint_sha256.0)
                    .collect(),
                min_version: rule.minimum_version_code,
                installers: rule
                    .allowed_installers
                    .as_ref()
                    .map(|list| list.iter().map(|s| s.as_str().into()).collect()),
                enforcement,
                forced: None,
            });
        }
        for index in [&mut android, &mut ios] {
            let mut forced: Vec<u32> = (0..index.entries.len() as u32)
                .filter(|&i| index.entries[i as usize].install_type.required())
                .collect();
            crate::sort::sort_by(&mut forced, |&a, &b| {
                index.entries[a as usize]
                    .id
                    .cmp(&index.entries[b as usize].id)
            });
            for (slot, &i) in forced.iter().enumerate() {
                index.entries[i as usize].forced = Some(slot as u32);
            }
            index.forced = forced;
        }
        let c = &policy.configuration;
        let ladder = |section| {
            policy
                .policy_enforcement_rules
                .iter()
                .find(|r| r.setting_name == section)
                .map(LadderRule::from)
                .unwrap_or_default()
        };
        PreparedPolicy {
            name: policy.name.clone(),
            mode: apps.mode,
            app_enforcement,
            config_enforcement: c.on_violation.into(),
            installers: apps
                .allowed_installers
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
            android,
            ios,
            config: c.clone(),
            min_patch: c
                .minimum_security_patch_level
                .as_deref()
                .and_then(parse_date),
            min_ios: c.minimum_ios_version.as_deref().and_then(parse_version),
            ladders: [
                ladder(SettingName::Apps),
                ladder(SettingName::Configuration),
                ladder(SettingName::DeviceIntegrity),
            ],
            integrity: policy.device_integrity.clone(),
        }
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The escalation ladder of a section (`apps` or `configuration`); notify-only when the policy has none.
    pub fn ladder(&self, section: SettingName) -> LadderRule {
        match section {
            SettingName::Apps => self.ladders[0],
            SettingName::Configuration => self.ladders[1],
            SettingName::DeviceIntegrity => self.ladders[2],
            _ => LadderRule::default(),
        }
    }

    /// What the policy asks for when a configuration rule is broken.
    pub fn config_enforcement(&self) -> Enforcement {
        self.config_enforcement
    }

    /// Number of app rules per platform (Android, iOS).
    pub fn app_rule_counts(&self) -> (usize, usize) {
        (self.android.entries.len(), self.ios.entries.len())
    }

    fn index(&self, platform: Platform) -> &AppIndex {
        match platform {
            Platform::Android => &self.android,
            Platform::Ios => &self.ios,
        }
    }

    /// Whether any app rule concerns `platform` (an allowlist always does).
    fn has_app_rules(&self, platform: Platform) -> bool {
        self.mode != AppMode::Blocklist
            || !self.index(platform).entries.is_empty()
            || (platform == Platform::Android && !self.installers.is_empty())
    }
}

impl From<&Policy> for PreparedPolicy {
    fn from(policy: &Policy) -> Self {
        PreparedPolicy::new(policy)
    }
}

/// Parses a dotted version of one to three numbers (`18`, `17.6`, `18.3.1`).
pub(crate) fn parse_version(text: &str) -> Option<[u16; 3]> {
    let mut out = [0u16; 3];
    let mut parts = text.split('.');
    for slot in &mut out {
        match parts.next() {
            Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
                *slot = p.parse().ok()?;
            }
            Some(_) => return None,
            None => break,
        }
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// Evaluates a snapshot against a prepared policy at `now`: the pure heart of compliance.
///
/// Verdicts come in [`RuleId`] order: the app inventory; one per installed app and per
/// missing `FORCE_INSTALLED` app, by id; then every configuration rule. An
/// `AVAILABLE` or `BLOCKED` rule whose app is not installed has nothing to judge and
/// yields no verdict. The result does not depend on the order of the snapshot's apps.
pub fn evaluate_rules(
    policy: &PreparedPolicy,
    snapshot: &DeviceSnapshot,
    now: Timestamp,
) -> Vec<Verdict> {
    evaluate_rules_ordered(policy, snapshot, now).0
}

/// [`evaluate_rules`], also saying whether the snapshot's apps were strictly sorted
/// by id (as `from_json` leaves them), so callers can binary-search them.
pub(crate) fn evaluate_rules_ordered(
    policy: &PreparedPolicy,
    snapshot: &DeviceSnapshot,
    now: Timestamp,
) -> (Vec<Verdict>, bool) {
    let app_count = snapshot.apps.as_ref().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(app_count + 8 + SettingRule::ALL.len());
    let sorted = evaluate_apps(policy, snapshot, &mut out);
    let today = crate::time::Date::of(now);
    for &rule in SettingRule::ALL {
        out.push(evaluate_setting(policy, snapshot, rule, today));
    }
    super::integrity::evaluate_integrity(
        &policy.integrity,
        &snapshot.integrity_input,
        snapshot.integrity_hint.as_ref(),
        now,
        &mut out,
    );
    (out, sorted)
}

/// Pushes the app verdicts in id order; returns whether the apps came strictly sorted.
fn evaluate_apps(
    policy: &PreparedPolicy,
    snapshot: &DeviceSnapshot,
    out: &mut Vec<Verdict>,
) -> bool {
    let platform = snapshot.platform;
    let Some(apps) = &snapshot.apps else {
        out.push(if policy.has_app_rules(platform) {
            Verdict::new(
                RuleId::AppInventory,
                Reasons::EMPTY,
                Facts::of(Fact::Apps),
                policy.app_enforcement,
            )
        } else {
            Verdict::not_applicable(RuleId::AppInventory, policy.app_enforcement)
        });
        return true;
    };
    out.push(Verdict::new(
        RuleId::AppInventory,
        Reasons::EMPTY,
        Facts::EMPTY,
        policy.app_enforcement,
    ));
    let index = policy.index(platform);
    let mut present = vec![false; index.forced.len()];
    let start = out.len();
    for app in apps {
        let entry = index
            .by_id
            .get(&*app.id)
            .map(|&i| &index.entries[i as usize]);
        if let Some(slot) = entry.and_then(|e| e.forced) {
            present[slot as usize] = true;
        }
        out.push(judge_app(policy, platform, app, entry));
    }
    // Strictly sorted: in order and no app twice (what `from_json` guarantees).
    let sorted = out[start..].is_sorted_by(|a, b| a.rule < b.rule);
    if !sorted {
        crate::sort::sort_by(&mut out[start..], |a, b| a.rule.cmp(&b.rule));
        // A snapshot built in code may list an app twice: merge, whatever the order.
        if out[start..].windows(2).any(|w| w[0].rule == w[1].rule) {
            let mut merged: Vec<Verdict> = Vec::with_capacity(out.len() - start);
            for v in out.drain(start..) {
                match merged.last_mut() {
                    Some(last) if last.rule == v.rule => {
                        let reasons = last.reasons.union(v.reasons);
                        let unobserved = last.unobserved.union(v.unobserved);
                        let enforcement = last.enforcement.max(v.enforcement);
                        *last = Verdict::new(v.rule, reasons, unobserved, enforcement);
                    }
                    _ => merged.push(v),
                }
            }
            out.extend(merged);
        }
    }
    // Missing `FORCE_INSTALLED` apps, each in its place (few; no full sort).
    for (slot, &i) in index.forced.iter().enumerate() {
        if !present[slot] {
            let entry = &index.entries[i as usize];
            let rule = RuleId::App(entry.id.clone());
            let at = start + out[start..].partition_point(|v| v.rule < rule);
            out.insert(
                at,
                Verdict::new(
                    rule,
                    Reasons::of(Reason::AppNotInstalled),
                    Facts::EMPTY,
                    entry.enforcement,
                ),
            );
        }
    }
    sorted
}

fn judge_app(
    policy: &PreparedPolicy,
    platform: Platform,
    app: &InstalledApp,
    entry: Option<&AppEntry>,
) -> Verdict {
    let mut reasons = Reasons::EMPTY;
    let mut unobserved = Facts::EMPTY;
    let mut installers: &[Box<str>] = &policy.installers;
    let enforcement;
    match entry {
        Some(e) => {
            enforcement = e.enforcement;
            if e.install_type == InstallType::Blocked {
                reasons.insert(Reason::AppInstalled);
                installers = &[];
            } else {
                if !e.certs.is_empty() {
                    if app.signing_certs_sha256.is_empty() {
                        unobserved.insert(Fact::AppSigningCerts);
                    } else if !app
                        .signing_certs_sha256
                        .iter()
                        .any(|c| e.certs.contains(&c.0))
                    {
                        reasons.insert(Reason::AppSigningCertMismatch);
                    }
                }
                if let Some(min) = e.min_version {
                    match app.version_code {
                        None => unobserved.insert(Fact::AppVersionCode),
                        Some(v) if v < min => reasons.insert(Reason::AppNotUpdated),
                        Some(_) => {}
                    }
                }
                if let Some(own) = &e.installers {
                    installers = own;
                }
            }
        }
        None => {
            enforcement = policy.app_enforcement;
            if policy.mode != AppMode::Blocklist && !app.system {
                reasons.insert(Reason::AppNotInAllowlist);
            }
        }
    }
    if platform == Platform::Android && !app.system && !installers.is_empty() {
        match &app.install_source {
            None => unobserved.insert(Fact::AppInstallSource),
            Some(source) => {
                let ok = source
                    .installing_package_name
                    .as_deref()
                    .is_some_and(|p| installers.iter().any(|i| **i == *p));
                if !ok {
                    reasons.insert(Reason::InstallerNotAllowed);
                }
            }
        }
    }
    Verdict::new(
        RuleId::App(app.id.clone()),
        reasons,
        unobserved,
        enforcement,
    )
}

/// Judges one observed value: unknown when absent, else `ok` decides.
fn check<T>(
    value: Option<T>,
    fact: Fact,
    reason: Reason,
    ok: impl FnOnce(T) -> bool,
) -> (Reasons, Facts) {
    match value {
        None => (Reasons::EMPTY, Facts::of(fact)),
        Some(v) => {
            if ok(v) {
                (Reasons::EMPTY, Facts::EMPTY)
            } else {
                (Reasons::of(reason), Facts::EMPTY)
            }
        }
    }
}

fn evaluate_setting(
    policy: &PreparedPolicy,
    snapshot: &DeviceSnapshot,
    rule: SettingRule,
    today: Option<crate::time::Date>,
) -> Verdict {
    use SettingRule as R;
    let c = &policy.config;
    let os = &snapshot.os;
    let s = &snapshot.settings;
    let android = snapshot.platform == Platform::Android;
    let id = RuleId::Setting(rule);
    let enforcement = if rule == R::AgentUninstallBlocked {
        Enforcement::Report
    } else {
        policy.config_enforcement
    };
    let na = || Verdict::not_applicable(RuleId::Setting(rule), enforcement);
    let patch = || os.security_patch_level.as_deref().and_then(parse_date);
    let (reasons, unobserved) = match rule {
        R::MinimumApiLevel => match c.minimum_api_level {
            Some(min) if android => check(
                os.api_level,
                Fact::OsApiLevel,
                Reason::OsNotPermitted,
                |l| l >= min,
            ),
            _ => return na(),
        },
        R::MinimumIosVersion => match policy.min_ios {
            Some(min) if !android => check(
                os.version.as_deref().and_then(parse_version),
                Fact::OsVersion,
                Reason::OsNotPermitted,
                |v| v >= min,
            ),
            _ => return na(),
        },
        R::MinimumSecurityPatchLevel => match policy.min_patch {
            Some(min) if android => check(
                patch(),
                Fact::OsSecurityPatchLevel,
                Reason::SecurityPatchLevel,
                |d| d >= min,
            ),
            _ => return na(),
        },
        R::MaximumSecurityPatchAgeDays => match (c.maximum_security_patch_age_days, today) {
            (Some(days), Some(today)) if android => {
                let floor = today.minus_days(days);
                check(
                    patch(),
                    Fact::OsSecurityPatchLevel,
                    Reason::SecurityPatchLevel,
                    |d| d >= floor,
                )
            }
            _ => return na(),
        },
        R::PasswordQuality => match &c.password_requirements {
            Some(p) => check(
                s.password_complexity,
                Fact::PasswordComplexity,
                Reason::PasswordNotSufficient,
                |x| x.satisfies(p.password_quality),
            ),
            None => return na(),
        },
        R::MaximumFailedPasswordsForWipe => {
            match c
                .password_requirements
                .as_ref()
                .and_then(|p| p.maximum_failed_passwords_for_wipe)
            {
                Some(max) => check(
                    s.maximum_failed_passwords_for_wipe,
                    Fact::MaximumFailedPasswordsForWipe,
                    Reason::MaximumFailedPasswordsForWipe,
                    |n| n != 0 && n <= max,
                ),
                None => return na(),
            }
        }
        R::MaximumTimeToLock => match c.maximum_time_to_lock {
            Some(max) => check(
                s.maximum_time_to_lock,
                Fact::MaximumTimeToLock,
                Reason::MaximumTimeToLock,
                |ms| ms != 0 && ms <= max,
            ),
            None => return na(),
        },
        R::EncryptionPolicy => match c.encryption_policy {
            Some(policy) => check(
                s.encryption,
                Fact::Encryption,
                Reason::EncryptionPolicy,
                |e| {
                    use super::snapshot::EncryptionStatus as E;
                    match policy {
                        EncryptionPolicy::EnabledWithoutPassword => e != E::Unencrypted,
                        EncryptionPolicy::EnabledWithPassword => e == E::EncryptedWithPassword,
                    }
                },
            ),
            None => return na(),
        },
        R::UntrustedAppsPolicy => {
            if !android
                || c.advanced_security_overrides.untrusted_apps_policy
                    == UntrustedAppsPolicy::AllowInstallDeviceWide
            {
                return na();
            }
            check(
                s.unknown_sources_allowed,
                Fact::UnknownSourcesAllowed,
                Reason::UnknownSourcesAllowed,
                |on| !on,
            )
        }
        R::DeveloperSettings => {
            if !android
                || c.advanced_security_overrides.developer_settings
                    == DeveloperSettings::DeveloperSettingsAllowed
            {
                return na();
            }
            check(
                s.developer_options_enabled,
                Fact::DeveloperOptionsEnabled,
                Reason::DeveloperOptionsEnabled,
                |on| !on,
            )
        }
        R::GooglePlayProtectVerifyApps => {
            if !android
                || c.advanced_security_overrides
                    .google_play_protect_verify_apps
                    == GooglePlayProtectVerifyApps::VerifyAppsUserChoice
            {
                return na();
            }
            check(
                s.verify_apps_enabled,
                Fact::VerifyAppsEnabled,
                Reason::VerifyAppsDisabled,
                |on| on,
            )
        }
        R::DebuggingFeaturesAllowed => {
            if !android || c.debugging_features_allowed {
                return na();
            }
            let mut reasons = Reasons::EMPTY;
            let mut unobserved = Facts::EMPTY;
            for (value, fact) in [
                (s.usb_debugging_enabled, Fact::UsbDebuggingEnabled),
                (s.wireless_debugging_enabled, Fact::WirelessDebuggingEnabled),
            ] {
                match value {
                    Some(true) => reasons.insert(Reason::DebuggingEnabled),
                    Some(false) => {}
                    None => unobserved.insert(fact),
                }
            }
            (reasons, unobserved)
        }
        R::CellularTwoGState => {
            if c.device_radio_state.cellular_two_g_state
                == CellularTwoGState::CellularTwoGUserChoice
            {
                return na();
            }
            check(
                s.cellular_2g_enabled,
                Fact::Cellular2gEnabled,
                Reason::Cellular2gEnabled,
                |on| !on,
            )
        }
        R::MobileNetworksConfigDisabled => {
            if !android || !c.mobile_networks_config_disabled {
                return na();
            }
            check(
                s.mobile_networks_config_disabled,
                Fact::MobileNetworksConfigDisabled,
                Reason::MobileNetworksConfigAllowed,
                |locked| locked,
            )
        }
        R::UsbDataAccess => match &c.device_connectivity_management {
            Some(m) if android => check(
                s.usb_data_access,
                Fact::UsbDataAccess,
                Reason::UsbDataAccess,
                |observed| usb_rank(observed) >= usb_rank(m.usb_data_access),
            ),
            _ => return na(),
        },
        R::AlwaysOnVpnPackage => match &c.always_on_vpn_package {
            Some(want) if android => check(
                s.always_on_vpn.as_ref(),
                Fact::AlwaysOnVpn,
                Reason::AlwaysOnVpn,
                |v| {
                    v.package_name.as_deref() == Some(want.package_name.as_str())
                        && (v.lockdown_enabled || !want.lockdown_enabled)
                },
            ),
            _ => return na(),
        },
        R::UserInstalledCaCerts => {
            let rule = &c.user_installed_ca_certs;
            if rule.allowed {
                return na();
            }
            check(
                s.user_ca_certs_sha256.as_ref(),
                Fact::UserCaCerts,
                Reason::UserCaCertInstalled,
                |certs| {
                    certs
                        .iter()
                        .all(|c| rule.allowed_fingerprints_sha256.contains(c))
                },
            )
        }
        R::PermittedAccessibilityServices => match &c.permitted_accessibility_services {
            Some(list) if android => check(
                s.accessibility_services.as_ref(),
                Fact::AccessibilityServices,
                Reason::AccessibilityServiceNotPermitted,
                |services| {
                    services
                        .iter()
                        .all(|x| x.system || list.package_names.contains(&x.package_name))
                },
            ),
            _ => return na(),
        },
        R::UserInitiatedAddEsimSettings => {
            if c.device_radio_state.user_initiated_add_esim_settings
                != Some(UserInitiatedAddEsimSettings::UserInitiatedAddEsimDisallowed)
            {
                return na();
            }
            // Android 15 shows it (`DISALLOW_SIM_GLOBALLY` in force); an iOS app cannot
            // see its restrictions, so there it stays unknown and the MDM is asked.
            check(
                s.add_esim_disallowed,
                Fact::AddEsimDisallowed,
                Reason::EsimAddAllowed,
                |blocked| blocked,
            )
        }
        R::AgentUninstallBlocked => {
            if !android {
                return na();
            }
            check(
                snapshot.agent.as_ref().and_then(|a| a.uninstall_blocked),
                Fact::AgentUninstallBlocked,
                Reason::AgentUninstallNotBlocked,
                |blocked| blocked,
            )
        }
    };
    Verdict::new(id, reasons, unobserved, enforcement)
}

/// USB data restrictions from loosest to strictest.
fn usb_rank(access: UsbDataAccess) -> u8 {
    match access {
        UsbDataAccess::AllowUsbDataTransfer => 0,
        UsbDataAccess::DisallowUsbFileTransfer => 1,
        UsbDataAccess::DisallowUsbDataTransfer => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_one_to_three_numbers() {
        assert_eq!(parse_version("18"), Some([18, 0, 0]));
        assert_eq!(parse_version("17.6"), Some([17, 6, 0]));
        assert_eq!(parse_version("18.3.1"), Some([18, 3, 1]));
        for bad in ["", "18.", ".1", "18.3.1.2", "18a", "99999999"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
        assert!(parse_version("18.10").unwrap() > parse_version("18.9").unwrap());
    }
}
