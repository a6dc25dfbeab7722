//! The compliance engine as a state machine: no repeated actions or alerts, the
//! escalation ladder on the time passed in (across simulated restarts), resets,
//! measures and their routes per platform.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::{
    Action, ComplianceEngine, DeviceSnapshot, Escalation, Evaluation, InstalledApp, Measure,
    NotPossibleReason, PreparedPolicy, RequestedAction, Route, SettingRule, Status,
    UserRestriction,
};
use portcullis_core::policy::model::SettingName;
use portcullis_core::{AlertKind as K, Error, Severity};
use serde_json::json;

fn restriction(r: UserRestriction) -> Measure {
    Measure::UserRestriction { restriction: r }
}

fn quiet(e: &Evaluation) -> bool {
    e.new_actions.is_empty() && e.new_alerts.is_empty()
}

fn dev_options_on() -> DeviceSnapshot {
    let mut s = android();
    s.settings.developer_options_enabled = Some(true);
    s
}

/// Save and restore, as the agent does across a restart.
fn restart(engine: &ComplianceEngine) -> ComplianceEngine {
    let json = engine.to_json();
    let restored = ComplianceEngine::from_json(&json).unwrap();
    assert_eq!(&restored, engine);
    assert_eq!(restored.to_json(), json, "the state text is deterministic");
    restored
}

#[test]
fn an_unchanged_snapshot_yields_nothing_new() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let first = engine.evaluate(&p, &android(), T0);
    assert!(first.is_compliant());
    assert!(
        first.new_alerts.is_empty(),
        "a compliant device raises no alert"
    );
    // The first evaluation puts the policy's measures in force, once.
    assert!(applied(&first.new_actions).contains(&restriction(UserRestriction::DisallowCellular2g)));
    let again = engine.evaluate(&p, &android(), at(HOUR));
    assert!(quiet(&again), "{again:?}");
    assert_eq!(again.verdicts, first.verdicts);
    // Changes that change no verdict: the collection time, a version code nobody pins.
    let mut s = android();
    s.collected_at = Some(at(2 * HOUR));
    s.apps.as_mut().unwrap()[0].version_code = Some(13);
    assert!(quiet(&engine.evaluate(&p, &s, at(2 * HOUR))));
}

#[test]
fn a_violation_is_reported_once_and_its_end_once() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &android(), T0);
    let broken = engine.evaluate(&p, &dev_options_on(), at(HOUR));
    let rule = setting(SettingRule::DeveloperSettings);
    assert_eq!(
        alert_kinds(&broken),
        [(K::ComplianceViolation, Some(rule.to_string()))]
    );
    assert_eq!(broken.new_alerts[0].severity, Severity::Medium);
    assert!(broken.new_alerts[0]
        .summary
        .contains("DEVELOPER_OPTIONS_ENABLED"));
    // Enforced already and yet broken: the restriction is applied again, the user told.
    assert_eq!(
        applied(&broken.new_actions),
        [restriction(UserRestriction::DisallowDebuggingFeatures)]
    );
    assert!(has_action(&broken.new_actions, |a| matches!(a,
        Action::NotifyUser { notices } if notices.len() == 1 && notices[0].rule == rule)));
    assert!(quiet(&engine.evaluate(&p, &dev_options_on(), at(2 * HOUR))));
    let fixed = engine.evaluate(&p, &android(), at(3 * HOUR));
    assert_eq!(
        alert_kinds(&fixed),
        [(K::ComplianceRestored, Some(rule.to_string()))]
    );
    assert_eq!(fixed.new_alerts[0].severity, Severity::Info);
    assert!(
        fixed.new_actions.is_empty(),
        "restrictions stay: they keep the device compliant"
    );
    assert!(quiet(&engine.evaluate(&p, &android(), at(4 * HOUR))));
    assert!(engine.issues().is_empty() && engine.ladders().is_empty());
}

