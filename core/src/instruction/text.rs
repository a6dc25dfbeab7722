//! Free text in instructions (reasons, notices): it is journaled, alerted and shown,
//! so it must never carry a phone identifier or anything that could drive a terminal.

use super::invalid;

/// Digits in a row, separators aside, from which text counts as identifier-shaped:
/// phone numbers have 10 or more digits in E.164, IMSIs 15, ICCIDs 19 or 20, while
/// dates (8) and ticket numbers stay below.
const IDENTIFIER_DIGITS: usize = 10;

/// Checks one free-text field: present, at most `max_bytes`, no control characters
/// (line breaks only where `multiline`), and nothing shaped like an identifier. The
/// error names the field, never the text.
pub(crate) fn check_free_text(
    field: &str,
    text: &str,
    max_bytes: usize,
    multiline: bool,
) -> crate::Result<()> {
    if text.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if text.len() > max_bytes {
        return Err(invalid(field, &format!("longer than {max_bytes} bytes")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(invalid(field, "contains control characters"));
    }
    if looks_like_identifier(text) {
        return Err(invalid(
            field,
            "contains a long run of digits, which could be a phone number, IMSI or ICCID; refer to the line by device id instead",
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_any_format_are_caught() {
        for text in [
            "swap for +44 7700 900123",
            "iccid 8944-1100-1234-5678-901",
            "8944 1100 1234 5678 901",
            "imsi 234150123456789",
            "call (020) 7946-0958 1",
            "\u{ff18}\u{ff19}\u{ff14}\u{ff14}\u{ff11}\u{ff11}\u{ff10}\u{ff10}\u{ff11}\u{ff12}",
        ] {
            assert!(looks_like_identifier(text), "{text}");
            assert!(check_free_text("body.reason", text, 512, false).is_err());
        }
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
    fn ordinary_reasons_pass() {
        for text in [
            "ticket 4242: replacement SIM after water damage",
            "planned replacement on 2026-03-01 at 10:00",
            "office visit",
        ] {
            assert!(
                check_free_text("body.reason", text, 512, false).is_ok(),
                "{text}"
            );
        }
    }

    #[test]
    fn control_characters_and_empty_text_are_refused() {
        assert!(check_free_text("body.title", "\u{1b}[2JClean", 80, false).is_err());
        assert!(check_free_text("body.title", "two\nlines", 80, false).is_err());
        assert!(check_free_text("body.body", "two\nlines", 80, true).is_ok());
        assert!(check_free_text("body.title", "  ", 80, false).is_err());
        let err = check_free_text("body.reason", "x".repeat(600).as_str(), 512, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("body.reason"), "{err}");
    }
}
