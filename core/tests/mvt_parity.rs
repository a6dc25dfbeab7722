//! MVT parity of indicator matching (the table in docs/inspection.md): names from
//! report objects, truncated process names, case-insensitive app ids and property
//! names, and platform scoping. The public collections in ../shared/indicators are the
//! real input wherever they hold the case.

use std::path::Path;

use portcullis_core::inspection::evidence::{Package, Platform, Process, Property};
use portcullis_core::inspection::{
    parse_bundle, EvidenceSnapshot, IndicatorSet, MatchKind, ScanReport,
    TRUNCATED_PROCESS_NAME_LENGTHS,
};

fn collection(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/indicators")
        .join(format!("{name}.stix2"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn loaded(name: &str) -> IndicatorSet {
    let mut set = IndicatorSet::new();
    set.load_stix2(name, &collection(name)).unwrap();
    set
}

fn processes(platform: Option<Platform>, names: &[&str]) -> EvidenceSnapshot {
    EvidenceSnapshot {
        version: 1,
        platform,
        processes: names
            .iter()
            .map(|n| Process {
                name: (*n).into(),
                pid: None,
                path: None,
            })
            .collect(),
        ..EvidenceSnapshot::default()
    }
}

fn matched(report: &ScanReport) -> Vec<(usize, MatchKind)> {
    report
        .findings
        .iter()
        .map(|f| (f.evidence.index, f.matched))
        .collect()
}

#[test]
fn indicators_linked_to_a_report_are_named_after_it() {
    // OTX-style: no malware object; the report lists its indicators in `object_refs`,
    // and a relationship links one more to it.
    let bundle = r#"{"type": "bundle", "id": "bundle--otx", "objects": [
        {"type": "report", "id": "report--1", "name": "Campaign against journalists",
         "object_refs": ["indicator--a", "identity--x"]},
        {"type": "indicator", "id": "indicator--a", "pattern_type": "stix",
         "pattern": "[domain-name:value='a.example']"},
        {"type": "indicator", "id": "indicator--b", "pattern_type": "stix",
         "pattern": "[domain-name:value='b.example']"},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
         "source_ref": "indicator--b", "target_ref": "report--1"},
        {"type": "malware", "id": "malware--1", "name": "Implant"},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "indicates",
         "source_ref": "indicator--b", "target_ref": "malware--1"},
        {"type": "indicator", "id": "indicator--c", "pattern_type": "stix",
         "pattern": "[domain-name:value='c.example']"}
    ]}"#;
    let c = parse_bundle("otx", bundle).unwrap();
    let names: Vec<Vec<&str>> = c
        .indicators
        .iter()
        .map(|i| i.malware.iter().map(|n| &**n).collect())
        .collect();
    assert_eq!(
        names,
        [
            vec!["Campaign against journalists"],
            // Malware first, then the report.
            vec!["Implant", "Campaign against journalists"],
            vec![],
        ]
    );
}

#[test]
fn a_process_name_cut_by_the_process_table_matches_the_real_indicator_by_prefix() {
    // KingSpawn's `com.apple.avcapture` (19 bytes), as Android (15) and iOS (16) list it.
    let set = loaded("kingspawn");
    let full = "com.apple.avcapture";
    assert!(set
        .indicators()
        .iter()
        .any(|i| i.pattern == format!("[process:name='{full}']")));
    let evidence = processes(
        None,
        &[
            &full[..15],
            &full[..16],
            &full[..14],
            "com.apple",
            full,
            "com.apple.avcapturX",
        ],
    );
    let report = set.scan(&evidence);
    assert_eq!(
        matched(&report),
        [
            (0, MatchKind::TruncatedPrefix),
            (1, MatchKind::TruncatedPrefix),
            (4, MatchKind::Exact),
        ]
    );
    assert!(report.findings[0]
        .malware
        .iter()
        .any(|m| &**m == "KingSpawn"));
    assert_eq!(TRUNCATED_PROCESS_NAME_LENGTHS, [15, 16]);
}

#[test]
fn app_ids_and_property_names_from_real_collections_match_in_any_case() {
    let set = loaded("residentbat");
    let evidence = EvidenceSnapshot {
        version: 1,
        packages: vec![Package {
            id: "COM.OnePlusSync.BAT".into(),
            ..Package::default()
        }],
        ..EvidenceSnapshot::default()
    };
    let report = set.scan(&evidence);
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert!(report.findings[0]
        .malware
        .iter()
        .any(|m| &**m == "ResidentBat"));

    let mut set = IndicatorSet::new();
    set.load_stix2(
        "unit",
        r#"{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--p",
            "pattern_type": "stix", "pattern": "[android-property:name='persist.sys.Spy']"}]}"#,
    )
    .unwrap();
    let evidence = EvidenceSnapshot {
        version: 1,
        system_properties: vec![Property {
            name: "PERSIST.sys.spy".into(),
            value: "1".into(),
        }],
        ..EvidenceSnapshot::default()
    };
    assert_eq!(set.scan(&evidence).findings.len(), 1);
}

