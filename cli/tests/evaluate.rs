//! End-to-end checks of `portcullis evaluate` on the sample snapshots and the
//! baseline policies.

mod support;

use std::process::Output;

use serde_json::Value;
use support::{contains_all, portcullis, repo, stdout_of};

fn sample(name: &str) -> String {
    repo(&format!("core/tests/data/compliance/{name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn policy(name: &str) -> String {
    repo(&format!("policies/{name}.json"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `evaluate` of the SNAPSHOT file against the shipped policy NAME, and EXTRA.
fn evaluate(name: &str, snapshot: &str, extra: &[&str]) -> Output {
    let policy = policy(name);
    let mut args = vec!["evaluate", "--policy", &policy, "--snapshot", snapshot];
    args.extend_from_slice(extra);
    portcullis(&args)
}

fn json_run(name: &str, snapshot: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let out = evaluate(name, snapshot, &[&["--format", "json"][..], extra].concat());
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            stdout(&out),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), value)
}

#[test]
fn violations_exit_3_and_json_lists_verdicts_actions_and_alerts() {
    let (code, report) = json_run("baseline", &sample("pixel-violations.json"), &[]);
    assert_eq!(code, Some(3));
    assert_eq!(report["policy"], "baseline");
    assert_eq!(
        report["at"], "2026-03-01T08:00:00Z",
        "the snapshot's collectedAt"
    );
    assert_eq!(report["compliant"], false);
    assert_eq!(report["sections"]["apps"], "NON_COMPLIANT");
    let verdicts = report["verdicts"].as_array().unwrap();
    let anydesk = verdicts
        .iter()
        .find(|v| v["rule"] == "app:com.anydesk.anydeskandroid")
        .unwrap();
    assert_eq!(anydesk["status"], "NON_COMPLIANT");
    assert_eq!(anydesk["reasons"], serde_json::json!(["APP_INSTALLED"]));
    assert_eq!(anydesk["enforcement"], "SUSPEND_APP");
    let password = verdicts
        .iter()
        .find(|v| v["rule"] == "configuration.passwordRequirements.passwordQuality")
        .unwrap();
    assert_eq!(password["status"], "UNKNOWN");
    assert_eq!(
        password["unobserved"],
        serde_json::json!(["settings.passwordComplexity"])
    );
    let actions = report["actions"].as_array().unwrap();
    assert!(actions.iter().any(|a| a["action"] == "APPLY"
        && a["measure"]["kind"] == "PACKAGE_SUSPENDED"
        && a["measure"]["package"] == "com.anydesk.anydeskandroid"
        && a["route"] == "AGENT"));
    assert!(actions
        .iter()
        .any(|a| a["action"] == "REMOVE_CA_CERT" && a["route"] == "AGENT"));
    assert_eq!(report["alerts"].as_array().unwrap().len(), 8);
    assert_eq!(report["nextDeadline"], "2026-03-04T08:00:00Z");
}

#[test]
fn a_compliant_phone_exits_0_with_a_short_report() {
    let out = evaluate("election-sensitive", &sample("pixel-compliant.json"), &[]);
    contains_all(
        &stdout_of(&out, 0),
        &[
            "Device: COMPLIANT  (apps: COMPLIANT, configuration: COMPLIANT)",
            "0 need attention",
            "Alerts (0):",
            "APPLY  USER_RESTRICTION DISALLOW_CELLULAR_2G",
        ],
    );
    // --all lists the compliant and not-applicable verdicts too.
    let out = evaluate(
        "election-sensitive",
        &sample("pixel-compliant.json"),
        &["--all"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("NOT_APPLICABLE  configuration.minimumIosVersion"),
        "{text}"
    );
}

#[test]
fn state_carries_the_no_repeat_memory_and_the_ladder_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let run = |at: &str| {
        json_run(
            "baseline",
            &sample("pixel-violations.json"),
            &["--state", state, "--at", at],
        )
    };
    let (_, first) = run("2026-03-01T08:00:00Z");
    assert!(!first["actions"].as_array().unwrap().is_empty());
    let (code, again) = run("2026-03-01T09:00:00Z");
    assert_eq!(code, Some(3), "still not compliant");
    assert_eq!(again["actions"], serde_json::json!([]), "nothing repeated");
    assert_eq!(again["alerts"], serde_json::json!([]));
    // Baseline blocks apps after 3 days.
    let (_, later) = run("2026-03-04T08:00:00Z");
    let kinds: Vec<&str> = later["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["compliance_blocked"]);
    let actions: Vec<&str> = later["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["APPLY", "LOCK_DEVICE"]);
    assert_eq!(later["actions"][0]["measure"]["kind"], "ACCESS_BLOCKED");
}

#[test]
fn ios_unknowns_are_not_compliant() {
    let (code, report) = json_run(
        "baseline",
        &sample("iphone.json"),
        &["--at", "2026-03-01T08:00:00Z"],
    );
    assert_eq!(code, Some(3));
    assert_eq!(report["platform"], "ios");
    assert_eq!(report["sections"]["configuration"], "NON_COMPLIANT");
    let unknown = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["status"] == "UNKNOWN")
        .count();
    assert_eq!(unknown, 4);
}

#[test]
fn bad_input_exits_2_naming_the_place_not_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"schema": "portcullis/snapshot/v1", "platform": "android",
            "apps": [{"id": "someone@example.org"}]}"#,
    )
    .unwrap();
    let out = evaluate("baseline", bad.to_str().unwrap(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apps[0].id"), "{err}");
    assert!(!err.contains("someone"), "{err}");
    let out = evaluate("baseline", "/nonexistent/snapshot.json", &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = portcullis(&["evaluate", "--policy", &policy("baseline")]);
    assert_eq!(out.status.code(), Some(2), "clap: --snapshot required");
}

#[test]
fn schema_prints_the_committed_snapshot_schema() {
    let out = portcullis(&["evaluate", "--schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(repo("policies/snapshot.schema.json")).unwrap();
    assert_eq!(stdout(&out), committed);
}
