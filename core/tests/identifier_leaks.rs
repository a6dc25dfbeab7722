//! Property test (issue 14, redaction): an identifier (ICCID, IMSI, phone number) in any
//! format a person or a platform writes it in (separators, brackets, a leading plus,
//! full-width digits), placed anywhere in any input the core reads from a phone or a
//! trace, never comes back: not in an error, a log line, an alert (summary or evidence),
//! an instruction refusal, nor any byte of the database (and its WAL).
//!
//! Inputs covered: trace lines (every event key, field name and value, replayed through
//! an agent on a real database, signed shorthands included), device snapshots, evidence
//! snapshots, instruction payloads and trust roots. Indicator collections are the
//! console's own documents and inspection findings show evidence values by design, so
//! neither is an input here.

use std::sync::{Arc, Mutex, OnceLock};

use portcullis_core::compliance::DeviceSnapshot;
use portcullis_core::inspection::EvidenceSnapshot;
use portcullis_core::instruction::InstructionPayload;
use portcullis_core::policy::{DeviceScope, PinKey, SigningKey, TrustRoot};
use portcullis_core::trace::{self, Shorthand, SimulatorSigner};
use portcullis_core::{Agent, SoftwareDeviceKey, Timestamp};
use proptest::prelude::*;

/// Every log record the core writes, as text.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("the only logger");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

/// An identifier's digits and the text it is written as.
#[derive(Debug, Clone)]
struct Written {
    digits: String,
    text: String,
}

fn identifier() -> impl Strategy<Value = Written> {
    let digits = prop_oneof![
        // ICCID: 89, country, issuer, account, Luhn.
        proptest::string::string_regex("89[0-9]{17,18}").unwrap(),
        // IMSI: MCC MNC MSIN.
        proptest::string::string_regex("[2-7][0-9]{14}").unwrap(),
        // E.164 number without its plus.
        proptest::string::string_regex("[1-9][0-9]{9,12}").unwrap(),
    ];
    (digits, 0usize..9, any::<u8>()).prop_map(|(digits, format, group)| {
        let text = format_identifier(&digits, format, usize::from(group % 3) + 2);
        Written { digits, text }
    })
}

/// `digits` written in one of the formats the normaliser accepts or people use.
fn format_identifier(digits: &str, format: usize, group: usize) -> String {
    let grouped = |sep: &str| {
        digits
            .as_bytes()
            .chunks(group)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(sep)
    };
    match format {
        0 => digits.to_owned(),
        1 => grouped("-"),
        2 => grouped(" "),
        3 => grouped("."),
        4 => format!("+{}", grouped(" ")),
        5 => format!("({}) {}", &digits[..3], &digits[3..]),
        6 => digits
            .chars()
            .map(|c| char::from_u32(0xff10 + c.to_digit(10).unwrap()).unwrap())
            .collect(),
        7 => grouped("\u{a0}"),
        _ => grouped("/"),
    }
}

/// The digits of `text` as the normaliser reads them: any script's digits, separators
/// dropped (everything else kept, so unrelated digits stay apart).
fn normalised(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + u32::from(b'0')),
            ' ' | '-' | '.' | '(' | ')' | '/' | '+' | '\u{a0}' => None,
            other => Some(other),
        })
        .collect()
}

fn leaks(id: &Written, text: &str) -> bool {
    normalised(text).contains(&id.digits) || text.contains(&id.text)
}

