//! AMAPI Policy import and export: Google's own example policies import with a
//! not-applied report and evaluate; AMAPI's defaults apply where a document is silent;
//! ten AMAPI fields survive import then export; and for any Portcullis policy,
//! import(export(p)) gives p back.

mod compliance_support;

use compliance_support::{android, policies_dir, verdict};
use portcullis_core::compliance::{ComplianceEngine, PreparedPolicy, RuleId, Status};
use portcullis_core::policy::amapi::{export, import};
use portcullis_core::policy::model::{
    AppMode, AppRule, AppViolationAction, BlockAction, CellularTwoGState, EncryptionPolicy,
    InstallType, PasswordQuality, PasswordRequirements, PolicyEnforcementRule, SettingName,
    Sha256Fingerprint, SigningKeyCert, UsbDataAccess, UserInitiatedAddEsimSettings, WipeAction,
};
use portcullis_core::policy::{Policy, PolicyError};
use portcullis_core::{Error, Timestamp};
use proptest::prelude::*;
use serde_json::{json, Value};

fn baseline() -> Policy {
    Policy::from_json(&std::fs::read(policies_dir().join("baseline.json")).unwrap()).unwrap()
}

fn skipped(report: &[portcullis_core::policy::amapi::NotApplied]) -> Vec<&str> {
    report.iter().map(|n| n.path.as_str()).collect()
}

/// The policy of Google's "Managed configurations" sample notebook (Option 1,
/// google/android-management-api-samples, notebooks/managed_configurations.ipynb, cell
/// 3OSBO0Kfpc-e), with the notebook's `package_name` and `mdm_id` variables filled in.
const GOOGLE_MANAGED_CONFIG: &str = r#"{
    "applications": [
        {
            "installType": "FORCE_INSTALLED",
            "packageName": "com.google.samples.apps.iosched",
            "managedConfigurationTemplate": {
                "templateId": "mcm-example"
            }
        }
    ],
    "debuggingFeaturesAllowed": true
}"#;

/// The policy of Google's Android Management API quickstart
/// (google/android-management-api-samples, notebooks/quickstart.ipynb, cell pjHfDSb8BoBP,
/// the notebook behind developers.google.com/android/management/quickstart).
const GOOGLE_QUICKSTART: &str = r#"{
  "applications": [
    {
      "packageName": "com.google.samples.apps.iosched",
      "installType": "FORCE_INSTALLED"
    }
  ],
  "advancedSecurityOverrides": {
     "developerSettings": "DEVELOPER_SETTINGS_ALLOWED"
  }
}"#;

#[test]
fn googles_sample_policies_import_with_a_report_and_evaluate() {
    let base = baseline();
    let imported = import(GOOGLE_MANAGED_CONFIG.as_bytes(), &base).unwrap();
    assert_eq!(
        skipped(&imported.not_applied),
        ["applications[0].managedConfigurationTemplate"]
    );
    let p = &imported.policy;
    assert!(p.configuration.debugging_features_allowed);
    let iosched = p
        .apps
        .applications
        .iter()
        .find(|a| a.package_name.as_deref() == Some("com.google.samples.apps.iosched"))
        .unwrap();
    assert_eq!(iosched.install_type, InstallType::ForceInstalled);
    // The baseline's own Android rules are replaced by the AMAPI list; its iOS rules stay.
    assert!(p.apps.applications.iter().all(|a| a.bundle_id.is_some()
        || a.package_name.as_deref() == Some("com.google.samples.apps.iosched")));
    // AMAPI's defaults, not the baseline's: 2G is the user's choice.
    assert_eq!(
        p.configuration.device_radio_state.cellular_two_g_state,
        CellularTwoGState::CellularTwoGUserChoice
    );
    // The SIM and inspection sections are the base's.
    assert_eq!(p.sim, base.sim);
    assert_eq!(p.inspection, base.inspection);

    // It evaluates: the forced app is missing from the device.
    let now = Timestamp::from_unix_millis(1_772_323_200_000);
    let eval = ComplianceEngine::new().evaluate(&PreparedPolicy::new(p), &android(), now);
    let v = verdict(
        &eval,
        &RuleId::App("com.google.samples.apps.iosched".into()),
    )
    .expect("a verdict for the forced app");
    assert_eq!(v.status, Status::NonCompliant);
    assert_eq!(
        serde_json::to_value(v).unwrap()["reasons"],
        json!(["APP_NOT_INSTALLED"])
    );

    let quick = import(GOOGLE_QUICKSTART.as_bytes(), &base).unwrap();
    assert!(quick.not_applied.is_empty());
    assert_eq!(
        serde_json::to_value(&quick.policy.configuration.advanced_security_overrides).unwrap()
            ["developerSettings"],
        "DEVELOPER_SETTINGS_ALLOWED"
    );
    let eval =
        ComplianceEngine::new().evaluate(&PreparedPolicy::new(&quick.policy), &android(), now);
    assert!(!eval.verdicts.is_empty());
}

