//! End-to-end checks of `portcullis instruction ...`, `root create --operations-key`
//! and `simulate --trust-root` as the security team and the held-out checks use them:
//! a forged, replayed, expired or mis-scoped authorisation never keeps `sim_replaced`
//! from being raised at CRITICAL, and each raises `instruction_refused`.

use std::path::Path;

mod support;

use support::{fails, keygen, ok, p, root_create, root_sign};

/// Keys and a signed root with root, policy and operations roles in `dir`.
struct Console {
    root: String,
    operations: String,
    policy: String,
    stray: String,
}

fn console(dir: &Path) -> Console {
    let (root_key, root_pub) = keygen(dir, "root");
    let (policy_key, policy_pub) = keygen(dir, "policy");
    let (ops_key, ops_pub) = keygen(dir, "operations");
    let (stray_key, _) = keygen(dir, "stray");
    let doc = root_create(
        dir,
        "root.json",
        &[
            "--root-key",
            &root_pub,
            "--policy-key",
            &policy_pub,
            "--operations-key",
            &ops_pub,
        ],
    );
    let signed = p(dir, "root.signed.json");
    root_sign(&[&root_key], &doc, &signed);
    Console {
        root: signed,
        operations: ops_key,
        policy: policy_key,
        stray: stray_key,
    }
}

const T_SIGN: &str = "2026-03-02T09:00:00Z";

/// Signs an authorisation; `extra` flags replace the defaults they name.
fn authorize(dir: &Path, name: &str, key: &str, extra: &[&str]) -> String {
    let out = p(dir, name);
    let mut flags: Vec<(&str, &str)> = vec![
        ("--sequence", "10"),
        ("--issued-at", T_SIGN),
        ("--until", "2026-03-02T12:00:00Z"),
        ("--reason", "ticket SEC-1: planned replacement"),
        ("--device", "simulated-device"),
    ];
    for pair in extra.chunks(2) {
        flags.retain(|(f, _)| *f != pair[0]);
        flags.push((pair[0], pair[1]));
    }
    let mut args = sign_args(key, "authorize-sim-change", &out, &[]);
    for (f, v) in &flags {
        args.extend([*f, *v]);
    }
    ok(&args);
    out
}

/// The arguments of `instruction sign` with KEY, KIND, OUT and EXTRA.
fn sign_args<'a>(key: &'a str, kind: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "instruction",
        "sign",
        "--key",
        key,
        "--kind",
        kind,
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    args
}

/// The arguments of `instruction verify` of INPUT for DEVICE under ROOT, during the
/// window the default authorisation opens.
fn verify_args<'a>(root: &'a str, device: &'a str, input: &'a str) -> Vec<&'a str> {
    vec![
        "instruction",
        "verify",
        "--trust",
        root,
        "--device",
        device,
        "--now",
        "2026-03-02T09:05:00Z",
        "--in",
        input,
    ]
}