/// A Pegasus-like bundle: the `gatekeeperd` process indicator, with the malware's
/// platforms as `platforms` says (`None`: the collection is silent).
fn gatekeeperd(platforms: Option<&str>) -> IndicatorSet {
    let platforms = platforms.map_or(String::new(), |p| {
        format!(r#", "x_mitre_platforms": [{p}]"#)
    });
    let bundle = format!(
        r#"{{"type": "bundle", "objects": [
        {{"type": "malware", "id": "malware--p", "name": "Pegasus", "is_family": false{platforms}}},
        {{"type": "indicator", "id": "indicator--g", "pattern_type": "stix",
          "pattern": "[process:name='gatekeeperd']"}},
        {{"type": "indicator", "id": "indicator--d", "pattern_type": "stix",
          "pattern": "[domain-name:value='pegasus.example']"}},
        {{"type": "relationship", "id": "relationship--g", "relationship_type": "indicates",
          "source_ref": "indicator--g", "target_ref": "malware--p"}},
        {{"type": "relationship", "id": "relationship--d", "relationship_type": "indicates",
          "source_ref": "indicator--d", "target_ref": "malware--p"}}
    ]}}"#
    );
    let mut set = IndicatorSet::new();
    set.load_stix2("pegasus", &bundle).unwrap();
    set
}

#[test]
fn an_ios_only_indicator_is_not_matched_against_android_processes() {
    let set = gatekeeperd(Some(r#""iOS""#));
    let mut android = processes(Some(Platform::Android), &["gatekeeperd"]);
    android.domains = vec![portcullis_core::inspection::evidence::Contact {
        value: "c2.pegasus.example".into(),
        ..Default::default()
    }];
    let report = set.scan(&android);
    // The domain still matches: scoping covers process and file names only.
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].evidence.section, "domains");
    assert_eq!(report.other_platform_skipped, 1);

    let ios = processes(Some(Platform::Ios), &["gatekeeperd"]);
    let report = set.scan(&ios);
    assert_eq!(matched(&report), [(0, MatchKind::Exact)]);
    assert_eq!(report.findings[0].note, None);

    // A snapshot that does not say its platform is matched as before.
    assert_eq!(
        set.scan(&processes(None, &["gatekeeperd"])).findings.len(),
        1
    );
    // Both platforms named: matched on Android too.
    let both = gatekeeperd(Some(r#""ios", "Android""#));
    let report = both.scan(&processes(Some(Platform::Android), &["gatekeeperd"]));
    assert_eq!(report.findings.len(), 1);
}

#[test]
fn a_silent_collection_matches_a_known_system_name_with_a_note() {
    let set = gatekeeperd(None);
    let report = set.scan(&processes(Some(Platform::Android), &["gatekeeperd"]));
    assert_eq!(report.findings.len(), 1, "the finding is kept");
    let note = report.findings[0].note.as_deref().unwrap();
    assert!(note.contains("genuine Android system process"), "{note}");
    // On iOS the name is not a system name: no note.
    let report = set.scan(&processes(Some(Platform::Ios), &["gatekeeperd"]));
    assert_eq!(report.findings[0].note, None);
}

#[test]
fn real_collections_are_silent_about_platforms_and_so_match_everywhere() {
    // None of the public collections names a platform: Operation Triangulation's
    // `BackupAgent` still matches in an Android snapshot.
    for name in ["operation_triangulation", "kingspawn", "rcs"] {
        assert!(loaded(name)
            .indicators()
            .iter()
            .all(|i| i.platforms.is_silent()));
    }
    let set = loaded("operation_triangulation");
    let report = set.scan(&processes(Some(Platform::Android), &["BackupAgent"]));
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.other_platform_skipped, 0);
}

#[test]
fn platforms_come_from_operating_system_refs_too() {
    let bundle = r#"{"type": "bundle", "objects": [
        {"type": "software", "id": "software--a", "name": "Android"},
        {"type": "malware", "id": "malware--x", "name": "X", "is_family": true,
         "operating_system_refs": ["software--a"]},
        {"type": "indicator", "id": "indicator--f", "pattern_type": "stix",
         "pattern": "[file:name='libx.so']"},
        {"type": "relationship", "id": "relationship--f", "relationship_type": "indicates",
         "source_ref": "indicator--f", "target_ref": "malware--x"}
    ]}"#;
    let c = parse_bundle("x", bundle).unwrap();
    assert!(c.indicators[0].platforms.android && !c.indicators[0].platforms.ios);
    let mut set = IndicatorSet::new();
    set.add_collection(c);
    let ios = EvidenceSnapshot {
        version: 1,
        platform: Some(Platform::Ios),
        files: vec![portcullis_core::inspection::evidence::File {
            name: Some("libx.so".into()),
            ..Default::default()
        }],
        ..EvidenceSnapshot::default()
    };
    assert!(set.scan(&ios).findings.is_empty());
    let mut android = ios.clone();
    android.platform = Some(Platform::Android);
    assert_eq!(set.scan(&android).findings.len(), 1);
}