#[test]
fn changed_reasons_alert_again_but_notify_only_for_new_ones() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let signal = "org.thoughtcrime.securesms";
    let mut both = android();
    for a in both.apps.as_mut().unwrap() {
        if &*a.id == signal {
            a.version_code = Some(1);
            a.signing_certs_sha256 = vec![cert(2)];
        }
    }
    let first = engine.evaluate(&p, &both, T0);
    assert_eq!(
        first.new_alerts[0].summary,
        format!("app:{signal} is not compliant: APP_SIGNING_CERT_MISMATCH,APP_NOT_UPDATED")
    );
    let mut one = android();
    for a in one.apps.as_mut().unwrap() {
        if &*a.id == signal {
            a.version_code = Some(1);
        }
    }
    let fewer = engine.evaluate(&p, &one, at(HOUR));
    assert_eq!(
        alert_kinds(&fewer),
        [(K::ComplianceViolation, Some(format!("app:{signal}")))]
    );
    assert!(!has_action(&fewer.new_actions, |a| matches!(
        a,
        Action::NotifyUser { .. }
    )));
    let more = engine.evaluate(&p, &both, at(2 * HOUR));
    assert!(has_action(&more.new_actions, |a| matches!(
        a,
        Action::NotifyUser { .. }
    )));
}

/// Configuration ladder of the base policy: block after 1 day, wipe after 7.
/// What one step reported: its actions, and its alerts' kinds and rules.
type StepLog = (Vec<RequestedAction>, Vec<(K, Option<String>)>);

fn ladder_run(restarts: bool) -> Vec<StepLog> {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut log = Vec::new();
    let mut record = |e: &Escalation| {
        log.push((
            e.new_actions.clone(),
            e.new_alerts
                .iter()
                .map(|a| (a.kind, a.rule.as_ref().map(ToString::to_string)))
                .collect(),
        ));
    };
    let step = |engine: &mut ComplianceEngine| {
        if restarts {
            *engine = restart(engine);
        }
    };
    engine.evaluate(&p, &android(), T0);
    let e = engine.evaluate(&p, &dev_options_on(), at(HOUR));
    record(&Escalation {
        new_actions: e.new_actions,
        new_alerts: e.new_alerts,
    });
    step(&mut engine);
    assert_eq!(engine.next_deadline(), Some(at(HOUR + DAY)));
    record(&engine.tick(at(HOUR + DAY - 1)));
    step(&mut engine);
    record(&engine.tick(at(HOUR + DAY)));
    step(&mut engine);
    assert!(engine.is_blocked());
    assert_eq!(engine.next_deadline(), Some(at(HOUR + 7 * DAY)));
    let e = engine.evaluate(&p, &dev_options_on(), at(2 * DAY));
    assert!(quiet(&e), "still broken, already blocked: nothing new");
    step(&mut engine);
    record(&engine.tick(at(HOUR + 7 * DAY)));
    step(&mut engine);
    record(&engine.tick(at(30 * DAY)));
    assert_eq!(engine.next_deadline(), None);
    log
}

#[test]
fn the_ladder_blocks_then_wipes_on_the_time_passed_in_across_restarts() {
    let continuous = ladder_run(false);
    let restarted = ladder_run(true);
    assert_eq!(continuous, restarted, "a restart changes nothing");
    let [violation, early, block, wipe, after] = continuous.try_into().unwrap();
    assert_eq!(violation.1.len(), 1);
    assert!(
        early.0.is_empty() && early.1.is_empty(),
        "nothing before the deadline"
    );
    assert_eq!(block.1, [(K::ComplianceBlocked, None)]);
    assert_eq!(
        block
            .0
            .iter()
            .map(|a| (&a.action, a.route))
            .collect::<Vec<_>>(),
        [
            (
                &Action::Apply {
                    measure: Measure::AccessBlocked
                },
                Route::Agent
            ),
            (&Action::LockDevice, Route::Agent),
        ]
    );
    assert_eq!(wipe.1, [(K::ComplianceWipe, None)]);
    assert_eq!(
        wipe.0.iter().map(|a| &a.action).collect::<Vec<_>>(),
        [&Action::WipeDevice {
            preserve_frp: false
        }]
    );
    assert!(
        after.0.is_empty() && after.1.is_empty(),
        "a wipe is requested once"
    );
}

