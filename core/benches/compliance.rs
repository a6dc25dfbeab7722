//! Compliance evaluation of a 1,000-app snapshot against a 10,000-rule allowlist and
//! every configuration rule the policy model has, in the Rust engine and, for
//! comparison, the same rules written in Rego (benches/data/compliance.rego) and run
//! by regorus, Microsoft's Rust Rego interpreter (tree-walking interpreter and its RVM
//! bytecode VM). Before timing, the bench checks that all three give the same verdict
//! for every rule; afterwards it prints the medians and the ratio.
//!
//!     cargo bench -p portcullis-core --bench compliance

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion};
use portcullis_core::compliance::{
    evaluate_rules, AccessibilityService, AgentFacts, Code, ComplianceEngine, DeviceSnapshot,
    InstallSource, InstalledApp, PreparedPolicy, Status, Verdict,
};
use portcullis_core::policy::model::Sha256Fingerprint;
use portcullis_core::policy::Policy;
use portcullis_core::Timestamp;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::vm::RegoVM;
use serde_json::{json, Value};

#[path = "../tests/compliance_support/mod.rs"]
mod compliance_support;

/// 2026-03-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
const RULES: usize = 10_000;
const PLAY: &str = "com.android.vending";
const ENTRY: &str = "data.portcullis.compliance.verdicts";
const GROUP: &str = "compliance_1k_apps_10k_allowlist";

fn package(i: usize) -> String {
    format!("com.vendor{:03}.app{i:05}", i % 500)
}

fn fingerprint(i: usize) -> Sha256Fingerprint {
    let mut fp = [0x5a_u8; 32];
    fp[..8].copy_from_slice(&(i as u64).to_be_bytes());
    fp[31] = (i % 251) as u8;
    Sha256Fingerprint(fp)
}

fn blocked(i: usize) -> bool {
    i % 100 == 13
}

fn forced(i: usize) -> bool {
    i % 1000 == 7
}

/// An allowlist of 10,000 app rules (10 forced, 100 blocked, pinned certificates,
/// half with a minimum version, some with their own installers) and every
/// configuration rule of the model set, list rules with ten entries each.
fn policy() -> Policy {
    let applications: Vec<Value> = (0..RULES)
        .map(|i| {
            let mut rule = json!({"packageName": package(i)});
            if blocked(i) {
                rule["installType"] = json!("BLOCKED");
                return rule;
            }
            if forced(i) {
                rule["installType"] = json!("FORCE_INSTALLED");
            }
            rule["signingKeyCerts"] =
                json!([{"signingKeyCertFingerprintSha256": fingerprint(i).to_string()}]);
            if i % 2 == 0 {
                rule["minimumVersionCode"] = json!(1000 + i % 50);
            }
            if i % 250 == 3 {
                rule["allowedInstallers"] = json!([PLAY, "org.fdroid.fdroid"]);
            }
            rule
        })
        .collect();
    let doc = json!({
        "schema": "portcullis/policy/v1",
        "name": "bench-allowlist",
        "apps": {"mode": "ALLOWLIST", "allowedInstallers": [PLAY], "onViolation": "SUSPEND_APP",
                 "applications": applications},
        "configuration": {
            "minimumApiLevel": 34,
            "minimumIosVersion": "18.6",
            "minimumSecurityPatchLevel": "2026-01-01",
            "maximumSecurityPatchAgeDays": 45,
            "passwordRequirements": {"passwordQuality": "COMPLEXITY_HIGH", "maximumFailedPasswordsForWipe": 10},
            "maximumTimeToLock": 60000,
            "encryptionPolicy": "ENABLED_WITH_PASSWORD",
            "advancedSecurityOverrides": {"untrustedAppsPolicy": "DISALLOW_INSTALL",
                "developerSettings": "DEVELOPER_SETTINGS_DISABLED", "googlePlayProtectVerifyApps": "VERIFY_APPS_ENFORCED"},
            "debuggingFeaturesAllowed": false,
            "deviceRadioState": {"cellularTwoGState": "CELLULAR_TWO_G_DISABLED"},
            "mobileNetworksConfigDisabled": true,
            "deviceConnectivityManagement": {"usbDataAccess": "DISALLOW_USB_DATA_TRANSFER"},
            "alwaysOnVpnPackage": {"packageName": "com.wireguard.android", "lockdownEnabled": true},
            "userInstalledCaCerts": {"allowed": false,
                "allowedFingerprintsSha256": (0..10).map(|i| fingerprint(50_000 + i).to_string()).collect::<Vec<_>>()},
            "permittedAccessibilityServices": {"packageNames": (0..10).map(|i| format!("org.assist.reader{i}")).collect::<Vec<_>>()}
        },
        "sim": {},
        "inspection": {"cadenceDays": 7, "windowMinutes": 45, "allowedLocalHours": {"from": 0, "until": 5}, "gracePeriodHours": 24},
        "policyEnforcementRules": [
            {"settingName": "apps", "blockAction": {"blockAfterDays": 0}, "wipeAction": {"wipeAfterDays": 3}},
            {"settingName": "configuration", "blockAction": {"blockAfterDays": 1}, "wipeAction": {"wipeAfterDays": 7}}
        ]
    });
    Policy::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap()
}