/// Ten AMAPI fields, each with a non-default value, come back unchanged from
/// import then export.
#[test]
fn ten_amapi_fields_round_trip() {
    let fp = Sha256Fingerprint([0xfb; 32]);
    let doc = json!({
        "applications": [{
            "packageName": "org.thoughtcrime.securesms",
            "installType": "PREINSTALLED",
            "signingKeyCerts": [{"signingKeyCertFingerprintSha256": fp.to_base64()}],
            "minimumVersionCode": 1500
        }],
        "playStoreMode": "BLACKLIST",
        "minimumApiLevel": 34,
        "passwordPolicies": [{"passwordQuality": "COMPLEXITY_HIGH", "maximumFailedPasswordsForWipe": 12}],
        "maximumTimeToLock": "120000",
        "encryptionPolicy": "ENABLED_WITH_PASSWORD",
        "advancedSecurityOverrides": {
            "untrustedAppsPolicy": "ALLOW_INSTALL_IN_PERSONAL_PROFILE_ONLY",
            "developerSettings": "DEVELOPER_SETTINGS_ALLOWED",
            "googlePlayProtectVerifyApps": "VERIFY_APPS_USER_CHOICE"
        },
        "deviceRadioState": {
            "cellularTwoGState": "CELLULAR_TWO_G_DISABLED",
            "userInitiatedAddEsimSettings": "USER_INITIATED_ADD_ESIM_DISALLOWED"
        },
        "deviceConnectivityManagement": {"usbDataAccess": "DISALLOW_USB_FILE_TRANSFER"},
        "alwaysOnVpnPackage": {"packageName": "com.wireguard.android", "lockdownEnabled": true},
        "permittedAccessibilityServices": {"packageNames": ["org.example.reader"]}
    });
    let imported = import(doc.to_string().as_bytes(), &baseline()).unwrap();
    assert!(
        imported.not_applied.is_empty(),
        "{:?}",
        imported.not_applied
    );
    let out = export(&imported.policy).document;
    let fields = [
        "applications",
        "playStoreMode",
        "minimumApiLevel",
        "passwordPolicies",
        "maximumTimeToLock",
        "encryptionPolicy",
        "advancedSecurityOverrides",
        "deviceRadioState",
        "deviceConnectivityManagement",
        "alwaysOnVpnPackage",
        "permittedAccessibilityServices",
    ];
    assert!(fields.len() >= 10);
    for f in fields {
        assert_eq!(out[f], doc[f], "{f}");
    }
}

#[test]
fn a_silent_document_means_amapis_defaults() {
    let imported = import(b"{}", &baseline()).unwrap();
    let c = &imported.policy.configuration;
    assert_eq!(
        c.device_radio_state.cellular_two_g_state,
        CellularTwoGState::CellularTwoGUserChoice
    );
    assert_eq!(c.device_radio_state.user_initiated_add_esim_settings, None);
    assert_eq!(c.encryption_policy, None);
    assert_eq!(c.password_requirements, None);
    assert_eq!(c.maximum_time_to_lock, None);
    assert!(!c.debugging_features_allowed);
    assert_eq!(imported.policy.apps.mode, AppMode::Allowlist);
    // The baseline itself keeps its stricter default.
    assert_eq!(
        baseline()
            .configuration
            .device_radio_state
            .cellular_two_g_state,
        CellularTwoGState::CellularTwoGDisabled
    );
}

