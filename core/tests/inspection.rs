//! Indicator scanning end to end: the public mvt-indicators collections as real-world
//! input, a hand-written bundle and evidence with exact expected findings, and the
//! committed JSON Schema of the evidence format.

use std::path::{Path, PathBuf};

use portcullis_core::inspection::{
    EvidenceSnapshot, IndicatorFinding, IndicatorSet, MatchKind, Observable,
};

/// The public collections (April 2026 snapshot) that sit beside the design brief.
fn collections_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/indicators")
}

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every bundle and how many indicators it holds, as counted independently of this parser.
const COLLECTIONS: [(&str, usize); 11] = [
    ("candiru", 125),
    ("cellebrite", 1),
    ("coruna", 216),
    ("darksword", 43),
    ("eaglemsgspy", 51),
    ("kingspawn", 167),
    ("operation_triangulation", 112),
    ("predator", 585),
    ("rcs", 40),
    ("residentbat", 48),
    ("wyrmspy_dragonegg", 53),
];
const TOTAL_INDICATORS: usize = 1_441;

fn load_public_collections() -> IndicatorSet {
    let dir = collections_dir();
    assert!(
        dir.is_dir(),
        "the public indicator collections are missing: expected the 11 mvt-indicators \
         .stix2 bundles in {} (the shared/indicators folder beside the design brief); \
         this test must not pass without them",
        dir.display()
    );
    let mut set = IndicatorSet::new();
    for (name, expected) in COLLECTIONS {
        let path = dir.join(format!("{name}.stix2"));
        let json = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let summary = set
            .load_stix2(name, &json)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            summary.indicators + summary.unparsed,
            expected,
            "{name}: every indicator object is either loaded or reported"
        );
        assert_eq!(
            summary.malware, 1,
            "{name}: one malware object per collection"
        );
    }
    set
}

#[test]
fn every_public_collection_loads_completely() {
    let set = load_public_collections();
    assert_eq!(set.collections().len(), 11);
    assert!(
        set.unparsed().is_empty(),
        "unparsed public indicators: {:#?}",
        set.unparsed()
    );
    assert_eq!(set.len(), TOTAL_INDICATORS);
    // Each public indicator is linked to its collection's malware by a relationship.
    let orphans: Vec<&str> = set
        .indicators()
        .iter()
        .filter(|i| i.malware.len() != 1)
        .map(|i| i.id.as_str())
        .collect();
    assert!(
        orphans.is_empty(),
        "indicators without one malware: {orphans:?}"
    );
    // Both spellings of file hashes are present and both load as SHA-256 file hashes.
    let patterns = |needle: &str| {
        set.indicators()
            .iter()
            .filter(|i| i.pattern.contains(needle))
            .filter(|i| matches!(i.observable, Observable::FileHash(..)))
            .count()
    };
    assert_eq!(patterns("file:hashes.sha256="), 77);
    assert_eq!(patterns("file:hashes.'SHA-256'="), 20);
    // The one adjusted indicator: a domain written with a path, matched on its host.
    let notes: Vec<(&str, &str)> = set
        .notes()
        .iter()
        .map(|n| (n.collection.as_str(), n.pattern.as_str()))
        .collect();
    assert_eq!(
        notes,
        [("coruna", "[domain-name:value='fgr1w2gnsdvsb.xyz/x']")]
    );
}

