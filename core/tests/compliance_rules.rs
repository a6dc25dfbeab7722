//! Every rule kind the policy model has, judged compliant, non-compliant and unknown
//! (and not applicable where the policy or the platform says so), through the pure
//! `evaluate_rules`.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::{
    evaluate_rules, AccessibilityService, AlwaysOnVpnState, Code, DeviceSnapshot, EncryptionStatus,
    Enforcement, Fact, InstallSource, InstalledApp, PasswordComplexity, PreparedPolicy, Reason,
    RuleId, SettingRule, Status, Verdict,
};
use portcullis_core::policy::model::UsbDataAccess;
use serde_json::json;

fn judge(policy: &PreparedPolicy, snapshot: &DeviceSnapshot) -> Vec<Verdict> {
    evaluate_rules(policy, snapshot, T0)
}

fn find(verdicts: &[Verdict], rule: &RuleId) -> Option<Verdict> {
    verdicts.iter().find(|v| &v.rule == rule).cloned()
}

fn status_of(policy: &PreparedPolicy, snapshot: &DeviceSnapshot, rule: &RuleId) -> Verdict {
    find(&judge(policy, snapshot), rule).unwrap_or_else(|| panic!("no verdict for {rule}"))
}

fn apps_mut(s: &mut DeviceSnapshot) -> &mut Vec<InstalledApp> {
    s.apps.as_mut().unwrap()
}

fn app_mut<'a>(s: &'a mut DeviceSnapshot, id: &str) -> &'a mut InstalledApp {
    apps_mut(s).iter_mut().find(|a| &*a.id == id).unwrap()
}

#[test]
fn the_fixture_complies_with_the_base_policy() {
    let p = prepared(json!({}));
    let verdicts = judge(&p, &android());
    for v in &verdicts {
        assert!(
            matches!(v.status, Status::Compliant | Status::NotApplicable),
            "{v:?}"
        );
    }
    // The inventory, five apps, every configuration rule.
    assert_eq!(verdicts.len(), 1 + 5 + SettingRule::ALL.len());
    assert!(verdicts.is_sorted_by(|a, b| a.rule < b.rule));
    let na: Vec<_> = verdicts
        .iter()
        .filter(|v| v.status == Status::NotApplicable)
        .map(|v| v.rule.to_string())
        .collect();
    assert_eq!(
        na,
        ["configuration.minimumIosVersion"],
        "iOS-only rule on Android"
    );
}

/// One configuration rule's three cases: a mutation that breaks it (with the reason)
/// and one that hides what it needs (with the fact).
struct Case {
    rule: SettingRule,
    broken: fn(&mut DeviceSnapshot),
    reason: Reason,
    hidden: fn(&mut DeviceSnapshot),
    fact: Fact,
}

