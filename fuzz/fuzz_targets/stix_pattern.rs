//! Indicator bundles and their patterns come from outside (public collections, files a
//! console user hands the kiosk). The parsers must never panic; a pattern they accept
//! must render back to the same comparison; and an indicator they accept must find its
//! own value when that value is planted in every evidence section.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::inspection::evidence::{
    Certificate, ConfigurationProfile, Contact, File, Package, Process, Property,
};
use portcullis_core::inspection::{
    parse_bundle, EvidenceSnapshot, IndicatorSet, Observable, Pattern,
};

fn planted(value: &str) -> EvidenceSnapshot {
    let contact = || Contact {
        value: value.to_owned(),
        ..Contact::default()
    };
    let cert = || Certificate {
        sha256: Some(value.to_owned()),
        sha1: Some(value.to_owned()),
        md5: Some(value.to_owned()),
        ..Certificate::default()
    };
    EvidenceSnapshot {
        version: 1,
        packages: vec![Package {
            id: value.to_owned(),
            certificates: vec![cert()],
            ..Package::default()
        }],
        user_ca_certificates: vec![cert()],
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
        domains: vec![contact()],
        urls: vec![contact()],
        ip_addresses: vec![contact()],
        configuration_profiles: vec![ConfigurationProfile {
            uuid: Some(value.to_owned()),
            ..ConfigurationProfile::default()
        }],
        email_addresses: vec![contact()],
        ..EvidenceSnapshot::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Whole bundles: errors are fine, panics are not; whatever loads must scan.
    if let Ok(collection) = parse_bundle("fuzz", text) {
        let mut set = IndicatorSet::new();
        set.add_collection(collection);
        let _ = set.scan(&planted(text));
    }
    // One pattern.
    let Ok(pattern) = Pattern::parse(text) else {
        return;
    };
    let rendered = pattern.to_string();
    assert_eq!(
        Pattern::parse(&rendered).as_ref(),
        Ok(&pattern),
        "{rendered}"
    );
    let Ok(interpreted) = Observable::from_pattern(&pattern) else {
        return;
    };
    if interpreted.note.is_some() {
        return;
    }
    let bundle = format!(
        r#"{{"type":"bundle","objects":[{{"type":"indicator","id":"indicator--f","pattern_type":"stix","pattern":{}}}]}}"#,
        json_string(&rendered)
    );
    let mut set = IndicatorSet::new();
    let summary = set
        .load_stix2("fuzz", &bundle)
        .expect("a rendered pattern makes a valid bundle");
    assert_eq!(summary.indicators, 1, "{rendered}");
    let report = set.scan(&planted(&pattern.value));
    assert!(
        !report.findings.is_empty(),
        "{rendered} did not find its own value"
    );
});

/// A JSON string literal (the fuzz crate has no serde_json of its own).
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
