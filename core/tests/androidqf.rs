//! The androidqf reader on its own: the fixture acquisition (tests/androidqf) and the
//! collector's `processes.json`, field by field.

use std::path::Path;

use portcullis_core::inspection::androidqf::{is_read, read_acquisition};
use portcullis_core::inspection::evidence::Platform;

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/androidqf/acquisition")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_fixture_reads_into_an_android_snapshot() {
    let names = [
        "packages.json",
        "processes.txt",
        "getprop.txt",
        "settings_global.txt",
        "settings_secure.txt",
        "files.json",
    ];
    let texts: Vec<String> = names.iter().map(|n| fixture(n)).collect();
    let import = read_acquisition(names.iter().copied().zip(texts.iter().map(String::as_str)));
    let s = &import.snapshot;
    assert_eq!(s.platform, Some(Platform::Android));
    s.validate().unwrap();

    let chrome = &s.packages[0];
    assert_eq!(chrome.id, "com.android.chrome");
    assert!(chrome.system);
    assert_eq!(chrome.installer, None, "an empty installer is no installer");
    assert_eq!(
        chrome.certificates[0].sha1.as_deref(),
        Some("38918a453d07199354f8b19af05ec6562ced5788")
    );
    assert_eq!(
        chrome.certificates[0].md5, None,
        "an empty digest is no digest"
    );
    assert!(
        s.packages[1].certificates.is_empty(),
        "an empty certificate adds nothing"
    );

    let names: Vec<(&str, Option<u32>)> = s
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p.pid))
        .collect();
    assert_eq!(
        names,
        [
            ("init", Some(1)),
            ("[kthreadd]", Some(2)),
            ("gatekeeperd", Some(612)),
            ("com.vodaservices", Some(8123)),
            ("org.example.notes", Some(8200)),
        ]
    );
    let device_name = s
        .system_properties
        .iter()
        .find(|p| p.name == "persist.sys.device_name")
        .unwrap();
    assert_eq!(device_name.value, "Pixel\n7", "a value may run over lines");
    assert!(s
        .settings
        .iter()
        .any(|x| x.namespace == "global" && x.name == "adb_enabled" && x.value == "1"));
    assert!(s.settings.iter().any(|x| x.namespace == "secure"
        && x.name == "enabled_accessibility_services"
        && x.value == "com.vodaservices/.Access"));
    // Two from files.json (one without a path left out), then each APK with a path.
    let paths: Vec<&str> = s.files.iter().filter_map(|f| f.path.as_deref()).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert_eq!(import.missing, ["settings_system.txt"]);
}

#[test]
fn the_collectors_process_list_and_missing_files_are_read_and_reported() {
    let processes = r#"[
        {"pid": 1, "uid": 0, "ppid": 0, "filename": "init", "path": "/system/bin/init",
         "command_line": ["/system/bin/init", "second_stage"], "env": [], "cwd": "/"},
        {"pid": 9000, "uid": 10245, "ppid": 700, "filename": "", "path": "",
         "command_line": ["/data/local/tmp/.x/agentd"]},
        {"pid": 9001, "filename": "", "path": "/data/local/tmp/.y/spy"},
        {"pid": 9002, "filename": ""}
    ]"#;
    let import = read_acquisition([("processes.json", processes), ("odd.bin", "")]);
    let got: Vec<(&str, Option<&str>)> = import
        .snapshot
        .processes
        .iter()
        .map(|p| (p.name.as_str(), p.path.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("init", Some("/system/bin/init")),
            ("agentd", None),
            ("spy", Some("/data/local/tmp/.y/spy")),
        ]
    );
    assert_eq!(import.problems.len(), 1);
    assert!(import.problems[0].note.contains("without a name"));
    assert_eq!(import.unknown, ["odd.bin"]);
    assert_eq!(
        import.missing,
        [
            "packages.json",
            "getprop.txt",
            "files.json",
            "settings_system.txt",
            "settings_secure.txt",
            "settings_global.txt"
        ]
    );
    assert!(is_read("settings_secure.txt") && !is_read("dumpsys.txt"));
}

#[test]
fn files_that_are_not_in_the_format_are_problems_not_errors() {
    let import = read_acquisition([
        ("packages.json", "[{\"name\": "),
        ("processes.txt", "hello\nworld\n"),
        ("files.json", "null"),
    ]);
    assert!(import.snapshot.packages.is_empty());
    let notes: Vec<String> = import
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.file, p.note))
        .collect();
    assert!(
        notes[0].starts_with("packages.json: not valid JSON"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("processes.txt: no `PID` and `NAME` header"),
        "{notes:?}"
    );
    assert_eq!(notes.len(), 2, "a `null` list is an empty one: {notes:?}");
    assert_eq!(import.read.get("files.json"), Some(&0));
}
