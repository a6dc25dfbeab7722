//! Scenario traces come from files a console user hands the simulator; the parser must
//! never panic, whatever it accepts must replay through the agent without panicking, the
//! streaming reader must read exactly what the whole-text parser reads, and no error may
//! repeat an identifier-shaped run of digits from the input, in any format (separators,
//! brackets, full-width digits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{trace, Agent, SoftwareDeviceKey};

/// Runs of at least ten digits in `text`, read as the core's normaliser reads them: any
/// script's digits, the separators people write numbers with skipped. Returned as ASCII.
fn identifier_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        if let Some(d) = ascii_digit(c) {
            run.push(d);
        } else if !(c.is_whitespace() || "-.()/+\u{a0}\u{2011}".contains(c)) {
            if run.len() >= 10 {
                runs.push(std::mem::take(&mut run));
            }
            run.clear();
        }
    }
    if run.len() >= 10 {
        runs.push(run);
    }
    runs
}

fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '\u{ff10}'..='\u{ff19}' => char::from_u32(c as u32 - 0xff10 + u32::from(b'0')),
        _ => None,
    }
}

/// `text` with separators dropped and digits made ASCII, to look for a run in.
fn normalised(text: &str) -> String {
    text.chars()
        .filter(|c| !(c.is_whitespace() || "-.()/+\u{a0}\u{2011}".contains(*c)))
        .map(|c| ascii_digit(c).unwrap_or(c))
        .collect()
}

fn assert_no_identifier(input: &str, message: &str) {
    let shown = normalised(message);
    for run in identifier_runs(input) {
        assert!(!shown.contains(&run), "an error repeats input digits: {message}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = trace::parse(text);
    let streamed: Result<Vec<_>, _> = trace::TraceReader::new(data).collect();
    match (&parsed, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the reader and the parser disagree"),
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            assert_no_identifier(text, &a.to_string());
        }
        _ => panic!("the reader and the parser disagree: {parsed:?} / {streamed:?}"),
    }
    let Ok(events) = parsed else {
        return;
    };
    let Some(first) = events.first() else {
        return;
    };
    let key = std::sync::Arc::new(SoftwareDeviceKey::new(b"fuzzing-device-secret").unwrap());
    let mut agent = Agent::open_in_memory(key, first.at, [0; 32]).unwrap();
    // Identifier validation happens at replay; errors are fine, panics and echoes are not.
    if let Err(e) = trace::replay(&mut agent, &events, &mut trace::refuse_shorthands) {
        assert_no_identifier(text, &e.to_string());
    }
});
