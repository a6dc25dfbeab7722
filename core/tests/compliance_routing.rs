//! Routing: the platform reports what the agent can do (device owner or companion,
//! delegated scopes, API level, supervision) and the core sends each action to the
//! agent, to the MDM, or to "not possible here" with a reason.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::{
    Action, Capabilities, ComplianceEngine, DelegatedScope, DeploymentMode, DeviceSnapshot,
    InstalledApp, Measure, NotPossibleReason, PackageRoles, Platform, RequestedAction, Route,
    UserRestriction,
};
use portcullis_core::policy::model::PasswordQuality;
use serde_json::json;

const ANYDESK: &str = "com.anydesk.anydeskandroid";

fn restriction(r: UserRestriction) -> Measure {
    Measure::UserRestriction { restriction: r }
}

fn suspend(p: &str) -> Measure {
    Measure::PackageSuspended { package: p.into() }
}

fn hide(p: &str) -> Measure {
    Measure::PackageHidden { package: p.into() }
}

fn uninstall_blocked() -> Measure {
    Measure::UninstallBlocked {
        package: AGENT.into(),
    }
}

/// Every measure the engine knows, one of each.
fn all_measures() -> Vec<Measure> {
    vec![
        restriction(UserRestriction::DisallowDebuggingFeatures),
        restriction(UserRestriction::DisallowInstallUnknownSourcesGlobally),
        restriction(UserRestriction::EnsureVerifyApps),
        restriction(UserRestriction::DisallowCellular2g),
        restriction(UserRestriction::DisallowUsbFileTransfer),
        restriction(UserRestriction::DisallowConfigMobileNetworks),
        Measure::UsbDataSignalingDisabled,
        Measure::MaximumTimeToLock { millis: 60_000 },
        Measure::MaximumFailedPasswordsForWipe { attempts: 10 },
        Measure::RequiredPasswordComplexity {
            complexity: PasswordQuality::ComplexityHigh,
        },
        Measure::AlwaysOnVpn {
            package: "com.wireguard.android".into(),
            lockdown: true,
        },
        Measure::PermittedAccessibilityServices { packages: vec![] },
        uninstall_blocked(),
        suspend(ANYDESK),
        hide(ANYDESK),
        Measure::AccessBlocked,
    ]
}

fn remove_cert() -> Action {
    Action::RemoveCaCert { sha256: cert(3) }
}

const NOT_POSSIBLE_API: Route = Route::NotPossible(NotPossibleReason::ApiLevel);

#[test]
fn an_owner_does_everything_its_api_level_has() {
    for api in [33, 34, 35] {
        let caps = Capabilities::android_owner(Some(api));
        assert_eq!(caps.deployment_mode(), DeploymentMode::Owner);
        for m in all_measures() {
            let want = if m == restriction(UserRestriction::DisallowCellular2g) && api < 34 {
                NOT_POSSIBLE_API
            } else {
                Route::Agent
            };
            assert_eq!(caps.route_measure(&m), want, "API {api}: {m:?}");
        }
        for a in [
            remove_cert(),
            Action::LockDevice,
            Action::WipeDevice { preserve_frp: true },
            Action::NotifyUser { notices: vec![] },
        ] {
            assert_eq!(caps.route_action(&a), Route::Agent, "API {api}: {a:?}");
        }
        assert_eq!(
            caps.route_work_data_wipe(),
            Route::NotPossible(NotPossibleReason::NoWorkData)
        );
    }
    // Below API 31 neither USB data signalling nor the complexity call exists for the
    // agent; the first is missing from the OS, the second the EMM can still approximate.
    let old = Capabilities::android_owner(Some(30));
    assert_eq!(
        old.route_measure(&Measure::UsbDataSignalingDisabled),
        NOT_POSSIBLE_API
    );
    assert_eq!(
        old.route_measure(&Measure::RequiredPasswordComplexity {
            complexity: PasswordQuality::ComplexityLow
        }),
        Route::Mdm
    );
    // An unknown API level: the agent does not call a gated API blind.
    let unknown = Capabilities::android_owner(None);
    assert_eq!(
        unknown.route_measure(&restriction(UserRestriction::DisallowCellular2g)),
        Route::Mdm
    );
}