#[test]
fn the_ladder_resets_when_the_device_complies_again() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &dev_options_on(), T0);
    engine.tick(at(DAY));
    assert!(engine.is_blocked());
    let fixed = engine.evaluate(&p, &android(), at(DAY + HOUR));
    assert_eq!(
        alert_kinds(&fixed),
        [
            (
                K::ComplianceRestored,
                Some(setting(SettingRule::DeveloperSettings).to_string())
            ),
            (K::ComplianceUnblocked, None),
        ]
    );
    assert_eq!(lifted(&fixed.new_actions), [Measure::AccessBlocked]);
    assert!(!engine.is_blocked() && engine.next_deadline().is_none());
    // Broken again later: a fresh ladder from that moment.
    engine.evaluate(&p, &dev_options_on(), at(3 * DAY));
    assert_eq!(engine.next_deadline(), Some(at(4 * DAY)));
    assert_eq!(
        engine.ladders()[&SettingName::Configuration].since,
        at(3 * DAY)
    );
}

#[test]
fn unknown_never_resets_the_ladder_and_never_starts_it() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &dev_options_on(), T0);
    // The setting disappears from the snapshot (hidden from the agent): still counted.
    let mut hidden = android();
    hidden.settings.developer_options_enabled = None;
    let e = engine.evaluate(&p, &hidden, at(HOUR));
    assert_eq!(
        alert_kinds(&e),
        [(
            K::ComplianceUnobservable,
            Some(setting(SettingRule::DeveloperSettings).to_string())
        )]
    );
    assert_eq!(
        e.section_status(SettingName::Configuration),
        Status::Unknown
    );
    assert_eq!(engine.next_deadline(), Some(at(DAY)));
    assert_eq!(
        engine.tick(at(DAY)).new_alerts[0].kind,
        K::ComplianceBlocked
    );
    // On a device with no history, unknown alone alerts but starts no ladder.
    let mut fresh = ComplianceEngine::new();
    let e = fresh.evaluate(&p, &hidden, T0);
    assert_eq!(e.new_alerts.len(), 1);
    assert!(!e.is_compliant(), "unknown is not compliant");
    assert!(fresh.ladders().is_empty() && fresh.next_deadline().is_none());
    assert!(!has_action(&e.new_actions, |a| matches!(
        a,
        Action::NotifyUser { .. }
    )));
}

#[test]
fn deadlines_that_passed_unobserved_fire_before_a_late_snapshot() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &dev_options_on(), T0);
    // No wake-up for 8 days; the next snapshot finds the device compliant.
    let late = engine.evaluate(&p, &android(), at(8 * DAY));
    let kinds: Vec<K> = late.new_alerts.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            K::ComplianceBlocked,
            K::ComplianceWipe,
            K::ComplianceRestored,
            K::ComplianceUnblocked
        ]
    );
    assert!(matches!(
        late.new_actions.last().unwrap().action,
        Action::WipeDevice { .. }
    ));
}

#[test]
fn the_clock_never_runs_backwards() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &dev_options_on(), at(2 * DAY));
    let e = engine.evaluate(&p, &dev_options_on(), T0);
    assert_eq!(e.at, at(2 * DAY));
    assert_eq!(engine.last_seen(), Some(at(2 * DAY)));
    assert_eq!(
        engine.next_deadline(),
        Some(at(3 * DAY)),
        "moving the clock back delays nothing"
    );
}

