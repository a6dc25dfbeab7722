//! End-to-end checks of `portcullis schedule`, the policy preview an administrator runs.

mod support;

use std::path::{Path, PathBuf};
use support::portcullis;

fn policy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policies")
        .join(name)
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = portcullis(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The arguments of `schedule` under POLICY from FROM for COUNT windows, and EXTRA.
fn schedule<'a>(
    policy: &'a Path,
    from: &'a str,
    count: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["schedule", "--policy", text(policy), "--from", from];
    args.extend(["--count", count]);
    args.extend_from_slice(extra);
    args
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The local hour and offset of `2026-03-27T01:32+01:00`.
fn local_hour_and_offset(local: &str) -> (u32, &str) {
    (local[11..13].parse().unwrap(), &local[16..])
}

#[test]
fn prints_the_next_windows_inside_the_policy_hours() {
    let baseline = policy("baseline.json");
    let args = schedule(&baseline, "2026-03-01T09:30:00+02:00", "6", &[]);
    let report = json(&args);
    assert_eq!(report["policy"], "baseline");
    assert_eq!(report["utc_offset"], "+02:00", "taken from --from");
    assert_eq!(report["demonstration_secret"], true);
    let windows = report["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 6);
    let mut previous_end = String::new();
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(w["index"], i + 1);
        assert_eq!(w["kind"], "routine");
        assert_eq!(w["cycle"], i);
        let (hour, offset) = local_hour_and_offset(w["local_start"].as_str().unwrap());
        assert!((1..5).contains(&hour), "{w}");
        assert_eq!(offset, "+02:00");
        let (end_hour, _) = local_hour_and_offset(w["local_end"].as_str().unwrap());
        assert!((1..=5).contains(&end_hour), "{w}");
        let start = w["starts_at"].as_str().unwrap().to_owned();
        assert!(start > previous_end, "windows in order, never overlapping");
        previous_end = w["ends_at"].as_str().unwrap().to_owned();
    }
    // Deterministic: the same command prints the same windows; text lists them all.
    assert_eq!(json(&args), report);
    let out = portcullis(&args);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout
        .contains("one routine window every 30 days, 60 minutes long, between 01:00 and 05:00"));
    assert!(stdout.contains("demonstration secret"));
    let rows = stdout
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains(" routine "));
    assert_eq!(rows.count(), 6, "{stdout}");
    let first = windows[0]["local_start"].as_str().unwrap();
    assert!(stdout.contains(first), "{stdout}");
}

#[test]
fn each_device_secret_gives_its_own_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.key");
    let b = dir.path().join("b.key");
    std::fs::write(&a, b"device A secret, at least 16 bytes").unwrap();
    std::fs::write(&b, b"device B secret, at least 16 bytes").unwrap();
    let p = policy("election-sensitive.json");
    let run = |secret: &Path| {
        json(&schedule(
            &p,
            "2026-05-01T00:00:00Z",
            "8",
            &[
                "--utc-offset",
                "-05:00",
                "--device-secret-file",
                text(secret),
            ],
        ))
    };
    let (ra, rb) = (run(&a), run(&b));
    assert_eq!(ra["demonstration_secret"], false);
    assert_eq!(ra["utc_offset"], "-05:00");
    assert_ne!(ra["windows"], rb["windows"]);
    assert_eq!(run(&a), ra);

    // A secret too short to be a key is refused, without printing it.
    let short = dir.path().join("short.key");
    std::fs::write(&short, b"tiny").unwrap();
    let out = portcullis(&schedule(
        &p,
        "2026-05-01T00:00:00Z",
        "1",
        &["--device-secret-file", text(&short)],
    ));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("16 bytes") && !stderr.contains("tiny"),
        "{stderr}"
    );
}

#[test]
fn a_dst_change_moves_windows_to_the_new_offset_inside_the_hours() {
    let p = policy("election-sensitive.json");
    let report = json(&schedule(
        &p,
        "2026-03-20T12:00:00+01:00",
        "4",
        &["--offset-change", "2026-03-29T01:00:00Z=+02:00"],
    ));
    assert_eq!(
        report["offset_change"],
        serde_json::json!({"at": "2026-03-29T01:00:00Z", "offset": "+02:00"})
    );
    let mut offsets = Vec::new();
    for w in report["windows"].as_array().unwrap() {
        let start = w["local_start"].as_str().unwrap();
        let (hour, offset) = local_hour_and_offset(start);
        assert!(hour < 5, "{w}");
        let expected = if w["starts_at"].as_str().unwrap() < "2026-03-29T01:00:00Z" {
            "+01:00"
        } else {
            "+02:00"
        };
        assert_eq!(offset, expected, "{w}");
        offsets.push(offset.to_owned());
    }
    assert!(offsets.iter().any(|o| o == "+02:00"));
}

#[test]
fn bad_arguments_fail_with_one_line_naming_them() {
    let p = policy("baseline.json");
    let dir = tempfile::tempdir().unwrap();
    let long_window = dir.path().join("long-window.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    doc["inspection"]["windowMinutes"] = 600.into();
    std::fs::write(&long_window, doc.to_string()).unwrap();
    let missing = dir.path().join("missing.json");
    for (args, needle) in [
        (vec!["--from", "yesterday"], "--from"),
        (vec!["--utc-offset", "+25:00"], "--utc-offset"),
        (
            vec!["--offset-change", "2026-03-29T01:00:00Z"],
            "--offset-change",
        ),
        (
            vec!["--policy", text(&long_window)],
            "inspection.windowMinutes",
        ),
        (vec!["--policy", text(&missing)], "cannot read"),
    ] {
        let mut all = vec!["schedule", "--count", "2"];
        if !args.contains(&"--policy") {
            all.extend(["--policy", text(&p)]);
        }
        if !args.contains(&"--from") {
            all.extend(["--from", "2026-03-01T00:00:00Z"]);
        }
        all.extend(args.iter().copied());
        let out = portcullis(&all);
        assert_eq!(out.status.code(), Some(1), "{all:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{all:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // clap refuses a count out of range (usage error, exit 2).
    let out = portcullis(&schedule(&p, "2026-03-01T00:00:00Z", "0", &[]));
    assert_eq!(out.status.code(), Some(2));
}