#[test]
fn each_configuration_rule_is_compliant_non_compliant_or_unknown() {
    use SettingRule as R;
    let cases = [
        Case {
            rule: R::MinimumApiLevel,
            broken: |s| s.os.api_level = Some(33),
            reason: Reason::OsNotPermitted,
            hidden: |s| s.os.api_level = None,
            fact: Fact::OsApiLevel,
        },
        Case {
            rule: R::MinimumSecurityPatchLevel,
            broken: |s| s.os.security_patch_level = Some("2025-12-31".into()),
            reason: Reason::SecurityPatchLevel,
            hidden: |s| s.os.security_patch_level = None,
            fact: Fact::OsSecurityPatchLevel,
        },
        Case {
            rule: R::MaximumSecurityPatchAgeDays,
            broken: |s| s.os.security_patch_level = Some("2025-11-30".into()),
            reason: Reason::SecurityPatchLevel,
            hidden: |s| s.os.security_patch_level = None,
            fact: Fact::OsSecurityPatchLevel,
        },
        Case {
            rule: R::UserInitiatedAddEsimSettings,
            broken: |s| s.settings.add_esim_disallowed = Some(false),
            reason: Reason::EsimAddAllowed,
            hidden: |s| s.settings.add_esim_disallowed = None,
            fact: Fact::AddEsimDisallowed,
        },
        Case {
            rule: R::PasswordQuality,
            broken: |s| s.settings.password_complexity = Some(PasswordComplexity::Low),
            reason: Reason::PasswordNotSufficient,
            hidden: |s| s.settings.password_complexity = None,
            fact: Fact::PasswordComplexity,
        },
        Case {
            rule: R::MaximumFailedPasswordsForWipe,
            broken: |s| s.settings.maximum_failed_passwords_for_wipe = Some(0),
            reason: Reason::MaximumFailedPasswordsForWipe,
            hidden: |s| s.settings.maximum_failed_passwords_for_wipe = None,
            fact: Fact::MaximumFailedPasswordsForWipe,
        },
        Case {
            rule: R::MaximumTimeToLock,
            broken: |s| s.settings.maximum_time_to_lock = Some(120_000),
            reason: Reason::MaximumTimeToLock,
            hidden: |s| s.settings.maximum_time_to_lock = None,
            fact: Fact::MaximumTimeToLock,
        },
        Case {
            rule: R::EncryptionPolicy,
            broken: |s| s.settings.encryption = Some(EncryptionStatus::EncryptedWithoutPassword),
            reason: Reason::EncryptionPolicy,
            hidden: |s| s.settings.encryption = None,
            fact: Fact::Encryption,
        },
        Case {
            rule: R::UntrustedAppsPolicy,
            broken: |s| s.settings.unknown_sources_allowed = Some(true),
            reason: Reason::UnknownSourcesAllowed,
            hidden: |s| s.settings.unknown_sources_allowed = None,
            fact: Fact::UnknownSourcesAllowed,
        },
        Case {
            rule: R::DeveloperSettings,
            broken: |s| s.settings.developer_options_enabled = Some(true),
            reason: Reason::DeveloperOptionsEnabled,
            hidden: |s| s.settings.developer_options_enabled = None,
            fact: Fact::DeveloperOptionsEnabled,
        },
        Case {
            rule: R::GooglePlayProtectVerifyApps,
            broken: |s| s.settings.verify_apps_enabled = Some(false),
            reason: Reason::VerifyAppsDisabled,
            hidden: |s| s.settings.verify_apps_enabled = None,
            fact: Fact::VerifyAppsEnabled,
        },
        Case {
            rule: R::DebuggingFeaturesAllowed,
            broken: |s| s.settings.wireless_debugging_enabled = Some(true),
            reason: Reason::DebuggingEnabled,
            hidden: |s| s.settings.usb_debugging_enabled = None,
            fact: Fact::UsbDebuggingEnabled,
        },
        Case {
            rule: R::CellularTwoGState,
            broken: |s| s.settings.cellular_2g_enabled = Some(true),
            reason: Reason::Cellular2gEnabled,
            hidden: |s| s.settings.cellular_2g_enabled = None,
            fact: Fact::Cellular2gEnabled,
        },
        Case {
            rule: R::MobileNetworksConfigDisabled,
            broken: |s| s.settings.mobile_networks_config_disabled = Some(false),
            reason: Reason::MobileNetworksConfigAllowed,
            hidden: |s| s.settings.mobile_networks_config_disabled = None,
            fact: Fact::MobileNetworksConfigDisabled,
        },
        Case {
            rule: R::UsbDataAccess,
            broken: |s| s.settings.usb_data_access = Some(UsbDataAccess::DisallowUsbFileTransfer),
            reason: Reason::UsbDataAccess,
            hidden: |s| s.settings.usb_data_access = None,
            fact: Fact::UsbDataAccess,
        },
        Case {
            rule: R::AlwaysOnVpnPackage,
            broken: |s| s.settings.always_on_vpn = Some(AlwaysOnVpnState::default()),
            reason: Reason::AlwaysOnVpn,
            hidden: |s| s.settings.always_on_vpn = None,
            fact: Fact::AlwaysOnVpn,
        },
        Case {
            rule: R::UserInstalledCaCerts,
            broken: |s| s.settings.user_ca_certs_sha256 = Some(vec![cert(9), cert(8)]),
            reason: Reason::UserCaCertInstalled,
            hidden: |s| s.settings.user_ca_certs_sha256 = None,
            fact: Fact::UserCaCerts,
        },
        Case {
            rule: R::PermittedAccessibilityServices,
            broken: |s| {
                s.settings
                    .accessibility_services
                    .as_mut()
                    .unwrap()
                    .push(AccessibilityService {
                        package_name: "com.example.screenreader".into(),
                        system: false,
                    });
            },
            reason: Reason::AccessibilityServiceNotPermitted,
            hidden: |s| s.settings.accessibility_services = None,
            fact: Fact::AccessibilityServices,
        },
        Case {
            rule: R::AgentUninstallBlocked,
            broken: |s| s.agent.as_mut().unwrap().uninstall_blocked = Some(false),
            reason: Reason::AgentUninstallNotBlocked,
            hidden: |s| s.agent = None,
            fact: Fact::AgentUninstallBlocked,
        },
    ];
    let p = prepared(json!({}));
    let mut covered = vec![SettingRule::MinimumIosVersion]; // iOS, below
    for case in cases {
        let id = setting(case.rule);
        let ok = status_of(&p, &android(), &id);
        assert_eq!(ok.status, Status::Compliant, "{id}");

        let mut s = android();
        (case.broken)(&mut s);
        let v = status_of(&p, &s, &id);
        assert_eq!(v.status, Status::NonCompliant, "{id}");
        assert_eq!(v.reasons.iter().collect::<Vec<_>>(), [case.reason], "{id}");

        let mut s = android();
        (case.hidden)(&mut s);
        let v = status_of(&p, &s, &id);
        assert_eq!(
            v.status,
            Status::Unknown,
            "{id}: unknown is never compliant"
        );
        assert!(v.reasons.is_empty(), "{id}");
        assert_eq!(v.unobserved.iter().collect::<Vec<_>>(), [case.fact], "{id}");

        // Broken and hidden at once is never compliant; where they concern different
        // fields (debugging: wireless on, USB not observed), one observed failure judges.
        let mut s = android();
        (case.broken)(&mut s);
        (case.hidden)(&mut s);
        let v = status_of(&p, &s, &id);
        assert_ne!(v.status, Status::Compliant, "{id}");
        if case.rule == R::DebuggingFeaturesAllowed {
            assert_eq!(v.status, Status::NonCompliant, "{id}");
        }
        covered.push(case.rule);
    }
    covered.sort();
    assert_eq!(
        covered,
        SettingRule::ALL,
        "every configuration rule has a case"
    );
}

