//! Shared fixtures for the compliance tests: policies built from a small base plus a
//! JSON patch, a fully observed Android snapshot that complies with the base, and
//! helpers to find verdicts and actions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use portcullis_core::compliance::{
    AccessibilityService, Action, AgentFacts, AlwaysOnVpnState, DeviceSnapshot, EncryptionStatus,
    Evaluation, InstallSource, InstalledApp, Measure, PasswordComplexity, Platform, PreparedPolicy,
    RequestedAction, RuleId, SettingRule, Verdict,
};
use portcullis_core::policy::model::{Sha256Fingerprint, UsbDataAccess};
use portcullis_core::policy::Policy;
use portcullis_core::{AlertKind, Timestamp};
use serde_json::{json, Value};

/// 2026-03-01T00:00:00Z.
pub(crate) const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
pub(crate) const HOUR: i64 = 60 * 60 * 1000;
pub(crate) const DAY: i64 = 24 * HOUR;

pub(crate) const PLAY: &str = "com.android.vending";
pub(crate) const AGENT: &str = "org.portcullis";

pub(crate) fn at(ms: i64) -> Timestamp {
    T0.plus_millis(ms)
}

/// A certificate fingerprint from one byte.
pub(crate) fn cert(n: u8) -> Sha256Fingerprint {
    Sha256Fingerprint([n; 32])
}

pub(crate) fn cert_hex(n: u8) -> String {
    cert(n).to_string()
}

/// The base policy: a blocklist with the agent and Signal forced (Signal pinned to
/// cert 1, version 100), AnyDesk blocked (suspended), Play-only installs; every
/// configuration rule the model has set; ladders on both sections.
pub(crate) fn base_policy_json() -> Value {
    json!({
        "schema": "portcullis/policy/v1",
        "name": "test",
        "apps": {
            "mode": "BLOCKLIST",
            "allowedInstallers": [PLAY],
            "onViolation": "MARK_NON_COMPLIANT",
            "applications": [
                {"packageName": AGENT, "installType": "FORCE_INSTALLED"},
                {"packageName": "org.thoughtcrime.securesms", "installType": "FORCE_INSTALLED",
                 "signingKeyCerts": [{"signingKeyCertFingerprintSha256": cert_hex(1)}],
                 "minimumVersionCode": 100},
                {"packageName": "com.anydesk.anydeskandroid", "installType": "BLOCKED", "onViolation": "SUSPEND_APP"},
                {"bundleId": "com.example.iosapp", "installType": "BLOCKED", "onViolation": "SUSPEND_APP"}
            ]
        },
        "configuration": {
            "minimumApiLevel": 34,
            "minimumIosVersion": "18.6",
            "minimumSecurityPatchLevel": "2026-01-01",
            "maximumSecurityPatchAgeDays": 90,
            "passwordRequirements": {"passwordQuality": "COMPLEXITY_MEDIUM", "maximumFailedPasswordsForWipe": 10},
            "maximumTimeToLock": 60000,
            "encryptionPolicy": "ENABLED_WITH_PASSWORD",
            "mobileNetworksConfigDisabled": true,
            "deviceRadioState": {"userInitiatedAddEsimSettings": "USER_INITIATED_ADD_ESIM_DISALLOWED"},
            "deviceConnectivityManagement": {"usbDataAccess": "DISALLOW_USB_DATA_TRANSFER"},
            "alwaysOnVpnPackage": {"packageName": "com.wireguard.android", "lockdownEnabled": true},
            "userInstalledCaCerts": {"allowed": false, "allowedFingerprintsSha256": [cert_hex(9)]},
            "permittedAccessibilityServices": {"packageNames": ["org.example.reader"]}
        },
        "sim": {},
        "inspection": {"cadenceDays": 30, "windowMinutes": 60,
            "allowedLocalHours": {"from": 1, "until": 5}, "gracePeriodHours": 72},
        "policyEnforcementRules": [
            {"settingName": "apps", "blockAction": {"blockAfterDays": 2},
             "wipeAction": {"wipeAfterDays": 5, "preserveFrp": true}},
            {"settingName": "configuration", "blockAction": {"blockAfterDays": 1},
             "wipeAction": {"wipeAfterDays": 7}}
        ]
    })
}

/// JSON merge patch (RFC 7386): objects merge, `null` removes, anything else replaces.
pub(crate) fn merge(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    d.remove(k);
                } else {
                    merge(d.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (d, p) => *d = p.clone(),
    }
}

/// The base policy with `patch` merged in, parsed and validated.
pub(crate) fn policy(patch: Value) -> Policy {
    let mut doc = base_policy_json();
    merge(&mut doc, &patch);
    Policy::from_json(&serde_json::to_vec(&doc).unwrap())
        .unwrap_or_else(|e| panic!("test policy invalid: {e}"))
}

pub(crate) fn prepared(patch: Value) -> PreparedPolicy {
    PreparedPolicy::new(&policy(patch))
}

pub(crate) fn app(id: &str, cert_byte: u8, version: u64) -> InstalledApp {
    InstalledApp {
        version_code: Some(version),
        install_source: Some(InstallSource::from_installer(PLAY)),
        signing_certs_sha256: vec![cert(cert_byte)],
        ..InstalledApp::new(id)
    }
}