fn listed(i: usize, version: u64, source: InstallSource, cert: Sha256Fingerprint) -> InstalledApp {
    InstalledApp {
        version_code: Some(version),
        install_source: Some(source),
        signing_certs_sha256: vec![cert],
        ..InstalledApp::new(&package(i))
    }
}

/// 1,000 apps: 940 vetted ones, 9 of the 10 forced ones, 3 with a foreign signing
/// certificate, 3 outdated, 2 sideloaded, 2 blocked, 5 unlisted, 36 system apps; and
/// every setting observed but one, with developer options and 2G on.
fn snapshot() -> DeviceSnapshot {
    let play = || InstallSource::from_installer(PLAY);
    let mut apps: Vec<InstalledApp> = (0..940)
        .map(|k| listed(k * 10 + 1, 2000, play(), fingerprint(k * 10 + 1)))
        .collect();
    apps.extend((0..9).map(|k| {
        let i = k * 1000 + 7;
        listed(i, 2000, play(), fingerprint(i))
    }));
    apps.extend([9402, 9404, 9406].map(|i| listed(i, 2000, play(), fingerprint(i + 1))));
    apps.extend([9412, 9414, 9416].map(|i| listed(i, 500, play(), fingerprint(i))));
    apps.extend([9422, 9424].map(|i| listed(i, 2000, InstallSource::default(), fingerprint(i))));
    apps.extend([13, 113].map(|i| listed(i, 1, play(), fingerprint(i))));
    apps.extend((0..5).map(|n| InstalledApp {
        version_code: Some(1),
        install_source: Some(play()),
        signing_certs_sha256: vec![fingerprint(70_000 + n)],
        ..InstalledApp::new(&format!("org.unlisted.app{n}"))
    }));
    apps.extend((0..36).map(|n| InstalledApp {
        version_code: Some(35),
        system: true,
        install_source: Some(InstallSource::default()),
        signing_certs_sha256: vec![fingerprint(80_000)],
        ..InstalledApp::new(&format!("com.android.system{n:02}"))
    }));
    assert_eq!(apps.len(), 1000);
    // The compliant device of the compliance tests, with a later patch level, developer
    // options and 2G on, wireless debugging and eSIM restriction unobserved, and the
    // bench's own certificates, accessibility services and apps.
    let mut s = compliance_support::android();
    s.os.security_patch_level = Some("2026-02-05".into());
    let st = &mut s.settings;
    st.developer_options_enabled = Some(true);
    st.cellular_2g_enabled = Some(true);
    st.wireless_debugging_enabled = None;
    st.add_esim_disallowed = None;
    st.user_ca_certs_sha256 = Some((0..5).map(|i| fingerprint(50_000 + i)).collect());
    st.accessibility_services = Some(
        (0..6)
            .map(|i| AccessibilityService {
                package_name: format!("org.assist.reader{i}"),
                system: i == 5,
            })
            .collect(),
    );
    s.apps = Some(apps);
    s.agent = Some(AgentFacts {
        package_name: package(7),
        uninstall_blocked: Some(true),
    });
    s.normalize().unwrap();
    s
}