#[test]
fn public_collections_find_real_indicators_and_name_their_malware() {
    let set = load_public_collections();
    let evidence = EvidenceSnapshot::from_json(
        r#"{"version": 1, "platform": "ios",
            "domains": [{"value": "cdn.conquerconfess.com", "source": "dns"},
                        {"value": "www.apple.com", "source": "dns"}],
            "files": [{"path": "/private/var/tmp/kusama.txt"}],
            "processes": [{"name": "BackupAgent"}],
            "configuration_profiles": [{"uuid": "76dab334-7e17-475d-a5d6-0794eb5818a5"}]}"#,
    )
    .unwrap();
    let report = set.scan(&evidence);
    assert_eq!(report.indicators, TOTAL_INDICATORS);
    assert_eq!(report.evidence_items, 5);
    let found: Vec<(&str, &str, &str, &str, MatchKind)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.evidence.section,
                f.collection.as_str(),
                &*f.malware[0],
                f.pattern.as_str(),
                f.matched,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "files",
                "predator",
                "Predator",
                "[file:path='/private/var/tmp/kusama.txt']",
                MatchKind::Exact
            ),
            (
                "processes",
                "operation_triangulation",
                "OperationTriangulation",
                "[process:name='BackupAgent']",
                MatchKind::Exact
            ),
            (
                "domains",
                "candiru",
                "Candiru",
                "[domain-name:value='conquerconfess.com']",
                MatchKind::Subdomain
            ),
            (
                "configuration_profiles",
                "predator",
                "Predator",
                "[configuration-profile:id='76DAB334-7E17-475D-A5D6-0794EB5818A5']",
                MatchKind::Exact
            ),
        ]
    );
}

fn fixture_set() -> IndicatorSet {
    let mut set = IndicatorSet::new();
    let summary = set
        .load_stix2("spyware-fixture", &data("spyware-fixture.stix2"))
        .unwrap();
    assert_eq!(summary.indicators, 16);
    assert_eq!(summary.unparsed, 1);
    assert_eq!(summary.malware, 2);
    set
}

type Row = (
    &'static str,
    usize,
    &'static str,
    &'static str,
    MatchKind,
    &'static str,
);

fn rows(findings: &[IndicatorFinding]) -> Vec<(String, usize, String, String, MatchKind, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f.evidence.section.to_owned(),
                f.evidence.index,
                f.evidence.field.clone(),
                f.pattern.clone(),
                f.matched,
                f.malware.join("+"),
            )
        })
        .collect()
}