pub(crate) fn system_app(id: &str) -> InstalledApp {
    InstalledApp {
        system: true,
        install_source: Some(InstallSource::default()),
        version_code: Some(1),
        ..InstalledApp::new(id)
    }
}

/// A fully observed Android device-owner snapshot (API 35) that complies with the base policy at T0.
pub(crate) fn android() -> DeviceSnapshot {
    let mut s = DeviceSnapshot::new(Platform::Android);
    s.device_owner = true;
    s.os.api_level = Some(35);
    s.os.version = Some("15".into());
    s.os.security_patch_level = Some("2026-02-01".into());
    let st = &mut s.settings;
    st.password_complexity = Some(PasswordComplexity::High);
    st.maximum_failed_passwords_for_wipe = Some(10);
    st.maximum_time_to_lock = Some(30_000);
    st.encryption = Some(EncryptionStatus::EncryptedWithPassword);
    st.unknown_sources_allowed = Some(false);
    st.developer_options_enabled = Some(false);
    st.verify_apps_enabled = Some(true);
    st.usb_debugging_enabled = Some(false);
    st.wireless_debugging_enabled = Some(false);
    st.cellular_2g_enabled = Some(false);
    st.mobile_networks_config_disabled = Some(true);
    st.add_esim_disallowed = Some(true);
    st.usb_data_access = Some(UsbDataAccess::DisallowUsbDataTransfer);
    st.always_on_vpn = Some(AlwaysOnVpnState {
        package_name: Some("com.wireguard.android".into()),
        lockdown_enabled: true,
    });
    st.user_ca_certs_sha256 = Some(vec![cert(9)]);
    st.accessibility_services = Some(vec![
        AccessibilityService {
            package_name: "com.google.android.marvin.talkback".into(),
            system: true,
        },
        AccessibilityService {
            package_name: "org.example.reader".into(),
            system: false,
        },
    ]);
    s.apps = Some(vec![
        app(AGENT, 7, 12),
        app("org.thoughtcrime.securesms", 1, 150),
        app("com.wireguard.android", 3, 500),
        system_app("com.android.settings"),
        system_app(PLAY),
    ]);
    s.agent = Some(AgentFacts {
        package_name: AGENT.into(),
        uninstall_blocked: Some(true),
    });
    s.normalize().unwrap();
    s
}

/// An iOS snapshot: OS version and the settings an iOS managed app can see.
pub(crate) fn ios() -> DeviceSnapshot {
    let mut s = DeviceSnapshot::new(Platform::Ios);
    s.os.version = Some("18.6.1".into());
    s.settings.encryption = Some(EncryptionStatus::EncryptedWithPassword);
    s.settings.password_complexity = Some(PasswordComplexity::Medium);
    s
}

pub(crate) fn setting(rule: SettingRule) -> RuleId {
    RuleId::Setting(rule)
}

pub(crate) fn app_rule(id: &str) -> RuleId {
    RuleId::App(id.into())
}

pub(crate) fn verdict<'a>(e: &'a Evaluation, rule: &RuleId) -> Option<&'a Verdict> {
    e.verdicts.iter().find(|v| &v.rule == rule)
}

pub(crate) fn applied(e: &[RequestedAction]) -> Vec<Measure> {
    e.iter()
        .filter_map(|a| match &a.action {
            Action::Apply { measure } => Some(measure.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn lifted(e: &[RequestedAction]) -> Vec<Measure> {
    e.iter()
        .filter_map(|a| match &a.action {
            Action::Lift { measure } => Some(measure.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn has_action(e: &[RequestedAction], pred: impl Fn(&Action) -> bool) -> bool {
    e.iter().any(|a| pred(&a.action))
}

pub(crate) fn alert_kinds(e: &Evaluation) -> Vec<(AlertKind, Option<String>)> {
    e.new_alerts
        .iter()
        .map(|a| (a.kind, a.rule.as_ref().map(ToString::to_string)))
        .collect()
}

pub(crate) fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compliance")
}

pub(crate) fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

pub(crate) fn load_policy(name: &str) -> Policy {
    Policy::from_json(&std::fs::read(policies_dir().join(format!("{name}.json"))).unwrap()).unwrap()
}

pub(crate) fn load_snapshot(name: &str) -> DeviceSnapshot {
    DeviceSnapshot::from_json(&std::fs::read(data_dir().join(name)).unwrap()).unwrap()
}

/// The schema's complaints about `doc`, one line each with the instance path.
pub(crate) fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Each `(what, patch)` merged into `base` must be refused by the schema `v` and by the
/// Rust parser (`parses` says whether it accepted the bytes): the two agree on mistakes.
pub(crate) fn assert_each_mistake_refused(
    v: &jsonschema::Validator,
    base: &Value,
    mistakes: Vec<(&str, Value)>,
    parses: impl Fn(&[u8]) -> bool,
) {
    for (what, patch) in mistakes {
        let mut doc = base.clone();
        merge(&mut doc, &patch);
        assert!(
            !schema_errors(v, &doc).is_empty(),
            "schema accepted: {what}"
        );
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert!(!parses(&bytes), "parser accepted: {what}");
    }
}