#[test]
fn a_companion_without_scopes_hands_everything_to_the_emm() {
    let caps = Capabilities::android_companion([], Some(34));
    assert_eq!(caps.deployment_mode(), DeploymentMode::Companion);
    for m in all_measures() {
        assert_eq!(caps.route_measure(&m), Route::Mdm, "{m:?}");
    }
    for a in [
        remove_cert(),
        Action::LockDevice,
        Action::WipeDevice {
            preserve_frp: false,
        },
    ] {
        assert_eq!(caps.route_action(&a), Route::Mdm, "{a:?}");
    }
    assert_eq!(
        caps.route_action(&Action::NotifyUser { notices: vec![] }),
        Route::Agent
    );
    assert_eq!(caps.route_work_data_wipe(), Route::Mdm);
    // What the OS lacks, the EMM cannot set either.
    let api33 = Capabilities::android_companion([], Some(33));
    assert_eq!(
        api33.route_measure(&restriction(UserRestriction::DisallowCellular2g)),
        NOT_POSSIBLE_API
    );
}

#[test]
fn each_delegated_scope_gives_the_companion_exactly_its_own_calls() {
    // The calls each scope covers (DevicePolicyManager.DELEGATION_*).
    let covered = |scope: DelegatedScope| -> (Vec<Measure>, Vec<Action>) {
        match scope {
            DelegatedScope::PackageAccess => (
                vec![suspend(ANYDESK), hide(ANYDESK), Measure::AccessBlocked],
                vec![],
            ),
            DelegatedScope::BlockUninstall => (vec![uninstall_blocked()], vec![]),
            DelegatedScope::CertInstall => (vec![], vec![remove_cert()]),
            _ => (vec![], vec![]),
        }
    };
    for scope in DelegatedScope::ALL {
        let caps = Capabilities::android_companion([scope], Some(34));
        assert_eq!(caps.deployment_mode(), DeploymentMode::Companion);
        let (measures, actions) = covered(scope);
        for m in all_measures() {
            let want = if measures.contains(&m) {
                Route::Agent
            } else {
                Route::Mdm
            };
            assert_eq!(caps.route_measure(&m), want, "{scope:?}: {m:?}");
            for a in [
                Action::Apply { measure: m.clone() },
                Action::Lift { measure: m },
            ] {
                assert_eq!(caps.route_action(&a), want, "{scope:?}: {a:?}");
            }
        }
        let cert_route = if actions.contains(&remove_cert()) {
            Route::Agent
        } else {
            Route::Mdm
        };
        assert_eq!(caps.route_action(&remove_cert()), cert_route, "{scope:?}");
        // Lock, wipe and user restrictions stay with the EMM whatever is delegated.
        assert_eq!(caps.route_action(&Action::LockDevice), Route::Mdm);
        assert_eq!(
            caps.route_action(&Action::WipeDevice { preserve_frp: true }),
            Route::Mdm
        );
        assert_eq!(
            caps.route_measure(&restriction(UserRestriction::DisallowDebuggingFeatures)),
            Route::Mdm
        );
    }
    // Scopes add up.
    let both = Capabilities::android_companion(
        [DelegatedScope::PackageAccess, DelegatedScope::CertInstall],
        Some(35),
    );
    assert_eq!(both.route_measure(&suspend(ANYDESK)), Route::Agent);
    assert_eq!(both.route_action(&remove_cert()), Route::Agent);
    assert_eq!(both.route_measure(&uninstall_blocked()), Route::Mdm);
}

#[test]
fn delegation_constants_map_to_amapi_names_both_ways() {
    for scope in DelegatedScope::ALL {
        assert_eq!(
            DelegatedScope::from_android_constant(scope.android_constant()),
            Some(scope)
        );
        let json = serde_json::to_string(&scope).unwrap();
        assert_eq!(json, format!("\"{}\"", scope.as_str()));
    }
    assert_eq!(
        DelegatedScope::from_android_constant("delegation-package-access"),
        Some(DelegatedScope::PackageAccess)
    );
    assert_eq!(
        DelegatedScope::from_android_constant("PACKAGE_ACCESS"),
        None
    );
}