/// The policy as the Rego rules read it (see the header of compliance.rego).
fn rego_data(policy: &Policy) -> Value {
    let mut rules = serde_json::Map::new();
    let mut forced_ids = Vec::new();
    for r in &policy.apps.applications {
        let id = r.package_name.clone().unwrap();
        let mut rule = json!({
            "installType": r.install_type,
            "certs": r.signing_key_certs.iter()
                .map(|c| c.signing_key_cert_fingerprint_sha256.to_string()).collect::<Vec<_>>(),
        });
        if let Some(v) = r.minimum_version_code {
            rule["minVersion"] = json!(v);
        }
        if let Some(list) = &r.allowed_installers {
            rule["installers"] = json!(list);
        }
        if r.install_type.required() {
            forced_ids.push(id.clone());
        }
        rules.insert(id, rule);
    }
    let days = policy
        .configuration
        .maximum_security_patch_age_days
        .unwrap();
    let today = jiff::Timestamp::from_millisecond(T0.as_unix_millis())
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let floor = today
        .checked_sub(jiff::Span::new().days(i64::from(days)))
        .unwrap();
    json!({
        "rules": rules,
        "forced": forced_ids,
        "mode": policy.apps.mode,
        "installers": policy.apps.allowed_installers,
        "config": policy.configuration,
        "patchFloor": floor.to_string(),
    })
}

/// Verdicts as comparable JSON: rule -> status, reasons, unobserved (codes sorted).
fn ours_as_map(verdicts: &[Verdict]) -> BTreeMap<String, Value> {
    verdicts
        .iter()
        .map(|v| {
            let mut reasons: Vec<&str> = v.reasons.iter().map(Code::as_str).collect();
            let mut unobserved: Vec<&str> = v.unobserved.iter().map(Code::as_str).collect();
            reasons.sort();
            unobserved.sort();
            (
                v.rule.to_string(),
                json!({"status": v.status.as_str(), "reasons": reasons, "unobserved": unobserved}),
            )
        })
        .collect()
}

