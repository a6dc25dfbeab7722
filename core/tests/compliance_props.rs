//! Property tests of the compliance engine: evaluation is deterministic and does not
//! depend on the order of the app list; an unchanged snapshot never yields new
//! actions or alerts; a restart (state saved and restored) between any two steps
//! changes nothing; and the ladder never wipes without having blocked first.

mod compliance_support;

use compliance_support::*;
use portcullis_core::compliance::{
    Action, ComplianceEngine, DeviceSnapshot, InstallSource, InstalledApp, Measure, PreparedPolicy,
    RequestedAction,
};
use proptest::prelude::*;
use serde_json::json;

fn policies() -> Vec<PreparedPolicy> {
    vec![
        prepared(json!({})),
        prepared(
            json!({"apps": {"mode": "ALLOWLIST", "onViolation": "SUSPEND_APP"},
            "policyEnforcementRules": [
                {"settingName": "apps", "blockAction": {"blockAfterDays": 0}, "wipeAction": {"wipeAfterDays": 3}},
                {"settingName": "configuration", "blockAction": {"blockAfterDays": 1}}]}),
        ),
        prepared(json!({"apps": {"mode": "AUDIT"}, "configuration": {"onViolation": "REPORT"}})),
    ]
}

const IDS: [&str; 8] = [
    AGENT,
    "org.thoughtcrime.securesms",
    "com.anydesk.anydeskandroid",
    "com.wireguard.android",
    "org.example.a",
    "org.example.b",
    "org.example.c",
    "com.android.settings",
];

fn app_strategy(id: &'static str) -> impl Strategy<Value = InstalledApp> {
    (
        prop_oneof![Just(None), Just(Some(50u64)), Just(Some(150u64))],
        any::<bool>(),
        prop_oneof![
            Just(None),
            Just(Some(InstallSource::default())),
            Just(Some(InstallSource::from_installer(PLAY))),
            Just(Some(InstallSource::from_installer("org.fdroid.fdroid"))),
        ],
        prop_oneof![
            Just(vec![]),
            Just(vec![cert(1)]),
            Just(vec![cert(2)]),
            Just(vec![cert(2), cert(1)])
        ],
    )
        .prop_map(
            move |(version_code, system, install_source, certs)| InstalledApp {
                version_code,
                system,
                install_source,
                signing_certs_sha256: certs,
                ..InstalledApp::new(id)
            },
        )
}

fn tri() -> impl Strategy<Value = Option<bool>> {
    prop_oneof![Just(None), Just(Some(false)), Just(Some(true))]
}

/// A snapshot derived from the compliant fixture: a subset of apps with random facts,
/// and random observations of the boolean settings, the API level and the patch.
fn snapshot_strategy() -> impl Strategy<Value = DeviceSnapshot> {
    let apps = proptest::sample::subsequence(IDS.to_vec(), 0..=IDS.len())
        .prop_flat_map(|ids| ids.into_iter().map(app_strategy).collect::<Vec<_>>());
    (
        prop_oneof![3 => apps.prop_map(Some), 1 => Just(None)],
        (tri(), tri(), tri(), tri(), tri(), tri()),
        prop_oneof![Just(None), Just(Some(30u32)), Just(Some(35u32))],
        prop_oneof![
            Just(None),
            Just(Some("2025-10-01")),
            Just(Some("2026-02-01"))
        ],
        any::<bool>(),
    )
        .prop_map(
            |(apps, (dev, adb, g2, unknown, verify, blocked), api, patch, owner)| {
                let mut s = android();
                s.apps = apps;
                s.device_owner = owner;
                s.os.api_level = api;
                s.os.security_patch_level = patch.map(str::to_owned);
                s.settings.developer_options_enabled = dev;
                s.settings.usb_debugging_enabled = adb;
                s.settings.cellular_2g_enabled = g2;
                s.settings.unknown_sources_allowed = unknown;
                s.settings.verify_apps_enabled = verify;
                s.agent.as_mut().unwrap().uninstall_blocked = blocked;
                s
            },
        )
}

type Log = (Vec<RequestedAction>, Vec<String>);

