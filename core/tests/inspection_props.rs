//! Property tests of STIX pattern parsing and indicator matching.

use portcullis_core::inspection::evidence::{
    Certificate, ConfigurationProfile, Contact, File, Package, Platform, Process, Property,
};
use portcullis_core::inspection::{
    EvidenceSnapshot, IndicatorSet, MatchKind, Observable, Pattern, TRUNCATED_PROCESS_NAME_LENGTHS,
};
use proptest::prelude::*;

fn object_type() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,20}"
}

/// Path steps: identifiers (written bare) and anything else (written quoted).
fn path_step() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_-]{0,12}",
        "\\PC{1,12}",
        Just("SHA-256".to_owned()),
        Just("it's \\ odd".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = Pattern> {
    (
        object_type(),
        prop::collection::vec(path_step(), 1..4),
        "\\PC{0,40}|[\\\\' \\]\\[=]{0,10}",
    )
        .prop_map(|(object_type, path, value)| Pattern {
            object_type,
            path,
            value,
        })
}

fn one_indicator(pattern: &str) -> IndicatorSet {
    let bundle = serde_json::json!({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--1", "pattern": pattern, "pattern_type": "stix"}
    ]});
    let mut set = IndicatorSet::new();
    let summary = set.load_stix2("props", &bundle.to_string()).unwrap();
    assert_eq!(summary.indicators, 1, "{pattern}: {:?}", set.unparsed());
    set
}

fn mixed_case(text: &str, mask: &[bool]) -> String {
    text.chars()
        .zip(mask.iter().cycle())
        .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
        .collect()
}

fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// Every supported target, as `(object type, path)`.
const TARGETS: [(&str, &[&str]); 18] = [
    ("app", &["id"]),
    ("app", &["cert", "sha256"]),
    ("app", &["cert", "sha1"]),
    ("app", &["cert", "md5"]),
    ("x509-certificate", &["hashes", "SHA-256"]),
    ("domain-name", &["value"]),
    ("url", &["value"]),
    ("file", &["name"]),
    ("file", &["path"]),
    ("file", &["hashes", "sha256"]),
    ("file", &["hashes", "SHA-1"]),
    ("file", &["hashes", "MD5"]),
    ("process", &["name"]),
    ("android-property", &["name"]),
    ("configuration-profile", &["id"]),
    ("ipv4-addr", &["value"]),
    ("ipv6-addr", &["value"]),
    ("email-addr", &["value"]),
];

/// The pattern comparing `TARGETS[target]` with `value`.
fn target_pattern(target: usize, value: &str) -> Pattern {
    let (object_type, path) = TARGETS[target];
    Pattern {
        object_type: object_type.to_owned(),
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        value: value.to_owned(),
    }
}

fn target_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}",
        "[A-Za-z0-9-]{1,8}(\\.[A-Za-z0-9-]{1,8}){1,3}\\.?",
        "(https?://)?[a-z0-9.-]{1,12}(:[0-9]{1,5})?(/[a-z0-9./?=&%-]{0,12})?",
        "/?[A-Za-z0-9._ -]{1,8}(/[A-Za-z0-9._ -]{0,8}){0,3}/?",
        "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|[0-9a-f:]{2,20}",
        "[A-Za-z0-9._%+-]{1,8}@[A-Za-z0-9.-]{1,10}",
        "\\PC{0,16}",
    ]
}