#[test]
fn offending_apps_are_suspended_system_ones_hidden_and_released() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&p, &android(), T0);
    let with = |system: bool| {
        let mut s = android();
        let mut a = app("com.anydesk.anydeskandroid", 4, 1);
        a.system = system;
        s.apps.as_mut().unwrap().push(a);
        s.normalize().unwrap();
        s
    };
    let e = engine.evaluate(&p, &with(false), at(HOUR));
    let suspended = Measure::PackageSuspended {
        package: "com.anydesk.anydeskandroid".into(),
    };
    assert_eq!(applied(&e.new_actions), [suspended]);
    assert_eq!(e.new_alerts[0].severity, Severity::High);
    // Uninstalled: the issue closes, nothing to lift.
    let gone = engine.evaluate(&p, &android(), at(2 * HOUR));
    assert_eq!(
        gone.new_alerts[0].summary,
        "app:com.anydesk.anydeskandroid is no longer installed"
    );
    assert!(gone.new_actions.is_empty());
    // A system app cannot be removed: hidden instead.
    let e = engine.evaluate(&p, &with(true), at(3 * HOUR));
    let hidden = Measure::PackageHidden {
        package: "com.anydesk.anydeskandroid".into(),
    };
    assert_eq!(applied(&e.new_actions), std::slice::from_ref(&hidden));
    // A new policy allows it: the hiding is lifted.
    let allowing = PreparedPolicy::new(&policy(json!({"apps": {"applications": [
        {"packageName": AGENT, "installType": "FORCE_INSTALLED"}]}})));
    let e = engine.evaluate(&allowing, &with(true), at(4 * HOUR));
    assert_eq!(lifted(&e.new_actions), [hidden]);
    assert_eq!(alert_kinds(&e)[0].0, K::ComplianceRestored);
}

#[test]
fn the_agent_never_suspends_itself() {
    let p = prepared(
        json!({"apps": {"onViolation": "SUSPEND_APP", "applications": [
        {"packageName": AGENT, "installType": "FORCE_INSTALLED",
         "signingKeyCerts": [{"signingKeyCertFingerprintSha256": cert_hex(99)}]}]}}),
    );
    let mut engine = ComplianceEngine::new();
    let e = engine.evaluate(&p, &android(), T0);
    assert_eq!(
        verdict(&e, &app_rule(AGENT)).unwrap().reasons.joined(),
        "APP_SIGNING_CERT_MISMATCH"
    );
    assert!(!applied(&e.new_actions)
        .iter()
        .any(|m| m.package() == Some(AGENT)));
}

#[test]
fn ios_reports_to_the_mdm_what_the_agent_cannot_do() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = ios();
    s.settings.cellular_2g_enabled = Some(false);
    s.settings.user_ca_certs_sha256 = Some(vec![]);
    s.settings.maximum_time_to_lock = Some(30_000);
    s.settings.maximum_failed_passwords_for_wipe = Some(10);
    s.apps = Some(vec![InstalledApp::new("com.example.iosapp")]);
    let e = engine.evaluate(&p, &s, T0);
    // No proactive measure: the MDM's own profile enforces settings on iOS.
    assert_eq!(
        e.new_actions
            .iter()
            .map(|a| (&a.action, a.route))
            .collect::<Vec<_>>(),
        [
            (
                &Action::Apply {
                    measure: Measure::PackageSuspended {
                        package: "com.example.iosapp".into()
                    }
                },
                Route::Mdm
            ),
            (
                &Action::NotifyUser {
                    notices: vec![portcullis_core::compliance::Notice {
                        rule: app_rule("com.example.iosapp"),
                        reasons: portcullis_core::compliance::Reasons::of(
                            portcullis_core::compliance::Reason::AppInstalled
                        ),
                    }]
                },
                Route::Agent
            ),
        ]
    );
    let block = engine.tick(at(2 * DAY));
    assert_eq!(
        block
            .new_actions
            .iter()
            .map(|a| (&a.action, a.route))
            .collect::<Vec<_>>(),
        [
            (
                &Action::Apply {
                    measure: Measure::AccessBlocked
                },
                Route::Mdm
            ),
            (&Action::LockDevice, Route::Mdm),
        ]
    );
    let wipe = engine.tick(at(5 * DAY));
    assert_eq!(wipe.new_actions[0].route, Route::Mdm);
    assert_eq!(
        wipe.new_actions[0].action,
        Action::WipeDevice { preserve_frp: true }
    );
}

