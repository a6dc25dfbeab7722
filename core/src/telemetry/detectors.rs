//! Living-off-the-land detectors over the security log: each a small state machine with
//! a name and a version, fed one event at a time, raising one alert per condition until
//! it clears (docs/detectors.md names each one's false positives).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{BootState, DmVerity, SecurityEvent, SecurityEventKind};
use crate::alert::{AlertKind, Finding};
use crate::inspection::IndicatorFinding;
use crate::policy::{Sha256Fingerprint, TelemetryRules};
use crate::time::{Timestamp, HOUR_MS, MINUTE_MS};

/// Events of one kind closer together than this belong to one session (one alert).
pub const SESSION_GAP_MS: i64 = 30 * MINUTE_MS;
/// A known-bad process or indicator hit by the same package is raised again after this.
pub const REPEAT_AFTER_MS: i64 = 24 * HOUR_MS;

/// Whether an event at `at` starts a new session: nothing seen yet, a gap longer than
/// [`SESSION_GAP_MS`] since the latest event, or a clock that went back. `last` keeps the
/// latest event time seen, so an out-of-order event never shortens a session.
fn starts_session(last: &mut Option<Timestamp>, at: Timestamp) -> bool {
    let new = last.is_none_or(|l| at.millis_since(l) > SESSION_GAP_MS || at < l);
    *last = Some(last.map_or(at, |l| l.max(at)));
    new
}

/// What the policy in force says, as the detectors need it.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The telemetry section (thresholds, maintenance windows).
    pub rules: &'a TelemetryRules,
    /// Any user-installed CA is acceptable.
    pub any_ca_allowed: bool,
    /// CAs accepted by fingerprint.
    pub allowed_cas: &'a [Sha256Fingerprint],
    /// The policy forbids USB storage (`usbDataAccess` other than `ALLOW_USB_DATA_TRANSFER`).
    pub usb_storage_forbidden: bool,
}

/// One input to the detectors.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A security-log event.
    Security(&'a SecurityEvent),
    /// A process start whose package, process name or APK hash matched indicators.
    BadProcess {
        /// When the process started.
        at: Timestamp,
        /// Its package.
        package: &'a str,
        /// What matched.
        matches: &'a [&'a IndicatorFinding],
    },
}

/// A detector's stable name and version, reported with every alert it raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorInfo {
    /// Stable name (also the alert kind it raises).
    pub name: &'static str,
    /// Bumped whenever the detector's logic changes.
    pub version: u32,
    /// The kind it raises.
    pub kind: AlertKind,
}

impl DetectorInfo {
    /// A detector at its first version, named after the one alert kind it raises.
    fn first(kind: AlertKind) -> Self {
        DetectorInfo {
            name: kind.as_str(),
            version: 1,
            kind,
        }
    }

    fn finding(self, at: Timestamp, summary: String, evidence: Vec<(&str, String)>) -> Finding {
        Finding::raised(
            self.name,
            self.version,
            self.kind,
            at,
            None,
            summary,
            evidence,
        )
    }
}

impl<'a> Input<'a> {
    /// The time and kind of a security-log event; `None` for any other input.
    fn security(self) -> Option<(Timestamp, &'a SecurityEventKind)> {
        match self {
            Input::Security(event) => Some((event.at, &event.event)),
            Input::BadProcess { .. } => None,
        }
    }
}

/// One telemetry detector.
pub trait TelemetryDetector {
    /// Name, version and kind.
    fn info(&self) -> DetectorInfo;
    /// Reacts to one input.
    fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>);
}

/// Raises the alert `describe` gives (summary and evidence) when the event at `at`
/// starts a new session; the shared rule of the once-per-session detectors.
fn raise_per_session<'e>(
    info: DetectorInfo,
    last: &mut Option<Timestamp>,
    at: Timestamp,
    out: &mut Vec<Finding>,
    describe: impl FnOnce() -> (String, Vec<(&'e str, String)>),
) {
    if starts_session(last, at) {
        let (summary, evidence) = describe();
        out.push(info.finding(at, summary, evidence));
    }
}

/// Text from the log made safe for an alert: bounded, control characters replaced,
/// identifier-shaped digit runs redacted.
fn safe(text: &str) -> String {
    crate::policy::sanitize(text)
}

/// `adb_shell_used`: an adb shell command or interactive shell outside an authorised
/// maintenance window; one alert per session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdbShellDetector {
    /// The last unauthorised adb shell event seen.
    last: Option<Timestamp>,
}

