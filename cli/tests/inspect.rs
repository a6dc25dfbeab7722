//! End-to-end checks of `portcullis inspect` as the forensic kiosk runs it.

mod support;

use std::path::{Path, PathBuf};
use support::{contains_all, inspect, json_of, portcullis, stdout_of};

fn core_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/data")
        .join(name)
}

fn public_collections() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators");
    assert!(
        dir.is_dir(),
        "the public indicator collections are missing from {}",
        dir.display()
    );
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn findings_exit_3_and_json_names_indicator_malware_collection_and_evidence() {
    let bundle = core_data("spyware-fixture.stix2");
    let evidence = core_data("spyware-evidence.json");
    let out = inspect(&[&bundle], ("--evidence", &evidence), &["--format", "json"]);
    let report = json_of(&out, 3);
    assert_eq!(report["clean"], false);
    assert_eq!(report["indicators"], 16);
    assert_eq!(report["unparsed_patterns"], 1);
    assert_eq!(
        report["unparsed"][0]["indicator_id"],
        "indicator--fa90157b-a165-495d-a9c3-2fdc51af2558"
    );
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 14);
    let first = &findings[0];
    assert_eq!(first["collection"], "spyware-fixture");
    assert_eq!(
        first["indicator_id"],
        "indicator--065dc423-71b6-42a8-9f4e-300098d9d664"
    );
    assert_eq!(first["pattern"], "[app:id='com.spyvendor.updater']");
    assert_eq!(first["malware"], serde_json::json!(["FakeUpdater"]));
    assert_eq!(
        first["evidence"],
        serde_json::json!({"section": "packages", "index": 1, "field": "id",
                           "value": "com.spyvendor.updater"})
    );
    assert_eq!(first["matched"], "exact");
}

#[test]
fn text_report_lists_findings_and_unparsed_count() {
    let out = inspect(
        &[&core_data("spyware-fixture.stix2")],
        ("--evidence", &core_data("spyware-evidence.json")),
        &[],
    );
    contains_all(
        &stdout_of(&out, 3),
        &[
            "16 loaded from 1 collection(s); 1 unparsed pattern(s)",
            "FINDINGS: 14",
            "FakeUpdater, DragonStage",
            "evidence  domains[1].value = API.Update-CDN-Service.com.  (subdomain)",
        ],
    );
}

#[test]
fn a_clean_snapshot_exits_0_against_every_public_collection() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = write(
        dir.path(),
        "clean.json",
        r#"{"version": 1, "platform": "android",
            "packages": [{"id": "com.whatsapp", "installer": "com.android.vending"}],
            "domains": [{"value": "www.google.com"}]}"#,
    );
    let out = inspect(&[&public_collections()], ("--evidence", &evidence), &[]);
    contains_all(
        &stdout_of(&out, 0),
        &[
            "1441 loaded from 11 collection(s); 0 unparsed pattern(s)",
            "Clean: no indicator matched.",
        ],
    );
}

#[test]
fn several_bundles_combine() {
    let collections = public_collections();
    let evidence = core_data("spyware-evidence.json");
    let out = inspect(
        &[
            &collections.join("cellebrite.stix2"),
            &collections.join("predator.stix2"),
            &core_data("spyware-fixture.stix2"),
        ],
        ("--evidence", &evidence),
        &["--format", "json"],
    );
    let report = json_of(&out, 3);
    let names: Vec<&str> = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cellebrite", "predator", "spyware-fixture"]);
    assert_eq!(report["indicators"], 1 + 585 + 16);
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = core_data("spyware-fixture.stix2");
    let good_evidence = core_data("spyware-evidence.json");
    let not_json = write(dir.path(), "broken.stix2", "{\"type\": \"bundle\", ");
    let not_bundle = write(dir.path(), "report.stix2", r#"{"type": "report"}"#);
    let misspelt = write(
        dir.path(),
        "evidence.json",
        r#"{"version": 1, "pakages": [{"id": "someone@example.org"}]}"#,
    );
    let nothing_usable = write(
        dir.path(),
        "empty.stix2",
        r#"{"type": "bundle", "objects": [
            {"type": "indicator", "id": "indicator--1", "pattern": "[a:b='c' OR a:b='d']"}]}"#,
    );
    let missing = dir.path().join("missing.json");
    let cases: [(&Path, &Path, &str); 5] = [
        (&not_json, &good_evidence, "not valid JSON"),
        (&not_bundle, &good_evidence, "not a STIX bundle"),
        (&bundle, &misspelt, "unknown field `pakages`"),
        (&bundle, &missing, "cannot read"),
        (&nothing_usable, &good_evidence, "no usable indicator"),
    ];
    for (indicators, evidence, want) in cases {
        let out = inspect(&[indicators], ("--evidence", evidence), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{want}: {err}");
        assert!(err.contains(want), "{want}: {err}");
        assert!(!err.contains("someone"), "{err}");
        assert!(out.stdout.is_empty());
    }
    // No --indicators at all is a usage error, also exit 2.
    let out = portcullis(&["inspect", "--evidence", path(&good_evidence)]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_telemetry_export_is_matched_and_detected_offline_naming_times_and_packages() {
    let dir = tempfile::tempdir().unwrap();
    let export = write(
        dir.path(),
        "phone.jsonl",
        concat!(
            r#"{"type": "dns", "at": "2026-05-01T10:00:00Z", "package": "com.example.mail", "host": "example.org", "addresses": ["192.0.2.1"]}"#,
            "\n",
            r#"{"type": "dns", "at": "2026-05-01T10:05:00Z", "package": "com.example.game", "host": "api.update-cdn-service.com"}"#,
            "\n",
            r#"{"type": "security", "at": "2026-05-01T11:00:00Z", "event": {"tag": "adb_shell_interactive"}}"#,
            "\n",
        ),
    );
    let out = inspect(
        &[&core_data("spyware-fixture.stix2")],
        ("--telemetry", &export),
        &["--format", "json"],
    );
    let report = json_of(&out, 3);
    assert_eq!(report["events"], 3);
    assert_eq!(report["matches"].as_array().unwrap().len(), 1);
    assert_eq!(report["matches"][0]["package"], "com.example.game");
    assert_eq!(report["matches"][0]["at"], "2026-05-01T10:05:00Z");
    let kinds: Vec<_> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("indicator_match", "2026-05-01T10:05:00Z"),
            ("adb_shell_used", "2026-05-01T11:00:00Z")
        ]
    );

    // A clean export exits 0; a malformed line exits 2 naming the line, not its digits.
    let clean = write(dir.path(), "clean.jsonl", "");
    let out = inspect(
        &[&core_data("spyware-fixture.stix2")],
        ("--telemetry", &clean),
        &[],
    );
    stdout_of(&out, 0);
    let bad = write(
        dir.path(),
        "bad.jsonl",
        "{\"type\": \"dns\", \"at\": \"2026-05-01T10:00:00Z\", \"package\": \"com.x\", \"host\": \"+4915112345678 x\"}\n",
    );
    let out = inspect(
        &[&core_data("spyware-fixture.stix2")],
        ("--telemetry", &bad),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("events[0].host"), "{stderr}");
    assert!(!stderr.contains("4915112345678"), "{stderr}");
}