/// The same value in every evidence section.
fn planted(value: &str) -> EvidenceSnapshot {
    let contact = || {
        vec![Contact {
            value: value.to_owned(),
            ..Contact::default()
        }]
    };
    let digests = || Certificate {
        sha256: Some(value.to_owned()),
        sha1: Some(value.to_owned()),
        md5: Some(value.to_owned()),
        ..Certificate::default()
    };
    EvidenceSnapshot {
        version: 1,
        packages: vec![Package {
            id: value.to_owned(),
            certificates: vec![digests()],
            ..Package::default()
        }],
        user_ca_certificates: vec![digests()],
        system_properties: vec![Property {
            name: value.to_owned(),
            value: String::new(),
        }],
        files: vec![
            File {
                path: Some(value.to_owned()),
                ..File::default()
            },
            File {
                name: Some(value.to_owned()),
                sha256: Some(value.to_owned()),
                sha1: Some(value.to_owned()),
                md5: Some(value.to_owned()),
                ..File::default()
            },
        ],
        processes: vec![Process {
            name: value.to_owned(),
            pid: None,
            path: None,
        }],
        domains: contact(),
        urls: contact(),
        ip_addresses: contact(),
        configuration_profiles: vec![ConfigurationProfile {
            uuid: Some(value.to_owned()),
            ..ConfigurationProfile::default()
        }],
        email_addresses: contact(),
        ..EvidenceSnapshot::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A rendered pattern parses back to the same comparison.
    #[test]
    fn rendering_round_trips(p in pattern()) {
        let text = p.to_string();
        prop_assert_eq!(Pattern::parse(&text), Ok(p), "{}", text);
    }

    /// Whatever the parser accepts, its rendering is accepted as the same thing.
    #[test]
    fn accepted_input_is_stable(text in "\\[?[a-z:.' =\\]\\[\\\\A-Z-]{0,40}\\]?|\\PC{0,60}") {
        if let Ok(p) = Pattern::parse(&text) {
            prop_assert_eq!(Pattern::parse(&p.to_string()), Ok(p));
        }
    }

    /// Digests match whatever their case, spelling of the algorithm and `:` separators.
    #[test]
    fn hashes_match_case_insensitively(
        bytes in prop::array::uniform32(any::<u8>()),
        indicator_mask in prop::collection::vec(any::<bool>(), 1..8),
        evidence_mask in prop::collection::vec(any::<bool>(), 1..8),
        quoted in any::<bool>(),
        colons in any::<bool>(),
    ) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let algorithm = if quoted { "'SHA-256'" } else { "sha256" };
        let set = one_indicator(&format!(
            "[file:hashes.{algorithm}='{}']",
            mixed_case(&hex, &indicator_mask)
        ));
        let mut written = mixed_case(&hex, &evidence_mask);
        if colons {
            written = written
                .as_bytes()
                .chunks(2)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(":");
        }
        let evidence = EvidenceSnapshot {
            version: 1,
            files: vec![File { path: Some("/x".into()), sha256: Some(written.clone()), ..File::default() }],
            packages: vec![Package {
                id: "p".into(),
                certificates: vec![Certificate { sha256: Some(written), ..Certificate::default() }],
                ..Package::default()
            }],
            ..EvidenceSnapshot::default()
        };
        evidence.validate().unwrap();
        let report = set.scan(&evidence);
        // A file hash indicator matches the file, not the signing certificate.
        prop_assert_eq!(report.findings.len(), 1);
        prop_assert_eq!(report.findings[0].evidence.section, "files");
    }

    /// Subdomains match at label boundaries only, in any case.
    #[test]
    fn domains_match_at_label_boundaries(
        base in prop::collection::vec(label(), 2..4),
        sub in prop::collection::vec(label(), 0..3),
        glued in label(),
        upper in any::<bool>(),
    ) {
        let domain = base.join(".");
        let set = one_indicator(&format!("[domain-name:value='{domain}']"));
        let mut inside = sub.clone();
        inside.push(domain.clone());
        let mut inside = inside.join(".");
        if upper {
            inside = inside.to_uppercase();
        }
        let outside = format!("{glued}{domain}");
        let evidence = EvidenceSnapshot {
            version: 1,
            domains: vec![
                Contact { value: inside, ..Contact::default() },
                Contact { value: outside, ..Contact::default() },
            ],
            urls: vec![Contact { value: format!("https://x.{domain}/p?q=1"), ..Contact::default() }],
            ..EvidenceSnapshot::default()
        };
        let report = set.scan(&evidence);
        let got: Vec<(&str, usize, MatchKind)> = report
            .findings
            .iter()
            .map(|f| (f.evidence.section, f.evidence.index, f.matched))
            .collect();
        let first = if sub.is_empty() { MatchKind::Exact } else { MatchKind::Subdomain };
        prop_assert_eq!(got, vec![("domains", 0, first), ("urls", 0, MatchKind::UrlSubdomain)]);
    }

    /// Whatever strings the evidence holds, scanning finds the planted domain and its
    /// subdomains (in any case) and reports nothing whose value does not hold the domain,
    /// such as a name that merely ends in it.
    #[test]
    fn scanning_arbitrary_strings_finds_exactly_the_planted_domains(
        values in prop::collection::vec(
            prop_oneof![
                "\\PC{0,30}|[/.:@\\[\\]a-z0-9]{0,30}",
                Just("evil.com".to_owned()),
                Just("EVIL.Com".to_owned()),
                label().prop_map(|l| format!("{l}.evil.com")),
                label().prop_map(|l| format!("{l}evil.com")),
            ],
            0..12,
        )
    ) {
        let set = one_indicator("[domain-name:value='evil.com']");
        let contacts: Vec<Contact> = values
            .iter()
            .map(|v| Contact { value: v.clone(), ..Contact::default() })
            .collect();
        let files: Vec<File> = values
            .iter()
            .map(|v| File { path: Some(v.clone()), name: None, ..File::default() })
            .collect();
        let evidence = EvidenceSnapshot {
            version: 1,
            domains: contacts.clone(),
            urls: contacts.clone(),
            ip_addresses: contacts.clone(),
            email_addresses: contacts,
            files,
            ..EvidenceSnapshot::default()
        };
        let report = set.scan(&evidence);
        for f in &report.findings {
            let value = values[f.evidence.index].to_lowercase();
            prop_assert!(value.contains("evil.com"), "{:?} matched {:?}", f.evidence, value);
        }
        for (i, v) in values.iter().enumerate() {
            let v = v.to_ascii_lowercase();
            let planted = v == "evil.com" || v.ends_with(".evil.com");
            let glued = v.strip_suffix("evil.com").is_some_and(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            let found = report
                .findings
                .iter()
                .any(|f| f.evidence.section == "domains" && f.evidence.index == i);
            if planted {
                prop_assert!(found, "{} at {} was not found", v, i);
            } else if glued || !v.contains("evil.com") {
                prop_assert!(!found, "{} at {} was found", v, i);
            }
        }
    }

    /// An indicator the loader accepts (without adjustment) finds its own value: the
    /// index and the scanner normalise alike.
    #[test]
    fn an_accepted_indicator_finds_its_own_value(
        target in 0..TARGETS.len(),
        value in target_value(),
    ) {
        let pattern = target_pattern(target, &value);
        let Ok(interpreted) = Observable::from_pattern(&pattern) else {
            return Ok(());
        };
        prop_assume!(interpreted.note.is_none());
        let set = one_indicator(&pattern.to_string());
        let report = set.scan(&planted(&value));
        prop_assert!(!report.findings.is_empty(), "{} did not find {:?}", pattern, value);
    }

    /// A process name cut where process tables cut names (15 or 16 bytes) matches the
    /// longer indicator name by prefix; a cut anywhere else matches nothing, so short
    /// names never match by prefix.
    #[test]
    fn truncated_process_names_match_only_at_the_cut_lengths(
        name in "[A-Za-z][A-Za-z0-9._-]{16,40}",
        cut in 1usize..40,
    ) {
        prop_assume!(cut < name.len());
        let set = one_indicator(&format!("[process:name='{name}']"));
        let evidence = EvidenceSnapshot {
            version: 1,
            processes: vec![Process { name: name[..cut].to_owned(), pid: None, path: None }],
            ..EvidenceSnapshot::default()
        };
        let report = set.scan(&evidence);
        let kinds: Vec<MatchKind> = report.findings.iter().map(|f| f.matched).collect();
        if TRUNCATED_PROCESS_NAME_LENGTHS.contains(&cut) {
            prop_assert_eq!(kinds, vec![MatchKind::TruncatedPrefix]);
        } else {
            prop_assert!(kinds.is_empty(), "{} cut at {}: {:?}", name, cut, kinds);
        }
    }

    /// App ids and property names match whatever their case on either side.
    #[test]
    fn app_ids_and_property_names_ignore_case(
        value in "[a-z][a-z0-9._]{0,24}",
        indicator_mask in prop::collection::vec(any::<bool>(), 1..8),
        evidence_mask in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        for (object_type, section) in [("app:id", "packages"), ("android-property:name", "system_properties")] {
            let set = one_indicator(&format!("[{object_type}='{}']", mixed_case(&value, &indicator_mask)));
            let report = set.scan(&planted(&mixed_case(&value, &evidence_mask)));
            prop_assert!(
                report.findings.iter().any(|f| f.evidence.section == section),
                "{} {:?}", object_type, report.findings
            );
        }
    }

    /// A collection that names no platform matches the same evidence on every platform:
    /// the snapshot's platform can add a note, never remove or add a match.
    #[test]
    fn a_silent_collection_matches_alike_on_every_platform(
        target in 0..TARGETS.len(),
        value in target_value(),
    ) {
        let pattern = target_pattern(target, &value);
        prop_assume!(Observable::from_pattern(&pattern).is_ok());
        let set = one_indicator(&pattern.to_string());
        let key = |platform| {
            let mut evidence = planted(&value);
            evidence.platform = platform;
            let report = set.scan(&evidence);
            prop_assert_eq!(report.other_platform_skipped, 0);
            Ok(report
                .findings
                .iter()
                .map(|f| (f.evidence.section, f.evidence.index, f.evidence.field.clone(), f.matched))
                .collect::<Vec<_>>())
        };
        let none = key(None)?;
        prop_assert_eq!(&key(Some(Platform::Android))?, &none);
        prop_assert_eq!(&key(Some(Platform::Ios))?, &none);
    }
}