impl TelemetryDetector for AdbShellDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::AdbShellUsed)
    }

    fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Some((at, event)) = input.security() else {
            return;
        };
        let what = match event {
            SecurityEventKind::AdbShellCommand { command } => {
                format!("a command of {} bytes", command.len())
            }
            SecurityEventKind::AdbShellInteractive => "an interactive shell".to_owned(),
            _ => return,
        };
        if ctx.rules.adb_authorised_at(at) {
            return;
        }
        raise_per_session(self.info(), &mut self.last, at, out, || {
            (
                format!("adb shell used outside a maintenance window: {what}"),
                vec![("first_event", at.to_string())],
            )
        });
    }
}

/// `adb_file_pulled`: files copied off the phone over adb; one alert per session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdbPullDetector {
    last: Option<Timestamp>,
}

impl TelemetryDetector for AdbPullDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::AdbFilePulled)
    }

    fn observe(&mut self, _ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        if let Some((at, SecurityEventKind::AdbFilePulled { path })) = input.security() {
            let summary = "A file was pulled off the phone over adb";
            raise_per_session(self.info(), &mut self.last, at, out, || {
                (summary.into(), vec![("path", safe(path))])
            });
        }
    }
}

/// `ca_certificate_installed`: a CA added to the user trust store that the policy does
/// not allow (by fingerprint, when the agent could read it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaInstallDetector {}

impl TelemetryDetector for CaInstallDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::CaCertificateInstalled)
    }

    fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Some((
            at,
            SecurityEventKind::CertAuthorityInstalled {
                success: true,
                subject,
                sha256,
            },
        )) = input.security()
        else {
            return;
        };
        if ctx.any_ca_allowed {
            return;
        }
        let fingerprint = sha256
            .as_deref()
            .and_then(|s| {
                crate::inspection::stix::normalize_digest(
                    crate::inspection::HashAlgorithm::Sha256,
                    s,
                )
            })
            .and_then(|hex| crate::identity::unhex32(&hex));
        if fingerprint.is_some_and(|f| ctx.allowed_cas.iter().any(|a| a.0 == f)) {
            return;
        }
        let mut evidence = vec![("subject", safe(subject))];
        if let Some(f) = fingerprint {
            evidence.push(("sha256", crate::identity::hex(&f)));
        }
        out.push(self.info().finding(
            at,
            "A CA certificate the policy does not allow was installed".into(),
            evidence,
        ));
    }
}

/// `keyguard_bruteforce`: N failed unlock attempts within M minutes (both from the
/// policy); raised once until an unlock succeeds or the failures age out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyguardDetector {
    /// Times of recent failures, oldest first (at most the policy's N).
    failures: VecDeque<Timestamp>,
    raised: bool,
}

impl TelemetryDetector for KeyguardDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::KeyguardBruteforce)
    }

    fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Some((at, SecurityEventKind::KeyguardAuthAttempt { success })) = input.security()
        else {
            return;
        };
        if *success {
            self.failures.clear();
            self.raised = false;
            return;
        }
        let n = ctx.rules.keyguard_failures.max(1) as usize;
        let window = i64::from(ctx.rules.keyguard_window_minutes) * MINUTE_MS;
        self.failures.push_back(at);
        while self
            .failures
            .front()
            .is_some_and(|first| at.millis_since(*first) > window)
        {
            self.failures.pop_front();
        }
        while self.failures.len() > n {
            self.failures.pop_front();
        }
        if self.failures.len() < n {
            self.raised = false;
            return;
        }
        if !self.raised {
            self.raised = true;
            out.push(self.info().finding(
                at,
                format!(
                    "{n} failed unlock attempts within {} minutes",
                    ctx.rules.keyguard_window_minutes
                ),
                vec![
                    ("failures", n.to_string()),
                    ("first_failure", self.failures[0].to_string()),
                ],
            ));
        }
    }
}

/// `boot_state_degraded`: the OS started with a verified-boot state other than green or
/// with dm-verity not enforcing; raised once per degraded state until a clean start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootStateDetector {
    raised: Option<(BootState, DmVerity)>,
}

impl TelemetryDetector for BootStateDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::BootStateDegraded)
    }

    fn observe(&mut self, _ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Some((
            at,
            SecurityEventKind::OsStartup {
                verified_boot_state,
                dm_verity,
            },
        )) = input.security()
        else {
            return;
        };
        let state = (*verified_boot_state, *dm_verity);
        if state == (BootState::Green, DmVerity::Enforcing) {
            self.raised = None;
            return;
        }
        if self.raised == Some(state) {
            return;
        }
        self.raised = Some(state);
        out.push(self.info().finding(
            at,
            format!(
                "The OS started with verified boot {} and dm-verity {}",
                boot_name(*verified_boot_state),
                verity_name(*dm_verity)
            ),
            vec![
                (
                    "verified_boot_state",
                    boot_name(*verified_boot_state).into(),
                ),
                ("dm_verity", verity_name(*dm_verity).into()),
            ],
        ));
    }
}