#[test]
fn an_android_agent_without_device_owner_reports_instead_of_acting() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = dev_options_on();
    s.device_owner = false;
    let mut a = app("com.anydesk.anydeskandroid", 4, 1);
    a.install_source = Some(portcullis_core::compliance::InstallSource::from_installer(
        PLAY,
    ));
    s.apps.as_mut().unwrap().push(a);
    let e = engine.evaluate(&p, &s, T0);
    for action in &e.new_actions {
        match &action.action {
            Action::NotifyUser { .. } => assert_eq!(action.route, Route::Agent),
            other => {
                assert_eq!(action.route, Route::Mdm, "{other:?}");
                assert!(
                    matches!(
                        other,
                        Action::Apply {
                            measure: Measure::PackageSuspended { .. }
                        }
                    ),
                    "{other:?}"
                );
            }
        }
    }
}

#[test]
fn api_gated_measures_wait_for_the_api_level() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut old = android();
    old.os.api_level = Some(30);
    let e = engine.evaluate(&p, &old, T0);
    let by_agent = |e: &[RequestedAction]| {
        applied(
            &e.iter()
                .filter(|a| a.route == Route::Agent)
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    let m = by_agent(&e.new_actions);
    assert!(m.contains(&restriction(UserRestriction::DisallowDebuggingFeatures)));
    for gated in [
        restriction(UserRestriction::DisallowCellular2g),
        Measure::UsbDataSignalingDisabled,
        Measure::RequiredPasswordComplexity {
            complexity: portcullis_core::policy::model::PasswordQuality::ComplexityMedium,
        },
    ] {
        assert!(!m.contains(&gated), "{gated:?} needs a newer API level");
    }
    // What the OS release lacks is reported once as not possible here, with the reason;
    // the password complexity call is only the agent's to wait for.
    let mut impossible: Vec<Measure> = e
        .new_actions
        .iter()
        .filter(|a| a.route == Route::NotPossible(NotPossibleReason::ApiLevel))
        .filter_map(|a| match &a.action {
            Action::Apply { measure } => Some(measure.clone()),
            _ => None,
        })
        .collect();
    impossible.sort();
    assert_eq!(
        impossible,
        [
            restriction(UserRestriction::DisallowCellular2g),
            Measure::UsbDataSignalingDisabled,
        ]
    );
    assert!(engine.evaluate(&p, &old, at(1)).new_actions.is_empty());
    // After an OS update, exactly those follow.
    let e = engine.evaluate(&p, &android(), at(HOUR));
    assert!(e.new_actions.iter().all(|a| a.route == Route::Agent));
    let mut now_applied = applied(&e.new_actions);
    now_applied.sort();
    let mut want = vec![
        restriction(UserRestriction::DisallowCellular2g),
        Measure::UsbDataSignalingDisabled,
        Measure::RequiredPasswordComplexity {
            complexity: portcullis_core::policy::model::PasswordQuality::ComplexityMedium,
        },
    ];
    want.sort();
    assert_eq!(now_applied, want);
    assert!(lifted(&e.new_actions).is_empty());
}

#[test]
fn report_only_configuration_changes_nothing_on_the_device() {
    let p = prepared(json!({"configuration": {"onViolation": "REPORT"}}));
    let mut engine = ComplianceEngine::new();
    let e = engine.evaluate(&p, &dev_options_on(), T0);
    assert_eq!(alert_kinds(&e).len(), 1, "reported");
    assert_eq!(
        applied(&e.new_actions),
        [Measure::UninstallBlocked {
            package: AGENT.into()
        }],
        "only the agent's own protection"
    );
    assert!(!has_action(&e.new_actions, |a| matches!(
        a,
        Action::NotifyUser { .. }
    )));
    assert!(e.is_compliant(), "REPORT keeps the device compliant");
    assert!(engine.ladders().is_empty());
}

#[test]
fn policy_changes_replace_values_and_lift_what_is_no_longer_asked() {
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&prepared(json!({})), &android(), T0);
    let looser = prepared(json!({"configuration": {"maximumTimeToLock": 120000,
        "deviceRadioState": {"cellularTwoGState": "CELLULAR_TWO_G_USER_CHOICE"}}}));
    let mut s = android();
    s.settings.maximum_time_to_lock = Some(100_000);
    let e = engine.evaluate(&looser, &s, at(HOUR));
    assert_eq!(
        lifted(&e.new_actions),
        [restriction(UserRestriction::DisallowCellular2g)]
    );
    assert_eq!(
        applied(&e.new_actions),
        [Measure::MaximumTimeToLock { millis: 120_000 }],
        "replaced, not lifted first"
    );
}

