//! End-to-end checks of `portcullis simulate` as a person or script runs it.

mod support;

use std::path::{Path, PathBuf};
use support::portcullis;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/scenarios")
        .join(name)
}

#[test]
fn jsonl_output_lists_each_alert_with_the_console_fields() {
    let path = scenario("sim-swap-at-night.jsonl");
    let out = portcullis(&[
        "simulate",
        "--scenario",
        path.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sim_removed", "sim_replaced"]);
    for v in &lines {
        for field in [
            "at",
            "kind",
            "severity",
            "slot",
            "detector",
            "detector_version",
        ] {
            assert!(!v[field].is_null(), "missing {field} in {v}");
        }
    }
    assert_eq!(lines[1]["severity"], "critical");
}

#[test]
fn text_output_is_a_timeline_without_identifiers() {
    let path = scenario("sim-swap-at-night.jsonl");
    let out = portcullis(&["simulate", "--scenario", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("CRITICAL") && text.contains("sim_replaced"),
        "{text}"
    );
    assert!(!text.contains("8944110012345678901"), "{text}");
}

#[test]
fn a_kept_database_carries_state_into_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("agent.db");
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    std::fs::write(
        &first,
        r#"{"at":"2026-03-01T09:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345678901"}}"#,
    )
    .unwrap();
    std::fs::write(
        &second,
        r#"{"at":"2026-03-02T09:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345670000"}}"#,
    )
    .unwrap();
    let db_arg = db.to_str().unwrap();
    let run = |trace: &Path| {
        portcullis(&[
            "simulate",
            "--scenario",
            trace.to_str().unwrap(),
            "--db",
            db_arg,
            "--format",
            "jsonl",
        ])
    };
    assert!(run(&first).stdout.is_empty());
    let out = run(&second);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("sim_replaced"));
}

#[test]
fn a_malformed_trace_fails_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"at\":\"2026-03-01T09:00:00Z\",\"tick\":{}}\n{\"at\":\"2026-03-01T09:01:00Z\",\"sim\":{\"slot\":0,\"state\":\"ready\",\"iccid\":\"89441100123456789012345\"}}\n",
    )
    .unwrap();
    let out = portcullis(&["simulate", "--scenario", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 2") && err.contains("iccid"), "{err}");
    assert!(!err.contains("8944110012"), "{err}");
}

#[test]
fn a_policy_file_changes_what_the_guard_raises() {
    // election-sensitive shortens the port-out window to 5 minutes: the same trace
    // raises its first port-out alert five minutes earlier than under the baseline rules.
    let trace = scenario("port-out-on-wifi.jsonl");
    let first_port_out = |policy: Option<&str>| {
        let mut args = vec![
            "simulate",
            "--scenario",
            trace.to_str().unwrap(),
            "--format",
            "jsonl",
        ];
        let path;
        if let Some(name) = policy {
            path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../policies")
                .join(name);
            args.extend(["--policy", path.to_str().unwrap()]);
        }
        let out = portcullis(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["kind"] == "port_out_suspected")
            .map(|v| v["at"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(first_port_out(None), "2026-03-03T10:10:00Z");
    assert_eq!(
        first_port_out(Some("election-sensitive.json")),
        "2026-03-03T10:05:00Z"
    );
}

#[test]
fn an_invalid_policy_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("policy.json");
    std::fs::write(&bad, r#"{"schema": "portcullis/policy/v1"}"#).unwrap();
    let trace = scenario("sim-swap-at-night.jsonl");
    let out = portcullis(&[
        "simulate",
        "--scenario",
        trace.to_str().unwrap(),
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("policy.json"));
}