#[test]
fn minimum_ios_version_on_ios() {
    let p = prepared(json!({}));
    let id = setting(SettingRule::MinimumIosVersion);
    assert_eq!(status_of(&p, &ios(), &id).status, Status::Compliant);
    let mut s = ios();
    s.os.version = Some("18.5.9".into());
    let v = status_of(&p, &s, &id);
    assert_eq!(
        (v.status, v.reasons.joined()),
        (Status::NonCompliant, "OS_NOT_PERMITTED".into())
    );
    for unknown in [None, Some("26 beta".to_owned())] {
        let mut s = ios();
        s.os.version = unknown;
        let v = status_of(&p, &s, &id);
        assert_eq!(
            (v.status, v.unobserved.joined()),
            (Status::Unknown, "os.version".into())
        );
    }
}

#[test]
fn rules_the_policy_does_not_set_or_the_platform_lacks_are_not_applicable() {
    let relaxed = prepared(json!({"configuration": {
        "minimumApiLevel": null, "minimumIosVersion": null, "minimumSecurityPatchLevel": null,
        "maximumSecurityPatchAgeDays": null, "passwordRequirements": null, "maximumTimeToLock": null,
        "encryptionPolicy": null, "deviceConnectivityManagement": null, "alwaysOnVpnPackage": null,
        "permittedAccessibilityServices": null,
        "advancedSecurityOverrides": {"untrustedAppsPolicy": "ALLOW_INSTALL_DEVICE_WIDE",
            "developerSettings": "DEVELOPER_SETTINGS_ALLOWED", "googlePlayProtectVerifyApps": "VERIFY_APPS_USER_CHOICE"},
        "debuggingFeaturesAllowed": true,
        "deviceRadioState": {"cellularTwoGState": "CELLULAR_TWO_G_USER_CHOICE",
            "userInitiatedAddEsimSettings": null},
        "mobileNetworksConfigDisabled": false,
        "userInstalledCaCerts": {"allowed": true}
    }}));
    // Even a snapshot that observed nothing has nothing to answer for.
    let mut s = DeviceSnapshot::new(portcullis_core::compliance::Platform::Android);
    s.apps = Some(vec![]);
    s.agent = Some(portcullis_core::compliance::AgentFacts {
        package_name: AGENT.into(),
        uninstall_blocked: Some(true),
    });
    let mut relaxed_policy_verdicts = judge(&relaxed, &s);
    relaxed_policy_verdicts.retain(|v| matches!(v.rule, RuleId::Setting(_)));
    for v in &relaxed_policy_verdicts {
        if v.rule == setting(SettingRule::AgentUninstallBlocked) {
            assert_eq!(v.status, Status::Compliant);
        } else {
            assert_eq!(v.status, Status::NotApplicable, "{}", v.rule);
        }
    }
    // Android-only rules on iOS.
    let p = prepared(json!({}));
    let on_ios = judge(&p, &ios());
    for rule in [
        SettingRule::MinimumApiLevel,
        SettingRule::MinimumSecurityPatchLevel,
        SettingRule::MaximumSecurityPatchAgeDays,
        SettingRule::UntrustedAppsPolicy,
        SettingRule::DeveloperSettings,
        SettingRule::GooglePlayProtectVerifyApps,
        SettingRule::DebuggingFeaturesAllowed,
        SettingRule::MobileNetworksConfigDisabled,
        SettingRule::UsbDataAccess,
        SettingRule::AlwaysOnVpnPackage,
        SettingRule::PermittedAccessibilityServices,
        SettingRule::AgentUninstallBlocked,
    ] {
        assert_eq!(
            find(&on_ios, &setting(rule)).unwrap().status,
            Status::NotApplicable,
            "{rule}"
        );
    }
    // What an iOS managed app cannot see is unknown, not compliant.
    for (rule, fact) in [
        (SettingRule::CellularTwoGState, "settings.cellular2gEnabled"),
        (
            SettingRule::UserInstalledCaCerts,
            "settings.userCaCertsSha256",
        ),
        (SettingRule::MaximumTimeToLock, "settings.maximumTimeToLock"),
    ] {
        let v = find(&on_ios, &setting(rule)).unwrap();
        assert_eq!(
            (v.status, v.unobserved.joined()),
            (Status::Unknown, fact.into()),
            "{rule}"
        );
    }
    assert_eq!(
        find(&on_ios, &setting(SettingRule::PasswordQuality))
            .unwrap()
            .status,
        Status::Compliant
    );
}