/// JSON string escaping of `text` (without the quotes).
fn json_str(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Trace lines with `@@ID@@` where the identifier goes: every place a line has.
const TRACE_PLACES: &[&str] = &[
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":"@@ID@@","state":"ready"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","iccid":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","imsi":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","msisdn":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","mcc_mnc":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","@@ID@@":"23415"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready","embedded":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","service":{"slot":0,"state":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","service":{"slot":0,"state":"in_service","rat":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","connectivity":{"wifi":"@@ID@@","cellular_data":true,"airplane_mode":false}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","@@ID@@":{}}"#,
    r#"{"at":"@@ID@@","tick":{}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","tick":{"@@ID@@":1}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","reboot":"@@ID@@"}"#,
    r#"{"at":"2026-03-01T21:00:00Z","instruction":"@@ID@@"}"#,
    r#"{"at":"2026-03-01T21:00:00Z","instruction":{"payloadType":"@@ID@@","payload":"","signatures":[]}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","authorize_sim_change":{"until":"2026-03-01T23:00:00Z","reason":"new SIM @@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","authorize_sim_change":{"until":"@@ID@@","reason":"r"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","carrier_check":{"phone_number":"@@ID@@","swapped":true}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","carrier_check":{"phone_number":"+447700900123","swapped":"@@ID@@"}}"#,
    r#"{"at":"2026-03-01T21:00:00Z","sim":{"slot":0,"state":"ready"},"@@ID@@":{}}"#,
];

/// A trace that sets a baseline, then the line under test, then a SIM change, so the
/// agent raises alerts and journals after the identifier went by.
fn trace_with(line: &str) -> String {
    [
        r#"{"at":"2026-03-01T20:00:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110000000000001","msisdn":"+447700900123","mcc_mnc":"23415"}}"#,
        line,
        r#"{"at":"2026-03-01T22:00:00Z","sim":{"slot":0,"state":"absent"}}"#,
        r#"{"at":"2026-03-01T22:05:00Z","sim":{"slot":0,"state":"ready","iccid":"8944110000000000002","mcc_mnc":"23415"}}"#,
    ]
    .join("\n")
}

/// Replays `text` like `portcullis simulate` on a real database; returns everything the
/// core said: errors, alerts (summaries and evidence), refusals.
fn replay(dir: &std::path::Path, text: &str) -> Vec<String> {
    let mut said = Vec::new();
    let key = Arc::new(SoftwareDeviceKey::new(b"identifier-leak-test-device").unwrap());
    let start = Timestamp::parse_rfc3339("2026-03-01T20:00:00Z").unwrap();
    let mut agent = Agent::open(&dir.join("agent.db"), key.clone(), start, [2; 32]).unwrap();
    let console = SigningKey::from_seed(&[7; 32]).unwrap();
    if !agent.trust_root_installed() {
        let root = TrustRoot::single_key(console.public_key(), "leak test")
            .sign(&[&console])
            .unwrap();
        let scope = DeviceScope {
            device_id: "simulated-device".into(),
            groups: Vec::new(),
        };
        agent.install_trust_root(&root, scope, start).unwrap();
    }
    let pin_key = PinKey::new(&PinKey::derive(key.as_ref()).unwrap());
    let signer = SimulatorSigner::new(console, pin_key, "simulated-device");
    let mut sign = |s: Shorthand<'_>, at: Timestamp| signer.sign(s, at);
    let mut alerts = Vec::new();
    for event in trace::TraceReader::new(text.as_bytes()) {
        match event {
            Ok(ev) => {
                if let Err(e) = trace::replay_event(&mut agent, &ev, &mut sign, &mut alerts) {
                    said.push(e.to_string());
                }
            }
            Err(e) => {
                said.push(e.to_string());
                break;
            }
        }
    }
    let _ = agent.checkpoint(Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap());
    if let Ok(pending) = agent.pending_alerts(100) {
        alerts.extend(pending);
    }
    for a in &alerts {
        said.push(a.finding.summary.clone());
        for (k, v) in &a.finding.evidence {
            said.push(format!("{k}={v}"));
        }
    }
    said
}

/// The database file and its WAL, byte for byte.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Documents the phone or console hands the core, with `@@ID@@` where the identifier goes.
fn documents() -> Vec<(&'static str, String)> {
    let snapshot = include_str!("data/compliance/pixel-compliant.json");
    let evidence = include_str!("data/spyware-evidence.json");
    vec![
        ("snapshot key", snapshot.replacen('{', r#"{"@@ID@@":1,"#, 1)),
        ("snapshot value", snapshot.replacen("\"android\"", "\"@@ID@@\"", 1)),
        ("snapshot nested", snapshot.replacen("\"settings\": {", "\"settings\": {\"@@ID@@\":true,", 1)),
        ("evidence key", evidence.replacen('{', r#"{"@@ID@@":1,"#, 1)),
        ("evidence value", evidence.replacen("\"android\"", "\"@@ID@@\"", 1)),
        ("evidence version", evidence.replacen("\"version\": 1", "\"version\": \"@@ID@@\"", 1)),
        ("instruction", r#"{"instructionId":"@@ID@@","sequence":1,"issuedAt":"2026-03-01T22:00:00Z","expires":"2026-03-02T22:00:00Z","scope":{"devices":["d"]},"kind":"lock_now","body":{}}"#.to_string()),
        ("instruction kind", r#"{"instructionId":"i","sequence":1,"issuedAt":"2026-03-01T22:00:00Z","expires":"2026-03-02T22:00:00Z","scope":{"devices":["d"]},"kind":"@@ID@@","body":{}}"#.to_owned()),
        ("instruction field", r#"{"instructionId":"i","@@ID@@":1,"sequence":1}"#.to_owned()),
        ("instruction reason", r#"{"instructionId":"i","sequence":1,"issuedAt":"2026-03-01T22:00:00Z","expires":"2026-03-02T22:00:00Z","scope":{"devices":["d"]},"kind":"start_inspection","body":{"reason":"@@ID@@"}}"#.to_owned()),
        ("root", r#"{"schema":"portcullis/root/v1","version":"@@ID@@"}"#.to_owned()),
        ("root key", r#"{"schema":"portcullis/root/v1","version":1,"keys":{"@@ID@@":{}}}"#.to_owned()),
    ]
}

fn read_document(what: &str, text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let err = if what.starts_with("snapshot") {
        DeviceSnapshot::from_json(bytes).err()
    } else if what.starts_with("evidence") {
        EvidenceSnapshot::from_json(text).err()
    } else if what.starts_with("instruction") {
        InstructionPayload::from_json(bytes)
            .and_then(|p| p.validate(&Default::default()).map(|()| p))
            .err()
    } else {
        TrustRoot::from_json(bytes).err()
    };
    err.map(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// In a trace line, anywhere: the errors, alerts, log lines and database never hold it.
    #[test]
    fn an_identifier_anywhere_in_a_trace_never_comes_back(
        id in identifier(),
        place in 0..TRACE_PLACES.len(),
    ) {
        let logs = logs();
        let dir = tempfile::tempdir().unwrap();
        let line = TRACE_PLACES[place].replace("@@ID@@", &json_str(&id.text));
        let said = replay(dir.path(), &trace_with(&line));
        for text in &said {
            prop_assert!(!leaks(&id, text), "{line}: said {text:?}");
        }
        let logged = logs.0.lock().unwrap().clone();
        for text in &logged {
            prop_assert!(!leaks(&id, text), "{line}: logged {text:?}");
        }
        let bytes = database_bytes(dir.path());
        prop_assert!(!contains(&bytes, id.digits.as_bytes()), "{line}: the database holds the digits");
        prop_assert!(!contains(&bytes, id.text.as_bytes()), "{line}: the database holds the text");
    }

    /// In a document, anywhere: the error never holds it.
    #[test]
    fn an_identifier_anywhere_in_a_document_never_comes_back(
        id in identifier(),
        which in 0usize..12,
    ) {
        let (what, template) = documents().swap_remove(which);
        let text = template.replace("@@ID@@", &json_str(&id.text));
        if let Some(err) = read_document(what, &text) {
            prop_assert!(!leaks(&id, &err), "{what}: {err}");
        }
    }
}