fn owned(want: &[Row]) -> Vec<(String, usize, String, String, MatchKind, String)> {
    want.iter()
        .map(|(s, i, f, p, m, w)| {
            (
                (*s).to_owned(),
                *i,
                (*f).to_owned(),
                (*p).to_owned(),
                *m,
                (*w).to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_fixture_bundle_finds_exactly_the_planted_evidence() {
    let set = fixture_set();
    let unparsed = &set.unparsed()[0];
    assert_eq!(
        unparsed.indicator_id,
        "indicator--fa90157b-a165-495d-a9c3-2fdc51af2558"
    );
    assert!(unparsed.reason.contains("AND"), "{}", unparsed.reason);

    let evidence = EvidenceSnapshot::from_json(&data("spyware-evidence.json")).unwrap();
    let report = set.scan(&evidence);
    use MatchKind::*;
    let fu = "FakeUpdater";
    let ds = "DragonStage";
    let want: &[Row] = &[
        ("packages", 1, "id", "[app:id='com.spyvendor.updater']", Exact, fu),
        ("packages", 1, "certificates[0].sha256",
         "[app:cert.sha256='baae14e80d586c0dcecb898b798ab2e8d3f64f8ed260379f0ea1ff650e5332c9']", Exact, fu),
        ("accessibility_services", 0, "package", "[app:id='com.spyvendor.updater']", Exact, fu),
        ("system_properties", 1, "name", "[android-property:name='persist.spy.enabled']", Exact, fu),
        ("files", 0, "path", "[file:path='/data/local/tmp/wd/']", InDirectory, fu),
        ("files", 1, "path", "[file:name='libpayload.so']", Basename, fu),
        ("files", 2, "sha256",
         "[file:hashes.sha256='5044483ecce3f49b54d43c7caac69167eed01fb2b57a8b17e956432308f993c5']", Exact, fu),
        ("files", 3, "sha256",
         "[file:hashes.'SHA-256'='32E5EFA4F264FAD74F5B7F8F3C75FC99685294BB0E5010F34C4A3085B35B0955']", Exact, ds),
        ("processes", 1, "name", "[process:name='spyd']", Exact, fu),
        ("domains", 1, "value", "[domain-name:value='update-cdn-service.com']", Subdomain, "FakeUpdater+DragonStage"),
        ("urls", 0, "value", "[url:value='https://cdn.badcdn.net/stage2.js']", Exact, ds),
        ("urls", 1, "value", "[domain-name:value='update-cdn-service.com']", UrlHost, "FakeUpdater+DragonStage"),
        ("ip_addresses", 1, "value", "[ipv4-addr:value='203.0.113.66']", Exact, ds),
        ("email_addresses", 0, "value", "[email-addr:value='operator@mailbox.example']", Exact, ds),
    ];
    assert_eq!(rows(&report.findings), owned(want));
    let first = &report.findings[0];
    assert_eq!(first.collection, "spyware-fixture");
    assert_eq!(
        first.indicator_id,
        "indicator--065dc423-71b6-42a8-9f4e-300098d9d664"
    );
    assert_eq!(first.evidence.value, "com.spyvendor.updater");
    assert_eq!(report.unparsed_patterns, 1);
    assert_eq!(report.evidence_items, 25);
}

#[test]
fn the_fixture_bundle_matches_ios_evidence_by_profile_and_file_name() {
    let set = fixture_set();
    let evidence = EvidenceSnapshot::from_json(
        r#"{"version": 1, "platform": "ios",
            "configuration_profiles": [
                {"identifier": "com.office.wifi", "uuid": "0A5C8E3D-1111-4222-8333-944455556666"},
                {"identifier": "com.example.mdm", "uuid": "8f1d2c3b-4a5e-46f7-9081-a2b3c4d5e6f7",
                 "display_name": "Security Update"}],
            "files": [{"name": "libpayload.so", "path": "/private/var/containers/x/renamed"}],
            "domains": [{"value": "legacy-beacon.net"}]}"#,
    )
    .unwrap();
    let report = set.scan(&evidence);
    use MatchKind::*;
    let want: &[Row] = &[
        (
            "files",
            0,
            "name",
            "[file:name='libpayload.so']",
            Exact,
            "FakeUpdater",
        ),
        (
            "domains",
            0,
            "value",
            "[domain-name:value='legacy-beacon.net']",
            Exact,
            "",
        ),
        (
            "configuration_profiles",
            1,
            "uuid",
            "[configuration-profile:id='8F1D2C3B-4A5E-46F7-9081-A2B3C4D5E6F7']",
            Exact,
            "DragonStage",
        ),
    ];
    assert_eq!(rows(&report.findings), owned(want));
}

#[test]
fn a_clean_snapshot_has_no_findings() {
    let set = fixture_set();
    let evidence = EvidenceSnapshot::from_json(
        r#"{"version": 1, "packages": [{"id": "com.whatsapp", "installer": "com.android.vending"}],
            "domains": [{"value": "notupdate-cdn-service.com"}, {"value": "update-cdn-service.co"}],
            "files": [{"path": "/data/local/tmp/wdx/fs.db"}]}"#,
    )
    .unwrap();
    let report = set.scan(&evidence);
    assert!(report.is_clean(), "{:#?}", report.findings);
}

fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/evidence.schema.json")
}

/// `docs/evidence.schema.json` is generated from the Rust types; regenerate it with
/// `PORTCULLIS_BLESS=1 cargo test -p portcullis-core --test inspection`.
#[test]
fn the_committed_schema_matches_the_types_and_accepts_the_fixture() {
    let generated = EvidenceSnapshot::json_schema();
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("PORTCULLIS_BLESS").is_some() {
        std::fs::write(schema_path(), &text).unwrap();
    }
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        committed == text,
        "docs/evidence.schema.json is out of date; run \
         PORTCULLIS_BLESS=1 cargo test -p portcullis-core --test inspection"
    );
    let validator = jsonschema::validator_for(&generated).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&data("spyware-evidence.json")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&fixture)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let misspelt = serde_json::json!({"version": 1, "pakages": []});
    assert!(!validator.is_valid(&misspelt));
}