fn log_of(e: &portcullis_core::compliance::Evaluation) -> Log {
    (
        e.new_actions.clone(),
        e.new_alerts.iter().map(|a| format!("{a:?}")).collect(),
    )
}

#[derive(Debug, Clone)]
enum Step {
    Evaluate(usize),
    Tick(i64),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0usize..4).prop_map(Step::Evaluate),
        1 => (1i64..=72).prop_map(|h| Step::Tick(h * HOUR)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_does_not_depend_on_app_order(
        s in snapshot_strategy(),
        which in 0usize..3,
        seed in any::<u64>(),
    ) {
        let p = &policies()[which];
        let mut shuffled = s.clone();
        if let Some(apps) = &mut shuffled.apps {
            // A deterministic shuffle from the seed.
            let mut state = seed | 1;
            for i in (1..apps.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                apps.swap(i, (state % (i as u64 + 1)) as usize);
            }
        }
        let a = ComplianceEngine::new().evaluate(p, &s, T0);
        let b = ComplianceEngine::new().evaluate(p, &shuffled, T0);
        prop_assert_eq!(&a, &b);
        // And a second engine from the same inputs agrees: nothing hidden in the state.
        let mut e1 = ComplianceEngine::new();
        let mut e2 = ComplianceEngine::new();
        prop_assert_eq!(e1.evaluate(p, &s, T0), e2.evaluate(p, &shuffled, T0));
        prop_assert_eq!(e1.to_json(), e2.to_json());
    }

    #[test]
    fn an_unchanged_snapshot_never_yields_new_actions_or_alerts(
        first in snapshot_strategy(),
        second in snapshot_strategy(),
        which in 0usize..3,
    ) {
        let p = &policies()[which];
        let mut engine = ComplianceEngine::new();
        engine.evaluate(p, &first, T0);
        engine.evaluate(p, &second, at(HOUR));
        // Re-evaluated before any ladder step is due, whatever came before.
        let due = engine.next_deadline().unwrap_or(at(1000 * DAY));
        let when = at(HOUR + 1).min(due);
        if due > at(HOUR) {
            let again = engine.evaluate(p, &second, when);
            prop_assert!(again.new_actions.is_empty(), "{:?}", again.new_actions);
            prop_assert!(again.new_alerts.is_empty(), "{:?}", again.new_alerts);
        }
    }

    #[test]
    fn a_restart_between_any_two_steps_changes_nothing(
        snapshots in proptest::collection::vec(snapshot_strategy(), 4),
        steps in proptest::collection::vec(step_strategy(), 1..12),
        which in 0usize..3,
    ) {
        let p = &policies()[which];
        let run = |restart: bool| {
            let mut engine = ComplianceEngine::new();
            let mut now = T0;
            let mut log: Vec<Log> = Vec::new();
            for step in &steps {
                if restart {
                    engine = ComplianceEngine::from_json(&engine.to_json()).unwrap();
                }
                match step {
                    Step::Evaluate(i) => log.push(log_of(&engine.evaluate(p, &snapshots[*i], now))),
                    Step::Tick(d) => {
                        now = now.plus_millis(*d);
                        let e = engine.tick(now);
                        log.push((e.new_actions, e.new_alerts.iter().map(|a| format!("{a:?}")).collect()));
                    }
                }
            }
            (log, engine.to_json())
        };
        let (continuous, state) = run(false);
        let (restarted, restored_state) = run(true);
        prop_assert_eq!(&continuous, &restarted);
        prop_assert_eq!(state, restored_state);

        // Ladder invariants over the whole run: a wipe only after a block, at most one
        // wipe request per ladder run, and never a wipe where the policy has none.
        let actions: Vec<&Action> = continuous.iter().flat_map(|(a, _)| a.iter().map(|r| &r.action)).collect();
        let mut blocked_once = false;
        for a in &actions {
            match a {
                Action::Apply { measure: Measure::AccessBlocked } => blocked_once = true,
                Action::WipeDevice { .. } => {
                    prop_assert!(blocked_once, "wipe before any block: {:?}", actions);
                    prop_assert!(which != 2, "report-only policies never wipe");
                }
                _ => {}
            }
        }
    }
}
