//! Issue 14: every document the core reads refuses an object that names a key twice,
//! rather than keeping the last value. A repeated key the document does not know is used,
//! so a refusal proves the strict reader ran (a plain read would say "unknown field", or
//! keep a value).

use std::path::Path;

use portcullis_core::compliance::DeviceSnapshot;
use portcullis_core::inspection::{parse_bundle, EvidenceSnapshot};
use portcullis_core::instruction::InstructionPayload;
use portcullis_core::policy::{Policy, TrustRoot};
use portcullis_core::trace;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// `text` with `"zz":1,"zz":2,` inserted after its first `{`.
fn doubled(text: &str) -> String {
    text.replacen('{', r#"{"zz":1,"zz":2,"#, 1)
}

/// `text` with a repeated key inside the object that follows `after`.
fn doubled_after(text: &str, after: &str) -> String {
    let at = text
        .find(after)
        .unwrap_or_else(|| panic!("{after} not found"))
        + after.len();
    let open = at + text[at..].find('{').unwrap() + 1;
    format!(
        r#"{}"zz":[{{"y":1,"y":2}}],{}"#,
        &text[..open],
        &text[open..]
    )
}

fn refused(what: &str, result: Result<(), String>) {
    match result {
        Err(e) => assert!(e.contains("duplicate key"), "{what}: {e}"),
        Ok(()) => panic!("{what}: a repeated key was accepted"),
    }
}

#[test]
fn every_reader_refuses_a_repeated_key() {
    let snapshot = read("tests/data/compliance/pixel-compliant.json");
    let evidence = read("tests/data/spyware-evidence.json");
    let stix = read("tests/data/spyware-fixture.stix2");
    let policy = read("../policies/baseline.json");
    // The fuzz seed's first byte picks the target's mode; the payload follows.
    let instruction = read("../fuzz/seeds/instruction_envelope/authorize")[1..].to_owned();
    let root = serde_json::to_string(&TrustRoot::single_key(
        portcullis_core::policy::SigningKey::from_seed(&[1; 32])
            .unwrap()
            .public_key(),
        "test",
    ))
    .unwrap();
    let text = |e: portcullis_core::Error| e.to_string();
    for (what, doc) in [
        ("snapshot", doubled(&snapshot)),
        ("snapshot, nested", doubled_after(&snapshot, "\"os\"")),
    ] {
        refused(
            what,
            DeviceSnapshot::from_json(doc.as_bytes())
                .map(|_| ())
                .map_err(text),
        );
    }
    for (what, doc) in [
        ("evidence", doubled(&evidence)),
        ("evidence, nested", doubled_after(&evidence, "\"packages\"")),
    ] {
        refused(
            what,
            EvidenceSnapshot::from_json(&doc).map(|_| ()).map_err(text),
        );
    }
    for (what, doc) in [
        ("indicators", doubled(&stix)),
        ("indicators, nested", doubled_after(&stix, "\"objects\"")),
    ] {
        refused(what, parse_bundle("c", &doc).map(|_| ()).map_err(text));
    }
    for (what, doc) in [
        ("policy", doubled(&policy)),
        ("policy, nested", doubled_after(&policy, "\"sim\"")),
    ] {
        refused(
            what,
            Policy::from_json(doc.as_bytes()).map(|_| ()).map_err(text),
        );
    }
    for (what, doc) in [
        ("instruction", doubled(&instruction)),
        ("instruction body", doubled_after(&instruction, "\"body\"")),
    ] {
        refused(
            what,
            InstructionPayload::from_json(doc.as_bytes())
                .map(|_| ())
                .map_err(text),
        );
    }
    for (what, doc) in [
        ("root", doubled(&root)),
        ("root keys", doubled_after(&root, "\"keys\"")),
    ] {
        refused(
            what,
            TrustRoot::from_json(doc.as_bytes())
                .map(|_| ())
                .map_err(text),
        );
    }
    let line = r#"{"at":"2026-03-01T09:00:00Z","tick":{"zz":1,"zz":2}}"#;
    refused(
        "trace",
        trace::parse_line(line, 1).map(|_| ()).map_err(text),
    );
}