#[test]
fn the_rolling_patch_floor_moves_with_the_time_passed_in() {
    // Patch 2026-02-01, at most 90 days old: fine until 2026-05-02, stale from 2026-05-03.
    let p = prepared(json!({}));
    let id = setting(SettingRule::MaximumSecurityPatchAgeDays);
    let s = android();
    let at_day = |d: i64| {
        find(&evaluate_rules(&p, &s, at(d * DAY)), &id)
            .unwrap()
            .status
    };
    assert_eq!(at_day(62), Status::Compliant);
    assert_eq!(at_day(63), Status::NonCompliant);
}

#[test]
fn forced_apps_must_be_installed() {
    let p = prepared(json!({}));
    let signal = app_rule("org.thoughtcrime.securesms");
    assert_eq!(status_of(&p, &android(), &signal).status, Status::Compliant);
    let mut s = android();
    apps_mut(&mut s).retain(|a| &*a.id != "org.thoughtcrime.securesms");
    let v = status_of(&p, &s, &signal);
    assert_eq!(
        (v.status, v.reasons.joined()),
        (Status::NonCompliant, "APP_NOT_INSTALLED".into())
    );
    // Unknown: the platform cannot list apps at all; one inventory verdict says so.
    let mut s = android();
    s.apps = None;
    let verdicts = judge(&p, &s);
    assert!(find(&verdicts, &signal).is_none());
    let inventory = find(&verdicts, &RuleId::AppInventory).unwrap();
    assert_eq!(
        (inventory.status, inventory.unobserved.joined()),
        (Status::Unknown, "apps".into())
    );
    // A blocklist with no app rule and no installer rule has nothing to ask of the inventory.
    let bare = prepared(json!({"apps": {"applications": [], "allowedInstallers": null}}));
    assert_eq!(
        status_of(&bare, &s, &RuleId::AppInventory).status,
        Status::NotApplicable
    );
}