#[test]
fn ios_hands_everything_to_the_mdm_and_needs_supervision_for_app_blocking() {
    for supervised in [Some(true), None, Some(false)] {
        let caps = Capabilities::ios(supervised);
        assert_eq!(caps.deployment_mode(), DeploymentMode::Companion);
        for m in all_measures() {
            // iOS has no equivalent of Android's user restrictions, USB data signalling
            // or accessibility allowlist; blocking apps needs a supervised device.
            let not_on_ios = matches!(
                m,
                Measure::UserRestriction { .. }
                    | Measure::UsbDataSignalingDisabled
                    | Measure::PermittedAccessibilityServices { .. }
            );
            let blocks_apps = matches!(
                m,
                Measure::PackageSuspended { .. }
                    | Measure::PackageHidden { .. }
                    | Measure::AccessBlocked
                    | Measure::UninstallBlocked { .. }
            );
            let want = if not_on_ios {
                Route::NotPossible(NotPossibleReason::NotOnPlatform)
            } else if blocks_apps && supervised == Some(false) {
                Route::NotPossible(NotPossibleReason::NotSupervised)
            } else {
                Route::Mdm
            };
            assert_eq!(caps.route_measure(&m), want, "{supervised:?}: {m:?}");
        }
        for a in [
            remove_cert(),
            Action::LockDevice,
            Action::WipeDevice { preserve_frp: true },
        ] {
            assert_eq!(caps.route_action(&a), Route::Mdm, "{a:?}");
        }
        assert_eq!(caps.route_work_data_wipe(), Route::Mdm);
    }
    // A device-owner flag on iOS means nothing.
    let odd = Capabilities {
        device_owner: true,
        ..Capabilities::ios(Some(true))
    };
    assert_eq!(odd.route_action(&Action::LockDevice), Route::Mdm);
}

fn companion(scopes: &[&str]) -> DeviceSnapshot {
    let mut s = android();
    s.device_owner = false;
    s.delegated_scopes = Some(
        scopes
            .iter()
            .map(|n| serde_json::from_value(json!(n)).unwrap())
            .collect(),
    );
    s
}

fn with_anydesk(mut s: DeviceSnapshot) -> DeviceSnapshot {
    s.apps.as_mut().unwrap().push(app(ANYDESK, 4, 1));
    s.normalize().unwrap();
    s
}

fn routed<'a>(actions: &'a [RequestedAction], m: &Measure) -> Vec<&'a RequestedAction> {
    actions
        .iter()
        .filter(|a| matches!(&a.action, Action::Apply { measure } if measure == m))
        .collect()
}

#[test]
fn the_engine_routes_a_blocked_app_by_the_package_access_scope() {
    let p = prepared(json!({}));
    for (scopes, want) in [
        (vec!["PACKAGE_ACCESS"], Route::Agent),
        (vec!["BLOCK_UNINSTALL", "CERT_INSTALL"], Route::Mdm),
        (vec![], Route::Mdm),
    ] {
        let mut engine = ComplianceEngine::new();
        let e = engine.evaluate(&p, &with_anydesk(companion(&scopes)), T0);
        let got = routed(&e.new_actions, &suspend(ANYDESK));
        assert_eq!(got.len(), 1, "{scopes:?}: {:?}", e.new_actions);
        assert_eq!(got[0].route, want, "{scopes:?}");
        assert_eq!(
            engine
                .capabilities()
                .map(portcullis_core::compliance::Capabilities::deployment_mode),
            Some(DeploymentMode::Companion)
        );
    }
}

#[test]
fn a_companion_keeps_its_own_uninstall_block_with_the_scope_and_leaves_settings_to_the_emm() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = companion(&["BLOCK_UNINSTALL"]);
    s.settings.developer_options_enabled = Some(true);
    let e = engine.evaluate(&p, &s, T0);
    let agent_applied: Vec<&Measure> = e
        .new_actions
        .iter()
        .filter(|a| a.route == Route::Agent)
        .filter_map(|a| match &a.action {
            Action::Apply { measure } => Some(measure),
            _ => None,
        })
        .collect();
    assert_eq!(agent_applied, [&uninstall_blocked()]);
    // Without the scope, the agent does nothing of the kind.
    let mut engine = ComplianceEngine::new();
    let e = engine.evaluate(&p, &companion(&[]), T0);
    assert!(
        e.new_actions
            .iter()
            .all(|a| a.route != Route::Agent || matches!(a.action, Action::NotifyUser { .. })),
        "{:?}",
        e.new_actions
    );
}

#[test]
fn a_user_ca_certificate_is_removed_by_the_agent_only_with_cert_install() {
    let p = prepared(json!({}));
    for (scopes, want) in [
        (vec!["CERT_INSTALL"], Route::Agent),
        (vec!["PACKAGE_ACCESS"], Route::Mdm),
    ] {
        let mut s = companion(&scopes);
        s.settings.user_ca_certs_sha256 = Some(vec![cert(9), cert(3)]);
        let mut engine = ComplianceEngine::new();
        let e = engine.evaluate(&p, &s, T0);
        let removals: Vec<_> = e
            .new_actions
            .iter()
            .filter(|a| matches!(a.action, Action::RemoveCaCert { .. }))
            .collect();
        assert_eq!(removals.len(), 1, "{scopes:?}");
        assert_eq!(removals[0].route, want, "{scopes:?}");
    }
}