/// A trace: a SIM learned, the instruction delivered, then the SIM replaced.
fn trace(dir: &Path, name: &str, instructions: &[&str]) -> String {
    let mut lines = vec![
        r#"{"at":"2026-03-02T08:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345678901","mcc_mnc":"23415"}}"#.to_owned(),
    ];
    for (i, path) in instructions.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        lines.push(
            serde_json::json!({ "at": format!("2026-03-02T09:0{i}:00Z"), "instruction": text })
                .to_string(),
        );
    }
    lines.push(r#"{"at":"2026-03-02T09:30:00Z","sim":{"slot":0,"state":"absent"}}"#.to_owned());
    lines.push(r#"{"at":"2026-03-02T09:32:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345679999","mcc_mnc":"23415"}}"#.to_owned());
    let path = p(dir, name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn simulate(root: &str, scenario: &str) -> Vec<serde_json::Value> {
    ok(&[
        "simulate",
        "--trust-root",
        root,
        "--scenario",
        scenario,
        "--format",
        "jsonl",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

fn kinds(alerts: &[serde_json::Value]) -> Vec<(String, String)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(alerts: &[serde_json::Value], kind: &str, severity: &str) -> bool {
    kinds(alerts).contains(&(kind.to_owned(), severity.to_owned()))
}

#[test]
fn a_signed_authorisation_turns_the_replacement_into_the_new_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let c = console(dir.path());
    let good = authorize(dir.path(), "good.json", &c.operations, &[]);
    let alerts = simulate(&c.root, &trace(dir.path(), "t.jsonl", &[&good]));
    assert!(
        has(&alerts, "sim_change_window_opened", "info"),
        "{alerts:?}"
    );
    assert!(has(&alerts, "sim_change_authorized", "info"), "{alerts:?}");
    assert!(!has(&alerts, "sim_replaced", "critical"), "{alerts:?}");
}

#[test]
fn forged_replayed_expired_and_mis_scoped_authorisations_never_silence_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let good = authorize(d, "good.json", &c.operations, &[]);
    let cases = [
        ("forged", vec![authorize(d, "forged.json", &c.stray, &[])]),
        (
            "policy key",
            vec![authorize(d, "policy-key.json", &c.policy, &[])],
        ),
        // A different authorisation under an already-used sequence.
        (
            "replayed",
            vec![
                good.clone(),
                authorize(
                    d,
                    "replay.json",
                    &c.operations,
                    &["--until", "2026-03-02T11:00:00Z", "--id", "second"],
                ),
            ],
        ),
        (
            "expired",
            vec![authorize(
                d,
                "expired.json",
                &c.operations,
                &[
                    "--issued-at",
                    "2026-03-01T07:00:00Z",
                    "--until",
                    "2026-03-01T09:00:00Z",
                    "--expires",
                    "2026-03-01T10:00:00Z",
                ],
            )],
        ),
        (
            "mis-scoped",
            vec![authorize(
                d,
                "scoped.json",
                &c.operations,
                &["--device", "someone-else"],
            )],
        ),
    ];
    for (name, instructions) in cases {
        let list: Vec<&str> = instructions.iter().map(String::as_str).collect();
        let mut alerts = simulate(&c.root, &trace(d, &format!("{name}.jsonl"), &list));
        if name == "replayed" {
            // The first, genuine window is closed before the replayed one arrives.
            alerts.retain(|a| a["kind"] != "sim_change_window_opened");
        }
        assert!(
            has(&alerts, "instruction_refused", "high"),
            "{name}: {alerts:?}"
        );
        if name != "replayed" {
            assert!(
                has(&alerts, "sim_replaced", "critical"),
                "{name}: {alerts:?}"
            );
        }
    }
}

#[test]
fn a_replayed_authorisation_after_its_window_keeps_sim_replaced_critical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let good = authorize(
        d,
        "good.json",
        &c.operations,
        &["--until", "2026-03-02T09:10:00Z"],
    );
    let replay = authorize(
        d,
        "replay.json",
        &c.operations,
        &["--until", "2026-03-02T11:00:00Z", "--id", "again"],
    );
    let alerts = simulate(&c.root, &trace(d, "t.jsonl", &[&good, &replay]));
    assert!(has(&alerts, "instruction_refused", "high"), "{alerts:?}");
    assert!(has(&alerts, "sim_replaced", "critical"), "{alerts:?}");
}

#[test]
fn the_trace_shorthand_is_a_forgery_under_another_root() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let scenario = p(d, "shorthand.jsonl");
    std::fs::write(
        &scenario,
        [
            r#"{"at":"2026-03-02T08:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345678901"}}"#,
            r#"{"at":"2026-03-02T09:00:00Z","authorize_sim_change":{"until":"2026-03-02T12:00:00Z","reason":"ticket 1"}}"#,
            r#"{"at":"2026-03-02T09:32:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345679999"}}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let alerts = simulate(&c.root, &scenario);
    assert!(has(&alerts, "instruction_refused", "high"), "{alerts:?}");
    assert!(has(&alerts, "sim_replaced", "critical"), "{alerts:?}");
    // Under the simulator's own root, the shorthand is signed and honoured.
    let own: Vec<serde_json::Value> =
        ok(&["simulate", "--scenario", &scenario, "--format", "jsonl"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert!(has(&own, "sim_change_authorized", "info"), "{own:?}");
}

#[test]
fn verify_checks_as_a_phone_would_and_says_what_it_would_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let good = authorize(d, "good.json", &c.operations, &[]);
    let out = ok(&verify_args(&c.root, "simulated-device", &good));
    assert!(
        out.contains("a phone would accept it") && out.contains("SIM-change window"),
        "{out}"
    );
    let forged = authorize(d, "forged.json", &c.stray, &[]);
    let err = fails(&verify_args(&c.root, "simulated-device", &forged));
    assert!(
        err.contains("not a operations key") || err.contains("operations"),
        "{err}"
    );
    let err = fails(&verify_args(&c.root, "another", &good));
    assert!(err.contains("out of scope"), "{err}");
}

#[test]
fn a_carrier_check_relays_the_response_as_is_and_names_the_line_by_its_pin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let response = p(d, "response.json");
    std::fs::write(
        &response,
        "{\"latestDeviceChange\": \"2026-03-02T08:30:00Z\"}\n",
    )
    .unwrap();
    let out = p(d, "check.json");
    ok(&sign_args(
        &c.operations,
        "carrier-check",
        &out,
        &[
            "--device",
            "simulated-device",
            "--sequence",
            "3",
            "--issued-at",
            T_SIGN,
            "--api",
            "device_swap",
            "--operation",
            "retrieve_date",
            "--response",
            &response,
            "--trust",
            &c.root,
        ],
    ));
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    assert!(
        payload.contains(r#""response":{"latestDeviceChange": "2026-03-02T08:30:00Z"}"#),
        "{payload}"
    );
    let alerts = simulate(&c.root, &trace(d, "t.jsonl", &[&out]));
    assert!(
        has(&alerts, "carrier_reported_device_swap", "critical"),
        "{alerts:?}"
    );
    // Missing kind fields and identifier-shaped text are refused before anything is written.
    let x = p(d, "x.json");
    let err = fails(&sign_args(
        &c.operations,
        "carrier-check",
        &x,
        &["--device", "d", "--sequence", "4", "--api", "sim_swap"],
    ));
    assert!(err.contains("--operation"), "{err}");
    let y = p(d, "y.json");
    let err = fails(&sign_args(
        &c.operations,
        "show-notice",
        &y,
        &[
            "--device",
            "d",
            "--sequence",
            "5",
            "--title",
            "Call +44 7700 900123",
            "--body",
            "now",
        ],
    ));
    assert!(
        err.contains("body.title") && !err.contains("900123"),
        "{err}"
    );
    assert!(!Path::new(&p(d, "y.json")).exists());
}

#[test]
fn an_envelope_pasted_as_an_object_keeps_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = console(d);
    let good = authorize(d, "good.json", &c.operations, &[]);
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    let scenario = p(d, "object.jsonl");
    let lines = [
        r#"{"at":"2026-03-02T08:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345678901"}}"#.to_owned(),
        serde_json::json!({"at": "2026-03-02T09:00:00Z", "instruction": envelope}).to_string(),
        r#"{"at":"2026-03-02T09:32:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110012345679999"}}"#.to_owned(),
    ];
    std::fs::write(&scenario, lines.join("\n")).unwrap();
    let alerts = simulate(&c.root, &scenario);
    assert!(has(&alerts, "sim_change_authorized", "info"), "{alerts:?}");
}
