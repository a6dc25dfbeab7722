//! `portcullis journal verify|export` against a real agent database.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::{trace, Agent, SoftwareDeviceKey};
use support::{json_lines, portcullis};

#[path = "../../core/tests/policy_support/mod.rs"]
mod policy_support;

/// Keeps OCSF events where `scripts/ocsf-tests.sh` validates them against the OCSF schema.
fn keep_for_validation(name: &str, events: &[serde_json::Value]) {
    if let Some(dir) = std::env::var_os("PORTCULLIS_OCSF_DUMP") {
        let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(Path::new(&dir).join(format!("{name}.jsonl")), lines).unwrap();
    }
}

struct Device {
    _dir: tempfile::TempDir,
    db: PathBuf,
    checkpoint: PathBuf,
    key: PathBuf,
}

fn device() -> Device {
    device_with(false)
}

/// The scenario's journal; `enrolled` installs a trust root for `dev-0001` first, as the
/// managed configuration does on a real phone.
fn device_with(enrolled: bool) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("staff-phone-7.db");
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios/sim-swap-at-night.jsonl");
    let events = trace::parse(&std::fs::read_to_string(scenario).unwrap()).unwrap();
    let key = Arc::new(SoftwareDeviceKey::new(b"cli-journal-test-secret").unwrap());
    let mut agent = Agent::open(&db, key, events[0].at, [5; 32]).unwrap();
    let key0 = agent.journal_key_export().unwrap().unwrap();
    if enrolled {
        let root = policy_support::standard_root(1)
            .sign(&[&policy_support::key(1), &policy_support::key(2)])
            .unwrap();
        agent
            .install_trust_root(&root, policy_support::device(), events[0].at)
            .unwrap();
    }
    trace::replay(&mut agent, &events, &mut trace::refuse_shorthands).unwrap();
    let cp = agent.checkpoint(events.last().unwrap().at).unwrap();
    let checkpoint = dir.path().join("checkpoint.json");
    std::fs::write(&checkpoint, serde_json::to_string(&cp).unwrap()).unwrap();
    let key = dir.path().join("journal-key.hex");
    std::fs::write(
        &key,
        key0.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    )
    .unwrap();
    Device {
        _dir: dir,
        db,
        checkpoint,
        key,
    }
}

fn verify(d: &Device) -> std::process::Output {
    portcullis(&[
        "journal",
        "verify",
        "--db",
        d.db.to_str().unwrap(),
        "--checkpoint",
        d.checkpoint.to_str().unwrap(),
        "--journal-key",
        d.key.to_str().unwrap(),
    ])
}

#[test]
fn verify_reports_an_intact_journal_and_names_the_first_broken_record() {
    let d = device();
    let ok = verify(&d);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let text = String::from_utf8(ok.stdout).unwrap();
    assert!(
        text.contains("journal intact: 3 records") && text.contains("MACs verified"),
        "{text}"
    );

    let conn = rusqlite::Connection::open(&d.db).unwrap();
    conn.execute(
        "UPDATE journal SET body = replace(body, 'absent', 'present') WHERE seq = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let broken = verify(&d);
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8(broken.stdout).unwrap();
    assert!(text.contains("BROKEN at record 2"), "{text}");
}

#[test]
fn export_gives_every_record_and_ocsf_findings_for_alerts() {
    let d = device();
    let db = d.db.to_str().unwrap();
    let records = json_lines(&portcullis(&["journal", "export", "--db", db]));
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["enrolled", "alert", "alert"]);

    let out = portcullis(&["journal", "export", "--db", db, "--format", "ocsf"]);
    let findings = json_lines(&out);
    assert_eq!(findings.len(), 2);
    assert_eq!(findings[1]["class_uid"], 2004);
    assert_eq!(findings[1]["finding_info"]["title"], "sim_replaced");
    assert_eq!(findings[1]["severity_id"], 5);
    assert_eq!(findings[1]["finding_info"]["uid"], "staff-phone-7:3");
    assert_eq!(findings[1]["severity"], "Critical");
    keep_for_validation("cli-journal-export-unenrolled", &findings);
    let note = String::from_utf8(out.stderr).unwrap();
    assert!(note.contains("no enrolled device id"), "{note}");
}

#[test]
fn ocsf_findings_name_the_enrolled_device_and_carry_evidences_and_resources() {
    let d = device_with(true);
    let db = d.db.to_str().unwrap();
    let out = portcullis(&["journal", "export", "--db", db, "--format", "ocsf"]);
    let findings = json_lines(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(findings.len(), 2);
    for f in &findings {
        // The enrolled id, not the database name.
        assert_eq!(f["device"]["uid"], "dev-0001");
        assert_eq!(f["device"]["name"], "dev-0001");
        assert_eq!(f["device"]["type_id"], 5);
        assert_eq!(f["resources"][0]["uid"], "dev-0001");
        assert_eq!(f["resources"][1]["name"], "SIM slot 0");
        assert!(
            f["evidences"][0]["data"].as_object().unwrap().len() > 1,
            "{f}"
        );
        assert_eq!(f["metadata"]["version"], "1.1.0");
        assert_eq!(f["metadata"]["product"]["name"], "Portcullis");
        assert_eq!(
            f["metadata"]["product"]["version"],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(f["metadata"]["uid"], f["finding_info"]["uid"]);
    }
    assert_eq!(findings[1]["finding_info"]["uid"], "dev-0001:4");
    keep_for_validation("cli-journal-export-enrolled", &findings);

    // `journal export --format ocsf` naming the device DEVICE_ID.
    let export_as = |device_id: &str| {
        portcullis(&[
            "journal",
            "export",
            "--db",
            db,
            "--format",
            "ocsf",
            "--device-id",
            device_id,
        ])
    };
    let out = export_as("desk-12");
    assert!(out.status.success());
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["device"]["uid"], "desk-12");

    let out = export_as("a b");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--device-id must be"));
}

#[test]
fn a_missing_database_is_a_clear_error() {
    let out = portcullis(&["journal", "verify", "--db", "/nonexistent/agent.db"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no such database"), "{err}");
}