#[test]
fn the_ladder_blocks_through_the_scope_and_locks_and_wipes_through_the_emm() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = with_anydesk(companion(&["PACKAGE_ACCESS"]));
    s.settings.developer_options_enabled = Some(true);
    engine.evaluate(&p, &s, T0);
    let blocked = engine.tick(at(3 * DAY));
    let block = routed(&blocked.new_actions, &Measure::AccessBlocked);
    assert_eq!(block.len(), 1, "{:?}", blocked.new_actions);
    assert_eq!(block[0].route, Route::Agent);
    let lock: Vec<_> = blocked
        .new_actions
        .iter()
        .filter(|a| a.action == Action::LockDevice)
        .collect();
    assert_eq!(lock.len(), 1);
    assert_eq!(lock[0].route, Route::Mdm);
    let wiped = engine.tick(at(8 * DAY));
    let wipe: Vec<_> = wiped
        .new_actions
        .iter()
        .filter(|a| matches!(a.action, Action::WipeDevice { .. }))
        .collect();
    assert_eq!(wipe.len(), 1);
    assert_eq!(wipe[0].route, Route::Mdm);
    // The measures the agent keeps in force carry their routes after a restart.
    let restored = ComplianceEngine::from_json(&engine.to_json()).unwrap();
    assert!(restored
        .measures_in_force()
        .any(|(m, r)| *m == Measure::AccessBlocked && r == Route::Agent));
}

#[test]
fn a_new_scope_moves_a_measure_to_the_agent_without_a_lift() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let e = engine.evaluate(&p, &with_anydesk(companion(&[])), T0);
    assert_eq!(
        routed(&e.new_actions, &suspend(ANYDESK))[0].route,
        Route::Mdm
    );
    let e = engine.evaluate(&p, &with_anydesk(companion(&["PACKAGE_ACCESS"])), at(HOUR));
    assert_eq!(
        routed(&e.new_actions, &suspend(ANYDESK))[0].route,
        Route::Agent
    );
    assert!(
        !e.new_actions
            .iter()
            .any(|a| matches!(&a.action, Action::Lift { measure } if *measure == suspend(ANYDESK))),
        "{:?}",
        e.new_actions
    );
}

#[test]
fn a_critical_package_is_never_suspended_even_when_a_rule_blocks_it() {
    let launcher = "com.sec.android.app.launcher";
    let p = prepared(json!({"apps": {"applications": [
        {"packageName": AGENT, "installType": "FORCE_INSTALLED"},
        {"packageName": launcher, "installType": "BLOCKED", "onViolation": "SUSPEND_APP"},
        {"packageName": PLAY, "installType": "BLOCKED", "onViolation": "SUSPEND_APP"},
        {"packageName": ANYDESK, "installType": "BLOCKED", "onViolation": "SUSPEND_APP"}
    ]}}));
    let mut s = with_anydesk(android());
    s.apps.as_mut().unwrap().push(InstalledApp {
        system: true,
        ..app(launcher, 5, 1)
    });
    s.package_roles = Some(PackageRoles {
        home: Some(launcher.into()),
        ..PackageRoles::default()
    });
    s.normalize().unwrap();
    let mut engine = ComplianceEngine::new();
    let e = engine.evaluate(&p, &s, T0);
    let touched: Vec<&str> = e
        .new_actions
        .iter()
        .filter_map(|a| match &a.action {
            Action::Apply { measure } => measure.package(),
            _ => None,
        })
        .collect();
    assert_eq!(touched, [ANYDESK], "{:?}", e.new_actions);
    // The rules still judge them: the console hears the violation.
    assert!(e
        .verdicts
        .iter()
        .any(|v| v.rule.app() == Some(launcher) && v.status.is_open()));
}

