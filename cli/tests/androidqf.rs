//! `portcullis inspect --androidqf DIR` on an acquisition in androidqf's output format
//! (tests/androidqf/acquisition) against the public collections in ../shared/indicators.

mod support;

use std::path::{Path, PathBuf};
use support::{contains_all, inspect, json_of, stdout_of};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/androidqf/acquisition")
}

fn collections() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators")
}

#[test]
fn an_androidqf_acquisition_is_read_reported_and_scanned() {
    let out = inspect(
        &[&collections()],
        ("--androidqf", &fixture()),
        &["--format", "json"],
    );
    let report = json_of(&out, 3);
    let a = &report["acquisition"];
    assert_eq!(a["format"], "androidqf");
    assert_eq!(
        a["read"],
        serde_json::json!({
            "files.json": 2, "getprop.txt": 5, "packages.json": 3, "processes.txt": 5,
            "settings_global.txt": 3, "settings_secure.txt": 2,
        })
    );
    assert_eq!(a["missing"], serde_json::json!(["settings_system.txt"]));
    assert_eq!(a["unknown"], serde_json::json!(["notes.md"]));
    assert_eq!(
        a["not_scanned"],
        serde_json::json!(["acquisition.json", "apks/", "dumpsys.txt"])
    );
    let problems: Vec<String> = a["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["file"].as_str().unwrap(),
                p["note"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "files.json: 1 entr(ies) without a path",
        "files.json: 1 digest(s) of the wrong length",
        "getprop.txt: 1 line(s) not of the form",
        "packages.json: 1 item(s) not in androidqf's format",
        "processes.txt: 1 line(s) with fewer columns",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected}: {problems:#?}"
        );
    }
    assert_eq!(problems.len(), 5, "{problems:#?}");

    // RCS Lab's app id (in another case), a dropped library (files.json comes first in
    // the folder) and its APK's digest (written in upper case).
    let found: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["collection"].as_str().unwrap().to_owned(),
                f["evidence"]["section"].as_str().unwrap().to_owned(),
                f["evidence"]["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "rcs".to_owned(),
                "packages".to_owned(),
                "com.Vodaservices".to_owned()
            ),
            (
                "rcs".to_owned(),
                "files".to_owned(),
                "fe95855691cada4493641bc4f01eb00c670c002166d6591fe38073dd0ea1d001".to_owned()
            ),
            (
                "rcs".to_owned(),
                "files".to_owned(),
                "e38d7ba21a48ad32963bfe6cb0203afe0839eca9a73268a67422109da282eae3".to_owned()
            ),
        ]
    );

    let text = inspect(&[&collections()], ("--androidqf", &fixture()), &[]);
    contains_all(
        &stdout_of(&text, 3),
        &[
            "Acquisition (androidqf): read files.json (2)",
            "missing      settings_system.txt",
            "unknown      notes.md",
        ],
    );
}

#[test]
fn hostile_acquisitions_get_clear_reports_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("packages.json"), "{\"not\": \"a list\"}").unwrap();
    std::fs::write(dir.path().join("getprop.txt"), [0xff, 0xfe, b'[']).unwrap();
    // Larger than the cap, without writing it: a sparse file.
    let big = std::fs::File::create(dir.path().join("files.json")).unwrap();
    big.set_len(portcullis_core::inspection::androidqf::MAX_FILE_BYTES + 1)
        .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("processes.txt")).unwrap();
    let out = inspect(
        &[&collections()],
        ("--androidqf", dir.path()),
        &["--format", "json"],
    );
    let report = json_of(&out, 0);
    let problems = report["acquisition"]["problems"].to_string();
    assert!(problems.contains("not a JSON list"), "{problems}");
    assert!(problems.contains("not UTF-8 text"), "{problems}");
    assert!(
        problems.contains("over the 134217728 byte limit"),
        "{problems}"
    );
    #[cfg(unix)]
    assert!(problems.contains("links are not followed"), "{problems}");
    assert_eq!(report["evidence_items"], 0);

    // A file, or a missing folder, is a clear error.
    let file = dir.path().join("packages.json");
    for (path, expected) in [
        (
            file.as_path(),
            "an androidqf acquisition folder is expected",
        ),
        (
            Path::new("/nonexistent/acquisition"),
            "cannot read /nonexistent/acquisition",
        ),
    ] {
        let out = inspect(&[&collections()], ("--androidqf", path), &[]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(expected), "{err}");
    }
}