#[test]
fn blocked_apps_must_not_be_installed_system_or_not() {
    let p = prepared(json!({}));
    let anydesk = app_rule("com.anydesk.anydeskandroid");
    assert!(
        find(&judge(&p, &android()), &anydesk).is_none(),
        "absent: nothing to judge"
    );
    for system in [false, true] {
        let mut s = android();
        let mut a = app("com.anydesk.anydeskandroid", 4, 1);
        a.system = system;
        apps_mut(&mut s).push(a);
        let v = status_of(&p, &s, &anydesk);
        assert_eq!(
            (v.status, v.reasons.joined()),
            (Status::NonCompliant, "APP_INSTALLED".into())
        );
        assert_eq!(v.enforcement, Enforcement::SuspendApp);
    }
}

#[test]
fn signing_certificates_are_pinned() {
    let p = prepared(json!({}));
    let signal = app_rule("org.thoughtcrime.securesms");
    let mut s = android();
    app_mut(&mut s, "org.thoughtcrime.securesms").signing_certs_sha256 = vec![cert(2)];
    let v = status_of(&p, &s, &signal);
    assert_eq!(v.reasons.joined(), "APP_SIGNING_CERT_MISMATCH");
    // A rotation lineage or a second signer: any pinned certificate is enough.
    app_mut(&mut s, "org.thoughtcrime.securesms").signing_certs_sha256 = vec![cert(2), cert(1)];
    assert_eq!(status_of(&p, &s, &signal).status, Status::Compliant);
    app_mut(&mut s, "org.thoughtcrime.securesms").signing_certs_sha256 = vec![];
    let v = status_of(&p, &s, &signal);
    assert_eq!(
        (v.status, v.unobserved.joined()),
        (Status::Unknown, "apps[].signingCertsSha256".into())
    );
}

#[test]
fn minimum_version_codes_are_enforced() {
    let p = prepared(json!({}));
    let signal = app_rule("org.thoughtcrime.securesms");
    let mut s = android();
    app_mut(&mut s, "org.thoughtcrime.securesms").version_code = Some(99);
    assert_eq!(
        status_of(&p, &s, &signal).reasons.joined(),
        "APP_NOT_UPDATED"
    );
    app_mut(&mut s, "org.thoughtcrime.securesms").version_code = Some(100);
    assert_eq!(status_of(&p, &s, &signal).status, Status::Compliant);
    app_mut(&mut s, "org.thoughtcrime.securesms").version_code = None;
    let v = status_of(&p, &s, &signal);
    assert_eq!(
        (v.status, v.unobserved.joined()),
        (Status::Unknown, "apps[].versionCode".into())
    );
    // Several failures at once are all reported; an unknown fact does not hide them.
    let a = app_mut(&mut s, "org.thoughtcrime.securesms");
    a.signing_certs_sha256 = vec![cert(2)];
    a.install_source = Some(InstallSource::default());
    let v = status_of(&p, &s, &signal);
    assert_eq!(v.status, Status::NonCompliant);
    assert_eq!(
        v.reasons.joined(),
        "APP_SIGNING_CERT_MISMATCH,INSTALLER_NOT_ALLOWED"
    );
    assert_eq!(v.unobserved.joined(), "apps[].versionCode");
}

#[test]
fn installers_are_checked_for_every_non_system_app() {
    let p = prepared(json!({}));
    let id = app_rule("org.example.notes");
    let with_source = |source: Option<InstallSource>| {
        let mut s = android();
        let mut a = app("org.example.notes", 5, 1);
        a.install_source = source;
        apps_mut(&mut s).push(a);
        status_of(&p, &s, &id)
    };
    assert_eq!(
        with_source(Some(InstallSource::from_installer(PLAY))).status,
        Status::Compliant
    );
    for bad in [
        InstallSource::default(),
        InstallSource::from_installer("org.fdroid.fdroid"),
    ] {
        let v = with_source(Some(bad));
        assert_eq!(v.reasons.joined(), "INSTALLER_NOT_ALLOWED");
        assert_eq!(
            v.enforcement,
            Enforcement::MarkNonCompliant,
            "the section's onViolation"
        );
    }
    let v = with_source(None);
    assert_eq!(
        (v.status, v.unobserved.joined()),
        (Status::Unknown, "apps[].installSource".into())
    );
    // System apps come with the image: no installer to check.
    assert_eq!(
        status_of(&p, &android(), &app_rule(PLAY)).status,
        Status::Compliant
    );
    // A rule's own installers replace the section's.
    let own = prepared(json!({"apps": {"applications": [
        {"packageName": "org.example.notes", "allowedInstallers": ["org.fdroid.fdroid"]}]}}));
    let mut s = android();
    let mut a = app("org.example.notes", 5, 1);
    a.install_source = Some(InstallSource::from_installer("org.fdroid.fdroid"));
    apps_mut(&mut s).push(a);
    assert_eq!(status_of(&own, &s, &id).status, Status::Compliant);
}