#[test]
fn capability_fields_round_trip_through_the_snapshot() {
    let text = json!({
        "schema": "portcullis/snapshot/v1",
        "platform": "android",
        "delegatedScopes": ["PACKAGE_ACCESS", "BLOCK_UNINSTALL"],
        "packageRoles": {"home": "com.example.home", "deviceOwner": "com.google.android.apps.work.clouddpc"},
        "os": {"apiLevel": 34}
    })
    .to_string();
    let s = DeviceSnapshot::from_json(text.as_bytes()).unwrap();
    let caps = Capabilities::of(&s);
    assert_eq!(caps.platform, Platform::Android);
    assert!(caps.holds(DelegatedScope::PackageAccess));
    assert!(caps.holds(DelegatedScope::BlockUninstall));
    assert!(!caps.holds(DelegatedScope::CertInstall));
    assert_eq!(caps.api_level, Some(34));
    assert_eq!(
        DeviceSnapshot::from_json(s.to_json().as_bytes()).unwrap(),
        s
    );
    // The engine persists them and restores them.
    let json = serde_json::to_string(&caps).unwrap();
    assert!(
        json.contains(r#""delegatedScopes":["PACKAGE_ACCESS","BLOCK_UNINSTALL"]"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Capabilities>(&json).unwrap(), caps);
    // A state saved before the fields existed still reads.
    let old: Capabilities =
        serde_json::from_str(r#"{"platform":"android","deviceOwner":true,"apiLevel":35}"#).unwrap();
    assert_eq!(old, Capabilities::android_owner(Some(35)));

    let ios = json!({"schema": "portcullis/snapshot/v1", "platform": "ios", "supervised": false})
        .to_string();
    let caps = Capabilities::of(&DeviceSnapshot::from_json(ios.as_bytes()).unwrap());
    assert_eq!(caps, Capabilities::ios(Some(false)));

    for bad in [
        json!({"schema": "portcullis/snapshot/v1", "platform": "android", "delegatedScopes": ["SUPERPOWERS"]}),
        json!({"schema": "portcullis/snapshot/v1", "platform": "android", "packageRoles": {"home": "evil launcher!"}}),
        json!({"schema": "portcullis/snapshot/v1", "platform": "android", "packageRoles": {"launcher": "x"}}),
    ] {
        let err = DeviceSnapshot::from_json(bad.to_string().as_bytes()).unwrap_err();
        assert!(!err.to_string().contains("evil"), "{err}");
    }
}

#[test]
fn a_not_possible_route_serialises_with_its_reason() {
    let a = RequestedAction {
        action: Action::Apply {
            measure: restriction(UserRestriction::DisallowCellular2g),
        },
        route: NOT_POSSIBLE_API,
        rule: None,
    };
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["route"], json!({"NOT_POSSIBLE": "API_LEVEL"}));
    assert_eq!(serde_json::from_value::<RequestedAction>(json).unwrap(), a);
    assert_eq!(serde_json::to_value(Route::Mdm).unwrap(), json!("MDM"));
    assert_eq!(NOT_POSSIBLE_API.as_str(), "NOT_POSSIBLE");
}

/// Measures and actions are stored in the engine's state and read back field by field
/// (not by serde's tagged-enum reader): every variant reads back as written.
#[test]
fn every_measure_and_action_reads_back_as_written() {
    use portcullis_core::compliance::codes::{Reasons, RuleId};
    use portcullis_core::compliance::Notice;
    use portcullis_core::policy::model::Sha256Fingerprint;
    let mut actions = vec![
        Action::NotifyUser {
            notices: vec![Notice {
                rule: RuleId::App(ANYDESK.into()),
                reasons: Reasons::default(),
            }],
        },
        Action::RemoveCaCert {
            sha256: Sha256Fingerprint([0xab; 32]),
        },
        Action::LockDevice,
        Action::WipeDevice { preserve_frp: true },
    ];
    for measure in all_measures() {
        let json = serde_json::to_string(&measure).unwrap();
        assert_eq!(
            serde_json::from_str::<Measure>(&json).unwrap(),
            measure,
            "{json}"
        );
        actions.push(Action::Apply {
            measure: measure.clone(),
        });
        actions.push(Action::Lift { measure });
    }
    for (i, action) in actions.into_iter().enumerate() {
        let json = serde_json::to_string(&action).unwrap();
        assert_eq!(
            serde_json::from_str::<Action>(&json).unwrap(),
            action,
            "{json}"
        );
        let requested = RequestedAction {
            action,
            route: [
                Route::Agent,
                Route::NotPossible(NotPossibleReason::ApiLevel),
            ][i % 2],
            rule: (i % 3 == 0).then_some(RuleId::AppInventory),
        };
        let json = serde_json::to_string(&requested).unwrap();
        let read: RequestedAction = serde_json::from_str(&json).unwrap();
        assert_eq!(read, requested, "{json}");
    }
}