#[test]
fn fields_without_a_portcullis_meaning_are_reported_not_dropped() {
    let doc = json!({
        "name": "enterprises/LC0123/policies/field-staff",
        "version": "7",
        "cameraDisabled": true,
        "passwordPolicies": [
            {"passwordScope": "SCOPE_PROFILE", "passwordQuality": "COMPLEXITY_HIGH"},
            {"passwordScope": "SCOPE_DEVICE", "passwordQuality": "NUMERIC_COMPLEX", "passwordMinimumLength": 8}
        ],
        "passwordRequirements": {"passwordQuality": "COMPLEXITY_LOW"},
        "deviceRadioState": {"wifiState": "WIFI_ENABLED"},
        "policyEnforcementRules": [
            {"settingName": "passwordPolicies", "blockAction": {"blockAfterDays": 1},
             "wipeAction": {"wipeAfterDays": 9}},
            {"settingName": "cameraDisabled", "blockAction": {"blockAfterDays": 0},
             "wipeAction": {"wipeAfterDays": 1}}
        ]
    });
    let imported = import(doc.to_string().as_bytes(), &baseline()).unwrap();
    let report = skipped(&imported.not_applied);
    for path in [
        "version",
        "cameraDisabled",
        "passwordPolicies[0]",
        "passwordPolicies[1].passwordQuality",
        "passwordPolicies[1].passwordMinimumLength",
        "passwordRequirements",
        "deviceRadioState.wifiState",
        "policyEnforcementRules[1]",
    ] {
        assert!(report.contains(&path), "{path} missing from {report:?}");
    }
    let p = &imported.policy;
    assert_eq!(p.name, "field-staff");
    let config = p
        .policy_enforcement_rules
        .iter()
        .find(|r| r.setting_name == SettingName::Configuration)
        .unwrap();
    assert_eq!(config.wipe_action.as_ref().unwrap().wipe_after_days, 9);
}

#[test]
fn fingerprints_import_as_base64_or_hex_and_bad_values_name_the_field() {
    let fp = Sha256Fingerprint([0x29; 32]);
    for text in [fp.to_base64(), fp.to_string()] {
        let doc = json!({"applications": [{"packageName": "org.example.app",
            "signingKeyCerts": [{"signingKeyCertFingerprintSha256": text}]}]});
        let p = import(doc.to_string().as_bytes(), &baseline())
            .unwrap()
            .policy;
        let rule = p
            .apps
            .applications
            .iter()
            .find(|a| a.package_name.as_deref() == Some("org.example.app"))
            .unwrap();
        assert_eq!(
            rule.signing_key_certs[0].signing_key_cert_fingerprint_sha256,
            fp
        );
        assert_eq!(rule.install_type, InstallType::Available);
    }
    for (doc, path) in [
        (
            json!({"applications": [{"packageName": "org.example.app", "installType": "SIDELOADED"}]}),
            "applications[0].installType",
        ),
        (
            json!({"applications": [{"packageName": "org.example.app",
                "signingKeyCerts": [{"signingKeyCertFingerprintSha256": "AAAA"}]}]}),
            "applications[0].signingKeyCerts[0].signingKeyCertFingerprintSha256",
        ),
        (json!({"maximumTimeToLock": "soon"}), "maximumTimeToLock"),
    ] {
        match import(doc.to_string().as_bytes(), &baseline()) {
            Err(Error::Policy(PolicyError::InvalidAmapi { path: p, .. })) => assert_eq!(p, path),
            other => panic!("{doc}: {other:?}"),
        }
    }
}