fn boot_name(state: BootState) -> &'static str {
    match state {
        BootState::Green => "green",
        BootState::Yellow => "yellow",
        BootState::Orange => "orange",
        BootState::Red => "red",
    }
}

fn verity_name(mode: DmVerity) -> &'static str {
    match mode {
        DmVerity::Enforcing => "enforcing",
        DmVerity::Eio => "eio",
        DmVerity::Disabled => "disabled",
    }
}

/// `usb_media_mounted`: removable media mounted while the policy forbids USB storage;
/// one alert per mount point until it is mounted again after a session gap.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbMediaDetector {
    last: Option<Timestamp>,
}

impl TelemetryDetector for UsbMediaDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::UsbMediaMounted)
    }

    fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Some((at, SecurityEventKind::MediaMount { mount_point })) = input.security() else {
            return;
        };
        if ctx.usb_storage_forbidden {
            let summary = "Removable media was mounted while the policy forbids USB storage";
            raise_per_session(self.info(), &mut self.last, at, out, || {
                (summary.into(), vec![("mount_point", safe(mount_point))])
            });
        }
    }
}

/// `known_bad_process`: a process start whose package, process name or APK hash is an
/// indicator; raised once per package a day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBadProcessDetector {
    /// Packages raised, with when.
    raised: BTreeMap<String, Timestamp>,
}

impl TelemetryDetector for KnownBadProcessDetector {
    fn info(&self) -> DetectorInfo {
        DetectorInfo::first(AlertKind::KnownBadProcess)
    }

    fn observe(&mut self, _ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        let Input::BadProcess {
            at,
            package,
            matches,
        } = *input
        else {
            return;
        };
        let Some(first) = matches.first() else {
            return;
        };
        self.raised
            .retain(|_, when| at.millis_since(*when) < REPEAT_AFTER_MS && *when <= at);
        if self.raised.contains_key(package) {
            return;
        }
        self.raised.insert((*package).to_owned(), at);
        let malware = first.malware.join(", ");
        out.push(self.info().finding(
            at,
            format!(
                "A process of a package matching a spyware indicator started ({})",
                if malware.is_empty() {
                    "unnamed malware"
                } else {
                    &malware
                }
            ),
            vec![
                ("package", safe(package)),
                ("indicator", first.indicator_id.clone()),
                ("collection", first.collection.clone()),
                ("malware", malware.clone()),
                ("matched", first.evidence.section.to_owned()),
            ],
        ));
    }
}

/// The telemetry detectors, held concretely so their state serialises with the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detectors {
    adb_shell: AdbShellDetector,
    adb_pull: AdbPullDetector,
    ca_install: CaInstallDetector,
    keyguard: KeyguardDetector,
    boot_state: BootStateDetector,
    usb_media: UsbMediaDetector,
    bad_process: KnownBadProcessDetector,
}

impl Detectors {
    fn all_mut(&mut self) -> [&mut dyn TelemetryDetector; 7] {
        [
            &mut self.adb_shell,
            &mut self.adb_pull,
            &mut self.ca_install,
            &mut self.keyguard,
            &mut self.boot_state,
            &mut self.usb_media,
            &mut self.bad_process,
        ]
    }

    /// Every detector's name and version.
    pub fn info(&mut self) -> Vec<DetectorInfo> {
        self.all_mut().iter().map(|d| d.info()).collect()
    }

