//! Scrubbing text for errors, log lines and outputs: phone identifiers (ICCID, IMSI,
//! number) are redacted wherever they may have slipped into untrusted text, and control
//! characters that could drive a terminal are replaced. Every layer needs this, so it
//! depends on nothing else in the crate.

/// Digits in a row, separators aside, from which text counts as identifier-shaped:
/// phone numbers have 10 or more digits in E.164, IMSIs 15, ICCIDs 19 or 20, while
/// dates (8) and ticket numbers stay below.
const IDENTIFIER_DIGITS: usize = 10;

/// Makes text from an untrusted input safe for one log line: control characters
/// replaced, length bounded, identifier-shaped digit runs redacted.
pub(crate) fn sanitize(text: &str) -> String {
    const MAX: usize = 160;
    let mut out: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX {
        out.push('…');
    }
    redact_identifiers(&out).into_owned()
}

/// Whether `text` holds a run of at least [`IDENTIFIER_DIGITS`] digits (any script's
/// digits), allowing the separators people write numbers with.
pub(crate) fn looks_like_identifier(text: &str) -> bool {
    digit_runs(text).any(|run| run.digits >= IDENTIFIER_DIGITS)
}

/// Digits in a row, separators aside, from which text in an error, a log line or an
/// output is redacted: an IMSI has at least 6, and runs of 5 (MCC and MNC) are cheap to
/// lose from a message.
pub(crate) const REDACT_DIGITS: usize = 5;

/// `text` with every run of at least [`REDACT_DIGITS`] digits replaced by `#`. A run is
/// read as [`looks_like_identifier`] reads it: digits of any script (full-width digits
/// included), joined by the separators people write numbers with, so
/// `8944-1100-1234-5678-901` and `+44 7700 900123` go whole. Borrows when nothing is
/// redacted.
pub(crate) fn redact_identifiers(text: &str) -> std::borrow::Cow<'_, str> {
    let mut runs = digit_runs(text)
        .filter(|run| run.digits >= REDACT_DIGITS)
        .peekable();
    if runs.peek().is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for run in runs {
        out.push_str(&text[at..run.start]);
        out.push('#');
        at = run.end;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

/// A run of digits joined by separators: byte range from its first digit to the end of
/// its last, and how many digits it holds.
struct DigitRun {
    start: usize,
    end: usize,
    digits: usize,
}

/// The one normaliser of identifier-shaped text: separators are skipped, digits of any
/// script count, anything else ends a run.
fn digit_runs(text: &str) -> impl Iterator<Item = DigitRun> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        // Find the next digit.
        let (start, first) = loop {
            let (i, c) = chars.next()?;
            if c.is_numeric() {
                break (i, c);
            }
        };
        let mut run = DigitRun {
            start,
            end: start + first.len_utf8(),
            digits: 1,
        };
        while let Some(&(i, c)) = chars.peek() {
            if c.is_numeric() {
                run.digits += 1;
                run.end = i + c.len_utf8();
            } else if !is_number_separator(c) {
                break;
            }
            chars.next();
        }
        Some(run)
    })
}

/// What people put between the digits of a phone number, an IMSI or an ICCID: spaces
/// (line breaks aside), dashes, dots, brackets, slashes, plus, in ASCII or full width.
fn is_number_separator(c: char) -> bool {
    (c.is_whitespace() && c != '\n' && c != '\r')
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '/' | '+' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{fe58}'
                    | '\u{fe63}'
                    | '\u{ff0b}'
                    | '\u{ff0d}'
                    | '\u{ff0e}'
                    | '\u{ff08}'
                    | '\u{ff09}'
                    | '\u{ff0f}'
        )
}

/// Identifiers written the ways people write them (spaced, dashed, bracketed, in
/// full-width digits), for the tests of every check that must catch them.
#[cfg(test)]
pub(crate) const IDENTIFIER_SAMPLES: [&str; 6] = [
    "swap for +44 7700 900123",
    "iccid 8944-1100-1234-5678-901",
    "8944 1100 1234 5678 901",
    "imsi 234150123456789",
    "call (020) 7946-0958 1",
    "\u{ff18}\u{ff19}\u{ff14}\u{ff14}\u{ff11}\u{ff11}\u{ff10}\u{ff10}\u{ff11}\u{ff12}",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_any_format_look_like_identifiers() {
        for text in IDENTIFIER_SAMPLES {
            assert!(looks_like_identifier(text), "{text}");
        }
        assert!(!looks_like_identifier("planned on 2026-03-01"));
    }

    #[test]
    fn redaction_takes_whole_identifiers_in_any_format() {
        for (text, expected) in [
            ("sim state 8944-1100-1234-5678-901", "sim state #"),
            ("slot 8944 1100 1234 5678 901!", "slot #!"),
            ("key +44 7700 900123 here", "key +# here"),
            ("\u{ff18}\u{ff19}\u{ff14}\u{ff14}\u{ff11} wide", "# wide"),
            ("(020) 7946-0958", "(#"),
            ("column 1234 and 12345", "column 1234 and #"),
            ("two\n12345\n67", "two\n#\n67"),
        ] {
            assert_eq!(redact_identifiers(text), expected, "{text}");
        }
        assert!(matches!(
            redact_identifiers("nothing 1234 here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn sanitized_text_is_one_bounded_line_without_identifiers() {
        assert_eq!(
            sanitize("bad\u{1b}[2J\nkey 234150123456789"),
            "bad?[2J?key #"
        );
        let long = sanitize(&"x".repeat(400));
        assert_eq!(long.chars().count(), 161);
        assert!(long.ends_with('…'));
        assert_eq!(sanitize("short"), "short");
    }
}