#[test]
fn export_lists_what_amapi_cannot_carry() {
    let base = baseline();
    let out = export(&base);
    let paths: Vec<&str> = out.not_exported.iter().map(|n| n.path.as_str()).collect();
    for path in [
        "sim",
        "inspection",
        "apps.onViolation",
        "configuration.onViolation",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    // Every value is explicit, so AMAPI's defaults never decide on export.
    assert_eq!(
        out.document["deviceRadioState"]["cellularTwoGState"],
        "CELLULAR_TWO_G_DISABLED"
    );
    assert_eq!(
        out.document["advancedSecurityOverrides"]["untrustedAppsPolicy"],
        "DISALLOW_INSTALL"
    );
    // The configuration ladder names AMAPI top-level fields, never a Portcullis section.
    let names: Vec<&Value> = out.document["policyEnforcementRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["settingName"])
        .collect();
    assert!(names.iter().all(|n| *n != "configuration" && *n != "apps"));
}

// ---------------------------------------------------------------------------------
// The round-trip property

const INSTALL_TYPES: [InstallType; 7] = [
    InstallType::Available,
    InstallType::Preinstalled,
    InstallType::ForceInstalled,
    InstallType::RequiredForSetup,
    InstallType::Kiosk,
    InstallType::Custom,
    InstallType::Blocked,
];

fn app_rule() -> impl Strategy<Value = AppRule> {
    (
        any::<bool>(),
        0usize..7,
        prop::collection::vec(any::<u8>(), 0..3),
        prop::option::of(1u64..1_000_000),
        prop::option::of(Just(vec!["com.android.vending".to_string()])),
        prop::option::of(Just(AppViolationAction::SuspendApp)),
        any::<bool>(),
    )
        .prop_map(|(ios, t, certs, min, inst, onv, notes)| {
            let install_type = INSTALL_TYPES[t];
            let mut certs: Vec<u8> = certs;
            certs.sort_unstable();
            certs.dedup();
            let blocked = install_type == InstallType::Blocked;
            AppRule {
                package_name: None,
                bundle_id: ios.then(String::new),
                install_type,
                signing_key_certs: if ios || blocked {
                    vec![]
                } else {
                    certs
                        .into_iter()
                        .map(|b| SigningKeyCert {
                            signing_key_cert_fingerprint_sha256: Sha256Fingerprint([b; 32]),
                        })
                        .collect()
                },
                minimum_version_code: if ios || blocked { None } else { min },
                allowed_installers: if ios { None } else { inst },
                on_violation: onv,
                notes: if notes { vec!["why".into()] } else { vec![] },
            }
        })
}

fn ladder(setting: SettingName) -> impl Strategy<Value = Option<PolicyEnforcementRule>> {
    prop::option::of((prop::option::of(0u32..10), any::<bool>(), any::<bool>())).prop_map(
        move |r| {
            r.map(|(block, wipe, frp)| PolicyEnforcementRule {
                setting_name: setting,
                block_action: block.map(|d| BlockAction {
                    block_after_days: d,
                }),
                wipe_action: match (block, wipe) {
                    (Some(d), true) => Some(WipeAction {
                        wipe_after_days: d + 5,
                        preserve_frp: frp,
                    }),
                    _ => None,
                },
                notes: vec![],
            })
        },
    )
}

prop_compose! {
    fn policy()(
        apps in prop::collection::vec(app_rule(), 0..6),
        mode in 0usize..3,
        api in prop::option::of(21u32..=100),
        pw in prop::option::of((0usize..3, prop::option::of(4u32..=100))),
        lock in prop::option::of(1000u64..=86_400_000),
        enc in prop::option::of(any::<bool>()),
        flags in prop::collection::vec(any::<bool>(), 8),
        esim in prop::option::of(any::<bool>()),
        usb in prop::option::of(0usize..3),
        vpn in prop::option::of(any::<bool>()),
        a11y in prop::option::of(prop::collection::vec(Just("org.example.reader".to_string()), 0..2)),
        ladders in (ladder(SettingName::Apps), ladder(SettingName::Configuration), ladder(SettingName::Sim)),
        swap in any::<bool>(),
    ) -> Policy {
        let mut p = baseline();
        p.apps.mode = [AppMode::Allowlist, AppMode::Blocklist, AppMode::Audit][mode];
        p.apps.applications = apps
            .into_iter()
            .enumerate()
            .map(|(i, mut a)| {
                if a.bundle_id.is_some() {
                    a.bundle_id = Some(format!("org.example.ios{i}"));
                } else {
                    a.package_name = Some(format!("org.example.app{i}"));
                }
                a
            })
            .collect();
        let c = &mut p.configuration;
        c.minimum_api_level = api;
        c.password_requirements = pw.map(|(q, wipe)| PasswordRequirements {
            password_quality: [
                PasswordQuality::ComplexityLow,
                PasswordQuality::ComplexityMedium,
                PasswordQuality::ComplexityHigh,
            ][q],
            maximum_failed_passwords_for_wipe: wipe,
        });
        c.maximum_time_to_lock = lock;
        c.encryption_policy = enc.map(|w| {
            if w { EncryptionPolicy::EnabledWithPassword } else { EncryptionPolicy::EnabledWithoutPassword }
        });
        let o = &mut c.advanced_security_overrides;
        o.untrusted_apps_policy = serde_json::from_value(json!(
            if flags[0] { "ALLOW_INSTALL_DEVICE_WIDE" } else { "DISALLOW_INSTALL" })).unwrap();
        o.developer_settings = serde_json::from_value(json!(
            if flags[1] { "DEVELOPER_SETTINGS_ALLOWED" } else { "DEVELOPER_SETTINGS_DISABLED" })).unwrap();
        o.google_play_protect_verify_apps = serde_json::from_value(json!(
            if flags[2] { "VERIFY_APPS_USER_CHOICE" } else { "VERIFY_APPS_ENFORCED" })).unwrap();
        c.debugging_features_allowed = flags[3];
        c.device_radio_state.cellular_two_g_state = if flags[4] {
            CellularTwoGState::CellularTwoGUserChoice
        } else {
            CellularTwoGState::CellularTwoGDisabled
        };
        c.device_radio_state.user_initiated_add_esim_settings = esim.map(|d| {
            if d { UserInitiatedAddEsimSettings::UserInitiatedAddEsimDisallowed }
            else { UserInitiatedAddEsimSettings::UserInitiatedAddEsimAllowed }
        });
        c.mobile_networks_config_disabled = flags[5];
        c.device_connectivity_management = usb.map(|u| {
            portcullis_core::policy::model::DeviceConnectivityManagement {
                usb_data_access: [
                    UsbDataAccess::AllowUsbDataTransfer,
                    UsbDataAccess::DisallowUsbFileTransfer,
                    UsbDataAccess::DisallowUsbDataTransfer,
                ][u],
            }
        });
        c.always_on_vpn_package = vpn.map(|lockdown| portcullis_core::policy::model::AlwaysOnVpnPackage {
            package_name: "com.wireguard.android".into(),
            lockdown_enabled: lockdown,
        });
        c.permitted_accessibility_services = a11y.map(|names| {
            portcullis_core::policy::model::PackageNameList { package_names: names }
        });
        let (a, cf, s) = ladders;
        let mut rules: Vec<_> = [a, cf, s].into_iter().flatten().collect();
        if swap {
            rules.reverse();
        }
        p.policy_enforcement_rules = rules;
        p.validate().expect("the generator makes valid policies");
        p
    }
}

/// The AMAPI-mapped parts of `p` replaced by those of a different policy, so an import
/// that took them from the base instead of the document would fail the property.
fn scrambled(p: &Policy) -> Policy {
    let mut b = p.clone();
    let other =
        Policy::from_json(&std::fs::read(policies_dir().join("election-sensitive.json")).unwrap())
            .unwrap();
    let keep_ios = b.configuration.minimum_ios_version.clone();
    let keep_patch = (
        b.configuration.minimum_security_patch_level.clone(),
        b.configuration.maximum_security_patch_age_days,
        b.configuration.user_installed_ca_certs.clone(),
        b.configuration.on_violation,
        b.configuration.notes.clone(),
    );
    b.configuration = other.configuration;
    b.configuration.minimum_ios_version = keep_ios;
    (
        b.configuration.minimum_security_patch_level,
        b.configuration.maximum_security_patch_age_days,
        b.configuration.user_installed_ca_certs,
        b.configuration.on_violation,
        b.configuration.notes,
    ) = keep_patch;
    for a in &mut b.apps.applications {
        if a.package_name.is_some() {
            a.install_type = InstallType::Blocked;
            a.signing_key_certs.clear();
            a.minimum_version_code = None;
        }
    }
    for r in &mut b.policy_enforcement_rules {
        if matches!(
            r.setting_name,
            SettingName::Apps | SettingName::Configuration
        ) {
            r.block_action = Some(BlockAction {
                block_after_days: 200,
            });
            r.wipe_action = None;
        }
    }
    if b.apps.mode == AppMode::Blocklist {
        b.apps.mode = AppMode::Allowlist;
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn import_of_export_is_the_policy(p in policy()) {
        let exported = export(&p);
        let text = serde_json::to_vec(&exported.document).unwrap();
        let back = import(&text, &p).unwrap();
        prop_assert!(back.not_applied.is_empty(), "{:?}", back.not_applied);
        prop_assert_eq!(&back.policy, &p);
        let from_other = import(&text, &scrambled(&p)).unwrap();
        prop_assert_eq!(&from_other.policy, &p);
    }
}

#[test]
fn reason_codes_carry_amapi_names_and_old_names_still_parse() {
    use portcullis_core::compliance::Reason;
    assert_eq!(Reason::OsNotPermitted.to_string(), "OS_NOT_PERMITTED");
    assert_eq!(
        Reason::PasswordNotSufficient.to_string(),
        "PASSWORD_POLICIES_PASSWORD_NOT_SUFFICIENT"
    );
    for (old, now) in [
        ("OS_VERSION", Reason::OsNotPermitted),
        ("API_LEVEL", Reason::OsNotPermitted),
        ("PASSWORD_NOT_SUFFICIENT", Reason::PasswordNotSufficient),
        ("APP_SIGNING_CERT_MISMATCH", Reason::AppSigningCertMismatch),
    ] {
        assert_eq!(old.parse::<Reason>(), Ok(now), "{old}");
        assert_eq!(
            serde_json::from_value::<Reason>(json!(old)).unwrap(),
            now,
            "{old}"
        );
    }
    assert!("OS_VERSIONS".parse::<Reason>().is_err());
}
