//! Device snapshots come from the native layer, which a tampered agent or a hostile
//! app on the phone may feed: parsing must never panic and its errors must never echo
//! a value from the phone; whatever parses must serialise back to itself, evaluate the
//! same whatever the order of its apps, yield nothing new when evaluated again, and
//! run its escalation ladder identically after the engine state is saved and restored.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::compliance::{ComplianceEngine, DeviceSnapshot, PreparedPolicy};
use portcullis_core::policy::Policy;
use portcullis_core::Timestamp;

/// 2026-03-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_unix_millis(1_772_323_200_000);
const DAY: i64 = 86_400_000;

/// The baseline policies, and an allowlist that suspends and wipes fast.
fn policies() -> &'static [PreparedPolicy] {
    static POLICIES: OnceLock<Vec<PreparedPolicy>> = OnceLock::new();
    POLICIES.get_or_init(|| {
        let mut strict: serde_json::Value =
            serde_json::from_str(include_str!("../../policies/election-sensitive.json")).unwrap();
        strict["apps"]["applications"][1]["signingKeyCerts"] = serde_json::json!([
            {"signingKeyCertFingerprintSha256": "29f34e5f27f211b424bc5bf9d67162c0eafba2da35af35c16416fc446276ba26"}
        ]);
        strict["apps"]["applications"][1]["minimumVersionCode"] = serde_json::json!(150000);
        [
            include_str!("../../policies/baseline.json").to_owned(),
            include_str!("../../policies/travel.json").to_owned(),
            strict.to_string(),
        ]
        .iter()
        .map(|text| PreparedPolicy::new(&Policy::from_json(text.as_bytes()).unwrap()))
        .collect()
    })
}

/// Strings in the input, keys and values alike, that look like identifiers: e-mail
/// addresses, and runs of ten or more digits in any format (separators, brackets,
/// full-width digits), as ASCII digits. None may appear in an error.
fn identifier_like(data: &[u8], out: &mut Vec<String>) {
    fn text(s: &str, out: &mut Vec<String>) {
        if s.len() >= 6 && s.contains('@') {
            out.push(s.to_owned());
        }
        let mut run = String::new();
        for c in s.chars() {
            match c {
                '0'..='9' => run.push(c),
                '\u{ff10}'..='\u{ff19}' => {
                    run.push(char::from_u32(c as u32 - 0xff10 + u32::from(b'0')).unwrap())
                }
                c if c.is_whitespace() || "-.()/+".contains(c) => {}
                _ => {
                    if run.len() >= 10 {
                        out.push(std::mem::take(&mut run));
                    }
                    run.clear();
                }
            }
        }
        if run.len() >= 10 {
            out.push(run);
        }
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => text(s, out),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
                text(k, out);
                walk(x, out)
            }),
            _ => {}
        }
    }
    // Not the strict reader: a document with a repeated key must still be searched.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        walk(&v, out);
    }
}

/// `message` with separators dropped and full-width digits made ASCII.
fn normalised(message: &str) -> String {
    message
        .chars()
        .filter(|c| !(c.is_whitespace() || "-.()/+".contains(*c)))
        .map(|c| match c {
            '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + u32::from(b'0')).unwrap(),
            c => c,
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let snapshot = match DeviceSnapshot::from_json(data) {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string();
            let mut values = Vec::new();
            identifier_like(data, &mut values);
            let shown = normalised(&message);
            for v in values {
                assert!(
                    !message.contains(&v) && !shown.contains(&v),
                    "error echoes an input value: {message}"
                );
            }
            return;
        }
    };
    let text = snapshot.to_json();
    let again = DeviceSnapshot::from_json(text.as_bytes()).expect("a parsed snapshot re-parses");
    assert_eq!(again, snapshot, "snapshot round trip");

    let mut reversed = snapshot.clone();
    if let Some(apps) = &mut reversed.apps {
        apps.reverse();
    }
    for policy in policies() {
        let mut engine = ComplianceEngine::new();
        let first = engine.evaluate(policy, &snapshot, T0);
        let mut other = ComplianceEngine::new();
        assert_eq!(other.evaluate(policy, &reversed, T0), first, "order of apps matters");
        assert_eq!(other.to_json(), engine.to_json());

        let second = engine.evaluate(policy, &snapshot, T0);
        assert!(second.new_actions.is_empty(), "repeated actions: {:?}", second.new_actions);
        assert!(second.new_alerts.is_empty(), "repeated alerts: {:?}", second.new_alerts);
        assert_eq!(second.verdicts, first.verdicts);

        let mut restored = ComplianceEngine::from_json(&engine.to_json()).expect("state restores");
        assert_eq!(restored, engine);
        for days in [1, 3, 8, 40] {
            let at = T0.plus_millis(days * DAY);
            assert_eq!(restored.tick(at), engine.tick(at));
            assert_eq!(restored.next_deadline(), engine.next_deadline());
        }
        assert_eq!(engine.next_deadline(), None, "every ladder step taken by day 40");
    }
});