fn regorus_as_map(value: &regorus::Value) -> BTreeMap<String, Value> {
    let json: Value = serde_json::from_str(&value.to_json_str().unwrap()).unwrap();
    json.as_object()
        .expect("the verdicts are an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn assert_same(what: &str, ours: &BTreeMap<String, Value>, theirs: &BTreeMap<String, Value>) {
    for (rule, v) in ours {
        assert_eq!(theirs.get(rule), Some(v), "{what} disagrees on {rule}");
    }
    assert_eq!(ours.len(), theirs.len(), "{what}: rule sets differ");
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/criterion"))
}

/// The median criterion measured in this run, if it did (not under `--test`).
fn median(id: &str, since: SystemTime) -> Option<Duration> {
    let path = criterion_dir()
        .join(GROUP)
        .join(id)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let estimates: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let ns = estimates["median"]["point_estimate"].as_f64()?;
    Some(Duration::from_secs_f64(ns / 1e9))
}

fn main() {
    let started = SystemTime::now();
    let policy = policy();
    let snapshot = snapshot();
    let prepared = PreparedPolicy::new(&policy);
    let snapshot_json = snapshot.to_json();
    let rego = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/compliance.rego"
    ))
    .unwrap();
    let data = regorus::Value::from_json_str(&rego_data(&policy).to_string()).unwrap();
    let input = regorus::Value::from_json_str(&snapshot_json).unwrap();

    // The interpreter.
    let mut engine = regorus::Engine::new();
    engine
        .add_policy("compliance.rego".into(), rego.clone())
        .unwrap();
    engine.add_data(data.clone()).unwrap();
    engine.set_input(input.clone());
    let interpreted = engine.eval_rule(ENTRY.into()).unwrap();

    // The RVM: the same policy compiled to bytecode.
    let compiled = engine
        .compile_with_entrypoint(&regorus::Rc::from(ENTRY))
        .unwrap();
    let program = Compiler::compile_from_policy(&compiled, &[ENTRY]).unwrap();
    let mut vm = RegoVM::new();
    vm.load_program(program);
    // The default limit (25,000 instructions) guards against runaway policies; 1,000
    // apps need more, and the limit is still checked on every instruction.
    vm.set_max_instructions(100_000_000);
    vm.set_data(data.clone()).unwrap();
    vm.set_input(input.clone());
    let executed = vm.execute().unwrap();

    // Same verdicts everywhere, and the expected ones.
    let verdicts = evaluate_rules(&prepared, &snapshot, T0);
    let ours = ours_as_map(&verdicts);
    assert_same(
        "regorus (interpreter)",
        &ours,
        &regorus_as_map(&interpreted),
    );
    assert_same("regorus (RVM)", &ours, &regorus_as_map(&executed));
    let open: Vec<&Verdict> = verdicts.iter().filter(|v| v.status.is_open()).collect();
    assert_eq!(
        open.len(),
        3 + 3 + 2 + 2 + 5 + 1 + 3,
        "planted violations: {open:?}"
    );
    assert_eq!(
        open.iter().filter(|v| v.status == Status::Unknown).count(),
        1,
        "wireless debugging is not observed"
    );
    println!(
        "{} verdicts ({} apps, {} open), identical in Rust, the regorus interpreter and the RVM",
        verdicts.len(),
        verdicts.iter().filter(|v| v.rule.app().is_some()).count(),
        open.len()
    );
    let first = ComplianceEngine::new().evaluate(&prepared, &snapshot, T0);
    println!(
        "a fresh engine's first evaluation: {} alerts, {} actions",
        first.new_alerts.len(),
        first.new_actions.len()
    );

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    {
        let mut group = c.benchmark_group(GROUP);
        group.bench_function("rust_evaluate_rules", |b| {
            b.iter(|| evaluate_rules(black_box(&prepared), black_box(&snapshot), T0));
        });
        let mut steady = ComplianceEngine::new();
        steady.evaluate(&prepared, &snapshot, T0);
        group.bench_function("rust_engine_evaluate_unchanged", |b| {
            b.iter(|| {
                let e = steady.evaluate(black_box(&prepared), black_box(&snapshot), T0);
                debug_assert!(e.new_actions.is_empty());
                e
            });
        });
        let fresh = ComplianceEngine::new();
        group.bench_function("rust_engine_evaluate_first", |b| {
            b.iter_batched(
                || fresh.clone(),
                |mut engine| engine.evaluate(black_box(&prepared), black_box(&snapshot), T0),
                BatchSize::SmallInput,
            );
        });
        group.bench_function("regorus_interpreter", |b| {
            b.iter(|| {
                engine.set_input(black_box(input.clone()));
                engine.eval_rule(ENTRY.into()).unwrap()
            });
        });
        group.bench_function("regorus_rvm", |b| {
            b.iter(|| {
                vm.set_input(black_box(input.clone()));
                vm.execute().unwrap()
            });
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("compliance_setup");
        group.sample_size(20);
        group.bench_function("prepare_policy_10k_rules", |b| {
            b.iter(|| PreparedPolicy::new(black_box(&policy)));
        });
        group.bench_function("parse_snapshot_1k_apps", |b| {
            b.iter(|| DeviceSnapshot::from_json(black_box(snapshot_json.as_bytes())).unwrap());
        });
        group.finish();
    }
    c.final_summary();

    let ids = [
        "rust_evaluate_rules",
        "rust_engine_evaluate_unchanged",
        "rust_engine_evaluate_first",
        "regorus_interpreter",
        "regorus_rvm",
    ];
    let medians: Vec<Option<Duration>> = ids.iter().map(|id| median(id, started)).collect();
    if medians.iter().all(Option::is_some) {
        let m: Vec<Duration> = medians.into_iter().flatten().collect();
        println!("\nmedians ({} snapshot JSON bytes):", snapshot_json.len());
        for (id, d) in ids.iter().zip(&m) {
            println!("  {id:<32} {d:>12.2?}");
        }
        let ours = m[1];
        let regorus_best = m[3].min(m[4]);
        println!(
            "ratio: regorus (fastest of interpreter and RVM) / Rust engine (full evaluate, unchanged snapshot) = {:.0}x",
            regorus_best.as_secs_f64() / ours.as_secs_f64()
        );
        println!(
            "       regorus interpreter / Rust = {:.0}x, regorus RVM / Rust = {:.0}x",
            m[3].as_secs_f64() / ours.as_secs_f64(),
            m[4].as_secs_f64() / ours.as_secs_f64()
        );
    }
}