#[test]
fn only_unlisted_user_ca_certificates_are_removed() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = android();
    s.settings.user_ca_certs_sha256 = Some(vec![cert(9), cert(8), cert(7)]);
    let e = engine.evaluate(&p, &s, T0);
    let removed: Vec<_> = e
        .new_actions
        .iter()
        .filter_map(|a| match &a.action {
            Action::RemoveCaCert { sha256 } => Some((*sha256, a.route)),
            _ => None,
        })
        .collect();
    assert_eq!(removed, [(cert(7), Route::Agent), (cert(8), Route::Agent)]);
    assert_eq!(e.new_alerts[0].severity, Severity::High);
}

#[test]
fn an_unobservable_inventory_keeps_app_issues_open() {
    let p = prepared(json!({}));
    let mut engine = ComplianceEngine::new();
    let mut s = android();
    s.apps
        .as_mut()
        .unwrap()
        .retain(|a| &*a.id != "org.thoughtcrime.securesms");
    engine.evaluate(&p, &s, T0);
    let mut blind = android();
    blind.apps = None;
    let e = engine.evaluate(&p, &blind, at(HOUR));
    assert_eq!(
        alert_kinds(&e),
        [(K::ComplianceUnobservable, Some("apps".into()))]
    );
    assert!(engine
        .issues()
        .contains_key(&app_rule("org.thoughtcrime.securesms")));
    assert_eq!(
        engine.next_deadline(),
        Some(at(2 * DAY)),
        "the apps ladder keeps running"
    );
}

#[test]
fn the_policy_can_stop_blocking() {
    let mut engine = ComplianceEngine::new();
    engine.evaluate(&prepared(json!({})), &dev_options_on(), T0);
    engine.tick(at(DAY));
    let notify_only =
        prepared(json!({"policyEnforcementRules": [{"settingName": "configuration"}]}));
    let e = engine.evaluate(&notify_only, &dev_options_on(), at(DAY + HOUR));
    assert_eq!(alert_kinds(&e), [(K::ComplianceUnblocked, None)]);
    assert_eq!(lifted(&e.new_actions), [Measure::AccessBlocked]);
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn corrupt_or_foreign_state_is_refused() {
    for bad in [
        "",
        "{",
        r#"{"version": 2}"#,
        r#"{"version": 1, "extra": 1}"#,
    ] {
        assert!(
            matches!(ComplianceEngine::from_json(bad), Err(Error::Corrupt(_))),
            "{bad}"
        );
    }
    assert_eq!(
        ComplianceEngine::from_json(r#"{"version":1}"#).unwrap(),
        ComplianceEngine::new()
    );
    assert_eq!(ComplianceEngine::new().to_json(), r#"{"version":1}"#);
}

/// The engine's alerts carry the one alert-kind enum, under the names the engine's own
/// enum stored before (pending alerts in an existing database still read).
#[test]
fn compliance_alert_kinds_keep_their_stored_names() {
    for (kind, name) in [
        (K::ComplianceViolation, "compliance_violation"),
        (K::ComplianceUnobservable, "compliance_unobservable"),
        (K::ComplianceRestored, "compliance_restored"),
        (K::ComplianceBlocked, "compliance_blocked"),
        (K::ComplianceUnblocked, "compliance_unblocked"),
        (K::ComplianceWipe, "compliance_wipe"),
    ] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        assert_eq!(
            serde_json::from_str::<K>(&format!("\"{name}\"")).unwrap(),
            kind
        );
    }
}