    /// Feeds one input to every detector.
    pub fn observe(&mut self, ctx: &Context<'_>, input: &Input<'_>, out: &mut Vec<Finding>) {
        for d in self.all_mut() {
            d.observe(ctx, input, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix_millis(1_777_000_000_000);

    #[test]
    fn a_session_ends_after_the_gap_or_when_the_clock_goes_back() {
        let mut last = None;
        assert!(starts_session(&mut last, T0), "the first event");
        assert!(
            !starts_session(&mut last, T0.plus_millis(SESSION_GAP_MS)),
            "within the gap"
        );
        assert!(
            starts_session(&mut last, T0.plus_millis(2 * SESSION_GAP_MS + 1)),
            "after the gap"
        );
        // An earlier time is a clock set back: a new session, and the latest time stays.
        assert!(starts_session(&mut last, T0), "a clock set back");
        assert_eq!(last, Some(T0.plus_millis(2 * SESSION_GAP_MS + 1)));
    }

    #[test]
    fn every_detector_is_named_after_the_kind_it_raises_at_version_one() {
        let names: Vec<_> = Detectors::default()
            .info()
            .into_iter()
            .map(|i| (i.name, i.version, i.kind))
            .collect();
        assert_eq!(
            names,
            [
                ("adb_shell_used", 1, AlertKind::AdbShellUsed),
                ("adb_file_pulled", 1, AlertKind::AdbFilePulled),
                (
                    "ca_certificate_installed",
                    1,
                    AlertKind::CaCertificateInstalled
                ),
                ("keyguard_bruteforce", 1, AlertKind::KeyguardBruteforce),
                ("boot_state_degraded", 1, AlertKind::BootStateDegraded),
                ("usb_media_mounted", 1, AlertKind::UsbMediaMounted),
                ("known_bad_process", 1, AlertKind::KnownBadProcess),
            ]
        );
    }

    fn at(minutes: i64) -> Timestamp {
        T0.plus_millis(minutes * MINUTE_MS)
    }

    fn sec(minutes: i64, event: SecurityEventKind) -> SecurityEvent {
        SecurityEvent {
            at: at(minutes),
            event,
        }
    }

    fn run(
        rules: &TelemetryRules,
        ca_any: bool,
        allowed: &[Sha256Fingerprint],
        usb_forbidden: bool,
        events: &[SecurityEvent],
    ) -> Vec<(AlertKind, Timestamp)> {
        let ctx = Context {
            rules,
            any_ca_allowed: ca_any,
            allowed_cas: allowed,
            usb_storage_forbidden: usb_forbidden,
        };
        let mut detectors = Detectors::default();
        let mut out = Vec::new();
        for e in events {
            detectors.observe(&ctx, &Input::Security(e), &mut out);
        }
        out.iter().map(|f| (f.kind, f.at)).collect()
    }

    /// A policy that allows no CA and leaves USB storage alone.
    fn strict(rules: &TelemetryRules) -> Context<'_> {
        Context {
            rules,
            any_ca_allowed: false,
            allowed_cas: &[],
            usb_storage_forbidden: false,
        }
    }

    fn shell(minutes: i64) -> SecurityEvent {
        sec(
            minutes,
            SecurityEventKind::AdbShellCommand {
                command: "pm list packages".into(),
            },
        )
    }

    #[test]
    fn adb_shell_raises_once_per_session_and_not_in_a_maintenance_window() {
        let rules = TelemetryRules::default();
        let events = [
            shell(0),
            shell(5),
            sec(20, SecurityEventKind::AdbShellInteractive),
            shell(120),
        ];
        assert_eq!(
            run(&rules, false, &[], false, &events),
            [
                (AlertKind::AdbShellUsed, at(0)),
                (AlertKind::AdbShellUsed, at(120))
            ]
        );
        let rules = TelemetryRules {
            adb_maintenance_windows: vec![crate::policy::MaintenanceWindow {
                from: at(-10).to_string(),
                until: at(60).to_string(),
            }],
            ..TelemetryRules::default()
        };
        assert_eq!(
            run(&rules, false, &[], false, &events),
            [(AlertKind::AdbShellUsed, at(120))]
        );
    }

    #[test]
    fn shell_alerts_never_repeat_the_command() {
        let rules = TelemetryRules::default();
        let ctx = strict(&rules);
        let event = sec(
            0,
            SecurityEventKind::AdbShellCommand {
                command: "am start tel:+4915112345678".into(),
            },
        );
        let mut out = Vec::new();
        AdbShellDetector::default().observe(&ctx, &Input::Security(&event), &mut out);
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            !text.contains("4915112345678") && !text.contains("tel:"),
            "{text}"
        );
    }

    #[test]
    fn adb_pulls_raise_once_per_session() {
        let pull = |m| {
            sec(
                m,
                SecurityEventKind::AdbFilePulled {
                    path: "/sdcard/DCIM/a.jpg".into(),
                },
            )
        };
        let rules = TelemetryRules::default();
        assert_eq!(
            run(&rules, false, &[], false, &[pull(0), pull(1), pull(90)]),
            [
                (AlertKind::AdbFilePulled, at(0)),
                (AlertKind::AdbFilePulled, at(90))
            ]
        );
    }

    #[test]
    fn ca_installs_alert_unless_allowed_by_policy() {
        let digest = "ab".repeat(32);
        let install = |ok: bool| {
            sec(
                0,
                SecurityEventKind::CertAuthorityInstalled {
                    success: ok,
                    subject: "CN=Inspect".into(),
                    sha256: Some(digest.clone()),
                },
            )
        };
        let rules = TelemetryRules::default();
        assert_eq!(
            run(&rules, false, &[], false, &[install(true), install(false)]),
            [(AlertKind::CaCertificateInstalled, at(0))]
        );
        let allowed = [Sha256Fingerprint([0xab; 32])];
        assert!(run(&rules, false, &allowed, false, &[install(true)]).is_empty());
        assert!(run(&rules, true, &[], false, &[install(true)]).is_empty());
    }

    #[test]
    fn keyguard_failures_alert_at_the_threshold_within_the_window_only() {
        let attempt = |m, success| sec(m, SecurityEventKind::KeyguardAuthAttempt { success });
        let rules = TelemetryRules {
            keyguard_failures: 3,
            keyguard_window_minutes: 10,
            ..TelemetryRules::default()
        };
        // Spread out: never three within ten minutes.
        let slow = [attempt(0, false), attempt(8, false), attempt(16, false)];
        assert!(run(&rules, false, &[], false, &slow).is_empty());
        let fast = [
            attempt(0, false),
            attempt(1, false),
            attempt(2, false),
            attempt(3, false),
            attempt(4, true),
            attempt(5, false),
            attempt(6, false),
            attempt(7, false),
        ];
        assert_eq!(
            run(&rules, false, &[], false, &fast),
            [
                (AlertKind::KeyguardBruteforce, at(2)),
                (AlertKind::KeyguardBruteforce, at(7))
            ]
        );
    }

    #[test]
    fn degraded_boots_alert_once_per_state_until_a_clean_boot() {
        let boot = |m, v, d| {
            sec(
                m,
                SecurityEventKind::OsStartup {
                    verified_boot_state: v,
                    dm_verity: d,
                },
            )
        };
        let rules = TelemetryRules::default();
        let events = [
            boot(0, BootState::Green, DmVerity::Enforcing),
            boot(10, BootState::Orange, DmVerity::Enforcing),
            boot(20, BootState::Orange, DmVerity::Enforcing),
            boot(30, BootState::Green, DmVerity::Disabled),
            boot(40, BootState::Green, DmVerity::Enforcing),
            boot(50, BootState::Green, DmVerity::Disabled),
        ];
        assert_eq!(
            run(&rules, false, &[], false, &events),
            [
                (AlertKind::BootStateDegraded, at(10)),
                (AlertKind::BootStateDegraded, at(30)),
                (AlertKind::BootStateDegraded, at(50)),
            ]
        );
    }

    #[test]
    fn media_mounts_alert_only_where_usb_storage_is_forbidden() {
        let mount = sec(
            0,
            SecurityEventKind::MediaMount {
                mount_point: "/mnt/media_rw/1234-ABCD".into(),
            },
        );
        let rules = TelemetryRules::default();
        assert!(run(&rules, false, &[], false, std::slice::from_ref(&mount)).is_empty());
        assert_eq!(
            run(&rules, false, &[], true, &[mount]),
            [(AlertKind::UsbMediaMounted, at(0))]
        );
    }

    #[test]
    fn known_bad_processes_raise_once_per_package_a_day() {
        let mut set = crate::inspection::IndicatorSet::new();
        set.load_stix2(
            "unit",
            r#"{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1",
                "pattern_type": "stix", "pattern": "[app:id='com.spy']"}]}"#,
        )
        .unwrap();
        let report = set.scan(&crate::inspection::EvidenceSnapshot {
            version: 1,
            packages: vec![crate::inspection::evidence::Package {
                id: "com.spy".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        let matches: Vec<&IndicatorFinding> = report.findings.iter().collect();
        let rules = TelemetryRules::default();
        let ctx = strict(&rules);
        let mut d = Detectors::default();
        let mut out = Vec::new();
        for m in [0, 60, 25 * 60] {
            let input = Input::BadProcess {
                at: at(m),
                package: "com.spy",
                matches: &matches,
            };
            d.observe(&ctx, &input, &mut out);
        }
        let got: Vec<_> = out.iter().map(|f| (f.kind, f.at)).collect();
        assert_eq!(
            got,
            [
                (AlertKind::KnownBadProcess, at(0)),
                (AlertKind::KnownBadProcess, at(25 * 60))
            ]
        );
        assert!(out[0]
            .evidence
            .contains(&("indicator".into(), "indicator--1".into())));
    }
}