#[test]
fn allowlists_refuse_unlisted_apps_and_audit_only_reports() {
    let allow = prepared(json!({"apps": {"mode": "ALLOWLIST"}}));
    let mut s = android();
    apps_mut(&mut s).push(app("org.example.game", 6, 1));
    let v = status_of(&allow, &s, &app_rule("org.example.game"));
    assert_eq!(v.reasons.joined(), "APP_NOT_IN_ALLOWLIST");
    assert_eq!(v.enforcement, Enforcement::MarkNonCompliant);
    // Listed apps and system apps are fine; wireguard is not listed in the base policy.
    let verdicts = judge(&allow, &android());
    let open: Vec<String> = verdicts
        .iter()
        .filter(|v| v.status.is_open())
        .map(|v| v.rule.to_string())
        .collect();
    assert_eq!(open, ["app:com.wireguard.android"]);
    // Blocklist: unlisted Play apps are fine.
    let block = prepared(json!({}));
    assert_eq!(
        status_of(&block, &s, &app_rule("org.example.game")).status,
        Status::Compliant
    );
    // Audit: judged as an allowlist, enforced as REPORT everywhere.
    let audit = prepared(json!({"apps": {"mode": "AUDIT"}}));
    for v in judge(&audit, &s).iter().filter(|v| v.rule.app().is_some()) {
        assert_eq!(v.enforcement, Enforcement::Report, "{}", v.rule);
    }
    assert_eq!(
        status_of(&audit, &s, &app_rule("org.example.game"))
            .reasons
            .joined(),
        "APP_NOT_IN_ALLOWLIST"
    );
}

#[test]
fn ios_apps_follow_bundle_id_rules_only() {
    let p = prepared(json!({}));
    let mut s = ios();
    s.apps = Some(vec![
        InstalledApp::new("com.example.iosapp"),
        InstalledApp::new("com.apple.mobilesafari"),
    ]);
    let verdicts = judge(&p, &s);
    let apps: Vec<(String, Status)> = verdicts
        .iter()
        .filter(|v| v.rule.app().is_some())
        .map(|v| (v.rule.to_string(), v.status))
        .collect();
    // The Android rules (forced agent and Signal) do not apply; no installer rule on iOS.
    assert_eq!(
        apps,
        [
            ("app:com.apple.mobilesafari".to_owned(), Status::Compliant),
            ("app:com.example.iosapp".to_owned(), Status::NonCompliant),
        ]
    );
}

#[test]
fn verdicts_do_not_depend_on_the_order_of_apps_and_duplicates_merge() {
    let p = prepared(json!({"apps": {"mode": "ALLOWLIST"}}));
    let mut s = android();
    apps_mut(&mut s).push(app("org.example.game", 6, 1));
    let sorted = judge(&p, &s);
    apps_mut(&mut s).reverse();
    assert_eq!(judge(&p, &s), sorted);
    // A snapshot built in code may list an app twice: one verdict, the worst of both.
    let mut dup = android();
    let mut bad = app("org.thoughtcrime.securesms", 2, 150);
    bad.install_source = None;
    apps_mut(&mut dup).push(bad);
    let a = judge(&p, &dup);
    apps_mut(&mut dup).reverse();
    assert_eq!(judge(&p, &dup), a);
    let v = find(&a, &app_rule("org.thoughtcrime.securesms")).unwrap();
    assert_eq!(v.reasons.joined(), "APP_SIGNING_CERT_MISMATCH");
    let signal = app_rule("org.thoughtcrime.securesms");
    assert_eq!(a.iter().filter(|v| v.rule == signal).count(), 1);
}

#[test]
fn the_sample_snapshots_parse_and_judge_as_documented() {
    let baseline = PreparedPolicy::new(&load_policy("baseline"));
    let election = PreparedPolicy::new(&load_policy("election-sensitive"));
    let at = portcullis_core::Timestamp::parse_rfc3339("2026-03-01T08:00:00Z").unwrap();
    let compliant = load_snapshot("pixel-compliant.json");
    for p in [&baseline, &election] {
        let open: Vec<_> = evaluate_rules(p, &compliant, at)
            .into_iter()
            .filter(|v| v.status.is_open())
            .collect();
        assert!(open.is_empty(), "{}: {open:?}", p.name());
    }
    let violations = load_snapshot("pixel-violations.json");
    let open: Vec<(String, String)> = evaluate_rules(&baseline, &violations, at)
        .into_iter()
        .filter(|v| v.status.is_open())
        .map(|v| {
            (
                v.rule.to_string(),
                if v.status == Status::Unknown {
                    v.unobserved.joined()
                } else {
                    v.reasons.joined()
                },
            )
        })
        .collect();
    let want = [
        ("app:com.anydesk.anydeskandroid", "APP_INSTALLED"),
        ("app:com.example.sideloaded", "INSTALLER_NOT_ALLOWED"),
        (
            "configuration.maximumSecurityPatchAgeDays",
            "SECURITY_PATCH_LEVEL",
        ),
        (
            "configuration.passwordRequirements.passwordQuality",
            "settings.passwordComplexity",
        ),
        (
            "configuration.advancedSecurityOverrides.developerSettings",
            "DEVELOPER_OPTIONS_ENABLED",
        ),
        (
            "configuration.debuggingFeaturesAllowed",
            "DEBUGGING_ENABLED",
        ),
        (
            "configuration.deviceRadioState.cellularTwoGState",
            "CELLULAR_2G_ENABLED",
        ),
        (
            "configuration.userInstalledCaCerts",
            "USER_CA_CERT_INSTALLED",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(open, want);
    let iphone = load_snapshot("iphone.json");
    let open: Vec<String> = evaluate_rules(&baseline, &iphone, at)
        .into_iter()
        .filter(|v| v.status.is_open())
        .map(|v| format!("{} {}", v.rule, v.status.as_str()))
        .collect();
    assert_eq!(
        open,
        [
            "configuration.minimumIosVersion NON_COMPLIANT",
            "configuration.passwordRequirements.passwordQuality UNKNOWN",
            "configuration.passwordRequirements.maximumFailedPasswordsForWipe UNKNOWN",
            "configuration.deviceRadioState.cellularTwoGState UNKNOWN",
            "configuration.userInstalledCaCerts UNKNOWN",
        ]
    );
}

#[test]
fn esim_additions_are_reported_where_the_platform_shows_them() {
    let id = setting(SettingRule::UserInitiatedAddEsimSettings);
    let disallowed = prepared(json!({"configuration": {"deviceRadioState": {
        "userInitiatedAddEsimSettings": "USER_INITIATED_ADD_ESIM_DISALLOWED"}}}));
    let allowed = prepared(json!({"configuration": {"deviceRadioState": {
        "userInitiatedAddEsimSettings": "USER_INITIATED_ADD_ESIM_ALLOWED"}}}));
    let mut s = android();
    s.settings.add_esim_disallowed = Some(true);
    assert_eq!(status_of(&disallowed, &s, &id).status, Status::Compliant);
    s.settings.add_esim_disallowed = Some(false);
    let v = status_of(&disallowed, &s, &id);
    assert_eq!(
        (v.status, v.reasons.joined()),
        (Status::NonCompliant, "ESIM_ADD_ALLOWED".into())
    );
    assert_eq!(status_of(&allowed, &s, &id).status, Status::NotApplicable);
    let unset = prepared(json!({"configuration": {"deviceRadioState": {
        "userInitiatedAddEsimSettings": null}}}));
    assert_eq!(status_of(&unset, &s, &id).status, Status::NotApplicable);
    // An iOS app cannot see the restriction: unknown, for the MDM to answer.
    let v = status_of(&disallowed, &ios(), &id);
    assert_eq!(v.status, Status::Unknown);
    assert_eq!(v.unobserved.joined(), "settings.addEsimDisallowed");
}
